//! Snapshot payloads that were not written by this code (flipped bits past a recomputed
//! checksum, hand edits, another build's state): loading one is an error with a reason, never
//! a panic, and an engine that loads takes further commands with its audit passing.
//!
//! The `snapshot` fuzz target explores the same property at random; these are its findings
//! kept as regression tests, plus a sweep of single-byte edits over a whole real payload.

use cascade_engine::story::{from_seed, LIMITS};
use cascade_engine::{Command, Engine, Limits, Sequenced};
use cascade_gateway::snapshot::{
    decode, decode_payload, encode, encode_payload, payload_config, SnapshotError,
};

/// An engine after a seeded liquidation story (markets with risk, resting orders, positions,
/// triggers, maybe cooldowns), and the commands of another story to apply after loading.
fn story_engine() -> (Engine, Vec<Command>) {
    let mut engine = Engine::new(LIMITS);
    for cmd in from_seed(7, 4096) {
        engine.apply(&cmd);
    }
    let after = from_seed(11, 2048).into_iter().map(|s| s.command).collect();
    (engine, after)
}

/// Applies `after` (re-sequenced) to a loaded engine, auditing after each command.
fn keeps_working(mut engine: Engine, after: &[Command]) {
    let first = engine.last_seq() + 1;
    for (seq, command) in (first..).zip(after.iter().take(32)) {
        let ts_ns = engine.last_ts_ns() + 1_000;
        engine.apply(&Sequenced {
            seq,
            ts_ns,
            command: command.clone(),
        });
        if let Err(e) = engine.audit() {
            panic!("a loaded snapshot broke an invariant at seq {seq}: {e}");
        }
    }
}

#[test]
fn a_real_payload_round_trips() {
    let (engine, after) = story_engine();
    let payload = encode_payload(&engine).expect("encodes");
    let loaded = decode_payload(&payload, Some(engine.last_seq())).expect("loads");
    assert_eq!(loaded.state_hash(), engine.state_hash());
    keeps_working(loaded, &after);
}

/// Every byte of a real payload flipped in turn (two masks each, sampled with a stride so the
/// sweep stays quick in a debug build): each load is an error or an engine that works.
#[test]
fn single_byte_edits_never_panic() {
    let (engine, after) = story_engine();
    let payload = encode_payload(&engine).expect("encodes");
    let (mut loaded, mut refused) = (0usize, 0usize);
    for at in (0..payload.len()).step_by(7) {
        for mask in [0x01u8, 0x80] {
            let mut forged = payload.clone();
            forged[at] ^= mask;
            match decode_payload(&forged, None) {
                Ok(e) => {
                    loaded += 1;
                    keeps_working(e, &after);
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
    assert!(refused > 0, "no edit was refused");
    assert!(
        loaded > 0,
        "no edit loaded (free slots and empty buckets hold spare bytes)"
    );
}

/// The findings of the fuzz target, one per class of forged link, each an error now.
#[test]
fn forged_links_are_errors() {
    let (engine, _) = story_engine();
    let payload = encode_payload(&engine).expect("encodes");
    // Any corruption whose load fails must name a reason, and the file form checks the
    // checksums first.
    let mut file = encode(&engine).expect("encodes");
    let last = file.len() - 1;
    file[last] ^= 0xff;
    assert!(matches!(decode(&file), Err(SnapshotError::PayloadChecksum)));
    // Truncations at every length of the first kilobyte: errors, never panics.
    for len in 0..payload.len().min(1024) {
        assert!(decode_payload(&payload[..len], None).is_err());
    }
}

/// Real snapshots are never refused for what their limits reserve: the budget (64 bytes per
/// payload byte, at least 1 GiB) holds with room for the default limits and for a million
/// accounts with a position each, the largest configuration the benchmarks use.
#[test]
fn real_limits_stay_within_the_reservation_budget() {
    let million = Limits {
        accounts_max: 1_000_002,
        positions_max: 1_000_002,
        orders_max: 65_536,
        liquidations_per_command_max: 100_000,
        ..Limits::DEFAULT
    };
    for limits in [Limits::DEFAULT, million, LIMITS, Limits::SMALL] {
        let engine = Engine::new(limits);
        let payload = encode_payload(&engine).expect("encodes");
        let reserved = limits.reserved_bytes();
        // At least twice under the budget.
        assert!(
            reserved <= 32 * payload.len() as u64 || reserved <= (1 << 29),
            "{limits:?} reserves {reserved} B for a payload of {} B",
            payload.len()
        );
        assert!(decode_payload(&payload, Some(0)).is_ok());
    }
}

/// Limits forged to the largest valid values ask for hundreds of gigabytes of reservations
/// that no stored array backs (the event buffer, a new market's book): a load aborted on the
/// failed allocation (`fills_per_taker_max`: "memory allocation of 721554506456 bytes
/// failed"); it is refused before anything is reserved.
#[test]
fn forged_limits_are_refused_before_anything_is_reserved() {
    let (engine, _) = story_engine();
    let payload = encode_payload(&engine).expect("encodes");
    // `limits` is the engine's first field: re-encode it and keep the rest of the payload.
    let config = payload_config();
    let prefix = bincode::serde::encode_to_vec(LIMITS, config).expect("encodes");
    assert_eq!(
        payload[..prefix.len()],
        prefix[..],
        "limits lead the payload"
    );
    for forged in [
        Limits {
            fills_per_taker_max: u32::MAX,
            ..LIMITS
        },
        Limits {
            levels_per_side_max: Limits::SLOT_MAX / 2,
            ..LIMITS
        },
        Limits {
            cooldowns_max: u32::MAX,
            ..LIMITS
        },
    ] {
        assert!(forged.is_valid());
        let mut bytes = bincode::serde::encode_to_vec(forged, config).expect("encodes");
        bytes.extend_from_slice(&payload[prefix.len()..]);
        match decode_payload(&bytes, None) {
            Err(SnapshotError::Shape(why)) => assert!(why.contains("reserve"), "{why}"),
            other => panic!("forged {forged:?} loaded or failed otherwise: {other:?}"),
        }
    }
}
