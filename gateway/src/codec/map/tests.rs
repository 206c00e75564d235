//! The mapping run against the real engine: OUCH messages in, commands through
//! `Engine::apply`, events back out as OUCH, ITCH and native messages.

use super::*;
use crate::codec::itch::{self, Message};
use crate::codec::native;
use crate::codec::ouch::{
    self, cancel_reason, liquidity_flag, tag, time_in_force, Appendage, CancelOrder, EnterOrder,
    Inbound, ModifyOrder, Outbound, ReplaceOrder,
};
use cascade_engine::state::LIQUIDATION_ORDER_BIT;
use cascade_engine::{
    AccountId, Engine, Limits, MarketId, MarketSpec, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::{Price, Qty, Quote};

const ALICE: AccountId = AccountId(1);
const BOB: AccountId = AccountId(2);
const BTC: MarketId = MarketId(0);
/// 65,002.0 USD in OUCH units (4 decimals): 650,020 ticks of 0.1.
const PX_65002: i64 = 650_020_000;
const TS: u64 = 1_760_000_000_000_000_000;

fn enter(user_ref_num: u32, side: u8, quantity: u32, price: i64) -> EnterOrder<'static> {
    EnterOrder {
        user_ref_num,
        side,
        quantity,
        symbol: *b"BTC-PERP",
        price,
        time_in_force: time_in_force::DAY,
        display: ouch::display::VISIBLE,
        capacity: ouch::capacity::AGENCY,
        intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
        cross_type: ouch::cross_type::CONTINUOUS,
        cl_ord_id: *b"cl-ord-id-0001",
        appendage: Appendage::EMPTY,
    }
}

fn registry() -> MarketRegistry {
    let mut registry = MarketRegistry::new();
    registry
        .insert(MarketSpec::btc_perp(BTC))
        .expect("btc fits OUCH and ITCH");
    registry
}

/// An engine, the gateway's per-account and feed state, and everything each side received.
struct Venue {
    engine: Engine,
    registry: MarketRegistry,
    accounts: [OuchAccount; 2],
    feed: ItchFeed,
    seq: u64,
    ouch: [Vec<Outbound<'static>>; 2],
    itch: Vec<Message>,
    native: Vec<(Audience, native::Outbound)>,
}

impl Venue {
    fn new() -> Self {
        let mut venue = Self {
            engine: Engine::new(Limits::SMALL),
            registry: registry(),
            accounts: [OuchAccount::new(ALICE, 64), OuchAccount::new(BOB, 64)],
            feed: ItchFeed::new(),
            seq: 0,
            ouch: [Vec::new(), Vec::new()],
            itch: Vec::new(),
            native: Vec::new(),
        };
        venue.apply(
            Command::AddMarket(Box::new(MarketSpec::btc_perp(BTC))),
            None,
        );
        venue.take();
        venue
    }

    fn apply(&mut self, command: Command, origin: Option<NativeOrigin>) {
        self.seq += 1;
        let sequenced = Sequenced {
            seq: self.seq,
            ts_ns: TS + self.seq,
            command,
        };
        let events = self.engine.apply(&sequenced).to_vec();
        let batch = Batch {
            seq: sequenced.seq,
            ts_ns: sequenced.ts_ns,
            command: &sequenced.command,
            events: &events,
        };
        for (account, out) in self.accounts.iter_mut().zip(self.ouch.iter_mut()) {
            account.on_batch(&batch, &self.registry, &mut |m| out.push(m));
        }
        self.feed
            .on_batch(&batch, &self.registry, &mut |m| self.itch.push(m));
        native_events(&batch, &self.registry, origin, &mut |a, m| {
            self.native.push((a, m));
        });
    }

    /// Sends an OUCH message from account `who` (0 alice, 1 bob); returns the gateway's
    /// decision after applying a submitted command.
    fn send(&mut self, who: usize, msg: Inbound<'_>) -> InboundAction {
        let action = self.accounts[who].on_inbound(&msg, &self.registry, TS);
        if let InboundAction::Submit(command) = &action {
            self.apply(command.clone(), None);
        }
        action
    }

