//! Building the model: one parallel pass numbers the objects and collects classes and roots,
//! a second resolves every reference to an object index.

use dumpscan_hprof::{ClassInfo, ClassTable, Dump, GcRoot, Metadata, Result, SubRecord, Summary};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::graph::Csr;
use crate::index::IdIndex;
use crate::layout::Layout;
use crate::reach::Reach;
use crate::roots::Root;
use crate::{Heap, TYPE_CLASS_OBJECT, TYPE_PRIMITIVE_BASE, TYPE_UNKNOWN};

/// What the first pass learns about one object.
struct Found {
    id: u64,
    offset: u64,
    /// Class id for instances and object arrays; a marker for the others.
    class: u64,
    marker: u32,
}

#[derive(Default)]
struct FirstPass {
    objects: Vec<Found>,
    classes: Vec<ClassInfo>,
    roots: Vec<GcRoot>,
}

#[derive(Default)]
struct SecondPass {
    /// (source, number of targets), in the order the targets were pushed.
    sources: Vec<(u32, u32)>,
    targets: Vec<u32>,
    referents: Vec<(u32, u32, Reach)>,
}

/// How a class's instances refer to their referent, if it is a `java.lang.ref.Reference`.
fn referent_slot(classes: &ClassTable, class_id: u64, layout: &Layout) -> Option<(u32, Reach)> {
    let reference = classes.by_name("java.lang.ref.Reference")?;
    if !classes.is_subclass_of(class_id, "java.lang.ref.Reference") {
        return None;
    }
    let strength = classes
        .ancestry(class_id)
        .find_map(|c| match c.name.as_str() {
            "java.lang.ref.SoftReference" => Some(Reach::Soft),
            "java.lang.ref.WeakReference" => Some(Reach::Weak),
            "java.lang.ref.FinalReference" => Some(Reach::Final),
            "java.lang.ref.PhantomReference" => Some(Reach::Phantom),
            _ => None,
        })
        .unwrap_or(Reach::Weak);
    let field = layout.references.iter().find(|f| f.declaring_class == reference.id && &*f.name == "referent")?;
    Some((field.offset, strength))
}

