//! `dumpscan histogram`: instances and shallow bytes per class.

use std::io::Write;
use std::path::Path;

use dumpscan_hprof::{Dump, Summary};
use serde_json::json;

use crate::table::{human_bytes, new_table, thousands};
use crate::{dump_json, Format};

pub fn render(
    out: &mut dyn Write,
    path: &Path,
    dump: &Dump,
    summary: &Summary,
    top: usize,
    format: Format,
) -> std::io::Result<()> {
    let rows = summary.histogram();
    let total_instances: u64 = rows.iter().map(|r| r.instances).sum();
    let total_bytes: u64 = rows.iter().map(|r| r.shallow_bytes).sum();
    let shown = if top == 0 { rows.len() } else { top.min(rows.len()) };
    match format {
        Format::Json => {
            let classes: Vec<_> = rows[..shown]
                .iter()
                .map(|r| json!({"name": r.name, "instances": r.instances, "shallow_bytes": r.shallow_bytes}))
                .collect();
            let model = summary.size_model;
            let doc = json!({
                "schema": "dumpscan.histogram.v1",
                "dump": dump_json::dump_object(path, dump, summary),
                "truncated": summary.truncation.is_some(),
                "size_model": {
                    "object_header": model.object_header,
                    "array_header": model.array_header,
                    "reference": model.reference,
                    "alignment": model.alignment,
                },
                "total": {"classes": rows.len(), "instances": total_instances, "shallow_bytes": total_bytes},
                "classes": classes,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Table => {
            let mut table = new_table(&["#", "instances", "shallow bytes", "size", "class"], &[0, 1, 2, 3]);
            for (i, r) in rows[..shown].iter().enumerate() {
                table.add_row(vec![
                    (i + 1).to_string(),
                    thousands(r.instances),
                    thousands(r.shallow_bytes),
                    human_bytes(r.shallow_bytes),
                    r.name.clone(),
                ]);
            }
            table.add_row(vec![
                String::new(),
                thousands(total_instances),
                thousands(total_bytes),
                human_bytes(total_bytes),
                format!(
                    "total ({} classes{})",
                    rows.len(),
                    if shown < rows.len() { format!(", top {shown} shown") } else { String::new() }
                ),
            ]);
            writeln!(out, "{table}")?;
            let m = summary.size_model;
            writeln!(
                out,
                "Shallow sizes are estimates: {}-byte headers ({} for arrays), {}-byte references, {}-byte alignment.",
                m.object_header, m.array_header, m.reference, m.alignment
            )
        }
    }
}
