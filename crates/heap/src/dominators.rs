//! The dominator tree of the strong reference graph, by the semi-NCA algorithm (Georgiadis;
//! the variant LLVM uses), rooted at a virtual node above every GC root. An object's retained
//! set is what its dominator subtree holds: what would be freed if it were gone.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::packed::{Guess, Packed};
use crate::pages::{self, Progress, Room};
use crate::{Csr, Heap, ObjectIndex};

/// The virtual root's preorder number; 0 marks objects the search never reached.
const VIRTUAL_ROOT: u32 = 1;
/// Marks a leaf's number: with the number of its referrers' nearest common dominator once
/// the others' tree is known (see `of_graph`).
const LEAF: u32 = 1 << 31;
/// A leaf, which the search passes by.
const UNSEEN_LEAF: u32 = u32::MAX;

/// Immediate dominators of all strongly reachable objects.
pub struct Dominators {
    /// Preorder number of each object (0: not strongly reachable).
    number: Vec<u32>,
    /// Object at each preorder number (index 0 and 1 unused: unvisited and the virtual root).
    vertex: Vec<ObjectIndex>,
    /// Immediate dominator, as a preorder number, by preorder number.
    idom: Vec<u32>,
}

impl Dominators {
    /// Computes the tree over `heap`'s strong references.
    pub fn compute(heap: &Heap<'_>) -> Dominators {
        let roots: Vec<ObjectIndex> = heap.roots.iter().map(|r| r.object).collect();
        Dominators::of_graph(&heap.graph, &roots)
    }

