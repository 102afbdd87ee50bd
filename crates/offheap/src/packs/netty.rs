//! Netty: its wrappers, containers, decoders' and channels' buffers, and the rules about its
//! pools and channels.

use dumpscan_heap::{ClassIndex, Heap, ObjectIndex};

use super::{extends, ClassRole, Pack};
use crate::fields::{int, is_a, object};
use crate::findings::{finding, Context, Rule, MIB};
use crate::report::{
    ArenaKind, Channel, ChannelOwner, Client, Finding, FindingKind, HolderRole, OwnerLink, ReadBuffer, RetainerKind,
    Role,
};
use crate::units::{count, human_bytes as size, percent};

pub(crate) struct Netty;

/// The ByteBuf inside Netty's wrappers (the leak detector's, `WrappedByteBuf`'s other
/// subclasses keep it in `buf`): the one with the indices and the memory.
pub(crate) fn unwrapped(heap: &Heap<'_>, mut buffer: ObjectIndex) -> ObjectIndex {
    for _ in 0..8 {
        match object(heap, buffer, "buf").filter(|_| is_a(heap, buffer, "io.netty.buffer.WrappedByteBuf")) {
            Some(inner) => buffer = inner,
            None => break,
        }
    }
    buffer
}

/// A ByteBuf's capacity, readable bytes and whether it is off-heap: pooled ByteBufs keep their
/// capacity in `length` and their memory (a `ByteBuffer` when direct) in `memory`; unpooled
/// direct ones in `capacity` and `buffer`. Leak-detector wrappers pass on to `buf`.
pub(crate) fn read_buffer(heap: &Heap<'_>, buffer: ObjectIndex) -> ReadBuffer {
    let buffer = unwrapped(heap, buffer);
    let capacity = int(heap, buffer, "length").or_else(|| int(heap, buffer, "capacity")).unwrap_or(0).max(0) as u64;
    let memory = object(heap, buffer, "memory").or_else(|| object(heap, buffer, "buffer"));
    ReadBuffer {
        id: format!("0x{:x}", heap.id(buffer)),
        capacity,
        readable: readable(heap, buffer),
        direct: memory.is_some_and(|m| is_a(heap, m, "java.nio.DirectByteBuffer")),
    }
}

/// A ByteBuf's `writerIndex - readerIndex`, seen through wrappers; 0 for an object that is none.
pub(crate) fn readable(heap: &Heap<'_>, buffer: ObjectIndex) -> u64 {
    let buffer = unwrapped(heap, buffer);
    let index = |field: &str| int(heap, buffer, field).unwrap_or(0).max(0) as u64;
    index("writerIndex").saturating_sub(index("readerIndex"))
}

