//! Getting a dump's bytes into memory: a read-only map of the file, or for a gzip-compressed
//! dump, an inflated copy (in memory when small, else in an unlinked temporary file, mapped).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use memmap2::{Mmap, MmapMut};
use rayon::prelude::*;

use crate::error::{Error, ErrorKind, FileKind, Result};

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
/// opening a named pipe with no writer blocks. `log` hears what is going on, for the user.
pub(crate) fn open(path: &Path, log: &dyn Fn(&str)) -> Result<Opened> {
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::NotAFile(FileKind::of(metadata.file_type())), 0));
    }
    let file = File::open(path).map_err(io_error)?;
    decode(map_file(&file)?, log)
}

/// Reads a whole dump from a stream (standard input, a pipe), plain or gzip-compressed: a
/// small one into memory, a large one spooled to an unlinked temporary file, then decoded as
/// a file would be.
pub(crate) fn read(mut reader: impl Read, log: &dyn Fn(&str)) -> Result<Opened> {
    let mut head = Vec::new();
    (&mut reader).take(IN_MEMORY_LIMIT).read_to_end(&mut head).map_err(io_error)?;
    if (head.len() as u64) < IN_MEMORY_LIMIT {
        return decode(Bytes::Owned(head), log);
    }
    log("spooling the dump from the stream to a temporary file");
    let mut tmp = tempfile::tempfile().map_err(io_error)?;
    let mut writer = io::BufWriter::with_capacity(1 << 20, &mut tmp);
    writer.write_all(&head).map_err(io_error)?;
    drop(head);
    io::copy(&mut reader, &mut writer).map_err(io_error)?;
    writer.flush().map_err(io_error)?;
    drop(writer);
    decode(map_file(&tmp)?, log)
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

/// The dump in `raw`, inflated first if it is gzip-compressed.
fn decode(raw: Bytes, log: &dyn Fn(&str)) -> Result<Opened> {
    let data = raw.as_slice();
    if !data.starts_with(&[0x1f, 0x8b]) {
        #[cfg(unix)]
        if let Bytes::Mapped(map) = &raw {
            let _ = map.advise(memmap2::Advice::WillNeed);
        }
        return Ok(Opened { bytes: raw, compression: Compression::None, cut: None });
    }
    if let Some(blocks) = GzipBlocks::find(data) {
        let total = blocks.inflated_len();
        let where_to = if total <= IN_MEMORY_LIMIT * 8 { "memory" } else { "a temporary file" };
        log(&format!(
            "inflating gzip dump: {} blocks of {} KiB in parallel into {where_to} ({} MiB)",
            blocks.starts.len(),
            blocks.block_size >> 10,
            total >> 20
        ));
        match blocks.inflate(data, total <= IN_MEMORY_LIMIT * 8) {
            Ok((bytes, cut)) => {
                let members = blocks.starts.len();
                let compression = Compression::GzipBlocks { block_size: blocks.block_size, members };
                return Ok(Opened { bytes, compression, cut });
            }
            Err(e) => log(&format!("parallel inflate failed ({e}); inflating sequentially")),
        }
    }
    let in_memory = data.len() as u64 <= IN_MEMORY_LIMIT;
    log(&format!("inflating gzip dump into {}", if in_memory { "memory" } else { "a temporary file" }));
    let (bytes, cut) = if in_memory {
        let mut out = Vec::new();
        let cut = inflate_stream(data, &mut out)?;
        (Bytes::Owned(out), cut)
    } else {
        let mut tmp = tempfile::tempfile().map_err(io_error)?;
        let mut writer = io::BufWriter::with_capacity(1 << 20, &mut tmp);
        let cut = inflate_stream(data, &mut writer)?;
        writer.flush().map_err(io_error)?;
        drop(writer);
        // SAFETY: the temporary file is unlinked and only this process holds it.
        (Bytes::Mapped(unsafe { Mmap::map(&tmp) }.map_err(io_error)?), cut)
    };
    Ok(Opened { bytes, compression: Compression::Gzip, cut })
}

/// Inflates the gzip members in `data` one after the other into `out`. Input that ends inside
/// a member is a cut, not an error: what came before it is kept.
fn inflate_stream(data: &[u8], out: &mut impl Write) -> Result<Option<GzipCut>> {
    let mut decoder = flate2::bufread::MultiGzDecoder::new(data);
    let (inflated, cut) = copy_until_cut(&mut decoder, out, |d| data.len() - d.get_ref().len())?;
    Ok(cut.then_some(GzipCut { compressed_len: data.len() as u64, inflated_len: inflated }))
}

/// Copies what `decoder` inflates into `out` until its input ends; returns the bytes copied
/// and whether the input ended inside a gzip member. A damaged member is an error at the
/// offset `consumed` says the decoder had reached.
fn copy_until_cut<D: Read>(
    decoder: &mut D,
    out: &mut impl Write,
    consumed: impl Fn(&D) -> usize,
) -> Result<(u64, bool)> {
    let mut buf = vec![0u8; 256 << 10];
    let mut copied = 0u64;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok((copied, false)),
            Ok(n) => {
                out.write_all(&buf[..n]).map_err(io_error)?;
                copied = copied.saturating_add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok((copied, true)),
            Err(e) => return Err(gzip_error(e, consumed(decoder) as u64)),
        }
    }
}

