//! The object graph of a heap dump: every object numbered densely, its class, outgoing
//! references in flat arrays, GC roots with their detail, reachability by reference strength,
//! shortest paths from the roots, and the dominator tree with retained sizes.
//!
//! ```no_run
//! use dumpscan_hprof::Dump;
//! use dumpscan_heap::Heap;
//!
//! let dump = Dump::open("heap.hprof")?;
//! let heap = Heap::build(&dump)?;
//! let buffers = heap.instances_of("java.nio.DirectByteBuffer");
//! for &b in buffers.iter().take(3) {
//!     let capacity = heap.field(b, "capacity").and_then(|v| v.as_i64());
//!     println!("{} {:?}: {}", heap.class_name(b), capacity, heap.path_text(b));
//! }
//! # Ok::<(), dumpscan_hprof::Error>(())
//! ```
#![warn(missing_docs)]

mod bits;
mod blocked;
mod build;
mod dominators;
mod graph;
mod index;
mod indices;
mod layout;
mod offsets;
mod packed;
mod pages;
mod paths;
pub use paths::object_text;
mod reach;
mod reaching;
mod roots;
mod types;

pub use bits::BitSet;
pub use dominators::{Dominators, Retained};
pub use graph::{Csr, Subset};
pub use indices::{ClassIndex, ObjectIndex};
pub use layout::{Layout, RefField};
pub use reach::{compute as compute_reachability, Reach, Reachability};
pub use roots::{Frame, Root};

use dumpscan_hprof::{
    BasicType, ClassInfo, ClassTable, Dump, InstanceDump, Metadata, Result, SizeModel, SubRecord, Truncation, Value,
};
use index::IdIndex;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The id the object record at `offset` starts with, after its tag.
fn record_id(dump: &Dump, offset: u64) -> u64 {
    let id_size = dump.id_size();
    let at = usize::try_from(offset).unwrap_or(usize::MAX).saturating_add(1);
    dump.bytes().get(at..at.saturating_add(id_size.bytes())).map_or(0, |bytes| id_size.read(bytes))
}

/// What an object is, as far as its type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// An instance of a class.
    Instance {
        /// Its class.
        class: ClassIndex,
    },
    /// An array of references.
    ObjectArray {
        /// The array's class (`java.lang.Object[]`, ...).
        class: ClassIndex,
    },
    /// An array of a primitive type.
    PrimitiveArray(BasicType),
    /// A `java.lang.Class`: the class object of class `class`.
    Class {
        /// The class the object is the `java.lang.Class` of.
        class: ClassIndex,
    },
    /// An instance whose class the dump does not describe.
    Unknown,
}

/// What every object of a class shares, computed once.
#[derive(Debug, Clone, Copy)]
struct ClassFacts {
    instance_size: u64,
    /// Size of the class's own `java.lang.Class` object, statics included.
    mirror_size: u64,
    is_array: bool,
}

/// The group of a class in no group, for [`Heap::objects_by_group`].
pub const NO_GROUP: u8 = u8::MAX;

/// Per-object type codes: a class index, or one of these markers.
const TYPE_CLASS_OBJECT: u32 = u32::MAX;
const TYPE_UNKNOWN: u32 = u32::MAX - 1;
const TYPE_PRIMITIVE_BASE: u32 = u32::MAX - 32;

/// The heap model of one dump.
pub struct Heap<'a> {
    /// The dump's records apart from the heap: strings, classes loaded, stack traces.
    pub meta: Metadata<'a>,
    /// Every class dumped, by id.
    pub classes: ClassTable,
    /// Class object ids in class-index order, and the reverse map.
    class_ids: Vec<u64>,
    class_index: FxHashMap<u64, ClassIndex>,
    /// Reference layout of each class's instances, by class index.
    layouts: Vec<Layout>,
    /// Sizes and kind of each class, by class index.
    facts: Vec<ClassFacts>,
    ids: IdIndex,
    /// File offset of each object's sub-record.
    offsets: offsets::Offsets,
    /// Class index or marker of each object.
    types: types::TypeColumn,
    /// Strong references: every reference but `Reference.referent`.
    pub graph: Csr,
    /// `Reference.referent` edges: (reference object, referent, strength).
    pub referents: Vec<(ObjectIndex, ObjectIndex, Reach)>,
    /// The GC roots, as the dump lists them.
    pub roots: Vec<Root>,
    /// How shallow sizes are estimated, the same as the histogram's.
    pub size_model: SizeModel,
    /// Where the dump is cut short, if it is.
    pub truncation: Option<Truncation>,
    /// Reachability by reference strength, and the shortest strong path to each object:
    /// computed when first asked (the dominator tree does not need it).
    reach: std::sync::OnceLock<Reachability>,
    /// The reachability of the objects on the way to some ([`Heap::reach_toward`]).
    /// `None` when the marking gave up: `reach` then serves instead.
    partial: std::sync::OnceLock<Option<Reachability>>,
    /// How strongly every object is held, without parents: for the level of an object the
    /// partial reachability does not know, before the whole one is asked for.
    levels: std::sync::OnceLock<Reachability>,
    /// The objects that reach one of the targets of [`Heap::reach_toward`], ascending: a
    /// later [`Heap::reaching`] of targets among them looks no further.
    toward: std::sync::OnceLock<Vec<ObjectIndex>>,
}

