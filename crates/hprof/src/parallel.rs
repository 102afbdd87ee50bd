//! Splitting the heap dump into work units that parse in parallel.
//!
//! HotSpot writes the heap as many HEAP DUMP SEGMENT records: each is a unit. Old-style dumps
//! put the whole heap in one HEAP DUMP record, and sub-records have no framing, so such a body
//! is cut speculatively: at each cut we look for an offset where a run of sub-records parses
//! cleanly and names known classes, start a worker there, and afterwards check that the
//! previous worker stopped exactly at that offset. A wrong guess is re-parsed from the true
//! boundary, so the result never depends on the guess.

use rayon::prelude::*;
use rustc_hash::FxHashSet;

use crate::error::{Error, ErrorKind, Result};
use crate::heap::{tag, SubRecord, SubRecords};
use crate::record::{self, Record};
use crate::types::IdSize;

/// Bodies longer than this are cut into several units.
const SPLIT_ABOVE: usize = 32 << 20;
/// Target length of a unit cut from a long body.
const CUT_EVERY: usize = 8 << 20;
/// How far past a cut point to look for a sub-record boundary.
const SYNC_WINDOW: usize = 4 << 20;
/// How many sub-records in a row must parse for an offset to count as a boundary.
const SYNC_RUN: usize = 24;

/// A stretch of sub-records that one worker parses.
#[derive(Debug, Clone, Copy)]
pub struct HeapUnit<'a> {
    /// The whole body of the record this unit lies in, and where that body starts in the dump.
    record_body: &'a [u8],
    record_body_offset: u64,
    /// Where this unit starts and ends, as offsets into `record_body`.
    start: usize,
    end: usize,
    /// The start was guessed and must be confirmed by the previous unit's end.
    guessed: bool,
    /// The dump was cut inside this unit's record, so the last sub-record may be incomplete.
    truncated: bool,
    record_tag: u8,
}

/// Where a cut-short dump ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Offset of the record the file ends in.
    pub record_offset: u64,
    /// Tag of that record.
    pub record_tag: u8,
    /// Offset just past the last complete record or sub-record: what was read.
    pub complete_until: u64,
}

/// The heap-dump records of a dump, cut into units.
#[derive(Debug, Clone, Default)]
pub struct HeapPlan<'a> {
    units: Vec<HeapUnit<'a>>,
}

impl<'a> HeapPlan<'a> {
    /// Plans the heap-dump records among `records`. `class_ids` (from LOAD CLASS records),
    /// when known, make boundary guesses in long bodies far more reliable.
    pub(crate) fn new(
        records: impl IntoIterator<Item = Record<'a>>,
        id_size: IdSize,
        class_ids: &FxHashSet<u64>,
    ) -> Self {
        let mut units = Vec::new();
        for r in records {
            if r.tag != record::tag::HEAP_DUMP && r.tag != record::tag::HEAP_DUMP_SEGMENT {
                continue;
            }
            let unit = HeapUnit {
                record_body: r.body,
                record_body_offset: r.body_offset(),
                start: 0,
                end: r.body.len(),
                guessed: false,
                truncated: r.truncated,
                record_tag: r.tag,
            };
            if r.body.len() <= SPLIT_ABOVE {
                units.push(unit);
                continue;
            }
            let cuts = guess_boundaries(r.body, id_size, class_ids);
            let starts = std::iter::once(0).chain(cuts.iter().copied());
            let ends = cuts.iter().copied().chain(std::iter::once(r.body.len()));
            units.extend(starts.zip(ends).map(|(start, end)| HeapUnit { start, end, guessed: start != 0, ..unit }));
        }
        HeapPlan { units }
    }

