//! Lettuce, the Redis client (4.x to 7.x): each connection's commands in flight and queued,
//! its read buffer and the writes pending in its channel, and the rules about them.
//!
//! Layouts, from Lettuce's sources: the command handler keeps the commands sent in `stack`
//! (an `ArrayDeque`; 6.6+ a `HashIndexedQueue` by default) and bytes read in `buffer`
//! (6.6+: `readBuffer`); the endpoint (`DefaultEndpoint` and subclasses, 5.0+) keeps the
//! commands not sent in `disconnectedBuffer` and `commandBuffer`, its `channel` while
//! connected, and `status` (1 once closed). In 4.x the handler is its own endpoint. A command
//! is wrapped (`AsyncCommand`, `CommandWrapper`, ...) around a `Command` kept in `command`,
//! whose `type` is a `CommandType` or another `ProtocolKeyword`.

use dumpscan_heap::{ClassIndex, Heap, ObjectIndex, ObjectKind};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{extends, netty, ClassRole, Pack, ReadContext};
use crate::census::{is_strong, Census};
use crate::channels;
use crate::collections::queue_elements;
use crate::fields::{int, object};
use crate::findings::{finding, Context, Rule, MIB};
use crate::report::{Client, Commands, ConnectionState, Finding, FindingKind, LettuceConnection, Role};
use crate::units::{capitalized, count, human_bytes as size};

pub(crate) struct Lettuce;

/// The command handler, by package: 5.x and later, and 4.x.
const HANDLERS: [&str; 2] =
    ["io.lettuce.core.protocol.CommandHandler", "com.lambdaworks.redis.protocol.CommandHandler"];
/// The endpoint, 5.x and later.
const ENDPOINT: &str = "io.lettuce.core.protocol.DefaultEndpoint";
/// Bound on wrappers around a command, and on the objects searched from one command's arguments.
const MAX_WRAPPERS: usize = 8;
const MAX_ARGUMENT_DEPTH: usize = 6;

impl Pack for Lettuce {
    fn classes(&self) -> &'static [&'static str] {
        &[HANDLERS[0], HANDLERS[1], ENDPOINT]
    }

    fn class_role(&self, heap: &Heap<'_>, class: ClassIndex, _: &str) -> Option<ClassRole> {
        // `buffer` up to 6.5, `readBuffer` from 6.6.
        HANDLERS
            .iter()
            .any(|handler| extends(heap, class, handler))
            .then_some(ClassRole::ReadBuffer { fields: &["buffer", "readBuffer"] })
    }

    fn rules(&self) -> &'static [Rule] {
        &[queued_while_disconnected]
    }

    fn read(&self, cx: &ReadContext<'_, '_>) -> Option<Client> {
        let connections = connections(cx);
        (!connections.is_empty()).then_some(Client::Lettuce { connections })
    }
}

fn strong<'c>(heap: &'c Heap<'_>, census: &'c Census, class: &str) -> impl Iterator<Item = ObjectIndex> + 'c {
    census.of(class).iter().copied().filter(move |&o| is_strong(heap, o))
}

/// Every strongly reachable endpoint with the handler that points at it, then handlers that are
/// their own endpoint (4.x) or whose endpoint is gone.
fn connections(cx: &ReadContext<'_, '_>) -> Vec<LettuceConnection> {
    let heap = cx.heap;
    let handlers: Vec<ObjectIndex> = HANDLERS.iter().flat_map(|class| strong(heap, cx.census, class)).collect();
    let mut handler_of: FxHashMap<ObjectIndex, ObjectIndex> = FxHashMap::default();
    for &handler in &handlers {
        if let Some(endpoint) = object(heap, handler, "endpoint") {
            handler_of.insert(endpoint, handler);
        }
    }
    let endpoints: Vec<ObjectIndex> = strong(heap, cx.census, ENDPOINT).collect();
    let mut found: Vec<LettuceConnection> =
        endpoints.iter().map(|&e| connection(cx, handler_of.get(&e).copied(), Some(e))).collect();
    let paired: FxHashSet<ObjectIndex> = handler_of.values().copied().collect();
    for &handler in handlers.iter().filter(|h| !paired.contains(h)) {
        // 4.x keeps the queues in the handler itself.
        let own = object(heap, handler, "disconnectedBuffer").map(|_| handler);
        found.push(connection(cx, Some(handler), own));
    }
    found
}

