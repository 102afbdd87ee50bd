//! The off-heap report on real dumps (see `fixtures/`): what it says must be what the JVM and
//! Netty themselves reported at dump time, read from each fixture's `.expected.json`.

use std::path::Path;

use dumpscan::heap::Heap;
use dumpscan::hprof::{Dump, Value as Field};
use dumpscan::offheap::native::{NativeInputs, Nmt, ProcMemory};
use dumpscan::offheap::{
    AllocationPurpose, ArenaKind, Client, ConnectionState, CounterSource, FindingKind, HolderRole, LargeBufferKind,
    Library, NativeCheckKind, OwnerLink, PartKind, RequestShape, RetainerKind, Role, Tally,
};
use dumpscan::{analyze, Options, Report};
use serde_json::Value;

use super::run::fixture_path as fixture;

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.expected.json"))).unwrap()).unwrap()
}

fn report(name: &str, options: &Options) -> Report {
    analyze(fixture(&format!("{name}.hprof.gz")), options).expect("analyzes")
}

/// A Netty socket channel as the dump has it, read field by field apart from the report.
#[derive(Debug)]
struct SocketChannel {
    local_port: i64,
    remote_port: i64,
    /// Its outbound buffer's `totalPendingSize`.
    pending: i64,
}

/// Every open `NioSocketChannel` in a fixture (a closed one has no outbound buffer).
fn socket_channels(name: &str) -> Vec<SocketChannel> {
    let dump = Dump::open(fixture(&format!("{name}.hprof.gz"))).unwrap();
    let heap = Heap::build(&dump).unwrap();
    let long = |value: Option<Field>| match value {
        Some(Field::Int(v)) => i64::from(v),
        Some(Field::Long(v)) => v,
        other => panic!("{name}: not a number: {other:?}"),
    };
    let port = |socket, field| {
        let address = heap.field_object(socket, field).expect("an address");
        long(heap.field(heap.field_object(address, "holder").unwrap(), "port"))
    };
    heap.instances_of("io.netty.channel.socket.nio.NioSocketChannel")
        .into_iter()
        .filter_map(|channel| {
            let outbound = heap.field_object(heap.field_object(channel, "unsafe")?, "outboundBuffer")?;
            let socket = heap.field_object(channel, "ch").expect("a JDK socket channel");
            Some(SocketChannel {
                local_port: port(socket, "localAddress"),
                remote_port: port(socket, "remoteAddress"),
                pending: long(heap.field(outbound, "totalPendingSize")),
            })
        })
        .collect()
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
    assert_eq!(report.native_bytes, d.owned.bytes + d.no_cleaner.bytes + d.temporary_cache.bytes + d.unreachable.bytes);
    let sorted = report.retainers.windows(2).all(|w| w[0].bytes >= w[1].bytes);
    assert!(sorted, "retainers sorted by bytes");
    // Never more than the counters reserve plus the memory they cannot see.
    let reserved = report.counters.jdk.as_ref().and_then(|j| j.reserved).unwrap_or(0).max(0) as u64;
    assert!(
        report.native_bytes <= reserved + d.no_cleaner.bytes + d.temporary_cache.bytes,
        "{} found, {reserved} reserved",
        report.native_bytes
    );
    // Causes before symptoms; a symptom that points at a finding points at a cause.
    let roles: Vec<Role> = report.findings.iter().map(|f| f.role).collect();
    assert!(roles.windows(2).all(|w| w[0] <= w[1]), "{roles:?}");
    for (i, f) in report.findings.iter().enumerate() {
        assert!(f.title.starts_with(|c: char| !c.is_lowercase()), "a capital: {}", f.title);
        assert!(!f.detail.contains("above"), "nothing is above: {}", f.detail);
        if let Some(n) = f.detail.split("See finding ").nth(1) {
            let n: usize = n.split(' ').next().unwrap().parse().unwrap();
            assert!(n <= i && report.findings[n - 1].role == Role::Cause, "{}", f.detail);
        }
    }
}