impl Pack for Netty {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "io.netty.buffer.PooledByteBufAllocator",
            "io.netty.buffer.PoolChunk",
            "io.netty.buffer.PoolThreadCache",
            "io.netty.buffer.PooledByteBuf",
            "io.netty.channel.ChannelOutboundBuffer",
            "io.netty.buffer.AdaptivePoolingAllocator",
            "io.netty.buffer.AdaptivePoolingAllocator$Chunk",
            "io.netty.buffer.AdaptivePoolingAllocator$AdaptiveByteBuf",
        ]
    }

    fn class_role(&self, heap: &Heap<'_>, class: ClassIndex, name: &str) -> Option<ClassRole> {
        if name.starts_with("io.netty.util.internal.shaded.org.jctools.")
            || name.starts_with("io.netty.util.collection.")
        {
            return Some(ClassRole::Container);
        }
        // The leak detector's wrappers and `WrappedByteBuf`'s other subclasses pass every call
        // on to the ByteBuf inside.
        let leak_tracker = extends(heap, class, "io.netty.buffer.SimpleLeakAwareByteBuf")
            || extends(heap, class, "io.netty.buffer.SimpleLeakAwareCompositeByteBuf");
        if leak_tracker
            || extends(heap, class, "io.netty.buffer.WrappedByteBuf")
            || extends(heap, class, "io.netty.buffer.WrappedCompositeByteBuf")
        {
            return Some(ClassRole::Wrapper { leak_tracker });
        }
        // An SslHandler is a decoder too, but what it holds in size is the writes made before its
        // handshake completes (its cumulation is a TLS record at most).
        if extends(heap, class, "io.netty.handler.ssl.SslHandler") {
            return Some(ClassRole::PendingWrites { list: false });
        }
        if extends(heap, class, "io.netty.handler.codec.ByteToMessageDecoder") {
            return Some(ClassRole::ReadBuffer { fields: &["cumulation"] });
        }
        // A pipeline is a list of handler contexts; pending writes are lists of their own.
        const CONTAINERS: [&str; 4] = [
            "io.netty.channel.DefaultChannelPipeline",
            "io.netty.channel.AbstractChannelHandlerContext",
            "io.netty.channel.PendingWriteQueue$PendingWrite",
            "io.netty.channel.AbstractCoalescingBufferQueue",
        ];
        if CONTAINERS.iter().any(|container| extends(heap, class, container)) {
            return Some(ClassRole::Container);
        }
        if extends(heap, class, "io.netty.channel.PendingWriteQueue") {
            return Some(ClassRole::PendingWrites { list: true });
        }
        extends(heap, class, "io.netty.channel.ChannelOutboundBuffer").then_some(ClassRole::OutboundBuffer)
    }

    fn rules(&self) -> &'static [Rule] {
        &[
            write_pileups,
            spread_write_pileups,
            pending_writes,
            leaks,
            dead_thread_caches,
            mostly_free_chunks,
            use_after_release,
        ]
    }
}

/// At most this many channels get a write pile-up finding of their own.
const PILEUPS_TOLD_ALONE: usize = 5;

/// The channels with writes that no client pack claims (a client library's pack names the
/// connection of its channels), split into those large enough for a finding of their own (the
/// largest few) and the rest, both most pending first.
fn unclaimed_pileups<'r>(cx: &Context<'r>) -> (Vec<&'r Channel>, Vec<&'r Channel>) {
    let claimed: Vec<&str> = cx.report.clients.iter().flat_map(Client::channels).collect();
    let alone = |c: &Channel| {
        let bytes = c.pending_bytes.max(c.direct.bytes);
        bytes >= MIB && (bytes.saturating_mul(10) >= cx.native() || c.pending_bytes >= 16 * MIB)
    };
    let (mut told, mut rest): (Vec<&Channel>, Vec<&Channel>) =
        cx.report.channels.iter().filter(|c| !claimed.contains(&c.id.as_str())).partition(|c| alone(c));
    if told.len() > PILEUPS_TOLD_ALONE {
        rest.extend(told.split_off(PILEUPS_TOLD_ALONE));
        rest.sort_by_key(|c| std::cmp::Reverse(c.pending_bytes.max(c.direct.bytes)));
    }
    (told, rest)
}

/// ` from 127.0.0.1:36552 to 127.0.0.1:37277`, where the dump has the addresses.
fn addresses(c: &Channel) -> String {
    format!(
        "{}{}",
        c.local.as_deref().map(|l| format!(" from {l}")).unwrap_or_default(),
        c.remote.as_deref().map(|r| format!(" to {r}")).unwrap_or_default()
    )
}

fn write_pileups(cx: &Context<'_>) -> Vec<Finding> {
    unclaimed_pileups(cx)
        .0
        .into_iter()
        .map(|c| {
            let bytes = c.pending_bytes.max(c.direct.bytes);
            let simple = c.class.rsplit('.').next().unwrap_or(&c.class);
            let mut f = finding(
                FindingKind::WritePileup,
                Role::Cause,
                format!("Writes piling up in {simple}'s outbound buffer: {}", size(bytes)),
                format!(
                    "{}@{}{}{} has {} written but not yet sent ({} pending, {} of direct memory in {}). The peer is not reading fast enough and the application keeps writing{}: check \
                     Channel.isWritable() or a write-buffer water mark before writing, and a timeout for slow peers.",
                    c.class,
                    c.id,
                    addresses(c),
                    c.owner.as_ref().map(|o| format!(", owned by {}{},", o.label(), link(o))).unwrap_or_default(),
                    count(c.pending_messages, "message"),
                    size(c.pending_bytes),
                    size(c.direct.bytes),
                    count(c.direct.count, "ByteBuf"),
                    if c.writable { "" } else { " although the channel reports itself unwritable" },
                ),
                bytes,
            );
            f.evidence.push(format!("ChannelOutboundBuffer {}: totalPendingSize = {}", c.outbound_buffer, c.pending_bytes));
            f.commands.push(cx.paths_command(&c.outbound_buffer));
            f
        })
        .collect()
}

