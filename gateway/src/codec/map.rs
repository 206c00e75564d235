//! The mapping between the wire and the engine: OUCH inbound → [`Command`], engine [`Event`]s →
//! OUCH outbound for the owning account, → ITCH for the market-data feed, and the native perp
//! channel both ways.
//!
//! # Layout
//! - [`MarketRegistry`] (`registry.rs`): symbol ↔ [`cascade_engine::MarketId`], and the price
//!   and quantity scales between OUCH/ITCH fields and ticks/lots.
//! - [`OuchAccount`] (`order_entry.rs`): one OUCH account's order table: UserRefNum duplicate
//!   check, UserRefNum ↔ `OrderId`, and the echo fields (ClOrdID, TIF, …) execution reports
//!   repeat.
//! - [`ItchFeed`] (`market_data.rs`): the resting orders the feed has published, so that
//!   reductions and replacements become ITCH `X`, `U` and `D`.
//! - `perp.rs`: native channel requests → commands, events → native messages.
//!
//! The whole mapping is tabulated in `docs/PROTOCOL.md`.
//!
//! # Errors
//! [`MapReject`] says why a well-formed message was refused before it reached the engine. Its
//! codes start at 1001 so that one 2-byte reason field can carry either an engine
//! [`Reject`] code (1–999) or a gateway code.

mod market_data;
mod order_entry;
mod perp;
mod registry;

pub use market_data::{itch_side, stock_locate, ItchFeed};
pub use order_entry::{
    cancel_reason_byte, new_order, side_byte, side_of, InboundAction, OuchAccount,
};
pub use perp::{
    instrument, native_command, native_events, native_reject, server_request, Audience,
    NativeOrigin, Role, ServerRequest,
};
pub use registry::{lots_to_u32, ticks_to_u32, MarketRegistry, RegistryError, OUCH_PRICE_DECIMALS};

use cascade_engine::{Command, Event, Reject};
use core::fmt;

/// The events one sequenced command produced, with what the mappers need to know about it.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The command's sequence number.
    pub seq: u64,
    /// The command's time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The command itself: it tells a rejected new order from a rejected cancel.
    pub command: &'a Command,
    /// What `Engine::apply` returned for it, in order.
    pub events: &'a [Event],
}

/// Trades one command may make before match numbers could repeat.
pub const MATCHES_PER_COMMAND: u64 = 1 << 24;

/// The match number of the `ordinal`-th trade (from 0) of command `seq`: `seq × 2^24 +
/// ordinal`. OUCH and ITCH compute it the same way, so both sides of a trade and the feed
/// agree. Unique while a command makes fewer than 2^24 trades (the engine's event buffer holds
/// far fewer) and `seq < 2^40`.
#[must_use]
pub const fn match_number(seq: u64, ordinal: u64) -> u64 {
    seq.wrapping_mul(MATCHES_PER_COMMAND)
        .wrapping_add(ordinal % MATCHES_PER_COMMAND)
}

/// The reason code an OUCH Rejected or a native Request Rejected carries for an engine reject.
#[must_use]
pub const fn engine_reason(reject: Reject) -> u16 {
    reject.code()
}

/// Why the gateway refused a well-formed message before it reached the engine.
/// `#[repr(u16)]`; the number is the stable reason code, never renumbered or reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum MapReject {
    /// The symbol names no market.
    UnknownSymbol = 1001,
    /// The price is not a whole number of the market's ticks.
    PriceNotTickMultiple = 1002,
    /// The side is not one OUCH defines.
    SideInvalid = 1003,
    /// Sell short (`T`) and sell short exempt (`E`) are equity marks; use `S`.
    SideShortSaleUnsupported = 1004,
    /// The time in force is not one OUCH defines.
    TimeInForceInvalid = 1005,
    /// GTX, GTT and after-hours have no meaning on a 24/7 market.
    TimeInForceUnsupported = 1006,
    /// Only visible (`Y`) orders exist.
    DisplayUnsupported = 1007,
    /// The capacity is not one OUCH defines.
    CapacityInvalid = 1008,
    /// The intermarket sweep eligibility is not `Y` or `N`.
    IntermarketSweepInvalid = 1009,
    /// Only the continuous market (`N`) runs; there are no crosses.
    CrossTypeUnsupported = 1010,
    /// The UserRefNum is not above the last one the account used (a retransmission).
    UserRefNumNotIncreasing = 1011,
    /// No live order has this UserRefNum (never accepted, or already done).
    UnknownUserRefNum = 1012,
    /// An appendage tag Cascade does not support (pegs, discretion, reserve, routing, …).
    AppendageTagUnsupported = 1013,
    /// An appendage value of the wrong size or outside its domain.
    AppendageValueInvalid = 1014,
    /// The same appendage tag twice.
    AppendageTagRepeated = 1015,
    /// MinQty other than 0, or other than the full quantity on an IOC (which makes it FOK).
    MinQtyUnsupported = 1016,
    /// Post-only on an order that cannot rest (IOC or market).
    PostOnlyNotResting = 1017,
    /// A replace may change price, quantity and ClOrdID only.
    ReplaceFieldChange = 1018,
    /// A modify may not change the side.
    ModifySideChange = 1019,
    /// A cancel, replace or modify of this order is already in flight.
    RequestPending = 1020,
    /// A partial cancel or modify must leave between 1 and the open quantity − 1.
    QtyNotReduced = 1021,
    /// The account's order table is full.
    OrdersLimit = 1022,
    /// The session may not send this message, or name this account.
    NotAuthorized = 1023,
    /// The margin mode is not `C` or `I`.
    MarginModeInvalid = 1024,
    /// A server request (the native `s` Snapshot) has no engine command; the server serves it.
    NotACommand = 1025,
    /// Native `s`: the snapshot could not be written (the reason is in the server's log; the
    /// journal alone still recovers everything).
    SnapshotFailed = 1026,
}

