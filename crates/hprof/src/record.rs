//! The file header and top-level records, read lazily over the mapped bytes.

use nom::bytes::complete::{tag, take, take_until};
use nom::number::complete::{be_i32, be_u32, be_u64, be_u8};
use nom::{IResult, Parser};

use crate::error::{Error, ErrorKind, Result};
use crate::types::IdSize;

/// Record tags, named as in the HPROF specification.
pub mod tag {
    /// The UTF8 tag.
    pub const UTF8: u8 = 0x01;
    /// The LOAD CLASS tag.
    pub const LOAD_CLASS: u8 = 0x02;
    /// The UNLOAD CLASS tag.
    pub const UNLOAD_CLASS: u8 = 0x03;
    /// The STACK FRAME tag.
    pub const STACK_FRAME: u8 = 0x04;
    /// The STACK TRACE tag.
    pub const STACK_TRACE: u8 = 0x05;
    /// The ALLOC SITES tag.
    pub const ALLOC_SITES: u8 = 0x06;
    /// The HEAP SUMMARY tag.
    pub const HEAP_SUMMARY: u8 = 0x07;
    /// The START THREAD tag.
    pub const START_THREAD: u8 = 0x0A;
    /// The END THREAD tag.
    pub const END_THREAD: u8 = 0x0B;
    /// The HEAP DUMP tag.
    pub const HEAP_DUMP: u8 = 0x0C;
    /// The CPU SAMPLES tag.
    pub const CPU_SAMPLES: u8 = 0x0D;
    /// The CONTROL SETTINGS tag.
    pub const CONTROL_SETTINGS: u8 = 0x0E;
    /// The HEAP DUMP SEGMENT tag.
    pub const HEAP_DUMP_SEGMENT: u8 = 0x1C;
    /// The HEAP DUMP END tag.
    pub const HEAP_DUMP_END: u8 = 0x2C;
}

/// The name of a record tag, for reports.
pub fn record_name(t: u8) -> &'static str {
    match t {
        tag::UTF8 => "UTF8",
        tag::LOAD_CLASS => "LOAD CLASS",
        tag::UNLOAD_CLASS => "UNLOAD CLASS",
        tag::STACK_FRAME => "STACK FRAME",
        tag::STACK_TRACE => "STACK TRACE",
        tag::ALLOC_SITES => "ALLOC SITES",
        tag::HEAP_SUMMARY => "HEAP SUMMARY",
        tag::START_THREAD => "START THREAD",
        tag::END_THREAD => "END THREAD",
        tag::HEAP_DUMP => "HEAP DUMP",
        tag::CPU_SAMPLES => "CPU SAMPLES",
        tag::CONTROL_SETTINGS => "CONTROL SETTINGS",
        tag::HEAP_DUMP_SEGMENT => "HEAP DUMP SEGMENT",
        tag::HEAP_DUMP_END => "HEAP DUMP END",
        _ => "unknown",
    }
}

/// The file header: `JAVA PROFILE 1.0.x\0`, id size, dump time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `1.0.1`, `1.0.2` or `1.0.3` (Android).
    pub version: String,
    /// Size of object ids.
    pub id_size: IdSize,
    /// Milliseconds since the Unix epoch when the dump was written.
    pub timestamp_ms: u64,
    /// Length of the header in bytes: where the first record starts.
    pub len: usize,
}

const MAGIC: &[u8] = b"JAVA PROFILE ";

fn header_text(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let (input, _) = tag(MAGIC)(input)?;
    let (input, version) = take_until(&b"\0"[..])(input)?;
    let (input, _) = tag(&b"\0"[..])(input)?;
    Ok((input, version))
}

impl Header {
    /// Parses the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Header> {
        let not_hprof = || Error::new(ErrorKind::NotHprof, 0);
        // The version text is short; refuse to scan a huge non-HPROF file for a NUL.
        let window = &data[..data.len().min(64)];
        let (rest, version) = header_text(window).map_err(|_| not_hprof())?;
        let version = std::str::from_utf8(version).map_err(|_| not_hprof())?;
        if !version.starts_with("1.0.") {
            return Err(not_hprof());
        }
        let text_len = window.len() - rest.len();
        let rest = &data[text_len..];
        let (_, (id_size, high, low)) =
            (be_u32, be_u32, be_u32).parse(rest).map_err(|_: nom::Err<nom::error::Error<&[u8]>>| not_hprof())?;
        let id_size = match id_size {
            4 => IdSize::Four,
            8 => IdSize::Eight,
            n => return Err(Error::new(ErrorKind::UnsupportedIdSize(n), text_len as u64)),
        };
        Ok(Header {
            version: version.to_string(),
            id_size,
            timestamp_ms: ((high as u64) << 32) | low as u64,
            len: text_len + 12,
        })
    }
}

