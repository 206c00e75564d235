//! The known nasty liquidation cases, one named test each, every command checked by the event
//! oracle (`cascade_engine::oracle`: audit, positions and fund replayed from events,
//! reduce-only, bankruptcy bound, ADL order, bad-debt flags).

use cascade_engine::account::ACCOUNT_IN_LIQUIDATION;
use cascade_engine::event::{outcome, InsuranceReason};
use cascade_engine::oracle::Oracle;
use cascade_engine::risk_params::{MarkSource, RiskParams};
use cascade_engine::{
    AccountId, CancelReason, Command, Engine, Event, Limits, MarketId, MarketSpec, NewOrder,
    Reject, Sequenced, Side, TimeInForce,
};
use cascade_risk::{Price, Qty, Quote};

/// An engine, the oracle, and the clock.
struct Run {
    engine: Engine,
    oracle: Oracle,
    seq: u64,
    ts: u64,
}

impl Run {
    fn new() -> Self {
        Self::with_limits(Limits::SMALL)
    }

    fn with_limits(limits: Limits) -> Self {
        Self {
            engine: Engine::new(limits),
            oracle: Oracle::new(),
            seq: 0,
            ts: 0,
        }
    }

    fn step(&mut self, command: Command) -> Vec<Event> {
        self.seq += 1;
        self.ts += 1_000;
        let cmd = Sequenced {
            seq: self.seq,
            ts_ns: self.ts,
            command,
        };
        let events = self.engine.apply(&cmd).to_vec();
        if let Err(e) = self.oracle.check(&self.engine, &cmd, &events) {
            panic!("{e}\nevents: {events:#?}");
        }
        events
    }

    fn market(&mut self, spec: MarketSpec, params: RiskParams) {
        let id = spec.id;
        self.step(Command::AddMarket(Box::new(spec)));
        self.step(Command::SetRiskParams {
            market: id,
            params: Box::new(params),
        });
    }

    fn deposit(&mut self, account: u32, amount: i64) -> Vec<Event> {
        self.step(Command::Deposit {
            account: AccountId(account),
            amount: Quote(amount),
        })
    }

    fn leverage(&mut self, account: u32, market: u16, leverage: u16) {
        let events = self.step(Command::SetLeverage {
            account: AccountId(account),
            market: MarketId(market),
            leverage,
        });
        assert!(
            matches!(events[..], [Event::LeverageSet { .. }]),
            "{events:?}"
        );
    }

    fn index(&mut self, market: u16, price: i64) -> Vec<Event> {
        self.step(Command::SetIndexPrice {
            market: MarketId(market),
            index: Price(price),
            external_mark: None,
        })
    }

    fn order(&mut self, account: u32, market: u16, side: Side, price: i64, qty: i64) -> Vec<Event> {
        self.step(Command::Place(NewOrder::limit(
            account, market, side, price, qty,
        )))
    }

    /// `taker` trades `qty` lots with `maker` at `price`: the maker rests, the taker crosses.
    fn trade(&mut self, taker: u32, maker: u32, market: u16, side: Side, price: i64, qty: i64) {
        self.order(maker, market, side.opposite(), price, qty);
        let events = self.step(Command::Place(
            NewOrder::limit(taker, market, side, price, qty).with_tif(TimeInForce::Ioc),
        ));
        let traded: i64 = trades(&events).iter().map(|t| t.1).sum();
        assert_eq!(traded, qty, "{events:?}");
    }

    fn position(&self, account: u32, market: u16) -> i64 {
        self.engine.position(AccountId(account), MarketId(market))
    }
}

/// (price, qty, maker account, taker account) of each trade.
fn trades(events: &[Event]) -> Vec<(i64, i64, u32, u32)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Trade {
                price,
                qty,
                maker_account,
                taker_account,
                ..
            } => Some((price.0, qty.0, maker_account.0, taker_account.0)),
            _ => None,
        })
        .collect()
}

fn started(events: &[Event], account: u32) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::LiquidationStarted { account: a, .. } if a.0 == account))
}

