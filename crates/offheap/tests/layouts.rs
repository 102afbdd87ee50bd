//! Layouts no JVM here can produce, built with the test HPROF writer: JDK 8's names
//! (`sun.misc.Cleaner`, `Bits.reservedMemory`) and a later Netty 4.1 (`SizeClasses` above the
//! arena, 4 MiB chunks, `pinnedBytes`, `normCapacity` in thread-cache entries, `LongAdder`
//! counters with cells).

use dumpscan_heap::Heap;
use dumpscan_hprof::Dump;
use dumpscan_offheap::{
    analyze_heap, ArenaKind, Client, ConnectionState, CounterSource, FindingKind, HolderRole, LargeBufferKind, Options,
    RetainerKind, Tally,
};
use dumpscan_testkit::{BasicType as T, ClassRef, HeapBuilder, Value as V};

const MIB: i64 = 1 << 20;
const STICKY_CLASS: u8 = 0x05;

struct Classes {
    direct: ClassRef,
    cleaner: ClassRef,
    deallocator: ClassRef,
    atomic_long: ClassRef,
    atomic_int: ClassRef,
    long_adder: ClassRef,
    cell: ClassRef,
}

fn define_jdk8(b: &mut HeapBuilder) -> Classes {
    let object = b.define_class("java.lang.Object", None, &[]);
    let buffer = b.define_class(
        "java.nio.Buffer",
        Some(object),
        &[("mark", T::Int), ("position", T::Int), ("limit", T::Int), ("capacity", T::Int), ("address", T::Long)],
    );
    let byte_buffer = b.define_class("java.nio.ByteBuffer", Some(buffer), &[("hb", T::Object), ("offset", T::Int)]);
    let mapped = b.define_class("java.nio.MappedByteBuffer", Some(byte_buffer), &[("fd", T::Object)]);
    let direct =
        b.define_class("java.nio.DirectByteBuffer", Some(mapped), &[("cleaner", T::Object), ("att", T::Object)]);
    let reference = b.define_class(
        "java.lang.ref.Reference",
        Some(object),
        &[("referent", T::Object), ("queue", T::Object), ("next", T::Object), ("discovered", T::Object)],
    );
    let phantom = b.define_class("java.lang.ref.PhantomReference", Some(reference), &[]);
    let cleaner = b.define_class(
        "sun.misc.Cleaner",
        Some(phantom),
        &[("next", T::Object), ("prev", T::Object), ("thunk", T::Object)],
    );
    let deallocator = b.define_class(
        "java.nio.DirectByteBuffer$Deallocator",
        Some(object),
        &[("address", T::Long), ("size", T::Long), ("capacity", T::Int)],
    );
    let atomic_long = b.define_class("java.util.concurrent.atomic.AtomicLong", Some(object), &[("value", T::Long)]);
    let atomic_int = b.define_class("java.util.concurrent.atomic.AtomicInteger", Some(object), &[("value", T::Int)]);
    let striped = b.define_class(
        "java.util.concurrent.atomic.Striped64",
        Some(object),
        &[("cells", T::Object), ("base", T::Long)],
    );
    let long_adder = b.define_class("java.util.concurrent.atomic.LongAdder", Some(striped), &[]);
    let cell = b.define_class("java.util.concurrent.atomic.Striped64$Cell", Some(object), &[("value", T::Long)]);
    Classes { direct, cleaner, deallocator, atomic_long, atomic_int, long_adder, cell }
}

/// A direct buffer: own fields first, then each super class's.
fn direct_buffer(b: &mut HeapBuilder, c: &Classes, capacity: i64, cleaner: u64, att: u64) -> u64 {
    b.instance(
        c.direct,
        &[
            V::Object(cleaner),
            V::Object(att),
            V::Object(0),
            V::Object(0),
            V::Int(0),
            V::Int(-1),
            V::Int(0),
            V::Int(capacity as i32),
            V::Int(capacity as i32),
            V::Long(0x7f00_0000_0000 + capacity),
        ],
    )
}

