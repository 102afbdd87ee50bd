//! Two reports of one process compared: what grew, what appeared and what went away between an
//! older dump and a newer one. The JSON contract is `dumpscan.diff.v1` (docs/DIFF-SCHEMA.md).
//!
//! Object ids differ between two dumps, so nothing is matched by id: retainers by their kind,
//! GC root and path (static fields, thread names and collapsed paths stay the same), Netty's
//! allocators by their path from a GC root with the ids taken out, arenas by their position,
//! client connections by the server they talk to, else by their order.
//!
//! ```no_run
//! use dumpscan_offheap::{analyze, diff::diff, Options};
//! // One report at a time: each heap model is gone once its report is built.
//! let old = analyze("monday.hprof", &Options::default())?;
//! let new = analyze("tuesday.hprof", &Options::default())?;
//! for r in diff(&old, &new).retainers.iter().take(3) {
//!     println!("{:+} bytes: {} -> {}", r.delta, r.root, r.path.join(" -> "));
//! }
//! # Ok::<(), dumpscan_hprof::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::findings::Context;
use crate::report::{
    AdaptivePool, Arena, ArenaKind, Client, ConnectionState, DirectBuffers, DumpInfo, LettuceConnection,
    NettyAllocator, ReactorReceiver, RedissonConnection, Report, Retainer, RetainerKind, Role, RootKind, Tally,
};
use crate::units::{count, delta, duration, human_bytes as size, percent, signed_bytes, times};

/// The name of the JSON contract a diff follows.
pub const DIFF_SCHEMA: &str = "dumpscan.diff.v1";

/// Findings of each kind, at most: the largest changes say what happened, the rest is in the
/// retainers' table.
const FINDINGS_PER_KIND: usize = 5;

/// What changed between two reports of one process.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Always [`DIFF_SCHEMA`].
    pub schema: &'static str,
    /// The older dump, as in its report.
    pub old: DumpInfo,
    /// The newer dump.
    pub new: DumpInfo,
    /// Milliseconds from the old dump to the new one, when both say when they were written.
    pub elapsed_ms: Option<i64>,
    /// Direct memory found and attributed, old and new.
    pub native_bytes: Change,
    /// The process's own counters.
    pub counters: CounterChanges,
    /// Every class of direct buffers.
    pub direct_buffers: BufferChanges,
    /// Netty's allocators, matched by their path from a GC root.
    pub netty: Vec<AllocatorChange>,
    /// Every retainer of either report, matched by kind, root and path; largest change first.
    pub retainers: Vec<RetainerChange>,
    /// Client libraries' connections, one entry per library found in either report.
    pub clients: Vec<ClientChange>,
    /// What grew, in plain words: causes first, largest first.
    pub findings: Vec<DiffFinding>,
}

/// A figure in both dumps. A thing found in one dump only has 0 in the other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Change {
    /// In the old dump.
    pub old: u64,
    /// In the new dump.
    pub new: u64,
    /// `new - old`.
    pub delta: i64,
}

impl Change {
    /// `old` and `new`, and how far apart.
    pub fn of(old: u64, new: u64) -> Change {
        Change { old, new, delta: delta(old, new) }
    }
}

/// A counter the process kept, in both dumps; `null` where a dump does not have it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CounterChange {
    /// In the old dump.
    pub old: Option<i64>,
    /// In the new dump.
    pub new: Option<i64>,
    /// `new - old`, when both are known.
    pub delta: Option<i64>,
}

impl CounterChange {
    fn of(old: Option<i64>, new: Option<i64>) -> CounterChange {
        CounterChange { old, new, delta: new.zip(old).and_then(|(n, o)| n.checked_sub(o)) }
    }
}

/// The counters of both dumps; a side is `null` when neither dump has its class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CounterChanges {
    /// `java.nio.Bits`.
    pub jdk: Option<JdkCounterChanges>,
    /// Netty's `PlatformDependent`.
    pub netty: Option<NettyCounterChanges>,
}

/// `java.nio.Bits`' statics, old and new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JdkCounterChanges {
    /// Buffers the JDK counts.
    pub count: CounterChange,
    /// Their capacities.
    pub total_capacity: CounterChange,
    /// Bytes reserved against the limit.
    pub reserved: CounterChange,
    /// The limit.
    pub max: CounterChange,
}

/// Netty's `PlatformDependent` statics, old and new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NettyCounterChanges {
    /// `DIRECT_MEMORY_COUNTER` (`null` in cleaner mode).
    pub used: CounterChange,
    /// `DIRECT_MEMORY_LIMIT`.
    pub max: CounterChange,
}

/// A class of direct buffers in both dumps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TallyChange {
    /// Buffers and bytes in the old dump.
    pub old: Tally,
    /// In the new dump.
    pub new: Tally,
    /// `new.count - old.count`.
    pub delta_count: i64,
    /// `new.bytes - old.bytes`.
    pub delta_bytes: i64,
}

