//! `cascade loadgen`: order-entry load over TCP against `cascade serve` (in process on loopback
//! by default, or an external one with `--connect`), reported in the shared format
//! ([`crate::report`]).
//!
//! One run measures, in order:
//! 1. **the loopback floor**: a plain TCP ping-pong with an order's and an ack's byte counts;
//! 2. **open loop**: orders at a fixed rate over N sessions, each latency from its intended
//!    send time (coordinated omission corrected), warm-up excluded; then, with generated
//!    orders, **the plain echo open loop**: the floor's byte counts at the same rate and
//!    pacing with no server in the path, which shows the machine's own open-loop tail (printed
//!    beside the floors as context, not a floor);
//! 3. **pipelined**: one connection, as many orders as the server takes with a window in
//!    flight, journaling on (`fsync = "batch"`) and off (`fsync = "never"`).
//!
//! `--from JOURNAL` replaces the generated open-loop orders with a recorded journal's order
//! flow at its recorded pace (`--speed` times).
//!
//! - [`plan`]: the requests and their intended times, decided before the run;
//! - [`client`]: login, the sender and the receivers;
//! - [`floor`]: the ping-pong and the open-loop echo.

pub mod client;
pub mod floor;
pub mod plan;

use crate::harness;
use crate::plot::{self, Series};
use crate::report::{self, fmt_rate, Percentiles, Report};
use anyhow::{bail, Context};
use cascade_gateway::codec::map::MarketRegistry;
use cascade_gateway::codec::soup;
use cascade_gateway::server::{self, config::UserConfig, Config, ServerHandle};
use clap::{Args, ValueEnum};
use client::{Conn, Login, Pacing, RunOutcome};
use hdrhistogram::Histogram;
use plan::{Mix, Planned};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Floor, open loop, pipelined with journaling on and off.
    All,
    /// The loopback floor and the open-loop run.
    OpenLoop,
    /// Pipelined throughput on one connection (journaling on and off in process).
    Pipelined,
    /// The loopback floor only.
    Floor,
}

/// Flags of `cascade loadgen`.
#[derive(Args, Debug, Clone)]
pub struct LoadgenArgs {
    /// Open-loop rate, orders per second over all sessions together.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Measured seconds of the open-loop run (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of open-loop load before measuring (sent and answered, not recorded); also
    /// the share of pipelined orders left unrecorded (warm-up / (warm-up + duration)).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Order-entry sessions (one account each), orders dealt round robin.
    #[arg(long, default_value_t = 1)]
    pub sessions: u16,
    /// Message mix in relative weights: `enter` (passive day orders), `ioc` (priced through
    /// the book, they trade), `cancel`, `replace`.
    #[arg(long, default_value = "enter:50,ioc:10,cancel:30,replace:10")]
    pub mix: String,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Load an external `cascade serve` at this OUCH address instead of an in-process one
    /// (its `rate_limit_per_s` must allow the rate per session).
    #[arg(long, value_name = "ADDR")]
    pub connect: Option<SocketAddr>,
    /// With `--connect`: a `username:password` per session (default: the embedded demo
    /// users alice, bob, carol, mm).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    pub users: Vec<String>,
    /// The in-process server's fsync policy for the open-loop run: `batch`, `every-record`
    /// or `never`.
    #[arg(long, default_value = "batch")]
    pub fsync: String,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::All)]
    pub mode: Mode,
    /// Open loop: busy-wait between sends for exact pacing (give the load generator a core of
    /// its own); by default the sender sleeps and sends what fell due meanwhile together.
    #[arg(long)]
    pub spin: bool,
    /// Orders of each pipelined run.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub pipelined_orders: u64,
    /// Requests in flight at most in a pipelined run.
    #[arg(long, value_name = "N", default_value_t = 16_384)]
    pub window: u64,
    /// Timed round trips of the loopback floor.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub floor_samples: usize,
    /// Send a recorded journal's order flow (Place, Cancel, Amend) instead of generated
    /// orders: one session per account, at the recorded pace.
    #[arg(long, value_name = "JOURNAL")]
    pub from: Option<PathBuf>,
    /// With `--from`: this many times the recorded pace.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Write the open-loop histogram as an HdrHistogram percentile file (`.hgrm`); the floor
    /// and pipelined ones go beside it as `<stem>-floor.hgrm` and `<stem>-pipelined.hgrm`.
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Write the latency distributions as an SVG plot.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Orders one run may plan (about 40 bytes each in memory before the run).
pub const ORDERS_MAX: u64 = 200_000_000;

