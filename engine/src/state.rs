//! The engine: the one state machine every command goes through.
//!
//! # Layout
//! [`Engine`] owns the markets (spec, book, reference price, open interest), the engine-wide
//! order slab, the accounts and a preallocated event buffer. [`Engine::apply`] is the only
//! mutator.
//!
//! # Ordering
//! Events of one command come in causal order: `Accepted` (or `Rejected`), then the taker's
//! trades best price first and time priority within a price, each level's `BookLevel` after the
//! taker leaves it, then `Rested` and its `BookLevel` or the remainder's `Cancelled`.
//!
//! # Invariants
//! See `invariants::check_all`, run after every command in tests and with the `verify` feature.
//!
//! # Complexity
//! Place, cancel and amend cost O(1) plus O(1) per fill, except creating or removing a price
//! level (see the book module). Mass cancel is O(orders cancelled).
//!
//! # Known limitations
//! A mass cancel of a whole market, or a liquidation cascade whose liquidations take several
//! fills each or end in ADL, can emit more events than `events_per_command_max` reserves (a
//! cascade of `liquidations_per_command_max` single-fill liquidations fits); the buffer then
//! grows once to that high-water mark and keeps it (neither is the matching hot path, which
//! never grows it).

use crate::account::{Accounts, MarginMode};
use crate::book::slab::{FLAG_POST_ONLY, FLAG_POST_ONLY_SLIDE, FLAG_REDUCE_ONLY};
use crate::book::{Book, OrderSlot, Orders, NIL};
use crate::command::{
    AccountId, Command, NewOrder, OrderId, OrderKind, SelfTradePrevention, Sequenced, Side,
    TimeInForce,
};
use crate::event::Event;
use crate::limits::Limits;
use crate::liquidation::{AdlEntry, AdlSegment};
use crate::margin::MarketRisk;
use crate::market::{MarketId, MarketSpec};
use crate::reject::{CancelReason, Reject};
use cascade_risk::num::{mul_div_i64, Rounding};
use cascade_risk::{Ppm, Price, Qty};

/// One market's live state.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Market {
    /// The spec it was created with.
    pub spec: MarketSpec,
    /// Its order book.
    pub book: Book,
    /// Reference price anchoring the limit-price band, once set.
    pub reference: Option<Price>,
    /// Lowest limit price allowed by the band (inclusive).
    pub band_low: i64,
    /// Highest limit price allowed by the band (inclusive).
    pub band_high: i64,
    /// Sum of long positions in lots, which equals the sum of short positions.
    pub open_interest: i64,
    /// Price of the last trade.
    pub last_trade: Option<Price>,
    /// Margining, marks, funding and liquidation; `None` for a matching-only market.
    pub risk: Option<MarketRisk>,
}

/// Where the money that is not in accounts sits, and the totals that bound it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Treasury {
    /// Insurance fund balance.
    pub insurance_fund: i64,
    /// Trading fees collected (net of maker rebates).
    pub fee_pool: i64,
    /// Sum of all deposits (accounts and insurance fund).
    pub deposits: i64,
    /// Sum of all withdrawals.
    pub withdrawals: i64,
}

impl Treasury {
    /// Total deposits may not exceed this, so every sum of money fits in `i64` with room.
    pub const DEPOSITS_MAX: i64 = 1 << 60;
}

/// The taker side of a match in progress.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taker {
    pub(crate) id: u64,
    pub(crate) account: u32,
    /// The account's position record in the market.
    pub(crate) position: u32,
    pub(crate) market: u16,
    pub(crate) side: Side,
    /// Worst price the taker accepts.
    pub(crate) limit: i64,
    /// Open quantity.
    pub(crate) qty: i64,
    pub(crate) reduce_only: bool,
    pub(crate) stp: SelfTradePrevention,
    pub(crate) fills: u32,
    /// Σ price × qty over its fills, in ticks × lots (for liquidation fees).
    pub(crate) filled_ticks: i128,
}

/// What validation of a new order decided.
#[derive(Clone, Copy, Debug)]
struct Plan {
    limit: i64,
    qty: i64,
    rests: bool,
    /// Whether the limit reaches the best opposite price, i.e. whether matching can fill
    /// anything. Most orders rest without crossing and skip the matching loop.
    takes: bool,
    /// The account's position record in the market, if it has one yet.
    handle: Option<u32>,
}

/// The deterministic exchange core.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Engine {
    limits: Limits,
    pub(crate) markets: Vec<Option<Market>>,
    pub(crate) orders: Orders,
    pub(crate) accounts: Accounts,
    /// Events of the current command; cleared when the next one starts (not state).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) events: Vec<Event>,
    /// Scratch for the fill-or-kill dry run: each account's position change so far, by
    /// account id. All zero between commands (checked by the audit).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) fok_delta: Vec<i64>,
    last_seq: u64,
    last_ts_ns: u64,
    pub(crate) treasury: Treasury,
    /// The backstop liquidator vault.
    pub(crate) backstop: Option<u32>,
    /// Ids of the engine's own liquidation orders: `LIQUIDATION_ORDER_BIT | n`.
    pub(crate) liquidation_orders: u64,
    /// Accounts touched by the fills of the current command, for trigger refresh.
    pub(crate) touched: Vec<u32>,
    /// Position handles waiting out a liquidation cooldown, in the order they entered it.
    pub(crate) cooldowns: Vec<u32>,
    /// The ADL queues ranked during the current command, back to back: each (market, side)
    /// ranked at most once per command (see `liquidation.rs`). Scratch, emptied at the start
    /// of every command's liquidation pass (not state). A position is in one queue when ranked,
    /// so `positions_max` entries suffice unless a position flips side within a command and
    /// both of its market's queues are ranked in that command: then it grows once.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) adl_queue: Vec<AdlEntry>,
    /// Where each queue of `adl_queue` lies, and how far it has been walked.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) adl_segments: Vec<AdlSegment>,
    /// Positions the current command's liquidation pass set aside (stuck: nothing could close
    /// them and the cooldown list was full), filed again when the pass ends. Scratch, empty
    /// between commands (not state); at most one per liquidation the pass may start.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) set_aside: Vec<u32>,
    /// Markets with risk parameters: with none, commands skip the liquidation scan.
    pub(crate) margined: u16,
}

/// Order ids of the engine's liquidation orders have this bit set; client order ids (sequence
/// numbers) never do.
pub const LIQUIDATION_ORDER_BIT: u64 = 1 << 63;

/// Writes an empty event buffer's whole capacity once, so that its pages are faulted in now
/// and not during the first command that fills it, which is a crash's cascade (as the order
/// slab is written at construction). Leaves it empty, with its capacity.
pub(crate) fn touch_events(events: &mut Vec<Event>) {
    let filler = Event::MarketAdded {
        market: MarketId(0),
    };
    events.clear();
    events.resize(events.capacity(), filler);
    events.clear();
}

