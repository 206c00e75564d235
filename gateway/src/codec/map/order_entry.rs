//! OUCH order entry for one account: inbound messages → engine commands, and the engine's
//! events → the account's execution reports.
//!
//! # Layout
//! [`OuchAccount`] holds, for one OUCH account (UserRefNums are per account, so every session
//! of the account shares it): the UserRefNum watermark, the new orders awaiting their
//! `Accepted`, and the live orders by UserRefNum and by `OrderId`, each with the fields an
//! execution report echoes (ClOrdID, TIF, display, capacity, …) and the one cancel, replace or
//! modify that may be in flight for it.
//!
//! # Invariants
//! - A UserRefNum is consumed by the first message that carries it, accepted or not, and a
//!   message whose UserRefNum is not above the watermark is ignored: a retransmission is never
//!   executed twice.
//! - Every request sent to the engine is answered exactly once: by its success events
//!   (`Accepted`, `Cancelled`, `Reduced`, `Replaced`) or by its `Rejected`. An order that ends
//!   while a request for it is in flight stays in the table, closed, until the request's
//!   `Rejected` arrives.
//!
//! # Known limitations
//! A cancel, replace or modify can name only an order whose Order Accepted has been produced:
//! its engine `OrderId` is the sequence number the sequencer gives the Enter Order, unknown
//! before. Earlier, it is rejected with `unknown_user_ref_num`.

use std::collections::HashMap;

use cascade_engine::state::LIQUIDATION_ORDER_BIT;
use cascade_engine::{
    AccountId, CancelReason, Command, Event, MarketId, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Side, TimeInForce,
};
use cascade_risk::{Price, Qty};

use super::registry::{lots_to_u32, MarketRegistry};
use super::{match_number, Batch, MapReject, UserRefNumCheck};
use crate::codec::ouch::{
    self, cancel_reason, capacity, cross_type, display, intermarket_sweep, liquidity_flag,
    order_state, tag, time_in_force, AccountQueryResponse, Appendage, CancelReject, EnterOrder,
    Inbound, OrderAccepted, OrderCanceled, OrderExecuted, OrderModified, OrderReplaced, Outbound,
    ReplaceOrder,
};
use crate::codec::wire::ns_since_midnight;

/// What the gateway does with one inbound OUCH message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundAction {
    /// Sequence this command; its events answer the client.
    Submit(Command),
    /// Answer at once; the engine is not involved (Account Query).
    Reply(Outbound<'static>),
    /// Refuse at once with this message (Rejected or Cancel Reject); `reason` is for logs, and
    /// is also in the message when the message has a reason field.
    Reject {
        /// The answer for the client.
        reply: Outbound<'static>,
        /// Why.
        reason: MapReject,
    },
    /// Drop without an answer: a retransmitted UserRefNum, already consumed.
    Ignore(MapReject),
}

/// The fields an execution report echoes back as the client sent them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Echo {
    side: u8,
    symbol: [u8; 8],
    time_in_force: u8,
    display: u8,
    capacity: u8,
    intermarket_sweep: u8,
    cross_type: u8,
    cl_ord_id: [u8; 14],
}

impl Echo {
    fn of(m: &EnterOrder<'_>) -> Self {
        Self {
            side: m.side,
            symbol: m.symbol,
            time_in_force: m.time_in_force,
            display: m.display,
            capacity: m.capacity,
            intermarket_sweep: m.intermarket_sweep,
            cross_type: m.cross_type,
            cl_ord_id: m.cl_ord_id,
        }
    }
}

/// A request in flight for a live order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    /// Cancel Order with quantity 0.
    Cancel,
    /// Cancel Order with a smaller quantity.
    Reduce,
    /// Modify Order.
    Modify,
    /// Replace Order.
    Replace(Replacement),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Replacement {
    user_ref_num: u32,
    cl_ord_id: [u8; 14],
    display: u8,
    intermarket_sweep: u8,
}