/// The floors of issue 4 on this machine.
pub const P50_FLOOR_RATIO: f64 = 2.0;
/// p99.9 at most this many times the loopback floor's p99.9.
pub const P999_FLOOR_RATIO: f64 = 5.0;
/// Pipelined orders per second on one connection, at least.
pub const PIPELINED_FLOOR: f64 = 500_000.0;
/// Journaling on keeps at least this share of journaling-off throughput.
pub const JOURNAL_FLOOR_SHARE: f64 = 0.8;

/// Bytes of an Enter Order frame (SoupBinTCP header + 47) and of an Order Accepted frame
/// (header + 64): the floor's ping and pong.
const ORDER_FRAME: usize = soup::LENGTH_PREFIX + 1 + 47;
const ACK_FRAME: usize = soup::LENGTH_PREFIX + 1 + 64;

impl LoadgenArgs {
    /// The command line that reproduces this run.
    #[must_use]
    pub fn command(&self) -> String {
        let mode = match self.mode {
            Mode::All => "all",
            Mode::OpenLoop => "open-loop",
            Mode::Pipelined => "pipelined",
            Mode::Floor => "floor",
        };
        let mut s = format!(
            "cargo run --release -- loadgen --mode {mode} --rate {} --duration {} --warmup {} \
             --sessions {} --mix {} --seed {} --fsync {} --pipelined-orders {} --window {} \
             --floor-samples {}",
            self.rate,
            self.duration,
            self.warmup,
            self.sessions,
            self.mix,
            self.seed,
            self.fsync,
            self.pipelined_orders,
            self.window,
            self.floor_samples
        );
        if let Some(a) = self.connect {
            let _ = write!(s, " --connect {a}");
            for u in &self.users {
                let _ = write!(s, " --user {u}");
            }
        }
        if self.spin {
            s.push_str(" --spin");
        }
        if let Some(f) = &self.from {
            let _ = write!(s, " --from {} --speed {}", f.display(), self.speed);
        }
        if let Some(f) = &self.hgrm {
            let _ = write!(s, " --hgrm {}", f.display());
        }
        if let Some(f) = &self.plot {
            let _ = write!(s, " --plot {}", f.display());
        }
        s
    }
}

/// A server started in this process on loopback with a fresh journal directory.
pub struct InProcess {
    /// The server.
    pub handle: ServerHandle,
    /// One login per session.
    pub logins: Vec<Login>,
    dir: tempfile::TempDir,
}

impl InProcess {
    /// Stops the server (journal committed) and hands back its journal directory, which is
    /// deleted when the returned value is dropped.
    ///
    /// # Errors
    /// The server had failed.
    pub fn shutdown(self) -> anyhow::Result<tempfile::TempDir> {
        self.handle
            .shutdown()
            .map_err(|e| anyhow::anyhow!("server: {e}"))?;
        Ok(self.dir)
    }
}

/// Deposit of each load account: 1,000,000 USD in quote quantums.
const LOAD_DEPOSIT: i64 = 1_000_000_000_000;

/// Starts `cascade serve`'s server in process: the embedded configuration on ephemeral
/// loopback ports, a fresh journal with `fsync`, one user per account in `accounts`, and
/// limits raised so that the load generator, not a rate limit, is what is measured.
///
/// # Errors
/// The server does not start.
pub fn start_in_process(fsync: &str, accounts: &[u32]) -> anyhow::Result<InProcess> {
    let dir = tempfile::tempdir().context("creating a journal directory")?;
    let mut config = Config::embedded();
    config.port = 0;
    config.md_port = 0;
    config.native_port = 0;
    config.journal_dir = dir.path().to_path_buf();
    fsync.clone_into(&mut config.fsync);
    config.rate_limit_per_s = u32::MAX;
    config.outbound_queue_max = 1 << 20;
    config.idle_timeout_ms = 60_000;
    // Its own ephemeral port, so that runs and tests side by side do not collide.
    config.metrics_listen = "127.0.0.1:0".into();
    config.users = accounts
        .iter()
        .enumerate()
        .map(|(i, &account)| UserConfig {
            username: format!("lg{i}"),
            password: format!("lg{i}"),
            account,
            deposit_quote: LOAD_DEPOSIT,
            operator: false,
        })
        .collect();
    let logins = config
        .users
        .iter()
        .map(|u| Login {
            username: u.username.clone(),
            password: u.password.clone(),
        })
        .collect();
    let handle = server::start(config).context("starting the in-process server")?;
    Ok(InProcess {
        handle,
        logins,
        dir,
    })
}

