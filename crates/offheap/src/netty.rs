//! Netty's pooled allocator read from its objects: arenas, chunk lists, huge allocations,
//! thread caches and pooled buffers, across the 4.1 and 4.2 layouts.

use dumpscan_heap::{Heap, ObjectIndex};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::census::{is_strong, Census, Referrers};
use crate::fields::{counter_field, elements, int, is_a, object};
use crate::report::{AdaptivePool, Arena, ArenaKind, NettyAllocator, Tally, ThreadCache};

const CHUNK_LISTS: [&str; 6] = ["qInit", "q000", "q025", "q050", "q075", "q100"];

/// A pooled chunk, or the unpooled chunk of a huge allocation.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub object: ObjectIndex,
    pub arena: usize,
    /// The `DirectByteBuffer` (or `byte[]`) holding the chunk's memory.
    pub memory: Option<ObjectIndex>,
    pub size: u64,
    pub free: u64,
    pub unpooled: bool,
}

/// A pooled `ByteBuf` that holds part of a chunk (`chunk` set, even `refCnt`).
#[derive(Debug, Clone)]
pub(crate) struct LiveBuffer {
    pub object: ObjectIndex,
    /// Index of its chunk in `Netty::chunks`.
    pub chunk: usize,
    pub bytes: u64,
    pub direct: bool,
    pub huge: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ArenaModel {
    pub object: ObjectIndex,
    pub allocator: usize,
    pub direct: bool,
    pub report: Arena,
}

#[derive(Debug, Clone)]
pub(crate) struct CacheModel {
    pub allocator: Option<usize>,
    pub report: ThreadCache,
    /// Cached bytes per arena index.
    pub by_arena: Vec<(usize, u64, u64)>,
}

/// A chunk of an `AdaptivePoolingAllocator`: one unpooled buffer (`delegate`) that buffers
/// are carved from.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveChunk {
    /// Index of its allocator in `Netty::allocators`.
    pub allocator: usize,
    pub memory: Option<ObjectIndex>,
    /// Live buffers carved from it: (buffer, `length`).
    pub live: Vec<(ObjectIndex, u64)>,
}

/// Everything the Netty rules found, with the allocators' reports.
pub(crate) struct Netty {
    pub allocators: Vec<(ObjectIndex, NettyAllocator)>,
    pub arenas: Vec<ArenaModel>,
    pub chunks: Vec<Chunk>,
    pub live: Vec<LiveBuffer>,
    pub caches: Vec<CacheModel>,
    pub released_referenced: Vec<ObjectIndex>,
    pub adaptive: Vec<AdaptiveChunk>,
}

/// What a chunk-memory buffer belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Memory {
    /// A `PoolChunk` (index in `Netty::chunks`), pooled or huge.
    Pool(usize),
    /// An adaptive chunk's buffer.
    Adaptive,
}

impl Netty {
    /// Chunk memory buffers: their bytes are split by the pool rules, not by their own path.
    pub(crate) fn chunk_memory(&self) -> FxHashMap<ObjectIndex, Memory> {
        let pooled = self.chunks.iter().enumerate().filter_map(|(i, c)| Some((c.memory?, Memory::Pool(i))));
        let adaptive = self.adaptive.iter().filter_map(|c| Some((c.memory?, Memory::Adaptive)));
        pooled.chain(adaptive).collect()
    }
}