fn connection(
    cx: &ReadContext<'_, '_>,
    handler: Option<ObjectIndex>,
    endpoint: Option<ObjectIndex>,
) -> LettuceConnection {
    let heap = cx.heap;
    let id = |o: ObjectIndex| format!("0x{:x}", heap.id(o));
    let channel =
        endpoint.and_then(|e| object(heap, e, "channel")).or_else(|| handler.and_then(|h| object(heap, h, "channel")));
    let closed = endpoint.and_then(|e| int(heap, e, "status")) == Some(1);
    let state = match (closed, channel) {
        (true, _) => ConnectionState::Closed,
        (false, Some(_)) => ConnectionState::Connected,
        (false, None) => ConnectionState::Disconnected,
    };
    let (local, remote) = channel.map_or((None, None), |c| channels::addresses(heap, c, cx.show_values));
    let in_flight = handler
        .and_then(|h| object(heap, h, "stack"))
        .and_then(|stack| queue_elements(heap, stack))
        .map(|commands| tally_commands(heap, &commands))
        .unwrap_or_default();
    let queued: Vec<ObjectIndex> = endpoint
        .into_iter()
        .flat_map(|e| ["disconnectedBuffer", "commandBuffer"].map(|f| object(heap, e, f)))
        .flatten()
        .filter_map(|queue| queue_elements(heap, queue))
        .flatten()
        .collect();
    let read_buffer = handler
        .and_then(|h| object(heap, h, "readBuffer").or_else(|| object(heap, h, "buffer")))
        .map(|buffer| netty::read_buffer(heap, buffer));
    let outbound = channel.and_then(|c| channels::outbound_buffer(heap, c));
    let pending_write_bytes = outbound.map(|o| int(heap, o, "totalPendingSize").unwrap_or(0).max(0) as u64);
    let pending_direct = outbound.and_then(|o| cx.through.get(&o)).map_or(0, |t| t.bytes);
    let read_direct = read_buffer.as_ref().filter(|b| b.direct).map_or(0, |b| b.capacity);
    LettuceConnection {
        handler: handler.map(id),
        endpoint: endpoint.map(id),
        channel: channel.map(id),
        state,
        local,
        remote,
        in_flight,
        queued: tally_commands(heap, &queued),
        read_buffer,
        pending_write_bytes,
        direct_bytes: read_direct.saturating_add(pending_direct),
    }
}

/// Commands counted by type, the oldest's type, and the heap their arguments hold.
fn tally_commands(heap: &Heap<'_>, commands: &[ObjectIndex]) -> Commands {
    let mut tally = Commands::default();
    let mut seen = FxHashSet::default();
    for &wrapped in commands {
        let command = unwrap(heap, wrapped);
        let kind = command_type(heap, command);
        if tally.oldest.is_none() {
            tally.oldest = Some(kind.clone());
        }
        *tally.commands.entry(kind).or_default() += 1;
        tally.count += 1;
        if let Some(args) = object(heap, command, "args") {
            tally.heap_bytes = tally.heap_bytes.saturating_add(argument_bytes(heap, args, &mut seen));
        }
    }
    tally
}

/// The `Command` inside its wrappers (`AsyncCommand.command`, `CommandWrapper.command`, ...).
fn unwrap(heap: &Heap<'_>, mut command: ObjectIndex) -> ObjectIndex {
    for _ in 0..MAX_WRAPPERS {
        match object(heap, command, "command") {
            Some(inner) => command = inner,
            None => break,
        }
    }
    command
}

