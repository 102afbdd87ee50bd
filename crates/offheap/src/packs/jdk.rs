//! The JDK: its collections are containers.

use dumpscan_heap::{ClassIndex, Heap};

use super::{ClassRole, Pack};
use crate::findings::Rule;

pub(crate) struct Jdk;

impl Pack for Jdk {
    fn classes(&self) -> &'static [&'static str] {
        &[
            "java.nio.DirectByteBuffer",
            "jdk.internal.ref.Cleaner",
            "sun.misc.Cleaner",
            "java.lang.Thread",
            "sun.nio.ch.Util$BufferCache",
        ]
    }

    fn class_role(&self, _: &Heap<'_>, _: ClassIndex, name: &str) -> Option<ClassRole> {
        let collection = (name.starts_with("java.util.") && !name.starts_with("java.util.concurrent.atomic."))
            || name.starts_with("java.lang.ThreadLocal$ThreadLocalMap");
        collection.then_some(ClassRole::Container)
    }

    fn rules(&self) -> &'static [Rule] {
        &[]
    }
}
