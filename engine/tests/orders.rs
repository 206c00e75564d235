//! Behaviour of every order feature, one test per behaviour, each named after what it shows.
//! Every command goes through `Harness::step`, which audits all invariants after it.

mod common;

use cascade_engine::{
    AccountId, CancelReason, Command, Event, Limits, MarketId, MarketSpec, NewOrder, OrderId,
    OrderKind, Reject, SelfTradePrevention, Side, TimeInForce,
};
use cascade_risk::{Price, Qty};
use common::{buy, cancels, rejected, sell, trades, Harness, BTC, UNIT};

fn with_stp(mut order: NewOrder, stp: SelfTradePrevention) -> NewOrder {
    order.stp = stp;
    order
}

fn reduce_only(mut order: NewOrder) -> NewOrder {
    order.reduce_only = true;
    order
}

fn market(account: u32, side: Side, qty: i64) -> NewOrder {
    NewOrder::market_order(account, UNIT, side, qty)
}

// ---------------------------------------------------------------------------------------------
// Price-time priority, partial fills, GTC and IOC.

#[test]
fn buy_takes_best_ask_first_and_older_order_first_within_a_level() {
    let mut h = Harness::new();
    let ask_101 = h.rest(sell(1, 101, 5));
    let ask_100_old = h.rest(sell(2, 100, 3));
    let ask_100_new = h.rest(sell(3, 100, 4));
    let (taker, events) = h.place(buy(4, 102, 10));
    assert_eq!(
        trades(&events),
        vec![
            (ask_100_old.0, taker.0, 100, 3),
            (ask_100_new.0, taker.0, 100, 4),
            (ask_101.0, taker.0, 101, 3),
        ]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(101, vec![(ask_101.0, 2)])]);
    assert!(h.side(UNIT, Side::Buy).is_empty());
    assert_eq!(h.position(4, UNIT), 10);
    assert_eq!(h.position(1, UNIT), -3);
    assert_eq!(h.position(2, UNIT), -3);
    assert_eq!(h.position(3, UNIT), -4);
    assert_eq!(h.open_interest(UNIT), 10);
}

#[test]
fn sell_takes_highest_bid_first_and_trades_at_maker_price() {
    let mut h = Harness::new();
    let bid_98 = h.rest(buy(1, 98, 2));
    let bid_99 = h.rest(buy(2, 99, 2));
    let (taker, events) = h.place(sell(3, 90, 3));
    assert_eq!(
        trades(&events),
        vec![(bid_99.0, taker.0, 99, 2), (bid_98.0, taker.0, 98, 1)]
    );
    assert_eq!(h.side(UNIT, Side::Buy), vec![(98, vec![(bid_98.0, 1)])]);
    assert_eq!(h.position(3, UNIT), -3);
    assert_eq!(h.open_interest(UNIT), 3);
}

#[test]
fn partial_fill_leaves_maker_at_head_of_queue_with_the_rest() {
    let mut h = Harness::new();
    let first = h.rest(sell(1, 100, 10));
    let second = h.rest(sell(2, 100, 10));
    let (_, events) = h.place(buy(3, 100, 4));
    assert!(matches!(
        events.iter().find(|e| matches!(e, Event::Trade { .. })),
        Some(Event::Trade {
            maker_open: Qty(6),
            ..
        })
    ));
    assert_eq!(
        h.side(UNIT, Side::Sell),
        vec![(100, vec![(first.0, 6), (second.0, 10)])]
    );
    let (taker, events) = h.place(buy(3, 100, 7));
    assert_eq!(
        trades(&events),
        vec![(first.0, taker.0, 100, 6), (second.0, taker.0, 100, 1)]
    );
}

#[test]
fn gtc_rests_the_unfilled_rest_at_its_limit_behind_nothing_crossed() {
    let mut h = Harness::new();
    let ask = h.rest(sell(1, 100, 3));
    let (taker, events) = h.place(buy(2, 101, 5));
    assert_eq!(trades(&events), vec![(ask.0, taker.0, 100, 3)]);
    assert!(events.contains(&Event::Rested {
        order_id: taker,
        account: AccountId(2),
        market: MarketId(UNIT),
        side: Side::Buy,
        price: Price(101),
        qty: Qty(2),
    }));
    assert_eq!(h.side(UNIT, Side::Buy), vec![(101, vec![(taker.0, 2)])]);
    assert!(h.side(UNIT, Side::Sell).is_empty());
}

#[test]
fn gtc_that_does_not_cross_rests_in_time_order_at_its_level() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 1));
    let b = h.rest(buy(2, 100, 2));
    let c = h.rest(buy(1, 99, 3));
    let d = h.rest(sell(2, 101, 4));
    assert_eq!(
        h.side(UNIT, Side::Buy),
        vec![(100, vec![(a.0, 1), (b.0, 2)]), (99, vec![(c.0, 3)])]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(101, vec![(d.0, 4)])]);
    assert_eq!(h.depth(UNIT), (vec![(100, 3), (99, 3)], vec![(101, 4)]));
    assert_eq!(h.open_interest(UNIT), 0);
}

#[test]
fn ioc_buy_sweeps_two_levels_and_expires_rest() {
    let mut h = Harness::new();
    let a = h.rest(sell(1, 100, 2));
    let b = h.rest(sell(1, 101, 3));
    let c = h.rest(sell(1, 103, 9));
    let (taker, events) = h.place(buy(2, 102, 10).with_tif(TimeInForce::Ioc));
    let market = MarketId(UNIT);
    let trade = |maker: OrderId, price, qty| Event::Trade {
        market,
        maker_order: maker,
        taker_order: taker,
        maker_account: AccountId(1),
        taker_account: AccountId(2),
        taker_side: Side::Buy,
        price: Price(price),
        qty: Qty(qty),
        maker_open: Qty(0),
    };
    let level_gone = |price| Event::BookLevel {
        market,
        side: Side::Sell,
        price: Price(price),
        qty: Qty(0),
        orders: 0,
    };
    assert_eq!(
        events,
        vec![
            Event::Accepted {
                order_id: taker,
                account: AccountId(2),
                market,
                client_ref: 0,
                side: Side::Buy,
                price: Price(102),
                qty: Qty(10),
            },
            trade(a, 100, 2),
            level_gone(100),
            trade(b, 101, 3),
            level_gone(101),
            Event::Cancelled {
                order_id: taker,
                account: AccountId(2),
                market,
                qty: Qty(5),
                reason: CancelReason::ImmediateRemainder,
            },
        ]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(103, vec![(c.0, 9)])]);
    assert!(h.side(UNIT, Side::Buy).is_empty());
    assert_eq!(h.position(2, UNIT), 5);
}

#[test]
fn ioc_that_does_not_cross_expires_in_full_and_leaves_book_unchanged() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 2));
    let before = h.snapshot();
    let (taker, events) = h.place(buy(2, 99, 4).with_tif(TimeInForce::Ioc));
    assert!(trades(&events).is_empty());
    assert_eq!(
        cancels(&events),
        vec![(taker.0, 4, CancelReason::ImmediateRemainder)]
    );
    assert_eq!(h.snapshot(), before);
    assert!(h.engine.order(taker).is_none());
}

