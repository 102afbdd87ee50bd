//! `dumpscan info`: what is in the file.

use std::io::Write;
use std::path::Path;

use dumpscan_hprof::{record_name, sub_record_name, Dump, Summary, ThreadSummary};
use serde_json::{json, Map, Value};

use crate::table::{human_bytes, thousands, Streamed};
use crate::{dump_json, Format};

pub fn render(
    out: &mut dyn Write,
    path: &Path,
    dump: &Dump,
    summary: &Summary,
    threads: &[ThreadSummary],
    format: Format,
    with_threads: bool,
) -> std::io::Result<()> {
    let records: Vec<(&str, u64)> = summary.record_counts.iter().map(|(&t, &n)| (record_name(t), n)).collect();
    let subs: Vec<(&str, u64)> = summary.sub_record_counts.iter().map(|(&t, &n)| (sub_record_name(t), n)).collect();
    match format {
        Format::Json => {
            let counts = |pairs: &[(&str, u64)]| -> Value {
                Value::Object(pairs.iter().map(|&(k, v)| (k.to_string(), json!(v))).collect::<Map<_, _>>())
            };
            let roots: Vec<(&str, u64)> = summary.root_counts.iter().map(|(&k, &v)| (k, v)).collect();
            let threads: Vec<Value> = threads
                .iter()
                .map(|t| {
                    json!({
                        "serial": t.serial,
                        "object_id": format!("0x{:x}", t.object_id),
                        "name": t.name,
                        "frames": t.frames.iter().map(|f| json!({
                            "class": f.class, "method": f.method, "source_file": f.source_file, "line": f.line,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let doc = json!({
                "schema": "dumpscan.info.v1",
                "dump": dump_json::dump_object(path, dump, summary),
                "truncated": summary.truncation.is_some(),
                "records": counts(&records),
                "sub_records": counts(&subs),
                "gc_roots": counts(&roots),
                "classes": summary.classes.len(),
                "threads": threads,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Table => {
            let header = dump.header();
            let mut about: Vec<Vec<String>> = Vec::new();
            about.push(vec!["file".to_string(), path.display().to_string()]);
            about.push(vec!["format".to_string(), format!("JAVA PROFILE {}", header.version)]);
            about.push(vec!["id size".to_string(), format!("{} bytes", dump.id_size().bytes())]);
            about.push(vec!["dumped at".to_string(), dump_json::dump_time(header.timestamp_ms)]);
            about.push(vec![
                "size".to_string(),
                format!("{} bytes ({})", thousands(dump.bytes().len() as u64), human_bytes(dump.bytes().len() as u64)),
            ]);
            let compression = match dump.compression() {
                dumpscan_hprof::Compression::None => "none".to_string(),
                dumpscan_hprof::Compression::Gzip => "gzip".to_string(),
                dumpscan_hprof::Compression::GzipBlocks { block_size, members } => {
                    format!("gzip, {members} blocks of {} (jcmd -gz)", human_bytes(block_size))
                }
            };
            about.push(vec!["compression".to_string(), compression]);
            about.push(vec!["classes".to_string(), thousands(summary.classes.len() as u64)]);
            if let Some(t) = summary.truncation {
                about.push(vec![
                    "TRUNCATED".to_string(),
                    format!(
                        "inside {} at byte {}; complete up to byte {}",
                        record_name(t.record_tag),
                        t.record_offset,
                        t.complete_until
                    ),
                ]);
            }
            Streamed::write_all(out, &["dump", ""], &[], &about)?;
            let mut counts_table = |title: &str, rows: &[(&str, u64)]| {
                let rows: Vec<Vec<String>> =
                    rows.iter().map(|&(name, n)| vec![name.to_string(), thousands(n)]).collect();
                writeln!(out)?;
                Streamed::write_all(out, &[title, "count"], &[1], &rows)
            };
            counts_table("record", &records)?;
            counts_table("heap-dump sub-record", &subs)?;
            let roots: Vec<(&str, u64)> = summary.root_counts.iter().map(|(&k, &v)| (k, v)).collect();
            counts_table("GC root kind", &roots)?;
            writeln!(out)?;
            writeln!(out, "Threads: {}", threads.len())?;
            if with_threads {
                for t in threads {
                    let name = t.name.as_deref().unwrap_or("<unnamed>");
                    writeln!(out, "\n\"{name}\" (serial {}, object 0x{:x})", t.serial, t.object_id)?;
                    for f in &t.frames {
                        writeln!(out, "    at {f}")?;
                    }
                }
            }
            Ok(())
        }
    }
}
