//! Snapshots and recovery: a snapshot restores the same engine (same hash, clean audit, same
//! future), and snapshot + journal tail gives the same state as replaying from genesis, with or
//! without a torn tail or a damaged snapshot.

mod common;

use std::fs;

use cascade_engine::{Command, Engine, Limits, Sequenced};
use cascade_gateway::journal::{FsyncPolicy, JournalReader};
use cascade_gateway::recovery::{self, RecoveryError, Store, JOURNAL_FILE};
use cascade_gateway::snapshot::{self, SnapshotError, HEADER_LEN};
use common::{apply_all, genesis_hash, random_stream};

#[test]
fn a_snapshot_restores_the_same_engine_and_the_same_future() {
    for seed in [1, 2, 5] {
        let (mut original, cmds) = random_stream(seed, 3_000);
        let (head, tail) = cmds.split_at(2_000);
        apply_all(&mut original, head);
        let bytes = snapshot::encode(&original).expect("encode");
        let (header, mut restored) = snapshot::decode(&bytes).expect("decode");
        assert_eq!(header.seq, original.last_seq());
        assert_eq!(header.state_hash, original.state_hash());
        assert_eq!(restored.state_hash(), original.state_hash());
        assert_eq!(restored.audit(), Ok(()));
        assert_eq!(restored.limits(), original.limits());
        // The same further commands give the same events and the same state.
        let events_original = apply_all(&mut original, tail);
        let events_restored = apply_all(&mut restored, tail);
        assert_eq!(events_restored, events_original, "SEED={seed}");
        assert_eq!(restored.state_hash(), original.state_hash(), "SEED={seed}");
        // And a snapshot of the continued engines is byte for byte the same.
        assert_eq!(
            snapshot::encode(&restored).expect("encode"),
            snapshot::encode(&original).expect("encode")
        );
    }
}

#[test]
fn a_snapshot_of_a_fresh_engine_round_trips() {
    let engine = Engine::new(Limits::SMALL);
    let bytes = snapshot::encode(&engine).expect("encode");
    let (header, restored) = snapshot::decode(&bytes).expect("decode");
    assert_eq!(header.seq, 0);
    assert_eq!(restored.state_hash(), engine.state_hash());
    assert_eq!(restored.audit(), Ok(()));
}

/// A snapshot of an engine part way through a random stream.
fn some_snapshot() -> Vec<u8> {
    let (mut engine, cmds) = random_stream(4, 600);
    apply_all(&mut engine, &cmds);
    snapshot::encode(&engine).expect("encode")
}

fn rewrite_header_crc(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[..44]);
    bytes[44..48].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_damaged_snapshot_is_refused_with_its_reason() {
    let bytes = some_snapshot();
    let code = |b: &[u8]| snapshot::decode(b).map(|_| ()).map_err(|e| e.code());
    assert_eq!(code(&bytes), Ok(()));
    assert_eq!(code(&bytes[..HEADER_LEN - 1]), Err(101), "too short");
    assert_eq!(code(&bytes[..bytes.len() - 1]), Err(105), "payload cut");
    let mut b = bytes.clone();
    b[0] ^= 1;
    assert_eq!(code(&b), Err(102), "magic");
    // Every header bit past the magic is covered by the header checksum.
    for byte in 8..HEADER_LEN {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[byte] ^= 1 << bit;
            assert_eq!(code(&b), Err(103), "header byte {byte} bit {bit}");
        }
    }
    // Payload bits are covered by the payload checksum (sampled: the payload is megabytes).
    let step = (bytes.len() - HEADER_LEN) / 997;
    for byte in (HEADER_LEN..bytes.len()).step_by(step.max(1)) {
        let mut b = bytes.clone();
        b[byte] ^= 0x40;
        assert_eq!(code(&b), Err(106), "payload byte {byte}");
    }
    // A header that lies about the state, checksums fixed up: the hash check catches it.
    let mut b = bytes.clone();
    b[24] ^= 1;
    rewrite_header_crc(&mut b);
    assert!(matches!(
        snapshot::decode(&b),
        Err(SnapshotError::StateHash { .. })
    ));
    let mut b = bytes.clone();
    b[16] ^= 1;
    rewrite_header_crc(&mut b);
    assert!(matches!(
        snapshot::decode(&b),
        Err(SnapshotError::Seq { .. })
    ));
    let mut b = bytes;
    let unknown = snapshot::SNAPSHOT_VERSION + 1;
    b[8..12].copy_from_slice(&unknown.to_le_bytes());
    rewrite_header_crc(&mut b);
    assert!(matches!(
        snapshot::decode(&b),
        Err(SnapshotError::Version(v)) if v == unknown
    ));
}

/// Runs a stream through a [`Store`] as the sequencer and core would: journal each command,
/// apply it, group-commit every few commands, snapshot at the given sequence numbers. Returns
/// the live engine, dropped store and all.
fn run_with_store(
    dir: &std::path::Path,
    engine: Engine,
    cmds: &[Sequenced<Command>],
    snapshots_at: &[u64],
    policy: FsyncPolicy,
) -> Engine {
    let (mut store, recovered) = Store::open(dir, *engine.limits(), policy).expect("open");
    let mut engine = recovered.engine;
    for cmd in cmds {
        store.append(cmd).expect("append");
        engine.apply(cmd);
        if cmd.seq % 7 == 0 {
            store.commit().expect("commit");
        }
        if snapshots_at.contains(&cmd.seq) {
            store.snapshot(&engine, 2).expect("snapshot");
        }
    }
    store.commit().expect("commit");
    engine
}

