//! The off-heap report: who holds a JVM's direct memory. Reads the counters the process kept
//! (`java.nio.Bits`, Netty's `PlatformDependent`), sorts every direct buffer into one class,
//! reads Netty's pools, attributes every native byte found to one retainer (a path from a GC
//! root, an allocator, or garbage awaiting GC), and says in plain words what stands out.
//!
//! ```no_run
//! let report = dumpscan_offheap::analyze("heap.hprof", &dumpscan_offheap::Options::default())?;
//! for retainer in report.retainers.iter().take(3) {
//!     println!("{} bytes: {} -> {}", retainer.bytes, retainer.root, retainer.path.join(" -> "));
//! }
//! # Ok::<(), dumpscan_hprof::Error>(())
//! ```

#![warn(missing_docs)]

mod allocations;
mod buffers;
mod census;
mod channels;
mod collections;
mod counters;
pub mod diff;
mod dominance;
mod fields;
mod findings;
mod jvm;
mod libraries;
pub mod native;
mod netty;
mod oom;
mod packs;
mod report;
mod retainers;
pub mod units;

use std::path::Path;

use dumpscan_heap::Heap;
use dumpscan_hprof::{Dump, Result};
use rustc_hash::FxHashSet;

pub use report::*;

/// What the analysis does beyond the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows of `largest` and `dominators`.
    pub top: usize,
    /// An out-of-memory message to decode against the dump's counters.
    pub error: Option<String>,
    /// Compute the dominator tree for `dominators` (the costliest step on a big dump).
    pub dominators: bool,
    /// Allow data from the dump in the report (host names of peers).
    pub show_values: bool,
    /// NMT's report and /proc files read beside the dump, for the report's `native` section.
    pub native: Option<native::NativeInputs>,
}

impl Default for Options {
    fn default() -> Options {
        Options { top: 20, error: None, dominators: true, show_values: false, native: None }
    }
}

/// Opens a dump (plain or gzip), builds its heap model and reports on its off-heap memory.
pub fn analyze(path: impl AsRef<Path>, options: &Options) -> Result<Report> {
    let dump = Dump::open(path.as_ref())?;
    let heap = Heap::build_with_log(&dump, &|_| {})?;
    Ok(analyze_heap(&heap, &path.as_ref().display().to_string(), options, &|_| {}))
}

/// The report on a heap model already built; `log` hears as each phase ends.
pub fn analyze_heap(heap: &Heap<'_>, path: &str, options: &Options, log: &dyn Fn(&str)) -> Report {
    let dump = heap.dump();
    let census = census::Census::take(heap);
    // Every path the report prints leads to an object some pack reads, or to one on the way.
    heap.reach_toward(&census.everything());
    log(&format!("walked reachability from {} GC roots", heap.roots.len()));
    let classified = buffers::classify(heap, &census);
    log("classified the direct buffers");
    let netty = netty::read(heap, &census);
    log("read Netty's pools");
    let counters = Counters { jdk: counters::jdk(heap), netty: counters::netty(heap) };
    let watched: FxHashSet<_> = census.of("io.netty.channel.ChannelOutboundBuffer").iter().copied().collect();
    let roles = packs::Roles::of(heap);
    let owners = channels::owners(heap, &census);
    let attribution = retainers::attribute(heap, &roles, &classified, &netty, &watched, &owners);
    log("attributed native memory to retainers");
    let dominators = if options.dominators {
        let rows = retainers::native_dominators(heap, &classified, options.top);
        log("computed native memory retained through the dominator tree");
        rows
    } else {
        Vec::new()
    };
    let direct_buffers = classified.summary();
    let chunk_sizes: Vec<u64> =
        netty.allocators.iter().filter_map(|(_, a)| u64::try_from(a.chunk_size?).ok()).collect();
    let mut report = Report {
        schema: Schema,
        dump: DumpInfo {
            path: path.to_string(),
            format: format!("JAVA PROFILE {}", dump.header().version),
            id_size: dump.id_size().bytes() as u32,
            bytes: dump.bytes().len() as u64,
            truncated: heap.truncation.is_some(),
            objects: heap.len() as u64,
            created: units::timestamp(dump.header().timestamp_ms),
            jvm: jvm::read(heap),
        },
        reconciliation: counters::reconcile(&counters, &direct_buffers, &classified, &netty),
        error: options.error.as_deref().and_then(|e| oom::decode(e, &counters, &chunk_sizes)),
        native: options.native.as_ref().filter(|inputs| !inputs.is_empty()).map(|inputs| {
            let mut figures = native::DumpFigures::of(&counters, &direct_buffers);
            let (all, live) = heap_bytes(heap);
            (figures.heap_bytes, figures.live_heap_bytes) = (Some(all), Some(live));
            log("summed the heap's objects for the native breakdown");
            native::section(inputs, Some(&figures))
        }),
        counters,
        direct_buffers,
        native_bytes: attribution.total,
        allocations_in_progress: allocations::in_progress(heap, &classified, &chunk_sizes),
        largest: retainers::largest(heap, &classified, &netty, &attribution, options.top),
        netty: netty.allocators.iter().map(|(_, a)| a.clone()).collect(),
        channels: channels::pending(heap, &census, &attribution.through, &owners, options.show_values),
        clients: {
            let cx = packs::ReadContext {
                heap,
                census: &census,
                through: &attribution.through,
                show_values: options.show_values,
            };
            packs::PACKS.iter().filter_map(|pack| pack.read(&cx)).collect()
        },
        retainers: attribution.retainers,
        dominators,
        findings: Vec::new(),
    };
    report.findings = findings::find(&findings::Context { report: &report });
    report
}

/// Shallow bytes of every object in the heap model, and of the strongly reachable ones.
fn heap_bytes(heap: &Heap<'_>) -> (u64, u64) {
    use rayon::prelude::*;
    heap.par_objects()
        .map(|object| {
            let size = heap.shallow_size(object);
            (size, if heap.level(object) == dumpscan_heap::Reach::Strong { size } else { 0 })
        })
        .reduce(|| (0, 0), |a, b| (a.0.saturating_add(b.0), a.1.saturating_add(b.1)))
}
