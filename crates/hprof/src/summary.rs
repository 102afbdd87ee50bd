//! One parallel pass over the heap that counts what `info` and `histogram` report.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::classes::{ClassInfo, ClassTable, SizeModel};
use crate::error::Result;
use crate::heap::{tag, RootKind, SubRecord};
use crate::metadata::Metadata;
use crate::parallel::Truncation;
use crate::text::StringCoding;
use crate::types::{BasicType, IdSize, Value};

/// Arrays of one type: how many, how many elements, and their estimated bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArrayTotals {
    /// How many arrays.
    pub count: u64,
    /// Their elements, all together.
    pub elements: u64,
    /// Object arrays: bytes with 4-byte and with 8-byte references, since which one applies is
    /// only known once the whole heap has been seen. Primitive arrays use `bytes_narrow` only.
    bytes_narrow: u64,
    bytes_wide: u64,
}

impl ArrayTotals {
    fn add(&mut self, length: u64, narrow: u64, wide: u64) {
        self.count += 1;
        self.elements += length;
        self.bytes_narrow += narrow;
        self.bytes_wide += wide;
    }

    fn merge(&mut self, other: &ArrayTotals) {
        self.count += other.count;
        self.elements += other.elements;
        self.bytes_narrow += other.bytes_narrow;
        self.bytes_wide += other.bytes_wide;
    }
}

/// A frame of a thread's stack at dump time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The method's class, its Java name.
    pub class: String,
    /// The method's name.
    pub method: String,
    /// The source file, where the dump names it.
    pub source_file: String,
    /// Line number; -1 unknown, -2 compiled, -3 native.
    pub line: i32,
}

impl std::fmt::Display for Frame {
    /// The frame as `jstack` prints it, in every output: `Class.method(File.java:12)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_frame(f, &self.class, &self.method, &self.source_file, self.line)
    }
}

/// The one spelling of a stack frame, as `jstack` prints it: `Class.method(File.java:12)`,
/// `(Native Method)` for line -3, `(Compiled Code)` for -2, the file alone when the line is
/// unknown, `(Unknown Source)` when the file is too.
pub fn write_frame(f: &mut dyn std::fmt::Write, class: &str, method: &str, file: &str, line: i32) -> std::fmt::Result {
    write!(f, "{class}.{method}(")?;
    match line {
        -3 => f.write_str("Native Method)"),
        -2 => f.write_str("Compiled Code)"),
        n if n > 0 && !file.is_empty() => write!(f, "{file}:{n})"),
        _ if !file.is_empty() => write!(f, "{file})"),
        _ => f.write_str("Unknown Source)"),
    }
}

/// A thread alive at dump time.
#[derive(Debug, Clone)]
pub struct ThreadSummary {
    /// The thread's serial number.
    pub serial: u32,
    /// The `java.lang.Thread` object's id.
    pub object_id: u64,
    /// From the `Thread.name` field; `None` when the dump does not have it.
    pub name: Option<String>,
    /// Its stack, innermost first.
    pub frames: Vec<Frame>,
}

/// What one pass over a dump counts: records, sub-records, roots, and objects per class.
pub struct Summary {
    /// Top-level records by tag.
    pub record_counts: BTreeMap<u8, u64>,
    /// Heap-dump sub-records by tag.
    pub sub_record_counts: BTreeMap<u8, u64>,
    /// GC roots by kind name.
    pub root_counts: BTreeMap<&'static str, u64>,
    /// Every class.
    pub classes: ClassTable,
    /// Instances per class id.
    pub(crate) instances: FxHashMap<u64, u64>,
    /// Object arrays per array class id.
    pub(crate) object_arrays: FxHashMap<u64, ArrayTotals>,
    /// Primitive arrays per element type.
    pub primitive_arrays: BTreeMap<BasicType, ArrayTotals>,
    /// Thread objects from ROOT THREAD OBJECT: (object id, thread serial, stack trace serial).
    pub thread_roots: Vec<(u64, u32, u32)>,
    /// Lowest and highest object id: their span tells whether references were compressed.
    pub id_span: Option<(u64, u64)>,
    /// The layout shallow sizes are estimated with.
    pub size_model: SizeModel,
    /// Where the dump is cut short, if it is.
    pub truncation: Option<Truncation>,
}