fn adder(b: &mut HeapBuilder, c: &Classes, base: i64, cells: &[i64]) -> u64 {
    let cells: Vec<u64> = cells.iter().map(|&v| b.instance(c.cell, &[V::Long(v)])).collect();
    let array = if cells.is_empty() { 0 } else { b.object_array("java.util.concurrent.atomic.Striped64$Cell", &cells) };
    b.instance(c.long_adder, &[V::Object(array), V::Long(base)])
}

/// The JDK 8 and later-Netty dump; `doubled_ref_counts` puts Netty 4.1.48+'s
/// `ReferenceCountUpdater` in it (a `refCnt` of twice the count, odd when released).
fn jdk8_and_later_netty(doubled_ref_counts: bool) -> dumpscan_offheap::Report {
    let mut b = HeapBuilder::new();
    let c = define_jdk8(&mut b);
    if doubled_ref_counts {
        b.define_class("io.netty.util.internal.ReferenceCountUpdater", None, &[]);
    }

    // JDK 8: an owned 1 MiB buffer, and a cleaner whose 2 MiB buffer is already collected.
    let dealloc_owned = b.instance(c.deallocator, &[V::Long(0x7f00), V::Long(MIB), V::Int(MIB as i32)]);
    let dealloc_cleared = b.instance(c.deallocator, &[V::Long(0x7f80), V::Long(2 * MIB), V::Int(2 * MIB as i32)]);
    let cleared = b.new_id();
    let owned_cleaner = b.new_id();
    let owned = direct_buffer(&mut b, &c, MIB, owned_cleaner, 0);
    b.body().instance(
        owned_cleaner,
        c.cleaner.id,
        &[
            V::Object(cleared),
            V::Object(0),
            V::Object(dealloc_owned),
            V::Object(owned),
            V::Object(0),
            V::Object(0),
            V::Object(0),
        ],
    );
    b.body().instance(
        cleared,
        c.cleaner.id,
        &[
            V::Object(0),
            V::Object(owned_cleaner),
            V::Object(dealloc_cleared),
            V::Object(0),
            V::Object(0),
            V::Object(0),
            V::Object(0),
        ],
    );
    let reserved = b.instance(c.atomic_long, &[V::Long(3 * MIB)]);
    let total = b.instance(c.atomic_long, &[V::Long(3 * MIB)]);
    let count = b.instance(c.atomic_long, &[V::Long(2)]);
    let bits = b.define_class_with_statics(
        "java.nio.Bits",
        None,
        &[],
        &[
            ("maxMemory", V::Long(64 * MIB)),
            ("reservedMemory", V::Object(reserved)),
            ("totalCapacity", V::Object(total)),
            ("count", V::Object(count)),
        ],
    );

    // Netty 4.1.100-ish: pageSize and chunkSize on SizeClasses, 4 MiB chunks, no cleaner.
    let size_classes =
        b.define_class("io.netty.buffer.SizeClasses", None, &[("pageSize", T::Int), ("chunkSize", T::Int)]);
    let arena_class = b.define_class(
        "io.netty.buffer.PoolArena",
        Some(size_classes),
        &[
            ("qInit", T::Object),
            ("q000", T::Object),
            ("q025", T::Object),
            ("q050", T::Object),
            ("q075", T::Object),
            ("q100", T::Object),
            ("numThreadCaches", T::Object),
            ("allocationsHuge", T::Object),
            ("deallocationsHuge", T::Object),
            ("activeBytesHuge", T::Object),
        ],
    );
    let direct_arena = b.define_class("io.netty.buffer.PoolArena$DirectArena", Some(arena_class), &[]);
    let chunk_list = b.define_class("io.netty.buffer.PoolChunkList", None, &[("head", T::Object)]);
    let chunk_class = b.define_class(
        "io.netty.buffer.PoolChunk",
        None,
        &[
            ("arena", T::Object),
            ("memory", T::Object),
            ("base", T::Object),
            ("unpooled", T::Boolean),
            ("chunkSize", T::Int),
            ("freeBytes", T::Int),
            ("pinnedBytes", T::Int),
            ("next", T::Object),
        ],
    );
    let abstract_buf =
        b.define_class("io.netty.buffer.AbstractByteBuf", None, &[("readerIndex", T::Int), ("writerIndex", T::Int)]);
    let counted_buf =
        b.define_class("io.netty.buffer.AbstractReferenceCountedByteBuf", Some(abstract_buf), &[("refCnt", T::Int)]);
    let pooled_buf = b.define_class(
        "io.netty.buffer.PooledByteBuf",
        Some(counted_buf),
        &[
            ("chunk", T::Object),
            ("handle", T::Long),
            ("maxLength", T::Int),
            ("length", T::Int),
            ("allocator", T::Object),
        ],
    );
    let unsafe_buf = b.define_class("io.netty.buffer.PooledUnsafeDirectByteBuf", Some(pooled_buf), &[]);
    let thread_cache = b.define_class(
        "io.netty.buffer.PoolThreadCache",
        None,
        &[
            ("directArena", T::Object),
            ("heapArena", T::Object),
            ("smallSubPageDirectCaches", T::Object),
            ("normalDirectCaches", T::Object),
        ],
    );
    let region = b.define_class(
        "io.netty.buffer.PoolThreadCache$MemoryRegionCache",
        None,
        &[("queue", T::Object), ("size", T::Int)],
    );
    let queue = b.define_class(
        "io.netty.util.internal.shaded.org.jctools.queues.MpscArrayQueue",
        None,
        &[("buffer", T::Object)],
    );
    let entry = b.define_class(
        "io.netty.buffer.PoolThreadCache$MemoryRegionCache$Entry",
        None,
        &[("chunk", T::Object), ("handle", T::Long), ("normCapacity", T::Int)],
    );
    let allocator_class = b.define_class(
        "io.netty.buffer.PooledByteBufAllocator",
        None,
        &[("directArenas", T::Object), ("heapArenas", T::Object), ("chunkSize", T::Int)],
    );

    let arena = b.new_id();
    let chunk_memory = direct_buffer(&mut b, &c, 4 * MIB, 0, 0);
    let chunk = b.instance(
        chunk_class,
        &[
            V::Object(arena),
            V::Object(chunk_memory),
            V::Object(0),
            V::Boolean(false),
            V::Int(4 * MIB as i32),
            V::Int(3 * MIB as i32),
            V::Int(589_824),
            V::Object(0),
        ],
    );
    let huge_memory = direct_buffer(&mut b, &c, 8 * MIB, 0, 0);
    let huge_chunk = b.instance(
        chunk_class,
        &[
            V::Object(arena),
            V::Object(huge_memory),
            V::Object(0),
            V::Boolean(true),
            V::Int(8 * MIB as i32),
            V::Int(0),
            V::Int(0),
            V::Object(0),
        ],
    );
    let lists: Vec<u64> =
        (0..6).map(|i| b.instance(chunk_list, &[V::Object(if i == 1 { chunk } else { 0 })])).collect();
    let caches = b.instance(c.atomic_int, &[V::Int(1)]);
    let allocations_huge = adder(&mut b, &c, 1, &[0]);
    let deallocations_huge = adder(&mut b, &c, 0, &[]);
    let active_huge = adder(&mut b, &c, 0, &[8 * MIB, 0]);
    let mut arena_values: Vec<V> = lists.iter().map(|&l| V::Object(l)).collect();
    arena_values.extend([
        V::Object(caches),
        V::Object(allocations_huge),
        V::Object(deallocations_huge),
        V::Object(active_huge),
    ]);
    arena_values.extend([V::Int(8192), V::Int(4 * MIB as i32)]);
    b.body().instance(arena, direct_arena.id, &arena_values);
    let arenas = b.object_array("io.netty.buffer.PoolArena", &[arena]);
    let allocator = b.instance(allocator_class, &[V::Object(arenas), V::Object(0), V::Int(4 * MIB as i32)]);

    let pooled = |b: &mut HeapBuilder, chunk: u64, max_length: i64, ref_count: i32| {
        b.instance(
            unsafe_buf,
            &[
                V::Object(chunk),
                V::Long(1),
                V::Int(max_length as i32),
                V::Int(max_length as i32 - 10),
                V::Object(allocator),
                V::Int(ref_count),
                V::Int(3),
                V::Int(max_length as i32 - 10),
            ],
        )
    };
    let live_a = pooled(&mut b, chunk, 524_288, 2);
    let live_b = pooled(&mut b, chunk, 65_536, 4);
    let live_huge = pooled(&mut b, huge_chunk, 8 * MIB, 2);
    let released = pooled(&mut b, 0, 1024, 1);
    // Never released, referenced by nothing: a leak, its bytes still taken in the chunk.
    pooled(&mut b, chunk, 16_384, 2);
    let cached = b.instance(entry, &[V::Object(chunk), V::Long(7), V::Int(32_768)]);
    let slots = b.object_array("java.lang.Object", &[cached, 0, 0, 0]);
    let queue = b.instance(queue, &[V::Object(slots)]);
    let region = b.instance(region, &[V::Object(queue), V::Int(4)]);
    let small = b.object_array("io.netty.buffer.PoolThreadCache$MemoryRegionCache", &[region]);
    let cache = b.instance(thread_cache, &[V::Object(arena), V::Object(0), V::Object(small), V::Object(0)]);
    let netty_used = b.instance(c.atomic_long, &[V::Long(12 * MIB)]);
    let platform = b.define_class_with_statics(
        "io.netty.util.internal.PlatformDependent",
        None,
        &[],
        &[
            ("DIRECT_MEMORY_COUNTER", V::Object(netty_used)),
            ("DIRECT_MEMORY_LIMIT", V::Long(64 * MIB)),
            ("USE_DIRECT_BUFFER_NO_CLEANER", V::Boolean(true)),
        ],
    );

    let buffers = b.object_array("java.lang.Object", &[live_a, live_b, live_huge]);
    let server = b.define_class_with_statics(
        "com.example.Server",
        None,
        &[],
        &[
            ("BUFFERS", V::Object(buffers)),
            ("LEGACY", V::Object(owned)),
            ("ALLOCATOR", V::Object(allocator)),
            ("CACHE", V::Object(cache)),
            ("STALE", V::Object(released)),
        ],
    );
    for class in [server, bits, platform] {
        b.body().root_simple(STICKY_CLASS, class.id);
    }

    let dump = Dump::from_vec(b.finish_segments(1 << 12)).expect("a dump");
    let heap = Heap::build(&dump).expect("a heap");
    analyze_heap(&heap, "synthetic", &Options::default(), &|_| {})
}