fn check_direct_buffers(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options::default());
    assert_attribution_is_complete(&report);
    assert!(!report.dump.truncated);

    // The JDK's counter in the dump matches the buffers found in it, exactly.
    let jdk = report.reconciliation.iter().find(|r| r.counter == CounterSource::Jdk).expect("a JDK counter");
    assert_eq!(jdk.difference, 0, "{name}: {:?}", jdk.explanation);
    assert_eq!(jdk.counter_count, Some(jdk.found_count as i64));

    // ... and what BufferPoolMXBean reported before the dump: every buffer that owns memory,
    // but the JDK's temporary buffers from JDK 24 on, which it keeps outside its counter, and
    // the main thread's own temporary buffer, made by the fixture's writes after its figures.
    let in_cache = |thread: &str| {
        let held = report.retainers.iter().filter(|r| {
            r.holder.as_ref().is_some_and(|h| h.class == "sun.nio.ch.Util$BufferCache")
                && r.root.contains(&format!("thread \"{thread}\""))
        });
        held.fold(Tally::default(), |t, r| Tally { count: t.count + r.buffers, bytes: t.bytes + r.bytes })
    };
    let want = &jvm["temporary_buffer"];
    let (main, writer) = (in_cache("main"), in_cache(want["thread"].as_str().unwrap()));
    assert_eq!(writer, Tally { count: 1, bytes: u(&want["capacity"]) }, "{name}: the writer's temporary buffer");
    let temporary = report.direct_buffers.temporary_cache;
    let jdk17 = report.dump.jvm.java_version.as_deref().is_some_and(|v| v.starts_with("17"));
    let outside = if jdk17 {
        assert_eq!(temporary.count, 0, "JDK 17 counts them: they have a cleaner");
        0
    } else {
        assert_eq!(temporary, Tally { count: 2, bytes: main.bytes + writer.bytes }, "{name}: labelled apart");
        writer.bytes
    };
    assert_eq!(
        report.native_bytes - main.bytes - outside,
        u(&jvm["direct"]["total_capacity"]),
        "{name}: BufferPoolMXBean direct capacity"
    );
    assert_eq!(report.dump.jvm.java_version.as_deref(), jvm["java_version"].as_str());
    assert!(report.dump.created.as_deref().is_some_and(|t| t.ends_with('Z') && t.contains('T')));

    // Known owners.
    let cache = report.retainers.iter().find(|r| r.root == "static DirectBuffers.CACHE").expect("the static list");
    assert_eq!((cache.buffers, cache.bytes), (2, (1 << 20) + (3 << 20)));
    assert_eq!(cache.owner.as_deref(), Some("DirectBuffers"));
    assert_eq!(cache.holder, None, "a JDK list is a container, not a holder");
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
    let mapped = report.largest.iter().find(|b| b.kind == LargeBufferKind::Mapped).expect("the mapped file");
    assert_eq!(mapped.bytes, u(&jvm["mapped_capacity"]));
    // `mapped` is exactly the mapped pool; the JVM's own mappings are apart.
    let pool = Tally { count: u(&jvm["mapped"]["count"]), bytes: u(&jvm["mapped"]["total_capacity"]) };
    assert_eq!(report.direct_buffers.mapped, pool, "{name}: BufferPoolMXBean(\"mapped\")");
    assert!(report.direct_buffers.jvm_mapped.bytes > 16 << 20, "{name}: the runtime image");
    assert!(report.direct_buffers.views.count >= u(&jvm["view_count"]));
    assert!(report.native_bytes < 16 << 20, "the runtime image mapping is not direct memory");

    // Native dominators: the class holding the static list retains both of its buffers.
    let top = &report.dominators[0];
    assert_eq!((top.class.as_str(), top.retained_native_bytes), ("class DirectBuffers", 4 << 20));

    // Nothing from the dump's data: the mapped file's name is a string in the heap.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("dumpscan-fixture"), "no string contents in the report");
    assert!(report.findings.iter().any(|f| f.kind == FindingKind::AwaitingGc));
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
        let r = report.reconciliation.iter().find(|r| r.counter == CounterSource::Netty).expect("reconciled");
        assert_eq!(r.difference, 0, "{:?}", r.explanation);
    } else {
        assert_eq!(netty.used, None, "the counter is off in cleaner mode");
    }

    let allocator = report.netty.iter().find(|a| a.path.contains("NettyPooled.ALLOCATOR")).expect("the allocator");
    assert_eq!(allocator.chunk_size, jvm["allocator"]["chunk_size"].as_i64());
    for want in jvm["arenas"].as_array().unwrap() {
        let kind = want["kind"].as_str().unwrap();
        let wanted = if kind == "direct" { ArenaKind::Direct } else { ArenaKind::Heap };
        let arena = allocator.arenas.iter().find(|a| a.kind == wanted).expect("arena");
        assert_eq!(arena.chunks, want["chunks"].as_array().unwrap().len() as u64, "{kind} chunks");
        assert_eq!(arena.chunk_bytes, u(&want["chunk_bytes"]), "{kind} chunk bytes");
        assert_eq!(arena.free_bytes, u(&want["free_bytes"]), "{kind} free");
        assert_eq!(arena.used_bytes, u(&want["used_bytes"]), "{kind} used");
        assert_eq!(arena.thread_caches, u(&want["thread_caches"]), "{kind} thread caches");
        assert_eq!(arena.huge_count, u(&want["active_huge_allocations"]), "{kind} huge");
        // Netty's active allocations: live buffers and those parked in thread caches.
        assert_eq!(arena.live_buffers.count + arena.cached_buffers, u(&want["active_allocations"]), "{kind} active");
    }
    let direct = allocator.arenas.iter().find(|a| a.kind == ArenaKind::Direct).unwrap();
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
    assert_eq!((big.kind, big.bytes), (LargeBufferKind::NettyHuge, u(&jvm["huge_capacity"])));
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
    let pileup = report.findings.iter().find(|f| f.kind == FindingKind::WritePileup).expect("the pile-up");
    assert_eq!(pileup.bytes, pending);
    let messages = dumpscan::offheap::units::count(u(&jvm["outbound_buffer"]["entries"]), "message");
    assert!(pileup.detail.contains(&messages), "{}", pileup.detail);
    assert!(pileup.detail.contains(&format!(":{}", jvm["channel"]["peer_port"])), "{}", pileup.detail);
    assert!(pileup.evidence[0].ends_with(&format!("totalPendingSize = {pending}")));
    let (buffers, bytes) = retained_through(&report, "io.netty.channel.ChannelOutboundBuffer[*]");
    assert_eq!(buffers, u(&jvm["outbound_buffer"]["entries"]));
    assert_eq!(bytes, u(&jvm["outbound_buffer"]["readable_bytes"]));
    assert_eq!(report.findings[0].title, pileup.title, "the pile-up comes first");
    assert!(pileup.commands[0].starts_with("dumpscan paths ") && pileup.commands[0].contains(name), "the real path");

    // One row for the channel's ByteBufs, those the leak detector wraps among them; no
    // application object on the way but the channel's own encoder, Netty's outbound buffer
    // holds them.
    let rows: Vec<_> = report
        .retainers
        .iter()
        .filter(|r| r.holder.as_ref().is_some_and(|h| h.role == HolderRole::OutboundBuffer))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = rows[0];
    assert_eq!(row.buffers, u(&jvm["outbound_buffer"]["entries"]));
    assert!(row.leak_tracked > 0, "the fixture's leak detector samples a few ByteBufs");
    assert_eq!(row.owner.as_deref(), Some("OutboundPileup$RecordEncoder"));
    let holder = row.holder.as_ref().unwrap();
    assert_eq!((holder.library, holder.class.as_str()), (Library::Netty, "io.netty.channel.ChannelOutboundBuffer"));

    // The per-channel table: the process's own figures.
    let channel = &report.channels[0];
    assert_eq!(channel.pending_bytes, pending);
    assert_eq!(channel.pending_messages, u(&jvm["outbound_buffer"]["entries"]));
    assert_eq!(channel.writable, jvm["channel"]["writable"].as_bool().unwrap());
    assert_eq!(channel.direct.bytes, u(&jvm["outbound_buffer"]["readable_bytes"]));
    assert!(channel.local.as_deref().unwrap().ends_with(&format!(":{}", jvm["channel"]["local_port"])));
    assert!(channel.remote.as_deref().unwrap().ends_with(&format!(":{}", jvm["channel"]["peer_port"])));

    // The limits the process ran with.
    assert_eq!(report.dump.jvm.max_direct_memory, Some(64 << 20));
    assert_eq!(report.dump.jvm.properties.get("io.netty.allocator.numDirectArenas").map(String::as_str), Some("1"));

    // The incident's own message: 204 x 4 MiB, one buffer growing.
    let seed = "failed to allocate 855638016 byte(s) of direct memory (used: 985661440, max: 1823473664)";
    let options = Options { error: Some(seed.into()), dominators: false, ..Options::default() };
    let grown = analyze(fixture(&format!("{name}.hprof.gz")), &options).unwrap();
    let shape = serde_json::to_value(grown.error.as_ref().unwrap().shape).unwrap();
    assert_eq!(shape, serde_json::json!({"kind": "growth", "step": 4194304, "multiple": 204}));
    let finding = grown.findings.iter().find(|f| f.kind == FindingKind::ErrorMessage).unwrap();
    assert!(finding.detail.contains("204 x 4.0 MiB"), "{}", finding.detail);

    // --error is read in the findings too, as a symptom.
    let error = report.findings.iter().find(|f| f.kind == FindingKind::ErrorMessage).expect("the error finding");
    assert_eq!(error.role, Role::Symptom);
    assert!(error.detail.contains("See finding 1"), "{}", error.detail);

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
    // The size asked is the pool's chunk size: a new chunk, not a growing buffer.
    assert_eq!(decoded.shape, RequestShape::PoolChunk { chunk_size: 16 << 20 });
    assert!(decoded.reading.iter().any(|r| r.contains("chunk size")), "{:?}", decoded.reading);
    let limit = if jvm["netty"]["no_cleaner"].as_bool().unwrap() {
        assert_eq!(decoded.source, CounterSource::Netty);
        report.counters.netty.as_ref().unwrap().max
    } else {
        assert_eq!(decoded.source, CounterSource::Jdk);
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
        // No skipping: without these dumps the old formats go untested.
        assert!(path.exists(), "{}: ../shared/thirdparty must be beside this checkout", path.display());
        let dump = Dump::open(&path).unwrap();
        let summary = Summary::compute(&Metadata::read(&dump).unwrap(), None).unwrap();
        let counted: u64 = summary.histogram().iter().map(|r| r.instances).sum();
        let heap = dumpscan::heap::Heap::build(&dump).unwrap();
        assert_eq!(heap.len() as u64, counted, "{file}");
        for i in heap.objects().step_by(97) {
            assert_eq!(heap.index_of(heap.id(i)), Some(i), "{file}");
        }
        let report = dumpscan::offheap::analyze_heap(&heap, file, &Options::default(), &|_| {});
        assert_attribution_is_complete(&report);
        assert!(report.counters.jdk.is_some(), "{file}: java.nio.Bits");
    }
}