/// A top-level record: its tag and body, borrowed from the dump.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The record's tag (see [`mod@tag`]).
    pub tag: u8,
    /// Offset of the record's tag byte in the dump.
    pub offset: u64,
    /// Microseconds since the header's timestamp.
    pub micros: u32,
    /// The body; shorter than declared when `truncated`.
    pub body: &'a [u8],
    /// The dump ends inside this record.
    pub truncated: bool,
}

/// Bytes of a record header: u1 tag, u4 time, u4 length.
pub const RECORD_HEADER_LEN: usize = 9;

impl<'a> Record<'a> {
    /// Offset of the body's first byte in the dump.
    pub fn body_offset(&self) -> u64 {
        self.offset + RECORD_HEADER_LEN as u64
    }

    /// Decodes the body.
    pub fn parse(&self, id_size: IdSize) -> Result<RecordKind<'a>> {
        let at = self.body_offset();
        let overrun = || Error::new(ErrorKind::Overrun { what: record_name(self.tag) }, at);
        let body = self.body;
        let r: IResult<&[u8], RecordKind<'a>> = match self.tag {
            tag::UTF8 => id(id_size)(body).map(|(text, id)| (&[][..], RecordKind::Utf8 { id, text })),
            tag::LOAD_CLASS => load_class(body, id_size),
            tag::UNLOAD_CLASS => be_u32(body).map(|(i, serial)| (i, RecordKind::UnloadClass { class_serial: serial })),
            tag::STACK_FRAME => stack_frame(body, id_size),
            tag::STACK_TRACE => stack_trace(body, id_size),
            tag::START_THREAD => start_thread(body, id_size),
            tag::END_THREAD => be_u32(body).map(|(i, serial)| (i, RecordKind::EndThread { thread_serial: serial })),
            tag::HEAP_DUMP => Ok((&[][..], RecordKind::HeapDump(body))),
            tag::HEAP_DUMP_SEGMENT => Ok((&[][..], RecordKind::HeapDumpSegment(body))),
            tag::HEAP_DUMP_END => Ok((body, RecordKind::HeapDumpEnd)),
            tag::ALLOC_SITES | tag::HEAP_SUMMARY | tag::CPU_SAMPLES | tag::CONTROL_SETTINGS => {
                Ok((&[][..], RecordKind::Other(self.tag, body)))
            }
            t => return Err(Error::new(ErrorKind::UnknownRecordTag(t), self.offset)),
        };
        r.map(|(_, kind)| kind).map_err(|_| overrun())
    }
}

/// A decoded top-level record.
#[derive(Debug, Clone, Copy)]
pub enum RecordKind<'a> {
    /// A string (modified UTF-8) named by `id`: class, field, method and file names.
    Utf8 {
        /// The UTF8 record's id.
        id: u64,
        /// The string's bytes.
        text: &'a [u8],
    },
    /// A class was loaded: its serial, object and name.
    LoadClass {
        /// The class's serial number, which frames name it by.
        class_serial: u32,
        /// The class object's id.
        class_id: u64,
        /// Where the class was loaded.
        stack_trace_serial: u32,
        /// The class's name, a UTF8 record id.
        name_id: u64,
    },
    /// A class was unloaded.
    UnloadClass {
        /// The class's serial number.
        class_serial: u32,
    },
    /// A frame of a stack trace.
    StackFrame(StackFrame),
    /// A thread's stack at dump time.
    StackTrace {
        /// The trace's serial number.
        serial: u32,
        /// The thread's serial number.
        thread_serial: u32,
        /// Its frames' ids, innermost first.
        frames: Ids<'a>,
    },
    /// A thread was started.
    StartThread {
        /// The thread's serial number.
        thread_serial: u32,
        /// The `java.lang.Thread` object's id.
        thread_id: u64,
        /// Its stack trace's serial.
        stack_trace_serial: u32,
        /// Its name, a UTF8 record id.
        name_id: u64,
        /// Its group's name, a UTF8 record id.
        group_name_id: u64,
        /// Its parent group's name, a UTF8 record id.
        parent_group_name_id: u64,
    },
    /// A thread ended.
    EndThread {
        /// The thread's serial number.
        thread_serial: u32,
    },
    /// Sub-records of an old-style dump: one record for the whole heap.
    HeapDump(&'a [u8]),
    /// Sub-records of one segment of a HotSpot dump.
    HeapDumpSegment(&'a [u8]),
    /// The end of a segmented heap dump.
    HeapDumpEnd,
    /// ALLOC SITES, HEAP SUMMARY, CPU SAMPLES, CONTROL SETTINGS: known, not used here.
    Other(u8, &'a [u8]),
}

/// One frame of a stack trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackFrame {
    /// The frame's id.
    pub frame_id: u64,
    /// The method's name, a UTF8 record id.
    pub method_name_id: u64,
    /// The method's signature, a UTF8 record id.
    pub signature_id: u64,
    /// The source file's name, a UTF8 record id.
    pub source_file_id: u64,
    /// The class's serial (LOAD CLASS).
    pub class_serial: u32,
    /// Line number; -1 unknown, -2 compiled, -3 native.
    pub line: i32,
}

/// A packed list of ids, decoded on demand.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) id_size: IdSize,
}

