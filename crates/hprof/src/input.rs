//! Getting a dump's bytes into memory: a read-only map of the file, or for a gzip-compressed
//! dump, an inflated copy (in memory when it is known to be small, else in an unlinked
//! temporary file, mapped).
//!
//! `jcmd PID GC.heap_dump -gz=N` writes the dump as independent gzip members of at most a block
//! each (the first member's header comment says `HPROF BLOCKSIZE=N`). Nothing marks where a
//! member ends but its own deflate stream, so the members are found by their headers, each is
//! inflated in parallel into the room its trailer asks for, and each must end exactly where
//! the next was found to start: then the result is byte for byte what inflating the members
//! one after the other gives. When that does not hold, they are inflated one after the other.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, FileKind, GzipProblem, Result};
use crate::units::human_bytes;

/// An inflated dump of at most this many bytes, as the gzip trailers tell it, is held in
/// memory; a larger one goes to an unlinked temporary file. A single stream's trailer gives its
/// size modulo 2^32, and a cut or crafted file's gives any number, so the sequential inflater
/// also moves to the file when the dump grows past this, whatever the trailer said.
const IN_MEMORY_LIMIT: u64 = 256 << 20;

/// Standard input up to this size is read into memory; a longer stream is spooled to an
/// unlinked temporary file (the compressed bytes, before they are inflated).
const STREAM_IN_MEMORY: u64 = 32 << 20;

/// What the inflater hands on at a time.
const CHUNK: usize = 256 << 10;

/// The gzip magic bytes and the deflate method, which every member's header starts with.
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The bytes of an uncompressed dump, however they were obtained.
pub(crate) enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// How the file on disk was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain dump.
    None,
    /// One gzip stream (`gzip heap.hprof`), or members inflated one after the other.
    Gzip,
    /// Independent gzip members of at most a block each, as `jcmd GC.heap_dump -gz=N` writes
    /// them, inflated in parallel.
    GzipBlocks {
        /// The largest member's inflated size.
        block_size: u64,
        /// How many members.
        members: usize,
    },
}

fn io_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Io(e), 0)
}

/// A failed write of the inflated dump to its temporary file (a full disk, a file size limit):
/// an I/O error that says where.
fn temp_file_error(e: io::Error) -> Error {
    let dir = std::env::temp_dir();
    let message = format!("writing the inflated dump to a temporary file in {}: {e}", dir.display());
    io_error(io::Error::new(e.kind(), message))
}

fn gzip_error(problem: GzipProblem, compressed_offset: usize, inflated_offset: u64) -> Error {
    Error::new(ErrorKind::Gzip { problem, compressed_offset: compressed_offset as u64 }, inflated_offset)
}

/// A compressed dump whose file ends inside a gzip stream: it was cut short (a full disk, a
/// copy stopped early). What was there has been inflated and is read like a plain dump cut
/// short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipCut {
    /// Length of the compressed file: the cut, as an offset in it.
    pub compressed_len: u64,
    /// Bytes inflated from it: the inflated dump ends here.
    pub inflated_len: u64,
}

/// A dump's bytes, uncompressed, and how they were stored.
pub(crate) struct Opened {
    pub(crate) bytes: Bytes,
    pub(crate) compression: Compression,
    pub(crate) cut: Option<GzipCut>,
}

/// Opens the file at `path`, inflating it first if it is gzip-compressed (recognised by its
/// magic bytes). Only regular files: anything else is refused before it is opened, since
/// opening a named pipe with no writer blocks. `log` hears what is going on, for `-v`.
pub(crate) fn open(path: &Path, log: &dyn Fn(&str)) -> Result<Opened> {
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::NotAFile(FileKind::of(metadata.file_type())), 0));
    }
    let file = File::open(path).map_err(io_error)?;
    decode(map_file(&file)?, IN_MEMORY_LIMIT, log)
}

