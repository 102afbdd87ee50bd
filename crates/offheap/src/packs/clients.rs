//! What every Redis client pack reports the same way: a connection reading a large reply, and
//! writes piling up to one server. Each client section gives a view of its connections.

use crate::findings::{finding, Context, MIB};
use crate::libraries::Library;
use crate::report::{Client, Commands, Finding, FindingKind, ReadBuffer, Role};
use crate::units::{capitalized, count, human_bytes as size};

/// A client connection as the shared rules see it.
struct View<'r> {
    library: Library,
    remote: Option<&'r str>,
    channel: Option<&'r str>,
    /// What names the connection without an address (Lettuce's endpoint).
    fallback: Option<&'r str>,
    read_buffer: Option<&'r ReadBuffer>,
    in_flight: &'r Commands,
    pending_write_bytes: Option<u64>,
}

impl View<'_> {
    /// `the Redis connection to 10.0.0.7:6379`.
    fn name(&self) -> String {
        match (self.remote, self.fallback) {
            (Some(remote), _) => format!("the Redis connection to {remote}"),
            (None, Some(id)) => format!("the Redis endpoint {id}"),
            (None, None) => "a Redis connection".into(),
        }
    }
}

fn views<'r>(cx: &Context<'r>) -> Vec<View<'r>> {
    let mut found = Vec::new();
    for client in &cx.report.clients {
        match client {
            Client::Lettuce { connections } => found.extend(connections.iter().map(|c| View {
                library: Library::Lettuce,
                remote: c.remote.as_deref(),
                channel: c.channel.as_deref(),
                fallback: c.endpoint.as_deref(),
                read_buffer: c.read_buffer.as_ref(),
                in_flight: &c.in_flight,
                pending_write_bytes: c.pending_write_bytes,
            })),
            Client::Redisson { connections } => found.extend(connections.iter().map(|c| View {
                library: Library::Redisson,
                remote: c.remote.as_deref(),
                channel: Some(&c.channel),
                fallback: None,
                read_buffer: c.read_buffer.as_ref(),
                in_flight: &c.in_flight,
                pending_write_bytes: c.pending_write_bytes,
            })),
            Client::Reactor { .. } => {}
        }
    }
    found
}

/// A client reading a reply larger than a MiB (or into a buffer grown past 4 MiB): the oldest
/// command in flight is the one it answers.
pub(crate) fn reply_being_read(cx: &Context<'_>) -> Vec<Finding> {
    views(cx)
        .into_iter()
        .filter_map(|c| {
            let buffer = c.read_buffer.filter(|b| b.readable >= MIB || b.capacity >= 4 * MIB)?;
            let oldest = c.in_flight.oldest.as_deref().map_or(String::new(), |kind| {
                format!(
                    " The oldest command in flight, {kind}, is the one whose reply is being read; {} in flight ({}).",
                    count(c.in_flight.count, "command"),
                    c.in_flight.by_type()
                )
            });
            let library = c.library.name();
            let mut f = finding(
                FindingKind::ReplyBeingRead,
                Role::Cause,
                format!("{library} is reading a large reply: {} read so far", size(buffer.readable)),
                format!(
                    "The read buffer of {} holds {} waiting for a whole reply (capacity {}{}).{oldest} A very large \
                     value (a big GET, HGETALL, LRANGE or KEYS result) is read into one buffer, which Netty grows in \
                     4 MiB steps and {library} keeps until the reply is whole: find the command and its key, and \
                     page or split the value.",
                    c.name(),
                    size(buffer.readable),
                    size(buffer.capacity),
                    if buffer.direct { ", direct memory" } else { ", on the heap" },
                ),
                buffer.capacity,
            );
            f.evidence.push(format!("read buffer {}", buffer.id));
            f.commands.push(cx.paths_command(&buffer.id));
            Some(f)
        })
        .collect()
}

/// Writes of one client connection piling up in its channel: told here, naming the server,
/// rather than by the channel rule.
pub(crate) fn write_pileups(cx: &Context<'_>) -> Vec<Finding> {
    views(cx)
        .into_iter()
        .filter_map(|c| {
            let pending = c.pending_write_bytes.filter(|&p| p >= MIB)?;
            let channel = cx.report.channels.iter().find(|ch| Some(ch.id.as_str()) == c.channel);
            let held = channel.map_or(0, |ch| ch.direct.bytes);
            let to = c.remote.map(|r| format!(" at {r}")).unwrap_or_default();
            let bound = match c.library {
                Library::Lettuce => "bound them with ClientOptions.requestQueueSize",
                _ => "bound the commands in flight",
            };
            let mut f = finding(
                FindingKind::ClientWritePileup,
                Role::Cause,
                format!("Writes piling up to Redis{to}: {} pending, {} of direct memory", size(pending), size(held)),
                format!(
                    "{} has {} written but not yet sent ({} pending, {} of direct memory), and {} in flight ({}). \
                     Redis is not reading fast enough (a slow or blocked server, a saturated network): {} writes as \
                     long as commands come; {bound} or slow the callers down.",
                    capitalized(&c.name()),
                    channel.map_or_else(|| "messages".into(), |ch| count(ch.pending_messages, "message")),
                    size(pending),
                    size(held),
                    count(c.in_flight.count, "command"),
                    c.in_flight.by_type(),
                    c.library.name(),
                ),
                pending.max(held),
            );
            if let Some(channel) = channel {
                f.evidence
                    .push(format!("ChannelOutboundBuffer {}: totalPendingSize = {pending}", channel.outbound_buffer));
                f.commands.push(cx.paths_command(&channel.outbound_buffer));
            }
            Some(f)
        })
        .collect()
}
