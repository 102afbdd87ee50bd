//! The report: what `dumpscan DUMP` prints, and the JSON contract `dumpscan.report.v1`
//! (documented in docs/REPORT-SCHEMA.md). Byte counts are bytes; ids are hex strings. The
//! structs are data only: the renderers in the command line decide how each is shown.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::jvm::Jvm;
pub use crate::libraries::Library;

/// The name of the JSON contract the report follows.
pub const SCHEMA: &str = "dumpscan.report.v1";

/// The report's contract, written as [`SCHEMA`] and read back only from it: a saved report of
/// another version is refused rather than misread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schema;

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(SCHEMA)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Schema, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name == SCHEMA {
            Ok(Schema)
        } else {
            Err(serde::de::Error::invalid_value(serde::de::Unexpected::Str(&name), &SCHEMA))
        }
    }
}

/// Everything the off-heap analysis found in one dump.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: Schema,
    /// The file read, and the JVM that wrote it.
    pub dump: DumpInfo,
    /// What the process itself counted.
    pub counters: Counters,
    /// What each counter says against what the dump's objects add up to.
    pub reconciliation: Vec<Reconciliation>,
    /// The pasted out-of-memory message, decoded (`--error`).
    pub error: Option<AllocationFailure>,
    /// The process's native memory as NMT and /proc saw it beside the dump (`--nmt`,
    /// `--proc`); `None` when neither was given. Reports saved before it read back as `None`.
    #[serde(default)]
    pub native: Option<Native>,
    /// Every direct buffer, each in exactly one class.
    pub direct_buffers: DirectBuffers,
    /// Direct memory found in the dump and attributed in `retainers`: owned, no-cleaner,
    /// temporary-cache and awaiting-GC buffers (mapped files are listed apart).
    pub native_bytes: u64,
    /// Direct buffers still in their constructor: reservations waiting for room under the limit.
    pub allocations_in_progress: Vec<AllocationInProgress>,
    /// Netty's allocators, pooled and adaptive.
    pub netty: Vec<NettyAllocator>,
    /// Netty channels with writes waiting in their outbound buffer, most pending first.
    pub channels: Vec<Channel>,
    /// Client libraries' connections (Lettuce), one entry per library found.
    pub clients: Vec<Client>,
    /// Who keeps the native bytes alive, largest first; the bytes sum to `native_bytes`.
    pub retainers: Vec<Retainer>,
    /// Objects whose removal would free the most native memory (dominator tree).
    pub dominators: Vec<NativeDominator>,
    /// The largest single buffers.
    pub largest: Vec<LargeBuffer>,
    /// What stands out, causes before symptoms.
    pub findings: Vec<Finding>,
}

/// The dump file and the JVM that wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpInfo {
    /// The path as given.
    pub path: String,
    /// The header's format, `JAVA PROFILE 1.0.2`.
    pub format: String,
    /// Bytes per id: 8 (64-bit JVM) or 4 (32-bit).
    pub id_size: u32,
    /// Size of the (decompressed) dump.
    pub bytes: u64,
    /// The file ends early; the report covers what was read.
    pub truncated: bool,
    /// Objects in the heap model.
    pub objects: u64,
    /// When the dump was written (the header's timestamp), ISO 8601 in UTC.
    pub created: Option<String>,
    /// The JVM's identity and the limits that matter for off-heap memory (`java_version`,
    /// ...), flattened into this object.
    #[serde(flatten)]
    pub jvm: Jvm,
}

/// The counters the process kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counters {
    /// `java.nio.Bits`: what `BufferPoolMXBean("direct")` reports. `null` when the class is
    /// not in the dump.
    pub jdk: Option<JdkCounters>,
    /// `io.netty.util.internal.PlatformDependent`; `null` without Netty.
    pub netty: Option<NettyCounters>,
}

/// `java.nio.Bits`' statics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JdkCounters {
    /// Buffers the JDK counts.
    pub count: Option<i64>,
    /// Their capacities.
    pub total_capacity: Option<i64>,
    /// Bytes reserved against the limit.
    pub reserved: Option<i64>,
    /// The limit: `-XX:MaxDirectMemorySize`, or the heap maximum when unset.
    pub max: Option<i64>,
}