impl TallyChange {
    fn of(old: Tally, new: Tally) -> TallyChange {
        TallyChange { old, new, delta_count: delta(old.count, new.count), delta_bytes: delta(old.bytes, new.bytes) }
    }
}

/// Every class of [`DirectBuffers`], old and new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BufferChanges {
    /// Cleaner-backed and strongly reachable.
    pub owned: TallyChange,
    /// Own memory the JDK does not count.
    pub no_cleaner: TallyChange,
    /// The JDK's per-thread temporary buffers (JDK 24+).
    pub temporary_cache: TallyChange,
    /// Files the application mapped.
    pub mapped: TallyChange,
    /// The JVM's own mappings.
    pub jvm_mapped: TallyChange,
    /// Slices, duplicates, read-only views.
    pub views: TallyChange,
    /// Own memory, no strong path: awaiting GC.
    pub unreachable: TallyChange,
    /// Cleaners whose buffer the GC already cleared.
    pub cleared_cleaners: TallyChange,
    /// Still in their constructor.
    pub in_progress: TallyChange,
    /// Constructors that never got their memory.
    pub failed: TallyChange,
    /// No cleaner and no strong path.
    pub stale_no_cleaner: TallyChange,
    /// Cleaner already run.
    pub freed: TallyChange,
}

impl BufferChanges {
    fn of(old: &DirectBuffers, new: &DirectBuffers) -> BufferChanges {
        BufferChanges {
            owned: TallyChange::of(old.owned, new.owned),
            no_cleaner: TallyChange::of(old.no_cleaner, new.no_cleaner),
            temporary_cache: TallyChange::of(old.temporary_cache, new.temporary_cache),
            mapped: TallyChange::of(old.mapped, new.mapped),
            jvm_mapped: TallyChange::of(old.jvm_mapped, new.jvm_mapped),
            views: TallyChange::of(old.views, new.views),
            unreachable: TallyChange::of(old.unreachable, new.unreachable),
            cleared_cleaners: TallyChange::of(old.cleared_cleaners, new.cleared_cleaners),
            in_progress: TallyChange::of(old.in_progress, new.in_progress),
            failed: TallyChange::of(old.failed, new.failed),
            stale_no_cleaner: TallyChange::of(old.stale_no_cleaner, new.stale_no_cleaner),
            freed: TallyChange::of(old.freed, new.freed),
        }
    }
}

/// A Netty allocator in both dumps, or in one of them.
#[derive(Debug, Clone, Serialize)]
pub struct AllocatorChange {
    /// Its path from a GC root, without object ids: what matched the two.
    pub path: String,
    /// The allocator in the old dump (`Class@0x...`), `null` when it is new.
    pub old_allocator: Option<String>,
    /// The allocator in the new dump, `null` when it went away.
    pub new_allocator: Option<String>,
    /// `chunkSize`, old and new (0 where unknown).
    pub chunk_size: Change,
    /// Its arenas, matched by kind and position.
    pub arenas: Vec<ArenaChange>,
    /// Pooled ByteBufs in use.
    pub live_buffers: TallyChange,
    /// An adaptive allocator's chunks; `null` for a pooled one.
    pub adaptive: Option<AdaptiveChange>,
}

/// One arena of a pooled allocator, old and new.
#[derive(Debug, Clone, Serialize)]
pub struct ArenaChange {
    /// Direct or heap.
    pub kind: ArenaKind,
    /// Its position among the allocator's arenas of its kind, from 0.
    pub index: usize,
    /// Pooled chunks.
    pub chunks: Change,
    /// Their sizes.
    pub chunk_bytes: Change,
    /// Used in the chunks.
    pub used_bytes: Change,
    /// Free in the chunks.
    pub free_bytes: Change,
    /// Huge (unpooled) allocations.
    pub huge_count: Change,
    /// Their bytes.
    pub huge_bytes: Change,
    /// Released ByteBufs parked in thread caches.
    pub cached_buffers: Change,
    /// Their sizes.
    pub cached_bytes: Change,
    /// Pooled ByteBufs in use.
    pub live_buffers: TallyChange,
}

impl ArenaChange {
    /// Nothing in it in either dump: no chunk, no huge allocation, nothing cached, no buffer.
    pub fn is_empty(&self) -> bool {
        [self.chunks, self.chunk_bytes, self.used_bytes, self.free_bytes, self.huge_count, self.huge_bytes]
            .into_iter()
            .chain([self.cached_buffers, self.cached_bytes])
            .all(|c| c.old == 0 && c.new == 0)
            && self.live_buffers.old.count == 0
            && self.live_buffers.new.count == 0
    }
}

/// An adaptive allocator's chunks, old and new.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptiveChange {
    /// Chunks.
    pub chunks: Change,
    /// Their capacity.
    pub chunk_bytes: Change,
    /// Bytes handed out of them.
    pub allocated_bytes: Change,
    /// ByteBufs carved from them and not released.
    pub live_buffers: TallyChange,
}

