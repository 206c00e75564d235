//! The server over real sockets on 127.0.0.1 (ephemeral ports). No sleeps for
//! synchronization: clients read with short timeouts until the expected message arrives,
//! within a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::codec::itch::{self, Message};
use crate::codec::ouch::{self, Appendage, CancelOrder, EnterOrder, Inbound, Outbound};
use crate::codec::soup::{LoginAccepted, LoginRequest, Packet, StreamDecoder};

const DEADLINE: Duration = Duration::from_secs(10);
/// 65,000.0 USD in OUCH price units (4 decimals).
const PX_65000: i64 = 650_000_000;

fn test_config(dir: &Path) -> Config {
    let mut config = Config::embedded();
    config.port = 0;
    config.md_port = 0;
    config.native_port = 0;
    config.metrics_listen = String::new();
    config.journal_dir = dir.to_path_buf();
    config.fsync = "never".into();
    config.heartbeat_ms = 200;
    config.idle_timeout_ms = 5_000;
    config
}

fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    out[..s.len()].copy_from_slice(s.as_bytes());
    out
}

/// One owned packet: its type byte and payload.
type Frame = (u8, Vec<u8>);

struct Client {
    stream: TcpStream,
    dec: StreamDecoder,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        Self {
            stream,
            dec: StreamDecoder::new(1 << 16, u16::MAX as usize),
        }
    }

    fn send(&mut self, packet: &Packet<'_>) {
        let mut buf = vec![0u8; packet.encoded_len()];
        let n = packet.encode(&mut buf).expect("encode");
        self.stream.write_all(&buf[..n]).expect("write");
    }

    fn login_request(&mut self, user: &str, password: &str, sequence: u64) {
        self.send(&Packet::LoginRequest(LoginRequest {
            username: pad(user),
            password: pad(password),
            session: [b' '; 10],
            sequence,
        }));
    }

    /// Logs in; panics unless accepted.
    fn login(addr: SocketAddr, user: &str, password: &str, sequence: u64) -> (Self, LoginAccepted) {
        let mut c = Self::connect(addr);
        c.login_request(user, password, sequence);
        let accepted = c.wait_for(|kind, payload| match Packet::decode(kind, payload) {
            Ok(Packet::LoginAccepted(a)) => Some(a),
            Ok(Packet::LoginRejected(code)) => panic!("login rejected {}", char::from(code)),
            _ => None,
        });
        (c, accepted)
    }

    fn enter(&mut self, user_ref_num: u32, side: u8, quantity: u32, price: i64) {
        self.ouch(&Inbound::EnterOrder(EnterOrder {
            user_ref_num,
            side,
            quantity,
            symbol: *b"BTC-PERP",
            price,
            time_in_force: ouch::time_in_force::DAY,
            display: ouch::display::VISIBLE,
            capacity: ouch::capacity::AGENCY,
            intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
            cross_type: ouch::cross_type::CONTINUOUS,
            cl_ord_id: *b"cl-ord-id-0001",
            appendage: Appendage::EMPTY,
        }));
    }

    fn ouch(&mut self, msg: &Inbound<'_>) {
        let mut buf = vec![0u8; msg.encoded_len()];
        let n = msg.encode(&mut buf).expect("encode ouch");
        self.send(&Packet::UnsequencedData(&buf[..n]));
    }

    /// The next whole frame, or `None` on a read timeout; panics when the server closed.
    fn poll(&mut self) -> Result<Option<Frame>, String> {
        loop {
            match self.dec.next_packet() {
                Ok(Some(p)) => {
                    let kind = p.kind();
                    let payload = match p {
                        Packet::SequencedData(d) | Packet::Debug(d) => d.to_vec(),
                        Packet::LoginAccepted(a) => {
                            let mut b = a.session.to_vec();
                            b.extend_from_slice(&crate::codec::soup::numeric(a.sequence));
                            b
                        }
                        Packet::LoginRejected(c) => vec![c],
                        _ => Vec::new(),
                    };
                    return Ok(Some((kind, payload)));
                }
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            match self.stream.read(self.dec.spare()) {
                Ok(0) => return Err("closed".into()),
                Ok(n) => self.dec.commit(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Reads until `f` picks a frame, within the deadline.
    fn wait_for<T>(&mut self, f: impl FnMut(u8, &[u8]) -> Option<T>) -> T {
        self.wait_within(DEADLINE, f)
    }

    /// [`Self::wait_for`] with another deadline (for work that takes seconds in a debug
    /// build, such as writing a snapshot of the default limits).
    fn wait_within<T>(
        &mut self,
        deadline: Duration,
        mut f: impl FnMut(u8, &[u8]) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        while start.elapsed() < deadline {
            match self.poll() {
                Ok(Some((kind, payload))) => {
                    if let Some(t) = f(kind, &payload) {
                        return t;
                    }
                }
                Ok(None) => {}
                Err(e) => panic!("connection ended while waiting: {e}"),
            }
        }
        panic!("timed out waiting for a message");
    }

    /// Reads until the next OUCH message `f` picks.
    fn wait_ouch<T>(&mut self, mut f: impl FnMut(&Outbound<'_>) -> Option<T>) -> T {
        self.wait_for(|kind, payload| {
            if kind != b'S' {
                return None;
            }
            let msg = Outbound::decode(payload).expect("server sends valid OUCH");
            f(&msg)
        })
    }

    /// Reads until the next ITCH message `f` picks.
    fn wait_itch<T>(&mut self, mut f: impl FnMut(&Message) -> Option<T>) -> T {
        self.wait_for(|kind, payload| {
            if kind != b'S' {
                return None;
            }
            let msg = itch::Message::decode(payload).expect("server sends valid ITCH");
            f(&msg)
        })
    }

    /// True once the server has closed the connection, within the deadline.
    fn closed_by_server(&mut self) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if self.poll().is_err() {
                return true;
            }
        }
        false
    }
}

fn accepted_ref(msg: &Outbound<'_>) -> Option<(u32, u64)> {
    match msg {
        Outbound::OrderAccepted(a) => Some((a.user_ref_num, a.order_reference_number)),
        Outbound::Rejected(r) => panic!("order rejected with reason {}", r.reason),
        _ => None,
    }
}

#[test]
fn login_accepted_and_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (_alice, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    assert_eq!(accepted.sequence, 1, "a fresh account stream starts at 1");

    let mut bad = Client::connect(server.ouch_addr());
    bad.login_request("alice", "wrong", 0);
    let code = bad.wait_for(|kind, payload| (kind == b'J').then(|| payload[0]));
    assert_eq!(code, b'A');
    assert!(bad.closed_by_server());

    let mut nobody = Client::connect(server.md_addr());
    nobody.login_request("nobody", "x", 0);
    let code = nobody.wait_for(|kind, payload| (kind == b'J').then(|| payload[0]));
    assert_eq!(code, b'A');
    server.shutdown().expect("shutdown");
}

#[test]
fn cross_reaches_both_sessions_and_the_feed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut feed, _) = Client::login(server.md_addr(), "mm", "mm", 1);
    // The feed replays from 1: Stock Directory for each market.
    feed.wait_itch(|m| {
        matches!(m, Message::StockDirectory(d) if d.stock == *b"ETH-PERP").then_some(())
    });
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let (mut bob, _) = Client::login(server.ouch_addr(), "bob", "bob", 0);

    alice.enter(1, b'S', 10, PX_65000);
    let (user_ref, alice_order) = alice.wait_ouch(accepted_ref);
    assert_eq!(user_ref, 1);
    let added = feed.wait_itch(|m| match m {
        Message::AddOrder(a) => Some(*a),
        _ => None,
    });
    assert_eq!(added.order_ref, alice_order);
    assert_eq!(added.shares, 10);

    bob.enter(7, b'B', 4, PX_65000);
    let bob_fill = bob.wait_ouch(|m| match m {
        Outbound::OrderExecuted(e) => Some((e.user_ref_num, e.quantity, e.match_number)),
        _ => None,
    });
    assert_eq!((bob_fill.0, bob_fill.1), (7, 4));
    let alice_fill = alice.wait_ouch(|m| match m {
        Outbound::OrderExecuted(e) => Some((e.user_ref_num, e.quantity, e.match_number)),
        _ => None,
    });
    assert_eq!(alice_fill, (1, 4, bob_fill.2));
    let executed = feed.wait_itch(|m| match m {
        Message::OrderExecuted(e) => Some(*e),
        _ => None,
    });
    assert_eq!(executed.order_ref, alice_order);
    assert_eq!(executed.executed_shares, 4);
    assert_eq!(executed.match_number, bob_fill.2);
    server.shutdown().expect("shutdown");
}

#[test]
fn an_account_cannot_cancel_another_accounts_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let (mut bob, _) = Client::login(server.ouch_addr(), "bob", "bob", 0);
    alice.enter(5, b'B', 3, PX_65000 - 1_000_000);
    alice.wait_ouch(accepted_ref);

    bob.ouch(&Inbound::CancelOrder(CancelOrder {
        user_ref_num: 5,
        quantity: 0,
    }));
    let refused = bob.wait_ouch(|m| match m {
        Outbound::CancelReject(r) => Some(r.user_ref_num),
        Outbound::OrderCanceled(_) => panic!("bob cancelled alice's order"),
        _ => None,
    });
    assert_eq!(refused, 5);

    // The order is still alice's to cancel.
    alice.ouch(&Inbound::CancelOrder(CancelOrder {
        user_ref_num: 5,
        quantity: 0,
    }));
    let cancelled = alice.wait_ouch(|m| match m {
        Outbound::OrderCanceled(c) => Some(c.user_ref_num),
        _ => None,
    });
    assert_eq!(cancelled, 5);
    server.shutdown().expect("shutdown");
}

