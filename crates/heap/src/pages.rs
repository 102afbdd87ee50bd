//! Memory pages of the graph algorithms' large arrays: faulted in ahead of a sequential phase
//! on the core it leaves idle, and handed back as soon as an array is freed.
//!
//! The depth-first search of the dominator tree runs on one thread and writes its arrays as it
//! goes; on a virtual machine the first write to each page is dear (the search ran about twice
//! as fast over arrays already backed, on the benchmark dump). Another thread asks the kernel
//! to back the arrays a little ahead of the search meanwhile. Freed arrays, on the other hand,
//! the allocator keeps for a while in case they are reused, which adds them to the next
//! phase's peak.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const PAGE: usize = 4096;
/// How far ahead of the writer the pages are backed, in elements.
const AHEAD: usize = 1 << 20;
/// How many elements are backed at a time.
const STEP: usize = 1 << 18;

/// A vector's reserved room past its length, as addresses: the other thread never touches
/// the memory, it only asks the kernel to back it.
pub(crate) struct Room {
    start: usize,
    element: usize,
    capacity: usize,
}

impl Room {
    pub(crate) fn of<T>(v: &mut Vec<T>) -> Room {
        let capacity = v.capacity() - v.len();
        Room { start: v.spare_capacity_mut().as_ptr() as usize, element: size_of::<T>(), capacity }
    }

    /// Backs the whole pages of elements `from..to` (clamped to the room).
    fn populate(&self, from: usize, to: usize) {
        let start = (self.start + from.min(self.capacity) * self.element).next_multiple_of(PAGE);
        let end = (self.start + to.min(self.capacity) * self.element) & !(PAGE - 1);
        populate(start, end);
    }
}

/// How many elements the writer has written past each room's start, and how many it will
/// write in all once it knows.
#[derive(Default)]
pub(crate) struct Progress {
    written: AtomicUsize,
    total: AtomicUsize,
}

impl Progress {
    pub(crate) fn wrote(&self, count: usize) {
        self.written.store(count, Ordering::Relaxed);
    }

    /// The writer is done with the rooms written in step; the next ones get `total` elements.
    pub(crate) fn finish(&self, total: usize) {
        self.total.store(total + 1, Ordering::Release);
    }
}

/// Runs `work` while another thread has the kernel back the rooms `in_step` just ahead of the
/// count `work` reports through its `Progress`, then the rooms `next` for the total it
/// reports at the end. The vectors must not grow past their capacity meanwhile (they would
/// move). Nothing is backed that the writer will not write, so objects the search never
/// reaches (garbage in a dump taken without a full collection) cost no memory.
pub(crate) fn while_faulting_in<R>(in_step: &[Room], next: &[Room], work: impl FnOnce(&Progress) -> R) -> R {
    let progress = Progress::default();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut backed = 0;
            let total = loop {
                let total = progress.total.load(Ordering::Acquire);
                if total != 0 {
                    break total - 1;
                }
                let goal = progress.written.load(Ordering::Relaxed) + AHEAD;
                if backed >= goal {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                in_step.iter().for_each(|room| room.populate(backed, backed + STEP));
                backed += STEP;
            };
            for room in next {
                (0..total).step_by(STEP).for_each(|at| room.populate(at, (at + STEP).min(total)));
            }
        });
        work(&progress)
    })
}

/// Frees a large vector, first handing its pages back to the kernel: the allocator would keep
/// them a while for reuse, and the next phase's arrays would add to them.
pub(crate) fn release<T>(v: Vec<T>) {
    let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_ptr() as usize + v.capacity() * size_of::<T>()) & !(PAGE - 1);
    discard(start, end);
    drop(v);
}

#[cfg(target_os = "linux")]
fn discard(start: usize, end: usize) {
    if end > start {
        // SAFETY: the range is whole pages inside the allocation of a vector about to be freed,
        // whose contents nobody reads again; they read as zeros if the memory is reused.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(not(target_os = "linux"))]
fn discard(_start: usize, _end: usize) {}

#[cfg(target_os = "linux")]
fn populate(start: usize, end: usize) {
    if end > start {
        // SAFETY: the range is whole pages inside a vector's allocation. MADV_POPULATE_WRITE
        // backs pages not yet backed with zeroed ones, which is what their first write would
        // find, and leaves backed pages as they are; a refusal (an older kernel) changes
        // nothing.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn populate(_start: usize, _end: usize) {}