/// A retainer of either report, matched by kind, root and path.
#[derive(Debug, Clone, Serialize)]
pub struct RetainerChange {
    /// What holds the bytes.
    pub kind: RetainerKind,
    /// The GC root, as in the report.
    pub root: String,
    /// How the root holds the path.
    pub root_kind: RootKind,
    /// Steps from the root, as in the report.
    pub path: Vec<String>,
    /// The first application object on the path.
    pub owner: Option<String>,
    /// Native bytes in the old dump; 0 when the retainer is new.
    pub old_bytes: u64,
    /// In the new dump; 0 when it went away.
    pub new_bytes: u64,
    /// `new_bytes - old_bytes`.
    pub delta: i64,
    /// Buffers in the old dump.
    pub old_buffers: u64,
    /// Buffers in the new dump.
    pub new_buffers: u64,
    /// One buffer of the group in the new dump (else the old), for `dumpscan paths --id`.
    pub example: Option<String>,
}

/// A client library's connections, old and new.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "library", rename_all = "snake_case")]
pub enum ClientChange {
    /// Lettuce, the Redis client.
    Lettuce {
        /// Connections matched by the server they talk to, else by their order.
        connections: Vec<LettuceConnectionChange>,
    },
    /// Redisson, the Redis client.
    Redisson {
        /// Connections matched by the server they talk to, else by their order.
        connections: Vec<RedissonConnectionChange>,
    },
    /// Reactor Netty's inbound queues.
    Reactor {
        /// Queues matched by their peer, else by their order.
        receivers: Vec<ReactorReceiverChange>,
    },
}

/// A Redisson connection in both dumps, or in one of them.
#[derive(Debug, Clone, Serialize)]
pub struct RedissonConnectionChange {
    /// `ip:port` of the Redis server, where a dump has it.
    pub remote: Option<String>,
    /// Commands sent and awaiting a reply.
    pub in_flight: Change,
    /// Capacity of the decoder's read buffer.
    pub read_buffer_capacity: Change,
    /// Bytes read and not yet decoded.
    pub read_buffer_readable: Change,
    /// Writes pending in its channel.
    pub pending_write_bytes: Change,
    /// Direct memory the connection holds.
    pub direct_bytes: Change,
}

/// A Lettuce connection in both dumps, or in one of them.
#[derive(Debug, Clone, Serialize)]
pub struct LettuceConnectionChange {
    /// `ip:port` of the Redis server, where a dump has it.
    pub remote: Option<String>,
    /// Its state in the old dump, `null` when the connection is new.
    pub old_state: Option<ConnectionState>,
    /// Its state in the new dump, `null` when it went away.
    pub new_state: Option<ConnectionState>,
    /// Commands sent and awaiting a reply.
    pub in_flight: Change,
    /// Commands not sent.
    pub queued: Change,
    /// Capacity of the read buffer.
    pub read_buffer_capacity: Change,
    /// Bytes read and not yet decoded.
    pub read_buffer_readable: Change,
    /// Writes pending in its channel.
    pub pending_write_bytes: Change,
    /// Direct memory the connection holds.
    pub direct_bytes: Change,
}

/// A Reactor Netty inbound queue in both dumps, or in one of them.
#[derive(Debug, Clone, Serialize)]
pub struct ReactorReceiverChange {
    /// `ip:port` of the peer, where a dump has it.
    pub remote: Option<String>,
    /// Messages queued.
    pub queued: Change,
    /// Bytes readable in them.
    pub queued_bytes: Change,
}

/// What a diff finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffFindingKind {
    /// A retainer of both dumps holds much more in the new one.
    RetainerGrew,
    /// A retainer of the new dump only holds much.
    NewRetainer,
    /// A Netty pool took more chunks.
    PoolGrew,
    /// A counter grew, and is near its limit.
    CounterTowardLimit,
}

/// A few sentences about a change.
#[derive(Debug, Clone, Serialize)]
pub struct DiffFinding {
    /// What it is about.
    pub kind: DiffFindingKind,
    /// Where the memory went (`cause`) or what the process saw (`symptom`).
    pub role: Role,
    /// One line.
    pub title: String,
    /// What it means.
    pub detail: String,
    /// Bytes the change is about.
    pub bytes: u64,
    /// Figures behind it.
    pub evidence: Vec<String>,
    /// Commands that show more in the new dump, ready to paste.
    pub commands: Vec<String>,
}

/// Compares two reports of one process, `old` written before `new`.
pub fn diff(old: &Report, new: &Report) -> Diff {
    let mut diff = Diff {
        schema: DIFF_SCHEMA,
        old: old.dump.clone(),
        new: new.dump.clone(),
        elapsed_ms: elapsed_ms(&old.dump, &new.dump),
        native_bytes: Change::of(old.native_bytes, new.native_bytes),
        counters: counters(old, new),
        direct_buffers: BufferChanges::of(&old.direct_buffers, &new.direct_buffers),
        netty: allocators(&old.netty, &new.netty),
        retainers: retainers(&old.retainers, &new.retainers),
        clients: clients(&old.clients, &new.clients),
        findings: Vec::new(),
    };
    diff.findings = findings(&diff, new);
    diff
}

