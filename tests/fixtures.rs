//! Real dumps from JDK 17 and Temurin 25 (see `fixtures/`): what dumpscan reads must be what
//! the JVM itself reported at dump time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dumpscan::hprof::{java_class_name, Compression, Dump, Metadata, Summary};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// The JVM's class histogram (`jcmd GC.class_histogram -all` output): counts by Java name.
fn jvm_histogram(name: &str) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(fixture(&format!("{name}.histo.txt"))).expect("histogram");
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 4 && fields[0].ends_with(':') {
            let class = jvm_name(fields[3]);
            *counts.entry(class).or_default() += fields[1].parse::<u64>().expect("count");
        }
    }
    counts
}

/// The histogram writes classes as `Class.getName()` does: arrays as `[B` and
/// `[Ljava.lang.Object;`, hidden classes as `Foo$$Lambda/0x...`.
fn jvm_name(name: &str) -> String {
    if name.starts_with('[') {
        java_class_name(name)
    } else {
        name.to_string()
    }
}

fn our_histogram(path: &Path) -> (Summary, BTreeMap<String, u64>) {
    let dump = Dump::open(path).expect("opens");
    let meta = Metadata::read(&dump).expect("records");
    let summary = Summary::compute(&meta, None).expect("heap");
    let counts = summary.histogram().into_iter().map(|r| (r.name, r.instances)).collect();
    (summary, counts)
}

/// Classes whose count may differ: the histogram call and the dump call allocate a few
/// objects of their own between the two snapshots, and JDK 25's histogram counts heap filler
/// arrays (which the dump writes as `int[]`) and the mirrors of archived classes that are not
/// loaded (which the dump leaves out).
fn allocated_by_the_calls(class: &str) -> bool {
    const CLASSES: &[&str] = &[
        "byte[]",
        "int[]",
        "java.lang.Object[]",
        "java.lang.String",
        "java.lang.String[]",
        "java.lang.StringBuilder",
        "java.lang.Class",
        "java.util.ArrayList",
        "jdk.internal.ref.CleanerImpl$PhantomCleanableRef",
        "jdk.internal.vm.FillerElement[]",
    ];
    CLASSES.contains(&class)
        || class.starts_with("java.lang.invoke.")
        || class.starts_with("com.sun.management.internal.HotSpotDiagnostic$$Lambda")
}

fn assert_matches_jvm(name: &str) {
    let jvm = jvm_histogram(name);
    let (summary, ours) = our_histogram(&fixture(&format!("{name}.hprof.gz")));
    assert!(summary.truncation.is_none(), "{name}: complete");
    assert!(jvm.len() > 900, "{name}: a real histogram ({} classes)", jvm.len());
    let classes: std::collections::BTreeSet<&String> = jvm.keys().chain(ours.keys()).collect();
    let differing: Vec<(&String, u64, u64)> = classes
        .into_iter()
        .map(|c| (c, jvm.get(c).copied().unwrap_or(0), ours.get(c).copied().unwrap_or(0)))
        .filter(|(_, a, b)| a != b)
        .collect();
    let unexpected: Vec<_> = differing.iter().filter(|(c, _, _)| !allocated_by_the_calls(c)).collect();
    assert!(unexpected.is_empty(), "{name}: counts differ from the JVM's: {unexpected:?}");
    assert!(differing.len() <= 15, "{name}: too many differences: {differing:?}");
}

#[test]
fn instance_counts_match_the_jvm_histogram_jdk17() {
    for name in ["direct-buffers-jdk17", "netty-pooled-jdk17", "netty-pooled-noclean-jdk17", "outbound-pileup-jdk17"] {
        assert_matches_jvm(name);
    }
}

#[test]
fn instance_counts_match_the_jvm_histogram_jdk25() {
    for name in ["direct-buffers-jdk25", "netty-pooled-jdk25", "netty-pooled-noclean-jdk25", "outbound-pileup-jdk25"] {
        assert_matches_jvm(name);
    }
}

#[test]
fn the_fixture_programs_objects_are_counted_exactly() {
    for version in ["17", "25"] {
        let name = format!("direct-buffers-jdk{version}");
        let jvm = jvm_histogram(&name);
        let (_, ours) = our_histogram(&fixture(&format!("{name}.hprof.gz")));
        for (class, expected) in [
            ("DirectBuffers$Node", 1000),
            ("DirectBuffers$StaticHolder", 1),
            ("DirectBuffers$LocalTarget", 1),
            ("DirectBuffers$WeakTarget", 1),
            ("DirectBuffers$Garbage", 1),
        ] {
            assert_eq!(ours.get(class), Some(&expected), "{name}: {class}");
        }
        for class in ["java.nio.DirectByteBuffer", "java.nio.DirectByteBufferR", "java.nio.MappedByteBuffer"] {
            assert_eq!(ours.get(class), jvm.get(class), "{name}: {class}");
        }
    }
}

