//! One pass over all objects that sorts out the instances every rule looks at, and one pass
//! over all references that finds who points at a chosen few.

use dumpscan_heap::{BitSet, Heap, ObjectIndex, Reach, NO_GROUP};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::packs::PACKS;

/// Instances of each class the packs read (each with its subclasses), found in one pass.
pub(crate) struct Census {
    classes: Vec<&'static str>,
    instances: Vec<Vec<ObjectIndex>>,
}

impl Census {
    pub(crate) fn take(heap: &Heap<'_>) -> Census {
        let classes: Vec<&'static str> = PACKS.iter().flat_map(|pack| pack.classes()).copied().collect();
        let mut group_of_class = vec![NO_GROUP; heap.class_count()];
        for (class, group) in heap.class_indices().zip(&mut group_of_class) {
            let Some(info) = heap.class_info(class) else { continue };
            if let Some(i) = classes.iter().position(|name| heap.classes.is_subclass_of(info.id, name)) {
                *group = i as u8;
            }
        }
        let instances = heap.objects_by_group(&group_of_class, classes.len());
        Census { classes, instances }
    }

    /// Every instance of every class the packs read, ascending.
    pub(crate) fn everything(&self) -> Vec<ObjectIndex> {
        let mut all: Vec<ObjectIndex> = self.instances.concat();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Instances of `class` and its subclasses; empty for a class no pack reads.
    pub(crate) fn of(&self, class: &str) -> &[ObjectIndex] {
        self.classes.iter().position(|&c| c == class).map_or(&[], |i| &self.instances[i])
    }
}

/// Who refers to each of a set of objects, over strong references.
pub(crate) struct Referrers(FxHashMap<ObjectIndex, Vec<ObjectIndex>>);

impl Referrers {
    pub(crate) fn of_targets(heap: &Heap<'_>, targets: &[ObjectIndex]) -> Referrers {
        if targets.is_empty() {
            return Referrers(FxHashMap::default()); // no pass over every reference for nothing
        }
        let mut wanted = BitSet::new(heap.len());
        for &t in targets {
            wanted.insert(t.index());
        }
        let is_wanted = |w: ObjectIndex| wanted.contains(w.index());
        let pairs: Vec<(ObjectIndex, ObjectIndex)> = heap
            .par_objects()
            .flat_map_iter(|v| heap.references(v).iter().filter(|&&w| is_wanted(w)).map(move |&w| (w, v)))
            .collect();
        let mut map: FxHashMap<ObjectIndex, Vec<ObjectIndex>> = FxHashMap::default();
        for (target, referrer) in pairs {
            map.entry(target).or_default().push(referrer);
        }
        Referrers(map)
    }

    pub(crate) fn of(&self, object: ObjectIndex) -> &[ObjectIndex] {
        self.0.get(&object).map_or(&[], |v| v)
    }
}

pub(crate) fn is_strong(heap: &Heap<'_>, object: ObjectIndex) -> bool {
    heap.level(object) == Reach::Strong
}
