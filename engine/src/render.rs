//! Plain-text rendering of events and books, for scenario transcripts, golden files and tools.
//!
//! The format is part of the golden files: change it only together with them
//! (`UPDATE_GOLDEN=1 cargo test`).

use crate::command::Side;
use crate::event::Event;
use crate::market::MarketId;
use crate::state::Engine;
use core::fmt::Write as _;

/// Names accounts in rendered output; falls back to `#id`.
pub trait AccountNames {
    /// The display name of an account.
    fn name(&self, account: u32) -> String;
}

/// Renders accounts as `acct<N>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NumericNames;

impl AccountNames for NumericNames {
    fn name(&self, account: u32) -> String {
        format!("acct{account}")
    }
}

impl AccountNames for [String] {
    fn name(&self, account: u32) -> String {
        self.get(account as usize)
            .cloned()
            .unwrap_or_else(|| format!("acct{account}"))
    }
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn symbol(engine: &Engine, market: MarketId) -> String {
    engine.market(market).map_or_else(
        || format!("market{}", market.0),
        |m| m.spec.symbol_str().to_owned(),
    )
}

/// One event as one line.
#[must_use]
pub fn event_line(engine: &Engine, names: &(impl AccountNames + ?Sized), event: &Event) -> String {
    match *event {
        Event::MarketAdded { market } => format!("market-added {}", symbol(engine, market)),
        Event::ReferencePriceSet { market, price } => {
            format!("reference {} {}", symbol(engine, market), price)
        }
        Event::Rejected { account, client_ref, reason } => {
            format!("rejected {} ref={} reason={}", names.name(account.0), client_ref, reason)
        }
        Event::Accepted { order_id, account, market, client_ref: _, side, price, qty } => format!(
            "accepted #{} {} {} {} {} @ {}",
            order_id.0,
            names.name(account.0),
            symbol(engine, market),
            side_str(side),
            qty,
            price
        ),
        Event::Trade { market, maker_order, taker_order, maker_account, taker_account, taker_side, price, qty, maker_open } => format!(
            "trade {} {} @ {} taker {} {} {} maker #{} {} (maker open {})",
            symbol(engine, market),
            qty,
            price,
            order_ref(taker_order.0),
            names.name(taker_account.0),
            side_str(taker_side),
            maker_order.0,
            names.name(maker_account.0),
            maker_open
        ),
        Event::Rested { order_id, account, market, side, price, qty } => format!(
            "rested #{} {} {} {} {} @ {}",
            order_id.0,
            names.name(account.0),
            symbol(engine, market),
            side_str(side),
            qty,
            price
        ),
        Event::Cancelled { order_id, account, market, qty, reason } => format!(
            "cancelled #{} {} {} qty={} reason={}",
            order_id.0,
            names.name(account.0),
            symbol(engine, market),
            qty,
            reason.name()
        ),
        Event::Reduced { order_id, account, market, qty } => format!(
            "reduced #{} {} {} qty={}",
            order_id.0,
            names.name(account.0),
            symbol(engine, market),
            qty
        ),
        Event::Replaced { order_id, account, market, price, qty } => format!(
            "replaced #{} {} {} {} @ {}",
            order_id.0,
            names.name(account.0),
            symbol(engine, market),
            qty,
            price
        ),
        Event::Deposited { account, amount, collateral } => {
            format!("deposited {} {} collateral={}", names.name(account.0), amount, collateral)
        }
        Event::Withdrawn { account, amount, collateral } => {
            format!("withdrawn {} {} collateral={}", names.name(account.0), amount, collateral)
        }
        Event::LeverageSet { account, market, leverage } => format!(
            "leverage {} {} {}x",
            names.name(account.0),
            symbol(engine, market),
            leverage
        ),
        Event::MarginModeSet { account, market, mode } => format!(
            "margin-mode {} {} {}",
            names.name(account.0),
            symbol(engine, market),
            if mode == crate::account::MarginMode::Cross { "cross" } else { "isolated" }
        ),
        Event::IsolatedMarginSet { account, market, isolated_margin, collateral } => format!(
            "isolated-margin {} {} {} collateral={}",
            names.name(account.0),
            symbol(engine, market),
            isolated_margin,
            collateral
        ),
        Event::RiskParamsSet { market } => format!("risk-params {}", symbol(engine, market)),
        Event::BackstopSet { account } => match account {
            Some(a) => format!("backstop {}", names.name(a.0)),
            None => "backstop none".to_owned(),
        },
        Event::MarkPrice { market, index, mark } => {
            format!("mark {} index={} mark={}", symbol(engine, market), index, mark)
        }
        Event::Funding { market, rate_ppb, paid, received, dust } => format!(
            "funding {} rate_ppb={} paid={} received={} dust={}",
            symbol(engine, market),
            rate_ppb,
            paid,
            received,
            dust
        ),
        Event::InsuranceFund { account, delta, balance, reason } => format!(
            "insurance {} delta={} balance={} ({})",
            match reason {
                crate::event::InsuranceReason::Deposit
                | crate::event::InsuranceReason::FundingDust => "-".to_owned(),
                _ => names.name(account.0),
            },
            delta,
            balance,
            match reason {
                crate::event::InsuranceReason::Deposit => "deposit",
                crate::event::InsuranceReason::LiquidationFee => "liquidation fee",
                crate::event::InsuranceReason::Shortfall => "shortfall",
                crate::event::InsuranceReason::FundingDust => "funding dust",
                crate::event::InsuranceReason::AdlDust => "adl rounding dust",
            }
        ),
        Event::LiquidationStarted { account, market, equity, maintenance, mark } => format!(
            "liquidation {} {} equity={} maintenance={} mark={}",
            names.name(account.0),
            symbol(engine, market),
            equity,
            maintenance,
            mark
        ),
        Event::Backstop { account, vault, market, size, price } => format!(
            "backstop {} {} takes {} from {} @ {}",
            symbol(engine, market),
            names.name(vault.0),
            size,
            names.name(account.0),
            price
        ),
        Event::Deleveraged { account, counterparty, market, qty, price, rank } => format!(
            "deleveraged {} {} {} against {} @ {} rank={}",
            symbol(engine, market),
            names.name(counterparty.0),
            qty,
            names.name(account.0),
            price,
            rank
        ),
        Event::LiquidationEnded { account, market, stage, outcome, closed, equity, haircut, haircut_min } => format!(
            "liquidation-end {} {} stage={} outcome={} closed={} equity={} haircut={} haircut_min={}",
            names.name(account.0),
            symbol(engine, market),
            stage_name(stage),
            outcome_names(outcome),
            closed,
            equity,
            haircut,
            haircut_min
        ),
        Event::BookLevel { market, side, price, qty, orders } => format!(
            "level {} {} {} qty={} orders={}",
            symbol(engine, market),
            if side == Side::Buy { "bid" } else { "ask" },
            price,
            qty,
            orders
        ),
    }
}

/// `#id` for client orders, `liq#n` for the engine's liquidation orders.
fn order_ref(id: u64) -> String {
    if id & crate::state::LIQUIDATION_ORDER_BIT != 0 {
        format!("liq#{}", id & !crate::state::LIQUIDATION_ORDER_BIT)
    } else {
        format!("#{id}")
    }
}

fn stage_name(stage: u8) -> &'static str {
    match stage {
        crate::event::stage::CANCEL => "cancel",
        crate::event::stage::BOOK => "book",
        crate::event::stage::BACKSTOP => "backstop",
        crate::event::stage::INSURANCE => "insurance",
        crate::event::stage::ADL => "adl",
        _ => "?",
    }
}