/// Many channels each holding writes too small for a finding of their own, which together hold
/// a significant share: the same slow peers (or one slow service behind many connections),
/// spread out.
fn spread_write_pileups(cx: &Context<'_>) -> Vec<Finding> {
    /// The largest channels named in the finding.
    const NAMED: usize = 3;
    let rest = unclaimed_pileups(cx).1;
    let pending = rest.iter().map(|c| c.pending_bytes).fold(0u64, u64::saturating_add);
    let direct = rest.iter().map(|c| c.direct.bytes).fold(0u64, u64::saturating_add);
    let buffers = rest.iter().map(|c| c.direct.count).fold(0u64, u64::saturating_add);
    let bytes = pending.max(direct);
    if rest.len() < 2 || !cx.significant(bytes) {
        return Vec::new();
    }
    let unwritable = match rest.iter().filter(|c| !c.writable).count() {
        0 => "none of them reports itself unwritable".to_string(),
        n if n == rest.len() => "all of them report themselves unwritable".into(),
        n => format!("{n} of them report themselves unwritable"),
    };
    let named: Vec<String> = rest
        .iter()
        .take(NAMED)
        .map(|c| {
            let simple = c.class.rsplit('.').next().unwrap_or(&c.class);
            let owner = c.owner.as_ref().map(|o| format!(", owned by {}{}", o.label(), link(o))).unwrap_or_default();
            format!("{simple}@{}{}{owner}: {}", c.id, addresses(c), size(c.pending_bytes.max(c.direct.bytes)))
        })
        .collect();
    let mut f = finding(
        FindingKind::SpreadWritePileup,
        Role::Cause,
        format!("Writes piling up across {}: {} in all", count(rest.len() as u64, "channel"), size(bytes)),
        format!(
            "{} hold writes not yet sent, none large alone: {} pending and {} of direct memory in {} together ({} of \
             the direct memory found); {}. The largest: {}. Their peers are not \
             reading fast enough (a slow service behind many connections, or one slow network path) and the \
             application keeps writing: check Channel.isWritable() or a write-buffer water mark before writing, bound \
             the requests in flight per peer, and set a timeout for slow peers.",
            count(rest.len() as u64, "channel"),
            size(pending),
            size(direct),
            count(buffers, "ByteBuf"),
            percent(bytes, cx.native()),
            unwritable,
            named.join("; "),
        ),
        bytes,
    );
    for c in rest.iter().take(NAMED) {
        f.evidence.push(format!("ChannelOutboundBuffer {}: totalPendingSize = {}", c.outbound_buffer, c.pending_bytes));
        f.commands.push(cx.paths_command(&c.outbound_buffer));
    }
    vec![f]
}

/// How a channel holds its owner: ` (channel attribute NettyServerCnxn)`, ` (a pipeline handler)`.
fn link(owner: &ChannelOwner) -> String {
    match (owner.link, &owner.attribute) {
        (OwnerLink::Attribute, Some(key)) => format!(" (channel attribute {key})"),
        (OwnerLink::Attribute, None) => " (a channel attribute)".into(),
        (OwnerLink::Handler, _) => " (a pipeline handler)".into(),
    }
}

fn leaks(cx: &Context<'_>) -> Vec<Finding> {
    cx.report
        .retainers
        .iter()
        .filter(|r| r.kind == RetainerKind::Leaked && r.bytes >= MIB)
        .map(|r| {
            let mut f = finding(
                FindingKind::Leak,
                Role::Cause,
                format!("{} in {} that were never released", size(r.bytes), count(r.buffers, "pooled ByteBuf")),
                "Nothing references these ByteBufs any more, yet they were not released: their memory stays taken \
                 in the pool's chunks until the allocator itself goes. Run with -Dio.netty.leakDetection.level=advanced \
                 to learn where they were last used."
                    .into(),
                r.bytes,
            );
            f.evidence.extend(r.example.iter().map(|e| format!("one of them: {e}")));
            f
        })
        .collect()
}

