//! The off-heap report on real dumps (see `fixtures/`): what it says must be what the JVM and
//! Netty themselves reported at dump time, read from each fixture's `.expected.json`.

use std::path::{Path, PathBuf};

use dumpscan::offheap::RetainerKind;
use dumpscan::{analyze, Options, Report};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.expected.json"))).unwrap()).unwrap()
}

fn report(name: &str, options: &Options) -> Report {
    analyze(fixture(&format!("{name}.hprof.gz")), options).expect("analyzes")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Retainers whose path passes through `step`.
fn retained_through(report: &Report, step: &str) -> (u64, u64) {
    report
        .retainers
        .iter()
        .filter(|r| r.root.contains(step) || r.path.iter().any(|s| s.contains(step)))
        .fold((0, 0), |(n, b), r| (n + r.buffers, b + r.bytes))
}

/// Every native byte is attributed exactly once: the groups add up to the total, and the
/// total is what the buffer classes that own memory add up to.
fn assert_attribution_is_complete(report: &Report) {
    let sum: u64 = report.retainers.iter().map(|r| r.bytes).sum();
    assert_eq!(sum, report.native_bytes, "retainers sum to the native bytes");
    let d = &report.direct_buffers;
    assert_eq!(report.native_bytes, d.owned.bytes + d.no_cleaner.bytes + d.unreachable.bytes);
    let sorted = report.retainers.windows(2).all(|w| w[0].bytes >= w[1].bytes);
    assert!(sorted, "retainers sorted by bytes");
}

/// JDK 17 keeps an 8 KiB temporary direct buffer per thread that did channel I/O
/// (`sun.nio.ch.Util$BufferCache`), JDK 25 one without a cleaner (`terminatingThreadLocals`);
/// the fixture's own file writes after its figures were taken allocate one.
fn is_temporary_buffer_cache(step: &str) -> bool {
    step.contains("Util$BufferCache") || step.contains("terminatingThreadLocals")
}

fn check_direct_buffers(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options::default());
    assert_attribution_is_complete(&report);
    assert!(!report.dump.truncated);

    // The JDK's counter in the dump matches the buffers found in it, exactly.
    let jdk = report.reconciliation.iter().find(|r| r.counter == "jdk").expect("a JDK counter");
    assert_eq!(jdk.difference, 0, "{name}: {:?}", jdk.explanation);
    assert_eq!(jdk.counter_count, Some(jdk.found_count as i64));

    // ... and what BufferPoolMXBean reported before the dump, once the I/O buffer is set apart.
    let counted: u64 =
        report.retainers.iter().filter(|r| !r.path.iter().any(|s| is_temporary_buffer_cache(s))).map(|r| r.bytes).sum();
    assert_eq!(counted, u(&jvm["direct"]["total_capacity"]), "{name}: BufferPoolMXBean direct capacity");

    // Known owners.
    let cache = report.retainers.iter().find(|r| r.root == "static DirectBuffers.CACHE").expect("the static list");
    assert_eq!((cache.buffers, cache.bytes), (2, (1 << 20) + (3 << 20)));
    assert_eq!(cache.owner.as_deref(), Some("DirectBuffers"));
    assert_eq!(cache.path, ["java.util.ArrayList[*]", "java.nio.DirectByteBuffer"]);
    let local = report
        .retainers
        .iter()
        .find(|r| r.root.starts_with("local in thread \"holder-thread\" at DirectBuffers.lambda$main$0"))
        .expect("the thread's local");
    assert_eq!((local.buffers, local.bytes), (1, 2 << 20));

    // Dropped buffers wait for a GC: all five, in one group.
    let dropped: Vec<u64> = jvm["dropped_capacities"].as_array().unwrap().iter().map(u).collect();
    assert_eq!(report.direct_buffers.unreachable.count, dropped.len() as u64);
    assert_eq!(report.direct_buffers.unreachable.bytes, dropped.iter().sum::<u64>());
    let waiting = report.retainers.iter().filter(|r| r.kind == RetainerKind::AwaitingGc).collect::<Vec<_>>();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].bytes, dropped.iter().sum::<u64>());

    // The mapped file is mapped, not direct memory; the JDK's runtime image is not counted.
    let mapped = report.largest.iter().find(|b| b.kind == "mapped").expect("the mapped file");
    assert_eq!(mapped.bytes, u(&jvm["mapped_capacity"]));
    assert_eq!(u(&jvm["mapped"]["total_capacity"]), mapped.bytes);
    assert!(report.direct_buffers.views.count >= u(&jvm["view_count"]));
    assert!(report.native_bytes < 16 << 20, "the runtime image mapping is not direct memory");

    // Native dominators: the class holding the static list retains both of its buffers.
    let top = &report.dominators[0];
    assert_eq!((top.class.as_str(), top.retained_native_bytes), ("class DirectBuffers", 4 << 20));

    // Nothing from the dump's data: the mapped file's name is a string in the heap.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("dumpscan-fixture"), "no string contents in the report");
    assert!(report.findings.iter().any(|f| f.title.contains("garbage waiting for a GC")));
}