#[test]
fn ioc_filled_in_full_emits_no_cancel() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    let (_, events) = h.place(buy(2, 100, 5).with_tif(TimeInForce::Ioc));
    assert_eq!(trades(&events).len(), 1);
    assert!(cancels(&events).is_empty());
    assert!(h.side(UNIT, Side::Sell).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Fill or kill.

#[test]
fn fok_fills_in_full_across_levels() {
    let mut h = Harness::new();
    let a = h.rest(sell(1, 100, 2));
    let b = h.rest(sell(2, 101, 3));
    let c = h.rest(sell(3, 101, 4));
    let (taker, events) = h.place(buy(4, 101, 6).with_tif(TimeInForce::Fok));
    assert_eq!(
        trades(&events),
        vec![
            (a.0, taker.0, 100, 2),
            (b.0, taker.0, 101, 3),
            (c.0, taker.0, 101, 1)
        ]
    );
    assert!(cancels(&events).is_empty());
    assert_eq!(h.side(UNIT, Side::Sell), vec![(101, vec![(c.0, 3)])]);
    assert_eq!(h.position(4, UNIT), 6);
}

#[test]
fn fok_short_of_liquidity_is_rejected_with_no_side_effects() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 2));
    h.rest(sell(2, 101, 3));
    h.rest(sell(3, 102, 50));
    // Enough in total, but not within the limit price.
    h.assert_rejected_without_effect(
        Command::Place(buy(4, 101, 6).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
    // Not enough at any price.
    h.assert_rejected_without_effect(
        Command::Place(buy(4, 1_000, 56).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
    // Exactly enough fills.
    let (_, events) = h.place(buy(4, 1_000, 55).with_tif(TimeInForce::Fok));
    assert_eq!(trades(&events).len(), 3);
    assert!(h.side(UNIT, Side::Sell).is_empty());
}

#[test]
fn fok_on_empty_book_is_rejected() {
    let mut h = Harness::new();
    h.assert_rejected_without_effect(
        Command::Place(sell(1, 100, 1).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
}

#[test]
fn fok_blocked_by_own_order_under_expire_taker_is_rejected() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 2));
    h.rest(sell(4, 100, 2));
    h.rest(sell(2, 100, 5));
    let fok = with_stp(
        buy(4, 100, 6).with_tif(TimeInForce::Fok),
        SelfTradePrevention::ExpireTaker,
    );
    h.assert_rejected_without_effect(Command::Place(fok), Reject::FokNotFillable);
    let fok_both = with_stp(fok, SelfTradePrevention::ExpireBoth);
    h.assert_rejected_without_effect(Command::Place(fok_both), Reject::FokNotFillable);
}

#[test]
fn fok_under_expire_maker_skips_own_orders_and_fills() {
    let mut h = Harness::new();
    let a = h.rest(sell(1, 100, 2));
    let own = h.rest(sell(4, 100, 2));
    let c = h.rest(sell(2, 100, 5));
    let fok = with_stp(
        buy(4, 100, 6).with_tif(TimeInForce::Fok),
        SelfTradePrevention::ExpireMaker,
    );
    let (taker, events) = h.place(fok);
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 100, 2), (c.0, taker.0, 100, 4)]
    );
    assert_eq!(
        cancels(&events),
        vec![(own.0, 2, CancelReason::SelfTradeMaker)]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(100, vec![(c.0, 1)])]);
}

#[test]
fn fok_with_reduce_only_maker_fills_in_full() {
    let mut h = Harness::new();
    // Account 1 goes long 5, then offers to sell exactly that back, reduce-only.
    h.rest(sell(2, 100, 5));
    h.place(buy(1, 100, 5));
    let ro = h.rest(reduce_only(sell(1, 101, 5)));
    let (taker, events) = h.place(buy(3, 101, 5).with_tif(TimeInForce::Fok));
    assert_eq!(rejected(&events), None, "{events:?}");
    assert_eq!(trades(&events), vec![(ro.0, taker.0, 101, 5)]);
    assert_eq!(h.position(1, UNIT), 0);
    assert_eq!(h.position(3, UNIT), 5);
}

#[test]
fn fok_counts_only_what_a_reduce_only_maker_can_still_reduce() {
    let mut h = Harness::new();
    h.rest(sell(2, 100, 5));
    h.place(buy(1, 100, 5));
    // Two reduce-only offers of 5 against a long of 5: only 5 lots can ever fill.
    h.rest(reduce_only(sell(1, 101, 5)));
    h.rest(reduce_only(sell(1, 101, 5)));
    h.assert_rejected_without_effect(
        Command::Place(buy(3, 101, 6).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
    // A plain sell of account 1 ahead of the reduce-only ones uses up the long first.
    let mut h = Harness::new();
    h.rest(sell(2, 100, 5));
    h.place(buy(1, 100, 5));
    h.rest(sell(1, 101, 5));
    h.rest(reduce_only(sell(1, 101, 5)));
    h.assert_rejected_without_effect(
        Command::Place(buy(3, 101, 6).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
    let (_, events) = h.place(buy(3, 101, 5).with_tif(TimeInForce::Fok));
    assert_eq!(trades(&events).len(), 1);
    assert_eq!(h.position(1, UNIT), 0);
}

// ---------------------------------------------------------------------------------------------
// Post-only.

#[test]
fn post_only_that_would_cross_is_rejected_with_no_side_effects() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    h.rest(buy(1, 98, 5));
    h.assert_rejected_without_effect(
        Command::Place(buy(2, 100, 1).with_tif(TimeInForce::PostOnly)),
        Reject::PostOnlyWouldCross,
    );
    h.assert_rejected_without_effect(
        Command::Place(sell(2, 97, 1).with_tif(TimeInForce::PostOnly)),
        Reject::PostOnlyWouldCross,
    );
}

#[test]
fn post_only_that_does_not_cross_rests() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    let id = h.rest(buy(2, 99, 1).with_tif(TimeInForce::PostOnly));
    assert_eq!(h.side(UNIT, Side::Buy), vec![(99, vec![(id.0, 1)])]);
}

#[test]
fn post_only_slide_buy_reprices_one_tick_below_best_ask() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    let (id, events) = h.place(buy(2, 105, 3).with_tif(TimeInForce::PostOnlySlide));
    assert!(trades(&events).is_empty());
    assert!(matches!(
        events.first(),
        Some(Event::Accepted {
            price: Price(99),
            qty: Qty(3),
            ..
        })
    ));
    assert_eq!(h.side(UNIT, Side::Buy), vec![(99, vec![(id.0, 3)])]);
}

#[test]
fn post_only_slide_sell_reprices_one_tick_above_best_bid() {
    let mut h = Harness::new();
    h.rest(buy(1, 100, 5));
    let (id, events) = h.place(sell(2, 90, 3).with_tif(TimeInForce::PostOnlySlide));
    assert!(trades(&events).is_empty());
    assert_eq!(h.side(UNIT, Side::Sell), vec![(101, vec![(id.0, 3)])]);
}

#[test]
fn post_only_slide_that_does_not_cross_keeps_its_price() {
    let mut h = Harness::new();
    h.rest(buy(1, 100, 5));
    let id = h.rest(sell(2, 110, 3).with_tif(TimeInForce::PostOnlySlide));
    assert_eq!(h.side(UNIT, Side::Sell), vec![(110, vec![(id.0, 3)])]);
}

#[test]
fn post_only_slide_below_one_tick_is_rejected_no_price() {
    let mut h = Harness::new();
    h.rest(sell(1, 1, 5));
    h.assert_rejected_without_effect(
        Command::Place(buy(2, 5, 1).with_tif(TimeInForce::PostOnlySlide)),
        Reject::PostOnlyNoPrice,
    );
}

#[test]
fn post_only_slide_outside_the_band_is_rejected() {
    let mut h = Harness::with_btc();
    h.step(Command::SetReferencePrice {
        market: MarketId(BTC),
        price: Price(500_000),
    });
    // The best bid sits at the band's top, so sliding above it leaves the band.
    h.rest(NewOrder::limit(1, BTC, Side::Buy, 550_000, 10));
    h.assert_rejected_without_effect(
        Command::Place(
            NewOrder::limit(2, BTC, Side::Sell, 540_000, 10).with_tif(TimeInForce::PostOnlySlide),
        ),
        Reject::PriceOutsideBand,
    );
}

// ---------------------------------------------------------------------------------------------
// Market orders and the protection band.

fn btc_ask(h: &mut Harness, account: u32, price: i64, qty: i64) -> OrderId {
    h.rest(NewOrder::limit(account, BTC, Side::Sell, price, qty))
}

fn btc_bid(h: &mut Harness, account: u32, price: i64, qty: i64) -> OrderId {
    h.rest(NewOrder::limit(account, BTC, Side::Buy, price, qty))
}

#[test]
fn market_buy_does_not_walk_beyond_best_ask_plus_protection() {
    let mut h = Harness::with_btc();
    // Protection is 5%: from a best ask of 50,000.0 USD the bound is 52,500.0 USD.
    let a = btc_ask(&mut h, 1, 500_000, 10);
    let b = btc_ask(&mut h, 1, 525_000, 10);
    let c = btc_ask(&mut h, 1, 525_001, 10);
    let (taker, events) = h.place(NewOrder::market_order(2, BTC, Side::Buy, 100));
    assert!(matches!(
        events.first(),
        Some(Event::Accepted {
            price: Price(525_000),
            qty: Qty(100),
            ..
        })
    ));
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 500_000, 10), (b.0, taker.0, 525_000, 10)]
    );
    assert_eq!(
        cancels(&events),
        vec![(taker.0, 80, CancelReason::ImmediateRemainder)]
    );
    assert_eq!(h.side(BTC, Side::Sell), vec![(525_001, vec![(c.0, 10)])]);
    assert_eq!(h.position(2, BTC), 20);
    assert_eq!(h.open_interest(BTC), 20);
}

