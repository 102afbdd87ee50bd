//! The dominator tree of the strong reference graph, by the semi-NCA algorithm (Georgiadis;
//! the variant LLVM uses), rooted at a virtual node above every GC root. An object's retained
//! set is what its dominator subtree holds: what would be freed if it were gone.

use crate::{Csr, Heap, ObjectIndex};

/// The virtual root's preorder number; 0 marks objects the search never reached.
const VIRTUAL_ROOT: u32 = 1;

/// Immediate dominators of all strongly reachable objects.
pub struct Dominators {
    /// Preorder number of each object (0: not strongly reachable).
    number: Vec<u32>,
    /// Object at each preorder number (index 0 and 1 unused: unvisited and the virtual root).
    vertex: Vec<ObjectIndex>,
    /// Immediate dominator, as a preorder number, by preorder number.
    idom: Vec<u32>,
}

impl Dominators {
    /// Computes the tree over `heap`'s strong references.
    pub fn compute(heap: &Heap<'_>) -> Dominators {
        let roots: Vec<ObjectIndex> = heap.roots.iter().map(|r| r.object).collect();
        Dominators::of_graph(&heap.graph, &roots)
    }

    /// Computes the tree of `graph` under a virtual root whose children are `roots`.
    pub fn of_graph(graph: &Csr, roots: &[ObjectIndex]) -> Dominators {
        let n = graph.node_count();
        let mut number = vec![0u32; n];
        // vertex[0] is a placeholder and vertex[1] the virtual root.
        let mut vertex: Vec<ObjectIndex> = vec![u32::MAX, u32::MAX];
        let mut dfs_parent: Vec<u32> = vec![0, 0];

        // Depth-first search from the virtual root, whose children are the GC roots; the stack
        // holds a cursor into each open vertex's successors, so it grows with depth, not edges.
        let mut stack: Vec<(ObjectIndex, u32, usize)> = Vec::new();
        for &root in roots {
            if number[root as usize] != 0 {
                continue;
            }
            let visit =
                |v: ObjectIndex, parent: u32, number: &mut [u32], vertex: &mut Vec<u32>, dfs_parent: &mut Vec<u32>| {
                    let num = vertex.len() as u32;
                    number[v as usize] = num;
                    vertex.push(v);
                    dfs_parent.push(parent);
                    (v, num, 0)
                };
            stack.push(visit(root, VIRTUAL_ROOT, &mut number, &mut vertex, &mut dfs_parent));
            while let Some(top) = stack.last_mut() {
                let (v, num, cursor) = *top;
                match graph.successors(v).get(cursor) {
                    Some(&w) => {
                        top.2 += 1;
                        if number[w as usize] == 0 {
                            stack.push(visit(w, num, &mut number, &mut vertex, &mut dfs_parent));
                        }
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
        let count = vertex.len();

        // Predecessors by preorder number, restricted to visited objects.
        let mut pred_degree = vec![0u32; count];
        for &v in &vertex[2..] {
            for &w in graph.successors(v) {
                pred_degree[number[w as usize] as usize] += 1;
            }
        }
        let mut seen_root = vec![false; count];
        for &root in roots {
            let r = number[root as usize] as usize;
            if !seen_root[r] {
                seen_root[r] = true;
                pred_degree[r] += 1;
            }
        }
        let mut pred_start = vec![0usize; count + 1];
        for i in 0..count {
            pred_start[i + 1] = pred_start[i] + pred_degree[i] as usize;
        }
        let mut fill = pred_start.clone();
        let mut preds = vec![0u32; pred_start[count]];
        for (r, &seen) in seen_root.iter().enumerate() {
            if seen {
                preds[fill[r]] = VIRTUAL_ROOT;
                fill[r] += 1;
            }
        }
        for (num, &v) in vertex.iter().enumerate().skip(2) {
            for &w in graph.successors(v) {
                let t = number[w as usize] as usize;
                preds[fill[t]] = num as u32;
                fill[t] += 1;
            }
        }
        drop(fill);

        // Semidominators, with path compression over `ancestor` (the DFS parent, compressed).
        let mut idom = dfs_parent.clone();
        let mut ancestor = dfs_parent;
        let mut semi: Vec<u32> = (0..count as u32).collect();
        let mut label: Vec<u32> = (0..count as u32).collect();
        let mut stack: Vec<u32> = Vec::new();
        for w in (2..count).rev() {
            let mut best = ancestor[w];
            for &v in &preds[pred_start[w]..pred_start[w + 1]] {
                let u = eval(v, w as u32 + 1, &mut ancestor, &mut label, &semi, &mut stack);
                best = best.min(semi[u as usize]);
            }
            semi[w] = best;
        }
        // idom(w) = nearest common ancestor of semi(w) and the DFS parent, in the final tree.
        for w in 2..count {
            let mut candidate = idom[w];
            while candidate > semi[w] {
                candidate = idom[candidate as usize];
            }
            idom[w] = candidate;
        }
        Dominators { number, vertex, idom }
    }

    /// The immediate dominator of `object`; `None` for objects dominated only by the virtual
    /// root (held by GC roots directly or by several roots) or not strongly reachable.
    pub fn idom(&self, object: ObjectIndex) -> Option<ObjectIndex> {
        let num = *self.number.get(object as usize)?;
        if num < 2 {
            return None;
        }
        let d = self.idom[num as usize];
        (d >= 2).then(|| self.vertex[d as usize])
    }

    pub fn is_reachable(&self, object: ObjectIndex) -> bool {
        self.number.get(object as usize).is_some_and(|&n| n >= 2)
    }

    /// Sums `quantity` over each object's dominator subtree: retained heap when `quantity` is
    /// the shallow size, retained native memory when it is the bytes an object owns off-heap.
    /// Objects not strongly reachable retain nothing.
    pub fn retained(&self, quantity: impl Fn(ObjectIndex) -> u64) -> Vec<u64> {
        let mut by_number = vec![0u64; self.vertex.len()];
        for (slot, &v) in by_number.iter_mut().zip(&self.vertex).skip(2) {
            *slot = quantity(v);
        }
        // Children come after their dominator in preorder: fold from the back.
        for num in (2..self.vertex.len()).rev() {
            let d = self.idom[num] as usize;
            if d >= 2 {
                by_number[d] += by_number[num];
            }
        }
        let mut retained = vec![0u64; self.number.len()];
        for (object, &num) in self.number.iter().enumerate() {
            if num >= 2 {
                retained[object] = by_number[num as usize];
            }
        }
        retained
    }

    /// Sums of `retained` per group (say, per class) that count each object at most once: an
    /// object adds its retained amount only if no dominator above it is in the same group.
    pub fn retained_by_group(&self, retained: &[u64], group: impl Fn(ObjectIndex) -> usize, groups: usize) -> Vec<u64> {
        let count = self.vertex.len();
        // Children lists of the dominator tree, by preorder number.
        let mut start = vec![0u32; count + 1];
        for num in 2..count {
            start[self.idom[num] as usize + 1] += 1;
        }
        for i in 0..count {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut children = vec![0u32; count.saturating_sub(2)];
        for num in 2..count {
            let d = self.idom[num] as usize;
            children[fill[d] as usize] = num as u32;
            fill[d] += 1;
        }
        drop(fill);
        let mut open = vec![0u32; groups];
        let mut sums = vec![0u64; groups];
        // Depth-first over the tree: entering a node opens its group, leaving closes it.
        let mut stack: Vec<(u32, bool)> = vec![(VIRTUAL_ROOT, false)];
        while let Some((num, leaving)) = stack.pop() {
            let g = (num >= 2).then(|| group(self.vertex[num as usize]));
            if leaving {
                if let Some(g) = g {
                    open[g] -= 1;
                }
                continue;
            }
            if let Some(g) = g {
                let object = self.vertex[num as usize] as usize;
                if open[g] == 0 {
                    sums[g] += retained[object];
                }
                open[g] += 1;
            }
            stack.push((num, true));
            for &child in &children[start[num as usize] as usize..start[num as usize + 1] as usize] {
                stack.push((child, false));
            }
        }
        sums
    }

    /// Objects dominated by the virtual root alone: the tops of the tree.
    pub fn tops(&self) -> impl Iterator<Item = ObjectIndex> + '_ {
        (2..self.vertex.len()).filter(|&num| self.idom[num] < 2).map(|num| self.vertex[num])
    }

    pub fn heap_bytes(&self) -> usize {
        (self.number.len() + self.vertex.len() + self.idom.len()) * 4
    }
}

/// The vertex with the smallest semidominator on the path from `v` up to the part of the
/// forest already linked (numbers at or above `last_linked`), compressing that path.
fn eval(v: u32, last_linked: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], stack: &mut Vec<u32>) -> u32 {
    if v < last_linked {
        return label[v as usize];
    }
    let mut x = v;
    loop {
        stack.push(x);
        x = ancestor[x as usize];
        if x < last_linked {
            break;
        }
    }
    // `x` is the first vertex outside the linked forest; compress the path below it.
    let mut p = stack.pop().unwrap_or(v);
    while let Some(y) = stack.pop() {
        ancestor[y as usize] = ancestor[p as usize];
        if semi[label[p as usize] as usize] < semi[label[y as usize] as usize] {
            label[y as usize] = label[p as usize];
        }
        p = y;
    }
    label[p as usize]
}
