//! Reachability by reference strength, with a breadth-first parent for every object reached:
//! following parents back gives a shortest path to a GC root.

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::iter::Either;
use rayon::prelude::*;

use crate::bits::Ones;
use crate::graph::Subset;
use crate::{BitSet, Csr, ObjectIndex, Root};

/// How strongly an object is held, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Reach {
    /// Through strong references from a GC root.
    Strong,
    /// Through a `SoftReference` at best.
    Soft,
    /// Through a `WeakReference` at best.
    Weak,
    /// Waiting for finalization (a `FinalReference`) at best.
    Final,
    /// Through a `PhantomReference` at best.
    Phantom,
    /// No path from a GC root at all: garbage a dump without a full GC keeps.
    #[default]
    Unreachable,
}

impl Reach {
    /// The word the outputs use for it.
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

/// Reachability of every object and its breadth-first parent, or of the objects on the way
/// to a few ([`crate::Heap::reach_toward`]).
#[derive(Debug, Default)]
pub struct Reachability {
    level: Levels,
    parents: Parents,
    /// For objects that are GC roots: the index of their last root entry in `Heap::roots`.
    root_of: rustc_hash::FxHashMap<ObjectIndex, usize>,
}

/// How strongly the objects are held: every object, or the objects on the way to a few.
#[derive(Debug)]
enum Levels {
    All(Vec<Reach>),
    /// The objects, ascending, and the level of each.
    Of(Vec<ObjectIndex>, Vec<Reach>),
}

impl Default for Levels {
    fn default() -> Self {
        Levels::All(Vec::new())
    }
}

impl Reachability {
    /// How strongly `object` is held; [`Reach::Unreachable`] for an object this reachability
    /// does not know (see [`Reachability::knows_level_of`]).
    pub fn level(&self, object: ObjectIndex) -> Reach {
        match &self.level {
            Levels::All(level) => level.get(object.index()).copied().unwrap_or_default(),
            Levels::Of(objects, level) => objects.binary_search(&object).map_or(Reach::Unreachable, |k| level[k]),
        }
    }

    /// Whether [`Reachability::level`] knows `object`: always, unless only the objects on the
    /// way to some were walked ([`crate::Heap::reach_toward`]).
    pub fn knows_level_of(&self, object: ObjectIndex) -> bool {
        match &self.level {
            Levels::All(_) => true,
            Levels::Of(objects, _) => objects.binary_search(&object).is_ok(),
        }
    }

    /// The object one step closer to a GC root, on a shortest path.
    pub fn parent(&self, object: ObjectIndex) -> Option<ObjectIndex> {
        match &self.parents {
            Parents::All(parent) => {
                parent.get(object.index()).copied().filter(|&p| p != NO_PARENT).map(ObjectIndex::new)
            }
            Parents::Of(parent) => parent.get(&object).copied(),
        }
    }

    /// Whether the parents of `object` and of every object on its path are known: always,
    /// unless only the paths to some objects were asked for ([`crate::Heap::reach_toward`]).
    pub fn knows_path_of(&self, object: ObjectIndex) -> bool {
        match &self.parents {
            Parents::All(_) => true,
            Parents::Of(parent) => {
                parent.contains_key(&object)
                    || self.root_of(object).is_some()
                    || (self.knows_level_of(object) && self.level(object) == Reach::Unreachable)
            }
        }
    }

    /// The root entry (index into `Heap::roots`) if the object is a GC root: its last, when
    /// the dump lists it more than once.
    pub fn root_of(&self, object: ObjectIndex) -> Option<usize> {
        self.root_of.get(&object).copied()
    }
}

/// The breadth-first parents: of every object, or of the few whose paths are wanted.
#[derive(Debug)]
enum Parents {
    All(Vec<u32>),
    Of(rustc_hash::FxHashMap<ObjectIndex, ObjectIndex>),
}

impl Default for Parents {
    fn default() -> Self {
        Parents::All(Vec::new())
    }
}

/// How a walk claims an object for its next level: through the parent it keeps (the
/// smallest referrer claiming it, whatever the threads' timing), or by a bit when no parents
/// are kept (a bit an object rather than 4 bytes).
enum Claims {
    Parents(Vec<AtomicU32>),
    Seen(BitSet),
}

impl Claims {
    /// Whether `v` is the first to claim `w`.
    #[inline]
    fn claim(&self, v: ObjectIndex, w: ObjectIndex) -> bool {
        match self {
            Claims::Parents(parent) => parent[w.index()].fetch_min(v.get(), Ordering::Relaxed) == NO_PARENT,
            // Most objects met are claimed already: a plain read spares them the write.
            Claims::Seen(seen) => !seen.contains(w.index()) && seen.insert_shared(w.index()),
        }
    }

