//! Findings on the process's memory, from the `native` section's reconciliations: each rule
//! fires where its check's difference is large (the thresholds beside the checks, in
//! `native/mod.rs`), and says what the difference means and what to try.

use crate::findings::{finding, Context};
use crate::report::{Finding, FindingKind, NativeCheck, NativeCheckKind, Role};
use crate::units::human_bytes as size;

fn checks<'r>(cx: &'r Context<'_>, kind: NativeCheckKind) -> impl Iterator<Item = &'r NativeCheck> {
    cx.report.native.iter().flat_map(|n| &n.reconciliation).filter(move |c| c.check == kind)
}

pub(crate) fn other_uncounted(cx: &Context<'_>) -> Vec<Finding> {
    checks(cx, NativeCheckKind::OtherVsCounters)
        .filter(|c| super::other_uncounted_is_large(c.difference, c.measured))
        .map(|c| {
            let bytes = c.difference.unsigned_abs();
            let mut f = finding(
                FindingKind::OtherUncounted,
                Role::Cause,
                format!("NMT's \"Other\" holds {} that no counter in the dump explains", size(bytes)),
                c.reading.clone(),
                bytes,
            );
            f.evidence.push(format!("NMT \"Other\" committed: {} bytes", c.measured));
            f.evidence.push(format!("the dump's counters: {} bytes", c.accounted));
            f
        })
        .collect()
}

pub(crate) fn not_tracked_by_nmt(cx: &Context<'_>) -> Vec<Finding> {
    checks(cx, NativeCheckKind::RssVsNmt)
        .filter(|c| super::untracked_is_large(c.difference, c.measured))
        .map(|c| {
            let bytes = c.difference.unsigned_abs();
            let mut f = finding(
                FindingKind::NotTrackedByNmt,
                Role::Cause,
                format!("{} of the RSS is memory NMT does not track", size(bytes)),
                c.reading.clone(),
                bytes,
            );
            f.evidence.push(format!("RSS: {} bytes", c.measured));
            f.evidence.push(format!("NMT committed: {} bytes", c.accounted));
            f
        })
        .collect()
}

pub(crate) fn heap_oversized(cx: &Context<'_>) -> Vec<Finding> {
    checks(cx, NativeCheckKind::HeapVsDump)
        .filter(|c| super::heap_is_oversized(c.measured, c.accounted))
        .map(|c| {
            let bytes = c.measured.saturating_sub(c.accounted);
            let mut f = finding(
                FindingKind::HeapOversized,
                Role::Cause,
                format!("The heap has {} committed for {} of objects", size(c.measured), size(c.accounted)),
                c.reading.clone(),
                bytes,
            );
            f.evidence.push(format!("NMT \"Java Heap\" committed: {} bytes", c.measured));
            f.evidence.push(format!("objects in the dump: {} bytes", c.accounted));
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::{section, DumpFigures, NativeInputs, Nmt, ProcMemory};
    use crate::report::Report;

    const MIB: u64 = 1 << 20;

    fn findings(nmt: &str, rss: u64, dump: DumpFigures) -> Vec<Finding> {
        let inputs = NativeInputs {
            nmt: Some(Nmt::parse(nmt).unwrap()),
            proc: vec![ProcMemory { rss: Some(rss), ..ProcMemory::default() }],
        };
        let report = Report { native: Some(section(&inputs, Some(&dump))), ..Report::empty() };
        let cx = Context { report: &report };
        [other_uncounted, not_tracked_by_nmt, heap_oversized].iter().flat_map(|rule| rule(&cx)).collect()
    }

    #[test]
    fn each_rule_fires_on_its_large_difference_only() {
        let nmt = "Total: reserved=1000MB, committed=300MB
-  Java Heap (reserved=512MB, committed=256MB)
-  Other (reserved=40MB, committed=40MB)
-  Thread (reserved=10MB, committed=4MB)
";
        let dump = DumpFigures { jdk_direct: Some(8 * MIB), heap_bytes: Some(200 * MIB), ..DumpFigures::default() };
        let found = findings(nmt, 400 * MIB, dump);
        let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::OtherUncounted, FindingKind::NotTrackedByNmt]);
        assert_eq!(found[0].bytes, 32 * MIB);
        assert_eq!(found[0].title, "NMT's \"Other\" holds 32.0 MiB that no counter in the dump explains");
        assert_eq!(found[1].bytes, 100 * MIB);
        assert!(found[1].detail.contains("jemalloc"), "{}", found[1].detail);

        let quiet = DumpFigures { jdk_direct: Some(40 * MIB), heap_bytes: Some(20 * MIB), ..DumpFigures::default() };
        let found = findings(nmt, 310 * MIB, quiet);
        let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FindingKind::HeapOversized]);
        assert_eq!(found[0].bytes, 236 * MIB);
        assert_eq!(found[0].title, "The heap has 256.0 MiB committed for 20.0 MiB of objects");
        assert!(found.iter().all(|f| f.role == Role::Cause && f.kind.is_process_memory()));
    }
}
