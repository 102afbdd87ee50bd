//! The report as a document: the sections every text format shows, in order, as headings,
//! paragraphs, findings and tables of typed cells. The terminal and Markdown printers decide
//! how each piece looks; nothing here knows about widths or markup.

use dumpscan_offheap::units::{count, exact_bytes, human_bytes, percent, signed_exact_bytes, thousands};
use dumpscan_offheap::{
    AllocationPurpose, Client, Commands, ConnectionState, CounterSource, Finding, HolderRole, LargeBufferKind,
    LettuceConnection, PartSource, ReactorReceiver, ReadBuffer, RedissonConnection, Report, RetainerKind,
};

/// One piece of the document.
pub enum Block {
    /// The first lines: what was read.
    Title(Vec<String>),
    /// A section heading.
    Heading(&'static str),
    /// Prose.
    Paragraph(String),
    /// The numbered findings.
    Findings(Vec<Finding>),
    /// A table.
    Table(Table),
}

/// A table: its header, which columns are numbers (right-aligned), and its rows.
pub struct Table {
    pub header: Vec<&'static str>,
    pub numeric: Vec<usize>,
    pub rows: Vec<Vec<Cell>>,
}

/// A table cell.
#[derive(Clone)]
pub enum Cell {
    /// Plain words or numbers.
    Text(String),
    /// A name from the dump (class, object, frame): code in Markdown.
    Code(String),
    /// A path, one step an element: shortened in tables unless the user asks for it whole.
    Path(Vec<String>),
}

pub(crate) fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

pub(crate) fn opt(value: Option<i64>) -> String {
    value.map_or("-".into(), |v| u64::try_from(v).map_or_else(|_| v.to_string(), thousands))
}

pub(crate) fn opt_bytes(value: Option<i64>) -> String {
    value.map_or("-".into(), |v| u64::try_from(v).map_or_else(|_| v.to_string(), exact_bytes))
}

/// The whole report, `top` rows a table at most (0: all).
pub fn build(report: &Report, top: usize) -> Vec<Block> {
    let mut doc = vec![title(report)];
    doc.push(Block::Heading("Findings"));
    if report.findings.is_empty() {
        doc.push(Block::Paragraph("Nothing stands out: no large retainer, no pile-up, no memory awaiting GC.".into()));
    } else {
        doc.push(Block::Findings(report.findings.clone()));
    }
    counters(&mut doc, report);
    native(&mut doc, report);
    in_progress(&mut doc, report);
    direct_buffers(&mut doc, report);
    netty(&mut doc, report);
    channels(&mut doc, report, top);
    clients(&mut doc, report, top);
    retainers(&mut doc, report, top);
    dominators(&mut doc, report);
    largest(&mut doc, report);
    doc
}

fn title(report: &Report) -> Block {
    let d = &report.dump;
    let mut lines = vec![format!("dumpscan: off-heap memory in {}", d.path)];
    let mut about = vec![
        d.format.clone(),
        format!("{}-byte ids", d.id_size),
        human_bytes(d.bytes),
        format!("{} objects", thousands(d.objects)),
    ];
    if let Some(created) = &d.created {
        about.push(format!("written {created}"));
    }
    if let Some(version) = &d.jvm.java_version {
        about.push(match &d.jvm.vendor {
            Some(vendor) => format!("Java {version} ({vendor})"),
            None => format!("Java {version}"),
        });
    }
    lines.push(about.join(", "));
    let mut limits = Vec::new();
    if let Some(max) = d.jvm.max_direct_memory.and_then(|m| u64::try_from(m).ok()) {
        limits.push(format!("-XX:MaxDirectMemorySize {}", human_bytes(max)));
    }
    limits.extend(d.jvm.properties.iter().map(|(k, v)| format!("-D{k}={v}")));
    if !limits.is_empty() {
        lines.push(format!("Limits: {}", limits.join(", ")));
    }
    if d.truncated {
        lines.push("TRUNCATED: the dump is cut short; reporting what was read.".into());
    }
    lines.push(format!(
        "{} of direct memory found and attributed below (mapped files apart).",
        exact_bytes(report.native_bytes)
    ));
    Block::Title(lines)
}

fn counters(doc: &mut Vec<Block>, report: &Report) {
    doc.push(Block::Heading("Counters kept by the process"));
    let mut rows = Vec::new();
    match &report.counters.jdk {
        Some(j) => rows.push(vec![
            text("JDK (java.nio.Bits)"),
            text(opt(j.count)),
            text(opt_bytes(j.total_capacity)),
            text(opt_bytes(j.reserved)),
            text(opt_bytes(j.max)),
        ]),
        None => rows.push(vec![text("JDK (java.nio.Bits)"), text("not in the dump"), text("-"), text("-"), text("-")]),
    }
    if let Some(n) = &report.counters.netty {
        let mode = match n.no_cleaner {
            Some(true) => "no-cleaner mode",
            Some(false) => "cleaner mode: inside the JDK counter",
            None => "mode unknown",
        };
        rows.push(vec![
            text(format!("Netty (PlatformDependent, {mode})")),
            text("-"),
            text("-"),
            text(n.used.map_or("counter off".into(), |u| opt_bytes(Some(u)))),
            text(opt_bytes(n.max)),
        ]);
    }
    doc.push(Block::Table(Table {
        header: vec!["counter", "direct buffers", "total capacity", "reserved / used", "limit"],
        numeric: vec![1, 2, 3, 4],
        rows,
    }));
    for r in &report.reconciliation {
        doc.push(Block::Paragraph(format!(
            "{}: the counter says {}, the dump's direct buffers add up to {} in {} (difference {}). {}",
            match r.counter {
                CounterSource::Jdk => "JDK",
                CounterSource::Netty => "Netty",
            },
            opt_bytes(Some(r.counter_bytes)),
            exact_bytes(r.found_bytes),
            count(r.found_count, "direct buffer"),
            r.difference,
            r.explanation.join(" ")
        )));
    }
}

/// The process's memory beside the dump (`--nmt`, `--proc`): the RSS and NMT's total, the
/// breakdown that adds up to the RSS, and each reconciliation's reading.
fn native(doc: &mut Vec<Block>, report: &Report) {
    let Some(native) = &report.native else { return };
    doc.push(Block::Heading("Native memory (NMT and /proc)"));
    let mut seen = Vec::new();
    if let Some(rss) = native.rss {
        let mut kinds = Vec::new();
        kinds.extend(native.rss_anon.map(|a| format!("anonymous {}", human_bytes(a))));
        kinds.extend(native.rss_file.map(|f| format!("file {}", human_bytes(f))));
        let kinds = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
        seen.push(format!("RSS {}{kinds}", exact_bytes(rss)));
    }
    if let Some(nmt) = &native.nmt {
        seen.push(format!(
            "NMT: {} committed, {} reserved",
            exact_bytes(nmt.total.committed),
            human_bytes(nmt.total.reserved)
        ));
    }
    let whole = native.rss.or(native.nmt.as_ref().map(|n| n.total.committed)).unwrap_or(0);
    let of = if native.rss.is_some() { "the RSS" } else { "NMT's committed total" };
    doc.push(Block::Paragraph(format!("{}. The parts below add up to {of}.", seen.join("; "))));
    let rows = native
        .breakdown
        .iter()
        .map(|p| {
            vec![
                text(p.part.clone()),
                text(signed_exact_bytes(p.bytes)),
                text(u64::try_from(p.bytes).map_or("-".into(), |b| percent(b, whole))),
                text(match p.source {
                    PartSource::Nmt => "NMT",
                    PartSource::Dump => "dump",
                    PartSource::Proc => "/proc",
                    PartSource::Derived => "derived",
                }),
            ]
        })
        .collect();
    doc.push(Block::Table(Table { header: vec!["part", "bytes", "share", "from"], numeric: vec![1, 2], rows }));
    for check in &native.reconciliation {
        doc.push(Block::Paragraph(check.reading.clone()));
    }
}

fn in_progress(doc: &mut Vec<Block>, report: &Report) {
    if report.allocations_in_progress.is_empty() {
        return;
    }
    doc.push(Block::Heading("Allocations in progress"));
    doc.push(Block::Paragraph(
        "Direct buffers still in their constructor, waiting for room under the JDK's limit: they own nothing yet."
            .into(),
    ));
    let rows = report
        .allocations_in_progress
        .iter()
        .map(|a| {
            vec![
                text(exact_bytes(a.requested)),
                text(match a.purpose {
                    AllocationPurpose::PoolChunk => "Netty pool chunk",
                    AllocationPurpose::PoolHuge => "Netty huge allocation",
                    AllocationPurpose::NettyUnpooled => "unpooled ByteBuf",
                    AllocationPurpose::Other => "-",
                }),
                Cell::Code(a.thread.clone().unwrap_or_else(|| "-".into())),
                Cell::Code(a.asked_by.clone().unwrap_or_else(|| "-".into())),
                Cell::Code(a.id.clone()),
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        header: vec!["requested", "for", "thread", "asked for by", "buffer"],
        numeric: vec![0],
        rows,
    }));
}

fn direct_buffers(doc: &mut Vec<Block>, report: &Report) {
    doc.push(Block::Heading("Direct buffers"));
    let b = &report.direct_buffers;
    // (name, tally, meaning, shown even when empty, bytes of its own): classes most dumps never
    // have stay out of the way; views span their parents' memory, so their summed capacities
    // mean nothing and only their count is shown.
    let classes = [
        ("owned", b.owned, "cleaner-backed, strongly reachable: counted by the JDK", true, true),
        ("no cleaner", b.no_cleaner, "own memory the JDK does not count (Netty no-cleaner, JNI)", true, true),
        (
            "temporary cache",
            b.temporary_cache,
            "the JDK's per-thread I/O buffers, outside its counter (JDK 24+)",
            false,
            true,
        ),
        ("awaiting GC", b.unreachable, "no strong path: freed when a GC runs their cleaners", true, true),
        ("  of which collected", b.cleared_cleaners, "buffer object gone, cleaner not yet run", true, true),
        ("in progress", b.in_progress, "still in their constructor: memory asked for, not yet reserved", false, true),
        ("mapped", b.mapped, "files the application mapped: not direct memory", true, true),
        ("JVM mapped", b.jvm_mapped, "the JVM's own runtime image and counters file", true, true),
        ("views", b.views, "slices and duplicates: share their parent's memory, never added", true, false),
        ("failed", b.failed, "unreachable constructors that never got memory", false, true),
        ("stale, no cleaner", b.stale_no_cleaner, "unreachable wrappers: memory possibly freed long ago", true, true),
        ("freed", b.freed, "cleaner already run", true, true),
    ];
    let rows = classes
        .into_iter()
        .filter(|&(_, tally, _, always, _)| always || tally.count > 0)
        .map(|(name, t, note, _, sized)| {
            let bytes = if sized { exact_bytes(t.bytes) } else { "-".into() };
            vec![text(name), text(thousands(t.count)), text(bytes), text(note)]
        })
        .collect();
    doc.push(Block::Table(Table {
        header: vec!["class", "buffers", "capacity", "meaning"],
        numeric: vec![1, 2],
        rows,
    }));
}

fn netty(doc: &mut Vec<Block>, report: &Report) {
    if report.netty.is_empty() {
        return;
    }
    doc.push(Block::Heading("Netty pools"));
    for a in &report.netty {
        doc.push(Block::Paragraph(format!(
            "{} (chunk size {}), reached by {}",
            a.allocator,
            a.chunk_size.and_then(|c| u64::try_from(c).ok()).map_or("-".into(), human_bytes),
            a.path
        )));
        if let Some(pool) = &a.adaptive {
            doc.push(Block::Paragraph(format!(
                "Adaptive pool: {} chunks holding {}, {} handed out; {} live ByteBufs of {}.",
                thousands(pool.chunks),
                exact_bytes(pool.chunk_bytes),
                exact_bytes(pool.allocated_bytes),
                thousands(pool.live_buffers.count),
                exact_bytes(pool.live_buffers.bytes)
            )));
        }
        if !a.arenas.is_empty() {
            let rows = a
                .arenas
                .iter()
                .map(|x| {
                    vec![
                        Cell::Code(format!(
                            "{} {}",
                            if x.kind == dumpscan_offheap::ArenaKind::Direct { "direct" } else { "heap" },
                            x.id
                        )),
                        text(thousands(x.chunks)),
                        text(human_bytes(x.chunk_bytes)),
                        text(human_bytes(x.used_bytes)),
                        text(human_bytes(x.free_bytes)),
                        text(format!("{} / {}", thousands(x.huge_count), human_bytes(x.huge_bytes))),
                        text(thousands(x.thread_caches)),
                        text(format!("{} / {}", thousands(x.cached_buffers), human_bytes(x.cached_bytes))),
                        text(format!("{} / {}", thousands(x.live_buffers.count), human_bytes(x.live_buffers.bytes))),
                    ]
                })
                .collect();
            doc.push(Block::Table(Table {
                header: vec![
                    "arena",
                    "chunks",
                    "in chunks",
                    "used",
                    "free",
                    "huge",
                    "thread caches",
                    "cached",
                    "live ByteBufs",
                ],
                numeric: vec![1, 2, 3, 4, 5, 6, 7, 8],
                rows,
            }));
        }
        if !a.thread_caches.is_empty() {
            let rows = a
                .thread_caches
                .iter()
                .map(|c| {
                    vec![
                        Cell::Code(c.thread.clone().unwrap_or_else(|| "(no thread found)".into())),
                        text(if c.thread_alive { "running" } else { "gone" }),
                        text(thousands(c.cached_buffers)),
                        text(exact_bytes(c.cached_bytes)),
                    ]
                })
                .collect();
            doc.push(Block::Table(Table {
                header: vec!["thread cache of", "thread", "cached ByteBufs", "cached direct bytes"],
                numeric: vec![2, 3],
                rows,
            }));
        }
        if a.released_still_referenced.count > 0 {
            doc.push(Block::Paragraph(format!(
                "{} released but still referenced by the application.",
                count(a.released_still_referenced.count, "ByteBuf")
            )));
        }
    }
}

pub(crate) fn shown<T>(rows: &[T], top: usize) -> &[T] {
    if top == 0 {
        rows
    } else {
        &rows[..top.min(rows.len())]
    }
}

/// A table of the first rows of `total` (`--top`), and a line saying how many are left out.
pub(crate) fn push_table(doc: &mut Vec<Block>, table: Table, total: usize, what: &str) {
    let shown = table.rows.len();
    doc.push(Block::Table(table));
    if shown < total {
        doc.push(Block::Paragraph(format!("{shown} of {total} {what} shown (--top 0 shows all).")));
    }
}

fn channels(doc: &mut Vec<Block>, report: &Report, top: usize) {
    if report.channels.is_empty() {
        return;
    }
    doc.push(Block::Heading("Channels with pending writes"));
    let rows: Vec<Vec<Cell>> = shown(&report.channels, top)
        .iter()
        .map(|c| {
            vec![
                Cell::Code(format!("{} {}", c.class.rsplit('.').next().unwrap_or(&c.class), c.id)),
                text(c.owner.as_ref().map_or_else(
                    || "-".into(),
                    |o| {
                        let simple = o.class.rsplit(['.', '$']).next().unwrap_or(&o.class);
                        o.session_id.as_ref().map_or_else(|| simple.to_string(), |s| format!("{simple} session {s}"))
                    },
                )),
                // One column for both ends, each kept whole: the connection as `ss` prints it.
                text(format!("{} -> {}", c.local.as_deref().unwrap_or("-"), c.remote.as_deref().unwrap_or("-"))),
                text(format!("{} in {}", human_bytes(c.pending_bytes), thousands(c.pending_messages))),
                text(if c.writable { "yes" } else { "no" }),
                text(format!("{} in {}", human_bytes(c.direct.bytes), thousands(c.direct.count))),
            ]
        })
        .collect();
    push_table(
        doc,
        Table {
            // Sizes with their counts wrap in narrow columns: left-aligned, they read as text.
            header: vec!["channel", "owner", "local -> remote", "pending", "writable", "direct held"],
            numeric: Vec::new(),
            rows,
        },
        report.channels.len(),
        "channels",
    );
}

fn commands(commands: &Commands) -> String {
    if commands.count == 0 {
        "-".into()
    } else {
        commands.by_type()
    }
}

fn clients(doc: &mut Vec<Block>, report: &Report, top: usize) {
    for client in &report.clients {
        match client {
            Client::Lettuce { connections } => lettuce(doc, connections, top),
            Client::Redisson { connections } => redisson(doc, connections, top),
            Client::Reactor { receivers } => reactor(doc, receivers, top),
        }
    }
}

fn read_buffer(buffer: Option<&ReadBuffer>) -> String {
    buffer.map_or("-".into(), |b| format!("{} of {}", human_bytes(b.readable), human_bytes(b.capacity)))
}

fn redisson(doc: &mut Vec<Block>, connections: &[RedissonConnection], top: usize) {
    doc.push(Block::Heading("Redis connections (Redisson)"));
    let rows: Vec<Vec<Cell>> = shown(connections, top)
        .iter()
        .map(|c| {
            vec![
                text(c.remote.clone().unwrap_or_else(|| "-".into())),
                text(commands(&c.in_flight)),
                text(read_buffer(c.read_buffer.as_ref())),
                text(c.pending_write_bytes.map_or("-".into(), human_bytes)),
                text(human_bytes(c.direct_bytes)),
                Cell::Code(c.channel.clone()),
            ]
        })
        .collect();
    push_table(
        doc,
        Table {
            header: vec!["server", "in flight", "read buffer", "pending writes", "direct", "channel"],
            numeric: vec![3, 4],
            rows,
        },
        connections.len(),
        "connections",
    );
}

fn reactor(doc: &mut Vec<Block>, receivers: &[ReactorReceiver], top: usize) {
    doc.push(Block::Heading("Reactor Netty inbound queues"));
    let rows: Vec<Vec<Cell>> = shown(receivers, top)
        .iter()
        .map(|r| {
            vec![
                text(r.remote.clone().unwrap_or_else(|| "-".into())),
                text(if r.subscribed { "yes" } else { "no" }),
                text(r.demand.map_or("-".into(), |d| d.to_string())),
                text(thousands(r.queued)),
                text(exact_bytes(r.queued_bytes)),
                Cell::Code(r.id.clone()),
            ]
        })
        .collect();
    push_table(
        doc,
        Table {
            header: vec!["peer", "subscribed", "demand", "queued", "bytes", "FluxReceive"],
            numeric: vec![2, 3, 4],
            rows,
        },
        receivers.len(),
        "queues",
    );
}

fn lettuce(doc: &mut Vec<Block>, connections: &[LettuceConnection], top: usize) {
    {
        doc.push(Block::Heading("Redis connections (Lettuce)"));
        let rows: Vec<Vec<Cell>> =
            shown(connections, top)
                .iter()
                .map(|c| {
                    vec![
                        text(c.remote.clone().unwrap_or_else(|| "-".into())),
                        text(match c.state {
                            ConnectionState::Connected => "connected",
                            ConnectionState::Disconnected => "disconnected",
                            ConnectionState::Closed => "closed",
                        }),
                        text(commands(&c.in_flight)),
                        text(commands(&c.queued)),
                        text(c.read_buffer.as_ref().map_or("-".into(), |b| {
                            format!("{} of {}", human_bytes(b.readable), human_bytes(b.capacity))
                        })),
                        text(c.pending_write_bytes.map_or("-".into(), human_bytes)),
                        text(human_bytes(c.direct_bytes)),
                        Cell::Code(c.endpoint.clone().or_else(|| c.handler.clone()).unwrap_or_default()),
                    ]
                })
                .collect();
        push_table(
            doc,
            Table {
                header: vec![
                    "server",
                    "state",
                    "in flight",
                    "queued",
                    "read buffer",
                    "pending writes",
                    "direct",
                    "endpoint",
                ],
                numeric: vec![5, 6],
                rows,
            },
            connections.len(),
            "connections",
        );
    }
}

fn retainers(doc: &mut Vec<Block>, report: &Report, top: usize) {
    doc.push(Block::Heading("Retainers of direct memory"));
    let rows: Vec<Vec<Cell>> = shown(&report.retainers, top)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kind = retainer_kind(r.kind);
            // An application's own decoder is both: named once.
            let holder = r.holder.as_ref().filter(|h| r.owner.as_ref() != Some(&h.class)).map(|h| match h.role {
                HolderRole::Pool => format!("{}'s pool", h.library.name()),
                _ => format!("{} ({})", h.class, h.library.name()),
            });
            let held_by = match (&r.owner, holder) {
                (Some(owner), Some(holder)) => format!("{owner}, in {holder}"),
                (Some(owner), None) => owner.clone(),
                (None, Some(holder)) => holder,
                (None, None) => "-".into(),
            };
            let mut path = vec![r.root.clone()];
            path.extend(r.path.iter().cloned());
            vec![
                text((i + 1).to_string()),
                text(exact_bytes(r.bytes)),
                text(percent(r.bytes, report.native_bytes)),
                text(thousands(r.buffers)),
                text(kind),
                Cell::Path(path),
                Cell::Code(held_by),
            ]
        })
        .collect();
    push_table(
        doc,
        Table {
            header: vec!["#", "bytes", "share", "buffers", "kind", "GC root and path", "owner or holder"],
            numeric: vec![0, 1, 2, 3],
            rows,
        },
        report.retainers.len(),
        "groups",
    );
}

