//! The heap model's integration tests, one binary: the graph algorithms against their
//! definitions on random graphs, and the object index on odd dumps.

mod graph_properties;
mod object_index;
