//! The running server (`cascade serve`): SoupBinTCP/OUCH 5.0 order entry on one port, ITCH 5.0
//! market data on another, one core thread that sequences, journals, applies and routes.
//!
//! # Threads
//! - Two acceptors (order entry, market data), polling non-blocking listeners so that
//!   [`ServerHandle::shutdown`] can stop them.
//! - Per connection, a reader thread (login, framing, idle timeout, rate limit) and a writer
//!   thread (its bounded outbound ring, heartbeats). See `session.rs`. For order-entry and
//!   native sessions the core writes a release's answers to the socket itself when that cannot
//!   block and nothing is queued before them, and queues them for the writer otherwise
//!   (`out.rs`).
//! - One core thread (`core.rs`): the only owner of the [`cascade_engine::Engine`] and the
//!   journal. Sessions reach it through one bounded lock-free MPSC ring ([`crate::ring`]).
//!
//! Start: the journal directory is recovered ([`crate::recovery::Store::open`]), so a restart
//! resumes the same `state_hash`; an empty directory gets the configured markets and deposits
//! as its first sequenced commands. The rules are written up in `docs/PROTOCOL.md` ("Server").

pub mod config;
pub mod core;
pub mod metrics;
pub mod order_log;
pub mod out;
pub mod session;
pub mod snapshotter;
pub mod stream_log;
pub mod sync;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use cascade_engine::Limits;
use crossbeam_channel::bounded;

pub use self::config::{Config, ConfigError, DEFAULT_CONFIG};
use self::core::{Core, ToCore, CORE_REPLY_TIMEOUT};
use self::metrics::Metrics;
use self::session::{Port, SessionCtx};
use crate::recovery::{RecoveryError, Store};
use crate::ring::{self, Producer};

