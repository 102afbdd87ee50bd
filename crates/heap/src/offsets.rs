//! Each object's file offset in about two and a half bytes.

use rayon::prelude::*;

/// Objects per block.
const BLOCK: usize = 16;
/// Marks, in `Offsets::bases`, a block kept in full; the rest of the word says where in
/// `Offsets::wide`.
const WIDE: u64 = 1 << 63;

/// File offsets of all objects, by object number: a base per block of 16 objects (the
/// smallest of their offsets) and each object's distance from it in two bytes. Objects near
/// in address are near in the file, so a block spans far less than 64 KiB unless it holds a
/// large array or straddles two runs of the dump; such blocks keep their 16 offsets in full,
/// apart.
#[derive(Debug)]
pub(crate) struct Offsets {
    bases: Vec<u64>,
    near: Vec<u16>,
    wide: Vec<u64>,
}

impl Offsets {
    /// From every object's offset, in order.
    pub(crate) fn new(offsets: &[u64]) -> Offsets {
        let mut blocks = Blocks::default();
        offsets.iter().for_each(|&offset| blocks.push(offset));
        let blocks = blocks.finish();
        let near = offsets.par_iter().enumerate().map(|(at, &offset)| blocks.distance(at, offset)).collect();
        blocks.with_distances(near)
    }

    #[inline]
    pub(crate) fn get(&self, object: u32) -> u64 {
        let i = object as usize;
        let base = self.bases.get(i / BLOCK).copied().unwrap_or(0);
        if base & WIDE == 0 {
            base + self.near.get(i).copied().unwrap_or(0) as u64
        } else {
            self.wide.get((base & !WIDE) as usize * BLOCK + i % BLOCK).copied().unwrap_or(0)
        }
    }
}

/// The blocks' bases and the wide blocks' offsets, taken from the objects' offsets in
/// order, before their distances are written (in parallel, by [`Blocks::distance`]).
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    bases: Vec<u64>,
    wide: Vec<u64>,
    /// The offsets of the block being taken.
    block: Vec<u64>,
}

impl Blocks {
    pub(crate) fn push(&mut self, offset: u64) {
        self.block.push(offset);
        if self.block.len() == BLOCK {
            self.close();
        }
    }

    fn close(&mut self) {
        let lo = self.block.iter().copied().min().unwrap_or(0);
        let hi = self.block.iter().copied().max().unwrap_or(0);
        if hi - lo <= u16::MAX as u64 {
            self.bases.push(lo);
        } else {
            self.bases.push(WIDE | (self.wide.len() / BLOCK) as u64);
            self.wide.extend(&self.block);
            self.wide.resize(self.wide.len().next_multiple_of(BLOCK), 0);
        }
        self.block.clear();
    }

    pub(crate) fn finish(mut self) -> Blocks {
        if !self.block.is_empty() {
            self.close();
        }
        self
    }

    /// What the object at position `at` keeps of its offset.
    #[inline]
    pub(crate) fn distance(&self, at: usize, offset: u64) -> u16 {
        match self.bases.get(at / BLOCK) {
            Some(&base) if base & WIDE == 0 => offset.saturating_sub(base) as u16,
            _ => 0,
        }
    }

    pub(crate) fn with_distances(self, near: Vec<u16>) -> Offsets {
        Offsets { bases: self.bases, near, wide: self.wide }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_near_and_far() {
        // Small records, a large array now and then (in the middle of a block and at its
        // end), a jump back to an earlier part of the file, and a partial last block.
        let mut offsets = Vec::new();
        let mut at = 1_000u64;
        for i in 0..1000u64 {
            offsets.push(at);
            at += match i {
                40 | 63 => 70_000,
                500 => 5 << 32,
                _ => 24 + i % 40,
            };
            if i == 700 {
                at = 3_000;
            }
        }
        for len in [0, 1, 15, 16, 17, 1000] {
            let column = Offsets::new(&offsets[..len]);
            for (i, &offset) in offsets[..len].iter().enumerate() {
                assert_eq!(column.get(i as u32), offset, "object {i} of {len}");
            }
            assert!(column.wide.len() <= 4 * BLOCK, "{} offsets kept in full", column.wide.len());
        }
    }
}