#[derive(Clone, Copy, Debug)]
struct LiveOrder {
    user_ref_num: u32,
    market: MarketId,
    side: Side,
    price: Price,
    open: Qty,
    echo: Echo,
    pending: Option<Pending>,
    /// The order is done but a request for it awaits its `Rejected`.
    closed: bool,
}

/// One OUCH account's order table and UserRefNum check.
#[derive(Clone, Debug)]
pub struct OuchAccount {
    account: AccountId,
    orders_max: usize,
    refs: UserRefNumCheck,
    entering: HashMap<u32, Echo>,
    live: HashMap<u32, OrderId>,
    orders: HashMap<u64, LiveOrder>,
}

/// Options read from an Enter Order appendage.
#[derive(Clone, Copy, Debug, Default)]
struct Options {
    min_qty: Option<u32>,
    post_only: Option<u8>,
    reduce_only: bool,
    stp: Option<SelfTradePrevention>,
    market: bool,
}

fn one_byte(value: &[u8]) -> Result<u8, MapReject> {
    match value {
        [b] => Ok(*b),
        _ => Err(MapReject::AppendageValueInvalid),
    }
}

fn four_bytes(value: &[u8]) -> Result<u32, MapReject> {
    <[u8; 4]>::try_from(value)
        .map(u32::from_be_bytes)
        .map_err(|_| MapReject::AppendageValueInvalid)
}

/// Reads an appendage. `order_fields` admits the tags that shape a new order (MinQty,
/// PostOnly, Cascade's private tags); a replace admits only the informational ones.
fn parse_options(appendage: Appendage<'_>, order_fields: bool) -> Result<Options, MapReject> {
    let mut seen = [false; 256];
    let mut opts = Options::default();
    for tv in appendage {
        let seen_tag = &mut seen[usize::from(tv.tag)];
        if *seen_tag {
            return Err(MapReject::AppendageTagRepeated);
        }
        *seen_tag = true;
        match tv.tag {
            tag::FIRM => {
                if tv.value.len() != 4 {
                    return Err(MapReject::AppendageValueInvalid);
                }
            }
            tag::CUSTOMER_TYPE | tag::HANDLE_INST | tag::BBO_WEIGHT_INDICATOR => {
                one_byte(tv.value)?;
            }
            tag::MAX_FLOOR if order_fields => {
                if four_bytes(tv.value)? != 0 {
                    return Err(MapReject::AppendageTagUnsupported);
                }
            }
            tag::PRICE_TYPE if order_fields => {
                if one_byte(tv.value)? != b'L' {
                    return Err(MapReject::AppendageTagUnsupported);
                }
            }
            tag::MIN_QTY if order_fields => opts.min_qty = Some(four_bytes(tv.value)?),
            tag::POST_ONLY if order_fields => {
                opts.post_only = match one_byte(tv.value)? {
                    b'N' => None,
                    v @ (b'P' | b'S') => Some(v),
                    _ => return Err(MapReject::AppendageValueInvalid),
                };
            }
            tag::CASCADE_REDUCE_ONLY if order_fields => {
                opts.reduce_only = match one_byte(tv.value)? {
                    b'Y' => true,
                    b'N' => false,
                    _ => return Err(MapReject::AppendageValueInvalid),
                };
            }
            tag::CASCADE_SELF_TRADE if order_fields => {
                opts.stp = Some(match one_byte(tv.value)? {
                    b'N' => SelfTradePrevention::Allow,
                    b'T' => SelfTradePrevention::ExpireTaker,
                    b'M' => SelfTradePrevention::ExpireMaker,
                    b'B' => SelfTradePrevention::ExpireBoth,
                    _ => return Err(MapReject::AppendageValueInvalid),
                });
            }
            tag::CASCADE_ORDER_TYPE if order_fields => {
                opts.market = match one_byte(tv.value)? {
                    b'L' => false,
                    b'M' => true,
                    _ => return Err(MapReject::AppendageValueInvalid),
                };
            }
            _ => return Err(MapReject::AppendageTagUnsupported),
        }
    }
    Ok(opts)
}

