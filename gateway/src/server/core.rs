//! The core thread: the sequencer, the journal's group commit, the engine, and the routing of
//! events to sessions.
//!
//! # Data flow
//! Sessions send [`ToCore`] messages over one bounded lock-free ring ([`crate::ring`]). The core drains what is queued
//! (up to [`BATCH_MAX`]), and for each OUCH message: maps it through the account's
//! [`OuchAccount`], stamps the resulting command with the next sequence number and the time,
//! journals it, applies it, and maps the events to OUCH (every account) and ITCH. Then it
//! commits the journal once (the group commit) and only then sends what the batch produced:
//! nothing leaves the server before the command behind it is durable (per the fsync policy).
//! Under `fsync = "batch"` the sync runs on [`super::sync`]'s thread while the core goes on;
//! a batch's output waits in `Core::unreleased` until its sync has returned.
//!
//! # Streams
//! Each account's OUCH stream and the ITCH stream are in-memory logs of encoded SoupBinTCP
//! Sequenced Data frames; message `n` is `log[n - 1]`. A login asking for sequence `n` gets the
//! log from `n`, then the live tail. The logs start empty at every server start.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cascade_engine::{AccountId, Command, Engine, Limits, Sequenced};
use cascade_risk::{Price, Quote};
use crossbeam_channel::Sender;

use super::config::{Config, MarketSetup};
use super::metrics::{CoreMetrics, Metrics};
use super::order_log::{OrderLog, OrderLogRecord};
use super::out::SessionOut;
use super::snapshotter::{self, Snapshotter};
use super::stream_log::StreamLog;
use super::sync::SyncThread;
use crate::codec::itch::Message;
use crate::codec::map::{
    native_command, native_events, native_reject, server_request, Audience, MapReject,
    NativeOrigin, Role, ServerRequest,
};
use crate::codec::map::{Batch, InboundAction, ItchFeed, MarketRegistry, OuchAccount};
use crate::codec::native;
use crate::codec::ouch::{Inbound, Outbound};
use crate::codec::soup::{self, LoginAccepted, Packet};
use crate::journal::{self, FsyncPolicy};
use crate::recovery::{Store, JOURNAL_FILE};
use crate::ring::Consumer;

/// Messages the core handles at most between two group commits. An fsync costs milliseconds
/// on ordinary disks while a message costs about a microsecond, so under a pipelined load a
/// small bound makes the fsyncs, not the engine, the limit (1024: about 20% of the
/// journal-off throughput, measured with `cascade loadgen`). Under light load a batch is what
/// is queued, so the bound adds no latency there.
pub const BATCH_MAX: usize = 16_384;

/// Orders an account's OUCH table holds at most (entering and live).
pub const ACCOUNT_ORDERS_MAX: usize = 65_536;

/// Snapshots kept in the journal directory (older ones are deleted after a new one).
pub const SNAPSHOTS_KEPT: usize = 2;

/// Scratch size for one encoded message (OUCH appendages are bounded well below it).
const SCRATCH_LEN: usize = 1 << 16;

/// Room of the buffer that gathers frames for one direct write (a gather stops past 64 KiB,
/// and one frame is at most `SCRATCH_LEN` and its header).
const SEND_BUF_LEN: usize = 2 * SCRATCH_LEN + 64;

/// What a session writer receives.
#[derive(Clone, Debug)]
pub enum Out {
    /// One encoded SoupBinTCP frame.
    Frame(Arc<[u8]>),
    /// Send End of Session and close.
    End,
}

/// Which stream a session reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// An account's OUCH stream.
    Ouch(AccountId),
    /// The ITCH market-data stream.
    Itch,
    /// An account's native perp stream: public perp messages, the account's own, and the
    /// answers to its requests.
    Native(AccountId),
}

/// Bytes of an inbound message kept inline in [`Payload`]: every OUCH message without
/// appendages (an Enter Order is 47 bytes) and the native requests fit.
pub const PAYLOAD_INLINE: usize = 64;

/// An inbound message's bytes, inline when they fit so that the session reader allocates
/// nothing per message (an allocation on the reader freed on the core costs both threads, and
/// glibc's allocator more when it crosses threads); on the heap otherwise (appendages).
#[derive(Clone)]
pub enum Payload {
    /// Up to [`PAYLOAD_INLINE`] bytes.
    Inline {
        /// Bytes used.
        len: u8,
        /// The bytes (those after `len` are zero).
        bytes: [u8; PAYLOAD_INLINE],
    },
    /// Longer messages.
    Heap(Box<[u8]>),
}

impl Payload {
    /// A copy of `bytes`.
    #[must_use]
    pub fn new(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= PAYLOAD_INLINE => {
                let mut inline = [0u8; PAYLOAD_INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                Self::Inline { len, bytes: inline }
            }
            _ => Self::Heap(bytes.into()),
        }
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(b) => b,
        }
    }
}

impl core::fmt::Debug for Payload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Payload({} bytes)", self.as_bytes().len())
    }
}

