//! Getting a dump's bytes into memory: a read-only map of the file, or for a gzip-compressed
//! dump, an inflated copy (in memory when small, else in an unlinked temporary file, mapped).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use memmap2::{Mmap, MmapMut};
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, Result};

/// Compressed dumps smaller than this are inflated into memory rather than a temporary file.
const IN_MEMORY_LIMIT: u64 = 32 << 20;

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
    None,
    /// One gzip stream (`gzip heap.hprof`).
    Gzip,
    /// Independent gzip members of a fixed block size, as `jcmd GC.heap_dump -gz=N` writes.
    GzipBlocks {
        block_size: u64,
        members: usize,
    },
}

fn io_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Io(e), 0)
}

fn gzip_error(msg: impl ToString, offset: u64) -> Error {
    Error::new(ErrorKind::Gzip(msg.to_string()), offset)
}

/// Opens `path`, inflating it first if it is gzip-compressed (recognised by its magic bytes).
/// `log` hears what is going on, for the user's terminal.
pub(crate) fn open(path: &Path, log: &dyn Fn(&str)) -> Result<(Bytes, Compression)> {
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    if len == 0 {
        return Ok((Bytes::Owned(Vec::new()), Compression::None));
    }
    // SAFETY: the map is read-only; like every tool that maps its input, we rely on the file
    // not being truncated underneath us while we read it.
    let map = unsafe { Mmap::map(&file) }.map_err(io_error)?;
    if !map.starts_with(&[0x1f, 0x8b]) {
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::WillNeed);
        return Ok((Bytes::Mapped(map), Compression::None));
    }
    if let Some(blocks) = GzipBlocks::find(&map) {
        let total = blocks.inflated_len();
        let where_to = if total <= IN_MEMORY_LIMIT * 8 { "memory" } else { "a temporary file" };
        log(&format!(
            "inflating gzip dump: {} blocks of {} KiB in parallel into {where_to} ({} MiB)",
            blocks.starts.len(),
            blocks.block_size >> 10,
            total >> 20
        ));
        match blocks.inflate(&map, total <= IN_MEMORY_LIMIT * 8) {
            Ok(bytes) => {
                let members = blocks.starts.len();
                return Ok((bytes, Compression::GzipBlocks { block_size: blocks.block_size, members }));
            }
            Err(e) => log(&format!("parallel inflate failed ({e}); inflating sequentially")),
        }
    }
    let where_to = if len <= IN_MEMORY_LIMIT { "memory" } else { "a temporary file" };
    log(&format!("inflating gzip dump into {where_to}"));
    let mut decoder = flate2::read::MultiGzDecoder::new(&map[..]);
    let bytes = if len <= IN_MEMORY_LIMIT {
        let mut out = Vec::new();
        decoder.read_to_end(&mut out).map_err(|e| gzip_error(e, 0))?;
        Bytes::Owned(out)
    } else {
        let mut tmp = tempfile::tempfile().map_err(io_error)?;
        let mut writer = io::BufWriter::with_capacity(1 << 20, &mut tmp);
        io::copy(&mut decoder, &mut writer).map_err(|e| gzip_error(e, 0))?;
        writer.flush().map_err(io_error)?;
        drop(writer);
        // SAFETY: the temporary file is unlinked and only this process holds it.
        Bytes::Mapped(unsafe { Mmap::map(&tmp) }.map_err(io_error)?)
    };
    Ok((bytes, Compression::Gzip))
}

/// The members of a jcmd-style gzip dump: each inflates to at most `block_size` bytes (HotSpot
/// writes whole blocks, but a block can come out a little short). The first member's header
/// comment says `HPROF BLOCKSIZE=N`; the others all share one plain header.
struct GzipBlocks {
    block_size: u64,
    /// Offset of each member in the compressed file; the last one ends at the file's end.
    starts: Vec<usize>,
    /// What each member inflates to, from its trailer (ISIZE).
    sizes: Vec<u64>,
}