#[test]
fn market_sell_does_not_walk_below_best_bid_minus_protection() {
    let mut h = Harness::with_btc();
    // From a best bid of 50,000.0 USD the bound is 47,500.0 USD.
    let a = btc_bid(&mut h, 1, 500_000, 10);
    let b = btc_bid(&mut h, 1, 475_000, 10);
    let c = btc_bid(&mut h, 1, 474_999, 10);
    let (taker, events) = h.place(NewOrder::market_order(2, BTC, Side::Sell, 25));
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 500_000, 10), (b.0, taker.0, 475_000, 10)]
    );
    assert_eq!(
        cancels(&events),
        vec![(taker.0, 5, CancelReason::ImmediateRemainder)]
    );
    assert_eq!(h.side(BTC, Side::Buy), vec![(474_999, vec![(c.0, 10)])]);
    assert_eq!(h.position(2, BTC), -20);
}

#[test]
fn market_order_filled_in_full_within_the_band() {
    let mut h = Harness::new();
    let a = h.rest(sell(1, 100, 3));
    let (taker, events) = h.place(market(2, Side::Buy, 3));
    assert_eq!(trades(&events), vec![(a.0, taker.0, 100, 3)]);
    assert!(cancels(&events).is_empty());
}

#[test]
fn market_order_on_empty_book_is_rejected_no_liquidity() {
    let mut h = Harness::new();
    h.rest(buy(1, 100, 3));
    h.assert_rejected_without_effect(Command::Place(market(2, Side::Buy, 1)), Reject::NoLiquidity);
    h.assert_rejected_without_effect(
        Command::Place(market(2, Side::Buy, 1).with_tif(TimeInForce::Fok)),
        Reject::NoLiquidity,
    );
}

#[test]
fn market_order_that_would_rest_is_rejected_invalid_time_in_force() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 3));
    for tif in [
        TimeInForce::Gtc,
        TimeInForce::PostOnly,
        TimeInForce::PostOnlySlide,
    ] {
        h.assert_rejected_without_effect(
            Command::Place(market(2, Side::Buy, 1).with_tif(tif)),
            Reject::InvalidTimeInForce,
        );
    }
}

#[test]
fn market_fok_within_protection_fills_or_is_rejected() {
    let mut h = Harness::with_btc();
    btc_ask(&mut h, 1, 500_000, 10);
    btc_ask(&mut h, 1, 600_000, 10);
    let fok = NewOrder::market_order(2, BTC, Side::Buy, 11).with_tif(TimeInForce::Fok);
    h.assert_rejected_without_effect(Command::Place(fok), Reject::FokNotFillable);
    let fok = NewOrder::market_order(2, BTC, Side::Buy, 10).with_tif(TimeInForce::Fok);
    let (_, events) = h.place(fok);
    assert_eq!(trades(&events).len(), 1);
    assert_eq!(h.position(2, BTC), 10);
}

#[test]
fn market_order_below_min_notional_at_best_price_is_rejected() {
    let mut h = Harness::with_btc();
    // 40.0 USD × 0.001 BTC = 0.04 USD < 5 USD.
    btc_ask(&mut h, 1, 400, 100_000);
    h.assert_rejected_without_effect(
        Command::Place(NewOrder::market_order(2, BTC, Side::Buy, 1)),
        Reject::NotionalBelowMin,
    );
}

// ---------------------------------------------------------------------------------------------
// Reduce-only.

/// Account 1 long `qty` against account 9 on the unit market.
fn long(h: &mut Harness, account: u32, qty: i64) {
    h.rest(sell(9, 100, qty));
    let (_, events) = h.place(buy(account, 100, qty));
    assert_eq!(trades(&events).len(), 1);
    assert_eq!(h.position(account, UNIT), qty);
}

#[test]
fn reduce_only_without_position_is_rejected() {
    let mut h = Harness::new();
    h.rest(buy(2, 100, 5));
    h.assert_rejected_without_effect(
        Command::Place(reduce_only(sell(1, 100, 1))),
        Reject::ReduceOnlyWouldIncrease,
    );
    h.assert_rejected_without_effect(
        Command::Place(reduce_only(market(1, Side::Sell, 1))),
        Reject::ReduceOnlyWouldIncrease,
    );
}

#[test]
fn reduce_only_on_the_side_of_the_position_is_rejected() {
    let mut h = Harness::new();
    long(&mut h, 1, 5);
    h.rest(sell(2, 101, 5));
    h.assert_rejected_without_effect(
        Command::Place(reduce_only(buy(1, 101, 1))),
        Reject::ReduceOnlyWouldIncrease,
    );
}

#[test]
fn reduce_only_is_clamped_to_the_position() {
    let mut h = Harness::new();
    long(&mut h, 1, 3);
    let bid = h.rest(buy(2, 99, 10));
    let (taker, events) = h.place(reduce_only(sell(1, 99, 10)).with_tif(TimeInForce::Ioc));
    assert!(matches!(
        events.first(),
        Some(Event::Accepted { qty: Qty(3), .. })
    ));
    assert_eq!(trades(&events), vec![(bid.0, taker.0, 99, 3)]);
    assert!(cancels(&events).is_empty());
    assert_eq!(h.position(1, UNIT), 0);
    assert_eq!(h.side(UNIT, Side::Buy), vec![(99, vec![(bid.0, 7)])]);
}

#[test]
fn reduce_only_gtc_rests_clamped_and_closes_the_position_when_hit() {
    let mut h = Harness::new();
    long(&mut h, 1, 4);
    let ro = h.rest(reduce_only(sell(1, 105, 4)));
    let (taker, events) = h.place(buy(2, 105, 10));
    assert_eq!(trades(&events), vec![(ro.0, taker.0, 105, 4)]);
    assert_eq!(h.position(1, UNIT), 0);
    assert_eq!(h.side(UNIT, Side::Buy), vec![(105, vec![(taker.0, 6)])]);
    let mut h = Harness::new();
    long(&mut h, 1, 4);
    let (_, events) = h.place(reduce_only(sell(1, 105, 9)));
    assert!(matches!(
        events.first(),
        Some(Event::Accepted { qty: Qty(4), .. })
    ));
}

