//! Sample dumps for the tests and the fuzz seeds: each an input that once went wrong (a list
//! too long to print whole, names that drive a terminal, a class hierarchy in a cycle,
//! counters at the ends of their types).

use crate::{BasicType as T, ClassDump, ClassRef, HeapBuilder, Value as V};

/// A linked list of `nodes` nodes under one static field.
pub fn linked_list(nodes: usize) -> Vec<u8> {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let node = b.define_class("com.example.Node", Some(object), &[("next", T::Object)]);
    let mut next = 0;
    for _ in 0..nodes {
        next = b.instance(node, &[V::Object(next)]);
    }
    let holder = b.define_class_with_statics("com.example.Holder", Some(object), &[], &[("HEAD", V::Object(next))]);
    b.body().root_simple(0x05, holder.id);
    b.finish_segments(1 << 20)
}

/// Names a hostile dump gives its class, field, thread and frame: each would retitle,
/// recolour or reorder the reader's terminal if printed raw.
pub const EVIL_CLASS: &str = "com.evil.Title\u{1b}]0;pwned\u{7}Red\u{1b}[31m\u{9b}2J\u{202e}dlrow";
/// The hostile dump's field name.
pub const EVIL_FIELD: &str = "field\u{1b}[2J\u{7f}";
/// The hostile dump's thread name.
pub const EVIL_THREAD: &str = "thread\u{1b}]0;owned\u{7}\r\u{85}\u{2066}";

/// A dump whose class, field, thread and frame names hold the characters above, and the id
/// of an instance of the hostile class.
pub fn hostile_names() -> (Vec<u8>, u64) {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let string = b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
    let thread = b.define_class("java.lang.Thread", Some(object), &[("name", T::Object), ("tid", T::Long)]);
    let evil = b.define_class(EVIL_CLASS, Some(object), &[(EVIL_FIELD, T::Object), ("n", T::Int)]);
    let chars = b.byte_array(EVIL_THREAD.as_bytes());
    // coder 0 is Latin-1: the thread name's bytes as the JDK would keep them.
    let name = b.instance(string, &[V::Object(chars), V::Byte(0)]);
    let t = b.instance(thread, &[V::Object(name), V::Long(1)]);
    let inner = b.instance(evil, &[V::Object(0), V::Int(1)]);
    let outer = b.instance(evil, &[V::Object(inner), V::Int(2)]);
    let method = b.name("run\u{1b}[0m");
    let file = b.name("Evil\u{1b}.java");
    let w = b.writer();
    w.stack_frame(0x77, method, 0, file, evil.serial, 42);
    w.stack_trace(1, 1, &[0x77]);
    w.start_thread(1, t, 1, 0, 0, 0);
    b.body().root_thread_object(t, 1, 1).root_java_frame(outer, 1, 0);
    (b.finish_segments(1 << 16), outer)
}

/// A dump whose super classes run in a cycle through `java.lang.Object`:
/// `java.lang.Object` -> `com.example.A` -> `com.example.B` -> `java.lang.Object`, with
/// 1,000 instances of A in a list.
pub fn class_cycle() -> Vec<u8> {
    let mut b = HeapBuilder::new();
    let object_id = b.new_id();
    let placeholder = ClassRef { id: object_id, serial: 0 };
    let class_b = b.define_class("com.example.B", Some(placeholder), &[("b", T::Int)]);
    let class_a = b.define_class("com.example.A", Some(class_b), &[("a", T::Object)]);
    let name = b.name("java/lang/Object");
    b.writer().load_class(1000, object_id, 0, name);
    b.body().class_dump(&ClassDump { id: object_id, super_id: class_a.id, ..ClassDump::default() });
    let mut next = 0;
    for _ in 0..1000 {
        next = b.instance(class_a, &[V::Object(next), V::Int(7)]);
    }
    b.body().root_simple(0xFF, next);
    b.finish_segments(1 << 16)
}

