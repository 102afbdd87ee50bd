//! The type of every object (a class index or a marker) in 2 bytes when the dump has fewer
//! than about 65,000 classes, as nearly every dump does: 2 bytes an object less in the model.

use rayon::prelude::*;

use crate::TYPE_PRIMITIVE_BASE;

/// How far the markers at the top of `u32` move down to sit at the top of `u16`.
const NARROW_SHIFT: u32 = u32::MAX - u16::MAX as u32;

#[derive(Debug)]
pub(crate) enum TypeColumn {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for TypeColumn {
    fn default() -> Self {
        TypeColumn::Narrow(Vec::new())
    }
}

/// The type code a 2-byte form stands for.
#[inline]
fn widen(code: u16) -> u32 {
    let code = code as u32;
    if code >= TYPE_PRIMITIVE_BASE - NARROW_SHIFT {
        code + NARROW_SHIFT
    } else {
        code
    }
}

impl TypeColumn {
    /// Whether every class index of a dump with `classes` classes stays below the markers.
    pub(crate) fn fits_narrow(classes: usize) -> bool {
        classes <= (TYPE_PRIMITIVE_BASE - NARROW_SHIFT) as usize
    }

    /// The 2-byte form of a type code (of a dump where [`TypeColumn::fits_narrow`] holds).
    #[inline]
    pub(crate) fn narrow(code: u32) -> u16 {
        if code >= TYPE_PRIMITIVE_BASE {
            (code - NARROW_SHIFT) as u16
        } else {
            code as u16
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            TypeColumn::Narrow(codes) => codes.len(),
            TypeColumn::Wide(codes) => codes.len(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            TypeColumn::Narrow(codes) => widen(codes[i]),
            TypeColumn::Wide(codes) => codes[i],
        }
    }

    /// Calls `f(i, code)` for each object `i` of `positions`, in order.
    #[inline]
    pub(crate) fn for_each(&self, positions: std::ops::Range<usize>, mut f: impl FnMut(usize, u32)) {
        let start = positions.start;
        match self {
            TypeColumn::Narrow(codes) => {
                codes[positions].iter().enumerate().for_each(|(k, &code)| f(start + k, widen(code)))
            }
            TypeColumn::Wide(codes) => codes[positions].iter().enumerate().for_each(|(k, &code)| f(start + k, code)),
        }
    }

    /// Appends a code, widening the column when a class index outgrows the 2-byte form.
    pub(crate) fn push(&mut self, code: u32) {
        match self {
            TypeColumn::Narrow(codes) if (TYPE_PRIMITIVE_BASE - NARROW_SHIFT..TYPE_PRIMITIVE_BASE).contains(&code) => {
                let mut wide: Vec<u32> = (0..codes.len()).map(|i| self.get(i)).collect();
                wide.push(code);
                *self = TypeColumn::Wide(wide);
            }
            TypeColumn::Narrow(codes) => codes.push(Self::narrow(code)),
            TypeColumn::Wide(codes) => codes.push(code),
        }
    }

    /// Frees the room a growing column keeps beyond its length.
    pub(crate) fn trim(&mut self) {
        match self {
            TypeColumn::Narrow(codes) => crate::build::trim(codes),
            TypeColumn::Wide(codes) => crate::build::trim(codes),
        }
    }

    /// The types in `order`.
    pub(crate) fn permute(&self, order: &[u32]) -> TypeColumn {
        match self {
            TypeColumn::Narrow(codes) => TypeColumn::Narrow(order.par_iter().map(|&i| codes[i as usize]).collect()),
            TypeColumn::Wide(codes) => TypeColumn::Wide(order.par_iter().map(|&i| codes[i as usize]).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TYPE_CLASS_OBJECT, TYPE_UNKNOWN};

    #[test]
    fn narrow_codes_read_back_as_written() {
        let codes = [0, 1, 65_502, TYPE_PRIMITIVE_BASE, TYPE_PRIMITIVE_BASE + 11, TYPE_UNKNOWN, TYPE_CLASS_OBJECT];
        assert!(TypeColumn::fits_narrow(65_503));
        assert!(!TypeColumn::fits_narrow(65_504));
        let column = TypeColumn::Narrow(codes.iter().map(|&c| TypeColumn::narrow(c)).collect());
        assert_eq!((0..codes.len()).map(|i| column.get(i)).collect::<Vec<_>>(), codes);
    }

    #[test]
    fn a_pushed_column_widens_for_a_large_class_index() {
        let mut column = TypeColumn::Narrow(Vec::new());
        let codes = [7, TYPE_PRIMITIVE_BASE + 3, TYPE_CLASS_OBJECT, 65_502];
        codes.iter().for_each(|&c| column.push(c));
        assert!(matches!(column, TypeColumn::Narrow(_)));
        column.push(70_000);
        assert!(matches!(column, TypeColumn::Wide(_)));
        column.push(TYPE_UNKNOWN);
        let all: Vec<u32> = codes.iter().copied().chain([70_000, TYPE_UNKNOWN]).collect();
        assert_eq!((0..all.len()).map(|i| column.get(i)).collect::<Vec<_>>(), all);
    }
}