/// `PlatformDependent`'s statics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NettyCounters {
    /// `DIRECT_MEMORY_COUNTER`: `null` when the counter is off (cleaner mode).
    pub used: Option<i64>,
    /// `DIRECT_MEMORY_LIMIT`.
    pub max: Option<i64>,
    /// `USE_DIRECT_BUFFER_NO_CLEANER`.
    pub no_cleaner: Option<bool>,
}

/// Which counter a reconciliation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterSource {
    /// `java.nio.Bits`.
    Jdk,
    /// Netty's `PlatformDependent`.
    Netty,
}

/// A counter against the buffers found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Which counter.
    pub counter: CounterSource,
    /// The counter's buffer count, where it keeps one.
    pub counter_count: Option<i64>,
    /// The counter's bytes.
    pub counter_bytes: i64,
    /// Buffers found that the counter should hold.
    pub found_count: u64,
    /// Their capacities.
    pub found_bytes: u64,
    /// `counter_bytes - found_bytes`.
    pub difference: i64,
    /// Why they differ, in sentences.
    pub explanation: Vec<String>,
}

/// The decoded `--error` message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocationFailure {
    /// Which counter refused the allocation.
    pub source: CounterSource,
    /// Bytes asked for.
    pub requested: u64,
    /// Bytes in use then.
    pub used: Option<u64>,
    /// The limit then.
    pub max: Option<u64>,
    /// What the size asked for says about who asked.
    pub shape: RequestShape,
    /// Plain-language reading of the numbers against the dump's counters.
    pub reading: Vec<String>,
}

/// The shape of a failed allocation's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestShape {
    /// A multiple of Netty's 4 MiB growth step above it: one buffer growing with one large message.
    Growth {
        /// The step, 4 MiB.
        step: u64,
        /// How many steps.
        multiple: u64,
    },
    /// One of the dump's pooled allocators' chunk size: a pool asking for a new chunk.
    PoolChunk {
        /// That chunk size.
        chunk_size: u64,
    },
    /// A power of two up to 4 MiB: a buffer doubling as it grows.
    Doubling {
        /// The size itself.
        power_of_two: u64,
    },
    /// None of these.
    None,
}

/// A count and the bytes it stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, bytes: u64) {
        self.count = self.count.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// The process's memory beside the dump: the RSS from /proc, NMT's categories, and the two
/// broken down into parts that add up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Native {
    /// Resident set size, in bytes (`--proc`).
    pub rss: Option<u64>,
    /// Resident anonymous memory.
    pub rss_anon: Option<u64>,
    /// Resident file-backed memory.
    pub rss_file: Option<u64>,
    /// Shallow bytes of every object in the dump (with `-all`, garbage included).
    pub dump_heap_bytes: Option<u64>,
    /// Shallow bytes of the strongly reachable objects in the dump.
    pub dump_live_heap_bytes: Option<u64>,
    /// What NMT says (`--nmt`).
    pub nmt: Option<NmtSummary>,
    /// The RSS (or, without it, NMT's committed total) in parts that add up to it exactly.
    pub breakdown: Vec<NativePart>,
    /// Each figure against what should explain it: NMT's "Other" against the dump's counters,
    /// the committed heap against the dump's objects, the RSS against NMT.
    pub reconciliation: Vec<NativeCheck>,
}

/// NMT's figures, in bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NmtSummary {
    /// Bytes per unit NMT printed in (1024 for its default KB): amounts are exact to it.
    pub scale: u64,
    /// All categories together.
    pub total: NmtAmounts,
    /// Each category NMT printed, in its order.
    pub categories: Vec<NmtCategoryAmounts>,
}

/// A reserved and a committed amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NmtAmounts {
    /// Address space reserved.
    pub reserved: u64,
    /// Memory committed.
    pub committed: u64,
}

/// One NMT category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NmtCategoryAmounts {
    /// As NMT names it: `Java Heap`, `Class`, `Thread`, `Other`, ...
    pub category: String,
    /// Address space reserved.
    pub reserved: u64,
    /// Memory committed.
    pub committed: u64,
}