#[test]
fn jdk8_names_and_a_later_netty_layout() {
    let report = jdk8_and_later_netty(true);
    let jdk = report.counters.jdk.as_ref().expect("JDK 8's Bits");
    assert_eq!(
        (jdk.count, jdk.total_capacity, jdk.reserved, jdk.max),
        (Some(2), Some(3 * MIB), Some(3 * MIB), Some(64 * MIB))
    );
    let netty = report.counters.netty.as_ref().expect("Netty's counter");
    assert_eq!((netty.used, netty.max, netty.no_cleaner), (Some(12 * MIB), Some(64 * MIB), Some(true)));
    for r in &report.reconciliation {
        assert_eq!(r.difference, 0, "{:?}: {:?}", r.counter, r.explanation);
    }

    let d = &report.direct_buffers;
    assert_eq!(d.owned, Tally { count: 1, bytes: MIB as u64 });
    assert_eq!(d.no_cleaner, Tally { count: 2, bytes: 12 * MIB as u64 });
    assert_eq!(d.unreachable, Tally { count: 1, bytes: 2 * MIB as u64 });
    assert_eq!(d.cleared_cleaners, Tally { count: 1, bytes: 2 * MIB as u64 });

    let a = &report.netty[0];
    assert_eq!(a.chunk_size, Some(4 * MIB));
    let arena = &a.arenas[0];
    assert_eq!((arena.kind, arena.chunks, arena.chunk_bytes), (ArenaKind::Direct, 1, 4 * MIB as u64));
    assert_eq!((arena.used_bytes, arena.free_bytes), (MIB as u64, 3 * MIB as u64));
    assert_eq!((arena.huge_count, arena.huge_bytes), (1, 8 * MIB as u64));
    assert_eq!((arena.thread_caches, arena.cached_buffers, arena.cached_bytes), (1, 1, 32_768));
    assert_eq!(arena.pinned_bytes, Some(589_824));
    assert_eq!(arena.live_buffers, Tally { count: 4, bytes: 524_288 + 65_536 + 16_384 + 8 * MIB as u64 });
    assert_eq!(a.released_still_referenced, Tally { count: 1, bytes: 1024 });

    // Every native byte once: the application's list, the allocator's three shares, the
    // JDK 8 buffer, and the collected buffer's memory awaiting GC.
    let total: u64 = report.retainers.iter().map(|r| r.bytes).sum();
    assert_eq!((total, report.native_bytes), (15 * MIB as u64, 15 * MIB as u64));
    let group = |root: &str| report.retainers.iter().find(|r| r.root == root).map(|r| (r.buffers, r.bytes));
    assert_eq!(group("static com.example.Server.BUFFERS"), Some((3, 524_288 + 65_536 + 8 * MIB as u64)));
    assert_eq!(group("static com.example.Server.LEGACY"), Some((1, MIB as u64)));
    let allocator_share = |what: &str| {
        report
            .retainers
            .iter()
            .find(|r| r.kind == RetainerKind::Allocator && r.path.last().is_some_and(|s| s.starts_with(what)))
            .map(|r| r.bytes)
    };
    assert_eq!(allocator_share("free in pooled chunks"), Some(3 * MIB as u64));
    assert_eq!(allocator_share("released buffers parked"), Some(32_768));
    assert_eq!(
        allocator_share("used in chunks, held by no live buffer"),
        Some(MIB as u64 - 524_288 - 65_536 - 16_384 - 32_768)
    );
    let leak = report.retainers.iter().find(|r| r.kind == RetainerKind::Leaked).expect("the leaked buffer");
    assert_eq!(
        (leak.buffers, leak.bytes, leak.path.as_slice()),
        (1, 16_384, ["io.netty.buffer.PooledUnsafeDirectByteBuf".to_string()].as_slice())
    );
    let waiting = report.retainers.iter().find(|r| r.kind == RetainerKind::AwaitingGc).unwrap();
    assert_eq!(waiting.bytes, 2 * MIB as u64);

    // No thread owns the cache in this dump: it is flagged.
    assert!(!a.thread_caches[0].thread_alive);
    assert!(report.findings.iter().any(|f| f.kind == FindingKind::DeadThreadCaches));
    assert!(report.findings.iter().any(|f| f.kind == FindingKind::UseAfterRelease));
    assert_eq!(report.largest[0].kind, LargeBufferKind::NettyHuge);
}