/// A dump whose counters and sizes are at the ends of their types: `i64::MAX` and
/// `i64::MIN` counters and limits, buffer capacities declared `long` and set to `i64::MAX`,
/// negative indices. Every sum and difference over them must saturate, not wrap or panic.
pub fn absurd_counters() -> Vec<u8> {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let atomic = b.define_class("java.util.concurrent.atomic.AtomicLong", Some(object), &[("value", T::Long)]);
    let counter = |b: &mut HeapBuilder, value: i64| b.instance(atomic, &[V::Long(value)]);
    let (reserved, total, count, used) =
        (counter(&mut b, i64::MAX), counter(&mut b, i64::MIN), counter(&mut b, -3), counter(&mut b, i64::MAX));
    let direct = direct_byte_buffer(&mut b, object);
    let reference = b.define_class("java.lang.ref.Reference", Some(object), &[("referent", T::Object)]);
    let phantom = b.define_class("java.lang.ref.PhantomReference", Some(reference), &[]);
    let cleaner = b.define_class("jdk.internal.ref.Cleaner", Some(phantom), &[("thunk", T::Object)]);
    let deallocator = b.define_class(
        "java.nio.DirectByteBuffer$Deallocator",
        Some(object),
        &[("address", T::Long), ("size", T::Long), ("capacity", T::Long)],
    );
    let mut buffers = Vec::new();
    for (capacity, address) in [(i64::MAX, -1), (i64::MAX, i64::MAX), (i64::MAX, 1), (i64::MIN, 0), (-1, 8)] {
        let thunk = b.instance(deallocator, &[V::Long(address), V::Long(capacity), V::Long(capacity)]);
        let buf = b.instance(
            direct,
            &[
                V::Object(0),
                V::Object(0),
                V::Object(0),
                V::Object(0),
                V::Int(i32::MIN),
                V::Int(-1),
                V::Int(i32::MAX),
                V::Int(i32::MIN),
                V::Long(capacity),
                V::Long(address),
            ],
        );
        let clean = b.instance(cleaner, &[V::Object(thunk), V::Object(buf)]);
        buffers.push(clean);
        buffers.push(buf);
    }
    let held = b.object_array("java.lang.Object", &buffers);
    b.define_class_with_statics(
        "java.nio.Bits",
        Some(object),
        &[],
        &[
            ("RESERVED_MEMORY", V::Object(reserved)),
            ("TOTAL_CAPACITY", V::Object(total)),
            ("COUNT", V::Object(count)),
            ("MAX_MEMORY", V::Long(i64::MAX)),
        ],
    );
    b.define_class_with_statics("jdk.internal.misc.VM", Some(object), &[], &[("directMemory", V::Long(i64::MIN))]);
    b.define_class_with_statics(
        "io.netty.util.internal.PlatformDependent",
        Some(object),
        &[],
        &[("DIRECT_MEMORY_COUNTER", V::Object(used)), ("DIRECT_MEMORY_LIMIT", V::Long(i64::MIN))],
    );
    b.body().root_simple(0xFF, held);
    b.finish_segments(1 << 16)
}

