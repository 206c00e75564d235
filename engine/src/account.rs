//! Accounts and positions: collateral, the per-account order list, and perp positions.
//!
//! # Layout
//! - Per account (dense arrays indexed by account id, struct-of-arrays so the matching loop
//!   touches only what it needs): collateral, the head of the account's intrusive list of
//!   resting orders and their count, the head of its list of positions, flags.
//! - Positions live in a slab of [`Position`] records, one per (account, market) the account
//!   has ever used, linked from the account. A record is created on first use (an accepted
//!   order, a leverage or margin-mode setting) and kept, so a fill never needs to allocate one.
//! - [`HeapMeta`] per position, for the liquidation trigger heaps.
//! - Per market, an intrusive list of the market's position records (`market_next`, parallel
//!   to the slab), so work that concerns one market (ranking its ADL queue) visits only that
//!   market's records. Records are never removed, so the list only grows, within the slab's
//!   preallocated capacity. It is derived from the records, so snapshots do not store it.
//!
//! # Money
//! A position holds a *quote balance* instead of an entry price: every fill moves exactly
//! `price × qty × quote_per_tick_lot` quantums from the buyer's position to the seller's, so
//! quote balances change only by exact transfers. The position's value at a mark price is
//! `size × mark × quote_per_tick_lot + quote` (its unrealized PnL). Realizing PnL moves quantums
//! from the quote balance to collateral (or isolated margin), again an exact transfer. Hence the
//! conservation law: Σ collateral + Σ isolated margin + Σ quote balances + insurance fund +
//! fee pool = deposits − withdrawals, to the quantum, after every command.
//!
//! # Invariants
//! Positions sum to zero in every market; each account's order list holds exactly its
//! `orders_open` orders; each account's position list holds exactly its records.

use crate::book::NIL;
use crate::limits::Limits;
use crate::trigger::HeapMeta;

/// How a position is margined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum MarginMode {
    /// Shares the account's collateral with its other cross positions.
    Cross = 0,
    /// Has its own margin; its loss is bounded by it.
    Isolated = 1,
}

/// One account's position in one market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Position {
    /// Owner.
    pub account: u32,
    /// Market id.
    pub market: u16,
    /// Cross or isolated.
    pub mode: MarginMode,
    /// Leverage chosen for initial margin (1..=the tier's maximum).
    pub leverage: u16,
    /// Signed size in lots.
    pub size: i64,
    /// Quote balance in quantums (see the module docs).
    pub quote: i64,
    /// Margin set aside for an isolated position.
    pub isolated_margin: i64,
    /// Realized PnL so far, for reports.
    pub realized_pnl: i64,
    /// Funding received (+) or paid (−) so far, for reports.
    pub funding_pnl: i64,
    /// Lots of resting buy orders in this market.
    pub order_qty_buy: i64,
    /// Lots of resting sell orders in this market.
    pub order_qty_sell: i64,
    /// No new book liquidation slice before this time.
    pub cooldown_until_ns: u64,
    /// Next position of the same account.
    pub next: u32,
}

impl Position {
    /// Average entry price in ticks, rounded to the nearest tick (for display; the position
    /// keeps its exact quote balance): `|quote| / (|size| × quote_per_tick_lot)`.
    #[must_use]
    pub fn entry_price(&self, quote_per_tick_lot: i64) -> Option<i64> {
        // A matching-only market moves no money, so its positions have no quote balance.
        if self.size == 0 || self.quote == 0 || quote_per_tick_lot <= 0 {
            return None;
        }
        let per_tick = i128::from(self.size.abs()) * i128::from(quote_per_tick_lot);
        let cost = i128::from(self.quote).abs();
        i64::try_from((2 * cost + per_tick) / (2 * per_tick)).ok()
    }

    /// A new, flat, cross position record.
    #[must_use]
    pub fn fresh(account: u32, market: u16, leverage: u16) -> Self {
        Self {
            account,
            market,
            mode: MarginMode::Cross,
            leverage,
            size: 0,
            quote: 0,
            isolated_margin: 0,
            realized_pnl: 0,
            funding_pnl: 0,
            order_qty_buy: 0,
            order_qty_sell: 0,
            cooldown_until_ns: 0,
            next: NIL,
        }
    }
}