    fn take(&mut self) -> ([Vec<Outbound<'static>>; 2], Vec<Message>) {
        let ouch = [
            core::mem::take(&mut self.ouch[0]),
            core::mem::take(&mut self.ouch[1]),
        ];
        self.native.clear();
        (ouch, core::mem::take(&mut self.itch))
    }
}

fn submitted(action: &InboundAction) -> &Command {
    match action {
        InboundAction::Submit(command) => command,
        other => panic!("expected a command, got {other:?}"),
    }
}

fn rejected_reason(action: &InboundAction) -> MapReject {
    match action {
        InboundAction::Reject { reason, .. } => *reason,
        other => panic!("expected a reject, got {other:?}"),
    }
}

#[test]
fn reject_codes_are_unique_dense_and_above_the_engine_range() {
    for (i, r) in MapReject::ALL.iter().enumerate() {
        assert_eq!(usize::from(r.code()), 1001 + i, "{r:?} out of order");
        assert_eq!(MapReject::from_code(r.code()), Some(*r));
        assert!(Reject::from_code(r.code()).is_none());
    }
    let mut names: Vec<_> = MapReject::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), MapReject::ALL.len());
    assert!(Reject::ALL.iter().all(|r| r.code() < 1000));
    assert_eq!(MapReject::UnknownSymbol.to_string(), "unknown_symbol(1001)");
}

#[test]
fn enter_order_maps_price_to_ticks_and_user_ref_to_client_ref() {
    let mut account = OuchAccount::new(ALICE, 8);
    let action = account.on_inbound(
        &Inbound::EnterOrder(enter(7, ouch::side::BUY, 700, PX_65002)),
        &registry(),
        TS,
    );
    assert_eq!(
        submitted(&action),
        &Command::Place(NewOrder {
            account: ALICE,
            market: BTC,
            client_ref: 7,
            side: Side::Buy,
            kind: OrderKind::Limit,
            price: Price(650_020),
            qty: Qty(700),
            tif: TimeInForce::Gtc,
            reduce_only: false,
            stp: SelfTradePrevention::Allow,
        })
    );
    assert_eq!(account.orders(), 1);
}

fn with_appendage<'a>(mut m: EnterOrder<'a>, tif: u8, bytes: &'a [u8]) -> EnterOrder<'a> {
    m.time_in_force = tif;
    m.appendage = Appendage::parse(bytes).expect("well-formed appendage");
    m
}

fn map_one(m: &EnterOrder<'_>) -> Result<NewOrder, MapReject> {
    new_order(ALICE, m, &registry())
}

#[test]
fn time_in_force_post_only_min_qty_and_private_tags() {
    let base = enter(1, ouch::side::SELL, 10, PX_65002);
    let tif_of = |m: &EnterOrder<'_>| map_one(m).map(|o| o.tif);
    assert_eq!(tif_of(&base), Ok(TimeInForce::Gtc));
    let ioc = with_appendage(base, time_in_force::IOC, &[]);
    assert_eq!(tif_of(&ioc), Ok(TimeInForce::Ioc));
    let min_all = [5, tag::MIN_QTY, 0, 0, 0, 10];
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::IOC, &min_all)),
        Ok(TimeInForce::Fok)
    );
    let min_some = [5, tag::MIN_QTY, 0, 0, 0, 4];
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::IOC, &min_some)),
        Err(MapReject::MinQtyUnsupported)
    );
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::DAY, &min_all)),
        Err(MapReject::MinQtyUnsupported)
    );
    let post = [2, tag::POST_ONLY, b'P'];
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::DAY, &post)),
        Ok(TimeInForce::PostOnly)
    );
    let slide = [2, tag::POST_ONLY, b'S'];
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::DAY, &slide)),
        Ok(TimeInForce::PostOnlySlide)
    );
    assert_eq!(
        tif_of(&with_appendage(base, time_in_force::IOC, &post)),
        Err(MapReject::PostOnlyNotResting)
    );
    let market = [
        2,
        tag::CASCADE_ORDER_TYPE,
        b'M',
        2,
        tag::CASCADE_REDUCE_ONLY,
        b'Y',
    ];
    let order = map_one(&with_appendage(base, time_in_force::IOC, &market)).expect("valid");
    assert_eq!(order.kind, OrderKind::Market);
    assert_eq!(order.price, Price(0));
    assert!(order.reduce_only);
    let stp = [
        2,
        tag::CASCADE_SELF_TRADE,
        b'B',
        5,
        tag::FIRM,
        b'F',
        b'I',
        b'R',
        b'M',
    ];
    let order = map_one(&with_appendage(base, time_in_force::DAY, &stp)).expect("valid");
    assert_eq!(order.stp, SelfTradePrevention::ExpireBoth);
}

