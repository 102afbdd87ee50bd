//! Lettuce, the Redis client: its command handler's read buffer.

use dumpscan_heap::Heap;

use super::{extends, ClassRole, Pack};
use crate::findings::Rule;

pub(crate) struct Lettuce;

/// The command handler, by package: 5.x and later, and 4.x.
const HANDLERS: [&str; 2] =
    ["io.lettuce.core.protocol.CommandHandler", "com.lambdaworks.redis.protocol.CommandHandler"];

impl Pack for Lettuce {
    fn classes(&self) -> &'static [&'static str] {
        &HANDLERS
    }

    fn class_role(&self, heap: &Heap<'_>, class: u32, _: &str) -> Option<ClassRole> {
        // `buffer` up to 6.5, `readBuffer` from 6.6.
        HANDLERS
            .iter()
            .any(|handler| extends(heap, class, handler))
            .then_some(ClassRole::ReadBuffer { fields: &["buffer", "readBuffer"] })
    }

    fn rules(&self) -> &'static [Rule] {
        &[]
    }
}