fn ended(events: &[Event], account: u32) -> Event {
    *events
        .iter()
        .find(|e| matches!(e, Event::LiquidationEnded { account: a, .. } if a.0 == account))
        .unwrap_or_else(|| panic!("no liquidation of {account} ended: {events:?}"))
}

/// One flat tier of 1% up to 50x, the index as the mark, no fees.
fn simple() -> RiskParams {
    let mut p = RiskParams::simple(10_000, 50);
    p.mark_source = MarkSource::Index;
    p
}

const T: u16 = 0;
const MM: u32 = 0;

#[test]
fn a_1001x_long_is_liquidated_by_a_one_tick_move() {
    let mut r = Run::new();
    let mut p = RiskParams::btc_perp();
    p.mark_source = MarkSource::Index;
    p.fee_ppm_maker = 0;
    p.fee_ppm_taker = 0;
    r.market(MarketSpec::btc_perp(MarketId(T)), p);
    r.deposit(MM, 1_000_000_000_000);
    // 0.65 USD of margin for 0.01 BTC at 65,000.0 USD: 1000x.
    r.deposit(1, 650_000);
    r.leverage(1, T, 1_001);
    r.index(T, 650_000);
    r.trade(1, MM, T, Side::Buy, 650_000, 10);
    r.order(MM, T, Side::Buy, 649_600, 1_000);
    // equity 650000 + 1000·(P − 650000) ≤ ceil(0.5·P) first at P = 649674.
    let events = r.index(T, 649_675);
    assert!(!started(&events, 1), "liquidated a tick early: {events:?}");
    assert_eq!(r.position(1, T), 10);
    let events = r.index(T, 649_674);
    assert!(started(&events, 1), "{events:?}");
    let Event::LiquidationEnded { outcome: bits, .. } = ended(&events, 1) else {
        unreachable!()
    };
    assert_ne!(bits & outcome::CLOSED, 0, "{events:?}");
    assert_eq!(r.position(1, T), 0);
}

#[test]
fn a_gap_past_bankruptcy_with_an_empty_book_is_deleveraged_at_bankruptcy() {
    let mut r = Run::new();
    r.market(MarketSpec::unit(MarketId(T), "T"), simple());
    r.deposit(1, 1_000);
    r.deposit(2, 10_000);
    r.leverage(1, T, 50);
    r.index(T, 1_000);
    r.trade(1, 2, T, Side::Buy, 1_000, 40);
    // Bankruptcy: 1000 + 40·(B − 1000) = 0 ⇒ B = 975. The mark gaps to 960, the book is
    // empty, there is no backstop and no insurance fund: ADL at 975.
    let events = r.index(T, 960);
    let adl: Vec<_> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Deleveraged {
                counterparty,
                qty,
                price,
                rank,
                ..
            } => Some((counterparty.0, qty.0, price.0, rank)),
            _ => None,
        })
        .collect();
    assert_eq!(adl, vec![(2, 40, 975, 0)], "{events:?}");
    let Event::LiquidationEnded {
        equity,
        haircut,
        haircut_min,
        ..
    } = ended(&events, 1)
    else {
        unreachable!()
    };
    // The counterparty gives up exactly the shortfall: (975 − 960)·40.
    assert_eq!((equity.0, haircut.0, haircut_min.0), (0, 600, 600));
    assert_eq!((r.position(1, T), r.position(2, T)), (0, 0));
}

