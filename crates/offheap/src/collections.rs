//! Reading Java collections out of the heap: a map's entries, a queue's or list's elements.
//! Every walk is bounded: a corrupt dump's cycle ends where it comes back.

use dumpscan_heap::{Heap, ObjectIndex};
use rustc_hash::FxHashSet;

use crate::fields::{class_is, elements, int, is_a, object};

/// The elements of a queue, deque or list, oldest first: `ArrayDeque` (its ring from `head`),
/// `ConcurrentLinkedQueue`/`ConcurrentLinkedDeque` and `LinkedList` (their nodes' `item`),
/// `ArrayList`, `ArrayBlockingQueue`, `LinkedBlockingQueue`, and any queue whose nodes keep
/// their element in `value` or `item` from `head` or `first` (Lettuce's `HashIndexedQueue`).
/// `None` for a collection of another kind.
pub(crate) fn queue_elements(heap: &Heap<'_>, queue: ObjectIndex) -> Option<Vec<ObjectIndex>> {
    // An array-backed ring: the live slots from `head` on, wrapping (ArrayDeque,
    // ArrayBlockingQueue keep `head`/`takeIndex` and a count or `tail`).
    if let Some(array) = object(heap, queue, "elements").or_else(|| object(heap, queue, "items")) {
        let slots = elements(heap, array);
        let start = int(heap, queue, "head").or_else(|| int(heap, queue, "takeIndex")).unwrap_or(0);
        let start = usize::try_from(start).unwrap_or(0).min(slots.len());
        return Some(slots[start..].iter().chain(&slots[..start]).filter_map(|&e| e).collect());
    }
    // A list backed by an array and a size.
    if let (Some(array), Some(size)) = (object(heap, queue, "elementData"), int(heap, queue, "size")) {
        let size = usize::try_from(size).unwrap_or(0);
        return Some(elements(heap, array).into_iter().take(size).flatten().collect());
    }
    // Linked nodes.
    let first = ["head", "first"].iter().find_map(|f| object(heap, queue, f))?;
    let mut seen = FxHashSet::default();
    let mut found = Vec::new();
    let mut next = Some(first);
    while let Some(node) = next {
        if !seen.insert(node) {
            break;
        }
        if let Some(item) = object(heap, node, "item").or_else(|| object(heap, node, "value")) {
            found.push(item);
        }
        next = object(heap, node, "next");
    }
    Some(found)
}

/// How many maps inside maps to follow (`Properties` around its `ConcurrentHashMap`,
/// `Collections.unmodifiableMap` around a map): a bound against a corrupt dump's cycle.
const MAX_WRAPPERS: u8 = 4;

/// The entries of a `java.util.Map`, as (key, value) objects, in the map's own order: `HashMap`
/// and its subclasses (`LinkedHashMap`, tree bins), `Hashtable` (JDK 8's `Properties`),
/// `ConcurrentHashMap` (JDK 9+'s `Properties`, a resize in progress), the immutable `Map.of`
/// maps and the `Collections` wrappers. Entries with a null or dangling key or value are left
/// out; a map of another kind has none.
///
/// Each node is read at most once: a cyclic `next` chain, which only a corrupt dump has, ends
/// where it comes back, so the walk stays within the heap's object count.
pub(crate) fn map_entries(heap: &Heap<'_>, map: ObjectIndex) -> Vec<(ObjectIndex, ObjectIndex)> {
    let mut walk = MapWalk { heap, seen: FxHashSet::default(), entries: Vec::new() };
    walk.map(map, MAX_WRAPPERS);
    walk.entries
}

/// The state of one [`map_entries`] call.
struct MapWalk<'h, 'a> {
    heap: &'h Heap<'a>,
    /// Nodes read so far.
    seen: FxHashSet<ObjectIndex>,
    entries: Vec<(ObjectIndex, ObjectIndex)>,
}

impl MapWalk<'_, '_> {
    fn map(&mut self, map: ObjectIndex, wrappers: u8) {
        let heap = self.heap;
        // Maps that keep their entries in another map: JDK 9+'s `Properties` (a `Hashtable` in
        // name only, its own table empty) and `Collections.unmodifiableMap` and the like.
        let inner = if is_a(heap, map, "java.util.Properties") {
            object(heap, map, "map")
        } else if heap.class_name(map).starts_with("java.util.Collections$") {
            object(heap, map, "m")
        } else {
            None
        };
        if let Some(inner) = inner {
            if let Some(wrappers) = wrappers.checked_sub(1) {
                self.map(inner, wrappers);
            }
            return;
        }
        if class_is(heap, map, "java.util.ImmutableCollections$MapN") {
            // Keys and values alternate; an empty slot holds two nulls.
            let slots = object(heap, map, "table").map(|t| elements(heap, t)).unwrap_or_default();
            for pair in slots.chunks_exact(2) {
                if let [Some(key), Some(value)] = *pair {
                    self.entries.push((key, value));
                }
            }
        } else if class_is(heap, map, "java.util.ImmutableCollections$Map1") {
            if let (Some(key), Some(value)) = (object(heap, map, "k0"), object(heap, map, "v0")) {
                self.entries.push((key, value));
            }
        } else if ["java.util.HashMap", "java.util.Hashtable", "java.util.concurrent.ConcurrentHashMap"]
            .iter()
            .any(|class| is_a(heap, map, class))
        {
            if let Some(table) = object(heap, map, "table") {
                self.bins(table);
            }
        }
    }

    /// A hash table's bins, each a chain of nodes linked by `next`.
    fn bins(&mut self, table: ObjectIndex) {
        let heap = self.heap;
        let bins = elements(heap, table);
        // A `ConcurrentHashMap` being resized: bin `i` already moved holds a forwarding node,
        // and its entries are in bins `i` and `i + n` of the next table (read once).
        let mut next_table: Option<Vec<Option<ObjectIndex>>> = None;
        for (i, &head) in bins.iter().enumerate() {
            let Some(head) = head else { continue };
            let Some(forward) = object(heap, head, "nextTable") else {
                self.chain(head);
                continue;
            };
            let moved = next_table.get_or_insert_with(|| elements(heap, forward));
            for j in [Some(i), i.checked_add(bins.len())].into_iter().flatten() {
                if let Some(&Some(moved_head)) = moved.get(j) {
                    self.chain(moved_head);
                }
            }
        }
    }

    /// The entries of one bin.
    fn chain(&mut self, head: ObjectIndex) {
        let heap = self.heap;
        // A `ConcurrentHashMap` tree bin lists its nodes from `first`; `HashMap`'s tree nodes
        // keep their `next` links.
        let mut node = object(heap, head, "first").or(Some(head));
        while let Some(current) = node {
            if !self.seen.insert(current) {
                break;
            }
            let key = object(heap, current, "key");
            // `HashMap` and `Hashtable` call it `value`, `ConcurrentHashMap` `val`.
            let value = object(heap, current, "value").or_else(|| object(heap, current, "val"));
            if let (Some(key), Some(value)) = (key, value) {
                self.entries.push((key, value));
            }
            node = object(heap, current, "next");
        }
    }
}
