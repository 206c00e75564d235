//! The in-process crash-recovery loop: run seeded load through a [`Store`] (journal with group
//! commit and a random fsync policy, snapshots at random points), "kill" it at random points —
//! drop the process state, then cut the journal at a random byte past what was synced (often
//! mid-record) and sometimes leave junk where a torn write would — recover, and compare
//! `state_hash()` with an uninterrupted run of the surviving prefix. Then carry on from the
//! recovered engine and kill again.
//!
//! Every kill checks: nothing synced is lost, recovery stops at a record boundary, and the
//! recovered engine is exactly the engine that applied the surviving commands from genesis.
//!
//! Reproduce a failure with `SEED=<n> cargo test -p cascade-gateway --test crash_loop`.

mod common;

use std::fs;
use std::path::Path;

use cascade_engine::{Command, Engine, Limits, Sequenced};
use cascade_gateway::journal::{FsyncPolicy, JournalReader};
use cascade_gateway::recovery::{self, Store, JOURNAL_FILE};
use common::{genesis_hash, random_stream, Rng};

/// Commands of load per round, kills per round, and rounds: about a second in debug builds.
const COMMANDS: usize = 700;
const KILLS: usize = 4;
const ROUNDS: u64 = 6;

fn seeds() -> Vec<u64> {
    match std::env::var("SEED") {
        Ok(s) => vec![s.parse().expect("SEED is a u64")],
        Err(_) => (1..=ROUNDS).collect(),
    }
}

/// A group-commit policy. Syncs are kept to a few dozen per round: each is a real fsync.
fn policy(rng: &mut Rng) -> FsyncPolicy {
    match rng.below(3) {
        0 => FsyncPolicy::Never,
        1 => FsyncPolicy::Batch {
            records: 0,
            bytes: 4_096 + rng.below(16_384),
        },
        _ => FsyncPolicy::Batch {
            records: u32::try_from(50 + rng.below(100)).expect("small"),
            bytes: 0,
        },
    }
}

/// Where the synced part of the journal ends: the offset of the first record past
/// `durable_seq` (the file's end when there is none).
fn durable_end(path: &Path, durable_seq: Option<u64>) -> u64 {
    let len = fs::metadata(path).expect("journal").len();
    let reader = JournalReader::open(path).expect("journal header");
    for record in reader {
        let record = record.expect("the live journal is whole");
        if durable_seq.is_none_or(|d| record.command.seq > d) {
            return record.offset;
        }
    }
    len
}

/// Runs commands through the store from where recovery left it until `kill_at` (exclusive);
/// returns the durable sequence number at the moment of the kill.
fn run_until_kill(
    dir: &Path,
    cmds: &[Sequenced<Command>],
    kill_at: usize,
    rng: &mut Rng,
) -> (u64, Option<u64>) {
    let policy = policy(rng);
    let (mut store, recovered) = Store::open(dir, Limits::SMALL, policy).expect("open");
    let mut engine: Engine = recovered.engine;
    let start = usize::try_from(recovered.last_seq).expect("small");
    let batch = 40 + rng.below(80);
    for cmd in &cmds[start..kill_at] {
        // The sequencer journals first, then the core applies.
        store.append(cmd).expect("append");
        engine.apply(cmd);
        if cmd.seq % batch == 0 {
            store.commit().expect("commit");
        }
        if rng.below(400) == 0 {
            store.snapshot(&engine, 2).expect("snapshot");
        }
    }
    let durable = store.journal().durable_seq();
    // The kill: the engine and the store go away mid-batch. (Dropping the writer hands its
    // buffer to the OS, as a process killed after its last write() would have.)
    drop(store);
    (engine.last_seq(), durable)
}

/// Loses what was never synced: cuts the journal at a random byte between the synced end and
/// the file's end, and sometimes writes junk after the cut, as a torn sector would.
fn lose_unsynced_tail(path: &Path, durable_seq: Option<u64>, rng: &mut Rng) -> u64 {
    let len = fs::metadata(path).expect("journal").len();
    let from = durable_end(path, durable_seq);
    let cut = from + rng.below(len - from + 1);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("journal");
    file.set_len(cut).expect("truncate");
    if rng.below(3) == 0 {
        let junk: Vec<u8> = (0..1 + rng.below(40))
            .map(|_| u8::try_from(rng.below(256)).expect("byte"))
            .collect();
        let mut bytes = fs::read(path).expect("journal");
        bytes.extend_from_slice(&junk);
        fs::write(path, bytes).expect("journal");
    }
    cut
}

fn round(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(JOURNAL_FILE);
    let (_, cmds) = random_stream(seed, COMMANDS);
    let mut survived = 0usize;
    for kill in 0..KILLS {
        let kill_at = if kill + 1 == KILLS {
            cmds.len()
        } else {
            survived
                + 1
                + usize::try_from(rng.below((cmds.len() - survived) as u64 / 2 + 1)).expect("small")
        }
        .min(cmds.len());
        let (applied, durable) = run_until_kill(dir.path(), &cmds, kill_at, &mut rng);
        assert_eq!(applied, kill_at as u64, "SEED={seed}");
        let cut = lose_unsynced_tail(&path, durable, &mut rng);
        let r = recovery::recover(dir.path(), Limits::SMALL)
            .unwrap_or_else(|e| panic!("SEED={seed} kill {kill}: recovery failed: {e}"));
        assert!(
            r.last_seq >= durable.unwrap_or(0),
            "SEED={seed} kill {kill}: synced seq {durable:?} lost (recovered to {})",
            r.last_seq
        );
        assert!(
            r.last_seq <= applied,
            "SEED={seed}: recovered past the kill"
        );
        let journal = r.journal.as_ref().expect("a journal");
        assert!(
            journal.valid_end <= cut,
            "SEED={seed}: valid end past the cut"
        );
        assert_eq!(
            fs::metadata(&path).expect("journal").len(),
            journal.valid_end.max(16),
            "SEED={seed}: the torn tail is truncated"
        );
        survived = usize::try_from(r.last_seq).expect("small");
        assert_eq!(
            r.engine.state_hash(),
            genesis_hash(&cmds[..survived]),
            "SEED={seed} kill {kill} at {kill_at}, cut at byte {cut}: recovered state differs \
             from an uninterrupted run of the {survived} surviving commands"
        );
    }
    // A clean shutdown at the end: everything survives.
    let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
    assert_eq!(r.engine.state_hash(), genesis_hash(&cmds[..survived]));
}

#[test]
fn random_kills_and_torn_tails_recover_to_the_surviving_prefix() {
    for seed in seeds() {
        round(seed);
    }
}
