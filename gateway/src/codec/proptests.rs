//! Property tests of the codecs: every message type round-trips, no byte string makes a decoder
//! panic, the SoupBinTCP stream decoder is indifferent to how the stream is split, and the OUCH
//! and ITCH mappings agree with each other over random order flow through the real engine.

use proptest::prelude::*;

use super::itch;
use super::map::{Batch, InboundAction, ItchFeed, MarketRegistry, OuchAccount};
use super::native;
use super::ouch::{self, Appendage, Inbound, Outbound};
use super::soup::{self, Packet, StreamDecoder};
use cascade_engine::{AccountId, Command, Engine, Limits, MarketId, MarketSpec, Sequenced};

/// Well-formed appendage bytes: up to 4 TagValue elements with values of 0–8 bytes.
fn appendage() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..9)),
        0..4,
    )
    .prop_map(|elements| {
        let mut out = Vec::new();
        for (tag, value) in elements {
            out.push(u8::try_from(value.len() + 1).expect("≤ 9"));
            out.push(tag);
            out.extend_from_slice(&value);
        }
        out
    })
}

/// A message of type `kind` and fixed size `len` with random fields, plus `tail` as an
/// appendage whose 2-byte length sits at `len − 2` when `variable`.
fn message_bytes(kind: u8, len: usize, variable: bool, body: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend(body.iter().cycle().take(len - 1));
    if variable {
        let declared = u16::try_from(tail.len()).expect("short appendage");
        bytes[len - 2..len].copy_from_slice(&declared.to_be_bytes());
        bytes.extend_from_slice(tail);
    }
    bytes
}

const OUCH_INBOUND: [(u8, usize, bool); 5] = [
    (ouch::inbound_type::ENTER_ORDER, 47, true),
    (ouch::inbound_type::REPLACE_ORDER, 40, true),
    (ouch::inbound_type::CANCEL_ORDER, 9, false),
    (ouch::inbound_type::MODIFY_ORDER, 10, false),
    (ouch::inbound_type::ACCOUNT_QUERY, 1, false),
];

const OUCH_OUTBOUND: [(u8, usize, bool); 10] = [
    (ouch::outbound_type::SYSTEM_EVENT, 10, false),
    (ouch::outbound_type::ORDER_ACCEPTED, 64, true),
    (ouch::outbound_type::ORDER_REPLACED, 68, true),
    (ouch::outbound_type::ORDER_CANCELED, 18, false),
    (ouch::outbound_type::ORDER_EXECUTED, 36, true),
    (ouch::outbound_type::REJECTED, 29, false),
    (ouch::outbound_type::CANCEL_PENDING, 13, false),
    (ouch::outbound_type::CANCEL_REJECT, 13, false),
    (ouch::outbound_type::ORDER_MODIFIED, 18, false),
    (ouch::outbound_type::ACCOUNT_QUERY_RESPONSE, 13, false),
];

const ITCH: [u8; 8] = *b"SRAEXDUP";

const NATIVE_INBOUND: [(u8, usize); 10] = [
    (native::inbound_type::DEPOSIT, native::Deposit::LEN),
    (native::inbound_type::WITHDRAW, native::Withdraw::LEN),
    (native::inbound_type::SET_LEVERAGE, native::SetLeverage::LEN),
    (
        native::inbound_type::SET_MARGIN_MODE,
        native::SetMarginMode::LEN,
    ),
    (
        native::inbound_type::TRANSFER_ISOLATED_MARGIN,
        native::TransferIsolatedMargin::LEN,
    ),
    (
        native::inbound_type::SET_INDEX_PRICE,
        native::SetIndexPrice::LEN,
    ),
    (native::inbound_type::FUNDING_TICK, native::FundingTick::LEN),
    (native::inbound_type::SET_BACKSTOP, native::SetBackstop::LEN),
    (
        native::inbound_type::INSURANCE_DEPOSIT,
        native::InsuranceDeposit::LEN,
    ),
    (native::inbound_type::SNAPSHOT, native::Snapshot::LEN),
];

