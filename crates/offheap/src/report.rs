//! The report: what `dumpscan DUMP` prints, and the JSON contract `dumpscan.report.v1`
//! (documented in docs/REPORT-SCHEMA.md). Byte counts are bytes; ids are hex strings.

use serde::Serialize;

pub const SCHEMA: &str = "dumpscan.report.v1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub dump: DumpInfo,
    pub counters: Counters,
    /// What each counter says against what the dump's objects add up to.
    pub reconciliation: Vec<Reconciliation>,
    /// The pasted out-of-memory message, decoded (`--error`).
    pub error: Option<AllocationFailure>,
    pub direct_buffers: DirectBuffers,
    /// Direct memory found in the dump and attributed in `retainers`: owned, no-cleaner and
    /// awaiting-GC buffers (mapped files are listed apart).
    pub native_bytes: u64,
    pub netty: Vec<NettyAllocator>,
    /// Who keeps the native bytes alive, largest first; the bytes sum to `native_bytes`.
    pub retainers: Vec<Retainer>,
    /// Objects whose removal would free the most native memory (dominator tree).
    pub dominators: Vec<NativeDominator>,
    pub largest: Vec<LargeBuffer>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DumpInfo {
    pub path: String,
    /// The header's format, `JAVA PROFILE 1.0.2`.
    pub format: String,
    pub id_size: u32,
    /// Size of the (decompressed) dump.
    pub bytes: u64,
    pub truncated: bool,
    pub objects: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// `java.nio.Bits`: what `BufferPoolMXBean("direct")` reports. `null` when the class is
    /// not in the dump.
    pub jdk: Option<JdkCounters>,
    /// `io.netty.util.internal.PlatformDependent`; `null` without Netty.
    pub netty: Option<NettyCounters>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JdkCounters {
    pub count: Option<i64>,
    pub total_capacity: Option<i64>,
    pub reserved: Option<i64>,
    /// The limit: `-XX:MaxDirectMemorySize`, or the heap maximum when unset.
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NettyCounters {
    /// `DIRECT_MEMORY_COUNTER`: `null` when the counter is off (cleaner mode).
    pub used: Option<i64>,
    pub max: Option<i64>,
    pub no_cleaner: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    /// `jdk` or `netty`.
    pub counter: &'static str,
    pub counter_count: Option<i64>,
    pub counter_bytes: i64,
    pub found_count: u64,
    pub found_bytes: u64,
    /// `counter_bytes - found_bytes`.
    pub difference: i64,
    pub explanation: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllocationFailure {
    /// `netty` (OutOfDirectMemoryError) or `jdk` (Cannot reserve ... direct buffer memory).
    pub source: &'static str,
    pub requested: u64,
    pub used: Option<u64>,
    pub max: Option<u64>,
    /// Plain-language reading of the numbers against the dump's counters.
    pub reading: Vec<String>,
}

/// A count and the bytes it stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub bytes: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// Every `DirectByteBuffer` and `DirectByteBufferR`, each in exactly one class.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DirectBuffers {
    /// Cleaner-backed and strongly reachable (Netty's chunks in cleaner mode among them).
    pub owned: Tally,
    /// Own memory the JDK does not count (Netty no-cleaner, JNI, foreign memory), strongly reachable.
    pub no_cleaner: Tally,
    /// Mapped files, the JDK's runtime image and the JVM's performance-counter file among them.
    pub mapped: Tally,
    /// Slices, duplicates, read-only views: share their parent's memory; never in a total.
    pub views: Tally,
    /// Own memory, no strong path: freed when a GC runs their cleaner. Includes cleaners whose
    /// buffer is already collected (`cleared_cleaners` of them) but whose memory is not freed.
    pub unreachable: Tally,
    pub cleared_cleaners: Tally,
    /// No cleaner and no strong path: their memory may be long freed; listed, never counted.
    pub stale_no_cleaner: Tally,
    /// Cleaner already run: memory freed; skipped.
    pub freed: Tally,
}

#[derive(Debug, Clone, Serialize)]
pub struct NettyAllocator {
    /// `io.netty.buffer.PooledByteBufAllocator@0x...`
    pub allocator: String,
    /// Shortest path from a GC root to the allocator.
    pub path: String,
    pub chunk_size: Option<i64>,
    pub arenas: Vec<Arena>,
    pub thread_caches: Vec<ThreadCache>,
    /// Pooled buffers in use (`chunk` set, even `refCnt`) and the bytes they hold (`maxLength`).
    pub live_buffers: Tally,
    /// Released (odd `refCnt`) yet referenced by something other than Netty's recycler.
    pub released_still_referenced: Tally,
    /// For an `AdaptivePoolingAllocator` (Netty 4.1.111+, 4.2's default): its chunks.
    pub adaptive: Option<AdaptivePool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AdaptivePool {
    pub chunks: u64,
    /// Capacity of the chunks (direct and heap).
    pub chunk_bytes: u64,
    /// Bytes handed out of the chunks since they were last reset (`allocatedBytes`).
    pub allocated_bytes: u64,
    /// Buffers carved from the chunks and not released, with their capacity (`length`).
    pub live_buffers: Tally,
}

#[derive(Debug, Clone, Serialize)]
pub struct Arena {
    /// `direct` or `heap`.
    pub kind: &'static str,
    pub id: String,
    /// Pooled chunks on the arena's chunk lists.
    pub chunks: u64,
    pub chunk_bytes: u64,
    pub used_bytes: u64,
    pub free_bytes: u64,
    /// Huge (unpooled) allocations: from the arena's counters where it has them.
    pub huge_count: u64,
    pub huge_bytes: u64,
    /// Thread caches pointing at this arena (`numThreadCaches`).
    pub thread_caches: u64,
    /// Released buffers parked in thread caches (still used inside their chunks).
    pub cached_buffers: u64,
    pub cached_bytes: u64,
    /// `pinnedBytes` summed over chunks (Netty 4.1.69+).
    pub pinned_bytes: Option<u64>,
    pub live_buffers: Tally,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadCache {
    pub id: String,
    /// The thread that owns the cache, when the dump links them.
    pub thread: Option<String>,
    /// False when the owning thread is not running any more (or none was found): the
    /// cache's bytes stay parked until Netty frees the cache.
    pub thread_alive: bool,
    pub cached_buffers: u64,
    pub cached_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetainerKind {
    /// Buffers on a strong path from a GC root.
    Buffers,
    /// An allocator's own bytes: free in its chunks, parked in thread caches, or used in
    /// chunks without a live buffer (subpage slack, leaks of released buffers).
    Allocator,
    /// Memory of unreachable buffers, freed at the next GC that runs their cleaners.
    AwaitingGc,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retainer {
    pub kind: RetainerKind,
    /// The GC root, as a person names it: `static Foo.CACHE`, `local in thread "main" at ...`.
    pub root: String,
    /// Steps from the root, collection internals collapsed, ending at the buffers' class.
    pub path: Vec<String>,
    /// The first application-level object on the path.
    pub owner: Option<String>,
    pub buffers: u64,
    pub bytes: u64,
    /// One buffer of the group, for `dumpscan paths --id`.
    pub example: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NativeDominator {
    pub id: String,
    pub class: String,
    pub retained_native_bytes: u64,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LargeBuffer {
    pub id: String,
    pub class: String,
    /// `owned`, `no_cleaner`, `mapped`, `unreachable`, `netty_chunk` (a pool chunk's memory),
    /// `netty_pooled`, `netty_huge`.
    pub kind: &'static str,
    pub bytes: u64,
    /// NIO `position`/`limit`, or Netty `readerIndex`/`writerIndex`.
    pub reader_index: Option<i64>,
    pub writer_index: Option<i64>,
    pub path: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub title: String,
    pub detail: String,
    pub bytes: u64,
    /// Object ids and figures behind the finding.
    pub evidence: Vec<String>,
}