/// Maps an OUCH side: `B` and `S` only.
///
/// # Errors
/// [`MapReject::SideShortSaleUnsupported`] for `T`/`E`, [`MapReject::SideInvalid`] otherwise.
pub fn side_of(side: u8) -> Result<Side, MapReject> {
    match side {
        ouch::side::BUY => Ok(Side::Buy),
        ouch::side::SELL => Ok(Side::Sell),
        ouch::side::SELL_SHORT | ouch::side::SELL_SHORT_EXEMPT => {
            Err(MapReject::SideShortSaleUnsupported)
        }
        _ => Err(MapReject::SideInvalid),
    }
}

/// The OUCH side byte of an engine side.
#[must_use]
pub const fn side_byte(side: Side) -> u8 {
    match side {
        Side::Buy => ouch::side::BUY,
        Side::Sell => ouch::side::SELL,
    }
}

/// Maps OUCH time in force plus the PostOnly and MinQty options to the engine's.
fn time_in_force_of(tif: u8, opts: &Options, quantity: u32) -> Result<TimeInForce, MapReject> {
    match tif {
        time_in_force::DAY => {
            if opts.min_qty.is_some_and(|q| q != 0) {
                return Err(MapReject::MinQtyUnsupported);
            }
            if opts.market && opts.post_only.is_some() {
                return Err(MapReject::PostOnlyNotResting);
            }
            Ok(match opts.post_only {
                Some(b'P') => TimeInForce::PostOnly,
                Some(_) => TimeInForce::PostOnlySlide,
                None => TimeInForce::Gtc,
            })
        }
        time_in_force::IOC => {
            if opts.post_only.is_some() {
                return Err(MapReject::PostOnlyNotResting);
            }
            match opts.min_qty {
                None | Some(0) => Ok(TimeInForce::Ioc),
                Some(q) if q == quantity => Ok(TimeInForce::Fok),
                Some(_) => Err(MapReject::MinQtyUnsupported),
            }
        }
        time_in_force::GTX | time_in_force::GTT | time_in_force::AFTER_HOURS => {
            Err(MapReject::TimeInForceUnsupported)
        }
        _ => Err(MapReject::TimeInForceInvalid),
    }
}

fn check_display(value: u8) -> Result<(), MapReject> {
    if value == display::VISIBLE {
        Ok(())
    } else {
        Err(MapReject::DisplayUnsupported)
    }
}

fn check_intermarket_sweep(value: u8) -> Result<(), MapReject> {
    match value {
        intermarket_sweep::ELIGIBLE | intermarket_sweep::NOT_ELIGIBLE => Ok(()),
        _ => Err(MapReject::IntermarketSweepInvalid),
    }
}

/// Maps an Enter Order to a new order, checking fields in wire order.
///
/// # Errors
/// The [`MapReject`] of the first bad field.
pub fn new_order(
    account: AccountId,
    m: &EnterOrder<'_>,
    registry: &MarketRegistry,
) -> Result<NewOrder, MapReject> {
    let side = side_of(m.side)?;
    let spec = registry.lookup(&m.symbol).ok_or(MapReject::UnknownSymbol)?;
    let market = spec.id;
    let opts = parse_options(m.appendage, true)?;
    let tif = time_in_force_of(m.time_in_force, &opts, m.quantity)?;
    check_display(m.display)?;
    match m.capacity {
        capacity::AGENCY | capacity::PRINCIPAL | capacity::RISKLESS | capacity::OTHER => {}
        _ => return Err(MapReject::CapacityInvalid),
    }
    check_intermarket_sweep(m.intermarket_sweep)?;
    if m.cross_type != cross_type::CONTINUOUS {
        return Err(MapReject::CrossTypeUnsupported);
    }
    let (kind, price) = if opts.market {
        (OrderKind::Market, Price(0))
    } else {
        (
            OrderKind::Limit,
            registry.ouch_price_to_ticks(market, m.price)?,
        )
    };
    Ok(NewOrder {
        account,
        market,
        client_ref: u64::from(m.user_ref_num),
        side,
        kind,
        price,
        qty: Qty(i64::from(m.quantity)),
        tif,
        reduce_only: opts.reduce_only,
        stp: opts.stp.unwrap_or(SelfTradePrevention::Allow),
    })
}

