//! Dense object numbering: every object gets a `u32` index in address order, and an id maps
//! to its index through a table of address regions, not a per-object hash map. Once the
//! references are resolved, the ids themselves need not stay in memory: each object's record
//! in the dump starts with it.

use std::ops::Range;

use rayon::prelude::*;

/// Positions a task takes when a column of all the objects is built in parallel (a multiple
/// of the blocked columns' block); tests take small chunks, so that their few objects span several.
pub(crate) const CHUNK: usize = if cfg!(test) { 1 << 6 } else { 1 << 16 };

/// Object ids in ascending order, stored compactly when they allow it.
#[derive(Debug)]
pub(crate) enum IdColumn {
    /// `base + value * 8`: HotSpot ids are 8-aligned addresses, and a heap under 32 GiB
    /// spans fewer than 2^32 such slots.
    Compact {
        base: u64,
        slots: Vec<u32>,
    },
    Wide(Vec<u64>),
}

/// The ids an [`IdIndex`] keeps while references are resolved.
#[derive(Debug)]
enum Kept {
    /// Each id's 8-byte slot within its region, in a byte: the region itself is known from
    /// the region table. HotSpot's ids allow it whenever a region spans at most 2 KiB.
    InRegion(Vec<u8>),
    Column(IdColumn),
}

/// The largest region that keeps an id's slot within it in a byte: 256 slots of 8 bytes.
const IN_REGION_SHIFT: u32 = 11;

/// Maps object ids to dense indices and back.
#[derive(Debug)]
pub(crate) struct IdIndex {
    /// `None` once dropped: each id is then read back from its object's record.
    ids: Option<Kept>,
    len: usize,
    /// For each region of `1 << region_shift` bytes of address space, the index of its first
    /// object: a lookup searches only the objects of one region.
    regions: Vec<u32>,
    region_shift: u32,
    base: u64,
}

impl IdColumn {
    /// The 4-byte form when every id is `base` plus a multiple of 8 within 32 GiB of it.
    pub(crate) fn fits_compact(base: u64, top: u64, all_aligned: bool) -> bool {
        all_aligned && (top - base) >> 3 < u32::MAX as u64
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            IdColumn::Compact { slots, .. } => slots.len(),
            IdColumn::Wide(ids) => ids.len(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        match self {
            IdColumn::Compact { base, slots } => base + ((slots[i] as u64) << 3),
            IdColumn::Wide(ids) => ids[i],
        }
    }

    pub(crate) fn is_strictly_ascending(&self) -> bool {
        match self {
            IdColumn::Compact { slots, .. } => slots.windows(2).all(|w| w[0] < w[1]),
            IdColumn::Wide(ids) => ids.windows(2).all(|w| w[0] < w[1]),
        }
    }

    /// The ids in `order`.
    pub(crate) fn permute(&self, order: &[u32]) -> IdColumn {
        match self {
            IdColumn::Compact { base, slots } => {
                IdColumn::Compact { base: *base, slots: order.par_iter().map(|&i| slots[i as usize]).collect() }
            }
            IdColumn::Wide(ids) => IdColumn::Wide(order.par_iter().map(|&i| ids[i as usize]).collect()),
        }
    }
}

impl IdIndex {
    /// Builds the index over ids sorted ascending and distinct.
    #[cfg(test)]
    fn new(sorted: Vec<u64>) -> IdIndex {
        let (base, top) = (sorted.first().copied().unwrap_or(0), sorted.last().copied().unwrap_or(0));
        let aligned = sorted.par_iter().all(|id| (id - base) & 7 == 0);
        let ids = if IdColumn::fits_compact(base, top, aligned) {
            IdColumn::Compact { base, slots: sorted.par_iter().map(|id| ((id - base) >> 3) as u32).collect() }
        } else {
            IdColumn::Wide(sorted)
        };
        IdIndex::from_column(ids)
    }

