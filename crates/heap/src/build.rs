//! Building the model: one parallel pass numbers the objects and collects classes and roots,
//! a second resolves every reference to an object index.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

use dumpscan_hprof::{ClassInfo, ClassTable, Dump, GcRoot, Metadata, Result, SubRecord, Summary};
use rayon::iter::Either;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::graph::Csr;
use crate::index::{IdColumn, IdIndex};
use crate::layout::Layout;
use crate::offsets::Offsets;
use crate::pages;
use crate::reach::Reach;
use crate::roots::Root;
use crate::types::TypeColumn;
use crate::{ClassFacts, ClassIndex, Heap, ObjectIndex, TYPE_CLASS_OBJECT, TYPE_PRIMITIVE_BASE, TYPE_UNKNOWN};

/// What the first pass learns about the objects of one unit, column by column: 10 bytes an
/// object, since this is the peak of the build.
#[derive(Default)]
struct FirstPass {
    ids: UnitIds,
    /// File offsets, from `base` (a unit lies within one record, under 4 GiB).
    base: u64,
    offsets: Vec<u32>,
    /// A type marker (primitive array, class object), or an index into `local_classes`
    /// until the classes of the whole dump are known.
    types: TypeColumn,
    local_classes: Vec<u64>,
    local_index: FxHashMap<u64, u32>,
    /// The dump's class index of each of `local_classes`, once known.
    global_classes: Vec<u32>,
    classes: Vec<ClassInfo>,
    roots: Vec<GcRoot>,
}

/// Copies a vector into one of its exact length when it grew much past it: a unit's columns
/// double as they grow, and all units' columns are alive at once at the end of a pass.
pub(crate) fn trim<T: Copy>(column: &mut Vec<T>) {
    if column.capacity() > column.len() + column.len() / 8 {
        *column = column.as_slice().to_vec();
    }
}

impl FirstPass {
    fn trim(&mut self) {
        self.ids.trim();
        trim(&mut self.offsets);
        self.types.trim();
    }

    /// The dump's type code of object `i`.
    #[inline]
    fn type_code(&self, i: usize) -> u32 {
        match self.types.get(i) {
            local if local < TYPE_PRIMITIVE_BASE => self.global_classes[local as usize],
            marker => marker,
        }
    }

    fn push(&mut self, id: u64, offset: u64, class_id: u64, marker: u32) {
        if self.ids.len() == 0 {
            self.base = offset;
        }
        let ty = if marker != 0 {
            marker
        } else {
            *self.local_index.entry(class_id).or_insert_with(|| {
                self.local_classes.push(class_id);
                self.local_classes.len() as u32 - 1
            })
        };
        self.ids.push(id);
        self.offsets.push((offset - self.base) as u32);
        self.types.push(ty);
    }
}

/// The ids of one unit's objects: 4-byte distances, in 8-byte steps, from the unit's first
/// id while they allow it (HotSpot's ids are 8-aligned addresses, a unit's close together),
/// full ids once one does not.
enum UnitIds {
    Near { first: u64, steps: Vec<i32> },
    Far(Vec<u64>),
}

impl Default for UnitIds {
    fn default() -> Self {
        UnitIds::Near { first: 0, steps: Vec::new() }
    }
}

