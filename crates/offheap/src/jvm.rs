//! What the dump says about the JVM that wrote it: its version, vendor and VM, the direct
//! memory limit it ran with, and the few system properties that decide how off-heap memory is
//! used. Also a reader of any `java.util.Map`'s entries, which other rules reuse.
//!
//! The system properties are `System.props`, a `java.util.Properties`: since JDK 9 its entries
//! live in a `ConcurrentHashMap` field `map`, before that in the `Hashtable` it extends. Only
//! the values of the keys named here are decoded: the report never shows other properties.

use std::collections::BTreeMap;

use dumpscan_heap::{Heap, ObjectIndex};

use crate::collections::map_entries;
use crate::fields::class_is;

/// What the dump says about the JVM that wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Jvm {
    /// The `java.version` system property, e.g. `17.0.15` or `25`.
    pub java_version: Option<String>,
    /// The `java.vendor` system property (else `java.vm.vendor`), e.g. `Eclipse Adoptium`.
    pub vendor: Option<String>,
    /// The `java.vm.name` and `java.vm.version` system properties, e.g.
    /// `OpenJDK 64-Bit Server VM 17.0.15+6`.
    pub vm: Option<String>,
    /// The direct memory limit the process ran with, in bytes: `-XX:MaxDirectMemorySize`, or
    /// the heap's maximum when that is unset (`VM.directMemory`).
    pub max_direct_memory: Option<i64>,
    /// The system properties that change how off-heap memory is used, those set only: Netty's
    /// (`io.netty.maxDirectMemory`, `io.netty.allocator.*`, ...) and the JDK's
    /// (`jdk.nio.maxCachedBufferSize`, `sun.nio.MaxDirectMemorySize`).
    pub properties: BTreeMap<String, String>,
}

/// The properties that name the JVM.
const JAVA_VERSION: &str = "java.version";
const VENDOR: [&str; 2] = ["java.vendor", "java.vm.vendor"];
const VM_NAME: &str = "java.vm.name";
const VM_VERSION: &str = "java.vm.version";

/// The properties [`Jvm::properties`] may hold, by exact name.
const OFF_HEAP_PROPERTIES: &[&str] = &[
    "io.netty.maxDirectMemory",
    "io.netty.noPreferDirect",
    "io.netty.noUnsafe",
    "io.netty.tryReflectionSetAccessible",
    "io.netty.leakDetection.level",
    // The name before Netty 4.1.
    "io.netty.leakDetectionLevel",
    "jdk.nio.maxCachedBufferSize",
    // `-XX:MaxDirectMemorySize` as the launcher passes it. The JDK (8 as well as 17 and 25)
    // moves it from `System.props` to `VM.savedProps` at startup, so it shows only when the
    // saved copy is read; `max_direct_memory` is what it set.
    "sun.nio.MaxDirectMemorySize",
];

/// Every setting of Netty's pooled allocator: arenas, chunk sizes, caches.
const OFF_HEAP_PREFIX: &str = "io.netty.allocator.";

fn is_off_heap_property(key: &str) -> bool {
    key.starts_with(OFF_HEAP_PREFIX) || OFF_HEAP_PROPERTIES.contains(&key)
}

fn is_identity_property(key: &str) -> bool {
    key == JAVA_VERSION || VENDOR.contains(&key) || key == VM_NAME || key == VM_VERSION
}

/// Reads the JVM's identity and limits. Whatever the dump lacks stays `None` or empty.
pub(crate) fn read(heap: &Heap<'_>) -> Jvm {
    let mut identity = BTreeMap::new();
    let mut properties = BTreeMap::new();
    for (key, value) in system_properties(heap) {
        let Some(key) = string(heap, key) else { continue };
        // Decided on the key alone, so that no other property's value is ever decoded.
        let into = if is_off_heap_property(&key) {
            &mut properties
        } else if is_identity_property(&key) {
            &mut identity
        } else {
            continue;
        };
        if let Some(value) = string(heap, value) {
            into.insert(key, value);
        }
    }
    let java_version = identity.get(JAVA_VERSION).cloned().or_else(|| {
        // The constant the JDK builds the property from: JDK 9+'s `VersionProps`, JDK 8's
        // `sun.misc.Version`.
        ["java.lang.VersionProps", "sun.misc.Version"].iter().find_map(|class| {
            let id = heap.static_field(class, "java_version")?.as_object()?;
            string(heap, heap.index_of(id)?)
        })
    });
    let vendor = VENDOR.iter().find_map(|key| identity.get(*key).cloned());
    let vm = match (identity.get(VM_NAME), identity.get(VM_VERSION)) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (name, _) => name.cloned(),
    };
    // Set from `-XX:MaxDirectMemorySize` (or the heap's maximum) when the JDK starts.
    let max_direct_memory = ["jdk.internal.misc.VM", "sun.misc.VM"]
        .iter()
        .find_map(|class| heap.static_field(class, "directMemory")?.as_i64());
    Jvm { java_version, vendor, vm, max_direct_memory, properties }
}

