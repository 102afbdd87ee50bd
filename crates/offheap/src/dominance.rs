//! Native memory retained through the dominator tree, computed only over the objects that
//! can reach a buffer: the others retain no native memory, and every path from a GC root to
//! a buffer runs through objects that reach it, so the tree of that part of the graph gives
//! the same dominators. On a typical heap it is a small fraction of the objects.

use std::sync::atomic::{AtomicU64, Ordering};

use dumpscan_heap::{Csr, Dominators, Heap, ObjectIndex, Reach};
use rayon::prelude::*;

/// Sweeps over the graph before giving up on the reduced graph (long linked lists laid out
/// against the sweep direction need one sweep per element).
const MAX_SWEEPS: usize = 24;

/// A dominator tree with the objects its vertices stand for.
pub(crate) struct NativeTree {
    pub tree: Dominators,
    /// Object of each vertex of `tree`; `None` when the tree is over the whole heap.
    nodes: Option<Vec<ObjectIndex>>,
}

impl NativeTree {
    /// The tree over the strongly reachable objects that reach one of `targets`.
    pub(crate) fn over(heap: &Heap<'_>, targets: &[ObjectIndex]) -> NativeTree {
        match reaching(heap, targets) {
            Some(marked) => {
                let (graph, nodes, roots) = induced(heap, &marked);
                NativeTree { tree: Dominators::of_graph(&graph, &roots), nodes: Some(nodes) }
            }
            None => NativeTree { tree: Dominators::compute(heap), nodes: None },
        }
    }

    /// The object a vertex stands for.
    pub(crate) fn object(&self, vertex: u32) -> ObjectIndex {
        self.nodes.as_ref().map_or(vertex, |n| n[vertex as usize])
    }
}

fn is_set(bits: &[u64], v: u32) -> bool {
    bits[v as usize / 64] & (1 << (v % 64)) != 0
}

/// Strongly reachable objects from which a target can be reached, as a bitset: marks spread
/// from the targets to their referrers in sweeps over all objects (in parallel, by blocks),
/// alternately backwards and forwards (object numbers follow addresses, and structures point
/// both ways), until a sweep changes nothing. `None` if that takes more than [`MAX_SWEEPS`].
fn reaching(heap: &Heap<'_>, targets: &[ObjectIndex]) -> Option<Vec<u64>> {
    const BLOCK_WORDS: usize = 1 << 10;
    let n = heap.len();
    let marked: Vec<AtomicU64> = (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
    let is_marked = |v: u32| marked[v as usize / 64].load(Ordering::Relaxed) & (1 << (v % 64)) != 0;
    for &t in targets {
        marked[t as usize / 64].fetch_or(1 << (t % 64), Ordering::Relaxed);
    }
    // Only strongly reachable objects with references of their own can be marked by a sweep:
    // found once, so that the sweeps pass the others (a third of a heap's objects are leaves)
    // a word at a time.
    let candidates: Vec<u64> = (0..marked.len())
        .into_par_iter()
        .map(|k| {
            let objects = (k * 64) as u32..((k + 1) * 64).min(n) as u32;
            objects
                .filter(|&v| heap.reach().level(v) == Reach::Strong && !heap.references(v).is_empty())
                .fold(0u64, |word, v| word | 1 << (v % 64))
        })
        .collect();
    for sweep in 0..MAX_SWEEPS {
        let changed = candidates.par_chunks(BLOCK_WORDS).enumerate().map(|(block, words)| {
            let mut changed = false;
            // Every candidate of the block is visited, in the sweep's direction, so marks
            // travel along it.
            let backwards = sweep % 2 == 0;
            for i in 0..words.len() {
                let k = if backwards { words.len() - 1 - i } else { i };
                let at = block * BLOCK_WORDS + k;
                for bit in set_bits(words[k] & !marked[at].load(Ordering::Relaxed), backwards) {
                    let v = (at * 64) as u32 + bit;
                    if !is_marked(v) && heap.references(v).iter().any(|&w| is_marked(w)) {
                        marked[at].fetch_or(1 << bit, Ordering::Relaxed);
                        changed = true;
                    }
                }
            }
            changed
        });
        if !changed.reduce(|| false, |a, b| a | b) {
            return Some(marked.into_iter().map(AtomicU64::into_inner).collect());
        }
    }
    None
}

/// The set bits of `word`, lowest first or highest first.
fn set_bits(mut word: u64, highest_first: bool) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        (word != 0).then(|| {
            let bit = if highest_first { 63 - word.leading_zeros() } else { word.trailing_zeros() };
            word &= !(1 << bit);
            bit
        })
    })
}

/// The graph induced by the marked objects, renumbered densely in object order, with the GC
/// roots among them.
fn induced(heap: &Heap<'_>, marked: &[u64]) -> (Csr, Vec<ObjectIndex>, Vec<u32>) {
    // rank(v) = marked objects before v: a running count per 64-bit word, then a popcount.
    let mut before = Vec::with_capacity(marked.len());
    let mut count = 0u32;
    for word in marked {
        before.push(count);
        count += word.count_ones();
    }
    let rank = |v: u32| before[v as usize / 64] + (marked[v as usize / 64] & ((1u64 << (v % 64)) - 1)).count_ones();
    let nodes: Vec<ObjectIndex> = (0..heap.len() as u32).filter(|&v| is_set(marked, v)).collect();
    let mut degrees = Vec::with_capacity(nodes.len());
    let mut targets = Vec::new();
    for &v in &nodes {
        let before = targets.len();
        targets.extend(heap.references(v).iter().filter(|&&w| is_set(marked, w)).map(|&w| rank(w)));
        degrees.push((targets.len() - before) as u32);
    }
    let roots = heap.roots.iter().filter(|r| is_set(marked, r.object)).map(|r| rank(r.object)).collect();
    (Csr::from_degrees(degrees, targets), nodes, roots)
}
