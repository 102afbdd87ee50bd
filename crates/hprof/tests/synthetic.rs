//! The reader on dumps written by the test HPROF writer: every layout and every way a dump
//! can be broken.

use std::io::Write;

use dumpscan_hprof::{Dump, ErrorKind, Metadata, RecordKind, Summary};
use dumpscan_testkit::{BasicType as T, HeapBuilder, HeapDumpBody, HprofWriter, Value as V};

/// Length of a `JAVA PROFILE 1.0.x` header: the text, its NUL, id size and time.
const HEADER: usize = 31;
/// Length of a record header: tag, time, length.
const RECORD: usize = 9;

/// A small heap: a class hierarchy, instances, object and primitive arrays, roots of each
/// HotSpot kind, a thread with a stack trace.
fn small_heap(version: &str, id_size: u32) -> HeapBuilder {
    let mut b = HeapBuilder::with_format(version, id_size);
    let object = b.define_class("java.lang.Object", None, &[]);
    let string = b.define_class("java.lang.String", Some(object), &[("value", T::Object), ("coder", T::Byte)]);
    let thread = b.define_class(
        "java.lang.Thread",
        Some(object),
        &[("name", T::Object), ("tid", T::Long), ("daemon", T::Boolean)],
    );
    let node = b.define_class("com.example.Node", Some(object), &[("next", T::Object), ("payload", T::Object)]);
    let holder = b.define_class_with_statics("com.example.Holder", Some(object), &[], &[("HEAD", V::Object(0))]);
    let chars = b.byte_array(b"worker-1");
    let name = b.instance(string, &[V::Object(chars), V::Byte(0)]);
    let t = b.instance(thread, &[V::Object(name), V::Long(7), V::Boolean(false)]);
    let mut next = 0;
    for i in 0..5u8 {
        let payload = b.byte_array(&[i; 10]);
        next = b.instance(node, &[V::Object(next), V::Object(payload)]);
    }
    let array = b.object_array("java.lang.Object", &[next, 0, t]);
    b.long_array(&[1, 2, 3]);
    let method = b.name("run");
    let file = b.name("Worker.java");
    let w = b.writer();
    w.stack_frame(0x77, method, 0, file, thread.serial, 42);
    w.stack_trace(1, 1, &[0x77]);
    b.body()
        .root_thread_object(t, 1, 1)
        .root_java_frame(array, 1, 0)
        .root_jni_global(next, 0x99)
        .root_jni_local(name, 1, 0)
        .root_native_stack(chars, 1)
        .root_simple(0x05, holder.id)
        .root_thread_block(t, 1)
        .root_simple(0x07, t)
        .root_simple(0xFF, array);
    b
}

type Rows = Vec<(String, u64, u64)>;

fn summarize(bytes: Vec<u8>) -> (Summary, Rows) {
    let dump = Dump::from_vec(bytes).expect("header");
    let meta = Metadata::read(&dump).expect("records");
    let summary = Summary::compute(&meta, None).expect("heap");
    let rows = summary.histogram().into_iter().map(|r| (r.name, r.instances, r.shallow_bytes)).collect();
    (summary, rows)
}

fn row<'a>(rows: &'a Rows, name: &str) -> &'a (String, u64, u64) {
    rows.iter().find(|r| r.0 == name).unwrap_or_else(|| panic!("no {name} in {rows:?}"))
}

#[test]
fn counts_every_kind_of_object_and_root() {
    let (summary, rows) = summarize(small_heap("1.0.2", 8).finish_segments(64));
    assert!(summary.truncation.is_none());
    assert_eq!(row(&rows, "com.example.Node").1, 5);
    assert_eq!(row(&rows, "java.lang.String").1, 1);
    assert_eq!(row(&rows, "java.lang.Thread").1, 1);
    assert_eq!(row(&rows, "byte[]").1, 6);
    assert_eq!(row(&rows, "long[]").1, 1);
    assert_eq!(row(&rows, "java.lang.Object[]").1, 1);
    assert_eq!(row(&rows, "java.lang.Class").1, 6);
    // Node: 12-byte header + two 4-byte references = 20, aligned to 24.
    assert_eq!(row(&rows, "com.example.Node").2, 5 * 24);
    // byte[10]: 16 + 10 = 26 → 32; byte[8]: 16 + 8 = 24.
    assert_eq!(row(&rows, "byte[]").2, 5 * 32 + 24);
    for kind in
        ["thread object", "Java frame", "JNI global", "JNI local", "native stack", "sticky class", "thread block"]
    {
        assert_eq!(summary.root_counts.get(kind), Some(&1), "{kind}");
    }
    assert_eq!(summary.root_counts.values().sum::<u64>(), 9);
}

