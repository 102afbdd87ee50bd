//! Redisson, the Redis client: each connection's commands awaiting replies and its decoder's
//! read buffer.
//!
//! Layout (Redisson 3.x): a channel keeps the commands sent and awaiting a reply in its
//! attribute `COMMANDS_QUEUE`, a deque of `QueueCommandHolder`s whose `command` is a
//! `CommandData` (or a batch of them) with `command`, a `RedisCommand` whose `name` is the
//! command's; its pipeline's `CommandDecoder`, a `ReplayingDecoder`, cumulates the reply
//! being read.

use dumpscan_heap::{ClassIndex, Heap, ObjectIndex};

use super::{netty, ClassRole, Pack, ReadContext};
use crate::channels;
use crate::collections::queue_elements;
use crate::fields::{int, is_a, object};
use crate::findings::Rule;
use crate::report::{Client, Commands, RedissonConnection};

pub(crate) struct Redisson;

const DECODER: &str = "org.redisson.client.handler.CommandDecoder";
/// A pipeline's handler contexts: the one whose handler is the decoder knows the channel.
const CONTEXT: &str = "io.netty.channel.AbstractChannelHandlerContext";
/// The channel attribute that holds the commands awaiting replies.
const QUEUE: &str = "COMMANDS_QUEUE";

impl Pack for Redisson {
    fn classes(&self) -> &'static [&'static str] {
        &[CONTEXT]
    }

    fn class_role(&self, _: &Heap<'_>, _: ClassIndex, _: &str) -> Option<ClassRole> {
        None // the decoder is a Netty decoder: its cumulation is a read buffer already
    }

    fn rules(&self) -> &'static [Rule] {
        &[]
    }

    fn read(&self, cx: &ReadContext<'_, '_>) -> Option<Client> {
        let heap = cx.heap;
        // The channels whose pipeline has a CommandDecoder, found from its handler context.
        let mut channels: Vec<ObjectIndex> = cx
            .census
            .of(CONTEXT)
            .iter()
            .filter(|&&context| object(heap, context, "handler").is_some_and(|h| is_a(heap, h, DECODER)))
            .filter_map(|&context| object(heap, object(heap, context, "pipeline")?, "channel"))
            .collect();
        channels.sort_unstable();
        channels.dedup();
        let connections: Vec<RedissonConnection> = channels.into_iter().filter_map(|c| connection(cx, c)).collect();
        (!connections.is_empty()).then_some(Client::Redisson { connections })
    }
}

fn connection(cx: &ReadContext<'_, '_>, channel: ObjectIndex) -> Option<RedissonConnection> {
    let heap = cx.heap;
    let queue = channels::attributes(heap, channel).into_iter().find(|(name, _)| name == QUEUE).map(|(_, q)| q);
    let decoder = channels::handlers(heap, channel).into_iter().find(|&h| is_a(heap, h, DECODER));
    if queue.is_none() && decoder.is_none() {
        return None;
    }
    let in_flight = queue.and_then(|q| queue_elements(heap, q)).map(|held| commands(heap, &held)).unwrap_or_default();
    let read_buffer = decoder.and_then(|d| object(heap, d, "cumulation")).map(|b| netty::read_buffer(heap, b));
    let (local, remote) = channels::addresses(heap, channel, cx.show_values);
    let outbound = channels::outbound_buffer(heap, channel);
    let pending_write_bytes = outbound.map(|o| int(heap, o, "totalPendingSize").unwrap_or(0).max(0) as u64);
    let pending_direct = outbound.and_then(|o| cx.through.get(&o)).map_or(0, |t| t.bytes);
    let read_direct = read_buffer.as_ref().filter(|b| b.direct).map_or(0, |b| b.capacity);
    Some(RedissonConnection {
        channel: format!("0x{:x}", heap.id(channel)),
        local,
        remote,
        in_flight,
        read_buffer,
        pending_write_bytes,
        direct_bytes: read_direct.saturating_add(pending_direct),
    })
}

/// The commands of `QueueCommandHolder`s, by `RedisCommand.name`, oldest first.
fn commands(heap: &Heap<'_>, held: &[ObjectIndex]) -> Commands {
    let mut tally = Commands::default();
    for &holder in held {
        let data = object(heap, holder, "command").unwrap_or(holder);
        let name = object(heap, data, "command")
            .and_then(|c| object(heap, c, "name"))
            .and_then(|n| heap.string_value(n))
            .unwrap_or_else(|| "batch".into());
        if tally.oldest.is_none() {
            tally.oldest = Some(name.clone());
        }
        *tally.commands.entry(name).or_default() += 1;
        tally.count += 1;
    }
    tally
}