impl UnitIds {
    fn len(&self) -> usize {
        match self {
            UnitIds::Near { steps, .. } => steps.len(),
            UnitIds::Far(ids) => ids.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u64 {
        match self {
            UnitIds::Near { first, steps } => Self::at(*first, steps[i]),
            UnitIds::Far(ids) => ids[i],
        }
    }

    #[inline]
    fn at(first: u64, step: i32) -> u64 {
        first.wrapping_add_signed((step as i64) << 3)
    }

    fn push(&mut self, id: u64) {
        match self {
            UnitIds::Near { first, steps } => {
                if steps.is_empty() {
                    *first = id;
                }
                let distance = id.wrapping_sub(*first) as i64;
                match i32::try_from(distance >> 3) {
                    Ok(step) if distance & 7 == 0 => steps.push(step),
                    _ => {
                        let mut ids: Vec<u64> = (0..steps.len()).map(|i| self.get(i)).collect();
                        ids.push(id);
                        *self = UnitIds::Far(ids);
                    }
                }
            }
            UnitIds::Far(ids) => ids.push(id),
        }
    }

    fn trim(&mut self) {
        match self {
            UnitIds::Near { steps, .. } => trim(steps),
            UnitIds::Far(ids) => trim(ids),
        }
    }

    /// The ids of objects `range`.
    fn iter(&self, range: Range<usize>) -> impl Iterator<Item = u64> + '_ {
        match self {
            UnitIds::Near { first, steps } => Either::Left(steps[range].iter().map(|&step| Self::at(*first, step))),
            UnitIds::Far(ids) => Either::Right(ids[range].iter().copied()),
        }
    }

    /// Frees the ids, handing their pages straight back (see [`pages::release`]).
    fn release(&mut self) {
        match std::mem::take(self) {
            UnitIds::Near { steps, .. } => pages::release(steps),
            UnitIds::Far(ids) => pages::release(ids),
        }
    }

    /// The first position in `from..end`, an ascending run, whose id is at least `id`.
    fn first_at_least(&self, from: usize, end: usize, id: u64) -> usize {
        from + match self {
            UnitIds::Near { first, steps } => steps[from..end].partition_point(|&s| Self::at(*first, s) < id),
            UnitIds::Far(ids) => ids[from..end].partition_point(|&x| x < id),
        }
    }
}

/// A reference count this large or larger is kept apart from the 1-byte degrees.
const DEGREE_ESCAPE: u8 = u8::MAX;

#[derive(Default)]
struct SecondPass<'p> {
    /// Where this unit's objects are in the dump's order, as `(start, end, position)`: its
    /// objects `start..end` are objects `position..` (see [`Columns::places`]).
    places: &'p [(usize, usize, u32)],
    /// How many of the unit's objects were met.
    met: usize,
    /// The objects read, in record order, as runs of consecutive indices `(first, count)`:
    /// a HotSpot segment lists objects in address order, so a unit is a few runs and not a
    /// word an object. Their reference counts go straight into the shared degree array.
    runs: Vec<(u32, u32)>,
    /// The targets of the objects of `runs`, in that order.
    targets: Vec<ObjectIndex>,
    /// Objects with [`DEGREE_ESCAPE`] references or more, and their count.
    large_degrees: Vec<(u32, u32)>,
    referents: Vec<(ObjectIndex, ObjectIndex, Reach)>,
}

impl SecondPass<'_> {
    /// The index of the unit's next object, from its place.
    fn next_object(&mut self) -> Option<u32> {
        let i = self.met;
        self.met += 1;
        while let Some(&(start, end, position)) = self.places.first() {
            if i < end {
                return (i >= start).then(|| position + (i - start) as u32);
            }
            self.places = &self.places[1..];
        }
        None
    }

    fn read(&mut self, source: u32) {
        match self.runs.last_mut() {
            Some((first, count)) if *first + *count == source => *count += 1,
            _ => self.runs.push((source, 1)),
        }
    }
}

/// How a class's instances refer to their referent, if it is a `java.lang.ref.Reference`.
fn referent_slot(classes: &ClassTable, class_id: u64, layout: &Layout) -> Option<(u32, Reach)> {
    let reference = classes.by_name("java.lang.ref.Reference")?;
    if !classes.is_subclass_of(class_id, "java.lang.ref.Reference") {
        return None;
    }
    let strength = classes
        .ancestry(class_id)
        .find_map(|c| match c.name.as_str() {
            "java.lang.ref.SoftReference" => Some(Reach::Soft),
            "java.lang.ref.WeakReference" => Some(Reach::Weak),
            "java.lang.ref.FinalReference" => Some(Reach::Final),
            "java.lang.ref.PhantomReference" => Some(Reach::Phantom),
            _ => None,
        })
        .unwrap_or(Reach::Weak);
    let field = layout.references.iter().find(|f| f.declaring_class == reference.id && &*f.name == "referent")?;
    Some((field.offset, strength))
}

