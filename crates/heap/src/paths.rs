//! Shortest paths from GC roots, spelled out.

use dumpscan_hprof::SubRecord;

use crate::{Heap, ObjectIndex, ObjectKind};

impl Heap<'_> {
    /// The chain of objects from a GC root down to `object` (root first), along breadth-first
    /// parents; empty when nothing reaches it.
    pub fn path(&self, object: ObjectIndex) -> Vec<ObjectIndex> {
        let mut path = vec![object];
        let mut current = object;
        while let Some(parent) = self.reach().parent(current) {
            if path.len() > self.len() {
                break; // never loops on a consistent model; a guard all the same
            }
            path.push(parent);
            current = parent;
        }
        if self.reach().root_of(current).is_none() {
            return Vec::new();
        }
        path.reverse();
        path
    }
}

/// Strips one `[]` from an array class name: `java.lang.Object[]` → `java.lang.Object`.
fn element_name(array_class: &str) -> &str {
    array_class.strip_suffix("[]").unwrap_or(array_class)
}

pub(crate) fn edge_label(heap: &Heap<'_>, from: ObjectIndex, to: ObjectIndex) -> String {
    let target = heap.id(to);
    let id_size = heap.dump().id_size();
    let class_name = heap.class_name(from);
    match heap.record(from) {
        Some(SubRecord::Instance(i)) => {
            let layout = heap.class_of(from).and_then(|c| heap.layout(c));
            let field = layout.and_then(|l| {
                l.references.iter().find(|f| {
                    let at = f.offset as usize;
                    i.fields.get(at..at + id_size.bytes()).is_some_and(|b| id_size.read(b) == target)
                })
            });
            match field {
                Some(f) => format!("{class_name}.{}", f.name),
                None => format!("{class_name}.?"),
            }
        }
        Some(SubRecord::ObjectArray(a)) => match a.elements.iter().position(|e| e == target) {
            Some(i) => format!("{}[{i}]", element_name(&class_name)),
            None => format!("{}[?]", element_name(&class_name)),
        },
        Some(SubRecord::Class(c)) => {
            let name = heap.class_object_name(from).unwrap_or("?");
            if c.super_id == target {
                return format!("{name}.<super>");
            }
            if c.loader_id == target {
                return format!("{name}.<classloader>");
            }
            let info = heap.class_index_by_id(c.id).and_then(|i| heap.class_info(i));
            let field = info.and_then(|info| info.statics.iter().find(|(_, v)| v.as_object() == Some(target)));
            match field {
                Some((field, _)) => format!("static {name}.{field}"),
                None => format!("{name}.?"),
            }
        }
        _ => format!("{class_name}.?"),
    }
}

pub(crate) fn path_text(heap: &Heap<'_>, object: ObjectIndex) -> String {
    let path = heap.path(object);
    let Some(&first) = path.first() else {
        return format!("{} (no path from a GC root)", object_text(heap, object));
    };
    let mut parts = Vec::with_capacity(path.len() + 1);
    if let Some(i) = heap.reach().root_of(first) {
        parts.push(heap.root_text(&heap.roots[i]));
    }
    for pair in path.windows(2) {
        parts.push(edge_label(heap, pair[0], pair[1]));
    }
    let object = object_text(heap, object);
    // A sticky-class root already names its class.
    if parts.last() != Some(&object) {
        parts.push(object);
    }
    parts.join(" -> ")
}

/// `java.nio.DirectByteBuffer@0x7f001234`, or `class Foo` for a class object.
pub fn object_text(heap: &Heap<'_>, object: ObjectIndex) -> String {
    match heap.kind(object) {
        ObjectKind::Class { .. } => format!("class {}", heap.class_object_name(object).unwrap_or("?")),
        _ => format!("{}@0x{:x}", heap.class_name(object), heap.id(object)),
    }
}