/// Messages from sessions (and the handle) to the core.
#[derive(Debug)]
pub enum ToCore {
    /// A session logged in; attach it to its stream from `requested_seq`.
    Login {
        /// Session id (unique per connection).
        session: u64,
        /// The stream.
        stream: Stream,
        /// Requested sequence number (0: live end).
        requested_seq: u64,
        /// The session's outbound path (its writer's queue, and its socket).
        out: SessionOut,
    },
    /// One OUCH message (an Unsequenced Data payload, already known to decode).
    Ouch {
        /// Session id.
        session: u64,
        /// Account.
        account: AccountId,
        /// The OUCH message.
        payload: Payload,
        /// When the session's reader decoded it (the start of the order→ack latency).
        received: Instant,
    },
    /// One native perp request (an Unsequenced Data payload, already known to decode).
    Native {
        /// Session id.
        session: u64,
        /// Account of the session's user.
        account: AccountId,
        /// Trader or operator.
        role: Role,
        /// The native message.
        payload: Payload,
    },
    /// A session ended (logout, timeout, bad input, closed socket).
    Gone {
        /// Session id.
        session: u64,
        /// The stream it was attached to.
        stream: Stream,
    },
    /// The journal-sync thread finished a sync: answers may be due (carries nothing; the
    /// core reads how far the journal is durable from the thread's handle).
    Durable,
    /// The snapshot writer finished a snapshot: operator requests may be due (the outcome is
    /// read from the writer's handle).
    SnapshotDone,
    /// Reply with the engine's state hash.
    StateHash(Sender<u64>),
    /// End every session, commit, reply with the final state hash and stop.
    Shutdown(Sender<u64>),
}

/// An attached session.
struct Attached {
    session: u64,
    out: SessionOut,
}

/// One OUCH account: its order table, its stream, its session.
struct AccountState {
    ouch: OuchAccount,
    log: StreamLog,
    /// Messages up to this number have been handed to the attached session (or were durable
    /// when it attached).
    sent: u64,
    session: Option<Attached>,
    /// The native stream, as `log`/`sent`/`session` are the OUCH one.
    native: NativeStream,
}

/// One account's native perp stream.
struct NativeStream {
    log: StreamLog,
    sent: u64,
    session: Option<Attached>,
}

/// What one group commit produced: the ends of the streams when it was written out, held back
/// until the sync request `sync_id` is durable.
struct Release {
    sync_id: u64,
    /// Per account in `Core::accounts` order: the last OUCH and native message numbers.
    accounts: Vec<(u64, u64)>,
    itch: u64,
    /// The latency samples taken up to this commit ([`CoreMetrics::mark`]).
    metrics_mark: u64,
}