#[test]
fn direct_buffers_jdk17() {
    check_direct_buffers("direct-buffers-jdk17");
}

#[test]
fn direct_buffers_jdk25() {
    check_direct_buffers("direct-buffers-jdk25");
}

fn check_netty_pooled(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);

    let netty = report.counters.netty.as_ref().expect("Netty's counters");
    let no_cleaner = jvm["netty"]["no_cleaner"].as_bool().unwrap();
    assert_eq!(netty.no_cleaner, Some(no_cleaner));
    assert_eq!(netty.max, jvm["netty"]["max_direct_memory"].as_i64());
    if no_cleaner {
        assert_eq!(netty.used, jvm["netty"]["used_direct_memory"].as_i64());
        let r = report.reconciliation.iter().find(|r| r.counter == "netty").expect("reconciled");
        assert_eq!(r.difference, 0, "{:?}", r.explanation);
    } else {
        assert_eq!(netty.used, None, "the counter is off in cleaner mode");
    }

    let allocator = report.netty.iter().find(|a| a.path.contains("NettyPooled.ALLOCATOR")).expect("the allocator");
    assert_eq!(allocator.chunk_size, jvm["allocator"]["chunk_size"].as_i64());
    for want in jvm["arenas"].as_array().unwrap() {
        let kind = want["kind"].as_str().unwrap();
        let arena = allocator.arenas.iter().find(|a| a.kind == kind).expect("arena");
        assert_eq!(arena.chunks, want["chunks"].as_array().unwrap().len() as u64, "{kind} chunks");
        assert_eq!(arena.chunk_bytes, u(&want["chunk_bytes"]), "{kind} chunk bytes");
        assert_eq!(arena.free_bytes, u(&want["free_bytes"]), "{kind} free");
        assert_eq!(arena.used_bytes, u(&want["used_bytes"]), "{kind} used");
        assert_eq!(arena.thread_caches, u(&want["thread_caches"]), "{kind} thread caches");
        assert_eq!(arena.huge_count, u(&want["active_huge_allocations"]), "{kind} huge");
        // Netty's active allocations: live buffers and those parked in thread caches.
        assert_eq!(arena.live_buffers.count + arena.cached_buffers, u(&want["active_allocations"]), "{kind} active");
    }
    let direct = allocator.arenas.iter().find(|a| a.kind == "direct").unwrap();
    assert_eq!(direct.huge_bytes, u(&jvm["huge_capacity"]));
    assert_eq!(direct.live_buffers.count, jvm["live_direct_capacities"].as_array().unwrap().len() as u64);
    // The seven the program released, and the 500-byte one it released last (512 in the pool).
    let cached: u64 = jvm["cached_capacities"].as_array().unwrap().iter().map(u).sum();
    assert_eq!(direct.cached_bytes, cached + 512);
    let cache = &allocator.thread_caches[0];
    assert_eq!((cache.thread.as_deref(), cache.thread_alive), (Some("main"), true));

    // Netty recycles buffer objects: the program's RELEASED is one of the seven objects it
    // released before, all still in its local `released` list.
    assert!(allocator.released_still_referenced.count >= u(&jvm["released_still_referenced"]));

    // The huge buffer is the largest, held by the program's list.
    let big = &report.largest[0];
    assert_eq!((big.kind, big.bytes), ("netty_huge", u(&jvm["huge_capacity"])));
    // The allocator keeps the free bytes of its chunk.
    let free = report.retainers.iter().find(|r| r.path.last().is_some_and(|s| s == "free in pooled chunks")).unwrap();
    assert_eq!(free.bytes, direct.free_bytes);
}