/// Account flag: a liquidation of this account is in progress (cooldown between slices).
pub const ACCOUNT_IN_LIQUIDATION: u8 = 1;

/// Accounts, their order lists, collateral and positions.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Accounts {
    /// Resting orders per account.
    pub(crate) orders_open: Vec<u32>,
    /// Head of each account's intrusive order list (most recent first).
    pub(crate) order_head: Vec<u32>,
    /// Cross collateral per account, in quote quantums.
    pub(crate) collateral: Vec<i64>,
    /// Head of each account's position list.
    pub(crate) position_head: Vec<u32>,
    /// `ACCOUNT_*` flags.
    pub(crate) flags: Vec<u8>,
    /// Position records.
    pub(crate) positions: Vec<Position>,
    /// Trigger-heap bookkeeping, parallel to `positions`.
    pub(crate) heap_meta: Vec<HeapMeta>,
    /// Next record of the same market, parallel to `positions` (`NIL` ends the list).
    #[cfg_attr(feature = "serde", serde(skip))]
    market_next: Vec<u32>,
    /// First record of each market's list, by market id (`NIL`: none).
    #[cfg_attr(feature = "serde", serde(skip))]
    market_head: Vec<u32>,
    /// Non-flat cross positions per account.
    cross_open: Vec<u8>,
    /// Accounts with two or more non-flat cross positions (their triggers depend on several
    /// marks), in no particular order; `multi_at[a]` is `a`'s index here or `NIL`.
    multi: Vec<u32>,
    multi_at: Vec<u32>,
    positions_max: usize,
}

impl Clone for Accounts {
    /// A copy that keeps the reserved capacities, so it never allocates where the original
    /// would not.
    fn clone(&self) -> Self {
        use crate::book::clone_with_capacity;
        Self {
            orders_open: self.orders_open.clone(),
            order_head: self.order_head.clone(),
            collateral: self.collateral.clone(),
            position_head: self.position_head.clone(),
            flags: self.flags.clone(),
            positions: clone_with_capacity(&self.positions, self.positions.capacity()),
            heap_meta: clone_with_capacity(&self.heap_meta, self.heap_meta.capacity()),
            market_next: clone_with_capacity(&self.market_next, self.market_next.capacity()),
            market_head: self.market_head.clone(),
            cross_open: self.cross_open.clone(),
            multi: clone_with_capacity(&self.multi, self.multi.capacity()),
            multi_at: self.multi_at.clone(),
            positions_max: self.positions_max,
        }
    }

    /// Copies into `self`'s vectors, reusing their storage (see `Engine::clone_from`).
    fn clone_from(&mut self, src: &Self) {
        // Destructured so that a new field fails to compile here until it is copied.
        let Self {
            orders_open,
            order_head,
            collateral,
            position_head,
            flags,
            positions,
            heap_meta,
            market_next,
            market_head,
            cross_open,
            multi,
            multi_at,
            positions_max,
        } = src;
        self.orders_open.clone_from(orders_open);
        self.order_head.clone_from(order_head);
        self.collateral.clone_from(collateral);
        self.position_head.clone_from(position_head);
        self.flags.clone_from(flags);
        self.positions.clone_from(positions);
        self.heap_meta.clone_from(heap_meta);
        self.market_next.clone_from(market_next);
        self.market_head.clone_from(market_head);
        self.cross_open.clone_from(cross_open);
        self.multi.clone_from(multi);
        self.multi_at.clone_from(multi_at);
        self.positions_max = *positions_max;
    }
}

impl Accounts {
    /// Creates storage for the limits' accounts and positions.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        let n = limits.accounts_max as usize;
        let p = limits.positions_max as usize;
        Self {
            orders_open: vec![0; n],
            order_head: vec![NIL; n],
            collateral: vec![0; n],
            position_head: vec![NIL; n],
            flags: vec![0; n],
            positions: Vec::with_capacity(p),
            heap_meta: Vec::with_capacity(p),
            market_next: Vec::with_capacity(p),
            market_head: vec![NIL; usize::from(limits.markets_max)],
            cross_open: vec![0; n],
            multi: Vec::with_capacity(n),
            multi_at: vec![NIL; n],
            positions_max: p,
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

    /// The position record of an account in a market, if it has one.
    #[inline]
    #[must_use]
    pub fn find(&self, account: u32, market: u16) -> Option<u32> {
        let mut h = self.position_head[account as usize];
        while h != NIL {
            let p = &self.positions[h as usize];
            if p.market == market {
                return Some(h);
            }
            h = p.next;
        }
        None
    }

    /// Whether a new position record fits.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.positions.len() < self.positions_max
    }

