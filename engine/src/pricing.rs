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
use cascade_risk::funding::{funding_payment, funding_rate, FundingRate};
use cascade_risk::mark::{clamp_band, mark_price, MarkInputs};
use cascade_risk::num::{div_round, Rounding};
use cascade_risk::{PositionSize, Ppm, Price, Quote};

const PPB: i128 = 1_000_000_000;

/// Average fill price (ticks × 1e9) — kept here rather than the risk crate's `impact_price`
/// because it walks the book in place (no copy of the levels) and keeps 1e-9 tick precision; of `notional` quantums taken from one side of the book,
/// or `None` when the side is too thin.
fn impact_price_e9(m: &Market, side: Side, notional: i64) -> Option<i128> {
    let c = i128::from(m.spec.quote_per_tick_lot);
    let want = i128::from(notional);
    let (mut lots, mut filled) = (0i128, 0i128);
    for level in m.book.levels(side) {
        let per_lot = i128::from(level.price) * c;
        let whole = i128::from(level.qty_total) * per_lot;
        // Whole levels need no division; only the level that completes the notional does.
        let take = if filled + whole < want {
            i128::from(level.qty_total)
        } else {
            div_round(want - filled, per_lot, Rounding::Ceil)?
        };
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
        // Smoothed basis and the median-of-three mark: the risk crate's functions.
        if let (Some(b), Some(a)) = (bid, ask) {
            let alpha = Ppm(i32::try_from(risk.params.mark_basis_ppm.max(1)).unwrap_or(1_000_000));
            if let Ok(next) = risk.basis.updated(index, Price(b), Price(a), alpha) {
                risk.basis = next;
            }
        }
        let previous = risk.mark;
        let clamp = (risk.params.mark_clamp_ppm > 0)
            .then(|| Ppm(i32::try_from(risk.params.mark_clamp_ppm).unwrap_or(999_999)));
        let mark = match risk.params.mark_source {
            MarkSource::Median => {
                let inputs = MarkInputs {
                    index,
                    basis_subticks: risk.basis.basis_subticks(),
                    best_bid: bid.map(Price),
                    best_ask: ask.map(Price),
                    last_trade: last.map(Price),
                    external_mark: external,
                };
                mark_price(&inputs, previous, clamp).map_or(index.0, |p| p.0)
            }
            MarkSource::Index => match (previous, clamp) {
                (Some(prev), Some(k)) => {
                    clamp_band(prev, k).map_or(index.0, |(lo, hi)| index.0.clamp(lo.0, hi.0))
                }
                _ => index.0,
            },
        }
        .clamp(1, price_max);
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
    /// this mark: recompute them. O(multi-market accounts), not O(accounts). The list's order
    /// does not matter: recomputing a trigger reads state and files it, independently per
    /// account.
    fn refresh_multi_market_accounts(&mut self, market: u16) {
        let mut i = 0;
        while i < self.accounts.multi_position_accounts().len() {
            let account = self.accounts.multi_position_accounts()[i];
            i += 1;
            let here = self.accounts.find(account, market).is_some_and(|h| {
                let p = self.accounts.get(h);
                p.size != 0 && p.mode == MarginMode::Cross
            });
            if here {
                self.refresh_account(account);
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
        let m_c = m.spec.quote_per_tick_lot;
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
        let premium = FundingRate(i64::try_from(premium).unwrap_or(0));
        let interest = FundingRate(p.funding_interest_ppb);
        let rate = funding_rate(premium, interest, FundingRate(p.funding_clamp_ppb))
            .map_or(0, |r| r.get())
            .clamp(-p.funding_cap_ppb, p.funding_cap_ppb);
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
            // Longs pay a positive rate; each balance change rounds down, so payers pay up
            // and receivers get down.
            let delta =
                funding_payment(PositionSize(pos.size), Price(price), m_c, FundingRate(rate))
                    .expect("invariant: funding ≤ notional × cap fits")
                    .0;
            if delta < 0 {
                paid -= i128::from(delta);
            } else {
                received += i128::from(delta);
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