#[test]
fn thread_names_and_frames_come_from_the_heap() {
    let dump = Dump::from_vec(small_heap("1.0.2", 8).finish_segments(64)).unwrap();
    let meta = Metadata::read(&dump).unwrap();
    let threads = Summary::compute(&meta, None).unwrap().threads(&meta).unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].name.as_deref(), Some("worker-1"));
    assert_eq!(threads[0].frames.len(), 1);
    assert_eq!(threads[0].frames[0].class, "java.lang.Thread");
    assert_eq!(threads[0].frames[0].method, "run");
    assert_eq!(threads[0].frames[0].line, 42);
}

/// UNLOAD CLASS and END THREAD are read, HEAP SUMMARY and CONTROL SETTINGS passed over as
/// other records: none of them changes the heap; bytes after the last whole record are a
/// record cut short.
#[test]
fn records_beside_the_heap_change_nothing_in_it() {
    let mut b = small_heap("1.0.2", 8);
    b.writer().unload_class(99).end_thread(5).heap_summary(1, 2, 3, 4).control_settings(2, 8);
    let plain = small_heap("1.0.2", 8).finish_segments(64);
    let mut extra = b.finish_segments(64);
    assert_eq!(summarize(extra.clone()).1, summarize(plain).1);
    let dump = Dump::from_vec(extra.clone()).unwrap();
    let kinds: Vec<RecordKind> =
        dump.records().map(|r| r.parse(dump.id_size()).unwrap()).filter(|k| !is_common(k)).collect();
    assert!(
        matches!(kinds[..], [
        RecordKind::UnloadClass { class_serial: 99 },
        RecordKind::EndThread { thread_serial: 5 },
        RecordKind::Other(0x07, heap_summary),
        RecordKind::Other(0x0E, control_settings),
    ] if heap_summary.len() == 24 && control_settings.len() == 6),
        "{kinds:?}"
    );
    extra.extend_from_slice(&[0x0B, 0, 0]);
    let dump = Dump::from_vec(extra).unwrap();
    assert!(Metadata::read(&dump).unwrap().truncation.is_some());
}

/// Records every small heap has: names, classes, frames, the heap itself.
fn is_common(kind: &RecordKind) -> bool {
    matches!(
        kind,
        RecordKind::Utf8 { .. }
            | RecordKind::LoadClass { .. }
            | RecordKind::StackFrame(_)
            | RecordKind::StackTrace { .. }
            | RecordKind::StartThread { .. }
            | RecordKind::HeapDump(_)
            | RecordKind::HeapDumpSegment(_)
            | RecordKind::HeapDumpEnd
    )
}

#[test]
fn one_heap_dump_record_reads_like_segments() {
    let (_, segmented) = summarize(small_heap("1.0.2", 8).finish_segments(64));
    let (_, single) = summarize(small_heap("1.0.1", 8).finish_single());
    assert_eq!(segmented, single);
}

#[test]
fn four_byte_ids() {
    let (summary, rows) = summarize(small_heap("1.0.1", 4).finish_single());
    assert_eq!(summary.size_model.object_header, 8);
    // Node on a 32-bit JVM: 8-byte header + two 4-byte references = 16.
    assert_eq!(row(&rows, "com.example.Node"), &("com.example.Node".to_string(), 5, 5 * 16));
}

#[test]
fn android_sub_records() {
    let mut b = small_heap("1.0.3", 4);
    let heap_name = b.name("app");
    let id = b.new_id();
    let id2 = b.new_id();
    b.body()
        .heap_dump_info(3, heap_name)
        .root_simple(0x89, id)
        .root_simple(0x8A, id)
        .root_simple(0x8B, id)
        .root_simple(0x8C, id)
        .root_simple(0x8D, id)
        .root_jni_monitor(id, 1, 2)
        .root_simple(0x90, id)
        .primitive_array_nodata(id, T::Int, 1000)
        .primitive_array_nodata(id2, T::Char, 3);
    let (summary, rows) = summarize(b.finish_segments(128));
    assert_eq!(row(&rows, "char[]").1, 1);
    // int[1000] without its values still has its size: 12 + 4000 = 4012 → 4016.
    assert_eq!(row(&rows, "int[]"), &("int[]".to_string(), 1, 4016));
    for kind in
        ["interned string", "finalizing", "debugger", "reference cleanup", "VM internal", "JNI monitor", "unreachable"]
    {
        assert_eq!(summary.root_counts.get(kind), Some(&1), "{kind}");
    }
    assert_eq!(summary.sub_record_counts.get(&0xFE), Some(&1));
    assert_eq!(summary.sub_record_counts.get(&0xC3), Some(&2));
}