    /// The position record of an account in a market, created if missing. `None` when the
    /// record would exceed `positions_max`.
    pub fn find_or_create(&mut self, account: u32, market: u16, leverage: u16) -> Option<u32> {
        if let Some(h) = self.find(account, market) {
            return Some(h);
        }
        if !self.has_room() {
            return None;
        }
        let h = u32::try_from(self.positions.len()).expect("invariant: positions_max ≤ SLOT_MAX");
        let mut p = Position::fresh(account, market, leverage);
        p.next = self.position_head[account as usize];
        self.positions.push(p);
        self.heap_meta.push(HeapMeta::NONE);
        self.position_head[account as usize] = h;
        self.link_market(h);
        Some(h)
    }

    /// A position record.
    #[inline]
    #[must_use]
    pub fn get(&self, handle: u32) -> &Position {
        &self.positions[handle as usize]
    }

    /// A position record, mutably.
    #[inline]
    pub fn get_mut(&mut self, handle: u32) -> &mut Position {
        &mut self.positions[handle as usize]
    }

    /// Every position record, by handle.
    #[must_use]
    pub fn all_positions(&self) -> &[Position] {
        &self.positions
    }

    /// Puts record `h` (the newest) at the head of its market's list.
    fn link_market(&mut self, h: u32) {
        let market = usize::from(self.positions[h as usize].market);
        if market >= self.market_head.len() {
            // Only a corrupt snapshot names a market past the limits; `restore_capacities`
            // refuses those, so the record simply stays out of every market list here.
            self.market_next.push(NIL);
            return;
        }
        self.market_next.push(self.market_head[market]);
        self.market_head[market] = h;
    }

