//! `dumpscan paths` and `dumpscan dominators`: the object graph, for people.

use std::io::Write;
use std::path::Path;

use dumpscan_heap::{object_text, Dominators, Heap, ObjectIndex, ObjectKind};
use dumpscan_hprof::BasicType;
use serde_json::json;

use crate::report::paths::{collapse, elide};
use crate::table::{cell_width, human_bytes, thousands, Streamed};
use crate::Format;

/// Which objects `paths` explains.
pub enum Target {
    Id(u64),
    Class(String),
}

/// The objects `target` names, the biggest first for a class; a one-line message when the
/// dump has none.
pub fn targets(heap: &Heap<'_>, target: &Target) -> Result<Vec<ObjectIndex>, String> {
    match target {
        Target::Id(id) => {
            Ok(vec![heap.index_of(*id).ok_or_else(|| format!("no object with id 0x{id:x} in the dump"))?])
        }
        Target::Class(name) => {
            let mut found = heap.instances_of(name);
            if found.is_empty() {
                // Primitive arrays have no class in the dump: `byte[]` is found by its kind.
                let element =
                    BasicType::PRIMITIVES.into_iter().find(|t| name.strip_suffix("[]") == Some(t.java_name()));
                if let Some(element) = element {
                    found = heap.objects().filter(|&o| heap.kind(o) == ObjectKind::PrimitiveArray(element)).collect();
                }
            }
            if found.is_empty() {
                return Err(format!("no instances of class {name} in the dump"));
            }
            // The biggest first: the ones worth explaining.
            found.sort_by_key(|&o| (std::cmp::Reverse(heap.shallow_size(o)), o));
            Ok(found)
        }
    }
}

/// How wide a line of table output may be before a path is broken up, one step a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Columns(usize),
    Unlimited,
}

impl Width {
    /// `$COLUMNS` when set, else the terminal's width when stdout is one; output to a file or
    /// a pipe is not broken up.
    pub fn of_stdout() -> Width {
        use std::io::IsTerminal;
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|&c| c > 0);
        let terminal = || {
            let stdout = std::io::stdout();
            stdout.is_terminal().then(|| terminal_size::terminal_size_of(&stdout)).flatten().map(|(w, _)| w.0 as usize)
        };
        columns.or_else(terminal).map_or(Width::Unlimited, Width::Columns)
    }

    fn fits(self, line: &str) -> bool {
        match self {
            Width::Columns(columns) => line.chars().count() <= columns,
            Width::Unlimited => true,
        }
    }
}

/// Indent of a path under its object in the table output.
const PATH_INDENT: &str = "    ";

/// A path for the table output: on one line when it fits in `width`, else the root on the
/// first line and each `-> step` on its own line below it.
fn path_lines(steps: &[String], width: Width) -> String {
    let line = format!("{PATH_INDENT}{}", steps.join(" -> "));
    if width.fits(&line) {
        return line;
    }
    let mut lines = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        lines.push(if i == 0 { format!("{PATH_INDENT}{step}") } else { format!("{PATH_INDENT}  -> {step}") });
    }
    lines.join("\n")
}

/// Whether paths are printed with every step, or shortened as in the report's tables (so that
/// output grows with the rows, not with rows times the deepest path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathForm {
    /// Every step: `paths --id`, or `--wide`.
    Whole,
    /// Repeats collapsed and the middle left out: [`ROW_PATH_STEPS`] steps at most.
    Shortened,
}

/// Objects of a shortened path walked, at most: a row shows the path's ends, collapsed as the
/// report collapses them; deeper paths are told from their end.
const ROW_PATH_OBJECTS: usize = 256;

/// Steps a shortened path keeps after collapsing repeats, as in the report's tables.
const ROW_PATH_STEPS: usize = 8;

/// Rows up to which paths are found together, by a walk from the roots that stops where the
/// last of them is met; more rows are found along the whole walk's parents, one at a time.
const NEAR_ROWS: usize = 100;

/// Finds the rows' paths: together for a few rows (their paths are kept, a few at most), one
/// at a time from the whole walk for many.
struct RowPaths<'h, 'a> {
    heap: &'h Heap<'a>,
    near: Option<Vec<Vec<ObjectIndex>>>,
}

impl<'h, 'a> RowPaths<'h, 'a> {
    fn new(heap: &'h Heap<'a>, rows: &[ObjectIndex], all: bool) -> Self {
        let near = (!all && rows.len() <= NEAR_ROWS).then(|| heap.paths_to(rows));
        RowPaths { heap, near }
    }

    /// Row `i`'s path to `object` as steps, whole or shortened; empty when no path reaches it.
    fn steps(&self, i: usize, object: ObjectIndex, form: PathForm) -> Vec<String> {
        let heap = self.heap;
        let known = self.near.as_ref().and_then(|paths| paths.get(i));
        if form == PathForm::Whole {
            return match known {
                Some(path) => heap.path_steps(path, object),
                None => heap.path_steps(&heap.path(object), object),
            };
        }
        let (tail, whole) = match known {
            Some(path) => (path.clone(), true),
            None => heap.path_tail(object, ROW_PATH_OBJECTS),
        };
        if tail.is_empty() {
            return Vec::new();
        }
        let steps = if whole {
            heap.path_steps(&tail, object)
        } else {
            let mut steps = vec![format!("(more than {ROW_PATH_OBJECTS} steps from a GC root)")];
            steps.extend(heap.path_edges(&tail, object));
            steps
        };
        elide(collapse(&steps), ROW_PATH_STEPS)
    }
}

