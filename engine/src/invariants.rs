//! The O(N) invariant audit, run after every command in tests, fuzzing, replay and with the
//! `verify` feature.
//!
//! # Invariants
//! - Each book side is strictly sorted, best first, and the book is uncrossed at rest.
//! - Every active level is non-empty (a dormant one, kept in the index, is empty and never the
//!   best), its FIFO links are consistent both ways, its count and total
//!   equal its orders' count and open quantities, and every order on it agrees on market, side,
//!   price and level.
//! - Every resting order is in exactly one level and indexed once by id; nothing else is
//!   indexed.
//! - Each account's order list holds exactly its `orders_open` orders, all its own.
//! - The fill-or-kill dry run left its scratch clear.
//! - In every market positions sum to zero (long open interest equals short open interest)
//!   and the long sum equals the tracked open interest.
//! - Money is conserved to the quantum: Σ collateral + Σ isolated margin + Σ position quote
//!   balances + insurance fund + fee pool = deposits − withdrawals.
//! - A flat position holds no quote balance; each position's resting-order totals equal the
//!   open quantities of its resting orders; each account's position list holds its records.
//! - Every liquidation trigger on file is the one the position's state gives now (none are
//!   stale), each in the right heap, and heaps keep their order.

use crate::book::NIL;
use crate::command::Side;
use crate::state::{Engine, Market};

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

/// Checks every invariant; returns the first one broken.
///
/// # Errors
/// A description of the broken invariant.
pub fn check_all(engine: &Engine) -> Result<(), String> {
    let mut resting = 0usize;
    for m in engine.markets() {
        resting += check_book(engine, m)?;
        check_positions(engine, m)?;
    }
    ensure!(
        engine.fok_scratch_is_clear(),
        "fill-or-kill scratch not cleared after the dry run"
    );
    ensure!(
        resting == engine.orders().len(),
        "books hold {resting} orders but {} are indexed",
        engine.orders().len()
    );
    check_accounts(engine)?;
    check_money(engine)?;
    check_position_records(engine)?;
    check_cooldowns(engine)?;
    check_triggers(engine)
}

/// A position waiting out a liquidation cooldown is on the cooldown list, and its account is
/// flagged in liquidation (which is what keeps it out of the trigger heaps). The list may also
/// hold entries whose cooldown already ended (a position put back before its earlier entry
/// was processed): they are dropped when reached.
fn check_cooldowns(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let positions = accounts.all_positions();
    let mut listed = vec![false; positions.len()];
    for h in &engine.cooldowns {
        let Some(l) = listed.get_mut(*h as usize) else {
            return Err(format!("cooldown list entry {h} names no position"));
        };
        *l = true;
    }
    for (i, p) in positions.iter().enumerate() {
        if p.cooldown_until_ns == 0 {
            continue;
        }
        ensure!(listed[i], "position {i} cooling but not listed");
        ensure!(
            accounts.flags(p.account) & crate::account::ACCOUNT_IN_LIQUIDATION != 0,
            "position {i} cooling but account {} not flagged",
            p.account
        );
    }
    Ok(())
}

fn check_money(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let mut total: i128 = 0;
    for a in 0..accounts.len() {
        total += i128::from(accounts.collateral[a]);
    }
    for p in accounts.all_positions() {
        total += i128::from(p.isolated_margin) + i128::from(p.quote);
        ensure!(
            p.size != 0 || p.quote == 0,
            "flat position of {} holds quote {}",
            p.account,
            p.quote
        );
    }
    let t = engine.treasury();
    total += i128::from(t.insurance_fund) + i128::from(t.fee_pool);
    let net = i128::from(t.deposits) - i128::from(t.withdrawals);
    ensure!(
        total == net,
        "money not conserved: held {total} != deposits − withdrawals {net}"
    );
    ensure!(t.fee_pool >= 0, "fee pool negative: {}", t.fee_pool);
    ensure!(
        t.insurance_fund >= 0,
        "insurance fund negative: {}",
        t.insurance_fund
    );
    Ok(())
}