/// The OUCH Order Canceled reason of an engine cancel reason.
#[must_use]
pub const fn cancel_reason_byte(reason: CancelReason) -> u8 {
    match reason {
        CancelReason::UserRequested => cancel_reason::USER_REQUESTED,
        CancelReason::MassCancel => cancel_reason::MASS_CANCEL,
        CancelReason::ImmediateRemainder => cancel_reason::IMMEDIATE_OR_CANCEL,
        CancelReason::SelfTradeTaker | CancelReason::SelfTradeMaker => {
            cancel_reason::SELF_MATCH_PREVENTION
        }
        CancelReason::FillsLimit => cancel_reason::SYSTEM,
        CancelReason::ReduceOnlyClamp => cancel_reason::REDUCE_ONLY,
        CancelReason::Liquidation => cancel_reason::LIQUIDATION,
    }
}

const BLANK_CL_ORD_ID: [u8; 14] = [b' '; 14];

impl OuchAccount {
    /// The order table of `account`, holding at most `orders_max` orders (entering and live).
    /// Its maps are sized for up to 1,024 orders at once and grow beyond.
    #[must_use]
    pub fn new(account: AccountId, orders_max: usize) -> Self {
        let room = orders_max.min(1_024);
        Self {
            account,
            orders_max,
            refs: UserRefNumCheck::default(),
            entering: HashMap::with_capacity(room),
            live: HashMap::with_capacity(room),
            orders: HashMap::with_capacity(room),
        }
    }

    /// The engine account.
    #[must_use]
    pub const fn account(&self) -> AccountId {
        self.account
    }

    /// The UserRefNum watermark.
    #[must_use]
    pub const fn user_refs(&self) -> UserRefNumCheck {
        self.refs
    }

    /// Orders entered and not yet accepted, plus orders live (or closed with a request in
    /// flight).
    #[must_use]
    pub fn orders(&self) -> usize {
        self.entering.len() + self.orders.len()
    }

    /// The engine id of the live order with this UserRefNum.
    #[must_use]
    pub fn order_id(&self, user_ref_num: u32) -> Option<OrderId> {
        self.live.get(&user_ref_num).copied()
    }