/// Real `jcmd GC.heap_dump -gz=1` dumps: members that inflate to different sizes (HotSpot cuts
/// its blocks at object boundaries), and on JDK 25 runs of members that start with the
/// block-size comment again, down to a last member of 9 bytes. Each must be inflated in
/// parallel, with no fallback, to exactly what gzip makes of it.
#[test]
fn real_jcmd_dumps_inflate_in_parallel_to_what_gzip_gives() {
    for (name, program, at_least) in
        [("direct-buffers-jdk17-jcmd", "DirectBuffers", 10), ("order-service-jdk25-jcmd", "OrderService", 15)]
    {
        let path = fixture(&format!("{name}.hprof.gz"));
        let logged = std::cell::RefCell::new(Vec::new());
        let dump = Dump::open_with_log(&path, &|m| logged.borrow_mut().push(m.to_string())).expect("opens");
        let logged = logged.into_inner();
        let Compression::GzipBlocks { block_size, members } = dump.compression() else {
            panic!("{name}: expected jcmd's members, got {:?} ({logged:?})", dump.compression());
        };
        assert_eq!(block_size, 1 << 20, "{name}");
        assert!(members >= at_least, "{name}: {members} members");
        assert!(logged.len() == 1 && logged[0].contains("in parallel"), "{name}: {logged:?}");
        let mut gzip = Vec::new();
        let file = std::fs::File::open(&path).unwrap();
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(file), &mut gzip).unwrap();
        assert!(dump.bytes() == &gzip[..], "{name}: inflated as gzip does");
        drop(dump);

        let (summary, ours) = our_histogram(&path);
        assert!(summary.truncation.is_none(), "{name}");
        // Attaching jcmd starts threads of its own: compare only what the program made.
        let jvm = jvm_histogram(name);
        let made: Vec<&String> = jvm.keys().filter(|c| c.starts_with(program)).collect();
        assert!(made.len() >= 3, "{name}: {made:?}");
        for class in made.into_iter().chain([&"java.nio.DirectByteBuffer".to_string()]) {
            assert_eq!(ours.get(class), jvm.get(class), "{name}: {class}");
        }
    }
}

#[test]
fn shallow_sizes_match_the_jvm_for_plain_classes() {
    // Sizes are estimated (see README); for ordinary classes the estimate is exact.
    let text = std::fs::read_to_string(fixture("direct-buffers-jdk17.histo.txt")).unwrap();
    let (summary, _) = our_histogram(&fixture("direct-buffers-jdk17.hprof.gz"));
    let ours: BTreeMap<String, u64> = summary.histogram().into_iter().map(|r| (r.name, r.shallow_bytes)).collect();
    let mut compared = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 4 && f[0].ends_with(':') {
            let class = jvm_name(f[3]);
            if ["java.util.HashMap", "java.util.HashMap$Node", "java.nio.DirectByteBuffer", "DirectBuffers$Node"]
                .contains(&class.as_str())
            {
                assert_eq!(ours.get(&class), Some(&f[2].parse().unwrap()), "{class}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 4);
}

#[test]
fn third_party_dumps_parse_completely() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/thirdparty");
    for (file, id_size, classes) in [("hprof-32.bin", 4, 160), ("hprof-64.bin", 8, 233)] {
        let path = shared.join(file);
        // No skipping: without these dumps the old formats go untested.
        assert!(path.exists(), "{}: ../shared/thirdparty must be beside this checkout", path.display());
        let dump = Dump::open(&path).unwrap();
        assert_eq!(dump.header().version, "1.0.1");
        assert_eq!(dump.id_size().bytes(), id_size);
        let meta = Metadata::read(&dump).unwrap();
        let summary = Summary::compute(&meta, None).unwrap();
        assert!(summary.truncation.is_none(), "{file}");
        assert_eq!(summary.histogram().len(), classes, "{file}");
        let threads = summary.threads(&meta).unwrap();
        assert!(threads.iter().any(|t| t.name.as_deref() == Some("main") || t.name.is_some()), "{file}: thread names");
    }
}
