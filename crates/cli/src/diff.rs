//! `dumpscan diff OLD NEW`: what changed in the off-heap memory between two dumps of one
//! process, each side a dump or a report saved with `--format json`. The comparison is the
//! off-heap crate's (`dumpscan_offheap::diff`); this module reads the two sides one after the
//! other and prints the comparison as JSON (`dumpscan.diff.v1`, docs/DIFF-SCHEMA.md) or as a
//! document of the same blocks as the report, printed by the report's own printers.

use std::io::{self, Read, Write};
use std::path::Path;

use clap::ValueEnum;
use dumpscan_offheap::diff::{
    AllocatorChange, ArenaChange, Change, ClientChange, CounterChange, Diff, DiffFinding, DiffFindingKind,
    LettuceConnectionChange, ReactorReceiverChange, RedissonConnectionChange, TallyChange,
};
use dumpscan_offheap::units::{count, duration, human_bytes, signed, signed_bytes, thousands};
use dumpscan_offheap::{ArenaKind, ConnectionState, DumpInfo, Finding, FindingKind, Options, Report};

use crate::report::document::{opt, opt_bytes, push_table, retainer_kind, shown, text, Block, Cell, Table};
use crate::report::{html, markdown, terminal, Layout};
use crate::{Failure, Log, STDIN};

/// The outputs of `diff`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DiffFormat {
    Table,
    Json,
    Markdown,
    Html,
}

/// One side of the diff as a report: a saved JSON report read back, or a dump analysed. A dump
/// is analysed by a child `dumpscan` that hands its report over as JSON, so everything the
/// analysis allocated goes back to the system before the other side starts: in one process
/// the allocator keeps some pages of the first side and the second side's peak rises above
/// one report's. Where no child can be started, the dump is analysed here.
pub(crate) fn side(path: &Path, options: &Options, log: &Log, cut: &mut bool) -> Result<Report, Failure> {
    let on_side = |failure: Failure| Failure::Side { path: path.to_path_buf(), failure: Box::new(failure) };
    if is_saved_report(path) {
        let file = std::fs::File::open(path).map_err(|e| on_side(Failure::SavedReportUnreadable(e)))?;
        let report: Report =
            serde_json::from_reader(io::BufReader::new(file)).map_err(|e| on_side(Failure::NotAReport(e)))?;
        log.phase("read the saved report");
        return Ok(report);
    }
    if let Some(child) = child_analysis(path, options, log) {
        let report = child?;
        *cut |= report.dump.truncated;
        return Ok(report);
    }
    crate::analyse(path, options, log, cut).map_err(on_side)
}

/// Runs `dumpscan report PATH --format json` as a child sharing this process's standard input
/// and error (so a piped dump, progress and warnings reach the user as they would here), and
/// reads its report. `None` when the child cannot be started; a child that fails has said why
/// on the shared stderr, and its exit status becomes this one's.
fn child_analysis(path: &Path, options: &Options, log: &Log) -> Option<Result<Report, Failure>> {
    let exe = std::env::current_exe().ok()?;
    let mut command = std::process::Command::new(exe);
    if log.verbose {
        command.arg("--verbose");
    }
    command.args(["report", "--format", "json", "--top"]).arg(options.top.to_string());
    if !options.dominators {
        command.arg("--no-dominators");
    }
    let mut child = command
        .arg("--")
        .arg(path)
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let report: Result<Report, _> = serde_json::from_reader(io::BufReader::new(stdout));
    let status = child.wait();
    Some(match (status, report) {
        (Ok(status), Ok(report)) if status.success() => Ok(report),
        (Ok(status), _) if status.code().is_some_and(|code| code != 0) => {
            Err(Failure::Reported(status.code().unwrap_or(crate::EXIT_IO)))
        }
        (status, report) => {
            let failure = match status {
                Err(e) => Failure::AnalysisUnwaited(e),
                Ok(status) => Failure::Analysis { status, report: report.err() },
            };
            Err(Failure::Side { path: path.to_path_buf(), failure: Box::new(failure) })
        }
    })
}