/// The entries of the system properties: `System.props`, else the copy `VM.savedProps` the
/// JDK keeps of the properties it started with.
fn system_properties(heap: &Heap<'_>) -> Vec<(ObjectIndex, ObjectIndex)> {
    [("java.lang.System", "props"), ("jdk.internal.misc.VM", "savedProps"), ("sun.misc.VM", "savedProps")]
        .iter()
        .filter_map(|&(class, field)| heap.index_of(heap.static_field(class, field)?.as_object()?))
        .map(|map| map_entries(heap, map))
        .find(|entries| !entries.is_empty())
        .unwrap_or_default()
}

/// The text of a `java.lang.String` (nothing else).
fn string(heap: &Heap<'_>, string: ObjectIndex) -> Option<String> {
    class_is(heap, string, "java.lang.String").then(|| heap.string_value(string)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{elements, int, object};
    use dumpscan_hprof::Dump;
    use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");
    const THIRDPARTY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/thirdparty");
    const MIB: i64 = 1 << 20;

    fn open(path: &str) -> Dump {
        Dump::open(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The `java_version` the fixture program wrote beside its dump.
    fn expected_version(name: &str) -> String {
        let path = format!("{FIXTURES}/{name}.expected.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let json: serde_json::Value = serde_json::from_str(&text).expect("expected.json parses");
        json["java_version"].as_str().expect("java_version").to_string()
    }

    fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|&(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const ARENAS: (&str, &str) = ("io.netty.allocator.numDirectArenas", "1");
    const REFLECTION: (&str, &str) = ("io.netty.tryReflectionSetAccessible", "true");

    #[test]
    fn fixtures_versions_limits_and_netty_properties() {
        // The properties `regenerate.sh` sets on each fixture, and the direct limit when set.
        let cases = [
            ("outbound-pileup-jdk17", &[ARENAS, REFLECTION][..], Some(64 * MIB)),
            ("outbound-pileup-jdk25", &[ARENAS, REFLECTION], Some(64 * MIB)),
            ("netty-pooled-noclean-jdk17", &[REFLECTION], None),
            ("netty-pooled-jdk25", &[], None),
        ];
        for (name, set, limit) in cases {
            let dump = open(&format!("{FIXTURES}/{name}.hprof.gz"));
            let heap = Heap::build(&dump).expect("a heap");
            let jvm = read(&heap);
            assert_eq!(jvm.java_version.as_deref(), Some(expected_version(name).as_str()), "{name}");
            assert_eq!(jvm.properties, properties(set), "{name}");
            assert!(jvm.vendor.as_deref().is_some_and(|v| !v.is_empty()), "{name}: {jvm:?}");
            assert!(jvm.vm.as_deref().is_some_and(|v| v.contains("VM")), "{name}: {jvm:?}");
            if let Some(limit) = limit {
                assert_eq!(jvm.max_direct_memory, Some(limit), "{name}");
            } else {
                // Without `-XX:MaxDirectMemorySize` the limit is the heap's maximum (`-Xmx64m`),
                // as `Runtime.maxMemory` reports it: a little less with the serial collector.
                assert!(jvm.max_direct_memory.is_some_and(|m| m > 32 * MIB && m <= 64 * MIB), "{name}: {jvm:?}");
            }
        }
    }

    /// The map reader against the maps' own counts, on every map of the kinds it reads in a
    /// JDK 17 and a JDK 25 dump.
    #[test]
    fn map_entries_match_the_maps_sizes() {
        let kinds = [
            ("java.util.HashMap", "size"),
            ("java.util.LinkedHashMap", "size"),
            ("java.util.Hashtable", "count"),
            ("java.util.concurrent.ConcurrentHashMap", "baseCount"),
            ("java.util.ImmutableCollections$MapN", "size"),
        ];
        for name in ["direct-buffers-jdk17", "netty-pooled-jdk25"] {
            let dump = open(&format!("{FIXTURES}/{name}.hprof.gz"));
            let heap = Heap::build(&dump).expect("a heap");
            for (class, count) in kinds {
                let maps = heap.instances_of(class);
                assert!(!maps.is_empty(), "{name}: no {class}");
                for map in maps {
                    let size = int(&heap, map, count).expect("a count");
                    let entries = map_entries(&heap, map);
                    let expected = size - null_valued(&heap, map, size);
                    assert_eq!(entries.len() as i64, expected, "{name}: {class} {map:?}");
                }
            }
            for map in heap.instances_of("java.util.ImmutableCollections$Map1") {
                assert_eq!(map_entries(&heap, map).len(), 1, "{name}: Map1 {map:?}");
            }
        }
    }

    /// How many of a hash map's nodes the reader leaves out for a null value, counted the
    /// plain way: every bin's chain, `size` nodes at most.
    fn null_valued(heap: &Heap<'_>, map: ObjectIndex, size: i64) -> i64 {
        let bins = object(heap, map, "table").map(|t| elements(heap, t)).unwrap_or_default();
        let mut nulls = 0;
        for head in bins.into_iter().flatten() {
            let chain = std::iter::successors(Some(head), |&node| object(heap, node, "next"));
            for node in chain.take(usize::try_from(size).unwrap_or(0)) {
                let value = heap.field(node, "value").or_else(|| heap.field(node, "val"));
                nulls += i64::from(value.and_then(|v| v.as_object()) == Some(0));
            }
        }
        nulls
    }

    #[test]
    fn old_thirdparty_dumps() {
        for (file, version) in [("hprof-32.bin", "1.6.0-rc"), ("hprof-64.bin", "1.8.0_151")] {
            let dump = open(&format!("{THIRDPARTY}/{file}"));
            let heap = Heap::build(&dump).expect("a heap");
            let jvm = read(&heap);
            assert_eq!(jvm.java_version.as_deref(), Some(version), "{file}: {jvm:?}");
            assert!(jvm.max_direct_memory.is_some(), "{file}: {jvm:?}");
            assert!(jvm.properties.keys().all(|k| is_off_heap_property(k)), "{file}: {jvm:?}");
        }
    }

    /// A JDK 6 heap: `System.props` a `Properties` that is a `Hashtable`, strings that are
    /// slices (`offset`, `count`) of a shared `char[]`, `sun.misc.VM.directMemory`; the one bin's
    /// chain loops back on itself.
    #[test]
    fn jdk6_properties_and_a_cyclic_chain() {
        let mut b = HeapBuilder::with_format("1.0.1", 4);
        let object = b.define_class("java.lang.Object", None, &[]);
        let string_class = b.define_class(
            "java.lang.String",
            Some(object),
            &[("value", T::Object), ("offset", T::Int), ("count", T::Int), ("hash", T::Int)],
        );
        let map = b.define_class("java.util.Dictionary", Some(object), &[]);
        let hashtable = b.define_class(
            "java.util.Hashtable",
            Some(map),
            &[("table", T::Object), ("count", T::Int), ("threshold", T::Int)],
        );
        let properties_class = b.define_class("java.util.Properties", Some(hashtable), &[("defaults", T::Object)]);
        let entry = b.define_class(
            "java.util.Hashtable$Entry",
            Some(object),
            &[("hash", T::Int), ("key", T::Object), ("value", T::Object), ("next", T::Object)],
        );
        // Every key and value cut from one `char[]`, as `String.substring` did then.
        let pairs = [
            ("java.version", "1.6.0_99"),
            ("user.home", "/home/someone"),
            ("io.netty.allocator.pageSize", "8192"),
            ("sun.nio.MaxDirectMemorySize", "1048576"),
        ];
        let all: String = pairs.iter().flat_map(|(k, v)| [*k, *v]).collect();
        let units: Vec<u8> = all.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let chars = b.new_id();
        b.body().primitive_array(chars, T::Char, (units.len() / 2) as u32, &units);
        let mut offset = 0;
        let mut slice = |b: &mut HeapBuilder, text: &str| {
            let count = text.len() as i32;
            let id = b.instance(string_class, &[V::Object(chars), V::Int(offset), V::Int(count), V::Int(0)]);
            offset += count;
            id
        };
        let slices: Vec<(u64, u64)> = pairs.iter().map(|(k, v)| (slice(&mut b, k), slice(&mut b, v))).collect();
        // One bin: entry 0 -> 1 -> 2 -> 3 -> back to 1.
        let ids: Vec<u64> = slices.iter().map(|_| b.new_id()).collect();
        for (i, &(key, value)) in slices.iter().enumerate() {
            let next = ids.get(i + 1).copied().unwrap_or(ids[1]);
            b.body().instance(ids[i], entry.id, &[V::Int(0), V::Object(key), V::Object(value), V::Object(next)]);
        }
        let table = b.object_array("java.util.Hashtable$Entry", &[0, ids[0], 0]);
        let count = pairs.len() as i32;
        let props = b.instance(properties_class, &[V::Object(0), V::Object(table), V::Int(count), V::Int(8)]);
        b.define_class_with_statics("java.lang.System", Some(object), &[], &[("props", V::Object(props))]);
        b.define_class_with_statics("sun.misc.VM", Some(object), &[], &[("directMemory", V::Long(MIB))]);
        let dump = Dump::from_vec(b.finish_single()).expect("a dump");
        let heap = Heap::build(&dump).expect("a heap");

        let props = heap.index_of(props).expect("props in the heap");
        let keys: Vec<String> =
            map_entries(&heap, props).into_iter().filter_map(|(key, _)| string(&heap, key)).collect();
        assert_eq!(keys, pairs.map(|(k, _)| k.to_string()), "each entry once, in chain order");
        let jvm = read(&heap);
        assert_eq!(
            jvm,
            Jvm {
                java_version: Some("1.6.0_99".into()),
                max_direct_memory: Some(MIB),
                properties: properties(&[pairs[2], pairs[3]]),
                ..Jvm::default()
            }
        );
    }

    /// A JDK 17 heap without `System.props`: the version from `VersionProps`, and a
    /// `ConcurrentHashMap` caught resizing, with a tree bin.
    #[test]
    fn version_fallback_and_a_resizing_concurrent_map() {
        let mut b = HeapBuilder::new();
        let object = b.define_class("java.lang.Object", None, &[]);
        let string_class =
            b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
        let text = |b: &mut HeapBuilder, text: &str| {
            let bytes = b.byte_array(text.as_bytes());
            b.instance(string_class, &[V::Object(bytes), V::Byte(0)])
        };
        let version = text(&mut b, "17.0.99");
        b.define_class_with_statics(
            "java.lang.VersionProps",
            Some(object),
            &[],
            &[("java_version", V::Object(version))],
        );
        b.define_class_with_statics("jdk.internal.misc.VM", Some(object), &[], &[("directMemory", V::Long(MIB))]);

        let map_class = b.define_class(
            "java.util.concurrent.ConcurrentHashMap",
            Some(object),
            &[("table", T::Object), ("nextTable", T::Object), ("baseCount", T::Long)],
        );
        let node_fields = [("hash", T::Int), ("key", T::Object), ("val", T::Object), ("next", T::Object)];
        let node_class = b.define_class("java.util.concurrent.ConcurrentHashMap$Node", Some(object), &node_fields);
        let forwarding = b.define_class(
            "java.util.concurrent.ConcurrentHashMap$ForwardingNode",
            Some(node_class),
            &[("nextTable", T::Object)],
        );
        let tree_bin = b.define_class(
            "java.util.concurrent.ConcurrentHashMap$TreeBin",
            Some(node_class),
            &[("root", T::Object), ("first", T::Object)],
        );
        let node = |b: &mut HeapBuilder, key: &str, next: u64| {
            let (key, value) = (text(b, key), text(b, "v"));
            b.instance(node_class, &[V::Int(0), V::Object(key), V::Object(value), V::Object(next)])
        };
        // Bin 0 has moved to bins 0 and 2 of the next table; bin 1, a tree bin, has not.
        let (moved_low, moved_high) = (node(&mut b, "a", 0), node(&mut b, "b", 0));
        let tree_second = node(&mut b, "d", 0);
        let tree_first = node(&mut b, "c", tree_second);
        let next_table = b.object_array("java.util.concurrent.ConcurrentHashMap$Node", &[moved_low, 0, moved_high, 0]);
        let nulls = [V::Int(-1), V::Object(0), V::Object(0), V::Object(0)];
        let forward = b.instance(forwarding, &[&[V::Object(next_table)], &nulls[..]].concat());
        let tree = b.instance(tree_bin, &[&[V::Object(tree_first), V::Object(tree_first)], &nulls[..]].concat());
        let table = b.object_array("java.util.concurrent.ConcurrentHashMap$Node", &[forward, tree]);
        let map = b.instance(map_class, &[V::Object(table), V::Object(next_table), V::Long(4)]);
        let dump = Dump::from_vec(b.finish_segments(1 << 16)).expect("a dump");
        let heap = Heap::build(&dump).expect("a heap");

        let map = heap.index_of(map).expect("the map in the heap");
        let keys: Vec<String> = map_entries(&heap, map).into_iter().filter_map(|(key, _)| string(&heap, key)).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        let jvm = read(&heap);
        assert_eq!(jvm, Jvm { java_version: Some("17.0.99".into()), max_direct_memory: Some(MIB), ..Jvm::default() });
    }
}