#[test]
fn a_dump_cut_anywhere_reads_up_to_the_cut() {
    let full = small_heap("1.0.2", 8).finish_segments(48);
    let (_, complete) = summarize(full.clone());
    let all: u64 = complete.iter().map(|r| r.1).sum();
    let mut previous = 0;
    for cut in HEADER..full.len() {
        let dump = Dump::from_vec(full[..cut].to_vec()).unwrap();
        let meta = Metadata::read(&dump).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let summary = Summary::compute(&meta, None).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let objects: u64 = summary.histogram().iter().map(|r| r.instances).sum();
        assert!(objects >= previous, "cut at {cut}: fewer objects than a shorter cut");
        assert!(objects <= all);
        previous = objects;
        if let Some(t) = summary.truncation {
            assert!(t.complete_until <= cut as u64, "cut at {cut}: {t:?}");
            assert!(t.record_offset < cut as u64, "cut at {cut}: {t:?}");
        }
    }
    assert_eq!(previous, all, "one byte short of complete still has every object");
}

#[test]
fn a_cut_inside_a_segment_is_reported_with_its_offset() {
    let full = small_heap("1.0.2", 8).finish_segments(1 << 20);
    // The dump ends with one heap segment and HEAP DUMP END: cut five bytes into that end
    // record's predecessor.
    let cut = full.len() - RECORD - 5;
    let dump = Dump::from_vec(full[..cut].to_vec()).unwrap();
    let meta = Metadata::read(&dump).unwrap();
    let summary = Summary::compute(&meta, None).unwrap();
    let t = summary.truncation.expect("truncated");
    assert_eq!(dumpscan_hprof::record_name(t.record_tag), "HEAP DUMP SEGMENT");
    assert!(t.complete_until < cut as u64);
}

/// A dump whose heap is the given sub-record bytes in one segment of the given length.
fn dump_with_segment(sub_records: &[u8], declared_len: usize) -> Dump {
    let mut w = HprofWriter::new("1.0.2", 8, 0);
    w.raw_record(0x1C, 0, &sub_records[..declared_len.min(sub_records.len())]);
    w.raw_record(0x2C, 0, &[]);
    Dump::from_vec(w.finish()).unwrap()
}

fn body_bytes(body: &HeapDumpBody) -> Vec<u8> {
    let mut w = HprofWriter::new("1.0.2", 8, 0);
    w.heap_dump(body);
    w.bytes()[HEADER + RECORD..].to_vec()
}