    /// Maps one inbound message. `ts_ns` stamps an immediate answer.
    pub fn on_inbound(
        &mut self,
        msg: &Inbound<'_>,
        registry: &MarketRegistry,
        ts_ns: u64,
    ) -> InboundAction {
        let timestamp = ns_since_midnight(ts_ns);
        match msg {
            Inbound::EnterOrder(m) => self.enter(m, registry, timestamp),
            Inbound::ReplaceOrder(m) => self.replace(m, registry, timestamp),
            Inbound::CancelOrder(m) => {
                let account = self.account;
                let reject = |reason: MapReject| InboundAction::Reject {
                    reply: Outbound::CancelReject(CancelReject {
                        timestamp,
                        user_ref_num: m.user_ref_num,
                    }),
                    reason,
                };
                let (order_id, order) = match self.live_order(m.user_ref_num) {
                    Ok(found) => found,
                    Err(reason) => return reject(reason),
                };
                if m.quantity == 0 {
                    order.pending = Some(Pending::Cancel);
                    return InboundAction::Submit(Command::Cancel { account, order_id });
                }
                let qty = Qty(i64::from(m.quantity));
                if qty >= order.open {
                    return reject(MapReject::QtyNotReduced);
                }
                order.pending = Some(Pending::Reduce);
                InboundAction::Submit(Command::Amend {
                    account,
                    order_id,
                    price: order.price,
                    qty,
                })
            }
            Inbound::ModifyOrder(m) => {
                let account = self.account;
                let cl_ord_id = self
                    .live
                    .get(&m.user_ref_num)
                    .and_then(|id| self.orders.get(&id.0))
                    .map_or(BLANK_CL_ORD_ID, |o| o.echo.cl_ord_id);
                let reject = |reason: MapReject| InboundAction::Reject {
                    reply: Outbound::Rejected(ouch::Rejected {
                        timestamp,
                        user_ref_num: m.user_ref_num,
                        reason: reason.code(),
                        cl_ord_id,
                    }),
                    reason,
                };
                let (order_id, order) = match self.live_order(m.user_ref_num) {
                    Ok(found) => found,
                    Err(reason) => return reject(reason),
                };
                match side_of(m.side) {
                    Ok(side) if side == order.side => {}
                    Ok(_) => return reject(MapReject::ModifySideChange),
                    Err(reason) => return reject(reason),
                }
                let qty = Qty(i64::from(m.quantity));
                if qty.0 == 0 || qty >= order.open {
                    return reject(MapReject::QtyNotReduced);
                }
                order.pending = Some(Pending::Modify);
                InboundAction::Submit(Command::Amend {
                    account,
                    order_id,
                    price: order.price,
                    qty,
                })
            }
            Inbound::AccountQuery => {
                InboundAction::Reply(Outbound::AccountQueryResponse(AccountQueryResponse {
                    timestamp,
                    next_user_ref_num: self.refs.next(),
                }))
            }
        }
    }

    /// The live order with this UserRefNum, with no request in flight.
    fn live_order(&mut self, user_ref_num: u32) -> Result<(OrderId, &mut LiveOrder), MapReject> {
        let order_id = *self
            .live
            .get(&user_ref_num)
            .ok_or(MapReject::UnknownUserRefNum)?;
        let order = self
            .orders
            .get_mut(&order_id.0)
            .filter(|o| !o.closed)
            .ok_or(MapReject::UnknownUserRefNum)?;
        if order.pending.is_some() {
            return Err(MapReject::RequestPending);
        }
        Ok((order_id, order))
    }

    fn enter(
        &mut self,
        m: &EnterOrder<'_>,
        registry: &MarketRegistry,
        timestamp: u64,
    ) -> InboundAction {
        if let Err(reason) = self.refs.consume(m.user_ref_num) {
            return InboundAction::Ignore(reason);
        }
        let checked = if self.orders() >= self.orders_max {
            Err(MapReject::OrdersLimit)
        } else {
            new_order(self.account, m, registry)
        };
        match checked {
            Ok(order) => {
                self.entering.insert(m.user_ref_num, Echo::of(m));
                InboundAction::Submit(Command::Place(order))
            }
            Err(reason) => InboundAction::Reject {
                reply: Outbound::Rejected(ouch::Rejected {
                    timestamp,
                    user_ref_num: m.user_ref_num,
                    reason: reason.code(),
                    cl_ord_id: m.cl_ord_id,
                }),
                reason,
            },
        }
    }

