//! The order-entry log: every OUCH message that changed an account's OUCH order table, so a
//! restart can rebuild the tables (UserRefNum → order id, each account's last UserRefNum, the
//! echoed fields) and a client can cancel, replace or modify orders entered before it.
//!
//! The journal holds engine commands only, and they do not carry everything OUCH needs: a
//! Replace Order's new UserRefNum, the ClOrdID and other echoed fields, the UserRefNums of
//! messages refused before the engine. This file keeps the inbound messages themselves, with
//! where they fell in the command sequence, and recovery replays both streams interleaved.
//!
//! # Layout
//! `ouch.log` in the journal directory, records only, no header:
//! ```text
//! record = len u32 LE · crc u32 LE · body (len bytes)        crc = CRC32C of the body
//! body   = account u32 LE · seq_before u64 LE · submitted u8 · OUCH message
//! ```
//! `seq_before` is the engine's last sequence number when the message was mapped;
//! `submitted` is 1 when the mapping produced a command, which the sequencer numbered
//! `seq_before + 1`.
//!
//! # Ordering
//! A message's record is appended before its command is journaled, and both are written out
//! at the group commit (this file first) and synced (under `fsync = "batch"` both at once, on
//! the server's sync thread) before any answer is sent. After a crash the log can
//! therefore be ahead of the journal, never behind it for an answered message: reading stops at
//! the first torn record, and at the first submitted message whose command the journal lacks
//! (it and what follows were never answered). The file is cut there.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use cascade_engine::AccountId;

/// The log's file name inside the journal directory.
pub const ORDER_LOG_FILE: &str = "ouch.log";

const FRAME_HEADER_LEN: usize = 8;
const BODY_HEADER_LEN: usize = 13;
/// A record body holds one OUCH message; the session layer refuses frames above 1 KiB.
const BODY_MAX: usize = 4096;

/// One logged message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLogRecord {
    /// The account whose table the message went to.
    pub account: AccountId,
    /// The engine's last sequence number when the message was mapped.
    pub seq_before: u64,
    /// The mapping produced a command (numbered `seq_before + 1`).
    pub submitted: bool,
    /// The OUCH message.
    pub payload: Vec<u8>,
}

/// Appends records; written out by [`OrderLog::commit`].
#[derive(Debug)]
pub struct OrderLog {
    file: BufWriter<File>,
    sync: bool,
    dirty: bool,
}

impl OrderLog {
    /// Opens the log in `dir` for appending after reading it: returns the records that the
    /// journal (last sequence number `journal_last_seq`) covers, and cuts the file after them.
    /// `sync`: `fdatasync` at every commit that wrote something.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(
        dir: &Path,
        journal_last_seq: u64,
        sync: bool,
    ) -> io::Result<(Self, Vec<OrderLogRecord>)> {
        let path = dir.join(ORDER_LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, keep) = parse(&bytes, journal_last_seq);
        if keep < bytes.len() {
            tracing::warn!(
                cut = bytes.len() - keep,
                "order-entry log: cut a torn tail or messages the journal does not hold"
            );
            file.set_len(keep as u64)?;
            file.sync_data()?;
        }
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok((
            Self {
                file: BufWriter::with_capacity(1 << 16, file),
                sync,
                dirty: false,
            },
            records,
        ))
    }

    /// Buffers one record.
    ///
    /// # Errors
    /// I/O errors.
    pub fn append(
        &mut self,
        account: AccountId,
        seq_before: u64,
        submitted: bool,
        payload: &[u8],
    ) -> io::Result<()> {
        let len = BODY_HEADER_LEN + payload.len();
        if len > BODY_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "order-entry log: message too long",
            ));
        }
        let mut head = [0u8; FRAME_HEADER_LEN + BODY_HEADER_LEN];
        head[8..12].copy_from_slice(&account.0.to_le_bytes());
        head[12..20].copy_from_slice(&seq_before.to_le_bytes());
        head[20] = u8::from(submitted);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&head[8..]), payload);
        let len = u32::try_from(len).expect("invariant: len <= BODY_MAX");
        head[0..4].copy_from_slice(&len.to_le_bytes());
        head[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file.write_all(&head)?;
        self.file.write_all(payload)?;
        self.dirty = true;
        Ok(())
    }

    /// A second handle on the log file, to `fdatasync` it from another thread (after
    /// [`OrderLog::commit`] has written the records out).
    ///
    /// # Errors
    /// The `dup` failing.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.get_ref().try_clone()
    }

    /// Whether records were appended since the last [`OrderLog::commit`].
    #[must_use]
    pub const fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether [`OrderLog::commit`] syncs (else the caller syncs [`OrderLog::sync_handle`]).
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Writes out what was appended (and syncs it, when asked to at open).
    ///
    /// # Errors
    /// I/O errors.
    /// True when there was something to write.
    pub fn commit(&mut self) -> io::Result<bool> {
        if !self.dirty {
            return Ok(false);
        }
        self.file.flush()?;
        if self.sync {
            self.file.get_ref().sync_data()?;
        }
        self.dirty = false;
        Ok(true)
    }
}

