//! Stable numeric reason codes.
//!
//! Every operating error is a [`Reject`], never a panic. The discriminants are part of the wire
//! protocol and the golden files: they are never renumbered and never reused. A retired code
//! stays in the enum, marked deprecated.

use core::fmt;

/// Why a command was refused. `#[repr(u16)]`; the number is the stable reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Reject {
    /// The market id names no market.
    UnknownMarket = 1,
    /// The account id is outside the engine's account range.
    UnknownAccount = 2,
    /// No resting order has this id.
    UnknownOrder = 3,
    /// The order belongs to another account.
    NotOrderOwner = 4,
    /// The price is zero or negative.
    PriceNotPositive = 5,
    /// The quantity is zero or negative.
    QtyNotPositive = 6,
    /// The price is above the market's `price_max`.
    PriceAboveMax = 7,
    /// The quantity is above the market's `qty_max`.
    QtyAboveMax = 8,
    /// Price × quantity is below the market's minimum notional.
    NotionalBelowMin = 9,
    /// The limit price is outside the band around the reference price.
    PriceOutsideBand = 10,
    /// A market order found no opposite liquidity within its protection band.
    NoLiquidity = 11,
    /// A post-only order would have taken liquidity.
    PostOnlyWouldCross = 12,
    /// A fill-or-kill order could not be filled in full.
    FokNotFillable = 13,
    /// A reduce-only order would open or increase a position.
    ReduceOnlyWouldIncrease = 14,
    /// The account already has `orders_per_account_max` resting orders.
    OrdersPerAccountLimit = 15,
    /// The engine already holds `orders_max` resting orders.
    OrdersLimit = 16,
    /// The book side already holds `levels_per_side_max` price levels.
    LevelsLimit = 17,
    /// An arithmetic result would not fit its integer type.
    Overflow = 18,
    /// A market with this id already exists.
    MarketExists = 19,
    /// The market spec is inconsistent (zero tick value, ranges that can overflow, ...).
    InvalidMarketSpec = 20,
    /// The engine already holds `markets_max` markets.
    MarketsLimit = 21,
    /// The command's sequence number is not above the previous one.
    SeqNotIncreasing = 22,
    /// An amend that changes neither price nor quantity.
    AmendNoChange = 23,
    /// The order type and time in force do not go together (a market order cannot rest).
    InvalidTimeInForce = 24,
    /// A post-only order that slides would need a price of zero ticks or less.
    PostOnlyNoPrice = 25,
    /// A market order needs a reference or opposite price to bound it, and had none.
    NoReferencePrice = 26,
    /// The order would leave the account below its initial margin requirement.
    InsufficientMargin = 27,
    /// A withdrawal or margin transfer would leave too little collateral (initial margin must stay covered).
    InsufficientCollateral = 28,
    /// The account is being liquidated: withdrawals and margin changes wait until it is done.
    AccountInLiquidation = 29,
    /// Leverage must be between 1 and the market's first-tier maximum.
    LeverageInvalid = 30,
    /// The engine already holds `positions_max` position records.
    PositionsLimit = 31,
    /// Margin mode can change only with no position and no resting orders in the market.
    MarginModeLocked = 32,
    /// The market's risk parameters are inconsistent, or would turn margining on for a
    /// matching-only market that has open positions.
    InvalidRiskParams = 33,
    /// A deposit, withdrawal or transfer amount must be above zero.
    AmountNotPositive = 34,
    /// Isolated margin can be moved only for an isolated position.
    NotIsolated = 35,
    /// The market has no mark price yet (no index price has arrived), so margin cannot be checked.
    NoMarkPrice = 36,
    /// The order could take the position beyond the market's maximum position size.
    PositionAboveMax = 37,
    /// Total deposits would exceed the engine's money bound.
    DepositsAboveMax = 38,
    /// No backstop vault account is configured.
    NoBackstop = 39,
}