/// What a part of the native breakdown stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// NMT's "Java Heap", committed.
    JavaHeap,
    /// The JDK's direct buffers: `java.nio.Bits`' reserved memory in the dump.
    DirectBuffers,
    /// Netty's no-cleaner memory: its `PlatformDependent` counter in the dump.
    NettyNoCleaner,
    /// The JDK's per-thread temporary buffers kept without a cleaner (JDK 24+), in the dump.
    TemporaryCache,
    /// NMT's "Other" beyond the three above: `Unsafe.allocateMemory` no counter sees.
    OtherUncounted,
    /// Any other NMT category, committed.
    NmtCategory,
    /// NMT's total beyond the sum of its categories (amounts rounded to the scale).
    NmtRounding,
    /// The RSS beyond NMT's committed total: memory NMT does not track. Negative when NMT
    /// counts committed memory that is not resident.
    NotTrackedByNmt,
    /// Without NMT: the objects in the dump.
    DumpHeap,
    /// Without NMT: the RSS beyond the parts the dump explains.
    RestOfRss,
}

/// Where a part's figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartSource {
    /// NMT's report.
    Nmt,
    /// The heap dump.
    Dump,
    /// /proc.
    Proc,
    /// Computed from the others.
    Derived,
}

/// One part of the native breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativePart {
    /// Its name for people: an NMT category's own name, or what the kind stands for.
    pub part: String,
    /// What it stands for.
    pub kind: PartKind,
    /// Its bytes; a derived part can be negative.
    pub bytes: i64,
    /// Where the figure comes from.
    pub source: PartSource,
}

/// Which figures a native check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeCheckKind {
    /// NMT's "Other" against the dump's JDK and Netty counters and temporary buffers.
    OtherVsCounters,
    /// NMT's committed Java heap against the objects in the dump.
    HeapVsDump,
    /// The RSS against NMT's committed total.
    RssVsNmt,
}

/// A figure against what should explain it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeCheck {
    /// Which figures.
    pub check: NativeCheckKind,
    /// The figure measured: NMT's "Other", its committed Java heap, or the RSS.
    pub measured: u64,
    /// What explains it: the counters, the dump's objects, NMT's committed total.
    pub accounted: u64,
    /// `measured - accounted`; may be negative.
    pub difference: i64,
    /// What the difference means and what to try.
    pub reading: String,
}

/// Every `DirectByteBuffer` and `DirectByteBufferR`, each in exactly one class.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DirectBuffers {
    /// Cleaner-backed and strongly reachable (Netty's chunks in cleaner mode among them).
    pub owned: Tally,
    /// Own memory the JDK does not count (Netty no-cleaner, JNI, foreign memory), strongly reachable.
    pub no_cleaner: Tally,
    /// The JDK's per-thread temporary buffers kept without a cleaner (JDK 24+): own memory
    /// that `java.nio.Bits` does not count.
    pub temporary_cache: Tally,
    /// Files the application mapped (`FileChannel.map`): what `BufferPoolMXBean("mapped")` counts.
    pub mapped: Tally,
    /// The JVM's own mappings: the runtime image (`lib/modules`) and the performance-counter file.
    pub jvm_mapped: Tally,
    /// Slices, duplicates, read-only views: share their parent's memory; never in a total.
    pub views: Tally,
    /// Own memory, no strong path: freed when a GC runs their cleaners. Includes cleaners whose
    /// buffer is already collected (`cleared_cleaners` of them) but whose memory is not freed.
    pub unreachable: Tally,
    /// Cleaners whose buffer the GC already cleared; counted in `unreachable`.
    pub cleared_cleaners: Tally,
    /// Still in their constructor, strongly reachable: memory asked for, not yet reserved.
    pub in_progress: Tally,
    /// Constructors that never got their memory (address 0), no longer reachable: failed allocations.
    pub failed: Tally,
    /// No cleaner and no strong path: their memory may be long freed; listed, never counted.
    pub stale_no_cleaner: Tally,
    /// Cleaner already run: memory freed; skipped.
    pub freed: Tally,
}

