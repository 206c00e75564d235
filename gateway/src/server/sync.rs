//! The journal-sync thread: `fdatasync`s the order-entry log and the journal while the core
//! sequences the next batch.
//!
//! # Why
//! A sync costs milliseconds on ordinary disks (1.7 ms median, tens of ms at worst on a busy
//! virtual disk) against about a microsecond per message. Syncing on the core stopped
//! sequencing for that long after every batch, so the sync, not the engine, set both the
//! pipelined throughput and the latency of every order queued behind it.
//!
//! # Protocol
//! At each group commit the core writes the batch's records out (`write`, no sync) and calls
//! [`SyncThread::request`], which returns the request's number; the core keeps the batch's
//! answers back and goes on with the next batch. The thread syncs both files at once (the
//! journal itself, the order-entry log on a helper thread: two `fdatasync`s in a row cost two
//! device flushes, two at once on one file system usually share one), and counts the request
//! durable when both have returned, so neither file is behind the other for an answered message.
//! A sync covers every request made before it began: requests made while a sync runs are served
//! together by the next one (a group commit across batches). It then publishes the number reached
//! ([`SyncThread::durable`]) and pushes [`ToCore::Durable`] so that an idle core wakes to send
//! the answers that were waiting. The core sends a batch's answers only once `durable` has
//! reached the batch's request: nothing is acknowledged before its journal record is durable.
//!
//! A failed sync is final: the thread stops, [`SyncThread::durable`] reports the error, and the
//! core stops without sending the answers (after a failed `fdatasync` the page cache may have
//! dropped the pages, so nothing written since the last good sync can be trusted).

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use super::core::ToCore;
use super::metrics::Metrics;
use crate::ring::Notifier;