impl Reject {
    /// Every code, in numeric order. Used to check codes are unique and documented.
    pub const ALL: [Reject; 39] = [
        Reject::UnknownMarket,
        Reject::UnknownAccount,
        Reject::UnknownOrder,
        Reject::NotOrderOwner,
        Reject::PriceNotPositive,
        Reject::QtyNotPositive,
        Reject::PriceAboveMax,
        Reject::QtyAboveMax,
        Reject::NotionalBelowMin,
        Reject::PriceOutsideBand,
        Reject::NoLiquidity,
        Reject::PostOnlyWouldCross,
        Reject::FokNotFillable,
        Reject::ReduceOnlyWouldIncrease,
        Reject::OrdersPerAccountLimit,
        Reject::OrdersLimit,
        Reject::LevelsLimit,
        Reject::Overflow,
        Reject::MarketExists,
        Reject::InvalidMarketSpec,
        Reject::MarketsLimit,
        Reject::SeqNotIncreasing,
        Reject::AmendNoChange,
        Reject::InvalidTimeInForce,
        Reject::PostOnlyNoPrice,
        Reject::NoReferencePrice,
        Reject::InsufficientMargin,
        Reject::InsufficientCollateral,
        Reject::AccountInLiquidation,
        Reject::LeverageInvalid,
        Reject::PositionsLimit,
        Reject::MarginModeLocked,
        Reject::InvalidRiskParams,
        Reject::AmountNotPositive,
        Reject::NotIsolated,
        Reject::NoMarkPrice,
        Reject::PositionAboveMax,
        Reject::DepositsAboveMax,
        Reject::NoBackstop,
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
            Reject::UnknownMarket => "unknown_market",
            Reject::UnknownAccount => "unknown_account",
            Reject::UnknownOrder => "unknown_order",
            Reject::NotOrderOwner => "not_order_owner",
            Reject::PriceNotPositive => "price_not_positive",
            Reject::QtyNotPositive => "qty_not_positive",
            Reject::PriceAboveMax => "price_above_max",
            Reject::QtyAboveMax => "qty_above_max",
            Reject::NotionalBelowMin => "notional_below_min",
            Reject::PriceOutsideBand => "price_outside_band",
            Reject::NoLiquidity => "no_liquidity",
            Reject::PostOnlyWouldCross => "post_only_would_cross",
            Reject::FokNotFillable => "fok_not_fillable",
            Reject::ReduceOnlyWouldIncrease => "reduce_only_would_increase",
            Reject::OrdersPerAccountLimit => "orders_per_account_limit",
            Reject::OrdersLimit => "orders_limit",
            Reject::LevelsLimit => "levels_limit",
            Reject::Overflow => "overflow",
            Reject::MarketExists => "market_exists",
            Reject::InvalidMarketSpec => "invalid_market_spec",
            Reject::MarketsLimit => "markets_limit",
            Reject::SeqNotIncreasing => "seq_not_increasing",
            Reject::AmendNoChange => "amend_no_change",
            Reject::InvalidTimeInForce => "invalid_time_in_force",
            Reject::PostOnlyNoPrice => "post_only_no_price",
            Reject::NoReferencePrice => "no_reference_price",
            Reject::InsufficientMargin => "insufficient_margin",
            Reject::InsufficientCollateral => "insufficient_collateral",
            Reject::AccountInLiquidation => "account_in_liquidation",
            Reject::LeverageInvalid => "leverage_invalid",
            Reject::PositionsLimit => "positions_limit",
            Reject::MarginModeLocked => "margin_mode_locked",
            Reject::InvalidRiskParams => "invalid_risk_params",
            Reject::AmountNotPositive => "amount_not_positive",
            Reject::NotIsolated => "not_isolated",
            Reject::NoMarkPrice => "no_mark_price",
            Reject::PositionAboveMax => "position_above_max",
            Reject::DepositsAboveMax => "deposits_above_max",
            Reject::NoBackstop => "no_backstop",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.code())
    }
}

/// Why a resting or incoming order left the book without filling. Stable codes like [`Reject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CancelReason {
    /// The owner cancelled it.
    UserRequested = 1,
    /// A mass cancel by account or market removed it.
    MassCancel = 2,
    /// The unfilled rest of an IOC, FOK or market order.
    ImmediateRemainder = 3,
    /// Self-trade prevention expired the taker.
    SelfTradeTaker = 4,
    /// Self-trade prevention expired the maker.
    SelfTradeMaker = 5,
    /// The taker hit `fills_per_taker_max`; the rest is expired rather than left crossed.
    FillsLimit = 6,
    /// A reduce-only order that can no longer reduce (the position shrank or flipped).
    ReduceOnlyClamp = 7,
    /// The liquidation waterfall cancelled the account's orders.
    Liquidation = 8,
}

impl CancelReason {
    /// Every reason, in numeric order.
    pub const ALL: [CancelReason; 8] = [
        CancelReason::UserRequested,
        CancelReason::MassCancel,
        CancelReason::ImmediateRemainder,
        CancelReason::SelfTradeTaker,
        CancelReason::SelfTradeMaker,
        CancelReason::FillsLimit,
        CancelReason::ReduceOnlyClamp,
        CancelReason::Liquidation,
    ];

    /// Returns the stable numeric code.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Returns a short snake_case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            CancelReason::UserRequested => "user_requested",
            CancelReason::MassCancel => "mass_cancel",
            CancelReason::ImmediateRemainder => "immediate_remainder",
            CancelReason::SelfTradeTaker => "self_trade_taker",
            CancelReason::SelfTradeMaker => "self_trade_maker",
            CancelReason::FillsLimit => "fills_limit",
            CancelReason::ReduceOnlyClamp => "reduce_only_clamp",
            CancelReason::Liquidation => "liquidation",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_codes_are_unique_dense_and_named() {
        for (i, r) in Reject::ALL.iter().enumerate() {
            assert_eq!(usize::from(r.code()), i + 1, "{r:?} out of order");
            assert_eq!(Reject::from_code(r.code()), Some(*r));
        }
        let mut names: Vec<_> = Reject::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Reject::ALL.len());
        assert_eq!(Reject::from_code(0), None);
    }

    #[test]
    fn cancel_reason_codes_are_unique() {
        for (i, r) in CancelReason::ALL.iter().enumerate() {
            assert_eq!(usize::from(r.code()), i + 1);
        }
    }
}
