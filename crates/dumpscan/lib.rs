//! dumpscan reads JVM heap dumps (HPROF) and tells who holds the process's memory.
//!
//! This crate is the `dumpscan` command and the front door for tools that embed it; the
//! work is done by the crates it re-exports.

pub use dumpscan_hprof as hprof;
