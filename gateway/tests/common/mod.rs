//! Shared fixtures for the durability tests: every command variant, and (re-exported from
//! `cascade_engine::sim`) seeded random streams of commands on margined markets.
//!
//! Each test binary uses a different subset, so unused helpers are allowed here.
#![allow(dead_code)]

use cascade_engine::risk_params::{AdlPolicy, FundingNotional, MarkSource, RiskParams};
use cascade_engine::{
    AccountId, Command, Engine, Limits, MarketId, MarketSpec, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::margin::{MarginTiers, TierSpec};
use cascade_risk::{Ppm, Price, Qty, Quote};

use cascade_engine::account::MarginMode;
#[allow(unused_imports)]
pub use cascade_engine::sim::{random_command, random_stream, sequenced, setup, Rng, ACCOUNTS};

/// One of each command variant, with unusual values (extremes, options set and unset), in
/// an order that also makes sense to an engine.
pub fn every_command_variant() -> Vec<Command> {
    let tiers = MarginTiers::new(&[
        TierSpec::new(Quote(0), Ppm(500), 1001),
        TierSpec::new(Quote(10_000_000_000), Ppm(4_000), 125),
        TierSpec::new(Quote(i64::MAX / 4), Ppm(50_000), 10),
    ])
    .expect("valid tiers");
    let mut params = RiskParams::btc_perp();
    params.tiers = tiers;
    params.fee_ppm_maker = -100;
    params.adl = AdlPolicy::ProRata;
    params.funding_notional = FundingNotional::Index;
    params.mark_source = MarkSource::Index;
    params.cooldown_ns = u64::MAX;
    params.funding_interest_ppb = i64::MIN;
    let mut odd_spec = MarketSpec::unit(MarketId(u16::MAX), "Z~9");
    odd_spec.tick.scale = 255;
    odd_spec.notional_min = Quote(i64::MIN);
    vec![
        Command::AddMarket(Box::new(MarketSpec::btc_perp(MarketId(0)))),
        Command::AddMarket(Box::new(odd_spec)),
        Command::SetReferencePrice {
            market: MarketId(0),
            price: Price(650_000),
        },
        Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(params),
        },
        Command::SetBackstopAccount {
            account: Some(AccountId(7)),
        },
        Command::SetBackstopAccount { account: None },
        Command::InsuranceDeposit {
            amount: Quote(1_000_000),
        },
        Command::Deposit {
            account: AccountId(1),
            amount: Quote(i64::MAX),
        },
        Command::Withdraw {
            account: AccountId(u32::MAX),
            amount: Quote(-1),
        },
        Command::SetLeverage {
            account: AccountId(1),
            market: MarketId(0),
            leverage: u16::MAX,
        },
        Command::SetMarginMode {
            account: AccountId(2),
            market: MarketId(0),
            mode: MarginMode::Isolated,
        },
        Command::SetMarginMode {
            account: AccountId(2),
            market: MarketId(0),
            mode: MarginMode::Cross,
        },
        Command::TransferIsolatedMargin {
            account: AccountId(2),
            market: MarketId(0),
            amount: Quote(-5),
        },
        Command::SetIndexPrice {
            market: MarketId(0),
            index: Price(650_000),
            external_mark: Some(Price(650_010)),
        },
        Command::SetIndexPrice {
            market: MarketId(0),
            index: Price(i64::MIN),
            external_mark: None,
        },
        Command::Place(NewOrder {
            account: AccountId(1),
            market: MarketId(0),
            client_ref: u64::MAX,
            side: Side::Sell,
            kind: OrderKind::Limit,
            price: Price(650_100),
            qty: Qty(3),
            tif: TimeInForce::PostOnlySlide,
            reduce_only: true,
            stp: SelfTradePrevention::ExpireBoth,
        }),
        Command::Place(NewOrder::market_order(3, 0, Side::Buy, 1).with_tif(TimeInForce::Fok)),
        Command::Place(
            NewOrder::limit(4, 0, Side::Buy, 649_000, 2).with_tif(TimeInForce::PostOnly),
        ),
        Command::Amend {
            account: AccountId(4),
            order_id: OrderId(18),
            price: Price(649_500),
            qty: Qty(1),
        },
        Command::Cancel {
            account: AccountId(4),
            order_id: OrderId(u64::MAX),
        },
        Command::MassCancelAccount {
            account: AccountId(1),
            market: Some(MarketId(0)),
        },
        Command::MassCancelAccount {
            account: AccountId(1),
            market: None,
        },
        Command::MassCancelMarket {
            market: MarketId(0),
        },
        Command::FundingTick {
            market: MarketId(0),
        },
    ]
}

/// Applies commands to an engine with the full audit after each; returns every event.
pub fn apply_all(engine: &mut Engine, cmds: &[Sequenced<Command>]) -> Vec<cascade_engine::Event> {
    let mut events = Vec::new();
    for cmd in cmds {
        events.extend_from_slice(engine.apply(cmd));
        if let Err(e) = engine.audit() {
            panic!(
                "invariant broken after seq {} ({:?}): {e}",
                cmd.seq, cmd.command
            );
        }
    }
    events
}

/// The state hash of an engine that applied `cmds` from genesis.
pub fn genesis_hash(cmds: &[Sequenced<Command>]) -> u64 {
    let mut engine = Engine::new(Limits::SMALL);
    for cmd in cmds {
        engine.apply(cmd);
    }
    engine.state_hash()
}