/// A direct buffer caught in its constructor, waiting in `Bits.reserveMemory` for a pool
/// chunk (Netty in cleaner mode): it owns nothing, is told apart with its thread and asker, and
/// comes first among the findings.
fn check_allocation_in_progress(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let want = &jvm["in_progress"];
    let requested = u(&want["requested"]);
    assert_eq!(report.direct_buffers.in_progress, Tally { count: 1, bytes: requested });
    assert_eq!(report.direct_buffers.no_cleaner.bytes, 0, "the waiting buffer owns no memory");
    // The JDK's counter is exactly the pool's chunks; nothing more is claimed.
    assert_eq!(report.native_bytes, u(&jvm["direct"]["total_capacity"]) + report.direct_buffers.temporary_cache.bytes);

    let waiting = &report.allocations_in_progress[..];
    assert_eq!(waiting.len(), 1);
    let waiting = &waiting[0];
    assert_eq!(waiting.requested, requested);
    assert_eq!(waiting.thread.as_deref(), want["thread"].as_str());
    assert_eq!(waiting.purpose, AllocationPurpose::PoolChunk);
    assert!(waiting.frame.as_deref().unwrap().starts_with("java.nio.DirectByteBuffer.<init>("));
    let asked_by = want["asked_by"].as_str().unwrap();
    assert!(waiting.asked_by.as_deref().unwrap().starts_with(&format!("{asked_by}(")), "{:?}", waiting.asked_by);
    // The stack from the constructor down is the process's own, frame for frame.
    let frames: Vec<&str> = want["stack"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    let from = frames.iter().position(|f| *f == "java.nio.DirectByteBuffer.<init>").unwrap();
    let ours: Vec<&str> = waiting.stack.iter().map(|f| f.split('(').next().unwrap()).collect();
    assert_eq!(ours, frames[from..]);

    let first = &report.findings[0];
    assert_eq!((first.kind, first.role), (FindingKind::AllocationInProgress, Role::Context));
    assert!(first.title.contains("16.0 MiB") && first.title.contains(want["thread"].as_str().unwrap()));
    assert!(!report.findings.iter().any(|f| f.kind == FindingKind::InvisibleToJmx), "nothing is invisible to JMX");
}

#[test]
fn allocation_in_progress_jdk17() {
    check_allocation_in_progress("allocation-in-progress-jdk17");
}

#[test]
fn allocation_in_progress_jdk25() {
    check_allocation_in_progress("allocation-in-progress-jdk25");
}

/// docs/REPORT-SCHEMA.md names every key the JSON has: a key added without its line there
/// fails here.
#[test]
fn every_json_key_is_documented() {
    fn keys(value: &Value, into: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    into.insert(k.clone());
                    // `properties` and `commands` hold names from the dump, not keys of the schema.
                    if k != "properties" && k != "commands" {
                        keys(v, into);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| keys(v, into)),
            _ => {}
        }
    }
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/REPORT-SCHEMA.md")).unwrap();
    let mut found = std::collections::BTreeSet::new();
    for name in
        ["allocation-in-progress-jdk25", "netty-pooled-noclean-jdk17", "outbound-pileup-jdk17", "lettuce-6.6-jdk17"]
    {
        let error = expected(name)["error"].as_str().map(str::to_string);
        let report = report(name, &Options { error, top: 3, ..Options::default() });
        keys(&serde_json::to_value(&report).unwrap(), &mut found);
    }
    let native = Some(native_inputs("native-jdk17", "nmt-summary.txt", &["status"]));
    let report = report("native-jdk17", &Options { native, top: 3, dominators: false, ..Options::default() });
    keys(&serde_json::to_value(&report).unwrap(), &mut found);
    // A key is named alone (`bytes`) or after its parent (`jdk.reserved`).
    let missing: Vec<_> =
        found.iter().filter(|k| !doc.contains(&format!("`{k}`")) && !doc.contains(&format!(".{k}`"))).collect();
    assert!(missing.is_empty(), "keys not in docs/REPORT-SCHEMA.md: {missing:?}");
}

/// Lettuce connections, as the process itself saw them: one reading a large reply with
/// commands behind it, one whose writes pile up, one disconnected with commands queued.
fn check_lettuce(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let [Client::Lettuce { connections }] = &report.clients[..] else {
        panic!("one Lettuce section: {:?}", report.clients)
    };
    let want: Vec<&Value> = jvm["connections"].as_array().unwrap().iter().collect();
    assert_eq!(connections.len(), want.len());
    let port =
        |address: &Option<String>| address.as_deref().map(|a| a.rsplit(':').next().unwrap().parse::<u64>().unwrap());
    let counts = |commands: &Value| -> std::collections::BTreeMap<String, u64> {
        commands.as_object().unwrap().iter().map(|(k, v)| (k.clone(), u(v))).collect()
    };
    for want in want {
        let scenario = want["scenario"].as_str().unwrap();
        let c = connections
            .iter()
            .find(|c| port(&c.remote) == want["remote_port"].as_u64() && c.queued.count == u(&want["queued"]["count"]))
            .unwrap_or_else(|| panic!("{name}: the {scenario} connection in {connections:#?}"));
        let state = match want["state"].as_str().unwrap() {
            "connected" => ConnectionState::Connected,
            _ => ConnectionState::Disconnected,
        };
        assert_eq!(c.state, state, "{name} {scenario}");
        assert_eq!(c.handler.is_some(), !want["handler_class"].is_null(), "{name} {scenario}");
        assert_eq!(port(&c.local), want["local_port"].as_u64(), "{name} {scenario}");
        assert_eq!(c.in_flight.count, u(&want["in_flight"]["count"]), "{name} {scenario}");
        assert_eq!(c.in_flight.commands, counts(&want["in_flight"]["commands"]), "{name} {scenario}");
        assert_eq!(c.queued.commands, counts(&want["queued"]["commands"]), "{name} {scenario}");
        assert!(c.queued.heap_bytes >= u(&want["queued_value_bytes"]), "{name} {scenario}: the values are on the heap");
        assert!(c.queued.heap_bytes < 2 * u(&want["queued_value_bytes"]) + (64 << 10), "{name} {scenario}");
        match (&c.read_buffer, want["read_buffer"].as_object()) {
            (Some(ours), Some(theirs)) => {
                assert_eq!(ours.capacity, u(&theirs["capacity"]), "{name} {scenario}");
                assert_eq!(ours.readable, u(&theirs["writer_index"]) - u(&theirs["reader_index"]), "{name} {scenario}");
                assert_eq!(ours.direct, theirs["direct"].as_bool().unwrap(), "{name} {scenario}");
            }
            (None, None) => {}
            other => panic!("{name} {scenario}: read buffer {other:?}"),
        }
        assert_eq!(c.pending_write_bytes, want["pending_write_bytes"].as_u64(), "{name} {scenario}");
        if scenario == "pileup" {
            let outbound = u(&want["pending_buffer_capacity"]);
            assert_eq!(
                c.direct_bytes,
                outbound + c.read_buffer.as_ref().unwrap().capacity,
                "{name}: its direct memory"
            );
        }
    }
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    for kind in [FindingKind::ReplyBeingRead, FindingKind::QueuedWhileDisconnected, FindingKind::ClientWritePileup] {
        assert!(kinds.contains(&kind), "{name}: {kind:?} in {kinds:?}");
    }
    // Each is told once, by the connection, not again by the channel or the buffer.
    for kind in [FindingKind::WritePileup, FindingKind::ReadBuffer, FindingKind::LargeBuffer] {
        assert!(!kinds.contains(&kind), "{name}: {kind:?} told twice in {kinds:?}");
    }
    let reading = report.findings.iter().find(|f| f.kind == FindingKind::ReplyBeingRead).unwrap();
    assert!(reading.detail.contains("The oldest command in flight, GET,"), "{}", reading.detail);
}

