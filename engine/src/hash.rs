//! `state_hash()`: one 64-bit digest of all engine state.
//!
//! # Ordering
//! State is visited in a canonical order (markets by id, book sides bid then ask, levels best
//! first, orders in time priority, accounts by id), never in hash-table order, so two engines
//! that applied the same commands hash equal whatever their memory layout.
//!
//! The mixing function is written here, not taken from `std`, because `std`'s hasher is allowed
//! to change between Rust releases and the hash must be stable across builds and machines.

use crate::book::NIL;
use crate::command::Side;
use crate::state::Engine;

/// A small, stable 64-bit hasher (multiply–rotate mixing, as in FxHash, with a final avalanche).
#[derive(Clone, Copy, Debug)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        Self(0x243F_6A88_85A3_08D3)
    }
}

impl StableHasher {
    /// Mixes in one word.
    #[inline]
    pub fn word(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }

    /// Mixes in a signed word.
    #[inline]
    pub fn signed(&mut self, x: i64) {
        self.word(u64::from_ne_bytes(x.to_ne_bytes()));
    }

    /// Mixes in bytes (length first, then 8 at a time).
    pub fn bytes(&mut self, b: &[u8]) {
        self.word(b.len() as u64);
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// Returns the digest.
    #[must_use]
    pub fn finish(self) -> u64 {
        // SplitMix64 finaliser: every input bit affects every output bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub(crate) fn state_hash(engine: &Engine) -> u64 {
    let mut h = StableHasher::default();
    h.word(engine.last_seq());
    h.word(engine.last_ts_ns());
    for m in engine.markets() {
        let spec = &m.spec;
        h.word(u64::from(spec.id.0));
        h.word(u64::from_le_bytes(spec.symbol));
        h.signed(spec.quote_per_tick_lot);
        h.signed(spec.notional_min.0);
        h.signed(spec.price_max.0);
        h.signed(spec.qty_max.0);
        h.word(u64::from(spec.band_ppm));
        h.word(u64::from(spec.market_protection_ppm));
        h.signed(m.reference.map_or(0, |p| p.0));
        h.signed(m.band_low);
        h.signed(m.band_high);
        h.signed(m.open_interest);
        h.signed(m.last_trade.map_or(0, |p| p.0));
        for side in [Side::Buy, Side::Sell] {
            h.word(0xB00C);
            for level in m.book.levels(side) {
                h.signed(level.price);
                h.signed(level.qty_total);
                h.word(u64::from(level.count));
                let mut slot = level.head;
                while slot != NIL {
                    let o = engine.orders().get(slot);
                    h.word(o.id);
                    h.word(u64::from(o.account));
                    h.signed(o.qty_open);
                    h.word(o.client_ref);
                    h.word(u64::from(o.flags));
                    slot = o.next;
                }
            }
        }
        if let Some(risk) = m.risk.as_ref() {
            h.word(0x715C);
            h.bytes(format!("{:?}", risk.params).as_bytes());
            h.signed(risk.index.map_or(0, |p| p.0));
            h.signed(risk.mark.map_or(0, |p| p.0));
            h.signed(i64::try_from(risk.basis.basis_subticks()).unwrap_or(i64::MAX));
            h.word(risk.basis.samples());
            h.signed(i64::try_from(risk.premium_sum_ppb).unwrap_or(i64::MAX));
            h.word(u64::from(risk.premium_samples));
            h.signed(risk.funding_rate_ppb);
        }
    }
    // Positions in handle order (creation order, itself a function of the command stream).
    for p in engine.accounts().all_positions() {
        h.word(u64::from(p.account));
        h.word(u64::from(p.market));
        h.word(p.mode as u64);
        h.word(u64::from(p.leverage));
        h.signed(p.size);
        h.signed(p.quote);
        h.signed(p.isolated_margin);
        h.signed(p.realized_pnl);
        h.signed(p.funding_pnl);
        h.word(p.cooldown_until_ns);
    }
    let accounts = engine.accounts();
    for a in 0..accounts.len() {
        let a32 = u32::try_from(a).expect("account ids fit u32");
        let (c, f) = (accounts.collateral(a32), accounts.flags(a32));
        if c != 0 || f != 0 {
            h.word(u64::from(a32));
            h.signed(c);
            h.word(u64::from(f));
        }
    }
    let t = engine.treasury();
    h.signed(t.insurance_fund);
    h.signed(t.fee_pool);
    h.signed(t.deposits);
    h.signed(t.withdrawals);
    h.word(engine.backstop().map_or(u64::MAX, |a| u64::from(a.0)));
    h.word(engine.liquidation_orders);
    for c in &engine.cooldowns {
        h.word(u64::from(*c));
    }
    h.finish()
}
