//! The `dump` object every JSON output starts with: what file was read and how.

use std::path::Path;

use dumpscan_hprof::{Compression, Dump, Summary};
use serde_json::{json, Value};

pub fn dump_object(path: &Path, dump: &Dump, summary: &Summary) -> Value {
    let header = dump.header();
    let compression = match dump.compression() {
        Compression::None => json!("none"),
        Compression::Gzip => json!("gzip"),
        Compression::GzipBlocks { block_size, members } => {
            json!({"kind": "gzip-blocks", "block_size": block_size, "members": members})
        }
    };
    let objects = summary.objects();
    json!({
        "path": path.display().to_string(),
        "format": format!("JAVA PROFILE {}", header.version),
        "id_size": dump.id_size().bytes(),
        "bytes": dump.bytes().len(),
        "compression": compression,
        "timestamp_ms": header.timestamp_ms,
        "time": dump_time(header.timestamp_ms),
        "truncated": summary.truncation.is_some(),
        "truncation": summary.truncation.map(|t| json!({
            "record_offset": t.record_offset,
            "record": dumpscan_hprof::record_name(t.record_tag),
            "complete_until": t.complete_until,
        })),
        "objects": objects,
    })
}

/// The dump time as RFC 3339 UTC.
pub fn dump_time(timestamp_ms: u64) -> String {
    dumpscan_offheap::units::timestamp(timestamp_ms).unwrap_or_else(|| "unknown".into())
}
