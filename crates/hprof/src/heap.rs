//! Heap-dump sub-records: GC roots, class dumps, instances and arrays.
//!
//! A HEAP DUMP or HEAP DUMP SEGMENT body is a run of sub-records with no framing but their
//! own grammar, so walking it means parsing every sub-record in turn. The walk borrows from
//! the body and allocates nothing.

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::{IResult, Parser};

use crate::error::{Error, ErrorKind, Result};
use crate::record::{id, ids, Ids};
use crate::types::{BasicType, IdSize, Value};

/// Sub-record tags, named as in the HPROF specification (0x8x and above: Android).
pub mod tag {
    /// The ROOT UNKNOWN tag.
    pub const ROOT_UNKNOWN: u8 = 0xFF;
    /// The ROOT JNI GLOBAL tag.
    pub const ROOT_JNI_GLOBAL: u8 = 0x01;
    /// The ROOT JNI LOCAL tag.
    pub const ROOT_JNI_LOCAL: u8 = 0x02;
    /// The ROOT JAVA FRAME tag.
    pub const ROOT_JAVA_FRAME: u8 = 0x03;
    /// The ROOT NATIVE STACK tag.
    pub const ROOT_NATIVE_STACK: u8 = 0x04;
    /// The ROOT STICKY CLASS tag.
    pub const ROOT_STICKY_CLASS: u8 = 0x05;
    /// The ROOT THREAD BLOCK tag.
    pub const ROOT_THREAD_BLOCK: u8 = 0x06;
    /// The ROOT MONITOR USED tag.
    pub const ROOT_MONITOR_USED: u8 = 0x07;
    /// The ROOT THREAD OBJECT tag.
    pub const ROOT_THREAD_OBJECT: u8 = 0x08;
    /// The CLASS DUMP tag.
    pub const CLASS_DUMP: u8 = 0x20;
    /// The INSTANCE DUMP tag.
    pub const INSTANCE_DUMP: u8 = 0x21;
    /// The OBJECT ARRAY DUMP tag.
    pub const OBJECT_ARRAY_DUMP: u8 = 0x22;
    /// The PRIMITIVE ARRAY DUMP tag.
    pub const PRIMITIVE_ARRAY_DUMP: u8 = 0x23;
    /// The ROOT INTERNED STRING tag.
    pub const ROOT_INTERNED_STRING: u8 = 0x89;
    /// The ROOT FINALIZING tag.
    pub const ROOT_FINALIZING: u8 = 0x8A;
    /// The ROOT DEBUGGER tag.
    pub const ROOT_DEBUGGER: u8 = 0x8B;
    /// The ROOT REFERENCE CLEANUP tag.
    pub const ROOT_REFERENCE_CLEANUP: u8 = 0x8C;
    /// The ROOT VM INTERNAL tag.
    pub const ROOT_VM_INTERNAL: u8 = 0x8D;
    /// The ROOT JNI MONITOR tag.
    pub const ROOT_JNI_MONITOR: u8 = 0x8E;
    /// The UNREACHABLE tag.
    pub const UNREACHABLE: u8 = 0x90;
    /// The PRIMITIVE ARRAY NODATA tag.
    pub const PRIMITIVE_ARRAY_NODATA: u8 = 0xC3;
    /// The HEAP DUMP INFO tag.
    pub const HEAP_DUMP_INFO: u8 = 0xFE;
}

/// The name of a sub-record tag, for reports.
pub fn sub_record_name(t: u8) -> &'static str {
    match t {
        tag::CLASS_DUMP => "CLASS DUMP",
        tag::INSTANCE_DUMP => "INSTANCE DUMP",
        tag::OBJECT_ARRAY_DUMP => "OBJECT ARRAY DUMP",
        tag::PRIMITIVE_ARRAY_DUMP => "PRIMITIVE ARRAY DUMP",
        tag::PRIMITIVE_ARRAY_NODATA => "PRIMITIVE ARRAY NODATA",
        tag::HEAP_DUMP_INFO => "HEAP DUMP INFO",
        t => RootKind::name_of_tag(t).unwrap_or("unknown"),
    }
}