pub(crate) fn read(heap: &Heap<'_>, census: &Census) -> Netty {
    let mut netty = Netty {
        allocators: Vec::new(),
        arenas: Vec::new(),
        chunks: Vec::new(),
        live: Vec::new(),
        caches: Vec::new(),
        released_referenced: Vec::new(),
        adaptive: Vec::new(),
    };
    let mut arena_index: FxHashMap<ObjectIndex, usize> = FxHashMap::default();
    for &allocator in census.of("io.netty.buffer.PooledByteBufAllocator") {
        let a = netty.allocators.len();
        let mut arenas = Vec::new();
        for (field, direct) in [("directArenas", true), ("heapArenas", false)] {
            for arena in
                object(heap, allocator, field).map(|x| elements(heap, x)).unwrap_or_default().into_iter().flatten()
            {
                if arena_index.contains_key(&arena) {
                    continue; // arenas shared between allocators are reported once
                }
                arena_index.insert(arena, netty.arenas.len());
                let report = read_arena(heap, arena, direct, &mut netty.chunks, netty.arenas.len());
                arenas.push(netty.arenas.len());
                netty.arenas.push(ArenaModel { object: arena, allocator: a, direct, report });
            }
        }
        if arenas.is_empty() {
            continue; // no arenas of its own (Netty's DEFAULT when direct memory is small): nothing to say
        }
        netty.allocators.push((
            allocator,
            NettyAllocator {
                allocator: dumpscan_heap::object_text(heap, allocator),
                path: heap.path_text(allocator),
                chunk_size: int(heap, allocator, "chunkSize"),
                arenas: Vec::new(),
                thread_caches: Vec::new(),
                live_buffers: Tally::default(),
                released_still_referenced: Tally::default(),
                adaptive: None,
            },
        ));
    }
    read_adaptive(heap, census, &mut netty);
    // Huge allocations: unpooled chunks, reachable only through the buffer using them.
    for &chunk in census.of("io.netty.buffer.PoolChunk") {
        if int(heap, chunk, "unpooled") != Some(1) {
            continue;
        }
        let Some(&arena) = object(heap, chunk, "arena").and_then(|a| arena_index.get(&a)) else { continue };
        let size = int(heap, chunk, "chunkSize").unwrap_or(0).max(0) as u64;
        netty.chunks.push(Chunk {
            object: chunk,
            arena,
            memory: object(heap, chunk, "memory"),
            size,
            free: 0,
            unpooled: true,
        });
    }
    let chunk_of: FxHashMap<ObjectIndex, usize> = netty.chunks.iter().enumerate().map(|(i, c)| (c.object, i)).collect();

    // Pooled buffers: live ones hold `maxLength` of their chunk; released ones (odd refCnt)
    // sit in Netty's recycler, unless the application still holds them.
    let mut released = Vec::new();
    let released_count = ReleasedRule::of(heap);
    for &buffer in census.of("io.netty.buffer.PooledByteBuf") {
        if released_count.is_released(int(heap, buffer, "refCnt")) {
            released.push(buffer);
            continue;
        }
        let Some(chunk) = object(heap, buffer, "chunk") else { continue };
        let Some(&c) = chunk_of.get(&chunk) else { continue };
        let chunk = &netty.chunks[c];
        let bytes = if chunk.unpooled { chunk.size } else { int(heap, buffer, "maxLength").unwrap_or(0).max(0) as u64 };
        let arena = &netty.arenas[chunk.arena];
        netty.live.push(LiveBuffer { object: buffer, chunk: c, bytes, direct: arena.direct, huge: chunk.unpooled });
    }
    let referrers = Referrers::of_targets(heap, &released);
    netty.released_referenced = released
        .into_iter()
        .filter(|&b| {
            referrers.of(b).iter().any(|&r| {
                let name = heap.class_name(r);
                !name.starts_with("io.netty.util.Recycler") && !name.starts_with("io.netty.util.internal.ObjectPool")
            })
        })
        .collect();

    read_thread_caches(heap, census, &mut netty, &arena_index, &chunk_of);
    finish(heap, &mut netty);
    netty
}

/// How a buffer's `refCnt` field says it was released.
#[derive(Clone, Copy)]
enum ReleasedRule {
    /// Netty 4.1.48+ (`ReferenceCountUpdater`) stores twice the count: odd means released.
    Doubled,
    /// Earlier versions store the count itself: 0 means released.
    Plain,
}

impl ReleasedRule {
    fn of(heap: &Heap<'_>) -> ReleasedRule {
        match heap.classes.by_name("io.netty.util.internal.ReferenceCountUpdater") {
            Some(_) => ReleasedRule::Doubled,
            None => ReleasedRule::Plain,
        }
    }

    fn is_released(self, ref_count: Option<i64>) -> bool {
        match (self, ref_count) {
            (_, None) => false,
            (ReleasedRule::Doubled, Some(n)) => n % 2 != 0,
            (ReleasedRule::Plain, Some(n)) => n <= 0,
        }
    }
}

