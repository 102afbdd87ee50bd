//! Attribution: every native byte found goes to exactly one retainer group. A buffer that owns
//! memory, or a live pooled buffer's share of its chunk, goes to its shortest strong path from
//! a GC root; an allocator keeps its free, cached and unaccounted bytes; unreachable memory
//! goes to one "awaiting GC" group. Paths are told the way a person recognises the owner.

use dumpscan_heap::{Heap, ObjectIndex, ObjectKind};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::buffers::{Classified, Kind};
use crate::census::{is_strong, Referrers};
use crate::dominance::NativeTree;
use crate::fields::{int, object};
use crate::libraries::Library;
use crate::netty::{Memory, Netty};
use crate::packs::{ClassRole, Roles};
use crate::report::{
    ChannelOwner, Holder, HolderRole, LargeBuffer, LargeBufferKind, NativeDominator, Retainer, RetainerKind, RootKind,
    Tally,
};

/// Where a share of native memory goes.
#[derive(Debug, Clone, Copy)]
enum Share {
    /// To the shortest strong path reaching this object.
    Path(ObjectIndex),
    /// To the allocator with this index in `Netty::allocators`.
    Allocator(usize, &'static str),
    AwaitingGc,
}

/// Native bytes attributed, and the paths chosen for each buffer (reused by `largest`).
pub(crate) struct Attribution {
    pub retainers: Vec<Retainer>,
    pub total: u64,
    /// Buffers and native bytes whose path runs through each watched object.
    pub through: FxHashMap<ObjectIndex, Tally>,
    paths: FxHashMap<ObjectIndex, Vec<ObjectIndex>>,
}

pub(crate) fn attribute(
    heap: &Heap<'_>,
    roles: &Roles,
    classified: &Classified,
    netty: &Netty,
    watched: &FxHashSet<ObjectIndex>,
    owners: &FxHashMap<ObjectIndex, ChannelOwner>,
) -> Attribution {
    let chunk_memory = netty.chunk_memory();
    let mut shares: Vec<(Share, u64, u64)> = Vec::new(); // (share, buffers, bytes)
    for b in classified.buffers.iter().filter(|b| b.kind.counts()) {
        if b.kind == Kind::Unreachable {
            shares.push((Share::AwaitingGc, 1, b.capacity));
        } else if !chunk_memory.contains_key(&b.object) {
            shares.push((Share::Path(b.object), 1, b.capacity));
        }
    }
    for c in &classified.cleared {
        shares.push((Share::AwaitingGc, 1, c.bytes));
    }
    pool_shares(classified, netty, &chunk_memory, &mut shares);

    let targets: Vec<ObjectIndex> =
        shares.iter().filter_map(|s| if let Share::Path(o) = s.0 { Some(o) } else { None }).collect();
    let referrers = Referrers::of_targets(heap, &targets);
    let mut paths: FxHashMap<ObjectIndex, Vec<ObjectIndex>> = FxHashMap::default();
    for &t in &targets {
        paths.insert(t, attribution_path(heap, &referrers, t));
    }

    let mut groups: FxHashMap<(RetainerKind, String, Vec<String>), Retainer> = FxHashMap::default();
    let mut total = 0u64;
    let mut through: FxHashMap<ObjectIndex, Tally> = FxHashMap::default();
    for (share, buffers, bytes) in shares {
        total = total.saturating_add(bytes);
        let (kind, d, example) = match share {
            Share::Path(o) => {
                let path = paths.get(&o).map_or(&[][..], Vec::as_slice);
                for w in path.iter().filter(|w| watched.contains(w)) {
                    let t = through.entry(*w).or_default();
                    t.count = t.count.saturating_add(buffers);
                    t.bytes = t.bytes.saturating_add(bytes);
                }
                match describe(heap, roles, owners, path) {
                    // A pool's ByteBuf nobody references yet never released: its bytes stay
                    // taken in the chunk until the allocator goes (Netty calls this a leak).
                    d if d.steps.is_empty() => (
                        RetainerKind::Leaked,
                        Described::without_path(
                            "no strong path: never released, no longer referenced",
                            vec![heap.class_name(o)],
                        ),
                        Some(o),
                    ),
                    d => (RetainerKind::Buffers, d, Some(o)),
                }
            }
            Share::Allocator(a, what) => {
                let allocator = netty.allocators[a].0;
                let mut d = describe(heap, roles, owners, &heap.path(allocator));
                d.steps.push(what.to_string());
                d.holder =
                    Some(Holder { library: Library::Netty, class: heap.class_name(allocator), role: HolderRole::Pool });
                (RetainerKind::Allocator, d, Some(allocator))
            }
            Share::AwaitingGc => (
                RetainerKind::AwaitingGc,
                Described::without_path(
                    "no strong path (awaiting GC)",
                    vec!["freed when a garbage collection runs their cleaners".to_string()],
                ),
                None,
            ),
        };
        let leak_tracked = u64::from(d.leak_tracked).saturating_mul(buffers);
        let group = groups.entry((kind, d.root.clone(), d.steps.clone())).or_insert_with(|| Retainer {
            kind,
            root: d.root,
            root_kind: d.root_kind,
            path: d.steps,
            owner: d.owner,
            holder: d.holder,
            buffers: 0,
            leak_tracked: 0,
            bytes: 0,
            example: example.map(|o| format!("0x{:x}", heap.id(o))),
        });
        group.buffers = group.buffers.saturating_add(buffers);
        group.leak_tracked = group.leak_tracked.saturating_add(leak_tracked);
        group.bytes = group.bytes.saturating_add(bytes);
    }
    let mut retainers: Vec<Retainer> = groups.into_values().filter(|g| g.bytes > 0).collect();
    retainers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.root.cmp(&b.root)).then_with(|| a.path.cmp(&b.path)));
    Attribution { retainers, total, through, paths }
}