/// How a GC root holds its object, with the detail the dump gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// ROOT UNKNOWN.
    Unknown,
    /// A JNI global reference.
    JniGlobal {
        /// The JNI global reference's own id.
        global_ref_id: u64,
    },
    /// A JNI local reference of a thread's frame.
    JniLocal {
        /// The thread's serial number.
        thread_serial: u32,
        /// The frame's depth (0: innermost).
        frame_index: i32,
    },
    /// A local variable of a thread's Java frame.
    JavaFrame {
        /// The thread's serial number.
        thread_serial: u32,
        /// The frame's depth (0: innermost).
        frame_index: i32,
    },
    /// Held by a thread's native stack.
    NativeStack {
        /// The thread's serial number.
        thread_serial: u32,
    },
    /// A class the VM keeps loaded (a system class).
    StickyClass,
    /// Held by a thread's block.
    ThreadBlock {
        /// The thread's serial number.
        thread_serial: u32,
    },
    /// An object whose monitor is held.
    MonitorUsed,
    /// A thread's `java.lang.Thread` object.
    ThreadObject {
        /// The thread's serial number.
        thread_serial: u32,
        /// Its stack trace's serial.
        stack_trace_serial: u32,
    },
    /// An interned string (Android).
    InternedString,
    /// An object awaiting finalization (Android).
    Finalizing,
    /// Held by the debugger (Android).
    Debugger,
    /// Held for reference cleanup (Android).
    ReferenceCleanup,
    /// Held by the VM itself (Android).
    VmInternal,
    /// An object whose monitor a JNI call holds (Android).
    JniMonitor {
        /// The thread's serial number.
        thread_serial: u32,
        /// The depth of the stack.
        stack_depth: u32,
    },
    /// Not a root: an object Android marks unreachable.
    Unreachable,
}

impl RootKind {
    fn name_of_tag(t: u8) -> Option<&'static str> {
        Some(match t {
            tag::ROOT_UNKNOWN => "unknown",
            tag::ROOT_JNI_GLOBAL => "JNI global",
            tag::ROOT_JNI_LOCAL => "JNI local",
            tag::ROOT_JAVA_FRAME => "Java frame",
            tag::ROOT_NATIVE_STACK => "native stack",
            tag::ROOT_STICKY_CLASS => "sticky class",
            tag::ROOT_THREAD_BLOCK => "thread block",
            tag::ROOT_MONITOR_USED => "monitor used",
            tag::ROOT_THREAD_OBJECT => "thread object",
            tag::ROOT_INTERNED_STRING => "interned string",
            tag::ROOT_FINALIZING => "finalizing",
            tag::ROOT_DEBUGGER => "debugger",
            tag::ROOT_REFERENCE_CLEANUP => "reference cleanup",
            tag::ROOT_VM_INTERNAL => "VM internal",
            tag::ROOT_JNI_MONITOR => "JNI monitor",
            tag::UNREACHABLE => "unreachable",
            _ => return None,
        })
    }

    /// The sub-record tag of this kind of root.
    pub fn tag(&self) -> u8 {
        match self {
            RootKind::Unknown => tag::ROOT_UNKNOWN,
            RootKind::JniGlobal { .. } => tag::ROOT_JNI_GLOBAL,
            RootKind::JniLocal { .. } => tag::ROOT_JNI_LOCAL,
            RootKind::JavaFrame { .. } => tag::ROOT_JAVA_FRAME,
            RootKind::NativeStack { .. } => tag::ROOT_NATIVE_STACK,
            RootKind::StickyClass => tag::ROOT_STICKY_CLASS,
            RootKind::ThreadBlock { .. } => tag::ROOT_THREAD_BLOCK,
            RootKind::MonitorUsed => tag::ROOT_MONITOR_USED,
            RootKind::ThreadObject { .. } => tag::ROOT_THREAD_OBJECT,
            RootKind::InternedString => tag::ROOT_INTERNED_STRING,
            RootKind::Finalizing => tag::ROOT_FINALIZING,
            RootKind::Debugger => tag::ROOT_DEBUGGER,
            RootKind::ReferenceCleanup => tag::ROOT_REFERENCE_CLEANUP,
            RootKind::VmInternal => tag::ROOT_VM_INTERNAL,
            RootKind::JniMonitor { .. } => tag::ROOT_JNI_MONITOR,
            RootKind::Unreachable => tag::UNREACHABLE,
        }
    }

    /// A short human name: `Java frame`, `JNI global`, ...
    pub fn name(&self) -> &'static str {
        Self::name_of_tag(self.tag()).unwrap_or("unknown")
    }
}

/// A GC root: an object held by the VM itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcRoot {
    /// The object held.
    pub object_id: u64,
    /// How it is held.
    pub kind: RootKind,
}

