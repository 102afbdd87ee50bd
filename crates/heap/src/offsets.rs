//! Each object's file offset in about two and a half bytes.

use std::ops::Range;

use crate::blocked::Blocked;

/// File offsets of all objects, by object number, each as its distance in two bytes from the
/// smallest offset of its block of 16 objects. Objects near in address are near in the file,
/// so a block spans far less than 64 KiB unless it holds a large array or straddles two runs
/// of the dump; such blocks keep their offsets in full.
#[derive(Debug)]
pub(crate) struct Offsets(Blocked<u16>);

impl Offsets {
    /// From every object's offset, in order.
    pub(crate) fn new(offsets: &[u64]) -> Offsets {
        Offsets::build(offsets.len(), &|range: Range<usize>| offsets[range].iter().copied())
    }

    /// From the offsets of `n` objects, which `offsets_in(range)` gives in order for any range
    /// of positions: built in parallel, a chunk at a time.
    pub(crate) fn build<I: Iterator<Item = u64>>(
        n: usize,
        offsets_in: &(impl Fn(Range<usize>) -> I + Sync),
    ) -> Offsets {
        Offsets(Blocked::build(vec![0u16; n], |range| {
            let mut offsets = offsets_in(range);
            move |_, _: &[u16], block: &mut [u64]| block.fill_with(|| offsets.next().unwrap_or(0))
        }))
    }

    /// Object `object`'s offset; 0 past the last.
    #[inline]
    pub(crate) fn get(&self, object: u32) -> u64 {
        self.0.get(object as usize).unwrap_or(0)
    }
}