#[test]
fn every_bad_field_has_its_code() {
    let base = enter(1, ouch::side::BUY, 10, PX_65002);
    let cases: [(EnterOrder<'static>, MapReject); 10] = [
        (
            EnterOrder {
                side: ouch::side::SELL_SHORT,
                ..base
            },
            MapReject::SideShortSaleUnsupported,
        ),
        (EnterOrder { side: b'Q', ..base }, MapReject::SideInvalid),
        (
            EnterOrder {
                symbol: *b"DOGE    ",
                ..base
            },
            MapReject::UnknownSymbol,
        ),
        (
            EnterOrder {
                price: PX_65002 + 500,
                ..base
            },
            MapReject::PriceNotTickMultiple,
        ),
        (
            EnterOrder {
                time_in_force: time_in_force::GTT,
                ..base
            },
            MapReject::TimeInForceUnsupported,
        ),
        (
            EnterOrder {
                time_in_force: b'9',
                ..base
            },
            MapReject::TimeInForceInvalid,
        ),
        (
            EnterOrder {
                display: ouch::display::HIDDEN,
                ..base
            },
            MapReject::DisplayUnsupported,
        ),
        (
            EnterOrder {
                capacity: b'Z',
                ..base
            },
            MapReject::CapacityInvalid,
        ),
        (
            EnterOrder {
                intermarket_sweep: b'?',
                ..base
            },
            MapReject::IntermarketSweepInvalid,
        ),
        (
            EnterOrder {
                cross_type: ouch::cross_type::OPENING,
                ..base
            },
            MapReject::CrossTypeUnsupported,
        ),
    ];
    for (m, expected) in cases {
        assert_eq!(map_one(&m), Err(expected), "{m:?}");
    }
    let appendages: [(&[u8], MapReject); 5] = [
        (
            &[5, tag::PEG_OFFSET, 0, 0, 0, 1],
            MapReject::AppendageTagUnsupported,
        ),
        (
            &[2, tag::POST_ONLY, b'P', 2, tag::POST_ONLY, b'P'],
            MapReject::AppendageTagRepeated,
        ),
        (
            &[3, tag::POST_ONLY, b'P', b'P'],
            MapReject::AppendageValueInvalid,
        ),
        (
            &[2, tag::CASCADE_SELF_TRADE, b'?'],
            MapReject::AppendageValueInvalid,
        ),
        (
            &[5, tag::MAX_FLOOR, 0, 0, 0, 1],
            MapReject::AppendageTagUnsupported,
        ),
    ];
    for (bytes, expected) in appendages {
        let m = with_appendage(base, time_in_force::DAY, bytes);
        assert_eq!(map_one(&m), Err(expected), "{bytes:?}");
    }
}

#[test]
fn a_rejected_enter_order_answers_with_its_user_ref_num_and_cl_ord_id() {
    let mut account = OuchAccount::new(ALICE, 8);
    let m = EnterOrder {
        side: b'Q',
        ..enter(3, ouch::side::BUY, 10, PX_65002)
    };
    let action = account.on_inbound(&Inbound::EnterOrder(m), &registry(), TS);
    let expected = Outbound::Rejected(ouch::Rejected {
        timestamp: TS % 86_400_000_000_000,
        user_ref_num: 3,
        reason: MapReject::SideInvalid.code(),
        cl_ord_id: m.cl_ord_id,
    });
    assert_eq!(
        action,
        InboundAction::Reject {
            reply: expected,
            reason: MapReject::SideInvalid
        }
    );
    // The UserRefNum was consumed even though the order was rejected.
    assert_eq!(account.user_refs().last(), 3);
}

#[test]
fn user_ref_nums_must_increase_and_retransmissions_are_ignored() {
    let mut account = OuchAccount::new(ALICE, 8);
    let registry = registry();
    let first = Inbound::EnterOrder(enter(5, ouch::side::BUY, 1, PX_65002));
    assert!(matches!(
        account.on_inbound(&first, &registry, TS),
        InboundAction::Submit(_)
    ));
    assert_eq!(
        account.on_inbound(&first, &registry, TS),
        InboundAction::Ignore(MapReject::UserRefNumNotIncreasing)
    );
    let lower = Inbound::EnterOrder(enter(4, ouch::side::BUY, 1, PX_65002));
    assert_eq!(
        account.on_inbound(&lower, &registry, TS),
        InboundAction::Ignore(MapReject::UserRefNumNotIncreasing)
    );
    let zero = Inbound::EnterOrder(enter(0, ouch::side::BUY, 1, PX_65002));
    assert_eq!(
        account.on_inbound(&zero, &registry, TS),
        InboundAction::Ignore(MapReject::UserRefNumNotIncreasing)
    );
    assert_eq!(
        account.on_inbound(&Inbound::AccountQuery, &registry, TS),
        InboundAction::Reply(Outbound::AccountQueryResponse(ouch::AccountQueryResponse {
            timestamp: TS % 86_400_000_000_000,
            next_user_ref_num: 6,
        }))
    );
    let mut check = UserRefNumCheck::after(u32::MAX);
    assert_eq!(check.next(), u32::MAX);
    assert_eq!(
        check.consume(u32::MAX),
        Err(MapReject::UserRefNumNotIncreasing)
    );
}

#[test]
fn orders_limit_is_a_reject() {
    let mut account = OuchAccount::new(ALICE, 1);
    let registry = registry();
    let one = Inbound::EnterOrder(enter(1, ouch::side::BUY, 1, PX_65002));
    assert!(matches!(
        account.on_inbound(&one, &registry, TS),
        InboundAction::Submit(_)
    ));
    let two = Inbound::EnterOrder(enter(2, ouch::side::BUY, 1, PX_65002));
    assert_eq!(
        rejected_reason(&account.on_inbound(&two, &registry, TS)),
        MapReject::OrdersLimit
    );
}

#[test]
fn a_trade_reaches_both_accounts_and_the_feed_with_one_match_number() {
    let mut venue = Venue::new();
    venue.send(
        1,
        Inbound::EnterOrder(enter(1, ouch::side::SELL, 10, PX_65002)),
    );
    let (ouch_out, itch_out) = venue.take();
    let bob_order = match ouch_out[1].as_slice() {
        [Outbound::OrderAccepted(a)] => {
            assert_eq!(a.user_ref_num, 1);
            assert_eq!(a.price, PX_65002);
            assert_eq!(a.quantity, 10);
            assert_eq!(a.symbol, *b"BTC-PERP");
            assert_eq!(a.cl_ord_id, *b"cl-ord-id-0001");
            a.order_reference_number
        }
        other => panic!("bob expected Order Accepted, got {other:?}"),
    };
    assert!(ouch_out[0].is_empty());
    assert_eq!(
        itch_out,
        [Message::AddOrder(itch::AddOrder {
            header: itch::Header {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: (TS + 2) % 86_400_000_000_000,
            },
            order_ref: bob_order,
            side: itch::side::SELL,
            shares: 10,
            stock: *b"BTC-PERP",
            price: 650_020,
        })]
    );

    let ioc = EnterOrder {
        time_in_force: time_in_force::IOC,
        ..enter(9, ouch::side::BUY, 4, PX_65002 + 10_000)
    };
    venue.send(0, Inbound::EnterOrder(ioc));
    let (ouch_out, itch_out) = venue.take();
    let expected_match = match_number(3, 0);
    let [Outbound::OrderAccepted(_), Outbound::OrderExecuted(taker)] = ouch_out[0].as_slice()
    else {
        panic!("alice expected accept + execution, got {:?}", ouch_out[0]);
    };
    assert_eq!(taker.user_ref_num, 9);
    assert_eq!(taker.liquidity_flag, liquidity_flag::REMOVED);
    assert_eq!(taker.price, PX_65002);
    assert_eq!(taker.quantity, 4);
    assert_eq!(taker.match_number, expected_match);
    let [Outbound::OrderExecuted(maker)] = ouch_out[1].as_slice() else {
        panic!("bob expected an execution, got {:?}", ouch_out[1]);
    };
    assert_eq!(maker.liquidity_flag, liquidity_flag::ADDED);
    assert_eq!(maker.match_number, expected_match);
    assert_eq!(
        itch_out
            .iter()
            .filter_map(|m| match m {
                Message::OrderExecuted(e) => Some((e.order_ref, e.executed_shares, e.match_number)),
                _ => None,
            })
            .collect::<Vec<_>>(),
        [(bob_order, 4, expected_match)]
    );
    assert_eq!(venue.accounts[0].orders(), 0, "the IOC filled in full");
}

#[test]
fn cancel_modify_and_replace_round_trip_through_the_engine() {
    let mut venue = Venue::new();
    venue.send(
        1,
        Inbound::EnterOrder(enter(1, ouch::side::SELL, 10, PX_65002)),
    );
    let (_, _) = venue.take();
    let order = venue.accounts[1].order_id(1).expect("live");

    // Partial cancel to 6 open: Order Canceled for 4, ITCH Order Cancel for 4.
    let action = venue.send(
        1,
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 6,
        }),
    );
    assert_eq!(
        submitted(&action),
        &Command::Amend {
            account: BOB,
            order_id: order,
            price: Price(650_020),
            qty: Qty(6)
        }
    );
    let (ouch_out, itch_out) = venue.take();
    assert!(matches!(ouch_out[1].as_slice(),
        [Outbound::OrderCanceled(c)] if c.quantity == 4 && c.reason == cancel_reason::USER_REQUESTED));
    assert!(matches!(itch_out.as_slice(),
        [Message::OrderCancel(x)] if x.canceled_shares == 4 && x.order_ref == order.0));

    // Modify down to 5: Order Modified.
    venue.send(
        1,
        Inbound::ModifyOrder(ModifyOrder {
            user_ref_num: 1,
            side: ouch::side::SELL,
            quantity: 5,
        }),
    );
    let (ouch_out, itch_out) = venue.take();
    assert!(matches!(ouch_out[1].as_slice(),
        [Outbound::OrderModified(m)] if m.quantity == 5 && m.user_ref_num == 1));
    assert!(matches!(itch_out.as_slice(), [Message::OrderCancel(x)] if x.canceled_shares == 1));

    // Replace to a new price: Order Replaced with the new UserRefNum; ITCH Order Replace.
    let replace = ReplaceOrder {
        orig_user_ref_num: 1,
        user_ref_num: 2,
        quantity: 5,
        price: PX_65002 + 1_000,
        time_in_force: time_in_force::DAY,
        display: ouch::display::VISIBLE,
        intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
        cl_ord_id: *b"cl-ord-id-0002",
        appendage: Appendage::EMPTY,
    };
    venue.send(1, Inbound::ReplaceOrder(replace));
    let (ouch_out, itch_out) = venue.take();
    let [Outbound::OrderReplaced(r)] = ouch_out[1].as_slice() else {
        panic!("expected Order Replaced, got {:?}", ouch_out[1]);
    };
    assert_eq!((r.orig_user_ref_num, r.user_ref_num), (1, 2));
    assert_eq!(r.price, PX_65002 + 1_000);
    assert_eq!(r.cl_ord_id, *b"cl-ord-id-0002");
    assert_eq!(r.order_reference_number, order.0);
    assert!(matches!(itch_out.as_slice(),
        [Message::OrderReplace(u)] if u.price == 650_021 && u.shares == 5
            && u.orig_order_ref == order.0 && u.new_order_ref == order.0));
    assert_eq!(venue.accounts[1].order_id(1), None);
    assert_eq!(venue.accounts[1].order_id(2), Some(order));

    // A modify that does not reduce, and one changing side, are refused up front.
    let bad = venue.send(
        1,
        Inbound::ModifyOrder(ModifyOrder {
            user_ref_num: 2,
            side: ouch::side::SELL,
            quantity: 5,
        }),
    );
    assert_eq!(rejected_reason(&bad), MapReject::QtyNotReduced);
    let bad = venue.send(
        1,
        Inbound::ModifyOrder(ModifyOrder {
            user_ref_num: 2,
            side: ouch::side::BUY,
            quantity: 1,
        }),
    );
    assert_eq!(rejected_reason(&bad), MapReject::ModifySideChange);

    // Full cancel: Order Canceled for the 5 open; ITCH Order Delete; then it is unknown.
    venue.send(
        1,
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 2,
            quantity: 0,
        }),
    );
    let (ouch_out, itch_out) = venue.take();
    assert!(matches!(ouch_out[1].as_slice(),
        [Outbound::OrderCanceled(c)] if c.quantity == 5 && c.user_ref_num == 2));
    assert!(matches!(itch_out.as_slice(), [Message::OrderDelete(d)] if d.order_ref == order.0));
    let again = venue.send(
        1,
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 2,
            quantity: 0,
        }),
    );
    assert!(matches!(again, InboundAction::Reject {
        reply: Outbound::CancelReject(c), reason: MapReject::UnknownUserRefNum } if c.user_ref_num == 2));
    assert_eq!(venue.accounts[1].orders(), 0);
    assert_eq!(venue.feed.resting(), 0);
}

