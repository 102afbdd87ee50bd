//! GC roots, described the way a person names them.

use dumpscan_hprof::RootKind;

use crate::{Heap, ObjectIndex};

/// One frame of a thread's stack at dump time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The Java name of the method's class.
    pub class: String,
    /// The method's name (`<init>` for a constructor).
    pub method: String,
    /// The source file, where the dump names it.
    pub file: String,
    /// The line: positive when known, -3 for a native method, otherwise unknown.
    pub line: i32,
}

impl std::fmt::Display for Frame {
    /// `Class.method(File.java:12)`, spelled by [`dumpscan_hprof::write_frame`] as everywhere.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        dumpscan_hprof::write_frame(f, &self.class, &self.method, &self.file, self.line)
    }
}

/// A GC root held in the model: the object and how the VM holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    /// The object the root holds.
    pub object: ObjectIndex,
    /// What kind of root it is.
    pub kind: RootKind,
}

impl Heap<'_> {
    /// The thread object with this serial, from its ROOT THREAD OBJECT.
    pub fn thread_object(&self, serial: u32) -> Option<ObjectIndex> {
        self.roots.iter().find_map(|r| match r.kind {
            RootKind::ThreadObject { thread_serial, .. } if thread_serial == serial => Some(r.object),
            _ => None,
        })
    }

    /// A thread's name, read from its `Thread.name` field.
    pub fn thread_name(&self, thread: ObjectIndex) -> Option<String> {
        let name = self.field_object(thread, "name")?;
        self.string_value(name)
    }

    /// The text of a `java.lang.String` (or a `char[]`). Only for names the report may show:
    /// thread names and the like, never application data. Up to JDK 7u5 a string could be a
    /// slice (`offset`, `count`) of a `char[]` shared with the string it was cut from.
    pub fn string_value(&self, string: ObjectIndex) -> Option<String> {
        use dumpscan_hprof::{StringCoding, SubRecord};
        let int = |name: &str| self.field(string, name).and_then(|v| v.as_i64());
        let (array, coder, slice) = match self.record(string)? {
            SubRecord::PrimitiveArray(_) => (string, 0, None),
            SubRecord::Instance(_) => {
                let value = self.field_object(string, "value")?;
                let slice = match (int("offset"), int("count")) {
                    (Some(offset), Some(count)) => {
                        let start = usize::try_from(offset).ok()?;
                        Some(start..start.checked_add(usize::try_from(count).ok()?)?)
                    }
                    _ => None,
                };
                (value, int("coder").unwrap_or(0), slice)
            }
            _ => return None,
        };
        let SubRecord::PrimitiveArray(a) = self.record(array)? else { return None };
        let data = a.data?;
        let coding = StringCoding::of(a.element_type, coder);
        let data = match slice {
            // A slice counts the array's units (a `char[]`'s UTF-16 units).
            Some(units) => {
                let width = coding.unit_bytes();
                data.get(units.start.checked_mul(width)?..units.end.checked_mul(width)?)?
            }
            None => data,
        };
        Some(coding.decode(data))
    }

    /// The frame of thread `serial` at depth `index` (0 is the innermost call).
    pub fn frame(&self, thread_serial: u32, index: i32) -> Option<Frame> {
        let trace_serial = self.roots.iter().find_map(|r| match r.kind {
            RootKind::ThreadObject { thread_serial: s, stack_trace_serial } if s == thread_serial => {
                Some(stack_trace_serial)
            }
            _ => None,
        })?;
        let frame = self.meta.frame(trace_serial, usize::try_from(index).ok()?)?;
        Some(Frame { class: frame.class, method: frame.method, file: frame.source_file, line: frame.line })
    }

    /// The frame of thread `serial` at depth `index`, as `Class.method(File.java:12)`.
    pub fn frame_text(&self, thread_serial: u32, index: i32) -> Option<String> {
        self.frame(thread_serial, index).map(|f| f.to_string())
    }

    /// How a person names a root: `static Foo.BAR`, `thread "main" at Foo.run(Foo.java:12)`,
    /// `JNI global`, `sticky class java.lang.String`.
    pub fn root_text(&self, root: &Root) -> String {
        let thread = |serial: u32| {
            let name = self.thread_object(serial).and_then(|t| self.thread_name(t));
            match name {
                Some(n) => format!("thread \"{n}\""),
                None => format!("thread #{serial}"),
            }
        };
        match root.kind {
            RootKind::JavaFrame { thread_serial, frame_index } | RootKind::JniLocal { thread_serial, frame_index } => {
                let what = if matches!(root.kind, RootKind::JavaFrame { .. }) { "local in" } else { "JNI local in" };
                match self.frame_text(thread_serial, frame_index) {
                    Some(frame) => format!("{what} {} at {frame}", thread(thread_serial)),
                    None => format!("{what} {}", thread(thread_serial)),
                }
            }
            RootKind::ThreadObject { thread_serial, .. } => thread(thread_serial),
            RootKind::NativeStack { thread_serial } | RootKind::ThreadBlock { thread_serial } => {
                format!("{} of {}", root.kind.name(), thread(thread_serial))
            }
            RootKind::StickyClass => match self.class_object_name(root.object) {
                Some(name) => format!("class {name}"),
                None => "sticky class".into(),
            },
            other => other.name().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    use crate::Heap;

    /// Strings of each JDK's layout: Latin-1 and UTF-16 `byte[]` with a coder, a whole `char[]`,
    /// and slices of a shared `char[]` counted in UTF-16 units.
    #[test]
    fn string_values_in_every_layout() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let compact = b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
        let sliced = b.define_class(
            "org.example.OldString",
            Some(object),
            &[("value", T::Object), ("offset", T::Int), ("count", T::Int)],
        );
        let latin1 = b.byte_array(&[b'c', b'a', b'f', 0xE9]);
        let latin1 = b.instance(compact, &[V::Object(latin1), V::Byte(0)]);
        let utf16: Vec<u8> = "\u{1F600}!".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16 = b.byte_array(&utf16);
        let utf16 = b.instance(compact, &[V::Object(utf16), V::Byte(1)]);
        let units: Vec<u8> = "a\u{1F600}b".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let chars = b.new_id();
        b.body().primitive_array(chars, T::Char, (units.len() / 2) as u32, &units);
        let slice = |b: &mut HeapBuilder, offset: i32, count: i32| {
            b.instance(sliced, &[V::Object(chars), V::Int(offset), V::Int(count)])
        };
        let (middle, last, past_end) = (slice(&mut b, 1, 2), slice(&mut b, 3, 1), slice(&mut b, 3, 2));
        let dump = Dump::from_vec(b.finish_single()).unwrap();
        let heap = Heap::build(&dump).unwrap();
        let text = |id: u64| heap.string_value(heap.index_of(id).unwrap());
        assert_eq!(text(latin1).as_deref(), Some("caf\u{e9}"));
        assert_eq!(text(utf16).as_deref(), Some("\u{1F600}!"));
        assert_eq!(text(chars).as_deref(), Some("a\u{1F600}b"));
        assert_eq!(text(middle).as_deref(), Some("\u{1F600}"));
        assert_eq!(text(last).as_deref(), Some("b"));
        assert_eq!(text(past_end), None);
    }
}
