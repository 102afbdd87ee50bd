//! Dominators, retained sums and breadth-first paths on random graphs, against brute force.

use std::collections::VecDeque;

use dumpscan_heap::{compute_reachability, Csr, Dominators, ObjectIndex, Reach, Root};
use dumpscan_hprof::RootKind;
use proptest::prelude::*;

/// A random graph: `n` nodes, edges as adjacency lists, and a non-empty set of roots.
fn graphs() -> impl Strategy<Value = (Vec<Vec<u32>>, Vec<u32>)> {
    (1usize..40).prop_flat_map(|n| {
        let lists = prop::collection::vec(prop::collection::vec(0..n as u32, 0..4), n);
        let roots = prop::collection::vec(0..n as u32, 1..4);
        (lists, roots)
    })
}

/// The graph of `lists`, each node an object index.
fn csr(lists: &[Vec<u32>]) -> Csr {
    let lists: Vec<Vec<ObjectIndex>> = lists.iter().map(|list| objects(list)).collect();
    Csr::from_lists(&lists)
}

/// The objects numbered `nodes`.
fn objects(nodes: &[u32]) -> Vec<ObjectIndex> {
    nodes.iter().copied().map(ObjectIndex::new).collect()
}

/// Nodes reachable from `roots`, skipping `removed`.
fn reachable(lists: &[Vec<u32>], roots: &[u32], removed: Option<u32>) -> Vec<bool> {
    let mut seen = vec![false; lists.len()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for &r in roots {
        if Some(r) != removed && !seen[r as usize] {
            seen[r as usize] = true;
            queue.push_back(r);
        }
    }
    while let Some(v) = queue.pop_front() {
        for &w in &lists[v as usize] {
            if Some(w) != removed && !seen[w as usize] {
                seen[w as usize] = true;
                queue.push_back(w);
            }
        }
    }
    seen
}

/// d dominates v iff v is reachable and removing d makes v unreachable (d != v).
fn dominators_by_definition(lists: &[Vec<u32>], roots: &[u32]) -> Vec<Vec<bool>> {
    let n = lists.len();
    let all = reachable(lists, roots, None);
    (0..n as u32)
        .map(|d| {
            let without = reachable(lists, roots, Some(d));
            (0..n).map(|v| all[v] && v != d as usize && !without[v]).collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn idom_matches_the_definition((lists, roots) in graphs()) {
        let graph = csr(&lists);
        let tree = Dominators::of_graph(&graph, &objects(&roots));
        let dominates = dominators_by_definition(&lists, &roots);
        let all = reachable(&lists, &roots, None);
        for v in 0..lists.len() as u32 {
            prop_assert_eq!(tree.is_reachable(ObjectIndex::new(v)), all[v as usize]);
            if !all[v as usize] {
                continue;
            }
            // The immediate dominator is the dominator that every other dominator dominates.
            let doms: Vec<u32> = (0..lists.len() as u32).filter(|&d| dominates[d as usize][v as usize]).collect();
            let expected = doms.iter().copied().find(|&d| doms.iter().all(|&e| e == d || dominates[e as usize][d as usize]));
            prop_assert_eq!(tree.idom(ObjectIndex::new(v)), expected.map(ObjectIndex::new), "node {}", v);
        }
    }

    #[test]
    fn retained_sum_is_the_sum_over_dominated_nodes((lists, roots) in graphs()) {
        let graph = csr(&lists);
        let root_objects = objects(&roots);
        let tree = Dominators::of_graph(&graph, &root_objects);
        // Every fourth node weighs 3 GiB, so that sums pass 4 GiB (kept apart from the rest).
        let weight = |v: u32| 1 + v as u64 * 3 + if v % 4 == 0 { 3 << 30 } else { 0 };
        let object_weight = |o: ObjectIndex| weight(o.get());
        let retained = tree.retained(object_weight);
        let dominates = dominators_by_definition(&lists, &roots);
        let all = reachable(&lists, &roots, None);
        for d in 0..lists.len() {
            let expected: u64 = if all[d] {
                weight(d as u32) + (0..lists.len()).filter(|&v| dominates[d][v]).map(|v| weight(v as u32)).sum::<u64>()
            } else {
                0
            };
            prop_assert_eq!(retained.get(ObjectIndex::new(d as u32)), expected, "node {}", d);
        }
        let top = retained.top(0);
        prop_assert!(top.iter().all(|&(o, r)| retained.get(o) == r));
        prop_assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
        // The spent tree's answer is the same, in full and cut short.
        let total = retained.total();
        for n in [0, 3] {
            let (spent_top, spent_total) = Dominators::of_graph(&graph, &root_objects).into_top_retainers(object_weight, n);
            prop_assert_eq!(&spent_top[..], &top[..if n == 0 { top.len() } else { n.min(top.len()) }]);
            prop_assert_eq!(spent_total, total);
        }
    }

    #[test]
    fn breadth_first_paths_are_shortest((lists, roots) in graphs()) {
        check_breadth_first(&lists, &roots)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Graphs big enough for every way a level is expanded: on the calling thread, in
    /// parallel into a list, and in parallel into a bitmap; a chain adds many tiny levels.
    #[test]
    fn breadth_first_paths_are_shortest_at_scale(seed in any::<u64>(), n in 150_000usize..250_000) {
        let mut state = seed | 1;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as u32
        };
        let chain = 5_000;
        let mut lists: Vec<Vec<u32>> = (0..n).map(|_| (0..next(4)).map(|_| next(n)).collect()).collect();
        for (v, list) in lists.iter_mut().enumerate().take(chain) {
            list.push(v as u32 + 1);
        }
        let roots = [0, next(n), next(n)];
        check_breadth_first(&lists, &roots)?;
    }
}

/// Every object reached has a parent chain of real edges back to a root, exactly as long as
/// its breadth-first distance; the others are unreachable.
fn check_breadth_first(lists: &[Vec<u32>], roots: &[u32]) -> Result<(), TestCaseError> {
    let graph = csr(lists);
    let gc_roots: Vec<Root> =
        objects(roots).into_iter().map(|object| Root { object, kind: RootKind::Unknown }).collect();
    let reach = compute_reachability(&graph, &gc_roots, &[]);
    // Distances by plain breadth-first search.
    let mut distance = vec![usize::MAX; lists.len()];
    let mut queue = VecDeque::new();
    for &r in roots {
        if distance[r as usize] == usize::MAX {
            distance[r as usize] = 0;
            queue.push_back(r);
        }
    }
    while let Some(v) = queue.pop_front() {
        for &w in &lists[v as usize] {
            if distance[w as usize] == usize::MAX {
                distance[w as usize] = distance[v as usize] + 1;
                queue.push_back(w);
            }
        }
    }
    for v in 0..lists.len() as u32 {
        if distance[v as usize] == usize::MAX {
            prop_assert_eq!(reach.level(ObjectIndex::new(v)), Reach::Unreachable);
            continue;
        }
        prop_assert_eq!(reach.level(ObjectIndex::new(v)), Reach::Strong);
        let Some(p) = reach.parent(ObjectIndex::new(v)).map(ObjectIndex::get) else {
            prop_assert!(roots.contains(&v));
            continue;
        };
        prop_assert!(lists[p as usize].contains(&v), "parent edge {} -> {} exists", p, v);
        prop_assert_eq!(distance[p as usize] + 1, distance[v as usize], "parent of {} is one step closer", v);
    }
    Ok(())
}

#[test]
fn weakly_held_objects_are_told_apart() {
    // 0 (root) -> 1; 1 -weak-> 2 -> 3; 4 unreachable; 0 -soft-> 5; 5 -weak-> 6.
    let lists = vec![vec![1], vec![], vec![3], vec![], vec![], vec![], vec![]];
    let graph = csr(&lists);
    let object = ObjectIndex::new;
    let roots = [Root { object: object(0), kind: RootKind::Unknown }];
    let referents =
        [(object(1), object(2), Reach::Weak), (object(0), object(5), Reach::Soft), (object(5), object(6), Reach::Weak)];
    let reach = compute_reachability(&graph, &roots, &referents);
    let levels: Vec<Reach> = (0..7).map(|v| reach.level(object(v))).collect();
    assert_eq!(
        levels,
        [Reach::Strong, Reach::Strong, Reach::Weak, Reach::Weak, Reach::Unreachable, Reach::Soft, Reach::Weak]
    );
    assert_eq!(reach.parent(object(2)), Some(object(1)));
}

/// A heap of `lists.len()` nodes with up to three references each; the nodes in `weak` are
/// weak references to the node their first list entry names.
fn heap_of(lists: &[Vec<u32>], roots: &[u32], weak: &[bool]) -> Vec<u8> {
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let fields = [("a", T::Object), ("b", T::Object), ("c", T::Object)];
    let node = b.define_class("org.example.Node", Some(object), &fields);
    let reference = b.define_class("java.lang.ref.Reference", Some(object), &[("referent", T::Object)]);
    let weak_class = b.define_class("java.lang.ref.WeakReference", Some(reference), &fields);
    let ids: Vec<u64> = lists.iter().map(|_| b.new_id()).collect();
    for (v, list) in lists.iter().enumerate() {
        let refs: Vec<V> = (0..3).map(|k| V::Object(list.get(k).map_or(0, |&w| ids[w as usize]))).collect();
        if weak[v] {
            // Its own three fields, then the referent (the super class's).
            let referent = list.first().map_or(0, |&w| ids[w as usize]);
            let mut values = vec![V::Object(0)];
            values.extend(refs[1..].iter().cloned());
            values.push(V::Object(referent));
            b.body().instance(ids[v], weak_class.id, &values);
        } else {
            b.body().instance(ids[v], node.id, &refs);
        }
    }
    for &r in roots {
        b.body().root_simple(0xFF, ids[r as usize]);
    }
    b.finish_single()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Keeping the parents of only the objects that reach a few targets gives those objects
    /// the same paths as the walk that keeps every parent, weak references included; a path
    /// asked of any other object is the same too. Marking what reaches some of the targets
    /// afterwards, within the objects known to reach them, marks what the whole heap's
    /// marking does.
    #[test]
    fn paths_toward_targets_match_the_whole_walk(
        (lists, roots) in graphs(),
        weak_bits in any::<u64>(),
        target_bits in any::<u64>(),
    ) {
        let weak: Vec<bool> = (0..lists.len()).map(|v| weak_bits & (1 << (v % 64)) != 0).collect();
        let dump = dumpscan_hprof::Dump::from_vec(heap_of(&lists, &roots, &weak)).unwrap();
        let whole = dumpscan_heap::Heap::build(&dump).unwrap();
        let toward = dumpscan_heap::Heap::build(&dump).unwrap();
        let nodes: Vec<ObjectIndex> = whole.objects().filter(|&o| whole.class_name(o) != "java.lang.Class").collect();
        let targets: Vec<ObjectIndex> =
            nodes.iter().copied().filter(|&o| target_bits & (1 << (o.get() % 64)) != 0).collect();
        let partial = toward.reach_toward(&targets);
        for &t in &targets {
            prop_assert!(partial.knows_level_of(t) && partial.knows_path_of(t));
            prop_assert_eq!(partial.level(t), whole.reach().level(t), "target {:?}", t);
            prop_assert_eq!(toward.path(t), whole.path(t), "target {:?}", t);
        }
        let some: Vec<ObjectIndex> = targets.iter().copied().filter(|t| weak_bits & (1 << ((t.get() + 7) % 64)) != 0).collect();
        // The nodes are the dump's objects past its classes, in the order they were made.
        let referent = |v: usize| if weak[v] { lists[v].first().map(|&w| nodes[w as usize]) } else { None };
        for weakest in [Reach::Strong, Reach::Soft, Reach::Weak, Reach::Phantom] {
            let members = |heap: &dumpscan_heap::Heap| heap.reaching(&some, weakest).map(|set| set.ones().collect::<Vec<_>>());
            prop_assert_eq!(members(&toward), members(&whole), "{:?}", weakest);
            // A plain fixed point over the references, and past strong over the referents.
            let mut expected: Vec<usize> = some.iter().map(|t| t.index()).collect();
            loop {
                let before = expected.len();
                for (v, &o) in nodes.iter().enumerate() {
                    let held = whole.reach().level(o) <= weakest && !expected.contains(&o.index());
                    let refers = whole.references(o).iter().any(|w| expected.contains(&w.index()));
                    let holds = weakest > Reach::Strong && referent(v).is_some_and(|w| expected.contains(&w.index()));
                    if held && (refers || holds) {
                        expected.push(o.index());
                    }
                }
                if expected.len() == before {
                    break;
                }
            }
            expected.sort_unstable();
            prop_assert_eq!(members(&whole), Some(expected), "{:?} by fixed point", weakest);
        }
        for &o in &nodes {
            prop_assert_eq!(toward.level(o), whole.reach().level(o), "object {:?}", o);
            prop_assert_eq!(toward.path(o), whole.path(o), "object {:?}", o);
        }
    }
}

/// The weak references of [`heap_of`] hold their referents weakly, and the paths toward a
/// weakly held target run through its reference.
#[test]
fn a_path_toward_a_weakly_held_target_runs_through_its_reference() {
    // 0 (root) -> 1, 1 weakly refers to 2, 2 -> 3.
    let lists = vec![vec![1], vec![2], vec![3], vec![]];
    let dump = dumpscan_hprof::Dump::from_vec(heap_of(&lists, &[0], &[false, true, false, false])).unwrap();
    let heap = dumpscan_heap::Heap::build(&dump).unwrap();
    let nodes: Vec<ObjectIndex> = heap.objects().filter(|&o| heap.class_name(o) != "java.lang.Class").collect();
    let partial = heap.reach_toward(&[nodes[3]]);
    assert_eq!(partial.level(nodes[3]), Reach::Weak);
    assert!(partial.knows_path_of(nodes[3]));
    assert_eq!(heap.path(nodes[3]), nodes);
}