/// A dump whose Netty pools hold absurd numbers: chunk, page and cache sizes, free and pinned
/// bytes, huge-allocation counters, `maxOrder` and `pageShifts` at the ends of `long`, a
/// thread cache of the 4.1.51-and-earlier layout (sizes from `pageSize` shifted by the index),
/// an adaptive chunk and buffers past any capacity, a channel's pending bytes at `i64::MAX`.
/// The report over it must end as a report, in debug builds as in release ones.
pub fn absurd_netty_pool() -> Vec<u8> {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let direct = direct_byte_buffer(&mut b, object);
    let memory = |b: &mut HeapBuilder, capacity: i64| {
        let fields = [V::Object(0), V::Object(0), V::Object(0), V::Object(0), V::Int(0), V::Int(0)];
        let mut values = fields.to_vec();
        values.extend([V::Int(i32::MAX), V::Int(-1), V::Long(capacity), V::Long(capacity)]);
        b.instance(direct, &values)
    };
    let long_fields =
        |names: &[&'static str]| -> Vec<(&'static str, T)> { names.iter().map(|&n| (n, T::Long)).collect() };
    let object_fields =
        |names: &[&'static str]| -> Vec<(&'static str, T)> { names.iter().map(|&n| (n, T::Object)).collect() };
    let mut arena_fields = object_fields(&["qInit", "q000", "q025", "q050", "q075", "q100"]);
    arena_fields.extend(long_fields(&[
        "numThreadCaches",
        "allocationsHuge",
        "deallocationsHuge",
        "activeBytesHuge",
        "pageSize",
        "pageShifts",
        "maxOrder",
        "chunkSize",
    ]));
    let arena_class = b.define_class("io.netty.buffer.PoolArena", Some(object), &arena_fields);
    let direct_arena = b.define_class("io.netty.buffer.PoolArena$DirectArena", Some(arena_class), &[]);
    let list_class = b.define_class(
        "io.netty.buffer.PoolChunkList",
        Some(object),
        &[("head", T::Object), ("minUsage", T::Long), ("maxUsage", T::Long)],
    );
    let mut chunk_fields = object_fields(&["arena", "memory", "next"]);
    chunk_fields.push(("unpooled", T::Boolean));
    chunk_fields.extend(long_fields(&["chunkSize", "freeBytes", "pinnedBytes", "usage", "maxOrder", "pageShifts"]));
    let chunk_class = b.define_class("io.netty.buffer.PoolChunk", Some(object), &chunk_fields);
    let buf_class = b.define_class(
        "io.netty.buffer.PooledByteBuf",
        Some(object),
        &[
            ("chunk", T::Object),
            ("allocator", T::Object),
            ("maxLength", T::Long),
            ("length", T::Long),
            ("refCnt", T::Long),
            ("readerIndex", T::Long),
            ("writerIndex", T::Long),
        ],
    );
    let direct_buf = b.define_class("io.netty.buffer.PooledUnsafeDirectByteBuf", Some(buf_class), &[]);
    let allocator_class = b.define_class(
        "io.netty.buffer.PooledByteBufAllocator",
        Some(object),
        &[
            ("directArenas", T::Object),
            ("heapArenas", T::Object),
            ("chunkSize", T::Long),
            ("smallCacheSize", T::Long),
            ("normalCacheSize", T::Long),
        ],
    );
    let cache_class = b.define_class(
        "io.netty.buffer.PoolThreadCache",
        Some(object),
        &object_fields(&[
            "directArena",
            "heapArena",
            "tinySubPageDirectCaches",
            "smallSubPageDirectCaches",
            "normalDirectCaches",
        ]),
    );
    let region_class = b.define_class(
        "io.netty.buffer.PoolThreadCache$MemoryRegionCache",
        Some(object),
        &[("queue", T::Object), ("size", T::Long)],
    );
    let queue_class = b.define_class("java.util.ArrayDeque", Some(object), &[("elements", T::Object)]);
    let entry_class = b.define_class(
        "io.netty.buffer.PoolThreadCache$MemoryRegionCache$Entry",
        Some(object),
        &[("chunk", T::Object), ("handle", T::Long)],
    );

    let arena = b.new_id();
    let extremes = [i64::MAX, i64::MIN, -1, i64::MAX];
    let mut chunks = Vec::new();
    let mut next = 0;
    for (i, &size) in extremes.iter().enumerate() {
        let bytes = memory(&mut b, size);
        let mut values = vec![V::Object(arena), V::Object(bytes), V::Object(next), V::Boolean(i == 3)];
        values.extend([size, -size.saturating_add(1), i64::MAX, i64::MIN, i64::MAX, i64::MIN].map(V::Long));
        next = b.instance(chunk_class, &values);
        chunks.push(next);
    }
    let huge = chunks[3];
    let lists: Vec<u64> = (0..6)
        .map(|i| {
            b.instance(
                list_class,
                &[V::Object(if i == 2 { chunks[2] } else { 0 }), V::Long(i64::MIN), V::Long(i64::MAX)],
            )
        })
        .collect();
    let mut values: Vec<V> = lists.iter().map(|&l| V::Object(l)).collect();
    values.extend([i64::MAX, i64::MAX, i64::MIN, i64::MAX, i64::MAX, i64::MAX, i64::MAX, i64::MAX].map(V::Long));
    b.body().instance(arena, direct_arena.id, &values);
    let arenas = b.object_array("io.netty.buffer.PoolArena", &[arena]);
    let allocator = b.instance(
        allocator_class,
        &[V::Object(arenas), V::Object(0), V::Long(i64::MAX), V::Long(i64::MIN), V::Long(i64::MAX)],
    );
    let mut held = Vec::new();
    for (chunk, max_length) in [(chunks[0], i64::MAX), (chunks[1], i64::MAX), (huge, i64::MAX), (chunks[0], i64::MIN)] {
        let values = [V::Object(chunk), V::Object(allocator)]
            .into_iter()
            .chain([max_length, max_length, 2, i64::MAX, i64::MIN].map(V::Long));
        held.push(b.instance(direct_buf, &values.collect::<Vec<_>>()));
    }
    // Released (odd count) and still held by the application.
    let released = [V::Object(chunks[0]), V::Object(allocator)]
        .into_iter()
        .chain([i64::MAX, i64::MAX, i64::MAX, 0, 0].map(V::Long))
        .collect::<Vec<_>>();
    held.push(b.instance(direct_buf, &released));
    let entries: Vec<u64> =
        chunks.iter().map(|&c| b.instance(entry_class, &[V::Object(c), V::Long(i64::MAX)])).collect();
    let slots = b.object_array("java.lang.Object", &entries);
    let queue = b.instance(queue_class, &[V::Object(slots)]);
    let regions: Vec<u64> = (0..48).map(|_| b.instance(region_class, &[V::Object(queue), V::Long(i64::MAX)])).collect();
    let caches = b.object_array("io.netty.buffer.PoolThreadCache$MemoryRegionCache", &regions);
    let cache = b.instance(
        cache_class,
        &[V::Object(arena), V::Object(arena), V::Object(caches), V::Object(caches), V::Object(caches)],
    );
    held.push(cache);

    // Netty 4.2's adaptive allocator: a chunk and buffers whose sizes are past any capacity.
    let adaptive_class = b.define_class("io.netty.buffer.AdaptivePoolingAllocator", Some(object), &[]);
    let magazine_class =
        b.define_class("io.netty.buffer.AdaptivePoolingAllocator$Magazine", Some(object), &[("parent", T::Object)]);
    let delegate_class = b.define_class(
        "io.netty.buffer.UnpooledUnsafeNoCleanerDirectByteBuf",
        Some(object),
        &[("buffer", T::Object), ("capacity", T::Long)],
    );
    let adaptive_chunk_class = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator$Chunk",
        Some(object),
        &[("delegate", T::Object), ("magazine", T::Object), ("capacity", T::Long), ("allocatedBytes", T::Long)],
    );
    let adaptive_buf_class = b.define_class(
        "io.netty.buffer.AdaptivePoolingAllocator$AdaptiveByteBuf",
        Some(object),
        &[("chunk", T::Object), ("length", T::Long), ("refCnt", T::Long)],
    );
    let adaptive = b.instance(adaptive_class, &[]);
    let magazine = b.instance(magazine_class, &[V::Object(adaptive)]);
    let backing = memory(&mut b, i64::MAX);
    let delegate = b.instance(delegate_class, &[V::Object(backing), V::Long(i64::MIN)]);
    for capacity in [i64::MAX, i64::MIN] {
        let chunk = b.instance(
            adaptive_chunk_class,
            &[V::Object(delegate), V::Object(magazine), V::Long(capacity), V::Long(i64::MAX)],
        );
        for length in [i64::MAX, i64::MAX, i64::MIN] {
            held.push(b.instance(adaptive_buf_class, &[V::Object(chunk), V::Long(length), V::Long(2)]));
        }
    }
    held.push(adaptive);

    // A channel whose writes add up past any count.
    let outbound_class = b.define_class(
        "io.netty.channel.ChannelOutboundBuffer",
        Some(object),
        &[("totalPendingSize", T::Long), ("unwritable", T::Long), ("flushed", T::Long)],
    );
    held.push(b.instance(outbound_class, &[V::Long(i64::MAX), V::Long(i64::MIN), V::Long(i64::MAX)]));

    let holder = b.object_array("java.lang.Object", &held);
    let platform = b.define_class_with_statics(
        "io.netty.util.internal.PlatformDependent",
        Some(object),
        &[],
        &[("DIRECT_MEMORY_LIMIT", V::Long(i64::MAX))],
    );
    let app = b.define_class_with_statics(
        "com.example.Pools",
        Some(object),
        &[],
        &[("ALLOCATOR", V::Object(allocator)), ("HELD", V::Object(holder))],
    );
    for class in [app, platform] {
        b.body().root_simple(0x05, class.id);
    }
    b.finish_segments(1 << 16)
}

/// `java.nio.DirectByteBuffer` and its super classes, as the samples above lay them out.
fn direct_byte_buffer(b: &mut HeapBuilder, object: ClassRef) -> ClassRef {
    let buffer = b.define_class(
        "java.nio.Buffer",
        Some(object),
        &[("mark", T::Int), ("position", T::Int), ("limit", T::Int), ("capacity", T::Long), ("address", T::Long)],
    );
    let byte_buffer = b.define_class("java.nio.ByteBuffer", Some(buffer), &[("hb", T::Object), ("offset", T::Int)]);
    let mapped = b.define_class("java.nio.MappedByteBuffer", Some(byte_buffer), &[("fd", T::Object)]);
    b.define_class("java.nio.DirectByteBuffer", Some(mapped), &[("cleaner", T::Object), ("att", T::Object)])
}
