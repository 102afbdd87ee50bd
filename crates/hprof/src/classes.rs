//! Classes of a dump: names, super classes, field layouts, and estimated object sizes.

use rustc_hash::FxHashMap;

use crate::heap::{ClassDump, InstanceDump};
use crate::metadata::Metadata;
use crate::names::java_class_name;
use crate::text::decode_utf8;
use crate::types::{BasicType, IdSize, Value};

/// A class as the dump describes it, with names resolved.
#[derive(Debug, Clone)]
pub struct ClassInfo {
    /// The class object's id.
    pub id: u64,
    /// Java source name, e.g. `java.util.HashMap$Node` or `java.lang.Object[]`.
    pub name: String,
    /// The super class's id; 0 for `java.lang.Object` and interfaces.
    pub super_id: u64,
    /// The class loader's id; 0 for the boot loader.
    pub loader_id: u64,
    /// This class's own instance fields, in dump order (super classes' fields not included).
    pub fields: Vec<(Box<str>, BasicType)>,
    /// Static fields, by name, with their values.
    pub statics: Vec<(Box<str>, Value)>,
}

impl ClassInfo {
    /// Resolves the names of a CLASS DUMP.
    pub fn from_dump(class: &ClassDump<'_>, meta: &Metadata<'_>) -> ClassInfo {
        let name_of =
            |id: u64| -> Box<str> { meta.strings.get(&id).map(|b| decode_utf8(b)).unwrap_or_default().into() };
        let name = meta
            .class_name_ids
            .get(&class.id)
            .and_then(|name_id| meta.strings.get(name_id))
            .map(|b| java_class_name(&decode_utf8(b)))
            .unwrap_or_else(|| format!("<class 0x{:x}>", class.id));
        ClassInfo {
            id: class.id,
            name,
            super_id: class.super_id,
            loader_id: class.loader_id,
            fields: class.fields.iter().map(|(n, t)| (name_of(n), t)).collect(),
            statics: class.statics.iter().map(|(n, v)| (name_of(n), v)).collect(),
        }
    }

    /// A static field's value by name.
    pub fn static_value(&self, name: &str) -> Option<Value> {
        self.statics.iter().find(|(n, _)| &**n == name).map(|&(_, v)| v)
    }
}

/// How big objects really are in the JVM that wrote the dump. The file has no object headers
/// or padding and writes every reference at the id size, so sizes are estimated from the
/// HotSpot layout: a header, fields packed (references at `reference` bytes), rounded up to
/// `alignment`; arrays have a longer header holding the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeModel {
    /// Bytes of an object's header.
    pub object_header: u64,
    /// Bytes of an array's header, its length included.
    pub array_header: u64,
    /// Bytes of a reference field.
    pub reference: u64,
    /// Objects start at multiples of this many bytes.
    pub alignment: u64,
}

impl SizeModel {
    /// HotSpot's 64-bit layout with compressed class pointers (the default since JDK 8 for
    /// heaps under 32 GiB, and for any heap since JDK 15), with or without compressed oops;
    /// 4-byte ids mean a 32-bit JVM.
    pub fn hotspot(id_size: IdSize, compressed_oops: bool) -> SizeModel {
        match id_size {
            IdSize::Four => SizeModel { object_header: 8, array_header: 12, reference: 4, alignment: 8 },
            IdSize::Eight => SizeModel {
                object_header: 12,
                array_header: 16,
                reference: if compressed_oops { 4 } else { 8 },
                alignment: 8,
            },
        }
    }

    /// `bytes` rounded up to the alignment.
    pub fn align(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.alignment) * self.alignment
    }

    /// Size of a value of `ty` inside an object.
    pub fn value_size(&self, ty: BasicType) -> u64 {
        match ty {
            BasicType::Object => self.reference,
            other => other.size_in_file(IdSize::Eight) as u64,
        }
    }

    /// Size of an array of `length` elements of `element_bytes` each.
    pub fn array(&self, length: u64, element_bytes: u64) -> u64 {
        self.align(self.array_header + length * element_bytes)
    }
}

/// All classes of a dump, by class object id.
#[derive(Debug, Clone, Default)]
pub struct ClassTable {
    classes: FxHashMap<u64, ClassInfo>,
    /// Each name's class, the lowest id when several loaders define one name.
    by_name: FxHashMap<String, u64>,
    /// Super-class cycles found by [`ClassTable::cut_cycles`], each as its classes' names.
    cycles: Vec<Vec<String>>,
}

impl ClassTable {
    /// Adds a class (replacing one of the same id).
    pub fn insert(&mut self, class: ClassInfo) {
        let id = class.id;
        match self.by_name.get_mut(&class.name) {
            Some(known) => *known = (*known).min(id),
            None => {
                self.by_name.insert(class.name.clone(), id);
            }
        }
        self.classes.insert(id, class);
    }

    /// Once every class is in: finds the cycles in the super-class chains a corrupt (or
    /// hostile) dump can hold, and cuts each where the walk closed it (that class is left
    /// with no super class), so that every later walk up a chain ends at its root.
    /// Returns the cycles found, each as its classes' names, also kept for
    /// [`ClassTable::cycles`].
    pub fn cut_cycles(&mut self) -> &[Vec<String>] {
        // 0: not seen, 1: on the walk under way, 2: known to end.
        let mut state: FxHashMap<u64, u8> = FxHashMap::default();
        let mut ids: Vec<u64> = self.classes.keys().copied().collect();
        ids.sort_unstable();
        for start in ids {
            let mut walk = Vec::new();
            let mut at = start;
            while self.classes.contains_key(&at) {
                match state.get(&at).copied().unwrap_or(0) {
                    2 => break,
                    1 => {
                        let from = walk.iter().position(|&c| c == at).unwrap_or(0);
                        let names = walk[from..].iter().filter_map(|c| self.classes.get(c)).map(|c| c.name.clone());
                        self.cycles.push(names.collect());
                        if let Some(last) = walk.last().and_then(|c| self.classes.get_mut(c)) {
                            last.super_id = 0;
                        }
                        break;
                    }
                    _ => {
                        state.insert(at, 1);
                        walk.push(at);
                        at = self.classes.get(&at).map_or(0, |c| c.super_id);
                    }
                }
            }
            for c in walk {
                state.insert(c, 2);
            }
        }
        &self.cycles
    }