/// A CLASS DUMP: a class's super class, loader, statics and instance-field layout.
#[derive(Debug, Clone, Copy)]
pub struct ClassDump<'a> {
    /// The class object's id.
    pub id: u64,
    /// Where the class was loaded, as a STACK TRACE serial.
    pub stack_trace_serial: u32,
    /// The super class's id; 0 for none.
    pub super_id: u64,
    /// The class loader's id; 0 for the boot loader.
    pub loader_id: u64,
    /// The signers' id (usually 0).
    pub signers_id: u64,
    /// The protection domain's id (usually 0).
    pub protection_domain_id: u64,
    /// Instance size as the file states it (HotSpot: field bytes with ids at full size).
    pub instance_size: u32,
    /// Static fields.
    pub statics: StaticFields<'a>,
    /// Instance fields declared by this class.
    pub fields: FieldDescriptors<'a>,
}

/// Static fields of a class: `(name id, value)` pairs, validated when the class was parsed.
#[derive(Debug, Clone, Copy)]
pub struct StaticFields<'a> {
    bytes: &'a [u8],
    count: u16,
    id_size: IdSize,
}

impl<'a> StaticFields<'a> {
    /// How many static fields.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `(name id, value)` of each static field.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Value)> + 'a {
        let id_size = self.id_size;
        let mut rest = self.bytes;
        (0..self.count).map_while(move |_| {
            let (after, (name_id, ty)) = typed_entry(id_size)(rest).ok()?;
            let n = ty.size_in_file(id_size);
            let value = Value::read(ty, after.get(..n)?, id_size);
            rest = &after[n..];
            Some((name_id, value))
        })
    }
}

/// Instance field declarations of one class (not its super classes): `(name id, type)`.
#[derive(Debug, Clone, Copy)]
pub struct FieldDescriptors<'a> {
    bytes: &'a [u8],
    id_size: IdSize,
}

impl<'a> FieldDescriptors<'a> {
    /// How many fields.
    pub fn len(&self) -> usize {
        self.bytes.len() / (self.id_size.bytes() + 1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// `(name id, type)` of each field, in dump order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, BasicType)> + 'a {
        let id_size = self.id_size;
        self.bytes.chunks_exact(id_size.bytes() + 1).map(move |b| {
            // Types were validated when the class dump was parsed.
            let ty = BasicType::from_code(b[id_size.bytes()]).unwrap_or(BasicType::Object);
            (id_size.read(b), ty)
        })
    }
}

/// An INSTANCE DUMP: field values, the class's own first, then each super class's.
#[derive(Debug, Clone, Copy)]
pub struct InstanceDump<'a> {
    /// The object's id.
    pub id: u64,
    /// Where it was allocated, as a STACK TRACE serial.
    pub stack_trace_serial: u32,
    /// Its class object's id.
    pub class_id: u64,
    /// Its field values, packed as the file has them.
    pub fields: &'a [u8],
}

/// An OBJECT ARRAY DUMP.
#[derive(Debug, Clone, Copy)]
pub struct ObjectArrayDump<'a> {
    /// The array's id.
    pub id: u64,
    /// Where it was allocated, as a STACK TRACE serial.
    pub stack_trace_serial: u32,
    /// Its array class object's id.
    pub class_id: u64,
    /// The elements' ids (0 for null).
    pub elements: Ids<'a>,
}

/// A PRIMITIVE ARRAY DUMP, or Android's PRIMITIVE ARRAY NODATA (`data` is `None`).
#[derive(Debug, Clone, Copy)]
pub struct PrimitiveArrayDump<'a> {
    /// The array's id.
    pub id: u64,
    /// Where it was allocated, as a STACK TRACE serial.
    pub stack_trace_serial: u32,
    /// The element type.
    pub element_type: BasicType,
    /// The number of elements.
    pub length: u32,
    /// The elements, packed big-endian; `None` for NODATA.
    pub data: Option<&'a [u8]>,
}

impl PrimitiveArrayDump<'_> {
    /// Element `i`, decoded; `None` past the end or when the record holds no data.
    pub fn get(&self, i: usize) -> Option<Value> {
        // Primitive elements have the same size whatever the id size.
        let size = self.element_type.size_in_file(IdSize::Eight);
        let at = i.checked_mul(size)?;
        let bytes = self.data?.get(at..at.checked_add(size)?)?;
        Some(Value::read(self.element_type, bytes, IdSize::Eight))
    }
}

