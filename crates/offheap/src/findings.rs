//! Findings: a few sentences an on-call engineer can act on, each with its evidence. Each rule
//! is one function over the typed report; context comes first, then causes (where the memory
//! went, largest first), then symptoms (what the process saw), which may point back at causes.
//!
//! Words: "direct buffers" are the JDK's `DirectByteBuffer`s, "ByteBufs" are Netty's.

use crate::libraries::Library;
use crate::native::rules as native;
use crate::packs::clients;
use crate::report::{
    AllocationPurpose, Client, CounterSource, Finding, FindingKind, Holder, HolderRole, LargeBufferKind, Report,
    Retainer, RetainerKind, Role,
};
use crate::units::{capitalized, count, human_bytes as size, percent};

pub(crate) const MIB: u64 = 1 << 20;

/// What the rules read: the report so far and the dump's path for commands.
pub(crate) struct Context<'r> {
    pub report: &'r Report,
}

/// A rule: the findings it makes of the report (context or causes).
pub(crate) type Rule = fn(&Context<'_>) -> Vec<Finding>;
/// Rules that may point at the findings before them.
type SymptomRule = fn(&Context<'_>, &[Finding]) -> Vec<Finding>;

const CONTEXT_AND_CAUSES: &[Rule] = &[
    truncated,
    allocation_in_progress,
    read_buffers,
    large_retainer,
    large_buffer,
    awaiting_gc,
    clients::reply_being_read,
    clients::write_pileups,
    native::other_uncounted,
    native::not_tracked_by_nmt,
    native::heap_oversized,
];
const SYMPTOMS: &[SymptomRule] = &[error_message, counters_near_limit, invisible_to_jmx];

pub(crate) fn find(cx: &Context<'_>) -> Vec<Finding> {
    let packs = crate::packs::PACKS.iter().flat_map(|pack| pack.rules());
    let mut findings: Vec<Finding> = CONTEXT_AND_CAUSES.iter().chain(packs).flat_map(|rule| rule(cx)).collect();
    // Context keeps the rules' order; causes go largest first.
    findings.sort_by(|a, b| {
        a.role.cmp(&b.role).then_with(|| match a.role {
            Role::Context => std::cmp::Ordering::Equal,
            _ => b.bytes.cmp(&a.bytes),
        })
    });
    let symptoms: Vec<Finding> = SYMPTOMS.iter().flat_map(|rule| rule(cx, &findings)).collect();
    findings.extend(symptoms);
    findings
}

pub(crate) fn finding(kind: FindingKind, role: Role, title: String, detail: String, bytes: u64) -> Finding {
    Finding { kind, role, title, detail, bytes, evidence: Vec::new(), commands: Vec::new() }
}

impl Context<'_> {
    pub(crate) fn native(&self) -> u64 {
        self.report.native_bytes
    }

    /// Large enough to mention: a MiB, and a tenth of the direct memory found.
    pub(crate) fn significant(&self, bytes: u64) -> bool {
        bytes >= MIB && bytes.saturating_mul(10) >= self.native()
    }

    /// `dumpscan paths 'the dump' --id ID`, ready to paste.
    pub(crate) fn paths_command(&self, id: &str) -> String {
        format!("dumpscan paths {} --id {id}", shell_words::quote(&self.report.dump.path))
    }

    fn netty_no_cleaner(&self) -> bool {
        self.report.counters.netty.as_ref().is_some_and(|n| n.no_cleaner == Some(true))
    }
}

/// "ByteBuf" when a group ends at Netty's buffers, "direct buffer" otherwise.
fn unit(retainer: &Retainer) -> &'static str {
    match retainer.path.last().and_then(|class| Library::of(class)) {
        Some(Library::Netty) => "ByteBuf",
        _ => "direct buffer",
    }
}

fn truncated(cx: &Context<'_>) -> Vec<Finding> {
    let dump = &cx.report.dump;
    if !dump.truncated {
        return Vec::new();
    }
    // HotSpot writes the GC roots last: a cut dump loses them first.
    vec![finding(
        FindingKind::Truncated,
        Role::Context,
        "The dump is cut short: every figure covers only what was read".into(),
        format!(
            "{} objects were read from {} bytes. The JVM writes the GC roots at the end of the dump, so direct \
             buffers whose roots or referrers were lost look unreachable here (awaiting GC) although the process \
             held them. Take a new dump with room on the disk to be sure.",
            dump.objects, dump.bytes
        ),
        0,
    )]
}