    /// Builds the index over a column of ids sorted ascending and distinct.
    pub(crate) fn from_column(ids: IdColumn) -> IdIndex {
        let n = ids.len();
        let (base, top) = if n == 0 { (0, 0) } else { (ids.get(0), ids.get(n - 1)) };
        let region_shift = Self::region_shift(base, top, n);
        let regions = Self::regions(base, top, region_shift, n, &|range: Range<usize>| range.map(|i| ids.get(i)))
            .expect("a column is sorted ascending");
        IdIndex { ids: Some(Kept::Column(ids)), len: n, regions, region_shift, base }
    }

    /// Builds the index over `n` ids, strictly ascending and 8-aligned above `base`, up to
    /// `top`, keeping each in a byte: `ids_in(range)` gives the ids at positions `range` in
    /// order, for the region table, and `slots` writes the column, each id through the
    /// function it is given. `None` when a byte cannot hold them without a region table
    /// larger than the ids.
    pub(crate) fn in_regions<I: Iterator<Item = u64>>(
        base: u64,
        top: u64,
        n: usize,
        ids_in: &(impl Fn(Range<usize>) -> I + Sync),
        slots: impl FnOnce(&(dyn Fn(u64) -> u8 + Sync)) -> Vec<u8>,
    ) -> Option<IdIndex> {
        let region_shift = Self::region_shift(base, top, n).clamp(3, IN_REGION_SHIFT);
        // Four bytes a region against the three an object saves.
        if (top - base) >> region_shift > (n as u64 / 4) * 3 {
            return None;
        }
        let regions = Self::regions(base, top, region_shift, n, ids_in)?;
        let within = (1u64 << region_shift) - 1;
        let slots = slots(&|id| (((id - base) & within) >> 3) as u8);
        Some(IdIndex { ids: Some(Kept::InRegion(slots)), len: n, regions, region_shift, base })
    }

    /// About eight objects per region keeps each search inside a cache line or two.
    fn region_shift(base: u64, top: u64, n: usize) -> u32 {
        let per_region = ((top - base) / (n.max(1) as u64 / 8).max(1)).max(1);
        (64 - per_region.leading_zeros()).min(40)
    }

    /// The index of each region's first object, from the ids in ascending order, which
    /// `ids_in(range)` gives for any range of positions. Built in parallel, chunk by chunk
    /// of positions: each chunk writes the regions after its predecessor's last object's
    /// region, up to its own last object's. `None` when the ids are not ascending above `base`.
    fn regions<I: Iterator<Item = u64>>(
        base: u64,
        top: u64,
        shift: u32,
        n: usize,
        ids_in: &(impl Fn(Range<usize>) -> I + Sync),
    ) -> Option<Vec<u32>> {
        let region_count = ((top - base) >> shift) as usize + 2;
        let region = |id: u64| id.checked_sub(base).map(|d| (d >> shift) as usize);
        let chunks = n.div_ceil(CHUNK);
        let chunk = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);
        let last_regions: Vec<usize> = (0..chunks)
            .into_par_iter()
            .map(|c| region(ids_in(chunk(c).end - 1..chunk(c).end).next()?))
            .collect::<Option<_>>()?;
        let mut regions = vec![0u32; region_count];
        let mut pieces = Vec::with_capacity(chunks);
        let mut rest = &mut regions[..];
        let mut from = 0;
        for (c, &last) in last_regions.iter().enumerate() {
            // The last region always stays past every object, for the search's upper bound.
            let to = last.checked_add(1).filter(|&to| to >= from && to < region_count)?;
            let (piece, tail) = rest.split_at_mut(to - from);
            pieces.push((chunk(c), piece, from));
            rest = tail;
            from = to;
        }
        rest.fill(n as u32);
        pieces.into_par_iter().try_for_each(|(positions, piece, first)| {
            let mut next = first;
            for (at, id) in positions.clone().zip(ids_in(positions)) {
                let r = region(id)?;
                while next <= r {
                    *piece.get_mut(next - first)? = at as u32;
                    next += 1;
                }
            }
            Some(())
        })?;
        Some(regions)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frees the ids: from now on they are read back through `id_at`.
    pub(crate) fn drop_column(&mut self) {
        self.ids = None;
    }