struct State {
    requested: u64,
    durable: u64,
    error: Option<String>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// `state.durable`, readable without the lock on the core's hot path.
    durable: AtomicU64,
    failed: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock guards plain numbers that every writer leaves consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The core's handle on its sync thread; dropping it syncs what was requested, then stops the
/// thread.
pub struct SyncThread {
    shared: Arc<Shared>,
    requested: u64,
    thread: Option<JoinHandle<()>>,
}

impl SyncThread {
    /// Starts the thread syncing all of `files` at every request, at once.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        files: Vec<File>,
        wake: Notifier<ToCore>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requested: 0,
                durable: 0,
                error: None,
                stop: false,
            }),
            changed: Condvar::new(),
            durable: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let thread = thread::Builder::new().name("cascade-sync".into()).spawn({
            let shared = Arc::clone(&shared);
            move || run(&shared, &files, &wake, &metrics)
        })?;
        Ok(Self {
            shared,
            requested: 0,
            thread: Some(thread),
        })
    }

    /// Asks for a sync of everything written so far; returns the request's number.
    pub fn request(&mut self) -> u64 {
        self.requested += 1;
        self.shared.lock().requested = self.requested;
        self.shared.changed.notify_all();
        self.requested
    }

    /// The number of the last request.
    #[must_use]
    pub const fn requested(&self) -> u64 {
        self.requested
    }

    /// The number of the last request whose sync has returned.
    ///
    /// # Errors
    /// A sync failed.
    pub fn durable(&self) -> Result<u64, String> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(self.error());
        }
        Ok(self.shared.durable.load(Ordering::Acquire))
    }

    /// Waits until every request so far is durable.
    ///
    /// # Errors
    /// A sync failed.
    pub fn wait_all(&self) -> Result<(), String> {
        let mut st = self.shared.lock();
        while st.durable < st.requested && st.error.is_none() {
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match &st.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn error(&self) -> String {
        self.shared
            .lock()
            .error
            .clone()
            .unwrap_or_else(|| "journal sync failed".into())
    }
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Syncs `files`: the last on this thread, the others on helpers started for the purpose and
/// kept for the thread's life.
struct Syncer<'a> {
    own: Option<&'a File>,
    helpers: Vec<(
        std::sync::mpsc::Sender<()>,
        std::sync::mpsc::Receiver<std::io::Result<()>>,
    )>,
}

impl<'a> Syncer<'a> {
    fn new(scope: &'a thread::Scope<'a, '_>, files: &'a [File]) -> Self {
        let (own, others) = match files.split_last() {
            Some((own, others)) => (Some(own), others),
            None => (None, files),
        };
        let helpers = others
            .iter()
            .map(|file| {
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let (done_tx, done_rx) = std::sync::mpsc::channel();
                // Ends when `go_tx` is dropped with the syncer.
                scope.spawn(move || {
                    while go_rx.recv().is_ok() {
                        if done_tx.send(file.sync_data()).is_err() {
                            return;
                        }
                    }
                });
                (go_tx, done_rx)
            })
            .collect();
        Self { own, helpers }
    }

    fn sync(&self) -> std::io::Result<()> {
        let gone = || std::io::Error::other("sync helper thread gone");
        for (go, _) in &self.helpers {
            go.send(()).map_err(|_| gone())?;
        }
        let own = self.own.map_or(Ok(()), File::sync_data);
        // Every helper is waited for, even after a failure, so none is left mid-sync.
        let mut result = own;
        for (_, done) in &self.helpers {
            let r = done.recv().unwrap_or_else(|_| Err(gone()));
            result = result.and(r);
        }
        result
    }
}

fn run(shared: &Shared, files: &[File], wake: &Notifier<ToCore>, metrics: &Metrics) {
    thread::scope(|scope| {
        let syncer = Syncer::new(scope, files);
        serve(shared, &syncer, wake, metrics);
    });
}

fn serve(shared: &Shared, syncer: &Syncer<'_>, wake: &Notifier<ToCore>, metrics: &Metrics) {
    let mut st = shared.lock();
    loop {
        while st.requested == st.durable && !st.stop {
            st = shared
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if st.requested == st.durable {
            return;
        }
        // Everything the core wrote before this request is covered by the syncs below.
        let target = st.requested;
        drop(st);
        let result = syncer.sync();
        metrics.journal_fsyncs.fetch_add(1, Ordering::Relaxed);
        st = shared.lock();
        let failed = match result {
            Ok(()) => {
                st.durable = target;
                shared.durable.store(target, Ordering::Release);
                false
            }
            Err(e) => {
                tracing::error!("journal sync failed: {e}");
                st.error = Some(format!("journal sync: {e}"));
                shared.failed.store(true, Ordering::Release);
                true
            }
        };
        shared.changed.notify_all();
        drop(st);
        // A full ring means the core is busy and reads `durable` at its next commit anyway; a
        // closed one means it has stopped.
        let _ = wake.try_push(ToCore::Durable);
        if failed {
            return;
        }
        st = shared.lock();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::ring;

    #[test]
    fn requests_become_durable_in_order_and_wake_the_core() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        for name in ["order-log", "journal"] {
            let mut file = File::create(dir.path().join(name)).expect("create");
            file.write_all(b"record").expect("write");
            files.push(file);
        }
        let (_tx, mut rx) = ring::ring::<ToCore>(8);
        let metrics = Arc::new(Metrics::default());
        let mut sync =
            SyncThread::start(files, rx.notifier(), Arc::clone(&metrics)).expect("start");
        assert_eq!(sync.durable(), Ok(0));
        assert_eq!((sync.request(), sync.request()), (1, 2));
        assert_eq!(sync.requested(), 2);
        sync.wait_all().expect("synced");
        assert_eq!(sync.durable(), Ok(2));
        // One sync may cover both requests; each sync wakes the core once.
        let syncs = metrics.journal_fsyncs.load(Ordering::Relaxed);
        assert!((1..=2).contains(&syncs), "{syncs} syncs");
        for _ in 0..syncs {
            assert!(matches!(rx.pop(), Some(ToCore::Durable)));
        }
        drop(sync);
        assert!(rx.try_pop().is_none());
    }

    #[test]
    fn a_failed_sync_is_final_and_reported() {
        // `/dev/null` refuses `fdatasync` (EINVAL): a stand-in for a failing disk, on the
        // helper thread (the first file) while the last file syncs fine.
        let dir = tempfile::tempdir().expect("tempdir");
        let files = vec![
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .expect("open /dev/null"),
            File::create(dir.path().join("journal")).expect("create"),
        ];
        let (_tx, rx) = ring::ring::<ToCore>(8);
        let mut sync =
            SyncThread::start(files, rx.notifier(), Arc::new(Metrics::default())).expect("start");
        sync.request();
        let err = sync.wait_all().expect_err("the sync fails");
        assert!(err.starts_with("journal sync"), "{err}");
        assert!(sync.durable().is_err());
        sync.request();
        assert!(
            sync.wait_all().is_err(),
            "nothing is durable after a failure"
        );
    }
}
