//! Reachability by reference strength, with a breadth-first parent for every object reached:
//! following parents back gives a shortest path to a GC root.

use crate::{Csr, ObjectIndex, Root};

/// How strongly an object is held, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Reach {
    Strong,
    Soft,
    Weak,
    Final,
    Phantom,
    /// No path from a GC root at all: garbage a dump without a full GC keeps.
    #[default]
    Unreachable,
}

impl Reach {
    pub const ALL: [Reach; 6] =
        [Reach::Strong, Reach::Soft, Reach::Weak, Reach::Final, Reach::Phantom, Reach::Unreachable];

    pub fn name(self) -> &'static str {
        match self {
            Reach::Strong => "strong",
            Reach::Soft => "soft",
            Reach::Weak => "weak",
            Reach::Final => "finalizer",
            Reach::Phantom => "phantom",
            Reach::Unreachable => "unreachable",
        }
    }
}

/// Parent value of roots and unreached objects.
pub const NO_PARENT: u32 = u32::MAX;

/// Reachability of every object and its breadth-first parent.
#[derive(Debug, Default)]
pub struct Reachability {
    level: Vec<Reach>,
    parent: Vec<u32>,
    /// For objects that are GC roots: the index of their first root in `Heap::roots`.
    root_of: rustc_hash::FxHashMap<ObjectIndex, usize>,
}

impl Reachability {
    pub fn level(&self, object: ObjectIndex) -> Reach {
        self.level.get(object as usize).copied().unwrap_or_default()
    }

    /// The object one step closer to a GC root, on a shortest path.
    pub fn parent(&self, object: ObjectIndex) -> Option<ObjectIndex> {
        self.parent.get(object as usize).copied().filter(|&p| p != NO_PARENT)
    }

    /// The root entry (index into `Heap::roots`) if the object is a GC root.
    pub fn root_of(&self, object: ObjectIndex) -> Option<usize> {
        self.root_of.get(&object).copied()
    }

    /// Counts of objects at each level, in `Reach::ALL` order.
    pub fn counts(&self) -> [u64; 6] {
        let mut counts = [0u64; 6];
        for &l in &self.level {
            counts[l as usize] += 1;
        }
        counts
    }

    pub fn heap_bytes(&self) -> usize {
        self.level.len() + self.parent.len() * 4
    }
}

/// Breadth-first from the roots over strong references; then, strength by strength, from the
/// referents of references already reached.
pub fn compute(graph: &Csr, roots: &[Root], referents: &[(ObjectIndex, ObjectIndex, Reach)]) -> Reachability {
    let n = graph.node_count();
    let mut reach =
        Reachability { level: vec![Reach::Unreachable; n], parent: vec![NO_PARENT; n], root_of: Default::default() };
    let mut frontier: Vec<u32> = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        if reach.root_of.insert(root.object, i).is_none() {
            reach.level[root.object as usize] = Reach::Strong;
            frontier.push(root.object);
        }
    }
    spread(graph, &mut reach, frontier, Reach::Strong);
    for strength in [Reach::Soft, Reach::Weak, Reach::Final, Reach::Phantom] {
        loop {
            let mut seeds = Vec::new();
            for &(reference, referent, edge) in referents {
                let held = reach.level[reference as usize];
                if edge <= strength && held <= strength && reach.level[referent as usize] == Reach::Unreachable {
                    reach.level[referent as usize] = strength;
                    reach.parent[referent as usize] = reference;
                    seeds.push(referent);
                }
            }
            if seeds.is_empty() {
                break;
            }
            spread(graph, &mut reach, seeds, strength);
        }
    }
    reach
}

fn spread(graph: &Csr, reach: &mut Reachability, mut frontier: Vec<u32>, level: Reach) {
    let mut next = Vec::new();
    while !frontier.is_empty() {
        for &v in &frontier {
            for &w in graph.successors(v) {
                if reach.level[w as usize] == Reach::Unreachable {
                    reach.level[w as usize] = level;
                    reach.parent[w as usize] = v;
                    next.push(w);
                }
            }
        }
        frontier.clear();
        std::mem::swap(&mut frontier, &mut next);
    }
}