fn elapsed_ms(old: &DumpInfo, new: &DumpInfo) -> Option<i64> {
    let at = |d: &DumpInfo| humantime::parse_rfc3339(d.created.as_deref()?).ok();
    let (old, new) = (at(old)?, at(new)?);
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).ok();
    match new.duration_since(old) {
        Ok(forward) => ms(forward),
        Err(backward) => ms(backward.duration()).map(|m| -m),
    }
}

fn counters(old: &Report, new: &Report) -> CounterChanges {
    let (o, n) = (&old.counters, &new.counters);
    let jdk = (o.jdk.is_some() || n.jdk.is_some()).then(|| {
        let (o, n) = (o.jdk.clone().unwrap_or_default(), n.jdk.clone().unwrap_or_default());
        JdkCounterChanges {
            count: CounterChange::of(o.count, n.count),
            total_capacity: CounterChange::of(o.total_capacity, n.total_capacity),
            reserved: CounterChange::of(o.reserved, n.reserved),
            max: CounterChange::of(o.max, n.max),
        }
    });
    let netty = (o.netty.is_some() || n.netty.is_some()).then(|| {
        let (o, n) = (o.netty.clone().unwrap_or_default(), n.netty.clone().unwrap_or_default());
        NettyCounterChanges { used: CounterChange::of(o.used, n.used), max: CounterChange::of(o.max, n.max) }
    });
    CounterChanges { jdk, netty }
}

/// A path as text without its object ids (`Foo@0x7f00` → `Foo`): the same path in another dump.
fn without_ids(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find("@0x") {
        let digits = rest[at + 3..].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len() - at - 3);
        out.push_str(&rest[..if digits == 0 { at + 3 } else { at }]);
        rest = &rest[at + 3 + digits..];
    }
    out.push_str(rest);
    out
}

/// Pairs the items of two lists (given by their keys) that have the same key, in order where a
/// key repeats; the rest of either side is paired with nothing: the new side's in its order,
/// then what went away in the old side's order. Indices into the lists.
fn pair<K: Ord>(old: Vec<K>, new: Vec<K>) -> Vec<(Option<usize>, Option<usize>)> {
    let mut unmatched: BTreeMap<K, VecDeque<usize>> = BTreeMap::new();
    for (i, key) in old.into_iter().enumerate() {
        unmatched.entry(key).or_default().push_back(i);
    }
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = new
        .into_iter()
        .enumerate()
        .map(|(j, key)| (unmatched.get_mut(&key).and_then(VecDeque::pop_front), Some(j)))
        .collect();
    let mut gone: Vec<usize> = unmatched.into_values().flatten().collect();
    gone.sort_unstable();
    pairs.extend(gone.into_iter().map(|i| (Some(i), None)));
    pairs
}

/// [`pair`] over two slices, by a key of each item.
fn pair_by<'a, T, K: Ord>(old: &'a [T], new: &'a [T], key: impl Fn(&T) -> K) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    let pairs = pair(old.iter().map(&key).collect(), new.iter().map(&key).collect());
    pairs.into_iter().map(|(o, n)| (o.map(|i| &old[i]), n.map(|j| &new[j]))).collect()
}

/// Connections with a remote address are matched by it; those without one, by their order.
fn by_remote<'a, T>(
    old: &'a [T],
    new: &'a [T],
    remote: impl Fn(&T) -> Option<&str>,
) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    // The n-th connection without an address on each side gets the key `(None, n)`.
    let keys = |items: &[T]| -> Vec<(Option<String>, usize)> {
        let mut unnamed = 0;
        items
            .iter()
            .map(|item| match remote(item) {
                Some(address) => (Some(address.to_string()), 0),
                None => {
                    unnamed += 1;
                    (None, unnamed)
                }
            })
            .collect()
    };
    let pairs = pair(keys(old), keys(new));
    pairs.into_iter().map(|(o, n)| (o.map(|i| &old[i]), n.map(|j| &new[j]))).collect()
}

fn allocators(old: &[NettyAllocator], new: &[NettyAllocator]) -> Vec<AllocatorChange> {
    pair_by(old, new, |a| without_ids(&a.path))
        .into_iter()
        .map(|(o, n)| {
            let either = n.or(o).expect("a pair has a side");
            let size = |a: Option<&NettyAllocator>| a.and_then(|a| u64::try_from(a.chunk_size?).ok()).unwrap_or(0);
            let tally = |a: Option<&NettyAllocator>| a.map_or(Tally::default(), |a| a.live_buffers);
            AllocatorChange {
                path: without_ids(&either.path),
                old_allocator: o.map(|a| a.allocator.clone()),
                new_allocator: n.map(|a| a.allocator.clone()),
                chunk_size: Change::of(size(o), size(n)),
                arenas: arenas(o.map_or(&[][..], |a| &a.arenas), n.map_or(&[][..], |a| &a.arenas)),
                live_buffers: TallyChange::of(tally(o), tally(n)),
                adaptive: adaptive(o.and_then(|a| a.adaptive.as_ref()), n.and_then(|a| a.adaptive.as_ref())),
            }
        })
        .collect()
}

