//! Direct allocations caught in the act: a `DirectByteBuffer` whose constructor waits in
//! `Bits.reserveMemory` for room under the limit when the dump is taken. It owns nothing yet,
//! but its thread's stack says who asked for how much, which is often the best clue in the dump.

use dumpscan_heap::{Frame, Heap};
use dumpscan_hprof::RootKind;

use crate::buffers::{Classified, Kind};
use crate::libraries::Library;
use crate::report::{AllocationInProgress, AllocationPurpose};

/// Every buffer classed in progress, with the frame that holds it and the stack above.
/// `chunk_sizes` are the pooled allocators' chunk sizes, to tell a pool's new chunk by size
/// when the stack does not say.
pub(crate) fn in_progress(heap: &Heap<'_>, classified: &Classified, chunk_sizes: &[u64]) -> Vec<AllocationInProgress> {
    let waiting: Vec<_> = classified.buffers.iter().filter(|b| b.kind == Kind::InProgress).collect();
    waiting
        .into_iter()
        .map(|b| {
            // The innermost frame holding the buffer is its constructor's.
            let holder = heap
                .roots
                .iter()
                .filter(|r| r.object == b.object)
                .filter_map(|r| match r.kind {
                    RootKind::JavaFrame { thread_serial, frame_index } => Some((thread_serial, frame_index)),
                    _ => None,
                })
                .min_by_key(|&(_, frame)| frame);
            let (thread, stack) = match holder {
                Some((serial, index)) => {
                    let thread = heap.thread_object(serial).and_then(|t| heap.thread_name(t));
                    let frames: Vec<Frame> =
                        (index.max(0)..).map_while(|i| heap.frame(serial, i)).take(1 << 12).collect();
                    (thread, frames)
                }
                None => (None, Vec::new()),
            };
            let asked_by = stack.iter().find(|f| Library::of(&f.class).is_none()).map(|f| f.to_string());
            AllocationInProgress {
                id: format!("0x{:x}", heap.id(b.object)),
                requested: b.capacity,
                thread,
                frame: stack.first().map(|f| f.to_string()),
                asked_by,
                purpose: purpose(&stack, b.capacity, chunk_sizes),
                stack: stack.iter().map(|f| f.to_string()).collect(),
            }
        })
        .collect()
}

/// What the stack (or, failing it, the size) says the memory was for.
fn purpose(stack: &[Frame], requested: u64, chunk_sizes: &[u64]) -> AllocationPurpose {
    let in_netty_buffers = |f: &&Frame| f.class.starts_with("io.netty.buffer.");
    for frame in stack.iter().filter(in_netty_buffers) {
        match frame.method.as_str() {
            "newChunk" => return AllocationPurpose::PoolChunk,
            "newUnpooledChunk" => return AllocationPurpose::PoolHuge,
            _ if frame.class.starts_with("io.netty.buffer.Unpooled") => return AllocationPurpose::NettyUnpooled,
            _ => {}
        }
    }
    if chunk_sizes.contains(&requested) && stack.iter().any(|f| in_netty_buffers(&f)) {
        AllocationPurpose::PoolChunk
    } else {
        AllocationPurpose::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(class: &str, method: &str) -> Frame {
        Frame { class: class.into(), method: method.into(), file: String::new(), line: 0 }
    }

    #[test]
    fn a_pool_chunk_by_its_frames_or_its_size() {
        let chunk = [
            frame("java.nio.DirectByteBuffer", "<init>"),
            frame("java.nio.ByteBuffer", "allocateDirect"),
            frame("io.netty.buffer.PoolArena$DirectArena", "allocateDirect"),
            frame("io.netty.buffer.PoolArena$DirectArena", "newChunk"),
            frame("com.example.Encoder", "allocateBuffer"),
        ];
        assert_eq!(purpose(&chunk, 1 << 24, &[]), AllocationPurpose::PoolChunk);
        let huge = [frame("io.netty.buffer.PoolArena$DirectArena", "newUnpooledChunk")];
        assert_eq!(purpose(&huge, 1 << 30, &[1 << 24]), AllocationPurpose::PoolHuge);
        let by_size = [frame("io.netty.buffer.PoolArena", "allocate")];
        assert_eq!(purpose(&by_size, 1 << 24, &[1 << 24]), AllocationPurpose::PoolChunk);
        let plain = [frame("java.nio.ByteBuffer", "allocateDirect"), frame("com.example.Cache", "fill")];
        assert_eq!(purpose(&plain, 1 << 24, &[1 << 24]), AllocationPurpose::Other);
        let unpooled = [frame("io.netty.buffer.UnpooledDirectByteBuf", "allocateDirect")];
        assert_eq!(purpose(&unpooled, 100, &[]), AllocationPurpose::NettyUnpooled);
    }
}
