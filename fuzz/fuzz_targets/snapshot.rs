//! Snapshot payloads from an untrusted source: `snapshot::decode_payload` (bincode, the shape
//! checks of `Engine::restore_capacities`, the invariant audit) must return an error, never
//! panic or exhaust memory, whatever the bytes; and an engine that loads must then take any
//! command without panicking, its audit passing after each (a forged state the audit lets
//! through and `apply` trips over is a gap in the audit).
//!
//! The first byte picks the input's form (its value modulo 3):
//! - 0: the rest is a payload as it is;
//! - 1: the rest is a list of 3-byte edits (offset hi, offset lo, xor) applied to the
//!   payload of a real engine built once (a liquidation story on small limits), so every
//!   field of a real snapshot is reached with a few flipped bits;
//! - 2: the rest gives the nine limits (4 bytes each, little-endian), re-encoded in place of
//!   the real payload's (its first field): limits that a byte edit cannot reach, up to the
//!   largest valid ones, which must be refused before anything is reserved.
//!
//! Run on stable: `cargo fuzz run snapshot -s none`.
#![no_main]

use std::sync::OnceLock;

use cascade_engine::story::{from_seed, LIMITS};
use cascade_engine::{Command, Engine, Limits, Sequenced};
use cascade_gateway::snapshot::{decode_payload, encode_payload, payload_config};
use libfuzzer_sys::fuzz_target;

/// The engine after a seeded liquidation story, and the commands of a second story that the
/// loaded engine must take afterwards.
struct Base {
    payload: Vec<u8>,
    after: Vec<Command>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut engine = Engine::new(LIMITS);
        for cmd in from_seed(7, 4096) {
            engine.apply(&cmd);
        }
        let payload = encode_payload(&engine).expect("an engine encodes");
        let after = from_seed(11, 2048).into_iter().map(|s| s.command).collect();
        Base { payload, after }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let base = base();
    let payload = if form % 3 == 0 {
        rest.to_vec()
    } else if form % 3 == 2 {
        let mut words = rest
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        let mut next = || words.next().unwrap_or(0);
        let forged = Limits {
            markets_max: u16::try_from(next() & 0xffff).unwrap_or(0),
            accounts_max: next(),
            orders_max: next(),
            orders_per_account_max: next(),
            levels_per_side_max: next(),
            fills_per_taker_max: next(),
            positions_max: next(),
            liquidations_per_command_max: next(),
            cooldowns_max: next(),
        };
        let config = payload_config();
        let real = bincode::serde::encode_to_vec(LIMITS, config).expect("limits encode");
        let mut p = bincode::serde::encode_to_vec(forged, config).expect("limits encode");
        p.extend_from_slice(&base.payload[real.len()..]);
        p
    } else {
        let mut p = base.payload.clone();
        for edit in rest.chunks_exact(3) {
            let at = usize::from(u16::from_be_bytes([edit[0], edit[1]]));
            let at = at * p.len() / 65_536;
            p[at] ^= edit[2];
        }
        p
    };
    let Ok(mut engine) = decode_payload(&payload, None) else {
        return;
    };
    let Some(first) = engine.last_seq().checked_add(1) else {
        return;
    };
    for (seq, command) in (first..=u64::MAX).zip(base.after.iter().take(64)) {
        let cmd = Sequenced {
            seq,
            ts_ns: engine.last_ts_ns().saturating_add(1_000),
            command: command.clone(),
        };
        engine.apply(&cmd);
        if let Err(e) = engine.audit() {
            panic!("a loaded snapshot broke an invariant at seq {seq}: {e}");
        }
    }
});