/// One unit's tally.
#[derive(Default)]
struct Tally {
    sub_records: FxHashMap<u8, u64>,
    roots: FxHashMap<&'static str, u64>,
    instances: FxHashMap<u64, u64>,
    object_arrays: FxHashMap<u64, ArrayTotals>,
    primitive_arrays: [ArrayTotals; 12],
    classes: Vec<ClassInfo>,
    threads: Vec<(u64, u32, u32)>,
    min_id: u64,
    max_id: u64,
    /// Instances of the same class often come in runs: count a run before touching the map.
    run_class: u64,
    run_length: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally { min_id: u64::MAX, ..Tally::default() }
    }

    #[inline]
    fn seen(&mut self, id: u64) {
        self.min_id = self.min_id.min(id);
        self.max_id = self.max_id.max(id);
    }

    #[inline]
    fn instance(&mut self, class_id: u64) {
        if class_id != self.run_class {
            self.flush_run();
            self.run_class = class_id;
        }
        self.run_length += 1;
    }

    fn flush_run(&mut self) {
        if self.run_length > 0 {
            *self.instances.entry(self.run_class).or_default() += self.run_length;
            self.run_length = 0;
        }
    }
}

impl Summary {
    /// Objects in the heap: instances, arrays of both kinds and class objects.
    pub fn objects(&self) -> u64 {
        let instances = self.instances.values().copied();
        let arrays = self.object_arrays.values().chain(self.primitive_arrays.values()).map(|a| a.count);
        instances.chain(arrays).chain([self.classes.len() as u64]).fold(0, u64::saturating_add)
    }

    /// Counts everything in one parallel pass over the heap. `compressed_oops` overrides the
    /// guess from the id span (ids are addresses; a heap within 32 GiB uses 4-byte references).
    pub fn compute(meta: &Metadata<'_>, compressed_oops: Option<bool>) -> Result<Summary> {
        let dump = meta.dump();
        let id_size = dump.id_size();
        let header = |id_size| SizeModel::hotspot(id_size, true);
        let narrow = header(id_size);
        let wide = SizeModel::hotspot(id_size, false);
        let plan = meta.heap_plan();
        let (tallies, truncation) = plan.map_units(id_size, Tally::new, |t, _, sub| match sub {
            SubRecord::Instance(i) => {
                t.seen(i.id);
                t.instance(i.class_id);
            }
            SubRecord::ObjectArray(a) => {
                t.seen(a.id);
                *t.sub_records.entry(tag::OBJECT_ARRAY_DUMP).or_default() += 1;
                let n = a.elements.len() as u64;
                let totals = t.object_arrays.entry(a.class_id).or_default();
                totals.add(n, narrow.array(n, narrow.reference), wide.array(n, wide.reference));
            }
            SubRecord::PrimitiveArray(a) => {
                t.seen(a.id);
                let sub_tag = if a.data.is_some() { tag::PRIMITIVE_ARRAY_DUMP } else { tag::PRIMITIVE_ARRAY_NODATA };
                *t.sub_records.entry(sub_tag).or_default() += 1;
                let n = a.length as u64;
                let bytes = narrow.array(n, narrow.value_size(a.element_type));
                t.primitive_arrays[a.element_type as usize].add(n, bytes, bytes);
            }
            SubRecord::Class(c) => {
                t.seen(c.id);
                *t.sub_records.entry(tag::CLASS_DUMP).or_default() += 1;
                t.classes.push(ClassInfo::from_dump(&c, meta));
            }
            SubRecord::Root(r) => {
                *t.sub_records.entry(r.kind.tag()).or_default() += 1;
                *t.roots.entry(r.kind.name()).or_default() += 1;
                if let RootKind::ThreadObject { thread_serial, stack_trace_serial } = r.kind {
                    t.threads.push((r.object_id, thread_serial, stack_trace_serial));
                }
            }
            SubRecord::HeapDumpInfo { .. } => *t.sub_records.entry(tag::HEAP_DUMP_INFO).or_default() += 1,
        })?;

        let mut summary = Summary {
            record_counts: meta.record_counts.iter().map(|(&k, &v)| (k, v)).collect(),
            sub_record_counts: BTreeMap::new(),
            root_counts: BTreeMap::new(),
            classes: ClassTable::default(),
            instances: FxHashMap::default(),
            object_arrays: FxHashMap::default(),
            primitive_arrays: BTreeMap::new(),
            thread_roots: Vec::new(),
            id_span: None,
            size_model: narrow,
            truncation: meta.truncation.or(truncation),
        };
        let (mut min_id, mut max_id) = (u64::MAX, 0);
        for mut t in tallies {
            t.flush_run();
            let instance_count: u64 = t.instances.values().sum();
            if instance_count > 0 {
                *summary.sub_record_counts.entry(tag::INSTANCE_DUMP).or_default() += instance_count;
            }
            for (k, v) in t.sub_records {
                *summary.sub_record_counts.entry(k).or_default() += v;
            }
            for (k, v) in t.roots {
                *summary.root_counts.entry(k).or_default() += v;
            }
            for (k, v) in t.instances {
                *summary.instances.entry(k).or_default() += v;
            }
            for (k, v) in t.object_arrays {
                summary.object_arrays.entry(k).or_default().merge(&v);
            }
            for ty in BasicType::PRIMITIVES {
                let totals = &t.primitive_arrays[ty as usize];
                if totals.count > 0 {
                    summary.primitive_arrays.entry(ty).or_default().merge(totals);
                }
            }
            for class in t.classes {
                summary.classes.insert(class);
            }
            summary.thread_roots.extend(t.threads);
            min_id = min_id.min(t.min_id);
            max_id = max_id.max(t.max_id);
        }
        summary.classes.cut_cycles();
        if min_id <= max_id {
            summary.id_span = Some((min_id, max_id));
        }
        summary.size_model = Summary::size_model_for(id_size, summary.id_span, compressed_oops);
        Ok(summary)
    }