fn outcome_names(bits: u8) -> String {
    use crate::event::outcome::{
        ADL_EXHAUSTED, BAD_DEBT, CLOSED, COOLDOWN, HEALTHY, INSURANCE_EXHAUSTED, NO_LIQUIDITY,
    };
    let names = [
        (HEALTHY, "healthy"),
        (CLOSED, "closed"),
        (BAD_DEBT, "bad-debt"),
        (INSURANCE_EXHAUSTED, "insurance-exhausted"),
        (ADL_EXHAUSTED, "adl-exhausted"),
        (COOLDOWN, "cooldown"),
        (NO_LIQUIDITY, "no-liquidity"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join("+")
    }
}

/// The book of a market as an ASCII ladder, asks above bids, best prices in the middle, each
/// level with its orders in time priority: `qty(owner#id)`.
#[must_use]
pub fn book_ascii(
    engine: &Engine,
    names: &(impl AccountNames + ?Sized),
    market: MarketId,
    depth: usize,
) -> String {
    let Some(m) = engine.market(market) else {
        return format!("(no market {})\n", market.0);
    };
    let mut out = String::new();
    let _ = writeln!(out, "book {}", m.spec.symbol_str());
    let level_line = |out: &mut String, tag: &str, slot: u32| {
        let level = m.book.level(slot);
        let _ = write!(
            out,
            "  {tag} {:>10} | {:>8} |",
            level.price, level.qty_total
        );
        let mut s = level.head;
        while s != crate::book::NIL {
            let o = engine.orders().get(s);
            let _ = write!(out, " {}({}#{})", o.qty_open, names.name(o.account), o.id);
            s = o.next;
        }
        out.push('\n');
    };
    let asks: Vec<u32> = m.book.level_slots(Side::Sell).take(depth).collect();
    for slot in asks.iter().rev() {
        level_line(&mut out, "ask", *slot);
    }
    if asks.is_empty() {
        out.push_str("  ask (empty)\n");
    }
    out.push_str("  ---\n");
    let mut any_bid = false;
    for slot in m.book.level_slots(Side::Buy).take(depth) {
        any_bid = true;
        level_line(&mut out, "bid", slot);
    }
    if !any_bid {
        out.push_str("  bid (empty)\n");
    }
    out
}

/// One account's money and positions, as lines: collateral, then each position with its size,
/// quote balance, value, maintenance and initial margin at the mark.
#[must_use]
pub fn account_summary(
    engine: &Engine,
    names: &(impl AccountNames + ?Sized),
    account: u32,
) -> String {
    let mut out = String::new();
    let accounts = engine.accounts();
    if account as usize >= accounts.len() {
        return format!("account {} (unknown)\n", names.name(account));
    }
    let cross = engine.health(crate::AccountId(account));
    let _ = writeln!(
        out,
        "account {} collateral={} cross: equity={} maintenance={} initial={}",
        names.name(account),
        accounts.collateral(account),
        cross.equity,
        cross.maintenance,
        cross.initial
    );
    let mut handles: Vec<u32> = accounts.positions_of(account).collect();
    handles.sort_by_key(|h| accounts.get(*h).market);
    for h in handles {
        let p = accounts.get(h);
        let mode = if p.mode == crate::account::MarginMode::Cross {
            "cross"
        } else {
            "isolated"
        };
        let lights = engine
            .adl_indicator(crate::AccountId(account), MarketId(p.market))
            .map_or_else(|| "-".to_owned(), |l| l.to_string());
        let _ = writeln!(
            out,
            "  {} {} size={} entry={} quote={} isolated_margin={} leverage={}x realized={} funding={} adl_lights={}",
            symbol(engine, MarketId(p.market)),
            mode,
            p.size,
            engine
                .market(MarketId(p.market))
                .and_then(|m| p.entry_price(m.spec.quote_per_tick_lot))
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            p.quote,
            p.isolated_margin,
            p.leverage,
            p.realized_pnl,
            p.funding_pnl,
            lights
        );
    }
    out
}
