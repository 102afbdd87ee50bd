//! Findings: a few sentences an on-call engineer can act on, each with its evidence.

use dumpscan_heap::{Heap, ObjectIndex};
use dumpscan_hprof::SubRecord;
use rustc_hash::FxHashMap;

use crate::census::Census;
use crate::fields::{int, object};
use crate::oom::mib;
use crate::report::{Finding, Report, RetainerKind};

const MIB: u64 = 1 << 20;

/// Everything the findings read besides the report itself.
pub(crate) struct Context<'h, 'a> {
    pub heap: &'h Heap<'a>,
    pub census: &'h Census,
    /// Native bytes retained through each object on a chosen path (for channels).
    pub through: FxHashMap<ObjectIndex, (u64, u64)>,
    pub show_values: bool,
}

pub(crate) fn find(report: &Report, cx: &Context<'_, '_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let native = report.native_bytes;
    let significant = |bytes: u64| bytes >= MIB && bytes * 10 >= native;

    if let Some(top) = report.retainers.first().filter(|r| r.kind == RetainerKind::Buffers && significant(r.bytes)) {
        findings.push(Finding {
            title: format!("{} of direct memory is held through {}", mib(top.bytes), top.root),
            detail: format!(
                "{} buffers ({}% of the {} found) are kept alive along {}{}.",
                top.buffers,
                percent(top.bytes, native),
                mib(native),
                top.path.join(" -> "),
                top.owner
                    .as_ref()
                    .map(|o| format!("; the first application object on the way is {o}"))
                    .unwrap_or_default()
            ),
            bytes: top.bytes,
            evidence: top.example.iter().map(|e| format!("dumpscan paths DUMP --id {e}")).collect(),
        });
    }

    outbound_pileups(cx, native, &mut findings);

    if let Some(big) = report.largest.first().filter(|b| b.bytes >= MIB && b.bytes * 4 >= native && b.kind != "mapped")
    {
        findings.push(Finding {
            title: format!(
                "One {} buffer holds {} ({}% of direct memory)",
                big.kind.replace('_', " "),
                mib(big.bytes),
                percent(big.bytes, native)
            ),
            detail: format!("{} {} is held by {}.", big.class, big.id, big.path),
            bytes: big.bytes,
            evidence: vec![format!("dumpscan paths DUMP --id {}", big.id)],
        });
    }

    let waiting = report.direct_buffers.unreachable;
    if waiting.bytes > 0 && (waiting.bytes >= 64 * MIB || significant(waiting.bytes)) {
        findings.push(Finding {
            title: format!("{} is held by garbage waiting for a GC", mib(waiting.bytes)),
            detail: format!(
                "{} direct buffers are no longer reachable but their memory is freed only when a garbage collection \
                 finds them and their cleaners run. A process that rarely runs a full GC (a large heap, or \
                 -XX:+DisableExplicitGC, which stops the JDK's System.gc() before it gives up) can run out of \
                 direct memory while holding mostly garbage.",
                waiting.count
            ),
            bytes: waiting.bytes,
            evidence: vec![format!(
                "{} of them already collected, memory not yet freed",
                report.direct_buffers.cleared_cleaners.count
            )],
        });
    }

    // Bytes read and not yet decoded: Netty's decoders and Lettuce's command handler keep
    // them until a whole message is there.
    for held in report.retainers.iter().filter(|r| r.kind == RetainerKind::Buffers && significant(r.bytes)) {
        let Some(step) = held.path.iter().find(|s| is_read_buffer(s)) else { continue };
        findings.push(Finding {
            title: format!("{} read but not yet decoded, in {step}", mib(held.bytes)),
            detail: format!(
                "{} buffers hold bytes received and waiting for a whole message: a very large message, a peer \
                 sending faster than the handler decodes, or a decoder that never consumes its input (Lettuce's \
                 read buffer grows with large replies and does not shrink). Held along {} -> {}.",
                held.buffers,
                held.root,
                held.path.join(" -> ")
            ),
            bytes: held.bytes,
            evidence: held.example.iter().map(|e| format!("dumpscan paths DUMP --id {e}")).collect(),
        });
    }

    for leak in report.retainers.iter().filter(|r| r.root.ends_with("(a leak)") && r.bytes >= MIB) {
        findings.push(Finding {
            title: format!("{} in {} pooled buffers that were never released", mib(leak.bytes), leak.buffers),
            detail: "Nothing references these buffers any more, yet they were not released: their memory stays \
                     taken in the pool's chunks until the allocator itself goes. Run with \
                     -Dio.netty.leakDetection.level=advanced to learn where they were last used."
                .to_string(),
            bytes: leak.bytes,
            evidence: leak.example.iter().map(|e| format!("one of them: {e}")).collect(),
        });
    }

    let hidden = report.direct_buffers.no_cleaner;
    if hidden.bytes >= MIB {
        let netty = report.counters.netty.as_ref().filter(|n| n.no_cleaner == Some(true));
        findings.push(Finding {
            title: format!("{} of direct memory is invisible to JMX", mib(hidden.bytes)),
            detail: format!(
                "{} buffers own memory without a cleaner, so BufferPoolMXBean(\"direct\") and -XX:MaxDirectMemorySize do \
                 not count them{}. Watch Netty's PlatformDependent.usedDirectMemory() or the process RSS instead.",
                hidden.count,
                netty
                    .map(|n| format!(
                        " (Netty's no-cleaner mode is on; its own counter reads {} of {})",
                        n.used.map_or("nothing".into(), |u| mib(u.max(0) as u64)),
                        n.max.map_or("no limit".into(), |m| mib(m.max(0) as u64))
                    ))
                    .unwrap_or_default()
            ),
            bytes: hidden.bytes,
            evidence: Vec::new(),
        });
    }

    for allocator in &report.netty {
        for arena in allocator.arenas.iter().filter(|a| a.kind == "direct") {
            let chunk = allocator.chunk_size.unwrap_or(16 << 20).max(1) as u64;
            if arena.chunk_bytes >= 2 * chunk && arena.free_bytes * 2 >= arena.chunk_bytes {
                findings.push(Finding {
                    title: format!(
                        "Pooled chunks mostly free: {} of {} unused",
                        mib(arena.free_bytes),
                        mib(arena.chunk_bytes)
                    ),
                    detail: format!(
                        "Direct arena {} of {} keeps {} chunks of which {}% is free: memory once needed at a peak, \
                         kept by the pool. Fewer arenas (-Dio.netty.allocator.numDirectArenas) or a smaller chunk size \
                         lower the footprint.",
                        arena.id,
                        allocator.allocator,
                        arena.chunks,
                        percent(arena.free_bytes, arena.chunk_bytes)
                    ),
                    bytes: arena.free_bytes,
                    evidence: Vec::new(),
                });
            }
        }
        let dead: Vec<_> = allocator.thread_caches.iter().filter(|c| !c.thread_alive && c.cached_bytes > 0).collect();
        if !dead.is_empty() {
            let bytes = dead.iter().map(|c| c.cached_bytes).sum();
            findings.push(Finding {
                title: format!("{} parked in thread caches of threads that no longer run", mib(bytes)),
                detail: format!(
                    "{} Netty thread caches belong to threads that are gone; their buffers return to the pool only when \
                     the cache is freed. Threads created per task and allocating from a pooled allocator cause this.",
                    dead.len()
                ),
                bytes,
                evidence: dead.iter().map(|c| c.id.clone()).collect(),
            });
        }
        let released = allocator.released_still_referenced;
        if released.count > 0 {
            findings.push(Finding {
                title: format!("{} released pooled buffers are still referenced", released.count),
                detail: "Their reference count says released, yet application objects still point at them. Netty \
                         recycles buffer objects: a later write through such a reference corrupts another user's data."
                    .to_string(),
                bytes: 0,
                evidence: vec![format!("{} of pool space they once held", mib(released.bytes))],
            });
        }
    }

    if let Some(jdk) = &report.counters.jdk {
        if let (Some(reserved), Some(max)) = (jdk.reserved, jdk.max) {
            if max > 0 && reserved * 10 >= max * 9 {
                findings.push(near_limit("the JDK's", reserved, max, "-XX:MaxDirectMemorySize"));
            }
        }
    }
    if let Some(netty) = &report.counters.netty {
        if let (Some(used), Some(max)) = (netty.used, netty.max) {
            if max > 0 && used * 10 >= max * 9 {
                findings.push(near_limit("Netty's", used, max, "-Dio.netty.maxDirectMemory"));
            }
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.bytes));
    if report.dump.truncated {
        // HotSpot writes the GC roots last: a cut dump loses them first.
        findings.insert(
            0,
            Finding {
                title: "The dump is cut short: every figure covers only what was read".to_string(),
                detail: format!(
                    "{} objects were read from {} bytes. The JVM writes the GC roots at the end of the dump, so \
                     buffers whose roots or referrers were lost look unreachable here (awaiting GC) although \
                     the process held them. Take a new dump with room on the disk to be sure.",
                    report.dump.objects, report.dump.bytes
                ),
                bytes: 0,
                evidence: Vec::new(),
            },
        );
    }
    findings
}

