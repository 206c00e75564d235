//! Restoring an engine read back from a snapshot.
//!
//! Deserializing gives every `Vec` exactly its length as capacity, and skips the per-command
//! scratch buffers. The engine, though, is sized once by its [`Limits`] and must never
//! allocate on the hot path; and two places read a capacity as a bound (`cooldowns` and
//! `touched`), so a capacity is part of behaviour there. [`Engine::restore_capacities`] gives
//! every buffer back the capacity [`Engine::new`] gave it, so a restored engine behaves, and
//! allocates, exactly as the engine it was taken from.
//!
//! # Invariants
//! Before any capacity is given back, a deserialized engine is checked for shape (lengths
//! against the limits) and for links: every stored index (order slots, levels, position
//! records, heap handles, list heads) is in range, every position list is acyclic and holds
//! each record once, the id and price indexes hold exactly the live orders and indexed
//! levels, and every market's spec and risk parameters pass the checks of the commands that
//! set them. Past these, the invariant audit (which the snapshot loader runs next, and which
//! bounds the order-list walks and checks the heap places) follows every link without an
//! index out of range, so bytes forged past a snapshot's checksums are an error, not a panic;
//! the `snapshot` fuzz target and `gateway/tests/forged_snapshot.rs` hold it.

use crate::book::NIL;
use crate::limits::Limits;
use crate::state::Engine;

/// Capacity of each market's liquidation trigger heaps: one per position up to a cap, past
/// which a heap grows (a margined market with that many open positions is rare).
#[must_use]
pub(crate) fn trigger_heap_capacity(limits: &Limits) -> usize {
    // Every position could sit in one heap: sized to that, a heap never grows inside `apply`.
    limits.positions_max as usize
}

/// Makes `v`'s capacity exactly `capacity` (or its length, if longer), keeping its content.
/// Exact, not "at least", because `Vec::capacity` is read as a limit in places.
pub(crate) fn reserve_exact_to<T>(v: &mut Vec<T>, capacity: usize) {
    let mut fresh = Vec::with_capacity(capacity.max(v.len()));
    fresh.append(v);
    *v = fresh;
}

impl Engine {
    /// Gives a deserialized engine back the preallocated capacities its limits imply, and its
    /// scratch buffers, after checking that its arrays have the shape the limits give them.
    /// An engine built by [`Engine::new`] passes unchanged.
    ///
    /// # Errors
    /// A description of the first array whose length does not match the limits.
    pub fn restore_capacities(&mut self) -> Result<(), String> {
        let limits = *self.limits();
        if !limits.is_valid() {
            return Err(format!("invalid limits {limits:?}"));
        }
        if self.markets.len() != usize::from(limits.markets_max) {
            return Err(format!(
                "{} markets for markets_max {}",
                self.markets.len(),
                limits.markets_max
            ));
        }
        let heap_capacity = trigger_heap_capacity(&limits);
        for (id, m) in self.markets.iter_mut().enumerate() {
            let Some(m) = m.as_mut() else { continue };
            if usize::from(m.spec.id.0) != id {
                return Err(format!("market {} stored at {id}", m.spec.id.0));
            }
            m.book.restore_capacities(limits.levels_per_side_max)?;
            if let Some(r) = m.risk.as_mut() {
                r.longs.restore_capacity(heap_capacity);
                r.shorts.restore_capacity(heap_capacity);
            }
        }
        self.orders.restore_capacities(limits.orders_max)?;
        self.accounts.restore_capacities(&limits)?;
        self.check_links()?;
        let touched_max = limits.fills_per_taker_max as usize + 8;
        if self.touched.len() > touched_max || self.cooldowns.len() > limits.cooldowns_max as usize
        {
            return Err("touched or cooldown list past its limit".into());
        }
        reserve_exact_to(&mut self.touched, touched_max);
        reserve_exact_to(&mut self.cooldowns, limits.cooldowns_max as usize);
        reserve_exact_to(&mut self.events, limits.events_per_command_max());
        crate::state::touch_events(&mut self.events);
        self.fok_delta = vec![0; limits.accounts_max as usize];
        self.adl_queue = Vec::with_capacity(limits.positions_max as usize);
        self.adl_segments = Vec::with_capacity(2 * usize::from(limits.markets_max));
        self.set_aside = Vec::with_capacity(limits.liquidations_per_command_max as usize);
        Ok(())
    }