/// Splits each arena's chunk memory: live buffers' `maxLength` to their paths, the rest to the
/// allocator (free in chunks, parked in thread caches, used without a live buffer).
fn pool_shares(
    classified: &Classified,
    netty: &Netty,
    chunk_memory: &FxHashMap<ObjectIndex, Memory>,
    shares: &mut Vec<(Share, u64, u64)>,
) {
    let counted: FxHashMap<ObjectIndex, u64> = classified
        .buffers
        .iter()
        .filter(|b| matches!(b.kind, Kind::Owned | Kind::NoCleaner) && chunk_memory.contains_key(&b.object))
        .map(|b| (b.object, b.capacity))
        .collect();
    let memory_bytes = |chunk: usize| netty.chunks[chunk].memory.and_then(|m| counted.get(&m).copied());

    // Huge allocations: the whole unpooled chunk goes to the buffer using it.
    let mut huge_users: FxHashMap<usize, Vec<ObjectIndex>> = FxHashMap::default();
    for live in netty.live.iter().filter(|l| l.huge) {
        huge_users.entry(live.chunk).or_default().push(live.object);
    }
    for (i, chunk) in netty.chunks.iter().enumerate().filter(|(_, c)| c.unpooled) {
        let Some(bytes) = memory_bytes(i) else { continue };
        let holder = match huge_users.get(&i).map(Vec::as_slice) {
            Some(&[user]) => user,
            _ => chunk.memory.unwrap_or(chunk.object),
        };
        shares.push((Share::Path(holder), 1, bytes));
    }

    for (a, arena) in netty.arenas.iter().enumerate().filter(|(_, x)| x.direct) {
        let chunks: Vec<usize> =
            (0..netty.chunks.len()).filter(|&c| netty.chunks[c].arena == a && !netty.chunks[c].unpooled).collect();
        let total: u64 = chunks.iter().filter_map(|&c| memory_bytes(c)).fold(0, u64::saturating_add);
        if total == 0 {
            continue;
        }
        let free: u64 = chunks
            .iter()
            .filter(|&&c| memory_bytes(c).is_some())
            .map(|&c| netty.chunks[c].free)
            .fold(0, u64::saturating_add);
        let mut left = total.saturating_sub(free);
        for live in netty.live.iter().filter(|l| !l.huge) {
            if netty.chunks[live.chunk].arena == a && memory_bytes(live.chunk).is_some() {
                let bytes = live.bytes.min(left);
                left -= bytes;
                shares.push((Share::Path(live.object), 1, bytes));
            }
        }
        let cached = arena.report.cached_bytes.min(left);
        left -= cached;
        let allocator = arena.allocator;
        shares.push((Share::Allocator(allocator, "free in pooled chunks"), chunks.len() as u64, free.min(total)));
        shares.push((
            Share::Allocator(allocator, "released buffers parked in thread caches"),
            arena.report.cached_buffers,
            cached,
        ));
        shares.push((
            Share::Allocator(allocator, "used in chunks, held by no live buffer (subpage slack, leaked releases)"),
            0,
            left,
        ));
    }

    // Adaptive chunks: live buffers' `length` to their paths, the rest to the allocator.
    for chunk in &netty.adaptive {
        let Some(total) = chunk.memory.and_then(|m| counted.get(&m).copied()) else { continue };
        let mut left = total;
        for &(buffer, bytes) in &chunk.live {
            let bytes = bytes.min(left);
            left -= bytes;
            shares.push((Share::Path(buffer), 1, bytes));
        }
        shares.push((Share::Allocator(chunk.allocator, "unused in adaptive chunks (free or released)"), 1, left));
    }
}