/// A path's steps on one line, or the object and that no path reaches it.
fn path_text(heap: &Heap<'_>, object: ObjectIndex, steps: &[String]) -> String {
    if steps.is_empty() {
        format!("{} (no path from a GC root)", object_text(heap, object))
    } else {
        steps.join(" -> ")
    }
}

/// The paths to the first `top` of `objects` (0: all), in `form`, with a line saying how many
/// were left out. Each object is written as its path is found: memory does not grow with rows.
pub fn render_paths(
    out: &mut dyn Write,
    heap: &Heap<'_>,
    objects: &[ObjectIndex],
    top: usize,
    format: Format,
    form: PathForm,
    width: Width,
) -> std::io::Result<()> {
    let total = objects.len();
    let shown = if top == 0 { total } else { top.min(total) };
    let rows = &objects[..shown];
    let paths = RowPaths::new(heap, rows, false);
    match format {
        Format::Json => {
            let head = json!({
                "schema": "dumpscan.paths.v1",
                "objects": total,
                "shown": shown,
                "whole_paths": form == PathForm::Whole,
            });
            json_rows(out, &head, "paths", rows.iter().enumerate(), |(i, &o)| {
                let steps = paths.steps(i, o, form);
                json!({
                    "id": format!("0x{:x}", heap.id(o)),
                    "class": heap.class_name(o),
                    "shallow_bytes": heap.shallow_size(o),
                    "reachability": heap.reach().level(o).name(),
                    "text": path_text(heap, o, &steps),
                    "path": steps,
                })
            })
        }
        Format::Table => {
            for (i, &o) in rows.iter().enumerate() {
                let steps = paths.steps(i, o, form);
                let lines = match steps.is_empty() {
                    true => format!("{PATH_INDENT}{}", path_text(heap, o, &steps)),
                    false => path_lines(&steps, width),
                };
                writeln!(
                    out,
                    "{} ({}, {} reachable)\n{lines}\n",
                    object_text(heap, o),
                    human_bytes(heap.shallow_size(o)),
                    heap.reach().level(o).name(),
                )?;
            }
            if shown < total {
                writeln!(out, "{shown} of {total} objects shown (--top 0 shows all)")?;
            }
            Ok(())
        }
    }
}

/// Writes `head` (a JSON object) with one more member, `key`, an array of `rows` each made by
/// `row` and written as it is made: a document of any length in little memory.
fn json_rows<T>(
    out: &mut dyn Write,
    head: &serde_json::Value,
    key: &str,
    rows: impl Iterator<Item = T>,
    row: impl Fn(T) -> serde_json::Value,
) -> std::io::Result<()> {
    let head = serde_json::to_string_pretty(head)?;
    write!(out, "{},\n  \"{key}\": [", head.trim_end().trim_end_matches('}').trim_end())?;
    let mut empty = true;
    for item in rows {
        write!(out, "{}\n    ", if empty { "" } else { "," })?;
        serde_json::to_writer(&mut *out, &row(item))?;
        empty = false;
    }
    writeln!(out, "{}]\n}}", if empty { "" } else { "\n  " })
}

/// `dumpscan dominators`: the objects that retain the most, each row written as it is made,
/// so that `--top 0` on a big heap needs no more memory than `--top 20`.
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
    let paths = RowPaths::new(heap, &objects, top == 0);
    match format {
        Format::Json => {
            let head = json!({
                "schema": "dumpscan.dominators.v1",
                "dump": path.display().to_string(),
                "reachable_bytes": total_reachable,
            });
            json_rows(out, &head, "dominators", rows.iter().enumerate(), |(i, &(o, retained))| {
                json!({
                    "id": format!("0x{:x}", heap.id(o)),
                    "class": heap.class_name(o),
                    "shallow_bytes": heap.shallow_size(o),
                    "retained_bytes": retained,
                    "path": paths.steps(i, o, PathForm::Shortened),
                })
            })
        }
        Format::Table => {
            let header = ["#", "retained", "shallow", "object", "path from a GC root"];
            let mut widths = [rows.len().to_string().len(), 0, 0, 0, 0];
            for &(o, retained) in &rows {
                widths[1] = widths[1].max(human_bytes(retained).len());
                widths[2] = widths[2].max(human_bytes(heap.shallow_size(o)).len());
                widths[3] = widths[3].max(cell_width(&object_text(heap, o)));
            }
            let table = Streamed::start(out, &header, &widths, &[0, 1, 2])?;
            for (i, &(o, retained)) in rows.iter().enumerate() {
                table.row(
                    out,
                    &[
                        (i + 1).to_string(),
                        human_bytes(retained),
                        human_bytes(heap.shallow_size(o)),
                        object_text(heap, o),
                        path_text(heap, o, &paths.steps(i, o, PathForm::Shortened)),
                    ],
                )?;
            }
            writeln!(
                out,
                "Strongly reachable heap: {} ({} bytes). Retained = what would be freed if the object were gone.",
                human_bytes(total_reachable),
                thousands(total_reachable)
            )
        }
    }
}