fn dominators(doc: &mut Vec<Block>, report: &Report) {
    if report.dominators.is_empty() {
        return;
    }
    doc.push(Block::Heading("Native memory dominators"));
    doc.push(Block::Paragraph(
        "Objects whose removal would free the most direct memory (retained through the dominator tree).".into(),
    ));
    let rows = report
        .dominators
        .iter()
        .map(|r| {
            vec![
                text(exact_bytes(r.retained_native_bytes)),
                Cell::Code(format!("{}@{}", r.class, r.id)),
                Cell::Path(r.steps.clone()),
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        header: vec!["retained native", "object", "path from a GC root"],
        numeric: vec![0],
        rows,
    }));
}

fn largest(doc: &mut Vec<Block>, report: &Report) {
    if report.largest.is_empty() {
        return;
    }
    doc.push(Block::Heading("Largest buffers"));
    let rows = report
        .largest
        .iter()
        .map(|b| {
            let indices = match (b.reader_index, b.writer_index) {
                (Some(r), Some(w)) => format!("{r}/{w}"),
                _ => "-".into(),
            };
            vec![
                text(exact_bytes(b.bytes)),
                text(kind_name(b.kind)),
                Cell::Code(format!("{}@{}", b.class, b.id)),
                text(indices),
                Cell::Path(b.steps.clone()),
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        header: vec!["bytes", "kind", "buffer", "read/write index", "path from a GC root"],
        numeric: vec![0],
        rows,
    }));
}

/// A retainer's kind in a table's `kind` column.
pub(crate) fn retainer_kind(kind: RetainerKind) -> &'static str {
    match kind {
        RetainerKind::Buffers => "path",
        RetainerKind::Allocator => "allocator",
        RetainerKind::Leaked => "leaked",
        RetainerKind::AwaitingGc => "awaiting GC",
    }
}

fn kind_name(kind: LargeBufferKind) -> &'static str {
    match kind {
        LargeBufferKind::Owned => "owned",
        LargeBufferKind::NoCleaner => "no cleaner",
        LargeBufferKind::TemporaryCache => "temporary cache",
        LargeBufferKind::Mapped => "mapped",
        LargeBufferKind::Unreachable => "awaiting GC",
        LargeBufferKind::NettyChunk => "Netty chunk",
        LargeBufferKind::NettyPooled => "pooled ByteBuf",
        LargeBufferKind::NettyHuge => "huge ByteBuf",
    }
}