#[test]
fn malformed_input_disconnects_only_that_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);

    // An oversized length prefix, before login.
    let mut huge = Client::connect(server.ouch_addr());
    huge.stream.write_all(&[0xff, 0xff, b'L']).expect("write");
    assert!(huge.closed_by_server());

    // An unknown packet type after login.
    let (mut bob, _) = Client::login(server.ouch_addr(), "bob", "bob", 0);
    bob.stream.write_all(&[0, 1, b'?']).expect("write");
    assert!(bob.closed_by_server());

    // An OUCH message that does not decode.
    let (mut carol, _) = Client::login(server.ouch_addr(), "carol", "carol", 0);
    carol.send(&Packet::UnsequencedData(b"Oxyz"));
    assert!(carol.closed_by_server());

    // Data on the market-data port.
    let (mut feed, _) = Client::login(server.md_addr(), "mm", "mm", 0);
    feed.send(&Packet::UnsequencedData(b"x"));
    assert!(feed.closed_by_server());

    // Alice is unaffected.
    alice.enter(1, b'B', 2, PX_65000 - 1_000_000);
    assert_eq!(alice.wait_ouch(accepted_ref).0, 1);
    server.shutdown().expect("shutdown");
}

#[test]
fn relogin_replays_from_the_requested_sequence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.enter(1, b'B', 2, PX_65000 - 1_000_000);
    let first = alice.wait_ouch(accepted_ref);
    alice.enter(2, b'B', 2, PX_65000 - 2_000_000);
    let second = alice.wait_ouch(accepted_ref);
    alice.send(&Packet::LogoutRequest);
    assert!(alice.closed_by_server());

    let (mut again, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 2);
    assert_eq!(accepted.sequence, 2);
    assert_eq!(again.wait_ouch(accepted_ref), second);

    let (mut from_start, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 1);
    assert_eq!(accepted.sequence, 1);
    assert_eq!(from_start.wait_ouch(accepted_ref), first);
    assert_eq!(from_start.wait_ouch(accepted_ref), second);
    // The newer login replaced the older session.
    assert!(again.closed_by_server());

    let (_live, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    assert_eq!(accepted.sequence, 3, "0 asks for the live end");
    server.shutdown().expect("shutdown");
}