fn dead_thread_caches(cx: &Context<'_>) -> Vec<Finding> {
    cx.report
        .netty
        .iter()
        .filter_map(|allocator| {
            let dead: Vec<_> =
                allocator.thread_caches.iter().filter(|c| !c.thread_alive && c.cached_bytes > 0).collect();
            if dead.is_empty() {
                return None;
            }
            let bytes = dead.iter().map(|c| c.cached_bytes).fold(0u64, u64::saturating_add);
            let mut f = finding(
                FindingKind::DeadThreadCaches,
                Role::Cause,
                format!("{} parked in thread caches of threads that no longer run", size(bytes)),
                format!(
                    "{} of Netty belong to threads that are gone; their ByteBufs return to the pool only \
                     when the cache is freed. Threads created per task and allocating from a pooled allocator cause \
                     this.",
                    count(dead.len() as u64, "thread cache")
                ),
                bytes,
            );
            f.evidence = dead.iter().map(|c| c.id.clone()).collect();
            Some(f)
        })
        .collect()
}

fn mostly_free_chunks(cx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for allocator in &cx.report.netty {
        let chunk = allocator.chunk_size.and_then(|c| u64::try_from(c).ok()).filter(|&c| c > 0).unwrap_or(16 * MIB);
        for arena in allocator.arenas.iter().filter(|a| a.kind == ArenaKind::Direct) {
            if arena.chunk_bytes >= chunk.saturating_mul(2) && arena.free_bytes.saturating_mul(2) >= arena.chunk_bytes {
                out.push(finding(
                    FindingKind::MostlyFreeChunks,
                    Role::Cause,
                    format!(
                        "Pooled chunks mostly free: {} of {} unused",
                        size(arena.free_bytes),
                        size(arena.chunk_bytes)
                    ),
                    format!(
                        "Direct arena {} of {} keeps {} of which {} is free: memory once needed at a peak, \
                         kept by the pool. Fewer arenas (-Dio.netty.allocator.numDirectArenas) or a smaller chunk \
                         size lower the footprint.",
                        arena.id,
                        allocator.allocator,
                        count(arena.chunks, "chunk"),
                        percent(arena.free_bytes, arena.chunk_bytes)
                    ),
                    arena.free_bytes,
                ));
            }
        }
    }
    out
}

fn use_after_release(cx: &Context<'_>) -> Vec<Finding> {
    cx.report
        .netty
        .iter()
        .filter(|a| a.released_still_referenced.count > 0)
        .map(|a| {
            let released = a.released_still_referenced;
            let mut f = finding(
                FindingKind::UseAfterRelease,
                Role::Cause,
                format!("{} released but still referenced", count(released.count, "pooled ByteBuf")),
                "Their reference count says released, yet application objects still point at them. Netty recycles \
                 ByteBuf objects: a later write through such a reference corrupts another user's data."
                    .into(),
                0,
            );
            f.evidence.push(format!("{} of pool space they once held", size(released.bytes)));
            f
        })
        .collect()
}