/// The shortest strong path to `target` that does not run through a view of it (a slice's
/// `att`, Netty's recycler): those share the memory but are not who allocated it.
fn attribution_path(heap: &Heap<'_>, referrers: &Referrers, target: ObjectIndex) -> Vec<ObjectIndex> {
    let mut best: Option<Vec<ObjectIndex>> = None;
    for &r in referrers.of(target) {
        if !is_strong(heap, r) || is_side_holder(heap, r, target) {
            continue;
        }
        let path = heap.path(r);
        if !path.is_empty() && best.as_ref().is_none_or(|b| path.len() < b.len()) {
            best = Some(path);
        }
    }
    match best {
        Some(mut path) => {
            path.push(target);
            path
        }
        None => heap.path(target),
    }
}

fn is_side_holder(heap: &Heap<'_>, referrer: ObjectIndex, target: ObjectIndex) -> bool {
    let name = heap.class_name(referrer);
    (name.starts_with("java.nio.") && object(heap, referrer, "att") == Some(target))
        || name.starts_with("io.netty.util.Recycler")
        || name.starts_with("io.netty.util.ResourceLeakDetector")
}

/// A path told for grouping: the root, the steps with collection internals collapsed,
/// wrappers seen through and indices dropped, and who on it owns and holds the bytes.
pub(crate) struct Described {
    pub root: String,
    pub root_kind: RootKind,
    pub steps: Vec<String>,
    /// The application object nearest the end of the path; for what a channel holds (no
    /// application object between the channel and the end), the channel's own.
    pub owner: Option<String>,
    /// The library object nearest the end of the path, collections and wrappers aside.
    pub holder: Option<Holder>,
    /// The path reaches its end through one of Netty's leak detector's wrappers.
    pub leak_tracked: bool,
}

impl Described {
    /// Bytes no strong path holds (garbage, a leak): told by what they are.
    fn without_path(root: &str, steps: Vec<String>) -> Described {
        Described {
            root: root.into(),
            root_kind: RootKind::None,
            steps,
            owner: None,
            holder: None,
            leak_tracked: false,
        }
    }
}