impl GzipBlocks {
    fn find(data: &[u8]) -> Option<GzipBlocks> {
        let block_size = block_size_comment(data)?;
        let trailer_size = |end: usize| -> Option<u64> {
            let b = data.get(end.checked_sub(4)?..end)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
        };
        // A member starts where the previous one's trailer says it inflated to a block or
        // less; the magic bytes alone could also occur inside compressed data.
        let plausible = |p: usize| p >= 18 && trailer_size(p).is_some_and(|n| n > 0 && n <= block_size);
        let second = memchr::memmem::find_iter(data, &[0x1f, 0x8b, 0x08]).find(|&p| plausible(p));
        let mut starts = vec![0];
        if let Some(second) = second {
            let header = data.get(second..second + 10)?;
            starts.extend(memchr::memmem::find_iter(data, header).filter(|&p| plausible(p)));
        }
        let ends = starts.iter().skip(1).copied().chain(std::iter::once(data.len()));
        let sizes: Option<Vec<u64>> = ends.map(trailer_size).collect();
        let sizes = sizes?;
        sizes.iter().all(|&n| n <= block_size).then_some(GzipBlocks { block_size, starts, sizes })
    }

    fn inflated_len(&self) -> u64 {
        self.sizes.iter().sum()
    }

    fn inflate(&self, data: &[u8], in_memory: bool) -> Result<Bytes> {
        let total = self.inflated_len();
        let len = usize::try_from(total).map_err(|_| gzip_error("dump too large", 0))?;
        if in_memory {
            let mut out = vec![0u8; len];
            self.inflate_into(data, &mut out)?;
            return Ok(Bytes::Owned(out));
        }
        let tmp = tempfile::tempfile().map_err(io_error)?;
        tmp.set_len(total).map_err(io_error)?;
        // SAFETY: the temporary file is unlinked and only this process holds it.
        let mut map = unsafe { MmapMut::map_mut(&tmp) }.map_err(io_error)?;
        self.inflate_into(data, &mut map)?;
        Ok(Bytes::Mapped(map.make_read_only().map_err(io_error)?))
    }

    /// Inflates every member into its own slice of `out`, in parallel. Each must use exactly
    /// its span of input and fill exactly its slice (the decoder checks the CRC too), so a
    /// wrongly guessed member start shows up as an error.
    fn inflate_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let ends = self.starts.iter().skip(1).copied().chain(std::iter::once(data.len()));
        let mut jobs = Vec::with_capacity(self.starts.len());
        let mut rest = out;
        for ((start, end), &size) in self.starts.iter().copied().zip(ends).zip(&self.sizes) {
            let (slot, tail) = rest.split_at_mut(size as usize);
            jobs.push((slot, start, end));
            rest = tail;
        }
        jobs.into_par_iter().try_for_each(|(slot, start, end)| {
            let mut decoder = flate2::bufread::GzDecoder::new(&data[start..end]);
            decoder.read_exact(slot).map_err(|e| gzip_error(e, start as u64))?;
            let mut probe = [0u8; 1];
            let trailing = decoder.read(&mut probe).map_err(|e| gzip_error(e, start as u64))?;
            if trailing != 0 || !decoder.into_inner().is_empty() {
                return Err(gzip_error("gzip member does not match its block", start as u64));
            }
            Ok(())
        })
    }
}

/// The block size from a `HPROF BLOCKSIZE=N` comment in the first gzip member's header.
fn block_size_comment(data: &[u8]) -> Option<u64> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let flags = *data.get(3)?;
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = u16::from_le_bytes([*data.get(pos)?, *data.get(pos + 1)?]) as usize;
        pos += 2 + xlen;
    }
    if flags & FNAME != 0 {
        pos += memchr::memchr(0, data.get(pos..)?)? + 1;
    }
    if flags & FCOMMENT == 0 {
        return None;
    }
    let comment = data.get(pos..)?;
    let comment = &comment[..memchr::memchr(0, comment)?];
    let value = std::str::from_utf8(comment).ok()?.strip_prefix("HPROF BLOCKSIZE=")?;
    value.trim().parse().ok().filter(|&n| n > 0 && n <= u32::MAX as u64)
}