fn read_arena(heap: &Heap<'_>, arena: ObjectIndex, direct: bool, chunks: &mut Vec<Chunk>, index: usize) -> Arena {
    let mut report = Arena {
        kind: if direct { ArenaKind::Direct } else { ArenaKind::Heap },
        id: format!("0x{:x}", heap.id(arena)),
        chunks: 0,
        chunk_bytes: 0,
        used_bytes: 0,
        free_bytes: 0,
        huge_count: 0,
        huge_bytes: 0,
        thread_caches: counter_field(heap, arena, "numThreadCaches").unwrap_or(0).max(0) as u64,
        cached_buffers: 0,
        cached_bytes: 0,
        pinned_bytes: None,
        live_buffers: Tally::default(),
    };
    let mut seen = FxHashSet::default();
    for list in CHUNK_LISTS.iter().filter_map(|f| object(heap, arena, f)) {
        let mut next = object(heap, list, "head");
        while let Some(chunk) = next {
            if !seen.insert(chunk) {
                break;
            }
            let size = int(heap, chunk, "chunkSize").unwrap_or(0).max(0) as u64;
            let free = (int(heap, chunk, "freeBytes").unwrap_or(0).max(0) as u64).min(size);
            if let Some(pinned) = counter_field(heap, chunk, "pinnedBytes") {
                let total = report.pinned_bytes.get_or_insert(0);
                *total = total.saturating_add(pinned.max(0) as u64);
            }
            report.chunks += 1;
            report.chunk_bytes = report.chunk_bytes.saturating_add(size);
            report.free_bytes = report.free_bytes.saturating_add(free);
            chunks.push(Chunk {
                object: chunk,
                arena: index,
                memory: object(heap, chunk, "memory"),
                size,
                free,
                unpooled: false,
            });
            next = object(heap, chunk, "next");
        }
    }
    report.used_bytes = report.chunk_bytes.saturating_sub(report.free_bytes);
    let allocated = counter_field(heap, arena, "allocationsHuge");
    let deallocated = counter_field(heap, arena, "deallocationsHuge");
    if let (Some(a), Some(d)) = (allocated, deallocated) {
        report.huge_count = a.saturating_sub(d).max(0) as u64;
    }
    report.huge_bytes = counter_field(heap, arena, "activeBytesHuge").unwrap_or(0).max(0) as u64;
    report
}

/// Thread caches: which arena they serve, which thread owns them, and the released buffers
/// parked in them.
fn read_thread_caches(
    heap: &Heap<'_>,
    census: &Census,
    netty: &mut Netty,
    arena_index: &FxHashMap<ObjectIndex, usize>,
    chunk_of: &FxHashMap<ObjectIndex, usize>,
) {
    let caches = census.of("io.netty.buffer.PoolThreadCache");
    if caches.is_empty() {
        return;
    }
    let owners = cache_owners(heap, census.of("java.lang.Thread"));
    let running: FxHashSet<ObjectIndex> = heap
        .roots
        .iter()
        .filter(|r| matches!(r.kind, dumpscan_hprof::RootKind::ThreadObject { .. }))
        .map(|r| r.object)
        .collect();
    for &cache in caches {
        let mut by_arena: Vec<(usize, u64, u64)> = Vec::new();
        for (kind, arena_field) in [("Direct", "directArena"), ("Heap", "heapArena")] {
            let Some(&arena) = object(heap, cache, arena_field).and_then(|a| arena_index.get(&a)) else { continue };
            let page_size = int(heap, netty.arenas[arena].object, "pageSize").unwrap_or(8192).max(1) as u64;
            let (mut count, mut bytes) = (0u64, 0u64);
            for (field, size_of_index) in [
                (format!("tinySubPage{kind}Caches"), SizeRule::Tiny),
                (format!("smallSubPage{kind}Caches"), SizeRule::Small),
                (format!("normal{kind}Caches"), SizeRule::Normal(page_size)),
            ] {
                let Some(array) = object(heap, cache, &field) else { continue };
                for (i, region) in elements(heap, array).into_iter().enumerate() {
                    let Some(queue) = region.and_then(|r| object(heap, r, "queue")) else { continue };
                    for entry in queue_entries(heap, queue) {
                        let Some(chunk) = object(heap, entry, "chunk") else { continue };
                        if !chunk_of.contains_key(&chunk) {
                            continue;
                        }
                        let size = int(heap, entry, "normCapacity")
                            .map(|c| c.max(0) as u64)
                            .unwrap_or_else(|| size_of_index.bytes(i));
                        count += 1;
                        bytes = bytes.saturating_add(size);
                    }
                }
            }
            by_arena.push((arena, count, bytes));
        }
        let thread = owners.get(&cache).copied();
        let report = ThreadCache {
            id: format!("0x{:x}", heap.id(cache)),
            thread: thread.map(|t| heap.thread_name(t).unwrap_or_else(|| dumpscan_heap::object_text(heap, t))),
            thread_alive: thread.is_some_and(|t| running.contains(&t)),
            cached_buffers: by_arena.iter().map(|a| a.1).fold(0, u64::saturating_add),
            cached_bytes: by_arena
                .iter()
                .filter(|a| netty.arenas[a.0].direct)
                .map(|a| a.2)
                .fold(0, u64::saturating_add),
        };
        let allocator = by_arena.first().map(|a| netty.arenas[a.0].allocator);
        netty.caches.push(CacheModel { allocator, report, by_arena });
    }
}

