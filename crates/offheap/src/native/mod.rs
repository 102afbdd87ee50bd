//! Native memory read beside the dump: HotSpot's Native Memory Tracking (`jcmd PID
//! VM.native_memory summary`) and what Linux says of the process (`/proc/PID/status`,
//! `smaps_rollup`, `smaps`), reconciled with the dump's counters into the report's `native`
//! section.
//!
//! ```
//! use dumpscan_offheap::native::{self, Nmt, NativeInputs, ProcMemory};
//!
//! let nmt = Nmt::parse("Total: reserved=2048KB, committed=1024KB\n-  Other (reserved=1024KB, committed=1024KB)\n")?;
//! assert_eq!(nmt.committed("Other"), Some(1 << 20));
//! let status = ProcMemory::parse("VmRSS:\t  3072 kB\nRssAnon:\t  2048 kB\n")?;
//! let section = native::section(&NativeInputs { nmt: Some(nmt), proc: vec![status] }, None);
//! let parts: i64 = section.breakdown.iter().map(|p| p.bytes).sum();
//! assert_eq!(parts, 3 << 20); // the parts add up to the RSS
//! # Ok::<(), native::NativeError>(())
//! ```

mod nmt;
mod proc;
pub(crate) mod rules;

pub use nmt::{Amounts, Nmt, NmtCategory};
pub use proc::{ProcMemory, ProcSource};

use crate::report::{
    Counters, DirectBuffers, Native, NativeCheck, NativeCheckKind, NativePart, NmtAmounts, NmtCategoryAmounts,
    NmtSummary, PartKind, PartSource,
};
use crate::units::{delta, human_bytes as size};

const MIB: u64 = 1 << 20;

/// NMT's "Other" beyond the counters worth a finding: 8 MiB, and a quarter of "Other".
pub(crate) fn other_uncounted_is_large(difference: i64, other: u64) -> bool {
    difference >= (8 * MIB) as i64 && (difference as u64).saturating_mul(4) >= other
}

/// The RSS beyond NMT worth a finding: 64 MiB, and a tenth of the RSS.
pub(crate) fn untracked_is_large(difference: i64, rss: u64) -> bool {
    difference >= (64 * MIB) as i64 && (difference as u64).saturating_mul(10) >= rss
}

/// A committed heap worth a finding: 32 MiB more than its objects, which fill half of it at most.
pub(crate) fn heap_is_oversized(committed: u64, objects: u64) -> bool {
    committed.saturating_sub(objects) >= 32 * MIB && objects.saturating_mul(2) <= committed
}

/// A file beside the dump that could not be read: what is wrong, and on which line (1-based)
/// when one line is to blame. When a value on the line could not be read, why is its
/// [`source`](std::error::Error::source), and the message says which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeError {
    line: Option<usize>,
    message: String,
    source: Option<ValueError>,
}