#[test]
fn a_liquidation_that_moves_the_mark_liquidates_the_next_account() {
    let mut r = Run::new();
    let mut p = RiskParams::simple(10_000, 50);
    p.insurance_slippage_ppm = 50_000;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    let (a, b, dumper) = (1, 2, 3);
    r.deposit(MM, 10_000_000);
    r.deposit(dumper, 10_000_000);
    r.deposit(a, 1_000);
    r.deposit(b, 1_200);
    r.step(Command::InsuranceDeposit {
        amount: Quote(1_000),
    });
    r.leverage(a, T, 50);
    r.leverage(b, T, 50);
    r.index(T, 1_000);
    r.order(MM, T, Side::Sell, 1_000, 80);
    r.order(a, T, Side::Buy, 1_000, 40);
    r.order(b, T, Side::Buy, 1_000, 40);
    // Triggers: a at 984, b at 979; thin bids below.
    for (price, qty) in [(990, 40), (985, 10), (977, 40), (960, 60)] {
        r.order(MM, T, Side::Buy, price, qty);
    }
    r.order(MM, T, Side::Sell, 1_001, 50);
    r.index(T, 1_000);
    r.step(Command::Place(NewOrder::market_order(
        dumper,
        T,
        Side::Sell,
        90,
    )));
    // The book's median drags the mark (median of index + basis, book, none) under a only.
    let first = r.index(T, 990);
    assert!(started(&first, a) && !started(&first, b), "{first:?}");
    // a's liquidation printed at 960 with the fund's help: at the same index, b falls.
    let second = r.index(T, 990);
    assert!(started(&second, b), "{second:?}");
    let marks: Vec<i64> = first
        .iter()
        .chain(&second)
        .filter_map(|e| match e {
            Event::MarkPrice { mark, .. } => Some(mark.0),
            _ => None,
        })
        .collect();
    assert!(
        marks[1] < marks[0],
        "the mark did not follow the print: {marks:?}"
    );
}

#[test]
fn a_liquidated_account_that_is_the_best_adl_candidate_is_deleveraged_in_its_cooldown() {
    let mut r = Run::new();
    let mut p = simple();
    p.slice_notional_min = Quote(1_000);
    p.slice_ppm = 500_000;
    p.cooldown_ns = 1_000_000_000_000;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    let (a, b) = (1, 2);
    r.deposit(MM, 1_000_000_000);
    r.deposit(a, 1_000);
    r.deposit(b, 1_000);
    r.leverage(a, T, 50);
    r.leverage(b, T, 50);
    r.index(T, 1_000);
    r.trade(a, MM, T, Side::Buy, 1_000, 40);
    r.trade(b, MM, T, Side::Sell, 1_000, 40);
    // a (trigger 984, bankruptcy 975) sells a half slice at 976 and waits out a cooldown,
    // still liquidatable.
    r.order(MM, T, Side::Buy, 976, 20);
    let events = r.index(T, 980);
    let Event::LiquidationEnded { outcome: bits, .. } = ended(&events, a) else {
        unreachable!()
    };
    assert_ne!(bits & outcome::COOLDOWN, 0, "{events:?}");
    assert_eq!(r.position(a, T), 20);
    assert_ne!(r.engine.accounts().flags(a) & ACCOUNT_IN_LIQUIDATION, 0);
    // The index spikes past b's bankruptcy (1025) with an empty book and no fund: ADL ranks
    // the longs, and a — now in profit at high leverage, still in its cooldown — is first.
    let events = r.index(T, 1_030);
    let adl: Vec<_> = events
        .iter()
        .filter_map(|e| match *e {
            Event::Deleveraged {
                counterparty,
                qty,
                rank,
                ..
            } => Some((counterparty.0, qty.0, rank)),
            _ => None,
        })
        .collect();
    assert_eq!(adl, vec![(a, 20, 0), (MM, 20, 1)], "{events:?}");
    assert_eq!(r.position(a, T), 0);
    // The emptied cooldown clears at the next command after it, and a can withdraw again.
    r.ts += 1_000_000_000_000;
    r.index(T, 1_030);
    assert_eq!(r.engine.accounts().flags(a) & ACCOUNT_IN_LIQUIDATION, 0);
    let events = r.step(Command::Withdraw {
        account: AccountId(a),
        amount: Quote(1),
    });
    assert!(
        matches!(events[..], [Event::Withdrawn { .. }]),
        "{events:?}"
    );
}

