//! `dumpscan DUMP` / `dumpscan report DUMP`: the off-heap report as terminal tables, Markdown
//! for an incident ticket, or JSON (`dumpscan.report.v1`, docs/REPORT-SCHEMA.md).

use std::io::Write;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use dumpscan_offheap::{Report, RetainerKind, Tally};

use crate::table::{human_bytes, thousands};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Terminal,
    Markdown,
}

/// Headings, paragraphs and tables, for a terminal or as Markdown.
struct Doc<'w> {
    out: &'w mut dyn Write,
    style: Style,
}

impl Doc<'_> {
    fn heading(&mut self, text: &str) -> std::io::Result<()> {
        match self.style {
            Style::Terminal => writeln!(self.out, "\n{}\n{}", text.to_uppercase(), "=".repeat(text.len())),
            Style::Markdown => writeln!(self.out, "\n## {text}\n"),
        }
    }

    fn line(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Code-like text (paths, class names): backticks in Markdown.
    fn code(&self, text: &str) -> String {
        match self.style {
            Style::Terminal => text.to_string(),
            Style::Markdown if text.is_empty() => String::new(),
            Style::Markdown => format!("`{}`", text.replace('`', "'")),
        }
    }

    fn table(&mut self, header: &[&str], numeric: &[usize], rows: Vec<Vec<String>>) -> std::io::Result<()> {
        let mut table = Table::new();
        let preset = match self.style {
            Style::Terminal => presets::UTF8_BORDERS_ONLY,
            Style::Markdown => presets::ASCII_MARKDOWN,
        };
        table.load_preset(preset).set_content_arrangement(ContentArrangement::Disabled).set_header(header.to_vec());
        for &i in numeric {
            if let Some(column) = table.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        for row in rows {
            let row = match self.style {
                Style::Markdown => row.into_iter().map(|c| c.replace('|', "\\|")).collect(),
                Style::Terminal => row,
            };
            table.add_row(row);
        }
        writeln!(self.out, "{table}")
    }
}

fn opt(value: Option<i64>) -> String {
    value.map_or("-".into(), |v| if v < 0 { v.to_string() } else { thousands(v as u64) })
}

fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else {
        format!("{} ({})", human_bytes(n), thousands(n))
    }
}