    /// Computes the tree of `graph` under a virtual root whose children are `roots`.
    ///
    /// An object with no references of its own (a string's bytes, a boxed number) never lies
    /// on a path to anything else, so it takes no part in the search: its dominator is the
    /// nearest common dominator of its referrers, found once the others' tree is known, and it
    /// is numbered after them. On a typical heap that is a third of the objects.
    pub fn of_graph(graph: &Csr, roots: &[ObjectIndex]) -> Dominators {
        let n = graph.node_count();
        // Numbers must stay clear of the LEAF bit; past 2^31 objects, no object is skipped.
        let skip_leaves = n + 2 < LEAF as usize;
        // number[v]: 0 unvisited, UNSEEN_LEAF, or a preorder number. Leaves are marked up
        // front, so the search tells them apart with the one lookup it needs.
        let mut number: Vec<u32> = (0..n as u32)
            .into_par_iter()
            .map(|w| if skip_leaves && graph.successors(ObjectIndex::new(w)).is_empty() { UNSEEN_LEAF } else { 0 })
            .collect();
        for &root in roots {
            // The search starts at every GC root, leaf or not.
            if let Some(slot) = number.get_mut(root.index()) {
                *slot = 0;
            }
        }
        // Depth-first search from the virtual root, whose children are the GC roots, over
        // the objects not marked as leaves; their arrays faulted in by the other core.
        let searchable = number.par_iter().filter(|&&slot| slot != UNSEEN_LEAF).count();
        let mut search = Search::new(number, searchable);
        let mut distinct_roots = roots.to_vec();
        distinct_roots.sort_unstable();
        distinct_roots.dedup();
        let written_in_step =
            [Room::of(&mut search.vertex), Room::of(&mut search.dfs_parent), Room::of(&mut search.pred_end)];
        let preds = pages::while_faulting_in(&written_in_step, |progress| {
            search.run(graph, &distinct_roots, progress);
            search.predecessors(graph, &distinct_roots)
        });
        drop(distinct_roots);
        let Search { number, vertex, dfs_parent, pred_end: mut pred_start } = search;
        let count = vertex.len();
        // Not needed again until the leaves' turn, and rebuilt from `vertex` then: the largest
        // array of the search is not held while the semidominators are.
        pages::release(number);
        // The loop below reads neither the vertices nor the DFS parents it leaves intact (the
        // tree's first guess at the dominators): both kept packed meanwhile, about a byte each.
        let objects = Packed::new(&vertex, Guess::Previous);
        pages::release(vertex);
        let parents = Packed::new(&dfs_parent, Guess::Position);

        // Semidominators, with path compression over `ancestor` (the DFS parent, compressed).
        // `low[v]` is the smallest semidominator on v's compressed path (the semidominator of
        // the classic algorithm's `label[v]`, kept as the value itself). Each vertex's own
        // semidominator goes to `pred_start[w + 1]`, a slot the loop never reads again once w is
        // done: the semidominators need no array of their own. `low`'s pages are fresh: both
        // cores write them first.
        let mut ancestor = dfs_parent;
        let mut low: Vec<u32> = Vec::with_capacity(count);
        low.par_extend((0..count as u32).into_par_iter());
        let mut stack: Vec<u32> = Vec::new();
        for w in (2..count).rev() {
            // The DFS parent, not compressed yet: what the tree edge, left out of the
            // predecessors, offers.
            let mut best = ancestor[w];
            for &v in &preds[pred_start[w] as usize..pred_start[w + 1] as usize] {
                best = best.min(eval(v, w as u32 + 1, &mut ancestor, &mut low, &mut stack));
            }
            low[w] = best;
            pred_start[w + 1] = best;
        }
        pages::release(preds);
        pages::release(ancestor);
        pages::release(low);
        let semi = pred_start;
        // idom(w) = nearest common ancestor of semi(w) and the DFS parent, in the final tree.
        // Leaves' dominators are appended to `idom` at the end.
        let mut idom: Vec<u32> = Vec::with_capacity(n + 2);
        parents.unpack_into(&mut idom);
        drop(parents);
        for w in 2..count {
            let mut candidate = idom[w];
            while candidate > semi[w + 1] {
                candidate = idom[candidate as usize];
            }
            idom[w] = candidate;
        }
        pages::release(semi);
        let mut vertex: Vec<ObjectIndex> = Vec::with_capacity(n + 2);
        objects.unpack_into(&mut vertex);
        drop(objects);
        let number = numbers_of(&vertex, n);
        if skip_leaves {
            // Each leaf's dominator: the nearest common dominator of all its referrers, kept as
            // LEAF | its number meanwhile. The referrers go in parallel: whichever order they
            // come in, a leaf's slot only moves up the tree, to the same place in the end.
            vertex.par_iter().enumerate().skip(2).for_each(|(num, &v)| {
                for &w in graph.successors(v) {
                    let slot = &number[w.index()];
                    let mut seen = slot.load(Ordering::Relaxed);
                    loop {
                        let merged = match seen {
                            0 => LEAF | num as u32,
                            seen if seen & LEAF != 0 => {
                                LEAF | nearest_common_dominator(&idom, seen & !LEAF, num as u32)
                            }
                            _ => break,
                        };
                        if merged == seen {
                            break;
                        }
                        match slot.compare_exchange_weak(seen, merged, Ordering::Relaxed, Ordering::Relaxed) {
                            Ok(_) => break,
                            Err(now) => seen = now,
                        }
                    }
                }
            });
        }
        let mut number: Vec<u32> = number.into_iter().map(AtomicU32::into_inner).collect();
        if skip_leaves {
            number_leaves(&mut number, &mut vertex, &mut idom);
        }
        Dominators { number, vertex, idom }
    }

    /// The immediate dominator of `object`; `None` for objects dominated only by the virtual
    /// root (held by GC roots directly or by several roots) or not strongly reachable.
    pub fn idom(&self, object: ObjectIndex) -> Option<ObjectIndex> {
        let num = *self.number.get(object.index())?;
        if num < 2 {
            return None;
        }
        let d = self.idom[num as usize];
        (d >= 2).then(|| self.vertex[d as usize])
    }

    /// Whether a GC root reaches `object` over strong references (the tree holds it).
    pub fn is_reachable(&self, object: ObjectIndex) -> bool {
        self.number.get(object.index()).is_some_and(|&n| n >= 2)
    }