/// The records to keep and the byte length they span.
fn parse(bytes: &[u8], journal_last_seq: u64) -> (Vec<OrderLogRecord>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + FRAME_HEADER_LEN) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if !(BODY_HEADER_LEN..=BODY_MAX).contains(&len) {
            break;
        }
        let Some(body) = bytes.get(at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + len) else {
            break;
        };
        if crc32c::crc32c(body) != crc {
            break;
        }
        let account = AccountId(u32::from_le_bytes([body[0], body[1], body[2], body[3]]));
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&body[4..12]);
        let seq_before = u64::from_le_bytes(seq);
        let submitted = body[12] == 1;
        let needs = if submitted {
            seq_before.saturating_add(1)
        } else {
            seq_before
        };
        if needs > journal_last_seq {
            break;
        }
        records.push(OrderLogRecord {
            account,
            seq_before,
            submitted,
            payload: body[BODY_HEADER_LEN..].to_vec(),
        });
        at += FRAME_HEADER_LEN + len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(dir: &Path, last: u64) -> Vec<OrderLogRecord> {
        OrderLog::open(dir, last, false).expect("open").1
    }

    #[test]
    fn records_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, old) = OrderLog::open(dir.path(), 0, false).expect("open");
        assert!(old.is_empty());
        log.append(AccountId(1), 7, true, b"O-first")
            .expect("append");
        log.append(AccountId(2), 8, false, b"X-second")
            .expect("append");
        log.commit().expect("commit");
        drop(log);
        let got = reopen(dir.path(), 8);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].account, AccountId(1));
        assert_eq!(got[0].seq_before, 7);
        assert!(got[0].submitted);
        assert_eq!(got[0].payload, b"O-first");
        assert_eq!(got[1].payload, b"X-second");
        assert!(!got[1].submitted);
    }

    #[test]
    fn torn_tail_is_cut_and_appending_resumes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = OrderLog::open(dir.path(), 0, false).expect("open");
        log.append(AccountId(1), 1, true, b"one").expect("append");
        log.append(AccountId(1), 2, true, b"two").expect("append");
        log.commit().expect("commit");
        drop(log);
        let path = dir.path().join(ORDER_LOG_FILE);
        let full = std::fs::metadata(&path).expect("meta").len();
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(full - 2).expect("tear");
        drop(f);
        let (mut log, got) = OrderLog::open(dir.path(), 10, false).expect("open");
        assert_eq!(got.len(), 1);
        log.append(AccountId(1), 3, false, b"three")
            .expect("append");
        log.commit().expect("commit");
        drop(log);
        let got = reopen(dir.path(), 10);
        let payloads: Vec<&[u8]> = got.iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(payloads, [&b"one"[..], &b"three"[..]]);
    }

    #[test]
    fn messages_whose_command_the_journal_lacks_are_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = OrderLog::open(dir.path(), 0, false).expect("open");
        log.append(AccountId(1), 4, true, b"journaled")
            .expect("append");
        log.append(AccountId(1), 5, false, b"refused")
            .expect("append");
        log.append(AccountId(1), 5, true, b"lost").expect("append");
        log.append(AccountId(1), 5, false, b"after")
            .expect("append");
        log.commit().expect("commit");
        drop(log);
        // The journal ends at 5: the command of "lost" (6) never made it.
        let got = reopen(dir.path(), 5);
        let payloads: Vec<&[u8]> = got.iter().map(|r| r.payload.as_slice()).collect();
        assert_eq!(payloads, [&b"journaled"[..], &b"refused"[..]]);
        assert_eq!(reopen(dir.path(), 100).len(), 2, "the cut is permanent");
    }

    #[test]
    fn garbage_reads_as_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(ORDER_LOG_FILE), [0xFFu8; 64]).expect("write");
        assert!(reopen(dir.path(), 100).is_empty());
    }
}