pub(crate) fn build(dump: &Dump) -> Result<Heap<'_>> {
    let meta = Metadata::read(dump)?;
    let plan = meta.heap_plan();
    let id_size = dump.id_size();

    let (units, truncation) = plan.map_units(id_size, FirstPass::default, |u, offset, sub| {
        let (id, class, marker) = match sub {
            SubRecord::Instance(i) => (i.id, i.class_id, 0),
            SubRecord::ObjectArray(a) => (a.id, a.class_id, 0),
            SubRecord::PrimitiveArray(a) => (a.id, 0, TYPE_PRIMITIVE_BASE + a.element_type as u32),
            SubRecord::Class(c) => {
                u.classes.push(ClassInfo::from_dump(&c, &meta));
                (c.id, 0, TYPE_CLASS_OBJECT)
            }
            SubRecord::Root(r) => {
                u.roots.push(r);
                return;
            }
            SubRecord::HeapDumpInfo { .. } => return,
        };
        u.objects.push(Found { id, offset, class, marker });
    })?;

    let mut classes = ClassTable::default();
    let mut raw_roots = Vec::new();
    let mut found = Vec::with_capacity(units.iter().map(|u| u.objects.len()).sum());
    for unit in units {
        unit.classes.into_iter().for_each(|c| classes.insert(c));
        raw_roots.extend(unit.roots);
        found.extend(unit.objects);
    }
    let mut class_ids: Vec<u64> = classes.iter().map(|c| c.id).collect();
    class_ids.sort_unstable();
    let class_index: FxHashMap<u64, u32> = class_ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();

    if !found.windows(2).all(|w| w[0].id < w[1].id) {
        found.par_sort_by_key(|f| f.id);
        // A corrupt dump may dump an id twice: the first one stands.
        found.dedup_by_key(|f| f.id);
    }
    let types: Vec<u32> = found
        .par_iter()
        .map(|f| match f.marker {
            0 => class_index.get(&f.class).copied().unwrap_or(TYPE_UNKNOWN),
            m => m,
        })
        .collect();
    let offsets: Vec<u64> = found.par_iter().map(|f| f.offset).collect();
    let ids = IdIndex::new(found.into_iter().map(|f| f.id).collect());

    let layouts: Vec<Layout> = class_ids.par_iter().map(|&id| Layout::of(&classes, id, id_size)).collect();
    let referent_slots: Vec<Option<(u32, Reach)>> =
        class_ids.iter().zip(&layouts).map(|(&id, l)| referent_slot(&classes, id, l)).collect();

    let resolve = |id: u64| if id == 0 { None } else { ids.index_of(id) };
    let (edges, _) = plan.map_units(id_size, SecondPass::default, |p, offset, sub| {
        let Some(id) = sub.object_id() else { return };
        let Some(source) = ids.index_of(id) else { return };
        if offsets[source as usize] != offset {
            return; // a duplicate the first pass dropped
        }
        let before = p.targets.len();
        match sub {
            SubRecord::Instance(i) => {
                let class = types[source as usize];
                let (Some(layout), Some(slot)) = (layouts.get(class as usize), referent_slots.get(class as usize))
                else {
                    return;
                };
                for field in &layout.references {
                    let at = field.offset as usize;
                    let Some(bytes) = i.fields.get(at..at + id_size.bytes()) else { continue };
                    let value = id_size.read(bytes);
                    let Some(target) = resolve(value) else { continue };
                    match slot {
                        Some((referent_at, strength)) if *referent_at as usize == at => {
                            p.referents.push((source, target, *strength))
                        }
                        _ => p.targets.push(target),
                    }
                }
            }
            SubRecord::ObjectArray(a) => p.targets.extend(a.elements.iter().filter_map(resolve)),
            SubRecord::Class(c) => {
                let statics = c.statics.iter().filter_map(|(_, v)| v.as_object());
                p.targets.extend([c.super_id, c.loader_id].into_iter().chain(statics).filter_map(resolve));
            }
            _ => {}
        }
        let count = (p.targets.len() - before) as u32;
        if count > 0 {
            p.sources.push((source, count));
        }
    })?;

    let n = types.len();
    let mut degrees = vec![0u32; n];
    for unit in &edges {
        for &(source, count) in &unit.sources {
            degrees[source as usize] = count;
        }
    }
    let total: usize = edges.iter().map(|u| u.targets.len()).sum();
    let in_index_order = edges.iter().flat_map(|u| u.sources.iter()).map(|s| s.0).is_sorted();
    let mut referents = Vec::new();
    let targets = if in_index_order {
        let mut targets = Vec::with_capacity(total);
        for unit in edges {
            targets.extend_from_slice(&unit.targets);
            referents.extend(unit.referents);
        }
        targets
    } else {
        let mut starts = Vec::with_capacity(n);
        let mut sum = 0usize;
        for &d in &degrees {
            starts.push(sum);
            sum += d as usize;
        }
        let mut targets = vec![0u32; total];
        for unit in edges {
            let mut pos = 0;
            for &(source, count) in &unit.sources {
                let start = starts[source as usize];
                targets[start..start + count as usize].copy_from_slice(&unit.targets[pos..pos + count as usize]);
                pos += count as usize;
            }
            referents.extend(unit.referents);
        }
        targets
    };
    let graph = Csr::from_degrees(&degrees, targets);

    let roots: Vec<Root> =
        raw_roots.iter().filter_map(|r| Some(Root { object: resolve(r.object_id)?, kind: r.kind })).collect();

    // The same size model as the histogram, so the two always agree.
    let span = (ids.len() > 0).then(|| (ids.id(0), ids.id(ids.len() as u32 - 1)));
    let size_model = Summary::size_model_for(id_size, span, None);
    let truncation = meta.truncation.or(truncation);
    let mut heap = Heap {
        meta,
        classes,
        class_ids,
        class_index,
        layouts,
        ids,
        offsets,
        types,
        graph,
        referents,
        roots,
        size_model,
        truncation,
        reach: Default::default(),
    };
    heap.reach = crate::reach::compute(&heap.graph, &heap.roots, &heap.referents);
    Ok(heap)
}
