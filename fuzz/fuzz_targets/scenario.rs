//! Scenario scripts (`cascade scenario FILE`, the golden `.scn` files) are text a user writes:
//! `cascade_engine::scenario::run` must answer any text with an outcome or a line-numbered
//! error, never a panic. The engine behind it runs the event oracle after every command, so
//! a script that parses is also a command stream checked like `engine_commands`'.
//!
//! Run on stable: `cargo fuzz run scenario -s none` (seeds: the golden scenarios' scripts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // An error is an answer; only a panic (or a failed audit, which `run` reports as an
    // error naming the line) would be a finding, and libFuzzer catches panics.
    let _ = cascade_engine::scenario::run(text);
});