/// A step through a read buffer: `ByteToMessageDecoder.cumulation` (on the decoder's own
/// class), Lettuce's `CommandHandler.buffer` (5.0 to 6.5) or `readBuffer` (6.6+).
fn is_read_buffer(step: &str) -> bool {
    step.ends_with(".cumulation")
        || step == "io.lettuce.core.protocol.CommandHandler.buffer"
        || step == "io.lettuce.core.protocol.CommandHandler.readBuffer"
}

fn near_limit(whose: &str, used: i64, max: i64, flag: &str) -> Finding {
    Finding {
        title: format!("{whose} direct memory counter is at {}% of its limit", percent(used as u64, max as u64)),
        detail: format!(
            "{} of {} reserved: the next allocations fail. Raising {flag} only buys time if the retainers above keep growing.",
            mib(used as u64),
            mib(max as u64)
        ),
        bytes: used as u64,
        evidence: Vec::new(),
    }
}

/// Channels whose outbound buffer holds many bytes: writes the peer is not taking.
fn outbound_pileups(cx: &Context<'_, '_>, native: u64, findings: &mut Vec<Finding>) {
    let heap = cx.heap;
    let mut piles: Vec<(ObjectIndex, u64, u64)> = cx
        .census
        .of("io.netty.channel.ChannelOutboundBuffer")
        .iter()
        .map(|&o| {
            let (buffers, bytes) = cx.through.get(&o).copied().unwrap_or_default();
            (o, buffers, bytes)
        })
        .filter(|&(o, _, bytes)| {
            let pending = int(heap, o, "totalPendingSize").unwrap_or(0).max(0) as u64;
            bytes.max(pending) >= MIB && (bytes.max(pending) * 10 >= native || pending >= 16 * MIB)
        })
        .collect();
    piles.sort_by_key(|p| std::cmp::Reverse(p.2));
    for (outbound, buffers, bytes) in piles.into_iter().take(5) {
        let pending = int(heap, outbound, "totalPendingSize").unwrap_or(0).max(0) as u64;
        let entries = count_entries(heap, outbound);
        let channel = object(heap, outbound, "channel");
        let name = channel.map(|c| dumpscan_heap::object_text(heap, c)).unwrap_or_else(|| "a channel".into());
        // The channel caches its addresses once asked; the JDK socket channel (`ch`) has them.
        let address = |field: &str| {
            let channel = channel?;
            let socket = object(heap, channel, "ch");
            let found = object(heap, channel, field).or_else(|| socket.and_then(|s| object(heap, s, field)))?;
            socket_address(heap, found, cx.show_values)
        };
        let (peer, local) = (address("remoteAddress"), address("localAddress"));
        let unwritable = int(heap, outbound, "unwritable").unwrap_or(0) != 0;
        findings.push(Finding {
            title: format!("Writes piling up in {}'s outbound buffer: {}", short_class(&name), mib(bytes.max(pending))),
            detail: format!(
                "{name}{}{} has {entries} messages written but not yet sent ({} pending, {} of direct memory in {buffers} \
                 buffers). The peer is not reading fast enough and the application keeps writing{}: check \
                 Channel.isWritable() or a write-buffer water mark before writing, and a timeout for slow peers.",
                local.map(|l| format!(" from {l}")).unwrap_or_default(),
                peer.map(|p| format!(" to {p}")).unwrap_or_default(),
                mib(pending),
                mib(bytes),
                if unwritable { " although the channel reports itself unwritable" } else { "" },
            ),
            bytes: bytes.max(pending),
            evidence: vec![
                format!("ChannelOutboundBuffer 0x{:x}: totalPendingSize = {pending}", heap.id(outbound)),
                format!("dumpscan paths DUMP --id 0x{:x}", heap.id(outbound)),
            ],
        });
    }
}