/// Reads a whole dump from a stream (standard input, a pipe), plain or gzip-compressed: a
/// small one into memory, a large one spooled to an unlinked temporary file, then decoded as
/// a file would be.
pub(crate) fn read(mut reader: impl Read, log: &dyn Fn(&str)) -> Result<Opened> {
    let mut head = Vec::new();
    (&mut reader).take(STREAM_IN_MEMORY).read_to_end(&mut head).map_err(io_error)?;
    if (head.len() as u64) < STREAM_IN_MEMORY {
        return decode(Bytes::Owned(head), IN_MEMORY_LIMIT, log);
    }
    log("spooling the dump from the stream to a temporary file");
    let mut tmp = tempfile::tempfile().map_err(temp_file_error)?;
    let mut writer = io::BufWriter::with_capacity(1 << 20, &mut tmp);
    writer.write_all(&head).map_err(temp_file_error)?;
    drop(head);
    io::copy(&mut reader, &mut writer).map_err(io_error)?;
    writer.flush().map_err(temp_file_error)?;
    drop(writer);
    decode(map_file(&tmp)?, IN_MEMORY_LIMIT, log)
}

/// The file's bytes, mapped read-only.
fn map_file(file: &File) -> Result<Bytes> {
    if file.metadata().map_err(io_error)?.len() == 0 {
        return Ok(Bytes::Owned(Vec::new()));
    }
    // SAFETY: the map is read-only; like every tool that maps its input, we rely on the file
    // not being truncated underneath us while we read it.
    Ok(Bytes::Mapped(unsafe { Mmap::map(file) }.map_err(io_error)?))
}

/// The dump in `raw`, inflated first if it is gzip-compressed; at most `memory_limit` inflated
/// bytes are held in memory.
fn decode(raw: Bytes, memory_limit: u64, log: &dyn Fn(&str)) -> Result<Opened> {
    let data = raw.as_slice();
    if !data.starts_with(&GZIP_MAGIC[..2]) {
        #[cfg(unix)]
        if let Bytes::Mapped(map) = &raw {
            let _ = map.advise(memmap2::Advice::WillNeed);
        }
        return Ok(Opened { bytes: raw, compression: Compression::None, cut: None });
    }
    match Members::find(data) {
        Ok(members) => match members.inflate(data, memory_limit, log) {
            Ok(opened) => return Ok(opened),
            // A full disk stays full: no second attempt.
            Err(e) if matches!(e.kind, ErrorKind::Io(_)) => return Err(e),
            Err(e) => log(&format!("the gzip members cannot be inflated in parallel ({e}); inflating them in turn")),
        },
        Err(NoMembers::NotJcmd) => {}
        Err(NoMembers::Unclear(why)) => {
            log(&format!("the gzip members cannot be told apart ({why}); inflating them in turn"))
        }
    }
    inflate_in_turn(data, memory_limit, log)
}

/// Inflates the gzip members in `data` one after the other: into memory while the dump is
/// known to be small and stays so, else into a temporary file. Input that ends inside a
/// member is a cut, not an error: what came before it is kept.
fn inflate_in_turn(data: &[u8], memory_limit: u64, log: &dyn Fn(&str)) -> Result<Opened> {
    let trailer = data.len().checked_sub(4).map_or(0, |at| isize_at(data, at + 4));
    let mut sink = Spill::new(trailer, memory_limit);
    log(&format!(
        "inflating gzip dump into {} (its trailer says {})",
        if sink.file.is_none() { "memory" } else { "a temporary file" },
        human_bytes(trailer)
    ));
    let mut start = 0;
    let mut inflated = 0u64;
    let cut = loop {
        let (n, ending) = inflate_member(data, start, inflated, &mut |bytes| sink.put(bytes, log))?;
        inflated = inflated.saturating_add(n);
        match ending {
            Ending::Cut => break true,
            Ending::Whole { end } => match follows(data, end) {
                Follows::Nothing => break false,
                Follows::Member => start = end,
                Follows::Garbage => return Err(gzip_error(GzipProblem::TrailingData, end, inflated)),
            },
        }
    };
    let cut = cut.then_some(GzipCut { compressed_len: data.len() as u64, inflated_len: inflated });
    Ok(Opened { bytes: sink.finish()?, compression: Compression::Gzip, cut })
}

