//! The objects from which one of a few targets can be reached: the part of the heap that
//! holds them, which is all a tree or a path to them needs.

use rayon::prelude::*;

use crate::bits::Ones;
use crate::{BitSet, Heap, ObjectIndex, Reach};

/// Objects a block of the marking holds, in 64-bit words, at the least; a large heap gets
/// larger blocks, so that the blocks' map of which refers to which stays small.
const MIN_BLOCK_WORDS: usize = 1 << 10;
const MAX_BLOCKS: usize = 4096;
/// [`Heap::reaching`] walks back within the objects known to reach earlier targets when they
/// are at most this fraction of the heap: their references are then few to gather.
const FEW_KNOWN: usize = 64;
/// ... or at most this many, whatever the heap's size.
const FEW_KNOWN_AT_LEAST: usize = 1 << 12;
/// Block scans, in multiples of the number of blocks, before giving up (a layout where
/// marks cross block boundaries one at a time).
const MAX_SCANS_PER_BLOCK: usize = 24;

impl Heap<'_> {
    /// The objects held at least as strongly as `weakest` from which one of `targets` can be
    /// reached, by object number, the targets included: over strong references,
    /// and past [`Reach::Strong`] also from a `java.lang.ref.Reference` to its referent.
    /// `None` when the marks take too long to settle (see `MAX_SCANS_PER_BLOCK`).
    ///
    /// Marks spread from the targets to their referrers. The objects are cut into blocks
    /// (object numbers follow addresses, so a structure mostly refers within its block or to
    /// a few others); one pass notes which blocks each block refers to, then only the blocks
    /// that refer to a block whose marks changed are scanned again, in parallel, each until
    /// its own marks settle. Most of the heap is read once.
    ///
    /// After [`Heap::reach_toward`], targets among the objects that reach its targets are
    /// marked by a walk back over the references among those objects alone.
    pub fn reaching(&self, targets: &[ObjectIndex], weakest: Reach) -> Option<BitSet> {
        if let Some(known) = self.toward.get() {
            let few = known.len() <= (self.len() / FEW_KNOWN).max(FEW_KNOWN_AT_LEAST);
            if few && weakest <= Reach::Phantom && targets.iter().all(|t| known.binary_search(t).is_ok()) {
                return Some(self.reaching_among(known, targets, weakest));
            }
        }
        self.reaching_by(targets, weakest, &|v| self.level(v))
    }

    /// [`Heap::reaching`] within `known`, which holds the targets and every object held at
    /// all that reaches one of them: every object that [`Heap::reaching`] would mark is among
    /// them, and so is every object on its way to a target. A walk back from the targets over
    /// the references among `known`.
    fn reaching_among(&self, known: &[ObjectIndex], targets: &[ObjectIndex], weakest: Reach) -> BitSet {
        let rank = |v: ObjectIndex| known.binary_search(&v).ok();
        // (the referred object's rank, the referrer), for the referrers of each known object.
        let mut back: Vec<(usize, ObjectIndex)> =
            known.iter().flat_map(|&v| self.references(v).iter().filter_map(move |&w| Some((rank(w)?, v)))).collect();
        if weakest > Reach::Strong {
            let held_references = self.referents.iter().filter(|&&(reference, _, _)| rank(reference).is_some());
            back.extend(held_references.filter_map(|&(reference, referent, _)| Some((rank(referent)?, reference))));
        }
        back.sort_unstable();
        let mut marked = BitSet::new(self.len());
        let mut pending: Vec<ObjectIndex> = targets.iter().copied().filter(|&t| marked.insert(t.index())).collect();
        while let Some(w) = pending.pop() {
            let Some(r) = rank(w) else { continue };
            let from = back.partition_point(|&(x, _)| x < r);
            for &(_, v) in back[from..].iter().take_while(|&&(x, _)| x == r) {
                if self.level(v) <= weakest && marked.insert(v.index()) {
                    pending.push(v);
                }
            }
        }
        marked
    }

    /// [`Heap::reaching`] with the objects' levels told by `level`.
    pub(crate) fn reaching_by(
        &self,
        targets: &[ObjectIndex],
        weakest: Reach,
        level: &(dyn Fn(ObjectIndex) -> Reach + Sync),
    ) -> Option<BitSet> {
        let block_words = self.len().div_ceil(64).div_ceil(MAX_BLOCKS).max(MIN_BLOCK_WORDS);
        reaching_in_blocks(self, targets, weakest, level, block_words)
    }
}