#[test]
fn engine_rejects_come_back_as_ouch_rejects() {
    let mut venue = Venue::new();
    venue.send(
        0,
        Inbound::EnterOrder(enter(1, ouch::side::BUY, 0, PX_65002)),
    );
    let (ouch_out, _) = venue.take();
    assert_eq!(
        ouch_out[0],
        [Outbound::Rejected(ouch::Rejected {
            timestamp: (TS + 2) % 86_400_000_000_000,
            user_ref_num: 1,
            reason: Reject::QtyNotPositive.code(),
            cl_ord_id: *b"cl-ord-id-0001",
        })]
    );
    assert_eq!(venue.accounts[0].orders(), 0);
}

#[test]
fn an_ioc_remainder_is_canceled_with_reason_i() {
    let mut venue = Venue::new();
    let ioc = EnterOrder {
        time_in_force: time_in_force::IOC,
        ..enter(1, ouch::side::BUY, 3, PX_65002)
    };
    venue.send(0, Inbound::EnterOrder(ioc));
    let (ouch_out, itch_out) = venue.take();
    assert!(matches!(ouch_out[0].as_slice(),
        [Outbound::OrderAccepted(_), Outbound::OrderCanceled(c)]
            if c.quantity == 3 && c.reason == cancel_reason::IMMEDIATE_OR_CANCEL));
    assert!(
        itch_out.is_empty(),
        "an order that never rested is not on the feed"
    );
}