/// One heap-dump sub-record.
#[derive(Debug, Clone, Copy)]
pub enum SubRecord<'a> {
    /// A GC root.
    Root(GcRoot),
    /// A class.
    Class(ClassDump<'a>),
    /// An object.
    Instance(InstanceDump<'a>),
    /// An array of references.
    ObjectArray(ObjectArrayDump<'a>),
    /// An array of a primitive type.
    PrimitiveArray(PrimitiveArrayDump<'a>),
    /// Android: the following objects belong to heap `heap_id` (app, image, zygote).
    HeapDumpInfo {
        /// Android's heap number.
        heap_id: u32,
        /// The heap's name, a UTF8 record id.
        name_id: u64,
    },
}

impl SubRecord<'_> {
    /// The id of the object this sub-record dumps, if it dumps one.
    pub fn object_id(&self) -> Option<u64> {
        match self {
            SubRecord::Class(c) => Some(c.id),
            SubRecord::Instance(i) => Some(i.id),
            SubRecord::ObjectArray(a) => Some(a.id),
            SubRecord::PrimitiveArray(a) => Some(a.id),
            SubRecord::Root(_) | SubRecord::HeapDumpInfo { .. } => None,
        }
    }
}

type Parsed<'a, T> = IResult<&'a [u8], T>;

fn typed_entry<'a>(s: IdSize) -> impl Fn(&'a [u8]) -> Parsed<'a, (u64, BasicType)> {
    move |input| {
        let (rest, (name, code)) = (id(s), be_u8).parse(input)?;
        let ty = BasicType::from_code(code)
            .ok_or_else(|| nom::Err::Failure(nom::error::Error::new(input, nom::error::ErrorKind::Verify)))?;
        Ok((rest, (name, ty)))
    }
}

/// `count` entries of (key, u1 type, value), where the key is `key_len` bytes.
fn typed_values(input: &[u8], s: IdSize, key_len: usize, count: u16) -> Parsed<'_, &[u8]> {
    let mut rest = input;
    for _ in 0..count {
        let (after_key, _) = take(key_len)(rest)?;
        let (after_type, code) = be_u8(after_key)?;
        let ty = BasicType::from_code(code)
            .ok_or_else(|| nom::Err::Failure(nom::error::Error::new(after_key, nom::error::ErrorKind::Verify)))?;
        let (after_value, _) = take(ty.size_in_file(s))(after_type)?;
        rest = after_value;
    }
    let used = input.len() - rest.len();
    Ok((rest, &input[..used]))
}

fn class_dump(input: &[u8], s: IdSize) -> Parsed<'_, ClassDump<'_>> {
    let (input, (class_id, stack_trace_serial, super_id, loader_id, signers_id, protection_domain_id)) =
        (id(s), be_u32, id(s), id(s), id(s), id(s)).parse(input)?;
    let (input, (_reserved1, _reserved2, instance_size)) = (id(s), id(s), be_u32).parse(input)?;
    let (input, constant_count) = be_u16(input)?;
    let (input, _constants) = typed_values(input, s, 2, constant_count)?;
    let (input, static_count) = be_u16(input)?;
    let (input, statics) = typed_values(input, s, s.bytes(), static_count)?;
    let (input, field_count) = be_u16(input)?;
    let entry = s.bytes() + 1;
    let (input, fields) = take(field_count as usize * entry)(input)?;
    if fields.chunks_exact(entry).any(|f| BasicType::from_code(f[s.bytes()]).is_none()) {
        return Err(nom::Err::Failure(nom::error::Error::new(fields, nom::error::ErrorKind::Verify)));
    }
    Ok((
        input,
        ClassDump {
            id: class_id,
            stack_trace_serial,
            super_id,
            loader_id,
            signers_id,
            protection_domain_id,
            instance_size,
            statics: StaticFields { bytes: statics, count: static_count, id_size: s },
            fields: FieldDescriptors { bytes: fields, id_size: s },
        },
    ))
}

#[inline]
fn instance_dump(input: &[u8], s: IdSize) -> Parsed<'_, InstanceDump<'_>> {
    let (input, (id, stack_trace_serial, class_id, len)) = (id(s), be_u32, id(s), be_u32).parse(input)?;
    let (input, fields) = take(len as usize)(input)?;
    Ok((input, InstanceDump { id, stack_trace_serial, class_id, fields }))
}

