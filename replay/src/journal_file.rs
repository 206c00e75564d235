//! A fast sequential reader of a whole journal, for replay.
//!
//! The gateway's `JournalReader` copies each payload into its own buffer; replay wants every
//! record as fast as the disk (or page cache) gives it, so this reads the file in large chunks
//! and decodes each record in place. It checks exactly what the gateway's reader checks: the
//! file header, each frame's length and CRC32C, the payload encoding, and strictly increasing
//! sequence numbers. No allocation per record.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use cascade_engine::{Command, Sequenced};
use cascade_gateway::journal::{
    check_file_header, decode_record, Corruption, JournalError, FILE_HEADER_LEN, FRAME_HEADER_LEN,
    PAYLOAD_MAX,
};

use crate::error::ImportError;

/// Bytes read per chunk: large enough that the read calls cost nothing per record.
const CHUNK: usize = 8 << 20;
/// The largest record: a whole one always fits in what is kept ahead of the cursor.
const FRAME_MAX: usize = FRAME_HEADER_LEN + PAYLOAD_MAX;

/// Calls `apply` on every record of the journal at `path`, in order; `progress` gets the bytes
/// consumed so far now and then. Returns the number of records.
///
/// # Errors
/// I/O errors, and any corruption (with the journal's own code and the byte offset): a replay
/// stops at the first bad record rather than skip it.
pub fn for_each_record(
    path: &Path,
    mut apply: impl FnMut(&Sequenced<Command>),
    mut progress: impl FnMut(u64),
) -> Result<u64, ImportError> {
    let mut file = File::open(path).map_err(|e| ImportError::io(path, &e))?;
    let mut buf = vec![0u8; CHUNK + FRAME_MAX];
    let mut end = fill(&mut file, &mut buf, 0).map_err(|e| ImportError::io(path, &e))?;
    let corrupt = |offset: u64, reason: Corruption| {
        ImportError::journal(path, &JournalError::Corrupt { offset, reason })
    };
    let header: [u8; 16] = buf
        .get(..16)
        .filter(|_| end >= 16)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| corrupt(0, Corruption::FileHeaderShort))?;
    check_file_header(&header).map_err(|r| corrupt(0, r))?;
    let mut start = 16usize;
    // File offset of buf[0].
    let mut base = 0u64;
    let mut eof = end < buf.len();
    let mut last_seq: Option<u64> = None;
    let mut records = 0u64;
    loop {
        if end - start < FRAME_MAX && !eof {
            buf.copy_within(start..end, 0);
            base += start as u64;
            end -= start;
            start = 0;
            let got = fill(&mut file, &mut buf, end).map_err(|e| ImportError::io(path, &e))?;
            end += got;
            eof = end < buf.len();
            progress(base);
        }
        if start == end {
            break;
        }
        let offset = base + start as u64;
        let (cmd, len) = decode_record(&buf[start..end]).map_err(|r| corrupt(offset, r))?;
        if last_seq.is_some_and(|last| cmd.seq <= last) {
            return Err(corrupt(offset, Corruption::SeqNotIncreasing));
        }
        last_seq = Some(cmd.seq);
        apply(&cmd);
        records += 1;
        start += len;
    }
    debug_assert!(base + start as u64 >= FILE_HEADER_LEN);
    progress(base + start as u64);
    Ok(records)
}

/// Reads into `buf[from..]` until it is full or the file ends; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8], from: usize) -> std::io::Result<usize> {
    let mut n = 0;
    while from + n < buf.len() {
        match file.read(&mut buf[from + n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