#[test]
fn netty_pooled_jdk17() {
    check_netty_pooled("netty-pooled-jdk17");
}

#[test]
fn netty_pooled_noclean_jdk17() {
    check_netty_pooled("netty-pooled-noclean-jdk17");
}

#[test]
fn netty_pooled_jdk25() {
    check_netty_pooled("netty-pooled-jdk25");
}

#[test]
fn netty_pooled_noclean_jdk25() {
    check_netty_pooled("netty-pooled-noclean-jdk25");
}

fn check_outbound_pileup(name: &str) {
    let jvm = expected(name);
    let error = jvm["error"].as_str().unwrap().to_string();
    let report = report(name, &Options { error: Some(error), dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);

    // The channel's pending bytes, to the byte, and every pending buffer in one retainer.
    let pending = u(&jvm["outbound_buffer"]["total_pending_write_bytes"]);
    let pileup = report.findings.iter().find(|f| f.title.starts_with("Writes piling up")).expect("the pile-up");
    assert_eq!(pileup.bytes, pending);
    assert!(pileup.detail.contains(&format!("{} messages", jvm["outbound_buffer"]["entries"])));
    assert!(pileup.detail.contains(&format!(":{}", jvm["channel"]["peer_port"])), "{}", pileup.detail);
    assert!(pileup.evidence[0].ends_with(&format!("totalPendingSize = {pending}")));
    let (buffers, bytes) = retained_through(&report, "io.netty.channel.ChannelOutboundBuffer[*]");
    assert_eq!(buffers, u(&jvm["outbound_buffer"]["entries"]));
    assert_eq!(bytes, u(&jvm["outbound_buffer"]["readable_bytes"]));
    assert_eq!(report.findings[0].title, pileup.title, "the pile-up comes first");

    let arena = &report.netty[0].arenas[0];
    let want = &jvm["arenas"][0];
    assert_eq!(
        (arena.chunks, arena.chunk_bytes, arena.free_bytes),
        (4, u(&want["chunk_bytes"]), u(&want["free_bytes"]))
    );
    assert_eq!(arena.live_buffers.count + arena.cached_buffers, u(&want["active_allocations"]));

    // The pasted error, decoded against the counter that refused the allocation.
    let decoded = report.error.as_ref().expect("the error message decoded");
    assert_eq!(decoded.requested, 16 << 20);
    let limit = if jvm["netty"]["no_cleaner"].as_bool().unwrap() {
        assert_eq!(decoded.source, "netty");
        report.counters.netty.as_ref().unwrap().max
    } else {
        assert_eq!(decoded.source, "jdk");
        report.counters.jdk.as_ref().unwrap().max
    };
    assert_eq!(decoded.max, limit.map(|m| m as u64));
}

#[test]
fn outbound_pileup_jdk17() {
    check_outbound_pileup("outbound-pileup-jdk17");
}

#[test]
fn outbound_pileup_jdk25() {
    check_outbound_pileup("outbound-pileup-jdk25");
}

/// Old JVMs' dumps (format 1.0.1, 4- and 8-byte ids): the heap model numbers every object the
/// histogram counts, and the report runs to the end.
#[test]
fn third_party_dumps_build_a_heap_and_a_report() {
    use dumpscan::hprof::{Dump, Metadata, Summary};
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/thirdparty");
    for file in ["hprof-32.bin", "hprof-64.bin"] {
        let path = shared.join(file);
        if !path.exists() {
            eprintln!("skipping {file}: ../shared/thirdparty is not beside this checkout");
            continue;
        }
        let dump = Dump::open(&path).unwrap();
        let summary = Summary::compute(&Metadata::read(&dump).unwrap(), None).unwrap();
        let counted: u64 = summary.histogram().iter().map(|r| r.instances).sum();
        let heap = dumpscan::heap::Heap::build(&dump).unwrap();
        assert_eq!(heap.len() as u64, counted, "{file}");
        for i in (0..heap.len() as u32).step_by(97) {
            assert_eq!(heap.index_of(heap.id(i)), Some(i), "{file}");
        }
        let report = dumpscan::offheap::analyze_heap(&heap, file, &Options::default(), &|_| {});
        assert_attribution_is_complete(&report);
        assert!(report.counters.jdk.is_some(), "{file}: java.nio.Bits");
    }
}