#[test]
fn server_heartbeats_and_end_of_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.wait_for(|kind, _| (kind == b'H').then_some(()));
    alice.send(&Packet::ClientHeartbeat);
    server.shutdown().expect("shutdown");
    alice.wait_for(|kind, _| (kind == b'Z').then_some(()));
}

#[test]
fn restart_from_the_journal_resumes_the_same_state_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    assert_eq!(server.start_info().recovered_seq, 0);
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let (mut bob, _) = Client::login(server.ouch_addr(), "bob", "bob", 0);
    alice.enter(1, b'S', 10, PX_65000);
    let (_, alice_order) = alice.wait_ouch(accepted_ref);
    bob.enter(1, b'B', 6, PX_65000);
    bob.wait_ouch(|m| matches!(m, Outbound::OrderExecuted(_)).then_some(()));
    let live = server.state_hash().expect("hash");
    let last = server.shutdown().expect("shutdown");
    assert_eq!(live, last);

    let server = start(test_config(dir.path())).expect("restart");
    assert!(server.start_info().recovered_seq > 0);
    assert_eq!(server.start_info().state_hash, last);
    assert_eq!(server.state_hash().expect("hash"), last);
    // The feed was rebuilt from the journal: a subscriber from 1 sees the resting order's Add
    // and its Execute.
    let (mut feed, _) = Client::login(server.md_addr(), "mm", "mm", 1);
    let added = feed.wait_itch(|m| match m {
        Message::AddOrder(a) => Some(*a),
        _ => None,
    });
    assert_eq!((added.order_ref, added.shares), (alice_order, 10));
    let executed = feed.wait_itch(|m| match m {
        Message::OrderExecuted(e) => Some(*e),
        _ => None,
    });
    assert_eq!(
        (executed.order_ref, executed.executed_shares),
        (alice_order, 6)
    );
    // The restarted server keeps trading.
    let (mut carol, _) = Client::login(server.ouch_addr(), "carol", "carol", 0);
    carol.enter(1, b'B', 1, PX_65000 - 1_000_000);
    carol.wait_ouch(accepted_ref);
    let after = server.shutdown().expect("shutdown");
    assert_ne!(after, last);
}