#[test]
fn resting_reduce_only_maker_is_cancelled_with_clamp_when_the_position_is_gone() {
    let mut h = Harness::new();
    long(&mut h, 1, 5);
    let ro = h.rest(reduce_only(sell(1, 110, 5)));
    // The position closes through another order.
    h.rest(buy(3, 100, 5));
    h.place(sell(1, 100, 5).with_tif(TimeInForce::Ioc));
    assert_eq!(h.position(1, UNIT), 0);
    let (taker, events) = h.place(buy(4, 110, 5));
    assert!(trades(&events).is_empty());
    assert_eq!(
        cancels(&events),
        vec![(ro.0, 5, CancelReason::ReduceOnlyClamp)]
    );
    assert_eq!(h.position(1, UNIT), 0);
    assert_eq!(h.side(UNIT, Side::Buy), vec![(110, vec![(taker.0, 5)])]);
    assert!(h.side(UNIT, Side::Sell).is_empty());
}

#[test]
fn resting_reduce_only_maker_fills_only_what_still_reduces() {
    let mut h = Harness::new();
    long(&mut h, 1, 5);
    let ro = h.rest(reduce_only(sell(1, 110, 5)));
    h.rest(buy(3, 100, 3));
    h.place(sell(1, 100, 3).with_tif(TimeInForce::Ioc));
    assert_eq!(h.position(1, UNIT), 2);
    let behind = h.rest(sell(5, 110, 4));
    let (taker, events) = h.place(buy(4, 110, 5));
    assert_eq!(
        trades(&events),
        vec![(ro.0, taker.0, 110, 2), (behind.0, taker.0, 110, 3)]
    );
    assert_eq!(
        cancels(&events),
        vec![(ro.0, 3, CancelReason::ReduceOnlyClamp)]
    );
    assert_eq!(h.position(1, UNIT), 0);
    assert_eq!(h.side(UNIT, Side::Sell), vec![(110, vec![(behind.0, 1)])]);
}

#[test]
fn reduce_only_never_flips_the_position_even_when_the_account_flips() {
    let mut h = Harness::new();
    long(&mut h, 1, 2);
    let ro = h.rest(reduce_only(sell(1, 120, 2)));
    // Account 1 flips short with a plain order; its reduce-only sell would now increase.
    h.rest(buy(3, 100, 7));
    h.place(sell(1, 100, 7));
    assert_eq!(h.position(1, UNIT), -5);
    let (_, events) = h.place(buy(4, 120, 2));
    assert!(trades(&events).is_empty());
    assert_eq!(
        cancels(&events),
        vec![(ro.0, 2, CancelReason::ReduceOnlyClamp)]
    );
    assert_eq!(h.position(1, UNIT), -5);
}

#[test]
fn reduce_only_taker_stops_when_its_own_fills_close_the_position() {
    let mut h = Harness::new();
    long(&mut h, 1, 3);
    h.rest(buy(2, 99, 2));
    h.rest(buy(3, 98, 5));
    let (taker, events) = h.place(reduce_only(market(1, Side::Sell, 100)));
    assert_eq!(trades(&events).iter().map(|t| t.3).sum::<i64>(), 3);
    assert!(cancels(&events).iter().all(|c| c.0 != taker.0 || c.1 == 0));
    assert_eq!(h.position(1, UNIT), 0);
}

// ---------------------------------------------------------------------------------------------
// Amend.

#[test]
fn amend_size_down_keeps_priority() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    let b = h.rest(buy(2, 100, 5));
    let events = h.amend(1, a, 100, 2);
    assert!(events.contains(&Event::Reduced {
        order_id: a,
        account: AccountId(1),
        market: MarketId(UNIT),
        qty: Qty(2),
    }));
    assert_eq!(
        h.side(UNIT, Side::Buy),
        vec![(100, vec![(a.0, 2), (b.0, 5)])]
    );
    let (taker, events) = h.place(sell(3, 100, 3));
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 100, 2), (b.0, taker.0, 100, 1)]
    );
}

#[test]
fn amend_size_up_loses_priority() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    let b = h.rest(buy(2, 100, 5));
    let events = h.amend(1, a, 100, 6);
    assert!(events.iter().any(|e| matches!(e, Event::Replaced { .. })));
    assert_eq!(
        h.side(UNIT, Side::Buy),
        vec![(100, vec![(b.0, 5), (a.0, 6)])]
    );
    let (taker, events) = h.place(sell(3, 100, 6));
    assert_eq!(
        trades(&events),
        vec![(b.0, taker.0, 100, 5), (a.0, taker.0, 100, 1)]
    );
}

#[test]
fn amend_price_change_loses_priority_even_back_to_the_old_price() {
    let mut h = Harness::new();
    let a = h.rest(sell(1, 105, 5));
    let b = h.rest(sell(2, 105, 5));
    h.amend(1, a, 106, 5);
    assert_eq!(
        h.side(UNIT, Side::Sell),
        vec![(105, vec![(b.0, 5)]), (106, vec![(a.0, 5)])]
    );
    h.amend(1, a, 105, 5);
    assert_eq!(
        h.side(UNIT, Side::Sell),
        vec![(105, vec![(b.0, 5), (a.0, 5)])]
    );
}

#[test]
fn amend_that_crosses_trades_and_rests_the_rest_under_the_same_id() {
    let mut h = Harness::new();
    let ask = h.rest(sell(1, 101, 3));
    let bid = h.rest(buy(2, 99, 5));
    let events = h.amend(2, bid, 101, 5);
    assert_eq!(trades(&events), vec![(ask.0, bid.0, 101, 3)]);
    assert_eq!(h.side(UNIT, Side::Buy), vec![(101, vec![(bid.0, 2)])]);
    assert!(h.side(UNIT, Side::Sell).is_empty());
    assert_eq!(h.position(2, UNIT), 3);
    assert_eq!(h.open_interest(UNIT), 3);
    // Filled in full by an amend: the order is gone.
    let ask = h.rest(sell(1, 103, 9));
    let events = h.amend(2, bid, 103, 2);
    assert_eq!(trades(&events), vec![(ask.0, bid.0, 103, 2)]);
    assert!(h.engine.order(bid).is_none());
    assert_eq!(h.side(UNIT, Side::Sell), vec![(103, vec![(ask.0, 7)])]);
}

#[test]
fn post_only_amend_that_would_cross_is_rejected_and_leaves_the_order_untouched() {
    let mut h = Harness::new();
    h.rest(sell(1, 101, 3));
    let other = h.rest(buy(3, 99, 1));
    let po = h.rest(buy(2, 99, 5).with_tif(TimeInForce::PostOnly));
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(2),
            order_id: po,
            price: Price(101),
            qty: Qty(5),
        },
        Reject::PostOnlyWouldCross,
    );
    assert_eq!(
        h.side(UNIT, Side::Buy),
        vec![(99, vec![(other.0, 1), (po.0, 5)])]
    );
    // A post-only amend that does not cross is fine.
    h.amend(2, po, 100, 5);
    assert_eq!(h.side(UNIT, Side::Buy)[0], (100, vec![(po.0, 5)]));
}

#[test]
fn post_only_slide_amend_that_would_cross_slides_behind_the_best_price() {
    let mut h = Harness::new();
    h.rest(sell(1, 101, 3));
    let po = h.rest(buy(2, 95, 5).with_tif(TimeInForce::PostOnlySlide));
    let events = h.amend(2, po, 104, 5);
    assert!(trades(&events).is_empty());
    assert_eq!(h.side(UNIT, Side::Buy), vec![(100, vec![(po.0, 5)])]);
}

