//! dumpscan reads JVM heap dumps (HPROF) and tells who holds the process's memory, off-heap
//! memory above all: direct buffers, Netty's pools, and the paths from GC roots that keep them.
//!
//! ```no_run
//! let report = dumpscan::analyze("heap.hprof", &dumpscan::Options::default())?;
//! println!("{} bytes of direct memory found", report.native_bytes);
//! for finding in &report.findings {
//!     println!("{}: {}", finding.title, finding.detail);
//! }
//! // The same report as JSON (schema `dumpscan.report.v1`, docs/REPORT-SCHEMA.md).
//! let json = serde_json::to_string_pretty(&report)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! This crate is the `dumpscan` command and the front door for tools that embed it; the work
//! is done by the crates it re-exports: the HPROF reader, the heap model and the off-heap rules.

pub use dumpscan_heap as heap;
pub use dumpscan_hprof as hprof;
pub use dumpscan_offheap as offheap;
pub use dumpscan_offheap::{analyze, Options, Report};