#[inline]
fn object_array_dump(input: &[u8], s: IdSize) -> Parsed<'_, ObjectArrayDump<'_>> {
    let (input, (id, stack_trace_serial, length, class_id)) = (id(s), be_u32, be_u32, id(s)).parse(input)?;
    let (input, elements) = ids(s, length as u64)(input)?;
    Ok((input, ObjectArrayDump { id, stack_trace_serial, class_id, elements }))
}

/// The element count in the header of the array dump (object or primitive, with or without
/// data) that `input` starts with, tag included; `None` for any other sub-record. A shallow
/// size needs no more than this, and skipping the rest of the record makes it cheap to ask
/// for every array of a dump.
pub fn array_dump_length(input: &[u8], s: IdSize) -> Option<u32> {
    let (&t, body) = input.split_first()?;
    if !matches!(t, tag::OBJECT_ARRAY_DUMP | tag::PRIMITIVE_ARRAY_DUMP | tag::PRIMITIVE_ARRAY_NODATA) {
        return None;
    }
    let header: Parsed<'_, u32> = (id(s), be_u32, be_u32).map(|(_, _, length)| length).parse(body);
    header.ok().map(|(_, length)| length)
}

#[inline]
fn primitive_array_header(input: &[u8], s: IdSize) -> Parsed<'_, (u64, u32, u32, BasicType)> {
    let (rest, (id, stack_trace_serial, length, code)) = (id(s), be_u32, be_u32, be_u8).parse(input)?;
    match BasicType::from_code(code) {
        Some(ty) if ty != BasicType::Object => Ok((rest, (id, stack_trace_serial, length, ty))),
        _ => Err(nom::Err::Failure(nom::error::Error::new(input, nom::error::ErrorKind::Verify))),
    }
}

#[inline]
fn primitive_array_dump(input: &[u8], s: IdSize, with_data: bool) -> Parsed<'_, PrimitiveArrayDump<'_>> {
    let (input, (id, stack_trace_serial, length, element_type)) = primitive_array_header(input, s)?;
    let (input, data) = if with_data {
        let n = (length as u64).saturating_mul(element_type.size_in_file(s) as u64);
        let (input, data) = take(usize::try_from(n).unwrap_or(usize::MAX))(input)?;
        (input, Some(data))
    } else {
        (input, None)
    };
    Ok((input, PrimitiveArrayDump { id, stack_trace_serial, element_type, length, data }))
}

fn root<'a>(input: &'a [u8], s: IdSize, t: u8) -> Parsed<'a, GcRoot> {
    let (input, object_id) = id(s)(input)?;
    let (input, kind) = match t {
        tag::ROOT_UNKNOWN => (input, RootKind::Unknown),
        tag::ROOT_JNI_GLOBAL => id(s).map(|global_ref_id| RootKind::JniGlobal { global_ref_id }).parse(input)?,
        tag::ROOT_JNI_LOCAL => (be_u32, be_u32)
            .map(|(thread_serial, f)| RootKind::JniLocal { thread_serial, frame_index: f as i32 })
            .parse(input)?,
        tag::ROOT_JAVA_FRAME => (be_u32, be_u32)
            .map(|(thread_serial, f)| RootKind::JavaFrame { thread_serial, frame_index: f as i32 })
            .parse(input)?,
        tag::ROOT_NATIVE_STACK => be_u32.map(|thread_serial| RootKind::NativeStack { thread_serial }).parse(input)?,
        tag::ROOT_STICKY_CLASS => (input, RootKind::StickyClass),
        tag::ROOT_THREAD_BLOCK => be_u32.map(|thread_serial| RootKind::ThreadBlock { thread_serial }).parse(input)?,
        tag::ROOT_MONITOR_USED => (input, RootKind::MonitorUsed),
        tag::ROOT_THREAD_OBJECT => (be_u32, be_u32)
            .map(|(thread_serial, stack_trace_serial)| RootKind::ThreadObject { thread_serial, stack_trace_serial })
            .parse(input)?,
        tag::ROOT_INTERNED_STRING => (input, RootKind::InternedString),
        tag::ROOT_FINALIZING => (input, RootKind::Finalizing),
        tag::ROOT_DEBUGGER => (input, RootKind::Debugger),
        tag::ROOT_REFERENCE_CLEANUP => (input, RootKind::ReferenceCleanup),
        tag::ROOT_VM_INTERNAL => (input, RootKind::VmInternal),
        tag::ROOT_JNI_MONITOR => (be_u32, be_u32)
            .map(|(thread_serial, stack_depth)| RootKind::JniMonitor { thread_serial, stack_depth })
            .parse(input)?,
        _ => (input, RootKind::Unreachable),
    };
    Ok((input, GcRoot { object_id, kind }))
}