fn arenas(old: &[Arena], new: &[Arena]) -> Vec<ArenaChange> {
    let mut out = Vec::new();
    for kind in [ArenaKind::Direct, ArenaKind::Heap] {
        let o: Vec<&Arena> = old.iter().filter(|a| a.kind == kind).collect();
        let n: Vec<&Arena> = new.iter().filter(|a| a.kind == kind).collect();
        for index in 0..o.len().max(n.len()) {
            let (o, n) = (o.get(index).copied(), n.get(index).copied());
            let of = |field: fn(&Arena) -> u64| Change::of(o.map_or(0, field), n.map_or(0, field));
            out.push(ArenaChange {
                kind,
                index,
                chunks: of(|a| a.chunks),
                chunk_bytes: of(|a| a.chunk_bytes),
                used_bytes: of(|a| a.used_bytes),
                free_bytes: of(|a| a.free_bytes),
                huge_count: of(|a| a.huge_count),
                huge_bytes: of(|a| a.huge_bytes),
                cached_buffers: of(|a| a.cached_buffers),
                cached_bytes: of(|a| a.cached_bytes),
                live_buffers: TallyChange::of(
                    o.map_or(Tally::default(), |a| a.live_buffers),
                    n.map_or(Tally::default(), |a| a.live_buffers),
                ),
            });
        }
    }
    out
}

fn adaptive(old: Option<&AdaptivePool>, new: Option<&AdaptivePool>) -> Option<AdaptiveChange> {
    if old.is_none() && new.is_none() {
        return None;
    }
    let of = |field: fn(&AdaptivePool) -> u64| Change::of(old.map_or(0, field), new.map_or(0, field));
    Some(AdaptiveChange {
        chunks: of(|p| p.chunks),
        chunk_bytes: of(|p| p.chunk_bytes),
        allocated_bytes: of(|p| p.allocated_bytes),
        live_buffers: TallyChange::of(
            old.map_or(Tally::default(), |p| p.live_buffers),
            new.map_or(Tally::default(), |p| p.live_buffers),
        ),
    })
}

/// What matches a retainer across dumps: ids, owners and examples differ, these do not.
type RetainerKey<'r> = (RetainerKind, &'r str, &'r [String]);

fn retainer_key(r: &Retainer) -> RetainerKey<'_> {
    (r.kind, &r.root, &r.path)
}