/// A saved report is a JSON object (its first byte, after white space, is `{`); a dump starts
/// with `JAVA PROFILE` and a gzip file with its magic bytes, so neither is mistaken for one.
fn is_saved_report(path: &Path) -> bool {
    if path == Path::new(STDIN) {
        return false;
    }
    let mut head = [0u8; 256];
    let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    head[..read].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

pub(crate) fn render(out: &mut dyn Write, diff: &Diff, format: DiffFormat, layout: &Layout) -> io::Result<()> {
    match format {
        DiffFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, diff)?;
            writeln!(out)
        }
        DiffFormat::Table => terminal::print(out, &build(diff, layout.top), layout),
        DiffFormat::Markdown => markdown::print(out, &build(diff, layout.top)),
        DiffFormat::Html => html::print(out, &build(diff, layout.top), None),
    }
}

/// The diff as a document, `top` rows a table at most (0: all).
pub(crate) fn build(diff: &Diff, top: usize) -> Vec<Block> {
    let mut doc = vec![title(diff)];
    doc.push(Block::Heading("Findings"));
    if diff.findings.is_empty() {
        doc.push(Block::Paragraph(
            "Nothing grew enough to stand out: no retainer grew by a MiB and a tenth of the direct memory, \
             no pool took many chunks, no counter grew toward its limit."
                .into(),
        ));
    } else {
        doc.push(Block::Findings(diff.findings.iter().map(as_finding).collect()));
    }
    counters(&mut doc, diff);
    direct_buffers(&mut doc, diff);
    netty(&mut doc, diff);
    clients(&mut doc, diff, top);
    retainers(&mut doc, diff, top);
    doc
}

/// The printers show a finding's words, evidence and commands; its kind is the report's
/// nearest in meaning, which they do not print.
fn as_finding(f: &DiffFinding) -> Finding {
    Finding {
        kind: match f.kind {
            DiffFindingKind::RetainerGrew | DiffFindingKind::NewRetainer | DiffFindingKind::PoolGrew => {
                FindingKind::LargeRetainer
            }
            DiffFindingKind::CounterTowardLimit => FindingKind::CounterNearLimit,
        },
        role: f.role,
        title: f.title.clone(),
        detail: f.detail.clone(),
        bytes: f.bytes,
        evidence: f.evidence.clone(),
        commands: f.commands.clone(),
    }
}

fn title(diff: &Diff) -> Block {
    let about = |d: &DumpInfo| {
        let mut about = vec![human_bytes(d.bytes), format!("{} objects", thousands(d.objects))];
        about.extend(d.created.as_ref().map(|c| format!("written {c}")));
        about.extend(d.jvm.java_version.as_ref().map(|v| format!("Java {v}")));
        if d.truncated {
            about.push("TRUNCATED".into());
        }
        about.join(", ")
    };
    let mut lines = vec![
        format!("dumpscan: off-heap memory from {} to {}", diff.old.path, diff.new.path),
        format!("Old: {}", about(&diff.old)),
        format!("New: {}", about(&diff.new)),
    ];
    let n = diff.native_bytes;
    let mut found = format!(
        "Direct memory found and attributed: {} then {} ({}).",
        human_bytes(n.old),
        human_bytes(n.new),
        signed_bytes(n.delta)
    );
    if let Some(ms) = diff.elapsed_ms {
        found.push_str(&match u64::try_from(ms) {
            Ok(ms) => format!(" Written {} apart.", duration(ms)),
            Err(_) => " The old dump was written after the new one.".to_string(),
        });
    }
    lines.push(found);
    Block::Title(lines)
}

/// `old -> new (change)` in bytes; just the value when it did not change.
fn bytes_change(c: Change) -> String {
    if c.delta == 0 {
        human_bytes(c.new)
    } else {
        format!("{} -> {} ({})", human_bytes(c.old), human_bytes(c.new), signed_bytes(c.delta))
    }
}

/// `old -> new (change)` in a count; just the value when it did not change.
fn count_change(c: Change) -> String {
    if c.delta == 0 {
        thousands(c.new)
    } else {
        format!("{} -> {} ({})", thousands(c.old), thousands(c.new), signed(c.delta))
    }
}

