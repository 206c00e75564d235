//! Journal errors and their stable numeric codes.
//!
//! Corrupt file content is never a panic: it is a [`Corruption`] (a `#[repr(u16)]` code that is
//! never renumbered or reused) at a byte offset, inside a [`JournalError`].

use core::fmt;
use std::io;

/// What is wrong with the bytes at some offset of a journal. `#[repr(u16)]`; the number is the
/// stable code, documented in `docs/DURABILITY.md`.
///
/// Codes 1–19 are about framing (the file header and the record frame): at the end of the file
/// they are what an interrupted write leaves, a *torn tail*. Codes 20 and up are about a record
/// whose checksum is right, so they were written that way: never a torn write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Corruption {
    /// The file is shorter than its 16-byte header.
    FileHeaderShort = 1,
    /// The file does not start with the journal magic.
    FileMagic = 2,
    /// The file header's checksum does not match.
    FileHeaderChecksum = 3,
    /// The file header names a format version this build cannot read.
    FileVersion = 4,
    /// A record's frame or payload runs past the end of the file.
    RecordTruncated = 10,
    /// A record's length is outside `PAYLOAD_MIN..=PAYLOAD_MAX`.
    RecordLength = 11,
    /// A record's CRC32C does not match its length and payload.
    RecordChecksum = 12,
    /// The payload's encoding version is unknown.
    PayloadVersion = 20,
    /// The payload ends inside a field.
    PayloadTruncated = 21,
    /// The payload has bytes after its command.
    PayloadTrailing = 22,
    /// The command tag is unknown.
    CommandTag = 23,
    /// An enum field holds an unknown discriminant.
    EnumValue = 24,
    /// A flag byte is neither 0 nor 1, or an absent option carries a value.
    FlagValue = 25,
    /// A margin tier table does not validate.
    MarginTiers = 26,
    /// A record's sequence number is not above the previous record's.
    SeqNotIncreasing = 30,
}

impl Corruption {
    /// Every code, in numeric order (for tests and documentation).
    pub const ALL: [Corruption; 15] = [
        Corruption::FileHeaderShort,
        Corruption::FileMagic,
        Corruption::FileHeaderChecksum,
        Corruption::FileVersion,
        Corruption::RecordTruncated,
        Corruption::RecordLength,
        Corruption::RecordChecksum,
        Corruption::PayloadVersion,
        Corruption::PayloadTruncated,
        Corruption::PayloadTrailing,
        Corruption::CommandTag,
        Corruption::EnumValue,
        Corruption::FlagValue,
        Corruption::MarginTiers,
        Corruption::SeqNotIncreasing,
    ];

    /// The stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Whether an interrupted append can leave this at the end of a file: a frame that is
    /// short, or whose length or checksum is wrong. Anything else was written as it reads.
    #[must_use]
    pub const fn is_framing(self) -> bool {
        (self as u16) < 20
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?} (code {})", self.code())
    }
}

/// A journal operation failed.
#[derive(Debug)]
pub enum JournalError {
    /// The operating system refused a read, write, sync or truncate.
    Io(io::Error),
    /// The bytes at `offset` are not a valid journal.
    Corrupt {
        /// Byte offset of the record (or header) at fault.
        offset: u64,
        /// What is wrong.
        reason: Corruption,
    },
    /// Recovery found a bad record followed by valid ones: corruption inside the journal, not
    /// a torn tail. Truncating would drop acknowledged commands, so recovery refuses.
    CorruptInside {
        /// Byte offset of the first bad record.
        offset: u64,
        /// What is wrong with it.
        reason: Corruption,
        /// Byte offset of the next valid record found after it.
        next_valid: u64,
    },
    /// An append's sequence number is not above the last one journaled.
    SeqNotIncreasing {
        /// The refused sequence number.
        seq: u64,
        /// The last one journaled.
        last: u64,
    },
    /// The journal's tail is torn; run recovery before appending.
    NeedsRecovery {
        /// Where the valid records end.
        valid_end: u64,
    },
}

impl JournalError {
    /// A stable numeric code: the [`Corruption`] code for corrupt content, 1000 and up for the
    /// rest.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            JournalError::Corrupt { reason, .. } => reason.code(),
            JournalError::Io(_) => 1000,
            JournalError::CorruptInside { .. } => 1001,
            JournalError::SeqNotIncreasing { .. } => 1002,
            JournalError::NeedsRecovery { .. } => 1003,
        }
    }

    /// The corruption, if this is one (inside or at the tail).
    #[must_use]
    pub fn corruption(&self) -> Option<Corruption> {
        match self {
            JournalError::Corrupt { reason, .. } | JournalError::CorruptInside { reason, .. } => {
                Some(*reason)
            }
            _ => None,
        }
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io(e) => write!(f, "journal i/o: {e}"),
            JournalError::Corrupt { offset, reason } => {
                write!(f, "journal corrupt at byte {offset}: {reason}")
            }
            JournalError::CorruptInside {
                offset,
                reason,
                next_valid,
            } => write!(
                f,
                "journal corrupt at byte {offset} ({reason}) with a valid record at byte \
                 {next_valid} after it: not a torn tail, refusing to truncate"
            ),
            JournalError::SeqNotIncreasing { seq, last } => {
                write!(f, "journal append of seq {seq} after seq {last}")
            }
            JournalError::NeedsRecovery { valid_end } => write!(
                f,
                "journal has a torn tail after byte {valid_end}; recover before appending"
            ),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for JournalError {
    fn from(e: io::Error) -> Self {
        JournalError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_sorted() {
        let codes: Vec<u16> = Corruption::ALL.iter().map(|c| c.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "codes must be unique and listed in order");
        assert!(Corruption::RecordChecksum.is_framing());
        assert!(!Corruption::CommandTag.is_framing());
    }
}
