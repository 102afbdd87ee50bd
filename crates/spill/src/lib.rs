//! Large allocations backed by files once a memory budget is spent.
//!
//! The heap model and the graph algorithms keep their data in a few hundred large flat arrays
//! (columns indexed by object number). Held in anonymous memory, they must all fit: in a
//! container whose limit is below the analysis's peak, the kernel kills the process. Backed by
//! a file instead (an unlinked temporary file mapped shared), the same array is still plain
//! memory to the code, but its pages can be written out and dropped when memory is short,
//! and read back when touched: the kernel pages the analysis through the disk, and the
//! passes, which walk the arrays mostly in order, read them sequentially.
//!
//! The global allocator of the `dumpscan` binary asks [`allocate`] and [`release`] for every
//! block of [`LARGE`] bytes or more. Until [`configure`] is called, or while the anonymous
//! large blocks stay within the budget, they come from the ordinary allocator; past it, each
//! from a file of its own in the configured folder (a file each, so that the kernel's
//! read-ahead around a fault stays within the block). Freeing such a block unmaps it and
//! empties its file, whose pages the kernel drops without writing them; the emptied file is
//! kept open for a later block, since a file system may take long to find a new file an inode
//! when thousands come and go (ext4 without a journal passes over every inode freed in the
//! last seconds).
#![warn(missing_docs)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Blocks from this size on may be backed by files; smaller ones never are.
pub const LARGE: usize = 64 << 10;

/// Bytes of large blocks that may live in anonymous memory; `usize::MAX` until configured.
static ANONYMOUS_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Bytes of large blocks now in anonymous memory.
static ANONYMOUS: AtomicUsize = AtomicUsize::new(0);
/// Bytes now backed by files, and the most at any time.
static IN_FILES: AtomicUsize = AtomicUsize::new(0);
static IN_FILES_PEAK: AtomicUsize = AtomicUsize::new(0);
/// Whether large anonymous blocks go on 2 MiB pages ([`use_huge_pages`]).
static HUGE_PAGES: AtomicBool = AtomicBool::new(false);
/// The folder for the files, as a C string for `open`.
static FOLDER: OnceLock<CString> = OnceLock::new();

/// The blocks now backed by files, by address: an open-addressing table (0: never used,
/// [`REMOVED`]: used once, free again, [`CLAIMED`]: being filled in), so that freeing a block
/// finds it in a few probes; beside each, the descriptor of the block's file. A fixed table:
/// the allocator must not allocate to remember what it allocated. When it is full, blocks
/// stay anonymous.
const SLOTS: usize = 1 << 16;
const REMOVED: usize = 1;
const CLAIMED: usize = 2;
static FILE_BLOCKS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static BLOCK_FILES: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// Emptied files kept open for the next blocks, up to [`SPARE`].
static SPARE_FILES: Mutex<Spare> = Mutex::new(Spare { fds: [-1; SPARE], len: 0 });
const SPARE: usize = 1 << 14;
/// Descriptors held open (the blocks' files and the spare ones), and how many may be: half
/// of what the process may open, the rest left to the program. Past it, a block's file is
/// closed once mapped, and made anew for the next block.
static FILES_HELD: AtomicUsize = AtomicUsize::new(0);
static FILES_ROOM: AtomicUsize = AtomicUsize::new(0);

/// A stack of open descriptors, in a fixed array for the same reason as the table's.
struct Spare {
    fds: [libc::c_int; SPARE],
    len: usize,
}

