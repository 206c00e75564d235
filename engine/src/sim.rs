//! Seeded random command streams on margined markets, for tests, fuzzing and benchmarks (the
//! `sim` feature; the engine itself never uses them). SplitMix64 with a fixed seed: the same
//! stream on every machine, so a failing seed reproduces.

use crate::account::MarginMode;
use crate::risk_params::{AdlPolicy, RiskParams};
use crate::{
    AccountId, Command, Engine, Limits, MarketId, MarketSpec, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::{Price, Qty, Quote};

/// Accounts the streams trade with; the last one is the backstop vault.
pub const ACCOUNTS: u32 = 12;

/// SplitMix64: small, seedable, and the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform-ish in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(u64::try_from(hi - lo + 1).expect("range"))).expect("fits")
    }

    /// Edge-biased: 0, 1, the maximum, or uniform.
    pub fn edgy(&mut self, max: i64) -> i64 {
        match self.below(10) {
            0 => 0,
            1 => 1,
            2 => max,
            _ => self.range(1, max),
        }
    }
}

/// Stamps commands with sequence numbers from 1 and times 1 µs apart.
pub fn sequenced(commands: Vec<Command>) -> Vec<Sequenced<Command>> {
    commands
        .into_iter()
        .enumerate()
        .map(|(i, command)| {
            let seq = u64::try_from(i).expect("small") + 1;
            Sequenced {
                seq,
                ts_ns: seq * 1_000,
                command,
            }
        })
        .collect()
}

/// An engine and the set-up commands of two margined markets (a unit market with a simple
/// tier and BTC-PERP), a backstop vault and index prices.
pub fn setup(rng: &mut Rng) -> (Engine, Vec<Command>) {
    let engine = Engine::new(Limits::SMALL);
    let mut simple = RiskParams::simple(10_000, 50);
    simple.liquidation_fee_ppm = 5_000;
    simple.fee_ppm_taker = 500;
    simple.fee_ppm_maker = -100;
    simple.backstop_ppm = 666_667;
    simple.slice_notional_min = Quote(20_000);
    simple.slice_ppm = 300_000;
    simple.cooldown_ns = 3_000;
    simple.adl = if rng.below(2) == 0 {
        AdlPolicy::Queue
    } else {
        AdlPolicy::ProRata
    };
    simple.funding_impact_notional = Quote(500);
    simple.position_lots_max = 10_000;
    let cmds = vec![
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
        Command::AddMarket(Box::new(MarketSpec::btc_perp(MarketId(1)))),
        Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(simple),
        },
        Command::SetRiskParams {
            market: MarketId(1),
            params: Box::new(RiskParams::btc_perp()),
        },
        Command::SetBackstopAccount {
            account: Some(AccountId(ACCOUNTS - 1)),
        },
        Command::Deposit {
            account: AccountId(ACCOUNTS - 1),
            amount: Quote(5_000_000),
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
    ];
    (engine, cmds)
}

/// One random command. `index` holds each market's current index price.
pub fn random_command(rng: &mut Rng, index: &mut [i64; 2]) -> Command {
    let account = AccountId(u32::try_from(rng.below(u64::from(ACCOUNTS))).expect("small"));
    let m = u16::try_from(rng.below(2)).expect("small");
    let market = MarketId(m);
    let mid = index[usize::from(m)];
    let spread = if m == 0 { 40 } else { 2_000 };
    match rng.below(100) {
        0..=7 => Command::Deposit {
            account,
            amount: Quote(rng.edgy(if m == 0 { 5_000 } else { 50_000_000 })),
        },
        8..=10 => Command::Withdraw {
            account,
            amount: Quote(rng.edgy(20_000)),
        },
        11..=12 => Command::SetLeverage {
            account,
            market,
            leverage: u16::try_from(rng.edgy(if m == 0 { 60 } else { 1_100 })).expect("small"),
        },
        13 => Command::SetMarginMode {
            account,
            market,
            mode: if rng.below(2) == 0 {
                MarginMode::Cross
            } else {
                MarginMode::Isolated
            },
        },
        14 => Command::TransferIsolatedMargin {
            account,
            market,
            amount: Quote(rng.range(-3_000, 3_000)),
        },
        15..=24 => {
            // Index moves: mostly small, sometimes a gap of up to 8%.
            let step = if rng.below(8) == 0 {
                mid / 12
            } else {
                mid / 200 + 1
            };
            let next = (mid + rng.range(-step, step)).max(10);
            index[usize::from(m)] = next;
            let external = (rng.below(4) == 0).then(|| Price(next + rng.range(-5, 5)));
            Command::SetIndexPrice {
                market,
                index: Price(next),
                external_mark: external,
            }
        }
        25..=26 => Command::FundingTick { market },
        27..=29 => Command::Cancel {
            account,
            order_id: OrderId(rng.below(2_000) + 1),
        },
        30 => Command::MassCancelAccount {
            account,
            market: (rng.below(2) == 0).then_some(market),
        },
        31..=33 => Command::Amend {
            account,
            order_id: OrderId(rng.below(2_000) + 1),
            price: Price((mid + rng.range(-spread, spread)).max(1)),
            qty: Qty(rng.range(1, 40)),
        },
        34 => match rng.below(20) {
            0 => Command::MassCancelMarket { market },
            1 => Command::InsuranceDeposit {
                amount: Quote(rng.edgy(10_000)),
            },
            2 => Command::SetReferencePrice {
                market,
                price: Price(mid),
            },
            _ => Command::FundingTick { market },
        },
        _ => random_order(rng, account, market, mid, spread),
    }
}

