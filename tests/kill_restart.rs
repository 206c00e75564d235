//! Crash recovery of the real `cascade serve` process: drive OUCH load, SIGKILL the process in
//! the middle of it, restart on the same journal directory, and check that
//! - the restarted server's recovered `state_hash` (printed at start) equals the hash of one
//!   uninterrupted in-process run of the journaled command prefix, from genesis;
//! - every order the clients saw accepted is in that prefix (nothing is answered before it is
//!   journaled);
//! - an order entered before the crash can still be cancelled through OUCH afterwards.
//!
//! No sleeps: the kill comes after a chosen number of acknowledgements has been read, while
//! more orders are still in flight.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use cascade_engine::{Engine, Limits};
use cascade_gateway::codec::ouch::{self, Appendage, CancelOrder, EnterOrder, Inbound, Outbound};
use cascade_gateway::codec::soup::{LoginRequest, Packet, StreamDecoder};
use cascade_gateway::journal;
use cascade_gateway::recovery::JOURNAL_FILE;

const DEADLINE: Duration = Duration::from_secs(30);
/// 65,000.0 USD in OUCH price units (4 implied decimals); BTC-PERP's tick is 0.1 USD = 1,000.
const PX_65000: i64 = 650_000_000;
const TICK: i64 = 1_000;

/// A running `cascade serve` and what it printed at start.
struct Served {
    child: Child,
    /// Kept open: the server writes to its stdout again on exit, and a closed pipe would end
    /// it early.
    _stdout: BufReader<ChildStdout>,
    ouch: SocketAddr,
    recovered_seq: u64,
    state_hash: u64,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
            .arg("serve")
            .arg("--journal")
            .arg(dir)
            .args(["--port", "0", "--md-port", "0", "--native-port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Logs are not read; a full pipe would block the server.
            .stderr(Stdio::null())
            .spawn()
            .expect("cascade serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut ouch = None;
        let mut recovered = None;
        let mut line = String::new();
        // Up to the last line of the banner, so the server never writes to a closed pipe.
        while !line.contains("Ctrl-C stops") {
            line.clear();
            assert!(
                stdout.read_line(&mut line).expect("server output") > 0,
                "the server exited during start"
            );
            if let Some(addr) = line.split("order entry (SoupBinTCP): ").nth(1) {
                ouch = Some(addr.trim().parse().expect("address"));
            }
            if let Some(rest) = line.split("recovered through seq ").nth(1) {
                let (seq, rest) = rest.split_once(", state_hash ").expect("hash");
                let hash = rest.trim_end().trim_end_matches(')');
                recovered = Some((
                    seq.parse().expect("seq"),
                    u64::from_str_radix(hash, 16).expect("hex hash"),
                ));
            }
        }
        let (recovered_seq, state_hash) = recovered.expect("the server printed its recovery");
        Self {
            child,
            _stdout: stdout,
            ouch: ouch.expect("the server printed its OUCH address"),
            recovered_seq,
            state_hash,
        }
    }

    /// SIGKILL: no shutdown path runs, buffers in the process are lost.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reaped");
    }
}

/// A minimal OUCH client on Cascade's codec.
struct Client {
    stream: TcpStream,
    dec: StreamDecoder,
}

fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    out[..s.len()].copy_from_slice(s.as_bytes());
    out
}

impl Client {
    fn login(addr: SocketAddr, user: &str) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut c = Self {
            stream,
            dec: StreamDecoder::new(1 << 20, u16::MAX as usize),
        };
        c.send(&Packet::LoginRequest(LoginRequest {
            username: pad(user),
            password: pad(user),
            session: [b' '; 10],
            sequence: 0,
        }));
        c.next_until(|kind, _| (kind == b'A').then_some(()));
        c
    }

    fn send(&mut self, packet: &Packet<'_>) {
        let mut buf = vec![0u8; packet.encoded_len()];
        let n = packet.encode(&mut buf).expect("encode");
        self.stream.write_all(&buf[..n]).expect("write");
    }

    fn ouch(&mut self, msg: &Inbound<'_>) {
        let mut buf = vec![0u8; msg.encoded_len()];
        let n = msg.encode(&mut buf).expect("encode ouch");
        self.send(&Packet::UnsequencedData(&buf[..n]));
    }

    fn enter(&mut self, user_ref_num: u32, side: u8, price: i64) {
        self.ouch(&Inbound::EnterOrder(EnterOrder {
            user_ref_num,
            side,
            quantity: 1,
            symbol: *b"BTC-PERP",
            price,
            time_in_force: ouch::time_in_force::DAY,
            display: ouch::display::VISIBLE,
            capacity: ouch::capacity::AGENCY,
            intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
            cross_type: ouch::cross_type::CONTINUOUS,
            cl_ord_id: *b"kill-restart  ",
            appendage: Appendage::EMPTY,
        }));
    }

    /// Reads packets until `f` picks one, within the deadline.
    fn next_until<T>(&mut self, mut f: impl FnMut(u8, &[u8]) -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for the server"
            );
            loop {
                let picked = match self.dec.next_packet().expect("valid framing") {
                    Some(Packet::SequencedData(d)) => f(b'S', d),
                    Some(Packet::LoginAccepted(_)) => f(b'A', &[]),
                    Some(Packet::LoginRejected(_)) => panic!("login rejected"),
                    Some(_) => None,
                    None => break,
                };
                if let Some(t) = picked {
                    return t;
                }
            }
            match self.stream.read(self.dec.spare()) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => self.dec.commit(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// The next Order Accepted's order reference (= the engine `OrderId`, its command's seq).
    fn next_accepted(&mut self) -> u64 {
        self.next_until(|kind, d| {
            if kind != b'S' {
                return None;
            }
            match Outbound::decode(d).expect("valid OUCH") {
                Outbound::OrderAccepted(a) => Some(a.order_reference_number),
                Outbound::Rejected(r) => panic!("rejected with reason {}", r.reason),
                _ => None,
            }
        })
    }
}