impl NativeError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> NativeError {
        NativeError { line: Some(line), message: message.into(), source: None }
    }

    pub(crate) fn file(message: impl Into<String>) -> NativeError {
        NativeError { line: None, message: message.into(), source: None }
    }

    /// The value `what` on line `line` could not be read.
    pub(crate) fn value(line: usize, what: impl Into<String>, source: ValueError) -> NativeError {
        NativeError { line: Some(line), message: what.into(), source: Some(source) }
    }

    /// The line at fault, counted from 1; `None` when the file as a whole is not what was
    /// expected.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        f.write_str(&self.message)?;
        match &self.source {
            Some(source) => write!(f, ": {source}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for NativeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why a value (an amount, a change, a count of kB) in a file beside the dump could not be
/// read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueError {
    /// Nothing after the key.
    #[error("no value")]
    Missing,
    /// A word that is not a number.
    #[error("not a number: {text:?}")]
    NotANumber {
        text: String,
        #[source]
        source: std::num::ParseIntError,
    },
    /// The digits before an amount's unit make no number: there are none, or too many.
    #[error("not a number")]
    NoNumber(#[source] std::num::ParseIntError),
    /// More bytes than a count holds.
    #[error("too large")]
    TooLarge,
    /// A unit the file's writer does not print.
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    /// A number without its unit.
    #[error("no unit (kB)")]
    NoUnit,
    /// A change without its sign.
    #[error("expected +N or -N")]
    NoSign,
    /// The values of one key, added up over the file, pass what a count holds.
    #[error("the sum overflows")]
    SumOverflows,
}

/// What was read beside the dump.
#[derive(Debug, Clone, Default)]
pub struct NativeInputs {
    /// NMT's report (`--nmt`).
    pub nmt: Option<Nmt>,
    /// /proc files (`--proc`), merged as [`ProcMemory::merge`] says.
    pub proc: Vec<ProcMemory>,
}

impl NativeInputs {
    /// Nothing was given.
    pub fn is_empty(&self) -> bool {
        self.nmt.is_none() && self.proc.is_empty()
    }
}

/// What the dump says that the native section reconciles, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpFigures {
    /// `java.nio.Bits`' reserved memory: the JDK's direct buffers.
    pub jdk_direct: Option<u64>,
    /// Netty's `PlatformDependent` counter, when its no-cleaner mode is on.
    pub netty_no_cleaner: Option<u64>,
    /// The JDK's temporary buffers kept without a cleaner (JDK 24+).
    pub temporary_cache: u64,
    /// Shallow bytes of every object in the dump.
    pub heap_bytes: Option<u64>,
    /// Shallow bytes of the strongly reachable ones.
    pub live_heap_bytes: Option<u64>,
}

impl DumpFigures {
    /// The counters' part of the figures (the heap's is computed over the heap model).
    pub fn of(counters: &Counters, buffers: &DirectBuffers) -> DumpFigures {
        let positive = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        let netty = counters.netty.as_ref().filter(|n| n.no_cleaner == Some(true));
        DumpFigures {
            jdk_direct: counters.jdk.as_ref().and_then(|j| positive(j.reserved).or(positive(j.total_capacity))),
            netty_no_cleaner: netty.and_then(|n| positive(n.used)),
            temporary_cache: buffers.temporary_cache.bytes,
            heap_bytes: None,
            live_heap_bytes: None,
        }
    }

    fn counted(&self) -> u64 {
        self.jdk_direct
            .unwrap_or(0)
            .saturating_add(self.netty_no_cleaner.unwrap_or(0))
            .saturating_add(self.temporary_cache)
    }
}

fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// The report's `native` section from what was read beside the dump and, when there is one,
/// what the dump says. The breakdown's parts add up to the RSS when /proc was given, else to
/// NMT's committed total.
pub fn section(inputs: &NativeInputs, dump: Option<&DumpFigures>) -> Native {
    let proc = ProcMemory::merge(&inputs.proc);
    let figures = dump.copied().unwrap_or_default();
    let mut breakdown = Vec::new();
    let mut part = |kind, name: &str, bytes: i64, source| {
        breakdown.push(NativePart { part: name.to_string(), kind, bytes, source });
    };
    let counted = [
        (PartKind::DirectBuffers, "direct buffers (the JDK's counter)", figures.jdk_direct),
        (PartKind::NettyNoCleaner, "Netty's no-cleaner memory (its counter)", figures.netty_no_cleaner),
        (PartKind::TemporaryCache, "the JDK's temporary buffers", Some(figures.temporary_cache).filter(|&b| b > 0)),
    ];
    let mut reconciliation = Vec::new();
    match &inputs.nmt {
        Some(nmt) => {
            let heap = nmt.committed("Java Heap").unwrap_or(0);
            part(PartKind::JavaHeap, "Java heap (committed)", signed(heap), PartSource::Nmt);
            let other = nmt.committed("Other").unwrap_or(0);
            if dump.is_some() {
                for (kind, name, bytes) in counted {
                    if let Some(bytes) = bytes {
                        part(kind, name, signed(bytes), PartSource::Dump);
                    }
                }
                part(
                    PartKind::OtherUncounted,
                    "NMT's \"Other\" beyond the counters",
                    delta(figures.counted(), other),
                    PartSource::Derived,
                );
            } else {
                part(PartKind::NmtCategory, "Other", signed(other), PartSource::Nmt);
            }
            for c in nmt.categories().iter().filter(|c| c.name != "Java Heap" && c.name != "Other") {
                if c.amounts.committed > 0 {
                    part(PartKind::NmtCategory, &c.name, signed(c.amounts.committed), PartSource::Nmt);
                }
            }
            let listed = nmt.categories().iter().fold(0u64, |sum, c| sum.saturating_add(c.amounts.committed));
            let rounding = delta(listed, nmt.total().committed);
            if rounding != 0 {
                part(
                    PartKind::NmtRounding,
                    "NMT's total beyond its categories (rounding)",
                    rounding,
                    PartSource::Derived,
                );
            }
            if let Some(rss) = proc.rss {
                part(
                    PartKind::NotTrackedByNmt,
                    "not tracked by NMT",
                    delta(nmt.total().committed, rss),
                    PartSource::Derived,
                );
            }
            if dump.is_some() {
                reconciliation.push(other_vs_counters(other, &figures));
                if let Some(objects) = figures.heap_bytes {
                    reconciliation.push(heap_vs_dump(heap, objects, figures.live_heap_bytes));
                }
            }
            if let Some(rss) = proc.rss {
                reconciliation.push(rss_vs_nmt(rss, nmt.total().committed));
            }
        }
        None => {
            let mut explained = 0u64;
            if let Some(objects) = figures.heap_bytes {
                part(PartKind::DumpHeap, "Java objects in the dump", signed(objects), PartSource::Dump);
                explained = explained.saturating_add(objects);
            }
            for (kind, name, bytes) in counted {
                if let Some(bytes) = bytes {
                    part(kind, name, signed(bytes), PartSource::Dump);
                    explained = explained.saturating_add(bytes);
                }
            }
            if let Some(rss) = proc.rss {
                part(
                    PartKind::RestOfRss,
                    "the rest (heap beyond its objects, metaspace, threads, code, GC, malloc)",
                    delta(explained, rss),
                    PartSource::Derived,
                );
            }
        }
    }
    Native {
        rss: proc.rss,
        rss_anon: proc.rss_anon,
        rss_file: proc.rss_file,
        dump_heap_bytes: figures.heap_bytes,
        dump_live_heap_bytes: figures.live_heap_bytes,
        nmt: inputs.nmt.as_ref().map(|nmt| NmtSummary {
            scale: nmt.scale(),
            total: NmtAmounts { reserved: nmt.total().reserved, committed: nmt.total().committed },
            categories: nmt
                .categories()
                .iter()
                .map(|c| NmtCategoryAmounts {
                    category: c.name.clone(),
                    reserved: c.amounts.reserved,
                    committed: c.amounts.committed,
                })
                .collect(),
        }),
        breakdown,
        reconciliation,
    }
}

fn check(check: NativeCheckKind, measured: u64, accounted: u64, reading: String) -> NativeCheck {
    NativeCheck { check, measured, accounted, difference: delta(accounted, measured), reading }
}

fn other_vs_counters(other: u64, figures: &DumpFigures) -> NativeCheck {
    let counted = figures.counted();
    let difference = delta(counted, other);
    let mut counters = vec![format!("the JDK's direct buffers {}", size(figures.jdk_direct.unwrap_or(0)))];
    if let Some(netty) = figures.netty_no_cleaner {
        counters.push(format!("Netty's no-cleaner memory {}", size(netty)));
    }
    if figures.temporary_cache > 0 {
        counters.push(format!("the JDK's temporary buffers {}", size(figures.temporary_cache)));
    }
    let head = format!(
        "NMT's \"Other\", where Unsafe.allocateMemory lands, holds {}; the dump's counters explain {} ({}).",
        size(other),
        size(counted),
        counters.join(", ")
    );
    let tail = if other_uncounted_is_large(difference, other) {
        format!(
            " {} is allocated outside them: something calls Unsafe.allocateMemory (or native code allocates \
             through the JVM) without a counter: a library's own off-heap store, or Netty's no-cleaner memory with \
             its counter off. NMT in detail mode (-XX:NativeMemoryTracking=detail, then jcmd PID \
             VM.native_memory detail) names the call sites of \"Other\".",
            size(difference.unsigned_abs())
        )
    } else if difference < -(MIB as i64) {
        format!(
            " The counters hold {} more than \"Other\": NMT and the dump were taken at different moments; take \
             them together.",
            size(difference.unsigned_abs())
        )
    } else {
        " Nearly all of it is in the counters: the direct memory is what the dump shows.".to_string()
    };
    check(NativeCheckKind::OtherVsCounters, other, counted, head + &tail)
}

fn heap_vs_dump(committed: u64, objects: u64, live: Option<u64>) -> NativeCheck {
    let live = live.map(|l| format!(", {} of them strongly reachable", size(l))).unwrap_or_default();
    let head = format!(
        "The Java heap has {} committed; its objects in the dump take {}{live}.",
        size(committed),
        size(objects)
    );
    let tail = if heap_is_oversized(committed, objects) {
        format!(
            " {} is committed for the heap but holds no object: the heap is sized larger than it needs (-Xms, or a \
             peak it has not given back). Lower -Xmx and -Xms, or let the GC give memory back (G1 with \
             -XX:G1PeriodicGCInterval, ZGC, Shenandoah). Only the pages the heap has touched are in the RSS.",
            size(committed.saturating_sub(objects))
        )
    } else if objects > committed {
        " The dump holds more than NMT's committed heap: they were taken at different moments.".to_string()
    } else {
        " The heap is mostly used.".to_string()
    };
    check(NativeCheckKind::HeapVsDump, committed, objects, head + &tail)
}

fn rss_vs_nmt(rss: u64, committed: u64) -> NativeCheck {
    let difference = delta(committed, rss);
    let head = format!("The RSS is {}; NMT's committed total is {}.", size(rss), size(committed));
    let tail = if untracked_is_large(difference, rss) {
        format!(
            " {} of the RSS is memory NMT does not track: malloc by native libraries (JNI code, compression, TLS, \
             drivers) and glibc's arenas, which keep freed memory per thread. Try MALLOC_ARENA_MAX=2 to bound the \
             arenas, or run with jemalloc (LD_PRELOAD) and its profiling (MALLOC_CONF=prof:true) to find who \
             allocates.",
            size(difference.unsigned_abs())
        )
    } else if difference < 0 {
        format!(
            " NMT counts {} more than is resident: memory committed but never touched (the heap's unused pages, \
             thread stacks) is in NMT's total and not in the RSS, so the part not tracked by NMT reads negative. \
             Memory outside NMT, if any, hides behind it: compare again once the heap is in use.",
            size(difference.unsigned_abs())
        )
    } else {
        " NMT tracks nearly all of it.".to_string()
    };
    check(NativeCheckKind::RssVsNmt, rss, committed, head + &tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: u64 = 1024;

    fn nmt() -> Nmt {
        Nmt::parse(
            "Total: reserved=300000KB, committed=150001KB
-                 Java Heap (reserved=200000KB, committed=100000KB)
-                     Other (reserved=40000KB, committed=40000KB)
-                    Thread (reserved=10000KB, committed=1000KB)
-                     Empty (reserved=10KB, committed=0KB)
-                      Code (reserved=50000KB, committed=9000KB)
",
        )
        .unwrap()
    }

    fn sum(native: &Native) -> i64 {
        native.breakdown.iter().map(|p| p.bytes).sum()
    }

    #[test]
    fn the_parts_add_up_to_the_rss() {
        let proc = ProcMemory { rss: Some(400_000 * KB), ..ProcMemory::default() };
        let dump = DumpFigures {
            jdk_direct: Some(10_000 * KB),
            netty_no_cleaner: Some(5_000 * KB),
            heap_bytes: Some(20_000 * KB),
            ..DumpFigures::default()
        };
        let native = section(&NativeInputs { nmt: Some(nmt()), proc: vec![proc] }, Some(&dump));
        assert_eq!(sum(&native), (400_000 * KB) as i64);
        let by = |kind| native.breakdown.iter().find(|p| p.kind == kind).unwrap().bytes;
        assert_eq!(by(PartKind::OtherUncounted), (25_000 * KB) as i64);
        assert_eq!(by(PartKind::NmtRounding), KB as i64, "the total's extra KB is named");
        assert_eq!(by(PartKind::NotTrackedByNmt), (249_999 * KB) as i64);
        assert!(native.breakdown.iter().all(|p| p.part != "Empty"), "nothing committed, no part");
        let checks: Vec<NativeCheckKind> = native.reconciliation.iter().map(|c| c.check).collect();
        assert_eq!(checks, [NativeCheckKind::OtherVsCounters, NativeCheckKind::HeapVsDump, NativeCheckKind::RssVsNmt]);
        assert!(native.reconciliation[0].reading.contains("24.4 MiB is allocated outside them"));
        assert!(native.reconciliation[1].reading.contains("sized larger than it needs"));
        assert!(native.reconciliation[2].reading.contains("MALLOC_ARENA_MAX=2"));
    }

    #[test]
    fn a_negative_remainder_is_named_not_hidden() {
        let proc = ProcMemory { rss: Some(100_000 * KB), ..ProcMemory::default() };
        let native = section(&NativeInputs { nmt: Some(nmt()), proc: vec![proc] }, None);
        assert_eq!(sum(&native), (100_000 * KB) as i64);
        let untracked = native.breakdown.last().unwrap();
        assert_eq!((untracked.kind, untracked.bytes), (PartKind::NotTrackedByNmt, -((50_001 * KB) as i64)));
        assert!(native.reconciliation[0].reading.contains("reads negative"));
        // Without a dump, "Other" is a category like the others.
        assert!(native.breakdown.iter().any(|p| p.part == "Other" && p.source == PartSource::Nmt));
    }

    #[test]
    fn without_nmt_the_rest_of_the_rss_is_one_part() {
        let proc = ProcMemory { rss: Some(100 * MIB), ..ProcMemory::default() };
        let dump = DumpFigures { jdk_direct: Some(10 * MIB), heap_bytes: Some(30 * MIB), ..DumpFigures::default() };
        let native = section(&NativeInputs { nmt: None, proc: vec![proc] }, Some(&dump));
        assert_eq!(sum(&native), (100 * MIB) as i64);
        assert_eq!(native.breakdown.last().unwrap().kind, PartKind::RestOfRss);
        assert!(native.nmt.is_none() && native.reconciliation.is_empty());
        // Without /proc, the parts add up to NMT's committed total.
        let native = section(&NativeInputs { nmt: Some(nmt()), proc: Vec::new() }, Some(&dump));
        assert_eq!(sum(&native), (150_001 * KB) as i64);
    }

    #[test]
    fn thresholds() {
        assert!(other_uncounted_is_large((8 * MIB) as i64, 32 * MIB));
        assert!(!other_uncounted_is_large((8 * MIB) as i64, 33 * MIB));
        assert!(!other_uncounted_is_large(-((8 * MIB) as i64), 0));
        assert!(untracked_is_large((64 * MIB) as i64, 640 * MIB));
        assert!(!untracked_is_large((64 * MIB) as i64, 641 * MIB));
        assert!(heap_is_oversized(64 * MIB, 32 * MIB));
        assert!(!heap_is_oversized(64 * MIB, 33 * MIB));
        assert!(!heap_is_oversized(16 * MIB, 0));
    }
}