#[test]
fn amend_that_changes_nothing_is_rejected() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(1),
            order_id: a,
            price: Price(100),
            qty: Qty(5),
        },
        Reject::AmendNoChange,
    );
}

#[test]
fn amend_of_unknown_or_foreign_order_is_rejected() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    let amend = |account, order_id| Command::Amend {
        account: AccountId(account),
        order_id,
        price: Price(100),
        qty: Qty(4),
    };
    h.assert_rejected_without_effect(amend(2, a), Reject::NotOrderOwner);
    h.assert_rejected_without_effect(amend(1, OrderId(999)), Reject::UnknownOrder);
    h.assert_rejected_without_effect(amend(1_024, a), Reject::UnknownAccount);
}

#[test]
fn amend_with_invalid_price_or_qty_is_rejected() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    for (price, qty, reason) in [
        (100, 0, Reject::QtyNotPositive),
        (100, -5, Reject::QtyNotPositive),
        (100, i64::MAX, Reject::QtyAboveMax),
        (0, 5, Reject::PriceNotPositive),
        (i64::MIN, 5, Reject::PriceNotPositive),
        (i64::MAX, 5, Reject::PriceAboveMax),
    ] {
        h.assert_rejected_without_effect(
            Command::Amend {
                account: AccountId(1),
                order_id: a,
                price: Price(price),
                qty: Qty(qty),
            },
            reason,
        );
    }
}

#[test]
fn amend_that_crosses_own_order_expires_the_amended_order() {
    let mut h = Harness::new();
    let own_ask = h.rest(sell(1, 101, 3));
    let bid = h.rest(buy(1, 99, 5));
    let events = h.amend(1, bid, 101, 5);
    assert!(trades(&events).is_empty());
    assert_eq!(
        cancels(&events),
        vec![(bid.0, 5, CancelReason::SelfTradeTaker)]
    );
    assert!(h.engine.order(bid).is_none());
    assert_eq!(h.side(UNIT, Side::Sell), vec![(101, vec![(own_ask.0, 3)])]);
}

#[test]
fn reduce_only_amend_is_clamped_and_rejected_without_position() {
    let mut h = Harness::new();
    long(&mut h, 1, 4);
    let ro = h.rest(reduce_only(sell(1, 110, 4)));
    // Up to 10 is clamped back to 4 at the same price: nothing changes.
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(1),
            order_id: ro,
            price: Price(110),
            qty: Qty(10),
        },
        Reject::AmendNoChange,
    );
    h.amend(1, ro, 111, 10);
    assert_eq!(h.side(UNIT, Side::Sell), vec![(111, vec![(ro.0, 4)])]);
    h.rest(buy(3, 100, 4));
    h.place(sell(1, 100, 4).with_tif(TimeInForce::Ioc));
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(1),
            order_id: ro,
            price: Price(112),
            qty: Qty(1),
        },
        Reject::ReduceOnlyWouldIncrease,
    );
}

// ---------------------------------------------------------------------------------------------
// Cancel and mass cancel.

#[test]
fn cancel_removes_the_order_and_its_empty_level() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    let b = h.rest(buy(2, 100, 6));
    let events = h.cancel(1, a);
    assert_eq!(
        events,
        vec![
            Event::Cancelled {
                order_id: a,
                account: AccountId(1),
                market: MarketId(UNIT),
                qty: Qty(5),
                reason: CancelReason::UserRequested,
            },
            Event::BookLevel {
                market: MarketId(UNIT),
                side: Side::Buy,
                price: Price(100),
                qty: Qty(6),
                orders: 1,
            },
        ]
    );
    h.cancel(2, b);
    assert!(h.side(UNIT, Side::Buy).is_empty());
    assert!(h.engine.orders().is_empty());
}

#[test]
fn cancel_of_unknown_filled_or_cancelled_order_is_rejected() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    h.cancel(1, a);
    let cancel_a = Command::Cancel {
        account: AccountId(1),
        order_id: a,
    };
    h.assert_rejected_without_effect(cancel_a.clone(), Reject::UnknownOrder);
    let b = h.rest(buy(1, 100, 5));
    h.place(sell(2, 100, 5));
    h.assert_rejected_without_effect(
        Command::Cancel {
            account: AccountId(1),
            order_id: b,
        },
        Reject::UnknownOrder,
    );
    h.assert_rejected_without_effect(
        Command::Cancel {
            account: AccountId(1),
            order_id: OrderId(u64::MAX),
        },
        Reject::UnknownOrder,
    );
}

#[test]
fn cancel_by_another_account_is_rejected_not_owner() {
    let mut h = Harness::new();
    let a = h.rest(buy(1, 100, 5));
    h.assert_rejected_without_effect(
        Command::Cancel {
            account: AccountId(2),
            order_id: a,
        },
        Reject::NotOrderOwner,
    );
    assert!(h.engine.order(a).is_some());
}

fn two_markets() -> Harness {
    let mut h = Harness::new();
    h.add_market(MarketSpec::unit(MarketId(3), "OTHER"));
    h
}

#[test]
fn mass_cancel_account_in_all_markets_cancels_only_that_account() {
    let mut h = two_markets();
    let a1 = h.rest(buy(1, 100, 1));
    let a2 = h.rest(NewOrder::limit(1, 3, Side::Sell, 50, 2));
    let a3 = h.rest(sell(1, 110, 3));
    let other = h.rest(buy(2, 100, 4));
    let events = h.step(Command::MassCancelAccount {
        account: AccountId(1),
        market: None,
    });
    let mut cancelled = cancels(&events);
    cancelled.sort_unstable();
    assert_eq!(
        cancelled,
        vec![
            (a1.0, 1, CancelReason::MassCancel),
            (a2.0, 2, CancelReason::MassCancel),
            (a3.0, 3, CancelReason::MassCancel),
        ]
    );
    assert_eq!(h.side(UNIT, Side::Buy), vec![(100, vec![(other.0, 4)])]);
    assert!(h.side(UNIT, Side::Sell).is_empty());
    assert!(h.side(3, Side::Sell).is_empty());
    assert_eq!(h.engine.accounts().orders_open(1), 0);
}

#[test]
fn mass_cancel_account_in_one_market_leaves_its_other_markets() {
    let mut h = two_markets();
    let a1 = h.rest(buy(1, 100, 1));
    let a2 = h.rest(NewOrder::limit(1, 3, Side::Sell, 50, 2));
    let events = h.step(Command::MassCancelAccount {
        account: AccountId(1),
        market: Some(MarketId(UNIT)),
    });
    assert_eq!(cancels(&events), vec![(a1.0, 1, CancelReason::MassCancel)]);
    assert_eq!(h.side(3, Side::Sell), vec![(50, vec![(a2.0, 2)])]);
    // Nothing left to cancel is not an error.
    let events = h.step(Command::MassCancelAccount {
        account: AccountId(1),
        market: Some(MarketId(UNIT)),
    });
    assert!(events.is_empty());
}

#[test]
fn mass_cancel_market_cancels_every_order_there_and_nothing_elsewhere() {
    let mut h = two_markets();
    for account in 1..4 {
        h.rest(buy(account, 100 - i64::from(account), 1));
        h.rest(sell(account, 100 + i64::from(account), 1));
    }
    let keep = h.rest(NewOrder::limit(1, 3, Side::Buy, 10, 2));
    let events = h.step(Command::MassCancelMarket {
        market: MarketId(UNIT),
    });
    assert_eq!(cancels(&events).len(), 6);
    assert!(cancels(&events)
        .iter()
        .all(|c| c.2 == CancelReason::MassCancel));
    assert_eq!(h.depth(UNIT), (vec![], vec![]));
    assert_eq!(h.side(3, Side::Buy), vec![(10, vec![(keep.0, 2)])]);
}

