//! Reading a journal back: the record iterator, and recovery of a torn tail.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::Path;

use cascade_engine::{Command, Sequenced};

use super::error::{Corruption, JournalError};
use super::{
    check_file_header, check_payload, decode_record, file_header, parse_frame_header,
    FILE_HEADER_LEN, FRAME_HEADER_LEN, PAYLOAD_MAX,
};

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Byte offset of the record's frame in the file.
    pub offset: u64,
    /// The command.
    pub command: Sequenced<Command>,
}

/// Iterates over the records of a journal, in order, from any byte source.
///
/// Yields `Ok(record)` for each valid record. At the first invalid one it yields one
/// `Err(JournalError::Corrupt { offset, reason })` (or an I/O error) and then ends, so a torn
/// or corrupt tail is never skipped silently. [`JournalReader::valid_end`] is then where the
/// valid records end. Never panics on any input.
#[derive(Debug)]
pub struct JournalReader<R> {
    src: R,
    /// Offset of the next record.
    offset: u64,
    last_seq: Option<u64>,
    records: u64,
    payload: Vec<u8>,
    done: bool,
}

impl JournalReader<BufReader<File>> {
    /// Opens a journal file and checks its header.
    ///
    /// # Errors
    /// I/O errors, or [`JournalError::Corrupt`] for a bad file header.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        Self::new(BufReader::with_capacity(1 << 16, File::open(path)?))
    }
}

impl<R: Read> JournalReader<R> {
    /// Reads and checks the file header from `src`; records follow.
    ///
    /// # Errors
    /// I/O errors, or [`JournalError::Corrupt`] at offset 0: [`Corruption::FileHeaderShort`]
    /// when the source ends inside the header, else the header's fault.
    pub fn new(mut src: R) -> Result<Self, JournalError> {
        let mut h = [0u8; 16];
        if read_full(&mut src, &mut h)? < h.len() {
            return Err(corrupt(0, Corruption::FileHeaderShort));
        }
        check_file_header(&h).map_err(|reason| corrupt(0, reason))?;
        Ok(Self {
            src,
            offset: FILE_HEADER_LEN,
            last_seq: None,
            records: 0,
            payload: Vec::with_capacity(PAYLOAD_MAX),
            done: false,
        })
    }

    /// Where the valid records read so far end: the offset of the next record.
    #[must_use]
    pub fn valid_end(&self) -> u64 {
        self.offset
    }

    /// Sequence number of the last valid record read, if any.
    #[must_use]
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Valid records read so far.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.records
    }

    fn read_record(&mut self) -> Result<Option<Sequenced<Command>>, JournalError> {
        let at = self.offset;
        let mut header = [0u8; FRAME_HEADER_LEN];
        match read_full(&mut self.src, &mut header)? {
            0 => return Ok(None),
            n if n < FRAME_HEADER_LEN => return Err(corrupt(at, Corruption::RecordTruncated)),
            _ => {}
        }
        let (len, crc) = parse_frame_header(header).map_err(|r| corrupt(at, r))?;
        self.payload.clear();
        self.payload.resize(len, 0);
        if read_full(&mut self.src, &mut self.payload)? < len {
            return Err(corrupt(at, Corruption::RecordTruncated));
        }
        let cmd = check_payload(len, crc, &self.payload).map_err(|r| corrupt(at, r))?;
        if self.last_seq.is_some_and(|last| cmd.seq <= last) {
            return Err(corrupt(at, Corruption::SeqNotIncreasing));
        }
        // Bounded by the file length, itself a u64.
        self.offset = at + (FRAME_HEADER_LEN + len) as u64;
        self.last_seq = Some(cmd.seq);
        self.records += 1;
        Ok(Some(cmd))
    }
}

impl<R: Read> Iterator for JournalReader<R> {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let offset = self.offset;
        match self.read_record() {
            Ok(Some(command)) => Some(Ok(Record { offset, command })),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// What reading a whole journal found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Valid records.
    pub records: u64,
    /// Sequence number of the last valid record.
    pub last_seq: Option<u64>,
    /// Where the valid records end; the file's length after recovery.
    pub valid_end: u64,
    /// The file's length before recovery.
    pub file_len: u64,
    /// Why the tail was cut, if it was: the first bad record's fault.
    pub torn: Option<Corruption>,
}

impl Recovery {
    /// Bytes of torn tail removed (or, from [`scan`], to be removed). A torn header counts
    /// whole.
    #[must_use]
    pub fn torn_bytes(&self) -> u64 {
        match self.torn {
            Some(Corruption::FileHeaderShort) => self.file_len,
            _ => self.file_len.saturating_sub(self.valid_end),
        }
    }
}

/// Reads the journal at `path` without changing it, calling `apply` on every valid record.
/// A torn tail is reported in [`Recovery::torn`], not repaired.
///
/// # Errors
/// As [`recover`].
pub fn scan(path: &Path, apply: impl FnMut(&Record)) -> Result<Recovery, JournalError> {
    read_all(path, apply, None)
}

/// How [`recover_with`] treats a bad frame that valid records follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverMode {
    /// Refuse with [`JournalError::CorruptInside`]: damage inside the journal needs a person.
    /// The default, because truncating there drops acknowledged commands.
    Strict,
    /// Truncate at the first bad frame anyway. For an operator who has looked, or for a
    /// journal written under [`super::FsyncPolicy::Never`] or large batches, where a crash can
    /// persist the pages of an unsynced batch out of order and leave a hole before valid
    /// records that were never acknowledged.
    TruncateAtFirstFault,
}