#[test]
fn restart_restores_ouch_order_tables_so_old_orders_can_be_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.enter(3, b'B', 4, PX_65000 - 1_000_000);
    let (_, order_3) = alice.wait_ouch(accepted_ref);
    alice.enter(7, b'B', 2, PX_65000 - 2_000_000);
    let (_, order_7) = alice.wait_ouch(accepted_ref);
    // Replaced before the restart: the order now answers to UserRefNum 8, which only the
    // order-entry log knows (the journal's Amend carries no UserRefNum).
    alice.ouch(&Inbound::ReplaceOrder(ouch::ReplaceOrder {
        orig_user_ref_num: 7,
        user_ref_num: 8,
        quantity: 1,
        price: PX_65000 - 3_000_000,
        time_in_force: ouch::time_in_force::DAY,
        display: ouch::display::VISIBLE,
        intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
        cl_ord_id: *b"replaced-0008 ",
        appendage: Appendage::EMPTY,
    }));
    alice.wait_ouch(|m| matches!(m, Outbound::OrderReplaced(_)).then_some(()));
    // Refused before the engine, yet it consumes UserRefNum 9.
    alice.enter(9, b'B', 1, PX_65000 + 1);
    alice.wait_ouch(|m| matches!(m, Outbound::Rejected(_)).then_some(()));
    let last = server.shutdown().expect("shutdown");

    let server = start(test_config(dir.path())).expect("restart");
    assert_eq!(server.start_info().state_hash, last);
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.ouch(&Inbound::AccountQuery);
    let next = alice.wait_ouch(|m| match m {
        Outbound::AccountQueryResponse(r) => Some(r.next_user_ref_num),
        _ => None,
    });
    assert_eq!(next, 10, "the UserRefNum watermark survives the restart");
    // A retransmission of an old UserRefNum is still ignored: the next answer is for 10.
    alice.enter(3, b'B', 1, PX_65000 - 1_000_000);
    alice.enter(10, b'B', 1, PX_65000 - 1_000_000);
    let (first, _) = alice.wait_ouch(accepted_ref);
    assert_eq!(first, 10);
    for (user_ref_num, shares) in [(3, 4), (8, 1)] {
        alice.ouch(&Inbound::CancelOrder(CancelOrder {
            user_ref_num,
            quantity: 0,
        }));
        let cancelled = alice.wait_ouch(|m| match m {
            Outbound::OrderCanceled(c) => Some((c.user_ref_num, c.quantity)),
            Outbound::CancelReject(r) => panic!("cancel of {} refused", r.user_ref_num),
            _ => None,
        });
        assert_eq!(cancelled, (user_ref_num, shares));
    }
    assert_ne!(order_3, order_7);
    server.shutdown().expect("shutdown");
}

impl Client {
    fn native(&mut self, msg: &crate::codec::native::Inbound) {
        let mut buf = vec![0u8; 64];
        let n = msg.encode(&mut buf).expect("encode native");
        self.send(&Packet::UnsequencedData(&buf[..n]));
    }