fn allocation_in_progress(cx: &Context<'_>) -> Vec<Finding> {
    let chunk_size = cx.report.netty.iter().find_map(|a| a.chunk_size);
    cx.report
        .allocations_in_progress
        .iter()
        .map(|a| {
            let thread = a.thread.as_deref().map_or("a thread".to_string(), |t| format!("thread \"{t}\""));
            let what = match a.purpose {
                AllocationPurpose::PoolChunk => format!(
                    " It is a new chunk for a Netty pool{}: the pool's chunks are full, so what holds their ByteBufs \
                     is what fills the memory.",
                    if chunk_size.is_some_and(|c| u64::try_from(c) == Ok(a.requested)) {
                        " (the allocator's chunk size)"
                    } else {
                        ""
                    }
                ),
                AllocationPurpose::PoolHuge => {
                    " It is a huge allocation of a Netty pool: one ByteBuf larger than a chunk.".into()
                }
                AllocationPurpose::NettyUnpooled => " It is an unpooled Netty ByteBuf.".into(),
                AllocationPurpose::Other => String::new(),
            };
            let mut f = finding(
                FindingKind::AllocationInProgress,
                Role::Context,
                format!("An allocation of {} is waiting for direct memory in {thread}", size(a.requested)),
                format!(
                    "A direct buffer is still in its constructor{}: the JDK's limit has no room for it, so the thread \
                     waits in java.nio.Bits.reserveMemory for a garbage collection to free some and throws \
                     OutOfMemoryError if none comes. It owns no memory yet and is counted nowhere.{}{}",
                    a.frame.as_deref().map(|f| format!(" at {f}")).unwrap_or_default(),
                    a.asked_by.as_deref().map(|f| format!(" Asked for by {f}.")).unwrap_or_default(),
                    what
                ),
                a.requested,
            );
            // The first frames and the one that asked; the JSON has them all.
            const FIRST: usize = 3;
            f.evidence = a.stack.iter().take(FIRST).map(|frame| format!("at {frame}")).collect();
            if let Some(asker) = a.asked_by.as_ref().and_then(|by| a.stack.iter().position(|f| f == by)) {
                if asker > FIRST {
                    f.evidence.push(format!("... {} ...", count((asker - FIRST) as u64, "frame")));
                }
                if asker >= FIRST {
                    f.evidence.push(format!("at {}", a.stack[asker]));
                }
            }
            f.commands.push(cx.paths_command(&a.id));
            f
        })
        .collect()
}

fn read_buffers(cx: &Context<'_>) -> Vec<Finding> {
    cx.report
        .retainers
        .iter()
        .filter(|r| r.kind == RetainerKind::Buffers && cx.significant(r.bytes))
        .filter_map(|r| {
            // A client library's pack tells its own read buffers, naming the connection.
            let client = |h: &&Holder| matches!(h.library, Library::Lettuce | Library::Redisson);
            let holder = r.holder.as_ref().filter(|h| h.role == HolderRole::ReadBuffer && !client(h))?;
            let mut f = finding(
                FindingKind::ReadBuffer,
                Role::Cause,
                format!("A read buffer holds {}, in {}", size(r.bytes), holder.class),
                format!(
                    "Bytes received and waiting for a whole message, in {}: a very large message, a peer sending \
                     faster than the handler decodes, or a decoder that never consumes its input. Held along {} -> \
                     {}.",
                    count(r.buffers, unit(r)),
                    r.root,
                    r.path.join(" -> ")
                ),
                r.bytes,
            );
            f.commands.extend(r.example.iter().map(|e| cx.paths_command(e)));
            Some(f)
        })
        .collect()
}

fn large_retainer(cx: &Context<'_>) -> Vec<Finding> {
    let Some(top) = cx.report.retainers.first() else { return Vec::new() };
    let role = top.holder.as_ref().map(|h| h.role);
    // A pile-up or a read buffer has its own finding, with more to say.
    let told_elsewhere = match role {
        Some(HolderRole::OutboundBuffer) => cx.report.channels.iter().any(|c| c.pending_bytes >= MIB),
        Some(HolderRole::ReadBuffer | HolderRole::PendingWrites | HolderRole::InboundQueue) => true,
        _ => false,
    };
    if top.kind != RetainerKind::Buffers || !cx.significant(top.bytes) || told_elsewhere {
        return Vec::new();
    }
    let owner = match &top.owner {
        Some(owner) => format!(" The application object nearest them is {owner}."),
        None => " No application object is on the way.".into(),
    };
    let holder = top
        .holder
        .as_ref()
        .map(|h| format!(" {}'s {} holds them.", capitalized(h.library.name()), h.class))
        .unwrap_or_default();
    let mut f = finding(
        FindingKind::LargeRetainer,
        Role::Cause,
        format!("{} of direct memory is held through {}", size(top.bytes), top.root),
        format!(
            "{} ({} of the {} found) kept alive along {}.{owner}{holder}",
            count(top.buffers, unit(top)),
            percent(top.bytes, cx.native()),
            size(cx.native()),
            top.path.join(" -> "),
        ),
        top.bytes,
    );
    if top.leak_tracked > 0 {
        f.evidence.push(format!("{} of them are tracked by Netty's leak detector", top.leak_tracked));
    }
    f.commands.extend(top.example.iter().map(|e| cx.paths_command(e)));
    vec![f]
}