    fn replace(
        &mut self,
        m: &ReplaceOrder<'_>,
        registry: &MarketRegistry,
        timestamp: u64,
    ) -> InboundAction {
        if let Err(reason) = self.refs.consume(m.user_ref_num) {
            return InboundAction::Ignore(reason);
        }
        let account = self.account;
        let checked = self
            .live_order(m.orig_user_ref_num)
            .and_then(|(order_id, order)| {
                if m.time_in_force != order.echo.time_in_force {
                    return Err(MapReject::ReplaceFieldChange);
                }
                check_display(m.display)?;
                check_intermarket_sweep(m.intermarket_sweep)?;
                parse_options(m.appendage, false)?;
                let price = registry.ouch_price_to_ticks(order.market, m.price)?;
                order.pending = Some(Pending::Replace(Replacement {
                    user_ref_num: m.user_ref_num,
                    cl_ord_id: m.cl_ord_id,
                    display: m.display,
                    intermarket_sweep: m.intermarket_sweep,
                }));
                Ok(Command::Amend {
                    account,
                    order_id,
                    price,
                    qty: Qty(i64::from(m.quantity)),
                })
            });
        match checked {
            Ok(command) => InboundAction::Submit(command),
            Err(reason) => InboundAction::Reject {
                reply: Outbound::Rejected(ouch::Rejected {
                    timestamp,
                    user_ref_num: m.user_ref_num,
                    reason: reason.code(),
                    cl_ord_id: m.cl_ord_id,
                }),
                reason,
            },
        }
    }