/// The core's state.
pub struct Core {
    engine: Engine,
    store: Store,
    order_log: OrderLog,
    registry: MarketRegistry,
    accounts: BTreeMap<AccountId, AccountState>,
    feed: ItchFeed,
    itch_log: StreamLog,
    itch_sent: u64,
    itch_sessions: Vec<Attached>,
    cancel_on_disconnect: bool,
    snapshot_every: u64,
    /// The sequence number of the last snapshot written, or recovered at start.
    snapshot_seq: u64,
    ts_last: u64,
    scratch: Vec<u8>,
    /// Where [`sequenced_frame`] builds a frame around `scratch`.
    frame_buf: Vec<u8>,
    /// Where [`SessionOut::send`] gathers frames for one direct write.
    send_buf: Vec<u8>,
    session_name: [u8; 10],
    /// Reused per command, so sequencing allocates only the frames it logs.
    events_buf: Vec<cascade_engine::Event>,
    ouch_buf: Vec<(AccountId, Outbound<'static>)>,
    itch_buf: Vec<Message>,
    metrics: CoreMetrics,
    /// Journal records appended since the last group commit.
    uncommitted: u64,
    native_buf: Vec<(Audience, native::Outbound)>,
    /// Under `fsync = "batch"`, while [`Core::run`] runs: the thread that syncs the journal
    /// behind the core. Otherwise the core syncs itself, per the policy.
    sync: Option<SyncThread>,
    /// Group commits whose answers wait for their sync, oldest first.
    unreleased: VecDeque<Release>,
    /// Emptied `Release::accounts` vectors, for reuse.
    marks_pool: Vec<Vec<(u64, u64)>>,
    /// With a sync thread: records appended (journal or order-entry log) that no sync request
    /// covers yet.
    unsynced: bool,
    /// While [`Core::run`] runs: the thread that writes snapshots. Before (genesis), snapshots
    /// are written on the core.
    snapshotter: Option<Snapshotter>,
    /// Native `s` requests (account, RequestRef) the next snapshot to start will answer.
    snapshot_waiting: Vec<(AccountId, u32)>,
    /// Native `s` requests the running snapshot will answer.
    snapshot_running: Vec<(AccountId, u32)>,
    /// The copy the last snapshot was written from, refreshed in place for the next one.
    snapshot_spare: Option<Box<Engine>>,
}

/// Encodes a Sequenced Data frame around `payload` in `buf` (reused: the frame is then copied
/// into its `Arc` once, one allocation per message the core sends).
fn sequenced_frame(buf: &mut Vec<u8>, payload: &[u8]) -> Arc<[u8]> {
    buf.resize(soup::LENGTH_PREFIX + 1 + payload.len(), 0);
    let n = Packet::SequencedData(payload)
        .encode(buf)
        .expect("invariant: the buffer is sized for the frame");
    Arc::from(&buf[..n])
}

/// Encodes any packet into a frame.
pub fn frame(packet: &Packet<'_>) -> Arc<[u8]> {
    let mut buf = vec![0u8; packet.encoded_len()];
    let n = packet
        .encode(&mut buf)
        .expect("invariant: the buffer is sized for the frame");
    buf.truncate(n);
    buf.into()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Core {
    /// Builds the core from a recovered engine and store; at genesis (an empty journal) it
    /// sequences the configured markets and deposits.
    ///
    /// # Errors
    /// A journal write failure during genesis, or markets that do not fit OUCH/ITCH.
    pub fn new(
        engine: Engine,
        store: Store,
        config: &Config,
        markets: &[MarketSetup],
        rebuild_feed: bool,
    ) -> Result<Self, String> {
        let mut registry = MarketRegistry::new();
        for m in markets {
            registry.insert(m.spec).map_err(|e| e.to_string())?;
        }
        let mut accounts = BTreeMap::new();
        for u in &config.users {
            let account = AccountId(u.account);
            accounts.entry(account).or_insert_with(|| AccountState {
                ouch: OuchAccount::new(account, ACCOUNT_ORDERS_MAX),
                log: StreamLog::new(config.replay_max),
                sent: 0,
                session: None,
                native: NativeStream {
                    log: StreamLog::new(config.replay_max),
                    sent: 0,
                    session: None,
                },
            });
        }
        let start_seq = engine.last_seq();
        let sync = !matches!(
            config.fsync_policy().map_err(|e| e.to_string())?,
            FsyncPolicy::Never
        );
        let (order_log, order_records) =
            OrderLog::open(store.dir(), start_seq, sync).map_err(|e| e.to_string())?;
        // Sequencer time never goes backwards, not even across a restart.
        let ts_last = engine.last_ts_ns();
        let mut name = [b' '; 10];
        let label = format!("S{start_seq}");
        let label = label.as_bytes();
        let n = label.len().min(10);
        name[..n].copy_from_slice(&label[..n]);
        let mut core = Self {
            engine,
            store,
            order_log,
            registry,
            accounts,
            feed: ItchFeed::new(),
            itch_log: StreamLog::new(config.replay_max),
            itch_sent: 0,
            itch_sessions: Vec::new(),
            cancel_on_disconnect: config.cancel_on_disconnect,
            snapshot_every: config.snapshot_every,
            snapshot_seq: start_seq,
            ts_last,
            scratch: vec![0; SCRATCH_LEN],
            frame_buf: Vec::with_capacity(SCRATCH_LEN + soup::LENGTH_PREFIX + 1),
            send_buf: Vec::with_capacity(SEND_BUF_LEN),
            session_name: name,
            events_buf: Vec::new(),
            ouch_buf: Vec::new(),
            itch_buf: Vec::new(),
            metrics: CoreMetrics::new(Arc::new(Metrics::default()), BATCH_MAX),
            uncommitted: 0,
            native_buf: Vec::new(),
            sync: None,
            unreleased: VecDeque::new(),
            marks_pool: Vec::new(),
            unsynced: false,
            snapshotter: None,
            snapshot_waiting: Vec::new(),
            snapshot_running: Vec::new(),
            snapshot_spare: None,
        };
        let ts = now_ns();
        core.push_itch(&ItchFeed::system_event(b'O', ts));
        if start_seq == 0 {
            for m in markets {
                core.sequence(Command::AddMarket(Box::new(m.spec)))?;
                core.sequence(Command::SetRiskParams {
                    market: m.spec.id,
                    params: Box::new(m.risk.clone()),
                })?;
                core.sequence(Command::SetIndexPrice {
                    market: m.spec.id,
                    index: Price(m.index_ticks),
                    external_mark: None,
                })?;
            }
            for u in &config.users {
                if u.deposit_quote > 0 {
                    core.sequence(Command::Deposit {
                        account: AccountId(u.account),
                        amount: Quote(u.deposit_quote),
                    })?;
                }
            }
        } else if !(rebuild_feed && core.rebuild(&order_records)) {
            for m in markets {
                core.push_itch(&ItchFeed::stock_directory(&m.spec, ts));
            }
        }
        core.commit()?;
        Ok(core)
    }

    /// Publishes the core's numbers into `shared` from now on (the metrics endpoint reads it).
    pub fn set_metrics(&mut self, shared: Arc<Metrics>) {
        // One record per sequence number: the journal already holds `last_seq` records
        // (recovered ones and genesis), which the counter starts from.
        shared
            .journal_records
            .store(self.engine.last_seq(), Ordering::Relaxed);
        shared
            .insurance_fund
            .store(self.engine.treasury().insurance_fund, Ordering::Relaxed);
        self.metrics = CoreMetrics::new(shared, BATCH_MAX);
    }

    /// The SoupBinTCP session name of this server run.
    #[must_use]
    pub const fn session_name(&self) -> [u8; 10] {
        self.session_name
    }

    /// The engine's state hash.
    #[must_use]
    pub fn state_hash(&self) -> u64 {
        self.engine.state_hash()
    }

    /// Replays the journal through a second engine, the ITCH mapper and the OUCH order tables
    /// (with the order-entry log's messages interleaved where they were mapped), so that after
    /// a restart the feed holds the whole history (Stock Directories, Add Orders of the resting
    /// book, …) and its resting-order table, and every account's OUCH table knows its orders and
    /// last UserRefNum. False (and nothing changed) when the journal cannot be read or the
    /// replay does not reach the recovered state.
    fn rebuild(&mut self, order_records: &[OrderLogRecord]) -> bool {
        let path = self.store.dir().join(JOURNAL_FILE);
        let mut engine = Engine::new(Limits::DEFAULT);
        let mut feed = ItchFeed::new();
        let mut messages = Vec::new();
        let mut tables: BTreeMap<AccountId, OuchAccount> = self
            .accounts
            .keys()
            .map(|&id| (id, OuchAccount::new(id, ACCOUNT_ORDERS_MAX)))
            .collect();
        let registry = &self.registry;
        let mut pending = order_records.iter().peekable();
        let mut feed_inbound = |tables: &mut BTreeMap<AccountId, OuchAccount>, upto: u64| {
            while let Some(r) = pending.next_if(|r| r.seq_before < upto) {
                let (Some(table), Ok(msg)) =
                    (tables.get_mut(&r.account), Inbound::decode(&r.payload))
                else {
                    continue;
                };
                // The answers were sent before the crash; only the table's state matters.
                let _ = table.on_inbound(&msg, registry, 0);
            }
        };
        let scanned = journal::scan(&path, |record| {
            feed_inbound(&mut tables, record.command.seq);
            let events = engine.apply(&record.command);
            let batch = Batch {
                seq: record.command.seq,
                ts_ns: record.command.ts_ns,
                command: &record.command.command,
                events,
            };
            feed.on_batch(&batch, registry, &mut |m| messages.push(m));
            for table in tables.values_mut() {
                table.on_batch(&batch, registry, &mut |_| {});
            }
        });
        feed_inbound(&mut tables, u64::MAX);
        if let Err(e) = scanned {
            tracing::warn!("market-data feed not rebuilt: {e}");
            return false;
        }
        if engine.state_hash() != self.engine.state_hash() {
            tracing::warn!("market-data feed not rebuilt: the replay does not match recovery");
            return false;
        }
        self.feed = feed;
        for (id, table) in tables {
            if let Some(a) = self.accounts.get_mut(&id) {
                a.ouch = table;
            }
        }
        for m in &messages {
            self.push_itch(m);
        }
        true
    }

    fn push_itch(&mut self, msg: &Message) {
        match msg.encode(&mut self.scratch) {
            Ok(n) => self
                .itch_log
                .push(sequenced_frame(&mut self.frame_buf, &self.scratch[..n])),
            Err(e) => tracing::error!("itch encode failed: {e}"),
        }
    }

    fn push_ouch(&mut self, account: AccountId, msg: &Outbound<'_>) {
        let n = match msg.encode(&mut self.scratch) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("ouch encode failed: {e}");
                return;
            }
        };
        let f = sequenced_frame(&mut self.frame_buf, &self.scratch[..n]);
        if let Some(a) = self.accounts.get_mut(&account) {
            a.log.push(f);
        }
    }

