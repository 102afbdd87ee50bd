//! A small HPROF writer for tests: synthetic dumps for layouts no JVM here produces
//! (Android's sub-records, old single-record dumps, 4-byte ids, other library versions) and
//! malformed input (cut short, wrong lengths, unknown tags). Everything is big-endian.
//!
//! [`HeapBuilder`] hands out ids and names so a test declares classes and objects in a few
//! lines; [`HprofWriter`] and [`HeapDumpBody`] write records byte for byte.

#![warn(missing_docs)]

pub mod samples;

/// HPROF basic type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicType {
    /// A reference.
    Object = 2,
    /// `boolean`.
    Boolean = 4,
    /// `char`.
    Char = 5,
    /// `float`.
    Float = 6,
    /// `double`.
    Double = 7,
    /// `byte`.
    Byte = 8,
    /// `short`.
    Short = 9,
    /// `int`.
    Int = 10,
    /// `long`.
    Long = 11,
}

/// A field, static or constant value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A reference: an object id, 0 for null.
    Object(u64),
    /// `boolean`.
    Boolean(bool),
    /// `char`.
    Char(u16),
    /// `float`.
    Float(f32),
    /// `double`.
    Double(f64),
    /// `byte`.
    Byte(i8),
    /// `short`.
    Short(i16),
    /// `int`.
    Int(i32),
    /// `long`.
    Long(i64),
}

impl Value {
    /// The type this value is written as.
    pub fn basic_type(&self) -> BasicType {
        match self {
            Value::Object(_) => BasicType::Object,
            Value::Boolean(_) => BasicType::Boolean,
            Value::Char(_) => BasicType::Char,
            Value::Float(_) => BasicType::Float,
            Value::Double(_) => BasicType::Double,
            Value::Byte(_) => BasicType::Byte,
            Value::Short(_) => BasicType::Short,
            Value::Int(_) => BasicType::Int,
            Value::Long(_) => BasicType::Long,
        }
    }
}

/// Big-endian bytes with ids of a fixed size.
#[derive(Debug, Clone)]
struct Bytes {
    buf: Vec<u8>,
    id_size: u32,
}

