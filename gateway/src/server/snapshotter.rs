//! The snapshot writer thread: encodes and writes engine snapshots while the core trades.
//!
//! # Why
//! Encoding a snapshot walks all of the engine's state (tens of MB with the default limits),
//! and writing it ends in two `fsync`s. Done on the core, trading stopped for all of that. Now
//! the core only syncs the journal (so a snapshot is never ahead of it) and clones the engine,
//! both short, and this thread does the rest on the copy.
//!
//! # Protocol
//! [`Snapshotter::start_job`] hands over a copy of the engine; one job runs at a time (the
//! core asks again at its next commit if the writer is busy). The copy comes back in [`Done`]
//! so that the next snapshot refreshes it in place: the core keeps a second engine's worth of
//! memory while snapshots are on, and copies into warm pages instead of allocating anew
//! (docs/PROTOCOL.md 8.2 has the measured pauses). When a job ends the thread sends
//! its [`Done`] and pushes [`ToCore::SnapshotDone`] so that an idle core wakes to answer the
//! operator requests waiting for it. Dropping the handle lets the running job finish, then
//! stops the thread.

use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cascade_engine::Engine;
use crossbeam_channel::{bounded, Receiver, Sender};

use super::core::ToCore;
use crate::ring::Notifier;
use crate::snapshot;

/// How one snapshot job ended.
#[derive(Debug)]
pub struct Done {
    /// The last command the snapshot holds.
    pub seq: u64,
    /// The file written and how long encoding and writing took, or why it failed.
    pub result: Result<(PathBuf, Duration), String>,
    /// The copy the job wrote, handed back for the next snapshot to refresh in place
    /// (`Engine::clone_from` reuses its storage: no allocation, no fresh pages).
    pub spare: Option<Box<Engine>>,
}

/// Writes a snapshot of `engine` into `dir` and keeps the newest `keep` (at least one); the
/// path and the time since `started`. The journal must already hold `engine`'s last command
/// (`Store::prepare_snapshot`).
///
/// # Errors
/// The write or the pruning failed (as text: it is logged and answered, not matched on).
pub fn write_and_prune(
    dir: &Path,
    engine: &Engine,
    keep: usize,
    started: Instant,
) -> Result<(PathBuf, Duration), String> {
    let path = snapshot::write(dir, engine).map_err(|e| e.to_string())?;
    snapshot::prune(dir, keep.max(1)).map_err(|e| format!("pruning old snapshots: {e}"))?;
    Ok((path, started.elapsed()))
}

/// The core's handle on its snapshot writer.
pub struct Snapshotter {
    jobs: Option<Sender<Box<Engine>>>,
    done: Receiver<Done>,
    busy: bool,
    thread: Option<JoinHandle<()>>,
}

impl Snapshotter {
    /// Starts the writer for the journal directory `dir`, keeping the newest `keep` snapshots.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(dir: PathBuf, keep: usize, wake: Notifier<ToCore>) -> std::io::Result<Self> {
        let (jobs, job_rx) = bounded::<Box<Engine>>(1);
        let (done_tx, done) = bounded::<Done>(1);
        let thread = thread::Builder::new()
            .name("cascade-snapshot".into())
            .spawn(move || {
                for engine in job_rx {
                    let result = write_and_prune(&dir, &engine, keep, Instant::now());
                    let seq = engine.last_seq();
                    let done = Done {
                        seq,
                        result,
                        spare: Some(engine),
                    };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                    // A full ring means the core is busy and polls at its next commit anyway.
                    let _ = wake.try_push(ToCore::SnapshotDone);
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            busy: false,
            thread: Some(thread),
        })
    }

    /// Whether a job is running.
    #[must_use]
    pub const fn busy(&self) -> bool {
        self.busy
    }

    /// Hands `engine` (a copy the caller made after syncing the journal through its last
    /// command) to the writer. False, and nothing done, while a job is running or when the
    /// thread has stopped.
    pub fn start_job(&mut self, engine: Box<Engine>) -> bool {
        if self.busy {
            return false;
        }
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(engine).is_ok());
        self.busy = sent;
        sent
    }

    /// The running job's outcome if it has ended (never blocks).
    pub fn poll(&mut self) -> Option<Done> {
        if !self.busy {
            return None;
        }
        let done = self.done.try_recv().ok()?;
        self.busy = false;
        Some(done)
    }

    /// Waits for the running job, if any, and returns its outcome.
    pub fn wait(&mut self) -> Option<Done> {
        if !self.busy {
            return None;
        }
        self.busy = false;
        self.done.recv().ok()
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after the running job. Its last outcome
        // always fits: one job runs at a time and its `Done` is the only one in flight.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring;
    use cascade_engine::Limits;

    #[test]
    fn writes_in_the_background_and_wakes_the_core() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_tx, mut rx) = ring::ring::<ToCore>(8);
        let mut writer =
            Snapshotter::start(dir.path().to_path_buf(), 2, rx.notifier()).expect("start");
        let engine = Box::new(Engine::new(Limits::SMALL));
        assert!(writer.start_job(engine.clone()));
        assert!(writer.busy());
        assert!(!writer.start_job(engine), "one job at a time");
        let done = writer.wait().expect("a job ran");
        assert_eq!(done.seq, 0);
        let (path, _) = done.result.expect("written");
        assert!(path.exists());
        assert!(!writer.busy());
        assert!(matches!(rx.pop(), Some(ToCore::SnapshotDone)));
        let (_, loaded) = snapshot::load(&path).expect("loads");
        assert_eq!(loaded.state_hash(), Engine::new(Limits::SMALL).state_hash());
    }

    #[test]
    fn a_failed_write_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("missing");
        let (_tx, rx) = ring::ring::<ToCore>(8);
        let mut writer = Snapshotter::start(gone, 2, rx.notifier()).expect("start");
        assert!(writer.start_job(Box::new(Engine::new(Limits::SMALL))));
        let done = writer.wait().expect("a job ran");
        assert!(done.result.is_err(), "{done:?}");
    }
}
