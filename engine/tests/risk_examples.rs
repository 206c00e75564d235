//! The venues' worked examples of RISK-REFERENCE.md that apply to the engine, run through
//! `Engine::apply` (the risk crate's own tests cover the pure formulas), plus the invariant
//! audit after every command.

use cascade_engine::event::{outcome, InsuranceReason};
use cascade_engine::risk_params::{MarkSource, RiskParams};
use cascade_engine::{
    AccountId, Command, Engine, Event, Limits, MarketId, MarketSpec, NewOrder, Sequenced, Side,
};
use cascade_risk::{Price, Quote};

struct Venue {
    engine: Engine,
    seq: u64,
}

impl Venue {
    fn new(spec: MarketSpec, params: RiskParams) -> Self {
        let mut v = Self {
            engine: Engine::new(Limits::SMALL),
            seq: 0,
        };
        v.step(Command::AddMarket(Box::new(spec)));
        v.step(Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(params),
        });
        v
    }

    fn step(&mut self, command: Command) -> Vec<Event> {
        self.seq += 1;
        let cmd = Sequenced {
            seq: self.seq,
            ts_ns: self.seq,
            command,
        };
        let events = self.engine.apply(&cmd).to_vec();
        if let Err(e) = self.engine.audit() {
            panic!("audit after {cmd:?}: {e}");
        }
        for e in &events {
            assert!(
                !matches!(e, Event::Rejected { .. }),
                "unexpected reject {e:?} for {cmd:?}"
            );
        }
        events
    }

    fn deposit(&mut self, account: u32, amount: i64) {
        self.step(Command::Deposit {
            account: AccountId(account),
            amount: Quote(amount),
        });
    }

    fn index(&mut self, price: i64) -> Vec<Event> {
        self.step(Command::SetIndexPrice {
            market: MarketId(0),
            index: Price(price),
            external_mark: None,
        })
    }

    fn order(&mut self, account: u32, side: Side, price: i64, qty: i64) -> Vec<Event> {
        self.step(Command::Place(NewOrder::limit(
            account, 0, side, price, qty,
        )))
    }
}

fn no_fees(mut p: RiskParams) -> RiskParams {
    p.fee_ppm_maker = 0;
    p.fee_ppm_taker = 0;
    p.mark_source = MarkSource::Index;
    p
}

/// dYdX v4 `TestGetLiquidationInsuranceFundDelta` (RISK-REFERENCE §3 #16): a 0.1 BTC long whose
/// bankruptcy quote is 5,100 USDC, liquidated by a fill at 56,100 (10% above), pays a fee of
/// min(0.5% × 5,610, 510) = 28.05 USDC to the insurance fund.
#[test]
fn dydx_liquidation_fee_capped_by_surplus() {
    let mut params = no_fees(RiskParams::btc_perp());
    params.liquidation_fee_ppm = 5_000;
    // BTC-PERP: tick 0.1 USD, lot 0.001 BTC, 1e-6 USD quantums (100 per tick-lot).
    let mut v = Venue::new(MarketSpec::btc_perp(MarketId(0)), params);
    v.deposit(0, 1_000_000_000_000);
    v.deposit(1, 400_000_000); // 400 USD: 0.1 BTC long at 55,000 is bankrupt at 51,000.
    v.deposit(2, 10_000_000_000);
    v.index(550_000);
    v.order(0, Side::Sell, 550_000, 100);
    v.order(1, Side::Buy, 550_000, 100);
    v.order(2, Side::Buy, 561_000, 100);
    let events = v.index(510_200);
    let fee = events.iter().find_map(|e| match e {
        Event::InsuranceFund {
            delta,
            reason: InsuranceReason::LiquidationFee,
            ..
        } => Some(*delta),
        _ => None,
    });
    assert_eq!(fee, Some(Quote(28_050_000)), "{events:?}");
    let traded = events
        .iter()
        .any(|e| matches!(e, Event::Trade { price: Price(561_000), qty, .. } if qty.0 == 100));
    assert!(traded, "{events:?}");
    assert_eq!(v.engine.position(AccountId(1), MarketId(0)), 0);
    // The account keeps the surplus above bankruptcy less the fee: 510 − 28.05 USD.
    assert_eq!(v.engine.accounts().collateral(1), 510_000_000 - 28_050_000);
}