/// The slots to probe for `address`, in order.
fn probes(address: usize) -> impl Iterator<Item = usize> {
    // Mappings are page-aligned: the bits above the page offset, spread by a multiplication.
    let start = ((address >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) % SLOTS;
    (0..SLOTS).map(move |i| (start + i) % SLOTS)
}

/// Remembers a block backed by the file `fd`; false when the table is full.
fn remember(address: usize, fd: libc::c_int) -> bool {
    probes(address).any(|i| {
        let slot = &FILE_BLOCKS[i];
        let seen = slot.load(Ordering::Relaxed);
        let claimed = (seen == 0 || seen == REMOVED)
            && slot.compare_exchange(seen, CLAIMED, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        if claimed {
            BLOCK_FILES[i].store(fd, Ordering::Relaxed);
            slot.store(address, Ordering::Release);
        }
        claimed
    })
}

/// The slot of a block backed by a file, if it is one.
fn slot_of(address: usize) -> Option<usize> {
    for i in probes(address) {
        match FILE_BLOCKS[i].load(Ordering::Acquire) {
            0 => return None,
            seen if seen == address => return Some(i),
            _ => {}
        }
    }
    None
}

/// An emptied file kept open, else a new one.
fn spare_or_new_file(folder: &CString) -> Option<libc::c_int> {
    let mut spare = SPARE_FILES.lock().unwrap_or_else(PoisonError::into_inner);
    if spare.len > 0 {
        spare.len -= 1;
        return Some(spare.fds[spare.len]);
    }
    drop(spare);
    let fd = temporary_file(folder).ok()?;
    FILES_HELD.fetch_add(1, Ordering::Relaxed);
    Some(fd)
}

/// Empties the file `fd` (its pages dropped unwritten, its disk space returned) and keeps it
/// for a later block, or closes it when enough are kept or it cannot be emptied.
fn keep_or_close(fd: libc::c_int) {
    // SAFETY: fd is an open file of this crate, no longer mapped; it is kept or closed once.
    if unsafe { libc::ftruncate(fd, 0) } == 0 {
        let mut spare = SPARE_FILES.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len < SPARE {
            let at = spare.len;
            spare.fds[at] = fd;
            spare.len += 1;
            return;
        }
    }
    close(fd);
}

/// Closes a descriptor this crate held.
fn close(fd: libc::c_int) {
    // SAFETY: fd is an open file of this crate, closed once.
    unsafe { libc::close(fd) };
    FILES_HELD.fetch_sub(1, Ordering::Relaxed);
}

/// Large blocks may take `anonymous_limit` bytes of anonymous memory; past that, they are
/// backed by files in `folder`. Fails when no temporary file can be made there.
pub fn configure(anonymous_limit: usize, folder: &Path) -> io::Result<()> {
    let path = CString::new(folder.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // Each file block holds its descriptor: room for as many as the process may open.
    let mut files = std::mem::MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: getrlimit writes the limit before it is read; setrlimit only raises the soft
    // limit to the hard one, which needs no privilege.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, files.as_mut_ptr()) == 0 {
            let mut files = files.assume_init();
            let raised = libc::rlimit { rlim_cur: files.rlim_max, ..files };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                files = raised;
            }
            FILES_ROOM.store(usize::try_from(files.rlim_cur / 2).unwrap_or(usize::MAX), Ordering::Relaxed);
        }
    }
    // A first file, at once: a folder that cannot hold one fails here, not mid-analysis.
    let fd = temporary_file(&path)?;
    FILES_HELD.fetch_add(1, Ordering::Relaxed);
    keep_or_close(fd);
    let _ = FOLDER.set(path);
    ANONYMOUS_LIMIT.store(anonymous_limit, Ordering::Relaxed);
    Ok(())
}