fn demo_logins(users: &[String], n: usize) -> anyhow::Result<Vec<Login>> {
    let parsed: Vec<Login> = if users.is_empty() {
        Config::embedded()
            .users
            .iter()
            .map(|u| Login {
                username: u.username.clone(),
                password: u.password.clone(),
            })
            .collect()
    } else {
        users
            .iter()
            .map(|u| {
                let (a, b) = u
                    .split_once(':')
                    .with_context(|| format!("--user {u:?}: expected NAME:PASSWORD"))?;
                Ok(Login {
                    username: a.into(),
                    password: b.into(),
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    if parsed.len() < n {
        bail!(
            "{n} sessions need {n} users; {} given (use --user NAME:PASSWORD per session)",
            parsed.len()
        );
    }
    Ok(parsed.into_iter().take(n).collect())
}

/// The markets' OUCH symbols, by market id, of the embedded configuration.
fn registry() -> anyhow::Result<(MarketRegistry, Vec<[u8; 8]>)> {
    let mut reg = MarketRegistry::new();
    let mut symbols = Vec::new();
    for m in Config::embedded()
        .markets()
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        symbols.push(m.spec.symbol);
        reg.insert(m.spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((reg, symbols))
}

/// Everything [`run_plan`] needs to describe its run.
struct Target<'a> {
    addr: SocketAddr,
    logins: &'a [Login],
}

fn run_plan(
    target: &Target<'_>,
    plan: &[Planned],
    symbols: &[[u8; 8]],
    pacing: Pacing,
    warmup_ns: u64,
) -> anyhow::Result<RunOutcome> {
    let sessions = plan
        .iter()
        .map(|p| usize::from(p.session) + 1)
        .max()
        .unwrap_or(0);
    let mut conns = Vec::with_capacity(sessions);
    for login in target.logins.iter().take(sessions) {
        conns.push(Conn::login(target.addr, login)?);
    }
    if conns.len() < sessions {
        bail!("{sessions} sessions planned, {} logins", conns.len());
    }
    client::run(
        conns,
        plan,
        symbols,
        pacing,
        warmup_ns,
        Duration::from_secs(30),
    )
}

fn secs_to_ns(s: f64) -> anyhow::Result<u64> {
    if !(s.is_finite() && s >= 0.0) {
        bail!("durations must be non-negative numbers of seconds, got {s}");
    }
    // Seconds given on the command line; far below u64 ns.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((s * 1e9) as u64)
}

fn ns_to_s(ns: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let v = ns as f64 / 1e9;
    v
}

/// The checked counts of a run, as report notes; an error when any request went unanswered.
fn outcome_notes(o: &RunOutcome, planned: usize) -> (Vec<String>, Option<String>) {
    let k = o.by_kind();
    let mut notes = vec![
        format!(
            "orders sent {} of {planned} planned; acks {} (accepted {}, replaced {}, canceled {}, \
             rejected {}, cancel-rejected {})",
            o.sent,
            o.acks(),
            k[0],
            k[1],
            k[2],
            k[3],
            k[4]
        ),
        format!(
            "executions {} (each side a session holds), executed lots {}",
            o.executions(),
            o.sessions.iter().map(|s| s.executed_qty).sum::<u64>()
        ),
    ];
    let errors = o.errors();
    let failure = if o.acks() == planned as u64 && errors.is_empty() {
        notes.push("check: every order answered: OK".into());
        None
    } else {
        let e = format!(
            "{} of {planned} orders answered: {}",
            o.acks(),
            errors.join("; ")
        );
        notes.push(format!("CHECK FAILED: {e}"));
        Some(e)
    };
    (notes, failure)
}

/// Runs `cascade loadgen`.
///
/// # Errors
/// Bad flags, a server that cannot be started or reached, unanswered orders.
#[allow(clippy::too_many_lines)]
pub fn run(args: &LoadgenArgs) -> anyhow::Result<()> {
    let mix = Mix::parse(&args.mix)?;
    let warmup_ns = secs_to_ns(args.warmup)?;
    let duration_ns = secs_to_ns(args.duration)?;
    if args.rate == 0 || args.sessions == 0 {
        bail!("--rate and --sessions must be at least 1");
    }
    let open_loop_orders =
        u128::from(args.rate) * u128::from(warmup_ns.saturating_add(duration_ns)) / 1_000_000_000;
    if open_loop_orders > u128::from(ORDERS_MAX) || args.pipelined_orders > ORDERS_MAX {
        bail!(
            "at most {ORDERS_MAX} orders per run (the plan is built in memory first): lower \
             --rate × (--warmup + --duration) or --pipelined-orders"
        );
    }
    let (reg, symbols) = registry()?;
    let machine = harness::machine();
    let command = args.command();
    println!("# cascade loadgen");
    println!("command: {command}");
    println!("machine: {machine}");
    println!(
        "server: {}",
        args.connect.map_or_else(
            || "in process on 127.0.0.1 (embedded config, fresh journal per run, rate limit off)"
                .to_string(),
            |a| format!("external at {a}")
        )
    );
    let mut reports: Vec<Report> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut plot_series: Vec<(String, Histogram<u64>)> = Vec::new();

    // 1. The loopback floor.
    let floor = if args.mode == Mode::Pipelined {
        None
    } else {
        let samples = args.floor_samples.max(1);
        let (h, secs) = floor::ping_pong(ORDER_FRAME, ACK_FRAME, samples / 10, samples)
            .context("loopback ping-pong")?;
        let r = Report {
            title: "loopback floor (TCP ping-pong)".into(),
            workload: vec![
                (
                    "what".into(),
                    format!(
                        "{ORDER_FRAME} bytes out, {ACK_FRAME} back (an Enter Order frame and an \
                         Order Accepted frame), one at a time, TCP_NODELAY, two threads"
                    ),
                ),
                (
                    "round trips".into(),
                    format!("{} warm-up, {samples} timed", samples / 10),
                ),
            ],
            sample: "write → last byte of the answer read".into(),
            latency: h.clone(),
            ops: samples as u64,
            seconds: secs,
            fills: 0,
            checksum: 0,
            command: command.clone(),
            machine: machine.clone(),
            notes: vec![],
        };
        print!("\n{}", r.render());
        plot_series.push(("loopback floor".into(), h));
        reports.push(r);
        Some(reports.len() - 1)
    };

    // 2. Open loop, then the plain echo at the same rate and pacing.
    let mut open_loop = None;
    let mut echo_floor = None;
    if matches!(args.mode, Mode::All | Mode::OpenLoop) {
        let (plan, accounts, workload) = match &args.from {
            Some(path) => {
                let jp = plan::from_journal(path, args.speed, &reg)?;
                let w = vec![
                    ("load".into(), format!("journal {}", path.display())),
                    (
                        "pace".into(),
                        format!(
                            "{}x recorded ({} orders over {:.3} s)",
                            args.speed,
                            jp.planned.len(),
                            ns_to_s(jp.span_ns)
                        ),
                    ),
                    (
                        "sessions".into(),
                        format!("{} (one per account: {:?})", jp.accounts.len(), jp.accounts),
                    ),
                    (
                        "not sent".into(),
                        format!(
                            "{} non-order commands, {} cancels/amends of orders from before \
                             the journal",
                            jp.skipped, jp.unmatched
                        ),
                    ),
                ];
                (jp.planned, jp.accounts, w)
            }
            None => {
                let count = u64::try_from(open_loop_orders).unwrap_or(ORDERS_MAX);
                let plan = plan::generate(count, args.rate, args.sessions, mix, args.seed);
                let accounts: Vec<u32> = (0..u32::from(args.sessions)).map(|i| 101 + i).collect();
                let w = vec![
                    (
                        "load".into(),
                        format!(
                            "open loop, {} orders/s over {} session(s), round robin",
                            fmt_rate(f64::from(u32::try_from(args.rate).unwrap_or(u32::MAX))),
                            args.sessions
                        ),
                    ),
                    (
                        "mix".into(),
                        format!(
                            "{mix} (BTC-PERP; passive 1-{} ticks from 65,000.0, IOC {} ticks \
                             through; 1-5 lots; at most {} resting per session; seed {})",
                            plan::PASSIVE_TICKS,
                            plan::IOC_TICKS,
                            plan::LIVE_MAX,
                            args.seed
                        ),
                    ),
                    (
                        "sender".into(),
                        if args.spin {
                            "busy-waits for each send time".into()
                        } else {
                            "sleeps until the next send time; what fell due meanwhile goes out together".into()
                        },
                    ),
                    (
                        "duration".into(),
                        format!(
                            "{} s warm-up (not recorded) + {} s measured",
                            args.warmup, args.duration
                        ),
                    ),
                ];
                (plan, accounts, w)
            }
        };
        let (server, logins) = match args.connect {
            Some(a) => (None, (a, demo_logins(&args.users, accounts.len())?)),
            None => {
                let s = start_in_process(&args.fsync, &accounts)?;
                let a = s.handle.ouch_addr();
                let l = s.logins.clone();
                (Some(s), (a, l))
            }
        };
        let target = Target {
            addr: logins.0,
            logins: &logins.1,
        };
        let cpu0 = process_cpu_ns();
        let pacing = Pacing::OpenLoop { spin: args.spin };
        let o = run_plan(&target, &plan, &symbols, pacing, warmup_ns)?;
        let cpu = cpu_note(cpu0, o.sent, server.is_some());
        let (mut notes, failure) = outcome_notes(&o, plan.len());
        notes.extend(cpu);
        let lat = Percentiles::of(&o.lateness);
        notes.push(format!(
            "sender lateness (actual − intended send; included in the latency): p50 {} p99.9 {} max {}",
            report::fmt_ns(lat.p50),
            report::fmt_ns(lat.p999),
            report::fmt_ns(lat.max)
        ));
        let from_send = Percentiles::of(&o.from_send());
        notes.push(format!(
            "latency from the actual send (sender lateness left out): p50 {} p99 {} p99.9 {} max {}",
            report::fmt_ns(from_send.p50),
            report::fmt_ns(from_send.p99),
            report::fmt_ns(from_send.p999),
            report::fmt_ns(from_send.max)
        ));
        if let Some(s) = &server {
            notes.push(format!(
                "server journal fsync = {:?}; state_hash after the run {:016x}",
                args.fsync,
                s.handle.state_hash().map_err(|e| anyhow::anyhow!("{e}"))?
            ));
        }
        let mut workload = workload;
        if server.is_some() {
            workload.push(("journal".into(), format!("fsync = {:?}", args.fsync)));
        }
        let measured_s = ns_to_s(o.last_ack_ns().saturating_sub(o.first_measured_send_ns));
        let r = Report {
            title: "open-loop order→ack".into(),
            workload,
            sample: "intended send time → answer read (Accepted/Replaced/Canceled/Rejected), \
                     coordinated omission corrected"
                .into(),
            latency: o.latency(),
            ops: o.measured,
            seconds: measured_s,
            fills: o.executions(),
            checksum: o.checksum(),
            command: command.clone(),
            machine: machine.clone(),
            notes,
        };
        print!("\n{}", r.render());
        plot_series.push(("open-loop order→ack".into(), r.latency.clone()));
        reports.push(r);
        open_loop = Some(reports.len() - 1);
        failures.extend(failure);
        if let Some(s) = server {
            s.shutdown()?;
        }
        if args.from.is_none() {
            let (h, secs) = floor::open_loop_echo(
                ORDER_FRAME,
                ACK_FRAME,
                args.rate,
                Duration::from_nanos(warmup_ns),
                Duration::from_nanos(duration_ns),
            )
            .context("loopback open-loop echo")?;
            let r = Report {
                title: "loopback floor, open loop (plain TCP echo at the same rate)".into(),
                workload: vec![
                    (
                        "what".into(),
                        format!(
                            "{ORDER_FRAME} bytes out, {ACK_FRAME} back per frame, {} frames/s \
                             paced as the order run (sleep, then what fell due in one write), \
                             an echo thread answering each read with one write, TCP_NODELAY",
                            fmt_rate(f64::from(u32::try_from(args.rate).unwrap_or(u32::MAX)))
                        ),
                    ),
                    (
                        "duration".into(),
                        format!(
                            "{} s warm-up (not recorded) + {} s measured",
                            args.warmup, args.duration
                        ),
                    ),
                ],
                sample: "intended send time → last byte of the answer read, coordinated \
                         omission corrected"
                    .into(),
                ops: h.len(),
                latency: h.clone(),
                seconds: secs,
                fills: 0,
                checksum: 0,
                command: command.clone(),
                machine: machine.clone(),
                notes: vec![
                    "no server in the path: its tail is the machine's own stalls (thread \
                     wake-ups, timers, the loopback stack) under an open-loop load"
                        .into(),
                ],
            };
            print!("\n{}", r.render());
            plot_series.push(("plain echo, open loop".into(), h));
            reports.push(r);
            echo_floor = Some(reports.len() - 1);
        }
    }

    // 3. Pipelined, journaling on and off.
    let mut pipelined: Vec<(String, usize)> = Vec::new();
    if matches!(args.mode, Mode::All | Mode::Pipelined) && args.pipelined_orders > 0 {
        // Rate 10^9: at_ns is the request's index, so the warm-up is a count.
        let n = args.pipelined_orders;
        let plan = plan::generate(n, 1_000_000_000, 1, mix, args.seed);
        let share = if warmup_ns + duration_ns == 0 {
            0.0
        } else {
            ns_to_s(warmup_ns) / ns_to_s(warmup_ns + duration_ns)
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let warm = (n as f64 * share) as u64;
        let runs: Vec<Option<&str>> = if args.connect.is_some() {
            vec![None]
        } else {
            vec![Some("batch"), Some("never")]
        };
        for fsync in runs {
            let (server, target_addr, logins) = match fsync {
                Some(f) => {
                    let s = start_in_process(f, &[101])?;
                    let a = s.handle.ouch_addr();
                    let l = s.logins.clone();
                    (Some(s), a, l)
                }
                None => (
                    None,
                    args.connect.context("pipelined without a server")?,
                    demo_logins(&args.users, 1)?,
                ),
            };
            let target = Target {
                addr: target_addr,
                logins: &logins,
            };
            let cpu0 = process_cpu_ns();
            let o = run_plan(
                &target,
                &plan,
                &symbols,
                Pacing::Pipelined {
                    window: args.window.max(1),
                },
                warm,
            )?;
            let (mut notes, failure) = outcome_notes(&o, plan.len());
            notes.extend(cpu_note(cpu0, o.sent, server.is_some()));
            let label = match fsync {
                Some("batch") => "journaling on, fsync batch".to_string(),
                Some(f) => format!("journaling off, fsync {f} (written, never synced)"),
                None => "external server".to_string(),
            };
            let measured_s = ns_to_s(o.last_ack_ns().saturating_sub(o.first_measured_send_ns));
            let r = Report {
                title: format!("pipelined, one connection ({label})"),
                workload: vec![
                    (
                        "load".into(),
                        format!(
                            "{n} orders on one session as fast as answered, at most {} in \
                             flight; the first {warm} not recorded",
                            args.window
                        ),
                    ),
                    ("mix".into(), format!("{mix}, seed {}", args.seed)),
                ],
                sample: "actual send → answer read (queueing in the window included)".into(),
                latency: o.latency(),
                ops: o.measured,
                seconds: measured_s,
                fills: o.executions(),
                checksum: o.checksum(),
                command: command.clone(),
                machine: machine.clone(),
                notes,
            };
            print!("\n{}", r.render());
            plot_series.push((format!("pipelined ({label})"), r.latency.clone()));
            reports.push(r);
            pipelined.push((fsync.unwrap_or("external").to_string(), reports.len() - 1));
            failures.extend(failure);
            if let Some(s) = server {
                s.shutdown()?;
            }
        }
    }

    println!("\n## summary\n{}", Report::table_header());
    for r in &reports {
        println!("{}", r.table_row());
    }
    println!("\n## floors (issue 4)");
    if let (Some(f), Some(o)) = (floor, open_loop) {
        let (f, o) = (reports[f].percentiles(), reports[o].percentiles());
        for (name, got, base, limit) in [
            ("p50", o.p50, f.p50, P50_FLOOR_RATIO),
            ("p99.9", o.p999, f.p999, P999_FLOOR_RATIO),
        ] {
            #[allow(clippy::cast_precision_loss)]
            let ratio = got as f64 / base.max(1) as f64;
            println!(
                "   open-loop {name} {} vs loopback floor {name} {} = {ratio:.2}x (<= {limit}x): {}",
                report::fmt_ns(got),
                report::fmt_ns(base),
                if ratio <= limit { "MET" } else { "NOT MET" }
            );
        }
    }
    if let (Some(e), Some(o)) = (echo_floor, open_loop) {
        let (e, o) = (reports[e].percentiles(), reports[o].percentiles());
        for (name, got, base) in [("p50", o.p50, e.p50), ("p99.9", o.p999, e.p999)] {
            #[allow(clippy::cast_precision_loss)]
            let ratio = got as f64 / base.max(1) as f64;
            println!(
                "   context (not a floor): open-loop {name} {} vs the plain echo open loop at \
                 the same rate {name} {} = {ratio:.2}x",
                report::fmt_ns(got),
                report::fmt_ns(base),
            );
        }
    }
    for (fsync, i) in &pipelined {
        if fsync == "batch" || fsync == "external" {
            let v = reports[*i].ops_per_s();
            println!(
                "   pipelined one connection ({fsync}): {} orders/s (>= {}): {}",
                fmt_rate(v),
                fmt_rate(PIPELINED_FLOOR),
                if v >= PIPELINED_FLOOR {
                    "MET"
                } else {
                    "NOT MET"
                }
            );
        }
    }
    if let (Some((_, on)), Some((_, off))) = (
        pipelined.iter().find(|(f, _)| f == "batch"),
        pipelined.iter().find(|(f, _)| f == "never"),
    ) {
        let share = reports[*on].ops_per_s() / reports[*off].ops_per_s().max(1.0);
        println!(
            "   journaling on / off throughput = {:.1}% (>= {:.0}%): {}",
            share * 100.0,
            JOURNAL_FLOOR_SHARE * 100.0,
            if share >= JOURNAL_FLOOR_SHARE {
                "MET"
            } else {
                "NOT MET"
            }
        );
    }
    write_outputs(args, &reports, floor, open_loop, &pipelined, &plot_series)?;
    if !failures.is_empty() {
        bail!("unanswered orders: {}", failures.join("; "));
    }
    Ok(())
}

/// CPU time of this process so far (all threads: the load generator and an in-process
/// server), from `/proc/self/stat` in clock ticks of 10 ms (Linux's fixed `USER_HZ`).
fn process_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10_000_000)
}

/// CPU per order over a run: with an in-process server it covers both sides, which is what a
/// machine with few cores has to share.
fn cpu_note(before: Option<u64>, orders: u64, in_process: bool) -> Option<String> {
    let used = process_cpu_ns()?.saturating_sub(before?);
    let who = if in_process {
        "load generator + in-process server"
    } else {
        "load generator only"
    };
    Some(format!(
        "CPU time {:.2} s ({who}) = {} per order",
        ns_to_s(used),
        report::fmt_ns(used / orders.max(1))
    ))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "loadgen".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{suffix}.hgrm"))
}

fn write_outputs(
    args: &LoadgenArgs,
    reports: &[Report],
    floor: Option<usize>,
    open_loop: Option<usize>,
    pipelined: &[(String, usize)],
    series: &[(String, Histogram<u64>)],
) -> anyhow::Result<()> {
    if let Some(path) = &args.hgrm {
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        if let Some(i) = open_loop {
            files.push((path.clone(), i));
        }
        if let Some(i) = floor {
            files.push((sibling(path, "floor"), i));
        }
        for (fsync, i) in pipelined {
            files.push((sibling(path, &format!("pipelined-{fsync}")), *i));
        }
        for (p, i) in files {
            harness::write_hgrm(&p, &reports[i].latency)
                .with_context(|| format!("writing {}", p.display()))?;
            println!("histogram: {}", p.display());
        }
    }
    if let Some(path) = &args.plot {
        let s: Vec<Series<'_>> = series
            .iter()
            .map(|(label, h)| Series {
                label: label.clone(),
                histogram: h,
            })
            .collect();
        plot::write_svg(path, "cascade loadgen: latency by percentile", &s)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot: {}", path.display());
    }
    Ok(())
}