#[test]
fn lettuce_5_3_jdk17() {
    check_lettuce("lettuce-5.3-jdk17");
}

#[test]
fn lettuce_5_3_jdk25() {
    check_lettuce("lettuce-5.3-jdk25");
}

#[test]
fn lettuce_6_6_jdk17() {
    check_lettuce("lettuce-6.6-jdk17");
}

#[test]
fn lettuce_6_6_jdk25() {
    check_lettuce("lettuce-6.6-jdk25");
}

/// Netty's pipeline holders besides the outbound buffer, as the process saw them: a decoder's
/// cumulation, an SslHandler's writes before its handshake, a handler's PendingWriteQueue.
fn check_pipeline_holders(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let held = |role: HolderRole, class: &str| {
        let rows: Vec<_> = report
            .retainers
            .iter()
            .filter(|r| r.holder.as_ref().is_some_and(|h| h.role == role && h.class.ends_with(class)))
            .collect();
        assert_eq!(rows.len(), 1, "{name}: one row for {class}: {rows:#?}");
        rows[0]
    };
    let decoder = held(HolderRole::ReadBuffer, "FrameDecoder");
    assert_eq!(decoder.buffers, 1);
    // The cumulation's capacity, rounded up to the pool's size class, is its share of the chunk.
    assert!(decoder.bytes >= u(&jvm["decoder"]["cumulation_capacity"]));
    let ssl = held(HolderRole::PendingWrites, "SslHandler");
    assert_eq!((ssl.buffers, ssl.bytes), (u(&jvm["ssl_pending"]["messages"]), u(&jvm["ssl_pending"]["bytes"])));
    let queue = held(HolderRole::PendingWrites, "PendingWriteQueue");
    let want = &jvm["pending_write_queue"];
    assert_eq!((queue.buffers, queue.bytes), (u(&want["messages"]), u(&want["readable_bytes"])));
    assert_eq!(queue.owner.as_deref(), want["handler_class"].as_str(), "the application's handler owns the queue");

    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == FindingKind::PendingWrites).count(), 2, "{kinds:?}");
    assert!(kinds.contains(&FindingKind::ReadBuffer), "{kinds:?}");
    assert!(!kinds.contains(&FindingKind::LargeBuffer), "the cumulation is told once: {kinds:?}");
    // The handlers' queues count in the channel's pending bytes, as Netty counts them.
    let pending: Vec<u64> = report.channels.iter().map(|c| c.pending_bytes).collect();
    for want in [u(&jvm["ssl_pending"]["channel_pending_write_bytes"]), u(&want["channel_pending_write_bytes"])] {
        assert!(pending.contains(&want), "{name}: {want} in {pending:?}");
    }
}

#[test]
fn pipeline_holders_jdk17() {
    check_pipeline_holders("pipeline-holders-jdk17");
}

#[test]
fn pipeline_holders_jdk25() {
    check_pipeline_holders("pipeline-holders-jdk25");
}

/// Reactor Netty's inbound queue, as the process saw it: what the channel read, queued in
/// `FluxReceive` with nobody subscribed.
fn check_reactor_netty(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let [Client::Reactor { receivers }] = &report.clients[..] else { panic!("{:?}", report.clients) };
    let [r] = &receivers[..] else { panic!("{receivers:?}") };
    let queue = &jvm["receiver_queue"];
    assert_eq!((r.queued, r.queued_bytes), (u(&queue["size"]), u(&queue["readable_bytes"])));
    assert_eq!(r.subscribed, jvm["operations"]["has_receiver"].as_bool().unwrap());
    assert!(r.remote.as_deref().unwrap().ends_with(&format!(":{}", jvm["channel"]["peer_port"])));
    let held = report
        .retainers
        .iter()
        .find(|r| r.holder.as_ref().is_some_and(|h| h.role == HolderRole::InboundQueue))
        .expect("FluxReceive holds the ByteBufs");
    assert_eq!((held.buffers, held.bytes), (u(&queue["size"]), u(&queue["capacity_bytes"])));
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.first(), Some(&FindingKind::InboundNotConsumed), "{kinds:?}");
    assert!(!kinds.contains(&FindingKind::LargeRetainer), "told once: {kinds:?}");
}

#[test]
fn reactor_netty_jdk17() {
    check_reactor_netty("reactor-netty-jdk17");
}

#[test]
fn reactor_netty_jdk25() {
    check_reactor_netty("reactor-netty-jdk25");
}

/// Redisson's connection, as the process saw it: the commands awaiting replies in the channel's
/// `COMMANDS_QUEUE`, and the reply being read in its decoder's cumulation.
fn check_redisson(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let [Client::Redisson { connections }] = &report.clients[..] else { panic!("{:?}", report.clients) };
    let [c] = &connections[..] else { panic!("{connections:?}") };
    let queue = &jvm["commands_queue"];
    let by_name: std::collections::BTreeMap<String, u64> =
        queue["by_name"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), u(v))).collect();
    assert_eq!((c.in_flight.count, &c.in_flight.commands), (u(&queue["size"]), &by_name));
    assert_eq!(c.in_flight.oldest.as_deref(), queue["order"][0].as_str());
    let decoder = &jvm["decoder"];
    let buffer = c.read_buffer.as_ref().expect("the decoder's cumulation");
    assert_eq!(
        (buffer.capacity, buffer.readable),
        (u(&decoder["cumulation_capacity"]), u(&decoder["cumulation_readable"]))
    );
    assert!(c.remote.as_deref().unwrap().ends_with(&format!(":{}", jvm["channel"]["peer_port"])));
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds.first(), Some(&FindingKind::ReplyBeingRead), "{kinds:?}");
    assert!(
        !kinds.contains(&FindingKind::ReadBuffer) && !kinds.contains(&FindingKind::LargeBuffer),
        "told once: {kinds:?}"
    );
}