/// Before 4.1.48 `refCnt` is the count itself: 1 is a live buffer, only 0 is released.
#[test]
fn plain_reference_counts_of_older_netty() {
    let report = jdk8_and_later_netty(false);
    let a = &report.netty[0];
    assert_eq!(a.released_still_referenced, Tally::default());
    assert_eq!(a.arenas[0].live_buffers.count, 4);
}

#[test]
fn netty_4_2_adaptive_allocator() {
    let mut b = HeapBuilder::new();
    let c = define_jdk8(&mut b);
    let abstract_buf =
        b.define_class("io.netty.buffer.AbstractByteBuf", None, &[("readerIndex", T::Int), ("writerIndex", T::Int)]);
    let counted =
        b.define_class("io.netty.buffer.AbstractReferenceCountedByteBuf", Some(abstract_buf), &[("refCnt", T::Int)]);
    let unpooled = b.define_class(
        "io.netty.buffer.UnpooledDirectByteBuf",
        Some(counted),
        &[("buffer", T::Object), ("capacity", T::Int)],
    );
    let unsafe_unpooled =
        b.define_class("io.netty.buffer.UnpooledUnsafeDirectByteBuf", Some(unpooled), &[("memoryAddress", T::Long)]);
    let no_cleaner = b.define_class("io.netty.buffer.UnpooledUnsafeNoCleanerDirectByteBuf", Some(unsafe_unpooled), &[]);
    let allocator_class = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator",
        None,
        &[("magazines", T::Object), ("centralQueue", T::Object)],
    );
    let magazine_class = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator$Magazine",
        None,
        &[("parent", T::Object), ("current", T::Object)],
    );
    let chunk_class = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator$Chunk",
        None,
        &[
            ("delegate", T::Object),
            ("magazine", T::Object),
            ("capacity", T::Int),
            ("pooled", T::Boolean),
            ("allocatedBytes", T::Int),
            ("refCnt", T::Int),
        ],
    );
    let adaptive_buf = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator$AdaptiveByteBuf",
        Some(counted),
        &[("adjustment", T::Int), ("rootParent", T::Object), ("chunk", T::Object), ("length", T::Int)],
    );

    let decoder_class =
        b.define_class("io.netty.handler.codec.ByteToMessageDecoder", None, &[("cumulation", T::Object)]);
    let frame_decoder = b.define_class("com.example.FrameDecoder", Some(decoder_class), &[]);
    // A decoder's cumulation: 4 MiB received, waiting for the rest of a message.
    let received = direct_buffer(&mut b, &c, 4 * MIB, 0, 0);
    let cumulation = b.instance(
        no_cleaner,
        &[V::Long(0x7f80), V::Object(received), V::Int(4 * MIB as i32), V::Int(2), V::Int(0), V::Int(0)],
    );
    let decoder = b.instance(frame_decoder, &[V::Object(cumulation)]);

    let memory = direct_buffer(&mut b, &c, MIB, 0, 0);
    let delegate = b.instance(
        no_cleaner,
        &[V::Long(0x7f00), V::Object(memory), V::Int(MIB as i32), V::Int(2), V::Int(0), V::Int(0)],
    );
    let allocator = b.new_id();
    let chunk = b.new_id();
    let magazine = b.instance(magazine_class, &[V::Object(allocator), V::Object(chunk)]);
    b.body().instance(
        chunk,
        chunk_class.id,
        &[V::Object(delegate), V::Object(magazine), V::Int(MIB as i32), V::Boolean(true), V::Int(180_000), V::Int(2)],
    );
    let magazines = b.object_array("io.netty.buffer.AdaptivePoolingAllocator$Magazine", &[magazine]);
    b.body().instance(allocator, allocator_class.id, &[V::Object(magazines), V::Object(0)]);
    let buf = |b: &mut HeapBuilder, adjustment: i32, length: i32, ref_count: i32| {
        b.instance(
            adaptive_buf,
            &[
                V::Int(adjustment),
                V::Object(delegate),
                V::Object(chunk),
                V::Int(length),
                V::Int(ref_count),
                V::Int(0),
                V::Int(length),
            ],
        )
    };
    let a = buf(&mut b, 0, 100_000, 2);
    let second = buf(&mut b, 100_000, 50_000, 4);
    let released = buf(&mut b, 150_000, 30_000, 1);
    let pending = b.object_array("java.lang.Object", &[a, second]);
    let counter = b.instance(c.atomic_long, &[V::Long(5 * MIB)]);
    let platform = b.define_class_with_statics(
        "io.netty.util.internal.PlatformDependent",
        None,
        &[],
        &[
            ("DIRECT_MEMORY_COUNTER", V::Object(counter)),
            ("DIRECT_MEMORY_LIMIT", V::Long(64 * MIB)),
            ("USE_DIRECT_BUFFER_NO_CLEANER", V::Boolean(true)),
        ],
    );
    let app = b.define_class_with_statics(
        "com.example.Codec",
        None,
        &[],
        &[
            ("PENDING", V::Object(pending)),
            ("ALLOC", V::Object(allocator)),
            ("OLD", V::Object(released)),
            ("DECODER", V::Object(decoder)),
        ],
    );
    for class in [app, platform] {
        b.body().root_simple(STICKY_CLASS, class.id);
    }

    let dump = Dump::from_vec(b.finish_segments(1 << 12)).expect("a dump");
    let heap = Heap::build(&dump).expect("a heap");
    let report = analyze_heap(&heap, "synthetic", &Options::default(), &|_| {});

    assert_eq!(report.direct_buffers.no_cleaner, Tally { count: 2, bytes: 5 * MIB as u64 });
    let r = report.reconciliation.iter().find(|r| r.counter == CounterSource::Netty).unwrap();
    assert_eq!(r.difference, 0, "{:?}", r.explanation);
    let allocator = report.netty.iter().find(|a| a.adaptive.is_some()).expect("the adaptive allocator");
    assert!(allocator.path.contains("static com.example.Codec.ALLOC"));
    let pool = allocator.adaptive.as_ref().unwrap();
    assert_eq!((pool.chunks, pool.chunk_bytes, pool.allocated_bytes), (1, MIB as u64, 180_000));
    assert_eq!(pool.live_buffers, Tally { count: 2, bytes: 150_000 });

    let group = report.retainers.iter().find(|r| r.root == "static com.example.Codec.PENDING").unwrap();
    assert_eq!((group.buffers, group.bytes), (2, 150_000));
    let unused = report.retainers.iter().find(|r| r.kind == RetainerKind::Allocator).unwrap();
    assert_eq!(unused.bytes, MIB as u64 - 150_000);
    assert_eq!(report.retainers.iter().map(|r| r.bytes).sum::<u64>(), 5 * MIB as u64);

    let decoding = report.findings.iter().find(|f| f.kind == FindingKind::ReadBuffer).expect("the decoder");
    assert_eq!(decoding.bytes, 4 * MIB as u64);
    assert!(decoding.title.ends_with("in com.example.FrameDecoder"), "{}", decoding.title);
    let held = report.retainers.iter().find(|r| r.holder.as_ref().is_some_and(|h| h.role == HolderRole::ReadBuffer));
    assert_eq!(held.map(|r| r.bytes), Some(4 * MIB as u64), "the decoder holds its cumulation");
}