pub(crate) fn describe(
    heap: &Heap<'_>,
    roles: &Roles,
    owners: &FxHashMap<ObjectIndex, ChannelOwner>,
    path: &[ObjectIndex],
) -> Described {
    let Some(&last) = path.last() else {
        return Described::without_path("no strong path", Vec::new());
    };
    // A class's static field is the root a person names, wherever the class itself is held.
    let start =
        (0..path.len().saturating_sub(1)).rev().find(|&i| matches!(heap.kind(path[i]), ObjectKind::Class { .. }));
    let (root, root_kind, first_edge) = match start {
        Some(i) => (heap.edge_label(path[i], path[i + 1]), RootKind::StaticField, i + 1),
        None => match heap.root_of(path[0]) {
            Some(r) => (heap.root_text(&heap.roots[r]), root_kind(heap.roots[r].kind), 0),
            None => ("GC root".into(), RootKind::Other, 0),
        },
    };
    let mut steps: Vec<String> = Vec::new();
    let mut i = first_edge;
    while i + 1 < path.len() {
        // A wrapper passes calls on to the ByteBuf inside: its step says nothing of who holds it.
        if roles.is_wrapper(heap, path[i]) {
            i += 1;
            continue;
        }
        let from = heap.class_name(path[i]);
        let internal = |o: ObjectIndex| is_collection(heap, roles, o) || is_node(&heap.class_name(o));
        let into_nodes = i + 2 < path.len() && is_node(&heap.class_name(path[i + 1]));
        if internal(path[i]) || into_nodes {
            // The whole run of collection internals (or linked nodes) becomes one step.
            while i + 2 < path.len() && internal(path[i + 1]) {
                i += 1;
            }
            // An array's element step, without searching the array for the index (a
            // million-element array holding a million buffers would make that quadratic).
            let step = match from.strip_suffix("[]") {
                Some(element) => format!("{element}[*]"),
                None => format!("{from}[*]"),
            };
            push_step(&mut steps, step);
        } else {
            push_step(&mut steps, without_index(&heap.edge_label(path[i], path[i + 1])));
        }
        i += 1;
    }
    steps.push(heap.class_name(last));
    // Owners and holders are looked for from the root on: what leads to a static field's class
    // (a class loader, the launcher) holds nothing.
    let holders = &path[start.unwrap_or(0)..path.len() - 1];
    let class_of = |o: ObjectIndex| match heap.kind(o) {
        ObjectKind::Class { .. } => heap.class_object_name(o).map(str::to_string),
        _ => Some(heap.class_name(o)),
    };
    let application = |o: ObjectIndex| class_of(o).filter(|name| Library::of(name).is_none());
    let nearest = holders.iter().rposition(|&o| application(o).is_some());
    // A channel's application object stands for the connection: it owns what the channel (or
    // its outbound buffer) holds unless an application object of its own is nearer the bytes.
    let channel = holders.iter().rposition(|o| owners.contains_key(o));
    let owner = match (channel, nearest) {
        (Some(c), n) if n.is_none_or(|n| n < c) => owners.get(&holders[c]).map(|o| o.class.clone()),
        (_, n) => n.and_then(|n| application(holders[n])),
    };
    // A read buffer on the way is who holds the bytes, however far from them it is.
    let reader = path.windows(2).rev().find(|pair| roles.is_read_buffer(heap, pair[0], pair[1])).map(|pair| pair[0]);
    let holder = match reader {
        Some(o) => class_of(o).map(|name| Holder {
            library: Library::of(&name).unwrap_or(Library::Netty),
            class: name,
            role: HolderRole::ReadBuffer,
        }),
        None => holders.iter().rev().filter(|&&o| !roles.is_wrapper(heap, o)).find_map(|&o| {
            let name = class_of(o)?;
            let role = match roles.of_object(heap, o) {
                Some(ClassRole::OutboundBuffer) => HolderRole::OutboundBuffer,
                Some(ClassRole::PendingWrites { .. }) => HolderRole::PendingWrites,
                Some(ClassRole::InboundQueue) => HolderRole::InboundQueue,
                _ if is_collection(heap, roles, o) || is_node(&name) => return None,
                _ => HolderRole::Other,
            };
            Some(Holder { library: Library::of(&name)?, class: name, role })
        }),
    };
    let leak_tracked = holders.last().is_some_and(|&o| roles.is_leak_tracker(heap, o));
    Described { root, root_kind, steps, owner, holder, leak_tracked }
}

fn root_kind(kind: dumpscan_hprof::RootKind) -> RootKind {
    use dumpscan_hprof::RootKind as Vm;
    match kind {
        Vm::JavaFrame { .. } => RootKind::Local,
        Vm::JniLocal { .. } => RootKind::JniLocal,
        Vm::ThreadObject { .. } => RootKind::Thread,
        Vm::JniGlobal { .. } => RootKind::JniGlobal,
        Vm::StickyClass => RootKind::SystemClass,
        _ => RootKind::Other,
    }
}

/// Steps repeated along a linked list (`Entry.next`, `Cleaner.next`) collapse into one.
fn push_step(steps: &mut Vec<String>, step: String) {
    let repeated = format!("{step}*");
    match steps.last_mut() {
        Some(last) if *last == step => *last = repeated,
        Some(last) if *last == repeated => {}
        _ => steps.push(step),
    }
}

