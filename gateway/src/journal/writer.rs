//! Appending to a journal: group commit under a configurable fsync policy.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use cascade_engine::{Command, Sequenced};

use super::error::JournalError;
use super::reader::Recovery;
use super::{encode_record, file_header, FILE_HEADER_LEN};

/// Buffered records are written out (without a sync) once they reach this many bytes, so the
/// buffer stays bounded whatever the policy.
const WRITE_CHUNK: usize = 1 << 16;

/// When the journal makes appended records durable (`fdatasync`).
///
/// Records are always written in append order, and [`JournalWriter::commit`] is the group
/// commit: it writes what is buffered and syncs once for the whole batch (except under
/// [`FsyncPolicy::Never`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Write and sync every record as it is appended: each append is durable when it returns.
    EveryRecord,
    /// Sync when this many records, or this many bytes, have been appended since the last
    /// sync, whichever comes first (0 turns a threshold off; with both off, only
    /// [`JournalWriter::commit`] syncs).
    Batch {
        /// Records between syncs (0: no record threshold).
        records: u32,
        /// Bytes between syncs (0: no byte threshold).
        bytes: u64,
    },
    /// Never sync: the operating system writes back when it likes. For benchmarks and
    /// replays, not for a venue. [`JournalWriter::sync`] still syncs when asked.
    Never,
}

/// Appends records to a journal file.
///
/// # Invariants
/// Sequence numbers strictly increase (an append that breaks this is refused before anything
/// is buffered). After any failed write or sync the writer refuses all further work: the file's
/// state is unknown until [`super::recover`] has read it back.
#[derive(Debug)]
pub struct JournalWriter {
    file: File,
    policy: FsyncPolicy,
    /// Encoded records not yet written.
    pending: Vec<u8>,
    /// Records and bytes appended since the last sync.
    unsynced_records: u64,
    unsynced_bytes: u64,
    /// Offset where the next record goes (after the pending bytes).
    end: u64,
    last_seq: Option<u64>,
    /// Last sequence number handed to the operating system.
    written_seq: Option<u64>,
    /// Last sequence number synced to disk.
    synced_seq: Option<u64>,
    failed: bool,
}

