//! Snapshots: the whole engine state in one checksummed file, so recovery need not replay the
//! journal from genesis. The only module that knows about serde and bincode.
//!
//! # Layout
//! ```text
//! offset  size  field
//!      0     8  magic "CASCSNAP"
//!      8     4  format version u32 LE (SNAPSHOT_VERSION = 3)
//!     12     4  reserved u32, 0
//!     16     8  seq          u64 LE: the engine's last applied sequence number
//!     24     8  state_hash   u64 LE: Engine::state_hash() when taken
//!     32     8  payload_len  u64 LE
//!     40     4  payload_crc  u32 LE: CRC32C of the payload
//!     44     4  header_crc   u32 LE: CRC32C of bytes 0..44
//!     48     …  payload: the Engine, serde + bincode 2.0.1, `config::standard()`
//!               (little-endian, variable-length integers)
//! ```
//! The payload is the engine's serde form (the `serde` feature of `cascade-engine` and
//! `cascade-risk`), which follows the engine's struct layout: a change to engine state types
//! must bump [`SNAPSHOT_VERSION`]. An old snapshot is then refused, and recovery falls back to
//! an older one or to replaying the journal from genesis.
//!
//! # Invariants
//! Loading checks, in order: magic, header checksum, version, payload length and checksum,
//! that bincode consumes the payload exactly, the restored engine's array shapes
//! (`Engine::restore_capacities`, which also gives back its preallocated capacities), its
//! sequence number, the full invariant audit, and finally that `state_hash()` equals the
//! header's. A snapshot that loads is the engine that was saved.
//!
//! # Ordering
//! A snapshot is written to `snapshot-<seq>.snap.tmp`, synced, renamed to
//! `snapshot-<seq>.snap` (seq as 20 zero-padded digits, so names sort by seq) and the
//! directory synced: a crash leaves either no snapshot or a whole one.
//!
//! # Known limitations
//! The payload holds the preallocated arrays whole (free order slots, empty hash buckets), so
//! its size follows the limits, not the live state: about 4 MiB for `Limits::SMALL`. Content
//! forged to pass the checksums is refused if it breaks a shape, a link, a spec check or an
//! invariant of the audit ([`decode_payload`] never panics); a forged state that keeps every
//! invariant loads, as it would be a state the engine could have reached.

use core::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use cascade_engine::Engine;

use crate::journal::sync_parent_dir;

/// First 8 bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"CASCSNAP";
/// Version of the snapshot layout and payload written by this build.
pub const SNAPSHOT_VERSION: u32 = 3;
/// Bytes of the snapshot header.
pub const HEADER_LEN: usize = 48;

const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";

/// The bincode configuration of the payload, spelled out so a change of bincode's defaults
/// cannot change the format. Public for tools that build payloads field by field (the
/// forged-snapshot tests and fuzz target re-encode the limits that lead every payload).
#[must_use]
pub fn payload_config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_variable_int_encoding()
        .with_no_limit()
}

/// The fixed header of a snapshot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The engine's last applied sequence number.
    pub seq: u64,
    /// `Engine::state_hash()` when the snapshot was taken.
    pub state_hash: u64,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// CRC32C of the payload.
    pub payload_crc: u32,
}

impl SnapshotHeader {
    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
        h[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        h[16..24].copy_from_slice(&self.seq.to_le_bytes());
        h[24..32].copy_from_slice(&self.state_hash.to_le_bytes());
        h[32..40].copy_from_slice(&self.payload_len.to_le_bytes());
        h[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&h[..44]);
        h[44..48].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Parses and checks a header.
    ///
    /// # Errors
    /// [`SnapshotError::Magic`], [`SnapshotError::HeaderChecksum`] or
    /// [`SnapshotError::Version`].
    pub fn parse(h: &[u8; HEADER_LEN]) -> Result<Self, SnapshotError> {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let half = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&h[at..at + 4]);
            u32::from_le_bytes(b)
        };
        if h[0..8] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::Magic);
        }
        if crc32c::crc32c(&h[..44]) != half(44) {
            return Err(SnapshotError::HeaderChecksum);
        }
        if half(8) != SNAPSHOT_VERSION || half(12) != 0 {
            return Err(SnapshotError::Version(half(8)));
        }
        Ok(Self {
            seq: word(16),
            state_hash: word(24),
            payload_len: word(32),
            payload_crc: half(40),
        })
    }
}

