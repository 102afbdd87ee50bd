//! `dumpscan inspect`: one object, its fields and their values, who points at it, and what
//! keeps it alive. Data from the dump (string contents, primitive arrays) stays hidden unless
//! asked for.

use std::io::Write;

use dumpscan_heap::{object_text, Heap, ObjectIndex, ObjectKind};
use dumpscan_hprof::{SubRecord, Value};
use rayon::prelude::*;
use serde_json::json;

use crate::table::{human_bytes, thousands};
use crate::Format;

/// What `inspect` shows of one object, read back from the dump.
pub struct Inspection {
    id: u64,
    text: String,
    class: String,
    kind: Kind,
    shallow_bytes: u64,
    reachability: &'static str,
    /// An instance's fields, or a class object's static fields.
    fields: Vec<Field>,
    array: Option<Array>,
    /// A `java.lang.String`'s text.
    string: Option<Text>,
    referrers: Vec<Referrer>,
    /// All the referrers, of which `referrers` holds the first `--top`.
    referrer_count: usize,
    /// The shortest strong path from a GC root, step by step; empty when there is none.
    path: Vec<String>,
}

/// What sort of object it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Instance,
    ObjectArray,
    PrimitiveArray,
    Class,
    Unknown,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::ObjectArray => "object array",
            Kind::PrimitiveArray => "primitive array",
            Kind::Class => "class object",
            Kind::Unknown => "instance of a class the dump does not describe",
        }
    }
}

struct Field {
    /// The declaring class; for a static field, the class itself.
    declared_by: String,
    name: String,
    value: Shown,
}

/// A field's or an element's value as it may be shown.
enum Shown {
    Primitive(Value),
    Null,
    /// A reference; `text` is `None` when the dump has no such object.
    Object {
        id: u64,
        text: Option<String>,
        string: Option<Text>,
    },
}

/// The text of a string: its length always, its characters only with `--show-values`.
struct Text {
    chars: usize,
    value: Option<String>,
}

struct Array {
    length: usize,
    elements: Elements,
}

enum Elements {
    Objects(Vec<Shown>),
    /// The first elements of a primitive array, with `--show-values`.
    Primitives(Vec<Value>),
    /// A primitive array without `--show-values`.
    Hidden,
    /// A primitive array whose record holds no data (Android's NODATA records).
    Absent,
}

struct Referrer {
    id: u64,
    text: String,
    /// The field or element that points at the object: `Foo.bar`, `java.lang.Object[3]`.
    via: String,
}

impl Inspection {
    /// Reads `object` back from the dump. `top` caps the array elements and referrers listed
    /// (0: all); `show_values` lets string contents and primitive arrays through.
    pub fn of(heap: &Heap<'_>, object: ObjectIndex, top: usize, show_values: bool) -> Inspection {
        let cap = |n: usize| if top == 0 { n } else { top.min(n) };
        let id_size = heap.dump().id_size();
        let mut fields = Vec::new();
        let mut array = None;
        let kind = match heap.kind(object) {
            ObjectKind::Instance { .. } => Kind::Instance,
            ObjectKind::ObjectArray { .. } => Kind::ObjectArray,
            ObjectKind::PrimitiveArray(_) => Kind::PrimitiveArray,
            ObjectKind::Class { .. } => Kind::Class,
            ObjectKind::Unknown => Kind::Unknown,
        };
        match heap.record(object) {
            Some(SubRecord::Instance(instance)) => {
                fields = heap
                    .classes
                    .field_values(&instance, id_size)
                    .into_iter()
                    .map(|(class, name, value)| Field {
                        declared_by: class.name.clone(),
                        name: name.to_string(),
                        value: shown(heap, value, show_values),
                    })
                    .collect();
            }
            Some(SubRecord::Class(class)) => {
                let info = heap.class_index_by_id(class.id).and_then(|c| heap.class_info(c));
                if let Some(info) = info {
                    fields = info
                        .statics
                        .iter()
                        .map(|(name, value)| Field {
                            declared_by: info.name.clone(),
                            name: name.to_string(),
                            value: shown(heap, *value, show_values),
                        })
                        .collect();
                }
            }
            Some(SubRecord::ObjectArray(a)) => {
                let length = a.elements.len();
                let elements = a.elements.iter().take(cap(length)).map(|e| shown(heap, Value::Object(e), show_values));
                array = Some(Array { length, elements: Elements::Objects(elements.collect()) });
            }
            Some(SubRecord::PrimitiveArray(a)) => {
                let length = a.length as usize;
                let elements = match (a.data, show_values) {
                    (None, _) => Elements::Absent,
                    (Some(_), false) => Elements::Hidden,
                    (Some(_), true) => Elements::Primitives((0..cap(length)).map_while(|i| a.get(i)).collect()),
                };
                array = Some(Array { length, elements });
            }
            _ => {}
        }
        let (referrers, referrer_count) = referrers(heap, object, cap);
        let path = heap.paths_to(&[object]).pop().unwrap_or_default();
        Inspection {
            id: heap.id(object),
            text: followable(heap, object),
            class: heap.class_name(object),
            kind,
            shallow_bytes: heap.shallow_size(object),
            reachability: heap.reach().level(object).name(),
            fields,
            array,
            string: string_text(heap, object, show_values),
            referrers,
            referrer_count,
            path: heap.path_steps(&path, object),
        }
    }
}