fn large_buffer(cx: &Context<'_>) -> Vec<Finding> {
    let native = cx.native();
    let Some(big) = cx
        .report
        .largest
        .first()
        .filter(|b| b.bytes >= MIB && b.bytes.saturating_mul(4) >= native && b.kind != LargeBufferKind::Mapped)
    else {
        return Vec::new();
    };
    let what = match big.kind {
        LargeBufferKind::Owned => "direct buffer",
        LargeBufferKind::NoCleaner => "no-cleaner direct buffer",
        LargeBufferKind::TemporaryCache => "temporary direct buffer",
        LargeBufferKind::Mapped => "mapped buffer",
        LargeBufferKind::Unreachable => "unreachable direct buffer",
        LargeBufferKind::NettyChunk => "Netty pool chunk",
        LargeBufferKind::NettyPooled => "pooled ByteBuf",
        LargeBufferKind::NettyHuge => "huge ByteBuf",
    };
    // Chunks are the pool's memory, shared by its ByteBufs: the pool findings speak of them;
    // a client's read buffer has its own finding.
    let read_buffer = cx.report.clients.iter().flat_map(Client::read_buffers).any(|b| b.id == big.id);
    // So does a buffer that a read buffer or held writes account for.
    let told = cx.report.retainers.iter().any(|r| {
        r.example.as_deref() == Some(&big.id)
            && r.holder.as_ref().is_some_and(|h| matches!(h.role, HolderRole::ReadBuffer | HolderRole::PendingWrites))
    });
    if big.kind == LargeBufferKind::NettyChunk || read_buffer || told {
        return Vec::new();
    }
    let mut f = finding(
        FindingKind::LargeBuffer,
        Role::Cause,
        format!("One {what} holds {} ({} of direct memory)", size(big.bytes), percent(big.bytes, native)),
        format!("{}@{} is held by {}.", big.class, big.id, big.path),
        big.bytes,
    );
    f.commands.push(cx.paths_command(&big.id));
    vec![f]
}

fn awaiting_gc(cx: &Context<'_>) -> Vec<Finding> {
    let waiting = cx.report.direct_buffers.unreachable;
    if waiting.bytes == 0 || (waiting.bytes < 64 * MIB && !cx.significant(waiting.bytes)) {
        return Vec::new();
    }
    let mut f = finding(
        FindingKind::AwaitingGc,
        Role::Cause,
        format!("{} is held by garbage waiting for a GC", size(waiting.bytes)),
        format!(
            "{} no longer reachable, but their memory is freed only when a garbage collection \
             finds them and their cleaners run. A process that rarely runs a full GC (a large heap, or \
             -XX:+DisableExplicitGC, which stops the JDK's System.gc() before it gives up) can run out of direct \
             memory while holding mostly garbage.",
            count(waiting.count, "direct buffer")
        ),
        waiting.bytes,
    );
    f.evidence.push(format!(
        "{} of them already collected, memory not yet freed",
        cx.report.direct_buffers.cleared_cleaners.count
    ));
    vec![f]
}

/// "See finding N" for the largest cause, when there is one.
fn see_cause(before: &[Finding]) -> String {
    match before.iter().position(|f| f.role == Role::Cause && !f.kind.is_process_memory()) {
        Some(i) => format!(" See finding {} for what holds the memory.", i + 1),
        None => " The retainers table shows what holds the memory.".into(),
    }
}

