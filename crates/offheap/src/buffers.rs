//! JDK direct buffers: each `DirectByteBuffer` (and `DirectByteBufferR`) sorted into exactly
//! one class by its cleaner, attachment, address and reachability (docs/REPORT-SCHEMA.md says
//! the rules in the order they apply).

use dumpscan_heap::{Heap, ObjectIndex};

use crate::census::{is_strong, Census};
use rustc_hash::FxHashSet;

use crate::fields::{class_is, elements, int, is_set, object};
use crate::report::DirectBuffers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Owned,
    NoCleaner,
    TemporaryCache,
    Mapped,
    JvmMapped,
    View,
    Unreachable,
    InProgress,
    Failed,
    Stale,
    Freed,
}

impl Kind {
    /// Whether the buffer's capacity is direct memory the report attributes.
    pub(crate) fn counts(self) -> bool {
        matches!(self, Kind::Owned | Kind::NoCleaner | Kind::TemporaryCache | Kind::Unreachable)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Buffer {
    pub object: ObjectIndex,
    pub kind: Kind,
    pub capacity: u64,
    /// Whether a cleaner frees it (the JDK counts it in `java.nio.Bits`).
    pub has_cleaner: bool,
}

/// A cleaner still on the JDK's list whose buffer the GC already cleared: memory reserved
/// (or a file still mapped), no buffer object left (JDK 9+).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClearedCleaner {
    pub bytes: u64,
    /// It unmaps a file rather than freeing direct memory.
    pub mapping: bool,
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
                Kind::TemporaryCache => &mut s.temporary_cache,
                Kind::Mapped => &mut s.mapped,
                Kind::JvmMapped => &mut s.jvm_mapped,
                Kind::View => &mut s.views,
                Kind::Unreachable => &mut s.unreachable,
                Kind::InProgress => &mut s.in_progress,
                Kind::Failed => &mut s.failed,
                Kind::Stale => &mut s.stale_no_cleaner,
                Kind::Freed => &mut s.freed,
            };
            tally.add(b.capacity);
        }
        for c in &self.cleared {
            if c.mapping {
                s.mapped.add(c.bytes);
            } else {
                s.unreachable.add(c.bytes);
                s.cleared_cleaners.add(c.bytes);
            }
        }
        s
    }
}

pub(crate) fn classify(heap: &Heap<'_>, census: &Census) -> Classified {
    let cached = temporary_buffers(heap, census);
    let buffers =
        census.of("java.nio.DirectByteBuffer").iter().map(|&o| classify_one(heap, o, cached.contains(&o))).collect();
    let cleaners = census.of("jdk.internal.ref.Cleaner").iter().chain(census.of("sun.misc.Cleaner"));
    let cleared = cleaners.filter_map(|&c| cleared_cleaner(heap, c)).collect();
    Classified { buffers, cleared }
}

/// The buffers in the JDK's per-thread caches of temporary direct buffers
/// (`sun.nio.ch.Util$BufferCache.buffers`).
fn temporary_buffers(heap: &Heap<'_>, census: &Census) -> FxHashSet<ObjectIndex> {
    census
        .of("sun.nio.ch.Util$BufferCache")
        .iter()
        .filter_map(|&cache| object(heap, cache, "buffers"))
        .flat_map(|array| elements(heap, array))
        .flatten()
        .collect()
}

fn classify_one(heap: &Heap<'_>, buffer: ObjectIndex, in_temporary_cache: bool) -> Buffer {
    let capacity = int(heap, buffer, "capacity").unwrap_or(0).max(0) as u64;
    let strong = is_strong(heap, buffer);
    let cleaner = object(heap, buffer, "cleaner");
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
        // The constructor has not got its memory yet: it waits in `Bits.reserveMemory` (or
        // it failed there and the buffer is garbage). It owns nothing.
        None if int(heap, buffer, "address") == Some(0) && capacity > 0 && !is_set(heap, buffer, "fd") => {
            if strong {
                Kind::InProgress
            } else {
                Kind::Failed
            }
        }
        // An empty mapping: the JDK maps nothing and counts nothing.
        None if is_set(heap, buffer, "fd") && capacity == 0 => Kind::View,
        None if is_set(heap, buffer, "fd") => Kind::Mapped,
        None if is_jvm_mapping(heap, buffer) => Kind::JvmMapped,
        None if !strong => Kind::Stale,
        None if in_temporary_cache => Kind::TemporaryCache,
        None => Kind::NoCleaner,
    };
    Buffer { object: buffer, kind, capacity, has_cleaner: cleaner.is_some() }
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
    if !on_list || !referent_cleared || int(heap, thunk, "address") == Some(0) {
        return None;
    }
    if class_is(heap, thunk, "java.nio.DirectByteBuffer$Deallocator") {
        let bytes = int(heap, thunk, "capacity").or_else(|| int(heap, thunk, "size"))?.max(0) as u64;
        Some(ClearedCleaner { bytes, mapping: false })
    } else if heap.class_name(thunk).contains("Unmapper") {
        let bytes = int(heap, thunk, "cap").or_else(|| int(heap, thunk, "size"))?.max(0) as u64;
        Some(ClearedCleaner { bytes, mapping: true })
    } else {
        None
    }
}
