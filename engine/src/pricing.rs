//! Index, mark and funding.
//!
//! # Mark price
//! On every index update: the smoothed basis takes a sample of (book mid − index) with weight
//! `mark_basis_ppm`; then the mark is the median of (index + smoothed basis, median(best bid,
//! best ask, last trade), the external perp mark when supplied) — Hyperliquid's and Binance's
//! form — clamped to `mark_clamp_ppm` of the previous mark per update. With two inputs the
//! mark is their midpoint (rounded down); with one, that input. The mark becomes the market's
//! reference price, so the limit-price band follows it.
//!
//! # Funding
//! Each index update also samples the premium `P = (max(0, impact bid − index) −
//! max(0, index − impact ask)) / index`, impact prices being the average fill price of the
//! impact notional against the book (a side without that depth contributes 0). A funding tick
//! averages the samples and pays `F = P̄ + clamp(I − P̄, ±clamp)`, capped, on `size × price`
//! (index or mark). Payers' amounts round up and receivers' down; the difference, dust, goes to
//! the insurance fund, so settlement conserves money to the quantum.

use crate::account::MarginMode;
use crate::command::{AccountId, Side};
use crate::event::{Event, InsuranceReason};
use crate::market::MarketId;
use crate::reject::Reject;
use crate::risk_params::{FundingNotional, MarkSource};
use crate::state::{Engine, Market};
use cascade_risk::num::{div_round, Rounding};
use cascade_risk::{Price, Quote};

const PPB: i128 = 1_000_000_000;

fn median3(a: i64, b: i64, c: i64) -> i64 {
    a.max(b).min(a.min(b).max(c))
}

/// Median of the available inputs: 3 → median, 2 → midpoint (down), 1 → itself.
fn median_of(values: &[Option<i64>]) -> Option<i64> {
    let mut v = [0i64; 3];
    let mut n = 0;
    for x in values.iter().flatten() {
        v[n] = *x;
        n += 1;
    }
    match n {
        0 => None,
        1 => Some(v[0]),
        2 => Some(v[0] + (v[1] - v[0]).div_euclid(2)),
        _ => Some(median3(v[0], v[1], v[2])),
    }
}

/// Average fill price (ticks × 1e9) of `notional` quantums taken from one side of the book,
/// or `None` when the side is too thin.
fn impact_price_e9(m: &Market, side: Side, notional: i64) -> Option<i128> {
    let c = i128::from(m.spec.quote_per_tick_lot);
    let want = i128::from(notional);
    let (mut lots, mut filled) = (0i128, 0i128);
    for level in m.book.levels(side) {
        let per_lot = i128::from(level.price) * c;
        let need = div_round(want - filled, per_lot, Rounding::Ceil)?;
        let take = need.min(i128::from(level.qty_total));
        lots += take;
        filled += take * per_lot;
        if filled >= want {
            return div_round(filled * PPB, lots * c, Rounding::Floor);
        }
    }
    None
}

impl Engine {
    pub(crate) fn set_index(&mut self, market: MarketId, index: Price, external: Option<Price>) {
        if let Err(r) = self.try_set_index(market, index, external) {
            self.reject_event(AccountId(0), u64::from(market.0), r);
        }
    }

