//! Sets of numbers kept as a bit each: the objects a walk has reached or marked, the blocks of
//! objects a scan must visit again. Walks over the whole heap mark from many threads at once,
//! so the words are atomic; a set that one thread fills pays a plain write through `&mut`.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

/// A set of the numbers below a bound given when it is made, a bit each.
///
/// Marks only ever get set while threads share a set, and the walks read a set's marks as a
/// whole only after their threads have joined, so relaxed atomics are enough.
#[derive(Debug, Default)]
pub struct BitSet {
    words: Vec<AtomicU64>,
}

impl BitSet {
    /// An empty set with room for the numbers below `len`.
    pub fn new(len: usize) -> BitSet {
        BitSet { words: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Whether `i` is in the set; `false` for a number past its room.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|word| word.load(Ordering::Relaxed) & bit(i) != 0)
    }

    /// Adds `i`; whether it was not in the set before. Panics past the set's room.
    #[inline]
    pub fn insert(&mut self, i: usize) -> bool {
        let word = self.words[i / 64].get_mut();
        let new = *word & bit(i) == 0;
        *word |= bit(i);
        new
    }

    /// Adds `i` while other threads may add too: whether this call added it, so that of
    /// threads racing to add one number exactly one is told it did. Panics past the set's room.
    #[inline]
    pub fn insert_shared(&self, i: usize) -> bool {
        self.words[i / 64].fetch_or(bit(i), Ordering::Relaxed) & bit(i) == 0
    }

    /// Number of members.
    pub fn count(&self) -> usize {
        self.words.iter().map(|word| word.load(Ordering::Relaxed).count_ones() as usize).sum()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|word| word.load(Ordering::Relaxed) == 0)
    }

    /// The members, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.words.len()).flat_map(|k| Ones(self.word(k)).map(move |bit| k * 64 + bit))
    }

    /// The members, in parallel.
    pub(crate) fn par_ones(&self) -> impl ParallelIterator<Item = usize> + '_ {
        (0..self.words.len()).into_par_iter().flat_map_iter(|k| Ones(self.word(k)).map(move |bit| k * 64 + bit))
    }

    /// Whether a number is in both sets.
    pub(crate) fn intersects(&self, other: &BitSet) -> bool {
        (0..self.words.len().min(other.words.len())).any(|k| self.word(k) & other.word(k) != 0)
    }

    /// Removes every member.
    pub(crate) fn clear(&mut self) {
        self.words.iter_mut().for_each(|word| *word.get_mut() = 0);
    }

    /// Number of words: the set has room for 64 times as many numbers.
    pub(crate) fn word_count(&self) -> usize {
        self.words.len()
    }

    /// Word `k`: the members from `64 * k` on, as bit `i % 64` for member `i`.
    #[inline]
    pub(crate) fn word(&self, k: usize) -> u64 {
        self.words[k].load(Ordering::Relaxed)
    }
}

#[inline(always)]
fn bit(i: usize) -> u64 {
    1 << (i % 64)
}

/// The set bits of a word, by position: lowest first, or highest first from the back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ones(pub(crate) u64);

impl Iterator for Ones {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        (self.0 != 0).then(|| {
            let bit = self.0.trailing_zeros() as usize;
            self.0 &= self.0 - 1;
            bit
        })
    }
}

impl DoubleEndedIterator for Ones {
    #[inline]
    fn next_back(&mut self) -> Option<usize> {
        (self.0 != 0).then(|| {
            let bit = 63 - self.0.leading_zeros() as usize;
            self.0 &= !(1 << bit);
            bit
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_in_and_across_words() {
        let mut set = BitSet::new(200);
        assert!(set.is_empty());
        for i in [0, 1, 63, 64, 65, 127, 128, 199] {
            assert!(set.insert(i), "{i} is new");
        }
        assert!(!set.insert(64), "64 is there already");
        assert!(set.insert_shared(100));
        assert!(!set.insert_shared(100));
        assert_eq!(set.ones().collect::<Vec<_>>(), [0, 1, 63, 64, 65, 100, 127, 128, 199]);
        let mut parallel: Vec<usize> = set.par_ones().collect();
        parallel.sort_unstable();
        assert_eq!(parallel, set.ones().collect::<Vec<_>>());
        assert_eq!(set.count(), 9);
        assert!(set.contains(199) && !set.contains(198) && !set.contains(1 << 20));
        assert_eq!(set.word_count(), 4);
        assert_eq!(set.word(1), 0b11 | 1 << 63 | 1 << 36);
        set.clear();
        assert!(set.is_empty() && set.ones().next().is_none());
        assert!(BitSet::new(0).ones().next().is_none());
    }

    #[test]
    fn sets_intersect_when_a_number_is_in_both() {
        let (mut a, mut b) = (BitSet::new(130), BitSet::new(70));
        a.insert(129);
        b.insert(5);
        assert!(!a.intersects(&b) && !b.intersects(&a));
        a.insert(5);
        assert!(a.intersects(&b) && b.intersects(&a));
    }

    #[test]
    fn one_thread_of_many_adds_each_number() {
        let set = BitSet::new(10_000);
        let added: usize = (0..8).into_par_iter().map(|_| (0..10_000).filter(|&i| set.insert_shared(i)).count()).sum();
        assert_eq!(added, 10_000);
        assert_eq!(set.count(), 10_000);
    }

    #[test]
    fn bits_of_a_word_from_either_end() {
        let word = 1 | 1 << 5 | 1 << 63;
        assert_eq!(Ones(word).collect::<Vec<_>>(), [0, 5, 63]);
        assert_eq!(Ones(word).rev().collect::<Vec<_>>(), [63, 5, 0]);
        assert_eq!(Ones(0).next(), None);
    }
}
