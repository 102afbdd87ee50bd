//! The counters the process itself kept, read from class statics: the JDK's (`java.nio.Bits`,
//! what `BufferPoolMXBean("direct")` reports) and Netty's (`PlatformDependent`).

use dumpscan_heap::Heap;

use crate::buffers::{Classified, Kind};
use crate::fields::counter;
use crate::netty::Netty;
use crate::report::{CounterSource, Counters, DirectBuffers, JdkCounters, NettyCounters, Reconciliation, Tally};
use crate::units::{self, human_bytes as mib};

/// `java.nio.Bits` statics, JDK 9+ names first, then JDK 8's.
pub(crate) fn jdk(heap: &Heap<'_>) -> Option<JdkCounters> {
    heap.classes.by_name("java.nio.Bits")?;
    let read = |names: [&str; 2]| names.iter().find_map(|n| counter(heap, heap.static_field("java.nio.Bits", n)?));
    let vm_limit = ["jdk.internal.misc.VM", "sun.misc.VM"]
        .iter()
        .find_map(|class| heap.static_field(class, "directMemory")?.as_i64());
    Some(JdkCounters {
        count: read(["COUNT", "count"]),
        total_capacity: read(["TOTAL_CAPACITY", "totalCapacity"]),
        reserved: read(["RESERVED_MEMORY", "reservedMemory"]),
        // Bits copies the limit from VM when it first reserves memory; before that it is 0.
        max: read(["MAX_MEMORY", "maxMemory"]).filter(|&m| m > 0).or(vm_limit),
    })
}

pub(crate) fn netty(heap: &Heap<'_>) -> Option<NettyCounters> {
    const CLASS: &str = "io.netty.util.internal.PlatformDependent";
    heap.classes.by_name(CLASS)?;
    Some(NettyCounters {
        used: heap.static_field(CLASS, "DIRECT_MEMORY_COUNTER").and_then(|v| counter(heap, v)),
        max: heap.static_field(CLASS, "DIRECT_MEMORY_LIMIT").and_then(|v| v.as_i64()),
        no_cleaner: heap.static_field(CLASS, "USE_DIRECT_BUFFER_NO_CLEANER").and_then(|v| v.as_i64()).map(|b| b != 0),
    })
}

/// What each counter says against what the dump's buffers add up to, and why they differ.
pub(crate) fn reconcile(
    counters: &Counters,
    summary: &DirectBuffers,
    classified: &Classified,
    netty: &Netty,
) -> Vec<Reconciliation> {
    let mut out = Vec::new();
    if let Some(jdk) = &counters.jdk {
        let (mut count, mut bytes) = (0u64, 0u64);
        for b in
            classified.buffers.iter().filter(|b| b.has_cleaner && matches!(b.kind, Kind::Owned | Kind::Unreachable))
        {
            count += 1;
            bytes = bytes.saturating_add(b.capacity);
        }
        count = count.saturating_add(summary.cleared_cleaners.count);
        bytes = bytes.saturating_add(summary.cleared_cleaners.bytes);
        let said = jdk.total_capacity.unwrap_or(0);
        let mut why = Vec::new();
        let difference = said.saturating_sub(i64::try_from(bytes).unwrap_or(i64::MAX));
        if difference == 0 && jdk.count.is_none_or(|c| c == count as i64) {
            why.push("Every buffer the JDK counts is in the dump.".to_string());
        } else if difference > 0 {
            why.push(format!(
                "The counter holds {} more than the buffers found: memory whose buffer objects the dump does not \
                 have (allocated or freed while the dump was written), or buffers of a class dumpscan does not read.",
                mib(difference as u64)
            ));
        } else {
            why.push(format!(
                "The direct buffers found hold {} more than the counter: buffers already released but not yet collected.",
                mib(difference.unsigned_abs())
            ));
        }
        // What the dump holds beside the counter, or not in it yet: "{bytes} in {buffers} {says}".
        let beside = [
            (summary.unreachable, "unreachable direct buffer", "is still counted until a GC runs their cleaners"),
            (
                summary.no_cleaner,
                "direct buffer",
                "without a cleaner is outside this counter (Netty no-cleaner, JNI, foreign memory)",
            ),
            (
                summary.temporary_cache,
                "temporary buffer",
                "of the JDK's per-thread cache is outside this counter (JDK 24+)",
            ),
            (summary.in_progress, "direct buffer", "still in the constructor is not reserved yet"),
        ];
        for (tally, noun, says) in beside.into_iter().filter(|(t, _, _)| t.count > 0) {
            why.push(format!("{} in {} {says}.", mib(tally.bytes), units::count(tally.count, noun)));
        }
        out.push(Reconciliation {
            counter: CounterSource::Jdk,
            counter_count: jdk.count,
            counter_bytes: said,
            found_count: count,
            found_bytes: bytes,
            difference,
            explanation: why,
        });
    }
    if let Some(used) = counters.netty.as_ref().and_then(|n| n.used) {
        let chunk_memory = netty.chunk_memory();
        let mut found = Tally::default();
        let (mut pooled, mut other) = (0u64, 0u64);
        for b in classified.buffers.iter().filter(|b| b.kind == Kind::NoCleaner) {
            found.add(b.capacity);
            if chunk_memory.contains_key(&b.object) {
                pooled = pooled.saturating_add(b.capacity);
            } else {
                other = other.saturating_add(b.capacity);
            }
        }
        let difference = used.saturating_sub(i64::try_from(found.bytes).unwrap_or(i64::MAX));
        let mut why = vec![format!(
            "No-cleaner direct buffers found: {} in pool chunks and huge allocations, {} elsewhere (unpooled Netty ByteBufs, JNI).",
            mib(pooled),
            mib(other)
        )];
        if difference > 0 {
            why.push(format!(
                "Netty counts {} more: memory whose buffer objects are not strongly reachable ({} in {} stale no-cleaner direct buffers).",
                mib(difference as u64),
                mib(summary.stale_no_cleaner.bytes),
                summary.stale_no_cleaner.count
            ));
        } else if difference < 0 {
            why.push(format!(
                "{} of no-cleaner memory is not Netty's: buffers made by JNI or the JDK itself.",
                mib(difference.unsigned_abs())
            ));
        }
        out.push(Reconciliation {
            counter: CounterSource::Netty,
            counter_count: None,
            counter_bytes: used,
            found_count: found.count,
            found_bytes: found.bytes,
            difference,
            explanation: why,
        });
    }
    out
}
