//! Writes the seed corpus of both fuzz targets into the folder given: the sample dumps of
//! `dumpscan-testkit` (each an input that once went wrong), and the start of a real dump.
//! A seed is kept small, so that the fuzzer's runs stay fast: the real dump is cut.

use std::io::Read;
use std::path::PathBuf;

use dumpscan_testkit::samples;

/// Bytes of the real dump a seed keeps: its header, names and classes and the first objects.
const REAL_SEED_BYTES: usize = 256 << 10;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".to_string()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("linked-list.hprof"), samples::linked_list(20))?;
    std::fs::write(dir.join("hostile-names.hprof"), samples::hostile_names().0)?;
    std::fs::write(dir.join("class-cycle.hprof"), samples::class_cycle())?;
    std::fs::write(dir.join("absurd-counters.hprof"), samples::absurd_counters())?;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/direct-buffers-jdk17.hprof.gz");
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(fixture)?)
        .take(REAL_SEED_BYTES as u64)
        .read_to_end(&mut inflated)?;
    std::fs::write(dir.join("direct-buffers-jdk17-start.hprof"), inflated)?;
    Ok(())
}