fn error_message(cx: &Context<'_>, before: &[Finding]) -> Vec<Finding> {
    let Some(error) = &cx.report.error else { return Vec::new() };
    let counter = match error.source {
        CounterSource::Netty => "Netty's counter",
        CounterSource::Jdk => "the JDK's limit",
    };
    let mut f = finding(
        FindingKind::ErrorMessage,
        Role::Symptom,
        format!("The failed allocation: {} refused by {counter}", size(error.requested)),
        format!("{}{}", error.reading.join(" "), see_cause(before)),
        error.requested,
    );
    f.evidence.extend(error.used.map(|u| format!("in use at the error: {u} bytes")));
    f.evidence.extend(error.max.map(|m| format!("limit at the error: {m} bytes")));
    vec![f]
}

fn counters_near_limit(cx: &Context<'_>, before: &[Finding]) -> Vec<Finding> {
    let mut out = Vec::new();
    let near = |used: i64, max: i64| max > 0 && i128::from(used) * 10 >= i128::from(max) * 9;
    let c = &cx.report.counters;
    if let Some((reserved, max)) = c.jdk.as_ref().and_then(|j| Some((j.reserved?, j.max?))).filter(|&(r, m)| near(r, m))
    {
        let netty_inside = c.netty.as_ref().is_some_and(|n| n.no_cleaner != Some(true));
        out.push(near_limit(
            "The JDK's",
            reserved,
            max,
            "-XX:MaxDirectMemorySize",
            if netty_inside { " Netty's pools are inside this counter (its no-cleaner mode is off)." } else { "" },
            before,
        ));
    }
    if let Some((used, max)) = c.netty.as_ref().and_then(|n| Some((n.used?, n.max?))).filter(|&(u, m)| near(u, m)) {
        out.push(near_limit("Netty's", used, max, "-Dio.netty.maxDirectMemory", "", before));
    }
    out
}

fn near_limit(whose: &str, used: i64, max: i64, flag: &str, note: &str, before: &[Finding]) -> Finding {
    let (used, max) = (u64::try_from(used).unwrap_or(0), u64::try_from(max).unwrap_or(0));
    finding(
        FindingKind::CounterNearLimit,
        Role::Symptom,
        format!("{whose} direct memory counter is at {} of its limit", percent(used, max)),
        format!(
            "{} of {} reserved: the next allocations fail.{note} Raising {flag} only buys time while what holds the \
             memory keeps growing.{}",
            size(used),
            size(max),
            see_cause(before)
        ),
        used,
    )
}

fn invisible_to_jmx(cx: &Context<'_>, _: &[Finding]) -> Vec<Finding> {
    let buffers = &cx.report.direct_buffers;
    let hidden = buffers.no_cleaner.bytes.saturating_add(buffers.temporary_cache.bytes);
    if hidden < MIB {
        return Vec::new();
    }
    let hidden_count = buffers.no_cleaner.count.saturating_add(buffers.temporary_cache.count);
    let (mode, watch) = match cx.report.counters.netty.as_ref().filter(|_| cx.netty_no_cleaner()) {
        Some(n) => (
            format!(
                " Netty's no-cleaner mode is on; its own counter reads {} of {}.",
                n.used.and_then(|u| u64::try_from(u).ok()).map_or("nothing".into(), size),
                n.max.and_then(|m| u64::try_from(m).ok()).map_or("no limit".into(), size)
            ),
            "Watch Netty's PlatformDependent.usedDirectMemory() and the process RSS instead.",
        ),
        None => (
            String::new(),
            "Watch the process RSS, or Native Memory Tracking's \"Other\" category \
             (-XX:NativeMemoryTracking=summary), instead.",
        ),
    };
    vec![finding(
        FindingKind::InvisibleToJmx,
        Role::Symptom,
        format!("{} of direct memory is invisible to JMX", size(hidden)),
        format!(
            "{} own memory without a cleaner, so BufferPoolMXBean(\"direct\") and \
             -XX:MaxDirectMemorySize do not count them.{mode} {watch}",
            count(hidden_count, "direct buffer")
        ),
        hidden,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symptoms_point_at_the_first_cause() {
        let context = finding(FindingKind::Truncated, Role::Context, String::new(), String::new(), 0);
        let cause = finding(FindingKind::WritePileup, Role::Cause, String::new(), String::new(), 1);
        assert_eq!(see_cause(&[context.clone(), cause]), " See finding 2 for what holds the memory.");
        assert!(see_cause(&[context]).contains("retainers table"));
        let near = near_limit("The JDK's", 100, 100, "-XX:MaxDirectMemorySize", "", &[]);
        assert_eq!(near.title, "The JDK's direct memory counter is at 100.0% of its limit");
        assert!(!near.detail.contains("above"), "no reference to findings that are not there");
    }
}
