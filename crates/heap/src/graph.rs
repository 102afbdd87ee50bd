//! References in compressed sparse rows: one flat array of targets, and where each object's
//! run of targets starts.

/// A directed graph over object indices in compressed sparse row form.
#[derive(Debug, Default)]
pub struct Csr {
    starts: Vec<u64>,
    targets: Vec<u32>,
}

impl Csr {
    /// Builds from per-source degrees (in index order) and the targets laid out in that order.
    pub fn from_degrees(degrees: &[u32], targets: Vec<u32>) -> Csr {
        let mut starts = Vec::with_capacity(degrees.len() + 1);
        let mut total = 0u64;
        starts.push(0);
        for &d in degrees {
            total += d as u64;
            starts.push(total);
        }
        debug_assert_eq!(total as usize, targets.len());
        Csr { starts, targets }
    }

    /// Builds from adjacency lists (tests, small graphs).
    pub fn from_lists(lists: &[Vec<u32>]) -> Csr {
        let degrees: Vec<u32> = lists.iter().map(|l| l.len() as u32).collect();
        Csr::from_degrees(&degrees, lists.concat())
    }

    pub fn node_count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    #[inline]
    pub fn successors(&self, node: u32) -> &[u32] {
        let i = node as usize;
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.targets[a as usize..b as usize],
            _ => &[],
        }
    }

    /// The reverse graph: incoming references, built on demand.
    pub fn transpose(&self) -> Csr {
        let n = self.node_count();
        let mut degrees = vec![0u32; n];
        for &t in &self.targets {
            degrees[t as usize] += 1;
        }
        let mut next: Vec<u64> = Vec::with_capacity(n);
        let mut total = 0u64;
        for &d in &degrees {
            next.push(total);
            total += d as u64;
        }
        let mut targets = vec![0u32; self.targets.len()];
        for source in 0..n as u32 {
            for &t in self.successors(source) {
                let slot = &mut next[t as usize];
                targets[*slot as usize] = source;
                *slot += 1;
            }
        }
        Csr::from_degrees(&degrees, targets)
    }

    /// Bytes held by the graph.
    pub fn heap_bytes(&self) -> usize {
        self.starts.len() * 8 + self.targets.len() * 4
    }
}