    /// Whether `w` was claimed, or is a GC root (see [`Claims::root`]), as far as the claims
    /// tell: the bits do, the parents do not (a root and an unreached object both have none).
    #[inline]
    fn tells_seen(&self) -> bool {
        matches!(self, Claims::Seen(_))
    }

    /// `root` reached as a GC root: claimed, with no parent.
    fn root(&self, root: ObjectIndex) {
        if let Claims::Seen(seen) = self {
            seen.insert_shared(root.index());
        }
    }

    /// `referent` reached through `reference`.
    fn seed(&self, reference: ObjectIndex, referent: ObjectIndex) {
        match self {
            Claims::Parents(parent) => parent[referent.index()].store(reference.get(), Ordering::Relaxed),
            Claims::Seen(seen) => {
                seen.insert_shared(referent.index());
            }
        }
    }

    fn into_parents(self) -> Parents {
        match self {
            Claims::Parents(parent) => Parents::All(parent.into_iter().map(AtomicU32::into_inner).collect()),
            Claims::Seen(_) => Parents::Of(Default::default()),
        }
    }
}

/// Breadth-first from the roots over strong references; then, strength by strength, from the
/// referents of references already reached. Each level is expanded in parallel; an object's
/// parent is its smallest-numbered referrer in the level before, so the result does not
/// depend on thread timing.
pub fn compute(graph: &Csr, roots: &[Root], referents: &[(ObjectIndex, ObjectIndex, Reach)]) -> Reachability {
    walk(graph, roots, referents, true)
}

/// [`compute`] without the parents: how strongly each object is held, in a byte an object.
pub(crate) fn levels(graph: &Csr, roots: &[Root], referents: &[(ObjectIndex, ObjectIndex, Reach)]) -> Reachability {
    walk(graph, roots, referents, false)
}

fn walk(
    graph: &Csr,
    roots: &[Root],
    referents: &[(ObjectIndex, ObjectIndex, Reach)],
    with_parents: bool,
) -> Reachability {
    let Walk { mut level, claims, root_of, seeds } = Walk::from_roots(graph.node_count(), roots, with_parents);
    spread(graph, &mut level, &claims, seeds, Reach::Strong, &mut |_| false);
    for strength in [Reach::Soft, Reach::Weak, Reach::Final, Reach::Phantom] {
        loop {
            let mut seeds = Vec::new();
            for &(reference, referent, edge) in referents {
                let held = level[reference.index()];
                if edge <= strength && held <= strength && level[referent.index()] == Reach::Unreachable {
                    level[referent.index()] = strength;
                    claims.seed(reference, referent);
                    seeds.push(referent);
                }
            }
            if seeds.is_empty() {
                break;
            }
            spread(graph, &mut level, &claims, seeds, strength, &mut |_| false);
        }
    }
    Reachability { level: Levels::All(level), parents: claims.into_parents(), root_of }
}

/// [`compute`] over the objects in `members` alone: a set closed under referrers (every
/// object that refers to a member is one, as [`crate::Heap::reaching`] gives when every object
/// counts as held), so that a walk over the members meets each of them at the same level,
/// from the same parent, as the walk over the whole heap: a path from a GC root to a member
/// passes through members only. Knows the members' levels and parents, no one else's.
pub(crate) fn within(
    graph: &Csr,
    roots: &[Root],
    referents: &[(ObjectIndex, ObjectIndex, Reach)],
    members: &BitSet,
) -> Reachability {
    let subset = Subset::new(members);
    let nodes: Vec<ObjectIndex> = subset.members().collect();
    let induced_roots: Vec<Root> = roots
        .iter()
        .filter(|r| subset.contains(r.object))
        .map(|r| Root { object: subset.rank(r.object), kind: r.kind })
        .collect();
    let referents: Vec<(ObjectIndex, ObjectIndex, Reach)> = referents
        .iter()
        .filter(|&&(r, w, _)| subset.contains(r) && subset.contains(w))
        .map(|&(r, w, strength)| (subset.rank(r), subset.rank(w), strength))
        .collect();
    let walk = compute(&graph.induced(&subset), &induced_roots, &referents);
    // Object `k` of the induced graph is `nodes[k]`.
    let members = (0..nodes.len() as u32).map(ObjectIndex::new);
    let parents = members.clone().filter_map(|k| Some((nodes[k.index()], nodes[walk.parent(k)?.index()])));
    let levels = members.map(|k| walk.level(k)).collect();
    // As the walk over the whole heap numbers them.
    let root_of = roots.iter().enumerate().map(|(i, root)| (root.object, i)).collect();
    Reachability { parents: Parents::Of(parents.collect()), level: Levels::Of(nodes, levels), root_of }
}

/// The strong walk of [`compute`] stopped after the level where the last of `targets` is
/// met: the same parents for them and for every object on their paths, without walking the
/// rest of the heap. `None` when a target is not strongly reachable.
pub(crate) fn toward(graph: &Csr, roots: &[Root], targets: &[ObjectIndex]) -> Option<Reachability> {
    let Walk { mut level, claims, root_of, seeds } = Walk::from_roots(graph.node_count(), roots, true);
    // Targets not met yet; each level checks from the last until one is still missing.
    let mut pending = targets.to_vec();
    let mut all_met = |level: &[Reach]| {
        while let Some(&t) = pending.last() {
            if level.get(t.index()) != Some(&Reach::Strong) {
                return false;
            }
            pending.pop();
        }
        true
    };
    spread(graph, &mut level, &claims, seeds, Reach::Strong, &mut all_met);
    all_met(&level).then_some(Reachability { level: Levels::All(level), parents: claims.into_parents(), root_of })
}

/// A walk's state before its first step: the GC roots reached, nothing else.
struct Walk {
    level: Vec<Reach>,
    claims: Claims,
    root_of: rustc_hash::FxHashMap<ObjectIndex, usize>,
    seeds: Vec<ObjectIndex>,
}

impl Walk {
    fn from_roots(n: usize, roots: &[Root], with_parents: bool) -> Walk {
        let claims = if with_parents {
            Claims::Parents((0..n).map(|_| AtomicU32::new(NO_PARENT)).collect())
        } else {
            Claims::Seen(BitSet::new(n))
        };
        let mut walk =
            Walk { level: vec![Reach::Unreachable; n], claims, root_of: Default::default(), seeds: Vec::new() };
        for (i, root) in roots.iter().enumerate() {
            if walk.root_of.insert(root.object, i).is_none() {
                walk.claims.root(root.object);
                walk.level[root.object.index()] = Reach::Strong;
                walk.seeds.push(root.object);
            }
        }
        walk
    }
}

/// The objects of one breadth-first level: a list while it is short, a bit set over all
/// objects once a list could outgrow one, so no level costs more than an eighth of a byte
/// an object.
enum Frontier {
    List(Vec<ObjectIndex>),
    Bits(BitSet),
}

impl Frontier {
    fn objects(&self) -> impl ParallelIterator<Item = ObjectIndex> + '_ {
        match self {
            Frontier::List(list) => Either::Left(list.par_iter().copied()),
            Frontier::Bits(bits) => Either::Right(bits.par_ones().map(|v| ObjectIndex::new(v as u32))),
        }
    }
}

