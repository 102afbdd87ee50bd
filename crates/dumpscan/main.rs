//! The `dumpscan` command: everything happens in `dumpscan-cli`.

/// mimalloc hands freed memory back to the system sooner than the system allocator, which
/// keeps the peak down while the heap model is built from many short-lived buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(dumpscan_cli::run());
}