/// Where the sequential inflater writes: memory while the dump fits under the limit, then an
/// unlinked temporary file (what was in memory moves there).
struct Spill {
    memory: Vec<u8>,
    file: Option<io::BufWriter<File>>,
    limit: u64,
}

impl Spill {
    /// Straight to a file when the trailer already says the dump is too large for memory.
    fn new(trailer: u64, limit: u64) -> Spill {
        let mut memory = Vec::new();
        let file = if trailer > limit || memory.try_reserve_exact(trailer as usize).is_err() {
            tempfile::tempfile().ok().map(|f| io::BufWriter::with_capacity(1 << 20, f))
        } else {
            None
        };
        Spill { memory, file, limit }
    }

    fn put(&mut self, bytes: &[u8], log: &dyn Fn(&str)) -> Result<()> {
        if self.file.is_none() {
            let len = self.memory.len().saturating_add(bytes.len());
            // Growth by doubling, but never past the limit: memory holds at most that.
            let room = len <= self.memory.capacity()
                || (len as u64 <= self.limit && {
                    let wanted = (self.memory.capacity().saturating_mul(2)).clamp(len, self.limit as usize);
                    self.memory.try_reserve_exact(wanted - self.memory.len()).is_ok()
                });
            if room {
                self.memory.extend_from_slice(bytes);
                return Ok(());
            }
            log(&format!(
                "the inflated dump passed {}: moving it to a temporary file",
                human_bytes(self.memory.len() as u64)
            ));
            let mut file = io::BufWriter::with_capacity(1 << 20, tempfile::tempfile().map_err(temp_file_error)?);
            file.write_all(&self.memory).map_err(temp_file_error)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("the file was just made");
        file.write_all(bytes).map_err(temp_file_error)
    }

    fn finish(self) -> Result<Bytes> {
        match self.file {
            None => Ok(Bytes::Owned(self.memory)),
            Some(writer) => {
                let file = writer.into_inner().map_err(|e| temp_file_error(e.into_error()))?;
                map_file(&file)
            }
        }
    }
}

/// How the inflation of one gzip member ended.
enum Ending {
    /// Its trailer was read and checked (CRC and length); the next byte of the file is `end`.
    Whole { end: usize },
    /// The file ends inside the member.
    Cut,
}

/// Inflates the gzip member starting at `data[start]`, handing what it inflates to `sink`;
/// returns how many bytes that was and how the member ended. `dump_offset`, where its bytes
/// go in the inflated dump, and the decoder's position in `data` are what an error names.
fn inflate_member(
    data: &[u8],
    start: usize,
    dump_offset: u64,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<(u64, Ending)> {
    let mut decoder = flate2::bufread::GzDecoder::new(&data[start..]);
    let mut buf = vec![0u8; CHUNK];
    let mut inflated = 0u64;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok((inflated, Ending::Whole { end: data.len() - decoder.get_ref().len() })),
            Ok(n) => {
                sink(&buf[..n])?;
                inflated = inflated.saturating_add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((inflated, Ending::Cut)),
            Err(e) => {
                let at = data.len() - decoder.get_ref().len();
                return Err(gzip_error(GzipProblem::Corrupt(e.to_string()), at, dump_offset.saturating_add(inflated)));
            }
        }
    }
}

/// What the file holds after a gzip member that ends at `end`.
enum Follows {
    /// Nothing, or zeros: padding, which `gzip -d` ignores too.
    Nothing,
    /// Another member, or the start of one cut short.
    Member,
    Garbage,
}

fn follows(data: &[u8], end: usize) -> Follows {
    let rest = &data[end..];
    if rest.iter().all(|&b| b == 0) {
        Follows::Nothing
    } else if rest.starts_with(&GZIP_MAGIC[..rest.len().min(3)]) {
        Follows::Member
    } else {
        Follows::Garbage
    }
}

/// The little-endian 32-bit number that ends at `end` (a trailer's ISIZE, or its CRC).
fn isize_at(data: &[u8], end: usize) -> u64 {
    let b = &data[end - 4..end];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64
}

/// Why a compressed file is not read as members in parallel.
enum NoMembers {
    /// No `HPROF BLOCKSIZE` comment: one gzip stream, as `gzip` writes.
    NotJcmd,
    /// jcmd's comment, but the members could not be found; why, for `-v`.
    Unclear(String),
}

/// The members of a jcmd-style gzip dump.
struct Members {
    /// From the first member's `HPROF BLOCKSIZE=N` comment: the most a member inflates to.
    block_size: u64,
    /// Offset of each member in the compressed file.
    starts: Vec<usize>,
    /// What each member but the last inflates to, from its trailer (ISIZE, the 4 bytes before
    /// the next member). Checked as each is inflated.
    sizes: Vec<u64>,
}

impl Members {
    /// Finds the members by their headers: jcmd gives every member the first one's time and
    /// compression level, and either no flags or the first one's whole header with its
    /// comment (which HotSpot repeats at the start of each file its dump threads wrote, and
    /// JDK 17 in its second member). Those bytes could also occur inside deflate data, which
    /// is why the inflation checks that each member ends where the next one starts.
    fn find(data: &[u8]) -> Result<Members, NoMembers> {
        const FCOMMENT: u8 = 16;
        let block_size = block_size_comment(data).ok_or(NoMembers::NotJcmd)?;
        let first_len = Header::parse(data).ok_or_else(|| NoMembers::Unclear("a cut first header".into()))?.len;
        let first_header = &data[..first_len];
        let is_member = |p: usize| {
            let header = &data[p..];
            header.len() >= 10
                && header[4..9] == data[4..9]
                && match header[3] {
                    0 => true,
                    FCOMMENT => header.starts_with(first_header),
                    _ => false,
                }
        };
        let rest = &data[first_len..];
        let starts: Vec<usize> = std::iter::once(0)
            .chain(memchr::memmem::find_iter(rest, &GZIP_MAGIC).map(|p| first_len + p).filter(|&p| is_member(p)))
            .collect();
        let mut sizes = Vec::with_capacity(starts.len());
        for pair in starts.windows(2) {
            // A member has at least a 10-byte header, an empty deflate block and its trailer.
            if pair[1] < pair[0] + 20 {
                return Err(NoMembers::Unclear(format!("gzip headers overlap at byte {}", pair[1])));
            }
            sizes.push(isize_at(data, pair[1]));
        }
        Ok(Members { block_size, starts, sizes })
    }

