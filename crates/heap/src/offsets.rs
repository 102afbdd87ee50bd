//! Each object's file offset in about two and a half bytes.

use std::ops::Range;

use rayon::prelude::*;

use crate::index::CHUNK;

/// Objects per block.
const BLOCK: usize = 16;
const _: () = assert!(CHUNK % BLOCK == 0, "a chunk of positions holds whole blocks");
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
        Offsets::build(offsets.len(), &|range: Range<usize>| offsets[range].iter().copied())
    }

    /// From the offsets of `n` objects, which `offsets_in(range)` gives in order for any range
    /// of positions: built in parallel, a chunk of blocks at a time.
    pub(crate) fn build<I: Iterator<Item = u64>>(
        n: usize,
        offsets_in: &(impl Fn(Range<usize>) -> I + Sync),
    ) -> Offsets {
        let mut near = vec![0u16; n];
        let chunks: Vec<(Vec<u64>, Vec<u64>)> = near
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, near)| {
                let mut offsets = offsets_in(c * CHUNK..c * CHUNK + near.len());
                let mut bases = Vec::with_capacity(near.len().div_ceil(BLOCK));
                let mut wide = Vec::new();
                let mut block = [0u64; BLOCK];
                for near in near.chunks_mut(BLOCK) {
                    let block = &mut block[..near.len()];
                    block.iter_mut().for_each(|slot| *slot = offsets.next().unwrap_or(0));
                    let lo = block.iter().copied().min().unwrap_or(0);
                    let hi = block.iter().copied().max().unwrap_or(0);
                    if hi - lo <= u16::MAX as u64 {
                        bases.push(lo);
                        near.iter_mut().zip(&*block).for_each(|(distance, &offset)| *distance = (offset - lo) as u16);
                    } else {
                        bases.push(WIDE | (wide.len() / BLOCK) as u64);
                        wide.extend_from_slice(block);
                        wide.resize(wide.len().next_multiple_of(BLOCK), 0);
                    }
                }
                (bases, wide)
            })
            .collect();
        let mut bases = Vec::with_capacity(n.div_ceil(BLOCK));
        let mut wide = Vec::new();
        for (chunk_bases, chunk_wide) in chunks {
            // A chunk numbers its wide blocks from its own first.
            let before = (wide.len() / BLOCK) as u64;
            bases.extend(chunk_bases.into_iter().map(|base| if base & WIDE == 0 { base } else { base + before }));
            wide.extend(chunk_wide);
        }
        Offsets { bases, near, wide }
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