/// A direct buffer whose constructor is waiting for room under the JDK's limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocationInProgress {
    /// The `DirectByteBuffer` being built.
    pub id: String,
    /// Bytes asked for (its capacity).
    pub requested: u64,
    /// The thread waiting, when a frame of it holds the buffer.
    pub thread: Option<String>,
    /// The frame that holds the buffer (the constructor).
    pub frame: Option<String>,
    /// The first frame below it, callers first, that is neither the JDK's nor a known library's.
    pub asked_by: Option<String>,
    /// What the memory was for, where the stack or size tells.
    pub purpose: AllocationPurpose,
    /// The frames from the one holding the buffer to the thread's first, as `Class.method(File:line)`.
    pub stack: Vec<String>,
}

/// What a direct allocation was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationPurpose {
    /// A new chunk of a Netty pool (`PoolArena.newChunk`, or the allocator's chunk size).
    PoolChunk,
    /// A huge (unpooled) allocation by a Netty pool.
    PoolHuge,
    /// An unpooled Netty buffer.
    NettyUnpooled,
    /// Anything else (`ByteBuffer.allocateDirect` by the application or a library).
    Other,
}

/// A pooled or adaptive Netty allocator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NettyAllocator {
    /// `io.netty.buffer.PooledByteBufAllocator@0x...`
    pub allocator: String,
    /// Shortest path from a GC root to the allocator.
    pub path: String,
    /// The allocator's `chunkSize`.
    pub chunk_size: Option<i64>,
    /// Its direct arenas, then its heap arenas.
    pub arenas: Vec<Arena>,
    /// Its thread caches.
    pub thread_caches: Vec<ThreadCache>,
    /// Pooled ByteBufs in use (`chunk` set, even `refCnt`) and the bytes they hold (`maxLength`).
    pub live_buffers: Tally,
    /// Released (odd `refCnt`) yet referenced by something other than Netty's recycler.
    pub released_still_referenced: Tally,
    /// For an `AdaptivePoolingAllocator` (Netty 4.1.111+, 4.2's default): its chunks.
    pub adaptive: Option<AdaptivePool>,
}

/// An adaptive allocator's chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AdaptivePool {
    /// How many chunks.
    pub chunks: u64,
    /// Capacity of the chunks (direct and heap).
    pub chunk_bytes: u64,
    /// Bytes handed out of the chunks since they were last reset (`allocatedBytes`).
    pub allocated_bytes: u64,
    /// ByteBufs carved from the chunks and not released, with their capacity (`length`).
    pub live_buffers: Tally,
}

/// Whether an arena serves direct or heap buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArenaKind {
    /// Off-heap.
    Direct,
    /// On the heap.
    Heap,
}

/// One arena of a pooled allocator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arena {
    /// Direct or heap.
    pub kind: ArenaKind,
    /// The arena's id.
    pub id: String,
    /// Pooled chunks on the arena's chunk lists.
    pub chunks: u64,
    /// Their sizes.
    pub chunk_bytes: u64,
    /// `chunk_bytes - free_bytes`.
    pub used_bytes: u64,
    /// Free in the chunks.
    pub free_bytes: u64,
    /// Huge (unpooled) allocations alive.
    pub huge_count: u64,
    /// Their bytes.
    pub huge_bytes: u64,
    /// Thread caches pointing at this arena (`numThreadCaches`).
    pub thread_caches: u64,
    /// Released ByteBufs parked in thread caches (still used inside their chunks).
    pub cached_buffers: u64,
    /// Their sizes.
    pub cached_bytes: u64,
    /// `pinnedBytes` summed over chunks (Netty 4.1.69+).
    pub pinned_bytes: Option<u64>,
    /// Pooled ByteBufs in use.
    pub live_buffers: Tally,
}

