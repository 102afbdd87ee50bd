//! Any byte string must end in output or in a one-line error, never a panic, a hang or a
//! huge allocation: the whole analysis runs (heap model, reachability, dominators, the
//! off-heap report), then every command's renderer in every format.
#![no_main]

use dumpscan_hprof::Dump;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = Dump::from_vec(data.to_vec()) else { return };
    let error = "failed to allocate 16777216 byte(s) of direct memory (used: 50331648, max: 67108864)";
    let _ = dumpscan_cli::render_all(&dump, Some(error), &mut std::io::sink());
});