fn counters(doc: &mut Vec<Block>, diff: &Diff) {
    doc.push(Block::Heading("Counters kept by the process"));
    let row = |name: &str, c: CounterChange, bytes: bool| {
        let value = if bytes { opt_bytes } else { opt };
        let change = c.delta.map_or("-".into(), |d| if bytes { signed_bytes(d) } else { signed(d) });
        vec![text(name), text(value(c.old)), text(value(c.new)), text(change)]
    };
    let mut rows = Vec::new();
    match &diff.counters.jdk {
        Some(j) => {
            rows.push(row("JDK direct buffers", j.count, false));
            rows.push(row("JDK total capacity", j.total_capacity, true));
            rows.push(row("JDK reserved", j.reserved, true));
            rows.push(row("JDK limit", j.max, true));
        }
        None => rows.push(vec![text("JDK (java.nio.Bits)"), text("not in the dumps"), text("-"), text("-")]),
    }
    if let Some(n) = &diff.counters.netty {
        rows.push(row("Netty used", n.used, true));
        rows.push(row("Netty limit", n.max, true));
    }
    doc.push(Block::Table(Table { header: vec!["counter", "old", "new", "change"], numeric: vec![1, 2, 3], rows }));
}

fn direct_buffers(doc: &mut Vec<Block>, diff: &Diff) {
    doc.push(Block::Heading("Direct buffers"));
    let b = &diff.direct_buffers;
    // The report's classes, in its order; a class empty in both dumps is left out.
    let classes = [
        ("owned", b.owned),
        ("no cleaner", b.no_cleaner),
        ("temporary cache", b.temporary_cache),
        ("awaiting GC", b.unreachable),
        ("  of which collected", b.cleared_cleaners),
        ("in progress", b.in_progress),
        ("mapped", b.mapped),
        ("JVM mapped", b.jvm_mapped),
        ("views", b.views),
        ("failed", b.failed),
        ("stale, no cleaner", b.stale_no_cleaner),
        ("freed", b.freed),
    ];
    let rows = classes
        .into_iter()
        .filter(|(_, t)| t.old.count > 0 || t.new.count > 0)
        .map(|(name, t): (&str, TallyChange)| {
            vec![
                text(name),
                text(thousands(t.old.count)),
                text(human_bytes(t.old.bytes)),
                text(thousands(t.new.count)),
                text(human_bytes(t.new.bytes)),
                text(format!("{} in {}", signed_bytes(t.delta_bytes), signed(t.delta_count))),
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        header: vec!["class", "old buffers", "old capacity", "new buffers", "new capacity", "change"],
        numeric: vec![1, 2, 3, 4, 5],
        rows,
    }));
}

fn netty(doc: &mut Vec<Block>, diff: &Diff) {
    if diff.netty.is_empty() {
        return;
    }
    doc.push(Block::Heading("Netty pools"));
    for a in &diff.netty {
        // Arenas empty in both dumps (an allocator the process never used) are one sentence,
        // not rows of zeros.
        let arenas: Vec<&ArenaChange> = a.arenas.iter().filter(|x| !x.is_empty()).collect();
        let idle = match arenas.is_empty() && !a.arenas.is_empty() {
            true => format!(": nothing in its {} in either dump", count(a.arenas.len() as u64, "arena")),
            false => String::new(),
        };
        doc.push(Block::Paragraph(format!("{}{idle}", allocator_line(a))));
        if let Some(pool) = &a.adaptive {
            doc.push(Block::Paragraph(format!(
                "Adaptive pool: chunks {}, holding {}, handed out {}; live ByteBufs {}.",
                count_change(pool.chunks),
                bytes_change(pool.chunk_bytes),
                bytes_change(pool.allocated_bytes),
                bytes_change(Change::of(pool.live_buffers.old.bytes, pool.live_buffers.new.bytes))
            )));
        }
        if arenas.is_empty() {
            continue;
        }
        let rows = arenas
            .iter()
            .map(|x| {
                vec![
                    Cell::Code(format!("{} {}", if x.kind == ArenaKind::Direct { "direct" } else { "heap" }, x.index)),
                    text(count_change(x.chunks)),
                    text(bytes_change(x.used_bytes)),
                    text(bytes_change(x.free_bytes)),
                    text(bytes_change(x.huge_bytes)),
                    text(bytes_change(x.cached_bytes)),
                    text(bytes_change(Change::of(x.live_buffers.old.bytes, x.live_buffers.new.bytes))),
                ]
            })
            .collect();
        doc.push(Block::Table(Table {
            header: vec!["arena", "chunks", "used", "free", "huge", "cached", "live ByteBufs"],
            numeric: vec![1, 2, 3, 4, 5, 6],
            rows,
        }));
    }
}

fn allocator_line(a: &AllocatorChange) -> String {
    let seen = match (&a.old_allocator, &a.new_allocator) {
        (Some(_), Some(_)) => "",
        (None, _) => ", new",
        (_, None) => ", gone",
    };
    format!("{} (chunk size {}{seen})", a.path, human_bytes(a.chunk_size.new.max(a.chunk_size.old)))
}