pub(crate) fn build<'a>(dump: &'a Dump, log: &dyn Fn(&str)) -> Result<Heap<'a>> {
    let meta = Metadata::read(dump)?;
    let plan = meta.heap_plan();
    let id_size = dump.id_size();

    let (mut units, truncation) = plan.map_units_then(
        id_size,
        |_| FirstPass::default(),
        |u, offset, sub| match sub {
            SubRecord::Instance(i) => u.push(i.id, offset, i.class_id, 0),
            SubRecord::ObjectArray(a) => u.push(a.id, offset, a.class_id, 0),
            SubRecord::PrimitiveArray(a) => u.push(a.id, offset, 0, TYPE_PRIMITIVE_BASE + a.element_type as u32),
            SubRecord::Class(c) => {
                u.classes.push(ClassInfo::from_dump(&c, &meta));
                u.push(c.id, offset, 0, TYPE_CLASS_OBJECT)
            }
            SubRecord::Root(r) => u.roots.push(r),
            SubRecord::HeapDumpInfo { .. } => {}
        },
        FirstPass::trim,
    )?;

    let mut classes = ClassTable::default();
    let mut raw_roots = Vec::new();
    for unit in &mut units {
        std::mem::take(&mut unit.classes).into_iter().for_each(|c| classes.insert(c));
        raw_roots.append(&mut unit.roots);
    }
    classes.cut_cycles();
    let mut class_ids: Vec<u64> = classes.iter().map(|c| c.id).collect();
    class_ids.sort_unstable();
    let class_index: FxHashMap<u64, ClassIndex> =
        class_ids.iter().enumerate().map(|(i, &id)| (id, ClassIndex::new(i as u32))).collect();

    // Each unit's local class indices, mapped to the dump's class indices.
    units.par_iter_mut().for_each(|u| {
        u.global_classes =
            u.local_classes.iter().map(|c| class_index.get(c).map_or(TYPE_UNKNOWN, |class| class.get())).collect();
        u.local_index = FxHashMap::default();
    });
    let Columns { ids, offsets, types, places } = Columns::gather(units, class_ids.len());
    log(&format!("indexed {} objects of {} classes", ids.len(), class_ids.len()));

    let layouts: Vec<Layout> = class_ids.par_iter().map(|&id| Layout::of(&classes, id, id_size)).collect();
    let referent_slots: Vec<Option<(u32, Reach)>> =
        class_ids.iter().zip(&layouts).map(|(&id, l)| referent_slot(&classes, id, l)).collect();

    // The id column is kept until the references are resolved, so `id_at` is not asked.
    let id_at = |object: u32| crate::record_id(dump, offsets.get(object));
    let resolve = |id: u64| if id == 0 { None } else { ids.index_of(id, id_at).map(ObjectIndex::new) };
    // Written during the pass, each object by the one unit holding it, in a byte (larger
    // counts apart); the CSR's starts are made from them.
    let degrees: Vec<AtomicU8> = (0..Csr::degree_slots(types.len())).map(|_| AtomicU8::new(0)).collect();
    let (edges, _) = plan.map_units_then(
        id_size,
        |unit| SecondPass { places: places.as_ref().map_or(&[][..], |p| &p[unit]), ..Default::default() },
        |p, offset, sub| {
            let Some(id) = sub.object_id() else { return };
            let source = match places {
                Some(_) => p.next_object(),
                None => ids.index_of(id, id_at).filter(|&s| offsets.get(s) == offset), // else a duplicate dropped
            };
            let Some(source) = source else { return };
            p.read(source);
            let before = p.targets.len();
            match sub {
                SubRecord::Instance(i) => {
                    let class = types.get(source as usize);
                    let (Some(layout), Some(slot)) = (layouts.get(class as usize), referent_slots.get(class as usize))
                    else {
                        return;
                    };
                    for field in &layout.references {
                        let at = field.offset as usize;
                        let Some(bytes) = i.fields.get(at..at + id_size.bytes()) else { continue };
                        let value = id_size.read(bytes);
                        let Some(target) = resolve(value) else { continue };
                        match slot {
                            Some((referent_at, strength)) if *referent_at as usize == at => {
                                p.referents.push((ObjectIndex::new(source), target, *strength))
                            }
                            _ => p.targets.push(target),
                        }
                    }
                }
                SubRecord::ObjectArray(a) => p.targets.extend(a.elements.iter().filter_map(resolve)),
                SubRecord::Class(c) => {
                    let statics = c.statics.iter().filter_map(|(_, v)| v.as_object());
                    p.targets.extend([c.super_id, c.loader_id].into_iter().chain(statics).filter_map(resolve));
                }
                _ => {}
            }
            let count = (p.targets.len() - before) as u32;
            if count > 0 {
                let small = u8::try_from(count).unwrap_or(DEGREE_ESCAPE);
                degrees[source as usize].store(small, Ordering::Relaxed);
                if small == DEGREE_ESCAPE {
                    p.large_degrees.push((source, count));
                }
            }
        },
        |p| trim(&mut p.targets),
    )?;

    let large: FxHashMap<u32, u32> = edges.iter().flat_map(|u| u.large_degrees.iter().copied()).collect();
    let total: usize = edges.iter().map(|u| u.targets.len()).sum();
    let degrees: Vec<u8> = degrees.into_iter().map(AtomicU8::into_inner).collect();
    let large = |i: usize| large.get(&(i as u32)).copied().unwrap_or(0);
    let mut graph = Csr::with_degrees(degrees, types.len(), large, total);
    // Each run as (its span among the graph's targets, its unit, where it starts among the
    // unit's targets): a run's objects are consecutive in both, so its targets go in one copy.
    let mut spans: Vec<(Range<usize>, usize, usize)> = Vec::new();
    for (u, unit) in edges.iter().enumerate() {
        let mut from = 0;
        for &(first, count) in &unit.runs {
            let span = graph.run_span(first, count);
            let len = span.len();
            spans.push((span, u, from));
            from += len;
        }
    }
    spans.sort_unstable_by_key(|(span, _, _)| span.start);
    let mut pieces: Vec<Vec<(&mut [ObjectIndex], usize)>> = edges.iter().map(|_| Vec::new()).collect();
    let (mut rest, mut end) = (graph.targets_mut(), 0);
    for (span, u, from) in spans {
        let Some(gap) = span.start.checked_sub(end) else { continue };
        let Some((_, ahead)) = std::mem::take(&mut rest).split_at_mut_checked(gap) else { break };
        let Some((piece, tail)) = ahead.split_at_mut_checked(span.len()) else { break };
        pieces[u].push((piece, from));
        (rest, end) = (tail, span.end);
    }
    // The units copied in parallel, each freed once copied: the final array's pages are
    // touched only as they are written.
    let referents: Vec<(ObjectIndex, ObjectIndex, Reach)> = edges
        .into_par_iter()
        .zip(pieces)
        .flat_map_iter(|(mut unit, pieces)| {
            for (piece, from) in pieces {
                if let Some(targets) = unit.targets.get(from..from + piece.len()) {
                    piece.copy_from_slice(targets);
                }
            }
            // Handed back now: left to the allocator, freed units linger while the final
            // array's pages are faulted in (the report's peak, a run in three).
            pages::release(std::mem::take(&mut unit.targets));
            unit.referents
        })
        .collect();
    log(&format!("resolved {} references", graph.edge_count()));

    let roots: Vec<Root> =
        raw_roots.iter().filter_map(|r| Some(Root { object: resolve(r.object_id)?, kind: r.kind })).collect();

    // The same size model as the histogram, so the two always agree.
    let span = (!ids.is_empty()).then(|| (ids.id(0, id_at), ids.id(ids.len() as u32 - 1, id_at)));
    let mut ids = ids;
    ids.drop_column();
    let size_model = Summary::size_model_for(id_size, span, None);
    let facts = class_ids
        .par_iter()
        .map(|&id| {
            let info = classes.get(id);
            ClassFacts {
                instance_size: classes.instance_size(id, &size_model),
                mirror_size: info.map_or(size_model.object_header, |c| classes.mirror_size(c, &size_model)),
                is_array: info.is_some_and(|c| c.name.ends_with("[]")),
            }
        })
        .collect();
    let truncation = meta.truncation.or(truncation);
    let heap = Heap {
        meta,
        classes,
        class_ids,
        class_index,
        layouts,
        facts,
        ids,
        offsets,
        types,
        graph,
        referents,
        roots,
        size_model,
        truncation,
        reach: Default::default(),
        partial: Default::default(),
        levels: Default::default(),
        toward: Default::default(),
    };
    Ok(heap)
}

