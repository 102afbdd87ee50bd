//! Errors that say where in the dump things went wrong.

use std::fmt;

/// An error reading a dump, with the byte offset (in the uncompressed dump) where it arose. For
/// a compressed dump that cannot be inflated, the offset is how far the inflated dump got, and
/// the kind names the offset in the compressed file.
#[derive(Debug)]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where: the byte offset in the (inflated) dump.
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
        std::error::Error::source(&self.kind)
    }
}

impl Error {
    /// An error of `kind` at byte `offset` of the dump.
    pub fn new(kind: ErrorKind, offset: u64) -> Self {
        Error { kind, offset }
    }
}

/// What went wrong; [`Error`] adds where. New kinds may come with new layouts and inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file does not start with a `JAVA PROFILE 1.0.x` header.
    #[error("not an HPROF heap dump (no 'JAVA PROFILE 1.0.x' header)")]
    NotHprof,
    /// The header names an identifier size other than 4 or 8 bytes.
    #[error("unsupported identifier size {0} (expected 4 or 8)")]
    UnsupportedIdSize(u32),
    /// A top-level record tag this reader does not know.
    #[error("unknown record tag 0x{0:02X}")]
    UnknownRecordTag(u8),
    /// A heap-dump sub-record tag this reader does not know.
    #[error("unknown heap-dump sub-record tag 0x{0:02X}")]
    UnknownSubRecordTag(u8),
    /// A value type code outside the HPROF basic types.
    #[error("{what} has an invalid value type")]
    InvalidType {
        /// The record or field whose type it is.
        what: &'static str,
    },
    /// A record or sub-record whose contents run past its declared end.
    #[error("{what} runs past the end of its record")]
    Overrun {
        /// The record or part of one that runs past.
        what: &'static str,
    },
    /// The file could not be read or mapped.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// The path names something other than a regular file. Refused before it is opened: a
    /// named pipe with no writer would block the open forever. Streams are read with
    /// [`Dump::from_reader`](crate::Dump::from_reader).
    #[error("{}", not_a_file(*.0))]
    NotAFile(FileKind),
    /// A compressed dump could not be inflated: what was wrong, and where in the compressed
    /// file (the error's own offset is in the inflated dump).
    #[error("cannot inflate compressed dump: {problem} at byte {compressed_offset} of the compressed file")]
    Gzip {
        /// What was wrong.
        problem: GzipProblem,
        /// Where the compressed file went wrong.
        compressed_offset: u64,
    },
}

fn not_a_file(kind: FileKind) -> String {
    match kind {
        FileKind::Directory => "is a directory, not a heap dump".to_string(),
        kind => format!("is {}, not a regular file", kind.name()),
    }
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
    SizeMismatch {
        /// The size the member's trailer gives.
        trailer: u64,
    },
    /// A member ends elsewhere than where the next one was found to start.
    Boundary {
        /// Where the next member starts, in the compressed file.
        next_member: u64,
    },
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

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe (FIFO), or the pipe of a shell's process substitution (`<(...)`).
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// Anything else the system names.
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

/// A result whose error is the reader's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
