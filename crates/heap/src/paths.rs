//! Shortest paths from GC roots, spelled out.

use dumpscan_hprof::SubRecord;

use crate::{Heap, ObjectIndex, ObjectKind, Reachability};

impl Heap<'_> {
    /// The chain of objects from a GC root down to `object` (root first), along breadth-first
    /// parents; empty when nothing reaches it.
    pub fn path(&self, object: ObjectIndex) -> Vec<ObjectIndex> {
        along_parents(self.reach_with_path_of(object), object, self.len())
    }

    /// [`Heap::path`] of a few objects at once. Before the reachability of the whole heap is
    /// known, the walk from the roots stops at the level where the last of them is met: the
    /// same paths at a fraction of the cost when they lie near the roots.
    pub fn paths_to(&self, targets: &[ObjectIndex]) -> Vec<Vec<ObjectIndex>> {
        let near;
        let partial = self.partial().filter(|partial| targets.iter().all(|&t| partial.knows_path_of(t)));
        let reach = match (partial, self.reach.get()) {
            (Some(partial), _) => partial,
            (None, Some(reach)) => reach,
            (None, None) if self.partial().is_some() => self.reach(),
            (None, None) => match crate::reach::toward(&self.graph, &self.roots, targets) {
                Some(found) => {
                    near = found;
                    &near
                }
                None => self.reach(),
            },
        };
        targets.iter().map(|&t| along_parents(reach, t, self.len())).collect()
    }

    /// The end of the path to `object`: at most `limit` objects, the last one `object`, and
    /// whether that is the whole path (its first object a GC root). Empty when nothing reaches
    /// it. A table row needs only the ends of a path; walking whole paths of every object in a
    /// long linked list costs the square of its length.
    pub fn path_tail(&self, object: ObjectIndex, limit: usize) -> (Vec<ObjectIndex>, bool) {
        let reach = self.reach_with_path_of(object);
        let mut path = vec![object];
        let mut current = object;
        while let Some(parent) = reach.parent(current) {
            if path.len() >= limit.max(1) {
                path.reverse();
                return (path, false);
            }
            path.push(parent);
            current = parent;
        }
        if reach.root_of(current).is_none() {
            return (Vec::new(), true);
        }
        path.reverse();
        (path, true)
    }

    /// A path to `object` (from [`Heap::path`] or [`Heap::paths_to`]) spelled out step by
    /// step: the GC root, each reference, then the object; empty when there is no path.
    pub fn path_steps(&self, path: &[ObjectIndex], object: ObjectIndex) -> Vec<String> {
        let Some(&first) = path.first() else { return Vec::new() };
        let mut steps = Vec::with_capacity(path.len() + 1);
        if let Some(root) = self.roots.iter().find(|r| r.object == first) {
            steps.push(self.root_text(root));
        }
        steps.extend(path.windows(2).map(|pair| edge_label(self, pair[0], pair[1])));
        let object = object_text(self, object);
        // A sticky-class root already names its class.
        if steps.last() != Some(&object) {
            steps.push(object);
        }
        steps
    }

    /// The references along `path` (a part of a path, not starting at a root) and then the
    /// object: [`Heap::path_steps`] without the root.
    pub fn path_edges(&self, path: &[ObjectIndex], object: ObjectIndex) -> Vec<String> {
        let mut steps: Vec<String> = path.windows(2).map(|pair| edge_label(self, pair[0], pair[1])).collect();
        steps.push(object_text(self, object));
        steps
    }

    /// [`Heap::path_steps`] on one line: `root -> Class.field -> ... -> Class@0x...`.
    pub fn path_line(&self, path: &[ObjectIndex], object: ObjectIndex) -> String {
        match self.path_steps(path, object) {
            steps if steps.is_empty() => format!("{} (no path from a GC root)", object_text(self, object)),
            steps => steps.join(" -> "),
        }
    }
}

fn along_parents(reach: &Reachability, object: ObjectIndex, objects: usize) -> Vec<ObjectIndex> {
    let mut path = vec![object];
    let mut current = object;
    while let Some(parent) = reach.parent(current) {
        if path.len() > objects {
            break; // never loops on a consistent model; a guard all the same
        }
        path.push(parent);
        current = parent;
    }
    if reach.root_of(current).is_none() {
        return Vec::new();
    }
    path.reverse();
    path
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

/// `java.nio.DirectByteBuffer@0x7f001234`, or `class Foo` for a class object.
pub fn object_text(heap: &Heap<'_>, object: ObjectIndex) -> String {
    match heap.kind(object) {
        ObjectKind::Class { .. } => format!("class {}", heap.class_object_name(object).unwrap_or("?")),
        _ => format!("{}@0x{:x}", heap.class_name(object), heap.id(object)),
    }
}
