//! Netty channels with writes waiting: each `ChannelOutboundBuffer` that holds pending bytes,
//! with its channel's addresses, its entries and the direct memory held through it.

use std::net::{Ipv4Addr, Ipv6Addr};

use dumpscan_heap::{Heap, ObjectIndex};
use dumpscan_hprof::SubRecord;
use rustc_hash::FxHashMap;

use crate::census::Census;
use crate::fields::{elements, int, object};
use crate::report::{Channel, Tally};

/// Channels whose outbound buffer holds pending writes, most pending first. `through` gives
/// the buffers and native bytes attributed along a path through each outbound buffer.
pub(crate) fn pending(
    heap: &Heap<'_>,
    census: &Census,
    through: &FxHashMap<ObjectIndex, Tally>,
    show_values: bool,
) -> Vec<Channel> {
    let mut channels: Vec<Channel> = census
        .of("io.netty.channel.ChannelOutboundBuffer")
        .iter()
        .filter_map(|&outbound| {
            let pending_bytes = int(heap, outbound, "totalPendingSize").unwrap_or(0).max(0) as u64;
            let pending_messages = count_entries(heap, outbound);
            let direct = through.get(&outbound).copied().unwrap_or_default();
            if pending_bytes == 0 && pending_messages == 0 && direct.bytes == 0 {
                return None;
            }
            let channel = object(heap, outbound, "channel");
            let (local, remote) = channel.map_or((None, None), |c| addresses(heap, c, show_values));
            Some(Channel {
                id: channel.map_or_else(String::new, |c| format!("0x{:x}", heap.id(c))),
                class: channel.map_or_else(|| "io.netty.channel.Channel".into(), |c| heap.class_name(c)),
                outbound_buffer: format!("0x{:x}", heap.id(outbound)),
                local,
                remote,
                pending_bytes,
                pending_messages,
                writable: int(heap, outbound, "unwritable").unwrap_or(0) == 0,
                direct,
            })
        })
        .collect();
    channels.sort_by(|a, b| {
        b.pending_bytes.max(b.direct.bytes).cmp(&a.pending_bytes.max(a.direct.bytes)).then(a.id.cmp(&b.id))
    });
    channels
}

/// A channel's local and remote `ip:port`: the channel caches them once asked; the JDK socket
/// channel it wraps (`ch`) has them too.
pub(crate) fn addresses(heap: &Heap<'_>, channel: ObjectIndex, show_values: bool) -> (Option<String>, Option<String>) {
    let socket = object(heap, channel, "ch");
    let address = |field: &str| {
        let found = object(heap, channel, field).or_else(|| socket.and_then(|s| object(heap, s, field)))?;
        socket_address(heap, found, show_values)
    };
    (address("localAddress"), address("remoteAddress"))
}

/// A channel's attributes as (key name, value): `DefaultAttributeMap.attributes`, an
/// `AtomicReferenceArray` of buckets chained by `next` (Netty 4.1.48), or an array of
/// attributes (later 4.1). Bounded by the heap's size against a corrupt dump's cycle.
pub(crate) fn attributes(heap: &Heap<'_>, channel: ObjectIndex) -> Vec<(String, ObjectIndex)> {
    let Some(map) = object(heap, channel, "attributes") else { return Vec::new() };
    let slots = object(heap, map, "array").map_or_else(|| elements(heap, map), |array| elements(heap, array));
    let mut found = Vec::new();
    let mut seen = rustc_hash::FxHashSet::default();
    for mut next in slots {
        while let Some(attribute) = next.filter(|&a| seen.insert(a)) {
            let name =
                object(heap, attribute, "key").and_then(|k| object(heap, k, "name")).and_then(|n| heap.string_value(n));
            if let (Some(name), Some(value)) = (name, object(heap, attribute, "value")) {
                found.push((name, value));
            }
            next = object(heap, attribute, "next");
        }
    }
    found
}

/// The handlers of a channel's pipeline, from head to tail (bounded).
pub(crate) fn handlers(heap: &Heap<'_>, channel: ObjectIndex) -> Vec<ObjectIndex> {
    const MAX_HANDLERS: usize = 256;
    let mut found = Vec::new();
    let mut context = object(heap, channel, "pipeline").and_then(|p| object(heap, p, "head"));
    while let Some(c) = context.filter(|_| found.len() < MAX_HANDLERS) {
        found.extend(object(heap, c, "handler"));
        context = object(heap, c, "next");
    }
    found
}

/// A channel's `ChannelOutboundBuffer` (`unsafe.outboundBuffer`).
pub(crate) fn outbound_buffer(heap: &Heap<'_>, channel: ObjectIndex) -> Option<ObjectIndex> {
    object(heap, object(heap, channel, "unsafe")?, "outboundBuffer")
}

/// Entries from `flushedEntry` (or `unflushedEntry`) along `next`.
fn count_entries(heap: &Heap<'_>, outbound: ObjectIndex) -> u64 {
    let mut count = 0u64;
    let mut next = object(heap, outbound, "flushedEntry").or_else(|| object(heap, outbound, "unflushedEntry"));
    while let Some(entry) = next {
        count += 1;
        if count > heap.len() as u64 {
            break; // a cycle: never in a consistent dump
        }
        next = object(heap, entry, "next");
    }
    count
}

/// `127.0.0.1:8080` from an `InetSocketAddress`; with `show_values`, the host name as well.
fn socket_address(heap: &Heap<'_>, address: ObjectIndex, show_values: bool) -> Option<String> {
    let holder = object(heap, address, "holder")?;
    let port = int(heap, holder, "port")?;
    let inet = object(heap, holder, "addr");
    let ip = inet.and_then(|a| {
        if let Some(v6) = object(heap, a, "holder6").and_then(|h| object(heap, h, "ipaddress")) {
            let Some(SubRecord::PrimitiveArray(array)) = heap.record(v6) else { return None };
            let bytes: [u8; 16] = array.data?.try_into().ok()?;
            return Some(format!("[{}]", Ipv6Addr::from(bytes)));
        }
        let v4 = int(heap, object(heap, a, "holder")?, "address")? as u32;
        Some(Ipv4Addr::from(v4).to_string())
    });
    let host = if show_values { object(heap, holder, "hostname").and_then(|h| heap.string_value(h)) } else { None };
    match (ip, host) {
        (Some(ip), Some(host)) => Some(format!("{host}/{ip}:{port}")),
        (Some(ip), None) => Some(format!("{ip}:{port}")),
        (None, Some(host)) => Some(format!("{host}:{port}")),
        (None, None) => Some(format!("port {port}")),
    }
}