    /// Sums `quantity` over each object's dominator subtree: retained heap when `quantity` is
    /// the shallow size, retained native memory when it is the bytes an object owns off-heap.
    /// Objects not strongly reachable retain nothing.
    pub fn retained(&self, quantity: impl Fn(ObjectIndex) -> u64 + Sync) -> Retained<'_> {
        // Asked in object order, which is the dump's order: a quantity that reads records
        // (an array's length in a lean model) then reads the file front to back.
        let amounts = self.sums(|own| {
            self.number.par_iter().enumerate().for_each(|(object, &num)| {
                if num >= 2 {
                    own(num, quantity(ObjectIndex::new(object as u32)));
                }
            })
        });
        Retained { tree: self, amounts }
    }

    /// The `n` objects that retain the most of `quantity`, largest first (all of them when `n`
    /// is 0), and the sum over every strongly reachable object: what `dumpscan dominators`
    /// asks. The tree is spent, so that its object-to-number array is freed before the sums
    /// are made (4 bytes an object less at their peak).
    pub fn into_top_retainers(
        self,
        quantity: impl Fn(ObjectIndex) -> u64 + Sync,
        n: usize,
    ) -> (Vec<(ObjectIndex, u64)>, u64) {
        let Dominators { number, vertex, idom } = self;
        pages::release(number);
        let tree = Dominators { number: Vec::new(), vertex, idom };
        // By number: the leaves, most of the arrays, come in object order (the dump's).
        let amounts = tree.sums(|own| {
            tree.vertex.par_iter().enumerate().skip(2).for_each(|(num, &object)| own(num as u32, quantity(object)))
        });
        let retained = Retained { tree: &tree, amounts };
        let answer = (retained.top(n), retained.total());
        drop(retained);
        // Handed back now, not lingering while the caller goes on (to the paths' walk).
        pages::release(tree.vertex);
        pages::release(tree.idom);
        answer
    }

    /// Each reachable object's amount, which `fill` sets by preorder number (from any thread,
    /// in any order) through the function it is given, summed over its dominator subtree.
    fn sums(&self, fill: impl FnOnce(&(dyn Fn(u32, u64) + Sync))) -> Amounts {
        let slots: Vec<AtomicU32> = (0..self.vertex.len()).into_par_iter().map(|_| AtomicU32::new(0)).collect();
        let large = Mutex::new(FxHashMap::default());
        fill(&|num, amount| {
            slots[num as usize].store(Amounts::narrow(amount), Ordering::Relaxed);
            if amount >= LARGE as u64 {
                large.lock().unwrap_or_else(|e| e.into_inner()).insert(num, amount);
            }
        });
        let mut amounts = Amounts {
            small: slots.into_iter().map(AtomicU32::into_inner).collect(),
            large: large.into_inner().unwrap_or_else(|e| e.into_inner()),
        };
        // Children come after their dominator in preorder: fold from the back.
        for num in (2..self.vertex.len()).rev() {
            let d = self.idom[num];
            if d >= 2 {
                amounts.set(d, amounts.get(d).saturating_add(amounts.get(num as u32)));
            }
        }
        amounts
    }

    /// Strongly reachable objects, in depth-first preorder.
    pub fn objects(&self) -> &[ObjectIndex] {
        self.vertex.get(2..).unwrap_or_default()
    }

    /// Sums of `retained` per group (say, per class) that count each object at most once: an
    /// object adds its retained amount only if no dominator above it is in the same group.
    pub fn retained_by_group(
        &self,
        retained: &Retained<'_>,
        group: impl Fn(ObjectIndex) -> usize,
        groups: usize,
    ) -> Vec<u64> {
        let count = self.vertex.len();
        // Children lists of the dominator tree, by preorder number.
        let mut start = vec![0u32; count + 1];
        for num in 2..count {
            start[self.idom[num] as usize + 1] += 1;
        }
        for i in 0..count {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut children = vec![0u32; count.saturating_sub(2)];
        for num in 2..count {
            let d = self.idom[num] as usize;
            children[fill[d] as usize] = num as u32;
            fill[d] += 1;
        }
        drop(fill);
        let mut open = vec![0u32; groups];
        let mut sums = vec![0u64; groups];
        // Depth-first over the tree: entering a node opens its group, leaving closes it.
        let mut stack: Vec<(u32, bool)> = vec![(VIRTUAL_ROOT, false)];
        while let Some((num, leaving)) = stack.pop() {
            let g = (num >= 2).then(|| group(self.vertex[num as usize]));
            if leaving {
                if let Some(g) = g {
                    open[g] -= 1;
                }
                continue;
            }
            if let Some(g) = g {
                if open[g] == 0 {
                    sums[g] = sums[g].saturating_add(retained.amounts.get(num));
                }
                open[g] += 1;
            }
            stack.push((num, true));
            for &child in &children[start[num as usize] as usize..start[num as usize + 1] as usize] {
                stack.push((child, false));
            }
        }
        sums
    }
}

