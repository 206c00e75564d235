//! Replaying journals: determinism, agreement with the in-memory replay, and corruption.

mod common;

use cascade_engine::{Engine, Event, Limits};
use cascade_gateway::journal::JournalReader;
use cascade_replay::journal_file::for_each_record;
use cascade_replay::{import, replay_journal, write_journal, Format, Reason, ReplayOptions};

fn lobster_journal(dir: &std::path::Path) -> std::path::PathBuf {
    let imported = import(
        Format::Lobster,
        &[common::fixture(
            "SYNTH_2024-01-02_34200000_57600000_message_1.csv",
        )],
    )
    .expect("fixture imports");
    let path = dir.join("lobster.journal");
    write_journal(&path, &imported.commands).expect("journal writes");
    path
}

fn events_of(path: &std::path::Path) -> (Vec<Event>, u64) {
    let mut engine = Engine::new(Limits::DEFAULT);
    let mut events = Vec::new();
    for_each_record(
        path,
        |cmd| events.extend_from_slice(engine.apply(cmd)),
        |_| {},
    )
    .expect("journal reads");
    (events, engine.state_hash())
}

#[test]
fn two_replays_give_the_same_events_and_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = lobster_journal(dir.path());
    let (events_a, hash_a) = events_of(&path);
    let (events_b, hash_b) = events_of(&path);
    assert_eq!(events_a, events_b);
    assert_eq!(hash_a, hash_b);
    assert!(events_a.iter().any(|e| matches!(e, Event::Trade { .. })));
    let report = replay_journal(
        &path,
        ReplayOptions {
            runs: 3,
            ..ReplayOptions::default()
        },
    )
    .expect("replays");
    assert_eq!(report.state_hash, format!("{hash_a:016x}"));
    assert_eq!(report.runs, 3);
    assert_eq!(report.trades, 7);
}

#[test]
fn journal_replay_matches_the_in_memory_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = lobster_journal(dir.path());
    let mut imported = import(
        Format::Lobster,
        &[common::fixture(
            "SYNTH_2024-01-02_34200000_57600000_message_1.csv",
        )],
    )
    .expect("fixture imports");
    let from_memory =
        cascade_replay::replay_imported(&mut imported, ReplayOptions::default()).expect("replays");
    let from_journal = replay_journal(&path, ReplayOptions::default()).expect("replays");
    assert_eq!(from_memory.state_hash, from_journal.state_hash);
    assert_eq!(from_memory.commands, from_journal.commands);
    assert_eq!(from_memory.events, from_journal.events);
}

#[test]
fn fast_reader_reads_what_the_gateway_reader_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = lobster_journal(dir.path());
    let expected: Vec<_> = JournalReader::open(&path)
        .expect("opens")
        .map(|r| r.expect("valid").command)
        .collect();
    let mut got = Vec::new();
    let n = for_each_record(&path, |c| got.push(c.clone()), |_| {}).expect("reads");
    assert_eq!(n as usize, expected.len());
    assert_eq!(got, expected);
}

#[test]
fn corrupt_journal_is_an_error_with_its_offset_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = lobster_journal(dir.path());
    let mut bytes = std::fs::read(&path).expect("reads");
    // Flip a byte inside the third record's payload: its CRC no longer matches.
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&path, &bytes).expect("writes");
    let err = replay_journal(&path, ReplayOptions::default()).expect_err("corrupt");
    assert_eq!(err.reason, Reason::JournalCorrupt);
    assert!(err.to_string().contains("[11 journal_corrupt]"), "{err}");

    std::fs::write(&path, b"not a journal at all").expect("writes");
    let err = replay_journal(&path, ReplayOptions::default()).expect_err("not a journal");
    assert_eq!(err.reason, Reason::JournalCorrupt);

    let err =
        replay_journal(&dir.path().join("missing"), ReplayOptions::default()).expect_err("missing");
    assert_eq!(err.reason, Reason::Io);
}

#[test]
fn import_refuses_to_overwrite_a_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = lobster_journal(dir.path());
    let err = write_journal(&path, &[]).expect_err("exists");
    assert_eq!(err.reason, Reason::WrongInput);
}
