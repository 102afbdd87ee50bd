//! Memory pages of the model's and the graph algorithms' large arrays: faulted in ahead of a
//! sequential phase on the core it leaves idle, and handed back as soon as an array is freed.
//!
//! The depth-first search of the dominator tree runs on one thread and writes its arrays as it
//! goes; on a virtual machine the first write to each page is dear (the search ran about twice
//! as fast over arrays already backed, on the benchmark dump). Another thread asks the kernel
//! to back the arrays a little ahead of the search meanwhile. Freed arrays, on the other hand,
//! the allocator keeps for a while in case they are reused, which adds them to the next
//! phase's peak (or to the same phase's, when it frees as it fills another array).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
        advise(start, end, Advice::Populate);
    }
}

/// How many elements the writer has written past each room's start, and whether it is done.
#[derive(Default)]
pub(crate) struct Progress {
    written: AtomicUsize,
    done: AtomicBool,
}

impl Progress {
    pub(crate) fn wrote(&self, count: usize) {
        self.written.store(count, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` while another thread has the kernel back the rooms, which `work` writes in
/// step, just ahead of the count it reports through its `Progress`. The vectors must not grow
/// past their capacity meanwhile (they would move). Nothing is backed that the writer will
/// not write, so objects the search never reaches (garbage in a dump taken without a full
/// collection) cost no memory.
pub(crate) fn while_faulting_in<R>(rooms: &[Room], work: impl FnOnce(&Progress) -> R) -> R {
    let progress = Progress::default();
    std::thread::scope(|scope| {
        // Without a thread to spare, the writer faults its pages in itself.
        let _ = std::thread::Builder::new().spawn_scoped(scope, || {
            let mut backed = 0;
            while !progress.done.load(Ordering::Relaxed) {
                if backed >= progress.written.load(Ordering::Relaxed) + AHEAD {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                rooms.iter().for_each(|room| room.populate(backed, backed + STEP));
                backed += STEP;
            }
        });
        // Stops the other thread however `work` ends, a panic included.
        struct Finish<'p>(&'p Progress);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                self.0.finish();
            }
        }
        let _finish = Finish(&progress);
        work(&progress)
    })
}

/// Frees a large vector, first handing its pages back to the kernel: the allocator would keep
/// them a while for reuse, and the next phase's arrays would add to them.
pub(crate) fn release<T>(v: Vec<T>) {
    let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_ptr() as usize + v.capacity() * size_of::<T>()) & !(PAGE - 1);
    advise(start, end, Advice::Discard);
    drop(v);
}

/// What the kernel is asked to do with a range of pages.
enum Advice {
    /// Back the pages not yet backed with zeroed ones, which is what their first write would
    /// find; backed pages stay as they are.
    Populate,
    /// Drop the pages: their contents read as zeros from then on.
    Discard,
}

#[cfg(target_os = "linux")]
fn advise(start: usize, end: usize, advice: Advice) {
    let advice = match advice {
        Advice::Populate => libc::MADV_POPULATE_WRITE,
        Advice::Discard => libc::MADV_DONTNEED,
    };
    if end > start {
        // SAFETY: the range is whole pages inside a vector's allocation: one being written,
        // whose contents backing leaves as they are, or one about to be freed, whose contents
        // nobody reads again. A refusal (an older kernel) changes nothing.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, advice) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_start: usize, _end: usize, _advice: Advice) {}

#[cfg(test)]
mod tests {
    use super::{release, while_faulting_in, Room, AHEAD};

    #[test]
    fn a_writer_far_past_the_lead_gets_its_values_and_finishes() {
        let count = 3 * AHEAD + 12_345;
        let (mut first, mut second): (Vec<u32>, Vec<u64>) = (Vec::with_capacity(count), Vec::with_capacity(count));
        let rooms = [Room::of(&mut first), Room::of(&mut second)];
        let sum = while_faulting_in(&rooms, |progress| {
            for i in 0..count {
                first.push(i as u32);
                second.push(i as u64 * 3);
                if i % 4096 == 0 {
                    progress.wrote(i);
                }
            }
            progress.finish();
            first.iter().map(|&x| x as u64).sum::<u64>()
        });
        assert_eq!(sum, (count as u64 - 1) * count as u64 / 2);
        assert!(second.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
        release(first);
        release(second);
    }

    #[test]
    fn a_writer_that_panics_ends_the_faulting_in() {
        let mut v: Vec<u32> = Vec::with_capacity(10 * AHEAD);
        let rooms = [Room::of(&mut v)];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            while_faulting_in(&rooms, |_| panic!("the writer fails"));
        }));
        assert!(outcome.is_err());
    }

    #[test]
    fn a_writer_that_stops_early_ends_the_faulting_in() {
        let mut v: Vec<u32> = Vec::with_capacity(10 * AHEAD);
        let rooms = [Room::of(&mut v)];
        while_faulting_in(&rooms, |progress| {
            v.push(7);
            progress.finish();
        });
        assert_eq!(v, [7]);
    }
}