/// Retained amounts of every object, from [`Dominators::retained`].
pub struct Retained<'t> {
    tree: &'t Dominators,
    amounts: Amounts,
}

/// Amounts by preorder number: 4 bytes each, and the few of 4 GiB or more in a map.
struct Amounts {
    small: Vec<u32>,
    large: FxHashMap<u32, u64>,
}

/// Marks, in `Amounts::small`, an amount kept in `Amounts::large`.
const LARGE: u32 = u32::MAX;

impl Amounts {
    fn narrow(amount: u64) -> u32 {
        amount.min(LARGE as u64) as u32
    }

    fn get(&self, num: u32) -> u64 {
        match self.small[num as usize] {
            LARGE => self.large.get(&num).copied().unwrap_or(LARGE as u64),
            small => small as u64,
        }
    }

    fn set(&mut self, num: u32, amount: u64) {
        self.small[num as usize] = Amounts::narrow(amount);
        if amount >= LARGE as u64 {
            self.large.insert(num, amount);
        }
    }
}

impl Drop for Retained<'_> {
    fn drop(&mut self) {
        pages::release(std::mem::take(&mut self.amounts.small));
    }
}

impl Retained<'_> {
    /// What `object` retains; 0 when it is not strongly reachable.
    pub fn get(&self, object: ObjectIndex) -> u64 {
        match self.tree.number.get(object.index()) {
            Some(&num) if num >= 2 => self.amounts.get(num),
            _ => 0,
        }
    }

    /// The `n` objects that retain the most, largest first (all of them when `n` is 0).
    pub fn top(&self, n: usize) -> Vec<(ObjectIndex, u64)> {
        let key = |&(o, r): &(ObjectIndex, u64)| (std::cmp::Reverse(r), o);
        let all = self.tree.vertex.iter().enumerate().skip(2).map(|(num, &o)| (o, self.amounts.get(num as u32)));
        let mut top: Vec<(ObjectIndex, u64)> = if n == 0 {
            all.collect()
        } else {
            // A bounded heap keeps memory at n entries, not one per object.
            let mut heap = std::collections::BinaryHeap::with_capacity(n + 1);
            for (o, r) in all {
                let entry = std::cmp::Reverse((r, std::cmp::Reverse(o)));
                // Most objects retain less than the smallest kept: one comparison, no push.
                if heap.len() == n && heap.peek().is_some_and(|smallest| entry >= *smallest) {
                    continue;
                }
                heap.push(entry);
                if heap.len() > n {
                    heap.pop();
                }
            }
            heap.into_iter().map(|std::cmp::Reverse((r, std::cmp::Reverse(o)))| (o, r)).collect()
        };
        top.sort_unstable_by_key(key);
        top
    }

    /// The sum over the tops of the tree (the objects dominated by the virtual root alone):
    /// every strongly reachable object's amount.
    pub fn total(&self) -> u64 {
        let idom = &self.tree.idom;
        (2..idom.len())
            .filter(|&num| idom[num] < 2)
            .map(|num| self.amounts.get(num as u32))
            .fold(0, u64::saturating_add)
    }
}

