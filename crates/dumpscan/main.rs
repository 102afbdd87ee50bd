//! The `dumpscan` command: everything happens in `dumpscan-cli`.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;

/// mimalloc hands freed memory back to the system sooner than the system allocator, which
/// keeps the peak down while the heap model is built from many short-lived buffers; large
/// blocks are asked for on 2 MiB pages under a memory limit (see `advise_huge_pages`).
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
    std::process::exit(dumpscan_cli::run());
}

/// mimalloc, with large blocks advised onto transparent huge pages under a memory limit, and
/// backed by files once the memory budget is spent (`dumpscan_spill`, set up from
/// `--max-memory`).
struct Allocator;

// SAFETY: every call goes to mimalloc unchanged, or for a large block to dumpscan_spill, which
// maps a file of the block's size (page-aligned, so any alignment up to a page holds) and
// unmaps it when it is freed; the advice only concerns the whole 2 MiB pages inside the block
// just handed out, which no other allocation shares.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = match is_spillable(layout) {
            true => unsafe { dumpscan_spill::allocate(layout.size(), || MiMalloc.alloc(layout)) },
            false => unsafe { MiMalloc.alloc(layout) },
        };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // A file's new pages read as zeros.
        let block = match is_spillable(layout) {
            true => unsafe { dumpscan_spill::allocate(layout.size(), || MiMalloc.alloc_zeroed(layout)) },
            false => unsafe { MiMalloc.alloc_zeroed(layout) },
        };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = Layout::from_size_align(new_size, layout.align()).unwrap_or(layout);
        if !is_spillable(layout) && !is_spillable(grown) {
            let block = unsafe { MiMalloc.realloc(block, layout, new_size) };
            advise_huge_pages(block, new_size);
            return block;
        }
        let resized = unsafe {
            dumpscan_spill::resize_anonymous(block, layout.size(), new_size, || {
                MiMalloc.realloc(block, layout, new_size)
            })
        };
        if let Some(block) = resized {
            advise_huge_pages(block, new_size);
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

/// Asks Linux to back a large block with 2 MiB pages as it is first written, when the memory
/// plan wants them ([`dumpscan_spill::huge_pages`]: under a memory limit, where the analysis
/// pages its arrays through files and one fault per 2 MiB instead of 512 counts). The
/// system's `transparent_hugepage` setting must be `madvise` or `always`; otherwise the advice
/// is refused and nothing changes.
#[cfg(target_os = "linux")]
fn advise_huge_pages(block: *mut u8, size: usize) {
    /// Blocks from this size on are the model's columns and the graph algorithms' arrays.
    const LARGE_BLOCK: usize = 4 << 20;
    const HUGE_PAGE: usize = 2 << 20;
    if !block.is_null() && size >= LARGE_BLOCK && dumpscan_spill::huge_pages() {
        let start = (block as usize).next_multiple_of(HUGE_PAGE);
        let end = (block as usize + size) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: the range lies inside the block; MADV_HUGEPAGE changes how its pages
            // are backed, never their contents. A refusal is harmless.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_block: *mut u8, _size: usize) {}
