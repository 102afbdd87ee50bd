//! References in compressed sparse rows: one flat array of targets, and where each object's
//! run of targets starts.

/// A directed graph over object indices in compressed sparse row form.
#[derive(Debug, Default)]
pub struct Csr {
    starts: Starts,
    targets: Vec<u32>,
}

/// Where each node's targets start: 4 bytes a node unless there are over 2^32 edges.
#[derive(Debug)]
enum Starts {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for Starts {
    fn default() -> Self {
        Starts::Narrow(Vec::new())
    }
}

impl Starts {
    fn len(&self) -> usize {
        match self {
            Starts::Narrow(s) => s.len(),
            Starts::Wide(s) => s.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            Starts::Narrow(s) => s.get(i).map(|&v| v as usize),
            Starts::Wide(s) => s.get(i).map(|&v| v as usize),
        }
    }
}

impl Csr {
    /// Builds from per-source degrees (in index order) and the targets laid out in that order.
    /// The degrees become the start offsets in place (give them room for one more entry and
    /// no second array of a word per object is ever allocated).
    pub fn from_degrees(mut degrees: Vec<u32>, targets: Vec<u32>) -> Csr {
        let starts = if targets.len() <= u32::MAX as usize {
            let mut total = 0u32;
            for d in &mut degrees {
                let next = total + *d;
                *d = total;
                total = next;
            }
            degrees.push(total);
            Starts::Narrow(degrees)
        } else {
            let mut starts = Vec::with_capacity(degrees.len() + 1);
            let mut total = 0u64;
            starts.push(0);
            for &d in &degrees {
                total += d as u64;
                starts.push(total);
            }
            Starts::Wide(starts)
        };
        Csr { starts, targets }
    }

    /// Builds from adjacency lists (tests, small graphs).
    pub fn from_lists(lists: &[Vec<u32>]) -> Csr {
        let degrees: Vec<u32> = lists.iter().map(|l| l.len() as u32).collect();
        Csr::from_degrees(degrees, lists.concat())
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
            (Some(a), Some(b)) => &self.targets[a..b],
            _ => &[],
        }
    }

    /// The targets of nodes `first..first + count`, one run, to be written (a graph built with
    /// its degrees known first).
    pub(crate) fn run_mut(&mut self, first: u32, count: u32) -> &mut [u32] {
        let (first, end) = (first as usize, first as usize + count as usize);
        match (self.starts.get(first), self.starts.get(end)) {
            (Some(a), Some(b)) => &mut self.targets[a..b],
            _ => &mut [],
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
        Csr::from_degrees(degrees, targets)
    }

    /// Bytes held by the graph.
    pub fn heap_bytes(&self) -> usize {
        let starts = match &self.starts {
            Starts::Narrow(s) => s.len() * 4,
            Starts::Wide(s) => s.len() * 8,
        };
        starts + self.targets.len() * 4
    }
}
