//! Errors that say where in the dump things went wrong.

use std::fmt;

/// An error reading a dump, with the byte offset (in the uncompressed dump) where it arose.
#[derive(Debug, thiserror::Error)]
#[error("{kind} at byte offset {offset}")]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: u64,
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
    /// A compressed dump could not be inflated.
    Gzip(String),
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
            ErrorKind::Gzip(e) => write!(f, "cannot inflate compressed dump: {e}"),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
