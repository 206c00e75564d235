//! Liquidation stories: structured command streams built from unstructured bytes (the `sim`
//! feature; the engine itself never uses it).
//!
//! The same bytes give the same story, so the fuzzer (`fuzz/fuzz_targets/liquidation_stories.rs`)
//! and the seeded simulator (`engine/tests/liquidation_sim.rs`, which draws the bytes from a
//! seeded [`crate::sim::Rng`]) share one generator. A story sets up one or two margined markets
//! (one flat tier from 1x to 1001x, or the BTC-PERP tiers), a backstop vault with a limited
//! balance or none, an insurance fund from empty to ample, and accounts at leverage 1x–1001x,
//! cross or isolated; a thin, one-sided or empty book; positions opened against it; then index
//! moves (one tick, gaps past bankruptcy, to the price floor and ceiling), funding ticks, more
//! orders and withdrawals, with time jumps past cooldowns. Numbers are edge-biased: 0, 1, the
//! maximum and tick boundaries come up far more often than uniform draws would give.

use crate::account::MarginMode;
use crate::risk_params::{AdlPolicy, FundingNotional, MarkSource, RiskParams};
use crate::{
    AccountId, Command, Limits, MarketId, MarketSpec, NewOrder, OrderId, SelfTradePrevention,
    Sequenced, Side, TimeInForce,
};
use arbitrary::{Result, Unstructured};
use cascade_risk::margin::{MarginTiers, TierSpec};
use cascade_risk::{Ppm, Price, Qty, Quote};

/// Limits for stories: small enough that a fresh engine is cheap per fuzz input, and a
/// per-command liquidation budget of 3 so cascades carry over to the next command.
pub const LIMITS: Limits = Limits {
    markets_max: 4,
    accounts_max: 16,
    orders_max: 512,
    orders_per_account_max: 64,
    levels_per_side_max: 128,
    fills_per_taker_max: 64,
    positions_max: 64,
    liquidations_per_command_max: 3,
    cooldowns_max: 16,
};

/// Accounts 0..TRADERS trade; the vault and the market makers follow.
const TRADERS: u32 = 8;
const VAULT: u32 = 13;
const MAKERS: [u32; 2] = [14, 15];

/// What the generator remembers about a market while writing a story.
#[derive(Clone, Copy, Debug)]
struct Mkt {
    id: u16,
    index: i64,
    price_max: i64,
    leverage_max: i64,
    lots_max: i64,
}

/// Builds a story from bytes. Past the end of the bytes every draw is its smallest value, so
/// any input gives a valid (possibly short) story.
///
/// # Errors
/// Never in practice: `Unstructured` only fails on an empty choice.
pub fn story(u: &mut Unstructured<'_>) -> Result<Vec<Sequenced<Command>>> {
    let mut cmds = Vec::new();
    let mut markets = Vec::new();
    for id in 0..u.int_in_range(1..=2u16)? {
        markets.push(add_market(u, id, &mut cmds)?);
    }
    if u.ratio(3, 4)? {
        cmds.push(Command::SetBackstopAccount {
            account: Some(AccountId(VAULT)),
        });
        let vault = edgy(u, 0, 50_000_000)?;
        cmds.push(Command::Deposit {
            account: AccountId(VAULT),
            amount: Quote(vault),
        });
    }
    let fund = match u.int_in_range(0..=3u8)? {
        0 => 0,
        1 => 1,
        2 => u.int_in_range(1..=1_000)?,
        _ => edgy(u, 1, 100_000_000)?,
    };
    cmds.push(Command::InsuranceDeposit {
        amount: Quote(fund),
    });
    for maker in MAKERS {
        cmds.push(Command::Deposit {
            account: AccountId(maker),
            amount: Quote(1 << 50),
        });
    }
    for a in 0..u.int_in_range(2..=TRADERS)? {
        account(u, a, &markets, &mut cmds)?;
    }
    for m in &markets {
        book(u, m, &mut cmds)?;
    }
    for _ in 0..u.int_in_range(1..=10u8)? {
        open_position(u, &markets, &mut cmds)?;
    }
    let mut times = vec![0u64; cmds.len()];
    let steps = u.int_in_range(1..=40u8)?;
    for _ in 0..steps {
        let gap = step(u, &mut markets, &mut cmds)?;
        times.resize(cmds.len(), 0);
        if let Some(t) = times.last_mut() {
            *t = gap;
        }
    }
    Ok(stamp(cmds, &times))
}