#[test]
fn funding_that_pushes_an_account_under_maintenance_liquidates_it_in_the_same_command() {
    let mut r = Run::new();
    let mut p = simple();
    // 2% per interval, longs pay: more than the 1.5% of notional the long has above 1%.
    p.funding_interest_ppb = 20_000_000;
    p.funding_clamp_ppb = 20_000_000;
    p.funding_cap_ppb = 40_000_000;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    r.deposit(MM, 1_000_000_000);
    r.deposit(1, 1_000);
    r.deposit(2, 1_000_000);
    r.leverage(1, T, 50);
    r.index(T, 1_000);
    r.trade(1, 2, T, Side::Buy, 1_000, 40);
    // Bankruptcy after paying 800: 1000 − 200/40 = 995; a bid above it takes the position.
    r.order(MM, T, Side::Buy, 999, 100);
    let before = r.engine.health(AccountId(1));
    assert!(before.equity > before.maintenance, "{before:?}");
    let events = r.step(Command::FundingTick {
        market: MarketId(T),
    });
    let funding = events
        .iter()
        .position(|e| matches!(e, Event::Funding { rate_ppb, .. } if *rate_ppb > 0))
        .unwrap_or_else(|| panic!("longs did not pay: {events:?}"));
    let liquidation = events
        .iter()
        .position(|e| matches!(e, Event::LiquidationStarted { account, .. } if account.0 == 1))
        .unwrap_or_else(|| panic!("not liquidated: {events:?}"));
    assert!(funding < liquidation);
    assert_eq!(r.position(1, T), 0);
}

#[test]
fn self_trade_during_liquidation_cannot_happen_the_account_orders_go_first() {
    let mut r = Run::new();
    r.market(MarketSpec::unit(MarketId(T), "T"), simple());
    r.deposit(MM, 1_000_000_000);
    r.deposit(1, 1_000);
    r.leverage(1, T, 50);
    r.index(T, 1_000);
    r.trade(1, MM, T, Side::Buy, 1_000, 40);
    // The account's own bids sit where its liquidation order will sell: above the maker's.
    r.order(1, T, Side::Buy, 983, 1);
    r.order(1, T, Side::Buy, 982, 1);
    r.order(MM, T, Side::Buy, 980, 100);
    let events = r.index(T, 984);
    assert!(started(&events, 1), "{events:?}");
    let cancelled = events
        .iter()
        .filter(|e| {
            matches!(e, Event::Cancelled { account, reason: CancelReason::Liquidation, .. }
                if account.0 == 1)
        })
        .count();
    assert_eq!(cancelled, 2, "{events:?}");
    let fills = trades(&events);
    assert!(!fills.is_empty(), "{events:?}");
    assert!(fills
        .iter()
        .all(|&(price, _, maker, taker)| maker == MM && taker == 1 && price == 980));
    assert_eq!(r.position(1, T), 0);
}

/// Fills in the debug-build test; `cargo run --release -p cascade-engine --example
/// rounding_dust --features sim -- 5000000` runs millions.
const DUST_FILLS: u64 = 20_000;

#[test]
fn rounding_dust_over_many_fills_is_conserved_to_the_quantum() {
    let (engine, fills) = cascade_engine::sim::dust_run(DUST_FILLS, true);
    assert_eq!(fills, DUST_FILLS);
    let t = engine.treasury();
    // Every position is closed; what is left of the money is collateral, fees and dust, and it
    // adds up exactly to what was deposited.
    let collateral: i128 = (0..engine.accounts().len())
        .map(|a| {
            i128::from(
                engine
                    .accounts()
                    .collateral(u32::try_from(a).expect("small")),
            )
        })
        .sum();
    assert!(engine
        .accounts()
        .all_positions()
        .iter()
        .all(|p| p.size == 0 && p.quote == 0));
    assert_eq!(
        collateral + i128::from(t.insurance_fund) + i128::from(t.fee_pool),
        i128::from(t.deposits) - i128::from(t.withdrawals)
    );
    assert!(t.fee_pool > 0 && t.insurance_fund > 0, "{t:?}");
}