/// How a 4.1.51-and-earlier cache array index maps to its buffers' size (later versions store
/// `normCapacity` in each entry).
#[derive(Clone, Copy)]
enum SizeRule {
    Tiny,
    Small,
    Normal(u64),
}

impl SizeRule {
    /// The size of the buffers at `index`; a page size from the dump shifted past 64 bits is
    /// `u64::MAX`, not its low bits.
    fn bytes(self, index: usize) -> u64 {
        let scale = 1u64 << index.min(40);
        match self {
            SizeRule::Tiny => 16 * index.min(40) as u64,
            SizeRule::Small => 512 * scale,
            SizeRule::Normal(page) => page.saturating_mul(scale),
        }
    }
}

/// The entries of a cache's queue (JCTools or JDK queue): found within a few references.
fn queue_entries(heap: &Heap<'_>, queue: ObjectIndex) -> Vec<ObjectIndex> {
    let mut found = Vec::new();
    let mut seen = FxHashSet::default();
    let mut frontier = vec![queue];
    for _ in 0..4 {
        let mut next = Vec::new();
        for o in frontier {
            for &w in heap.references(o) {
                if !seen.insert(w) {
                    continue;
                }
                if heap.class_name(w).ends_with("MemoryRegionCache$Entry") {
                    found.push(w);
                } else if heap.class_of(w).is_some() && seen.len() < 1 << 16 {
                    next.push(w);
                }
            }
        }
        frontier = next;
    }
    found
}

/// Each thread's Netty thread-local map (a `FastThreadLocalThread`'s own, or the one in its
/// `ThreadLocal` table), and the thread caches in it.
fn cache_owners(heap: &Heap<'_>, threads: &[ObjectIndex]) -> FxHashMap<ObjectIndex, ObjectIndex> {
    let mut owners = FxHashMap::default();
    for &thread in threads {
        let mut maps: Vec<ObjectIndex> = object(heap, thread, "threadLocalMap").into_iter().collect();
        if let Some(table) = object(heap, thread, "threadLocals").and_then(|t| object(heap, t, "table")) {
            for entry in elements(heap, table).into_iter().flatten() {
                if let Some(value) = object(heap, entry, "value") {
                    if heap.class_name(value).ends_with("InternalThreadLocalMap") {
                        maps.push(value);
                    }
                }
            }
        }
        for map in maps {
            let Some(variables) = object(heap, map, "indexedVariables") else { continue };
            for value in elements(heap, variables).into_iter().flatten() {
                if is_a(heap, value, "io.netty.buffer.PoolThreadCache") {
                    owners.insert(value, thread);
                }
            }
        }
    }
    owners
}