/// Levels with fewer references to follow than this are expanded on the calling thread.
const SMALL_LEVEL: usize = 4096;

/// Walks breadth-first from `seeds`, giving the objects it reaches `strength`, until no level
/// is left or `done` says the levels so far are enough.
fn spread(
    graph: &Csr,
    level: &mut [Reach],
    claims: &Claims,
    seeds: Vec<ObjectIndex>,
    strength: Reach,
    done: &mut dyn FnMut(&[Reach]) -> bool,
) {
    let n = level.len();
    let mut frontier = Frontier::List(seeds);
    while !done(level) {
        let out_degree: usize = match &frontier {
            Frontier::List(list) if list.len() < SMALL_LEVEL => list.iter().map(|&v| graph.successors(v).len()).sum(),
            _ => frontier.objects().map(|v| graph.successors(v).len()).sum(),
        };
        if out_degree == 0 {
            return;
        }
        // Levels are written only between expansions, so reading them here is safe; the
        // first referrer to claim an object adds it to the next level.
        let seen: &[Reach] = level;
        let claims = |v: ObjectIndex, w: ObjectIndex| {
            (claims.tells_seen() || seen[w.index()] == Reach::Unreachable) && claims.claim(v, w)
        };
        let next = if out_degree < SMALL_LEVEL {
            // Deep chains (linked lists) make many tiny levels: no threads for them.
            let list = match frontier {
                Frontier::List(list) => list,
                bits => bits.objects().filter(|&v| !graph.successors(v).is_empty()).collect(),
            };
            Frontier::List(
                list.iter().flat_map(|&v| graph.successors(v).iter().copied().filter(move |&w| claims(v, w))).collect(),
            )
        } else if out_degree < n / 32 {
            Frontier::List(
                frontier
                    .objects()
                    .flat_map_iter(|v| graph.successors(v).iter().copied().filter(move |&w| claims(v, w)))
                    .collect(),
            )
        } else {
            let bits = BitSet::new(n);
            frontier.objects().for_each(|v| {
                for &w in graph.successors(v) {
                    if claims(v, w) {
                        bits.insert_shared(w.index());
                    }
                }
            });
            Frontier::Bits(bits)
        };
        match &next {
            Frontier::List(list) => list.iter().for_each(|&w| level[w.index()] = strength),
            Frontier::Bits(bits) => level
                .par_chunks_mut(64)
                .enumerate()
                .for_each(|(k, chunk)| Ones(bits.word(k)).for_each(|bit| chunk[bit] = strength)),
        }
        frontier = next;
    }
}