    /// The size model for a dump whose object ids span `id_span`: ids are addresses, and a heap
    /// within 32 GiB uses 4-byte compressed references, as HotSpot does by default.
    /// `compressed_oops` overrides the guess.
    pub fn size_model_for(id_size: IdSize, id_span: Option<(u64, u64)>, compressed_oops: Option<bool>) -> SizeModel {
        let compressed = compressed_oops.unwrap_or_else(|| id_span.is_none_or(|(lo, hi)| hi - lo < 32 << 30));
        SizeModel::hotspot(id_size, compressed)
    }

    /// Instances and shallow bytes per class, largest first. Arrays count per element type;
    /// class objects count as `java.lang.Class`, each with its static fields.
    pub fn histogram(&self) -> Vec<HistogramRow> {
        let model = &self.size_model;
        let mut rows: FxHashMap<String, HistogramRow> = FxHashMap::default();
        let mut add = |name: String, instances: u64, bytes: u64| {
            let row = rows.entry(name.clone()).or_insert_with(|| HistogramRow { name, instances: 0, shallow_bytes: 0 });
            row.instances += instances;
            row.shallow_bytes += bytes;
        };
        for (&class_id, &count) in &self.instances {
            let name = self.class_name(class_id);
            add(name, count, count * self.classes.instance_size(class_id, model));
        }
        for (&class_id, totals) in &self.object_arrays {
            let bytes = if model.reference == 4 { totals.bytes_narrow } else { totals.bytes_wide };
            add(self.class_name(class_id), totals.count, bytes);
        }
        for (ty, totals) in &self.primitive_arrays {
            add(format!("{}[]", ty.java_name()), totals.count, totals.bytes_narrow);
        }
        if !self.classes.is_empty() {
            let bytes: u64 = self.classes.iter().map(|c| self.classes.mirror_size(c, model)).sum();
            add("java.lang.Class".to_string(), self.classes.len() as u64, bytes);
        }
        let mut rows: Vec<HistogramRow> = rows.into_values().collect();
        rows.sort_by(|a, b| b.shallow_bytes.cmp(&a.shallow_bytes).then_with(|| a.name.cmp(&b.name)));
        rows
    }

    /// Threads alive at dump time, with their names (read from the heap: a few more passes)
    /// and stack traces.
    pub fn threads(&self, meta: &Metadata<'_>) -> Result<Vec<ThreadSummary>> {
        let names = thread_names(meta, &self.classes, self.thread_roots.iter().map(|r| r.0).collect())?;
        let mut threads: Vec<ThreadSummary> = self
            .thread_roots
            .iter()
            .map(|&(object_id, serial, trace_serial)| ThreadSummary {
                serial,
                object_id,
                name: names.get(&object_id).cloned(),
                frames: meta.frames(trace_serial),
            })
            .collect();
        threads.sort_by_key(|t| t.serial);
        Ok(threads)
    }

