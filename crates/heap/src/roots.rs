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
    pub object: ObjectIndex,
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
        use dumpscan_hprof::{BasicType, SubRecord};
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
        let units = |le: bool| {
            data.chunks_exact(2).map(move |c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
        };
        let text: String = match (a.element_type, coder) {
            (BasicType::Byte, 0) => data.iter().map(|&b| b as char).collect(),
            (BasicType::Byte, _) => char::decode_utf16(units(true)).map(|r| r.unwrap_or('\u{fffd}')).collect(),
            _ => char::decode_utf16(units(false)).map(|r| r.unwrap_or('\u{fffd}')).collect(),
        };
        match slice {
            // A slice counts UTF-16 units of a `char[]`.
            Some(range) => Some(String::from_utf16_lossy(text.encode_utf16().collect::<Vec<u16>>().get(range)?)),
            None => Some(text),
        }
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