impl Bytes {
    fn u1(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u2(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u4(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u8(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn id(&mut self, v: u64) {
        match self.id_size {
            4 => self.u4(u32::try_from(v).expect("id does not fit in 4 bytes")),
            _ => self.u8(v),
        }
    }
    fn value(&mut self, v: Value) {
        match v {
            Value::Object(id) => self.id(id),
            Value::Boolean(b) => self.u1(b as u8),
            Value::Char(c) => self.u2(c),
            Value::Float(f) => self.u4(f.to_bits()),
            Value::Double(d) => self.u8(d.to_bits()),
            Value::Byte(b) => self.u1(b as u8),
            Value::Short(s) => self.u2(s as u16),
            Value::Int(i) => self.u4(i as u32),
            Value::Long(l) => self.u8(l as u64),
        }
    }
}

/// A CLASS DUMP sub-record.
#[derive(Debug, Clone, Default)]
pub struct ClassDump {
    /// The class object's id.
    pub id: u64,
    /// The super class's id; 0 for none.
    pub super_id: u64,
    /// The class loader's id.
    pub loader_id: u64,
    /// The instance size the record states.
    pub instance_size: u32,
    /// Constant-pool entries: (index, value).
    pub constant_pool: Vec<(u16, Value)>,
    /// Static fields: (name id, value).
    pub statics: Vec<(u64, Value)>,
    /// Instance fields: (name id, type).
    pub fields: Vec<(u64, BasicType)>,
}

/// The sub-records of a HEAP DUMP or HEAP DUMP SEGMENT, each kept apart so that a body can be
/// cut into segments between sub-records.
#[derive(Debug, Clone)]
pub struct HeapDumpBody {
    records: Vec<Vec<u8>>,
    id_size: u32,
}

impl HeapDumpBody {
    /// An empty body for ids of `id_size` bytes.
    pub fn new(id_size: u32) -> Self {
        HeapDumpBody { records: Vec::new(), id_size }
    }

    fn sub(&mut self, tag: u8, write: impl FnOnce(&mut Bytes)) -> &mut Self {
        let mut b = Bytes { buf: vec![tag], id_size: self.id_size };
        write(&mut b);
        self.records.push(b.buf);
        self
    }

    /// Roots that hold only an id: 0xFF unknown, 0x05 sticky class, 0x07 monitor used, and
    /// Android's 0x89 interned string, 0x8A finalizing, 0x8B debugger, 0x8C reference cleanup,
    /// 0x8D VM internal, 0x90 unreachable.
    pub fn root_simple(&mut self, tag: u8, id: u64) -> &mut Self {
        self.sub(tag, |b| b.id(id))
    }
    /// A ROOT JNI GLOBAL.
    pub fn root_jni_global(&mut self, id: u64, global_ref: u64) -> &mut Self {
        self.sub(0x01, |b| {
            b.id(id);
            b.id(global_ref)
        })
    }
    /// A ROOT JNI LOCAL.
    pub fn root_jni_local(&mut self, id: u64, thread_serial: u32, frame: u32) -> &mut Self {
        self.sub(0x02, |b| {
            b.id(id);
            b.u4(thread_serial);
            b.u4(frame)
        })
    }
    /// A ROOT JAVA FRAME.
    pub fn root_java_frame(&mut self, id: u64, thread_serial: u32, frame: u32) -> &mut Self {
        self.sub(0x03, |b| {
            b.id(id);
            b.u4(thread_serial);
            b.u4(frame)
        })
    }
    /// A ROOT NATIVE STACK.
    pub fn root_native_stack(&mut self, id: u64, thread_serial: u32) -> &mut Self {
        self.sub(0x04, |b| {
            b.id(id);
            b.u4(thread_serial)
        })
    }
    /// A ROOT THREAD BLOCK.
    pub fn root_thread_block(&mut self, id: u64, thread_serial: u32) -> &mut Self {
        self.sub(0x06, |b| {
            b.id(id);
            b.u4(thread_serial)
        })
    }
    /// A ROOT THREAD OBJECT.
    pub fn root_thread_object(&mut self, id: u64, thread_serial: u32, stack_trace_serial: u32) -> &mut Self {
        self.sub(0x08, |b| {
            b.id(id);
            b.u4(thread_serial);
            b.u4(stack_trace_serial)
        })
    }
    /// Android 0x8E.
    pub fn root_jni_monitor(&mut self, id: u64, thread_serial: u32, stack_depth: u32) -> &mut Self {
        self.sub(0x8E, |b| {
            b.id(id);
            b.u4(thread_serial);
            b.u4(stack_depth)
        })
    }
    /// A CLASS DUMP.
    pub fn class_dump(&mut self, c: &ClassDump) -> &mut Self {
        self.sub(0x20, |b| {
            b.id(c.id);
            b.u4(0);
            b.id(c.super_id);
            b.id(c.loader_id);
            for _ in 0..4 {
                b.id(0); // signers, protection domain, two reserved
            }
            b.u4(c.instance_size);
            b.u2(c.constant_pool.len() as u16);
            for &(index, v) in &c.constant_pool {
                b.u2(index);
                b.u1(v.basic_type() as u8);
                b.value(v);
            }
            b.u2(c.statics.len() as u16);
            for &(name, v) in &c.statics {
                b.id(name);
                b.u1(v.basic_type() as u8);
                b.value(v);
            }
            b.u2(c.fields.len() as u16);
            for &(name, t) in &c.fields {
                b.id(name);
                b.u1(t as u8);
            }
        })
    }
    /// An INSTANCE DUMP; `values` in dump order: the class's own fields, then its super's.
    pub fn instance(&mut self, id: u64, class_id: u64, values: &[Value]) -> &mut Self {
        let mut fields = Bytes { buf: Vec::new(), id_size: self.id_size };
        values.iter().for_each(|&v| fields.value(v));
        self.sub(0x21, |b| {
            b.id(id);
            b.u4(0);
            b.id(class_id);
            b.u4(fields.buf.len() as u32);
            b.buf.extend_from_slice(&fields.buf);
        })
    }
    /// An OBJECT ARRAY DUMP.
    pub fn object_array(&mut self, id: u64, array_class_id: u64, elements: &[u64]) -> &mut Self {
        self.sub(0x22, |b| {
            b.id(id);
            b.u4(0);
            b.u4(elements.len() as u32);
            b.id(array_class_id);
            elements.iter().for_each(|&e| b.id(e));
        })
    }
    /// A PRIMITIVE ARRAY DUMP of `length` elements whose raw big-endian bytes are `data`.
    pub fn primitive_array(&mut self, id: u64, element: BasicType, length: u32, data: &[u8]) -> &mut Self {
        self.sub(0x23, |b| {
            b.id(id);
            b.u4(0);
            b.u4(length);
            b.u1(element as u8);
            b.buf.extend_from_slice(data);
        })
    }
    /// Android 0xC3: an array's header without its values.
    pub fn primitive_array_nodata(&mut self, id: u64, element: BasicType, length: u32) -> &mut Self {
        self.sub(0xC3, |b| {
            b.id(id);
            b.u4(0);
            b.u4(length);
            b.u1(element as u8)
        })
    }
    /// Android 0xFE: the objects that follow belong to heap `heap_id`.
    pub fn heap_dump_info(&mut self, heap_id: u32, name_id: u64) -> &mut Self {
        self.sub(0xFE, |b| {
            b.u4(heap_id);
            b.id(name_id)
        })
    }
    /// Bytes written as they are, for malformed input.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.records.push(bytes.to_vec());
        self
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.records.iter().map(Vec::len).sum()
    }
    /// Whether nothing is written yet.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    fn concat(&self) -> Vec<u8> {
        self.records.concat()
    }
}

/// Writes a dump record by record.
#[derive(Debug, Clone)]
pub struct HprofWriter {
    out: Bytes,
    record_offsets: Vec<usize>,
}

impl HprofWriter {
    /// A file with its header: `version` (`1.0.2`), id size, time.
    pub fn new(version: &str, id_size: u32, timestamp_ms: u64) -> Self {
        let mut out = Bytes { buf: Vec::new(), id_size };
        out.buf.extend_from_slice(format!("JAVA PROFILE {version}\0").as_bytes());
        out.u4(id_size);
        out.u4((timestamp_ms >> 32) as u32);
        out.u4(timestamp_ms as u32);
        HprofWriter { out, record_offsets: Vec::new() }
    }

    fn record(&mut self, tag: u8, write: impl FnOnce(&mut Bytes)) -> &mut Self {
        let mut body = Bytes { buf: Vec::new(), id_size: self.out.id_size };
        write(&mut body);
        self.raw_record(tag, 0, &body.buf)
    }

    /// A record with any tag and body.
    pub fn raw_record(&mut self, tag: u8, micros: u32, body: &[u8]) -> &mut Self {
        self.record_offsets.push(self.out.buf.len());
        self.out.u1(tag);
        self.out.u4(micros);
        self.out.u4(body.len() as u32);
        self.out.buf.extend_from_slice(body);
        self
    }
    /// A UTF8 record.
    pub fn utf8(&mut self, id: u64, text: &str) -> &mut Self {
        self.record(0x01, |b| {
            b.id(id);
            b.buf.extend_from_slice(text.as_bytes())
        })
    }
    /// A LOAD CLASS record.
    pub fn load_class(&mut self, serial: u32, class_id: u64, stack_trace_serial: u32, name_id: u64) -> &mut Self {
        self.record(0x02, |b| {
            b.u4(serial);
            b.id(class_id);
            b.u4(stack_trace_serial);
            b.id(name_id)
        })
    }
    /// An UNLOAD CLASS record.
    pub fn unload_class(&mut self, serial: u32) -> &mut Self {
        self.record(0x03, |b| b.u4(serial))
    }
    /// A STACK FRAME record.
    pub fn stack_frame(
        &mut self,
        frame_id: u64,
        method: u64,
        signature: u64,
        source: u64,
        class_serial: u32,
        line: i32,
    ) -> &mut Self {
        self.record(0x04, |b| {
            b.id(frame_id);
            b.id(method);
            b.id(signature);
            b.id(source);
            b.u4(class_serial);
            b.u4(line as u32)
        })
    }
    /// A STACK TRACE record.
    pub fn stack_trace(&mut self, serial: u32, thread_serial: u32, frames: &[u64]) -> &mut Self {
        self.record(0x05, |b| {
            b.u4(serial);
            b.u4(thread_serial);
            b.u4(frames.len() as u32);
            frames.iter().for_each(|&f| b.id(f))
        })
    }
    /// A START THREAD record.
    pub fn start_thread(
        &mut self,
        serial: u32,
        thread_id: u64,
        trace: u32,
        name: u64,
        group: u64,
        parent: u64,
    ) -> &mut Self {
        self.record(0x0A, |b| {
            b.u4(serial);
            b.id(thread_id);
            b.u4(trace);
            b.id(name);
            b.id(group);
            b.id(parent)
        })
    }
    /// An END THREAD record.
    pub fn end_thread(&mut self, serial: u32) -> &mut Self {
        self.record(0x0B, |b| b.u4(serial))
    }
    /// A HEAP SUMMARY record.
    pub fn heap_summary(&mut self, live_bytes: u32, live_instances: u32, bytes: u64, instances: u64) -> &mut Self {
        self.record(0x07, |b| {
            b.u4(live_bytes);
            b.u4(live_instances);
            b.u8(bytes);
            b.u8(instances)
        })
    }
    /// A CONTROL SETTINGS record.
    pub fn control_settings(&mut self, flags: u32, depth: u16) -> &mut Self {
        self.record(0x0E, |b| {
            b.u4(flags);
            b.u2(depth)
        })
    }
    /// One HEAP DUMP record for the whole heap, as JDK 5 and early 6 wrote.
    pub fn heap_dump(&mut self, body: &HeapDumpBody) -> &mut Self {
        self.raw_record(0x0C, 0, &body.concat())
    }
    /// HEAP DUMP SEGMENT records of at most `max_len` bytes each (a sub-record longer than
    /// that gets a segment of its own), then HEAP DUMP END.
    pub fn heap_dump_segments(&mut self, body: &HeapDumpBody, max_len: usize) -> &mut Self {
        let mut segment = Vec::new();
        for record in &body.records {
            if !segment.is_empty() && segment.len() + record.len() > max_len {
                self.raw_record(0x1C, 0, &segment);
                segment.clear();
            }
            segment.extend_from_slice(record);
        }
        if !segment.is_empty() {
            self.raw_record(0x1C, 0, &segment);
        }
        self.raw_record(0x2C, 0, &[])
    }
    /// Where each record written so far starts.
    pub fn record_offsets(&self) -> &[usize] {
        &self.record_offsets
    }
    /// The file so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out.buf
    }
    /// The file.
    pub fn finish(self) -> Vec<u8> {
        self.out.buf
    }
}

/// A class declared through a [`HeapBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassRef {
    /// The class object's id.
    pub id: u64,
    /// The class's serial number.
    pub serial: u32,
}