fn heap_dump_info(input: &[u8], s: IdSize) -> Parsed<'_, SubRecord<'_>> {
    (be_u32, id(s)).map(|(heap_id, name_id)| SubRecord::HeapDumpInfo { heap_id, name_id }).parse(input)
}

/// Parses one sub-record (its tag already read) from `input`.
// This and the object parsers are marked inline: the passes over every object live in other
// crates, and thin LTO left them as calls, each returning a whole sub-record through memory.
#[inline]
fn sub_record_body(input: &[u8], s: IdSize, t: u8) -> Parsed<'_, SubRecord<'_>> {
    match t {
        tag::INSTANCE_DUMP => instance_dump(input, s).map(|(i, r)| (i, SubRecord::Instance(r))),
        tag::OBJECT_ARRAY_DUMP => object_array_dump(input, s).map(|(i, r)| (i, SubRecord::ObjectArray(r))),
        tag::PRIMITIVE_ARRAY_DUMP => {
            primitive_array_dump(input, s, true).map(|(i, r)| (i, SubRecord::PrimitiveArray(r)))
        }
        tag::PRIMITIVE_ARRAY_NODATA => {
            primitive_array_dump(input, s, false).map(|(i, r)| (i, SubRecord::PrimitiveArray(r)))
        }
        _ => rare_sub_record_body(input, s, t),
    }
}

/// [`sub_record_body`] for the sub-records a dump has few of (classes, roots): kept out of
/// line, so that the loop over every object stays small enough to inline.
#[inline(never)]
fn rare_sub_record_body(input: &[u8], s: IdSize, t: u8) -> Parsed<'_, SubRecord<'_>> {
    match t {
        tag::CLASS_DUMP => class_dump(input, s).map(|(i, r)| (i, SubRecord::Class(r))),
        tag::HEAP_DUMP_INFO => heap_dump_info(input, s),
        _ => root(input, s, t).map(|(i, r)| (i, SubRecord::Root(r))),
    }
}

/// Whether `t` is a sub-record tag this reader knows.
pub fn is_sub_record_tag(t: u8) -> bool {
    matches!(
        t,
        tag::CLASS_DUMP
            | tag::INSTANCE_DUMP
            | tag::OBJECT_ARRAY_DUMP
            | tag::PRIMITIVE_ARRAY_DUMP
            | tag::PRIMITIVE_ARRAY_NODATA
            | tag::HEAP_DUMP_INFO
    ) || RootKind::name_of_tag(t).is_some()
}

/// Iterates over the sub-records of a heap-dump body, yielding each with its offset in the
/// dump. After an error it yields nothing more: without framing there is no way to resync.
#[derive(Debug, Clone)]
pub struct SubRecords<'a> {
    rest: &'a [u8],
    offset: u64,
    id_size: IdSize,
}

impl<'a> SubRecords<'a> {
    /// Sub-records of `body`, whose first byte sits at `offset` in the dump.
    pub fn new(body: &'a [u8], offset: u64, id_size: IdSize) -> Self {
        SubRecords { rest: body, offset, id_size }
    }

    /// Offset in the dump of the next sub-record to be read.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl<'a> Iterator for SubRecords<'a> {
    type Item = Result<(u64, SubRecord<'a>)>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (&t, body) = self.rest.split_first()?;
        let at = self.offset;
        if !is_sub_record_tag(t) {
            self.rest = &[];
            return Some(Err(Error::new(ErrorKind::UnknownSubRecordTag(t), at)));
        }
        match sub_record_body(body, self.id_size, t) {
            Ok((rest, record)) => {
                self.offset += (self.rest.len() - rest.len()) as u64;
                self.rest = rest;
                Some(Ok((at, record)))
            }
            Err(e) => {
                self.rest = &[];
                let what = sub_record_name(t);
                let kind = match e {
                    nom::Err::Failure(_) => ErrorKind::InvalidType { what },
                    _ => ErrorKind::Overrun { what },
                };
                Some(Err(Error::new(kind, at)))
            }
        }
    }
}