impl Clone for Engine {
    /// A snapshot: equal state, and the same preallocated capacities, so the copy does not
    /// allocate per command either.
    fn clone(&self) -> Self {
        use crate::book::clone_with_capacity;
        let mut events = Vec::with_capacity(self.events.capacity());
        touch_events(&mut events);
        events.extend_from_slice(&self.events);
        Self {
            limits: self.limits,
            markets: self.markets.clone(),
            orders: self.orders.clone(),
            accounts: self.accounts.clone(),
            events,
            fok_delta: self.fok_delta.clone(),
            last_seq: self.last_seq,
            last_ts_ns: self.last_ts_ns,
            treasury: self.treasury,
            backstop: self.backstop,
            liquidation_orders: self.liquidation_orders,
            touched: clone_with_capacity(&self.touched, self.touched.capacity()),
            cooldowns: clone_with_capacity(&self.cooldowns, self.cooldowns.capacity()),
            adl_queue: clone_with_capacity(&self.adl_queue, self.adl_queue.capacity()),
            adl_segments: clone_with_capacity(&self.adl_segments, self.adl_segments.capacity()),
            set_aside: clone_with_capacity(&self.set_aside, self.set_aside.capacity()),
            margined: self.margined,
        }
    }

    /// Refreshes a copy made earlier, reusing its storage: the large tables (order slab, id
    /// index, accounts and positions) are copied in place instead of allocated and
    /// page-faulted anew, which is most of the cost of a fresh `clone` with big limits. Equal
    /// state afterwards, as with `clone`.
    fn clone_from(&mut self, src: &Self) {
        // Destructured so that a new field fails to compile here until it is copied.
        let Self {
            limits,
            markets,
            orders,
            accounts,
            events,
            fok_delta,
            last_seq,
            last_ts_ns,
            treasury,
            backstop,
            liquidation_orders,
            touched,
            cooldowns,
            adl_queue,
            adl_segments,
            set_aside,
            margined,
        } = src;
        self.limits = *limits;
        self.markets.clone_from(markets);
        self.orders.clone_from(orders);
        self.accounts.clone_from(accounts);
        self.events.clone_from(events);
        self.fok_delta.clone_from(fok_delta);
        self.last_seq = *last_seq;
        self.last_ts_ns = *last_ts_ns;
        self.treasury = *treasury;
        self.backstop = *backstop;
        self.liquidation_orders = *liquidation_orders;
        self.touched.clone_from(touched);
        self.cooldowns.clone_from(cooldowns);
        self.adl_queue.clone_from(adl_queue);
        self.adl_segments.clone_from(adl_segments);
        self.set_aside.clone_from(set_aside);
        self.margined = *margined;
    }
}

#[inline]
fn crosses(side: Side, limit: i64, maker_price: i64) -> bool {
    match side {
        Side::Buy => maker_price <= limit,
        Side::Sell => maker_price >= limit,
    }
}

/// Lots of `side` an account can trade and only reduce its position.
#[inline]
fn reducible(position: i64, side: Side) -> i64 {
    match side {
        Side::Buy if position < 0 => -position,
        Side::Sell if position > 0 => position,
        _ => 0,
    }
}