    /// Number of units: the parallelism available.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether the dump has no heap records.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Parses every unit in parallel. `visit` sees each sub-record of a unit, in order, with
    /// its offset in the dump, and builds that unit's result from `init()`; results come back in
    /// dump order. A dump cut short yields what was complete and the [`Truncation`].
    pub fn map_units<A, I, F>(&self, id_size: IdSize, init: I, visit: F) -> Result<(Vec<A>, Option<Truncation>)>
    where
        A: Send,
        I: Fn() -> A + Sync,
        F: Fn(&mut A, u64, SubRecord<'a>) + Sync,
    {
        self.map_units_then(id_size, |_| init(), visit, |_| {})
    }

    /// Like [`HeapPlan::map_units`], calling `finish` on each unit's result as soon as the unit
    /// is parsed: a place to trim what the unit collected while other units are still running.
    /// `init` is told the unit's number: a second pass over the same plan meets the same units,
    /// with the same sub-records, in the same order.
    pub fn map_units_then<A, I, F, G>(
        &self,
        id_size: IdSize,
        init: I,
        visit: F,
        finish: G,
    ) -> Result<(Vec<A>, Option<Truncation>)>
    where
        A: Send,
        I: Fn(usize) -> A + Sync,
        F: Fn(&mut A, u64, SubRecord<'a>) + Sync,
        G: Fn(&mut A) + Sync,
    {
        let run = |number: usize, start: usize| -> UnitRun<A> {
            let unit = &self.units[number];
            let mut acc = init(number);
            let base = unit.record_body_offset;
            let mut subs = SubRecords::new(&unit.record_body[start..], base + start as u64, id_size);
            let end = base + unit.end as u64;
            let mut error = None;
            while subs.offset() < end {
                match subs.next() {
                    Some(Ok((offset, sub))) => visit(&mut acc, offset, sub),
                    Some(Err(e)) => {
                        error = Some(e);
                        break;
                    }
                    None => break,
                }
            }
            finish(&mut acc);
            UnitRun { acc, stopped_at: subs.offset(), error }
        };
        let mut runs: Vec<UnitRun<A>> = self.units.par_iter().enumerate().map(|(i, u)| run(i, u.start)).collect();

        let mut truncation = None;
        for i in 0..self.units.len() {
            let unit = &self.units[i];
            let base = unit.record_body_offset;
            if unit.guessed {
                // Confirm the guess: the previous unit must have stopped exactly here.
                let previous_stop = runs[i - 1].stopped_at;
                if previous_stop != base + unit.start as u64 || runs[i - 1].error.is_some() {
                    if runs[i - 1].error.is_some() || previous_stop >= base + unit.end as u64 {
                        // The previous unit failed or ran through this one: nothing left here.
                        runs[i] = UnitRun { acc: init(i), stopped_at: previous_stop, error: runs[i - 1].error.take() };
                        continue;
                    }
                    runs[i] = run(i, (previous_stop - base) as usize);
                }
            }
            let last_of_record = self.units.get(i + 1).is_none_or(|next| !next.guessed);
            if let Some(e) = runs[i].error.take() {
                let cut_here = unit.truncated && last_of_record && matches!(e.kind, ErrorKind::Overrun { .. });
                if !cut_here {
                    return Err(e);
                }
            }
            if unit.truncated && last_of_record {
                let record_offset = base - record::RECORD_HEADER_LEN as u64;
                // Nothing read from the record (its header may itself be cut): the dump is
                // complete up to where the record starts.
                let stopped_at = runs[i].stopped_at;
                let complete_until = if stopped_at == base { record_offset } else { stopped_at };
                truncation = Some(Truncation { record_offset, record_tag: unit.record_tag, complete_until });
            }
        }
        Ok((runs.into_iter().map(|r| r.acc).collect(), truncation))
    }
}

struct UnitRun<A> {
    acc: A,
    stopped_at: u64,
    error: Option<Error>,
}

/// Offsets (into `body`) where a sub-record probably starts, about every [`CUT_EVERY`] bytes.
fn guess_boundaries(body: &[u8], id_size: IdSize, class_ids: &FxHashSet<u64>) -> Vec<usize> {
    let cut_points: Vec<usize> = (1..body.len().div_ceil(CUT_EVERY)).map(|k| k * CUT_EVERY).collect();
    let mut cuts: Vec<usize> = cut_points
        .par_iter()
        .filter_map(|&p| {
            let window_end = (p + SYNC_WINDOW).min(body.len());
            (p..window_end).find(|&q| looks_like_boundary(body, q, id_size, class_ids))
        })
        .collect();
    cuts.dedup();
    cuts
}

/// Whether a run of plausible sub-records starts at `body[at]`.
fn looks_like_boundary(body: &[u8], at: usize, id_size: IdSize, class_ids: &FxHashSet<u64>) -> bool {
    if !matches!(body[at], tag::INSTANCE_DUMP | tag::OBJECT_ARRAY_DUMP | tag::PRIMITIVE_ARRAY_DUMP | tag::CLASS_DUMP) {
        return false;
    }
    let known = |class_id: u64| class_ids.is_empty() || class_ids.contains(&class_id);
    let mut subs = SubRecords::new(&body[at..], 0, id_size);
    for _ in 0..SYNC_RUN {
        let plausible = match subs.next() {
            None => return true,
            Some(Err(_)) => false,
            Some(Ok((_, sub))) => match sub {
                SubRecord::Instance(i) => i.id != 0 && known(i.class_id),
                SubRecord::ObjectArray(a) => a.id != 0 && known(a.class_id),
                SubRecord::Class(c) => c.id != 0 && known(c.id),
                SubRecord::PrimitiveArray(a) => a.id != 0,
                SubRecord::Root(r) => r.object_id != 0,
                SubRecord::HeapDumpInfo { .. } => true,
            },
        };
        if !plausible {
            return false;
        }
    }
    true
}
