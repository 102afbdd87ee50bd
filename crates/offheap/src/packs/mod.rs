//! Library knowledge, one pack per library: the classes a pack reads, what its classes are to
//! the retainer grouping (wrappers seen through, containers collapsed, read and write buffers
//! that hold bytes), and its finding rules. Adding a library is its own module and one line in
//! [`PACKS`].

pub(crate) mod clients;
mod jdk;
mod lettuce;
mod netty;
mod reactor;
mod redisson;

use dumpscan_heap::{ClassIndex, Heap, ObjectIndex};
use rustc_hash::FxHashMap;

use crate::census::Census;
use crate::fields::object;
use crate::findings::Rule;
use crate::report::{Client, Tally};

/// What a pack reads its section from.
pub(crate) struct ReadContext<'h, 'a> {
    pub heap: &'h Heap<'a>,
    pub census: &'h Census,
    /// Buffers and native bytes attributed along a path through each outbound buffer.
    pub through: &'h FxHashMap<ObjectIndex, Tally>,
    pub show_values: bool,
}

/// What a class is to the retainer grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClassRole {
    /// A collection's own internals: a run of them is one step of a path.
    Container,
    /// Passes every call on to the object it wraps: leaves no step. `leak_tracker`: the wrapper
    /// is a leak detector's.
    Wrapper { leak_tracker: bool },
    /// Keeps bytes read and not yet decoded in one of these fields.
    ReadBuffer { fields: &'static [&'static str] },
    /// Keeps writes waiting for the socket.
    OutboundBuffer,
    /// Keeps writes back before they reach the channel (a TLS handshake, a handler's queue);
    /// `list`: it is the head of the list of them, collapsed like a container.
    PendingWrites { list: bool },
    /// Keeps data read until a consumer takes it.
    InboundQueue,
}

/// A library the report understands.
pub(crate) trait Pack: Sync {
    /// Classes whose instances (subclasses' too) the pack reads: gathered in one pass.
    fn classes(&self) -> &'static [&'static str];
    /// The role of class `class` (an index of the heap's classes), by its name and ancestry.
    fn class_role(&self, heap: &Heap<'_>, class: ClassIndex, name: &str) -> Option<ClassRole>;
    /// Finding rules over the finished report.
    fn rules(&self) -> &'static [Rule];
    /// The pack's section of the report, for a client library that has one.
    fn read(&self, _: &ReadContext<'_, '_>) -> Option<Client> {
        None
    }
}

/// Every pack, in the order their roles are asked.
pub(crate) const PACKS: &[&dyn Pack] =
    &[&jdk::Jdk, &netty::Netty, &lettuce::Lettuce, &redisson::Redisson, &reactor::Reactor];

/// The packs' roles of every class of a dump, found once.
pub(crate) struct Roles(Vec<Option<ClassRole>>);

impl Roles {
    pub(crate) fn of(heap: &Heap<'_>) -> Roles {
        Roles(
            heap.class_indices()
                .map(|class| {
                    let name = heap.class_info(class).map(|c| c.name.as_str())?;
                    PACKS.iter().find_map(|pack| pack.class_role(heap, class, name))
                })
                .collect(),
        )
    }

    /// An object's role: that of its class (arrays have none here).
    pub(crate) fn of_object(&self, heap: &Heap<'_>, object: ObjectIndex) -> Option<ClassRole> {
        let class = heap.class_of(object)?;
        self.0.get(class.index()).copied().flatten()
    }

    /// A container, or a list of pending writes (collapsed like one).
    pub(crate) fn is_container(&self, heap: &Heap<'_>, object: ObjectIndex) -> bool {
        matches!(self.of_object(heap, object), Some(ClassRole::Container | ClassRole::PendingWrites { list: true }))
    }

    pub(crate) fn is_wrapper(&self, heap: &Heap<'_>, object: ObjectIndex) -> bool {
        matches!(self.of_object(heap, object), Some(ClassRole::Wrapper { .. }))
    }