    /// Inflates every member into its place, in parallel: into memory when the trailers say
    /// the dump fits under `memory_limit`, else into a temporary file.
    fn inflate(&self, data: &[u8], memory_limit: u64, log: &dyn Fn(&str)) -> Result<Opened> {
        let last = self.starts.len() - 1;
        // Where each member's bytes go; the last one's room is a block, what jcmd writes at most.
        let mut offsets = Vec::with_capacity(self.starts.len());
        let mut whole = 0u64;
        for &size in &self.sizes {
            offsets.push(whole);
            // Trailers of a crafted file can add up to anything: a sum that saturates fits
            // nowhere, and the members' own sizes are checked as they inflate.
            whole = whole.saturating_add(size);
        }
        offsets.push(whole);
        let capacity = whole.saturating_add(self.block_size);
        let mut memory = Vec::new();
        let in_memory = capacity <= memory_limit && memory.try_reserve_exact(capacity as usize).is_ok();
        log(&format!(
            "inflating gzip dump: {} members of up to {} in parallel into {} ({})",
            self.starts.len(),
            human_bytes(self.block_size),
            if in_memory { "memory" } else { "a temporary file" },
            human_bytes(capacity)
        ));
        let room = |i: usize| self.sizes.get(i).copied().unwrap_or(self.block_size);
        let span_end = |i: usize| self.starts.get(i + 1).copied().unwrap_or(data.len());
        let (tail, cut, bytes) = if in_memory {
            memory.resize(capacity as usize, 0);
            let mut slots = Vec::with_capacity(self.starts.len());
            let mut rest = &mut memory[..];
            for i in 0..=last {
                let (slot, after) = rest.split_at_mut((room(i) as usize).min(rest.len()));
                slots.push(slot);
                rest = after;
            }
            let ends: Vec<(u64, Ending)> = slots
                .into_par_iter()
                .enumerate()
                .map(|(i, slot)| {
                    let mut at = 0;
                    let mut put = |bytes: &[u8]| match slot.get_mut(at..at + bytes.len()) {
                        Some(place) => {
                            place.copy_from_slice(bytes);
                            at += bytes.len();
                            Ok(())
                        }
                        None => {
                            Err(gzip_error(GzipProblem::SizeMismatch { trailer: room(i) }, span_end(i), offsets[i]))
                        }
                    };
                    inflate_member(&data[..span_end(i)], self.starts[i], offsets[i], &mut put)
                })
                .collect::<Result<_>>()?;
            let (tail, cut) = self.check(data, &offsets, ends)?;
            memory.truncate((whole + tail) as usize);
            (tail, cut, Bytes::Owned(memory))
        } else {
            drop(memory);
            let file = tempfile::tempfile().map_err(temp_file_error)?;
            let ends: Vec<(u64, Ending)> = (0..=last)
                .into_par_iter()
                .map(|i| {
                    let mut at = offsets[i];
                    let limit = offsets[i].saturating_add(room(i));
                    let mut put = |bytes: &[u8]| {
                        let next = at.saturating_add(bytes.len() as u64);
                        if next > limit {
                            return Err(gzip_error(
                                GzipProblem::SizeMismatch { trailer: room(i) },
                                span_end(i),
                                offsets[i],
                            ));
                        }
                        write_at(&file, bytes, at).map_err(temp_file_error)?;
                        at = next;
                        Ok(())
                    };
                    inflate_member(&data[..span_end(i)], self.starts[i], offsets[i], &mut put)
                })
                .collect::<Result<_>>()?;
            let (tail, cut) = self.check(data, &offsets, ends)?;
            file.set_len(whole + tail).map_err(temp_file_error)?;
            (tail, cut, map_file(&file)?)
        };
        let inflated_len = whole + tail;
        let cut = cut.then_some(GzipCut { compressed_len: data.len() as u64, inflated_len });
        let compression = Compression::GzipBlocks { block_size: self.block_size, members: self.starts.len() };
        Ok(Opened { bytes, compression, cut })
    }