/// The members of a jcmd-style gzip dump: each inflates to at most `block_size` bytes (HotSpot
/// writes whole blocks, but a block can come out a little short). The first member's header
/// comment says `HPROF BLOCKSIZE=N`; the others all share one plain header.
struct GzipBlocks {
    block_size: u64,
    /// Offset of each member in the compressed file; the last one ends at the file's end.
    starts: Vec<usize>,
    /// What each whole member inflates to, from its trailer (ISIZE); none for a cut last one.
    sizes: Vec<u64>,
    /// Whether the last member has no believable trailer: the file was cut inside it.
    cut_tail: bool,
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
        // Every member but the last starts a plausible trailer's distance after the one
        // before; the last one's trailer ends the file, unless the file was cut.
        let mut sizes: Vec<u64> = starts.iter().skip(1).filter_map(|&end| trailer_size(end)).collect();
        let cut_tail = !plausible(data.len());
        if !cut_tail {
            sizes.push(trailer_size(data.len())?);
        }
        Some(GzipBlocks { block_size, starts, sizes, cut_tail })
    }

    /// The inflated length, or for a cut file the most it can be.
    fn inflated_len(&self) -> u64 {
        let whole: u64 = self.sizes.iter().sum();
        if self.cut_tail {
            whole.saturating_add(self.block_size)
        } else {
            whole
        }
    }

    fn inflate(&self, data: &[u8], in_memory: bool) -> Result<(Bytes, Option<GzipCut>)> {
        let capacity = self.inflated_len();
        let len = usize::try_from(capacity).map_err(|_| gzip_error("dump too large", 0))?;
        let whole: u64 = self.sizes.iter().sum();
        let cut_at = |tail: Option<u64>| {
            let inflated_len = whole.saturating_add(tail.unwrap_or(0));
            (inflated_len, tail.map(|_| GzipCut { compressed_len: data.len() as u64, inflated_len }))
        };
        if in_memory {
            let mut out = vec![0u8; len];
            let (kept, cut) = cut_at(self.inflate_into(data, &mut out)?);
            out.truncate(kept as usize);
            return Ok((Bytes::Owned(out), cut));
        }
        let tmp = tempfile::tempfile().map_err(io_error)?;
        tmp.set_len(capacity).map_err(io_error)?;
        // SAFETY: the temporary file is unlinked and only this process holds it.
        let mut map = unsafe { MmapMut::map_mut(&tmp) }.map_err(io_error)?;
        let (kept, cut) = cut_at(self.inflate_into(data, &mut map)?);
        if kept == capacity {
            return Ok((Bytes::Mapped(map.make_read_only().map_err(io_error)?), cut));
        }
        // The cut member filled less than its block: the file is shortened to what it holds.
        drop(map);
        tmp.set_len(kept).map_err(io_error)?;
        Ok((map_file(&tmp)?, cut))
    }

    /// Inflates every member into its own slice of `out`, in parallel. Each whole member must
    /// use exactly its span of input and fill exactly its slice (the decoder checks the CRC
    /// too), so a wrongly guessed member start shows up as an error. A cut last member fills
    /// what it can of the last block: its length is returned, and only then.
    fn inflate_into(&self, data: &[u8], out: &mut [u8]) -> Result<Option<u64>> {
        let ends = self.starts.iter().skip(1).copied().chain(std::iter::once(data.len()));
        let mut jobs = Vec::with_capacity(self.starts.len());
        let mut rest = out;
        let sizes = self.sizes.iter().map(|&n| Some(n)).chain(self.cut_tail.then_some(None));
        for ((start, end), size) in self.starts.iter().copied().zip(ends).zip(sizes) {
            let (slot, tail) = rest.split_at_mut(size.map_or(rest.len(), |n| n as usize));
            jobs.push((slot, start, end, size.is_none()));
            rest = tail;
        }
        let tails: Vec<Option<u64>> = jobs
            .into_par_iter()
            .map(|(slot, start, end, cut)| {
                let mut decoder = flate2::bufread::GzDecoder::new(&data[start..end]);
                if cut {
                    let (inflated, ended_inside) = copy_until_cut(&mut decoder, &mut &mut slot[..], |d| {
                        start + (end - start - d.get_ref().len())
                    })?;
                    // A member that ends, with input left or room to spare, was not cut: the
                    // sequential inflater sorts out what the file holds.
                    return match ended_inside {
                        true => Ok(Some(inflated)),
                        false => Err(gzip_error("the last gzip member has no valid trailer", start as u64)),
                    };
                }
                decoder.read_exact(slot).map_err(|e| gzip_error(e, start as u64))?;
                let mut probe = [0u8; 1];
                let trailing = decoder.read(&mut probe).map_err(|e| gzip_error(e, start as u64))?;
                if trailing != 0 || !decoder.into_inner().is_empty() {
                    return Err(gzip_error("gzip member does not match its block", start as u64));
                }
                Ok(None)
            })
            .collect::<Result<_>>()?;
        Ok(tails.into_iter().flatten().next())
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
        let mut out = Vec::new();
        for (i, chunk) in data.chunks(block).enumerate() {
            out.extend(gzip_member(chunk, (i == 0).then(|| format!("HPROF BLOCKSIZE={block}"))));
        }
        out
    }

    fn decoded(raw: Vec<u8>) -> Opened {
        decode(Bytes::Owned(raw), &|_| {}).unwrap()
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
        let blocks = GzipBlocks::find(&whole[..cut]).expect("the whole members are found");
        assert!(blocks.cut_tail);
        for in_memory in [true, false] {
            let (bytes, found) = blocks.inflate(&whole[..cut], in_memory).unwrap();
            assert_eq!(found.map(|c| c.inflated_len), Some(bytes.as_slice().len() as u64));
            assert!(data.starts_with(bytes.as_slice()) && bytes.as_slice().len() > 7 << 18);
        }
    }

    #[test]
    fn damage_inside_a_gzip_stream_is_still_an_error() {
        let mut raw = gzip_member(&sample(1 << 20), None);
        let middle = raw.len() / 2;
        raw[middle..middle + 64].fill(0xA5);
        assert!(decode(Bytes::Owned(raw), &|_| {}).is_err());
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
