//! Any byte string must parse to a result or an error, never a panic, a hang or a huge
//! allocation: the whole reader runs, from the header to the histogram and thread names.
#![no_main]

use dumpscan_hprof::{Dump, Metadata, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = Dump::from_vec(data.to_vec()) else { return };
    let Ok(meta) = Metadata::read(&dump) else { return };
    if let Ok(summary) = Summary::compute(&meta, None) {
        let _ = summary.histogram();
        let _ = summary.threads(&meta);
    }
});