    /// Checks that every member but the last inflated to its trailer's size and ended where
    /// the next one starts, and that the last one ends the file (zero padding aside) or was
    /// cut. Returns what the last one inflated to, and whether it was cut.
    fn check(&self, data: &[u8], offsets: &[u64], ends: Vec<(u64, Ending)>) -> Result<(u64, bool)> {
        let last = self.starts.len() - 1;
        let mut tail = (0, false);
        for (i, (inflated, ending)) in ends.into_iter().enumerate() {
            let next = self.starts.get(i + 1).copied();
            match (ending, next) {
                (Ending::Whole { end }, Some(next)) if end == next => {
                    if inflated != self.sizes[i] {
                        let problem = GzipProblem::SizeMismatch { trailer: self.sizes[i] };
                        return Err(gzip_error(problem, next, offsets[i]));
                    }
                }
                (_, Some(next)) => {
                    let problem = GzipProblem::Boundary { next_member: next as u64 };
                    return Err(gzip_error(problem, self.starts[i], offsets[i]));
                }
                (Ending::Whole { end }, None) => match follows(data, end) {
                    Follows::Nothing => tail = (inflated, false),
                    // A member jcmd's headers did not reveal, or the start of one cut short:
                    // the sequential inflater reads on.
                    Follows::Member | Follows::Garbage => {
                        return Err(gzip_error(GzipProblem::TrailingData, end, offsets[last].saturating_add(inflated)))
                    }
                },
                (Ending::Cut, None) => tail = (inflated, true),
            }
        }
        Ok(tail)
    }
}

/// Writes `bytes` at `offset` in `file`, which several threads write at once, each its own
/// range.
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < bytes.len() {
            let n = std::os::windows::fs::FileExt::seek_write(file, &bytes[done..], offset + done as u64)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// A gzip member's header (RFC 1952): 10 bytes, then the optional extra field, name, comment
/// and header CRC its flags announce.
struct Header<'a> {
    len: usize,
    comment: Option<&'a [u8]>,
}

impl Header<'_> {
    /// The header at the start of `data`, if it is all there.
    fn parse(data: &[u8]) -> Option<Header<'_>> {
        const FHCRC: u8 = 2;
        const FEXTRA: u8 = 4;
        const FNAME: u8 = 8;
        const FCOMMENT: u8 = 16;
        if !data.starts_with(&GZIP_MAGIC) || data.len() < 10 {
            return None;
        }
        let flags = data[3];
        let mut pos = 10usize;
        if flags & FEXTRA != 0 {
            let xlen = u16::from_le_bytes([*data.get(pos)?, *data.get(pos + 1)?]) as usize;
            pos = pos.checked_add(2 + xlen)?;
        }
        // A zero-terminated string from `pos`, and where it ends.
        let string = |pos: usize| -> Option<(&[u8], usize)> {
            let text = data.get(pos..)?;
            let len = memchr::memchr(0, text)?;
            Some((&text[..len], pos.checked_add(len + 1)?))
        };
        if flags & FNAME != 0 {
            pos = string(pos)?.1;
        }
        let mut comment = None;
        if flags & FCOMMENT != 0 {
            let (text, end) = string(pos)?;
            comment = Some(text);
            pos = end;
        }
        if flags & FHCRC != 0 {
            pos = pos.checked_add(2)?;
        }
        (pos <= data.len()).then_some(Header { len: pos, comment })
    }
}