#[test]
fn mass_cancel_of_unknown_market_or_account_is_rejected() {
    let mut h = Harness::new();
    h.rest(buy(1, 100, 1));
    h.assert_rejected_without_effect(
        Command::MassCancelMarket {
            market: MarketId(5),
        },
        Reject::UnknownMarket,
    );
    h.assert_rejected_without_effect(
        Command::MassCancelAccount {
            account: AccountId(1),
            market: Some(MarketId(u16::MAX)),
        },
        Reject::UnknownMarket,
    );
    h.assert_rejected_without_effect(
        Command::MassCancelAccount {
            account: AccountId(u32::MAX),
            market: None,
        },
        Reject::UnknownAccount,
    );
}

// ---------------------------------------------------------------------------------------------
// Self-trade prevention.

/// Asks of accounts 2, 1 (the taker's own) and 3 at 100, 3 lots each; returns their ids.
fn stp_book(h: &mut Harness) -> [OrderId; 3] {
    [
        h.rest(sell(2, 100, 3)),
        h.rest(sell(1, 100, 3)),
        h.rest(sell(3, 100, 3)),
    ]
}

#[test]
fn stp_expire_taker_stops_at_own_order_and_keeps_the_maker() {
    let mut h = Harness::new();
    let [a, own, c] = stp_book(&mut h);
    let (taker, events) = h.place(with_stp(buy(1, 100, 8), SelfTradePrevention::ExpireTaker));
    assert_eq!(trades(&events), vec![(a.0, taker.0, 100, 3)]);
    assert_eq!(
        cancels(&events),
        vec![(taker.0, 5, CancelReason::SelfTradeTaker)]
    );
    assert_eq!(
        h.side(UNIT, Side::Sell),
        vec![(100, vec![(own.0, 3), (c.0, 3)])]
    );
    assert!(h.side(UNIT, Side::Buy).is_empty());
}

#[test]
fn stp_expire_maker_cancels_own_order_and_keeps_matching() {
    let mut h = Harness::new();
    let [a, own, c] = stp_book(&mut h);
    let (taker, events) = h.place(with_stp(buy(1, 100, 8), SelfTradePrevention::ExpireMaker));
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 100, 3), (c.0, taker.0, 100, 3)]
    );
    assert_eq!(
        cancels(&events),
        vec![(own.0, 3, CancelReason::SelfTradeMaker)]
    );
    assert_eq!(h.side(UNIT, Side::Buy), vec![(100, vec![(taker.0, 2)])]);
    assert!(h.side(UNIT, Side::Sell).is_empty());
    assert_eq!(h.position(1, UNIT), 6);
}

#[test]
fn stp_expire_both_cancels_own_maker_and_the_taker() {
    let mut h = Harness::new();
    let [a, own, c] = stp_book(&mut h);
    let (taker, events) = h.place(with_stp(buy(1, 100, 8), SelfTradePrevention::ExpireBoth));
    assert_eq!(trades(&events), vec![(a.0, taker.0, 100, 3)]);
    assert_eq!(
        cancels(&events),
        vec![
            (own.0, 3, CancelReason::SelfTradeMaker),
            (taker.0, 5, CancelReason::SelfTradeTaker)
        ]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(100, vec![(c.0, 3)])]);
}

#[test]
fn stp_allow_trades_with_own_order_and_nets_the_position() {
    let mut h = Harness::new();
    let [a, own, c] = stp_book(&mut h);
    let (taker, events) = h.place(buy(1, 100, 8));
    assert_eq!(
        trades(&events),
        vec![
            (a.0, taker.0, 100, 3),
            (own.0, taker.0, 100, 3),
            (c.0, taker.0, 100, 2)
        ]
    );
    // Bought 8, sold 3 to itself.
    assert_eq!(h.position(1, UNIT), 5);
    assert_eq!(h.open_interest(UNIT), 5);
}

#[test]
fn stp_only_applies_to_the_taker_account() {
    let mut h = Harness::new();
    let a = h.rest(sell(2, 100, 3));
    let (taker, events) = h.place(with_stp(buy(1, 100, 3), SelfTradePrevention::ExpireBoth));
    assert_eq!(trades(&events), vec![(a.0, taker.0, 100, 3)]);
}

// ---------------------------------------------------------------------------------------------
// Price band, tick/lot/notional validation and the BTC-PERP spec.

#[test]
fn price_band_follows_the_reference_price() {
    let mut h = Harness::with_btc();
    let events = h.step(Command::SetReferencePrice {
        market: MarketId(BTC),
        price: Price(500_000),
    });
    assert_eq!(
        events,
        vec![Event::ReferencePriceSet {
            market: MarketId(BTC),
            price: Price(500_000)
        }]
    );
    // Band 10%: [45,000.0, 55,000.0] USD, inclusive.
    let order = |side, price| Command::Place(NewOrder::limit(1, BTC, side, price, 10));
    h.assert_rejected_without_effect(order(Side::Buy, 550_001), Reject::PriceOutsideBand);
    h.assert_rejected_without_effect(order(Side::Sell, 449_999), Reject::PriceOutsideBand);
    btc_bid(&mut h, 1, 450_000, 10);
    btc_ask(&mut h, 1, 550_000, 10);
    // Moving the reference moves the band; resting orders stay.
    h.step(Command::SetReferencePrice {
        market: MarketId(BTC),
        price: Price(600_000),
    });
    h.assert_rejected_without_effect(order(Side::Buy, 500_000), Reject::PriceOutsideBand);
    btc_bid(&mut h, 2, 540_000, 10);
    assert_eq!(h.depth(BTC).0, vec![(540_000, 10), (450_000, 10)]);
}

#[test]
fn set_reference_price_validates_market_and_price() {
    let mut h = Harness::with_btc();
    let set = |market, price| Command::SetReferencePrice {
        market: MarketId(market),
        price: Price(price),
    };
    h.assert_rejected_without_effect(set(6, 100), Reject::UnknownMarket);
    h.assert_rejected_without_effect(set(u16::MAX, 100), Reject::UnknownMarket);
    h.assert_rejected_without_effect(set(BTC, 0), Reject::PriceNotPositive);
    h.assert_rejected_without_effect(set(BTC, i64::MIN), Reject::PriceNotPositive);
    h.assert_rejected_without_effect(set(BTC, 100_000_001), Reject::PriceAboveMax);
    h.assert_rejected_without_effect(set(BTC, i64::MAX), Reject::PriceAboveMax);
    // The largest valid reference keeps the band inside the price range.
    h.step(set(BTC, 100_000_000));
    btc_ask(&mut h, 1, 100_000_000, 1);
}

#[test]
fn btc_perp_validates_price_and_qty_range_and_min_notional() {
    let mut h = Harness::with_btc();
    let order = |price, qty| Command::Place(NewOrder::limit(1, BTC, Side::Buy, price, qty));
    // 5 USD minimum: price × qty × 100 quantums ≥ 5,000,000, so price × qty ≥ 50,000.
    h.assert_rejected_without_effect(order(49_999, 1), Reject::NotionalBelowMin);
    h.assert_rejected_without_effect(order(24_999, 2), Reject::NotionalBelowMin);
    btc_bid(&mut h, 1, 50_000, 1);
    btc_bid(&mut h, 1, 25_000, 2);
    h.assert_rejected_without_effect(order(100_000_001, 1), Reject::PriceAboveMax);
    h.assert_rejected_without_effect(order(500_000, 100_000_001), Reject::QtyAboveMax);
    // The largest price and quantity together still have a representable notional.
    btc_bid(&mut h, 1, 100_000_000, 100_000_000);
    assert_eq!(h.depth(BTC).0[0], (100_000_000, 100_000_000));
}

