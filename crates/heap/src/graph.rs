//! References in compressed sparse rows: one flat array of targets, and where each object's
//! run of targets starts.

use std::ops::Range;

use rayon::prelude::*;

use crate::blocked::Blocked;
use crate::index::CHUNK;
use crate::{BitSet, ObjectIndex};

/// A directed graph over object indices in compressed sparse row form.
#[derive(Debug, Default)]
pub struct Csr {
    starts: Starts,
    targets: Vec<ObjectIndex>,
}

/// Where each node's targets start, in about a byte and a half a node rather than the four
/// or eight of a start each: the nodes' starts and then the end of all targets, a column of
/// one-byte distances (see [`Blocked`]). Blocks of nodes with more than 255 targets between
/// them (a large object array) keep their starts in full.
#[derive(Debug, Default)]
struct Starts {
    nodes: usize,
    starts: Blocked<u8>,
}

impl Starts {
    /// Turns the degrees of nodes `0..nodes` into starts, written over the degrees: a byte a
    /// node in `degrees` ([`u8::MAX`] for one that `large` tells), with room for one more
    /// saving a copy. No second array a node while the starts are made.
    fn of_degrees(mut degrees: Vec<u8>, nodes: usize, large: impl Fn(usize) -> u32 + Sync) -> Starts {
        degrees.resize(nodes + 1, 0);
        let degree = |i: usize, d: u8| match d {
            u8::MAX => large(i) as u64,
            small => small as u64,
        };
        // Where each chunk of nodes starts, for the chunks to be made in parallel.
        let sums: Vec<u64> = degrees
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| chunk.iter().enumerate().map(|(k, &d)| degree(c * CHUNK + k, d)).sum())
            .collect();
        let chunk_starts: Vec<u64> = sums
            .iter()
            .scan(0u64, |total, &sum| {
                let start = *total;
                *total += sum;
                Some(start)
            })
            .collect();
        let starts = Blocked::build(degrees, |range: Range<usize>| {
            let mut start = chunk_starts.get(range.start / CHUNK).copied().unwrap_or(0);
            move |first, block: &[u8], values: &mut [u64]| {
                for (k, (value, &d)) in values.iter_mut().zip(block).enumerate() {
                    *value = start;
                    start += degree(first + k, d);
                }
            }
        });
        Starts { nodes, starts }
    }

    /// Where node `i`'s targets start and end; `None` past the last node. Every walk over the
    /// graph asks this once a node.
    #[inline(always)]
    fn bounds(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.nodes {
            return None;
        }
        let (start, end) = self.starts.pair(i)?;
        Some((start as usize, end as usize))
    }
}

impl Csr {
    /// Builds from per-source degrees (in index order) and the targets laid out in that order.
    /// The degrees are handed back to the kernel once turned into starts.
    pub fn from_degrees(degrees: Vec<u32>, targets: Vec<ObjectIndex>) -> Csr {
        let small = degrees.iter().map(|&d| u8::try_from(d).unwrap_or(u8::MAX)).collect();
        let starts = Starts::of_degrees(small, degrees.len(), |i| degrees[i]);
        crate::pages::release(degrees);
        Csr { starts, targets }
    }

    /// Builds from the degrees of nodes `0..nodes`, a byte each in `small` ([`u8::MAX`] for
    /// one that `large` tells; room for [`Csr::degree_slots`] of them saves a copy), with room
    /// for `edges` targets to be written run by run ([`Csr::run_span`]).
    pub(crate) fn with_degrees(small: Vec<u8>, nodes: usize, large: impl Fn(usize) -> u32 + Sync, edges: usize) -> Csr {
        // Zeroed memory fresh from the kernel, its pages backed only as the runs are written;
        // `vec![ObjectIndex::new(0); edges]` would write them all up front. The conversion
        // compiles to nothing in an optimized build: the same allocation, the same bits.
        let targets = vec![0u32; edges].into_iter().map(ObjectIndex::new).collect();
        Csr { starts: Starts::of_degrees(small, nodes, large), targets }
    }

    /// How many degree bytes [`Csr::with_degrees`] works in for `nodes` nodes.
    pub(crate) fn degree_slots(nodes: usize) -> usize {
        nodes + 1
    }

