//! One sequential pass over the top-level records: everything but the heap itself.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::Result;
use crate::parallel::{HeapPlan, Truncation};
use crate::record::{tag, Ids, Record, RecordKind, StackFrame};
use crate::summary::Frame;
use crate::Dump;

/// A STACK TRACE record: the frames of one thread at dump time.
#[derive(Debug, Clone, Copy)]
pub struct ThreadTrace<'a> {
    /// The thread's serial number (its START THREAD record's).
    pub thread_serial: u32,
    /// Ids of its STACK FRAME records, innermost first.
    pub frames: Ids<'a>,
}

/// Strings, classes, stack traces and record counts of a dump, and where its heap records are.
pub struct Metadata<'a> {
    dump: &'a Dump,
    /// UTF8 records by id: names of classes, fields, methods and source files.
    pub(crate) strings: FxHashMap<u64, &'a [u8]>,
    /// LOAD CLASS records: class object id to name id.
    pub(crate) class_name_ids: FxHashMap<u64, u64>,
    /// LOAD CLASS records: class serial to class object id.
    class_serials: FxHashMap<u32, u64>,
    /// STACK FRAME records by frame id.
    frames: FxHashMap<u64, StackFrame>,
    /// STACK TRACE records by serial.
    traces: FxHashMap<u32, ThreadTrace<'a>>,
    /// Count of each top-level record tag.
    pub(crate) record_counts: FxHashMap<u8, u64>,
    /// Set when the dump ends inside a record that is not part of the heap dump.
    pub truncation: Option<Truncation>,
    heap_records: Vec<Record<'a>>,
}

impl<'a> Metadata<'a> {
    /// Reads every top-level record. Heap-dump bodies are only located here, not parsed.
    pub fn read(dump: &'a Dump) -> Result<Metadata<'a>> {
        let mut meta = Metadata {
            dump,
            strings: FxHashMap::default(),
            class_name_ids: FxHashMap::default(),
            class_serials: FxHashMap::default(),
            frames: FxHashMap::default(),
            traces: FxHashMap::default(),
            record_counts: FxHashMap::default(),
            truncation: None,
            heap_records: Vec::new(),
        };
        let id_size = dump.id_size();
        for record in dump.records() {
            *meta.record_counts.entry(record.tag).or_default() += 1;
            if record.tag == tag::HEAP_DUMP || record.tag == tag::HEAP_DUMP_SEGMENT {
                // The plan reports a cut inside the heap, down to the last whole sub-record.
                meta.heap_records.push(record);
                continue;
            }
            if record.truncated {
                meta.truncation = Some(Truncation {
                    record_offset: record.offset,
                    record_tag: record.tag,
                    complete_until: record.offset,
                });
                break;
            }
            match record.parse(id_size)? {
                RecordKind::Utf8 { id, text } => {
                    meta.strings.insert(id, text);
                }
                RecordKind::LoadClass { class_serial, class_id, name_id, .. } => {
                    meta.class_name_ids.insert(class_id, name_id);
                    meta.class_serials.insert(class_serial, class_id);
                }
                RecordKind::StackFrame(frame) => {
                    meta.frames.insert(frame.frame_id, frame);
                }
                RecordKind::StackTrace { serial, thread_serial, frames } => {
                    meta.traces.insert(serial, ThreadTrace { thread_serial, frames });
                }
                _ => {}
            }
        }
        Ok(meta)
    }

    /// The dump the records were read from.
    pub fn dump(&self) -> &'a Dump {
        self.dump
    }

    /// The STACK TRACE record with serial `serial`.
    pub fn trace(&self, serial: u32) -> Option<&ThreadTrace<'a>> {
        self.traces.get(&serial)
    }

    /// Frame `index` (0 is the innermost call) of stack trace `trace_serial`, its names
    /// resolved: the one reading of a frame for every output.
    pub fn frame(&self, trace_serial: u32, index: usize) -> Option<Frame> {
        let frame_id = self.trace(trace_serial)?.frames.get(index)?;
        self.frames.get(&frame_id).map(|f| self.resolved(f))
    }

    /// Every frame of stack trace `trace_serial` that the dump has, innermost first.
    pub fn frames(&self, trace_serial: u32) -> Vec<Frame> {
        let Some(trace) = self.trace(trace_serial) else { return Vec::new() };
        trace.frames.iter().filter_map(|id| self.frames.get(&id)).map(|f| self.resolved(f)).collect()
    }

    fn resolved(&self, frame: &StackFrame) -> Frame {
        let text = |id| self.string(id).unwrap_or_default();
        Frame {
            class: self
                .class_serials
                .get(&frame.class_serial)
                .and_then(|class_id| self.class_name_ids.get(class_id))
                .map(|&name_id| crate::java_class_name(&text(name_id)))
                .unwrap_or_default(),
            method: text(frame.method_name_id),
            source_file: text(frame.source_file_id),
            line: frame.line,
        }
    }

    /// The heap-dump records cut into units for parallel parsing.
    pub fn heap_plan(&self) -> HeapPlan<'a> {
        let class_ids: FxHashSet<u64> = self.class_name_ids.keys().copied().collect();
        HeapPlan::new(self.heap_records.iter().copied(), self.dump.id_size(), &class_ids)
    }

    /// A string by id, decoded (lossily) from modified UTF-8.
    pub fn string(&self, id: u64) -> Option<String> {
        self.strings.get(&id).map(|b| crate::text::decode_utf8(b))
    }
}