fn clients(doc: &mut Vec<Block>, diff: &Diff, top: usize) {
    for client in &diff.clients {
        match client {
            ClientChange::Lettuce { connections } => lettuce(doc, connections, top),
            ClientChange::Redisson { connections } => redisson(doc, connections, top),
            ClientChange::Reactor { receivers } => reactor(doc, receivers, top),
        }
    }
}

fn state(state: Option<ConnectionState>) -> &'static str {
    match state {
        Some(ConnectionState::Connected) => "connected",
        Some(ConnectionState::Disconnected) => "disconnected",
        Some(ConnectionState::Closed) => "closed",
        None => "absent",
    }
}

/// A client library's table: its heading, then a row for each of the first `top` of `items`.
fn client_table<T>(
    doc: &mut Vec<Block>,
    (heading, what): (&'static str, &str),
    (header, numeric): (Vec<&'static str>, Vec<usize>),
    (items, top): (&[T], usize),
    row: impl Fn(&T) -> Vec<String>,
) {
    doc.push(Block::Heading(heading));
    let rows = shown(items, top).iter().map(|item| row(item).into_iter().map(text).collect()).collect();
    push_table(doc, Table { header, numeric, rows }, items.len(), what);
}

fn remote(remote: &Option<String>) -> String {
    remote.clone().unwrap_or_else(|| "-".into())
}

fn lettuce(doc: &mut Vec<Block>, connections: &[LettuceConnectionChange], top: usize) {
    let header = vec!["server", "state", "in flight", "queued", "read, not decoded", "pending writes", "direct"];
    let columns = (header, vec![2, 3, 4, 5, 6]);
    client_table(doc, ("Redis connections (Lettuce)", "connections"), columns, (connections, top), |c| {
        let states = if c.old_state == c.new_state {
            state(c.new_state).to_string()
        } else {
            format!("{} -> {}", state(c.old_state), state(c.new_state))
        };
        vec![
            remote(&c.remote),
            states,
            count_change(c.in_flight),
            count_change(c.queued),
            bytes_change(c.read_buffer_readable),
            bytes_change(c.pending_write_bytes),
            bytes_change(c.direct_bytes),
        ]
    });
}

fn redisson(doc: &mut Vec<Block>, connections: &[RedissonConnectionChange], top: usize) {
    let columns = (vec!["server", "in flight", "read, not decoded", "pending writes", "direct"], vec![1, 2, 3, 4]);
    client_table(doc, ("Redis connections (Redisson)", "connections"), columns, (connections, top), |c| {
        vec![
            remote(&c.remote),
            count_change(c.in_flight),
            bytes_change(c.read_buffer_readable),
            bytes_change(c.pending_write_bytes),
            bytes_change(c.direct_bytes),
        ]
    });
}

fn reactor(doc: &mut Vec<Block>, receivers: &[ReactorReceiverChange], top: usize) {
    let columns = (vec!["peer", "queued", "bytes"], vec![1, 2]);
    client_table(doc, ("Reactor Netty inbound queues", "queues"), columns, (receivers, top), |r| {
        vec![remote(&r.remote), count_change(r.queued), bytes_change(r.queued_bytes)]
    });
}

fn retainers(doc: &mut Vec<Block>, diff: &Diff, top: usize) {
    doc.push(Block::Heading("Retainers of direct memory, largest change first"));
    let rows: Vec<Vec<Cell>> = shown(&diff.retainers, top)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut path = vec![r.root.clone()];
            path.extend(r.path.iter().cloned());
            let buffers = if r.old_buffers == r.new_buffers {
                thousands(r.new_buffers)
            } else {
                format!("{} -> {}", thousands(r.old_buffers), thousands(r.new_buffers))
            };
            vec![
                text((i + 1).to_string()),
                text(human_bytes(r.old_bytes)),
                text(human_bytes(r.new_bytes)),
                text(signed_bytes(r.delta)),
                text(buffers),
                text(retainer_kind(r.kind)),
                Cell::Path(path),
            ]
        })
        .collect();
    push_table(
        doc,
        Table {
            header: vec!["#", "old", "new", "change", "buffers", "kind", "GC root and path"],
            numeric: vec![0, 1, 2, 3, 4],
            rows,
        },
        diff.retainers.len(),
        "retainers",
    );
}