/// `AdaptivePoolingAllocator`s: their chunks (found through `magazine.parent`), the direct
/// buffer behind each (`delegate.buffer`), and the live buffers carved from them.
fn read_adaptive(heap: &Heap<'_>, census: &Census, netty: &mut Netty) {
    let allocators = census.of("io.netty.buffer.AdaptivePoolingAllocator");
    if allocators.is_empty() {
        return;
    }
    let first = netty.allocators.len();
    for &allocator in allocators {
        netty.allocators.push((
            allocator,
            NettyAllocator {
                allocator: dumpscan_heap::object_text(heap, allocator),
                path: heap.path_text(allocator),
                chunk_size: None,
                arenas: Vec::new(),
                thread_caches: Vec::new(),
                live_buffers: Tally::default(),
                released_still_referenced: Tally::default(),
                adaptive: Some(AdaptivePool::default()),
            },
        ));
    }
    let mut chunk_index: FxHashMap<ObjectIndex, usize> = FxHashMap::default();
    for &chunk in census.of("io.netty.buffer.AdaptivePoolingAllocator$Chunk") {
        let Some(delegate) = object(heap, chunk, "delegate") else { continue };
        let parent = object(heap, chunk, "magazine").and_then(|m| object(heap, m, "parent"));
        let allocator = match parent.and_then(|p| allocators.iter().position(|&a| a == p)) {
            Some(i) => first + i,
            None if allocators.len() == 1 => first,
            None => continue,
        };
        let capacity =
            int(heap, chunk, "capacity").or_else(|| int(heap, delegate, "capacity")).unwrap_or(0).max(0) as u64;
        let pool = netty.allocators[allocator].1.adaptive.get_or_insert_with(AdaptivePool::default);
        pool.chunks += 1;
        pool.chunk_bytes = pool.chunk_bytes.saturating_add(capacity);
        let allocated = int(heap, chunk, "allocatedBytes").unwrap_or(0).max(0) as u64;
        pool.allocated_bytes = pool.allocated_bytes.saturating_add(allocated);
        chunk_index.insert(chunk, netty.adaptive.len());
        let memory = object(heap, delegate, "buffer").filter(|&b| is_a(heap, b, "java.nio.DirectByteBuffer"));
        netty.adaptive.push(AdaptiveChunk { allocator, memory, live: Vec::new() });
    }
    for &buffer in census.of("io.netty.buffer.AdaptivePoolingAllocator$AdaptiveByteBuf") {
        if ReleasedRule::Doubled.is_released(int(heap, buffer, "refCnt")) {
            continue;
        }
        let Some(&c) = object(heap, buffer, "chunk").and_then(|c| chunk_index.get(&c)) else { continue };
        let bytes = int(heap, buffer, "length").unwrap_or(0).max(0) as u64;
        netty.adaptive[c].live.push((buffer, bytes));
        let allocator = netty.adaptive[c].allocator;
        if let Some(pool) = netty.allocators[allocator].1.adaptive.as_mut() {
            pool.live_buffers.add(bytes);
        }
    }
}

/// Totals per arena and allocator.
fn finish(heap: &Heap<'_>, netty: &mut Netty) {
    for live in &netty.live {
        let arena = netty.chunks[live.chunk].arena;
        netty.arenas[arena].report.live_buffers.add(live.bytes);
    }
    for cache in &netty.caches {
        for &(arena, count, bytes) in &cache.by_arena {
            let report = &mut netty.arenas[arena].report;
            report.cached_buffers = report.cached_buffers.saturating_add(count);
            report.cached_bytes = report.cached_bytes.saturating_add(bytes);
        }
    }
    // Where an arena has no huge-allocation counters, count the unpooled chunks found.
    let uncounted: Vec<bool> =
        netty.arenas.iter().map(|a| a.report.huge_bytes == 0 && a.report.huge_count == 0).collect();
    for c in netty.chunks.iter().filter(|c| c.unpooled) {
        let arena = &mut netty.arenas[c.arena];
        if uncounted[c.arena] && is_strong(heap, c.object) {
            arena.report.huge_count = arena.report.huge_count.saturating_add(1);
            arena.report.huge_bytes = arena.report.huge_bytes.saturating_add(c.size);
        }
    }
    for (a, (_, report)) in netty.allocators.iter_mut().enumerate() {
        for arena in netty.arenas.iter().filter(|x| x.allocator == a) {
            report.arenas.push(arena.report.clone());
            if arena.direct {
                report.live_buffers.count = report.live_buffers.count.saturating_add(arena.report.live_buffers.count);
                report.live_buffers.bytes = report.live_buffers.bytes.saturating_add(arena.report.live_buffers.bytes);
            }
        }
        report.thread_caches =
            netty.caches.iter().filter(|c| c.allocator == Some(a)).map(|c| c.report.clone()).collect();
    }
    for &b in &netty.released_referenced {
        let bytes = int(heap, b, "maxLength").unwrap_or(0).max(0) as u64;
        let allocator = object(heap, b, "allocator")
            .and_then(|x| netty.allocators.iter().position(|(o, _)| *o == x))
            .or((netty.allocators.len() == 1).then_some(0));
        if let Some(a) = allocator {
            netty.allocators[a].1.released_still_referenced.add(bytes);
        }
    }
}