    /// Reads until the next native message `f` picks.
    fn wait_native<T>(&mut self, f: impl FnMut(&crate::codec::native::Outbound) -> Option<T>) -> T {
        self.wait_native_within(DEADLINE, f)
    }

    /// [`Self::wait_native`] with another deadline.
    fn wait_native_within<T>(
        &mut self,
        deadline: Duration,
        mut f: impl FnMut(&crate::codec::native::Outbound) -> Option<T>,
    ) -> T {
        self.wait_within(deadline, |kind, payload| {
            if kind != b'S' {
                return None;
            }
            let msg = crate::codec::native::Outbound::decode(payload)
                .expect("server sends valid native messages");
            f(&msg)
        })
    }
}

#[test]
fn native_port_deposits_index_prices_and_authority() {
    use crate::codec::map::MapReject;
    use crate::codec::native::{
        collateral_kind, Deposit, Inbound as Req, Outbound as Native, SetIndexPrice,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.native_addr(), "alice", "alice", 0);
    let (mut ops, _) = Client::login(server.native_addr(), "ops", "ops", 0);
    let done = |request_ref: u32| {
        move |m: &Native| match m {
            Native::RequestDone(d) if d.request_ref == request_ref => Some(()),
            Native::RequestRejected(j) if j.request_ref == request_ref => {
                panic!("request {request_ref} rejected with {}", j.reason)
            }
            _ => None,
        }
    };
    let rejected = |request_ref: u32| {
        move |m: &Native| match m {
            Native::RequestRejected(j) if j.request_ref == request_ref => Some(j.reason),
            Native::RequestDone(d) if d.request_ref == request_ref => {
                panic!("request {request_ref} done, expected a reject")
            }
            _ => None,
        }
    };

    // A trader deposits to its own account: Collateral, then Request Done.
    alice.native(&Req::Deposit(Deposit {
        request_ref: 1,
        account: 1,
        amount: 5_000_000,
    }));
    let collateral = alice.wait_native(|m| match m {
        Native::Collateral(c) => Some(*c),
        _ => None,
    });
    assert_eq!(
        (collateral.account, collateral.kind, collateral.amount),
        (1, collateral_kind::DEPOSIT, 5_000_000)
    );
    assert_eq!(collateral.collateral, 1_000_005_000_000);
    alice.wait_native(done(1));

    // A trader may not name another account, nor send operator messages.
    alice.native(&Req::Deposit(Deposit {
        request_ref: 2,
        account: 2,
        amount: 1,
    }));
    assert_eq!(
        alice.wait_native(rejected(2)),
        MapReject::NotAuthorized.code()
    );
    let index = |request_ref, index| {
        Req::SetIndexPrice(SetIndexPrice {
            request_ref,
            symbol: *b"BTC-PERP",
            index,
            external_mark: 0,
        })
    };
    alice.native(&index(3, 650_100));
    assert_eq!(
        alice.wait_native(rejected(3)),
        MapReject::NotAuthorized.code()
    );

    // The operator moves the index: everybody's native stream gets the Mark Price.
    ops.native(&index(7, 650_100));
    ops.wait_native(done(7));
    let mark = alice.wait_native(|m| match m {
        Native::MarkPrice(p) => Some(*p),
        _ => None,
    });
    assert_eq!((&mark.symbol, mark.index), (b"BTC-PERP", 650_100));

    // A native session ends only its own session on bad input.
    ops.send(&Packet::UnsequencedData(b"?"));
    assert!(ops.closed_by_server());
    alice.native(&Req::Deposit(Deposit {
        request_ref: 4,
        account: 1,
        amount: 1,
    }));
    alice.wait_native(done(4));
    let hash = server.state_hash().expect("hash");
    assert_eq!(server.shutdown().expect("shutdown"), hash);
}