/// All objects in address order, column by column.
struct Columns {
    ids: IdIndex,
    offsets: Offsets,
    types: TypeColumn,
    /// Each unit's objects' places in the order of the columns, as `(start, end, position)`
    /// by unit: its objects `start..end` are objects `position..`, so that a second pass over
    /// the units numbers its objects without looking their ids up. `None` when the columns
    /// were sorted by id (some objects may then have been dropped as duplicates).
    places: Option<Vec<Vec<(usize, usize, u32)>>>,
}

impl Columns {
    /// Concatenates the objects in address order. HotSpot dumps each heap space in ascending
    /// addresses, after the class objects, so the dump is a few long ascending runs plus many
    /// short ones: the long runs that do not overlap form the backbone, and the objects of the
    /// other runs are sorted and merged into it. Only a dump with no such order is fully sorted.
    fn gather(units: Vec<FirstPass>, classes: usize) -> Columns {
        // (unit, start, end) of each ascending run.
        let mut runs: Vec<(usize, usize, usize)> = units
            .par_iter()
            .enumerate()
            .flat_map_iter(|(u, unit)| {
                let mut runs = Vec::new();
                let mut start = 0;
                for i in 1..=unit.ids.len() {
                    if i == unit.ids.len() || unit.ids.get(i) <= unit.ids.get(i - 1) {
                        runs.push((u, start, i));
                        start = i;
                    }
                }
                runs
            })
            .collect();
        runs.retain(|&(_, start, end)| end > start);
        // Longest runs claim their address range first.
        runs.sort_by_key(|&(_, start, end)| std::cmp::Reverse(end - start));
        let first = |&(u, start, _): &(usize, usize, usize)| units[u].ids.get(start);
        let last = |&(u, _, end): &(usize, usize, usize)| units[u].ids.get(end - 1);
        let mut backbone: std::collections::BTreeMap<u64, (usize, usize, usize)> = Default::default();
        let mut misfits: Vec<(u64, usize, usize)> = Vec::new();
        for run in runs {
            let below = backbone.range(..=first(&run)).next_back().map(|(_, r)| last(r) >= first(&run));
            let above = backbone.range(first(&run)..).next().is_some_and(|(&lo, _)| lo <= last(&run));
            if below == Some(true) || above {
                misfits.extend((run.1..run.2).map(|i| (units[run.0].ids.get(i), run.0, i)));
            } else {
                backbone.insert(first(&run), run);
            }
        }
        misfits.par_sort_unstable();
        // The final order as (unit, start, end) segments, then each column filled in parallel.
        let mut segments: Vec<(usize, usize, usize)> = Vec::with_capacity(backbone.len() + misfits.len());
        let mut pending = misfits.iter().peekable();
        for &(u, start, end) in backbone.values() {
            let ids = &units[u].ids;
            let mut from = start;
            while from < end {
                // Up to the next misfit that belongs inside this run.
                let until = match pending.peek() {
                    Some(&&(id, _, _)) if id < ids.get(end - 1) => ids.first_at_least(from, end, id),
                    _ => end,
                };
                if until > from {
                    segments.push((u, from, until));
                }
                from = until;
                if from < end {
                    if let Some(&(_, mu, mi)) = pending.next() {
                        segments.push((mu, mi, mi + 1));
                    }
                }
            }
            // Misfits that fall before the next run.
            let next_run = backbone.range(ids.get(end - 1) + 1..).next().map(|(&lo, _)| lo);
            while let Some(&&(id, mu, mi)) = pending.peek() {
                if next_run.is_some_and(|lo| id > lo) {
                    break;
                }
                segments.push((mu, mi, mi + 1));
                pending.next();
            }
        }
        segments.extend(pending.map(|&(_, mu, mi)| (mu, mi, mi + 1)));
        // Column by column, each written in its final compact form, and the units' copies of
        // it freed before the next: the units and the final columns are never whole together.
        let mut units = units;
        let units_count = units.len();
        let ids = gather_ids(&units, &segments);
        if let Gathered::Column(column) = &ids {
            if !column.is_strictly_ascending() {
                // A dump with no such order, or a corrupt one that dumps an id twice.
                return Columns::sorted(units, &segments, classes);
            }
        }
        units.iter_mut().for_each(|u| u.ids.release());
        let offsets = gather_offsets(&units, &segments);
        units.iter_mut().for_each(|u| pages::release(std::mem::take(&mut u.offsets)));
        let types = if TypeColumn::fits_narrow(classes) {
            TypeColumn::Narrow(fill_each(&units, &segments, |u, i| TypeColumn::narrow(u.type_code(i))))
        } else {
            TypeColumn::Wide(fill_each(&units, &segments, |u, i| u.type_code(i)))
        };
        drop(units);
        let ids = match ids {
            Gathered::Index(index) => index,
            Gathered::Column(column) => IdIndex::from_column(column),
        };
        let mut places = vec![Vec::new(); units_count];
        for (&(u, start, end), position) in segments.iter().zip(first_positions(&segments)) {
            places[u].push((start, end, position as u32));
        }
        places.iter_mut().for_each(|p| p.sort_unstable());
        Columns { ids, offsets, types, places: Some(places) }
    }

