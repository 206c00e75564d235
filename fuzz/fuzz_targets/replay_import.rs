//! Venue captures are files a user points `cascade replay` at: every importer must answer any
//! bytes (plain or gzip-looking, any CSV or JSON lines, any numbers) with commands or an
//! error with its stable reason code, never a panic. The first byte picks the format
//! (Bitstamp L3, Binance USD-M, LOBSTER, Tardis); the rest is the file.
//!
//! Run on stable: `cargo fuzz run replay_import -s none` (seeds: a few rows of each format).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cascade_replay::{import, Format};
use libfuzzer_sys::fuzz_target;

const FORMATS: [Format; 4] = [
    Format::BitstampL3,
    Format::BinanceUsdm,
    Format::Lobster,
    Format::Tardis,
];

/// One scratch file per fuzzing process, rewritten for every input.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("cascade-fuzz-replay-{}.csv", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let path = scratch();
    std::fs::write(path, body).expect("the scratch file is writable");
    if let Ok(imported) = import(format, std::slice::from_ref(path)) {
        // What an import produces is a command stream starting at sequence 1.
        assert!(imported.commands.windows(2).all(|w| w[0].seq < w[1].seq));
    }
});
