//! Reading the fields the rules need, where a missing field means "this version does not have
//! it": every reader returns an `Option`.

use dumpscan_heap::{Heap, ObjectIndex};
use dumpscan_hprof::{SubRecord, Value};

pub(crate) fn int(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> Option<i64> {
    heap.field(object, name)?.as_i64()
}

pub(crate) fn object(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> Option<ObjectIndex> {
    heap.field_object(object, name)
}

/// Whether the field exists and holds a non-null reference (even one the dump lacks).
pub(crate) fn is_set(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> bool {
    heap.field(object, name).and_then(|v| v.as_object()).is_some_and(|id| id != 0)
}

/// A counter as the JDK and Netty keep it: a primitive, an `AtomicLong`/`AtomicInteger`
/// (`value`), or a `LongAdder` (`base` plus each cell's `value`). `None` for null.
pub(crate) fn counter(heap: &Heap<'_>, value: Value) -> Option<i64> {
    match value {
        Value::Object(0) => None,
        Value::Object(id) => counter_object(heap, heap.index_of(id)?),
        other => other.as_i64(),
    }
}

pub(crate) fn counter_field(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> Option<i64> {
    counter(heap, heap.field(object, name)?)
}

fn counter_object(heap: &Heap<'_>, counter: ObjectIndex) -> Option<i64> {
    if let Some(value) = int(heap, counter, "value") {
        return Some(value);
    }
    let base = int(heap, counter, "base")?;
    let cells = object(heap, counter, "cells").map(|cells| elements(heap, cells)).unwrap_or_default();
    // A LongAdder: its base and cells, each as the dump has it, summed without wrapping.
    Some(cells.into_iter().flatten().filter_map(|cell| int(heap, cell, "value")).fold(base, i64::saturating_add))
}

/// The elements of an object array (`None` for null or dangling ones).
pub(crate) fn elements(heap: &Heap<'_>, array: ObjectIndex) -> Vec<Option<ObjectIndex>> {
    match heap.record(array) {
        Some(SubRecord::ObjectArray(a)) => a.elements.iter().map(|id| heap.index_of(id)).collect(),
        _ => Vec::new(),
    }
}

/// The Java class name of an object, without allocating for the common checks.
pub(crate) fn class_is(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> bool {
    heap.class_of(object).and_then(|c| heap.class_info(c)).is_some_and(|c| c.name == name)
}

/// Whether the object's class is `name` or a subclass of it.
pub(crate) fn is_a(heap: &Heap<'_>, object: ObjectIndex, name: &str) -> bool {
    heap.class_of(object).and_then(|c| heap.class_info(c)).is_some_and(|c| heap.classes.is_subclass_of(c.id, name))
}