    /// Every object sorted by id, the first of any id dumped twice standing.
    fn sorted(units: Vec<FirstPass>, segments: &[(usize, usize, usize)], classes: usize) -> Columns {
        let ids = match gather_column(&units, segments) {
            Some(column) => column,
            None => IdColumn::Wide(fill_each(&units, segments, |u, i| u.ids.get(i))),
        };
        let offsets: Vec<u64> = fill_each(&units, segments, |u, i| u.base + u.offsets[i] as u64);
        let types = TypeColumn::Wide(fill_each(&units, segments, |u, i| u.type_code(i)));
        drop(units);
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        order.par_sort_by_key(|&i| (ids.get(i as usize), i));
        order.dedup_by_key(|i| ids.get(*i as usize));
        let offsets: Vec<u64> = order.par_iter().map(|&i| offsets[i as usize]).collect();
        let types = match types.permute(&order) {
            TypeColumn::Wide(codes) if TypeColumn::fits_narrow(classes) => {
                TypeColumn::Narrow(codes.into_iter().map(TypeColumn::narrow).collect())
            }
            types => types,
        };
        Columns { ids: IdIndex::from_column(ids.permute(&order)), offsets: Offsets::new(&offsets), types, places: None }
    }
}

/// The gathered ids: an index that keeps each in a byte, or a column to index (or sort).
enum Gathered {
    Index(IdIndex),
    Column(IdColumn),
}