/// `GET`, `SET`: the name of the command's `type` when it is an enum constant (`CommandType`),
/// else its class's simple name.
fn command_type(heap: &Heap<'_>, command: ObjectIndex) -> String {
    let Some(kind) = object(heap, command, "type") else { return "unknown".into() };
    if let Some(name) = object(heap, kind, "name").and_then(|n| heap.string_value(n)) {
        return name;
    }
    let class = heap.class_name(kind);
    class.rsplit(['.', '$']).next().unwrap_or(&class).to_string()
}

/// Shallow bytes of the objects a command's arguments reach (its keys and values), each
/// counted once across `seen`; the codec the arguments share is not theirs, nor are classes.
fn argument_bytes(heap: &Heap<'_>, args: ObjectIndex, seen: &mut FxHashSet<ObjectIndex>) -> u64 {
    let codec = object(heap, args, "codec");
    let mut bytes = 0u64;
    let mut level = vec![args];
    for _ in 0..MAX_ARGUMENT_DEPTH {
        let mut next = Vec::new();
        for o in level {
            if Some(o) == codec || matches!(heap.kind(o), ObjectKind::Class { .. }) || !seen.insert(o) {
                continue;
            }
            bytes = bytes.saturating_add(heap.shallow_size(o));
            next.extend_from_slice(heap.references(o));
        }
        level = next;
    }
    bytes
}

fn clients<'r>(cx: &Context<'r>) -> impl Iterator<Item = &'r LettuceConnection> {
    cx.report.clients.iter().flat_map(|client| match client {
        Client::Lettuce { connections } => connections.as_slice(),
        _ => &[],
    })
}

/// `the connection to 10.0.0.7:6379` (or of the endpoint, when there is no address).
fn name(connection: &LettuceConnection) -> String {
    match (&connection.remote, &connection.endpoint) {
        (Some(remote), _) => format!("the Redis connection to {remote}"),
        (None, Some(endpoint)) => format!("the Redis endpoint {endpoint}"),
        (None, None) => "a Redis connection".into(),
    }
}

fn queued_while_disconnected(cx: &Context<'_>) -> Vec<Finding> {
    clients(cx)
        .filter(|c| c.state != ConnectionState::Connected && (c.queued.count >= 100 || c.queued.heap_bytes >= MIB))
        .map(|c| {
            let mut f = finding(
                FindingKind::QueuedWhileDisconnected,
                Role::Cause,
                format!("{} queued while Redis is unreachable", capitalized(&count(c.queued.count, "command"))),
                format!(
                    "{} has no channel and holds {} not sent ({}), keeping {} of heap in their arguments. Lettuce \
                     queues commands while it reconnects, without bound by default \
                     (ClientOptions.requestQueueSize is Integer.MAX_VALUE): set requestQueueSize, or \
                     DisconnectedBehavior.REJECT_COMMANDS, so that callers fail fast instead.",
                    capitalized(&name(c)),
                    count(c.queued.count, "command"),
                    c.queued.by_type(),
                    size(c.queued.heap_bytes)
                ),
                c.queued.heap_bytes,
            );
            f.evidence.extend(c.endpoint.iter().map(|e| format!("DefaultEndpoint {e}")));
            f.commands.extend(c.endpoint.iter().map(|e| cx.paths_command(e)));
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_by_type_largest_first() {
        let mut commands = Commands::default();
        commands.commands.insert("GET".into(), 6);
        commands.commands.insert("SET".into(), 3);
        commands.commands.insert("PING".into(), 6);
        commands.commands.insert("HSET".into(), 1200);
        assert_eq!(commands.by_type(), "HSET 1,200, GET 6, PING 6, SET 3");
        let c = LettuceConnection {
            handler: None,
            endpoint: Some("0x1".into()),
            channel: None,
            state: ConnectionState::Disconnected,
            local: None,
            remote: None,
            in_flight: Commands::default(),
            queued: commands,
            read_buffer: None,
            pending_write_bytes: None,
            direct_bytes: 0,
        };
        assert_eq!(name(&c), "the Redis endpoint 0x1");
        assert_eq!(capitalized(&name(&c)), "The Redis endpoint 0x1");
    }
}