fn check_position_records(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let n = accounts.all_positions().len();
    let mut buy = vec![0i64; n];
    let mut sell = vec![0i64; n];
    for o in engine.orders().slots().iter().filter(|o| o.id != 0) {
        let h = accounts.find(o.account, o.market);
        ensure!(h.is_some(), "order {} has no position record", o.id);
        ensure!(
            h == Some(o.position),
            "order {} names position record {} instead of its own",
            o.id,
            o.position
        );
        let h = h.map_or(0, |h| h as usize);
        match o.side {
            Side::Buy => buy[h] += o.qty_open,
            Side::Sell => sell[h] += o.qty_open,
        }
    }
    let mut listed = 0usize;
    for a in 0..accounts.len() {
        let a32 = u32::try_from(a).map_err(|e| e.to_string())?;
        for h in accounts.positions_of(a32) {
            let p = accounts.get(h);
            ensure!(p.account == a32, "position {h} listed under account {a}");
            let hu = h as usize;
            ensure!(
                p.order_qty_buy == buy[hu] && p.order_qty_sell == sell[hu],
                "position {h} order totals {}/{} != resting {}/{}",
                p.order_qty_buy,
                p.order_qty_sell,
                buy[hu],
                sell[hu]
            );
            listed += 1;
        }
    }
    ensure!(listed == n, "position lists hold {listed} of {n} records");
    // Each market's list holds exactly that market's records (ADL ranks from it).
    let mut in_markets = 0usize;
    for m in 0..engine.limits().markets_max {
        for h in accounts.market_positions(m) {
            ensure!(
                accounts.get(h).market == m,
                "position {h} listed under market {m}"
            );
            in_markets += 1;
        }
    }
    ensure!(
        in_markets == n,
        "market lists hold {in_markets} of {n} records"
    );
    let mut multi = 0usize;
    for a in 0..accounts.len() {
        let a32 = u32::try_from(a).map_err(|e| e.to_string())?;
        let open = accounts
            .positions_of(a32)
            .filter(|h| {
                let p = accounts.get(*h);
                p.size != 0 && p.mode == crate::account::MarginMode::Cross
            })
            .count();
        ensure!(
            usize::from(accounts.cross_open(a32)) == open,
            "account {a} cross count is stale"
        );
        multi += usize::from(open >= 2);
    }
    let listed_multi = accounts.multi_position_accounts();
    ensure!(
        listed_multi.len() == multi,
        "multi-position list holds {} of {multi}",
        listed_multi.len()
    );
    for a in listed_multi {
        ensure!(
            accounts.cross_open(*a) >= 2,
            "account {a} listed as multi-position"
        );
    }
    Ok(())
}

fn check_triggers(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let meta = &accounts.heap_meta;
    // The liquidation pass stops at the last margined market by this count.
    let with_risk = engine.markets().filter(|m| m.risk.is_some()).count();
    ensure!(
        usize::from(engine.margined) == with_risk,
        "margined count {} but {with_risk} markets with risk",
        engine.margined
    );
    for m in engine.markets() {
        let Some(risk) = m.risk.as_ref() else {
            continue;
        };
        risk.longs.check(meta)?;
        risk.shorts.check(meta)?;
        for h in risk.longs.handles().chain(risk.shorts.handles()) {
            let p = accounts.get(h);
            ensure!(
                p.market == m.spec.id.0,
                "position {h} filed in another market's heap"
            );
        }
    }
    for (i, p) in accounts.all_positions().iter().enumerate() {
        let h = u32::try_from(i).map_err(|e| e.to_string())?;
        let risk = engine
            .market(crate::MarketId(p.market))
            .and_then(|m| m.risk.as_ref());
        let (filed_long, filed_short) = risk.map_or((false, false), |r| {
            (r.longs.contains(meta, h), r.shorts.contains(meta, h))
        });
        // A heap place names the position's own entry or nothing: a stale one would send the
        // next refile of the position to another entry.
        ensure!(
            meta[i].place == NIL || filed_long || filed_short,
            "position {h} keeps heap place {} but is in no heap",
            meta[i].place
        );
        if risk.is_none() {
            continue;
        }
        let cooling = p.cooldown_until_ns > 0;
        let want = if cooling {
            None
        } else {
            engine.trigger_price(h)
        };
        match want {
            None => ensure!(
                !filed_long && !filed_short,
                "position {h} filed without a trigger"
            ),
            Some(t) => {
                ensure!(
                    (p.size > 0 && filed_long) || (p.size < 0 && filed_short),
                    "position {h} (size {}) with trigger {t} is not filed",
                    p.size
                );
                ensure!(
                    meta[i].price == t,
                    "position {h} trigger {} is stale (now {t})",
                    meta[i].price
                );
            }
        }
    }
    Ok(())
}

