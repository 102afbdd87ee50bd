//! A column of 64-bit values in a byte or two each, when values at near positions are near:
//! the scheme behind the objects' file offsets and the graph's starts.

use std::ops::Range;

use rayon::prelude::*;

use crate::index::CHUNK;

/// Values per block.
const BLOCK: usize = 16;
const _: () = assert!(CHUNK % BLOCK == 0, "a chunk of positions holds whole blocks");
/// Marks, in `Blocked::bases`, a block kept in full; the rest of the word says where in
/// `Blocked::wide`. No value stored here reaches it: file offsets and edge counts.
const WIDE: u64 = 1 << 63;

/// Values by position: a base per block of 16 (the smallest of its values) and each value's
/// distance from it in a `D` (`u8`, `u16`). A block whose values span more than a `D` holds
/// keeps its 16 values in full, apart; few do where near positions hold near values.
#[derive(Debug, Default)]
pub(crate) struct Blocked<D> {
    bases: Vec<u64>,
    near: Vec<D>,
    wide: Vec<u64>,
}

impl<D: Copy + Send + Sync + Into<u64> + TryFrom<u64>> Blocked<D> {
    /// The values of `slots.len()` positions, built in parallel a chunk of [`CHUNK`]
    /// positions at a time and written over `slots`: `chunk(range)` starts the chunk of
    /// positions `range`, and what it returns, called block by block with the block's first
    /// position and slots (as they were before the build), fills in the block's values. The
    /// slots may so hold what the values are made from, without a second array as long.
    pub(crate) fn build<F>(mut slots: Vec<D>, chunk: impl Fn(Range<usize>) -> F + Sync) -> Blocked<D>
    where
        F: FnMut(usize, &[D], &mut [u64]),
    {
        let chunks: Vec<(Vec<u64>, Vec<u64>)> = slots
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, near)| {
                let mut fill = chunk(c * CHUNK..c * CHUNK + near.len());
                let mut bases = Vec::with_capacity(near.len().div_ceil(BLOCK));
                let mut wide = Vec::new();
                let mut values = [0u64; BLOCK];
                for (b, near) in near.chunks_mut(BLOCK).enumerate() {
                    let values = &mut values[..near.len()];
                    fill(c * CHUNK + b * BLOCK, near, values);
                    let lo = values.iter().copied().min().unwrap_or(0);
                    let hi = values.iter().copied().max().unwrap_or(0);
                    if D::try_from(hi - lo).is_ok() {
                        bases.push(lo);
                        for (distance, &value) in near.iter_mut().zip(&*values) {
                            // Within `hi - lo`, so it fits.
                            if let Ok(narrow) = D::try_from(value - lo) {
                                *distance = narrow;
                            }
                        }
                    } else {
                        bases.push(WIDE | (wide.len() / BLOCK) as u64);
                        wide.extend_from_slice(values);
                        wide.resize(wide.len().next_multiple_of(BLOCK), 0);
                    }
                }
                (bases, wide)
            })
            .collect();
        let mut bases = Vec::with_capacity(slots.len().div_ceil(BLOCK));
        let mut wide = Vec::new();
        for (chunk_bases, chunk_wide) in chunks {
            // A chunk numbers its wide blocks from its own first.
            let before = (wide.len() / BLOCK) as u64;
            bases.extend(chunk_bases.into_iter().map(|base| if base & WIDE == 0 { base } else { base + before }));
            wide.extend(chunk_wide);
        }
        Blocked { bases, near: slots, wide }
    }

    /// The value at position `i`; `None` past the last.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        let base = *self.bases.get(i / BLOCK)?;
        if base & WIDE == 0 {
            Some(base + (*self.near.get(i)?).into())
        } else {
            self.wide.get((base & !WIDE) as usize * BLOCK + i % BLOCK).copied()
        }
    }

    /// The values at positions `i` and `i + 1`, sharing the block's lookup when they share
    /// the block.
    #[inline(always)]
    pub(crate) fn pair(&self, i: usize) -> Option<(u64, u64)> {
        let base = *self.bases.get(i / BLOCK)?;
        if base & WIDE == 0 && i % BLOCK + 1 < BLOCK {
            let near = self.near.get(i..i + 2)?;
            Some((base + near[0].into(), base + near[1].into()))
        } else {
            Some((self.get(i)?, self.get(i + 1)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[u64]) -> Blocked<u16> {
        Blocked::build(vec![0u16; values.len()], |range: Range<usize>| {
            let mut at = range.start;
            move |_, _: &[u16], block: &mut [u64]| {
                block.copy_from_slice(&values[at..at + block.len()]);
                at += block.len();
            }
        })
    }

    #[test]
    fn near_and_far_values() {
        // Small steps, a large one now and then (in the middle of a block and at its end), a
        // jump back, and a partial last block; more than one chunk.
        let mut values = Vec::new();
        let mut at = 1_000u64;
        for i in 0..1000u64 {
            values.push(at);
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
            let column = of(&values[..len]);
            assert_eq!(column.near.len(), len);
            for (i, &value) in values[..len].iter().enumerate() {
                assert_eq!(column.get(i), Some(value), "value {i} of {len}");
                if i + 1 < len {
                    assert_eq!(column.pair(i), Some((value, values[i + 1])), "pair {i} of {len}");
                }
            }
            assert_eq!(column.get(len), None);
            assert!(column.wide.len() <= 4 * BLOCK, "{} values kept in full", column.wide.len());
        }
    }

    #[test]
    fn values_made_from_the_slots() {
        // Running sums of the slots, as the graph makes its starts from its degrees.
        let slots: Vec<u8> = (0..300u32).map(|i| (i * 7 % 40) as u8).collect();
        let column = Blocked::build(slots.clone(), |range: Range<usize>| {
            let mut sum: u64 = slots[..range.start].iter().map(|&d| d as u64).sum();
            move |_, block: &[u8], values: &mut [u64]| {
                for (value, &d) in values.iter_mut().zip(block) {
                    *value = sum;
                    sum += d as u64;
                }
            }
        });
        let mut sum = 0u64;
        for (i, &d) in slots.iter().enumerate() {
            assert_eq!(column.get(i), Some(sum));
            sum += d as u64;
        }
    }
}