/// A Netty thread cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThreadCache {
    /// The cache's id.
    pub id: String,
    /// The thread that owns the cache, when the dump links them.
    pub thread: Option<String>,
    /// False when the owning thread is not running any more (or none was found): the
    /// cache's bytes stay parked until Netty frees the cache.
    pub thread_alive: bool,
    /// Released ByteBufs parked in the cache.
    pub cached_buffers: u64,
    /// Their sizes, direct arenas only.
    pub cached_bytes: u64,
}

/// A Netty channel with writes waiting in its outbound buffer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    /// The channel object.
    pub id: String,
    /// Its class, `io.netty.channel.socket.nio.NioSocketChannel`.
    pub class: String,
    /// Its `ChannelOutboundBuffer`.
    pub outbound_buffer: String,
    /// `ip:port`, where the dump has it.
    pub local: Option<String>,
    /// `ip:port` of the peer, where the dump has it.
    pub remote: Option<String>,
    /// `totalPendingSize`: bytes written and not yet sent, with Netty's per-entry overhead.
    pub pending_bytes: u64,
    /// Messages written and not yet sent.
    pub pending_messages: u64,
    /// Whether the channel says it can take writes (`unwritable == 0`).
    pub writable: bool,
    /// Direct memory held through the outbound buffer, and in how many ByteBufs or buffers.
    pub direct: Tally,
    /// The application's object attached to the channel: what the connection is to the
    /// application, and the owner of what the channel holds.
    #[serde(default)]
    pub owner: Option<ChannelOwner>,
}

/// An application object attached to a channel: a channel attribute's value or a pipeline
/// handler, of a class that is neither the JDK's nor a known library's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOwner {
    /// The object.
    pub id: String,
    /// Its class.
    pub class: String,
    /// How the channel holds it.
    pub link: OwnerLink,
    /// The attribute's key name, for an attribute.
    pub attribute: Option<String>,
    /// Its `long sessionId` field, in hex, where its class has one.
    pub session_id: Option<String>,
}

/// How a channel holds its application object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerLink {
    /// The value of one of the channel's attributes (`Channel.attr(key)`).
    Attribute,
    /// A handler in the channel's pipeline.
    Handler,
}

impl ChannelOwner {
    /// `NettyServerCnxn 0x7f0 (session 0x1000)`: the class's simple name, the object, and the
    /// session where there is one.
    pub fn label(&self) -> String {
        let simple = self.class.rsplit('.').next().unwrap_or(&self.class);
        match &self.session_id {
            Some(session) => format!("{simple} {} (session {session})", self.id),
            None => format!("{simple} {}", self.id),
        }
    }
}

/// A client library's section: its own connections with its own keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "library", rename_all = "snake_case")]
pub enum Client {
    /// Lettuce, the Redis client (4.x to 7.x).
    Lettuce {
        /// Every endpoint, with its command handler when it has one.
        connections: Vec<LettuceConnection>,
    },
    /// Redisson, the Redis client: its connections' commands awaiting replies and read buffers.
    Redisson {
        /// Every channel with Redisson's command queue.
        connections: Vec<RedissonConnection>,
    },
    /// Reactor Netty: its connections' inbound queues.
    Reactor {
        /// Every `FluxReceive` with something queued.
        receivers: Vec<ReactorReceiver>,
    },
}

impl Client {
    /// The channels the section's connections use (ids), so that channel findings name the
    /// connection rather than the bare channel.
    pub fn channels(&self) -> Vec<&str> {
        match self {
            Client::Lettuce { connections } => connections.iter().filter_map(|c| c.channel.as_deref()).collect(),
            Client::Redisson { connections } => connections.iter().map(|c| c.channel.as_str()).collect(),
            Client::Reactor { .. } => Vec::new(),
        }
    }

    /// The read buffers of the section's connections, which its findings tell.
    pub fn read_buffers(&self) -> Vec<&ReadBuffer> {
        match self {
            Client::Lettuce { connections } => connections.iter().filter_map(|c| c.read_buffer.as_ref()).collect(),
            Client::Redisson { connections } => connections.iter().filter_map(|c| c.read_buffer.as_ref()).collect(),
            Client::Reactor { .. } => Vec::new(),
        }
    }
}