/// Replays the journal in `dir` (read-only) from genesis in one uninterrupted in-process run:
/// its last sequence number and state hash.
fn journaled_prefix(dir: &Path) -> (u64, u64) {
    let mut engine = Engine::new(Limits::DEFAULT);
    let summary = journal::scan(&dir.join(JOURNAL_FILE), |record| {
        engine.apply(&record.command);
    })
    .expect("the journal reads");
    engine
        .audit()
        .expect("the replayed engine passes its audit");
    (summary.last_seq.unwrap_or(0), engine.state_hash())
}

#[test]
fn sigkill_mid_load_then_restart_recovers_the_journaled_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut next_ref = [0u32; 2];
    let mut resting_alice_ref = None;
    // (orders per side sent, Order Accepted read by alice before the kill: 0 kills right
    // after the last write, with most of the burst still in flight)
    for (cycle, (orders, acks_before_kill)) in [(200, 50), (1_000, 0), (3_000, 1_500)]
        .into_iter()
        .enumerate()
    {
        let server = Served::start(dir.path());
        // The printed hash is after genesis (the markets and deposits an empty directory gets
        // as its first commands, journaled before the ports open); the printed seq is what
        // recovery found, before genesis.
        let (seq, hash) = journaled_prefix(dir.path());
        let recovered_seq = if cycle == 0 { 0 } else { seq };
        assert_eq!(server.recovered_seq, recovered_seq, "cycle {cycle}");
        assert_eq!(server.state_hash, hash, "cycle {cycle}");

        let mut alice = Client::login(server.ouch, "alice");
        let mut bob = Client::login(server.ouch, "bob");
        if cycle == 0 {
            // Far from the market, so it rests through every cycle.
            next_ref[0] += 1;
            alice.enter(next_ref[0], b'B', PX_65000 - 500 * TICK);
            alice.next_accepted();
            resting_alice_ref = Some(next_ref[0]);
        }
        // Alice bids and Bob offers around 65,000 on a sawtooth, so about half the orders
        // cross and the rest build a book.
        for i in 0..orders {
            let offset = i64::from(i % 7) * TICK;
            next_ref[0] += 1;
            alice.enter(next_ref[0], b'B', PX_65000 - 3 * TICK + offset);
            next_ref[1] += 1;
            bob.enter(next_ref[1], b'S', PX_65000 + 3 * TICK - offset);
        }
        let mut acked_max = 0;
        for _ in 0..acks_before_kill {
            acked_max = acked_max.max(alice.next_accepted());
        }
        server.kill();

        let (journaled_seq, _) = journaled_prefix(dir.path());
        assert!(
            acked_max <= journaled_seq,
            "cycle {cycle}: order {acked_max} was acknowledged but the journal ends at \
             {journaled_seq}"
        );
    }

    // After the last kill: the restart recovers the journaled state, and alice's order from
    // the first run is still hers to cancel by its UserRefNum.
    let server = Served::start(dir.path());
    let (seq, hash) = journaled_prefix(dir.path());
    assert_eq!((server.recovered_seq, server.state_hash), (seq, hash));
    let mut alice = Client::login(server.ouch, "alice");
    let user_ref_num = resting_alice_ref.expect("entered in the first cycle");
    alice.ouch(&Inbound::CancelOrder(CancelOrder {
        user_ref_num,
        quantity: 0,
    }));
    let cancelled = alice.next_until(|kind, d| {
        if kind != b'S' {
            return None;
        }
        match Outbound::decode(d).expect("valid OUCH") {
            Outbound::OrderCanceled(c) => Some(c.user_ref_num),
            Outbound::CancelReject(r) => panic!("cancel of {} refused", r.user_ref_num),
            _ => None,
        }
    });
    assert_eq!(cancelled, user_ref_num);
    server.kill();
}
