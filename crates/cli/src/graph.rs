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
    let paths = heap.paths_to(&objects[..shown]);
    let rows: Vec<(ObjectIndex, &[ObjectIndex])> =
        objects[..shown].iter().zip(&paths).map(|(&o, path)| (o, path.as_slice())).collect();
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
                        "path": heap.path_steps(path, *o),
                        "text": heap.path_line(path, *o),
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
                    "{} ({}, {} reachable)\n    {}\n",
                    object_text(heap, *o),
                    human_bytes(heap.shallow_size(*o)),
                    heap.reach().level(*o).name(),
                    heap.path_line(path, *o),
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

pub fn render_dominators(
    out: &mut dyn Write,
    path: &Path,
    heap: &Heap<'_>,
    tree: Dominators,
    top: usize,
    format: Format,
) -> std::io::Result<()> {
    // The tree is spent on the sums, and freed before the paths' walk.
    let (rows, total_reachable) = tree.into_top_retainers(|o| heap.shallow_size(o), top);
    let objects: Vec<ObjectIndex> = rows.iter().map(|&(o, _)| o).collect();
    let paths = heap.paths_to(&objects);
    match format {
        Format::Json => {
            let rows: Vec<_> = rows
                .iter()
                .zip(&paths)
                .map(|(&(o, retained), steps)| {
                    json!({
                        "id": format!("0x{:x}", heap.id(o)),
                        "class": heap.class_name(o),
                        "shallow_bytes": heap.shallow_size(o),
                        "retained_bytes": retained,
                        "path": heap.path_steps(steps, o),
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
            for (i, (&(o, retained), steps)) in rows.iter().zip(&paths).enumerate() {
                table.add_row(vec![
                    (i + 1).to_string(),
                    human_bytes(retained),
                    human_bytes(heap.shallow_size(o)),
                    object_text(heap, o),
                    heap.path_line(steps, o),
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