/// One Redisson connection: a channel with its command queue and decoder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedissonConnection {
    /// The Netty channel.
    pub channel: String,
    /// `ip:port` of the channel, where the dump has it.
    pub local: Option<String>,
    /// `ip:port` of the Redis server, where the dump has it.
    pub remote: Option<String>,
    /// Commands sent and awaiting a reply: the channel's `COMMANDS_QUEUE` attribute.
    pub in_flight: Commands,
    /// The `CommandDecoder`'s cumulation: the reply being read.
    pub read_buffer: Option<ReadBuffer>,
    /// `totalPendingSize` of the channel's outbound buffer.
    pub pending_write_bytes: Option<u64>,
    /// Direct memory the connection holds: its read buffer and the writes pending in its channel.
    pub direct_bytes: u64,
}

/// A Reactor Netty connection's inbound side: what it read and nobody consumed yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReactorReceiver {
    /// The `FluxReceive`.
    pub id: String,
    /// Its `ChannelOperations` (`parent`).
    pub operations: Option<String>,
    /// `ip:port` of the channel, where the dump has it.
    pub local: Option<String>,
    /// `ip:port` of the peer, where the dump has it.
    pub remote: Option<String>,
    /// Whether something subscribed to the inbound data (`receiver` set).
    pub subscribed: bool,
    /// `receiverDemand`: how many more the subscriber asked for.
    pub demand: Option<i64>,
    /// `inboundDone`: the peer finished sending.
    pub inbound_done: bool,
    /// Messages in `receiverQueue`.
    pub queued: u64,
    /// Bytes readable in the queued ByteBufs.
    pub queued_bytes: u64,
}

/// Whether a client's connection is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// It has a channel.
    Connected,
    /// No channel: commands queue until it reconnects.
    Disconnected,
    /// Closed by the application.
    Closed,
}

/// Commands, counted by type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commands {
    /// How many.
    pub count: u64,
    /// How many of each type (`GET`, `SET`, ...).
    pub commands: std::collections::BTreeMap<String, u64>,
    /// The type of the oldest: in flight, the one whose reply comes next.
    pub oldest: Option<String>,
    /// Shallow heap bytes of the objects their arguments hold (keys, values), each counted once.
    pub heap_bytes: u64,
}

impl Commands {
    /// `GET 6, SET 3`: the types, most first.
    pub fn by_type(&self) -> String {
        let mut kinds: Vec<(&String, &u64)> = self.commands.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        kinds.iter().map(|(kind, n)| format!("{kind} {}", crate::units::thousands(**n))).collect::<Vec<_>>().join(", ")
    }
}

/// A ByteBuf that holds bytes read and not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadBuffer {
    /// The ByteBuf.
    pub id: String,
    /// Its capacity.
    pub capacity: u64,
    /// `writerIndex - readerIndex`: bytes read and not yet decoded.
    pub readable: u64,
    /// Off-heap (a direct ByteBuf).
    pub direct: bool,
}

/// One Lettuce connection: an endpoint and its command handler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LettuceConnection {
    /// The `CommandHandler`, when the connection has one (a channel's pipeline holds it).
    pub handler: Option<String>,
    /// The `DefaultEndpoint` (or subclass); 4.x keeps everything in the handler.
    pub endpoint: Option<String>,
    /// The Netty channel, when connected.
    pub channel: Option<String>,
    /// Up, down or closed.
    pub state: ConnectionState,
    /// `ip:port` of the channel, where the dump has it.
    pub local: Option<String>,
    /// `ip:port` of the Redis server, where the dump has it.
    pub remote: Option<String>,
    /// Sent and awaiting a reply: the handler's `stack`.
    pub in_flight: Commands,
    /// Not sent: the endpoint's `disconnectedBuffer` and `commandBuffer`.
    pub queued: Commands,
    /// The handler's read buffer (`buffer`, 6.6+: `readBuffer`).
    pub read_buffer: Option<ReadBuffer>,
    /// `totalPendingSize` of the channel's outbound buffer.
    pub pending_write_bytes: Option<u64>,
    /// Direct memory the connection holds: its read buffer and the writes pending in its channel.
    pub direct_bytes: u64,
}