    /// Turns one command's events into this account's OUCH messages, in order.
    pub fn on_batch(
        &mut self,
        batch: &Batch<'_>,
        registry: &MarketRegistry,
        out: &mut impl FnMut(Outbound<'static>),
    ) {
        let timestamp = ns_since_midnight(batch.ts_ns);
        let mut trades: u64 = 0;
        for event in batch.events {
            match *event {
                Event::Trade {
                    market,
                    maker_order,
                    taker_order,
                    maker_account,
                    taker_account,
                    price,
                    qty,
                    maker_open,
                    ..
                } => {
                    let fill = Fill {
                        timestamp,
                        price: registry.ticks_to_ouch_price(market, price),
                        qty,
                        match_number: match_number(batch.seq, trades),
                    };
                    trades += 1;
                    if maker_account == self.account {
                        self.on_fill(maker_order, fill, Some(maker_open), out);
                    }
                    if taker_account == self.account {
                        self.on_fill(taker_order, fill, None, out);
                    }
                }
                Event::Accepted {
                    order_id,
                    account,
                    market,
                    client_ref,
                    side,
                    price,
                    qty,
                } if account == self.account => {
                    let own = matches!(batch.command,
                        Command::Place(o) if o.account == account && o.client_ref == client_ref);
                    let Some(user_ref_num) = u32::try_from(client_ref).ok().filter(|_| own) else {
                        continue;
                    };
                    let Some(echo) = self.entering.remove(&user_ref_num) else {
                        continue;
                    };
                    self.live.insert(user_ref_num, order_id);
                    self.orders.insert(
                        order_id.0,
                        LiveOrder {
                            user_ref_num,
                            market,
                            side,
                            price,
                            open: qty,
                            echo,
                            pending: None,
                            closed: false,
                        },
                    );
                    out(Outbound::OrderAccepted(OrderAccepted {
                        timestamp,
                        user_ref_num,
                        side: echo.side,
                        quantity: lots_to_u32(qty),
                        symbol: echo.symbol,
                        price: registry.ticks_to_ouch_price(market, price),
                        time_in_force: echo.time_in_force,
                        display: echo.display,
                        order_reference_number: order_id.0,
                        capacity: echo.capacity,
                        intermarket_sweep: echo.intermarket_sweep,
                        cross_type: echo.cross_type,
                        order_state: order_state::LIVE,
                        cl_ord_id: echo.cl_ord_id,
                        appendage: Appendage::EMPTY,
                    }));
                }
                Event::Rejected {
                    account,
                    client_ref,
                    reason,
                } if account == self.account => {
                    self.on_rejected(batch.command, client_ref, reason.code(), timestamp, out);
                }
                Event::Rested {
                    order_id,
                    account,
                    price,
                    qty,
                    ..
                } if account == self.account => {
                    if let Some(o) = self.orders.get_mut(&order_id.0) {
                        o.price = price;
                        o.open = qty;
                    }
                }
                Event::Cancelled {
                    order_id,
                    account,
                    qty,
                    reason,
                    ..
                } if account == self.account => {
                    let Some(o) = self.orders.get_mut(&order_id.0).filter(|o| !o.closed) else {
                        continue;
                    };
                    let own_cancel = matches!(batch.command,
                        Command::Cancel { order_id: id, .. } if *id == order_id);
                    if own_cancel && o.pending == Some(Pending::Cancel) {
                        o.pending = None;
                    }
                    out(Outbound::OrderCanceled(OrderCanceled {
                        timestamp,
                        user_ref_num: o.user_ref_num,
                        quantity: lots_to_u32(qty),
                        reason: cancel_reason_byte(reason),
                    }));
                    o.open = Qty(0);
                    self.close(order_id);
                }
                Event::Reduced {
                    order_id,
                    account,
                    qty,
                    ..
                } if account == self.account => {
                    self.on_amended(batch.command, order_id, None, qty, timestamp, registry, out);
                }
                Event::Replaced {
                    order_id,
                    account,
                    price,
                    qty,
                    ..
                } if account == self.account => {
                    self.on_amended(
                        batch.command,
                        order_id,
                        Some(price),
                        qty,
                        timestamp,
                        registry,
                        out,
                    );
                }
                _ => {}
            }
        }
    }

    fn on_fill(
        &mut self,
        order_id: OrderId,
        fill: Fill,
        maker_open: Option<Qty>,
        out: &mut impl FnMut(Outbound<'static>),
    ) {
        let executed = |user_ref_num, liquidity_flag| {
            Outbound::OrderExecuted(OrderExecuted {
                timestamp: fill.timestamp,
                user_ref_num,
                quantity: lots_to_u32(fill.qty),
                price: fill.price,
                liquidity_flag,
                match_number: fill.match_number,
                appendage: Appendage::EMPTY,
            })
        };
        match self.orders.get_mut(&order_id.0).filter(|o| !o.closed) {
            Some(o) => {
                let flag = if maker_open.is_some() {
                    liquidity_flag::ADDED
                } else {
                    liquidity_flag::REMOVED
                };
                out(executed(o.user_ref_num, flag));
                o.open = maker_open.unwrap_or(Qty(o.open.0.saturating_sub(fill.qty.0)));
                if o.open.0 <= 0 {
                    self.close(order_id);
                }
            }
            None if maker_open.is_none() && order_id.0 & LIQUIDATION_ORDER_BIT != 0 => {
                out(executed(0, liquidity_flag::LIQUIDATION));
            }
            None => {}
        }
    }

    /// Answers a request the engine refused.
    fn on_rejected(
        &mut self,
        command: &Command,
        client_ref: u64,
        reason: u16,
        timestamp: u64,
        out: &mut impl FnMut(Outbound<'static>),
    ) {
        match command {
            Command::Place(o) if o.account == self.account && o.client_ref == client_ref => {
                let Ok(user_ref_num) = u32::try_from(client_ref) else {
                    return;
                };
                if let Some(echo) = self.entering.remove(&user_ref_num) {
                    out(Outbound::Rejected(ouch::Rejected {
                        timestamp,
                        user_ref_num,
                        reason,
                        cl_ord_id: echo.cl_ord_id,
                    }));
                }
            }
            Command::Cancel {
                account, order_id, ..
            }
            | Command::Amend {
                account, order_id, ..
            } if *account == self.account && order_id.0 == client_ref => {
                let Some(o) = self.orders.get_mut(&order_id.0) else {
                    return;
                };
                let user_ref_num = o.user_ref_num;
                let reply = match o.pending.take() {
                    Some(Pending::Cancel | Pending::Reduce) => {
                        Outbound::CancelReject(CancelReject {
                            timestamp,
                            user_ref_num,
                        })
                    }
                    Some(Pending::Modify) => Outbound::Rejected(ouch::Rejected {
                        timestamp,
                        user_ref_num,
                        reason,
                        cl_ord_id: o.echo.cl_ord_id,
                    }),
                    Some(Pending::Replace(r)) => Outbound::Rejected(ouch::Rejected {
                        timestamp,
                        user_ref_num: r.user_ref_num,
                        reason,
                        cl_ord_id: r.cl_ord_id,
                    }),
                    None => return,
                };
                out(reply);
                if o.closed {
                    self.orders.remove(&order_id.0);
                }
            }
            _ => {}
        }
    }

    /// Reports a `Reduced` (`price` is `None`) or a `Replaced`.
    #[allow(clippy::too_many_arguments)]
    fn on_amended(
        &mut self,
        command: &Command,
        order_id: OrderId,
        price: Option<Price>,
        qty: Qty,
        timestamp: u64,
        registry: &MarketRegistry,
        out: &mut impl FnMut(Outbound<'static>),
    ) {
        let Some(o) = self.orders.get_mut(&order_id.0).filter(|o| !o.closed) else {
            return;
        };
        let own = matches!(command, Command::Amend { order_id: id, .. } if *id == order_id);
        let pending = if own { o.pending.take() } else { None };
        let old_open = o.open;
        o.open = qty;
        if let Some(p) = price {
            o.price = p;
        }
        let orig = o.user_ref_num;
        if let Some(Pending::Replace(r)) = pending {
            o.user_ref_num = r.user_ref_num;
            o.echo.cl_ord_id = r.cl_ord_id;
            o.echo.display = r.display;
            o.echo.intermarket_sweep = r.intermarket_sweep;
            self.live.remove(&orig);
            self.live.insert(r.user_ref_num, order_id);
        }
        let reduced_by = lots_to_u32(Qty(old_open.0.saturating_sub(qty.0)));
        let message = match (pending, price) {
            (Some(Pending::Modify), None) => Outbound::OrderModified(OrderModified {
                timestamp,
                user_ref_num: o.user_ref_num,
                side: o.echo.side,
                quantity: lots_to_u32(qty),
            }),
            (Some(Pending::Replace(_)), _) | (_, Some(_)) => {
                Outbound::OrderReplaced(OrderReplaced {
                    timestamp,
                    orig_user_ref_num: orig,
                    user_ref_num: o.user_ref_num,
                    side: o.echo.side,
                    quantity: lots_to_u32(qty),
                    symbol: o.echo.symbol,
                    price: registry.ticks_to_ouch_price(o.market, o.price),
                    time_in_force: o.echo.time_in_force,
                    display: o.echo.display,
                    order_reference_number: order_id.0,
                    capacity: o.echo.capacity,
                    intermarket_sweep: o.echo.intermarket_sweep,
                    cross_type: o.echo.cross_type,
                    order_state: order_state::LIVE,
                    cl_ord_id: o.echo.cl_ord_id,
                    appendage: Appendage::EMPTY,
                })
            }
            _ => Outbound::OrderCanceled(OrderCanceled {
                timestamp,
                user_ref_num: o.user_ref_num,
                quantity: reduced_by,
                reason: cancel_reason::USER_REQUESTED,
            }),
        };
        out(message);
    }

    /// Takes a done order out of the live table; keeps it, closed, while a request for it is
    /// in flight, so that the request's `Rejected` can still be answered.
    fn close(&mut self, order_id: OrderId) {
        let Some(o) = self.orders.get_mut(&order_id.0) else {
            return;
        };
        if self.live.get(&o.user_ref_num) == Some(&order_id) {
            self.live.remove(&o.user_ref_num);
        }
        if o.pending.is_some() {
            o.closed = true;
        } else {
            self.orders.remove(&order_id.0);
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Fill {
    timestamp: u64,
    price: i64,
    qty: Qty,
    match_number: u64,
}