impl<'a> Heap<'a> {
    /// Builds the model: two parallel passes over the heap records (reachability waits until
    /// asked for).
    pub fn build(dump: &'a Dump) -> Result<Heap<'a>> {
        build::build(dump, &|_| {})
    }

    /// Like [`Heap::build`], telling `log` as each phase ends.
    pub fn build_with_log(dump: &'a Dump, log: &dyn Fn(&str)) -> Result<Heap<'a>> {
        build::build(dump, log)
    }

    /// How strongly each object is held, and the breadth-first parents that give shortest
    /// paths from the GC roots; a breadth-first walk of the whole graph the first time.
    pub fn reach(&self) -> &Reachability {
        self.reach.get_or_init(|| reach::compute(&self.graph, &self.roots, &self.referents))
    }

    /// The reachability of the objects from which one of `targets` can be reached: the paths
    /// to the targets and to every object on them, and how strongly each of them is held,
    /// found by a walk from the roots over those objects alone (a path from a root to a
    /// target passes through them only), in a few bytes for each of them rather than five
    /// bytes an object. [`Heap::level`] and the paths ([`Heap::path`]) of other objects walk
    /// the whole heap when first asked. Once known, it is what it is.
    pub fn reach_toward(&self, targets: &[ObjectIndex]) -> &Reachability {
        let partial = self.partial.get_or_init(|| {
            // Every object counts as held: the marking needs no walk from the roots first.
            let members = self.reaching_by(targets, Reach::Unreachable, &|_| Reach::Unreachable)?;
            let _ = self.toward.set(graph::Subset::new(&members).members().collect());
            Some(reach::within(&self.graph, &self.roots, &self.referents, &members))
        });
        partial.as_ref().unwrap_or_else(|| self.reach())
    }

    /// The reachability of [`Heap::reach_toward`], when it was asked and found one.
    fn partial(&self) -> Option<&Reachability> {
        self.partial.get().and_then(Option::as_ref)
    }

    /// How strongly `object` is held: from [`Heap::reach_toward`] when it knows the object,
    /// else from a walk of the whole heap (the one of [`Heap::reach`] once made).
    pub fn level(&self, object: ObjectIndex) -> Reach {
        match self.partial() {
            Some(partial) if partial.knows_level_of(object) => partial.level(object),
            _ => match self.reach.get() {
                Some(reach) => reach.level(object),
                None => {
                    self.levels.get_or_init(|| reach::levels(&self.graph, &self.roots, &self.referents)).level(object)
                }
            },
        }
    }

    /// The root entry (index into [`Heap::roots`]) if `object` is a GC root: its last, as in
    /// [`Reachability::root_of`].
    pub fn root_of(&self, object: ObjectIndex) -> Option<usize> {
        self.roots.iter().rposition(|r| r.object == object)
    }

    /// A reachability that knows the path to `object`.
    fn reach_with_path_of(&self, object: ObjectIndex) -> &Reachability {
        match self.partial() {
            Some(partial) if partial.knows_path_of(object) => partial,
            _ => self.reach(),
        }
    }

    /// The dump the model was built from.
    pub fn dump(&self) -> &'a Dump {
        self.meta.dump()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the dump holds no objects.
    pub fn is_empty(&self) -> bool {
        self.types.len() == 0
    }

    /// Every object, in index order.
    pub fn objects(&self) -> impl DoubleEndedIterator<Item = ObjectIndex> + ExactSizeIterator {
        (0..self.types.len() as u32).map(ObjectIndex::new)
    }

    /// [`Heap::objects`] for a parallel pass.
    pub fn par_objects(&self) -> impl IndexedParallelIterator<Item = ObjectIndex> {
        (0..self.types.len() as u32).into_par_iter().map(ObjectIndex::new)
    }

    /// The object's id in the dump (its address), read back from its record.
    pub fn id(&self, object: ObjectIndex) -> u64 {
        self.ids.id(object.get(), |o| self.record_id(o))
    }

    /// The object with this id, if the dump has it.
    pub fn index_of(&self, id: u64) -> Option<ObjectIndex> {
        self.ids.index_of(id, |o| self.record_id(o)).map(ObjectIndex::new)
    }

    /// The model keeps no ids of its own once the references are resolved.
    fn record_id(&self, object: u32) -> u64 {
        record_id(self.dump(), self.offsets.get(object))
    }

    /// Where the object's record starts in the dump.
    pub fn offset(&self, object: ObjectIndex) -> u64 {
        self.offsets.get(object.get())
    }

    /// What the object is: an instance, an array, a class.
    pub fn kind(&self, object: ObjectIndex) -> ObjectKind {
        match self.types.get(object.index()) {
            TYPE_CLASS_OBJECT => ObjectKind::Class {
                class: self.class_index.get(&self.id(object)).copied().unwrap_or(ClassIndex::new(TYPE_UNKNOWN)),
            },
            TYPE_UNKNOWN => ObjectKind::Unknown,
            t if t >= TYPE_PRIMITIVE_BASE => ObjectKind::PrimitiveArray(
                BasicType::from_code((t - TYPE_PRIMITIVE_BASE) as u8).unwrap_or(BasicType::Byte),
            ),
            class if self.facts.get(class as usize).is_some_and(|f| f.is_array) => {
                ObjectKind::ObjectArray { class: ClassIndex::new(class) }
            }
            class => ObjectKind::Instance { class: ClassIndex::new(class) },
        }
    }

    /// The class index of an instance or object array.
    pub fn class_of(&self, object: ObjectIndex) -> Option<ClassIndex> {
        match self.kind(object) {
            ObjectKind::Instance { class } | ObjectKind::ObjectArray { class } => Some(class),
            _ => None,
        }
    }

    /// What the dump says of a class.
    pub fn class_info(&self, class: ClassIndex) -> Option<&ClassInfo> {
        self.classes.get(*self.class_ids.get(class.index())?)
    }

    /// The class with this class object id.
    pub fn class_index_by_id(&self, class_id: u64) -> Option<ClassIndex> {
        self.class_index.get(&class_id).copied()
    }

    /// Number of classes.
    pub fn class_count(&self) -> usize {
        self.class_ids.len()
    }

    /// Every class, in index order.
    pub fn class_indices(&self) -> impl DoubleEndedIterator<Item = ClassIndex> + ExactSizeIterator {
        (0..self.class_ids.len() as u32).map(ClassIndex::new)
    }

    /// The Java name of an object's type: `java.lang.String`, `byte[]`, `java.lang.Class`.
    pub fn class_name(&self, object: ObjectIndex) -> String {
        match self.kind(object) {
            ObjectKind::Instance { class } | ObjectKind::ObjectArray { class } => {
                self.class_info(class).map(|c| c.name.clone()).unwrap_or_else(|| "<unknown class>".into())
            }
            ObjectKind::PrimitiveArray(t) => format!("{}[]", t.java_name()),
            ObjectKind::Class { .. } => "java.lang.Class".into(),
            ObjectKind::Unknown => "<unknown class>".into(),
        }
    }

    /// A class object's own name (for `java.lang.Class` objects), e.g. for static-field roots.
    pub fn class_object_name(&self, object: ObjectIndex) -> Option<&str> {
        match self.kind(object) {
            ObjectKind::Class { class } => self.class_info(class).map(|c| c.name.as_str()),
            _ => None,
        }
    }

    /// Groups objects by type for per-class sums: one group per class, one for class objects,
    /// one per primitive array type, one for unknown classes. See [`Heap::type_group_name`].
    pub fn type_group(&self, object: ObjectIndex) -> usize {
        let classes = self.class_ids.len();
        match self.types.get(object.index()) {
            TYPE_CLASS_OBJECT => classes,
            TYPE_UNKNOWN => classes + 1,
            t if t >= TYPE_PRIMITIVE_BASE => classes + 2 + (t - TYPE_PRIMITIVE_BASE) as usize,
            class => class as usize,
        }
    }

    /// Number of groups [`Heap::type_group`] hands out.
    pub fn type_group_count(&self) -> usize {
        self.class_ids.len() + 2 + 12
    }

    /// The Java name of a type group.
    pub fn type_group_name(&self, group: usize) -> String {
        let classes = self.class_ids.len();
        match group {
            g if g < classes => self.class_info(ClassIndex::new(g as u32)).map(|c| c.name.clone()).unwrap_or_default(),
            g if g == classes => "java.lang.Class".into(),
            g if g == classes + 1 => "<unknown class>".into(),
            g => BasicType::from_code((g - classes - 2) as u8)
                .map(|t| format!("{}[]", t.java_name()))
                .unwrap_or_default(),
        }
    }

    /// Objects whose class is exactly `name`.
    pub fn instances_of(&self, name: &str) -> Vec<ObjectIndex> {
        let group_of_class: Vec<u8> = self
            .class_indices()
            .map(|c| if self.class_info(c).is_some_and(|i| i.name == name) { 0 } else { NO_GROUP })
            .collect();
        match group_of_class.contains(&0) {
            true => self.objects_by_group(&group_of_class, 1).swap_remove(0),
            false => Vec::new(),
        }
    }

    /// The objects of each group of classes, each ascending: `group_of_class[c]` is the
    /// group of class index `c`, [`NO_GROUP`] for none (class objects and primitive arrays
    /// are in none). One parallel pass over every object's type.
    pub fn objects_by_group(&self, group_of_class: &[u8], groups: usize) -> Vec<Vec<ObjectIndex>> {
        let n = self.types.len();
        let chunks: Vec<Vec<Vec<ObjectIndex>>> = (0..n.div_ceil(index::CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut found = vec![Vec::new(); groups];
                let positions = c * index::CHUNK..((c + 1) * index::CHUNK).min(n);
                self.types.for_each(positions, |o, code| {
                    let group = group_of_class.get(code as usize).and_then(|&g| found.get_mut(g as usize));
                    if let Some(objects) = group {
                        objects.push(ObjectIndex::new(o as u32));
                    }
                });
                found
            })
            .collect();
        (0..groups).map(|g| chunks.iter().flat_map(|found| found[g].iter().copied()).collect()).collect()
    }

    /// Shallow size of an object, estimated as the histogram does.
    pub fn shallow_size(&self, object: ObjectIndex) -> u64 {
        let model = &self.size_model;
        // Arrays' lengths are not kept (4 bytes an object): they are read back from the record.
        let length = || self.dump().array_length_at(self.offset(object)).unwrap_or(0) as u64;
        match self.kind(object) {
            ObjectKind::Instance { class } => self.facts[class.index()].instance_size,
            ObjectKind::Class { class } => self.facts.get(class.index()).map_or(model.object_header, |f| f.mirror_size),
            ObjectKind::ObjectArray { .. } => model.array(length(), model.reference),
            ObjectKind::PrimitiveArray(t) => model.array(length(), model.value_size(t)),
            ObjectKind::Unknown => model.object_header,
        }
    }

    /// The object's sub-record, re-read from the dump.
    pub fn record(&self, object: ObjectIndex) -> Option<SubRecord<'a>> {
        self.dump().sub_record_at(self.offset(object)).ok()
    }

    /// The instance dump of an object, if it is an instance.
    pub fn instance(&self, object: ObjectIndex) -> Option<InstanceDump<'a>> {
        match self.record(object)? {
            SubRecord::Instance(i) => Some(i),
            _ => None,
        }
    }