#[test]
fn replay_older_than_the_window_starts_at_the_oldest_kept_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.replay_max = 4;
    let server = start(config).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    for user_ref_num in 1..=6 {
        alice.enter(user_ref_num, b'B', 1, PX_65000 - 1_000_000);
        alice.wait_ouch(accepted_ref);
    }
    // Messages 1..=6 are the six Order Accepted; the stream keeps 3..=6.
    let (mut again, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 1);
    assert_eq!(
        accepted.sequence, 3,
        "Login Accepted names the oldest message kept"
    );
    let reason = again.wait_for(|kind, payload| (kind == b'+').then(|| payload.to_vec()));
    let reason = String::from_utf8(reason).expect("ascii");
    assert!(reason.contains("replay from 1 unavailable"), "{reason}");
    for expected in 3..=6 {
        let (user_ref_num, _) = again.wait_ouch(accepted_ref);
        assert_eq!(user_ref_num, expected);
    }
    // Within the window, a replay is exact and has no Debug packet.
    let (mut third, accepted) = Client::login(server.ouch_addr(), "alice", "alice", 5);
    assert_eq!(accepted.sequence, 5);
    let (first, payload) =
        third.wait_for(|kind, payload| (kind != b'H').then(|| (kind, payload.to_vec())));
    assert_eq!(
        first, b'S',
        "the replay starts at once, without a Debug packet"
    );
    assert!(matches!(
        Outbound::decode(&payload).expect("ouch"),
        Outbound::OrderAccepted(a) if a.user_ref_num == 5
    ));
    server.shutdown().expect("shutdown");
}

#[test]
fn snapshots_every_n_records_and_restart_from_the_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    // Genesis is 10 commands (2 markets x 3, 4 deposits): the third order reaches 13.
    config.snapshot_every = 12;
    let server = start(config.clone()).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    for user_ref_num in 1..=3 {
        alice.enter(user_ref_num, b'B', 1, PX_65000 - 1_000_000);
        alice.wait_ouch(accepted_ref);
    }
    let last = server.shutdown().expect("shutdown");
    let snapshots = crate::snapshot::list(dir.path()).expect("list");
    assert_eq!(snapshots.len(), 1, "one snapshot, at seq 12 or 13");

    let server = start(config).expect("restart");
    let info = server.start_info();
    assert!(info.snapshot_seq.is_some_and(|s| s >= 12), "{info:?}");
    assert_eq!(info.state_hash, last);
    // The OUCH tables came back too (rebuilt from the journal, not the snapshot).
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.ouch(&Inbound::CancelOrder(CancelOrder {
        user_ref_num: 1,
        quantity: 0,
    }));
    alice.wait_ouch(|m| match m {
        Outbound::OrderCanceled(c) => Some(c.user_ref_num),
        Outbound::CancelReject(_) => panic!("order 1 unknown after a snapshot restart"),
        _ => None,
    });
    server.shutdown().expect("shutdown");
}

#[test]
fn embedded_config_parses_and_bad_configs_are_refused() {
    let config = Config::embedded();
    assert_eq!(config.markets().expect("markets").len(), 2);
    assert!(config.authenticate(&pad("alice"), &pad("alice")).is_some());
    assert!(config.authenticate(&pad("alice"), &pad("bob")).is_none());
    let bad = DEFAULT_CONFIG.replace("preset = \"eth\"", "preset = \"doge\"");
    assert!(Config::parse(&bad).is_err());
    let bad = DEFAULT_CONFIG.replace("username = \"alice\"", "username = \"toolongname\"");
    assert!(Config::parse(&bad).is_err());
    assert!(Config::parse("listen = 1").is_err());
}

#[test]
fn rate_limit_disconnects_a_flooding_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.rate_limit_per_s = 5;
    let server = start(config).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let (mut bob, _) = Client::login(server.ouch_addr(), "bob", "bob", 0);
    // One write of 50 Account Queries; the server may close before reading them all, so the
    // write's outcome is not asserted.
    let mut flood = Vec::new();
    for _ in 0..50 {
        flood.extend_from_slice(&[0, 2, b'U', b'Q']);
    }
    let _ = alice.stream.write_all(&flood);
    assert!(alice.closed_by_server());
    bob.ouch(&Inbound::AccountQuery);
    bob.wait_ouch(|m| matches!(m, Outbound::AccountQueryResponse(_)).then_some(()));
    server.shutdown().expect("shutdown");
}