    fn try_set_index(
        &mut self,
        market: MarketId,
        index: Price,
        external: Option<Price>,
    ) -> Result<(), Reject> {
        let m = self
            .markets
            .get_mut(usize::from(market.0))
            .and_then(Option::as_mut)
            .ok_or(Reject::UnknownMarket)?;
        let price_max = m.spec.price_max.0;
        for p in [Some(index), external].into_iter().flatten() {
            if p.0 <= 0 {
                return Err(Reject::PriceNotPositive);
            }
            if p.0 > price_max {
                return Err(Reject::PriceAboveMax);
            }
        }
        let bid = m.book.best_price(Side::Buy);
        let ask = m.book.best_price(Side::Sell);
        let last = m.last_trade.map(|p| p.0);
        let impact_bid = m
            .risk
            .as_ref()
            .and_then(|r| impact_price_e9(m, Side::Buy, r.params.funding_impact_notional.0));
        let impact_ask = m
            .risk
            .as_ref()
            .and_then(|r| impact_price_e9(m, Side::Sell, r.params.funding_impact_notional.0));
        let Some(risk) = m.risk.as_mut() else {
            // A matching-only market takes the index as its reference price.
            self.set_reference_internal(market, index);
            self.events.push(Event::ReferencePriceSet {
                market,
                price: index,
            });
            return Ok(());
        };
        let idx = i128::from(index.0);
        // Smoothed basis: ema += (sample − ema) × weight, in ticks × 1e6.
        if let (Some(b), Some(a)) = (bid, ask) {
            let sample = (i128::from(b) + i128::from(a)) * 500_000 - idx * 1_000_000;
            let sample = i64::try_from(sample).expect("invariant: prices ≤ price_max");
            if risk.basis_ready {
                let w = i128::from(risk.params.mark_basis_ppm);
                let step = div_round(
                    i128::from(sample - risk.basis_e6) * w,
                    1_000_000,
                    Rounding::Floor,
                )
                .expect("invariant: constant divisor");
                risk.basis_e6 += i64::try_from(step).expect("invariant: |step| ≤ |sample − ema|");
            } else {
                risk.basis_e6 = sample;
                risk.basis_ready = true;
            }
        }
        let basis =
            div_round(i128::from(risk.basis_e6), 1_000_000, Rounding::Floor).expect("constant");
        let p1 = i64::try_from(idx + basis)
            .unwrap_or(index.0)
            .clamp(1, price_max);
        let p2 = median_of(&[bid, ask, last]).filter(|_| bid.is_some() || ask.is_some());
        let raw = match risk.params.mark_source {
            MarkSource::Median => {
                median_of(&[Some(p1), p2, external.map(|p| p.0)]).unwrap_or(index.0)
            }
            MarkSource::Index => index.0,
        };
        let mut mark = raw.clamp(1, price_max);
        if let (Some(prev), true) = (risk.mark, risk.params.mark_clamp_ppm > 0) {
            let k = i128::from(risk.params.mark_clamp_ppm);
            let lo = div_round(
                i128::from(prev.0) * (1_000_000 - k),
                1_000_000,
                Rounding::Ceil,
            )
            .expect("constant");
            let hi = div_round(
                i128::from(prev.0) * (1_000_000 + k),
                1_000_000,
                Rounding::Floor,
            )
            .expect("constant");
            let (lo, hi) = (
                i64::try_from(lo).unwrap_or(1),
                i64::try_from(hi).unwrap_or(price_max),
            );
            mark = mark.clamp(lo.max(1), hi.min(price_max));
        }
        // Premium sample, in parts per billion of the index.
        let above = impact_bid.map_or(0, |b| (b - idx * PPB).max(0));
        let below = impact_ask.map_or(0, |a| (idx * PPB - a).max(0));
        let premium = div_round(above - below, idx, Rounding::Floor).expect("index > 0");
        risk.premium_sum_ppb += premium;
        risk.premium_samples = risk.premium_samples.saturating_add(1);
        risk.index = Some(index);
        risk.mark = Some(Price(mark));
        self.events.push(Event::MarkPrice {
            market,
            index,
            mark: Price(mark),
        });
        self.set_reference_internal(market, Price(mark));
        self.refresh_multi_market_accounts(market.0);
        Ok(())
    }

    /// Accounts with cross positions in this and another market have triggers that depend on
    /// this mark: recompute them.
    fn refresh_multi_market_accounts(&mut self, market: u16) {
        let mut i = 0;
        let n = self.accounts.all_positions().len();
        while i < n {
            let p = self.accounts.all_positions()[i];
            i += 1;
            if p.market != market || p.size == 0 || p.mode != MarginMode::Cross {
                continue;
            }
            let others = self
                .accounts
                .positions_of(p.account)
                .filter(|h| {
                    let o = self.accounts.get(*h);
                    o.market != market && o.size != 0 && o.mode == MarginMode::Cross
                })
                .count();
            if others > 0 {
                self.refresh_account(p.account);
            }
        }
    }