/// [`Heap::reaching_by`] with blocks of `block_words` words.
fn reaching_in_blocks(
    heap: &Heap<'_>,
    targets: &[ObjectIndex],
    weakest: Reach,
    level: &(dyn Fn(ObjectIndex) -> Reach + Sync),
    block_words: usize,
) -> Option<BitSet> {
    let n = heap.len();
    let words = n.div_ceil(64);
    let blocks = words.div_ceil(block_words).max(1);
    let block_of = |v: ObjectIndex| v.index() / 64 / block_words;
    let marked = BitSet::new(n);
    let is_marked = |v: ObjectIndex| marked.contains(v.index());
    let mark = |v: ObjectIndex| marked.insert_shared(v.index());
    let held = |v: ObjectIndex| level(v) <= weakest;
    for &t in targets {
        mark(t);
    }
    // Marks the candidates of block `b` (numbered from the block's first object) that refer
    // to a marked object, alternately backwards and forwards until the block settles (marks
    // travel along a structure laid out either way); whether any was marked.
    let settle = |b: usize, candidates: &BitSet| -> bool {
        let first_word = b * block_words;
        let block_len = candidates.word_count();
        let mut gained = false;
        for pass in 0.. {
            let backwards = pass % 2 == 0;
            let mut again = false;
            for i in 0..block_len {
                let k = if backwards { block_len - 1 - i } else { i };
                let at = first_word + k;
                let mut bits = Ones(candidates.word(k) & !marked.word(at));
                while let Some(bit) = if backwards { bits.next_back() } else { bits.next() } {
                    let v = at * 64 + bit;
                    if heap.references(ObjectIndex::new(v as u32)).iter().any(|&w| is_marked(w)) {
                        marked.insert_shared(v);
                        again = true;
                    }
                }
            }
            gained |= again;
            if !again {
                return gained;
            }
        }
        gained
    };
    // Only objects held strongly enough with references of their own can be marked by a
    // scan: found once, with each block's referred blocks (a bitset over the blocks), so that
    // a scan passes the others (a third of a heap's objects are leaves) a word at a time.
    // That first reading marks what it can too; a block where it marked nothing is settled
    // (most blocks: the objects that reach a few targets are few), the others are settled
    // at once.
    let first: Vec<(BitSet, BitSet, bool)> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut refers = BitSet::new(blocks);
            let objects = (b * block_words * 64).min(n)..((b + 1) * block_words * 64).min(n);
            let mut candidates = BitSet::new(objects.len());
            let mut gained = false;
            for v in objects.clone().map(|v| ObjectIndex::new(v as u32)) {
                let references = heap.references(v);
                if references.is_empty() || !held(v) {
                    continue;
                }
                candidates.insert(v.index() - objects.start);
                let mut refers_marked = false;
                for &w in references {
                    refers.insert(block_of(w));
                    refers_marked |= is_marked(w);
                }
                gained |= refers_marked && mark(v);
            }
            if gained {
                settle(b, &candidates);
            }
            (candidates, refers, gained)
        })
        .collect();
    // Blocks whose marks changed since the blocks that refer to them were last scanned.
    let mut changed = BitSet::new(blocks);
    let mut candidates = Vec::with_capacity(blocks);
    let mut refers = Vec::with_capacity(blocks);
    for (b, (block, row, gained)) in first.into_iter().enumerate() {
        if gained {
            changed.insert(b);
        }
        candidates.push(block);
        refers.push(row);
    }
    let mut scans = blocks;
    loop {
        // A reference may be the referent of another: repeat until no reference is marked.
        let mut referents_gained = weakest > Reach::Strong;
        while referents_gained {
            referents_gained = false;
            for &(reference, referent, _) in &heap.referents {
                if is_marked(referent) && held(reference) && mark(reference) {
                    changed.insert(block_of(reference));
                    referents_gained = true;
                }
            }
        }
        let to_scan: Vec<usize> = (0..blocks).filter(|&b| refers[b].intersects(&changed)).collect();
        if to_scan.is_empty() {
            return Some(marked);
        }
        scans += to_scan.len();
        if scans > MAX_SCANS_PER_BLOCK.saturating_mul(blocks) {
            return None;
        }
        let gained: Vec<usize> = to_scan.into_par_iter().filter(|&b| settle(b, &candidates[b])).collect();
        changed.clear();
        for b in gained {
            changed.insert(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    use super::*;

    /// Marks cross blocks of 64 objects along chains laid out both ways and around a cycle,
    /// and stop at objects that are not strongly reachable: the same set as a plain fixed
    /// point, whatever the block size.
    #[test]
    fn marks_spread_to_every_referrer_across_blocks() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let node = b.define_class("org.example.Node", Some(object), &[("next", T::Object)]);
        let buffer = b.define_class("java.nio.DirectByteBuffer", Some(object), &[]);
        // Each node refers to the one made before it, down to a buffer.
        let mut previous = b.instance(buffer, &[]);
        let mut targets = vec![previous];
        for _ in 0..300 {
            previous = b.instance(node, &[V::Object(previous)]);
        }
        b.body().root_simple(0xFF, previous);
        // Each node refers to the one made after it, up to another buffer.
        let ids: Vec<u64> = (0..300).map(|_| b.new_id()).collect();
        let last = b.instance(buffer, &[]);
        targets.push(last);
        for (i, &id) in ids.iter().enumerate() {
            let next = ids.get(i + 1).copied().unwrap_or(last);
            b.body().instance(id, node.id, &[V::Object(next)]);
        }
        b.body().root_simple(0xFF, ids[0]);
        // A cycle that reaches the first buffer, and a chain that reaches nothing.
        let (first, second) = (b.new_id(), b.new_id());
        b.body().instance(first, node.id, &[V::Object(second)]);
        let held = b.instance(node, &[V::Object(targets[0])]);
        b.body().instance(second, node.id, &[V::Object(held)]);
        b.body().root_simple(0xFF, first);
        let mut idle = b.instance(node, &[V::Object(0)]);
        for _ in 0..100 {
            idle = b.instance(node, &[V::Object(idle)]);
        }
        b.body().root_simple(0xFF, idle);
        // Not strongly reachable: refers to a buffer, yet holds nothing for the tree.
        let garbage = b.instance(node, &[V::Object(last)]);

        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let targets: Vec<ObjectIndex> = targets.iter().map(|&id| heap.index_of(id).unwrap()).collect();
        let mut expected = vec![false; heap.len()];
        targets.iter().for_each(|&t| expected[t.index()] = true);
        loop {
            let before = expected.clone();
            for v in heap.objects() {
                if heap.reach().level(v) == Reach::Strong && heap.references(v).iter().any(|&w| before[w.index()]) {
                    expected[v.index()] = true;
                }
            }
            if expected == before {
                break;
            }
        }
        assert!(!expected[heap.index_of(garbage).unwrap().index()]);
        assert!(!expected[heap.index_of(idle).unwrap().index()]);
        assert!(expected[heap.index_of(first).unwrap().index()]);
        assert_eq!(expected.iter().filter(|&&m| m).count(), 2 + 300 + 300 + 3);
        for block_words in [1, 2, 1024] {
            let level = |v| heap.reach().level(v);
            let marked = reaching_in_blocks(&heap, &targets, Reach::Strong, &level, block_words).expect("settles");
            let got: Vec<bool> = heap.objects().map(|v| marked.contains(v.index())).collect();
            assert_eq!(got, expected, "blocks of {block_words} words");
        }
    }

    /// Past strong references, a reference object is marked when its referent is.
    #[test]
    fn referents_count_past_strong() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let reference =
            b.define_class("java.lang.ref.Reference", Some(object), &[("referent", T::Object), ("next", T::Object)]);
        let phantom = b.define_class("java.lang.ref.PhantomReference", Some(reference), &[]);
        let holder = b.define_class("org.example.Holder", Some(object), &[("ref", T::Object)]);
        let buffer = b.define_class("java.nio.DirectByteBuffer", Some(object), &[]);
        let target = b.instance(buffer, &[]);
        let cleaner = b.instance(phantom, &[V::Object(target), V::Object(0)]);
        let top = b.instance(holder, &[V::Object(cleaner)]);
        b.body().root_simple(0xFF, top);
        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let at = |id: u64| heap.index_of(id).unwrap();
        let marked = |weakest| {
            let bits = heap.reaching(&[at(target)], weakest).unwrap();
            [target, cleaner, top].map(|id| bits.contains(at(id).index()))
        };
        assert_eq!(marked(Reach::Strong), [true, false, false]);
        assert_eq!(marked(Reach::Phantom), [true, true, true]);
    }

    /// A reference whose referent is another reference is marked when the inner one is, even
    /// when the outer one comes first in the dump and nothing else refers to either.
    #[test]
    fn references_to_references_are_followed() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let reference = b.define_class("java.lang.ref.Reference", Some(object), &[("referent", T::Object)]);
        let weak = b.define_class("java.lang.ref.WeakReference", Some(reference), &[]);
        let buffer = b.define_class("java.nio.DirectByteBuffer", Some(object), &[]);
        let (outer, inner) = (b.new_id(), b.new_id());
        b.body().instance(outer, weak.id, &[V::Object(inner)]);
        let target = b.instance(buffer, &[]);
        b.body().instance(inner, weak.id, &[V::Object(target)]);
        b.body().root_simple(0xFF, outer);
        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let at = |id: u64| heap.index_of(id).unwrap();
        for weakest in [Reach::Weak, Reach::Phantom] {
            let bits = heap.reaching(&[at(target)], weakest).unwrap();
            assert_eq!([target, inner, outer].map(|id| bits.contains(at(id).index())), [true; 3], "{weakest:?}");
        }
    }
}
