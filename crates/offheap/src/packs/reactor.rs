//! Reactor Netty: each connection's inbound queue (`FluxReceive.receiverQueue`), where what a
//! channel reads waits until the subscriber asks for it. Nobody subscribed, or a subscriber that
//! stopped asking, keeps every ByteBuf read meanwhile.
//!
//! Layout (Reactor Netty 1.x): `FluxReceive` keeps `parent` (its `ChannelOperations`),
//! `receiver` (the subscriber, null until one subscribes), `receiverDemand`, `receiverQueue`
//! and `inboundDone`; `ChannelOperations.connection` is the `Connection`, whose `channel` is the
//! Netty channel.

use dumpscan_heap::{ClassIndex, Heap, ObjectIndex};

use super::{netty, ClassRole, Pack, ReadContext};
use crate::census::is_strong;
use crate::channels;
use crate::collections::queue_elements;
use crate::fields::{int, is_set, object};
use crate::findings::{finding, Context, Rule, MIB};
use crate::report::{Client, Finding, FindingKind, ReactorReceiver, Role};
use crate::units::{count, human_bytes as size};

pub(crate) struct Reactor;

const FLUX_RECEIVE: &str = "reactor.netty.channel.FluxReceive";

impl Pack for Reactor {
    fn classes(&self) -> &'static [&'static str] {
        &[FLUX_RECEIVE]
    }

    fn class_role(&self, _: &Heap<'_>, _: ClassIndex, name: &str) -> Option<ClassRole> {
        (name == FLUX_RECEIVE).then_some(ClassRole::InboundQueue)
    }

    fn rules(&self) -> &'static [Rule] {
        &[inbound_not_consumed]
    }

    fn read(&self, cx: &ReadContext<'_, '_>) -> Option<Client> {
        let heap = cx.heap;
        let receivers: Vec<ReactorReceiver> = cx
            .census
            .of(FLUX_RECEIVE)
            .iter()
            .filter(|&&o| is_strong(heap, o))
            .filter_map(|&o| receiver(cx, o))
            .collect();
        (!receivers.is_empty()).then_some(Client::Reactor { receivers })
    }
}

/// A `FluxReceive` with something in its queue.
fn receiver(cx: &ReadContext<'_, '_>, receive: ObjectIndex) -> Option<ReactorReceiver> {
    let heap = cx.heap;
    let queued = object(heap, receive, "receiverQueue").and_then(|q| queue_elements(heap, q)).unwrap_or_default();
    if queued.is_empty() {
        return None;
    }
    let operations = object(heap, receive, "parent");
    let channel = operations.and_then(|o| object(heap, o, "connection")).and_then(|c| object(heap, c, "channel"));
    let (local, remote) = channel.map_or((None, None), |c| channels::addresses(heap, c, cx.show_values));
    Some(ReactorReceiver {
        id: format!("0x{:x}", heap.id(receive)),
        operations: operations.map(|o| format!("0x{:x}", heap.id(o))),
        local,
        remote,
        subscribed: is_set(heap, receive, "receiver"),
        demand: int(heap, receive, "receiverDemand"),
        inbound_done: int(heap, receive, "inboundDone").unwrap_or(0) != 0,
        queued: queued.len() as u64,
        queued_bytes: queued.iter().map(|&m| netty::readable(heap, m)).fold(0u64, u64::saturating_add),
    })
}

fn inbound_not_consumed(cx: &Context<'_>) -> Vec<Finding> {
    let receivers = cx.report.clients.iter().flat_map(|client| match client {
        Client::Reactor { receivers } => receivers.as_slice(),
        _ => &[],
    });
    receivers
        .filter(|r| r.queued_bytes >= MIB || r.queued >= 1000)
        .map(|r| {
            let from = r.remote.as_deref().map(|p| format!(" from {p}")).unwrap_or_default();
            let why = if r.subscribed {
                "Its subscriber stopped asking for more (backpressure): it is slower than the peer sends, or \
                 stalled; the channel keeps reading as long as Reactor Netty lets it."
            } else {
                "Nothing has subscribed to it: a response or inbound body that was never consumed. Consume it, \
                 or release it (receive().then(), releaseBody() on an HTTP response) on every path, errors \
                 included."
            };
            let mut f = finding(
                FindingKind::InboundNotConsumed,
                Role::Cause,
                format!("Data read{from} that nobody consumes: {} in {}", size(r.queued_bytes), count(r.queued, "message")),
                format!(
                    "Reactor Netty's FluxReceive {} holds what the connection read until its subscriber asks for it. {why}",
                    r.id
                ),
                r.queued_bytes,
            );
            f.commands.push(cx.paths_command(&r.id));
            f
        })
        .collect()
}