/// Declares a small heap without juggling ids: names are interned as UTF8 records, ids are
/// handed out ascending and 8-aligned like real addresses, classes get LOAD CLASS records.
#[derive(Debug, Clone)]
pub struct HeapBuilder {
    writer: HprofWriter,
    body: HeapDumpBody,
    next_id: u64,
    next_serial: u32,
    names: Vec<(String, u64)>,
    array_classes: Vec<(String, ClassRef)>,
}

impl HeapBuilder {
    /// A HotSpot-style dump (`1.0.2`, 8-byte ids).
    pub fn new() -> Self {
        HeapBuilder::with_format("1.0.2", 8)
    }

    /// A builder for HPROF `version` with ids of `id_size` bytes (`with_format("1.0.1", 4)`: a 32-bit JVM's old dump).
    pub fn with_format(version: &str, id_size: u32) -> Self {
        HeapBuilder {
            writer: HprofWriter::new(version, id_size, 1_700_000_000_000),
            body: HeapDumpBody::new(id_size),
            next_id: 0x1000,
            next_serial: 1,
            names: Vec::new(),
            array_classes: Vec::new(),
        }
    }

    /// A fresh object id.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 0x10;
        self.next_id
    }

    /// The UTF8 id of `text`, writing the record on first use.
    pub fn name(&mut self, text: &str) -> u64 {
        if let Some(&(_, id)) = self.names.iter().find(|(t, _)| t == text) {
            return id;
        }
        let id = 0x10_0000_0000 + self.names.len() as u64 + 1;
        let id = if self.body.id_size == 4 { id & 0x0FFF_FFFF | 0x4000_0000 } else { id };
        self.writer.utf8(id, text);
        self.names.push((text.to_string(), id));
        id
    }

    /// Declares class `name` (Java source name, e.g. `java.nio.Buffer`) with its own instance
    /// fields; writes LOAD CLASS and CLASS DUMP.
    pub fn define_class(
        &mut self,
        name: &str,
        super_class: Option<ClassRef>,
        fields: &[(&str, BasicType)],
    ) -> ClassRef {
        self.define_class_with_statics(name, super_class, fields, &[])
    }

    /// A class with static fields: `statics` as (name, value).
    pub fn define_class_with_statics(
        &mut self,
        name: &str,
        super_class: Option<ClassRef>,
        fields: &[(&str, BasicType)],
        statics: &[(&str, Value)],
    ) -> ClassRef {
        let internal = if name.ends_with("[]") { array_descriptor(name) } else { name.replace('.', "/") };
        let name_id = self.name(&internal);
        let class = ClassRef { id: self.new_id(), serial: self.next_serial };
        self.next_serial += 1;
        self.writer.load_class(class.serial, class.id, 0, name_id);
        let fields = fields.iter().map(|&(n, t)| (self.name(n), t)).collect();
        let statics = statics.iter().map(|&(n, v)| (self.name(n), v)).collect();
        self.body.class_dump(&ClassDump {
            id: class.id,
            super_id: super_class.map_or(0, |s| s.id),
            fields,
            statics,
            ..ClassDump::default()
        });
        class
    }

    /// An instance; `values` in dump order: the class's own fields first, then its super's.
    pub fn instance(&mut self, class: ClassRef, values: &[Value]) -> u64 {
        let id = self.new_id();
        self.body.instance(id, class.id, values);
        id
    }

    /// An object array whose class is `element_class[]` (defined on first use).
    pub fn object_array(&mut self, element_class: &str, elements: &[u64]) -> u64 {
        let class = self.array_class(&format!("{element_class}[]"));
        let id = self.new_id();
        self.body.object_array(id, class.id, elements);
        id
    }

    fn array_class(&mut self, name: &str) -> ClassRef {
        if let Some(&(_, c)) = self.array_classes.iter().find(|(n, _)| n == name) {
            return c;
        }
        let c = self.define_class(name, None, &[]);
        self.array_classes.push((name.to_string(), c));
        c
    }

    /// A `byte[]` holding `data`.
    pub fn byte_array(&mut self, data: &[u8]) -> u64 {
        let id = self.new_id();
        self.body.primitive_array(id, BasicType::Byte, data.len() as u32, data);
        id
    }

    /// A `long[]` holding `values`.
    pub fn long_array(&mut self, values: &[i64]) -> u64 {
        let id = self.new_id();
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        self.body.primitive_array(id, BasicType::Long, values.len() as u32, &data);
        id
    }

    /// The sub-records, for roots and anything the conveniences do not cover.
    pub fn body(&mut self) -> &mut HeapDumpBody {
        &mut self.body
    }

    /// The writer, for top-level records (stack traces, threads).
    pub fn writer(&mut self) -> &mut HprofWriter {
        &mut self.writer
    }

    /// The dump with the heap in segments of at most `segment_len` bytes (HotSpot style).
    pub fn finish_segments(mut self, segment_len: usize) -> Vec<u8> {
        self.writer.heap_dump_segments(&self.body, segment_len);
        self.writer.finish()
    }

    /// The dump with the heap in a single HEAP DUMP record (old style).
    pub fn finish_single(mut self) -> Vec<u8> {
        self.writer.heap_dump(&self.body);
        self.writer.finish()
    }
}

