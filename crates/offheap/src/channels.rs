//! Netty channels with writes waiting: each `ChannelOutboundBuffer` that holds pending bytes,
//! with its channel's addresses, its entries and the direct memory held through it.

use std::net::{Ipv4Addr, Ipv6Addr};

use dumpscan_heap::{Heap, ObjectIndex};
use dumpscan_hprof::SubRecord;
use rustc_hash::FxHashMap;

use crate::census::Census;
use crate::fields::{elements, int, object};
use crate::libraries::Library;
use crate::report::{Channel, ChannelOwner, OwnerLink, Tally};

/// Channels whose outbound buffer holds pending writes, most pending first. `through` gives
/// the buffers and native bytes attributed along a path through each outbound buffer.
pub(crate) fn pending(
    heap: &Heap<'_>,
    census: &Census,
    through: &FxHashMap<ObjectIndex, Tally>,
    owners: &FxHashMap<ObjectIndex, ChannelOwner>,
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
                owner: channel.and_then(|c| owners.get(&c).cloned()),
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

/// The application object of every channel that has an outbound buffer (every socket channel
/// while it is open), by channel and by outbound buffer: a path to what the channel holds may
/// start at either (a frame holding the outbound buffer while it flushes).
pub(crate) fn owners(heap: &Heap<'_>, census: &Census) -> FxHashMap<ObjectIndex, ChannelOwner> {
    let mut found = FxHashMap::default();
    for &outbound in census.of("io.netty.channel.ChannelOutboundBuffer") {
        let Some(channel) = object(heap, outbound, "channel") else { continue };
        if let Some(owner) = owner(heap, channel) {
            found.insert(outbound, owner.clone());
            found.insert(channel, owner);
        }
    }
    found
}

/// The application object attached to a channel: among its attributes' values and its
/// pipeline's handlers whose class is no known library's, the first that refers back to the
/// channel (a per-connection object, where a shared handler would not), else the first
/// attribute, else the first handler.
pub(crate) fn owner(heap: &Heap<'_>, channel: ObjectIndex) -> Option<ChannelOwner> {
    let application = |o: &ObjectIndex| Library::of(&heap.class_name(*o)).is_none();
    let mut candidates: Vec<(ObjectIndex, OwnerLink, Option<String>)> = attributes(heap, channel)
        .into_iter()
        .filter(|(_, value)| application(value))
        .map(|(key, value)| (value, OwnerLink::Attribute, Some(key)))
        .collect();
    candidates.extend(
        handlers(heap, channel).into_iter().filter(application).map(|handler| (handler, OwnerLink::Handler, None)),
    );
    let refers_back = |o: ObjectIndex| heap.references(o).contains(&channel);
    let index = candidates.iter().position(|c| refers_back(c.0)).or((!candidates.is_empty()).then_some(0))?;
    let (found, link, attribute) = candidates.swap_remove(index);
    Some(ChannelOwner {
        id: format!("0x{:x}", heap.id(found)),
        class: heap.class_name(found),
        link,
        attribute,
        session_id: session_id(heap, found),
    })
}

/// A `long sessionId` field (ZooKeeper's connections, and many protocols' own), in hex: what
/// the application's logs and tools name the connection by.
fn session_id(heap: &Heap<'_>, owner: ObjectIndex) -> Option<String> {
    match heap.field(owner, "sessionId")? {
        dumpscan_hprof::Value::Long(id) => Some(format!("0x{id:x}")),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    use super::*;

    /// Three channels: one whose per-connection object is an attribute that refers back to it
    /// (preferred over a shared handler ahead of it in the pipeline), one with only an
    /// application handler, one with library objects only.
    #[test]
    fn a_channel_is_owned_by_the_application_object_attached_to_it() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let string = b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
        let channel_class = b.define_class(
            "io.netty.channel.socket.nio.NioSocketChannel",
            Some(object),
            &[("attributes", T::Object), ("pipeline", T::Object)],
        );
        let map_class = b.define_class("io.netty.util.DefaultAttributeMap", Some(object), &[("array", T::Object)]);
        let attribute_class = b.define_class(
            "io.netty.util.DefaultAttributeMap$DefaultAttribute",
            Some(object),
            &[("key", T::Object), ("value", T::Object), ("next", T::Object)],
        );
        let key_class = b.define_class("io.netty.util.AttributeKey", Some(object), &[("name", T::Object)]);
        let pipeline_class =
            b.define_class("io.netty.channel.DefaultChannelPipeline", Some(object), &[("head", T::Object)]);
        let context_class = b.define_class(
            "io.netty.channel.DefaultChannelHandlerContext",
            Some(object),
            &[("handler", T::Object), ("next", T::Object)],
        );
        let cnxn_class =
            b.define_class("org.example.ServerCnxn", Some(object), &[("channel", T::Object), ("sessionId", T::Long)]);
        let shared_class = b.define_class("org.example.SharedHandler", Some(object), &[]);
        let stats_class = b.define_class("org.example.Stats", Some(object), &[]);
        let netty_handler = b.define_class("io.netty.handler.timeout.IdleStateHandler", Some(object), &[]);

        let shared = b.instance(shared_class, &[]);
        let pipeline = |b: &mut HeapBuilder, handlers: &[u64]| {
            let mut next = 0;
            for &h in handlers.iter().rev() {
                next = b.instance(context_class, &[V::Object(h), V::Object(next)]);
            }
            b.instance(pipeline_class, &[V::Object(next)])
        };
        let attributes = |b: &mut HeapBuilder, pairs: &[(&str, u64)]| {
            let mut slots = Vec::new();
            for &(name, value) in pairs {
                let bytes = b.byte_array(name.as_bytes());
                let name = b.instance(string, &[V::Object(bytes), V::Byte(0)]);
                let key = b.instance(key_class, &[V::Object(name)]);
                slots.push(b.instance(attribute_class, &[V::Object(key), V::Object(value), V::Object(0)]));
            }
            let array = b.object_array("java.lang.Object", &slots);
            b.instance(map_class, &[V::Object(array)])
        };

        // The connection object refers back to its channel: the channel's id is needed first.
        let server = b.new_id();
        let stats = b.instance(stats_class, &[]);
        let cnxn = b.instance(cnxn_class, &[V::Object(server), V::Long(0x0100_00e1_f275_0033)]);
        let server_attributes = attributes(&mut b, &[("Stats", stats), ("Cnxn", cnxn)]);
        let idle = b.instance(netty_handler, &[]);
        let server_pipeline = pipeline(&mut b, &[shared, idle]);
        b.body().instance(server, channel_class.id, &[V::Object(server_attributes), V::Object(server_pipeline)]);

        let client_pipeline = pipeline(&mut b, &[idle, shared]);
        let client_attributes = attributes(&mut b, &[]);
        let client = b.instance(channel_class, &[V::Object(client_attributes), V::Object(client_pipeline)]);

        let bare_pipeline = pipeline(&mut b, &[idle]);
        let bare = b.instance(channel_class, &[V::Object(0), V::Object(bare_pipeline)]);

        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let at = |id: u64| heap.index_of(id).unwrap();

        let owner = owner(&heap, at(server)).unwrap();
        assert_eq!(owner.class, "org.example.ServerCnxn");
        assert_eq!(owner.id, format!("0x{cnxn:x}"));
        assert_eq!((owner.link, owner.attribute.as_deref()), (OwnerLink::Attribute, Some("Cnxn")));
        assert_eq!(owner.session_id.as_deref(), Some("0x10000e1f2750033"));
        assert_eq!(owner.label(), format!("ServerCnxn 0x{cnxn:x} (session 0x10000e1f2750033)"));

        let owner = super::owner(&heap, at(client)).unwrap();
        assert_eq!(
            (owner.class.as_str(), owner.link, owner.attribute),
            ("org.example.SharedHandler", OwnerLink::Handler, None)
        );
        assert_eq!(owner.session_id, None);

        assert_eq!(super::owner(&heap, at(bare)), None, "Netty's own handlers own nothing");
    }
}
