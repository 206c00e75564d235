//! Commands: the only input of the engine.
//!
//! A command is wrapped in [`Sequenced`] by the sequencer, which stamps its sequence number and
//! time. Time is a field, never a clock read, so a journal replays to the same state.

use crate::account::MarginMode;
use crate::market::{MarketId, MarketSpec};
use crate::risk_params::RiskParams;
use cascade_risk::{Price, Qty, Quote};

/// Identifies an account. Dense: `0..accounts_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AccountId(pub u32);

/// Identifies an order. Assigned by the engine: the sequence number of the command that placed
/// it, so ids are unique and increase with time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OrderId(pub u64);

/// A command stamped by the sequencer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequenced<C> {
    /// Strictly increasing sequence number (the engine rejects anything else).
    pub seq: u64,
    /// Sequencer time in nanoseconds since the Unix epoch. Only ever read, never compared to a
    /// clock.
    pub ts_ns: u64,
    /// The command.
    pub command: C,
}

/// Book side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(u8)]
pub enum Side {
    /// Buys; rests on the bid side.
    Buy = 0,
    /// Sells; rests on the ask side.
    Sell = 1,
}

impl Side {
    /// Returns the other side.
    #[inline]
    #[must_use]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Returns 0 for buy and 1 for sell, to index per-side arrays.
    #[inline]
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns +1 for buy and -1 for sell: the sign of the position change of a fill.
    #[inline]
    #[must_use]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Trades at the limit price or better.
    Limit,
    /// Trades at any price within the market's protection band around the best opposite price.
    Market,
}

/// How long an order lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Good till cancelled: the unfilled rest rests on the book.
    Gtc,
    /// Immediate or cancel: the unfilled rest is expired.
    Ioc,
    /// Fill or kill: filled in full at once, or rejected with no effect.
    Fok,
    /// Post-only, reject policy: rejected if it would take liquidity.
    PostOnly,
    /// Post-only, reprice policy: if it would take, its price slides to one tick behind the
    /// best opposite price and it rests there.
    PostOnlySlide,
}

/// Self-trade prevention: what happens when a taker would fill against its own account.
/// The taker's mode decides, as at Binance and Coinbase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfTradePrevention {
    /// Self trades are allowed and print like any trade.
    Allow,
    /// Expire the taker's remainder; the maker stays.
    ExpireTaker,
    /// Expire the maker and keep matching.
    ExpireMaker,
    /// Expire both.
    ExpireBoth,
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Owner.
    pub account: AccountId,
    /// Market.
    pub market: MarketId,
    /// The client's own reference, echoed in the accept or reject (OUCH `UserRefNum`).
    pub client_ref: u64,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub kind: OrderKind,
    /// Limit price in ticks; ignored for market orders.
    pub price: Price,
    /// Quantity in lots.
    pub qty: Qty,
    /// Time in force.
    pub tif: TimeInForce,
    /// Only ever reduces the account's position in this market.
    pub reduce_only: bool,
    /// Self-trade prevention mode.
    pub stp: SelfTradePrevention,
}

impl NewOrder {
    /// A GTC limit order with no flags: the common case, for tests and tools.
    #[must_use]
    pub fn limit(account: u32, market: u16, side: Side, price: i64, qty: i64) -> Self {
        Self {
            account: AccountId(account),
            market: MarketId(market),
            client_ref: 0,
            side,
            kind: OrderKind::Limit,
            price: Price(price),
            qty: Qty(qty),
            tif: TimeInForce::Gtc,
            reduce_only: false,
            stp: SelfTradePrevention::Allow,
        }
    }

    /// Returns the order with another time in force.
    #[must_use]
    pub fn with_tif(mut self, tif: TimeInForce) -> Self {
        self.tif = tif;
        self
    }

    /// Returns the order as a market order with the given time in force.
    #[must_use]
    pub fn market_order(account: u32, market: u16, side: Side, qty: i64) -> Self {
        let mut order = Self::limit(account, market, side, 0, qty);
        order.kind = OrderKind::Market;
        order.tif = TimeInForce::Ioc;
        order
    }
}

/// Everything that can change engine state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Creates a market. Boxed: the spec is twice the size of any other command, and every
    /// command in a stream, journal replay or ring would otherwise carry its size (an unboxed
    /// `Sequenced<Command>` was 112 bytes, now 56; creating a market is rare, trading is not).
    AddMarket(Box<MarketSpec>),
    /// Sets a market's reference price, which anchors the limit-price band.
    SetReferencePrice {
        /// Market.
        market: MarketId,
        /// Reference price in ticks.
        price: Price,
    },
    /// Places an order.
    Place(NewOrder),
    /// Cancels one resting order.
    Cancel {
        /// Must own the order.
        account: AccountId,
        /// Order to cancel.
        order_id: OrderId,
    },
    /// Changes a resting order's price and/or open quantity. Size down at the same price keeps
    /// time priority; a price change or size up loses it (and may trade).
    Amend {
        /// Must own the order.
        account: AccountId,
        /// Order to amend.
        order_id: OrderId,
        /// New limit price.
        price: Price,
        /// New open quantity.
        qty: Qty,
    },
    /// Cancels every resting order of an account, in one market or in all.
    MassCancelAccount {
        /// Whose orders.
        account: AccountId,
        /// Only this market, or every market.
        market: Option<MarketId>,
    },
    /// Cancels every resting order in a market (an operator action).
    MassCancelMarket {
        /// Which market.
        market: MarketId,
    },
    /// Credits collateral to an account.
    Deposit {
        /// Account.
        account: AccountId,
        /// Amount in quote quantums (> 0).
        amount: Quote,
    },
    /// Debits collateral; refused if the rest would not cover initial margin, or while the
    /// account is being liquidated.
    Withdraw {
        /// Account.
        account: AccountId,
        /// Amount in quote quantums (> 0).
        amount: Quote,
    },
    /// Sets the leverage used for an account's initial margin in a market.
    SetLeverage {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// 1 ..= the market's first-tier maximum.
        leverage: u16,
    },
    /// Sets cross or isolated margin for an account's position in a market (only while it has
    /// no position and no resting orders there).
    SetMarginMode {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Mode.
        mode: MarginMode,
    },
    /// Moves collateral into (positive) or out of (negative) an isolated position's margin.
    TransferIsolatedMargin {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Signed amount in quote quantums (≠ 0).
        amount: Quote,
    },
    /// Turns margining on for a market (or changes its parameters): tiers, fees, liquidation,
    /// funding, mark. Operator action.
    SetRiskParams {
        /// Market.
        market: MarketId,
        /// Parameters.
        params: Box<RiskParams>,
    },
    /// A new index (oracle) price, and optionally an external perp mark. Recomputes the mark
    /// price, which can liquidate.
    SetIndexPrice {
        /// Market.
        market: MarketId,
        /// Index price in ticks.
        index: Price,
        /// An external perpetual mark (median of other venues), if supplied.
        external_mark: Option<Price>,
    },
    /// Settles one funding interval in a market. The sequencer sends it on the interval.
    FundingTick {
        /// Market.
        market: MarketId,
    },
    /// Names the backstop liquidator vault account (or none). Operator action.
    SetBackstopAccount {
        /// The vault.
        account: Option<AccountId>,
    },
    /// Adds money to the insurance fund. Operator action.
    InsuranceDeposit {
        /// Amount in quote quantums (> 0).
        amount: Quote,
    },
}

// A command stream is read once per command (engine input, journal replay, the sequencer's
// ring): keep a sequenced command no larger than a cache line.
const _: () = assert!(core::mem::size_of::<Sequenced<Command>>() <= 64);
