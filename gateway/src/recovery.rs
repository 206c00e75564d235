//! Recovery: the newest valid snapshot plus the journal after it gives back the engine as it
//! was, with the same `state_hash()` as a run that never stopped. And [`Store`], which keeps a
//! directory's journal and snapshots in the order that makes this true.
//!
//! # Layout
//! A durability directory holds one journal, [`JOURNAL_FILE`], and any number of snapshots,
//! `snapshot-<seq>.snap` (see [`crate::snapshot`]).
//!
//! # Invariants
//! - A snapshot at `seq` is only written once every command up to `seq` is durable in the
//!   journal ([`Store::snapshot`] syncs the journal first), so snapshot + tail and a replay of
//!   the whole journal from genesis reach the same state.
//! - Records at or below the snapshot's sequence number are skipped; the rest are applied in
//!   order, exactly as the sequencer first applied them.
//!
//! # Ordering
//! Snapshots are tried newest first; one that fails any check is passed over (and reported)
//! for the next older, down to genesis (`Engine::new(limits)`).

use core::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use cascade_engine::{Command, Engine, Limits, Sequenced};

use crate::journal::{self, FsyncPolicy, JournalError, JournalWriter, RecoverMode};
use crate::snapshot::{self, SnapshotError};

/// The journal's file name inside a durability directory.
pub const JOURNAL_FILE: &str = "journal.cjl";

/// What recovery rebuilt and what it found on the way.
#[derive(Debug)]
pub struct Recovered {
    /// The engine, at `last_seq`.
    pub engine: Engine,
    /// Sequence number of the last command applied (0 for an empty directory).
    pub last_seq: u64,
    /// Sequence number of the snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
    /// Journal records applied on top of the snapshot (or of genesis).
    pub replayed: u64,
    /// What reading the journal found, including a torn tail it cut; `None` when there is no
    /// journal file.
    pub journal: Option<journal::Recovery>,
    /// Snapshots newer than the one used that failed to load, and why.
    pub rejected_snapshots: Vec<(PathBuf, SnapshotError)>,
}

/// Recovery failed.
#[derive(Debug)]
pub enum RecoveryError {
    /// The journal could not be read or repaired.
    Journal(JournalError),
    /// A snapshot could not be listed or written.
    Snapshot(SnapshotError),
    /// The rebuilt engine fails its invariant audit.
    Audit(String),
    /// A snapshot was asked for with commands the journal does not hold yet.
    NotJournaled {
        /// The engine's last applied sequence number.
        engine_seq: u64,
        /// The journal's last sequence number.
        journal_seq: Option<u64>,
    },
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::Journal(e) => write!(f, "{e}"),
            RecoveryError::Snapshot(e) => write!(f, "{e}"),
            RecoveryError::Audit(e) => write!(f, "recovered engine fails its audit: {e}"),
            RecoveryError::NotJournaled {
                engine_seq,
                journal_seq,
            } => write!(
                f,
                "engine at seq {engine_seq} is ahead of the journal ({journal_seq:?}): \
                 a snapshot would hold commands the journal does not"
            ),
        }
    }
}

impl std::error::Error for RecoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecoveryError::Journal(e) => Some(e),
            RecoveryError::Snapshot(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JournalError> for RecoveryError {
    fn from(e: JournalError) -> Self {
        RecoveryError::Journal(e)
    }
}

impl From<SnapshotError> for RecoveryError {
    fn from(e: SnapshotError) -> Self {
        RecoveryError::Snapshot(e)
    }
}

impl From<std::io::Error> for RecoveryError {
    fn from(e: std::io::Error) -> Self {
        RecoveryError::Journal(JournalError::Io(e))
    }
}

/// Rebuilds the engine from the directory `dir`: the newest snapshot that loads, then every
/// journal record after it. A torn journal tail is truncated. With no snapshot the journal is
/// replayed onto `Engine::new(limits)`; with a snapshot, the snapshot's own limits apply.
///
/// # Errors
/// Journal corruption that is not a torn tail, I/O errors, or an engine that fails its audit
/// after the replay.
pub fn recover(dir: &Path, limits: Limits) -> Result<Recovered, RecoveryError> {
    recover_with(dir, limits, RecoverMode::Strict)
}

/// [`recover`], choosing what to do about damage inside the journal (see [`RecoverMode`]).
///
/// # Errors
/// As [`recover`].
pub fn recover_with(
    dir: &Path,
    limits: Limits,
    mode: RecoverMode,
) -> Result<Recovered, RecoveryError> {
    let (mut engine, snapshot_seq, rejected_snapshots) = newest_snapshot(dir, limits)?;
    let base = snapshot_seq.unwrap_or(0);
    let mut replayed = 0u64;
    let path = dir.join(JOURNAL_FILE);
    let journal = if path.exists() {
        Some(journal::recover_with(&path, mode, |record| {
            if record.command.seq > base {
                engine.apply(&record.command);
                replayed += 1;
            }
        })?)
    } else {
        None
    };
    engine.audit().map_err(RecoveryError::Audit)?;
    Ok(Recovered {
        last_seq: engine.last_seq(),
        engine,
        snapshot_seq,
        replayed,
        journal,
        rejected_snapshots,
    })
}

type SnapshotChoice = (Engine, Option<u64>, Vec<(PathBuf, SnapshotError)>);

fn newest_snapshot(dir: &Path, limits: Limits) -> Result<SnapshotChoice, RecoveryError> {
    let mut rejected = Vec::new();
    let candidates = if dir.exists() {
        snapshot::list(dir)?
    } else {
        Vec::new()
    };
    for (_, path) in candidates {
        match snapshot::load(&path) {
            // The header's seq, checked against the engine's by `load`, not the file name's.
            Ok((header, engine)) => return Ok((engine, Some(header.seq), rejected)),
            Err(e) => rejected.push((path, e)),
        }
    }
    Ok((Engine::new(limits), None, rejected))
}

/// A durability directory in use: the journal open for appending, and snapshots on demand.
///
/// The sequencer calls [`Store::append`] for each command before the core applies it and
/// [`Store::commit`] once per batch (the group commit); every so often the core's engine is
/// handed to [`Store::snapshot`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    journal: JournalWriter,
}