fn stamp(cmds: Vec<Command>, gaps: &[u64]) -> Vec<Sequenced<Command>> {
    let mut ts = 0u64;
    cmds.into_iter()
        .enumerate()
        .map(|(i, command)| {
            ts += 1_000 + gaps.get(i).copied().unwrap_or(0);
            Sequenced {
                seq: i as u64 + 1,
                ts_ns: ts,
                command,
            }
        })
        .collect()
}

/// Edge-biased in `lo..=hi`: the bounds and their neighbours half the time.
fn edgy(u: &mut Unstructured<'_>, lo: i64, hi: i64) -> Result<i64> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => lo,
        1 => hi,
        2 => (lo + 1).min(hi),
        3 => (hi - 1).max(lo),
        _ => u.int_in_range(lo..=hi)?,
    })
}

fn add_market(u: &mut Unstructured<'_>, id: u16, cmds: &mut Vec<Command>) -> Result<Mkt> {
    let btc = u.ratio(1, 4)?;
    let mut spec = if btc {
        MarketSpec::btc_perp(MarketId(id))
    } else {
        let mut s = MarketSpec::unit(MarketId(id), "STORY");
        s.quote_per_tick_lot = *u.choose(&[1, 1, 7, 100, 10_000])?;
        s.price_max = Price(*u.choose(&[1_000_000, 100_000, 2_000])?);
        s.qty_max = Qty(*u.choose(&[1_000_000, 10_000, 100])?);
        s
    };
    spec.band_ppm = *u.choose(&[spec.band_ppm, 1_000_000, 50_000])?;
    let index = if btc {
        u.int_in_range(600_000..=700_000)?
    } else {
        *u.choose(&[1_000, 1_000, 10, 2, spec.price_max.0 / 2])?
    };
    let params = risk_params(u, btc, spec.qty_max.0)?;
    let leverage_max = i64::from(params.leverage_max());
    let lots_max = params.position_lots_max;
    cmds.push(Command::AddMarket(Box::new(spec)));
    cmds.push(Command::SetRiskParams {
        market: MarketId(id),
        params: Box::new(params),
    });
    cmds.push(Command::SetIndexPrice {
        market: MarketId(id),
        index: Price(index),
        external_mark: None,
    });
    Ok(Mkt {
        id,
        index,
        price_max: spec.price_max.0,
        leverage_max,
        lots_max,
    })
}

fn risk_params(u: &mut Unstructured<'_>, btc: bool, qty_max: i64) -> Result<RiskParams> {
    let mut p = if btc {
        RiskParams::btc_perp()
    } else {
        let leverage = u32::try_from(edgy(u, 1, 1_001)?).unwrap_or(1);
        // The tier rule: mmr × max leverage < 100%.
        let mmr_max = (999_999 / i64::from(leverage)).max(1);
        let mmr = i32::try_from(edgy(u, 1, mmr_max)?).unwrap_or(1);
        let tiers = MarginTiers::new(&[TierSpec::new(Quote(0), Ppm(mmr), leverage)])
            .or_else(|_| MarginTiers::flat(Ppm(5_000)))
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        let mut p = RiskParams::simple(5_000, 100);
        p.tiers = tiers;
        p
    };
    p.fee_ppm_taker = *u.choose(&[0, 500, 100_000])?;
    p.fee_ppm_maker = *u.choose(&[0, -p.fee_ppm_taker, 200])?.min(&p.fee_ppm_taker);
    p.liquidation_fee_ppm = *u.choose(&[0, 5_000, 100_000])?;
    p.slice_notional_min = Quote(*u.choose(&[i64::MAX, 0, 1_000, 100_000_000_000])?);
    p.slice_ppm = *u.choose(&[200_000, 1, 1_000_000])?;
    p.cooldown_ns = *u.choose(&[0, 1, 3_000, 30_000_000_000])?;
    p.backstop_ppm = *u.choose(&[0, 666_667, 1_000_000])?;
    p.insurance_slippage_ppm = *u.choose(&[0, 20_000, 999_999])?;
    p.adl = *u.choose(&[AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::Off])?;
    p.mark_source = *u.choose(&[MarkSource::Index, MarkSource::Index, MarkSource::Median])?;
    p.mark_clamp_ppm = *u.choose(&[0, 0, 5_000])?;
    p.funding_notional = *u.choose(&[FundingNotional::Mark, FundingNotional::Index])?;
    p.funding_cap_ppb = *u.choose(&[p.funding_cap_ppb, 0, 40_000_000])?;
    p.funding_interest_ppb = *u.choose(&[p.funding_interest_ppb, 0, -40_000_000])?;
    p.funding_impact_notional = Quote(*u.choose(&[1, 500, 10_000_000_000])?);
    // At most the market's size limit (the engine refuses more).
    let lots_max = p.position_lots_max.min(qty_max);
    p.position_lots_max = *u.choose(&[lots_max, lots_max, lots_max, 1_000.min(lots_max), 1])?;
    Ok(p)
}

