//! Native memory retained through the dominator tree, computed only over the objects that
//! can reach a buffer: the others retain no native memory, and every path from a GC root to
//! a buffer runs through objects that reach it, so the tree of that part of the graph gives
//! the same dominators. On a typical heap it is a small fraction of the objects.

use dumpscan_heap::{BitSet, Csr, Dominators, Heap, ObjectIndex, Reach, Subset};

/// A dominator tree with the objects its vertices stand for.
pub(crate) struct NativeTree {
    pub tree: Dominators,
    /// Object of each vertex of `tree`; `None` when the tree is over the whole heap.
    nodes: Option<Vec<ObjectIndex>>,
}

impl NativeTree {
    /// The tree over the strongly reachable objects that reach one of `targets`.
    pub(crate) fn over(heap: &Heap<'_>, targets: &[ObjectIndex]) -> NativeTree {
        match heap.reaching(targets, Reach::Strong) {
            Some(marked) => {
                let (graph, nodes, roots) = induced(heap, &marked);
                NativeTree { tree: Dominators::of_graph(&graph, &roots), nodes: Some(nodes) }
            }
            None => NativeTree { tree: Dominators::compute(heap), nodes: None },
        }
    }

    /// The object a vertex stands for.
    pub(crate) fn object(&self, vertex: ObjectIndex) -> ObjectIndex {
        self.nodes.as_ref().map_or(vertex, |n| n[vertex.index()])
    }
}

/// The graph induced by the marked objects, renumbered densely in object order, with the GC
/// roots among them.
fn induced(heap: &Heap<'_>, marked: &BitSet) -> (Csr, Vec<ObjectIndex>, Vec<ObjectIndex>) {
    let subset = Subset::new(marked);
    let roots = heap.roots.iter().filter(|r| subset.contains(r.object)).map(|r| subset.rank(r.object)).collect();
    (heap.graph.induced(&subset), subset.members().collect(), roots)
}