/// Object ids in gathered order, in a byte each within their region of the index when they
/// are ascending and allow it (HotSpot's do), else in a column: 4-byte slots above the
/// smallest id when they fit, 8 bytes otherwise.
fn gather_ids(units: &[FirstPass], segments: &[(usize, usize, usize)]) -> Gathered {
    let n = segments.iter().map(|&(_, start, end)| end - start).sum();
    let id_at = |&(u, start, _): &(usize, usize, usize)| units[u].ids.get(start);
    let last_id_at = |&(u, _, end): &(usize, usize, usize)| units[u].ids.get(end - 1);
    // Ascending strictly through the segments, each id 8-aligned above the first.
    let residue = segments.first().map_or(0, |s| id_at(s) & 7);
    let ascending = segments.par_iter().enumerate().all(|(k, &(u, start, end))| {
        let mut previous = k.checked_sub(1).map(|p| last_id_at(&segments[p]));
        units[u].ids.iter(start..end).all(|id| {
            let in_order = id & 7 == residue && previous.is_none_or(|p| p < id);
            previous = Some(id);
            in_order
        })
    });
    if let (true, Some(first), Some(last)) = (ascending, segments.first(), segments.last()) {
        let placed = Placed::new(units, segments);
        let ids_in = |range| placed.pieces(range).flat_map(|(u, range)| u.ids.iter(range));
        let slots = |slot: &(dyn Fn(u64) -> u8 + Sync)| {
            fill(units, segments, |u, range, column| {
                column.iter_mut().zip(u.ids.iter(range)).for_each(|(s, id)| *s = slot(id))
            })
        };
        if let Some(index) = IdIndex::in_regions(id_at(first), last_id_at(last), n, &ids_in, slots) {
            return Gathered::Index(index);
        }
    }
    Gathered::Column(
        gather_column(units, segments)
            .unwrap_or_else(|| IdColumn::Wide(fill_each(units, segments, |u, i| u.ids.get(i)))),
    )
}

/// The smallest and largest id, and whether every id is 8-aligned above the smallest.
fn id_bounds(units: &[FirstPass]) -> (u64, u64, bool) {
    let bounds = |u: &FirstPass| {
        (0..u.ids.len()).fold((u64::MAX, 0u64), |(lo, hi), i| (lo.min(u.ids.get(i)), hi.max(u.ids.get(i))))
    };
    let (base, top) = units.par_iter().map(bounds).reduce(|| (u64::MAX, 0), |(a, b), (c, d)| (a.min(c), b.max(d)));
    let base = base.min(top);
    let aligned = units.par_iter().all(|u| (0..u.ids.len()).all(|i| (u.ids.get(i) - base) & 7 == 0));
    (base, top, aligned)
}

