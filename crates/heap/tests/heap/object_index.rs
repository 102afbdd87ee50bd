//! The object index on dumps whose ids are neither ascending nor 8-aligned (old and odd
//! JVMs): every object is numbered in address order and found again by its id.

use dumpscan_heap::{Heap, ObjectIndex};
use dumpscan_hprof::Dump;
use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

fn check(id_size: u32, ids: &[u64]) {
    check_written(HeapBuilder::with_format("1.0.1", id_size), ids, HeapBuilder::finish_single);
}

/// Writes a chain of objects with `ids` in that order with `b`, then the dump with `finish`,
/// and checks their numbering and references.
fn check_written(mut b: HeapBuilder, ids: &[u64], finish: impl FnOnce(HeapBuilder) -> Vec<u8>) {
    let object = b.define_class("java.lang.Object", None, &[]);
    let node = b.define_class("com.example.Node", Some(object), &[("next", T::Object)]);
    // A chain in the order given: each object points at the one written before it.
    let mut previous = 0;
    for &id in ids {
        b.body().instance(id, node.id, &[V::Object(previous)]);
        previous = id;
    }
    b.body().root_simple(0xFF, previous);
    let dump = Dump::from_vec(finish(b)).expect("a dump");
    let heap = Heap::build(&dump).expect("a heap");

    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let numbered: Vec<u64> = heap.objects().map(|i| heap.id(i)).filter(|id| ids.contains(id)).collect();
    assert_eq!(numbered, sorted, "address order");
    for pair in ids.windows(2) {
        let (older, newer) = (heap.index_of(pair[0]).unwrap(), heap.index_of(pair[1]).unwrap());
        assert_eq!(heap.references(newer), &[older], "{:#x} -> {:#x}", pair[1], pair[0]);
        assert_eq!(heap.reach().level(older), dumpscan_heap::Reach::Strong);
    }
    assert_eq!(heap.index_of(ids.iter().max().unwrap() + 1), None);
}

#[test]
fn descending_ids() {
    check(8, &[0x9000_0000, 0x8000_0010, 0x7000_0020, 0x6000_0000]);
}

#[test]
fn unaligned_four_byte_ids() {
    check(4, &[0x3003, 0x1001, 0x2002, 0x4005, 0x10007]);
}

#[test]
fn ids_spanning_more_than_32_gib() {
    check(8, &[0x10_0000_0000, 0x1000, 0x20_0000_0008, 0x2000]);
}

/// Many segments, each holding parts of ascending runs that interleave with the others' (as
/// heap spaces dumped one after another, with objects out of place between them): the runs
/// are placed in address order and each segment's objects found again by their place.
#[test]
fn interleaved_runs_across_many_segments() {
    let mut ids: Vec<u64> = (0..300).map(|k| 0x7_0000_0000 + 16 * k).collect();
    ids.extend((0..120).map(|k| 0x7_0000_0008 + 32 * k));
    ids.extend((0..200).map(|k| 0x7_0100_0000 + 24 * k));
    ids.extend([0x7_0200_0000, 0x7_0000_0c18, 0x7_0000_1308, 0x6_ffff_fff8, 0x7_0100_0008]);
    ids.extend((0..50).map(|k| 0x7_0000_2000 + 8 * k));
    let written: std::collections::HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(written.len(), ids.len(), "distinct ids");
    check_written(HeapBuilder::new(), &ids, |b| b.finish_segments(400));
}

/// The model keeps no array lengths: an array's size comes from its record's header.
#[test]
fn array_sizes_are_read_back_from_their_records() {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let holder = b.define_class("com.example.Holder", Some(object), &[("bytes", T::Object), ("refs", T::Object)]);
    let bytes = b.byte_array(&[1; 1000]);
    let longs = b.long_array(&[7; 33]);
    let refs = b.object_array("java.lang.Object", &[bytes, longs, 0]);
    let top = b.instance(holder, &[V::Object(bytes), V::Object(refs)]);
    b.body().root_simple(0xFF, top);
    let dump = Dump::from_vec(b.finish_segments(256)).expect("a dump");
    let heap = Heap::build(&dump).unwrap();
    let model = &heap.size_model;
    let size = |id| heap.shallow_size(heap.index_of(id).unwrap());
    assert_eq!(size(bytes), model.array(1000, 1));
    assert_eq!(size(longs), model.array(33, 8));
    assert_eq!(size(refs), model.array(3, model.reference));
    assert!(size(bytes) >= 1016);
}

/// Reference counts are kept in a byte while parsing, 255 and more apart: arrays on both
/// sides of that line keep every element, in order.
#[test]
fn arrays_of_many_references_keep_them_all() {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let leaves: Vec<u64> = (0..1000).map(|_| b.instance(object, &[])).collect();
    let arrays: Vec<(u64, usize)> = [0, 1, 254, 255, 256, 1000]
        .iter()
        .map(|&len| (b.object_array("java.lang.Object", &leaves[..len]), len))
        .collect();
    let dump = Dump::from_vec(b.finish_segments(4096)).expect("a dump");
    let heap = Heap::build(&dump).expect("a heap");
    for (id, len) in arrays {
        let expected: Vec<ObjectIndex> = leaves[..len].iter().map(|&l| heap.index_of(l).unwrap()).collect();
        assert_eq!(heap.references(heap.index_of(id).unwrap()), &expected[..], "{len} elements");
    }
}