#[test]
fn amend_below_min_notional_is_rejected_on_btc_perp() {
    let mut h = Harness::with_btc();
    let id = btc_bid(&mut h, 1, 50_000, 2);
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(1),
            order_id: id,
            price: Price(49_999),
            qty: Qty(1),
        },
        Reject::NotionalBelowMin,
    );
}

// ---------------------------------------------------------------------------------------------
// Out-of-range inputs: each rejected with its stable code, changing nothing.

#[test]
fn out_of_range_order_quantities_are_rejected() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    for qty in [0, -1, i64::MIN] {
        h.assert_rejected_without_effect(Command::Place(buy(2, 100, qty)), Reject::QtyNotPositive);
        h.assert_rejected_without_effect(
            Command::Place(market(2, Side::Buy, qty)),
            Reject::QtyNotPositive,
        );
    }
    for qty in [1_000_000_001, i64::MAX] {
        h.assert_rejected_without_effect(Command::Place(buy(2, 100, qty)), Reject::QtyAboveMax);
        h.assert_rejected_without_effect(
            Command::Place(market(2, Side::Buy, qty)),
            Reject::QtyAboveMax,
        );
    }
}

#[test]
fn out_of_range_order_prices_are_rejected() {
    let mut h = Harness::new();
    let first = h.rest(sell(1, 100, 5));
    for price in [0, -1, i64::MIN] {
        h.assert_rejected_without_effect(
            Command::Place(buy(2, price, 1)),
            Reject::PriceNotPositive,
        );
    }
    for price in [1_000_000_001, i64::MAX] {
        h.assert_rejected_without_effect(Command::Place(sell(2, price, 1)), Reject::PriceAboveMax);
    }
    // The largest price times the largest quantity fits, and trades.
    let bid = h.rest(buy(3, 99, 1_000_000_000));
    let (taker, events) = h.place(sell(2, 1, 1_000_000_000));
    assert_eq!(trades(&events), vec![(bid.0, taker.0, 99, 1_000_000_000)]);
    let ask = h.rest(sell(2, 1_000_000_000, 1_000_000_000));
    let (taker, events) = h.place(buy(3, 1_000_000_000, 1_000_000_000));
    assert_eq!(
        trades(&events),
        vec![
            (first.0, taker.0, 100, 5),
            (ask.0, taker.0, 1_000_000_000, 999_999_995)
        ]
    );
}

#[test]
fn unknown_market_and_unknown_account_are_rejected() {
    let mut h = Harness::new();
    for market in [1, 7, 8, u16::MAX] {
        h.assert_rejected_without_effect(
            Command::Place(NewOrder::limit(1, market, Side::Buy, 100, 1)),
            Reject::UnknownMarket,
        );
    }
    for account in [1_024, u32::MAX] {
        h.assert_rejected_without_effect(
            Command::Place(buy(account, 100, 1)),
            Reject::UnknownAccount,
        );
        h.assert_rejected_without_effect(
            Command::Cancel {
                account: AccountId(account),
                order_id: OrderId(1),
            },
            Reject::UnknownAccount,
        );
    }
    assert_eq!(
        h.engine.position(AccountId(u32::MAX), MarketId(u16::MAX)),
        0
    );
    // The last valid account works.
    h.rest(buy(1_023, 100, 1));
}

#[test]
fn seq_not_increasing_is_rejected_and_changes_nothing_at_all() {
    let mut h = Harness::new();
    h.rest(sell(1, 100, 5));
    let hash = h.engine.state_hash();
    let last = h.engine.last_seq();
    for seq in [last, last - 1, 0] {
        let cmd = cascade_engine::Sequenced {
            seq,
            ts_ns: u64::MAX,
            command: Command::Place(buy(2, 100, 5)),
        };
        let events = h.apply(&cmd);
        assert!(matches!(
            events.as_slice(),
            [Event::Rejected {
                reason: Reject::SeqNotIncreasing,
                account: AccountId(2),
                ..
            }]
        ));
        assert_eq!(h.engine.state_hash(), hash);
        assert_eq!(h.engine.last_seq(), last);
    }
    // Sequence numbers may skip ahead.
    h.seq += 100;
    let (_, events) = h.place(buy(2, 100, 5));
    assert_eq!(trades(&events).len(), 1);
    assert_eq!(h.engine.last_seq(), last + 101);
}

#[test]
fn add_market_rejects_duplicates_out_of_range_ids_and_invalid_specs() {
    let mut h = Harness::new();
    h.assert_rejected_without_effect(
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(UNIT), "DUP"))),
        Reject::MarketExists,
    );
    h.assert_rejected_without_effect(
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(8), "FAR"))),
        Reject::MarketsLimit,
    );
    let mut spec = MarketSpec::unit(MarketId(2), "BAD");
    spec.price_max = Price(i64::MAX);
    h.assert_rejected_without_effect(
        Command::AddMarket(Box::new(spec)),
        Reject::InvalidMarketSpec,
    );
    let mut spec = MarketSpec::unit(MarketId(2), "BAD");
    spec.qty_max = Qty(0);
    h.assert_rejected_without_effect(
        Command::AddMarket(Box::new(spec)),
        Reject::InvalidMarketSpec,
    );
    assert_eq!(h.engine.markets().count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Limits.

fn tight(limits: impl FnOnce(&mut Limits)) -> Harness {
    let mut l = Limits::SMALL;
    limits(&mut l);
    Harness::with_limits(l)
}

#[test]
fn orders_per_account_limit_rejects_resting_orders_but_not_takers() {
    let mut h = tight(|l| l.orders_per_account_max = 2);
    let a = h.rest(buy(1, 90, 1));
    h.rest(buy(1, 91, 1));
    h.assert_rejected_without_effect(Command::Place(buy(1, 92, 1)), Reject::OrdersPerAccountLimit);
    h.assert_rejected_without_effect(
        Command::Place(buy(1, 92, 1).with_tif(TimeInForce::PostOnly)),
        Reject::OrdersPerAccountLimit,
    );
    // Another account is unaffected, and an IOC does not need room.
    let ask = h.rest(sell(2, 100, 5));
    let (taker, events) = h.place(buy(1, 100, 1).with_tif(TimeInForce::Ioc));
    assert_eq!(trades(&events), vec![(ask.0, taker.0, 100, 1)]);
    // Freeing a slot makes room again.
    h.cancel(1, a);
    h.rest(buy(1, 92, 1));
}

#[test]
fn orders_limit_rejects_when_the_engine_is_full() {
    let mut h = tight(|l| l.orders_max = 3);
    h.rest(buy(1, 90, 1));
    h.rest(buy(2, 91, 1));
    h.rest(buy(3, 92, 1));
    h.assert_rejected_without_effect(Command::Place(sell(4, 95, 1)), Reject::OrdersLimit);
}

#[test]
fn levels_per_side_limit_rejects_a_new_level_but_not_an_existing_one() {
    let mut h = tight(|l| l.levels_per_side_max = 2);
    let a = h.rest(buy(1, 90, 1));
    let b = h.rest(buy(1, 91, 1));
    h.assert_rejected_without_effect(Command::Place(buy(2, 92, 1)), Reject::LevelsLimit);
    h.rest(buy(2, 91, 1));
    // The other side has its own limit.
    h.rest(sell(2, 100, 1));
    h.rest(sell(2, 101, 1));
    // An amend to a new level is refused while its level keeps other orders...
    h.assert_rejected_without_effect(
        Command::Amend {
            account: AccountId(1),
            order_id: b,
            price: Price(93),
            qty: Qty(1),
        },
        Reject::LevelsLimit,
    );
    // ...but allowed when it is alone, because its old level goes away.
    h.amend(1, a, 89, 1);
    assert_eq!(h.depth(UNIT).0, vec![(91, 2), (89, 1)]);
}

#[test]
fn fills_per_taker_limit_expires_the_rest_even_of_a_gtc() {
    let mut h = tight(|l| l.fills_per_taker_max = 2);
    let a = h.rest(sell(1, 100, 1));
    let b = h.rest(sell(2, 100, 1));
    let c = h.rest(sell(3, 100, 1));
    let (taker, events) = h.place(buy(4, 100, 5));
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 100, 1), (b.0, taker.0, 100, 1)]
    );
    assert_eq!(
        cancels(&events),
        vec![(taker.0, 3, CancelReason::FillsLimit)]
    );
    assert_eq!(h.side(UNIT, Side::Sell), vec![(100, vec![(c.0, 1)])]);
    assert!(h.side(UNIT, Side::Buy).is_empty());
    // A FOK that needs more fills than allowed is rejected instead.
    h.rest(sell(1, 100, 1));
    h.rest(sell(2, 100, 1));
    h.assert_rejected_without_effect(
        Command::Place(buy(4, 100, 3).with_tif(TimeInForce::Fok)),
        Reject::FokNotFillable,
    );
}