fn account(
    u: &mut Unstructured<'_>,
    a: u32,
    markets: &[Mkt],
    cmds: &mut Vec<Command>,
) -> Result<()> {
    let account = AccountId(a);
    let amount = match u.int_in_range(0..=4u8)? {
        0 => 1,
        1 => u.int_in_range(1..=1_000)?,
        2 => u.int_in_range(1_000..=10_000_000_000)?,
        _ => edgy(u, 1, 1_000_000_000_000)?,
    };
    cmds.push(Command::Deposit {
        account,
        amount: Quote(amount),
    });
    for m in markets {
        let market = MarketId(m.id);
        // Now and then above the market's maximum, which must be refused.
        let top = if u.ratio(1, 10)? {
            1_100
        } else {
            m.leverage_max
        };
        let leverage = u16::try_from(edgy(u, 1, top)?).unwrap_or(1);
        cmds.push(Command::SetLeverage {
            account,
            market,
            leverage,
        });
        if u.ratio(1, 3)? {
            cmds.push(Command::SetMarginMode {
                account,
                market,
                mode: MarginMode::Isolated,
            });
            cmds.push(Command::TransferIsolatedMargin {
                account,
                market,
                amount: Quote(edgy(u, 1, amount)?),
            });
        }
    }
    Ok(())
}

/// A thin book: a few levels per side (or none), one tick apart or with holes.
fn book(u: &mut Unstructured<'_>, m: &Mkt, cmds: &mut Vec<Command>) -> Result<()> {
    for side in [Side::Buy, Side::Sell] {
        let levels = *u.choose(&[0u8, 1, 2, 5])?;
        for level in 0..levels {
            let gap = i64::from(level) * *u.choose(&[1, 1, 2, 50])? + 1;
            let price = (m.index - side.sign() * gap).clamp(1, m.price_max);
            let qty = edgy(u, 1, (m.lots_max / 8).clamp(1, 50))?;
            let maker = *u.choose(&MAKERS)?;
            cmds.push(Command::Place(NewOrder::limit(
                maker, m.id, side, price, qty,
            )));
        }
    }
    Ok(())
}

fn open_position(u: &mut Unstructured<'_>, markets: &[Mkt], cmds: &mut Vec<Command>) -> Result<()> {
    let m = u.choose(markets)?;
    let account = u.int_in_range(0..=TRADERS - 1)?;
    let side = if u.ratio(1, 2)? {
        Side::Buy
    } else {
        Side::Sell
    };
    let qty = edgy(u, 1, (m.lots_max / 4).clamp(1, 200))?;
    // Cross the maker spread, or meet another trader at the index.
    if u.ratio(1, 2)? {
        let order = NewOrder::limit(account, m.id, side, m.index, qty);
        let other = (account + 1 + u.int_in_range(0..=TRADERS - 2)?) % TRADERS;
        cmds.push(Command::Place(NewOrder::limit(
            other,
            m.id,
            side.opposite(),
            m.index,
            qty,
        )));
        cmds.push(Command::Place(order.with_tif(TimeInForce::Ioc)));
    } else {
        cmds.push(Command::Place(NewOrder::market_order(
            account, m.id, side, qty,
        )));
    }
    Ok(())
}