/// The arrays the depth-first search fills, by preorder number: numbers 0 and 1 are a
/// placeholder and the virtual root. Sized for the worst case up front, since growing them
/// would briefly need twice the memory (and would move them while another thread faults
/// them in).
struct Search {
    number: Vec<u32>,
    vertex: Vec<ObjectIndex>,
    dfs_parent: Vec<u32>,
    /// Predecessors met so far, the DFS parent aside.
    pred_end: Vec<u32>,
}

impl Search {
    /// Room for `searchable` objects in the search arrays.
    fn new(number: Vec<u32>, searchable: usize) -> Search {
        /// Room for `capacity` values, those of numbers 0 and 1 filled in.
        fn with<T: From<u32>>(capacity: usize) -> Vec<T> {
            let mut v = Vec::with_capacity(capacity);
            v.extend([T::from(0), T::from(0)]);
            v
        }
        Search {
            number,
            vertex: with(searchable + 2),
            dfs_parent: with(searchable + 2),
            pred_end: with(searchable + 3),
        }
    }

    /// Numbers every object reachable from `roots` but the leaves; the stack holds each open
    /// vertex's place in the graph's targets, so it grows with depth, not edges.
    fn run(&mut self, graph: &Csr, roots: &[ObjectIndex], progress: &Progress) {
        let targets = graph.targets();
        let mut stack: Vec<Open> = Vec::new();
        for &root in roots {
            let seen = self.number[root.index()];
            if seen != 0 {
                // Reached from another root first: the virtual root is one more predecessor.
                self.pred_end[seen as usize] += 1;
                continue;
            }
            stack.push(self.visit(graph, root, VIRTUAL_ROOT));
            while let Some(top) = stack.last_mut() {
                if top.left == 0 {
                    stack.pop();
                    continue;
                }
                let (w, num) = (targets[top.next], top.num);
                top.next += 1;
                top.left -= 1;
                match self.number[w.index()] {
                    0 => {
                        let open = self.visit(graph, w, num);
                        if open.num % 4096 == 0 {
                            progress.wrote(open.num as usize);
                        }
                        stack.push(open);
                    }
                    seen if seen & LEAF == 0 && self.dfs_parent[seen as usize] != num => {
                        self.pred_end[seen as usize] += 1
                    }
                    _ => {}
                }
            }
        }
        progress.finish();
    }

    /// Predecessors by preorder number, restricted to searched objects, as runs in one array;
    /// `pred_end` becomes where each run starts. The search counted each object's
    /// predecessors, so the runs are filled from the back. The order within a run depends on
    /// thread timing; the dominators do not. A vertex's DFS parent is left out of its run
    /// (about half of a heap's references are such tree edges): as a predecessor it only
    /// offers itself as the semidominator, the value the loop starts from.
    fn predecessors(&mut self, graph: &Csr, roots: &[ObjectIndex]) -> Vec<u32> {
        let number = &self.number;
        let mut pred_end = std::mem::take(&mut self.pred_end);
        pred_end.push(0);
        let mut total = 0u32;
        for slot in &mut pred_end {
            total += *slot;
            *slot = total;
        }
        let mut preds = vec![0u32; total as usize];
        let dfs_parent = &self.dfs_parent;
        for &root in roots {
            let r = number[root.index()] as usize;
            if dfs_parent[r] != VIRTUAL_ROOT {
                pred_end[r] -= 1;
                preds[pred_end[r] as usize] = VIRTUAL_ROOT;
            }
        }
        let ends: Vec<AtomicU32> = pred_end.into_iter().map(AtomicU32::new).collect();
        let slots: Vec<AtomicU32> = preds.into_iter().map(AtomicU32::new).collect();
        self.vertex.par_iter().enumerate().skip(2).for_each(|(num, &v)| {
            for &w in graph.successors(v) {
                let target = number[w.index()];
                if target & LEAF == 0 && dfs_parent[target as usize] != num as u32 {
                    let at = ends[target as usize].fetch_sub(1, Ordering::Relaxed) - 1;
                    slots[at as usize].store(num as u32, Ordering::Relaxed);
                }
            }
        });
        self.pred_end = ends.into_iter().map(AtomicU32::into_inner).collect();
        slots.into_iter().map(AtomicU32::into_inner).collect()
    }