fn short_class(text: &str) -> &str {
    let name = text.split('@').next().unwrap_or(text);
    name.rsplit('.').next().unwrap_or(name)
}

/// Entries from `flushedEntry` (or `unflushedEntry`) along `next`.
fn count_entries(heap: &Heap<'_>, outbound: ObjectIndex) -> u64 {
    let mut count = 0u64;
    let mut next = object(heap, outbound, "flushedEntry").or_else(|| object(heap, outbound, "unflushedEntry"));
    while let Some(entry) = next {
        count += 1;
        if count > heap.len() as u64 {
            break;
        }
        next = object(heap, entry, "next");
    }
    count
}

/// `127.0.0.1:8080` from an `InetSocketAddress`; with `show_values`, the host name as well.
fn socket_address(heap: &Heap<'_>, address: ObjectIndex, show_values: bool) -> Option<String> {
    let holder = object(heap, address, "holder")?;
    let port = int(heap, holder, "port")?;
    let inet = object(heap, holder, "addr");
    let ip = inet.and_then(|a| {
        if let Some(v6) = object(heap, a, "holder6").and_then(|h| object(heap, h, "ipaddress")) {
            let Some(SubRecord::PrimitiveArray(array)) = heap.record(v6) else { return None };
            let bytes = array.data?;
            let groups: Vec<String> =
                bytes.chunks(2).map(|c| format!("{:x}", u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).collect();
            return Some(format!("[{}]", groups.join(":")));
        }
        let v4 = int(heap, object(heap, a, "holder")?, "address")? as u32;
        Some(std::net::Ipv4Addr::from(v4).to_string())
    });
    let host = if show_values { object(heap, holder, "hostname").and_then(|h| heap.string_value(h)) } else { None };
    match (ip, host) {
        (Some(ip), Some(host)) => Some(format!("{host}/{ip}:{port}")),
        (Some(ip), None) => Some(format!("{ip}:{port}")),
        (None, Some(host)) => Some(format!("{host}:{port}")),
        (None, None) => Some(format!("port {port}")),
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (part as u128 * 100 / whole as u128) as u64
    }
}
