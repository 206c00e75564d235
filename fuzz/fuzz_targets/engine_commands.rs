//! Arbitrary command streams through `Engine::apply` on a margined and a matching-only market,
//! with the full invariant audit and the event oracle (`cascade_engine::oracle`: positions and
//! the insurance fund replayed from events, reduce-only, bankruptcy bound, ADL order) after
//! every command, and a replay on a second engine that must give the same events and hash.
//! Any panic (an oracle failure, an overflow, an index out of range) is a finding.
//!
//! Run on stable: `cargo fuzz run engine_commands -s none`.
#![no_main]

use cascade_engine::account::MarginMode;
use cascade_engine::oracle::Oracle;
use cascade_engine::risk_params::{AdlPolicy, MarkSource, RiskParams};
use cascade_engine::{
    AccountId, Command, Engine, Limits, MarketId, MarketSpec, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::{MarginTiers, Ppm, Price, Qty, Quote, TierSpec};
use libfuzzer_sys::fuzz_target;

/// Small limits, reached often by a long input. Also keeps every allocation far below glibc's
/// largest dynamic mmap threshold: two `Limits::SMALL` engines per input (5 MB each) grew the
/// process to 2 GB of fragmented heap within 3,000 inputs (libFuzzer's out-of-memory stop),
/// with no leak (44 MB with `MALLOC_MMAP_THRESHOLD_` fixed).
const LIMITS: Limits = Limits {
    markets_max: 4,
    accounts_max: 16,
    orders_max: 2_048,
    orders_per_account_max: 512,
    levels_per_side_max: 256,
    fills_per_taker_max: 256,
    positions_max: 128,
    liquidations_per_command_max: 16,
    cooldowns_max: 64,
};

/// Reads fields from the input; past its end everything reads as zero.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    /// Edge-biased integers: 0, 1, -1, the extremes, or a value near `scale`.
    fn int(&mut self, scale: i64) -> i64 {
        match self.u8() % 16 {
            0 => 0,
            1 => 1,
            2 => -1,
            3 => i64::MAX,
            4 => i64::MIN,
            5 => scale * 1_000_000,
            _ => scale + i64::from(self.u16() as i16) * (scale / 1_000).max(1),
        }
    }
}

fn setup(engine: &mut Engine, seq: &mut u64) {
    let mut simple = RiskParams::simple(10_000, 50);
    simple.mark_source = MarkSource::Index;
    simple.liquidation_fee_ppm = 5_000;
    simple.fee_ppm_taker = 500;
    simple.fee_ppm_maker = -100;
    simple.backstop_ppm = 666_667;
    simple.slice_notional_min = Quote(20_000);
    simple.cooldown_ns = 3;
    simple.adl = AdlPolicy::ProRata;
    for command in [
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
        Command::AddMarket(Box::new(MarketSpec::btc_perp(MarketId(1)))),
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(2), "M"))),
        Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(simple),
        },
        Command::SetRiskParams {
            market: MarketId(1),
            params: Box::new(RiskParams::btc_perp()),
        },
        Command::SetBackstopAccount {
            account: Some(AccountId(7)),
        },
        Command::Deposit {
            account: AccountId(7),
            amount: Quote(1_000_000_000),
        },
        Command::SetIndexPrice {
            market: MarketId(0),
            index: Price(1_000),
            external_mark: None,
        },
        Command::SetIndexPrice {
            market: MarketId(1),
            index: Price(650_000),
            external_mark: None,
        },
    ] {
        *seq += 1;
        engine.apply(&Sequenced {
            seq: *seq,
            ts_ns: *seq,
            command,
        });
    }
}

/// Risk parameters from the input: one tier (any rate and leverage the tier rules allow, or an
/// invalid one to be refused), and the waterfall settings at their edges.
fn params(b: &mut Bytes<'_>) -> RiskParams {
    let leverage = u32::from(b.u16() % 1_100).max(1);
    let mmr = i32::from(b.u16() as i16).rem_euclid(20_000);
    let mut p = RiskParams::simple(5_000, 100);
    if let Ok(tiers) = MarginTiers::new(&[TierSpec::new(Quote(0), Ppm(mmr), leverage)]) {
        p.tiers = tiers;
    }
    p.mark_source = if b.u8().is_multiple_of(2) {
        MarkSource::Index
    } else {
        MarkSource::Median
    };
    p.fee_ppm_taker = i32::from(b.u8()) * 100;
    p.fee_ppm_maker = -p.fee_ppm_taker / 2;
    p.liquidation_fee_ppm = u32::from(b.u8()) * 100;
    p.slice_notional_min = Quote(b.int(20_000).max(0));
    p.slice_ppm = u32::from(b.u16()) * 16;
    p.cooldown_ns = u64::from(b.u8());
    p.backstop_ppm = u32::from(b.u16()) * 16;
    p.insurance_slippage_ppm = u32::from(b.u16()) * 16;
    p.adl = match b.u8() % 3 {
        0 => AdlPolicy::Queue,
        1 => AdlPolicy::ProRata,
        _ => AdlPolicy::Off,
    };
    p.position_lots_max = b.int(1_000).max(1);
    p
}