#[test]
fn a_replay_beyond_the_outbound_queue_never_blocks_the_core() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.outbound_queue_max = 3;
    let server = start(config).expect("start");
    // The feed already holds System Event, two Stock Directories and more: more than 3. The
    // core queues without blocking; whether the session is dropped as a slow consumer depends
    // on how fast its writer drains the queue meanwhile, so only "never blocks" is asserted.
    let mut feed = Client::connect(server.md_addr());
    feed.login_request("mm", "mm", 1);
    // From the live end it fits, and the core keeps serving everybody.
    let (mut live, _) = Client::login(server.md_addr(), "mm", "mm", 0);
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.enter(1, b'B', 2, PX_65000 - 1_000_000);
    alice.wait_ouch(accepted_ref);
    live.wait_itch(|m| matches!(m, Message::AddOrder(_)).then_some(()));
    server.shutdown().expect("shutdown");
}

#[test]
fn cancel_on_disconnect_pulls_the_accounts_orders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.cancel_on_disconnect = true;
    let server = start(config).expect("start");
    let (mut feed, _) = Client::login(server.md_addr(), "mm", "mm", 0);
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    alice.enter(1, b'B', 2, PX_65000 - 1_000_000);
    let (_, order) = alice.wait_ouch(accepted_ref);
    alice.send(&Packet::LogoutRequest);
    let deleted = feed.wait_itch(|m| match m {
        Message::OrderDelete(d) => Some(d.order_ref),
        _ => None,
    });
    assert_eq!(deleted, order);
    server.shutdown().expect("shutdown");
}

#[test]
fn a_silent_client_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.idle_timeout_ms = 300;
    let server = start(config).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    assert!(alice.closed_by_server());
    // A client that never logs in times out too.
    let mut mute = Client::connect(server.ouch_addr());
    assert!(mute.closed_by_server());
    server.shutdown().expect("shutdown");
}

#[test]
fn rejects_answer_and_the_session_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let reason = |m: &Outbound<'_>| match m {
        Outbound::Rejected(r) => Some((r.user_ref_num, r.reason)),
        Outbound::OrderAccepted(_) => panic!("accepted"),
        _ => None,
    };
    // The engine refuses a price far outside the band.
    alice.enter(1, b'B', 2, 10_000);
    let (user_ref, code) = alice.wait_ouch(reason);
    assert_eq!(user_ref, 1);
    assert!(code < 1000, "an engine reject code, got {code}");
    // The gateway refuses a price that is not a whole number of ticks.
    alice.enter(2, b'B', 2, PX_65000 + 1);
    assert_eq!(alice.wait_ouch(reason), (2, 1002));
    // A retransmitted UserRefNum is ignored; the next valid order is accepted.
    alice.enter(2, b'B', 2, PX_65000 - 1_000_000);
    alice.enter(3, b'B', 2, PX_65000 - 1_000_000);
    assert_eq!(alice.wait_ouch(accepted_ref).0, 3);
    server.shutdown().expect("shutdown");
}

#[test]
fn connections_beyond_sessions_max_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.sessions_max = 1;
    let server = start(config).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let mut second = Client::connect(server.ouch_addr());
    assert!(second.closed_by_server());
    alice.send(&Packet::LogoutRequest);
    assert!(alice.closed_by_server());
    // Alice's slot is freed when her session thread ends; retry within the deadline.
    let start_at = Instant::now();
    loop {
        let mut c = Client::connect(server.ouch_addr());
        c.login_request("bob", "bob", 0);
        let answer = loop {
            match c.poll() {
                Ok(Some((b'A', _))) => break true,
                Ok(Some(_) | None) => assert!(start_at.elapsed() < DEADLINE, "no answer"),
                Err(_) => break false,
            }
        };
        if answer {
            break;
        }
        assert!(start_at.elapsed() < DEADLINE, "the slot was never freed");
    }
    server.shutdown().expect("shutdown");
}