impl Store {
    /// Opens (creating if needed) the durability directory `dir`: recovers the engine, then
    /// opens the journal for appending after its last valid record.
    ///
    /// # Errors
    /// As [`recover`], plus I/O errors creating the directory or the journal.
    pub fn open(
        dir: &Path,
        limits: Limits,
        policy: FsyncPolicy,
    ) -> Result<(Self, Recovered), RecoveryError> {
        fs::create_dir_all(dir)?;
        let recovered = recover(dir, limits)?;
        let path = dir.join(JOURNAL_FILE);
        let journal = match recovered.journal.as_ref() {
            Some(summary) => JournalWriter::open_recovered(&path, summary, policy)?,
            None => JournalWriter::create(&path, policy)?,
        };
        let store = Self {
            dir: dir.to_path_buf(),
            journal,
        };
        Ok((store, recovered))
    }

    /// The directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal writer (for its durable sequence number and offsets).
    #[must_use]
    pub fn journal(&self) -> &JournalWriter {
        &self.journal
    }

    /// Journals one command (see [`JournalWriter::append`]).
    ///
    /// # Errors
    /// As [`JournalWriter::append`].
    pub fn append(&mut self, cmd: &Sequenced<Command>) -> Result<(), JournalError> {
        self.journal.append(cmd)
    }

    /// The group commit (see [`JournalWriter::commit`]).
    ///
    /// # Errors
    /// As [`JournalWriter::commit`].
    pub fn commit(&mut self) -> Result<Option<u64>, JournalError> {
        self.journal.commit()
    }

    /// The journal writer, to write out or to sync from elsewhere (see
    /// [`JournalWriter::write_buffered`]).
    pub fn journal_mut(&mut self) -> &mut JournalWriter {
        &mut self.journal
    }

    /// Makes the journal durable through `engine`'s last command, so that a snapshot of
    /// `engine` written from now on (here or on another thread) is never ahead of it.
    ///
    /// # Errors
    /// [`RecoveryError::NotJournaled`] when the engine has applied a command the journal does
    /// not hold; the journal's sync error.
    pub fn prepare_snapshot(&mut self, engine: &Engine) -> Result<(), RecoveryError> {
        let journal_seq = self.journal.last_seq();
        if engine.last_seq() > journal_seq.unwrap_or(0) {
            return Err(RecoveryError::NotJournaled {
                engine_seq: engine.last_seq(),
                journal_seq,
            });
        }
        self.journal.sync()?;
        Ok(())
    }

    /// Syncs the journal, then writes a snapshot of `engine`, then deletes all but the newest
    /// `keep` snapshots (at least one is kept). Returns the snapshot's path.
    ///
    /// # Errors
    /// [`RecoveryError::NotJournaled`] when the engine has applied a command the journal does
    /// not hold (a snapshot must never be ahead of the journal); I/O and encoding errors.
    pub fn snapshot(&mut self, engine: &Engine, keep: usize) -> Result<PathBuf, RecoveryError> {
        self.prepare_snapshot(engine)?;
        let path = snapshot::write(&self.dir, engine)?;
        snapshot::prune(&self.dir, keep.max(1))?;
        Ok(path)
    }
}