/// What kind of holder a retainer group stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetainerKind {
    /// Buffers on a strong path from a GC root.
    Buffers,
    /// An allocator's own bytes: free in its chunks, parked in thread caches, or used in
    /// chunks without a live ByteBuf (subpage slack, leaks of released buffers).
    Allocator,
    /// Pooled ByteBufs nobody references that were never released: a leak.
    Leaked,
    /// Memory of unreachable buffers, freed at the next GC that runs their cleaners.
    AwaitingGc,
}

/// How the GC root of a retainer holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootKind {
    /// A class's static field.
    StaticField,
    /// A local variable of a thread's frame.
    Local,
    /// A JNI local of a thread's frame.
    JniLocal,
    /// A thread object itself.
    Thread,
    /// A JNI global reference.
    JniGlobal,
    /// A class the JVM keeps loaded.
    SystemClass,
    /// Any other root the VM reports (monitor, native stack, ...).
    Other,
    /// No strong path: garbage, a leak, or an allocator's own bytes told apart.
    None,
}

/// The nearest object of a known library on a retainer's path: who holds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The library.
    pub library: Library,
    /// The object's class.
    pub class: String,
    /// What the object does with the bytes.
    pub role: HolderRole,
}

/// What a holder does with the bytes it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolderRole {
    /// Bytes read and not yet decoded: a decoder's cumulation, Lettuce's read buffer.
    ReadBuffer,
    /// Writes waiting for the socket: a channel's `ChannelOutboundBuffer`.
    OutboundBuffer,
    /// Writes held back before the channel: an `SslHandler` before its handshake, a `PendingWriteQueue`.
    PendingWrites,
    /// Data read and waiting for a consumer: Reactor Netty's `FluxReceive`.
    InboundQueue,
    /// An allocator's pool.
    Pool,
    /// Anything else.
    Other,
}

/// One group of native memory and who keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retainer {
    /// What holds the bytes.
    pub kind: RetainerKind,
    /// The GC root, as a person names it: `static Foo.CACHE`, `local in thread "main" at ...`.
    pub root: String,
    /// How the root holds the path.
    pub root_kind: RootKind,
    /// Steps from the root, collection internals collapsed and wrappers seen through, ending
    /// at the buffers' class.
    pub path: Vec<String>,
    /// The first application object on the path, nearest the buffers: one whose class is
    /// neither the JDK's nor a known library's.
    pub owner: Option<String>,
    /// The nearest library object on the path that holds the bytes (not a collection).
    pub holder: Option<Holder>,
    /// Buffers (JDK `DirectByteBuffer`s or Netty ByteBufs) in the group.
    pub buffers: u64,
    /// Of them, ByteBufs reached through Netty's leak detector's wrappers.
    pub leak_tracked: u64,
    /// Native bytes attributed to the group.
    pub bytes: u64,
    /// One buffer of the group, for `dumpscan paths --id`.
    pub example: Option<String>,
}

/// An object that retains native memory through the dominator tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeDominator {
    /// The object.
    pub id: String,
    /// Its class (`class Foo` for a class object).
    pub class: String,
    /// Native bytes freed if it were gone.
    pub retained_native_bytes: u64,
    /// Its shortest path, as one line.
    pub path: String,
    /// The same path, one step an element (root first, the object last).
    pub steps: Vec<String>,
}

/// How a large buffer holds its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LargeBufferKind {
    /// A JDK buffer with a cleaner.
    Owned,
    /// A JDK buffer without a cleaner.
    NoCleaner,
    /// The JDK's temporary buffer cache.
    TemporaryCache,
    /// A file the application mapped.
    Mapped,
    /// Awaiting GC.
    Unreachable,
    /// The memory of a Netty pool chunk.
    NettyChunk,
    /// A pooled Netty ByteBuf.
    NettyPooled,
    /// A huge Netty allocation.
    NettyHuge,
}