/// The block size from a `HPROF BLOCKSIZE=N` comment in the first gzip member's header.
fn block_size_comment(data: &[u8]) -> Option<u64> {
    let comment = Header::parse(data)?.comment?;
    let value = std::str::from_utf8(comment).ok()?.strip_prefix("HPROF BLOCKSIZE=")?;
    value.trim().parse().ok().filter(|&n| n > 0 && n <= u32::MAX as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that compress, but not to nothing: a counter's digits.
    fn sample(len: usize) -> Vec<u8> {
        (0u64..).flat_map(|i| i.to_string().into_bytes()).take(len).collect()
    }

    fn gzip_member(data: &[u8], comment: Option<String>) -> Vec<u8> {
        let mut builder = flate2::GzBuilder::new();
        if let Some(comment) = comment {
            builder = builder.comment(comment);
        }
        let mut encoder = builder.write(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// A jcmd-style file: one member per block, the block size in the first one's comment.
    fn gzip_blocks(data: &[u8], block: usize) -> Vec<u8> {
        let sizes = vec![block; data.len().div_ceil(block)];
        gzip_members(data, block, &sizes, &[])
    }

    /// Members of the given sizes (the last takes the rest); those in `commented` carry the
    /// block-size comment as well as the first, as where HotSpot joins its threads' files.
    fn gzip_members(data: &[u8], block: usize, sizes: &[usize], commented: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = data;
        for (i, &size) in sizes.iter().enumerate() {
            let (chunk, after) = rest.split_at(if i + 1 == sizes.len() { rest.len() } else { size.min(rest.len()) });
            let comment = (i == 0 || commented.contains(&i)).then(|| format!("HPROF BLOCKSIZE={block}"));
            out.extend(gzip_member(chunk, comment));
            rest = after;
        }
        out
    }

    fn decoded_with(raw: Vec<u8>, limit: u64) -> (Opened, Vec<String>) {
        let logged = std::cell::RefCell::new(Vec::new());
        let opened = decode(Bytes::Owned(raw), limit, &|m| logged.borrow_mut().push(m.to_string())).unwrap();
        (opened, logged.into_inner())
    }

    fn decoded(raw: Vec<u8>) -> Opened {
        decoded_with(raw, IN_MEMORY_LIMIT).0
    }

    #[test]
    fn a_cut_gzip_file_inflates_up_to_the_cut() {
        let data = sample(3 << 20);
        for (name, whole) in [("one stream", gzip_member(&data, None)), ("jcmd blocks", gzip_blocks(&data, 1 << 18))] {
            assert_eq!(decoded(whole.clone()).cut, None, "{name}: whole");
            for cut in [whole.len() / 3, whole.len() / 2 + 7, whole.len() - 3] {
                let opened = decoded(whole[..cut].to_vec());
                let got = opened.bytes.as_slice();
                let expected = GzipCut { compressed_len: cut as u64, inflated_len: got.len() as u64 };
                assert_eq!(opened.cut, Some(expected), "{name} cut at {cut}");
                assert!(got.len() > data.len() / 4 && data.starts_with(got), "{name} cut at {cut}: a prefix");
            }
        }
    }

    #[test]
    fn a_cut_jcmd_file_keeps_its_blocks_in_parallel() {
        let data = sample(2 << 20);
        let whole = gzip_blocks(&data, 1 << 18);
        let cut = whole.len() - 1000;
        for limit in [IN_MEMORY_LIMIT, 0] {
            let (opened, log) = decoded_with(whole[..cut].to_vec(), limit);
            assert!(matches!(opened.compression, Compression::GzipBlocks { members: 8, .. }), "{log:?}");
            let bytes = opened.bytes.as_slice();
            assert_eq!(opened.cut.map(|c| c.inflated_len), Some(bytes.len() as u64));
            assert!(data.starts_with(bytes) && bytes.len() > 7 << 18);
        }
    }

    #[test]
    fn members_of_any_size_inflate_in_parallel() {
        // Members short of the block by a few bytes or by most of it, one of 9 bytes, and some
        // starting with the comment again: the second one (as JDK 17's jcmd writes them) and
        // the first of each run a thread of JDK 25's parallel dump wrote.
        let block = 1 << 16;
        let sizes = [block, block - 154, block - 37, 9, block, block - 1, 40_000, block, 1000];
        let total = sizes[..sizes.len() - 1].iter().sum::<usize>() + 777;
        let data = sample(total);
        let raw = gzip_members(&data, block, &sizes, &[1, 3, 6]);
        for (limit, place) in [(IN_MEMORY_LIMIT, "memory"), (0, "a temporary file")] {
            let (opened, log) = decoded_with(raw.clone(), limit);
            assert_eq!(opened.compression, Compression::GzipBlocks { block_size: block as u64, members: 9 }, "{log:?}");
            assert!(opened.bytes.as_slice() == &data[..], "{place}: the same bytes");
            assert_eq!(opened.cut, None);
            assert!(log.len() == 1 && log[0].contains(&format!("in parallel into {place}")), "{log:?}");
        }
    }

    #[test]
    fn zeros_after_the_last_member_are_padding() {
        let data = sample(300_000);
        for (name, mut raw) in [("one stream", gzip_member(&data, None)), ("jcmd blocks", gzip_blocks(&data, 1 << 16))]
        {
            raw.extend([0u8; 1000]);
            let (opened, log) = decoded_with(raw.clone(), IN_MEMORY_LIMIT);
            assert!(opened.bytes.as_slice() == &data[..] && opened.cut.is_none(), "{name}: {log:?}");
            assert!(log.iter().all(|m| !m.contains("in turn")), "{name}: {log:?}");
            // Anything else after it is an error that says where.
            raw.extend(b"junk");
            let e = decode(Bytes::Owned(raw.clone()), IN_MEMORY_LIMIT, &|_| {}).err().expect(name);
            let at = (raw.len() - 1004) as u64;
            match e.kind {
                ErrorKind::Gzip { problem: GzipProblem::TrailingData, compressed_offset } => {
                    assert_eq!((compressed_offset, e.offset), (at, data.len() as u64), "{name}")
                }
                _ => panic!("{name}: {e}"),
            }
        }
    }

    #[test]
    fn damage_inside_a_gzip_stream_names_both_offsets() {
        let data = sample(1 << 20);
        for (name, mut raw) in [("one stream", gzip_member(&data, None)), ("jcmd blocks", gzip_blocks(&data, 1 << 17))]
        {
            let middle = raw.len() / 2;
            raw[middle..middle + 64].fill(0xA5);
            let e = decode(Bytes::Owned(raw), IN_MEMORY_LIMIT, &|_| {}).err().expect(name);
            let ErrorKind::Gzip { compressed_offset, .. } = e.kind else { panic!("{name}: {e}") };
            assert!(compressed_offset >= middle as u64 && e.offset > 0, "{name}: {e}");
            let text = e.to_string();
            assert!(text.contains(&format!("at byte {compressed_offset} of the compressed file")), "{text}");
            assert!(text.contains(&format!("(byte offset {} of the inflated dump)", e.offset)), "{text}");
        }
    }

    #[test]
    fn only_what_the_trailers_call_small_is_inflated_into_memory() {
        let data = sample(1 << 20);
        let stream = gzip_member(&data, None);
        // The trailer says 1 MiB: over a limit of 512 KiB, straight to a file.
        let (opened, log) = decoded_with(stream.clone(), 512 << 10);
        assert!(matches!(opened.bytes, Bytes::Mapped(_)) && opened.bytes.as_slice() == &data[..], "{log:?}");
        assert!(log[0].contains("into a temporary file"), "{log:?}");
        // A trailer that tells only part of the story (one modulo 2^32 can, and so does the
        // last of several plain members): memory up to the limit, then the file.
        let mut two = gzip_member(&data[..900_000], None);
        two.extend(gzip_member(&data[900_000..], None));
        let (opened, log) = decoded_with(two, 512 << 10);
        assert!(log[0].contains("into memory") && log.iter().any(|m| m.contains("moving it to a temporary file")));
        assert!(matches!(opened.bytes, Bytes::Mapped(_)) && opened.bytes.as_slice() == &data[..], "{log:?}");
        // Members whose trailers add up to more than the limit go to a file as well.
        let (opened, log) = decoded_with(gzip_blocks(&data, 1 << 16), 512 << 10);
        assert!(matches!(opened.bytes, Bytes::Mapped(_)) && opened.bytes.as_slice() == &data[..], "{log:?}");
    }

    #[test]
    fn a_stream_is_read_like_a_file() {
        let data = sample(100_000);
        let opened = read(&gzip_member(&data, None)[..], &|_| {}).unwrap();
        assert_eq!(opened.compression, Compression::Gzip);
        assert!(opened.bytes.as_slice() == &data[..]);
        assert!(read(&data[..], &|_| {}).unwrap().bytes.as_slice() == &data[..]);
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let refused = |path: &Path| match open(path, &|_| {}) {
            Err(Error { kind: ErrorKind::NotAFile(kind), .. }) => kind,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("{} opened", path.display()),
        };
        assert_eq!(refused(dir.path()), FileKind::Directory);
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo");
            let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(status.success());
            // No writer: opening it would block, so it must be refused before.
            assert_eq!(refused(&fifo), FileKind::Fifo);
            assert_eq!(refused(Path::new("/dev/null")), FileKind::CharDevice);
        }
    }
}