    /// Numbers `v`, reached from `parent` (its first predecessor); its entry on the stack.
    fn visit(&mut self, graph: &Csr, v: ObjectIndex, parent: u32) -> Open {
        let num = self.vertex.len() as u32;
        self.number[v.index()] = num;
        self.vertex.push(v);
        self.dfs_parent.push(parent);
        self.pred_end.push(0);
        let span = graph.span(v);
        Open { next: span.start, left: span.len() as u32, num }
    }
}

/// Numbers the leaves (slots marked `LEAF | their dominator`) after everything else, in
/// object order, each under its dominator; by parts, in parallel.
fn number_leaves(number: &mut [u32], vertex: &mut Vec<ObjectIndex>, idom: &mut Vec<u32>) {
    const PART: usize = 1 << 16;
    let counts: Vec<usize> =
        number.par_chunks(PART).map(|part| part.iter().filter(|&&slot| slot & LEAF != 0).count()).collect();
    let leaves: usize = counts.iter().sum();
    let first = vertex.len();
    vertex.par_extend((0..leaves).into_par_iter().map(|_| ObjectIndex::new(0)));
    idom.par_extend((0..leaves).into_par_iter().map(|_| 0));
    // Each part's leaves: where their numbers start, and their places in `vertex` and `idom`.
    let mut places = Vec::with_capacity(counts.len());
    let (mut vertices, mut dominators) = (&mut vertex[first..], &mut idom[first..]);
    let mut next = first;
    for count in counts {
        let (these, rest) = std::mem::take(&mut vertices).split_at_mut(count);
        vertices = rest;
        let (their_dominators, rest) = std::mem::take(&mut dominators).split_at_mut(count);
        dominators = rest;
        places.push((next as u32, these, their_dominators));
        next += count;
    }
    number.par_chunks_mut(PART).zip(places).enumerate().for_each(|(k, (slots, (mut next, vertices, dominators)))| {
        let mut at = 0;
        for (i, slot) in slots.iter_mut().enumerate() {
            if *slot & LEAF != 0 {
                dominators[at] = *slot & !LEAF;
                vertices[at] = ObjectIndex::new((k * PART + i) as u32);
                *slot = next;
                next += 1;
                at += 1;
            }
        }
    });
}

/// A vertex on the depth-first search's stack: where its next target is, how many are left.
struct Open {
    next: usize,
    left: u32,
    num: u32,
}

/// Each object's preorder number (0 for none) from the objects by number.
fn numbers_of(vertex: &[ObjectIndex], n: usize) -> Vec<AtomicU32> {
    let number: Vec<AtomicU32> = (0..n).into_par_iter().map(|_| AtomicU32::new(0)).collect();
    vertex.par_iter().enumerate().skip(2).for_each(|(num, &v)| number[v.index()].store(num as u32, Ordering::Relaxed));
    number
}

/// The nearest common ancestor of two vertices in the tree `idom` (by preorder numbers, so
/// that a dominator's number is below all of its subtree's).
fn nearest_common_dominator(idom: &[u32], mut a: u32, mut b: u32) -> u32 {
    while a != b {
        if a > b {
            a = idom[a as usize];
        } else {
            b = idom[b as usize];
        }
    }
    a
}

/// The smallest semidominator on the path from `v` up to the part of the forest already
/// linked (numbers at or above `last_linked`), compressing that path.
fn eval(v: u32, last_linked: u32, ancestor: &mut [u32], low: &mut [u32], stack: &mut Vec<u32>) -> u32 {
    if v < last_linked {
        return low[v as usize];
    }
    let mut x = v;
    loop {
        stack.push(x);
        x = ancestor[x as usize];
        if x < last_linked {
            break;
        }
    }
    // `x` is the first vertex outside the linked forest; compress the path below it.
    let mut p = stack.pop().unwrap_or(v);
    while let Some(y) = stack.pop() {
        ancestor[y as usize] = ancestor[p as usize];
        if low[p as usize] < low[y as usize] {
            low[y as usize] = low[p as usize];
        }
        p = y;
    }
    low[p as usize]
}
