//! `cascade loadgen` end to end over real loopback sockets against the in-process server:
//! every order sent is answered exactly once, the server counts what was sent, and a
//! recorded journal replays as load. Counts only: no timing is asserted.

use cascade_benches::loadgen::client::{self, Conn, Pacing, RunOutcome};
use cascade_benches::loadgen::plan::{self, Mix, Request};
use cascade_benches::loadgen::{start_in_process, InProcess};
use cascade_gateway::codec::map::MarketRegistry;
use cascade_gateway::recovery::JOURNAL_FILE;
use cascade_gateway::server::Config;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn symbols() -> (MarketRegistry, Vec<[u8; 8]>) {
    let mut reg = MarketRegistry::new();
    let mut symbols = Vec::new();
    for m in Config::embedded().markets().expect("embedded markets") {
        symbols.push(m.spec.symbol);
        reg.insert(m.spec).expect("registry");
    }
    (reg, symbols)
}

fn run(server: &InProcess, plan: &[plan::Planned], pacing: Pacing) -> RunOutcome {
    let sessions = plan
        .iter()
        .map(|p| usize::from(p.session) + 1)
        .max()
        .unwrap_or(0);
    let conns: Vec<Conn> = server.logins[..sessions]
        .iter()
        .map(|l| Conn::login(server.handle.ouch_addr(), l).expect("login"))
        .collect();
    let (_, symbols) = symbols();
    client::run(conns, plan, &symbols, pacing, 0, Duration::from_secs(30)).expect("run")
}

fn assert_all_answered(o: &RunOutcome, planned: usize) {
    assert_eq!(o.errors(), Vec::<String>::new());
    assert_eq!(o.sent, planned as u64, "orders sent");
    assert_eq!(o.acks(), planned as u64, "acks == orders sent");
    assert_eq!(o.by_kind().iter().sum::<u64>(), o.acks());
    assert_eq!(
        o.latency().len(),
        planned as u64,
        "one latency sample per order"
    );
}

fn scrape_orders(server: &InProcess) -> u64 {
    let addr = server.handle.metrics_addr().expect("metrics endpoint");
    let mut s = TcpStream::connect(addr).expect("connect metrics");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.lines()
        .find_map(|l| l.strip_prefix("cascade_orders_total ")?.parse().ok())
        .expect("cascade_orders_total")
}

#[test]
fn open_loop_every_order_is_answered_and_counted_by_the_server() {
    let server = start_in_process("never", &[101, 102]).expect("server");
    let planned = plan::generate(3_000, 50_000, 2, Mix::default(), 1);
    let o = run(&server, &planned, Pacing::OpenLoop { spin: false });
    assert_all_answered(&o, planned.len());
    // The mix trades (IOC orders through resting ones) and cancels.
    let k = o.by_kind();
    assert!(k[0] > 0 && k[2] > 0, "accepted and canceled answers: {k:?}");
    assert!(o.executions() > 0);
    assert_ne!(o.checksum(), 0);
    assert_eq!(o.lateness.len(), planned.len() as u64);
    // The server saw every order, plus one Account Query per session at login.
    assert_eq!(scrape_orders(&server), planned.len() as u64 + 2);
    server.shutdown().expect("shutdown");
}

#[test]
fn pipelined_runs_are_deterministic_on_one_session() {
    let planned = plan::generate(4_000, 1_000_000_000, 1, Mix::default(), 9);
    let mut seen = Vec::new();
    for fsync in ["batch", "never"] {
        let server = start_in_process(fsync, &[101]).expect("server");
        let o = run(&server, &planned, Pacing::Pipelined { window: 256 });
        assert_all_answered(&o, planned.len());
        seen.push((o.by_kind(), o.executions(), o.checksum()));
        server.shutdown().expect("shutdown");
    }
    // One session: the same orders in the same order give the same answers and trades,
    // journal synced or not.
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn a_recorded_journal_replays_as_load() {
    let server = start_in_process("batch", &[101, 102]).expect("server");
    let planned = plan::generate(1_500, 100_000, 2, Mix::default(), 3);
    let o = run(&server, &planned, Pacing::Pipelined { window: 128 });
    assert_all_answered(&o, planned.len());
    let dir = server.shutdown().expect("shutdown");
    let (reg, _) = symbols();
    let jp = plan::from_journal(&dir.path().join(JOURNAL_FILE), 1000.0, &reg).expect("journal");
    // Genesis (markets, risk, index, deposits) is not order flow.
    assert_eq!(jp.skipped, 2 * 3 + 2);
    // One session per account, in the order each first appears in the journal.
    let mut accounts = jp.accounts.clone();
    accounts.sort_unstable();
    assert_eq!(accounts, vec![101, 102]);
    // Every order, cancel and replace the engine sequenced comes back, except the gateway's
    // own refusals (which never reached the journal) and cancels/replaces of orders that
    // were gone (the engine rejected them; the plan sends them again, they are answered
    // again).
    let entered = planned
        .iter()
        .filter(|p| matches!(p.request, Request::Enter { .. }))
        .count();
    let replayed_enters = jp
        .planned
        .iter()
        .filter(|p| matches!(p.request, Request::Enter { .. }))
        .count();
    assert_eq!(replayed_enters, entered);
    assert!(jp.planned.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
    let again = start_in_process("never", &jp.accounts).expect("server");
    let o = run(&again, &jp.planned, Pacing::OpenLoop { spin: false });
    assert_all_answered(&o, jp.planned.len());
    again.shutdown().expect("shutdown");
}

#[test]
fn bad_logins_are_refused_with_a_reason() {
    let server = start_in_process("never", &[101]).expect("server");
    let wrong = client::Login {
        username: "lg0".into(),
        password: "nope".into(),
    };
    let err = Conn::login(server.handle.ouch_addr(), &wrong)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("rejected"), "{err}");
    let long = client::Login {
        username: "much-too-long".into(),
        password: "x".into(),
    };
    assert!(Conn::login(server.handle.ouch_addr(), &long).is_err());
    server.shutdown().expect("shutdown");
}