fn command(b: &mut Bytes<'_>, seq: u64) -> Command {
    let account = AccountId(u32::from(b.u8() % 9));
    let market = MarketId(u16::from(b.u8() % 4)); // 3 is unknown
    let scale = if market.0 == 1 { 650_000 } else { 1_000 };
    match b.u8() % 20 {
        0 => Command::Deposit {
            account,
            amount: Quote(b.int(100_000)),
        },
        1 => Command::Withdraw {
            account,
            amount: Quote(b.int(10_000)),
        },
        2 => Command::SetLeverage {
            account,
            market,
            leverage: b.u16() % 1_100,
        },
        3 => Command::SetMarginMode {
            account,
            market,
            mode: if b.u8().is_multiple_of(2) {
                MarginMode::Cross
            } else {
                MarginMode::Isolated
            },
        },
        4 => Command::TransferIsolatedMargin {
            account,
            market,
            amount: Quote(b.int(1_000)),
        },
        5 | 6 => Command::SetIndexPrice {
            market,
            index: Price(b.int(scale)),
            external_mark: (b.u8().is_multiple_of(4)).then(|| Price(b.int(scale))),
        },
        7 => Command::FundingTick { market },
        8 => Command::Cancel {
            account,
            order_id: OrderId(u64::from(b.u16()).min(seq)),
        },
        9 => Command::Amend {
            account,
            order_id: OrderId(u64::from(b.u16()).min(seq)),
            price: Price(b.int(scale)),
            qty: Qty(b.int(10)),
        },
        10 => Command::MassCancelAccount {
            account,
            market: (b.u8().is_multiple_of(2)).then_some(market),
        },
        11 => Command::InsuranceDeposit {
            amount: Quote(b.int(1_000)),
        },
        // Operator changes while positions are open: every trigger must follow.
        12 if b.u8().is_multiple_of(4) => Command::SetRiskParams {
            market,
            params: Box::new(params(b)),
        },
        13 if b.u8().is_multiple_of(4) => Command::SetBackstopAccount {
            account: (!b.u8().is_multiple_of(3)).then_some(account),
        },
        _ => {
            let kind = if b.u8().is_multiple_of(6) {
                OrderKind::Market
            } else {
                OrderKind::Limit
            };
            let tif = match b.u8() % 6 {
                0 => TimeInForce::Ioc,
                1 => TimeInForce::Fok,
                2 => TimeInForce::PostOnly,
                3 => TimeInForce::PostOnlySlide,
                _ => TimeInForce::Gtc,
            };
            let stp = match b.u8() % 4 {
                0 => SelfTradePrevention::ExpireMaker,
                1 => SelfTradePrevention::ExpireTaker,
                2 => SelfTradePrevention::ExpireBoth,
                _ => SelfTradePrevention::Allow,
            };
            Command::Place(NewOrder {
                account,
                market,
                client_ref: u64::from(b.u8()),
                side: if b.u8().is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                },
                kind,
                price: Price(b.int(scale)),
                qty: Qty(b.int(20)),
                tif,
                reduce_only: b.u8().is_multiple_of(8),
                stp,
            })
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(LIMITS);
    let mut seq = 0u64;
    setup(&mut engine, &mut seq);
    let mut replay = engine.clone();
    let mut oracle = Oracle::new();
    let mut b = Bytes(data);
    while !b.0.is_empty() {
        seq += 1;
        let cmd = Sequenced {
            seq,
            ts_ns: seq,
            command: command(&mut b, seq),
        };
        let events = engine.apply(&cmd).to_vec();
        if let Err(e) = oracle.check(&engine, &cmd, &events) {
            panic!("{e}");
        }
        assert_eq!(
            replay.apply(&cmd),
            events.as_slice(),
            "replay diverged at {cmd:?}"
        );
    }
    assert_eq!(
        replay.state_hash(),
        engine.state_hash(),
        "replay hash diverged"
    );
});