/// How often an idle acceptor looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// The server could not start, or failed.
#[derive(Debug)]
pub enum ServerError {
    /// Bad configuration.
    Config(ConfigError),
    /// Recovery of the journal directory failed.
    Recovery(RecoveryError),
    /// A socket or thread could not be set up.
    Io(io::Error),
    /// The core stopped on an error (a journal failure), or could not start.
    Core(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::Recovery(e) => write!(f, "recovery: {e}"),
            Self::Io(e) => write!(f, "i/o: {e}"),
            Self::Core(e) => write!(f, "core: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<io::Error> for ServerError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// What recovery found at start.
#[derive(Clone, Copy, Debug)]
pub struct StartInfo {
    /// The last sequence number recovered from the journal (0: a fresh directory).
    pub recovered_seq: u64,
    /// The engine's state hash after recovery and genesis.
    pub state_hash: u64,
    /// The snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
}

/// A running server.
pub struct ServerHandle {
    ouch_addr: SocketAddr,
    md_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    native_addr: SocketAddr,
    start: StartInfo,
    core_tx: Producer<ToCore>,
    stop: Arc<AtomicBool>,
    core: Option<JoinHandle<Result<u64, String>>>,
    acceptors: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The OUCH order-entry address.
    #[must_use]
    pub const fn ouch_addr(&self) -> SocketAddr {
        self.ouch_addr
    }

    /// The ITCH market-data address.
    #[must_use]
    pub const fn md_addr(&self) -> SocketAddr {
        self.md_addr
    }

    /// The metrics endpoint's address (`None`: off, or its address could not be bound).
    #[must_use]
    pub const fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The native perp channel address.
    #[must_use]
    pub const fn native_addr(&self) -> SocketAddr {
        self.native_addr
    }

    /// What recovery found.
    #[must_use]
    pub const fn start_info(&self) -> StartInfo {
        self.start
    }

    /// The engine's current state hash (asked of the core, in its order of messages).
    ///
    /// # Errors
    /// The core has stopped.
    pub fn state_hash(&self) -> Result<u64, ServerError> {
        let (tx, rx) = bounded(1);
        self.core_tx
            .push(ToCore::StateHash(tx))
            .map_err(|_| ServerError::Core("core stopped".into()))?;
        rx.recv_timeout(CORE_REPLY_TIMEOUT)
            .map_err(|_| ServerError::Core("core did not answer".into()))
    }

    /// Blocks until the core stops (it stops only on a journal failure or a shutdown).
    ///
    /// # Errors
    /// The core's failure.
    pub fn wait(mut self) -> Result<u64, ServerError> {
        let result = self.join_core();
        self.stop_acceptors();
        result
    }

    /// Stops accepting, sends End of Session to every session, commits the journal, and
    /// returns the engine's final state hash.
    ///
    /// # Errors
    /// The core had already failed.
    pub fn shutdown(mut self) -> Result<u64, ServerError> {
        self.stop.store(true, Ordering::SeqCst);
        let (tx, _rx) = bounded(1);
        let _ = self.core_tx.push(ToCore::Shutdown(tx));
        let result = self.join_core();
        self.stop_acceptors();
        result
    }

    fn join_core(&mut self) -> Result<u64, ServerError> {
        match self.core.take() {
            Some(h) => match h.join() {
                Ok(r) => r.map_err(ServerError::Core),
                Err(_) => Err(ServerError::Core("core thread panicked".into())),
            },
            None => Err(ServerError::Core("already stopped".into())),
        }
    }

    fn stop_acceptors(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.acceptors.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.core.is_some() {
            let (tx, _rx) = bounded(1);
            let _ = self.core_tx.push(ToCore::Shutdown(tx));
            let _ = self.join_core();
        }
        self.stop_acceptors();
    }
}

/// Starts a server: recovers `config.journal_dir`, binds both ports, starts the threads.
///
/// # Errors
/// Bad config, recovery failure, a port that cannot be bound.
pub fn start(config: Config) -> Result<ServerHandle, ServerError> {
    let markets = config.markets().map_err(ServerError::Config)?;
    let policy = config.fsync_policy().map_err(ServerError::Config)?;
    let (store, recovered) =
        Store::open(&config.journal_dir, Limits::DEFAULT, policy).map_err(ServerError::Recovery)?;
    let recovered_seq = recovered.last_seq;
    tracing::info!(
        dir = %config.journal_dir.display(),
        recovered_seq,
        replayed = recovered.replayed,
        "journal recovered"
    );
    // The feed and the OUCH order tables are rebuilt by replaying the journal from genesis even
    // when the engine came from a snapshot: the journal is never cut, and the streams need the
    // whole history.
    let rebuild_feed = true;
    let snapshot_seq = recovered.snapshot_seq;
    let mut core = Core::new(recovered.engine, store, &config, &markets, rebuild_feed)
        .map_err(ServerError::Core)?;
    let open = Arc::new(AtomicUsize::new(0));
    let metrics = Arc::new(Metrics {
        connections: Arc::clone(&open),
        ..Metrics::default()
    });
    core.set_metrics(Arc::clone(&metrics));
    let start = StartInfo {
        snapshot_seq,
        recovered_seq,
        state_hash: core.state_hash(),
    };
    let session_name = core.session_name();
    let ouch_listener = TcpListener::bind((config.listen.as_str(), config.port))?;
    let md_listener = TcpListener::bind((config.listen.as_str(), config.md_port))?;
    let ouch_addr = ouch_listener.local_addr()?;
    let md_addr = md_listener.local_addr()?;
    let native_listener = TcpListener::bind((config.listen.as_str(), config.native_port))?;
    let native_addr = native_listener.local_addr()?;
    let (core_tx, core_rx) = ring::ring(config.inbound_queue_max);
    let core = thread::Builder::new()
        .name("cascade-core".into())
        .spawn(move || {
            let result = core.run(core_rx);
            if let Err(e) = &result {
                tracing::error!("core stopped: {e}");
            }
            result
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let ctx = Arc::new(SessionCtx {
        config: Arc::new(config),
        core: core_tx.clone(),
        session_name,
    });
    let ids = Arc::new(AtomicU64::new(1));
    let mut acceptors = Vec::new();
    let metrics_addr = start_metrics(&ctx.config.metrics_listen, &metrics, &stop, &mut acceptors);
    for (listener, port) in [
        (ouch_listener, Port::OrderEntry),
        (md_listener, Port::MarketData),
        (native_listener, Port::Native),
    ] {
        listener.set_nonblocking(true)?;
        let (stop, ctx, ids) = (Arc::clone(&stop), Arc::clone(&ctx), Arc::clone(&ids));
        let open = Arc::clone(&open);
        acceptors.push(
            thread::Builder::new()
                .name(format!("cascade-accept-{port:?}"))
                .spawn(move || accept_loop(&listener, port, &stop, &ctx, &ids, &open))?,
        );
    }
    Ok(ServerHandle {
        ouch_addr,
        md_addr,
        metrics_addr,
        native_addr,
        start,
        core_tx,
        stop,
        core: Some(core),
        acceptors,
    })
}

/// Starts a server on the configuration with `journal_dir` replaced.
///
/// # Errors
/// As [`start`].
pub fn start_in(mut config: Config, journal_dir: &Path) -> Result<ServerHandle, ServerError> {
    config.journal_dir = journal_dir.to_path_buf();
    start(config)
}

/// Starts the metrics endpoint on its own thread (joined with the acceptors). A port that
/// cannot be bound is logged and the server runs without metrics: the endpoint is for
/// operators, and trading must not depend on it.
fn start_metrics(
    listen: &str,
    metrics: &Arc<Metrics>,
    stop: &Arc<AtomicBool>,
    threads: &mut Vec<JoinHandle<()>>,
) -> Option<SocketAddr> {
    if listen.is_empty() {
        return None;
    }
    let listener = match metrics::bind(listen).and_then(|l| l.local_addr().map(|a| (l, a))) {
        Ok(la) => la,
        Err(e) => {
            tracing::error!("metrics endpoint {listen} not started: {e}");
            return None;
        }
    };
    let (listener, addr) = listener;
    let (metrics, stop) = (Arc::clone(metrics), Arc::clone(stop));
    match thread::Builder::new()
        .name("cascade-metrics".into())
        .spawn(move || metrics::serve(&listener, &metrics, &stop))
    {
        Ok(h) => {
            threads.push(h);
            tracing::info!(%addr, "metrics endpoint listening");
            Some(addr)
        }
        Err(e) => {
            tracing::error!("metrics thread not started: {e}");
            None
        }
    }
}

/// Counts one open connection until dropped.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: &TcpListener,
    port: Port,
    stop: &AtomicBool,
    ctx: &Arc<SessionCtx>,
    ids: &AtomicU64,
    open: &Arc<AtomicUsize>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if open.fetch_add(1, Ordering::SeqCst) >= ctx.config.sessions_max {
                    open.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(%peer, "sessions_max reached, connection closed");
                    continue;
                }
                let guard = OpenGuard(Arc::clone(open));
                if stream.set_nonblocking(false).is_err() {
                    continue;
                }
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let ctx = Arc::clone(ctx);
                let spawned = thread::Builder::new()
                    .name(format!("cascade-session-{id}"))
                    .spawn(move || {
                        let _guard = guard;
                        session::run(stream, port, id, &ctx);
                    });
                if let Err(e) = spawned {
                    tracing::error!("cannot start a session thread: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                thread::sleep(ACCEPT_POLL);
            }
        }
    }
}
