//! The `dumpscan` command as a user runs it: outputs, exit statuses, bad and partial input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dumpscan_testkit::{BasicType as T, HeapBuilder, Value as V};

fn dumpscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dumpscan")).args(args).output().expect("runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).display().to_string()
}

fn small_dump(dir: &Path) -> PathBuf {
    let mut b = HeapBuilder::new();
    let object = b.define_class("java.lang.Object", None, &[]);
    let node = b.define_class("com.example.Node", Some(object), &[("next", T::Object)]);
    let mut next = 0;
    for _ in 0..3 {
        next = b.instance(node, &[V::Object(next)]);
    }
    b.body().root_simple(0xFF, next);
    let path = dir.join("small.hprof");
    std::fs::write(&path, b.finish_segments(64)).unwrap();
    path
}

#[test]
fn histogram_json_has_the_documented_shape() {
    let out = dumpscan(&["histogram", &fixture("direct-buffers-jdk17.hprof.gz"), "--format", "json", "--top", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["truncated"], false);
    assert_eq!(doc["dump"]["id_size"], 8);
    assert_eq!(doc["dump"]["format"], "JAVA PROFILE 1.0.2");
    let classes = doc["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 5);
    let bytes: Vec<u64> = classes.iter().map(|c| c["shallow_bytes"].as_u64().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "sorted by bytes: {bytes:?}");
    assert!(classes.iter().all(|c| c["name"].is_string() && c["instances"].is_u64()));
}

#[test]
fn histogram_table_and_top_zero() {
    let out = dumpscan(&["histogram", &fixture("direct-buffers-jdk17.hprof.gz"), "--top", "0"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DirectBuffers$Node"));
    assert!(text.contains("java.nio.DirectByteBuffer"));
    assert!(!text.contains("top 0 shown"));
}

#[test]
fn info_names_threads_and_counts_roots() {
    let out = dumpscan(&["info", &fixture("direct-buffers-jdk17.hprof.gz"), "--format", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let threads = doc["threads"].as_array().unwrap();
    let holder = threads.iter().find(|t| t["name"] == "holder-thread").expect("holder-thread");
    assert!(holder["frames"].as_array().unwrap().iter().any(|f| f["method"] == "lambda$main$0"), "{holder}");
    assert!(doc["gc_roots"]["Java frame"].as_u64().unwrap() > 0);
    assert!(doc["sub_records"]["INSTANCE DUMP"].as_u64().unwrap() > 10_000);
}

#[test]
fn not_a_dump_is_a_one_line_error_and_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not an HPROF heap dump"), "{err}");
}

#[test]
fn a_missing_file_is_status_1() {
    let out = dumpscan(&["info", "/nonexistent/heap.hprof"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}

#[test]
fn a_malformed_dump_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_dump(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // Replace the tag of the first sub-record of the first heap segment with an unknown one.
    let dump = dumpscan::hprof::Dump::from_vec(bytes.clone()).unwrap();
    let segment = dump.records().find(|r| r.tag == 0x1C).unwrap();
    let at = segment.body_offset() as usize;
    bytes[at] = 0x42;
    std::fs::write(&path, bytes).unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("at byte offset {at}")), "{err}");
}

#[test]
fn a_truncated_dump_is_reported_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_dump(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    let out = dumpscan(&["histogram", path.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("warning") && err.contains("byte offset"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["truncated"], true);
    assert_eq!(doc["dump"]["truncated"], true);
}

#[test]
fn paths_and_dominators_explain_who_holds_what() {
    let dump = fixture("direct-buffers-jdk17.hprof.gz");
    let out = dumpscan(&["paths", &dump, "--class", "DirectBuffers$StaticHolder", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = doc["paths"][0]["text"].as_str().unwrap();
    assert!(text.contains("static DirectBuffers.HELD"), "{text}");

    let out = dumpscan(&["dominators", &dump, "--top", "5", "--format", "json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let retained: Vec<u64> =
        doc["dominators"].as_array().unwrap().iter().map(|d| d["retained_bytes"].as_u64().unwrap()).collect();
    assert_eq!(retained.len(), 5);
    assert!(retained.windows(2).all(|w| w[0] >= w[1]));

    let out = dumpscan(&["paths", &dump, "--class", "no.such.Class"]);
    assert_eq!(out.status.code(), Some(4));
}