#[test]
fn maximum_sizes_and_prices_reject_cleanly_and_never_overflow() {
    let mut r = Run::new();
    let mut spec = MarketSpec::unit(MarketId(T), "MAX");
    // The largest book the proofs allow: price_max·qty_max fits i64, price_max·2e6 too.
    spec.price_max = Price(4_000_000_000_000);
    spec.qty_max = Qty(2_000_000);
    let mut too_big = spec;
    too_big.id = MarketId(1);
    too_big.price_max = Price(5_000_000_000_000);
    let events = r.step(Command::AddMarket(Box::new(too_big)));
    assert!(
        matches!(
            events[..],
            [Event::Rejected {
                reason: Reject::InvalidMarketSpec,
                ..
            }]
        ),
        "{events:?}"
    );
    let mut p = simple();
    p.position_lots_max = spec.qty_max.0;
    p.adl = cascade_engine::risk_params::AdlPolicy::Queue;
    r.market(spec, p);
    // Deposits are capped at 2^60 in all.
    r.deposit(1, 1 << 59);
    r.deposit(2, 1 << 59);
    let events = r.deposit(3, 1);
    assert!(
        matches!(
            events[..],
            [Event::Rejected {
                reason: Reject::DepositsAboveMax,
                ..
            }]
        ),
        "{events:?}"
    );
    r.leverage(1, T, 50);
    r.leverage(2, T, 50);
    r.index(T, spec.price_max.0);
    for (price, qty, reason) in [
        (spec.price_max.0 + 1, 1, Reject::PriceAboveMax),
        (1, spec.qty_max.0 + 1, Reject::QtyAboveMax),
        (i64::MAX, i64::MAX, Reject::QtyAboveMax),
        (i64::MIN, 1, Reject::PriceNotPositive),
    ] {
        let events = r.order(1, T, Side::Buy, price, qty);
        assert!(
            matches!(events[..], [Event::Rejected { reason: got, .. }] if got == reason),
            "{price} × {qty}: {events:?}"
        );
    }
    // The largest notional there is: qty_max at price_max, 8e18 quantums.
    r.trade(1, 2, T, Side::Buy, spec.price_max.0, spec.qty_max.0);
    r.step(Command::FundingTick {
        market: MarketId(T),
    });
    // A gap from the ceiling to the floor: the long loses far more than exists, the short is
    // the only counterparty; everything stays exact, the shortfall is bad debt.
    let events = r.index(T, 1);
    assert!(started(&events, 1), "{events:?}");
    let Event::LiquidationEnded { outcome: bits, .. } = ended(&events, 1) else {
        unreachable!()
    };
    assert_ne!(bits & outcome::CLOSED, 0, "{events:?}");
    assert_eq!((r.position(1, T), r.position(2, T)), (0, 0));
    // And back to the ceiling with funding on the way: nothing left to overflow on.
    r.index(T, spec.price_max.0);
    let events = r.step(Command::FundingTick {
        market: MarketId(T),
    });
    assert!(
        matches!(events[..], [Event::Funding { paid: Quote(0), .. }]),
        "{events:?}"
    );
}

/// Found by the `liquidation_stories` fuzzer (the oracle's rule was too strict, the engine
/// right): a deep short skips the book, the vault cannot take it, and the insurance stage's one
/// order buys 5 lots a tick under bankruptcy and 5 a tick over. The fund pays the net shortfall
/// of the order, which is zero, and ADL closes the rest at bankruptcy.
#[test]
fn insurance_order_filling_on_both_sides_of_bankruptcy_pays_only_the_net_shortfall() {
    let mut r = Run::new();
    let mut p = simple();
    p.backstop_ppm = 666_667;
    p.insurance_slippage_ppm = 999_999;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    let (short, vault) = (1, 9);
    r.step(Command::SetBackstopAccount {
        account: Some(AccountId(vault)),
    });
    r.step(Command::InsuranceDeposit {
        amount: Quote(1_000_000),
    });
    r.deposit(MM, 1_000_000_000);
    r.deposit(short, 2_500);
    r.leverage(short, T, 50);
    r.index(T, 1_000);
    r.trade(short, MM, T, Side::Sell, 1_000, 100);
    // Bankruptcy: 1000 + 2500/100 = 1025.
    r.order(MM, T, Side::Sell, 1_024, 5);
    r.order(MM, T, Side::Sell, 1_026, 5);
    let events = r.index(T, 2_000);
    let fills: Vec<(i64, i64)> = trades(&events).iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(fills, vec![(1_024, 5), (1_026, 5)], "{events:?}");
    assert!(
        !events.iter().any(|e| matches!(
            e,
            Event::InsuranceFund {
                reason: InsuranceReason::Shortfall,
                ..
            }
        )),
        "{events:?}"
    );
    assert_eq!(r.engine.treasury().insurance_fund, 1_000_000);
    let Event::LiquidationEnded {
        stage,
        outcome: bits,
        ..
    } = ended(&events, short)
    else {
        unreachable!()
    };
    assert_eq!(stage, cascade_engine::event::stage::ADL);
    assert_ne!(bits & outcome::CLOSED, 0);
}