    /// Appends a native message to the stream of `account`, or of every account (public).
    fn push_native(&mut self, to: Option<AccountId>, msg: &native::Outbound) {
        let n = match msg.encode(&mut self.scratch) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("native encode failed: {e}");
                return;
            }
        };
        let f = sequenced_frame(&mut self.frame_buf, &self.scratch[..n]);
        match to {
            Some(account) => {
                if let Some(a) = self.accounts.get_mut(&account) {
                    a.native.log.push(f);
                }
            }
            None => {
                for a in self.accounts.values_mut() {
                    a.native.log.push(Arc::clone(&f));
                }
            }
        }
    }

    /// Stamps, journals, applies and routes one command.
    fn sequence(&mut self, command: Command) -> Result<(), String> {
        self.sequence_from(command, None)
    }

    /// [`Self::sequence`] for a command from a native request of `requester`: its Request
    /// Done or Request Rejected follows the events.
    fn sequence_from(
        &mut self,
        command: Command,
        native_origin: Option<(NativeOrigin, AccountId)>,
    ) -> Result<(), String> {
        let ts_ns = now_ns().max(self.ts_last + 1);
        self.ts_last = ts_ns;
        let cmd = Sequenced {
            seq: self.engine.last_seq() + 1,
            ts_ns,
            command,
        };
        self.store.append(&cmd).map_err(|e| e.to_string())?;
        self.uncommitted += 1;
        let mut events = core::mem::take(&mut self.events_buf);
        let mut ouch_out = core::mem::take(&mut self.ouch_buf);
        let mut itch_out = core::mem::take(&mut self.itch_buf);
        let mut native_out = core::mem::take(&mut self.native_buf);
        events.clear();
        events.extend_from_slice(self.engine.apply(&cmd));
        let m = self.metrics.shared();
        m.commands.fetch_add(1, Ordering::Relaxed);
        let liquidations = events
            .iter()
            .filter(|e| matches!(e, cascade_engine::Event::LiquidationStarted { .. }))
            .count();
        if liquidations > 0 {
            m.liquidations
                .fetch_add(liquidations as u64, Ordering::Relaxed);
        }
        let batch = Batch {
            seq: cmd.seq,
            ts_ns: cmd.ts_ns,
            command: &cmd.command,
            events: &events,
        };
        for (id, a) in &mut self.accounts {
            a.ouch
                .on_batch(&batch, &self.registry, &mut |m| ouch_out.push((*id, m)));
        }
        self.feed
            .on_batch(&batch, &self.registry, &mut |m| itch_out.push(m));
        for (account, m) in ouch_out.drain(..) {
            self.push_ouch(account, &m);
        }
        for m in itch_out.drain(..) {
            self.push_itch(&m);
        }
        native_events(
            &batch,
            &self.registry,
            native_origin.map(|(o, _)| o),
            &mut |audience, m| native_out.push((audience, m)),
        );
        for (audience, m) in native_out.drain(..) {
            let to = match audience {
                Audience::Public => None,
                Audience::Account(account) => Some(account),
                Audience::Requester => native_origin.map(|(_, requester)| requester),
            };
            if audience == Audience::Requester && to.is_none() {
                continue;
            }
            self.push_native(to, &m);
        }
        self.native_buf = native_out;
        self.events_buf = events;
        self.ouch_buf = ouch_out;
        self.itch_buf = itch_out;
        Ok(())
    }

    /// The group commit, then the batch's output to the attached sessions once it is durable.
    ///
    /// With a sync thread the records are written out here and synced there while the core
    /// goes on; this batch's answers are queued once that sync has returned (at a later
    /// commit). Without one, the sync (per the policy) happens here and the answers follow.
    fn commit(&mut self) -> Result<(), String> {
        // Answers to snapshot requests join this commit's output.
        if let Some(done) = self.snapshotter.as_mut().and_then(Snapshotter::poll) {
            self.snapshot_done(done);
        }
        let sync_id = match &mut self.sync {
            Some(sync) => {
                self.unsynced |= self.uncommitted > 0 || self.order_log.is_dirty();
                let idle = sync.durable()? == sync.requested();
                if !self.unsynced {
                    // Nothing new to sync, but the answers (refusals) still wait for the syncs
                    // before them: they must not overtake earlier answers.
                    sync.requested()
                } else if idle {
                    // The order-entry log first: it may run ahead of the journal, never behind.
                    self.order_log
                        .commit()
                        .map_err(|e| format!("order-entry log: {e}"))?;
                    self.store
                        .journal_mut()
                        .write_buffered()
                        .map_err(|e| e.to_string())?;
                    self.unsynced = false;
                    sync.request()
                } else {
                    // A sync is running: keep the records buffered and write them out when it
                    // returns, for the next sync. Writing now would cost a system call per small
                    // batch and can block on the pages the running sync is writing back.
                    sync.requested() + 1
                }
            }
            None => {
                // The order-entry log first: it may run ahead of the journal, never behind it.
                self.order_log
                    .commit()
                    .map_err(|e| format!("order-entry log: {e}"))?;
                self.store.commit().map_err(|e| e.to_string())?;
                // The server's batch policy has no thresholds: one sync per non-empty group
                // commit.
                let fsyncs = match self.store.journal().policy() {
                    journal::FsyncPolicy::EveryRecord => self.uncommitted,
                    journal::FsyncPolicy::Batch { .. } => u64::from(self.uncommitted > 0),
                    journal::FsyncPolicy::Never => 0,
                };
                self.metrics
                    .shared()
                    .journal_fsyncs
                    .fetch_add(fsyncs, Ordering::Relaxed);
                0
            }
        };
        let m = self.metrics.shared();
        m.journal_records
            .fetch_add(self.uncommitted, Ordering::Relaxed);
        m.insurance_fund
            .store(self.engine.treasury().insurance_fund, Ordering::Relaxed);
        self.uncommitted = 0;
        let mut marks = self.marks_pool.pop().unwrap_or_default();
        marks.clear();
        marks.extend(
            self.accounts
                .values()
                .map(|a| (a.log.last(), a.native.log.last())),
        );
        let release = Release {
            sync_id,
            accounts: marks,
            itch: self.itch_log.last(),
            metrics_mark: self.metrics.mark(),
        };
        // Commits waiting for the same sync are released together: keep only the newest ends.
        match self.unreleased.back_mut() {
            Some(last) if last.sync_id == sync_id => {
                let old = core::mem::replace(last, release);
                self.marks_pool.push(old.accounts);
            }
            _ => self.unreleased.push_back(release),
        }
        self.release()?;
        self.maybe_snapshot();
        Ok(())
    }

    /// Syncs and sends everything: waits for the running sync, writes out and syncs what it
    /// left behind, until every answer is out.
    fn drain(&mut self) -> Result<(), String> {
        while let Some(sync) = &self.sync {
            sync.wait_all()?;
            let requested = sync.requested();
            if !self.unsynced && self.unreleased.iter().all(|r| r.sync_id <= requested) {
                break;
            }
            self.commit()?;
        }
        self.release()
    }

    /// Queues the answers of every group commit that is durable, oldest first.
    fn release(&mut self) -> Result<(), String> {
        let durable = match &self.sync {
            Some(sync) => sync.durable()?,
            None => u64::MAX,
        };
        while self
            .unreleased
            .front()
            .is_some_and(|r| r.sync_id <= durable)
        {
            let Some(r) = self.unreleased.pop_front() else {
                break;
            };
            self.send_through(&r);
            self.marks_pool.push(r.accounts);
        }
        Ok(())
    }

    /// Queues each stream's messages up to the ends recorded in `r`.
    fn send_through(&mut self, r: &Release) {
        // Before the sends: with direct writes an answer can reach its client before this
        // function returns, and the client may read the metrics next.
        self.metrics.answered_through(r.metrics_mark);
        let mut sessions = 0u64;
        let buf = &mut self.send_buf;
        for ((id, a), &(ouch_end, native_end)) in self.accounts.iter_mut().zip(&r.accounts) {
            release(
                &mut a.session,
                &a.log,
                &mut a.sent,
                ouch_end,
                (*id, ""),
                buf,
            );
            let n = &mut a.native;
            release(
                &mut n.session,
                &n.log,
                &mut n.sent,
                native_end,
                (*id, "native "),
                buf,
            );
            sessions += u64::from(a.session.is_some()) + u64::from(a.native.session.is_some());
        }
        let (log, sent, end) = (&self.itch_log, self.itch_sent, r.itch);
        self.itch_sessions.retain(|s| {
            let ok = send_upto(&s.out, log, sent, end, buf);
            if !ok {
                tracing::warn!(
                    session = s.session,
                    "slow market-data consumer: outbound queue full, disconnecting"
                );
            }
            ok
        });
        self.itch_sent = self.itch_sent.max(end);
        sessions += self.itch_sessions.len() as u64;
        self.metrics
            .shared()
            .sessions
            .store(sessions, Ordering::Relaxed);
    }

    /// After a batch's answers are out: a snapshot when `snapshot_every` records have passed
    /// since the last one or an operator asked for one, so recovery replays only the journal
    /// after it. A failed snapshot is logged (and refused to the operators who asked), not
    /// fatal: the journal alone still recovers everything.
    ///
    /// While [`Core::run`] runs the core only syncs the journal and clones the engine; the
    /// snapshot writer thread encodes and writes the copy. One snapshot is written at a time:
    /// when the writer is busy, this is asked again at the next commit.
    fn maybe_snapshot(&mut self) {
        let seq = self.engine.last_seq();
        let due = self.snapshot_every != 0
            && seq >= self.snapshot_seq.saturating_add(self.snapshot_every);
        if !due && self.snapshot_waiting.is_empty() {
            return;
        }
        if self.snapshotter.as_ref().is_some_and(Snapshotter::busy) {
            return;
        }
        self.snapshot_seq = seq;
        // Not busy, so no request is running: the waiting ones are this snapshot's.
        self.snapshot_running = core::mem::take(&mut self.snapshot_waiting);
        let started = Instant::now();
        // An outcome the core reaches itself (no copy to hand back).
        let here = |result| snapshotter::Done {
            seq,
            result,
            spare: None,
        };
        if let Err(e) = self.store.prepare_snapshot(&self.engine) {
            return self.snapshot_done(here(Err(e.to_string())));
        }
        let Some(writer) = self.snapshotter.as_mut() else {
            let dir = self.store.dir();
            let result = snapshotter::write_and_prune(dir, &self.engine, SNAPSHOTS_KEPT, started);
            return self.snapshot_done(here(result));
        };
        let copy = match self.snapshot_spare.take() {
            Some(mut spare) => {
                Engine::clone_from(&mut spare, &self.engine);
                spare
            }
            None => Box::new(self.engine.clone()),
        };
        let paused = started.elapsed();
        if writer.start_job(copy) {
            tracing::debug!(seq, paused_us = paused.as_micros(), "snapshot started");
        } else {
            self.snapshot_done(here(Err("the snapshot writer has stopped".into())));
        }
    }

    /// Logs a finished snapshot and answers the requests it covered: `S` Snapshot Written and
    /// `A` Request Done, or `J` `snapshot_failed`.
    fn snapshot_done(&mut self, done: snapshotter::Done) {
        if done.spare.is_some() {
            self.snapshot_spare = done.spare;
        }
        let ok = match &done.result {
            Ok((path, took)) => {
                tracing::info!(
                    seq = done.seq,
                    ms = took.as_millis(),
                    path = %path.display(),
                    "snapshot written"
                );
                self.metrics
                    .shared()
                    .snapshots
                    .fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::warn!(seq = done.seq, "snapshot failed: {e}");
                false
            }
        };
        let ts = now_ns();
        for (account, request_ref) in core::mem::take(&mut self.snapshot_running) {
            if ok {
                self.push_native(
                    Some(account),
                    &native::Outbound::SnapshotWritten(native::SnapshotWritten {
                        timestamp: ts,
                        request_ref,
                        seq: done.seq,
                    }),
                );
                self.push_native(
                    Some(account),
                    &native::Outbound::RequestDone(native::RequestDone {
                        timestamp: ts,
                        request_ref,
                        account: native::ACCOUNT_NONE,
                    }),
                );
            } else {
                self.push_native(
                    Some(account),
                    &native::Outbound::RequestRejected(native::RequestRejected {
                        timestamp: ts,
                        request_ref,
                        account: native::ACCOUNT_NONE,
                        reason: MapReject::SnapshotFailed.code(),
                    }),
                );
            }
        }
    }

    fn login(&mut self, session: u64, stream: Stream, requested_seq: u64, out: SessionOut) {
        let (log, sent) = match stream {
            Stream::Ouch(account) => match self.accounts.get(&account) {
                Some(a) => (&a.log, a.sent),
                None => return,
            },
            Stream::Native(account) => match self.accounts.get(&account) {
                Some(a) => (&a.native.log, a.native.sent),
                None => return,
            },
            Stream::Itch => (&self.itch_log, self.itch_sent),
        };
        // 0 or past the end means the live end; before the oldest message kept, the oldest
        // kept, with a Debug packet saying so (`stream_log.rs`).
        let mut next = if requested_seq == 0 || requested_seq > sent + 1 {
            sent + 1
        } else {
            requested_seq
        };
        let mut gap = None;
        if next < log.first() {
            gap = Some(format!(
                "replay from {next} unavailable: the {} messages before {} are no longer \
                 kept (replay_max)",
                log.first() - next,
                log.first()
            ));
            next = log.first();
        }
        let accepted = frame(&Packet::LoginAccepted(LoginAccepted {
            session: self.session_name,
            sequence: next,
        }));
        let buf = &mut self.send_buf;
        let mut ok = out.send(core::iter::once(&accepted), buf);
        if let Some(text) = &gap {
            tracing::info!(session, "{text}");
            ok = ok
                && out.send(
                    core::iter::once(&frame(&Packet::Debug(text.as_bytes()))),
                    buf,
                );
        }
        ok = ok
            && log
                .range(next, sent)
                .is_some_and(|frames| out.send(frames, buf));
        if !ok {
            tracing::warn!(
                session,
                "replay larger than the outbound queue, disconnecting"
            );
            return;
        }
        let attached = Attached { session, out };
        match stream {
            Stream::Ouch(account) => {
                if let Some(a) = self.accounts.get_mut(&account) {
                    if let Some(old) = a.session.replace(attached) {
                        tracing::info!(
                            old = old.session,
                            new = session,
                            "account logged in again; the older session is closed"
                        );
                    }
                }
            }
            Stream::Native(account) => {
                if let Some(a) = self.accounts.get_mut(&account) {
                    if let Some(old) = a.native.session.replace(attached) {
                        tracing::info!(
                            old = old.session,
                            new = session,
                            "native session of the account logged in again; the older is closed"
                        );
                    }
                }
            }
            Stream::Itch => self.itch_sessions.push(attached),
        }
    }

    fn gone(&mut self, session: u64, stream: Stream) -> Result<(), String> {
        match stream {
            Stream::Ouch(account) => {
                let Some(a) = self.accounts.get_mut(&account) else {
                    return Ok(());
                };
                if a.session.as_ref().is_some_and(|s| s.session == session) {
                    a.session = None;
                    if self.cancel_on_disconnect {
                        self.sequence(Command::MassCancelAccount {
                            account,
                            market: None,
                        })?;
                    }
                }
            }
            Stream::Native(account) => {
                if let Some(a) = self.accounts.get_mut(&account) {
                    if a.native
                        .session
                        .as_ref()
                        .is_some_and(|s| s.session == session)
                    {
                        a.native.session = None;
                    }
                }
            }
            Stream::Itch => self.itch_sessions.retain(|s| s.session != session),
        }
        Ok(())
    }

    /// One native request: mapped (authority checked) and sequenced, or refused at once.
    fn native(
        &mut self,
        session: u64,
        account: AccountId,
        role: Role,
        payload: &[u8],
    ) -> Result<(), String> {
        let Some(a) = self.accounts.get_mut(&account) else {
            return Ok(());
        };
        if a.native
            .session
            .as_ref()
            .is_none_or(|s| s.session != session)
        {
            return Ok(());
        }
        let msg = match native::Inbound::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(session, "undecodable native message: {e}");
                a.native.session = None;
                return Ok(());
            }
        };
        if let Some(request) = server_request(&msg, role) {
            let request_ref = NativeOrigin::of(&msg).request_ref;
            match request {
                // Answered when the snapshot that covers it is written (`snapshot_done`).
                Ok(ServerRequest::Snapshot) => self.snapshot_waiting.push((account, request_ref)),
                Err(reason) => {
                    let reply = native_reject(&msg, reason.code(), now_ns());
                    self.push_native(Some(account), &reply);
                }
            }
            return Ok(());
        }
        match native_command(&msg, role, &self.registry) {
            Ok(command) => self.sequence_from(command, Some((NativeOrigin::of(&msg), account))),
            Err(reason) => {
                tracing::debug!(session, "native request refused: {reason}");
                let reply = native_reject(&msg, reason.code(), now_ns());
                self.push_native(Some(account), &reply);
                Ok(())
            }
        }
    }

    fn ouch(&mut self, session: u64, account: AccountId, payload: &[u8]) -> Result<(), String> {
        let Some(a) = self.accounts.get_mut(&account) else {
            return Ok(());
        };
        if a.session.as_ref().is_none_or(|s| s.session != session) {
            // A message from a session that has been replaced or dropped.
            return Ok(());
        }
        let msg = match Inbound::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(session, "undecodable OUCH message: {e}");
                a.session = None;
                return Ok(());
            }
        };
        let action = a.ouch.on_inbound(&msg, &self.registry, now_ns());
        if !matches!(action, InboundAction::Ignore(_) | InboundAction::Reply(_)) {
            let submitted = matches!(action, InboundAction::Submit(_));
            self.order_log
                .append(account, self.engine.last_seq(), submitted, payload)
                .map_err(|e| format!("order-entry log: {e}"))?;
        }
        match action {
            InboundAction::Submit(command) => self.sequence(command)?,
            InboundAction::Reply(reply) => self.push_ouch(account, &reply),
            InboundAction::Reject { reply, reason } => {
                tracing::debug!(session, "refused: {reason}");
                self.push_ouch(account, &reply);
            }
            InboundAction::Ignore(reason) => tracing::debug!(session, "ignored: {reason}"),
        }
        Ok(())
    }

    /// Runs until [`ToCore::Shutdown`] (or until every sender is gone); returns the final state
    /// hash.
    ///
    /// # Errors
    /// A journal failure: the core stops rather than trade on an unjournaled state.
    pub fn run(mut self, mut rx: Consumer<ToCore>) -> Result<u64, String> {
        if matches!(
            self.store.journal().policy(),
            journal::FsyncPolicy::Batch { .. }
        ) {
            let files = vec![
                self.order_log
                    .sync_handle()
                    .map_err(|e| format!("order-entry log: {e}"))?,
                self.store
                    .journal()
                    .sync_handle()
                    .map_err(|e| format!("journal: {e}"))?,
            ];
            self.order_log.set_sync(false);
            self.sync = Some(
                SyncThread::start(files, rx.notifier(), self.metrics.shared_arc())
                    .map_err(|e| format!("journal sync thread: {e}"))?,
            );
        }
        self.snapshotter = Some(
            Snapshotter::start(
                self.store.dir().to_path_buf(),
                SNAPSHOTS_KEPT,
                rx.notifier(),
            )
            .map_err(|e| format!("snapshot writer thread: {e}"))?,
        );
        let mut reply_to: Option<Sender<u64>> = None;
        'outer: loop {
            let first = match &self.sync {
                // While a sync runs, whatever arrives now is answered after the next sync at the
                // earliest, and that one starts when this one returns: with nothing queued the
                // core waits for the sync (then writes out and syncs what it left behind)
                // rather than spinning on the ring for single messages, which only takes CPU
                // from the threads that have work.
                Some(sync) if sync.requested() > sync.durable()? => match rx.try_pop() {
                    Some(msg) => msg,
                    None => {
                        sync.wait_all()?;
                        self.commit()?;
                        continue;
                    }
                },
                _ => match rx.pop() {
                    Some(msg) => msg,
                    None => break,
                },
            };
            let mut next = Some(first);
            let mut handled = 0;
            while let Some(msg) = next.take() {
                match msg {
                    ToCore::Login {
                        session,
                        stream,
                        requested_seq,
                        out,
                    } => self.login(session, stream, requested_seq, out),
                    ToCore::Ouch {
                        session,
                        account,
                        payload,
                        received,
                    } => {
                        self.metrics.order(received);
                        self.ouch(session, account, payload.as_bytes())?;
                    }
                    ToCore::Native {
                        session,
                        account,
                        role,
                        payload,
                    } => self.native(session, account, role, payload.as_bytes())?,
                    ToCore::Gone { session, stream } => self.gone(session, stream)?,
                    // Nothing to do but the commit below, which sends what is now durable
                    // and answers a finished snapshot's requests.
                    ToCore::Durable | ToCore::SnapshotDone => {}
                    ToCore::StateHash(reply) => {
                        let _ = reply.send(self.engine.state_hash());
                    }
                    ToCore::Shutdown(reply) => {
                        reply_to = Some(reply);
                        break 'outer;
                    }
                }
                handled += 1;
                if handled < BATCH_MAX {
                    next = rx.try_pop();
                }
            }
            self.commit()?;
        }
        // The running snapshot ends; requests still waiting get one written here.
        if let Some(done) = self.snapshotter.as_mut().and_then(Snapshotter::wait) {
            self.snapshot_done(done);
        }
        self.snapshotter = None;
        self.maybe_snapshot();
        self.commit()?;
        self.push_itch(&ItchFeed::system_event(b'C', now_ns()));
        self.commit()?;
        self.drain()?;
        for a in self.accounts.values_mut() {
            for s in [a.session.take(), a.native.session.take()]
                .into_iter()
                .flatten()
            {
                let _ = s.out.push(Out::End);
            }
        }
        for s in self.itch_sessions.drain(..) {
            let _ = s.out.push(Out::End);
        }
        let hash = self.engine.state_hash();
        if let Some(reply) = reply_to {
            let _ = reply.send(hash);
        }
        Ok(hash)
    }
}

