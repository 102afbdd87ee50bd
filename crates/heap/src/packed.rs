//! Arrays a phase does not read but must hand on to the next, kept meanwhile as varints of
//! each value's difference from a guess: the dominator search's objects in depth-first order
//! and their parents take about a byte each this way instead of four.

use integer_encoding::VarInt;
use rayon::prelude::*;

/// Values per chunk; chunks are packed and unpacked independently, in parallel.
const CHUNK: usize = 1 << 16;

/// What each value is guessed to be; only its difference from the guess is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guess {
    /// The value before it (objects in depth-first order are often neighbours in the dump).
    Previous,
    /// Its own position (a vertex's depth-first parent is often the vertex just before it).
    Position,
}

/// A packed `[u32]`, or of numbers kept as `u32` (object indices).
pub(crate) struct Packed {
    guess: Guess,
    len: usize,
    chunks: Vec<Vec<u8>>,
}

impl Packed {
    pub(crate) fn new<T: Copy + Sync + Into<u32>>(values: &[T], guess: Guess) -> Packed {
        let chunks = values
            .par_chunks(CHUNK)
            .enumerate()
            .map_init(Vec::new, |scratch, (k, chunk)| {
                scratch.clear();
                let mut guessed = Guesses::new(guess, k * CHUNK);
                let mut varint = [0u8; 10];
                for &value in chunk {
                    let value: u32 = value.into();
                    let used = (value as i64 - guessed.next()).encode_var(&mut varint);
                    scratch.extend_from_slice(&varint[..used]);
                    guessed.saw(value);
                }
                // Kept in a block of its own size, the scratch's room reused by the next chunk.
                scratch.to_vec()
            })
            .collect();
        Packed { guess, len: values.len(), chunks }
    }

    /// Appends the values to `out` (which may have room reserved for more after them).
    pub(crate) fn unpack_into<T: Send + From<u32>>(&self, out: &mut Vec<T>) {
        let start = out.len();
        out.par_extend((0..self.len).into_par_iter().map(|_| T::from(0)));
        out[start..].par_chunks_mut(CHUNK).zip(&self.chunks).enumerate().for_each(|(k, (values, chunk))| {
            let mut bytes = chunk.as_slice();
            let mut guessed = Guesses::new(self.guess, k * CHUNK);
            for value in values {
                let Some((difference, used)) = i64::decode_var(bytes) else { break };
                let number = (guessed.next() + difference) as u32;
                guessed.saw(number);
                *value = T::from(number);
                bytes = &bytes[used..];
            }
        });
    }
}

/// The guesses along one chunk.
struct Guesses {
    guess: Guess,
    position: usize,
    previous: u32,
}

impl Guesses {
    fn new(guess: Guess, position: usize) -> Guesses {
        Guesses { guess, position, previous: 0 }
    }

    fn next(&self) -> i64 {
        match self.guess {
            Guess::Previous => self.previous as i64,
            Guess::Position => self.position as i64,
        }
    }

    fn saw(&mut self, value: u32) {
        self.previous = value;
        self.position += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(packed: &Packed) -> usize {
        packed.chunks.iter().map(Vec::len).sum()
    }

    #[test]
    fn unpacks_what_was_packed_after_what_is_there() {
        // Past one chunk, with jumps both ways, the extremes, and values equal to their guess.
        let values: Vec<u32> = (0..3 * CHUNK as u32 + 17)
            .map(|i| match i % 7 {
                0 => i,
                1 => u32::MAX,
                2 => 0,
                3 => i.wrapping_mul(2_654_435_761),
                _ => i / 3,
            })
            .collect();
        for guess in [Guess::Previous, Guess::Position] {
            let packed = Packed::new(&values, guess);
            let mut out = vec![7, 8];
            packed.unpack_into(&mut out);
            assert_eq!(out[..2], [7, 8]);
            assert_eq!(out[2..], values[..]);
        }
    }

    #[test]
    fn close_values_take_a_byte() {
        // A byte each, but for each chunk's first value, guessed from nothing.
        let about_a_byte_each = |len: usize| len + len.div_ceil(CHUNK) * 5;
        let preorder: Vec<u32> = (0..100_000).map(|i| 5_000_000 + i * 3).collect();
        assert!(bytes(&Packed::new(&preorder, Guess::Previous)) <= about_a_byte_each(preorder.len()));
        let parents: Vec<u32> = (0..100_000u32).map(|w| w.saturating_sub(1 + w % 5)).collect();
        assert!(bytes(&Packed::new(&parents, Guess::Position)) <= about_a_byte_each(parents.len()));
        let mut out: Vec<u32> = Vec::new();
        Packed::new::<u32>(&[], Guess::Previous).unpack_into(&mut out);
        assert!(out.is_empty());
    }
}