    /// A field of an instance by name (the nearest declaration wins). `None` when the class
    /// has no such field: a different version of the class, not an error.
    pub fn field(&self, object: ObjectIndex, name: &str) -> Option<Value> {
        self.classes.field(&self.instance(object)?, name, self.dump().id_size())
    }

    /// An object-valued field, as an object index (`None` for null or dangling).
    pub fn field_object(&self, object: ObjectIndex, name: &str) -> Option<ObjectIndex> {
        self.index_of(self.field(object, name)?.as_object()?)
    }

    /// A static field of class `class_name`.
    pub fn static_field(&self, class_name: &str, field: &str) -> Option<Value> {
        self.classes.by_name(class_name)?.static_value(field)
    }

    /// Outgoing strong references of an object.
    pub fn references(&self, object: ObjectIndex) -> &[ObjectIndex] {
        self.graph.successors(object)
    }

    /// The reference layout of a class's instances.
    pub fn layout(&self, class: ClassIndex) -> Option<&Layout> {
        self.layouts.get(class.index())
    }

    /// How `from` refers to `to`: `Class.field`, `Class[index]`, `static Class.FIELD`,
    /// `Class.<super>`, read back from `from`'s sub-record.
    pub fn edge_label(&self, from: ObjectIndex, to: ObjectIndex) -> String {
        paths::edge_label(self, from, to)
    }

    /// The shortest strong path from a GC root, as text: `root -> Class.field -> ... -> Class`.
    pub fn path_text(&self, object: ObjectIndex) -> String {
        self.path_line(&self.path(object), object)
    }
}