/// Why a snapshot could not be written or loaded. [`SnapshotError::code`] gives a stable
/// number for each kind.
#[derive(Debug)]
pub enum SnapshotError {
    /// The operating system refused a read or write.
    Io(io::Error),
    /// The file is shorter than its header.
    TooShort,
    /// The file does not start with the snapshot magic.
    Magic,
    /// The header's checksum does not match.
    HeaderChecksum,
    /// A format version this build cannot read.
    Version(u32),
    /// The payload's length is not the header's.
    PayloadLength,
    /// The payload's checksum does not match.
    PayloadChecksum,
    /// bincode could not encode or decode the engine, or left bytes over.
    Codec(String),
    /// The restored engine's arrays do not fit its limits.
    Shape(String),
    /// The restored engine's sequence number is not the header's.
    Seq {
        /// In the header.
        header: u64,
        /// In the engine.
        engine: u64,
    },
    /// The restored engine fails the invariant audit.
    Audit(String),
    /// The restored engine's state hash is not the header's.
    StateHash {
        /// In the header.
        header: u64,
        /// Of the restored engine.
        engine: u64,
    },
}

impl SnapshotError {
    /// A stable numeric code (documented in `docs/DURABILITY.md`).
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            SnapshotError::Io(_) => 100,
            SnapshotError::TooShort => 101,
            SnapshotError::Magic => 102,
            SnapshotError::HeaderChecksum => 103,
            SnapshotError::Version(_) => 104,
            SnapshotError::PayloadLength => 105,
            SnapshotError::PayloadChecksum => 106,
            SnapshotError::Codec(_) => 107,
            SnapshotError::Shape(_) => 108,
            SnapshotError::Seq { .. } => 109,
            SnapshotError::Audit(_) => 110,
            SnapshotError::StateHash { .. } => 111,
        }
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Io(e) => write!(f, "snapshot i/o: {e}"),
            SnapshotError::TooShort => f.write_str("snapshot shorter than its header"),
            SnapshotError::Magic => f.write_str("not a snapshot (bad magic)"),
            SnapshotError::HeaderChecksum => f.write_str("snapshot header checksum mismatch"),
            SnapshotError::Version(v) => write!(f, "snapshot version {v} not supported"),
            SnapshotError::PayloadLength => f.write_str("snapshot payload length mismatch"),
            SnapshotError::PayloadChecksum => f.write_str("snapshot payload checksum mismatch"),
            SnapshotError::Codec(e) => write!(f, "snapshot payload: {e}"),
            SnapshotError::Shape(e) => write!(f, "snapshot engine shape: {e}"),
            SnapshotError::Seq { header, engine } => {
                write!(f, "snapshot header seq {header} but engine seq {engine}")
            }
            SnapshotError::Audit(e) => write!(f, "restored engine fails its audit: {e}"),
            SnapshotError::StateHash { header, engine } => write!(
                f,
                "restored state hash {engine:#018x} is not the header's {header:#018x}"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for SnapshotError {
    fn from(e: io::Error) -> Self {
        SnapshotError::Io(e)
    }
}

/// Encodes an engine as a whole snapshot file (header and payload).
///
/// # Errors
/// [`SnapshotError::Codec`] if bincode refuses (it does not for engine state).
pub fn encode(engine: &Engine) -> Result<Vec<u8>, SnapshotError> {
    let payload = encode_payload(engine)?;
    let header = SnapshotHeader {
        seq: engine.last_seq(),
        state_hash: engine.state_hash(),
        payload_len: payload.len() as u64,
        payload_crc: crc32c::crc32c(&payload),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes and verifies a whole snapshot file (see the module's `# Invariants`).
///
/// # Errors
/// The first check that fails, as a [`SnapshotError`].
pub fn decode(bytes: &[u8]) -> Result<(SnapshotHeader, Engine), SnapshotError> {
    let Some((h, payload)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(SnapshotError::TooShort);
    };
    let header = SnapshotHeader::parse(h)?;
    if payload.len() as u64 != header.payload_len {
        return Err(SnapshotError::PayloadLength);
    }
    if crc32c::crc32c(payload) != header.payload_crc {
        return Err(SnapshotError::PayloadChecksum);
    }
    let engine = decode_payload(payload, Some(header.seq))?;
    let hash = engine.state_hash();
    if hash != header.state_hash {
        return Err(SnapshotError::StateHash {
            header: header.state_hash,
            engine: hash,
        });
    }
    Ok((header, engine))
}

/// Decodes a snapshot's payload (the checksums already verified, or not there to verify: a
/// payload from any source goes through here) into an engine, checking in order that bincode
/// consumes it exactly, the array shapes (`Engine::restore_capacities`), the sequence number
/// when `seq` is given, and the full invariant audit.
///
/// # Errors
/// The first check that fails. Never panics, whatever the bytes: the `snapshot` fuzz target
/// feeds it forged payloads.
pub fn decode_payload(payload: &[u8], seq: Option<u64>) -> Result<Engine, SnapshotError> {
    let (mut engine, used): (Engine, usize) =
        bincode::serde::decode_from_slice(payload, payload_config())
            .map_err(|e| SnapshotError::Codec(e.to_string()))?;
    if used != payload.len() {
        return Err(SnapshotError::Codec(format!(
            "{} bytes left after the engine",
            payload.len() - used
        )));
    }
    // The payload stores the arrays its limits size in full (accounts, order slab, id and
    // price tables), so a real snapshot's remaining reservations are a small multiple of its
    // length (2.4x for the default limits, 7.8x for a million accounts with a position each:
    // `real_limits_stay_within_the_reservation_budget`); forged limits must not make a small
    // file reserve gigabytes.
    let budget = (payload.len() as u64)
        .saturating_mul(RESERVE_PER_PAYLOAD_BYTE)
        .max(RESERVE_FLOOR);
    let wanted = engine.limits().reserved_bytes();
    if wanted > budget {
        return Err(SnapshotError::Shape(format!(
            "limits reserve {wanted} bytes, past {budget} for a payload of {} bytes",
            payload.len()
        )));
    }
    engine.restore_capacities().map_err(SnapshotError::Shape)?;
    if let Some(seq) = seq.filter(|s| *s != engine.last_seq()) {
        return Err(SnapshotError::Seq {
            header: seq,
            engine: engine.last_seq(),
        });
    }
    engine.audit().map_err(SnapshotError::Audit)?;
    Ok(engine)
}

/// The payload of a snapshot of `engine` (what [`encode`] puts after the header).
///
/// # Errors
/// [`SnapshotError::Codec`] if bincode refuses (it does not for engine state).
pub fn encode_payload(engine: &Engine) -> Result<Vec<u8>, SnapshotError> {
    bincode::serde::encode_to_vec(engine, payload_config())
        .map_err(|e| SnapshotError::Codec(e.to_string()))
}

/// Bytes a loaded engine may reserve per byte of its snapshot payload (see `decode_payload`).
const RESERVE_PER_PAYLOAD_BYTE: u64 = 64;
/// Bytes a loaded engine may reserve whatever its payload's size.
const RESERVE_FLOOR: u64 = 1 << 30;

/// The file name of the snapshot at `seq`.
#[must_use]
pub fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{SUFFIX}")
}

/// Writes a snapshot of `engine` into `dir` atomically (temporary file, sync, rename, sync of
/// the directory) and returns its path.
///
/// # Errors
/// I/O errors, or [`SnapshotError::Codec`].
pub fn write(dir: &Path, engine: &Engine) -> Result<PathBuf, SnapshotError> {
    let bytes = encode(engine)?;
    let path = dir.join(file_name(engine.last_seq()));
    let tmp = dir.join(format!("{}.tmp", file_name(engine.last_seq())));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    sync_parent_dir(&path)?;
    Ok(path)
}

/// Reads and verifies the snapshot file at `path`.
///
/// # Errors
/// As [`decode`], plus I/O errors.
pub fn load(path: &Path) -> Result<(SnapshotHeader, Engine), SnapshotError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    decode(&bytes)
}

/// The snapshots in `dir` as `(seq, path)`, newest first. Only names of the form
/// `snapshot-<20 digits>.snap` count; temporary files do not.
///
/// # Errors
/// I/O errors listing the directory.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = digits.parse::<u64>() {
            out.push((seq, entry.path()));
        }
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out)
}

/// Deletes all but the newest `keep` snapshots in `dir`; returns how many it deleted.
///
/// # Errors
/// I/O errors.
pub fn prune(dir: &Path, keep: usize) -> io::Result<usize> {
    let all = list(dir)?;
    let mut removed = 0;
    for (_, path) in all.iter().skip(keep) {
        fs::remove_file(path)?;
        removed += 1;
    }
    Ok(removed)
}
