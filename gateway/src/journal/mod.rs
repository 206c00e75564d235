//! The journal: an append-only file of sequenced commands, one checksummed record per command.
//!
//! The sequencer appends every `Sequenced<Command>` here before the core applies it; replaying
//! the journal (or a snapshot and the journal after it) reproduces the engine exactly.
//!
//! # Layout
//! ```text
//! file   = header record*
//! header = magic "CASCJRNL" (8) · version u32 LE (4) · crc32c(bytes 0..12) u32 LE (4)
//! record = len u32 LE (4) · crc u32 LE (4) · payload (len bytes)
//!          crc = CRC32C over the 4 length bytes then the payload
//! ```
//! The payload is [`codec`]'s encoding of one `Sequenced<Command>`. `docs/DURABILITY.md` gives
//! every byte offset.
//!
//! # Invariants
//! - Sequence numbers strictly increase from record to record: checked on append
//!   ([`JournalWriter::append`]) and again on read ([`JournalReader`]).
//! - Every record the writer produces reads back as the same command (the codec is
//!   canonical), and nothing the reader is given can make it panic.
//!
//! # Ordering
//! Records are in sequence order, which is file order. Group commit: appends are buffered and
//! written and synced together according to the [`FsyncPolicy`], so one `fdatasync` covers a
//! batch of commands.
//!
//! # Torn tails
//! A crash in the middle of an append leaves a *torn tail*: a frame cut short, or one whose
//! length or checksum is wrong because only part of it reached the disk. [`recover`] finds the
//! first bad record; if no valid record follows it anywhere in the file, it is a torn tail and
//! the file is truncated there. If a valid record *does* follow, the damage is inside the
//! journal, not at its end: recovery refuses ([`JournalError::CorruptInside`]) rather than drop
//! acknowledged commands, unless told otherwise ([`RecoverMode::TruncateAtFirstFault`]). A
//! record whose checksum is right but whose payload does not decode (a newer version, say) was
//! written that way and is never truncated either.
//!
//! # Known limitations
//! One file, never compacted: a snapshot shortens recovery but not the journal. Segment files
//! that can be deleted once a snapshot covers them are the natural next step.

pub mod codec;
pub mod error;
mod reader;
mod writer;

pub use error::{Corruption, JournalError};
pub use reader::{recover, recover_with, scan, JournalReader, Record, RecoverMode, Recovery};
pub(crate) use writer::sync_parent_dir;
pub use writer::{FsyncPolicy, JournalWriter};

use cascade_engine::{Command, Sequenced};

/// First 8 bytes of every journal file.
pub const FILE_MAGIC: [u8; 8] = *b"CASCJRNL";
/// Version of the file and frame layout written by this build.
pub const FILE_VERSION: u32 = 1;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: u64 = 16;
/// Bytes of a record's frame before its payload: length and CRC.
pub const FRAME_HEADER_LEN: usize = 8;
/// Smallest valid payload length.
pub const PAYLOAD_MIN: usize = codec::PAYLOAD_HEADER_LEN;
/// Largest valid payload length.
pub const PAYLOAD_MAX: usize = codec::PAYLOAD_MAX;

/// The 16 header bytes every journal file starts with.
#[must_use]
pub fn file_header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&FILE_MAGIC);
    h[8..12].copy_from_slice(&FILE_VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a file header.
///
/// # Errors
/// The [`Corruption`] found: wrong magic, checksum or version.
pub fn check_file_header(h: &[u8; 16]) -> Result<(), Corruption> {
    if h[..8] != FILE_MAGIC {
        return Err(Corruption::FileMagic);
    }
    let (body, crc) = h.split_at(12);
    if crc32c::crc32c(body).to_le_bytes() != crc {
        return Err(Corruption::FileHeaderChecksum);
    }
    if body[8..12] != FILE_VERSION.to_le_bytes() {
        return Err(Corruption::FileVersion);
    }
    Ok(())
}

/// The checksum of a record: CRC32C over its 4 length bytes, then its payload. Covering the
/// length means a damaged length cannot pass as a shorter, valid record.
#[must_use]
pub fn record_crc(len: u32, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), payload)
}

/// Appends one framed record (length, CRC, payload) for `cmd` to `out`; returns its size.
pub fn encode_record(cmd: &Sequenced<Command>, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    let len = codec::encode(cmd, out);
    // The codec bounds every payload by PAYLOAD_MAX (4096), so the length fits a u32.
    let len32 = u32::try_from(len).expect("invariant: payload ≤ PAYLOAD_MAX");
    let crc = record_crc(len32, &out[start + FRAME_HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&len32.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    FRAME_HEADER_LEN + len
}

/// Reads a frame header: the payload length, if within bounds, and the stored CRC.
///
/// # Errors
/// [`Corruption::RecordLength`] when the length is outside `PAYLOAD_MIN..=PAYLOAD_MAX`.
pub fn parse_frame_header(h: [u8; FRAME_HEADER_LEN]) -> Result<(usize, u32), Corruption> {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = h;
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    match usize::try_from(len) {
        Ok(len) if (PAYLOAD_MIN..=PAYLOAD_MAX).contains(&len) => Ok((len, crc)),
        _ => Err(Corruption::RecordLength),
    }
}

/// Checks a whole record (`bytes` starts at its frame) and decodes it.
///
/// # Errors
/// The first [`Corruption`]: truncated, bad length, bad checksum, or a payload that does not
/// decode.
pub fn decode_record(bytes: &[u8]) -> Result<(Sequenced<Command>, usize), Corruption> {
    let Some((header, rest)) = bytes.split_first_chunk::<FRAME_HEADER_LEN>() else {
        return Err(Corruption::RecordTruncated);
    };
    let (len, crc) = parse_frame_header(*header)?;
    let Some(payload) = rest.get(..len) else {
        return Err(Corruption::RecordTruncated);
    };
    check_payload(len, crc, payload).map(|cmd| (cmd, FRAME_HEADER_LEN + len))
}

/// Verifies a payload against its frame's CRC and decodes it.
fn check_payload(len: usize, crc: u32, payload: &[u8]) -> Result<Sequenced<Command>, Corruption> {
    let len32 = u32::try_from(len).map_err(|_| Corruption::RecordLength)?;
    if record_crc(len32, payload) != crc {
        return Err(Corruption::RecordChecksum);
    }
    codec::decode(payload)
}