/// The ids in 4-byte slots above the smallest, when they fit.
fn gather_column(units: &[FirstPass], segments: &[(usize, usize, usize)]) -> Option<IdColumn> {
    let (base, top, aligned) = id_bounds(units);
    IdColumn::fits_compact(base, top, aligned).then(|| IdColumn::Compact {
        base,
        slots: fill(units, segments, |u, range, column| {
            column.iter_mut().zip(u.ids.iter(range)).for_each(|(s, id)| *s = ((id - base) >> 3) as u32)
        }),
    })
}

/// File offsets in gathered order, straight into blocks (see [`Offsets`]).
fn gather_offsets(units: &[FirstPass], segments: &[(usize, usize, usize)]) -> Offsets {
    let placed = Placed::new(units, segments);
    Offsets::build(placed.len(), &|range| {
        placed.pieces(range).flat_map(|(u, range)| u.offsets[range].iter().map(|&offset| u.base + offset as u64))
    })
}

/// Each segment's first position in gathered order.
fn first_positions(segments: &[(usize, usize, usize)]) -> impl Iterator<Item = usize> + '_ {
    segments.iter().scan(0, |at, &(_, start, end)| {
        let first = *at;
        *at += end - start;
        Some(first)
    })
}

/// The units' objects placed in gathered order, segment by segment: the objects at any range
/// of positions, for the columns built a chunk of positions at a time.
struct Placed<'u> {
    units: &'u [FirstPass],
    segments: &'u [(usize, usize, usize)],
    /// Each segment's first position.
    starts: Vec<usize>,
}

impl<'u> Placed<'u> {
    fn new(units: &'u [FirstPass], segments: &'u [(usize, usize, usize)]) -> Placed<'u> {
        Placed { units, segments, starts: first_positions(segments).collect() }
    }

    fn len(&self) -> usize {
        self.segments.last().zip(self.starts.last()).map_or(0, |(&(_, start, end), &at)| at + end - start)
    }

    /// The objects at `positions`, in order, as ranges of their units' objects.
    fn pieces(&self, positions: Range<usize>) -> impl Iterator<Item = (&'u FirstPass, Range<usize>)> + '_ {
        let first = self.starts.partition_point(|&at| at <= positions.start).saturating_sub(1);
        self.segments[first..].iter().zip(&self.starts[first..]).take_while(move |&(_, &at)| at < positions.end).map(
            move |(&(u, start, end), &at)| {
                let from = start + positions.start.saturating_sub(at);
                let to = start + (positions.end - at).min(end - start);
                (&self.units[u], from..to)
            },
        )
    }
}

/// One column of the objects, gathered from the units segment by segment in parallel;
/// `write(unit, range, column)` writes the unit's objects `range` into their place in the column.
fn fill<T: Copy + Default + Send + Sync>(
    units: &[FirstPass],
    segments: &[(usize, usize, usize)],
    write: impl Fn(&FirstPass, Range<usize>, &mut [T]) + Sync,
) -> Vec<T> {
    let n = segments.iter().map(|&(_, start, end)| end - start).sum();
    let mut out = vec![T::default(); n];
    let mut pieces = Vec::with_capacity(segments.len());
    let mut rest = &mut out[..];
    for &segment in segments {
        let (head, tail) = rest.split_at_mut(segment.2 - segment.1);
        pieces.push((head, segment));
        rest = tail;
    }
    pieces.into_par_iter().for_each(|(column, (u, start, end))| write(&units[u], start..end, column));
    out
}

/// [`fill`] an object at a time: `value(unit, i)` reads object `i` of a unit.
fn fill_each<T: Copy + Default + Send + Sync>(
    units: &[FirstPass],
    segments: &[(usize, usize, usize)],
    value: impl Fn(&FirstPass, usize) -> T + Sync,
) -> Vec<T> {
    fill(units, segments, |u, range, column| column.iter_mut().zip(range).for_each(|(slot, i)| *slot = value(u, i)))
}
