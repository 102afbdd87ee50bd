//! `dumpscan histogram`: instances and shallow bytes per class.

use std::io::Write;
use std::path::Path;

use std::collections::HashMap;

use dumpscan_heap::{Dominators, Heap};
use dumpscan_hprof::{Dump, HistogramRow, Summary};
use serde_json::json;

use crate::table::{cell_width, human_bytes, thousands, Streamed};
use crate::{dump_json, Format};

/// Retained bytes per class name: what freeing all instances of the class would free, each
/// object counted once even where instances dominate one another.
pub fn retained_by_class(heap: &Heap<'_>) -> HashMap<String, u64> {
    let tree = Dominators::compute(heap);
    let retained = tree.retained(|o| heap.shallow_size(o));
    let sums = tree.retained_by_group(&retained, |o| heap.type_group(o), heap.type_group_count());
    let mut by_name: HashMap<String, u64> = HashMap::new();
    for (group, sum) in sums.into_iter().enumerate().filter(|&(_, s)| s > 0) {
        let total = by_name.entry(heap.type_group_name(group)).or_default();
        *total = total.saturating_add(sum);
    }
    by_name
}

pub fn render(
    out: &mut dyn Write,
    path: &Path,
    dump: &Dump,
    summary: &Summary,
    retained: Option<&HashMap<String, u64>>,
    top: usize,
    format: Format,
) -> std::io::Result<()> {
    let rows = summary.histogram();
    let retained_of = |name: &str| retained.map(|r| r.get(name).copied().unwrap_or(0));
    let total_instances: u64 = rows.iter().map(|r| r.instances).sum();
    let total_bytes: u64 = rows.iter().map(|r| r.shallow_bytes).sum();
    let shown = if top == 0 { rows.len() } else { top.min(rows.len()) };
    match format {
        Format::Json => {
            let classes: Vec<_> = rows[..shown]
                .iter()
                .map(|r| {
                    let mut row = json!({"name": r.name, "instances": r.instances, "shallow_bytes": r.shallow_bytes});
                    if let Some(bytes) = retained_of(&r.name) {
                        row["retained_bytes"] = json!(bytes);
                    }
                    row
                })
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
            let mut header = vec!["#", "instances", "shallow bytes", "size"];
            if retained.is_some() {
                header.push("retained");
            }
            header.push("class");
            let numeric: Vec<usize> = (0..header.len() - 1).collect();
            let cells = |i: usize, r: &HistogramRow| {
                let mut cells = vec![
                    (i + 1).to_string(),
                    thousands(r.instances),
                    thousands(r.shallow_bytes),
                    human_bytes(r.shallow_bytes),
                ];
                cells.extend(retained_of(&r.name).map(human_bytes));
                cells.push(r.name.clone());
                cells
            };
            let mut total =
                vec![String::new(), thousands(total_instances), thousands(total_bytes), human_bytes(total_bytes)];
            if retained.is_some() {
                total.push(String::new());
            }
            let more = if shown < rows.len() { format!(", top {shown} shown") } else { String::new() };
            total.push(format!("total ({} classes{more})", rows.len()));
            // Widths first, then the rows one by one: a class name 64 KiB long widens no
            // other row.
            let mut widths: Vec<usize> = total.iter().map(|c| cell_width(c)).collect();
            for (i, r) in rows[..shown].iter().enumerate() {
                for (w, cell) in widths.iter_mut().zip(cells(i, r)) {
                    *w = (*w).max(cell_width(&cell));
                }
            }
            let table = Streamed::start(out, &header, &widths, &numeric)?;
            for (i, r) in rows[..shown].iter().enumerate() {
                table.row(out, &cells(i, r))?;
            }
            table.row(out, &total)?;
            let m = summary.size_model;
            writeln!(
                out,
                "Shallow sizes are estimates: {}-byte headers ({} for arrays), {}-byte references, {}-byte alignment.",
                m.object_header, m.array_header, m.reference, m.alignment
            )
        }
    }
}
