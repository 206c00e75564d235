//! Import and replay errors, each with a stable reason code.
//!
//! Bad input is never a panic: every problem with a source file or a journal is one of these,
//! naming the file and line (or byte offset) and carrying a code that scripts can match on. The
//! codes are documented in `docs/REPLAY.md` and never renumbered or reused.

use core::fmt;
use std::path::PathBuf;

use cascade_gateway::journal::JournalError;

/// Why an input was refused. `#[repr(u16)]`: the number is the stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Reason {
    /// The file could not be opened or read.
    Io = 1,
    /// The file is not in the format named, or a needed file is missing.
    WrongInput = 2,
    /// A header row is missing or lacks a needed column.
    Header = 3,
    /// A row has too few fields.
    FieldMissing = 4,
    /// A number does not parse, or is not a whole number of the market's ticks or lots.
    Number = 5,
    /// A field holds a value outside its vocabulary (a side, an action, a message type).
    Value = 6,
    /// A line is not valid JSON of the expected shape.
    Json = 7,
    /// A depth stream has no snapshot to start from.
    NoSnapshot = 8,
    /// A depth update does not follow the previous one (`pu` ≠ previous `u`): updates were lost.
    SequenceGap = 9,
    /// The snapshot and the first depth updates do not overlap (`U` ≤ `lastUpdateId` ≤ `u`).
    SnapshotStale = 10,
    /// The journal is corrupt at some offset (the journal's own code is in the message).
    JournalCorrupt = 11,
    /// Two replays of the same commands disagreed: a determinism bug, never an input fault.
    Nondeterministic = 12,
}

impl Reason {
    /// The stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The stable name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Reason::Io => "io",
            Reason::WrongInput => "wrong_input",
            Reason::Header => "header",
            Reason::FieldMissing => "field_missing",
            Reason::Number => "number",
            Reason::Value => "value",
            Reason::Json => "json",
            Reason::NoSnapshot => "no_snapshot",
            Reason::SequenceGap => "sequence_gap",
            Reason::SnapshotStale => "snapshot_stale",
            Reason::JournalCorrupt => "journal_corrupt",
            Reason::Nondeterministic => "nondeterministic",
        }
    }
}

/// An input that could not be imported or replayed: what, where, and why.
#[derive(Debug)]
pub struct ImportError {
    /// The stable reason.
    pub reason: Reason,
    /// The file, when one is concerned.
    pub path: Option<PathBuf>,
    /// The 1-based line (text formats) or byte offset (journals), when known.
    pub at: Option<u64>,
    /// What was found, for a person.
    pub detail: String,
}

impl ImportError {
    /// An error about no particular place.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            path: None,
            at: None,
            detail: detail.into(),
        }
    }

    /// An error at a line (or offset) of a file.
    pub fn at(reason: Reason, path: &std::path::Path, at: u64, detail: impl Into<String>) -> Self {
        Self {
            reason,
            path: Some(path.to_path_buf()),
            at: Some(at),
            detail: detail.into(),
        }
    }

    /// An I/O error on a file.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        Self {
            reason: Reason::Io,
            path: Some(path.to_path_buf()),
            at: None,
            detail: e.to_string(),
        }
    }

    /// A journal error: corruption keeps the journal's own code and offset in the detail.
    pub fn journal(path: &std::path::Path, e: &JournalError) -> Self {
        let reason = match e {
            JournalError::Io(_) => Reason::Io,
            _ => Reason::JournalCorrupt,
        };
        Self {
            reason,
            path: Some(path.to_path_buf()),
            at: None,
            detail: e.to_string(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}]", self.reason.code(), self.reason.name())?;
        if let Some(path) = &self.path {
            write!(f, " {}", path.display())?;
            if let Some(at) = self.at {
                write!(f, ":{at}")?;
            }
        }
        write!(f, ": {}", self.detail)
    }
}

impl std::error::Error for ImportError {}