impl Engine {
    /// Creates an empty engine sized by `limits`.
    ///
    /// # Panics
    /// If the limits are not valid ([`Limits::is_valid`]): that is a configuration error found
    /// at start-up, not an input.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        assert!(limits.is_valid(), "limits must be valid: {limits:?}");
        let mut events = Vec::with_capacity(limits.events_per_command_max());
        touch_events(&mut events);
        Self {
            limits,
            markets: (0..limits.markets_max).map(|_| None).collect(),
            orders: Orders::with_capacity(limits.orders_max),
            accounts: Accounts::new(&limits),
            events,
            fok_delta: vec![0; limits.accounts_max as usize],
            last_seq: 0,
            last_ts_ns: 0,
            treasury: Treasury::default(),
            backstop: None,
            liquidation_orders: 0,
            touched: Vec::with_capacity(limits.fills_per_taker_max as usize + 8),
            cooldowns: Vec::with_capacity(limits.cooldowns_max as usize),
            adl_queue: Vec::with_capacity(limits.positions_max as usize),
            adl_segments: Vec::with_capacity(2 * usize::from(limits.markets_max)),
            set_aside: Vec::with_capacity(limits.liquidations_per_command_max as usize),
            margined: 0,
        }
    }

    /// The limits the engine was built with.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sequence number of the last applied command.
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Timestamp of the last applied command.
    #[must_use]
    pub fn last_ts_ns(&self) -> u64 {
        self.last_ts_ns
    }

    /// A market, if it exists.
    #[must_use]
    pub fn market(&self, id: MarketId) -> Option<&Market> {
        self.markets.get(usize::from(id.0)).and_then(Option::as_ref)
    }

    /// Every existing market, by id.
    pub fn markets(&self) -> impl Iterator<Item = &Market> + '_ {
        self.markets.iter().flatten()
    }

    /// The order slab.
    #[must_use]
    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// Cross-margin health of an account: equity, maintenance and initial margin at the marks.
    #[must_use]
    pub fn health(&self, account: AccountId) -> crate::margin::Health {
        if account.0 >= self.limits.accounts_max {
            return crate::margin::Health::default();
        }
        Self::health_of(&self.markets, &self.accounts, account.0, None)
    }

    /// Insurance fund, fee pool and the deposit totals.
    #[must_use]
    pub fn treasury(&self) -> &Treasury {
        &self.treasury
    }

    /// The backstop vault account, if any.
    #[must_use]
    pub fn backstop(&self) -> Option<AccountId> {
        self.backstop.map(AccountId)
    }

    /// The accounts.
    #[must_use]
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// A resting order by id.
    #[must_use]
    pub fn order(&self, id: OrderId) -> Option<&OrderSlot> {
        self.orders.find(id.0).map(|s| self.orders.get(s))
    }

    /// Signed position of an account in a market (0 for unknown ids).
    #[must_use]
    pub fn position(&self, account: AccountId, market: MarketId) -> i64 {
        if account.0 >= self.limits.accounts_max || market.0 >= self.limits.markets_max {
            return 0;
        }
        self.accounts.position(account.0, market.0)
    }

    /// Applies one sequenced command and returns the events it caused.
    ///
    /// The only way engine state changes. Never panics on any input: every problem with the
    /// command is a `Rejected` event with a stable reason code, and a rejected command changes
    /// nothing but the last sequence number.
    pub fn apply(&mut self, cmd: &Sequenced<Command>) -> &[Event] {
        self.events.clear();
        if cmd.seq <= self.last_seq {
            let account = command_account(&cmd.command);
            self.reject(account, command_ref(&cmd.command), Reject::SeqNotIncreasing);
            return &self.events;
        }
        self.last_seq = cmd.seq;
        self.last_ts_ns = cmd.ts_ns;
        match &cmd.command {
            Command::AddMarket(spec) => self.add_market(spec),
            Command::SetReferencePrice { market, price } => self.set_reference(*market, *price),
            Command::Place(order) => self.place(cmd.seq, order),
            Command::Cancel { account, order_id } => self.cancel(*account, *order_id),
            Command::Amend {
                account,
                order_id,
                price,
                qty,
            } => {
                self.amend(*account, *order_id, *price, *qty);
            }
            Command::MassCancelAccount { account, market } => {
                self.mass_cancel_account(*account, *market);
            }
            Command::MassCancelMarket { market } => self.mass_cancel_market(*market),
            Command::Deposit { account, amount } => self.deposit(*account, *amount),
            Command::Withdraw { account, amount } => self.withdraw(*account, *amount),
            Command::SetLeverage {
                account,
                market,
                leverage,
            } => {
                self.set_leverage(*account, *market, *leverage);
            }
            Command::SetMarginMode {
                account,
                market,
                mode,
            } => {
                self.set_margin_mode(*account, *market, *mode);
            }
            Command::TransferIsolatedMargin {
                account,
                market,
                amount,
            } => {
                self.transfer_isolated(*account, *market, *amount);
            }
            Command::SetRiskParams { market, params } => self.set_risk_params(*market, params),
            Command::SetIndexPrice {
                market,
                index,
                external_mark,
            } => {
                self.set_index(*market, *index, *external_mark);
            }
            Command::FundingTick { market } => self.funding_tick(*market),
            Command::SetBackstopAccount { account } => self.set_backstop(*account),
            Command::InsuranceDeposit { amount } => self.insurance_deposit(*amount),
        }
        self.run_liquidations();
        #[cfg(feature = "verify")]
        if let Err(e) = crate::invariants::check_all(self) {
            panic!("invariant audit failed after seq {}: {e}", cmd.seq);
        }
        &self.events
    }

    /// Runs the full O(N) invariant audit.
    ///
    /// # Errors
    /// A description of the first broken invariant.
    pub fn audit(&self) -> Result<(), String> {
        crate::invariants::check_all(self)
    }

    /// A hash of all state (books, orders, positions, markets, sequence), stable across
    /// machines and builds. Equal streams of commands give equal hashes.
    #[must_use]
    pub fn state_hash(&self) -> u64 {
        crate::hash::state_hash(self)
    }

    pub(crate) fn reject_event(&mut self, account: AccountId, client_ref: u64, reason: Reject) {
        self.reject(account, client_ref, reason);
    }

    /// Out of line and cold: rejects are rare, and keeping them off the hot path leaves the
    /// accept path straight-line code.
    #[cold]
    #[inline(never)]
    fn reject(&mut self, account: AccountId, client_ref: u64, reason: Reject) {
        self.events.push(Event::Rejected {
            account,
            client_ref,
            reason,
        });
    }

    fn add_market(&mut self, spec: &MarketSpec) {
        let id = usize::from(spec.id.0);
        if id >= self.markets.len() {
            return self.reject(AccountId(0), u64::from(spec.id.0), Reject::MarketsLimit);
        }
        if self.markets[id].is_some() {
            return self.reject(AccountId(0), u64::from(spec.id.0), Reject::MarketExists);
        }
        if let Err(r) = spec.validate(self.limits.orders_max) {
            return self.reject(AccountId(0), u64::from(spec.id.0), r);
        }
        self.markets[id] = Some(Market {
            spec: *spec,
            book: Book::new(self.limits.levels_per_side_max),
            reference: None,
            band_low: 1,
            band_high: spec.price_max.0,
            open_interest: 0,
            last_trade: None,
            risk: None,
        });
        self.events.push(Event::MarketAdded { market: spec.id });
    }

    fn set_reference(&mut self, market: MarketId, price: Price) {
        let Some(m) = self.market(market) else {
            return self.reject(AccountId(0), u64::from(market.0), Reject::UnknownMarket);
        };
        if price.0 <= 0 {
            return self.reject(AccountId(0), u64::from(market.0), Reject::PriceNotPositive);
        }
        if price > m.spec.price_max {
            return self.reject(AccountId(0), u64::from(market.0), Reject::PriceAboveMax);
        }
        self.set_reference_internal(market, price);
        self.events.push(Event::ReferencePriceSet { market, price });
    }

    /// Moves a market's reference price and the limit-price band around it. The price was
    /// validated (positive, at most `price_max`).
    pub(crate) fn set_reference_internal(&mut self, market: MarketId, price: Price) {
        let m = self.markets[usize::from(market.0)]
            .as_mut()
            .expect("invariant: market exists");
        let band = i64::from(m.spec.band_ppm);
        // Cannot overflow: price_max × 2e6 fits in i64 (MarketSpec::validate).
        let low = mul_div_i64(price.0, Ppm::ONE - band, Ppm::ONE, Rounding::Ceil)
            .expect("invariant: band product fits");
        let high = mul_div_i64(price.0, Ppm::ONE + band, Ppm::ONE, Rounding::Floor)
            .expect("invariant: band product fits");
        m.reference = Some(price);
        m.band_low = low.max(1);
        m.band_high = high.min(m.spec.price_max.0);
    }

    fn validate_common(&self, account: AccountId, market: MarketId) -> Result<&Market, Reject> {
        if account.0 >= self.limits.accounts_max {
            return Err(Reject::UnknownAccount);
        }
        self.market(market).ok_or(Reject::UnknownMarket)
    }

    /// Checks a limit price and quantity against the spec and band.
    fn validate_price_qty(m: &Market, price: i64, qty: i64) -> Result<(), Reject> {
        if qty <= 0 {
            return Err(Reject::QtyNotPositive);
        }
        if qty > m.spec.qty_max.0 {
            return Err(Reject::QtyAboveMax);
        }
        if price <= 0 {
            return Err(Reject::PriceNotPositive);
        }
        if price > m.spec.price_max.0 {
            return Err(Reject::PriceAboveMax);
        }
        if price < m.band_low || price > m.band_high {
            return Err(Reject::PriceOutsideBand);
        }
        if m.spec.notional(Price(price), Qty(qty)) < m.spec.notional_min {
            return Err(Reject::NotionalBelowMin);
        }
        Ok(())
    }

    fn plan(&self, o: &NewOrder) -> Result<Plan, Reject> {
        let m = self.validate_common(o.account, o.market)?;
        let opposite_best = m.book.best_price(o.side.opposite());
        let mut limit = match o.kind {
            OrderKind::Limit => {
                Self::validate_price_qty(m, o.price.0, o.qty.0)?;
                o.price.0
            }
            OrderKind::Market => Self::market_limit(m, o, opposite_best)?,
        };
        let mut qty = o.qty.0;
        if o.reduce_only {
            let r = reducible(self.accounts.position(o.account.0, o.market.0), o.side);
            if r == 0 {
                return Err(Reject::ReduceOnlyWouldIncrease);
            }
            qty = qty.min(r);
        }
        let post_only = matches!(o.tif, TimeInForce::PostOnly | TimeInForce::PostOnlySlide);
        if post_only {
            if let Some(best) = opposite_best.filter(|b| crosses(o.side, limit, *b)) {
                if o.tif == TimeInForce::PostOnly {
                    return Err(Reject::PostOnlyWouldCross);
                }
                limit = best - o.side.sign();
                if limit <= 0 {
                    return Err(Reject::PostOnlyNoPrice);
                }
                Self::validate_price_qty(m, limit, qty)?;
            }
        }
        let rests = matches!(o.tif, TimeInForce::Gtc) || post_only;
        if rests {
            self.check_room(m, o.account, o.side, limit)?;
        }
        let handle = self.accounts.find(o.account.0, o.market.0);
        if handle.is_none() && !self.accounts.has_room() {
            return Err(Reject::PositionsLimit);
        }
        if !o.reduce_only && m.risk.is_none() {
            // A matching-only market checks only the size bound, on the record in place.
            if let Some(h) = handle {
                let (buy, sell) = match o.side {
                    Side::Buy => (qty, 0),
                    Side::Sell => (0, qty),
                };
                crate::margin::check_reach(self.accounts.get(h), buy, sell, i64::MAX / 4)?;
            }
        } else if !o.reduce_only {
            // A market order's open loss is judged at the best opposite price it will start
            // filling at, not at its protection bound (which would tax it the whole band).
            let cost_price = match o.kind {
                OrderKind::Market => opposite_best.unwrap_or(limit),
                OrderKind::Limit => limit,
            };
            // The existing record is checked in place; a fresh one (and its default leverage)
            // is built only for an account's first order in the market.
            match handle {
                Some(h) => {
                    self.check_order_margin(
                        self.accounts.get(h),
                        handle,
                        o.side,
                        qty,
                        0,
                        cost_price,
                    )?;
                }
                None => {
                    let fresh = crate::account::Position::fresh(
                        o.account.0,
                        o.market.0,
                        crate::margin::default_leverage(m),
                    );
                    self.check_order_margin(&fresh, handle, o.side, qty, 0, cost_price)?;
                }
            }
        }
        // A post-only order was checked (or slid) not to cross, so it never takes.
        let takes = !post_only && opposite_best.is_some_and(|b| crosses(o.side, limit, b));
        Ok(Plan {
            handle,
            limit,
            qty,
            rests,
            takes,
        })
    }

    /// The worst price a market order may trade at: the protection band around the best
    /// opposite price, inside the reference band.
    fn market_limit(m: &Market, o: &NewOrder, best: Option<i64>) -> Result<i64, Reject> {
        if !matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok) {
            return Err(Reject::InvalidTimeInForce);
        }
        if o.qty.0 <= 0 {
            return Err(Reject::QtyNotPositive);
        }
        if o.qty > m.spec.qty_max {
            return Err(Reject::QtyAboveMax);
        }
        let best = best.ok_or(Reject::NoLiquidity)?;
        if m.spec.notional(Price(best), o.qty) < m.spec.notional_min {
            return Err(Reject::NotionalBelowMin);
        }
        let p = i64::from(m.spec.market_protection_ppm);
        // Rounded toward the best price: the bound never lets the order walk further than the
        // protection allows. Cannot overflow: price_max × 2e6 fits (MarketSpec::validate).
        let limit = match o.side {
            Side::Buy => mul_div_i64(best, Ppm::ONE + p, Ppm::ONE, Rounding::Floor),
            Side::Sell => mul_div_i64(best, Ppm::ONE - p, Ppm::ONE, Rounding::Ceil),
        }
        .expect("invariant: protection product fits");
        Ok(limit.clamp(m.band_low, m.band_high))
    }

    fn check_room(
        &self,
        m: &Market,
        account: AccountId,
        side: Side,
        price: i64,
    ) -> Result<(), Reject> {
        if self.accounts.orders_open(account.0) >= self.limits.orders_per_account_max {
            return Err(Reject::OrdersPerAccountLimit);
        }
        if self.orders.is_full() {
            return Err(Reject::OrdersLimit);
        }
        if !m.book.can_rest(side, price) {
            return Err(Reject::LevelsLimit);
        }
        Ok(())
    }

    /// Whether a fill-or-kill order would fill in full: a dry run of [`Engine::match_taker`]
    /// that applies the same rules maker by maker (self-trade prevention, the fills limit, the
    /// reduce-only clamps of taker and maker), so it accepts exactly the orders that fill in
    /// full. Reduce-only makers count for what they can still reduce after the fills before
    /// them, which is why each account's position change is tracked in `fok_delta`.
    fn fok_fillable(&mut self, o: &NewOrder, limit: i64, qty: i64) -> bool {
        let (fillable, visited) = self.fok_dry_run(o, limit, qty);
        // Clear the scratch entries the dry run wrote: the taker's and its visited makers'.
        let m = self.markets[usize::from(o.market.0)]
            .as_ref()
            .expect("invariant: market exists");
        self.fok_delta[o.account.0 as usize] = 0;
        let mut left = visited;
        for level in m.book.levels(o.side.opposite()) {
            let mut slot = level.head;
            while slot != NIL && left > 0 {
                let maker = self.orders.get(slot);
                self.fok_delta[maker.account as usize] = 0;
                slot = maker.next;
                left -= 1;
            }
            if left == 0 {
                break;
            }
        }
        fillable
    }

    /// The dry run of [`Engine::fok_fillable`]; returns whether the order fills in full and
    /// how many makers it looked at.
    fn fok_dry_run(&mut self, o: &NewOrder, limit: i64, qty: i64) -> (bool, u32) {
        let m = self.markets[usize::from(o.market.0)]
            .as_ref()
            .expect("invariant: market exists");
        let delta = &mut self.fok_delta;
        let (taker, market) = (o.account.0, o.market.0);
        let mut remaining = qty;
        let mut fills = 0u32;
        let mut visited = 0u32;
        for level in m.book.levels(o.side.opposite()) {
            if !crosses(o.side, limit, level.price) {
                return (false, visited);
            }
            let mut slot = level.head;
            while slot != NIL {
                let maker = self.orders.get(slot);
                slot = maker.next;
                visited += 1;
                // Counted as `match_level` counts: every maker acted on, cancels included.
                if fills >= self.limits.fills_per_taker_max {
                    return (false, visited);
                }
                if maker.account == taker && o.stp != SelfTradePrevention::Allow {
                    if o.stp == SelfTradePrevention::ExpireMaker {
                        fills += 1;
                        continue;
                    }
                    return (false, visited);
                }
                // As in `match_level`, a maker clamped by reduce-only is looked at again.
                let mut open = maker.qty_open;
                while open > 0 {
                    if fills >= self.limits.fills_per_taker_max {
                        return (false, visited);
                    }
                    let mut q = remaining.min(open);
                    if o.reduce_only {
                        let position =
                            self.accounts.position(taker, market) + delta[taker as usize];
                        let r = reducible(position, o.side);
                        if r == 0 {
                            return (false, visited);
                        }
                        q = q.min(r);
                    }
                    if maker.has(FLAG_REDUCE_ONLY) {
                        let position = self.accounts.position(maker.account, market)
                            + delta[maker.account as usize];
                        let r = reducible(position, maker.side);
                        if r == 0 {
                            // Matching cancels this maker (one action) and moves on.
                            fills += 1;
                            break;
                        }
                        q = q.min(r);
                    }
                    delta[maker.account as usize] += maker.side.sign() * q;
                    delta[taker as usize] += o.side.sign() * q;
                    fills += 1;
                    remaining -= q;
                    open -= q;
                    if remaining == 0 {
                        return (true, visited);
                    }
                }
            }
        }
        (false, visited)
    }

    /// Whether the fill-or-kill scratch is clear, as it must be between commands.
    pub(crate) fn fok_scratch_is_clear(&self) -> bool {
        self.fok_delta.iter().all(|d| *d == 0)
    }

    fn place(&mut self, seq: u64, o: &NewOrder) {
        let plan = match self.plan(o) {
            Ok(plan) => plan,
            Err(r) => return self.reject(o.account, o.client_ref, r),
        };
        // Last of the checks, after everything `plan` validates.
        if o.tif == TimeInForce::Fok && !self.fok_fillable(o, plan.limit, plan.qty) {
            return self.reject(o.account, o.client_ref, Reject::FokNotFillable);
        }
        let handle = match plan.handle {
            Some(h) => h,
            None => {
                let leverage = self
                    .market(o.market)
                    .map_or(1, crate::margin::default_leverage);
                self.accounts
                    .find_or_create(o.account.0, o.market.0, leverage)
                    .expect("invariant: room checked in plan")
            }
        };
        self.events.push(Event::Accepted {
            order_id: OrderId(seq),
            account: o.account,
            market: o.market,
            client_ref: o.client_ref,
            side: o.side,
            price: Price(plan.limit),
            qty: Qty(plan.qty),
        });
        let mut taker = Taker {
            id: seq,
            account: o.account.0,
            position: handle,
            market: o.market.0,
            side: o.side,
            limit: plan.limit,
            qty: plan.qty,
            reduce_only: o.reduce_only,
            stp: o.stp,
            fills: 0,
            filled_ticks: 0,
        };
        let stop = if plan.takes {
            let stop = self.match_taker(&mut taker);
            self.after_fills(o.account.0, o.market.0);
            stop
        } else {
            None
        };
        if o.tif == TimeInForce::Fok {
            assert_eq!(taker.qty, 0, "invariant: a fillable FOK fills in full");
        }
        if taker.qty == 0 {
            return;
        }
        match stop {
            None if plan.rests => {
                let mut flags = 0;
                if o.reduce_only {
                    flags |= FLAG_REDUCE_ONLY;
                }
                match o.tif {
                    TimeInForce::PostOnly => flags |= FLAG_POST_ONLY,
                    TimeInForce::PostOnlySlide => flags |= FLAG_POST_ONLY_SLIDE,
                    _ => {}
                }
                let mut slot =
                    OrderSlot::new(seq, o.account.0, o.market.0, o.side, plan.limit, taker.qty);
                slot.client_ref = o.client_ref;
                slot.flags = flags;
                slot.position = handle;
                // Room was checked in `plan`, and matching only frees slots.
                let index = self
                    .orders
                    .alloc(slot)
                    .expect("invariant: room checked in plan");
                self.link_account(index);
                self.rest_with(index, handle);
            }
            _ => self.events.push(Event::Cancelled {
                order_id: OrderId(seq),
                account: o.account,
                market: o.market,
                qty: Qty(taker.qty),
                reason: stop.unwrap_or(CancelReason::ImmediateRemainder),
            }),
        }
    }

    /// Links an allocated, unlinked slot into its book (its position record at hand) and emits
    /// `Rested` and `BookLevel`.
    fn rest_with(&mut self, index: u32, handle: u32) {
        let o = *self.orders.get(index);
        let m = self.markets[usize::from(o.market)]
            .as_mut()
            .expect("invariant: market exists");
        let level = m.book.push_back(&mut self.orders, index);
        let level = *m.book.level(level);
        Self::order_qty_at(&mut self.accounts, handle, o.side, o.qty_open);
        self.events.push(Event::Rested {
            order_id: OrderId(o.id),
            account: AccountId(o.account),
            market: MarketId(o.market),
            side: o.side,
            price: Price(o.price),
            qty: Qty(o.qty_open),
        });
        self.events.push(Event::BookLevel {
            market: MarketId(o.market),
            side: o.side,
            price: Price(o.price),
            qty: Qty(level.qty_total),
            orders: level.count,
        });
    }

    fn link_account(&mut self, index: u32) {
        let account = self.orders.get(index).account as usize;
        let head = self.accounts.order_head[account];
        {
            let o = self.orders.get_mut(index);
            o.account_prev = NIL;
            o.account_next = head;
        }
        if head != NIL {
            self.orders.get_mut(head).account_prev = index;
        }
        self.accounts.order_head[account] = index;
        self.accounts.orders_open[account] += 1;
    }

    fn unlink_account(orders: &mut Orders, accounts: &mut Accounts, index: u32) {
        let (account, prev, next) = {
            let o = orders.get(index);
            (o.account as usize, o.account_prev, o.account_next)
        };
        if prev == NIL {
            assert_eq!(
                accounts.order_head[account], index,
                "invariant: head of account list"
            );
            accounts.order_head[account] = next;
        } else {
            orders.get_mut(prev).account_next = next;
        }
        if next != NIL {
            orders.get_mut(next).account_prev = prev;
        }
        accounts.orders_open[account] -= 1;
    }

    /// Matches a taker against the opposite side until it is filled, stops crossing, or is
    /// expired; returns why it was expired, if it was.
    pub(crate) fn match_taker(&mut self, t: &mut Taker) -> Option<CancelReason> {
        let m = self.markets[usize::from(t.market)]
            .as_mut()
            .expect("invariant: market exists");
        let opposite = t.side.opposite();
        while t.qty > 0 {
            let level_idx = m.book.best(opposite)?;
            let price = m.book.level(level_idx).price;
            if !crosses(t.side, t.limit, price) {
                return None;
            }
            let mut core = Core {
                orders: &mut self.orders,
                accounts: &mut self.accounts,
                events: &mut self.events,
                treasury: &mut self.treasury,
                touched: &mut self.touched,
                fills_max: self.limits.fills_per_taker_max,
            };
            let (stop, gone) = Self::match_level(m, &mut core, t, level_idx);
            self.events
                .push(level_event(m, opposite, price, level_idx, gone));
            if stop.is_some() {
                return stop;
            }
        }
        None
    }

    /// Matches a taker against one level in time priority. Returns the expiry reason, if any,
    /// and whether the level is gone.
    #[allow(clippy::too_many_lines)]
    fn match_level(
        m: &mut Market,
        core: &mut Core<'_>,
        t: &mut Taker,
        level_idx: u32,
    ) -> (Option<CancelReason>, bool) {
        let market = MarketId(t.market);
        let fills_max = core.fills_max;
        loop {
            let (orders, accounts, events) =
                (&mut *core.orders, &mut *core.accounts, &mut *core.events);
            let maker_slot = m.book.level(level_idx).head;
            let maker = *orders.get(maker_slot);
            // Every maker the taker acts on (a fill, or a cancel by self-trade prevention or a
            // reduce-only clamp) counts against the limit, which bounds the events and the work
            // of one command.
            if t.fills >= fills_max {
                return (Some(CancelReason::FillsLimit), false);
            }
            if maker.account == t.account && t.stp != SelfTradePrevention::Allow {
                if t.stp == SelfTradePrevention::ExpireTaker {
                    return (Some(CancelReason::SelfTradeTaker), false);
                }
                t.fills += 1;
                let gone = Self::remove_resting(
                    m,
                    orders,
                    accounts,
                    events,
                    maker_slot,
                    CancelReason::SelfTradeMaker,
                );
                if t.stp == SelfTradePrevention::ExpireBoth {
                    return (Some(CancelReason::SelfTradeTaker), gone);
                }
                if gone {
                    return (None, true);
                }
                continue;
            }
            let mut qty = t.qty.min(maker.qty_open);
            if t.reduce_only {
                let r = reducible(accounts.position(t.account, t.market), t.side);
                if r == 0 {
                    return (Some(CancelReason::ReduceOnlyClamp), false);
                }
                qty = qty.min(r);
            }
            if maker.has(FLAG_REDUCE_ONLY) {
                let r = reducible(accounts.position(maker.account, t.market), maker.side);
                if r == 0 {
                    t.fills += 1;
                    let gone = Self::remove_resting(
                        m,
                        orders,
                        accounts,
                        events,
                        maker_slot,
                        CancelReason::ReduceOnlyClamp,
                    );
                    if gone {
                        return (None, true);
                    }
                    continue;
                }
                qty = qty.min(r);
            }
            // Settle the fill: both positions move by the same lots, so their sum stays zero,
            // and the quote moves from buyer to seller exactly.
            // A liquidation order pays the liquidation fee instead of the taker fee (so a fill at
            // the bankruptcy price leaves exactly zero), and its makers get no rebate, which
            // no taker fee would fund.
            let liquidation = t.id & LIQUIDATION_ORDER_BIT != 0;
            let (fee_maker, fee_taker) = m.risk.as_ref().map_or((None, None), |r| {
                if liquidation {
                    (Some(r.params.fee_ppm_maker.max(0)), None)
                } else {
                    (Some(r.params.fee_ppm_maker), Some(r.params.fee_ppm_taker))
                }
            });
            Self::settle_at(
                m,
                accounts,
                core.treasury,
                maker.position,
                maker.side,
                qty,
                maker.price,
                fee_maker,
            );
            Self::settle_at(
                m,
                accounts,
                core.treasury,
                t.position,
                t.side,
                qty,
                maker.price,
                fee_taker,
            );
            Self::order_qty(accounts, &maker, -qty);
            if m.risk.is_some() && core.touched.len() < core.touched.capacity() {
                core.touched.push(maker.account);
            }
            m.last_trade = Some(Price(maker.price));
            let left = m.book.take(orders, maker_slot, qty);
            t.qty -= qty;
            t.fills += 1;
            t.filled_ticks += i128::from(maker.price) * i128::from(qty);
            events.push(Event::Trade {
                market,
                maker_order: OrderId(maker.id),
                taker_order: OrderId(t.id),
                maker_account: AccountId(maker.account),
                taker_account: AccountId(t.account),
                taker_side: t.side,
                price: Price(maker.price),
                qty: Qty(qty),
                maker_open: Qty(left),
            });
            if left == 0 {
                let (_, gone) = m.book.unlink(orders, maker_slot);
                Self::unlink_account(orders, accounts, maker_slot);
                orders.free(maker_slot);
                if gone {
                    return (None, true);
                }
            }
            if t.qty == 0 {
                return (None, false);
            }
        }
    }

    /// Removes a resting order from book, account list and slab, emitting `Cancelled` (but not
    /// `BookLevel`). Returns whether its level is gone.
    fn remove_resting(
        m: &mut Market,
        orders: &mut Orders,
        accounts: &mut Accounts,
        events: &mut Vec<Event>,
        slot: u32,
        reason: CancelReason,
    ) -> bool {
        let o = *orders.get(slot);
        let (_, gone) = m.book.unlink(orders, slot);
        Self::order_qty(accounts, &o, -o.qty_open);
        Self::unlink_account(orders, accounts, slot);
        orders.free(slot);
        events.push(Event::Cancelled {
            order_id: OrderId(o.id),
            account: AccountId(o.account),
            market: MarketId(o.market),
            qty: Qty(o.qty_open),
            reason,
        });
        gone
    }

    /// Cancels one resting order and emits `Cancelled` and the level update.
    fn cancel_slot(&mut self, slot: u32, reason: CancelReason) {
        let o = *self.orders.get(slot);
        let m = self.markets[usize::from(o.market)]
            .as_mut()
            .expect("invariant: market exists");
        let level_idx = o.level;
        let gone = Self::remove_resting(
            m,
            &mut self.orders,
            &mut self.accounts,
            &mut self.events,
            slot,
            reason,
        );
        self.events
            .push(level_event(m, o.side, o.price, level_idx, gone));
    }

    // Always: a cancel or amend is little more than this lookup, and a call costs more than the
    // lookup's hit path.
    #[inline(always)]
    fn owned_slot(&self, account: AccountId, order_id: OrderId) -> Result<u32, Reject> {
        if account.0 >= self.limits.accounts_max {
            return Err(Reject::UnknownAccount);
        }
        let slot = self.orders.find(order_id.0).ok_or(Reject::UnknownOrder)?;
        if self.orders.get(slot).account != account.0 {
            return Err(Reject::NotOrderOwner);
        }
        Ok(slot)
    }

    fn cancel(&mut self, account: AccountId, order_id: OrderId) {
        match self.owned_slot(account, order_id) {
            Ok(slot) => self.cancel_slot(slot, CancelReason::UserRequested),
            Err(r) => self.reject(account, order_id.0, r),
        }
    }

    fn amend(&mut self, account: AccountId, order_id: OrderId, price: Price, qty: Qty) {
        if let Err(r) = self.try_amend(account, order_id, price.0, qty.0) {
            self.reject(account, order_id.0, r);
        }
    }

    fn try_amend(
        &mut self,
        account: AccountId,
        id: OrderId,
        price: i64,
        qty: i64,
    ) -> Result<(), Reject> {
        let slot = self.owned_slot(account, id)?;
        let o = *self.orders.get(slot);
        let m = self.markets[usize::from(o.market)]
            .as_ref()
            .expect("invariant: market exists");
        Self::validate_price_qty(m, price, qty)?;
        let mut qty = qty;
        if o.has(FLAG_REDUCE_ONLY) {
            let r = reducible(self.accounts.position(o.account, o.market), o.side);
            if r == 0 {
                return Err(Reject::ReduceOnlyWouldIncrease);
            }
            qty = qty.min(r);
        }
        if price == o.price && qty == o.qty_open {
            return Err(Reject::AmendNoChange);
        }
        if price == o.price && qty < o.qty_open {
            self.reduce_in_place(slot, qty);
            return Ok(());
        }
        // Losing priority: re-enter at the new price as a taker first.
        let mut price = price;
        let opposite_best = m.book.best_price(o.side.opposite());
        if let Some(best) = opposite_best.filter(|b| crosses(o.side, price, *b)) {
            if o.has(FLAG_POST_ONLY) {
                return Err(Reject::PostOnlyWouldCross);
            }
            if o.has(FLAG_POST_ONLY_SLIDE) {
                price = best - o.side.sign();
                if price <= 0 {
                    return Err(Reject::PostOnlyNoPrice);
                }
                Self::validate_price_qty(m, price, qty)?;
            }
        }
        let takes = opposite_best.is_some_and(|b| crosses(o.side, price, b));
        let alone = m.book.level(o.level).count == 1;
        if !alone && !m.book.can_rest(o.side, price) {
            return Err(Reject::LevelsLimit);
        }
        let h = o.position;
        if (qty > o.qty_open || price != o.price) && !o.has(FLAG_REDUCE_ONLY) {
            // The amended order replaces the old one: check the margin of the difference.
            let (buy, sell) = match o.side {
                Side::Buy => (qty - o.qty_open, 0),
                Side::Sell => (0, qty - o.qty_open),
            };
            if m.risk.is_none() {
                // A matching-only market checks only the size bound, on the record in place.
                crate::margin::check_reach(self.accounts.get(h), buy, sell, i64::MAX / 4)?;
            } else {
                // The record in place, with the old order's lots held on its side.
                let p = self.accounts.get(h);
                self.check_order_margin(p, Some(h), o.side, qty, o.qty_open, price)?;
            }
        }
        self.replace(slot, h, price, qty, takes);
        Ok(())
    }

    fn reduce_in_place(&mut self, slot: u32, qty: i64) {
        let o = *self.orders.get(slot);
        let m = self.markets[usize::from(o.market)]
            .as_mut()
            .expect("invariant: market exists");
        m.book.take(&mut self.orders, slot, o.qty_open - qty);
        Self::order_qty(&mut self.accounts, &o, qty - o.qty_open);
        let level = *m.book.level(o.level);
        self.events.push(Event::Reduced {
            order_id: OrderId(o.id),
            account: AccountId(o.account),
            market: MarketId(o.market),
            qty: Qty(qty),
        });
        self.events.push(Event::BookLevel {
            market: MarketId(o.market),
            side: o.side,
            price: Price(o.price),
            qty: Qty(level.qty_total),
            orders: level.count,
        });
    }

    /// Takes an order off its level, re-enters it at a new price and size (trading if it
    /// crosses: `takes`, judged before it left its level, which is on its own side), and rests
    /// what is left behind everything at its new price.
    fn replace(&mut self, slot: u32, handle: u32, price: i64, qty: i64, takes: bool) {
        let o = *self.orders.get(slot);
        let m = self.markets[usize::from(o.market)]
            .as_mut()
            .expect("invariant: market exists");
        let level_idx = o.level;
        let (_, gone) = m.book.unlink(&mut self.orders, slot);
        Self::order_qty_at(&mut self.accounts, handle, o.side, -o.qty_open);
        self.events
            .push(level_event(m, o.side, o.price, level_idx, gone));
        self.events.push(Event::Replaced {
            order_id: OrderId(o.id),
            account: AccountId(o.account),
            market: MarketId(o.market),
            price: Price(price),
            qty: Qty(qty),
        });
        let mut taker = Taker {
            id: o.id,
            account: o.account,
            position: handle,
            market: o.market,
            side: o.side,
            limit: price,
            qty,
            reduce_only: o.has(FLAG_REDUCE_ONLY),
            // Amends carry no STP mode of their own; the resting book is the venue's, so an
            // amend never trades with its own account.
            stp: SelfTradePrevention::ExpireTaker,
            fills: 0,
            filled_ticks: 0,
        };
        let stop = if takes {
            let stop = self.match_taker(&mut taker);
            self.after_fills(o.account, o.market);
            stop
        } else {
            None
        };
        if taker.qty > 0 && stop.is_none() {
            let s = self.orders.get_mut(slot);
            s.price = price;
            s.qty_open = taker.qty;
            self.rest_with(slot, handle);
            return;
        }
        Self::unlink_account(&mut self.orders, &mut self.accounts, slot);
        self.orders.free(slot);
        if taker.qty > 0 {
            self.events.push(Event::Cancelled {
                order_id: OrderId(o.id),
                account: AccountId(o.account),
                market: MarketId(o.market),
                qty: Qty(taker.qty),
                reason: stop.unwrap_or(CancelReason::ImmediateRemainder),
            });
        }
    }

    /// Cancels an account's resting orders (in one market or all) with a reason.
    pub(crate) fn cancel_account_orders(
        &mut self,
        account: u32,
        market: Option<u16>,
        reason: CancelReason,
    ) {
        let mut slot = self.accounts.order_head[account as usize];
        while slot != NIL {
            let current = slot;
            let o = *self.orders.get(current);
            slot = o.account_next;
            if market.is_none_or(|m| m == o.market) {
                self.cancel_slot(current, reason);
            }
        }
    }

    fn mass_cancel_account(&mut self, account: AccountId, market: Option<MarketId>) {
        if account.0 >= self.limits.accounts_max {
            return self.reject(account, 0, Reject::UnknownAccount);
        }
        if let Some(m) = market {
            if self.market(m).is_none() {
                return self.reject(account, u64::from(m.0), Reject::UnknownMarket);
            }
        }
        let mut slot = self.accounts.order_head[account.0 as usize];
        while slot != NIL {
            let current = slot;
            let o = *self.orders.get(current);
            // Read the next link first: cancelling frees only the current slot.
            slot = o.account_next;
            if market.is_none_or(|m| m.0 == o.market) {
                self.cancel_slot(current, CancelReason::MassCancel);
            }
        }
    }

    fn mass_cancel_market(&mut self, market: MarketId) {
        if self.market(market).is_none() {
            return self.reject(AccountId(0), u64::from(market.0), Reject::UnknownMarket);
        }
        for side in [Side::Buy, Side::Sell] {
            loop {
                let m = self.markets[usize::from(market.0)]
                    .as_ref()
                    .expect("checked above");
                let Some(level) = m.book.best(side) else {
                    break;
                };
                let slot = m.book.level(level).head;
                self.cancel_slot(slot, CancelReason::MassCancel);
            }
        }
    }
}