    pub(crate) fn funding_tick(&mut self, market: MarketId) {
        if let Err(r) = self.try_funding(market) {
            self.reject_event(AccountId(0), u64::from(market.0), r);
        }
    }

    fn try_funding(&mut self, market: MarketId) -> Result<(), Reject> {
        let m = self
            .markets
            .get_mut(usize::from(market.0))
            .and_then(Option::as_mut)
            .ok_or(Reject::UnknownMarket)?;
        let c = i128::from(m.spec.quote_per_tick_lot);
        let risk = m.risk.as_mut().ok_or(Reject::InvalidRiskParams)?;
        let index = risk.index.ok_or(Reject::NoMarkPrice)?;
        let mark = risk.mark.ok_or(Reject::NoMarkPrice)?;
        let p = &risk.params;
        let premium = if risk.premium_samples == 0 {
            0
        } else {
            div_round(
                risk.premium_sum_ppb,
                i128::from(risk.premium_samples),
                Rounding::Floor,
            )
            .expect("samples > 0")
        };
        let clamp = i128::from(p.funding_clamp_ppb);
        let cap = i128::from(p.funding_cap_ppb);
        let rate = (premium + (i128::from(p.funding_interest_ppb) - premium).clamp(-clamp, clamp))
            .clamp(-cap, cap);
        let rate = i64::try_from(rate).expect("clamped to the cap");
        let price = match p.funding_notional {
            FundingNotional::Index => index.0,
            FundingNotional::Mark => mark.0,
        };
        risk.premium_sum_ppb = 0;
        risk.premium_samples = 0;
        risk.funding_rate_ppb = rate;
        let (mut paid, mut received) = (0i128, 0i128);
        let n = self.accounts.all_positions().len();
        for h in 0..n {
            let pos = self.accounts.all_positions()[h];
            if pos.market != market.0 || pos.size == 0 || rate == 0 {
                continue;
            }
            // Longs pay a positive rate: the amount is size × price × rate.
            let owed = i128::from(pos.size) * i128::from(price) * c * i128::from(rate);
            let pays = owed > 0;
            let amount = div_round(
                owed.abs(),
                PPB,
                if pays {
                    Rounding::Ceil
                } else {
                    Rounding::Floor
                },
            )
            .expect("constant divisor");
            let amount = i64::try_from(amount).expect("invariant: funding ≤ notional × cap");
            let delta = if pays { -amount } else { amount };
            if pays {
                paid += i128::from(amount);
            } else {
                received += i128::from(amount);
            }
            let h32 = u32::try_from(h).expect("handles fit u32");
            let account = pos.account;
            let rec = self.accounts.get_mut(h32);
            rec.funding_pnl += delta;
            if rec.mode == MarginMode::Isolated {
                rec.isolated_margin += delta;
            } else {
                self.accounts.collateral[account as usize] += delta;
            }
        }
        // Payers round up and receivers down, so the difference is never negative: it is
        // the rounding dust, and it goes to the insurance fund.
        let dust = paid - received;
        assert!(dust >= 0, "invariant: funding payers cover receivers");
        let (paid, received, dust) = (
            i64::try_from(paid).expect("fits"),
            i64::try_from(received).expect("fits"),
            i64::try_from(dust).expect("fits"),
        );
        self.treasury.insurance_fund += dust;
        self.events.push(Event::Funding {
            market,
            rate_ppb: rate,
            paid: Quote(paid),
            received: Quote(received),
            dust: Quote(dust),
        });
        if dust > 0 {
            self.events.push(Event::InsuranceFund {
                account: AccountId(0),
                delta: Quote(dust),
                balance: Quote(self.treasury.insurance_fund),
                reason: InsuranceReason::FundingDust,
            });
        }
        let accounts: Vec<u32> = self
            .accounts
            .positions_in(market.0)
            .map(|(a, _)| a)
            .collect();
        for a in accounts {
            self.refresh_account(a);
        }
        Ok(())
    }
}