/// Hands an account stream's messages up to `end` to its attached session, if any, and moves
/// `sent` on; a session whose queue cannot take them is a slow consumer and is detached.
fn release(
    session: &mut Option<Attached>,
    log: &StreamLog,
    sent: &mut u64,
    end: u64,
    (account, stream): (AccountId, &str),
    buf: &mut Vec<u8>,
) {
    if let Some(s) = session {
        if !send_upto(&s.out, log, *sent, end, buf) {
            tracing::warn!(
                session = s.session,
                account = account.0,
                "slow {stream}consumer: outbound queue full, disconnecting"
            );
            *session = None;
        }
    }
    *sent = (*sent).max(end);
}

/// Sends (or queues) the messages of `log` after number `sent` up to `end`, without blocking
/// ([`SessionOut::send`]); false when the queue is full or closed, or when some of them were
/// dropped from the log before they could be sent (more output in one batch than
/// `replay_max`).
fn send_upto(out: &SessionOut, log: &StreamLog, sent: u64, end: u64, buf: &mut Vec<u8>) -> bool {
    end <= sent
        || log
            .range(sent + 1, end)
            .is_some_and(|frames| out.send(frames, buf))
}

/// How long [`ToCore::StateHash`] and [`ToCore::Shutdown`] callers wait for the core.
pub const CORE_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod payload_tests {
    use super::{Payload, PAYLOAD_INLINE};

    #[test]
    fn payloads_keep_their_bytes_inline_or_not() {
        for len in [0, 1, 47, PAYLOAD_INLINE, PAYLOAD_INLINE + 1, 300, 1024] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            let p = Payload::new(&bytes);
            assert_eq!(p.as_bytes(), &bytes[..], "len {len}");
            assert_eq!(
                matches!(p, Payload::Inline { .. }),
                len <= PAYLOAD_INLINE,
                "len {len}"
            );
        }
    }
}