/// Writes held back before the channel: in an `SslHandler` until its handshake completes, or
/// in a handler's `PendingWriteQueue`. The five largest groups of 1 MiB or more: pending writes
/// mean a stall whatever their share.
fn pending_writes(cx: &Context<'_>) -> Vec<Finding> {
    cx.report
        .retainers
        .iter()
        .filter(|r| r.bytes >= MIB)
        .filter_map(|r| Some((r, r.holder.as_ref().filter(|h| h.role == HolderRole::PendingWrites)?)))
        .take(5)
        .map(|(r, holder)| {
            let ssl = holder.class.starts_with("io.netty.handler.ssl.");
            let simple = holder.class.rsplit('.').next().unwrap_or(&holder.class);
            let why = if ssl {
                "They wait for the TLS handshake to complete before they are encrypted and sent; a handshake \
                 that never completes (a peer that does not answer, a plain-text port, a proxy) keeps every write \
                 made meanwhile: write after the handshake future completes, and set a handshake timeout."
                    .to_string()
            } else {
                format!(
                    "{} holds them until it lets them go (a connection, a flush, a credit): check that it \
                     happens, and bound the queue.",
                    r.owner.as_deref().unwrap_or("The handler")
                )
            };
            let mut f = finding(
                FindingKind::PendingWrites,
                Role::Cause,
                format!("Writes held in {simple}: {} in {}", size(r.bytes), count(r.buffers, "ByteBuf")),
                format!("{} -> {} holds writes that have not reached the channel. {why}", r.root, r.path.join(" -> ")),
                r.bytes,
            );
            f.commands.extend(r.example.iter().map(|e| cx.paths_command(e)));
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Report, Tally};

    fn report(native_bytes: u64, channels: Vec<Channel>) -> Report {
        Report { native_bytes, channels, ..Report::empty() }
    }

    fn channel(n: u64, pending: u64) -> Channel {
        Channel {
            id: format!("0x{n:x}0"),
            class: "io.netty.channel.socket.nio.NioSocketChannel".into(),
            outbound_buffer: format!("0x{n:x}8"),
            local: Some(format!("127.0.0.1:{}", 40000 + n)),
            remote: Some("127.0.0.1:8080".into()),
            pending_bytes: pending,
            pending_messages: 1,
            writable: n % 2 == 0,
            direct: Tally { count: 1, bytes: pending },
            owner: None,
        }
    }

    fn kinds(report: &Report) -> Vec<FindingKind> {
        let cx = Context { report };
        [write_pileups, spread_write_pileups].iter().flat_map(|rule| rule(&cx)).map(|f| f.kind).collect()
    }

    /// Eight channels of 4 MiB in 64 MiB of direct memory: none is a tenth of it, together
    /// they are half; one large channel beside them is told alone and left out of the sum.
    #[test]
    fn channels_too_small_alone_are_summed() {
        let mut channels: Vec<Channel> = (1..=8).map(|n| channel(n, 4 * MIB - n)).collect();
        let spread = report(64 * MIB, channels.clone());
        assert_eq!(kinds(&spread), [FindingKind::SpreadWritePileup]);
        let f = spread_write_pileups(&Context { report: &spread }).remove(0);
        assert_eq!(f.title, "Writes piling up across 8 channels: 32.0 MiB in all");
        assert_eq!(f.bytes, (1..=8).map(|n| 4 * MIB - n).sum::<u64>());
        assert!(f.detail.starts_with("8 channels hold writes not yet sent, none large alone"), "{}", f.detail);
        assert!(
            f.detail.contains("in 8 ByteBufs together (50.0% of the direct memory found); 4 of them"),
            "{}",
            f.detail
        );
        assert!(f
            .detail
            .contains("The largest: NioSocketChannel@0x10 from 127.0.0.1:40001 to 127.0.0.1:8080: 4.0 MiB;"));
        assert_eq!(
            f.commands,
            [
                "dumpscan paths heap.hprof --id 0x18",
                "dumpscan paths heap.hprof --id 0x28",
                "dumpscan paths heap.hprof --id 0x38"
            ]
        );
        assert_eq!(f.evidence.len(), 3);

        channels.insert(0, channel(9, 40 * MIB));
        let both = report(104 * MIB, channels);
        assert_eq!(kinds(&both), [FindingKind::WritePileup, FindingKind::SpreadWritePileup]);
        let f = spread_write_pileups(&Context { report: &both }).remove(0);
        assert!(f.title.starts_with("Writes piling up across 8 channels"), "{}", f.title);

        // A small share, or a single channel, is no finding.
        assert_eq!(kinds(&report(400 * MIB, (1..=8).map(|n| channel(n, 4 * MIB)).collect())), []);
        assert_eq!(kinds(&report(64 * MIB, vec![channel(1, 4 * MIB), channel(2, 0)])), []);
    }
}