impl<'a> Ids<'a> {
    /// How many ids.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.id_size.bytes()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id at `index`.
    pub fn get(&self, index: usize) -> Option<u64> {
        let n = self.id_size.bytes();
        self.bytes.get(index * n..index * n + n).map(|b| self.id_size.read(b))
    }

    /// Every id, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + 'a {
        let id_size = self.id_size;
        self.bytes.chunks_exact(id_size.bytes()).map(move |b| id_size.read(b))
    }
}

/// Parser for one id of the dump's size.
#[inline]
pub(crate) fn id<'a>(size: IdSize) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], u64> {
    move |input| match size {
        IdSize::Four => be_u32(input).map(|(i, v)| (i, v as u64)),
        IdSize::Eight => be_u64(input),
    }
}

/// Parser for `count` packed ids.
#[inline]
pub(crate) fn ids<'a>(size: IdSize, count: u64) -> impl Fn(&'a [u8]) -> IResult<&'a [u8], Ids<'a>> {
    move |input| {
        let n = count.saturating_mul(size.bytes() as u64);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        take(n)(input).map(|(i, bytes)| (i, Ids { bytes, id_size: size }))
    }
}

fn load_class(input: &[u8], s: IdSize) -> IResult<&[u8], RecordKind<'_>> {
    let (input, (class_serial, class_id, stack_trace_serial, name_id)) = (be_u32, id(s), be_u32, id(s)).parse(input)?;
    Ok((input, RecordKind::LoadClass { class_serial, class_id, stack_trace_serial, name_id }))
}

fn stack_frame(input: &[u8], s: IdSize) -> IResult<&[u8], RecordKind<'_>> {
    let (input, (frame_id, method_name_id, signature_id, source_file_id, class_serial, line)) =
        (id(s), id(s), id(s), id(s), be_u32, be_i32).parse(input)?;
    Ok((
        input,
        RecordKind::StackFrame(StackFrame {
            frame_id,
            method_name_id,
            signature_id,
            source_file_id,
            class_serial,
            line,
        }),
    ))
}

fn stack_trace(input: &[u8], s: IdSize) -> IResult<&[u8], RecordKind<'_>> {
    let (input, (serial, thread_serial, count)) = (be_u32, be_u32, be_u32).parse(input)?;
    let (input, frames) = ids(s, count as u64)(input)?;
    Ok((input, RecordKind::StackTrace { serial, thread_serial, frames }))
}

fn start_thread(input: &[u8], s: IdSize) -> IResult<&[u8], RecordKind<'_>> {
    let (input, (thread_serial, thread_id, stack_trace_serial, name_id, group_name_id, parent_group_name_id)) =
        (be_u32, id(s), be_u32, id(s), id(s), id(s)).parse(input)?;
    Ok((
        input,
        RecordKind::StartThread {
            thread_serial,
            thread_id,
            stack_trace_serial,
            name_id,
            group_name_id,
            parent_group_name_id,
        },
    ))
}

fn record_header(input: &[u8]) -> IResult<&[u8], (u8, u32, u32)> {
    (be_u8, be_u32, be_u32).parse(input)
}

/// Iterates over the top-level records after the header. A record whose declared length runs
/// past the end of the file is returned once, cut short and marked `truncated`, and ends the
/// iteration: that is what a dump cut off by a full disk looks like.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Records<'a> {
    pub(crate) fn new(data: &'a [u8], start: usize) -> Self {
        Records { data, pos: start }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        let offset = self.pos as u64;
        let Ok((body_start, (tag, micros, len))) = record_header(rest) else {
            // Fewer than nine bytes left: a record header cut in the middle.
            self.pos = self.data.len();
            return Some(Record { tag: rest[0], offset, micros: 0, body: &[], truncated: true });
        };
        let len = len as usize;
        let (body, truncated) = match body_start.get(..len) {
            Some(body) => (body, false),
            None => (body_start, true),
        };
        self.pos = if truncated { self.data.len() } else { self.pos + RECORD_HEADER_LEN + len };
        Some(Record { tag, offset, micros, body, truncated })
    }
}