/// The parts of the engine the matching loop needs at once (split borrows).
pub(crate) struct Core<'a> {
    pub(crate) orders: &'a mut Orders,
    pub(crate) accounts: &'a mut Accounts,
    pub(crate) events: &'a mut Vec<Event>,
    pub(crate) treasury: &'a mut Treasury,
    pub(crate) touched: &'a mut Vec<u32>,
    pub(crate) fills_max: u32,
}

impl Engine {
    /// Adds `delta` lots to the resting-order total of an order's side in its position.
    #[inline]
    pub(crate) fn order_qty(accounts: &mut Accounts, o: &OrderSlot, delta: i64) {
        Self::order_qty_at(accounts, o.position, o.side, delta);
    }

    /// As [`Engine::order_qty`] for a known position record.
    #[inline]
    pub(crate) fn order_qty_at(accounts: &mut Accounts, h: u32, side: Side, delta: i64) {
        let p = accounts.get_mut(h);
        match side {
            Side::Buy => p.order_qty_buy += delta,
            Side::Sell => p.order_qty_sell += delta,
        }
        assert!(
            p.order_qty_buy >= 0 && p.order_qty_sell >= 0,
            "invariant: order totals ≥ 0"
        );
    }

    /// Settles one side of a fill: position size, quote balance, realized PnL and fee.
    ///
    /// # Rounding
    /// The part of the quote balance released by a reduction is truncated toward zero; the
    /// truncation stays in the position's quote balance, so nothing is created or lost. Fees
    /// round up, rebates down (against the account).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn settle_side(
        m: &mut Market,
        accounts: &mut Accounts,
        treasury: &mut Treasury,
        account: u32,
        side: Side,
        qty: i64,
        price: i64,
        fee_ppm: Option<i32>,
    ) {
        let h = accounts
            .find(account, m.spec.id.0)
            .expect("invariant: traders have a position record");
        Self::settle_at(m, accounts, treasury, h, side, qty, price, fee_ppm);
    }

    /// As [`Engine::settle_side`] for a known position record (the matching loop's case).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn settle_at(
        m: &mut Market,
        accounts: &mut Accounts,
        treasury: &mut Treasury,
        h: u32,
        side: Side,
        qty: i64,
        price: i64,
        fee_ppm: Option<i32>,
    ) {
        let account = accounts.get(h).account;
        let dir = side.sign();
        let p = accounts.get_mut(h);
        let before = p.size;
        let after = before
            .checked_add(dir * qty)
            .expect("invariant: position limit holds");
        p.size = after;
        let cross = p.mode == MarginMode::Cross;
        m.open_interest += after.max(0) - before.max(0);
        if cross && (before == 0) != (after == 0) {
            accounts.cross_open_changed(account, if after == 0 { -1 } else { 1 });
        }
        let p = accounts.get_mut(h);
        if m.risk.is_none() {
            // A matching-only market moves no money.
            return;
        }
        let c = m.spec.quote_per_tick_lot;
        let notional = crate::margin::notional(qty, price, c);
        let q0 = p.quote;
        let mut quote = i128::from(q0) - i128::from(dir * notional);
        let closing = if before != 0 && before.signum() != dir {
            qty.min(before.abs())
        } else {
            0
        };
        let mut realized = 0i128;
        if closing > 0 {
            // The share of the old balance that belonged to the closed lots, plus what closing
            // them paid or received.
            // Truncated toward zero; in 64 bits when the product fits (the usual case: a
            // 128-bit division is a library call several times slower), with the same result.
            let share = match q0.checked_mul(closing) {
                Some(product) => i128::from(product / before.abs()),
                None => i128::from(q0) * i128::from(closing) / i128::from(before.abs()),
            };
            // The closed lots' notional: within the spec, as the fill's is (closing ≤ qty).
            let proceeds =
                -i128::from(dir) * i128::from(crate::margin::notional(closing, price, c));
            realized = share + proceeds;
            quote -= realized;
        }
        if after == 0 {
            assert_eq!(
                quote, 0,
                "invariant: a flat position holds no quote balance"
            );
        }
        let realized = i64::try_from(realized).expect("invariant: realized PnL fits");
        p.quote = i64::try_from(quote).expect("invariant: quote balance fits");
        p.realized_pnl += realized;
        // A zero rate (no fee) charges nothing: skip the division.
        let fee = fee_ppm.filter(|ppm| *ppm != 0).map_or(0, |ppm| {
            let rounding = if ppm >= 0 {
                Rounding::Ceil
            } else {
                Rounding::Floor
            };
            mul_div_i64(notional, i64::from(ppm), Ppm::ONE, rounding).expect("invariant: fee fits")
        });
        treasury.fee_pool += fee;
        let isolated = p.mode == MarginMode::Isolated;
        if isolated {
            p.isolated_margin += realized - fee;
            if after == 0 && p.order_qty_buy == 0 && p.order_qty_sell == 0 {
                // A closed isolated position hands its margin back to the cross pool.
                let back = core::mem::take(&mut p.isolated_margin);
                accounts.collateral[account as usize] += back;
            }
        } else {
            accounts.collateral[account as usize] += realized - fee;
        }
    }

    /// After a command's fills in a margined market: refresh the triggers of every account
    /// that traded.
    #[inline]
    pub(crate) fn after_fills(&mut self, taker: u32, market: u16) {
        // Triggers move only when positions or money do: a command that traded nothing (the
        // vast majority of places and amends) refreshes nothing.
        if !self.touched.is_empty() {
            self.refresh_touched(taker, market);
        }
    }

    fn refresh_touched(&mut self, taker: u32, market: u16) {
        let margined = self.markets[usize::from(market)]
            .as_ref()
            .is_some_and(|m| m.risk.is_some());
        if !margined {
            self.touched.clear();
            return;
        }
        self.refresh_account(taker);
        let mut i = 0;
        while i < self.touched.len() {
            let account = self.touched[i];
            self.refresh_account(account);
            i += 1;
        }
        self.touched.clear();
    }
}