    /// The id of object `index`; `id_at` reads it back once the column is dropped.
    #[inline]
    pub(crate) fn id(&self, index: u32, id_at: impl Fn(u32) -> u64) -> u64 {
        match &self.ids {
            Some(Kept::Column(ids)) => ids.get(index as usize),
            Some(Kept::InRegion(slots)) => {
                let region = self.regions.partition_point(|&first| first <= index).saturating_sub(1);
                self.base + ((region as u64) << self.region_shift) + ((slots[index as usize] as u64) << 3)
            }
            None => id_at(index),
        }
    }

    /// The index of the object with this id, if the dump has it; `id_at` as for [`IdIndex::id`].
    #[inline]
    pub(crate) fn index_of(&self, id: u64, id_at: impl Fn(u32) -> u64) -> Option<u32> {
        let offset = id.checked_sub(self.base)?;
        let r = (offset >> self.region_shift) as usize;
        let lo = *self.regions.get(r)? as usize;
        let hi = *self.regions.get(r + 1)? as usize;
        let found = match &self.ids {
            Some(Kept::InRegion(slots)) => {
                if offset & 7 != 0 {
                    return None;
                }
                let within = ((offset & ((1 << self.region_shift) - 1)) >> 3) as u8;
                slots[lo..hi].binary_search(&within)
            }
            Some(Kept::Column(IdColumn::Compact { slots, .. })) => {
                if offset & 7 != 0 || offset >> 3 > u32::MAX as u64 {
                    return None;
                }
                slots[lo..hi].binary_search(&((offset >> 3) as u32))
            }
            Some(Kept::Column(IdColumn::Wide(ids))) => ids[lo..hi].binary_search(&id),
            None => {
                // The first of the region's objects whose id is not below `id`.
                let (mut at, mut end) = (lo, hi);
                while at < end {
                    let mid = at + (end - at) / 2;
                    if id_at(mid as u32) < id {
                        at = mid + 1;
                    } else {
                        end = mid;
                    }
                }
                return (at < hi && id_at(at as u32) == id).then_some(at as u32);
            }
        };
        found.ok().map(|i| (lo + i) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::IdIndex;

    #[test]
    fn maps_ids_both_ways_with_and_without_the_column() {
        let dense: Vec<u64> = (0..5000u64).map(|i| 0x7_0000_0000 + i * 32 + (i % 3) * 8).collect();
        let in_region = |ids: &Vec<u64>| {
            let (base, top) = (ids[0], *ids.last().unwrap());
            IdIndex::in_regions(
                base,
                top,
                ids.len(),
                &|range: std::ops::Range<usize>| ids[range].iter().copied(),
                |slot| ids.iter().map(|&id| slot(id)).collect(),
            )
        };
        assert!(in_region(&dense).is_some_and(|i| matches!(i.ids, Some(super::Kept::InRegion(_)))));
        assert!(in_region(&vec![0x1000, 0x10_0000_0000]).is_none(), "a region table larger than the ids");
        let cases = [vec![0x1000u64, 0x1010, 0x1018, 0x9000, 0x9008], vec![3, 5, 7, 1 << 40], vec![], vec![42], dense];
        for (ids, mut index) in cases
            .iter()
            .map(|ids| (ids.clone(), IdIndex::new(ids.clone())))
            .chain(std::iter::once((cases[4].clone(), in_region(&cases[4]).unwrap())))
        {
            let id_at = |i: u32| ids[i as usize];
            for kept in [true, false] {
                if !kept {
                    index.drop_column();
                }
                for (i, &id) in ids.iter().enumerate() {
                    assert_eq!(index.index_of(id, id_at), Some(i as u32), "kept: {kept}");
                    assert_eq!(index.id(i as u32, id_at), id);
                }
                for missing in [0, 1, 0x1008, 0x1011, 0x8ff8, 0x9010, 0x7_0000_0008, 0x7_0000_0009, u64::MAX] {
                    if !ids.contains(&missing) {
                        assert_eq!(index.index_of(missing, id_at), None, "{missing:#x} in {ids:?}, kept: {kept}");
                    }
                }
            }
        }
    }
}