fn retainers(old: &[Retainer], new: &[Retainer]) -> Vec<RetainerChange> {
    // Groups with the same key in one report (told apart by their owner) are one retainer here.
    let mut by_key: Vec<(RetainerKey<'_>, RetainerChange)> = Vec::new();
    let mut at: HashMap<RetainerKey<'_>, usize> = HashMap::new();
    for (r, is_new) in new.iter().map(|r| (r, true)).chain(old.iter().map(|r| (r, false))) {
        let key = retainer_key(r);
        let i = *at.entry(key).or_insert_with(|| {
            by_key.push((
                key,
                RetainerChange {
                    kind: r.kind,
                    root: r.root.clone(),
                    root_kind: r.root_kind,
                    path: r.path.clone(),
                    owner: r.owner.clone(),
                    old_bytes: 0,
                    new_bytes: 0,
                    delta: 0,
                    old_buffers: 0,
                    new_buffers: 0,
                    example: r.example.clone(),
                },
            ));
            by_key.len() - 1
        });
        let c = &mut by_key[i].1;
        let (bytes, buffers) =
            if is_new { (&mut c.new_bytes, &mut c.new_buffers) } else { (&mut c.old_bytes, &mut c.old_buffers) };
        *bytes = bytes.saturating_add(r.bytes);
        *buffers = buffers.saturating_add(r.buffers);
    }
    let mut out: Vec<RetainerChange> = by_key
        .into_iter()
        .map(|(_, mut c)| {
            c.delta = delta(c.old_bytes, c.new_bytes);
            c
        })
        .collect();
    out.sort_by(|a, b| {
        b.delta
            .unsigned_abs()
            .cmp(&a.delta.unsigned_abs())
            .then(b.new_bytes.cmp(&a.new_bytes))
            .then(b.old_bytes.cmp(&a.old_bytes))
            .then_with(|| (&a.root, &a.path).cmp(&(&b.root, &b.path)))
    });
    out
}

fn clients(old: &[Client], new: &[Client]) -> Vec<ClientChange> {
    let mut out = Vec::new();
    let lettuce = client_changes(
        old,
        new,
        lettuce_of,
        |c| c.remote.as_deref(),
        |o, n| {
            let of = |field: fn(&LettuceConnection) -> u64| change(o, n, field);
            LettuceConnectionChange {
                remote: n.or(o).and_then(|c| c.remote.clone()),
                old_state: o.map(|c| c.state),
                new_state: n.map(|c| c.state),
                in_flight: of(|c| c.in_flight.count),
                queued: of(|c| c.queued.count),
                read_buffer_capacity: of(|c| c.read_buffer.as_ref().map_or(0, |b| b.capacity)),
                read_buffer_readable: of(|c| c.read_buffer.as_ref().map_or(0, |b| b.readable)),
                pending_write_bytes: of(|c| c.pending_write_bytes.unwrap_or(0)),
                direct_bytes: of(|c| c.direct_bytes),
            }
        },
    );
    if !lettuce.is_empty() {
        out.push(ClientChange::Lettuce { connections: lettuce });
    }
    let redisson = client_changes(
        old,
        new,
        redisson_of,
        |c| c.remote.as_deref(),
        |o, n| {
            let of = |field: fn(&RedissonConnection) -> u64| change(o, n, field);
            RedissonConnectionChange {
                remote: n.or(o).and_then(|c| c.remote.clone()),
                in_flight: of(|c| c.in_flight.count),
                read_buffer_capacity: of(|c| c.read_buffer.as_ref().map_or(0, |b| b.capacity)),
                read_buffer_readable: of(|c| c.read_buffer.as_ref().map_or(0, |b| b.readable)),
                pending_write_bytes: of(|c| c.pending_write_bytes.unwrap_or(0)),
                direct_bytes: of(|c| c.direct_bytes),
            }
        },
    );
    if !redisson.is_empty() {
        out.push(ClientChange::Redisson { connections: redisson });
    }
    let reactor = client_changes(
        old,
        new,
        reactor_of,
        |r| r.remote.as_deref(),
        |o, n| ReactorReceiverChange {
            remote: n.or(o).and_then(|r| r.remote.clone()),
            queued: change(o, n, |r| r.queued),
            queued_bytes: change(o, n, |r| r.queued_bytes),
        },
    );
    if !reactor.is_empty() {
        out.push(ClientChange::Reactor { receivers: reactor });
    }
    out
}

/// One library's connections of both reports (`of` picks them out of a report's clients),
/// matched by remote address (see [`by_remote`]), each pair made into its change by `change`.
fn client_changes<T, C>(
    old: &[Client],
    new: &[Client],
    of: fn(&Client) -> &[T],
    remote: fn(&T) -> Option<&str>,
    change: impl Fn(Option<&T>, Option<&T>) -> C,
) -> Vec<C> {
    let old: Vec<&T> = old.iter().flat_map(of).collect();
    let new: Vec<&T> = new.iter().flat_map(of).collect();
    by_remote(&old, &new, |item| remote(item)).into_iter().map(|(o, n)| change(o.copied(), n.copied())).collect()
}

fn lettuce_of(client: &Client) -> &[LettuceConnection] {
    match client {
        Client::Lettuce { connections } => connections,
        _ => &[],
    }
}

fn redisson_of(client: &Client) -> &[RedissonConnection] {
    match client {
        Client::Redisson { connections } => connections,
        _ => &[],
    }
}

fn reactor_of(client: &Client) -> &[ReactorReceiver] {
    match client {
        Client::Reactor { receivers } => receivers,
        _ => &[],
    }
}

/// A field of a connection in both dumps as a change; 0 on the side that lacks it.
fn change<T>(old: Option<&T>, new: Option<&T>, field: fn(&T) -> u64) -> Change {
    Change::of(old.map_or(0, field), new.map_or(0, field))
}

/// The retainer as a person names it in a sentence: its root, and for an allocator's or the
/// GC's bytes what they are.
fn name(r: &RetainerChange) -> String {
    match (r.kind, r.path.last()) {
        (RetainerKind::Buffers, _) | (_, None) => r.root.clone(),
        (_, Some(what)) => format!("{} ({what})", r.root),
    }
}

fn findings(diff: &Diff, new: &Report) -> Vec<DiffFinding> {
    let cx = Context { report: new };
    let significant = |bytes: i64| bytes > 0 && cx.significant(bytes.unsigned_abs());
    let mut causes = Vec::new();
    let grew = diff.retainers.iter().filter(|r| r.old_bytes > 0 && significant(r.delta));
    for r in grew.take(FINDINGS_PER_KIND) {
        let mut f = DiffFinding {
            kind: DiffFindingKind::RetainerGrew,
            role: Role::Cause,
            title: format!(
                "{} grew by {}, {}, in {}",
                name(r),
                size(r.delta.unsigned_abs()),
                times(r.new_bytes, r.old_bytes).unwrap_or_default(),
                count(r.new_buffers, "buffer")
            ),
            detail: format!(
                "It held {} in {} in the old dump and holds {} in {} in the new one, {} of the direct memory \
                 found. Path: {}.",
                size(r.old_bytes),
                count(r.old_buffers, "buffer"),
                size(r.new_bytes),
                count(r.new_buffers, "buffer"),
                percent(r.new_bytes, diff.native_bytes.new),
                path_text(r)
            ),
            bytes: r.delta.unsigned_abs(),
            evidence: Vec::new(),
            commands: Vec::new(),
        };
        f.commands.extend(r.example.as_deref().map(|id| cx.paths_command(id)));
        causes.push(f);
    }
    let appeared = diff.retainers.iter().filter(|r| r.old_bytes == 0 && significant(r.delta));
    for r in appeared.take(FINDINGS_PER_KIND) {
        let mut f = DiffFinding {
            kind: DiffFindingKind::NewRetainer,
            role: Role::Cause,
            title: format!("A new retainer holds {}: {}", size(r.new_bytes), name(r)),
            detail: format!(
                "Not in the old dump, it holds {} in {} in the new one, {} of the direct memory found. Path: {}.",
                size(r.new_bytes),
                count(r.new_buffers, "buffer"),
                percent(r.new_bytes, diff.native_bytes.new),
                path_text(r)
            ),
            bytes: r.new_bytes,
            evidence: Vec::new(),
            commands: Vec::new(),
        };
        f.commands.extend(r.example.as_deref().map(|id| cx.paths_command(id)));
        causes.push(f);
    }
    for a in &diff.netty {
        let direct = a.arenas.iter().filter(|x| x.kind == ArenaKind::Direct);
        let (chunks, bytes, used, free) = direct.fold((0i64, 0i64, 0i64, 0i64), |(c, b, u, f), x| {
            (
                c.saturating_add(x.chunks.delta),
                b.saturating_add(x.chunk_bytes.delta),
                u.saturating_add(x.used_bytes.delta),
                f.saturating_add(x.free_bytes.delta),
            )
        });
        if chunks > 0 && significant(bytes) {
            causes.push(DiffFinding {
                kind: DiffFindingKind::PoolGrew,
                role: Role::Cause,
                title: match a.old_allocator {
                    Some(_) => format!(
                        "Netty's pool took {} more: {}",
                        count(chunks.unsigned_abs(), "chunk"),
                        signed_bytes(bytes)
                    ),
                    None => format!(
                        "A new Netty pool holds {} in {}",
                        size(bytes.unsigned_abs()),
                        count(chunks.unsigned_abs(), "chunk")
                    ),
                },
                detail: format!(
                    "The allocator reached by {} holds {} more in its direct arenas: {} used, {} free. The \
                     retainers' table says what holds the used part.",
                    a.path,
                    size(bytes.unsigned_abs()),
                    signed_bytes(used),
                    signed_bytes(free)
                ),
                bytes: bytes.unsigned_abs(),
                evidence: Vec::new(),
                commands: Vec::new(),
            });
        }
    }
    causes.sort_by_key(|f| std::cmp::Reverse(f.bytes));
    let mut symptoms = Vec::new();
    if let Some(jdk) = &diff.counters.jdk {
        symptoms.extend(toward_limit(diff, "The JDK's direct memory counter", jdk.reserved, jdk.max.new));
    }
    if let Some(netty) = &diff.counters.netty {
        symptoms.extend(toward_limit(diff, "Netty's direct memory counter", netty.used, netty.max.new));
    }
    causes.extend(symptoms);
    causes
}

/// Share of its limit from which a growing counter is worth a finding.
const NEAR_LIMIT_PERCENT: i64 = 50;

fn toward_limit(diff: &Diff, whose: &str, used: CounterChange, max: Option<i64>) -> Option<DiffFinding> {
    let (old, new, max) = (used.old?, used.new?, max?);
    let grown = used.delta.filter(|&d| d > 0)?;
    if max <= 0 || new.saturating_mul(100) < max.saturating_mul(NEAR_LIMIT_PERCENT) {
        return None;
    }
    let (new_u, max_u) = (u64::try_from(new).ok()?, u64::try_from(max).ok()?);
    let left = max_u.saturating_sub(new_u);
    // At the pace between the two dumps, how long the room left lasts: only for dumps a minute
    // or more apart, a pace from dumps taken seconds apart says nothing.
    let pace = match diff.elapsed_ms.filter(|&ms| ms >= 60_000) {
        Some(ms) if left > 0 => {
            let lasts = u64::try_from(i128::from(ms) * i128::from(left) / i128::from(grown)).unwrap_or(u64::MAX);
            format!(
                " It grew by {} in {}: at that pace the {} left last about {}.",
                size(grown.unsigned_abs()),
                duration(u64::try_from(ms).unwrap_or(0)),
                size(left),
                duration(lasts)
            )
        }
        _ => String::new(),
    };
    Some(DiffFinding {
        kind: DiffFindingKind::CounterTowardLimit,
        role: Role::Symptom,
        title: format!("{whose} grew by {} to {} of its limit", size(grown.unsigned_abs()), percent(new_u, max_u)),
        detail: format!(
            "From {} to {} of {}.{pace} The retainers' table says what holds the memory.",
            size(u64::try_from(old).unwrap_or(0)),
            size(new_u),
            size(max_u)
        ),
        bytes: grown.unsigned_abs(),
        evidence: Vec::new(),
        commands: Vec::new(),
    })
}

fn path_text(r: &RetainerChange) -> String {
    std::iter::once(r.root.as_str()).chain(r.path.iter().map(String::as_str)).collect::<Vec<_>>().join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::MIB;

    fn retainer(root: &str, bytes: u64, buffers: u64) -> Retainer {
        Retainer {
            kind: RetainerKind::Buffers,
            root: root.into(),
            root_kind: RootKind::StaticField,
            path: vec!["java.util.ArrayList[*]".into(), "java.nio.DirectByteBuffer".into()],
            owner: None,
            holder: None,
            buffers,
            leak_tracked: 0,
            bytes,
            example: Some(format!("0x{bytes:x}")),
        }
    }

    #[test]
    fn retainers_match_by_root_and_path_and_sort_by_the_size_of_the_change() {
        let old = [retainer("static Foo.CACHE", 10 * MIB, 10), retainer("static Foo.GONE", 3 * MIB, 1)];
        let mut other_path = retainer("static Foo.CACHE", MIB, 1);
        other_path.path.insert(0, "Foo$Holder.list".into());
        let new = [retainer("static Foo.CACHE", 40 * MIB, 40), retainer("static Foo.NEW", 2 * MIB, 2), other_path];
        let changes = retainers(&old, &new);
        let rows: Vec<(&str, usize, u64, u64, i64)> =
            changes.iter().map(|c| (c.root.as_str(), c.path.len(), c.old_bytes, c.new_bytes, c.delta)).collect();
        let m = MIB as i64;
        assert_eq!(
            rows,
            [
                ("static Foo.CACHE", 2, 10 * MIB, 40 * MIB, 30 * m),
                ("static Foo.GONE", 2, 3 * MIB, 0, -3 * m),
                ("static Foo.NEW", 2, 0, 2 * MIB, 2 * m),
                ("static Foo.CACHE", 3, 0, MIB, m),
            ]
        );
        assert_eq!((changes[0].old_buffers, changes[0].new_buffers), (10, 40));
        assert_eq!(changes[1].example.as_deref(), Some("0x300000"), "the old side's example when gone");
    }

    #[test]
    fn groups_with_one_key_add_up() {
        let mut owned = retainer("static Foo.CACHE", MIB, 1);
        owned.owner = Some("Foo".into());
        let changes =
            retainers(&[retainer("static Foo.CACHE", MIB, 1)], &[owned, retainer("static Foo.CACHE", MIB, 2)]);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].old_bytes, changes[0].new_bytes, changes[0].new_buffers), (MIB, 2 * MIB, 3));
    }

    #[test]
    fn ids_are_not_part_of_a_path() {
        assert_eq!(
            without_ids("static A.POOL -> io.netty.buffer.PooledByteBufAllocator@0xfd585e98"),
            "static A.POOL -> io.netty.buffer.PooledByteBufAllocator"
        );
        assert_eq!(without_ids("Foo@0x1 -> Bar@0xabc"), "Foo -> Bar");
        assert_eq!(without_ids("user@0xz"), "user@0xz", "not an id");
    }

    #[test]
    fn pairs_follow_keys_then_order() {
        let pairs = pair(vec!["a", "b", "a", "c"], vec!["a", "d", "a", "a"]);
        assert_eq!(
            pairs,
            [
                (Some(0), Some(0)),
                (None, Some(1)),
                (Some(2), Some(2)),
                (None, Some(3)),
                (Some(1), None),
                (Some(3), None)
            ]
        );
    }

    #[test]
    fn connections_match_by_remote_else_by_order() {
        let old = [Some("10.0.0.1:6379"), None, Some("10.0.0.2:6379"), None];
        let new = [None, Some("10.0.0.2:6379"), Some("10.0.0.3:6379")];
        type Side<'a> = Option<Option<&'a str>>;
        let pairs: Vec<(Side<'_>, Side<'_>)> =
            by_remote(&old, &new, |r| *r).into_iter().map(|(o, n)| (o.copied(), n.copied())).collect();
        assert_eq!(
            pairs,
            [
                (Some(None), Some(None)),
                (Some(Some("10.0.0.2:6379")), Some(Some("10.0.0.2:6379"))),
                (None, Some(Some("10.0.0.3:6379"))),
                (Some(Some("10.0.0.1:6379")), None),
                (Some(None), None),
            ]
        );
    }

    #[test]
    fn counters_missing_on_a_side_have_no_delta() {
        assert_eq!(CounterChange::of(Some(5), Some(3)), CounterChange { old: Some(5), new: Some(3), delta: Some(-2) });
        assert_eq!(CounterChange::of(None, Some(3)).delta, None);
        assert_eq!(CounterChange::of(Some(i64::MIN), Some(1)).delta, None, "overflow is no number");
    }
}