#[test]
fn redisson_jdk17() {
    check_redisson("redisson-jdk17");
}

#[test]
fn redisson_jdk25() {
    check_redisson("redisson-jdk25");
}

/// A report saved as JSON reads back as it was: written again, the same text. A report of
/// another schema is refused.
#[test]
fn a_saved_report_reads_back_as_written() {
    let mut last = String::new();
    for name in ["allocation-in-progress-jdk25", "netty-pooled-noclean-jdk17", "lettuce-6.6-jdk17"] {
        let error = expected(name)["error"].as_str().map(str::to_string);
        let report = report(name, &Options { error, ..Options::default() });
        let json = serde_json::to_string_pretty(&report).unwrap();
        let back: Report = serde_json::from_str(&json).expect("reads back");
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json, "{name}");
        last = json;
    }
    let other = last.replacen("\"dumpscan.report.v1\"", "\"dumpscan.report.v2\"", 1);
    let refused = serde_json::from_str::<Report>(&other).unwrap_err().to_string();
    assert!(refused.contains("dumpscan.report.v2") && refused.contains("dumpscan.report.v1"), "{refused}");
}

fn assert_diff_adds_up(diff: &dumpscan::offheap::diff::Diff) {
    let (old, new) = diff.retainers.iter().fold((0, 0), |(o, n), r| (o + r.old_bytes, n + r.new_bytes));
    assert_eq!((old, new), (diff.native_bytes.old, diff.native_bytes.new), "retainers add up on both sides");
    assert!(diff.retainers.iter().all(|r| r.delta == r.new_bytes as i64 - r.old_bytes as i64));
    let sorted = diff.retainers.windows(2).all(|w| w[0].delta.unsigned_abs() >= w[1].delta.unsigned_abs());
    assert!(sorted, "largest change first");
}

/// A dump against itself: everything matched, every change 0, nothing to say.
#[test]
fn a_diff_of_a_dump_with_itself_changes_nothing() {
    use dumpscan::offheap::diff::diff;
    for name in ["outbound-pileup-jdk17", "lettuce-6.6-jdk25", "redisson-jdk17"] {
        let report = report(name, &Options { dominators: false, ..Options::default() });
        let same = diff(&report, &report);
        assert_diff_adds_up(&same);
        assert!(same.retainers.iter().all(|r| r.delta == 0 && r.old_bytes == r.new_bytes && r.old_bytes > 0));
        let jdk = same.counters.jdk.as_ref().unwrap();
        assert_eq!(jdk.reserved.delta, Some(0));
        assert_eq!(same.direct_buffers.owned.delta_bytes, 0);
        let arenas = same.netty.iter().flat_map(|a| &a.arenas);
        assert!(arenas.clone().count() > 0 && arenas.clone().all(|x| x.used_bytes.delta == 0 && x.chunks.delta == 0));
        assert!(same.netty.iter().all(|a| a.old_allocator == a.new_allocator));
        assert!(same.findings.is_empty(), "{name}: {:?}", same.findings);
        for client in &same.clients {
            match client {
                dumpscan::offheap::diff::ClientChange::Lettuce { connections } => {
                    assert_eq!(connections.len(), 3, "{name}: the three connections, each matched");
                    assert!(connections.iter().all(|c| c.old_state.is_some() && c.old_state == c.new_state));
                }
                dumpscan::offheap::diff::ClientChange::Redisson { connections } => {
                    let [c] = &connections[..] else { panic!("{name}: {connections:?}") };
                    assert!(c.in_flight.old > 0 && c.in_flight.delta == 0 && c.read_buffer_readable.delta == 0);
                }
                _ => {}
            }
        }
    }
}

/// The same program with Netty's cleaner and without: the memory moves from the JDK's counter
/// to Netty's, as each process reported; retainers match although every id differs.
#[test]
fn a_diff_of_cleaner_and_no_cleaner_pools_follows_the_counters() {
    use dumpscan::offheap::diff::{diff, Change};
    let (old_jvm, new_jvm) = (expected("netty-pooled-jdk17"), expected("netty-pooled-noclean-jdk17"));
    let options = Options { dominators: false, ..Options::default() };
    let (old, new) = (report("netty-pooled-jdk17", &options), report("netty-pooled-noclean-jdk17", &options));
    let d = diff(&old, &new);
    assert_diff_adds_up(&d);
    let moved = u(&old_jvm["direct"]["total_capacity"]) as i64 - u(&new_jvm["direct"]["total_capacity"]) as i64;
    assert_eq!(d.direct_buffers.owned.delta_bytes, -moved, "out of the JDK's buffers");
    assert_eq!(d.direct_buffers.no_cleaner.new.bytes, u(&new_jvm["netty"]["used_direct_memory"]), "into Netty's");
    let netty = d.counters.netty.as_ref().unwrap();
    assert_eq!(
        (netty.used.old, netty.used.new),
        (None, Some(new_jvm["netty"]["used_direct_memory"].as_i64().unwrap()))
    );
    assert_eq!(netty.used.delta, None, "a counter off on one side has no change");
    assert_eq!(d.netty.len(), 1, "one allocator, matched by its path");
    let used = u(&new_jvm["arenas"][0]["used_bytes"]);
    assert_eq!(d.netty[0].arenas[0].used_bytes, Change { old: used, new: used, delta: 0 });
    assert_ne!(d.netty[0].old_allocator, d.netty[0].new_allocator, "ids differ");
    assert!(d.retainers.iter().all(|r| r.delta == 0 && r.old_bytes > 0), "{:#?}", d.retainers);
    assert!(d.findings.is_empty(), "{:?}", d.findings);
}

/// Two programs, the second's pile-up new: a new retainer of the pool's whole size and the
/// JDK's counter grown to its limit, as the process reported it.
#[test]
fn a_diff_names_a_new_retainer_and_a_counter_at_its_limit() {
    use dumpscan::offheap::diff::{diff, DiffFindingKind};
    let new_jvm = expected("allocation-in-progress-jdk17");
    let options = Options { dominators: false, ..Options::default() };
    let (old, new) = (report("outbound-pileup-jdk17", &options), report("allocation-in-progress-jdk17", &options));
    let d = diff(&old, &new);
    assert_diff_adds_up(&d);
    let pool = u(&new_jvm["arenas"][0]["used_bytes"]);
    let kinds: Vec<DiffFindingKind> = d.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [DiffFindingKind::NewRetainer, DiffFindingKind::PoolGrew, DiffFindingKind::CounterTowardLimit]);
    assert_eq!(d.findings[0].bytes, pool);
    assert!(d.findings[0].commands[0].starts_with("dumpscan paths "), "{:?}", d.findings[0]);
    assert_eq!(d.findings[2].role, Role::Symptom);
    let reserved = d.counters.jdk.as_ref().unwrap().reserved;
    assert_eq!(reserved.new, new_jvm["direct"]["memory_used"].as_i64());
    assert!(d.findings[2].title.contains("100.0% of its limit"), "{}", d.findings[2].title);
    // The old pile-up's holder went away, the new one appeared: each with 0 on its missing side.
    let gone = d.retainers.iter().filter(|r| r.new_bytes == 0).map(|r| r.old_bytes).sum::<u64>();
    assert!(gone >= pool, "the old pile-up, vanished: {gone}");
    assert!(d.retainers.iter().any(|r| r.old_bytes == 0 && r.new_bytes == pool && r.new_buffers == 1024));
}