#[test]
fn a_request_in_flight_for_an_order_that_fills_is_still_answered() {
    let mut venue = Venue::new();
    venue.send(
        1,
        Inbound::EnterOrder(enter(1, ouch::side::SELL, 2, PX_65002)),
    );
    let order = venue.accounts[1].order_id(1).expect("live");
    // Bob asks to cancel; before the cancel is sequenced, alice fills the order.
    let action = venue.accounts[1].on_inbound(
        &Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 0,
        }),
        &venue.registry,
        TS,
    );
    let cancel = submitted(&action).clone();
    // A second request for the same order is refused while the first is in flight.
    let second = venue.accounts[1].on_inbound(
        &Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 1,
        }),
        &venue.registry,
        TS,
    );
    assert_eq!(rejected_reason(&second), MapReject::RequestPending);
    venue.send(
        0,
        Inbound::EnterOrder(enter(1, ouch::side::BUY, 2, PX_65002)),
    );
    venue.take();
    venue.apply(cancel, None);
    let (ouch_out, _) = venue.take();
    assert_eq!(
        ouch_out[1],
        [Outbound::CancelReject(ouch::CancelReject {
            timestamp: (TS + venue.seq) % 86_400_000_000_000,
            user_ref_num: 1,
        })]
    );
    assert_eq!(venue.accounts[1].orders(), 0);
    assert!(venue.accounts[1].order_id(1).is_none());
    let _ = order;
}