const NATIVE_OUTBOUND: [(u8, usize); 16] = [
    (
        native::outbound_type::REQUEST_DONE,
        native::RequestDone::LEN,
    ),
    (
        native::outbound_type::REQUEST_REJECTED,
        native::RequestRejected::LEN,
    ),
    (native::outbound_type::INSTRUMENT, native::Instrument::LEN),
    (native::outbound_type::COLLATERAL, native::Collateral::LEN),
    (
        native::outbound_type::LEVERAGE_SET,
        native::LeverageSet::LEN,
    ),
    (
        native::outbound_type::MARGIN_MODE_SET,
        native::MarginModeSet::LEN,
    ),
    (
        native::outbound_type::ISOLATED_MARGIN_SET,
        native::IsolatedMarginSet::LEN,
    ),
    (native::outbound_type::MARK_PRICE, native::MarkPrice::LEN),
    (native::outbound_type::FUNDING, native::Funding::LEN),
    (
        native::outbound_type::LIQUIDATION_STARTED,
        native::LiquidationStarted::LEN,
    ),
    (
        native::outbound_type::LIQUIDATION_ENDED,
        native::LiquidationEnded::LEN,
    ),
    (native::outbound_type::BACKSTOP, native::Backstop::LEN),
    (native::outbound_type::DELEVERAGED, native::Deleveraged::LEN),
    (
        native::outbound_type::INSURANCE_FUND,
        native::InsuranceFund::LEN,
    ),
    (
        native::outbound_type::BACKSTOP_SET,
        native::BackstopSet::LEN,
    ),
    (
        native::outbound_type::SNAPSHOT_WRITTEN,
        native::SnapshotWritten::LEN,
    ),
];

/// A SoupBinTCP packet as owned parts: kind selector, payload, fixed fields.
fn packet() -> impl Strategy<Value = (u8, Vec<u8>, [u8; 26], u64)> {
    (
        0u8..10,
        prop::collection::vec(any::<u8>(), 0..64),
        any::<[u8; 26]>(),
        any::<u64>(),
    )
}

fn build_packet<'a>(parts: &'a (u8, Vec<u8>, [u8; 26], u64)) -> Packet<'a> {
    let (kind, payload, fixed, sequence) = parts;
    let mut session = [0u8; 10];
    session.copy_from_slice(&fixed[16..26]);
    match kind {
        0 => Packet::Debug(payload),
        1 => Packet::LoginAccepted(soup::LoginAccepted {
            session,
            sequence: *sequence,
        }),
        2 => Packet::LoginRejected(fixed[0]),
        3 => Packet::SequencedData(payload),
        4 => Packet::ServerHeartbeat,
        5 => Packet::EndOfSession,
        6 => {
            let mut username = [0u8; 6];
            username.copy_from_slice(&fixed[..6]);
            let mut password = [0u8; 10];
            password.copy_from_slice(&fixed[6..16]);
            Packet::LoginRequest(soup::LoginRequest {
                username,
                password,
                session,
                sequence: *sequence,
            })
        }
        7 => Packet::UnsequencedData(payload),
        8 => Packet::ClientHeartbeat,
        _ => Packet::LogoutRequest,
    }
}

