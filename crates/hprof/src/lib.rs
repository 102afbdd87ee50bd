//! A zero-copy, parallel reader for JVM heap dumps in the HPROF format.
//!
//! [`Dump::open`] maps the file (inflating a gzip-compressed dump first), [`Dump::records`]
//! walks the top-level records lazily, [`Metadata`] gathers the small records (strings,
//! classes, stack traces) in one pass, and a [`HeapPlan`] parses the heap-dump sub-records in
//! parallel. Everything borrows from the mapped bytes; errors carry the offset where the dump
//! went wrong, and a dump cut short is read up to the cut.
//!
//! ```no_run
//! use dumpscan_hprof::{Dump, Metadata, SubRecord};
//!
//! let dump = Dump::open("heap.hprof")?;
//! let meta = Metadata::read(&dump)?;
//! let (per_unit, _truncation) = meta.heap_plan().map_units(dump.id_size(), || 0u64, |n, _, sub| {
//!     if let SubRecord::Instance(_) = sub {
//!         *n += 1;
//!     }
//! })?;
//! println!("{} instances", per_unit.iter().sum::<u64>());
//! # Ok::<(), dumpscan_hprof::Error>(())
//! ```

#![warn(missing_docs)]

mod classes;
mod error;
mod heap;
mod input;
mod metadata;
mod names;
mod parallel;
mod record;
mod summary;
mod text;
mod types;
mod units;

use std::path::Path;

pub use classes::{ClassInfo, ClassTable, SizeModel};
pub use error::{Error, ErrorKind, FileKind, GzipProblem, Result};
pub use heap::{
    array_dump_length, is_sub_record_tag, sub_record_name, tag as sub_tag, ClassDump, FieldDescriptors, GcRoot,
    InstanceDump, ObjectArrayDump, PrimitiveArrayDump, RootKind, StaticFields, SubRecord, SubRecords,
};
pub use input::{Compression, GzipCut};
pub use metadata::{Metadata, ThreadTrace};
pub use names::java_class_name;
pub use parallel::{HeapPlan, Truncation};
pub use record::{record_name, tag as record_tag, Header, Ids, Record, RecordKind, Records, StackFrame};
pub use summary::{write_frame, ArrayTotals, Frame, HistogramRow, Summary, ThreadSummary};
pub use text::{decode_utf8, StringCoding};
pub use types::{BasicType, IdSize, Value};
pub use units::human_bytes;

/// A heap dump, mapped (or inflated) and with its header checked.
pub struct Dump {
    bytes: input::Bytes,
    header: Header,
    compression: Compression,
    cut: Option<GzipCut>,
}

impl Dump {
    /// Opens a dump file, plain or gzip-compressed. A path that names anything but a regular
    /// file (a directory, a named pipe) is an [`ErrorKind::NotAFile`]: read streams with
    /// [`Dump::from_reader`].
    pub fn open(path: impl AsRef<Path>) -> Result<Dump> {
        Dump::open_with_log(path, &|_| {})
    }

    /// Like [`Dump::open`], telling `log` about slow steps such as inflating a compressed dump.
    pub fn open_with_log(path: impl AsRef<Path>, log: &dyn Fn(&str)) -> Result<Dump> {
        Dump::from_opened(input::open(path.as_ref(), log)?)
    }

    /// Reads a whole dump, plain or gzip-compressed, from a stream such as standard input: a
    /// small one into memory, a large one through an unlinked temporary file. `log` hears
    /// about slow steps.
    pub fn from_reader(reader: impl std::io::Read, log: &dyn Fn(&str)) -> Result<Dump> {
        Dump::from_opened(input::read(reader, log)?)
    }

    fn from_opened(opened: input::Opened) -> Result<Dump> {
        let header = Header::parse(opened.bytes.as_slice())?;
        Ok(Dump { bytes: opened.bytes, header, compression: opened.compression, cut: opened.cut })
    }

    /// A dump held in memory (tests, or bytes from elsewhere).
    pub fn from_vec(bytes: Vec<u8>) -> Result<Dump> {
        let header = Header::parse(&bytes)?;
        Ok(Dump { bytes: input::Bytes::Owned(bytes), header, compression: Compression::None, cut: None })
    }

    /// The file header: version, id size, time.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The size of object ids.
    pub fn id_size(&self) -> IdSize {
        self.header.id_size
    }

    /// How the file was stored on disk.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Where a compressed file ends inside a gzip member: the dump was inflated up to the cut,
    /// and its records are read up to there like a plain dump cut short.
    pub fn gzip_cut(&self) -> Option<GzipCut> {
        self.cut
    }

    /// The uncompressed dump.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// The top-level records, lazily.
    pub fn records(&self) -> Records<'_> {
        Records::new(self.bytes(), self.header.len)
    }

    /// The element count of the array dump starting at `offset` (see [`array_dump_length`]).
    pub fn array_length_at(&self, offset: u64) -> Option<u32> {
        let rest = usize::try_from(offset).ok().and_then(|o| self.bytes().get(o..))?;
        array_dump_length(rest, self.id_size())
    }

    /// The sub-record starting at `offset`, as a heap walk reported it.
    pub fn sub_record_at(&self, offset: u64) -> Result<SubRecord<'_>> {
        let rest = usize::try_from(offset).ok().and_then(|o| self.bytes().get(o..)).unwrap_or_default();
        match SubRecords::new(rest, offset, self.id_size()).next() {
            Some(result) => result.map(|(_, sub)| sub),
            None => Err(Error::new(ErrorKind::Overrun { what: "sub-record" }, offset)),
        }
    }
}