#[test]
fn a_replace_that_crosses_is_deleted_then_added_on_the_feed() {
    let mut venue = Venue::new();
    venue.send(
        1,
        Inbound::EnterOrder(enter(1, ouch::side::SELL, 5, PX_65002)),
    );
    venue.send(
        0,
        Inbound::EnterOrder(enter(1, ouch::side::BUY, 5, PX_65002 - 10_000)),
    );
    venue.take();
    let bid = venue.accounts[0].order_id(1).expect("live");
    let replace = ReplaceOrder {
        orig_user_ref_num: 1,
        user_ref_num: 2,
        quantity: 8,
        price: PX_65002,
        time_in_force: time_in_force::DAY,
        display: ouch::display::VISIBLE,
        intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
        cl_ord_id: *b"cl-ord-id-0003",
        appendage: Appendage::EMPTY,
    };
    venue.send(0, Inbound::ReplaceOrder(replace));
    let (ouch_out, itch_out) = venue.take();
    let kinds: Vec<u8> = itch_out.iter().map(Message::kind).collect();
    assert_eq!(
        kinds, b"DEA",
        "delete the old bid, execute the ask, add the rest"
    );
    assert!(matches!(itch_out[2], Message::AddOrder(a) if a.order_ref == bid.0 && a.shares == 3));
    let kinds: Vec<u8> = ouch_out[0].iter().map(Outbound::kind).collect();
    assert_eq!(kinds, b"UE");
}

