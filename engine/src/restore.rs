//! Restoring an engine read back from a snapshot.
//!
//! Deserializing gives every `Vec` exactly its length as capacity, and skips the per-command
//! scratch buffers. The engine, though, is sized once by its [`Limits`] and must never
//! allocate on the hot path; and two places read a capacity as a bound (`cooldowns` and
//! `touched`), so a capacity is part of behaviour there. [`Engine::restore_capacities`] gives
//! every buffer back the capacity [`Engine::new`] gave it, so a restored engine behaves, and
//! allocates, exactly as the engine it was taken from.
//!
//! # Known limitations
//! The checks here are of shape (lengths against the limits), not of every stored index: a
//! snapshot whose content was forged past its checksum can still trip an assertion in the
//! audit. Snapshot files are written by this code and protected by a CRC.

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
}
