//! Errors that say where in the dump things went wrong.

use std::fmt;

/// An error reading a dump, with the byte offset (in the uncompressed dump) where it arose. For
/// a compressed dump that cannot be inflated, the offset is how far the inflated dump got, and
/// the kind names the offset in the compressed file.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: u64,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Gzip { .. } => write!(f, "{} (byte offset {} of the inflated dump)", self.kind, self.offset),
            _ => write!(f, "{} at byte offset {}", self.kind, self.offset),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    pub fn new(kind: ErrorKind, offset: u64) -> Self {
        Error { kind, offset }
    }
}

/// What went wrong; [`Error`] adds where.
#[derive(Debug)]
pub enum ErrorKind {
    /// The file does not start with a `JAVA PROFILE 1.0.x` header.
    NotHprof,
    /// The header names an identifier size other than 4 or 8 bytes.
    UnsupportedIdSize(u32),
    /// A top-level record tag this reader does not know.
    UnknownRecordTag(u8),
    /// A heap-dump sub-record tag this reader does not know.
    UnknownSubRecordTag(u8),
    /// A value type code outside the HPROF basic types.
    InvalidType { what: &'static str },
    /// A record or sub-record whose contents run past its declared end.
    Overrun { what: &'static str },
    /// The file could not be read or mapped.
    Io(std::io::Error),
    /// The path names something other than a regular file. Refused before it is opened: a
    /// named pipe with no writer would block the open forever. Streams are read with
    /// [`Dump::from_reader`](crate::Dump::from_reader).
    NotAFile(FileKind),
    /// A compressed dump could not be inflated: what was wrong, and where in the compressed
    /// file (the error's own offset is in the inflated dump).
    Gzip { problem: GzipProblem, compressed_offset: u64 },
}

/// What stops a gzip-compressed dump from inflating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GzipProblem {
    /// Damaged data: a member's header, deflate stream, checksum or length, in the decoder's
    /// own words.
    Corrupt(String),
    /// Bytes after the last member that are neither another member nor zero padding.
    TrailingData,
    /// A member inflates to another size than its trailer gives (found when members are
    /// inflated in parallel, each into the room its trailer says it needs).
    SizeMismatch { trailer: u64 },
    /// A member ends elsewhere than where the next one was found to start.
    Boundary { next_member: u64 },
}

impl fmt::Display for GzipProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GzipProblem::Corrupt(what) => f.write_str(what),
            GzipProblem::TrailingData => f.write_str("data after the last gzip member"),
            GzipProblem::SizeMismatch { trailer } => {
                write!(f, "a gzip member does not inflate to the {trailer} bytes its trailer gives")
            }
            GzipProblem::Boundary { next_member } => {
                write!(f, "a gzip member does not end where the next one starts (byte {next_member})")
            }
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotHprof => f.write_str("not an HPROF heap dump (no 'JAVA PROFILE 1.0.x' header)"),
            ErrorKind::UnsupportedIdSize(n) => write!(f, "unsupported identifier size {n} (expected 4 or 8)"),
            ErrorKind::UnknownRecordTag(t) => write!(f, "unknown record tag 0x{t:02X}"),
            ErrorKind::UnknownSubRecordTag(t) => write!(f, "unknown heap-dump sub-record tag 0x{t:02X}"),
            ErrorKind::InvalidType { what } => write!(f, "{what} has an invalid value type"),
            ErrorKind::Overrun { what } => write!(f, "{what} runs past the end of its record"),
            ErrorKind::Io(e) => write!(f, "I/O error: {e}"),
            ErrorKind::NotAFile(FileKind::Directory) => f.write_str("is a directory, not a heap dump"),
            ErrorKind::NotAFile(kind) => write!(f, "is {}, not a regular file", kind.name()),
            ErrorKind::Gzip { problem, compressed_offset } => {
                write!(
                    f,
                    "cannot inflate compressed dump: {problem} at byte {compressed_offset} of the compressed file"
                )
            }
        }
    }
}

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    /// A named pipe (FIFO), or the pipe of a shell's process substitution (`<(...)`).
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    /// The kind of a file that is not a regular file.
    pub(crate) fn of(file_type: std::fs::FileType) -> FileKind {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if file_type.is_fifo() {
                return FileKind::Fifo;
            }
            if file_type.is_socket() {
                return FileKind::Socket;
            }
            if file_type.is_char_device() {
                return FileKind::CharDevice;
            }
            if file_type.is_block_device() {
                return FileKind::BlockDevice;
            }
        }
        if file_type.is_dir() {
            FileKind::Directory
        } else {
            FileKind::Other
        }
    }

    /// `a directory`, `a named pipe`, ...: for messages.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a named pipe",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "a special file",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