/// The L2 update for a level after a change: its total and order count, or zero when gone.
fn level_event(m: &Market, side: Side, price: i64, level_idx: u32, gone: bool) -> Event {
    let (qty, orders) = if gone {
        (0, 0)
    } else {
        let level = m.book.level(level_idx);
        (level.qty_total, level.count)
    };
    Event::BookLevel {
        market: m.spec.id,
        side,
        price: Price(price),
        qty: Qty(qty),
        orders,
    }
}

fn command_account(cmd: &Command) -> AccountId {
    match cmd {
        Command::Place(o) => o.account,
        Command::Cancel { account, .. }
        | Command::Amend { account, .. }
        | Command::MassCancelAccount { account, .. }
        | Command::Deposit { account, .. }
        | Command::Withdraw { account, .. }
        | Command::SetLeverage { account, .. }
        | Command::SetMarginMode { account, .. }
        | Command::TransferIsolatedMargin { account, .. } => *account,
        _ => AccountId(0),
    }
}

fn command_ref(cmd: &Command) -> u64 {
    match cmd {
        Command::Place(o) => o.client_ref,
        Command::Cancel { order_id, .. } | Command::Amend { order_id, .. } => order_id.0,
        Command::AddMarket(spec) => u64::from(spec.id.0),
        Command::SetReferencePrice { market, .. } | Command::MassCancelMarket { market } => {
            u64::from(market.0)
        }
        Command::SetLeverage { market, .. }
        | Command::SetMarginMode { market, .. }
        | Command::TransferIsolatedMargin { market, .. }
        | Command::SetRiskParams { market, .. }
        | Command::SetIndexPrice { market, .. }
        | Command::FundingTick { market } => u64::from(market.0),
        Command::MassCancelAccount { .. }
        | Command::Deposit { .. }
        | Command::Withdraw { .. }
        | Command::SetBackstopAccount { .. }
        | Command::InsuranceDeposit { .. } => 0,
    }
}
