//! `dumpscan paths` and `dumpscan dominators`: the object graph, for people.

use std::io::Write;
use std::path::Path;

use dumpscan_heap::{object_text, Dominators, Heap, ObjectIndex};
use serde_json::json;

use crate::table::{human_bytes, new_table, thousands};
use crate::Format;

/// Which objects `paths` explains.
pub enum Target {
    Id(u64),
    Class(String),
}

pub fn render_paths(
    out: &mut dyn Write,
    heap: &Heap<'_>,
    target: &Target,
    top: usize,
    format: Format,
) -> Result<(), String> {
    let objects: Vec<ObjectIndex> = match target {
        Target::Id(id) => vec![heap.index_of(*id).ok_or_else(|| format!("no object with id 0x{id:x} in the dump"))?],
        Target::Class(name) => {
            let mut found = heap.instances_of(name);
            if found.is_empty() {
                return Err(format!("no instances of class {name} in the dump"));
            }
            // The biggest first: the ones worth explaining.
            found.sort_by_key(|&o| (std::cmp::Reverse(heap.shallow_size(o)), o));
            found
        }
    };
    let total = objects.len();
    let shown = if top == 0 { total } else { top.min(total) };
    let rows: Vec<(ObjectIndex, String)> = objects[..shown].iter().map(|&o| (o, heap.path_text(o))).collect();
    let io = |e: std::io::Error| e.to_string();
    match format {
        Format::Json => {
            let paths: Vec<_> = rows
                .iter()
                .map(|(o, path)| {
                    json!({
                        "id": format!("0x{:x}", heap.id(*o)),
                        "class": heap.class_name(*o),
                        "shallow_bytes": heap.shallow_size(*o),
                        "reachability": heap.reach().level(*o).name(),
                        "path": path_steps(heap, *o),
                        "text": path,
                    })
                })
                .collect();
            let doc = json!({"schema": "dumpscan.paths.v1", "objects": total, "shown": shown, "paths": paths});
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| e.to_string())?;
            writeln!(out).map_err(io)
        }
        Format::Table => {
            for (o, path) in &rows {
                writeln!(
                    out,
                    "{} ({}, {} reachable)\n    {path}\n",
                    object_text(heap, *o),
                    human_bytes(heap.shallow_size(*o)),
                    heap.reach().level(*o).name()
                )
                .map_err(io)?;
            }
            if shown < total {
                writeln!(out, "{shown} of {total} objects shown (--top 0 shows all)").map_err(io)?;
            }
            Ok(())
        }
    }
}

/// A path as a list of steps: the root's description, each edge, then the object.
fn path_steps(heap: &Heap<'_>, object: ObjectIndex) -> Vec<String> {
    let path = heap.path(object);
    let Some(&first) = path.first() else { return Vec::new() };
    let mut steps = Vec::with_capacity(path.len() + 1);
    if let Some(i) = heap.reach().root_of(first) {
        steps.push(heap.root_text(&heap.roots[i]));
    }
    steps.extend(path.windows(2).map(|w| heap.edge_label(w[0], w[1])));
    steps.push(object_text(heap, object));
    steps
}

pub fn render_dominators(
    out: &mut dyn Write,
    path: &Path,
    heap: &Heap<'_>,
    tree: &Dominators,
    top: usize,
    format: Format,
) -> std::io::Result<()> {
    let retained = tree.retained(|o| heap.shallow_size(o));
    let rows = retained.top(top);
    let total_reachable = retained.total();
    match format {
        Format::Json => {
            let rows: Vec<_> = rows
                .iter()
                .map(|&(o, retained)| {
                    json!({
                        "id": format!("0x{:x}", heap.id(o)),
                        "class": heap.class_name(o),
                        "shallow_bytes": heap.shallow_size(o),
                        "retained_bytes": retained,
                        "path": path_steps(heap, o),
                    })
                })
                .collect();
            let doc = json!({
                "schema": "dumpscan.dominators.v1",
                "dump": path.display().to_string(),
                "reachable_bytes": total_reachable,
                "dominators": rows,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Table => {
            let mut table = new_table(&["#", "retained", "shallow", "object", "path from a GC root"], &[0, 1, 2]);
            for (i, &(o, retained)) in rows.iter().enumerate() {
                table.add_row(vec![
                    (i + 1).to_string(),
                    human_bytes(retained),
                    human_bytes(heap.shallow_size(o)),
                    object_text(heap, o),
                    heap.path_text(o),
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(
                out,
                "Strongly reachable heap: {} ({} bytes). Retained = what would be freed if the object were gone.",
                human_bytes(total_reachable),
                thousands(total_reachable)
            )
        }
    }
}