/// `java.lang.Object[12]` → `java.lang.Object[*]`.
fn without_index(label: &str) -> String {
    match (label.rfind('['), label.ends_with(']')) {
        (Some(open), true) if label[open + 1..label.len() - 1].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}[*]", &label[..open])
        }
        _ => label.to_string(),
    }
}

/// An array, or a collection's internals as a pack says (`java.util`, Netty's JCTools queues).
fn is_collection(heap: &Heap<'_>, roles: &Roles, object: ObjectIndex) -> bool {
    matches!(heap.kind(object), ObjectKind::ObjectArray { .. } | ObjectKind::PrimitiveArray(_))
        || roles.is_container(heap, object)
}

/// Nodes of linked structures: `HashMap$Node`, `ChannelOutboundBuffer$Entry`, queue nodes.
fn is_node(class: &str) -> bool {
    let simple = class.rsplit(['.', '$']).next().unwrap_or(class);
    simple == "Entry" || simple.ends_with("Node")
}

impl Attribution {
    /// The path chosen for a buffer (or its shortest path), spelled out step by step.
    pub(crate) fn path_steps(&self, heap: &Heap<'_>, object: ObjectIndex) -> Vec<String> {
        match self.paths.get(&object) {
            Some(p) => heap.path_steps(p, object),
            None => heap.path_steps(&heap.path(object), object),
        }
    }
}

/// Steps as one line, as `Heap::path_line` spells them.
fn line(heap: &Heap<'_>, object: ObjectIndex, steps: &[String]) -> String {
    if steps.is_empty() {
        format!("{} (no path from a GC root)", dumpscan_heap::object_text(heap, object))
    } else {
        steps.join(" -> ")
    }
}

/// The largest single buffers: JDK buffers that own memory or map files (the JVM's own
/// mappings left out), and Netty's live pooled and huge buffers.
pub(crate) fn largest(
    heap: &Heap<'_>,
    classified: &Classified,
    netty: &Netty,
    attribution: &Attribution,
    top: usize,
) -> Vec<LargeBuffer> {
    let chunk_memory = netty.chunk_memory();
    let jdk_kind = |kind: Kind| match kind {
        Kind::Owned => Some(LargeBufferKind::Owned),
        Kind::NoCleaner => Some(LargeBufferKind::NoCleaner),
        Kind::TemporaryCache => Some(LargeBufferKind::TemporaryCache),
        Kind::Mapped => Some(LargeBufferKind::Mapped),
        Kind::Unreachable => Some(LargeBufferKind::Unreachable),
        _ => None,
    };
    let mut rows: Vec<(ObjectIndex, LargeBufferKind, u64)> = classified
        .buffers
        .iter()
        .filter(|b| b.capacity > 0)
        .filter_map(|b| match chunk_memory.get(&b.object) {
            // A huge allocation is listed as the Netty buffer using it.
            Some(&Memory::Pool(c)) if netty.chunks[c].unpooled => None,
            Some(_) if b.kind.counts() => Some((b.object, LargeBufferKind::NettyChunk, b.capacity)),
            _ => Some((b.object, jdk_kind(b.kind)?, b.capacity)),
        })
        .collect();
    rows.extend(
        netty.live.iter().filter(|l| l.direct).map(|l| {
            (l.object, if l.huge { LargeBufferKind::NettyHuge } else { LargeBufferKind::NettyPooled }, l.bytes)
        }),
    );
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    if top > 0 {
        rows.truncate(top);
    }
    rows.into_iter()
        .map(|(o, kind, bytes)| {
            let netty_buf = matches!(kind, LargeBufferKind::NettyPooled | LargeBufferKind::NettyHuge);
            let (reader, writer) = if netty_buf {
                (int(heap, o, "readerIndex"), int(heap, o, "writerIndex"))
            } else {
                (int(heap, o, "position"), int(heap, o, "limit"))
            };
            let steps = attribution.path_steps(heap, o);
            LargeBuffer {
                id: format!("0x{:x}", heap.id(o)),
                class: heap.class_name(o),
                kind,
                bytes,
                reader_index: reader,
                writer_index: writer,
                path: line(heap, o, &steps),
                steps,
            }
        })
        .collect()
}