/// Found while writing the oracle's waterfall rules: with a 0% maintenance tier (which the
/// risk crate's tier rules allow) a position's maintenance margin is 0, and the waterfall's
/// `maintenance > 0 && equity ≤ maintenance` never held — a bankrupt position was never
/// liquidated and kept its negative equity. Such parameters are now refused.
#[test]
fn a_zero_maintenance_tier_is_refused_because_it_would_never_liquidate() {
    let mut r = Run::new();
    r.step(Command::AddMarket(Box::new(MarketSpec::unit(
        MarketId(T),
        "T",
    ))));
    let mut p = RiskParams::simple(0, 50);
    p.mark_source = MarkSource::Index;
    let events = r.step(Command::SetRiskParams {
        market: MarketId(T),
        params: Box::new(p),
    });
    assert!(
        matches!(
            events[..],
            [Event::Rejected {
                reason: Reject::InvalidRiskParams,
                ..
            }]
        ),
        "{events:?}"
    );
    // The smallest positive rate works, and liquidates a bankrupt position one tick past
    // bankruptcy at the latest.
    let mut p = RiskParams::simple(1, 50);
    p.mark_source = MarkSource::Index;
    r.step(Command::SetRiskParams {
        market: MarketId(T),
        params: Box::new(p),
    });
    r.deposit(MM, 1_000_000_000);
    r.deposit(1, 1_000);
    r.leverage(1, T, 50);
    r.index(T, 1_000);
    r.trade(1, MM, T, Side::Buy, 1_000, 40);
    r.order(MM, T, Side::Buy, 975, 40);
    let events = r.index(T, 974);
    assert!(started(&events, 1), "{events:?}");
    assert_eq!(r.position(1, T), 0);
    assert!(r.engine.health(AccountId(1)).equity >= 0);
}

/// Found by `engine_commands` (the audit's stale-trigger check): turning margining on for a
/// matching-only market that already had positions left them unfiled for liquidation forever
/// (a short with no collateral at all, liquidatable at every price), because no mark existed
/// when the triggers were refreshed and the first mark refreshes nobody. Those positions carry
/// no money to margin, so the command is refused until the market is flat.
#[test]
fn margining_a_matching_only_market_with_open_positions_is_refused() {
    let mut r = Run::new();
    r.step(Command::AddMarket(Box::new(MarketSpec::unit(
        MarketId(T),
        "T",
    ))));
    r.trade(1, 2, T, Side::Buy, 1_000, 10);
    let set = |r: &mut Run| {
        r.step(Command::SetRiskParams {
            market: MarketId(T),
            params: Box::new(simple()),
        })
    };
    let events = set(&mut r);
    assert!(
        matches!(
            events[..],
            [Event::Rejected {
                reason: Reject::InvalidRiskParams,
                ..
            }]
        ),
        "{events:?}"
    );
    // Flat again (and with an order resting), it may be margined.
    r.trade(1, 2, T, Side::Sell, 1_000, 10);
    r.order(3, T, Side::Buy, 900, 5);
    let events = set(&mut r);
    assert!(
        matches!(events[..], [Event::RiskParamsSet { .. }]),
        "{events:?}"
    );
    r.index(T, 1_000);
}