/// Chooses the pages of the process's memory. Under a memory limit (`on`), large anonymous
/// blocks are asked for on 2 MiB pages, which the analysis, paging its arrays through files,
/// runs faster with. Otherwise every page is 4 KiB, whatever the system's
/// `transparent_hugepage` setting: a 2 MiB page is taken from the kernel's largest free
/// blocks, which a virtual machine's host may have reclaimed (free page reporting), and its
/// first touch then waits for the host to back it again, while 4 KiB pages mostly come from
/// memory just freed. Figures in docs/PERFORMANCE.md, "Allocator settings".
pub fn use_huge_pages(on: bool) {
    HUGE_PAGES.store(on, Ordering::Relaxed);
    #[cfg(target_os = "linux")]
    if !on {
        // SAFETY: PR_SET_THP_DISABLE only changes how this process's future pages are
        // backed; a refusal (an older kernel) changes nothing.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

/// Whether large anonymous blocks should go on 2 MiB pages ([`use_huge_pages`]).
pub fn huge_pages() -> bool {
    HUGE_PAGES.load(Ordering::Relaxed)
}

/// What went to files so far: the bytes backed by files at the most.
pub fn peak_in_files() -> usize {
    IN_FILES_PEAK.load(Ordering::Relaxed)
}

/// Whether the file system of `folder` keeps its files in memory (tmpfs, ramfs), where a
/// file-backed block saves nothing.
pub fn is_in_memory(folder: &Path) -> bool {
    let Ok(path) = CString::new(folder.as_os_str().as_bytes()) else { return false };
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: path is NUL-terminated and stat is written by statfs before it is read.
    if unsafe { libc::statfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: statfs succeeded, so stat is initialised.
    let kind = unsafe { stat.assume_init() }.f_type;
    const RAMFS_MAGIC: libc::c_long = 0x858458f6;
    kind == libc::TMPFS_MAGIC as libc::c_long || kind == RAMFS_MAGIC
}

/// The folder for the files when none is given: the system's temporary folder, unless it is
/// held in memory, then `/var/tmp`.
pub fn default_folder() -> PathBuf {
    let tmp = std::env::temp_dir();
    match is_in_memory(&tmp) && Path::new("/var/tmp").is_dir() {
        true => PathBuf::from("/var/tmp"),
        false => tmp,
    }
}

/// A block of `size` bytes (`size >= LARGE`) from a file when the budget is spent, else from
/// `anonymous`. `None` from a file that cannot be made means: take it from `anonymous`.
///
/// # Safety
/// As `GlobalAlloc::alloc`; `align` must be at most a page.
pub unsafe fn allocate(size: usize, anonymous: impl FnOnce() -> *mut u8) -> *mut u8 {
    let limit = ANONYMOUS_LIMIT.load(Ordering::Relaxed);
    let before = ANONYMOUS.fetch_add(size, Ordering::Relaxed);
    if limit == usize::MAX || before.saturating_add(size) <= limit {
        return anonymous();
    }
    match map_file(size) {
        Some(block) => {
            ANONYMOUS.fetch_sub(size, Ordering::Relaxed);
            let now = IN_FILES.fetch_add(size, Ordering::Relaxed) + size;
            IN_FILES_PEAK.fetch_max(now, Ordering::Relaxed);
            block
        }
        None => anonymous(),
    }
}

/// Frees a block from [`allocate`]: unmapped when a file backs it, else given to `anonymous`.
///
/// # Safety
/// As `GlobalAlloc::dealloc`, for a block of `size >= LARGE` bytes from [`allocate`].
pub unsafe fn release(block: *mut u8, size: usize, anonymous: impl FnOnce()) {
    if let Some(i) = slot_of(block as usize) {
        let fd = BLOCK_FILES[i].swap(-1, Ordering::Relaxed);
        FILE_BLOCKS[i].store(REMOVED, Ordering::Release);
        // SAFETY: the block is a mapping of `size` bytes made by map_file and no longer used.
        unsafe { libc::munmap(block.cast(), size) };
        if fd >= 0 {
            keep_or_close(fd);
        }
        IN_FILES.fetch_sub(size, Ordering::Relaxed);
    } else {
        ANONYMOUS.fetch_sub(size, Ordering::Relaxed);
        anonymous();
    }
}

/// Resizes a block that is and stays anonymous with `resize` (the ordinary allocator's
/// realloc, which may grow it in place), keeping the budget's count. `None` when it must move
/// instead: it is backed by a file, or the budget sends its new size to one.
///
/// # Safety
/// As `GlobalAlloc::realloc`, for a block of `old_size` bytes from this allocator.
pub unsafe fn resize_anonymous(
    block: *mut u8,
    old_size: usize,
    new_size: usize,
    resize: impl FnOnce() -> *mut u8,
) -> Option<*mut u8> {
    if old_size >= LARGE && is_in_file(block) {
        return None;
    }
    let counted = |size: usize| if size >= LARGE { size } else { 0 };
    let (old, new) = (counted(old_size), counted(new_size));
    let limit = ANONYMOUS_LIMIT.load(Ordering::Relaxed);
    if new > old {
        let before = ANONYMOUS.fetch_add(new - old, Ordering::Relaxed);
        if limit != usize::MAX && before.saturating_add(new - old) > limit {
            ANONYMOUS.fetch_sub(new - old, Ordering::Relaxed);
            return None;
        }
    } else {
        ANONYMOUS.fetch_sub(old - new, Ordering::Relaxed);
    }
    let resized = resize();
    if resized.is_null() {
        // The block is unchanged: so is the count.
        match new > old {
            true => ANONYMOUS.fetch_sub(new - old, Ordering::Relaxed),
            false => ANONYMOUS.fetch_add(old - new, Ordering::Relaxed),
        };
    }
    Some(resized)
}

/// Whether `block` is backed by a file.
pub fn is_in_file(block: *const u8) -> bool {
    slot_of(block as usize).is_some()
}

/// An unlinked file of `size` bytes mapped shared, remembered in the table with its
/// descriptor, kept open to be emptied and reused when the block is freed.
fn map_file(size: usize) -> Option<*mut u8> {
    let folder = FOLDER.get()?;
    let length = libc::off_t::try_from(size).ok()?;
    let fd = spare_or_new_file(folder)?;
    // SAFETY: fd is an open, writable, empty file; the mapping covers exactly its length.
    let block = unsafe {
        match libc::ftruncate(fd, length) {
            0 => libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0),
            _ => libc::MAP_FAILED,
        }
    };
    if block == libc::MAP_FAILED {
        keep_or_close(fd);
        return None;
    }
    // Too many descriptors held: this block's file lives on in its mapping alone, and is gone
    // with it.
    let held = match FILES_HELD.load(Ordering::Relaxed) > FILES_ROOM.load(Ordering::Relaxed) {
        true => {
            close(fd);
            -1
        }
        false => fd,
    };
    if !remember(block as usize, held) {
        // SAFETY: the mapping was just made and is not in use.
        unsafe { libc::munmap(block, size) };
        if held >= 0 {
            keep_or_close(held);
        }
        return None;
    }
    Some(block.cast())
}

/// A new file in `folder` with no name, gone when its last descriptor and mapping are.
fn temporary_file(folder: &CString) -> io::Result<libc::c_int> {
    // SAFETY: folder is NUL-terminated; open returns a descriptor or -1.
    let fd = unsafe { libc::open(folder.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
    match fd {
        -1 => Err(io::Error::last_os_error()),
        fd => Ok(fd),
    }
}

/// Where a memory budget came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// Given by the user (`--max-memory`).
    Given,
    /// The memory limit of the process's control group (v2 `memory.max`, v1
    /// `memory.limit_in_bytes`), the smallest along its path.
    ControlGroup,
    /// A share of the machine's physical memory.
    PhysicalMemory,
}

/// The memory the process is allowed: its control group's limit when there is one, else
/// three quarters of physical memory.
pub fn allowed_memory() -> Option<(u64, BudgetSource)> {
    if let Some(limit) = control_group_limit() {
        return Some((limit, BudgetSource::ControlGroup));
    }
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    let physical = u64::try_from(pages).ok()?.checked_mul(u64::try_from(page).ok()?)?;
    Some((physical / 4 * 3, BudgetSource::PhysicalMemory))
}

/// The smallest memory limit on the path of this process's control groups, v2 or v1.
fn control_group_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut limits = Vec::new();
    for line in groups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let (root, file) = match controllers {
            "" => (
                ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
                    .into_iter()
                    .find(|r| Path::new(r).join("cgroup.controllers").exists()),
                "memory.max",
            ),
            c if c.split(',').any(|c| c == "memory") => (Some("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"),
            _ => continue,
        };
        let Some(root) = root else { continue };
        let mut dir = Path::new(root).join(path.trim_start_matches('/'));
        loop {
            let value = std::fs::read_to_string(dir.join(file)).ok();
            if let Some(limit) = value.and_then(|v| v.trim().parse::<u64>().ok()) {
                limits.push(limit);
            }
            if dir == Path::new(root) || !dir.pop() {
                break;
            }
        }
    }
    // v1 writes "no limit" as a huge page-rounded number, v2 as "max" (not a number).
    limits.into_iter().filter(|&l| l < 1 << 60).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_blocks_live_in_files_and_read_back_what_was_written() {
        let folder = default_folder();
        configure(LARGE, &folder).unwrap();
        let anonymous = |size: usize| {
            move || unsafe { std::alloc::alloc(std::alloc::Layout::from_size_align(size, 4096).unwrap()) }
        };
        // SAFETY: the blocks are written and read within their sizes and freed once.
        unsafe {
            let first = allocate(LARGE, anonymous(LARGE));
            let second = allocate(LARGE, anonymous(LARGE));
            assert!(!is_in_file(first) && is_in_file(second));
            let words = second.cast::<u64>();
            for i in 0..LARGE / 8 {
                assert_eq!(*words.add(i), 0, "a file's block starts zeroed");
                *words.add(i) = i as u64;
            }
            assert!((0..LARGE / 8).all(|i| *words.add(i) == i as u64));
            assert!(peak_in_files() >= LARGE);
            release(second, LARGE, || unreachable!("a file's block is unmapped"));

            // A freed block's file is emptied and serves the next block: no new file.
            let held = FILES_HELD.load(Ordering::Relaxed);
            let again = allocate(2 * LARGE, anonymous(2 * LARGE));
            assert!(is_in_file(again));
            assert_eq!(FILES_HELD.load(Ordering::Relaxed), held, "a spare file is reused");
            assert!((0..2 * LARGE / 8).all(|i| *again.cast::<u64>().add(i) == 0), "and starts zeroed");
            std::ptr::write_bytes(again, 1, 2 * LARGE);
            // With no room for more descriptors, a block's file is closed once mapped.
            let room = FILES_ROOM.swap(0, Ordering::Relaxed);
            let unheld = allocate(LARGE, anonymous(LARGE));
            assert!(is_in_file(unheld));
            assert_eq!(FILES_HELD.load(Ordering::Relaxed), held, "a new file, closed at once");
            FILES_ROOM.store(room, Ordering::Relaxed);
            std::ptr::write_bytes(unheld, 1, LARGE);
            release(unheld, LARGE, || unreachable!("a file's block is unmapped"));
            release(again, 2 * LARGE, || unreachable!("a file's block is unmapped"));
            assert_eq!(FILES_HELD.load(Ordering::Relaxed), held);

            // The budget is spent by `first`: growing it must move it (to a file); shrinking
            // it resizes it where it is.
            let grow = || unreachable!("past the budget, no resize in place");
            assert!(resize_anonymous(first, LARGE, 2 * LARGE, grow).is_none());
            let layout = std::alloc::Layout::from_size_align(LARGE, 4096).unwrap();
            let first = resize_anonymous(first, LARGE, LARGE / 2, || std::alloc::realloc(first, layout, LARGE / 2))
                .expect("a shrink stays in place");
            assert_eq!(ANONYMOUS.load(Ordering::Relaxed), 0, "a small block is not counted");
            let first = resize_anonymous(first, LARGE / 2, LARGE, || {
                std::alloc::realloc(first, std::alloc::Layout::from_size_align(LARGE / 2, 4096).unwrap(), LARGE)
            })
            .expect("back within the budget");
            release(first, LARGE, || {
                std::alloc::dealloc(first, std::alloc::Layout::from_size_align(LARGE, 4096).unwrap())
            });
        }
    }
}