#[test]
fn snapshot_plus_tail_equals_genesis_replay() {
    for seed in [11, 12] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (engine, cmds) = random_stream(seed, 2_500);
        let live = run_with_store(
            dir.path(),
            engine,
            &cmds,
            &[500, 1_200, 2_000],
            FsyncPolicy::Batch {
                records: 32,
                bytes: 0,
            },
        );
        let want = genesis_hash(&cmds);
        assert_eq!(live.state_hash(), want);
        // Two snapshots kept, the newest at 2,000.
        let snaps = snapshot::list(dir.path()).expect("list");
        let seqs: Vec<u64> = snaps.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, vec![2_000, 1_200]);

        let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
        assert_eq!(r.snapshot_seq, Some(2_000));
        assert_eq!(r.replayed, cmds.len() as u64 - 2_000);
        assert_eq!(r.last_seq, cmds.len() as u64);
        assert_eq!(r.engine.state_hash(), want, "SEED={seed}");
        assert!(r.rejected_snapshots.is_empty());

        // Without snapshots, the journal alone replays to the same state.
        for (_, path) in snaps {
            fs::remove_file(path).expect("remove");
        }
        let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
        assert_eq!(r.snapshot_seq, None);
        assert_eq!(r.replayed, cmds.len() as u64);
        assert_eq!(r.engine.state_hash(), want, "SEED={seed}");
    }
}

#[test]
fn recovery_after_a_torn_tail_equals_the_run_without_the_torn_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, cmds) = random_stream(21, 1_500);
    run_with_store(
        dir.path(),
        engine,
        &cmds,
        &[1_000],
        FsyncPolicy::EveryRecord,
    );
    let path = dir.path().join(JOURNAL_FILE);
    let last = JournalReader::open(&path)
        .expect("open")
        .last()
        .expect("records")
        .expect("valid")
        .offset;
    let len = fs::metadata(&path).expect("meta").len();
    let want = genesis_hash(&cmds[..cmds.len() - 1]);
    // A cut in the frame, one in the payload, one a byte short of whole.
    for cut in [last + 3, last + 20, len - 1] {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(cut).expect("truncate");
        drop(file);
        let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
        assert_eq!(r.snapshot_seq, Some(1_000));
        assert_eq!(r.engine.state_hash(), want, "cut at {cut}");
        assert_eq!(r.last_seq, cmds.len() as u64 - 1);
        let journal = r.journal.expect("journal");
        assert_eq!(journal.valid_end, last);
        assert_eq!(fs::metadata(&path).expect("meta").len(), last);
        // Put the lost command back for the next cut.
        let engine = Engine::new(Limits::SMALL);
        run_with_store(
            dir.path(),
            engine,
            &cmds[cmds.len() - 1..],
            &[],
            FsyncPolicy::EveryRecord,
        );
        assert_eq!(fs::metadata(&path).expect("meta").len(), len);
    }
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, cmds) = random_stream(31, 1_200);
    run_with_store(dir.path(), engine, &cmds, &[400, 900], FsyncPolicy::Never);
    let newest = dir.path().join(snapshot::file_name(900));
    let mut bytes = fs::read(&newest).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    fs::write(&newest, &bytes).expect("write");
    let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
    assert_eq!(r.snapshot_seq, Some(400));
    assert_eq!(r.rejected_snapshots.len(), 1);
    assert_eq!(r.rejected_snapshots[0].0, newest);
    assert_eq!(r.rejected_snapshots[0].1.code(), 106);
    assert_eq!(r.engine.state_hash(), genesis_hash(&cmds));
}

#[test]
fn a_store_reopened_after_a_crash_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, cmds) = random_stream(41, 1_600);
    let (first, second) = cmds.split_at(700);
    let live = run_with_store(
        dir.path(),
        engine,
        first,
        &[300],
        FsyncPolicy::Batch {
            records: 0,
            bytes: 8_192,
        },
    );
    assert_eq!(live.state_hash(), genesis_hash(first));
    // Reopen: recovery hands back the engine the store continues from.
    let live = run_with_store(
        dir.path(),
        Engine::new(Limits::SMALL),
        second,
        &[1_500],
        FsyncPolicy::EveryRecord,
    );
    assert_eq!(live.state_hash(), genesis_hash(&cmds));
    let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
    assert_eq!(r.snapshot_seq, Some(1_500));
    assert_eq!(r.engine.state_hash(), genesis_hash(&cmds));
}

#[test]
fn a_snapshot_ahead_of_the_journal_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut engine, cmds) = random_stream(51, 10);
    let (mut store, _) =
        Store::open(dir.path(), Limits::SMALL, FsyncPolicy::EveryRecord).expect("open");
    for cmd in &cmds[..5] {
        store.append(cmd).expect("append");
    }
    apply_all(&mut engine, &cmds[..6]);
    assert!(matches!(
        store.snapshot(&engine, 1),
        Err(RecoveryError::NotJournaled {
            engine_seq: 6,
            journal_seq: Some(5)
        })
    ));
    assert!(snapshot::list(dir.path()).expect("list").is_empty());
}

#[test]
fn an_empty_directory_recovers_to_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = recovery::recover(dir.path(), Limits::SMALL).expect("recover");
    assert_eq!(r.last_seq, 0);
    assert_eq!(r.snapshot_seq, None);
    assert!(r.journal.is_none());
    assert_eq!(
        r.engine.state_hash(),
        Engine::new(Limits::SMALL).state_hash()
    );
}