/// The insurance stage's order after a partly filled book-stage order is bounded by the
/// bankruptcy price the account has then, not the one it started with: the book fill below
/// the mark's bankruptcy moved it, and the fund pays exactly the shortfall past the new one.
#[test]
fn the_insurance_order_after_a_book_fill_is_bounded_by_the_bankruptcy_price_then() {
    let mut r = Run::new();
    let mut p = simple();
    p.insurance_slippage_ppm = 999_999;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    let short = 1;
    r.step(Command::InsuranceDeposit {
        amount: Quote(1_000_000),
    });
    r.deposit(MM, 1_000_000_000);
    r.deposit(short, 2_500);
    r.leverage(short, T, 50);
    r.index(T, 1_000);
    r.trade(short, MM, T, Side::Sell, 1_000, 100);
    r.order(MM, T, Side::Sell, 1_020, 10);
    r.order(MM, T, Side::Sell, 1_030, 5);
    let mut before = r.oracle.clone();
    let (seq, ts) = (r.seq + 1, r.ts + 1_000);
    let events = r.index(T, 1_016);
    let fills: Vec<(i64, i64)> = trades(&events).iter().map(|t| (t.0, t.1)).collect();
    assert_eq!(fills, vec![(1_020, 10), (1_030, 5)], "{events:#?}");
    // Equity at 1016: 2500 − 16 × 100 = 900; after 10 lots bought at 1020 it is 860 for 90
    // lots, so bankruptcy is ⌊1016 + 860 / 90⌋ = 1025 and the 5 lots at 1030 cost the fund 25.
    let paid: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::InsuranceFund {
                reason: InsuranceReason::Shortfall,
                delta,
                ..
            } => Some(-delta.0),
            _ => None,
        })
        .collect();
    assert_eq!(paid, vec![25], "{events:#?}");
    assert_eq!(r.oracle.coverage().later_liquidation_orders, 1);
    // A stream in which the fund paid one less (its balance kept consistent) is refused.
    let mut forged = events.clone();
    for e in &mut forged {
        if let Event::InsuranceFund {
            reason: InsuranceReason::Shortfall,
            delta,
            balance,
            ..
        } = e
        {
            delta.0 += 1;
            balance.0 += 1;
        }
    }
    let cmd = Sequenced {
        seq,
        ts_ns: ts,
        command: Command::SetIndexPrice {
            market: MarketId(T),
            index: Price(1_016),
            external_mark: None,
        },
    };
    let err = before
        .check(&r.engine, &cmd, &forged)
        .expect_err("a short payment");
    assert!(
        err.contains("the fund paid 24 for a shortfall of 25 past bankruptcy 1025"),
        "{err}"
    );
}

/// With the cooldown list full, a position the waterfall can neither close nor put in a
/// cooldown used to stay at the top of its trigger heap, so the liquidation pass took it again
/// and again until the command's whole budget was spent: one account's two events repeated
/// `liquidations_per_command_max` times, and every other due position waited. Now each such
/// position is tried once per command and set aside until the pass ends, and the others get
/// the rest of the budget.
#[test]
fn a_full_cooldown_list_does_not_let_one_stuck_account_spend_the_liquidation_budget() {
    let mut r = Run::with_limits(Limits {
        cooldowns_max: 1,
        liquidations_per_command_max: 8,
        ..Limits::SMALL
    });
    let mut p = simple();
    p.cooldown_ns = 1_000_000_000_000;
    r.market(MarketSpec::unit(MarketId(T), "T"), p);
    r.deposit(MM, 1_000_000);
    r.index(T, 1_000);
    // Three longs of 40 lots at 1,000 with 1,000 each (25x): at 980 each has equity 200
    // against a maintenance margin of 392, and the book is empty, so nothing can close them.
    for a in [1, 3, 4] {
        r.deposit(a, 1_000);
        r.leverage(a, T, 50);
        r.trade(a, MM, T, Side::Buy, 1_000, 40);
    }
    let events = r.index(T, 980);
    let attempts = |a: u32| {
        events
            .iter()
            .filter(|e| matches!(e, Event::LiquidationStarted { account, .. } if account.0 == a))
            .count()
    };
    // The first takes the only cooldown place; the other two are each tried once.
    assert_eq!(
        [attempts(1), attempts(3), attempts(4)],
        [1, 1, 1],
        "{events:#?}"
    );
    for a in [1, 3, 4] {
        let Event::LiquidationEnded { outcome: bits, .. } = ended(&events, a) else {
            unreachable!()
        };
        assert_ne!(bits & outcome::NO_LIQUIDITY, 0, "{events:?}");
    }
    // Set aside for the command only: the next one tries them again (once each).
    let events = r.index(T, 979);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::LiquidationStarted { .. }))
            .count(),
        2,
        "{events:#?}"
    );
}