    /// A market's spec and risk parameters pass the checks of the commands that set them
    /// (`AddMarket`, `SetRiskParams`), and its prices lie within the spec.
    fn check_market(m: &crate::state::Market, limits: &Limits) -> Result<(), String> {
        let id = m.spec.id.0;
        m.spec
            .validate(limits.orders_max)
            .map_err(|r| format!("market {id} spec: {r:?}"))?;
        let price_max = m.spec.price_max.0;
        let priced = |p: Option<cascade_risk::Price>| p.is_none_or(|p| p.0 > 0 && p.0 <= price_max);
        if !(1..=price_max).contains(&m.band_low)
            || !(m.band_low..=price_max).contains(&m.band_high)
            || !priced(m.reference)
            || !priced(m.last_trade)
            || m.open_interest < 0
        {
            return Err(format!("market {id} prices or open interest out of range"));
        }
        if let Some(r) = m.risk.as_ref() {
            if r.params.validate().is_err()
                || r.params.position_lots_max > m.spec.qty_max.0
                || !priced(r.index)
                || !priced(r.mark)
            {
                return Err(format!("market {id} risk parameters or prices invalid"));
            }
        }
        Ok(())
    }

    /// The links between the parts, each part's own checked already: every live order's
    /// market, account, position record and level exist; the accounts' order lists start at
    /// slab slots; the trigger heaps, cooldowns, touched list and backstop name positions and
    /// accounts that exist. Past this, the audit can follow every link without an index out
    /// of range, so a forged snapshot is an error, not a panic.
    fn check_links(&self) -> Result<(), String> {
        let limits = *self.limits();
        let slots = self.orders.slots();
        let positions = self.accounts.positions.len();
        for o in slots.iter().filter(|o| o.id != 0) {
            let market = self
                .markets
                .get(usize::from(o.market))
                .and_then(Option::as_ref);
            let Some(market) = market.filter(|_| o.account < limits.accounts_max) else {
                return Err(format!("order {} of an unknown market or account", o.id));
            };
            // Ids are the sequence numbers of the orders' commands: one above the last would
            // collide with the next order's.
            if o.id > self.last_seq() {
                return Err(format!("order {} from after the last command", o.id));
            }
            if o.position as usize >= positions || !market.book.has_level_slot(o.level) {
                return Err(format!("order {} without a position record or level", o.id));
            }
        }
        let capacity = limits.orders_max as usize;
        for m in self.markets.iter().flatten() {
            Self::check_market(m, &limits)?;
            m.book.check_level_ends(capacity)?;
            if let Some(r) = m.risk.as_ref() {
                if r.longs
                    .handles()
                    .chain(r.shorts.handles())
                    .any(|h| h as usize >= positions)
                {
                    return Err(format!(
                        "market {} heap names a missing position",
                        m.spec.id.0
                    ));
                }
            }
        }
        for p in &self.accounts.positions {
            let Some(m) = self
                .markets
                .get(usize::from(p.market))
                .and_then(Option::as_ref)
            else {
                return Err(format!("a position of account {} in no market", p.account));
            };
            // Its reach (size with every resting order filled) within the bound orders are
            // checked against on a matching-only market, and on a margined one small enough
            // that its notional at any price the spec allows fits, as the margin math assumes.
            let reach = p
                .size
                .unsigned_abs()
                .checked_add(p.order_qty_buy.max(p.order_qty_sell).unsigned_abs())
                .and_then(|r| i64::try_from(r).ok())
                .filter(|r| *r <= i64::MAX / 4);
            let fits = reach.is_some_and(|r| {
                m.risk.is_none()
                    || cascade_risk::num::mul3_i64(r, m.spec.price_max.0, m.spec.quote_per_tick_lot)
                        .is_some()
            });
            if p.order_qty_buy < 0 || p.order_qty_sell < 0 || !fits {
                return Err(format!(
                    "position of account {} in market {} past its bounds",
                    p.account, p.market
                ));
            }
        }
        if self
            .accounts
            .order_head
            .iter()
            .any(|h| *h != NIL && *h as usize >= capacity)
        {
            return Err("an account's order list starts past the slab".into());
        }
        if self.cooldowns.iter().any(|h| *h as usize >= positions)
            || self.touched.iter().any(|a| *a >= limits.accounts_max)
            || self.backstop.is_some_and(|a| a >= limits.accounts_max)
        {
            return Err("cooldown, touched or backstop names a missing record".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Sequenced};
    use crate::market::{MarketId, MarketSpec};
    use crate::risk_params::RiskParams;

    fn capacities(e: &Engine) -> Vec<usize> {
        let mut out = vec![
            e.touched.capacity(),
            e.cooldowns.capacity(),
            e.events.capacity(),
            e.fok_delta.len(),
            e.accounts.positions.capacity(),
            e.accounts.heap_meta.capacity(),
        ];
        for m in e.markets.iter().flatten() {
            if let Some(r) = m.risk.as_ref() {
                out.push(r.longs.capacity());
                out.push(r.shorts.capacity());
            }
        }
        out
    }

    #[test]
    fn a_clone_restored_has_the_capacities_of_a_new_engine() {
        let mut e = Engine::new(Limits::SMALL);
        let cmds = [
            Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
            Command::SetRiskParams {
                market: MarketId(0),
                params: Box::new(RiskParams::simple(10_000, 50)),
            },
        ];
        for (i, command) in cmds.into_iter().enumerate() {
            let seq = u64::try_from(i).expect("small") + 1;
            e.apply(&Sequenced {
                seq,
                ts_ns: seq,
                command,
            });
        }
        let want = capacities(&e);
        // A clone, like a deserialized engine, keeps lengths but not capacities.
        let mut restored = e.clone();
        restored.events = Vec::new();
        restored.fok_delta = Vec::new();
        restored.restore_capacities().expect("shape matches");
        assert_eq!(capacities(&restored), want);
        assert_eq!(restored.state_hash(), e.state_hash());
        assert_eq!(restored.audit(), Ok(()));
    }

    #[test]
    fn a_wrong_shape_is_an_error() {
        let mut e = Engine::new(Limits::SMALL);
        e.accounts.collateral.pop();
        assert!(e.restore_capacities().is_err());
        let mut e = Engine::new(Limits::SMALL);
        e.markets.pop();
        assert!(e.restore_capacities().is_err());
    }

    /// Found reading the loader: a heap place on a position in no heap passed every check,
    /// and the position's next refile would have asserted on the entry the place names. The
    /// audit now refuses it.
    #[test]
    fn a_stale_heap_place_fails_the_audit() {
        let mut e = Engine::new(Limits::SMALL);
        let cmds = [
            Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
            Command::SetRiskParams {
                market: MarketId(0),
                params: Box::new(RiskParams::simple(10_000, 50)),
            },
            Command::SetIndexPrice {
                market: MarketId(0),
                index: cascade_risk::Price(100),
                external_mark: None,
            },
            Command::Deposit {
                account: crate::AccountId(1),
                amount: cascade_risk::Quote(1_000),
            },
            Command::Place(crate::NewOrder::limit(1, 0, crate::Side::Buy, 100, 1)),
        ];
        for (i, command) in cmds.into_iter().enumerate() {
            let seq = u64::try_from(i).expect("small") + 1;
            let events = e.apply(&Sequenced {
                seq,
                ts_ns: seq,
                command,
            });
            assert!(
                !events
                    .iter()
                    .any(|ev| matches!(ev, crate::Event::Rejected { .. })),
                "{events:?}"
            );
        }
        assert_eq!(e.audit(), Ok(()));
        // The resting buyer's position record is flat: in no heap.
        let h = e.accounts.find(1, 0).expect("a position record") as usize;
        e.accounts.heap_meta[h].place = 0;
        let err = e.audit().expect_err("a stale place");
        assert!(err.contains("heap place"), "{err}");
    }
}