/// Lettuce 4.x keeps everything in its command handler (`com.lambdaworks.redis.protocol`):
/// `stack`, `buffer`, `disconnectedBuffer`, `commandBuffer`, `channel`. A handler without a
/// channel, with commands in flight (an `ArrayDeque` ring that wraps) and queued (linked nodes).
#[test]
fn lettuce_4_handler_is_its_own_endpoint() {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let string = b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
    let enumeration = b.define_class("java.lang.Enum", Some(object), &[("name", T::Object), ("ordinal", T::Int)]);
    let command_type = b.define_class("com.lambdaworks.redis.protocol.CommandType", Some(enumeration), &[]);
    let deque = b.define_class(
        "java.util.ArrayDeque",
        Some(object),
        &[("elements", T::Object), ("head", T::Int), ("tail", T::Int)],
    );
    let linked = b.define_class("java.util.concurrent.ConcurrentLinkedDeque", Some(object), &[("head", T::Object)]);
    let node = b.define_class(
        "java.util.concurrent.ConcurrentLinkedDeque$Node",
        Some(object),
        &[("item", T::Object), ("next", T::Object)],
    );
    let args = b.define_class(
        "com.lambdaworks.redis.protocol.CommandArgs",
        Some(object),
        &[("singularArguments", T::Object), ("codec", T::Object)],
    );
    let command = b.define_class(
        "com.lambdaworks.redis.protocol.Command",
        Some(object),
        &[("type", T::Object), ("args", T::Object)],
    );
    let wrapper =
        b.define_class("com.lambdaworks.redis.protocol.AsyncCommand", Some(object), &[("command", T::Object)]);
    let handler = b.define_class(
        "com.lambdaworks.redis.protocol.CommandHandler",
        Some(object),
        &[
            ("stack", T::Object),
            ("buffer", T::Object),
            ("disconnectedBuffer", T::Object),
            ("commandBuffer", T::Object),
            ("channel", T::Object),
            ("queueSize", T::Int),
        ],
    );
    let kind = |b: &mut HeapBuilder, name: &str, ordinal: i32| {
        let text = b.byte_array(name.as_bytes());
        let s = b.instance(string, &[V::Object(text), V::Byte(0)]);
        b.instance(command_type, &[V::Object(s), V::Int(ordinal)])
    };
    let (get, set) = (kind(&mut b, "GET", 0), kind(&mut b, "SET", 1));
    let codec = b.instance(object, &[]);
    let cmd = |b: &mut HeapBuilder, kind: u64, value: usize| {
        let bytes = b.byte_array(&vec![b'v'; value]);
        let list = b.object_array("java.lang.Object", &[bytes]);
        let a = b.instance(args, &[V::Object(list), V::Object(codec)]);
        let c = b.instance(command, &[V::Object(kind), V::Object(a)]);
        b.instance(wrapper, &[V::Object(c)])
    };
    // In flight, oldest first: the ring starts at slot 2 and wraps to slots 0 and 1.
    let in_flight = [cmd(&mut b, get, 10), cmd(&mut b, set, 10), cmd(&mut b, get, 10)];
    let ring = b.object_array("java.lang.Object", &[in_flight[1], in_flight[2], in_flight[0], 0]);
    let stack = b.instance(deque, &[V::Object(ring), V::Int(2), V::Int(2)]);
    let queued: Vec<u64> = (0..150).map(|i| cmd(&mut b, if i % 3 == 0 { get } else { set }, 10_000)).collect();
    let mut next = 0;
    for &c in queued.iter().rev() {
        next = b.instance(node, &[V::Object(c), V::Object(next)]);
    }
    let disconnected = b.instance(linked, &[V::Object(next)]);
    let empty = b.instance(linked, &[V::Object(0)]);
    let h = b.instance(
        handler,
        &[V::Object(stack), V::Object(0), V::Object(disconnected), V::Object(empty), V::Object(0), V::Int(150)],
    );
    let app = b.define_class_with_statics("com.example.Redis", None, &[], &[("HANDLER", V::Object(h))]);
    b.body().root_simple(STICKY_CLASS, app.id);

    let dump = Dump::from_vec(b.finish_segments(1 << 12)).expect("a dump");
    let heap = Heap::build(&dump).expect("a heap");
    let report = analyze_heap(&heap, "synthetic", &Options::default(), &|_| {});
    let [Client::Lettuce { connections }] = &report.clients[..] else { panic!("{:?}", report.clients) };
    let [c] = &connections[..] else { panic!("{connections:?}") };
    assert_eq!(c.state, ConnectionState::Disconnected);
    assert_eq!(c.endpoint, c.handler, "the handler is its own endpoint");
    assert_eq!((c.in_flight.count, c.in_flight.oldest.as_deref()), (3, Some("GET")));
    assert_eq!(c.in_flight.commands.get("GET"), Some(&2));
    assert_eq!(
        (c.queued.count, c.queued.commands.get("SET"), c.queued.commands.get("GET")),
        (150, Some(&100), Some(&50))
    );
    assert!(c.queued.heap_bytes >= 150 * 10_000, "each value once: {}", c.queued.heap_bytes);
    assert!(c.queued.heap_bytes < 150 * 10_000 + 150 * 200, "the shared codec is not theirs: {}", c.queued.heap_bytes);
    assert!(report.findings.iter().any(|f| f.kind == FindingKind::QueuedWhileDisconnected));
}
