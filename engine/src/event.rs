//! Events: the only output of the engine.
//!
//! Every event is small and `Copy` so the engine writes them into a preallocated buffer and
//! never allocates per command. Together they carry everything an execution report, an ITCH
//! feed (add, execute, cancel, delete, replace) or an L2 feed needs.

use crate::account::MarginMode;
use crate::command::{AccountId, OrderId, Side};
use crate::market::MarketId;
use crate::reject::{CancelReason, Reject};
use cascade_risk::{Price, Qty, Quote};

/// Why the insurance fund moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum InsuranceReason {
    /// An operator deposit.
    Deposit = 1,
    /// A liquidation fee.
    LiquidationFee = 2,
    /// Paying a liquidated account's shortfall (negative equity).
    Shortfall = 3,
    /// Rounding dust from funding.
    FundingDust = 4,
    /// What a bankrupt account keeps after auto-deleveraging is tick-rounding dust of its
    /// bankruptcy price, paid by the counterparties: it goes to the fund, not back to it.
    AdlDust = 5,
}

/// Outcome bits of [`Event::LiquidationEnded`].
pub mod outcome {
    /// The account ended healthy (equity above maintenance) with some position left.
    pub const HEALTHY: u8 = 1;
    /// The position was closed in full.
    pub const CLOSED: u8 = 2;
    /// The account ended with negative equity (bad debt).
    pub const BAD_DEBT: u8 = 4;
    /// The insurance fund ran out while paying this liquidation.
    pub const INSURANCE_EXHAUSTED: u8 = 8;
    /// Auto-deleveraging found too few counterparties (or is off).
    pub const ADL_EXHAUSTED: u8 = 16;
    /// A partial slice was taken and the account waits out a cooldown.
    pub const COOLDOWN: u8 = 32;
    /// Not bankrupt, but the book had no more liquidity within bankruptcy (and no backstop
    /// took it): the rest waits a cooldown for liquidity instead of being deleveraged.
    pub const NO_LIQUIDITY: u8 = 64;
}

/// The stages of the liquidation waterfall, in order.
pub mod stage {
    /// Orders cancelled.
    pub const CANCEL: u8 = 1;
    /// Closed through the book, never worse than bankruptcy.
    pub const BOOK: u8 = 2;
    /// Taken over by the backstop vault at the bankruptcy price.
    pub const BACKSTOP: u8 = 3;
    /// Closed through the book worse than bankruptcy, the insurance fund paying.
    pub const INSURANCE: u8 = 4;
    /// Auto-deleveraged against opposite positions at the bankruptcy price.
    pub const ADL: u8 = 5;
}