// ---------------------------------------------------------------------------------------------
// Many markets in one engine.

#[test]
fn markets_do_not_interfere() {
    let mut h = Harness::with_btc();
    for id in 2..8 {
        h.add_market(MarketSpec::unit(MarketId(id), &format!("M{id}")));
    }
    // The same prices in every market never cross between markets.
    let mut asks = Vec::new();
    for id in [UNIT, 2, 3, 4, 5, 6, 7] {
        asks.push(h.rest(NewOrder::limit(1, id, Side::Sell, 100, 5)));
    }
    let (taker, events) = h.place(NewOrder::limit(2, 4, Side::Buy, 100, 3));
    assert_eq!(trades(&events), vec![(asks[3].0, taker.0, 100, 3)]);
    for (i, id) in [UNIT, 2, 3, 4, 5, 6, 7].into_iter().enumerate() {
        let expected = if id == 4 { 2 } else { 5 };
        assert_eq!(
            h.side(id, Side::Sell),
            vec![(100, vec![(asks[i].0, expected)])]
        );
        assert_eq!(h.position(2, id), if id == 4 { 3 } else { 0 });
        assert_eq!(h.open_interest(id), if id == 4 { 3 } else { 0 });
    }
    h.step(Command::MassCancelMarket {
        market: MarketId(5),
    });
    assert!(h.side(5, Side::Sell).is_empty());
    assert_eq!(h.engine.orders().len(), 6);
    // Reduce-only looks at the position in its own market only.
    h.assert_rejected_without_effect(
        Command::Place(reduce_only(NewOrder::limit(2, 6, Side::Sell, 100, 1))),
        Reject::ReduceOnlyWouldIncrease,
    );
    assert!(h.depth(BTC).0.is_empty());
}

#[test]
fn order_ids_are_the_sequence_numbers_of_the_placing_commands() {
    let mut h = Harness::new();
    h.seq = 41;
    let (id, events) = h.place(buy(1, 100, 1));
    assert_eq!(id, OrderId(42));
    assert!(matches!(
        events.first(),
        Some(Event::Accepted {
            order_id: OrderId(42),
            ..
        })
    ));
    assert_eq!(h.engine.order(id).map(|o| o.id), Some(42));
    let mut order = buy(1, 100, 1);
    order.client_ref = 7;
    order.kind = OrderKind::Limit;
    let (_, events) = h.place(order);
    assert!(matches!(
        events.first(),
        Some(Event::Accepted { client_ref: 7, .. })
    ));
}

#[test]
fn rejects_echo_the_account_and_client_reference() {
    let mut h = Harness::new();
    let mut order = buy(5, 0, 1);
    order.client_ref = 1234;
    let events = h.step(Command::Place(order));
    assert_eq!(
        events,
        vec![Event::Rejected {
            account: AccountId(5),
            client_ref: 1234,
            reason: Reject::PriceNotPositive,
        }]
    );
    let events = h.cancel(5, OrderId(77));
    assert_eq!(
        events,
        vec![Event::Rejected {
            account: AccountId(5),
            client_ref: 77,
            reason: Reject::UnknownOrder,
        }]
    );
}

#[test]
fn fok_under_expire_maker_counts_cancelled_own_orders_against_the_fills_limit() {
    // Every maker a taker acts on, fill or self-trade cancel, counts against the limit: with
    // room for two actions the FOK would need three, so it is rejected with no effect.
    let mut h = tight(|l| l.fills_per_taker_max = 2);
    h.rest(sell(4, 100, 1));
    h.rest(sell(1, 100, 1));
    h.rest(sell(2, 100, 1));
    let fok = with_stp(
        buy(4, 100, 2).with_tif(TimeInForce::Fok),
        SelfTradePrevention::ExpireMaker,
    );
    let (_, events) = h.place(fok);
    assert!(
        matches!(
            events[..],
            [Event::Rejected {
                reason: Reject::FokNotFillable,
                ..
            }]
        ),
        "{events:?}"
    );
    // With room for three it fills, cancelling the own order on the way.
    let mut h = tight(|l| l.fills_per_taker_max = 3);
    let own = h.rest(sell(4, 100, 1));
    let a = h.rest(sell(1, 100, 1));
    let b = h.rest(sell(2, 100, 1));
    let fok = with_stp(
        buy(4, 100, 2).with_tif(TimeInForce::Fok),
        SelfTradePrevention::ExpireMaker,
    );
    let (taker, events) = h.place(fok);
    assert_eq!(
        trades(&events),
        vec![(a.0, taker.0, 100, 1), (b.0, taker.0, 100, 1)]
    );
    assert_eq!(
        cancels(&events),
        vec![(own.0, 1, CancelReason::SelfTradeMaker)]
    );
}

#[test]
fn issue_reduce_only_clamp_cancels_count_against_the_fills_limit() {
    // A taker meeting many reduce-only makers whose positions are gone used to cancel them all
    // in one command, past the event buffer. Cancels now count as actions: the taker stops at
    // the limit and its rest expires.
    let mut h = tight(|l| l.fills_per_taker_max = 3);
    // Account 1 goes long 5, rests five reduce-only 1-lot sells, then closes its long.
    h.rest(sell(2, 90, 5));
    let (_, events) = h.place(buy(1, 90, 5));
    assert_eq!(trades(&events).len(), 1);
    for _ in 0..5 {
        let mut o = sell(1, 100, 1);
        o.reduce_only = true;
        h.rest(o);
    }
    h.rest(buy(3, 80, 5));
    let (_, events) = h.place(sell(1, 80, 5));
    assert_eq!(trades(&events).len(), 1);
    // A 1-lot buy now meets five dead reduce-only makers: three actions, then the limit.
    let (taker, events) = h.place(buy(4, 100, 1));
    let clamped: Vec<_> = cancels(&events)
        .into_iter()
        .filter(|c| c.2 == CancelReason::ReduceOnlyClamp)
        .collect();
    assert_eq!(clamped.len(), 3, "{events:?}");
    assert!(
        cancels(&events).contains(&(taker.0, 1, CancelReason::FillsLimit)),
        "{events:?}"
    );
}

#[test]
fn first_command_with_seq_zero_is_rejected() {
    let mut engine = cascade_engine::Engine::new(Limits::SMALL);
    let hash = engine.state_hash();
    let cmd = cascade_engine::Sequenced {
        seq: 0,
        ts_ns: 0,
        command: Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "UNIT"))),
    };
    assert!(matches!(
        engine.apply(&cmd),
        [Event::Rejected {
            reason: Reject::SeqNotIncreasing,
            ..
        }]
    ));
    assert_eq!(engine.state_hash(), hash);
    assert_eq!(engine.markets().count(), 0);
}