impl MapReject {
    /// Every code, in numeric order.
    pub const ALL: [MapReject; 26] = [
        MapReject::UnknownSymbol,
        MapReject::PriceNotTickMultiple,
        MapReject::SideInvalid,
        MapReject::SideShortSaleUnsupported,
        MapReject::TimeInForceInvalid,
        MapReject::TimeInForceUnsupported,
        MapReject::DisplayUnsupported,
        MapReject::CapacityInvalid,
        MapReject::IntermarketSweepInvalid,
        MapReject::CrossTypeUnsupported,
        MapReject::UserRefNumNotIncreasing,
        MapReject::UnknownUserRefNum,
        MapReject::AppendageTagUnsupported,
        MapReject::AppendageValueInvalid,
        MapReject::AppendageTagRepeated,
        MapReject::MinQtyUnsupported,
        MapReject::PostOnlyNotResting,
        MapReject::ReplaceFieldChange,
        MapReject::ModifySideChange,
        MapReject::RequestPending,
        MapReject::QtyNotReduced,
        MapReject::OrdersLimit,
        MapReject::NotAuthorized,
        MapReject::MarginModeInvalid,
        MapReject::NotACommand,
        MapReject::SnapshotFailed,
    ];

    /// Returns the stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Returns the reject with this code, if any.
    #[must_use]
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// Returns a short snake_case name, stable like the code.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownSymbol => "unknown_symbol",
            Self::PriceNotTickMultiple => "price_not_tick_multiple",
            Self::SideInvalid => "side_invalid",
            Self::SideShortSaleUnsupported => "side_short_sale_unsupported",
            Self::TimeInForceInvalid => "time_in_force_invalid",
            Self::TimeInForceUnsupported => "time_in_force_unsupported",
            Self::DisplayUnsupported => "display_unsupported",
            Self::CapacityInvalid => "capacity_invalid",
            Self::IntermarketSweepInvalid => "intermarket_sweep_invalid",
            Self::CrossTypeUnsupported => "cross_type_unsupported",
            Self::UserRefNumNotIncreasing => "user_ref_num_not_increasing",
            Self::UnknownUserRefNum => "unknown_user_ref_num",
            Self::AppendageTagUnsupported => "appendage_tag_unsupported",
            Self::AppendageValueInvalid => "appendage_value_invalid",
            Self::AppendageTagRepeated => "appendage_tag_repeated",
            Self::MinQtyUnsupported => "min_qty_unsupported",
            Self::PostOnlyNotResting => "post_only_not_resting",
            Self::ReplaceFieldChange => "replace_field_change",
            Self::ModifySideChange => "modify_side_change",
            Self::RequestPending => "request_pending",
            Self::QtyNotReduced => "qty_not_reduced",
            Self::OrdersLimit => "orders_limit",
            Self::NotAuthorized => "not_authorized",
            Self::MarginModeInvalid => "margin_mode_invalid",
            Self::NotACommand => "not_a_command",
            Self::SnapshotFailed => "snapshot_failed",
        }
    }
}

impl fmt::Display for MapReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.code())
    }
}

impl std::error::Error for MapReject {}

/// Checks that UserRefNums strictly increase, as OUCH requires per account. The first
/// acceptable number is 1: 0 is reserved (Cascade reports the engine's liquidation fills with
/// UserRefNum 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserRefNumCheck {
    last: u32,
}

impl UserRefNumCheck {
    /// Starts after `last` (0 for a fresh account).
    #[must_use]
    pub const fn after(last: u32) -> Self {
        Self { last }
    }

    /// The last number consumed (0 before any).
    #[must_use]
    pub const fn last(&self) -> u32 {
        self.last
    }

    /// The lowest number the account may use next (saturating at `u32::MAX`).
    #[must_use]
    pub const fn next(&self) -> u32 {
        self.last.saturating_add(1)
    }

    /// Consumes `n` if it is above the last one. A number is consumed by the first message
    /// that carries it, whether that message is then accepted or rejected.
    ///
    /// # Errors
    /// [`MapReject::UserRefNumNotIncreasing`] when `n` is not above the last one.
    pub fn consume(&mut self, n: u32) -> Result<(), MapReject> {
        if n <= self.last {
            return Err(MapReject::UserRefNumNotIncreasing);
        }
        self.last = n;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