/// The objects that refer to `object`, in dump order (the first `cap(total)`), and how many
/// there are: one pass over every object's references, on all cores.
fn referrers(heap: &Heap<'_>, object: ObjectIndex, cap: impl Fn(usize) -> usize) -> (Vec<Referrer>, usize) {
    let mut from: Vec<(ObjectIndex, Option<&'static str>)> =
        heap.par_objects().filter(|&v| heap.references(v).contains(&object)).map(|v| (v, None)).collect();
    // `Reference.referent` is kept apart from the strong references.
    from.extend(heap.referents.iter().filter(|r| r.1 == object).map(|r| (r.0, Some(r.2.name()))));
    from.sort_unstable();
    from.dedup();
    let total = from.len();
    let shown = from
        .into_iter()
        .take(cap(total))
        .map(|(v, strength)| {
            let via = heap.edge_label(v, object);
            Referrer {
                id: heap.id(v),
                text: followable(heap, v),
                via: match strength {
                    Some(strength) => format!("{via} ({strength} reference)"),
                    None => via,
                },
            }
        })
        .collect();
    (shown, total)
}

/// An object as [`object_text`] names it, with the id of a class object too, so that every
/// object listed can be inspected in turn.
fn followable(heap: &Heap<'_>, object: ObjectIndex) -> String {
    match heap.kind(object) {
        ObjectKind::Class { .. } => format!("{} (0x{:x})", object_text(heap, object), heap.id(object)),
        _ => object_text(heap, object),
    }
}

fn shown(heap: &Heap<'_>, value: Value, show_values: bool) -> Shown {
    match value {
        Value::Object(0) => Shown::Null,
        Value::Object(id) => match heap.index_of(id) {
            Some(o) => Shown::Object { id, text: Some(followable(heap, o)), string: string_text(heap, o, show_values) },
            None => Shown::Object { id, text: None, string: None },
        },
        primitive => Shown::Primitive(primitive),
    }
}

/// The text of `object` if it is a `java.lang.String`: its length, and its characters only
/// when values may be shown.
fn string_text(heap: &Heap<'_>, object: ObjectIndex, show_values: bool) -> Option<Text> {
    if !matches!(heap.kind(object), ObjectKind::Instance { .. }) || heap.class_name(object) != "java.lang.String" {
        return None;
    }
    let value = heap.string_value(object)?;
    Some(Text { chars: value.chars().count(), value: show_values.then_some(value) })
}

/// `3`, `true`, `'a'`, `1.5`: a primitive as Java source would spell it.
fn primitive_text(value: Value) -> String {
    match value {
        Value::Char(c) => match char::from_u32(c as u32) {
            Some(c) => format!("{c:?}"),
            None => format!("'\\u{c:04x}'"),
        },
        Value::Boolean(b) => b.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Byte(b) => b.to_string(),
        Value::Short(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Long(l) => l.to_string(),
        Value::Object(id) => format!("0x{id:x}"),
    }
}

fn primitive_json(value: Value) -> serde_json::Value {
    match value {
        Value::Char(c) => json!(char::from_u32(c as u32).map_or_else(|| format!("\\u{c:04x}"), String::from)),
        Value::Boolean(b) => json!(b),
        Value::Float(f) => json!(f),
        Value::Double(d) => json!(d),
        other => json!(other.as_i64()),
    }
}

impl Text {
    fn line(&self) -> String {
        match &self.value {
            Some(value) => format!("{value:?} ({} chars)", thousands(self.chars as u64)),
            None => format!("\"…\" ({} chars, hidden: --show-values)", thousands(self.chars as u64)),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({"chars": self.chars, "value": self.value})
    }
}

impl Shown {
    fn line(&self) -> String {
        match self {
            Shown::Primitive(value) => primitive_text(*value),
            Shown::Null => "null".to_string(),
            Shown::Object { id, text: None, .. } => format!("0x{id:x} (not in the dump)"),
            Shown::Object { text: Some(text), string: None, .. } => text.clone(),
            Shown::Object { text: Some(text), string: Some(string), .. } => format!("{text} {}", string.line()),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Shown::Primitive(value) => {
                json!({"type": value.basic_type().java_name(), "value": primitive_json(*value)})
            }
            Shown::Null => json!({"type": "object", "value": null}),
            Shown::Object { id, text, string } => json!({
                "type": "object",
                "value": format!("0x{id:x}"),
                "text": text,
                "string": string.as_ref().map(Text::json),
            }),
        }
    }
}

pub fn render(out: &mut dyn Write, view: &Inspection, format: Format) -> std::io::Result<()> {
    match format {
        Format::Json => render_json(out, view),
        Format::Table => render_text(out, view),
    }
}

fn render_json(out: &mut dyn Write, view: &Inspection) -> std::io::Result<()> {
    let fields: Vec<_> = view
        .fields
        .iter()
        .map(|f| {
            let mut field = f.value.json();
            field["declared_by"] = json!(f.declared_by);
            field["name"] = json!(f.name);
            field
        })
        .collect();
    let array = view.array.as_ref().map(|a| {
        let (shown, elements) = match &a.elements {
            Elements::Objects(e) => (e.len(), json!(e.iter().map(Shown::json).collect::<Vec<_>>())),
            Elements::Primitives(e) => (e.len(), json!(e.iter().map(|&v| primitive_json(v)).collect::<Vec<_>>())),
            Elements::Hidden | Elements::Absent => (0, json!(null)),
        };
        json!({"length": a.length, "shown": shown, "elements": elements})
    });
    let referrers: Vec<_> =
        view.referrers.iter().map(|r| json!({"id": format!("0x{:x}", r.id), "text": r.text, "via": r.via})).collect();
    let doc = json!({
        "schema": "dumpscan.inspect.v1",
        "id": format!("0x{:x}", view.id),
        "class": view.class,
        "kind": view.kind.name(),
        "shallow_bytes": view.shallow_bytes,
        "reachability": view.reachability,
        "fields": fields,
        "array": array,
        "string": view.string.as_ref().map(Text::json),
        "referrers": {"total": view.referrer_count, "shown": referrers},
        "path": view.path,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn render_text(out: &mut dyn Write, view: &Inspection) -> std::io::Result<()> {
    writeln!(out, "{}", view.text)?;
    writeln!(out, "  class         {} ({})", view.class, view.kind.name())?;
    writeln!(out, "  shallow size  {} ({} bytes)", human_bytes(view.shallow_bytes), thousands(view.shallow_bytes))?;
    writeln!(out, "  reachability  {}", view.reachability)?;
    if let Some(string) = &view.string {
        writeln!(out, "  value         {}", string.line())?;
    }
    if !view.fields.is_empty() {
        let title = if view.kind == Kind::Class { "STATIC FIELDS" } else { "FIELDS" };
        writeln!(out, "\n{title}")?;
        for f in &view.fields {
            let prefix = if view.kind == Kind::Class { "static " } else { "" };
            match &f.value {
                Shown::Primitive(v) => writeln!(
                    out,
                    "  {prefix}{}.{} = {} ({})",
                    f.declared_by,
                    f.name,
                    primitive_text(*v),
                    v.basic_type().java_name()
                )?,
                value => writeln!(out, "  {prefix}{}.{} = {}", f.declared_by, f.name, value.line())?,
            }
        }
    }
    if let Some(array) = &view.array {
        let length = thousands(array.length as u64);
        match &array.elements {
            Elements::Objects(elements) => {
                writeln!(out, "\nELEMENTS ({length}, {} shown)", elements.len())?;
                for (i, e) in elements.iter().enumerate() {
                    writeln!(out, "  [{i}] {}", e.line())?;
                }
            }
            Elements::Primitives(values) => {
                writeln!(out, "\nELEMENTS ({length}, {} shown)", values.len())?;
                for (i, &v) in values.iter().enumerate() {
                    writeln!(out, "  [{i}] {}", primitive_text(v))?;
                }
            }
            Elements::Hidden => writeln!(out, "\nELEMENTS ({length}): hidden (--show-values shows them)")?,
            Elements::Absent => writeln!(out, "\nELEMENTS ({length}): not in the dump")?,
        }
    }
    writeln!(out, "\nREFERRERS ({}, {} shown)", thousands(view.referrer_count as u64), view.referrers.len())?;
    for r in &view.referrers {
        writeln!(out, "  {} via {}", r.text, r.via)?;
    }
    writeln!(out, "\nPATH FROM A GC ROOT")?;
    match view.path.split_first() {
        None => writeln!(out, "  none: no strong path from a GC root")?,
        Some((root, steps)) => {
            writeln!(out, "  {root}")?;
            for step in steps {
                writeln!(out, "    -> {step}")?;
            }
        }
    }
    Ok(())
}