fn random_order(
    rng: &mut Rng,
    account: AccountId,
    market: MarketId,
    mid: i64,
    spread: i64,
) -> Command {
    let side = if rng.below(2) == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let price = (mid + rng.range(-spread, spread)).max(1);
    let qty = if market.0 == 0 {
        rng.range(1, 60)
    } else {
        rng.range(1, 300)
    };
    let kind = if rng.below(10) == 0 {
        OrderKind::Market
    } else {
        OrderKind::Limit
    };
    let tif = match (kind, rng.below(6)) {
        (OrderKind::Market, _) => TimeInForce::Ioc,
        (_, 0) => TimeInForce::Ioc,
        (_, 1) => TimeInForce::Fok,
        (_, 2) => TimeInForce::PostOnlySlide,
        _ => TimeInForce::Gtc,
    };
    let stp = match rng.below(4) {
        0 => SelfTradePrevention::ExpireMaker,
        1 => SelfTradePrevention::ExpireTaker,
        _ => SelfTradePrevention::Allow,
    };
    Command::Place(NewOrder {
        account,
        market,
        client_ref: rng.below(1_000),
        side,
        kind,
        price: Price(price),
        qty: Qty(qty),
        tif,
        reduce_only: rng.below(8) == 0,
        stp,
    })
}

/// A fresh engine and a seeded stream: the set-up commands then `steps` random ones,
/// sequenced from 1.
pub fn random_stream(seed: u64, steps: usize) -> (Engine, Vec<Sequenced<Command>>) {
    let mut rng = Rng(seed);
    let (engine, mut cmds) = setup(&mut rng);
    let mut index = [1_000i64, 650_000i64];
    for _ in 0..steps {
        cmds.push(random_command(&mut rng, &mut index));
    }
    (engine, sequenced(cmds))
}

/// Rounding dust: `fills` trades of odd sizes at odd prices on a market of 7 quantums per
/// tick-lot, with odd maker/taker fee rates, funding every 97 fills and index moves every 50,
/// then every position closed. Returns the engine and the fills made. With `audit`, the full
/// invariant audit (money conserved to the quantum) runs every 1,000 commands and at the end.
///
/// # Panics
/// If an audit fails or a fill does not happen: the run is the test.
#[must_use]
pub fn dust_run(fills: u64, audit: bool) -> (Engine, u64) {
    const TRADERS: u32 = 8;
    const CLOSER: u32 = TRADERS;
    let mut engine = Engine::new(Limits::SMALL);
    let mut rng = Rng(0xD057);
    let mut spec = MarketSpec::unit(MarketId(0), "DUST");
    spec.quote_per_tick_lot = 7;
    let mut params = RiskParams::simple(10_000, 50);
    params.fee_ppm_taker = 333;
    params.fee_ppm_maker = -111;
    params.funding_interest_ppb = 123_457;
    params.mark_source = crate::risk_params::MarkSource::Index;
    let mut cmds = vec![
        Command::AddMarket(Box::new(spec)),
        Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(params),
        },
        Command::SetIndexPrice {
            market: MarketId(0),
            index: Price(1_000),
            external_mark: None,
        },
    ];
    for a in 0..=CLOSER {
        cmds.push(Command::Deposit {
            account: AccountId(a),
            amount: Quote(1 << 50),
        });
    }
    let mut seq = 0u64;
    let mut apply = |engine: &mut Engine, command: Command| -> u64 {
        seq += 1;
        let cmd = Sequenced {
            seq,
            ts_ns: seq * 1_000,
            command,
        };
        let traded = engine
            .apply(&cmd)
            .iter()
            .filter(|e| matches!(e, crate::Event::Trade { .. }))
            .count() as u64;
        if audit && seq % 1_000 == 0 {
            if let Err(e) = engine.audit() {
                panic!("dust run broke an invariant at seq {seq}: {e}");
            }
        }
        traded
    };
    for c in cmds {
        apply(&mut engine, c);
    }
    let mut index = 1_000i64;
    let mut made = 0u64;
    while made < fills {
        let maker = u32::try_from(rng.below(u64::from(TRADERS))).expect("small");
        let taker = (maker + 1 + u32::try_from(rng.below(u64::from(TRADERS - 1))).expect("small"))
            % TRADERS;
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = index + rng.range(-3, 3);
        let qty = 2 * rng.range(0, 8) + 1;
        apply(
            &mut engine,
            Command::Place(NewOrder::limit(maker, 0, side.opposite(), price, qty)),
        );
        let order = NewOrder::limit(taker, 0, side, price, qty).with_tif(TimeInForce::Ioc);
        let traded = apply(&mut engine, Command::Place(order));
        assert_eq!(traded, 1, "the taker meets the maker just placed");
        made += traded;
        if made % 97 == 0 {
            apply(
                &mut engine,
                Command::FundingTick {
                    market: MarketId(0),
                },
            );
        }
        if made % 50 == 0 {
            index = (index + rng.range(-3, 3)).clamp(900, 1_100);
            apply(
                &mut engine,
                Command::SetIndexPrice {
                    market: MarketId(0),
                    index: Price(index),
                    external_mark: None,
                },
            );
        }
    }
    // Close every trader against the closer, whose own position ends at zero too.
    for a in 0..TRADERS {
        let size = engine.position(AccountId(a), MarketId(0));
        if size == 0 {
            continue;
        }
        let side = if size > 0 { Side::Sell } else { Side::Buy };
        apply(
            &mut engine,
            Command::Place(NewOrder::limit(
                CLOSER,
                0,
                side.opposite(),
                index,
                size.abs(),
            )),
        );
        let mut close = NewOrder::limit(a, 0, side, index, size.abs()).with_tif(TimeInForce::Ioc);
        close.reduce_only = true;
        apply(&mut engine, Command::Place(close));
    }
    if audit {
        if let Err(e) = engine.audit() {
            panic!("dust run broke an invariant at the end: {e}");
        }
    }
    (engine, made)
}