fn encode_packet(packet: &Packet<'_>) -> Vec<u8> {
    let mut out = vec![0u8; packet.encoded_len()];
    let n = packet.encode(&mut out).expect("fits");
    assert_eq!(n, out.len());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn soup_packets_round_trip(parts in packet()) {
        let packet = build_packet(&parts);
        let bytes = encode_packet(&packet);
        let decoded = soup::decode_frame(&bytes, soup::LENGTH_MAX);
        prop_assert_eq!(decoded, Ok(Some((packet, bytes.len()))));
    }

    #[test]
    fn ouch_messages_round_trip(
        pick in 0usize..15,
        body in prop::collection::vec(any::<u8>(), 1..80),
        tail in appendage(),
    ) {
        if pick < OUCH_INBOUND.len() {
            let (kind, len, variable) = OUCH_INBOUND[pick];
            let bytes = message_bytes(kind, len, variable, &body, &tail);
            let msg = Inbound::decode(&bytes).expect("well-formed");
            prop_assert_eq!(msg.kind(), kind);
            prop_assert_eq!(msg.encoded_len(), bytes.len());
            let mut out = vec![0u8; bytes.len()];
            prop_assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
            prop_assert_eq!(&out, &bytes);
            prop_assert_eq!(Inbound::decode(&out), Ok(msg));
        } else {
            let (kind, len, variable) = OUCH_OUTBOUND[pick - OUCH_INBOUND.len()];
            let bytes = message_bytes(kind, len, variable, &body, &tail);
            let msg = Outbound::decode(&bytes).expect("well-formed");
            prop_assert_eq!(msg.kind(), kind);
            prop_assert_eq!(msg.encoded_len(), bytes.len());
            let mut out = vec![0u8; bytes.len()];
            prop_assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
            prop_assert_eq!(&out, &bytes);
            prop_assert_eq!(Outbound::decode(&out), Ok(msg));
        }
    }

    #[test]
    fn itch_messages_round_trip(
        pick in 0usize..ITCH.len(),
        body in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let kind = ITCH[pick];
        let len = itch::Message::len_of(kind).expect("published type");
        let mut bytes = message_bytes(kind, len, false, &body, &[]);
        // The timestamp is 48 bits on the wire, so any bytes are a valid one.
        let msg = itch::Message::decode(&bytes).expect("well-formed");
        let mut out = vec![0u8; len];
        prop_assert_eq!(msg.encode(&mut out), Ok(len));
        prop_assert_eq!(&out, &bytes);
        bytes.push(0);
        prop_assert!(itch::Message::decode(&bytes).is_err());
    }

    #[test]
    fn native_messages_round_trip(
        pick in 0usize..24,
        body in prop::collection::vec(any::<u8>(), 1..80),
    ) {
        if pick < NATIVE_INBOUND.len() {
            let (kind, len) = NATIVE_INBOUND[pick];
            let bytes = message_bytes(kind, len, false, &body, &[]);
            let msg = native::Inbound::decode(&bytes).expect("well-formed");
            prop_assert_eq!(msg.kind(), kind);
            let mut out = vec![0u8; len];
            prop_assert_eq!(msg.encode(&mut out), Ok(len));
            prop_assert_eq!(&out, &bytes);
            prop_assert_eq!(native::Inbound::decode(&out), Ok(msg));
        } else {
            let (kind, len) = NATIVE_OUTBOUND[pick - NATIVE_INBOUND.len()];
            let bytes = message_bytes(kind, len, false, &body, &[]);
            let msg = native::Outbound::decode(&bytes).expect("well-formed");
            prop_assert_eq!(msg.kind(), kind);
            let mut out = vec![0u8; len];
            prop_assert_eq!(msg.encode(&mut out), Ok(len));
            prop_assert_eq!(&out, &bytes);
            prop_assert_eq!(native::Outbound::decode(&out), Ok(msg));
        }
    }

    /// Any bytes either decode, and then re-encode to exactly themselves, or give an error;
    /// no decoder panics.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        let same = |encoded: Result<usize, super::CodecError>, out: &[u8]| {
            encoded.is_ok_and(|n| n == bytes.len() && out == bytes.as_slice())
        };
        let mut out = vec![0u8; bytes.len()];
        if let Ok(m) = Inbound::decode(&bytes) {
            prop_assert!(same(m.encode(&mut out), &out));
        }
        if let Ok(m) = Outbound::decode(&bytes) {
            prop_assert!(same(m.encode(&mut out), &out));
        }
        if let Ok(m) = itch::Message::decode(&bytes) {
            prop_assert!(same(m.encode(&mut out), &out));
        }
        if let Ok(m) = native::Inbound::decode(&bytes) {
            prop_assert!(same(m.encode(&mut out), &out));
        }
        if let Ok(m) = native::Outbound::decode(&bytes) {
            prop_assert!(same(m.encode(&mut out), &out));
        }
        let _ = Appendage::parse(&bytes);
        let _ = soup::decode_frame(&bytes, 100);
        if let Some((kind, payload)) = bytes.split_first() {
            let _ = Packet::decode(*kind, payload);
        }
        let mut decoder = StreamDecoder::new(64, 100);
        let mut fed = 0;
        while fed < bytes.len() {
            fed += decoder.feed(&bytes[fed..]);
            loop {
                match decoder.next_packet() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => {
                        fed = bytes.len();
                        break;
                    }
                }
            }
        }
    }

    /// Mutating one byte of a valid message never panics a decoder either.
    #[test]
    fn corrupted_messages_never_panic(
        pick in 0usize..15,
        body in prop::collection::vec(any::<u8>(), 1..80),
        tail in appendage(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let (kind, len, variable) = if pick < OUCH_INBOUND.len() {
            OUCH_INBOUND[pick]
        } else {
            OUCH_OUTBOUND[pick - OUCH_INBOUND.len()]
        };
        let mut bytes = message_bytes(kind, len, variable, &body, &tail);
        let i = at.index(bytes.len());
        bytes[i] = value;
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        let _ = Inbound::decode(&bytes);
        let _ = Outbound::decode(&bytes);
    }

    /// However the byte stream is cut into reads, the stream decoder yields the same packets.
    #[test]
    fn soup_stream_is_split_invariant(
        packets in prop::collection::vec(packet(), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for parts in &packets {
            let bytes = encode_packet(&build_packet(parts));
            stream.extend_from_slice(&bytes);
            expected.push(bytes);
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        points.dedup();
        // A small buffer forces compaction; one largest frame still fits.
        let mut decoder = StreamDecoder::new(16, 128);
        let mut got = Vec::new();
        for window in points.windows(2) {
            let mut chunk = &stream[window[0]..window[1]];
            while !chunk.is_empty() {
                let n = decoder.feed(chunk);
                chunk = &chunk[n..];
                while let Some(packet) = decoder.next_packet().expect("valid stream") {
                    got.push(encode_packet(&packet));
                }
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(decoder.buffered(), 0);
    }

    /// Random order flow from two accounts through the engine: every request is answered in
    /// its own batch, and the ITCH feed's resting orders are exactly the accounts' live orders.
    #[test]
    fn ouch_and_itch_mappings_agree_over_random_flow(
        steps in prop::collection::vec(
            (0usize..2, 0u8..5, 1u32..12, 0u32..6, 0i64..4, any::<bool>()),
            1..60,
        ),
    ) {
        let spec = MarketSpec::unit(MarketId(0), "TEST");
        let mut registry = MarketRegistry::new();
        registry.insert(spec).expect("fits");
        let mut engine = Engine::new(Limits::SMALL);
        let mut seq = 1;
        engine.apply(&Sequenced { seq, ts_ns: 0, command: Command::AddMarket(Box::new(spec)) });
        let mut accounts = [
            OuchAccount::new(AccountId(1), 32),
            OuchAccount::new(AccountId(2), 32),
        ];
        let mut feed = ItchFeed::with_capacity(64);
        let mut next_ref = [1u32, 1u32];
        for (who, action, qty, target, px, buy) in steps {
            // Unit market: one tick is 1, i.e. 10,000 OUCH units.
            let price = (100 + px) * 10_000;
            let side = if buy { ouch::side::BUY } else { ouch::side::SELL };
            let target_ref = next_ref[who].saturating_sub(1 + target);
            let msg = match action {
                0 | 1 => {
                    next_ref[who] += 1;
                    Inbound::EnterOrder(ouch::EnterOrder {
                        user_ref_num: next_ref[who] - 1,
                        side,
                        quantity: qty,
                        symbol: *b"TEST    ",
                        price,
                        time_in_force: if action == 0 { b'0' } else { b'3' },
                        display: b'Y',
                        capacity: b'A',
                        intermarket_sweep: b'N',
                        cross_type: b'N',
                        cl_ord_id: [b'c'; 14],
                        appendage: Appendage::EMPTY,
                    })
                }
                2 => Inbound::CancelOrder(ouch::CancelOrder {
                    user_ref_num: target_ref,
                    quantity: qty % 3,
                }),
                3 => {
                    next_ref[who] += 1;
                    Inbound::ReplaceOrder(ouch::ReplaceOrder {
                        orig_user_ref_num: target_ref,
                        user_ref_num: next_ref[who] - 1,
                        quantity: qty,
                        price,
                        time_in_force: b'0',
                        display: b'Y',
                        intermarket_sweep: b'N',
                        cl_ord_id: [b'r'; 14],
                        appendage: Appendage::EMPTY,
                    })
                }
                _ => Inbound::ModifyOrder(ouch::ModifyOrder {
                    user_ref_num: target_ref,
                    side,
                    quantity: qty % 4,
                }),
            };
            let InboundAction::Submit(command) = accounts[who].on_inbound(&msg, &registry, seq)
            else {
                continue;
            };
            seq += 1;
            let sequenced = Sequenced { seq, ts_ns: seq, command };
            let events = engine.apply(&sequenced).to_vec();
            let batch = Batch {
                seq,
                ts_ns: seq,
                command: &sequenced.command,
                events: &events,
            };
            let mut answered = [0usize; 2];
            for (i, account) in accounts.iter_mut().enumerate() {
                account.on_batch(&batch, &registry, &mut |_| answered[i] += 1);
            }
            feed.on_batch(&batch, &registry, &mut |_| {});
            prop_assert!(answered[who] > 0, "request {:?} unanswered", msg);
            prop_assert_eq!(feed.resting(), accounts[0].orders() + accounts[1].orders());
        }
    }
}