/// BitMEX liquidation example (RISK-REFERENCE §3 #6), on a linear contract: long 1 at 100.00
/// with 1.00 of margin and 0.5% maintenance is liquidated at 99.50 and the engine's order is
/// a limit sell at the bankruptcy price, 99.00: it never fills below it.
#[test]
fn bitmex_liquidation_order_is_a_limit_at_bankruptcy() {
    // Prices in cents, one quantum = 0.01: 1.00 of margin is 100 quantums.
    let spec = MarketSpec::unit(MarketId(0), "XBT");
    let mut params = no_fees(RiskParams::simple(5_000, 100));
    params.adl = cascade_engine::risk_params::AdlPolicy::Off;
    // Retry as soon as the next command (each command here is 1 ns after the last).
    params.cooldown_ns = 1;
    let mut v = Venue::new(spec, params);
    v.deposit(0, 1_000_000);
    v.deposit(1, 100);
    v.deposit(2, 1_000_000);
    v.step(Command::SetLeverage {
        account: AccountId(1),
        market: MarketId(0),
        leverage: 100,
    });
    v.index(10_000);
    v.order(0, Side::Sell, 10_000, 1);
    v.order(1, Side::Buy, 10_000, 1);
    v.order(2, Side::Buy, 9_800, 1);
    // 99.51: not yet.
    let events = v.index(9_951);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::LiquidationStarted { .. })),
        "{events:?}"
    );
    // 99.50: liquidated; the only bid (98.00) is below bankruptcy (99.00): no fill.
    let events = v.index(9_950);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LiquidationStarted { .. })),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Trade { .. })),
        "{events:?}"
    );
    let ended = events.iter().find_map(|e| match e {
        Event::LiquidationEnded { outcome: bits, .. } => Some(*bits),
        _ => None,
    });
    assert_eq!(
        ended.map(|b| b & outcome::NO_LIQUIDITY),
        Some(outcome::NO_LIQUIDITY)
    );
    assert_eq!(v.engine.position(AccountId(1), MarketId(0)), 1);
    // A bid at 99.20 arrives; the waiting liquidation, its cooldown over, sells there.
    let events = v.order(2, Side::Buy, 9_920, 1);
    let filled = events.iter().any(|e| {
        matches!(
            e,
            Event::Trade {
                price: Price(9_920),
                ..
            }
        )
    });
    assert!(filled, "{events:?}");
    assert_eq!(v.engine.position(AccountId(1), MarketId(0)), 0);
}

/// A market order's margin cost is judged at the price it will fill at, not at its protection
/// bound: at 1001x a market buy needs 1/1001 of its notional, not 5% of open loss on top.
#[test]
fn issue_market_order_margin_at_best_price_not_protection_bound() {
    let mut params = no_fees(RiskParams::btc_perp());
    params.liquidation_fee_ppm = 0;
    let mut v = Venue::new(MarketSpec::btc_perp(MarketId(0)), params);
    v.deposit(0, 1_000_000_000_000);
    v.deposit(1, 650_000); // 0.65 USD: just above 1/1001 of 650 USD.
    v.step(Command::SetLeverage {
        account: AccountId(1),
        market: MarketId(0),
        leverage: 1001,
    });
    v.index(650_000);
    v.order(0, Side::Sell, 650_000, 10);
    let events = v.step(Command::Place(NewOrder::market_order(1, 0, Side::Buy, 10)));
    assert!(
        events.iter().any(|e| matches!(e, Event::Trade { .. })),
        "{events:?}"
    );
    assert_eq!(v.engine.position(AccountId(1), MarketId(0)), 10);
}