/// docs/DIFF-SCHEMA.md names every key of the diff's JSON.
#[test]
fn every_diff_json_key_is_documented() {
    fn keys(value: &Value, into: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    into.insert(k.clone());
                    // `properties` holds names from the dump, not keys of the schema.
                    if k != "properties" {
                        keys(v, into);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| keys(v, into)),
            _ => {}
        }
    }
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/DIFF-SCHEMA.md")).unwrap();
    let options = Options { dominators: false, ..Options::default() };
    let mut found = std::collections::BTreeSet::new();
    for (old, new) in
        [("outbound-pileup-jdk17", "allocation-in-progress-jdk17"), ("lettuce-6.6-jdk17", "reactor-netty-jdk17")]
    {
        let diff = dumpscan::offheap::diff::diff(&report(old, &options), &report(new, &options));
        keys(&serde_json::to_value(&diff).unwrap(), &mut found);
    }
    let missing: Vec<_> =
        found.iter().filter(|k| !doc.contains(&format!("`{k}`")) && !doc.contains(&format!(".{k}`"))).collect();
    assert!(missing.is_empty(), "keys not in docs/DIFF-SCHEMA.md: {missing:?}");
}

/// Two dumps of one process with known changes between them (`fixtures/diffpair`): each
/// holder's change is the process's own, a vanished holder reads 0 new bytes, the pool's new
/// chunk is counted, and the findings name what grew and what appeared.
#[test]
fn a_diff_of_two_dumps_of_one_process_shows_what_changed() {
    use dumpscan::offheap::diff::{diff, DiffFindingKind};
    let (old_jvm, new_jvm) = (expected("diff-pair-jdk17-old"), expected("diff-pair-jdk17-new"));
    let options = Options { dominators: false, ..Options::default() };
    let d = diff(&report("diff-pair-jdk17-old", &options), &report("diff-pair-jdk17-new", &options));
    assert_diff_adds_up(&d);
    for holder in ["GROWING", "VANISHING", "APPEARING", "POOLED"] {
        let (old, new) = (&old_jvm["holders"][holder], &new_jvm["holders"][holder]);
        let root = format!("static DiffPair.{holder}");
        let rows: Vec<_> = d.retainers.iter().filter(|r| r.root == root).collect();
        assert_eq!(rows.len(), 1, "{root}: {rows:#?}");
        let r = rows[0];
        assert_eq!((r.old_bytes, r.new_bytes), (u(&old["bytes"]), u(&new["bytes"])), "{root}");
        assert_eq!((r.old_buffers, r.new_buffers), (u(&old["buffers"]), u(&new["buffers"])), "{root}");
    }
    let jdk = d.counters.jdk.as_ref().expect("the JDK's counters");
    assert_eq!(
        (jdk.total_capacity.old, jdk.total_capacity.new),
        (old_jvm["direct"]["total_capacity"].as_i64(), new_jvm["direct"]["total_capacity"].as_i64())
    );
    let arena = &d.netty.iter().find(|a| a.path.contains("DiffPair.ALLOCATOR")).expect("the allocator").arenas[0];
    let chunks = |jvm: &Value| jvm["arenas"][0]["chunks"].as_array().unwrap().len() as u64;
    assert_eq!((arena.chunks.old, arena.chunks.new), (chunks(&old_jvm), chunks(&new_jvm)));
    let kinds: Vec<DiffFindingKind> = d.findings.iter().map(|f| f.kind).collect();
    for kind in [DiffFindingKind::RetainerGrew, DiffFindingKind::NewRetainer, DiffFindingKind::PoolGrew] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    // Dumps taken a fraction of a second apart give no pace to project.
    assert!(d.findings.iter().all(|f| !f.detail.contains("at that pace")), "{:#?}", d.findings);
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A /proc file of the fixture; `smaps` is kept compressed.
fn proc_text(name: &str, file: &str) -> String {
    if file == "smaps" {
        use std::io::Read;
        let mut out = String::new();
        let gz = std::fs::File::open(fixture(&format!("{name}.smaps.gz"))).unwrap();
        flate2::read::GzDecoder::new(gz).read_to_string(&mut out).unwrap();
        out
    } else {
        text(&format!("{name}.{file}"))
    }
}

fn native_inputs(name: &str, nmt: &str, proc: &[&str]) -> NativeInputs {
    NativeInputs {
        nmt: Some(Nmt::parse(&text(&format!("{name}.{nmt}"))).expect("NMT parses")),
        proc: proc.iter().map(|f| ProcMemory::parse(&proc_text(name, f)).expect("proc parses")).collect(),
    }
}

/// `KEY: N kB` of a /proc file, in bytes, found in its text.
fn proc_figure(text: &str, key: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{key}:"))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// The committed KB of an NMT category, found in jcmd's text by a search of its own.
fn nmt_committed_kb(text: &str, category: &str) -> u64 {
    let line = text.lines().find(|l| l.trim_start_matches(['-', ' ']).starts_with(&format!("{category} ("))).unwrap();
    let committed = line.split("committed=").nth(1).unwrap();
    committed[..committed.find(|c: char| !c.is_ascii_digit()).unwrap()].parse().unwrap()
}

/// NMT and /proc beside a dump of the same moment, on JDK 17 (Netty's no-cleaner mode) and
/// 25 (cleaner mode): every form of jcmd's output parses to the same figures, and the report
/// reconciles them with what the process itself counted.
fn check_native(name: &str) {
    let jvm = expected(name);
    const KB: u64 = 1024;
    let summary = text(&format!("{name}.nmt-summary.txt"));
    let nmt = Nmt::parse(&summary).unwrap();
    let other = nmt.committed("Other").unwrap();
    assert_eq!(other, nmt_committed_kb(&summary, "Other") * KB, "{name}");
    assert_eq!(nmt.committed("Java Heap"), Some(nmt_committed_kb(&summary, "Java Heap") * KB));
    assert_eq!(nmt.committed("Java Heap"), Some(64 << 20), "-Xmx64m, committed at start");
    // "Other" holds what the program allocated through Unsafe: its direct buffers, Netty's
    // chunk (either way) and its own 24 MiB, and a few KB of the JVM's.
    let direct = u(&jvm["direct"]["memory_used"]);
    let netty = jvm["netty"]["used_direct_memory"].as_i64().unwrap().max(0) as u64;
    let unsafe_bytes = u(&jvm["unsafe_bytes"]);
    let program = direct + netty + unsafe_bytes;
    assert_eq!(program, (56 << 20) + 2, "{name}: 16 MiB direct, a 16 MiB chunk, 24 MiB from Unsafe (and 2 bytes)");
    assert!(other >= program && other - program < 64 * KB, "{name}: Other {other}, the program {program}");

    // The other scales and modes say the same, to their unit.
    let mb = Nmt::parse(&text(&format!("{name}.nmt-summary-mb.txt"))).unwrap();
    assert_eq!((mb.scale(), mb.committed("Other")), (1 << 20, Some(56 << 20)));
    let bytes = Nmt::parse(&text(&format!("{name}.nmt-summary-b.txt"))).unwrap();
    assert_eq!(bytes.scale(), 1);
    assert!(bytes.committed("Other").unwrap() >= program && bytes.committed("Other").unwrap() / KB == other / KB);
    let detail = Nmt::parse(&text(&format!("{name}.nmt-detail.txt"))).unwrap();
    assert_eq!(detail.committed("Java Heap"), Some(64 << 20));
    assert_eq!(detail.categories().len(), nmt.categories().len(), "{name}: the detail run's summary part");
    let diff = Nmt::parse(&text(&format!("{name}.nmt-diff.txt"))).unwrap();
    assert!(diff.is_diff() && !nmt.is_diff());
    assert_eq!(
        diff.category("Other").unwrap().delta,
        Some((56 << 20, 56 << 20)),
        "{name}: allocated after the baseline"
    );
    assert_eq!(diff.committed("Other"), Some(other));

    // /proc: status and the rollup agree to a few pages; smaps summed is the rollup's walk.
    let status_text = proc_text(name, "status");
    let rollup_text = proc_text(name, "smaps_rollup");
    let status = ProcMemory::parse(&status_text).unwrap();
    let rollup = ProcMemory::parse(&rollup_text).unwrap();
    let smaps = ProcMemory::parse(&proc_text(name, "smaps")).unwrap();
    assert_eq!(status.rss, Some(proc_figure(&status_text, "VmRSS")));
    assert_eq!(status.rss_anon, Some(proc_figure(&status_text, "RssAnon")));
    assert_eq!(rollup.rss, Some(proc_figure(&rollup_text, "Rss")));
    for other_reading in [status, smaps] {
        let (a, b) = (rollup.rss.unwrap(), other_reading.rss.unwrap());
        assert!(a.abs_diff(b) * 50 < a, "{name}: {a} and {b} within 2%");
    }
    // The process's own 24 MiB from Unsafe, written, is resident and anonymous.
    assert!(rollup.rss_anon.unwrap() > unsafe_bytes + direct);

    // The report: the breakdown adds up to the RSS, the counters' parts are the process's.
    let inputs = native_inputs(name, "nmt-summary.txt", &["status", "smaps_rollup"]);
    let report = report(name, &Options { native: Some(inputs), dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    let native = report.native.as_ref().expect("the native section");
    let rss = rollup.rss.unwrap();
    assert_eq!(native.rss, Some(rss), "smaps' walk preferred");
    assert_eq!(native.rss_file, Some(proc_figure(&status_text, "RssFile")), "status's file figure");
    assert_eq!(native.breakdown.iter().map(|p| p.bytes).sum::<i64>(), rss as i64, "{name}: the parts add up");
    let part = |kind| native.breakdown.iter().find(|p| p.kind == kind).map(|p| p.bytes);
    assert_eq!(part(PartKind::JavaHeap), Some(64 << 20));
    assert_eq!(part(PartKind::DirectBuffers), Some(direct as i64), "{name}: BufferPoolMXBean's memoryUsed");
    assert_eq!(part(PartKind::NettyNoCleaner), (netty > 0).then_some(netty as i64), "{name}: Netty's counter");
    let uncounted = part(PartKind::OtherUncounted).unwrap();
    assert!(uncounted >= unsafe_bytes as i64 && uncounted < (unsafe_bytes + 64 * KB) as i64, "{name}: {uncounted}");
    let untracked = part(PartKind::NotTrackedByNmt).unwrap();
    assert_eq!(untracked, rss as i64 - nmt.total().committed as i64);
    assert!(untracked < 0, "{name}: the heap's untouched pages are committed, not resident");
    let checks: Vec<_> = native.reconciliation.iter().map(|c| c.check).collect();
    assert_eq!(checks, [NativeCheckKind::OtherVsCounters, NativeCheckKind::HeapVsDump, NativeCheckKind::RssVsNmt]);
    assert!(native.reconciliation[2].reading.contains("reads negative"));
    assert!(native.dump_heap_bytes.unwrap() > native.dump_live_heap_bytes.unwrap());

    let found = |kind| report.findings.iter().find(|f| f.kind == kind);
    let f = found(FindingKind::OtherUncounted).expect("Other beyond the counters");
    assert_eq!(f.bytes, uncounted as u64);
    assert!(found(FindingKind::HeapOversized).is_some(), "64 MiB committed for a few MiB of objects");
    assert!(found(FindingKind::NotTrackedByNmt).is_none());
    // The direct memory's symptoms point at a cause about direct memory.
    for f in &report.findings {
        if let Some(n) = f.detail.split("See finding ").nth(1) {
            let n: usize = n.split(' ').next().unwrap().parse().unwrap();
            assert!(!report.findings[n - 1].kind.is_process_memory(), "{}", f.detail);
        }
    }
    // A saved report reads back with its native section.
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}

#[test]
fn native_jdk17() {
    check_native("native-jdk17");
}

#[test]
fn native_jdk25() {
    check_native("native-jdk25");
}

/// ZooKeeper 3.8's own Netty server, from Debian's package (fixtures/apps): the JDK's counter
/// is what BufferPoolMXBean said by attaching, and the connection that stopped reading is
/// named by its client's port and ZooKeeper's own connection object, with its session.
fn check_zookeeper(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    for moment in ["before_dump", "after_dump"] {
        let pool = &jvm[moment]["direct"];
        let jdk = report.counters.jdk.as_ref().unwrap();
        assert_eq!(jdk.count, pool["count"].as_i64(), "{moment}");
        assert_eq!(jdk.total_capacity, pool["total_capacity"].as_i64(), "{moment}");
        assert_eq!(jdk.reserved, pool["memory_used"].as_i64(), "{moment}");
    }
    let jdk = report.reconciliation.iter().find(|r| r.counter == CounterSource::Jdk).expect("a JDK counter");
    assert_eq!(jdk.difference, 0, "{:?}", jdk.explanation);

    // One channel holds writes: the stalled client's, every other session idle. ZooKeeper's
    // `cons` counts the connect response among the packets sent.
    let client = &jvm["stalled_client"];
    let [channel] = &report.channels[..] else { panic!("{:#?}", report.channels) };
    assert!(channel.remote.as_deref().unwrap().ends_with(&format!(":{}", client["local_port"])));
    assert!(channel.local.as_deref().unwrap().ends_with(&format!(":{}", jvm["server_port"])));
    assert_eq!(channel.pending_messages, u(&client["requests"]) + 1 - u(&client["cons_sent"]));
    assert!(!channel.writable);
    let owner = channel.owner.as_ref().expect("ZooKeeper's connection owns the channel");
    assert_eq!(owner.class, "org.apache.zookeeper.server.NettyServerCnxn");
    assert_eq!((owner.link, owner.attribute.as_deref()), (OwnerLink::Attribute, Some("NettyServerCnxn")));
    assert_eq!(owner.session_id.as_deref(), client["session_id"].as_str());
    // Each pending reply is the whole znode, in a ByteBuf of its own.
    assert!(channel.direct.bytes >= channel.direct.count * u(&client["znode_bytes"]));

    let first = &report.findings[0];
    assert_eq!(first.kind, FindingKind::WritePileup);
    assert!(first.detail.contains(&format!(":{}", client["local_port"])), "{}", first.detail);
    assert!(first.detail.contains(&owner.label()), "{}", first.detail);
    let top = &report.retainers[0];
    assert_eq!(top.owner.as_deref(), Some("org.apache.zookeeper.server.NettyServerCnxn"));
    assert_eq!(top.holder.as_ref().map(|h| h.role), Some(HolderRole::OutboundBuffer));
    assert_eq!(top.bytes, channel.direct.bytes);

    // The idle sessions: every connection `mntr` counted but its own is a channel in the dump,
    // each on the server's port, and none but the stalled client's holds a byte.
    let sockets = socket_channels(name);
    assert_eq!(sockets.len() as u64, u(&jvm["mntr"]["zk_num_alive_connections"]) - 1, "{sockets:?}");
    assert_eq!(sockets.len() as u64, u(&jvm["idle_sessions"]["count"]) + 1);
    assert!(sockets.iter().all(|s| s.local_port == jvm["server_port"].as_i64().unwrap()), "{sockets:?}");
    let (stalled, idle): (Vec<_>, Vec<_>) =
        sockets.iter().partition(|s| s.remote_port == client["local_port"].as_i64().unwrap());
    assert_eq!(stalled.len(), 1);
    assert_eq!(stalled[0].pending as u64, channel.pending_bytes);
    assert!(idle.iter().all(|s| s.pending == 0), "{idle:?}");
    let owned: u64 = report
        .retainers
        .iter()
        .filter(|r| r.owner.as_deref() == Some("org.apache.zookeeper.server.NettyServerCnxn"))
        .map(|r| r.bytes)
        .sum();
    assert_eq!(owned, channel.direct.bytes, "ZooKeeper's connections hold the stalled client's replies only");
}

#[test]
fn zookeeper_3_8_jdk17() {
    check_zookeeper("zookeeper-3.8-jdk17");
}

#[test]
fn zookeeper_3_8_jdk25() {
    check_zookeeper("zookeeper-3.8-jdk25");
}

/// async-http-client 2.12 from Debian's package (fixtures/apps): 8 uploads of 4 MiB to a server
/// that stopped reading, each too small to stand out alone, and a streamed download nobody
/// reads. The JDK's counter is what BufferPoolMXBean said by attaching; the channels are the
/// connections AHC's ClientStats counts, named by the ports the server saw.
fn check_async_http_client(name: &str) {
    let jvm = expected(name);
    let report = report(name, &Options { dominators: false, ..Options::default() });
    assert_attribution_is_complete(&report);
    for moment in ["before_dump", "after_dump"] {
        let pool = &jvm[moment]["direct"];
        let jdk = report.counters.jdk.as_ref().unwrap();
        assert_eq!(jdk.count, pool["count"].as_i64(), "{moment}");
        assert_eq!(jdk.total_capacity, pool["total_capacity"].as_i64(), "{moment}");
        assert_eq!(jdk.reserved, pool["memory_used"].as_i64(), "{moment}");
    }
    let jdk = report.reconciliation.iter().find(|r| r.counter == CounterSource::Jdk).expect("a JDK counter");
    assert_eq!(jdk.difference, 0, "{:?}", jdk.explanation);

    // Every connection AHC counts is a channel of the dump, on the server's port.
    let server_port = jvm["server_port"].as_i64().unwrap();
    let sockets = socket_channels(name);
    assert_eq!(sockets.len() as u64, u(&jvm["client_stats"]["total"]), "{sockets:?}");
    assert_eq!(jvm["client_stats"]["active"], jvm["client_stats"]["total"]);
    assert!(sockets.iter().all(|s| s.remote_port == server_port), "{sockets:?}");

    // Each upload's channel holds its body, copied to one direct ByteBuf to be written; the
    // request's head went out first.
    let uploads = &jvm["uploads"];
    let body = u(&uploads["body_bytes"]);
    let mut ports: Vec<String> =
        uploads["connections"].as_array().unwrap().iter().map(|c| format!("127.0.0.1:{}", c["local_port"])).collect();
    assert_eq!(ports.len() as u64, u(&uploads["count"]));
    ports.sort();
    let mut locals: Vec<String> = report.channels.iter().map(|c| c.local.clone().unwrap()).collect();
    locals.sort();
    assert_eq!(locals, ports, "the uploads' channels, and no other");
    for c in &report.channels {
        assert_eq!(c.remote.as_deref(), Some(format!("127.0.0.1:{server_port}").as_str()));
        assert_eq!((c.pending_messages, c.direct.count), (1, 1), "{c:?}");
        assert!(c.pending_bytes >= body && c.direct.bytes >= body, "{c:?}");
        assert!(!c.writable);
    }
    // The download's channel holds nothing: with no demand, auto-read is off and the response
    // waits in the server, which wrote little of it.
    let download = jvm["download"]["local_port"].as_i64().unwrap();
    let socket = sockets.iter().find(|s| s.local_port == download).expect("the download's channel");
    assert_eq!(socket.pending, 0);
    assert!(u(&jvm["download"]["bytes_written"]) < u(&jvm["download"]["content_length"]) / 16);

    // None is a pile-up alone; together they are the first finding, with the largest named.
    let pending: u64 = report.channels.iter().map(|c| c.pending_bytes).sum();
    assert!(report.findings.iter().all(|f| f.kind != FindingKind::WritePileup), "{:#?}", report.findings);
    let first = &report.findings[0];
    assert_eq!(first.kind, FindingKind::SpreadWritePileup);
    assert_eq!(first.bytes, pending);
    assert!(first.title.starts_with(&format!("Writes piling up across {} channels", ports.len())), "{}", first.title);
    for c in &report.channels[..3] {
        assert!(first.detail.contains(c.local.as_deref().unwrap()), "{}", first.detail);
        assert!(first.commands.iter().any(|command| command.ends_with(&c.outbound_buffer)));
    }
}

#[test]
fn async_http_client_2_12_jdk17() {
    check_async_http_client("async-http-client-2.12-jdk17");
}

#[test]
fn async_http_client_2_12_jdk25() {
    check_async_http_client("async-http-client-2.12-jdk25");
}