fn check_book(engine: &Engine, m: &Market) -> Result<usize, String> {
    let id = m.spec.id.0;
    let mut total = 0usize;
    for side in [Side::Buy, Side::Sell] {
        // The whole side index, dormant levels included: strictly sorted best first, each
        // level indexed by its price and on its side; dormant ones empty and never the best;
        // active ones checked order by order; the active count right.
        let mut previous: Option<i64> = None;
        let mut active = 0usize;
        for (i, level_idx) in m.book.indexed_slots(side).enumerate() {
            let level = m.book.level(level_idx);
            if let Some(p) = previous {
                let better = match side {
                    Side::Buy => p > level.price,
                    Side::Sell => p < level.price,
                };
                ensure!(
                    better,
                    "market {id} {side:?} levels out of order at {}",
                    level.price
                );
            }
            previous = Some(level.price);
            ensure!(
                level.side == side,
                "level {} on the wrong side",
                level.price
            );
            ensure!(
                m.book.find_level(side, level.price) == Some(level_idx),
                "level {} not indexed by price",
                level.price
            );
            if level.count == 0 {
                ensure!(i > 0, "market {id} {side:?}: the best level is dormant");
                ensure!(
                    level.qty_total == 0 && level.head == NIL && level.tail == NIL,
                    "dormant level {} holds orders",
                    level.price
                );
            } else {
                active += 1;
                total += check_level(engine, m, level_idx)?;
            }
        }
        ensure!(
            active == m.book.depth(side),
            "market {id} {side:?} active count {} != {active}",
            m.book.depth(side)
        );
    }
    if let (Some(bid), Some(ask)) = (m.book.best_price(Side::Buy), m.book.best_price(Side::Sell)) {
        ensure!(
            bid < ask,
            "market {id} crossed at rest: bid {bid} >= ask {ask}"
        );
    }
    Ok(total)
}

fn check_level(engine: &Engine, m: &Market, level_idx: u32) -> Result<usize, String> {
    let level = m.book.level(level_idx);
    ensure!(level.count > 0, "empty level {} left in book", level.price);
    let mut count = 0u32;
    let mut qty = 0i64;
    let mut prev = NIL;
    let mut slot = level.head;
    while slot != NIL {
        let o = engine.orders().get(slot);
        ensure!(
            o.id != 0,
            "free slot {slot} linked into level {}",
            level.price
        );
        ensure!(o.prev == prev, "order {} has a broken prev link", o.id);
        ensure!(
            o.level == level_idx,
            "order {} points at another level",
            o.id
        );
        ensure!(
            o.price == level.price,
            "order {} price differs from its level",
            o.id
        );
        ensure!(
            o.side == level.side,
            "order {} side differs from its level",
            o.id
        );
        ensure!(
            o.market == m.spec.id.0,
            "order {} in another market's book",
            o.id
        );
        ensure!(o.qty_open > 0, "order {} rests with no quantity", o.id);
        ensure!(
            engine.orders().find(o.id) == Some(slot),
            "order {} not indexed once",
            o.id
        );
        count += 1;
        ensure!(
            count <= engine.orders().slots().len() as u32,
            "cycle in level {}",
            level.price
        );
        qty += o.qty_open;
        prev = slot;
        slot = o.next;
    }
    ensure!(
        level.tail == prev,
        "level {} tail is not its last order",
        level.price
    );
    ensure!(
        level.count == count,
        "level {} count {} != {count}",
        level.price,
        level.count
    );
    ensure!(
        level.qty_total == qty,
        "level {} total {} != {qty}",
        level.price,
        level.qty_total
    );
    Ok(count as usize)
}

fn check_positions(engine: &Engine, m: &Market) -> Result<(), String> {
    let mut long = 0i128;
    let mut short = 0i128;
    for (_, p) in engine.accounts().positions_in(m.spec.id.0) {
        if p > 0 {
            long += i128::from(p);
        } else {
            short -= i128::from(p);
        }
    }
    let id = m.spec.id.0;
    ensure!(
        long == short,
        "market {id}: long open interest {long} != short {short}"
    );
    ensure!(
        long == i128::from(m.open_interest),
        "market {id}: open interest {} != long sum {long}",
        m.open_interest
    );
    Ok(())
}

fn check_accounts(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let mut listed = 0usize;
    for a in 0..accounts.len() {
        let mut count = 0u32;
        let mut prev = NIL;
        let mut slot = accounts.order_head[a];
        while slot != NIL {
            let o = engine.orders().get(slot);
            ensure!(
                o.account as usize == a,
                "order {} listed under account {a}",
                o.id
            );
            ensure!(
                o.account_prev == prev,
                "order {} has a broken account link",
                o.id
            );
            ensure!(o.level != NIL, "order {} listed but not on a book", o.id);
            count += 1;
            ensure!(
                count <= accounts.orders_open[a],
                "account {a} lists too many orders"
            );
            prev = slot;
            slot = o.account_next;
        }
        ensure!(
            count == accounts.orders_open[a],
            "account {a} lists {count} orders"
        );
        listed += count as usize;
    }
    ensure!(
        listed == engine.orders().len(),
        "account lists hold {listed} orders"
    );
    Ok(())
}
