//! The `dumpscan` command: everything happens in `dumpscan-cli`.

/// mimalloc hands freed memory back to the system sooner than the system allocator, which
/// keeps the peak down while the heap model is built from many short-lived buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc options (`mi_option_e` in mimalloc.h, v3): commit arena memory as it is used,
/// and return freed memory after 100 ms rather than mimalloc's second. The model is built from
/// large buffers that live for one phase: a short delay lets the next phase reuse their pages
/// instead of faulting in fresh zeroed ones (`dumpscan dominators` a tenth faster), a long one
/// keeps them all alive together (the peak a fifth higher; measured on the benchmark dump).
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