/// The objects whose removal would free the most native memory: retained native bytes over
/// the dominator tree, one entry per chain of objects that retain the same amount.
pub(crate) fn native_dominators(heap: &Heap<'_>, classified: &Classified, top: usize) -> Vec<NativeDominator> {
    let owned: FxHashMap<ObjectIndex, u64> = classified
        .buffers
        .iter()
        .filter(|b| matches!(b.kind, Kind::Owned | Kind::NoCleaner | Kind::TemporaryCache))
        .map(|b| (b.object, b.capacity))
        .collect();
    if owned.is_empty() {
        return Vec::new();
    }
    let targets: Vec<ObjectIndex> = owned.keys().copied().collect();
    let native = NativeTree::over(heap, &targets);
    let tree = &native.tree;
    let retained = tree.retained(|v| owned.get(&native.object(v)).copied().unwrap_or(0));
    let (limit, candidates) = if top == 0 { (usize::MAX, 0) } else { (top, top * 20 + 100) };
    let mut rows = Vec::new();
    for (v, bytes) in retained.top(candidates) {
        if bytes == 0 || rows.len() == limit {
            break;
        }
        // Show the top of each chain (list -> array -> buffer): the one a person can remove.
        if tree.idom(v).is_some_and(|d| retained.get(d) == bytes) {
            continue;
        }
        let o = native.object(v);
        let steps = heap.path_steps(&heap.path(o), o);
        rows.push(NativeDominator {
            id: format!("0x{:x}", heap.id(o)),
            class: heap.class_object_name(o).map(|n| format!("class {n}")).unwrap_or_else(|| heap.class_name(o)),
            retained_native_bytes: bytes,
            path: line(heap, o, &steps),
            steps,
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    use super::*;
    use crate::report::OwnerLink;

    /// What a channel holds is owned by the channel's application object, unless an
    /// application object of its own lies between the channel and the bytes.
    #[test]
    fn a_channels_owner_owns_what_it_holds() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let registry = b.define_class("org.example.Registry", Some(object), &[("channel", T::Object)]);
        let list = b.define_class("java.util.ArrayList", Some(object), &[("item", T::Object)]);
        let channel =
            b.define_class("io.netty.channel.socket.nio.NioSocketChannel", Some(object), &[("out", T::Object)]);
        let outbound = b.define_class("io.netty.channel.ChannelOutboundBuffer", Some(object), &[("msg", T::Object)]);
        let message = b.define_class("org.example.Message", Some(object), &[("buf", T::Object)]);
        let buffer = b.define_class("io.netty.buffer.PooledUnsafeDirectByteBuf", Some(object), &[]);
        let bytes = b.instance(buffer, &[]);
        let held = b.instance(message, &[V::Object(bytes)]);
        let out = b.instance(outbound, &[V::Object(held)]);
        let ch = b.instance(channel, &[V::Object(out)]);
        let jdk = b.instance(list, &[V::Object(ch)]);
        let app = b.instance(registry, &[V::Object(ch)]);
        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let roles = Roles::of(&heap);
        let at = |id: u64| heap.index_of(id).unwrap();
        let cnxn = ChannelOwner {
            id: "0x1".into(),
            class: "org.example.Cnxn".into(),
            link: OwnerLink::Attribute,
            attribute: Some("cnxn".into()),
            session_id: None,
        };
        let owners: FxHashMap<ObjectIndex, ChannelOwner> =
            [(at(ch), cnxn.clone()), (at(out), cnxn)].into_iter().collect();
        let owner = |path: &[u64]| {
            let path: Vec<ObjectIndex> = path.iter().map(|&id| at(id)).collect();
            describe(&heap, &roles, &owners, &path).owner
        };
        assert_eq!(owner(&[jdk, ch, out, bytes]).as_deref(), Some("org.example.Cnxn"));
        assert_eq!(owner(&[app, ch, out, bytes]).as_deref(), Some("org.example.Cnxn"), "the channel is nearer");
        assert_eq!(owner(&[out, bytes]).as_deref(), Some("org.example.Cnxn"), "from the outbound buffer on");
        assert_eq!(owner(&[jdk, ch, out, held, bytes]).as_deref(), Some("org.example.Message"));
        let none = FxHashMap::default();
        let path: Vec<ObjectIndex> = [app, ch, out, bytes].iter().map(|&id| at(id)).collect();
        assert_eq!(describe(&heap, &roles, &none, &path).owner.as_deref(), Some("org.example.Registry"));
    }
}