/// One step of the story; returns extra nanoseconds to wait before the next command.
fn step(u: &mut Unstructured<'_>, markets: &mut [Mkt], cmds: &mut Vec<Command>) -> Result<u64> {
    let i = u.choose_index(markets.len())?;
    let m = &mut markets[i];
    let market = MarketId(m.id);
    match u.int_in_range(0..=19u8)? {
        0..=6 => {
            m.index = move_index(u, m)?;
            let external = u.ratio(1, 5)?.then_some(Price(m.index));
            cmds.push(Command::SetIndexPrice {
                market,
                index: Price(m.index),
                external_mark: external,
            });
        }
        7 => cmds.push(Command::FundingTick { market }),
        8 => book(u, m, cmds)?,
        9 => open_position(u, markets, cmds)?,
        10 => cmds.push(Command::Withdraw {
            account: AccountId(u.int_in_range(0..=TRADERS - 1)?),
            amount: Quote(edgy(u, 1, 1_000_000)?),
        }),
        11 => cmds.push(Command::InsuranceDeposit {
            amount: Quote(edgy(u, 1, 10_000)?),
        }),
        12 => {
            let side = if u.ratio(1, 2)? {
                Side::Buy
            } else {
                Side::Sell
            };
            let account = u.int_in_range(0..=TRADERS - 1)?;
            let mut order = NewOrder::limit(account, m.id, side, m.index, edgy(u, 1, 100)?);
            order.reduce_only = true;
            order.stp = *u.choose(&[
                SelfTradePrevention::Allow,
                SelfTradePrevention::ExpireMaker,
                SelfTradePrevention::ExpireTaker,
            ])?;
            order.tif = *u.choose(&[TimeInForce::Gtc, TimeInForce::Ioc])?;
            cmds.push(Command::Place(order));
        }
        13 => cmds.push(Command::Cancel {
            account: AccountId(*u.choose(&MAKERS)?),
            order_id: OrderId(u.int_in_range(1..=cmds.len() as u64)?),
        }),
        14 => cmds.push(Command::MassCancelMarket { market }),
        // Operator and account changes with positions open: triggers must follow at once.
        16 => cmds.push(Command::SetRiskParams {
            market,
            params: Box::new(risk_params(u, false, m.lots_max)?),
        }),
        17 => cmds.push(Command::SetBackstopAccount {
            account: if u.ratio(1, 3)? {
                None
            } else {
                Some(AccountId(*u.choose(&[VAULT, 0, 1, MAKERS[0]])?))
            },
        }),
        18 => cmds.push(Command::SetLeverage {
            account: AccountId(u.int_in_range(0..=TRADERS - 1)?),
            market,
            leverage: u16::try_from(edgy(u, 1, m.leverage_max)?).unwrap_or(1),
        }),
        19 => cmds.push(Command::TransferIsolatedMargin {
            account: AccountId(u.int_in_range(0..=TRADERS - 1)?),
            market,
            amount: Quote(edgy(u, -10_000, 10_000)?),
        }),
        _ => {
            // A pause long enough for any cooldown, then a tick to let it run.
            cmds.push(Command::SetIndexPrice {
                market,
                index: Price(m.index),
                external_mark: None,
            });
            return Ok(*u.choose(&[1, 3_000, 31_000_000_000])?);
        }
    }
    Ok(0)
}

fn move_index(u: &mut Unstructured<'_>, m: &Mkt) -> Result<i64> {
    let next = match u.int_in_range(0..=9u8)? {
        0 => m.index + 1,
        1 => m.index - 1,
        2 => 1,
        3 => m.price_max,
        4 => m.index / 2,
        5 => m.index.saturating_mul(2),
        6 => m.index - m.index / 100 - 1,
        7 => m.index + m.index / 100 + 1,
        _ => m.index + u.int_in_range(-20..=20)?,
    };
    Ok(next.clamp(1, m.price_max))
}

/// A story from a seed: the bytes come from the seeded stream, so a seed reproduces exactly.
#[must_use]
pub fn from_seed(seed: u64, bytes: usize) -> Vec<Sequenced<Command>> {
    let mut rng = crate::sim::Rng(seed);
    let data: Vec<u8> = (0..bytes).map(|_| rng.next_u64() as u8).collect();
    story(&mut Unstructured::new(&data)).unwrap_or_default()
}