    /// Handles of every position record in one market (flat ones included), most recently
    /// created first. O(records in that market).
    pub fn market_positions(&self, market: u16) -> impl Iterator<Item = u32> + '_ {
        let mut h = self
            .market_head
            .get(usize::from(market))
            .copied()
            .unwrap_or(NIL);
        core::iter::from_fn(move || {
            if h == NIL {
                return None;
            }
            let out = h;
            h = self.market_next[h as usize];
            Some(out)
        })
    }

    /// Handles of an account's positions (most recently created first).
    pub fn positions_of(&self, account: u32) -> impl Iterator<Item = u32> + '_ {
        let mut h = self.position_head[account as usize];
        core::iter::from_fn(move || {
            if h == NIL {
                return None;
            }
            let out = h;
            h = self.positions[h as usize].next;
            Some(out)
        })
    }

    /// Signed position of an account in a market, in lots (0 without a record).
    #[inline]
    #[must_use]
    pub fn position(&self, account: u32, market: u16) -> i64 {
        self.find(account, market)
            .map_or(0, |h| self.positions[h as usize].size)
    }

    /// Every non-zero position in one market as (account, size), in handle order.
    pub fn positions_in(&self, market: u16) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.positions
            .iter()
            .filter(move |p| p.market == market && p.size != 0)
            .map(|p| (p.account, p.size))
    }

    /// Resting orders of an account.
    #[must_use]
    pub fn orders_open(&self, account: u32) -> u32 {
        self.orders_open[account as usize]
    }

    /// Cross collateral of an account.
    #[must_use]
    pub fn collateral(&self, account: u32) -> i64 {
        self.collateral[account as usize]
    }

    /// Notes that a cross position of `account` went from flat to open (`+1`) or back (`-1`),
    /// keeping the list of multi-position accounts.
    pub(crate) fn cross_open_changed(&mut self, account: u32, delta: i8) {
        let a = account as usize;
        let before = self.cross_open[a];
        let after = before
            .checked_add_signed(delta)
            .expect("invariant: count ≥ 0 and ≤ markets");
        self.cross_open[a] = after;
        if before < 2 && after >= 2 {
            self.multi_at[a] = u32::try_from(self.multi.len()).expect("≤ accounts_max");
            self.multi.push(account);
        } else if before >= 2 && after < 2 {
            let at = self.multi_at[a] as usize;
            self.multi.swap_remove(at);
            if let Some(moved) = self.multi.get(at).copied() {
                self.multi_at[moved as usize] = u32::try_from(at).expect("fits");
            }
            self.multi_at[a] = NIL;
        }
    }

    /// Checks that every index deserialized account arrays store is in range and that the
    /// lists they form are acyclic: each position record on exactly one account's list (its
    /// own), the multi-position list and its back-references agreeing. The audit, which runs
    /// next, follows these links; resting-order links are checked by the engine.
    fn check_links(&self, limits: &Limits) -> Result<(), String> {
        let n = self.positions.len();
        let mut listed = vec![false; n];
        for (a, head) in self.position_head.iter().enumerate() {
            let mut h = *head;
            while h != NIL {
                let i = h as usize;
                let Some(p) = self.positions.get(i) else {
                    return Err(format!("account {a} lists position {h} of {n}"));
                };
                if listed[i] || p.account as usize != a {
                    return Err(format!("position {h} listed twice or under account {a}"));
                }
                listed[i] = true;
                h = p.next;
            }
        }
        if listed.iter().any(|l| !l) {
            return Err("a position record on no account's list".into());
        }
        if let Some((h, p)) = self
            .positions
            .iter()
            .enumerate()
            .find(|(_, p)| p.account >= limits.accounts_max || p.leverage == 0)
        {
            return Err(format!(
                "position {h} of account {} at leverage {}",
                p.account, p.leverage
            ));
        }
        for (at, a) in self.multi.iter().enumerate() {
            let back = self.multi_at.get(*a as usize).copied();
            if back != Some(u32::try_from(at).map_err(|e| e.to_string())?) {
                return Err(format!("multi-position entry {at} (account {a}) is stale"));
            }
        }
        let marked = self.multi_at.iter().filter(|m| **m != NIL).count();
        if marked != self.multi.len() {
            return Err("multi-position marks disagree with the list".into());
        }
        Ok(())
    }

    /// Non-flat cross positions the account is counted with.
    #[must_use]
    pub fn cross_open(&self, account: u32) -> u8 {
        self.cross_open[account as usize]
    }

    /// Accounts with cross positions in two or more markets (unordered; callers that act on
    /// them in turn must not depend on this order for anything but commutative work).
    #[must_use]
    pub fn multi_position_accounts(&self) -> &[u32] {
        &self.multi
    }

    /// Flags of an account.
    #[must_use]
    pub fn flags(&self, account: u32) -> u8 {
        self.flags[account as usize]
    }
}

impl Accounts {
    /// Checks deserialized accounts against the limits and reserves the position arrays back
    /// to the capacities [`Accounts::new`] gives them.
    ///
    /// # Errors
    /// A description of the first shape mismatch.
    pub(crate) fn restore_capacities(&mut self, limits: &Limits) -> Result<(), String> {
        let n = limits.accounts_max as usize;
        let p = limits.positions_max as usize;
        let per_account = [
            self.orders_open.len(),
            self.order_head.len(),
            self.collateral.len(),
            self.position_head.len(),
            self.flags.len(),
            self.cross_open.len(),
            self.multi_at.len(),
        ];
        if per_account.iter().any(|len| *len != n) || self.multi.len() > n {
            return Err(format!("account arrays do not match accounts_max {n}"));
        }
        if self.positions_max != p
            || self.positions.len() > p
            || self.heap_meta.len() != self.positions.len()
        {
            return Err(format!("position arrays do not match positions_max {p}"));
        }
        if self
            .positions
            .iter()
            .any(|q| q.market >= limits.markets_max)
        {
            return Err(format!(
                "a position record past markets_max {}",
                limits.markets_max
            ));
        }
        self.check_links(limits)?;
        crate::restore::reserve_exact_to(&mut self.positions, p);
        crate::restore::reserve_exact_to(&mut self.heap_meta, p);
        crate::restore::reserve_exact_to(&mut self.multi, n);
        // The market lists are not stored: rebuild them in creation order, as they were built.
        self.market_head = vec![NIL; usize::from(limits.markets_max)];
        self.market_next = Vec::with_capacity(p);
        for h in 0..self.positions.len() {
            self.link_market(u32::try_from(h).expect("≤ positions_max"));
        }
        Ok(())
    }
}