fn opt_bytes(value: Option<i64>) -> String {
    value.map_or("-".into(), |v| if v < 0 { v.to_string() } else { bytes(v as u64) })
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn render_json(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

pub fn render(out: &mut dyn Write, report: &Report, style: Style, top: usize) -> std::io::Result<()> {
    let mut doc = Doc { out, style };
    let d = &report.dump;
    let title = format!(
        "dumpscan: off-heap memory in {} ({}, {}-byte ids, {}, {} objects){}",
        d.path,
        d.format,
        d.id_size,
        human_bytes(d.bytes),
        thousands(d.objects),
        if d.truncated { " - TRUNCATED: reporting what was read" } else { "" }
    );
    match style {
        Style::Terminal => doc.line(&title)?,
        Style::Markdown => doc.line(&format!("# {}", title.trim_start_matches("dumpscan: ")))?,
    }
    doc.line(&format!(
        "{} of direct memory found and attributed below (mapped files apart).",
        bytes(report.native_bytes)
    ))?;

    doc.heading("Findings")?;
    if report.findings.is_empty() {
        doc.line("Nothing stands out: no large retainer, no pile-up, no memory awaiting GC.")?;
    }
    for (i, f) in report.findings.iter().enumerate() {
        match style {
            Style::Terminal => {
                doc.line(&format!("{}. {}", i + 1, f.title))?;
                doc.line(&format!("   {}", f.detail))?;
                for e in &f.evidence {
                    doc.line(&format!("   - {e}"))?;
                }
            }
            Style::Markdown => {
                doc.line(&format!("{}. **{}**  \n   {}", i + 1, f.title, f.detail))?;
                for e in &f.evidence {
                    doc.line(&format!("   - `{e}`"))?;
                }
            }
        }
    }

    counters(&mut doc, report)?;
    direct_buffers(&mut doc, report)?;
    netty(&mut doc, report)?;
    retainers(&mut doc, report, top)?;

    if !report.dominators.is_empty() {
        doc.heading("Native memory dominators")?;
        doc.line("Objects whose removal would free the most direct memory (retained through the dominator tree).")?;
        let rows = report
            .dominators
            .iter()
            .map(|r| {
                vec![bytes(r.retained_native_bytes), doc.code(&format!("{}@{}", r.class, r.id)), doc.code(&r.path)]
            })
            .collect();
        doc.table(&["retained native", "object", "path from a GC root"], &[0], rows)?;
    }

    if !report.largest.is_empty() {
        doc.heading("Largest buffers")?;
        let rows = report
            .largest
            .iter()
            .map(|b| {
                let indices = match (b.reader_index, b.writer_index) {
                    (Some(r), Some(w)) => format!("{r}/{w}"),
                    _ => "-".into(),
                };
                vec![
                    bytes(b.bytes),
                    b.kind.to_string(),
                    doc.code(&format!("{}@{}", b.class, b.id)),
                    indices,
                    doc.code(&b.path),
                ]
            })
            .collect();
        doc.table(&["bytes", "kind", "buffer", "read/write index", "path from a GC root"], &[0], rows)?;
    }
    Ok(())
}

fn counters(doc: &mut Doc<'_>, report: &Report) -> std::io::Result<()> {
    doc.heading("Counters kept by the process")?;
    let mut rows = Vec::new();
    match &report.counters.jdk {
        Some(j) => rows.push(vec![
            "JDK (java.nio.Bits)".into(),
            opt(j.count),
            opt_bytes(j.total_capacity),
            opt_bytes(j.reserved),
            opt_bytes(j.max),
        ]),
        None => {
            rows.push(vec!["JDK (java.nio.Bits)".into(), "not in the dump".into(), "-".into(), "-".into(), "-".into()])
        }
    }
    if let Some(n) = &report.counters.netty {
        let mode = match n.no_cleaner {
            Some(true) => "no-cleaner mode",
            Some(false) => "cleaner mode: inside the JDK counter",
            None => "mode unknown",
        };
        rows.push(vec![
            format!("Netty (PlatformDependent, {mode})"),
            "-".into(),
            "-".into(),
            n.used.map_or("counter off".into(), |u| opt_bytes(Some(u))),
            opt_bytes(n.max),
        ]);
    }
    doc.table(&["counter", "buffers", "total capacity", "reserved / used", "limit"], &[1, 2, 3, 4], rows)?;
    for r in &report.reconciliation {
        doc.line(&format!(
            "{}: the counter says {}, the dump's buffers add up to {} in {} buffers (difference {}). {}",
            if r.counter == "jdk" { "JDK" } else { "Netty" },
            opt_bytes(Some(r.counter_bytes)),
            bytes(r.found_bytes),
            thousands(r.found_count),
            r.difference,
            r.explanation.join(" ")
        ))?;
    }
    if let Some(e) = &report.error {
        doc.line("")?;
        doc.line(&format!(
            "The pasted error ({}): asked for {}{}{}.",
            if e.source == "netty" { "Netty OutOfDirectMemoryError" } else { "JDK direct buffer memory" },
            bytes(e.requested),
            e.used.map(|u| format!(", in use {}", bytes(u))).unwrap_or_default(),
            e.max.map(|m| format!(", limit {}", bytes(m))).unwrap_or_default()
        ))?;
        for line in &e.reading {
            doc.line(&format!("  {line}"))?;
        }
    }
    Ok(())
}

fn direct_buffers(doc: &mut Doc<'_>, report: &Report) -> std::io::Result<()> {
    doc.heading("Direct buffers")?;
    let b = &report.direct_buffers;
    let row =
        |name: &str, t: Tally, note: &str| vec![name.to_string(), thousands(t.count), bytes(t.bytes), note.to_string()];
    let rows = vec![
        row("owned", b.owned, "cleaner-backed, strongly reachable: counted by the JDK"),
        row("no cleaner", b.no_cleaner, "own memory the JDK does not count (Netty no-cleaner, JNI)"),
        row("awaiting GC", b.unreachable, "no strong path: freed when a GC runs their cleaners"),
        row("  of which collected", b.cleared_cleaners, "buffer object gone, cleaner not yet run"),
        row("mapped", b.mapped, "mapped files (the JDK's own image among them): not direct memory"),
        row("views", b.views, "slices and duplicates: share their parent's memory, never added"),
        row("stale, no cleaner", b.stale_no_cleaner, "unreachable wrappers: memory possibly freed long ago"),
        row("freed", b.freed, "cleaner already run"),
    ];
    doc.table(&["class", "buffers", "capacity", "meaning"], &[1, 2], rows)
}

fn netty(doc: &mut Doc<'_>, report: &Report) -> std::io::Result<()> {
    if report.netty.is_empty() {
        return Ok(());
    }
    doc.heading("Netty pools")?;
    for a in &report.netty {
        doc.line(&format!(
            "{} (chunk size {}), reached by {}",
            doc.code(&a.allocator),
            a.chunk_size.map_or("-".into(), |c| human_bytes(c.max(0) as u64)),
            doc.code(&a.path)
        ))?;
        if let Some(pool) = &a.adaptive {
            doc.line(&format!(
                "Adaptive pool: {} chunks holding {}, {} handed out; {} live buffers of {}.",
                thousands(pool.chunks),
                bytes(pool.chunk_bytes),
                bytes(pool.allocated_bytes),
                thousands(pool.live_buffers.count),
                bytes(pool.live_buffers.bytes)
            ))?;
        }
        if a.arenas.is_empty() {
            continue;
        }
        let rows = a
            .arenas
            .iter()
            .map(|x| {
                vec![
                    format!("{} {}", x.kind, x.id),
                    thousands(x.chunks),
                    bytes(x.chunk_bytes),
                    bytes(x.used_bytes),
                    bytes(x.free_bytes),
                    format!("{} / {}", thousands(x.huge_count), human_bytes(x.huge_bytes)),
                    thousands(x.thread_caches),
                    format!("{} / {}", thousands(x.cached_buffers), human_bytes(x.cached_bytes)),
                    format!("{} / {}", thousands(x.live_buffers.count), human_bytes(x.live_buffers.bytes)),
                ]
            })
            .collect();
        doc.table(
            &["arena", "chunks", "in chunks", "used", "free", "huge", "thread caches", "cached", "live buffers"],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            rows,
        )?;
        if !a.thread_caches.is_empty() {
            let rows = a
                .thread_caches
                .iter()
                .map(|c| {
                    vec![
                        c.thread.clone().unwrap_or_else(|| "(no thread found)".into()),
                        if c.thread_alive { "running".into() } else { "gone".into() },
                        thousands(c.cached_buffers),
                        bytes(c.cached_bytes),
                    ]
                })
                .collect();
            doc.table(&["thread cache of", "thread", "cached buffers", "cached direct bytes"], &[2, 3], rows)?;
        }
        if a.released_still_referenced.count > 0 {
            doc.line(&format!(
                "{} released buffers are still referenced by the application.",
                a.released_still_referenced.count
            ))?;
        }
    }
    Ok(())
}

fn retainers(doc: &mut Doc<'_>, report: &Report, top: usize) -> std::io::Result<()> {
    doc.heading("Retainers of direct memory")?;
    let shown = if top == 0 { report.retainers.len() } else { top.min(report.retainers.len()) };
    let rows = report.retainers[..shown]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kind = match r.kind {
                RetainerKind::Buffers => "path",
                RetainerKind::Allocator => "allocator",
                RetainerKind::AwaitingGc => "awaiting GC",
            };
            vec![
                (i + 1).to_string(),
                bytes(r.bytes),
                percent(r.bytes, report.native_bytes),
                thousands(r.buffers),
                kind.to_string(),
                doc.code(&r.root),
                doc.code(&r.path.join(" -> ")),
                r.owner.clone().unwrap_or_default(),
            ]
        })
        .collect();
    doc.table(&["#", "bytes", "share", "buffers", "kind", "GC root", "path", "owner"], &[0, 1, 2, 3], rows)?;
    if shown < report.retainers.len() {
        doc.line(&format!("{shown} of {} groups shown (--top 0 shows all).", report.retainers.len()))?;
    }
    Ok(())
}
