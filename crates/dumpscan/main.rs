//! The `dumpscan` command: everything happens in `dumpscan-cli`.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;

/// mimalloc hands freed memory back to the system sooner than the system allocator, which
/// keeps the peak down while the heap model is built from many short-lived buffers.
#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// mimalloc options (`mi_option_e` in mimalloc.h, v3): commit arena memory as it is used,
/// and return freed memory after 100 ms rather than mimalloc's second. The model is built from
/// large buffers that live for one phase: a short delay lets the next phase reuse their pages
/// instead of faulting in fresh zeroed ones, a long one keeps them all alive together (figures
/// in docs/PERFORMANCE.md, "Allocator settings").
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // SAFETY: setting an option is always allowed; these two only change when memory is
    // committed and returned to the system.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100);
    }
    without_huge_pages();
    std::process::exit(dumpscan_cli::run());
}

/// Keeps the process's memory on 4 KiB pages, whatever the system's `transparent_hugepage`
/// setting. A 2 MiB page is taken from the kernel's largest free blocks, which a virtual
/// machine's host may have reclaimed (free page reporting): its first touch then waits for the
/// host to back it again, while 4 KiB pages mostly come from memory just freed. The analysis
/// writes fresh arrays phase after phase, and spent far longer in the kernel on 2 MiB pages
/// (figures in docs/PERFORMANCE.md, "Allocator settings").
#[cfg(target_os = "linux")]
fn without_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only changes how this process's future pages are backed; a
    // refusal (an older kernel) changes nothing.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn without_huge_pages() {}

/// mimalloc, with large blocks backed by files once the memory budget is spent
/// (`dumpscan_spill`, set up from `--max-memory`).
struct Allocator;

// SAFETY: every call goes to mimalloc unchanged, or for a large block to dumpscan_spill, which
// maps a file of the block's size (page-aligned, so any alignment up to a page holds) and
// unmaps it when it is freed.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match is_spillable(layout) {
            true => unsafe { dumpscan_spill::allocate(layout.size(), || MiMalloc.alloc(layout)) },
            false => unsafe { MiMalloc.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // A file's new pages read as zeros.
        match is_spillable(layout) {
            true => unsafe { dumpscan_spill::allocate(layout.size(), || MiMalloc.alloc_zeroed(layout)) },
            false => unsafe { MiMalloc.alloc_zeroed(layout) },
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = Layout::from_size_align(new_size, layout.align()).unwrap_or(layout);
        if !is_spillable(layout) && !is_spillable(grown) {
            return unsafe { MiMalloc.realloc(block, layout, new_size) };
        }
        let resized = unsafe {
            dumpscan_spill::resize_anonymous(block, layout.size(), new_size, || {
                MiMalloc.realloc(block, layout, new_size)
            })
        };
        if let Some(block) = resized {
            return block;
        }
        // A file-backed block, or one the budget sends to a file, moves through alloc and
        // dealloc: a file-backed block is never handed to mimalloc.
        let moved = unsafe { self.alloc(grown) };
        if !moved.is_null() {
            unsafe { std::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size)) };
            unsafe { self.dealloc(block, layout) };
        }
        moved
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match is_spillable(layout) {
            true => unsafe { dumpscan_spill::release(block, layout.size(), || MiMalloc.dealloc(block, layout)) },
            false => unsafe { MiMalloc.dealloc(block, layout) },
        }
    }
}

/// Blocks large enough to go to a file, with an alignment a page satisfies.
fn is_spillable(layout: Layout) -> bool {
    layout.size() >= dumpscan_spill::LARGE && layout.align() <= 4096
}