/// One thing that happened while applying a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A market was created.
    MarketAdded {
        /// The new market.
        market: MarketId,
    },
    /// A market's reference price changed.
    ReferencePriceSet {
        /// Market.
        market: MarketId,
        /// New reference price.
        price: Price,
    },
    /// The command was refused and changed nothing.
    Rejected {
        /// The account that sent it, when the command names one.
        account: AccountId,
        /// The client's reference for new orders; the order id for cancels and amends.
        client_ref: u64,
        /// Why.
        reason: Reject,
    },
    /// A new order passed validation and was assigned an id.
    Accepted {
        /// Engine-assigned id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The client's reference.
        client_ref: u64,
        /// Side.
        side: Side,
        /// Effective limit price (the protection bound for market orders).
        price: Price,
        /// Effective quantity (clamped to the position for reduce-only).
        qty: Qty,
    },
    /// Two orders traded. The price is always the maker's.
    Trade {
        /// Market.
        market: MarketId,
        /// Resting order.
        maker_order: OrderId,
        /// Incoming order.
        taker_order: OrderId,
        /// Resting order's owner.
        maker_account: AccountId,
        /// Incoming order's owner.
        taker_account: AccountId,
        /// The taker's side.
        taker_side: Side,
        /// Trade price.
        price: Price,
        /// Trade quantity.
        qty: Qty,
        /// What the maker has left open after this fill (0: it left the book).
        maker_open: Qty,
    },
    /// An order was placed on the book (ITCH "add order"), after any fills it made as a taker.
    Rested {
        /// Order.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Side.
        side: Side,
        /// Resting price.
        price: Price,
        /// Open quantity.
        qty: Qty,
    },
    /// An order, resting or incoming, was cancelled or expired.
    Cancelled {
        /// Order.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The open quantity removed.
        qty: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// A resting order's quantity went down in place, keeping its priority.
    Reduced {
        /// Order.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// New open quantity.
        qty: Qty,
    },
    /// A resting order left its place to be re-entered at a new price or larger size; what it
    /// does next (trades, rests) follows as for a new order with the same id.
    Replaced {
        /// Order.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// New price.
        price: Price,
        /// New open quantity.
        qty: Qty,
    },
    /// Collateral was deposited.
    Deposited {
        /// Account.
        account: AccountId,
        /// Amount.
        amount: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// Collateral was withdrawn.
    Withdrawn {
        /// Account.
        account: AccountId,
        /// Amount.
        amount: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// Leverage was set.
    LeverageSet {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Leverage.
        leverage: u16,
    },
    /// Margin mode was set.
    MarginModeSet {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Mode.
        mode: MarginMode,
    },
    /// An isolated position's margin changed by a transfer.
    IsolatedMarginSet {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Isolated margin after.
        isolated_margin: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// A market's risk parameters were set (margining is on).
    RiskParamsSet {
        /// Market.
        market: MarketId,
    },
    /// The backstop vault changed.
    BackstopSet {
        /// The vault, if any.
        account: Option<AccountId>,
    },
    /// A new index price and the mark price it gave.
    MarkPrice {
        /// Market.
        market: MarketId,
        /// Index price.
        index: Price,
        /// Mark price.
        mark: Price,
    },
    /// A funding interval was settled.
    Funding {
        /// Market.
        market: MarketId,
        /// Rate for the interval in parts per billion; longs pay shorts when positive.
        rate_ppb: i64,
        /// Total paid by payers.
        paid: Quote,
        /// Total received by receivers.
        received: Quote,
        /// `paid − received`: rounding dust, to the insurance fund.
        dust: Quote,
    },
    /// The insurance fund moved.
    InsuranceFund {
        /// The account concerned (0 for deposits and funding dust).
        account: AccountId,
        /// Signed change.
        delta: Quote,
        /// Balance after.
        balance: Quote,
        /// Why.
        reason: InsuranceReason,
    },
    /// An account fell to its maintenance margin and the waterfall starts.
    LiquidationStarted {
        /// Account.
        account: AccountId,
        /// The market whose position is liquidated.
        market: MarketId,
        /// Equity (account equity for cross, position equity for isolated).
        equity: Quote,
        /// Maintenance margin it is measured against.
        maintenance: Quote,
        /// Mark price.
        mark: Price,
    },
    /// The backstop vault took a position over at the bankruptcy price.
    Backstop {
        /// The liquidated account.
        account: AccountId,
        /// The vault.
        vault: AccountId,
        /// Market.
        market: MarketId,
        /// Lots taken (the liquidated side's signed size before).
        size: i64,
        /// Bankruptcy price.
        price: Price,
    },
    /// An opposite position was auto-deleveraged at the bankruptcy price.
    Deleveraged {
        /// The liquidated account.
        account: AccountId,
        /// The account whose position was reduced.
        counterparty: AccountId,
        /// Market.
        market: MarketId,
        /// Lots closed.
        qty: Qty,
        /// Bankruptcy price of the liquidated position.
        price: Price,
        /// The counterparty's 0-based place in the ADL queue that this command ranked for
        /// the market and side (see `liquidation.rs`, "ADL queues"): strictly increasing within
        /// one liquidation, and under the queue policy never decreasing across the command.
        rank: u32,
    },
    /// The waterfall finished for one position.
    LiquidationEnded {
        /// Account.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The last stage reached (`stage::*`).
        stage: u8,
        /// `outcome::*` bits.
        outcome: u8,
        /// Lots closed by this liquidation.
        closed: Qty,
        /// Equity after.
        equity: Quote,
        /// What ADL counterparties gave up against the mark price.
        haircut: Quote,
        /// The smallest haircut that would have covered the shortfall the insurance fund could
        /// not: `haircut − haircut_min` is ADL overshoot.
        haircut_min: Quote,
    },
    /// A price level's aggregate after the command touched it (an L2 update). Zero quantity
    /// means the level is gone.
    BookLevel {
        /// Market.
        market: MarketId,
        /// Book side.
        side: Side,
        /// Level price.
        price: Price,
        /// Total open quantity at the level.
        qty: Qty,
        /// Orders at the level.
        orders: u32,
    },
}

const _: () = assert!(core::mem::size_of::<Event>() <= 64);