    /// Builds from adjacency lists (tests, small graphs).
    pub fn from_lists(lists: &[Vec<ObjectIndex>]) -> Csr {
        let degrees: Vec<u32> = lists.iter().map(|l| l.len() as u32).collect();
        Csr::from_degrees(degrees, lists.concat())
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.starts.nodes
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    #[inline(always)]
    /// The targets of `node`'s edges, in the order they were added.
    pub fn successors(&self, node: ObjectIndex) -> &[ObjectIndex] {
        &self.targets[self.span(node)]
    }

    /// Where `node`'s targets lie in [`Csr::targets`]: a walk that keeps its place by position
    /// works out each node's bounds once, not once an edge.
    #[inline(always)]
    pub(crate) fn span(&self, node: ObjectIndex) -> std::ops::Range<usize> {
        self.starts.bounds(node.index()).map_or(0..0, |(start, end)| start..end)
    }

    /// Every target, node after node.
    pub(crate) fn targets(&self) -> &[ObjectIndex] {
        &self.targets
    }

    /// Where the targets of nodes `first..first + count`, one run, lie in the targets (a
    /// graph built with its degrees known first, its targets then written through
    /// [`Csr::targets_mut`]).
    pub(crate) fn run_span(&self, first: u32, count: u32) -> Range<usize> {
        let last = (first as usize + count as usize).checked_sub(1);
        match (self.starts.bounds(first as usize), last.and_then(|last| self.starts.bounds(last))) {
            (Some((start, _)), Some((_, end))) if count > 0 => start..end,
            _ => 0..0,
        }
    }

    /// Every target, to be written (see [`Csr::run_span`]).
    pub(crate) fn targets_mut(&mut self) -> &mut [ObjectIndex] {
        &mut self.targets
    }

    /// The graph over the members of `subset` and the edges between them, each member
    /// renumbered by its rank.
    pub fn induced(&self, subset: &Subset<'_>) -> Csr {
        let mut degrees = Vec::with_capacity(subset.len());
        let mut targets = Vec::new();
        for v in subset.members() {
            let before = targets.len();
            targets.extend(self.successors(v).iter().filter(|&&w| subset.contains(w)).map(|&w| subset.rank(w)));
            degrees.push((targets.len() - before) as u32);
        }
        Csr::from_degrees(degrees, targets)
    }
}

/// A set of nodes, numbered densely in node order: the nodes of a graph [`Csr::induced`] by
/// them.
pub struct Subset<'a> {
    members: &'a BitSet,
    /// Members before each word of `members`.
    before: Vec<u32>,
}

impl<'a> Subset<'a> {
    /// The nodes in `members`.
    pub fn new(members: &'a BitSet) -> Subset<'a> {
        let mut count = 0u32;
        let before = (0..members.word_count())
            .map(|k| {
                let at = count;
                count += members.word(k).count_ones();
                at
            })
            .collect();
        Subset { members, before }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.count()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `v` is a member.
    #[inline]
    pub fn contains(&self, v: ObjectIndex) -> bool {
        self.members.contains(v.index())
    }

    /// The number of members below `v`: `v`'s number in the subset when it is a member, and
    /// so its index in the graph [`Csr::induced`] by the subset.
    #[inline]
    pub fn rank(&self, v: ObjectIndex) -> ObjectIndex {
        let word = v.index() / 64;
        ObjectIndex::new(self.before[word] + (self.members.word(word) & ((1u64 << (v.get() % 64)) - 1)).count_ones())
    }

    /// The members, ascending.
    pub fn members(&self) -> impl Iterator<Item = ObjectIndex> + '_ {
        self.members.ones().map(|v| ObjectIndex::new(v as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_in_narrow_wide_and_partial_blocks() {
        // Blocks of few targets, blocks with a large array first, in the middle and last
        // (no byte holds their distances), a partial last block, and nodes with none.
        let degree = |i: usize| match i % 53 {
            0 => 300,
            17 if i > 100 => 1000,
            _ => i % 3,
        };
        for nodes in [0, 1, 15, 16, 17, 31, 32, 33, 1000, 1003] {
            let lists: Vec<Vec<ObjectIndex>> =
                (0..nodes).map(|i| (0..degree(i) as u32).map(|k| ObjectIndex::new(k + i as u32)).collect()).collect();
            let graph = Csr::from_lists(&lists);
            assert_eq!(graph.node_count(), nodes);
            assert_eq!(graph.edge_count(), lists.iter().map(Vec::len).sum::<usize>());
            for (i, list) in lists.iter().enumerate() {
                assert_eq!(graph.successors(ObjectIndex::new(i as u32)), &list[..], "node {i} of {nodes}");
            }
            assert!(graph.successors(ObjectIndex::new(nodes as u32)).is_empty());
            assert!(graph.successors(ObjectIndex::new(u32::MAX)).is_empty());
            if nodes >= 20 {
                assert_eq!(graph.targets()[graph.run_span(3, 17)], lists[3..20].concat()[..]);
            }
            assert!(graph.run_span(0, 0).is_empty());
        }
    }
}