impl Default for HeapBuilder {
    fn default() -> Self {
        HeapBuilder::new()
    }
}

/// `java.lang.Object[]` → `[Ljava/lang/Object;`, `byte[][]` → `[[B`.
fn array_descriptor(name: &str) -> String {
    let dims = name.matches("[]").count();
    let element = name.trim_end_matches("[]");
    let code = match element {
        "boolean" => "Z".to_string(),
        "char" => "C".to_string(),
        "float" => "F".to_string(),
        "double" => "D".to_string(),
        "byte" => "B".to_string(),
        "short" => "S".to_string(),
        "int" => "I".to_string(),
        "long" => "J".to_string(),
        class => format!("L{};", class.replace('.', "/")),
    };
    format!("{}{code}", "[".repeat(dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes() {
        let w = HprofWriter::new("1.0.2", 8, 0x0000_0001_0000_0002);
        let b = w.finish();
        assert_eq!(&b[..19], b"JAVA PROFILE 1.0.2\0");
        assert_eq!(&b[19..23], &[0, 0, 0, 8]);
        assert_eq!(&b[23..31], &[0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn record_and_instance_bytes() {
        let mut w = HprofWriter::new("1.0.1", 4, 0);
        let mut body = HeapDumpBody::new(4);
        body.instance(0x10, 0x20, &[Value::Int(7), Value::Object(0x30)]);
        w.heap_dump(&body);
        let b = w.finish();
        let r = &b[31..];
        assert_eq!(r[0], 0x0C);
        assert_eq!(&r[5..9], &[0, 0, 0, 1 + 4 + 4 + 4 + 4 + 8]);
        assert_eq!(&r[9..], &[0x21, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 0x30]);
    }

    #[test]
    fn segments_split_between_sub_records() {
        let mut body = HeapDumpBody::new(8);
        for i in 0..10 {
            body.root_simple(0xFF, i);
        }
        let mut w = HprofWriter::new("1.0.2", 8, 0);
        w.heap_dump_segments(&body, 20);
        // Nine-byte roots, two per segment: five segments and the end record.
        assert_eq!(w.record_offsets().len(), 6);
    }

    #[test]
    fn array_names() {
        assert_eq!(array_descriptor("java.lang.Object[]"), "[Ljava/lang/Object;");
        assert_eq!(array_descriptor("byte[][]"), "[[B");
    }
}