#[test]
fn operator_snapshot_on_request_is_written_in_the_background_and_restarts() {
    use crate::codec::map::MapReject;
    use crate::codec::native::{Inbound as Req, Outbound as Native, Snapshot};
    // A snapshot of the default limits takes seconds in a debug build (copy, encode, write):
    // the sessions must outlive that silence, and the answers may take longer than DEADLINE.
    const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.idle_timeout_ms = 300_000;
    let server = start(config.clone()).expect("start");
    let (mut alice, _) = Client::login(server.native_addr(), "alice", "alice", 0);
    let (mut ops, _) = Client::login(server.native_addr(), "ops", "ops", 0);
    let (mut trader, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    trader.enter(1, b'B', 1, PX_65000 - 1_000_000);
    trader.wait_ouch(accepted_ref);

    // A trader may not ask for a snapshot.
    alice.native(&Req::Snapshot(Snapshot { request_ref: 1 }));
    let refused = alice.wait_native(|m| match m {
        Native::RequestRejected(j) if j.request_ref == 1 => Some(j.reason),
        Native::SnapshotWritten(_) | Native::RequestDone(_) => panic!("a trader's snapshot"),
        _ => None,
    });
    assert_eq!(refused, MapReject::NotAuthorized.code());
    assert!(crate::snapshot::list(dir.path()).expect("list").is_empty());

    // The operator's: Snapshot Written (with the sequence number it holds), then Request Done.
    ops.native(&Req::Snapshot(Snapshot { request_ref: 9 }));
    let seq = ops.wait_native_within(SNAPSHOT_DEADLINE, |m| match m {
        Native::SnapshotWritten(w) if w.request_ref == 9 => Some(w.seq),
        Native::RequestRejected(j) => panic!("snapshot refused: {}", j.reason),
        _ => None,
    });
    ops.wait_native(|m| match m {
        Native::RequestDone(d) if d.request_ref == 9 => Some(()),
        _ => None,
    });
    // Genesis (10 commands) and the order: the snapshot holds them all.
    assert_eq!(seq, 11);
    let snapshots = crate::snapshot::list(dir.path()).expect("list");
    assert_eq!(
        snapshots.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![11]
    );
    // Trading goes on after it; a second snapshot refreshes the first one's copy in place.
    trader.enter(2, b'B', 1, PX_65000 - 2_000_000);
    trader.wait_within(SNAPSHOT_DEADLINE, |kind, payload| {
        (kind == b'S').then(|| {
            Outbound::decode(payload)
                .ok()
                .and_then(|m| accepted_ref(&m))
        })?
    });
    ops.native(&Req::Snapshot(Snapshot { request_ref: 10 }));
    let second = ops.wait_native_within(SNAPSHOT_DEADLINE, |m| match m {
        Native::SnapshotWritten(w) if w.request_ref == 10 => Some(w.seq),
        Native::RequestRejected(j) => panic!("snapshot refused: {}", j.reason),
        _ => None,
    });
    assert_eq!(second, 12);
    trader.enter(3, b'B', 1, PX_65000 - 3_000_000);
    trader.wait_ouch(accepted_ref);
    // A restart starts from the newest snapshot and replays the rest.
    let last = server.shutdown().expect("shutdown");
    let mut seqs: Vec<u64> = crate::snapshot::list(dir.path())
        .expect("list")
        .iter()
        .map(|(s, _)| *s)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![11, 12]);
    let server = start(config).expect("restart");
    let info = server.start_info();
    assert_eq!(info.snapshot_seq, Some(12), "{info:?}");
    assert_eq!(info.recovered_seq, 13);
    assert_eq!(info.state_hash, last);
    server.shutdown().expect("shutdown");
}

/// Under `fsync = "never"` an answer leaves only after its command's journal record (and its
/// order-entry log record) was handed to the operating system: read back from the file while
/// the server runs, every acknowledged order is there, so killing the process loses none.
#[test]
fn under_fsync_never_every_acknowledged_order_is_in_the_journal_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(test_config(dir.path())).expect("start");
    let (mut alice, _) = Client::login(server.ouch_addr(), "alice", "alice", 0);
    let journal = dir.path().join(crate::recovery::JOURNAL_FILE);
    let order_log = dir.path().join(super::order_log::ORDER_LOG_FILE);
    let mut logged_before = 0;
    for user_ref_num in 1..=20 {
        alice.enter(
            user_ref_num,
            b'S',
            1,
            PX_65000 + i64::from(user_ref_num) * 10_000,
        );
        alice.wait_ouch(accepted_ref);
        let mut places = 0;
        crate::journal::scan(&journal, |r| {
            places += u32::from(matches!(
                r.command.command,
                cascade_engine::Command::Place(_)
            ));
        })
        .expect("the journal reads back while the server runs");
        assert_eq!(places, user_ref_num, "order {user_ref_num} was answered");
        let logged = std::fs::metadata(&order_log)
            .expect("order-entry log")
            .len();
        assert!(
            logged > logged_before,
            "order {user_ref_num}: its order-entry log record is written too"
        );
        logged_before = logged;
    }
    server.shutdown().expect("shutdown");
}
