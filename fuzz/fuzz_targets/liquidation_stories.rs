//! Liquidation stories (`cascade_engine::story`): markets at 1x–1001x, cross and isolated
//! accounts, thin or empty books, index gaps, funding ticks, an insurance fund near zero, a
//! limited backstop vault, ADL with few or no counterparties — built from the fuzzer's bytes
//! with the `arbitrary` crate. The event oracle (`cascade_engine::oracle`) checks every command,
//! and the stream is replayed on a second engine for the same events and `state_hash()`.
//!
//! Run on stable: `cargo fuzz run liquidation_stories -s none`.
#![no_main]

use arbitrary::Unstructured;
use cascade_engine::oracle::run_checked;
use cascade_engine::story::{story, LIMITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(stream) = story(&mut Unstructured::new(data)) else {
        return;
    };
    if let Err(e) = run_checked(LIMITS, &stream) {
        panic!("{e}");
    }
});
