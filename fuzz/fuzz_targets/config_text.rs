//! The operator's text files: the server configuration (`cascade serve --config FILE`) and the
//! stress scenarios (`cascade stress --scenario FILE`). Any text is a parsed, checked value or
//! an error naming what is wrong, never a panic; a server configuration that parses also
//! yields its markets, fsync policy and timers without one. The first byte picks the file
//! kind; the rest is the text.
//!
//! Run on stable: `cargo fuzz run config_text -s none` (seeds: the embedded configuration and
//! the repository's stress scenarios).
#![no_main]

use std::path::Path;

use cascade_gateway::server::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if pick % 2 == 0 {
        if let Ok(config) = Config::parse(text) {
            let _ = config.markets();
            let _ = config.fsync_policy();
            let _ = (config.heartbeat(), config.idle_timeout());
        }
    } else {
        let _ = cascade_stress::scenario::parse(text, Path::new("."), &[]);
    }
});