/// Reads the journal at `path`, calling `apply` on every valid record in order, and truncates
/// a torn tail (syncing the file), so the journal can be appended to again.
///
/// A file shorter than its header (a crash while creating it) holds no record: it is given a
/// fresh header.
///
/// # Errors
/// - I/O errors;
/// - [`JournalError::Corrupt`] for a bad file header, or a record with a valid checksum that
///   does not decode or whose sequence number does not increase (written that way, so not a
///   torn tail);
/// - [`JournalError::CorruptInside`] when a bad record is followed by a valid one.
pub fn recover(path: &Path, apply: impl FnMut(&Record)) -> Result<Recovery, JournalError> {
    read_all(path, apply, Some(RecoverMode::Strict))
}

/// [`recover`] with a choice of what to do about a bad frame followed by valid records.
///
/// # Errors
/// As [`recover`]; under [`RecoverMode::TruncateAtFirstFault`] never
/// [`JournalError::CorruptInside`].
pub fn recover_with(
    path: &Path,
    mode: RecoverMode,
    apply: impl FnMut(&Record),
) -> Result<Recovery, JournalError> {
    read_all(path, apply, Some(mode))
}

fn read_all(
    path: &Path,
    mut apply: impl FnMut(&Record),
    repair: Option<RecoverMode>,
) -> Result<Recovery, JournalError> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = match JournalReader::new(BufReader::with_capacity(1 << 16, file)) {
        Ok(r) => r,
        Err(JournalError::Corrupt {
            reason: Corruption::FileHeaderShort,
            ..
        }) => {
            if repair.is_some() {
                rewrite_header(path)?;
            }
            return Ok(Recovery {
                records: 0,
                last_seq: None,
                valid_end: FILE_HEADER_LEN,
                file_len,
                torn: Some(Corruption::FileHeaderShort),
            });
        }
        Err(e) => return Err(e),
    };
    let mut fault = None;
    for item in reader.by_ref() {
        match item {
            Ok(record) => apply(&record),
            Err(JournalError::Corrupt { offset, reason }) => fault = Some((offset, reason)),
            Err(e) => return Err(e),
        }
    }
    let valid_end = reader.valid_end();
    let mut summary = Recovery {
        records: reader.records(),
        last_seq: reader.last_seq(),
        valid_end,
        file_len,
        torn: None,
    };
    let Some((offset, reason)) = fault else {
        return Ok(summary);
    };
    assert_eq!(
        offset, valid_end,
        "invariant: the bad record starts where valid ones end"
    );
    if !reason.is_framing() {
        return Err(corrupt(offset, reason));
    }
    if repair != Some(RecoverMode::TruncateAtFirstFault) {
        let mut file = File::open(path)?;
        if let Some(next_valid) = find_valid_record(&mut file, offset + 1)? {
            return Err(JournalError::CorruptInside {
                offset,
                reason,
                next_valid,
            });
        }
    }
    summary.torn = Some(reason);
    if repair.is_some() {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(valid_end)?;
        file.sync_all()?;
    }
    Ok(summary)
}

/// Replaces a file that is shorter than a header (so holds no record) with a bare header.
fn rewrite_header(path: &Path) -> Result<(), JournalError> {
    use std::io::Write;
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.set_len(0)?;
    file.write_all(&file_header())?;
    file.sync_all()?;
    Ok(())
}

/// Offset of the first valid record (frame, checksum and payload all good) starting at or
/// after `from`, if any. Scans a window at a time, so memory stays bounded however much of
/// the file follows.
fn find_valid_record(file: &mut File, from: u64) -> io::Result<Option<u64>> {
    const WINDOW: usize = 1 << 20;
    let frame_max = FRAME_HEADER_LEN + PAYLOAD_MAX;
    file.seek(SeekFrom::Start(from))?;
    let mut base = from;
    let mut buf: Vec<u8> = Vec::with_capacity(WINDOW + frame_max);
    loop {
        // Keep a full frame beyond the window, so a record that starts inside the window is
        // checked whole.
        let want = WINDOW + frame_max;
        let old = buf.len();
        buf.resize(want, 0);
        let got = read_full(file, &mut buf[old..])?;
        buf.truncate(old + got);
        let eof = buf.len() < want;
        let candidates = if eof { buf.len() } else { WINDOW };
        for i in 0..candidates {
            if decode_record(&buf[i..]).is_ok() {
                return Ok(Some(base + i as u64));
            }
        }
        if eof {
            return Ok(None);
        }
        buf.drain(..WINDOW);
        base += WINDOW as u64;
    }
}

/// Reads until `buf` is full or the source ends; returns the bytes read.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn corrupt(offset: u64, reason: Corruption) -> JournalError {
    JournalError::Corrupt { offset, reason }
}
