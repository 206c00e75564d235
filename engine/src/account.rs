//! Per-account state the matching core needs: resting-order lists and positions.
//!
//! # Layout
//! Dense arrays indexed by account id (and by `account × markets_max + market` for positions),
//! preallocated to the limits: no lookups by hash and no allocation when accounts first trade.
//!
//! # Invariants
//! `orders_open[a]` is the length of account `a`'s intrusive order list, and the sum of all
//! positions in a market is zero (every fill moves a buyer and a seller by the same amount).

use crate::book::NIL;
use crate::limits::Limits;

/// Accounts' order lists and positions.
#[derive(Clone, Debug)]
pub struct Accounts {
    /// Resting orders per account.
    pub(crate) orders_open: Vec<u32>,
    /// Head of each account's intrusive order list (most recent first).
    pub(crate) order_head: Vec<u32>,
    /// Signed position in lots, at `account × markets_max + market`.
    positions: Vec<i64>,
    markets_max: usize,
}

impl Accounts {
    /// Creates storage for the limits' accounts and markets.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        let n = limits.accounts_max as usize;
        let m = usize::from(limits.markets_max);
        Self {
            orders_open: vec![0; n],
            order_head: vec![NIL; n],
            positions: vec![0; n * m],
            markets_max: m,
        }
    }

    /// Accounts held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.orders_open.len()
    }

    /// Whether no account fits (never, for valid limits).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders_open.is_empty()
    }

    #[inline]
    fn slot(&self, account: u32, market: u16) -> usize {
        account as usize * self.markets_max + usize::from(market)
    }

    /// Signed position of an account in a market, in lots.
    #[inline]
    #[must_use]
    pub fn position(&self, account: u32, market: u16) -> i64 {
        self.positions[self.slot(account, market)]
    }

    /// Adds `delta` lots to a position; returns `(before, after)`.
    ///
    /// # Panics
    /// On overflow, which open-interest bounds rule out: a position is at most the sum of
    /// quantities filled, each at most `qty_max`, and the engine stops well before `i64::MAX`.
    #[inline]
    pub fn add_position(&mut self, account: u32, market: u16, delta: i64) -> (i64, i64) {
        let i = self.slot(account, market);
        let before = self.positions[i];
        let after = before
            .checked_add(delta)
            .expect("invariant: positions fit in i64");
        self.positions[i] = after;
        (before, after)
    }

    /// Every position of every account in one market, by account id.
    pub fn positions_in(&self, market: u16) -> impl Iterator<Item = (u32, i64)> + '_ {
        let m = usize::from(market);
        self.positions
            .iter()
            .skip(m)
            .step_by(self.markets_max)
            .enumerate()
            .map(|(a, p)| {
                (
                    u32::try_from(a).expect("invariant: account ids fit in u32"),
                    *p,
                )
            })
    }

    /// Resting orders of an account.
    #[must_use]
    pub fn orders_open(&self, account: u32) -> u32 {
        self.orders_open[account as usize]
    }
}