    /// The super-class cycles [`ClassTable::cut_cycles`] found and cut.
    pub fn cycles(&self) -> &[Vec<String>] {
        &self.cycles
    }

    /// The class with class object id `id`.
    pub fn get(&self, id: u64) -> Option<&ClassInfo> {
        self.classes.get(&id)
    }

    /// How many classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Every class, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &ClassInfo> {
        self.classes.values()
    }

    /// The class named `name` (a Java source name); of several (one per loader), the lowest id.
    pub fn by_name(&self, name: &str) -> Option<&ClassInfo> {
        self.by_name.get(name).and_then(|id| self.classes.get(id))
    }

    /// The class and its super classes, nearest first. A cycle in a corrupt dump ends the walk.
    pub fn ancestry(&self, id: u64) -> impl Iterator<Item = &ClassInfo> {
        let mut next = self.classes.get(&id);
        let mut budget = self.classes.len();
        std::iter::from_fn(move || {
            let class = next.take()?;
            budget = budget.checked_sub(1)?;
            next = self.classes.get(&class.super_id);
            Some(class)
        })
    }

    /// Whether `id` is `ancestor_name` or inherits from it.
    pub fn is_subclass_of(&self, id: u64, ancestor_name: &str) -> bool {
        self.ancestry(id).any(|c| c.name == ancestor_name)
    }

    /// Estimated shallow size of an instance of class `id`.
    pub fn instance_size(&self, id: u64, model: &SizeModel) -> u64 {
        model.align(self.unpadded_size(id, model))
    }

    /// Header and fields of an instance of class `id`, before alignment.
    fn unpadded_size(&self, id: u64, model: &SizeModel) -> u64 {
        let fields: u64 = self
            .ancestry(id)
            .map(|c| c.fields.iter().map(|&(_, ty)| model.value_size(ty)).sum::<u64>() + hidden_bytes(c, model))
            .sum();
        model.object_header + fields
    }

    /// Estimated size of the `java.lang.Class` object of `class`: HotSpot keeps a class's
    /// static fields inside it.
    pub fn mirror_size(&self, class: &ClassInfo, model: &SizeModel) -> u64 {
        let base = match self.by_name("java.lang.Class") {
            Some(mirror) => self.unpadded_size(mirror.id, model),
            None => model.object_header,
        };
        let statics: u64 = class.statics.iter().map(|(_, v)| model.value_size(v.basic_type())).sum();
        model.align(base + statics)
    }

    /// Every field of an instance with its value and the class that declares it, in the
    /// record's order (the class's own fields, then each super class's). Stops where the data
    /// runs out, or at a class the dump does not describe.
    pub fn field_values(&self, instance: &InstanceDump<'_>, id_size: IdSize) -> Vec<(&ClassInfo, &str, Value)> {
        let mut values = Vec::new();
        let mut rest = instance.fields;
        for class in self.ancestry(instance.class_id) {
            for (field, ty) in &class.fields {
                let Some((bytes, tail)) = rest.split_at_checked(ty.size_in_file(id_size)) else { return values };
                values.push((class, &**field, Value::read(*ty, bytes, id_size)));
                rest = tail;
            }
        }
        values
    }

    /// Reads field `name` of an instance: the nearest declaration wins, as in Java.
    /// `None` when no class in its ancestry declares it, or the data is too short.
    pub fn field(&self, instance: &InstanceDump<'_>, name: &str, id_size: IdSize) -> Option<Value> {
        let mut offset = 0usize;
        for class in self.ancestry(instance.class_id) {
            for (field, ty) in &class.fields {
                let len = ty.size_in_file(id_size);
                if &**field == name {
                    let bytes = instance.fields.get(offset..offset + len)?;
                    return Some(Value::read(*ty, bytes, id_size));
                }
                offset += len;
            }
        }
        None
    }
}

/// Bytes HotSpot adds to instances of a class that the dump does not show: fields the VM
/// injects into a few `java.lang` classes (native pointers and bookkeeping), and the padding
/// around `@Contended` fields of `Thread` (128 bytes on each side of the group).
fn hidden_bytes(class: &ClassInfo, model: &SizeModel) -> u64 {
    const POINTER: u64 = 8;
    let r = model.reference;
    match class.name.as_str() {
        // klass, array_klass, oop_size, static_oop_field_count, protection_domain, signers, source_file
        "java.lang.Class" => 2 * POINTER + 2 * 4 + 3 * r,
        "java.lang.ClassLoader" | "java.lang.Module" | "java.lang.invoke.MemberName" => POINTER,
        "java.lang.invoke.ResolvedMethodName" => POINTER + r,
        "java.lang.invoke.MethodHandleNatives$CallSiteContext" => POINTER + 8,
        // JDK 22+ keeps vmdependencies and last_cleanup on the call site itself.
        "java.lang.invoke.CallSite" if !class.fields.iter().any(|(name, _)| &**name == "context") => POINTER + 8,
        "java.lang.StackTraceElement" => r,
        "java.lang.Thread" if class.fields.iter().any(|(name, _)| &**name == "threadLocalRandomSeed") => 2 * 128,
        _ => 0,
    }
}
