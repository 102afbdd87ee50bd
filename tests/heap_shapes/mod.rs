//! The heap model on real dumps whose shapes the generating program knows
//! (`fixtures/DirectBuffers.java`): who holds what, how strongly, and what it retains.

use dumpscan::heap::{Dominators, Heap, Reach};
use dumpscan::hprof::Dump;

fn check(name: &str) {
    let path = super::run::fixture_path(&format!("{name}.hprof.gz"));
    let dump = Dump::open(&path).unwrap();
    let heap = Heap::build(&dump).unwrap();
    // Paths asked before the whole heap's reachability is known come from a walk that stops
    // at the deepest of them (the linked list's tail, 1000 steps down): the full walk's paths.
    let nodes = heap.instances_of("DirectBuffers$Node");
    let early = heap.paths_to(&nodes);
    assert!(early.iter().map(Vec::len).max() > Some(1000), "{name}: the list's tail lies deep");
    assert_eq!(early, nodes.iter().map(|&o| heap.path(o)).collect::<Vec<_>>(), "{name}: same paths");
    // With a target no strong path reaches, the whole walk answers.
    let fresh = Heap::build(&dump).unwrap();
    let garbage = fresh.instances_of("DirectBuffers$Garbage");
    assert_eq!(fresh.paths_to(&[nodes[0], garbage[0]]), [heap.path(nodes[0]), Vec::new()], "{name}: fallback");
    let one = |class: &str| {
        let found = heap.instances_of(class);
        assert_eq!(found.len(), 1, "{name}: one {class}");
        found[0]
    };

    // Held by a static field.
    let held = one("DirectBuffers$StaticHolder");
    assert_eq!(heap.reach().level(held), Reach::Strong);
    assert!(heap.path_text(held).contains("static DirectBuffers.HELD"), "{}", heap.path_text(held));

    // Held only by a local variable: the root names the thread and the frame.
    let local = one("DirectBuffers$LocalTarget");
    let path = heap.path(local);
    let root = heap.reach().root_of(path[0]).map(|r| heap.root_text(&heap.roots[r])).unwrap();
    assert!(
        root.starts_with("local in thread \"holder-thread\" at DirectBuffers.lambda$main$0(DirectBuffers.java:"),
        "{name}: {root}"
    );
    assert_eq!(path.len(), 1, "{name}: the local holds it directly");

    // Held only through a WeakReference, and garbage with no path at all.
    let weak = one("DirectBuffers$WeakTarget");
    assert_eq!(heap.reach().level(weak), Reach::Weak);
    assert!(heap.path(weak).iter().any(|&o| heap.class_name(o) == "java.lang.ref.WeakReference"));
    let garbage = one("DirectBuffers$Garbage");
    assert_eq!(heap.reach().level(garbage), Reach::Unreachable);
    assert!(heap.path(garbage).is_empty());

    // The linked list's head retains exactly its nodes and their payloads.
    let nodes = heap.instances_of("DirectBuffers$Node");
    assert_eq!(nodes.len(), 1000);
    let class = heap.classes.by_name("DirectBuffers").unwrap();
    let head = heap.index_of(class.static_value("LIST").unwrap().as_object().unwrap()).unwrap();
    let tree = Dominators::compute(&heap);
    let retained = tree.retained(|o| heap.shallow_size(o));
    let expected: u64 =
        nodes.iter().map(|&n| heap.shallow_size(n) + heap.shallow_size(heap.field_object(n, "payload").unwrap())).sum();
    assert_eq!(retained.get(head), expected, "{name}: the head retains the list");
}

#[test]
fn shapes_jdk17() {
    check("direct-buffers-jdk17");
}

#[test]
fn shapes_jdk25() {
    check("direct-buffers-jdk25");
}