#[test]
fn wrong_lengths_and_unknown_tags_are_errors_with_offsets() {
    // A segment whose length cuts its last sub-record in two.
    let mut body = HeapDumpBody::new(8);
    body.root_simple(0xFF, 1).root_simple(0xFF, 2);
    let bytes = body_bytes(&body);
    let dump = dump_with_segment(&bytes, bytes.len() - 3);
    let err = Summary::compute(&Metadata::read(&dump).unwrap(), None).err().expect("overrun");
    assert!(matches!(err.kind, ErrorKind::Overrun { .. }), "{err}");
    assert_eq!(err.offset, (HEADER + RECORD + 9) as u64, "offset of the second root");

    // An unknown sub-record tag.
    let mut body = HeapDumpBody::new(8);
    body.root_simple(0xFF, 1).raw(&[0x42, 0, 0, 0]);
    let bytes = body_bytes(&body);
    let dump = dump_with_segment(&bytes, bytes.len());
    let err = Summary::compute(&Metadata::read(&dump).unwrap(), None).err().expect("unknown tag");
    assert!(matches!(err.kind, ErrorKind::UnknownSubRecordTag(0x42)), "{err}");
    assert_eq!(err.to_string(), "unknown heap-dump sub-record tag 0x42 at byte offset 49");

    // An unknown top-level tag.
    let mut w = HprofWriter::new("1.0.2", 8, 0);
    w.utf8(1, "x").raw_record(0x55, 0, &[1, 2, 3]);
    let dump = Dump::from_vec(w.finish()).unwrap();
    let err = Metadata::read(&dump).err().expect("unknown record");
    assert!(matches!(err.kind, ErrorKind::UnknownRecordTag(0x55)));
    assert_eq!(err.offset, (HEADER + RECORD + 9) as u64);

    // A count that promises far more than the file holds: an error, no huge allocation.
    let mut body = HeapDumpBody::new(8);
    body.raw(&[0x23, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 11]);
    let bytes = body_bytes(&body);
    let dump = dump_with_segment(&bytes, bytes.len());
    assert!(Summary::compute(&Metadata::read(&dump).unwrap(), None).is_err());

    // A primitive array of object type.
    let mut body = HeapDumpBody::new(8);
    body.raw(&[0x23, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    let bytes = body_bytes(&body);
    let dump = dump_with_segment(&bytes, bytes.len());
    let err = Summary::compute(&Metadata::read(&dump).unwrap(), None).err().expect("bad type");
    assert!(matches!(err.kind, ErrorKind::InvalidType { .. }), "{err}");
}

#[test]
fn not_hprof_at_all() {
    for bytes in [&b""[..], b"PK\x03\x04", b"JAVA PROFILE 2.0\0\0\0\0\x08"] {
        let err = Dump::from_vec(bytes.to_vec()).err().expect("rejected");
        assert!(matches!(err.kind, ErrorKind::NotHprof), "{err}");
    }
    let err = Dump::from_vec(b"JAVA PROFILE 1.0.2\0\0\0\0\x05\0\0\0\0\0\0\0\0".to_vec()).err().expect("id size");
    assert!(matches!(err.kind, ErrorKind::UnsupportedIdSize(5)), "{err}");
}

/// A heap of one HEAP DUMP record big enough to be cut for parallel parsing, holding a byte
/// array whose contents are themselves valid-looking sub-records at a cut point: a boundary
/// guess there is wrong, and the result must not depend on it.
fn big_heap() -> HeapBuilder {
    let mut b = HeapBuilder::with_format("1.0.1", 8);
    let object = b.define_class("java.lang.Object", None, &[]);
    let item = b.define_class("com.example.Item", Some(object), &[("value", T::Long), ("next", T::Object)]);
    // Decoy sub-records: instances of a known class, encoded as the real ones are.
    let mut decoy = HeapDumpBody::new(8);
    for i in 0..200_000u64 {
        decoy.instance(0x7000_0000 + i * 16, item.id, &[V::Long(i as i64), V::Object(0)]);
    }
    let decoy = body_bytes(&decoy);
    let mut previous = 0;
    // About 9 MiB of real instances put the decoy (about 8 MiB) across the 16 MiB mark;
    // more instances take the record past the 32 MiB above which it is cut.
    for i in 0..250_000 {
        previous = b.instance(item, &[V::Long(i), V::Object(previous)]);
    }
    b.byte_array(&decoy);
    for i in 0..700_000 {
        previous = b.instance(item, &[V::Long(i), V::Object(previous)]);
    }
    b.body().root_simple(0xFF, previous);
    b
}

#[test]
fn one_giant_record_is_split_and_a_wrong_guess_corrected() {
    let single = big_heap().finish_single();
    assert!(single.len() > 40 << 20, "big enough to be split: {}", single.len());
    let (_, segmented) = summarize(big_heap().finish_segments(1 << 20));
    let (_, split) = summarize(single);
    assert_eq!(split, segmented);
    assert_eq!(row(&split, "com.example.Item").1, 950_000);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// What `jcmd GC.heap_dump -gz=1` writes: independent gzip members of at most a block each
/// (real ones are sometimes a little short), the first with a `HPROF BLOCKSIZE=` comment.
fn gzip_blocks(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        // Every third block comes out 37 bytes short, as HotSpot's sometimes do.
        let take = if chunks.len() % 3 == 2 { block - 37 } else { block }.min(rest.len());
        chunks.push(&rest[..take]);
        rest = &rest[take..];
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut builder = flate2::GzBuilder::new();
        if i == 0 {
            builder = builder.comment(format!("HPROF BLOCKSIZE={block}"));
        }
        let mut e = builder.write(Vec::new(), flate2::Compression::fast());
        e.write_all(chunk).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

#[test]
fn gzip_and_jcmd_block_gzip_inflate_to_the_same_dump() {
    let plain = big_heap().finish_segments(1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let blocks =
        dumpscan_hprof::Compression::GzipBlocks { block_size: 1 << 20, members: plain.len().div_ceil(1 << 20) };
    for (name, bytes, expected) in [
        ("plain.hprof.gz", gzip(&plain), dumpscan_hprof::Compression::Gzip),
        ("blocks.hprof.gz", gzip_blocks(&plain, 1 << 20), blocks),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let logged = std::cell::RefCell::new(Vec::new());
        let dump = Dump::open_with_log(&path, &|m| logged.borrow_mut().push(m.to_string())).unwrap();
        assert_eq!(dump.compression(), expected, "{name}");
        assert!(dump.bytes() == &plain[..], "{name} inflates to the dump");
        assert!(logged.borrow().iter().any(|m| m.contains("inflating")), "{name}: {:?}", logged.borrow());
    }
}

#[test]
fn a_damaged_gzip_block_is_an_error_not_a_panic() {
    let plain = small_heap("1.0.2", 8).finish_segments(64);
    let mut bytes = gzip_blocks(&plain, 256);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    bytes[middle + 1] ^= 0xFF;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.hprof.gz");
    std::fs::write(&path, bytes).unwrap();
    if let Ok(dump) = Dump::open(&path) {
        assert!(dump.bytes() != &plain[..], "damage that still inflates must not pass for the original");
    }
}