#[test]
fn liquidation_fills_are_flagged_and_numbered_like_any_trade() {
    let mut account = OuchAccount::new(ALICE, 8);
    let registry = registry();
    let command = Command::FundingTick { market: BTC };
    let events = [Event::Trade {
        market: BTC,
        maker_order: OrderId(4),
        taker_order: OrderId(LIQUIDATION_ORDER_BIT | 1),
        maker_account: BOB,
        taker_account: ALICE,
        taker_side: Side::Sell,
        price: Price(650_020),
        qty: Qty(3),
        maker_open: Qty(0),
    }];
    let batch = Batch {
        seq: 77,
        ts_ns: TS,
        command: &command,
        events: &events,
    };
    let mut out = Vec::new();
    account.on_batch(&batch, &registry, &mut |m| out.push(m));
    assert_eq!(
        out,
        [Outbound::OrderExecuted(ouch::OrderExecuted {
            timestamp: TS % 86_400_000_000_000,
            user_ref_num: 0,
            quantity: 3,
            price: PX_65002,
            liquidity_flag: liquidity_flag::LIQUIDATION,
            match_number: match_number(77, 0),
            appendage: Appendage::EMPTY,
        })]
    );
}

#[test]
fn backstop_take_overs_print_as_itch_trades() {
    let registry = registry();
    let command = Command::FundingTick { market: BTC };
    let events = [Event::Backstop {
        account: ALICE,
        vault: BOB,
        market: BTC,
        size: -20,
        price: Price(640_000),
    }];
    let batch = Batch {
        seq: 5,
        ts_ns: TS,
        command: &command,
        events: &events,
    };
    let mut out = Vec::new();
    ItchFeed::new().on_batch(&batch, &registry, &mut |m| out.push(m));
    assert!(matches!(out.as_slice(), [Message::Trade(t)]
        if t.side == itch::side::SELL && t.shares == 20 && t.price == 640_000
            && t.match_number == match_number(5, MATCHES_PER_COMMAND - 1)));
    let mut quiet = Vec::new();
    ItchFeed::new()
        .with_backstop_prints(false)
        .on_batch(&batch, &registry, &mut |m| quiet.push(m));
    assert!(quiet.is_empty());
    let mut natives = Vec::new();
    native_events(&batch, &registry, None, &mut |a, m| natives.push((a, m)));
    let audiences: Vec<Audience> = natives.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        audiences,
        [
            Audience::Account(ALICE),
            Audience::Account(BOB),
            Audience::Public
        ]
    );
}