/// One of the largest buffers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LargeBuffer {
    /// The buffer.
    pub id: String,
    /// Its class.
    pub class: String,
    /// How it holds memory.
    pub kind: LargeBufferKind,
    /// Its bytes.
    pub bytes: u64,
    /// NIO `position`, or Netty `readerIndex`.
    pub reader_index: Option<i64>,
    /// NIO `limit`, or Netty `writerIndex`.
    pub writer_index: Option<i64>,
    /// Its path, as one line.
    pub path: String,
    /// The same path, one step an element.
    pub steps: Vec<String>,
}

/// What a finding is about; the order of causes and symptoms follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The dump is cut short.
    Truncated,
    /// A direct allocation waits in its constructor.
    AllocationInProgress,
    /// Writes pile up in a channel.
    WritePileup,
    /// Writes pile up across many channels, none large alone.
    SpreadWritePileup,
    /// Writes held back before the channel (TLS handshake, a handler's queue).
    PendingWrites,
    /// Bytes read and not yet decoded.
    ReadBuffer,
    /// Most memory held along one path.
    LargeRetainer,
    /// One buffer holds much of the memory.
    LargeBuffer,
    /// Pooled ByteBufs never released.
    Leak,
    /// Memory of unreachable buffers waits for a GC.
    AwaitingGc,
    /// Thread caches of threads that are gone.
    DeadThreadCaches,
    /// Pool chunks mostly free.
    MostlyFreeChunks,
    /// A client connection reading a large reply.
    ReplyBeingRead,
    /// Commands queued in a disconnected client's endpoint.
    QueuedWhileDisconnected,
    /// Writes piling up in a client connection's channel.
    ClientWritePileup,
    /// Data read that nobody consumes (Reactor Netty's inbound queue).
    InboundNotConsumed,
    /// Released ByteBufs still referenced.
    UseAfterRelease,
    /// The `--error` message, read against the dump.
    ErrorMessage,
    /// A counter at or near its limit.
    CounterNearLimit,
    /// Memory no JMX bean counts.
    InvisibleToJmx,
    /// NMT's "Other" holds much more than the dump's counters.
    OtherUncounted,
    /// The RSS holds much more than NMT tracks.
    NotTrackedByNmt,
    /// The committed heap is much larger than the objects in it.
    HeapOversized,
}

impl FindingKind {
    /// About the whole process's memory (from `--nmt`, `--proc`), not about direct buffers in
    /// the dump: symptoms of the direct memory do not point at these.
    pub fn is_process_memory(self) -> bool {
        matches!(self, FindingKind::OtherUncounted | FindingKind::NotTrackedByNmt | FindingKind::HeapOversized)
    }
}

/// Whether a finding explains, shows an effect, or sets the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// What to know before reading the rest (a cut dump, an allocation caught waiting).
    Context,
    /// Where the memory went.
    Cause,
    /// What the process saw because of it.
    Symptom,
}

/// A few sentences an on-call engineer can act on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// Cause, symptom or context.
    pub role: Role,
    /// One line.
    pub title: String,
    /// What it means and what to do.
    pub detail: String,
    /// Bytes concerned.
    pub bytes: u64,
    /// Object ids and figures behind the finding.
    pub evidence: Vec<String>,
    /// Commands that show more, ready to paste (the dump's path shell-quoted).
    pub commands: Vec<String>,
}

#[cfg(test)]
impl Report {
    /// The report of an empty dump, for the rules' tests to fill in.
    pub(crate) fn empty() -> Report {
        Report {
            schema: Schema,
            dump: DumpInfo {
                path: "heap.hprof".into(),
                format: "JAVA PROFILE 1.0.2".into(),
                id_size: 8,
                bytes: 0,
                truncated: false,
                objects: 0,
                created: None,
                jvm: Default::default(),
            },
            counters: Default::default(),
            reconciliation: Vec::new(),
            error: None,
            native: None,
            direct_buffers: Default::default(),
            native_bytes: 0,
            allocations_in_progress: Vec::new(),
            netty: Vec::new(),
            channels: Vec::new(),
            clients: Vec::new(),
            retainers: Vec::new(),
            dominators: Vec::new(),
            largest: Vec::new(),
            findings: Vec::new(),
        }
    }
}
