//! JDK direct buffers: each `DirectByteBuffer` (and `DirectByteBufferR`) sorted into exactly
//! one class by its cleaner, attachment and reachability (see
//! ../shared/reference/offheap-objects.md for the rules and the traps).

use dumpscan_heap::{Heap, ObjectIndex};

use crate::census::{is_strong, Census};
use crate::fields::{class_is, int, is_set, object};
use crate::report::DirectBuffers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Owned,
    NoCleaner,
    Mapped,
    View,
    Unreachable,
    Stale,
    Freed,
}

impl Kind {
    /// Whether the buffer's capacity is direct memory the report attributes.
    pub(crate) fn counts(self) -> bool {
        matches!(self, Kind::Owned | Kind::NoCleaner | Kind::Unreachable)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Owned => "owned",
            Kind::NoCleaner => "no_cleaner",
            Kind::Mapped => "mapped",
            Kind::View => "view",
            Kind::Unreachable => "unreachable",
            Kind::Stale => "stale_no_cleaner",
            Kind::Freed => "freed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Buffer {
    pub object: ObjectIndex,
    pub kind: Kind,
    pub capacity: u64,
    /// Whether a cleaner frees it (the JDK counts it in `java.nio.Bits`).
    pub has_cleaner: bool,
    /// One of the JVM's own file mappings (runtime image, performance counters).
    pub jvm_mapping: bool,
}

/// A cleaner still on the JDK's list whose buffer the GC already cleared: memory reserved,
/// no buffer object left (JDK 9+).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClearedCleaner {
    pub bytes: u64,
}

pub(crate) struct Classified {
    pub buffers: Vec<Buffer>,
    pub cleared: Vec<ClearedCleaner>,
}

impl Classified {
    pub(crate) fn summary(&self) -> DirectBuffers {
        let mut s = DirectBuffers::default();
        for b in &self.buffers {
            let tally = match b.kind {
                Kind::Owned => &mut s.owned,
                Kind::NoCleaner => &mut s.no_cleaner,
                Kind::Mapped => &mut s.mapped,
                Kind::View => &mut s.views,
                Kind::Unreachable => &mut s.unreachable,
                Kind::Stale => &mut s.stale_no_cleaner,
                Kind::Freed => &mut s.freed,
            };
            tally.add(b.capacity);
        }
        for c in &self.cleared {
            s.unreachable.add(c.bytes);
            s.cleared_cleaners.add(c.bytes);
        }
        s
    }
}

pub(crate) fn classify(heap: &Heap<'_>, census: &Census) -> Classified {
    let buffers = census.of("java.nio.DirectByteBuffer").iter().map(|&o| classify_one(heap, o)).collect();
    let cleaners = census.of("jdk.internal.ref.Cleaner").iter().chain(census.of("sun.misc.Cleaner"));
    let cleared = cleaners.filter_map(|&c| cleared_cleaner(heap, c)).collect();
    Classified { buffers, cleared }
}

fn classify_one(heap: &Heap<'_>, buffer: ObjectIndex) -> Buffer {
    let capacity = int(heap, buffer, "capacity").unwrap_or(0).max(0) as u64;
    let strong = is_strong(heap, buffer);
    let cleaner = object(heap, buffer, "cleaner");
    let mut jvm_mapping = false;
    let kind = match cleaner {
        Some(cleaner) => {
            let thunk = object(heap, cleaner, "thunk");
            let removed = object(heap, cleaner, "next") == Some(cleaner)
                || thunk.and_then(|t| int(heap, t, "address")) == Some(0);
            let unmapper = thunk.is_some_and(|t| heap.class_name(t).contains("Unmapper"));
            if removed {
                Kind::Freed
            } else if unmapper || is_set(heap, buffer, "fd") {
                Kind::Mapped
            } else if strong {
                Kind::Owned
            } else {
                Kind::Unreachable
            }
        }
        None if is_set(heap, buffer, "att") => Kind::View,
        None if is_set(heap, buffer, "fd") => Kind::Mapped,
        None if is_jvm_mapping(heap, buffer) => {
            jvm_mapping = true;
            Kind::Mapped
        }
        None if strong => Kind::NoCleaner,
        None => Kind::Stale,
    };
    Buffer { object: buffer, kind, capacity, has_cleaner: cleaner.is_some(), jvm_mapping }
}

/// The JVM's own file mappings wrapped in buffers without a cleaner: the runtime image
/// (`lib/modules`, held by `jdk.internal.jimage`) and the performance-counter file
/// (`jdk.internal.perf`, `sun.misc.Perf`). Counting them as direct memory would overstate it.
fn is_jvm_mapping(heap: &Heap<'_>, buffer: ObjectIndex) -> bool {
    heap.path(buffer).iter().any(|&o| {
        let name = heap.class_name(o);
        let name = heap.class_object_name(o).unwrap_or(&name);
        name.starts_with("jdk.internal.jimage.")
            || name.starts_with("jdk.internal.perf.")
            || name.starts_with("sun.misc.Perf")
    })
}

fn cleared_cleaner(heap: &Heap<'_>, cleaner: ObjectIndex) -> Option<ClearedCleaner> {
    let on_list = object(heap, cleaner, "next") != Some(cleaner);
    let referent_cleared = heap.field(cleaner, "referent")?.as_object() == Some(0);
    let thunk = object(heap, cleaner, "thunk")?;
    if !on_list || !referent_cleared || !class_is(heap, thunk, "java.nio.DirectByteBuffer$Deallocator") {
        return None;
    }
    if int(heap, thunk, "address") == Some(0) {
        return None;
    }
    let bytes = int(heap, thunk, "capacity").or_else(|| int(heap, thunk, "size"))?.max(0) as u64;
    Some(ClearedCleaner { bytes })
}