    fn class_name(&self, id: u64) -> String {
        match self.classes.get(id) {
            Some(c) => c.name.clone(),
            None => format!("<unknown class 0x{id:x}>"),
        }
    }
}

/// One line of a class histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramRow {
    /// The class's Java name.
    pub name: String,
    /// Its instances (arrays of its type for an array class).
    pub instances: u64,
    /// Their estimated shallow bytes.
    pub shallow_bytes: u64,
}

/// Thread names: `Thread.name` is a String (JDK 9+: a byte[] with a `coder`; JDK 8: a char[]),
/// so the objects are fetched in three short hops.
fn thread_names(
    meta: &Metadata<'_>,
    classes: &ClassTable,
    thread_ids: FxHashSet<u64>,
) -> Result<FxHashMap<u64, String>> {
    let id_size = meta.dump().id_size();
    let plan = meta.heap_plan();
    let threads = find_objects(&plan, meta, &thread_ids)?;
    let name_of_thread: FxHashMap<u64, u64> = threads
        .iter()
        .filter_map(|(&tid, o)| match o {
            Found::Instance(i) => Some((tid, classes.field(&i.as_dump(), "name", id_size)?.as_object()?)),
            _ => None,
        })
        .filter(|&(_, sid)| sid != 0)
        .collect();
    let strings = find_objects(&plan, meta, &name_of_thread.values().copied().collect())?;
    let mut value_of_string: FxHashMap<u64, (u64, i64)> = FxHashMap::default();
    for (&sid, o) in &strings {
        if let Found::Instance(i) = o {
            let d = i.as_dump();
            let value = classes.field(&d, "value", id_size).and_then(Value::as_object);
            let coder = classes.field(&d, "coder", id_size).and_then(Value::as_i64).unwrap_or(0);
            if let Some(v) = value {
                value_of_string.insert(sid, (v, coder));
            }
        }
    }
    let arrays = find_objects(&plan, meta, &value_of_string.values().map(|v| v.0).collect())?;
    let text_of = |array_id: u64, coder: i64| -> Option<String> {
        let Found::Array(ty, data) = arrays.get(&array_id)? else { return None };
        Some(StringCoding::of(*ty, coder).decode(data))
    };
    Ok(name_of_thread
        .into_iter()
        .filter_map(|(tid, sid)| {
            let text = match strings.get(&sid)? {
                Found::Instance(_) => {
                    let &(array, coder) = value_of_string.get(&sid)?;
                    text_of(array, coder)?
                }
                Found::Array(ty, data) => StringCoding::of(*ty, 0).decode(data),
            };
            Some((tid, text))
        })
        .collect())
}

/// An object fetched by id, copied out of the dump.
enum Found {
    Instance(OwnedInstance),
    Array(BasicType, Vec<u8>),
}

struct OwnedInstance {
    id: u64,
    class_id: u64,
    fields: Vec<u8>,
}

impl OwnedInstance {
    fn as_dump(&self) -> crate::heap::InstanceDump<'_> {
        crate::heap::InstanceDump { id: self.id, stack_trace_serial: 0, class_id: self.class_id, fields: &self.fields }
    }
}

/// Fetches the instances and primitive arrays with the given ids in one parallel pass.
fn find_objects(
    plan: &crate::HeapPlan<'_>,
    meta: &Metadata<'_>,
    ids: &FxHashSet<u64>,
) -> Result<FxHashMap<u64, Found>> {
    if ids.is_empty() {
        return Ok(FxHashMap::default());
    }
    let (found, _) =
        plan.map_units(meta.dump().id_size(), Vec::new, |acc: &mut Vec<(u64, Found)>, _, sub| match sub {
            SubRecord::Instance(i) if ids.contains(&i.id) => acc.push((
                i.id,
                Found::Instance(OwnedInstance { id: i.id, class_id: i.class_id, fields: i.fields.to_vec() }),
            )),
            SubRecord::PrimitiveArray(a) if ids.contains(&a.id) => {
                acc.push((a.id, Found::Array(a.element_type, a.data.unwrap_or_default().to_vec())))
            }
            _ => {}
        })?;
    Ok(found.into_iter().flatten().collect())
}