    pub(crate) fn is_leak_tracker(&self, heap: &Heap<'_>, object: ObjectIndex) -> bool {
        self.of_object(heap, object) == Some(ClassRole::Wrapper { leak_tracker: true })
    }

    /// Whether `from` keeps `to` as its read buffer.
    pub(crate) fn is_read_buffer(&self, heap: &Heap<'_>, from: ObjectIndex, to: ObjectIndex) -> bool {
        match self.of_object(heap, from) {
            Some(ClassRole::ReadBuffer { fields }) => fields.iter().any(|f| object(heap, from, f) == Some(to)),
            _ => false,
        }
    }
}

/// Whether class `class` is `ancestor` or one of its subclasses.
fn extends(heap: &Heap<'_>, class: ClassIndex, ancestor: &str) -> bool {
    heap.class_info(class).is_some_and(|info| heap.classes.is_subclass_of(info.id, ancestor))
}

#[cfg(test)]
mod tests {
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    use super::*;

    /// Each pack's roles, found by ancestry: a subclass of a role's class has the role.
    #[test]
    fn classes_get_their_packs_roles() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let list = b.define_class("java.util.ArrayList", Some(object), &[("elementData", T::Object)]);
        let atomic = b.define_class("java.util.concurrent.atomic.AtomicLong", Some(object), &[("value", T::Long)]);
        let wrapped = b.define_class("io.netty.buffer.WrappedByteBuf", Some(object), &[("buf", T::Object)]);
        let simple = b.define_class("io.netty.buffer.SimpleLeakAwareByteBuf", Some(wrapped), &[]);
        let advanced = b.define_class("io.netty.buffer.AdvancedLeakAwareByteBuf", Some(simple), &[]);
        let unreleasable = b.define_class("io.netty.buffer.UnreleasableByteBuf", Some(wrapped), &[]);
        let queue =
            b.define_class("io.netty.util.internal.shaded.org.jctools.queues.MpscArrayQueue", Some(object), &[]);
        let decoder =
            b.define_class("io.netty.handler.codec.ByteToMessageDecoder", Some(object), &[("cumulation", T::Object)]);
        let mine = b.define_class("com.example.FrameDecoder", Some(decoder), &[]);
        let outbound = b.define_class("io.netty.channel.ChannelOutboundBuffer", Some(object), &[]);
        let handler = b.define_class(
            "io.lettuce.core.protocol.CommandHandler",
            Some(object),
            &[("stack", T::Object), ("readBuffer", T::Object)],
        );
        let pubsub = b.define_class("io.lettuce.core.pubsub.PubSubCommandHandler", Some(handler), &[]);
        let plain = b.define_class("com.example.Cache", Some(object), &[]);
        let cumulation = b.instance(plain, &[]);
        let objects = [
            (b.instance(list, &[V::Object(0)]), Some(ClassRole::Container)),
            (b.instance(atomic, &[V::Long(1)]), None),
            (b.instance(advanced, &[V::Object(0)]), Some(ClassRole::Wrapper { leak_tracker: true })),
            (b.instance(unreleasable, &[V::Object(0)]), Some(ClassRole::Wrapper { leak_tracker: false })),
            (b.instance(queue, &[]), Some(ClassRole::Container)),
            (b.instance(mine, &[V::Object(cumulation)]), Some(ClassRole::ReadBuffer { fields: &["cumulation"] })),
            (b.instance(outbound, &[]), Some(ClassRole::OutboundBuffer)),
            (
                b.instance(pubsub, &[V::Object(0), V::Object(0)]),
                Some(ClassRole::ReadBuffer { fields: &["buffer", "readBuffer"] }),
            ),
            (cumulation, None),
        ];
        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let roles = Roles::of(&heap);
        for (id, role) in objects {
            let o = heap.index_of(id).unwrap();
            assert_eq!(roles.of_object(&heap, o), role, "{}", heap.class_name(o));
        }
        let decoder = heap.index_of(objects[5].0).unwrap();
        let held = heap.index_of(cumulation).unwrap();
        assert!(roles.is_read_buffer(&heap, decoder, held));
        assert!(!roles.is_read_buffer(&heap, held, decoder));
    }
}