impl JournalWriter {
    /// Creates a new, empty journal at `path` (which must not exist) and syncs it and its
    /// directory.
    ///
    /// # Errors
    /// I/O errors, including the file already existing.
    pub fn create(path: &Path, policy: FsyncPolicy) -> Result<Self, JournalError> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
        file.write_all(&file_header())?;
        file.sync_all()?;
        sync_parent_dir(path)?;
        Ok(Self::at(file, policy, FILE_HEADER_LEN, None))
    }

    /// Opens an existing journal for appending after reading it through; the tail must be
    /// clean.
    ///
    /// # Errors
    /// I/O and corruption errors from the read, or [`JournalError::NeedsRecovery`] when the
    /// tail is torn.
    pub fn open(path: &Path, policy: FsyncPolicy) -> Result<Self, JournalError> {
        let summary = super::scan(path, |_| {})?;
        Self::open_recovered(path, &summary, policy)
    }

    /// Opens a journal for appending after [`super::recover`] (or [`super::scan`]) read it,
    /// without reading it again.
    ///
    /// # Errors
    /// I/O errors, or [`JournalError::NeedsRecovery`] when the file does not end where the
    /// valid records end (a torn tail not yet truncated, or a file changed since).
    pub fn open_recovered(
        path: &Path,
        summary: &Recovery,
        policy: FsyncPolicy,
    ) -> Result<Self, JournalError> {
        let file = OpenOptions::new().append(true).open(path)?;
        let len = file.metadata()?.len();
        if len != summary.valid_end {
            return Err(JournalError::NeedsRecovery {
                valid_end: summary.valid_end,
            });
        }
        Ok(Self::at(file, policy, len, summary.last_seq))
    }

    fn at(file: File, policy: FsyncPolicy, end: u64, last_seq: Option<u64>) -> Self {
        Self {
            file,
            policy,
            pending: Vec::with_capacity(2 * WRITE_CHUNK),
            unsynced_records: 0,
            unsynced_bytes: 0,
            end,
            last_seq,
            written_seq: last_seq,
            synced_seq: last_seq,
            failed: false,
        }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Sequence number of the last record appended (buffered or not).
    #[must_use]
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Sequence number of the last record synced to disk: everything up to it survives a
    /// crash. A gateway acknowledges commands up to here.
    #[must_use]
    pub fn durable_seq(&self) -> Option<u64> {
        self.synced_seq
    }

    /// Sequence number of the last record written to the operating system (survives a crash
    /// of the process, not of the machine).
    #[must_use]
    pub fn written_seq(&self) -> Option<u64> {
        self.written_seq
    }

    /// File offset where the next record goes.
    #[must_use]
    pub fn end_offset(&self) -> u64 {
        self.end
    }

    /// Appends one command. Depending on the policy it is buffered, or written and synced
    /// with everything buffered before it.
    ///
    /// # Errors
    /// [`JournalError::SeqNotIncreasing`] (nothing is appended), or an I/O error from a write
    /// or sync the policy called for (the writer then refuses further work).
    pub fn append(&mut self, cmd: &Sequenced<Command>) -> Result<(), JournalError> {
        self.check_usable()?;
        if let Some(last) = self.last_seq {
            if cmd.seq <= last {
                return Err(JournalError::SeqNotIncreasing { seq: cmd.seq, last });
            }
        }
        let size = encode_record(cmd, &mut self.pending);
        self.last_seq = Some(cmd.seq);
        // A record is at most 8 + PAYLOAD_MAX bytes.
        self.end += size as u64;
        self.unsynced_records += 1;
        self.unsynced_bytes += size as u64;
        match self.policy {
            FsyncPolicy::EveryRecord => self.sync(),
            FsyncPolicy::Batch { records, bytes } => {
                let by_records = records > 0 && self.unsynced_records >= u64::from(records);
                let by_bytes = bytes > 0 && self.unsynced_bytes >= bytes;
                if by_records || by_bytes {
                    self.sync()
                } else {
                    self.write_out_if_large()
                }
            }
            FsyncPolicy::Never => self.write_out_if_large(),
        }
    }

    /// The group commit: writes everything buffered and, unless the policy is
    /// [`FsyncPolicy::Never`], syncs it. Returns [`JournalWriter::durable_seq`] (under `Never`,
    /// what was written).
    ///
    /// # Errors
    /// An I/O error (the writer then refuses further work).
    pub fn commit(&mut self) -> Result<Option<u64>, JournalError> {
        match self.policy {
            FsyncPolicy::Never => {
                self.write_out()?;
                Ok(self.written_seq)
            }
            _ => {
                self.sync()?;
                Ok(self.synced_seq)
            }
        }
    }

    /// Writes everything buffered and syncs it, whatever the policy.
    ///
    /// # Errors
    /// An I/O error (the writer then refuses further work).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.write_out()?;
        if self.unsynced_bytes == 0 {
            return Ok(());
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the page cache may have dropped the dirty pages: nothing
            // written since the last good sync can be trusted, so stop here.
            self.failed = true;
            return Err(e.into());
        }
        self.synced_seq = self.written_seq;
        self.unsynced_records = 0;
        self.unsynced_bytes = 0;
        Ok(())
    }

    /// Writes everything buffered to the operating system without syncing, whatever the
    /// policy; returns [`JournalWriter::written_seq`]. For a caller that syncs elsewhere (a
    /// sync thread working on [`JournalWriter::sync_handle`] while the next batch is
    /// sequenced): records written here are durable once that sync has returned.
    ///
    /// # Errors
    /// An I/O error (the writer then refuses further work).
    pub fn write_buffered(&mut self) -> Result<Option<u64>, JournalError> {
        self.write_out()?;
        Ok(self.written_seq)
    }

    /// A second handle on the journal file, to `fdatasync` it from another thread.
    ///
    /// # Errors
    /// The `dup` failing.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    fn write_out_if_large(&mut self) -> Result<(), JournalError> {
        if self.pending.len() >= WRITE_CHUNK {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), JournalError> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(&self.pending) {
            self.failed = true;
            return Err(e.into());
        }
        self.pending.clear();
        self.written_seq = self.last_seq;
        Ok(())
    }

    fn check_usable(&self) -> Result<(), JournalError> {
        if self.failed {
            return Err(JournalError::Io(io::Error::other(
                "journal writer failed earlier; recover the journal before appending",
            )));
        }
        Ok(())
    }
}

impl Drop for JournalWriter {
    /// Writes what is buffered, best effort and without a sync: a clean shutdown should not
    /// lose records, and a failed write here leaves a torn tail that recovery removes.
    fn drop(&mut self) {
        if !self.failed && !self.pending.is_empty() {
            // Ignored on purpose: nothing can report it, and recovery handles a partial write.
            let _ = self.file.write_all(&self.pending);
        }
    }
}

/// Syncs the directory holding `path`, so a newly created or renamed file's name is durable.
///
/// # Errors
/// I/O errors.
pub(crate) fn sync_parent_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