#[test]
fn market_added_publishes_directory_and_instrument() {
    let mut venue = Venue {
        registry: registry(),
        ..Venue::new()
    };
    venue.engine = Engine::new(Limits::SMALL);
    venue.seq = 0;
    venue.apply(
        Command::AddMarket(Box::new(MarketSpec::btc_perp(BTC))),
        None,
    );
    assert!(matches!(venue.itch.as_slice(),
        [Message::StockDirectory(d)] if d.stock == *b"BTC-PERP" && d.header.stock_locate == 1));
    assert!(matches!(venue.native.as_slice(),
        [(Audience::Public, native::Outbound::Instrument(i))]
            if i.tick_mantissa == 1 && i.tick_scale == 1 && i.lot_scale == 3));
    assert_eq!(
        ItchFeed::system_event(itch::event_code::START_OF_MESSAGES, TS).kind(),
        b'S'
    );
}

#[test]
fn native_requests_map_authorize_and_answer() {
    let registry = registry();
    let deposit = native::Inbound::Deposit(native::Deposit {
        request_ref: 11,
        account: ALICE.0,
        amount: 1_000_000,
    });
    assert_eq!(
        native_command(&deposit, Role::Trader(ALICE), &registry),
        Ok(Command::Deposit {
            account: ALICE,
            amount: Quote(1_000_000)
        })
    );
    assert_eq!(
        native_command(&deposit, Role::Trader(BOB), &registry),
        Err(MapReject::NotAuthorized)
    );
    let index = native::Inbound::SetIndexPrice(native::SetIndexPrice {
        request_ref: 12,
        symbol: *b"BTC-PERP",
        index: 650_000,
        external_mark: 0,
    });
    assert_eq!(
        native_command(&index, Role::Trader(ALICE), &registry),
        Err(MapReject::NotAuthorized)
    );
    assert_eq!(
        native_command(&index, Role::Operator, &registry),
        Ok(Command::SetIndexPrice {
            market: BTC,
            index: Price(650_000),
            external_mark: None
        })
    );
    let mode = native::Inbound::SetMarginMode(native::SetMarginMode {
        request_ref: 13,
        account: ALICE.0,
        symbol: *b"BTC-PERP",
        mode: b'X',
    });
    assert_eq!(
        native_command(&mode, Role::Operator, &registry),
        Err(MapReject::MarginModeInvalid)
    );
    let unknown = native::Inbound::FundingTick(native::FundingTick {
        request_ref: 14,
        symbol: *b"NOPE    ",
    });
    assert_eq!(
        native_command(&unknown, Role::Operator, &registry),
        Err(MapReject::UnknownSymbol)
    );
    assert_eq!(
        native_reject(&unknown, MapReject::UnknownSymbol.code(), TS),
        native::Outbound::RequestRejected(native::RequestRejected {
            timestamp: TS,
            request_ref: 14,
            account: native::ACCOUNT_NONE,
            reason: 1001,
        })
    );

    // Through the engine: the deposit succeeds, a withdrawal of more than there is fails.
    let mut venue = Venue::new();
    let command = native_command(&deposit, Role::Trader(ALICE), &venue.registry).expect("ok");
    venue.apply(command, Some(NativeOrigin::of(&deposit)));
    assert!(matches!(venue.native.as_slice(), [
        (Audience::Account(ALICE), native::Outbound::Collateral(c)),
        (Audience::Requester, native::Outbound::RequestDone(d)),
    ] if c.amount == 1_000_000 && c.collateral == 1_000_000 && c.kind == b'D'
        && d.request_ref == 11 && d.account == ALICE.0));
    venue.native.clear();
    let withdraw = native::Inbound::Withdraw(native::Withdraw {
        request_ref: 15,
        account: ALICE.0,
        amount: 2_000_000,
    });
    let command = native_command(&withdraw, Role::Trader(ALICE), &venue.registry).expect("ok");
    venue.apply(command, Some(NativeOrigin::of(&withdraw)));
    assert!(matches!(venue.native.as_slice(), [
        (Audience::Requester, native::Outbound::RequestRejected(r)),
    ] if r.request_ref == 15 && r.reason == Reject::InsufficientCollateral.code()));
}
