//! Events: the only output of the engine.
//!
//! Every event is small and `Copy` so the engine writes them into a preallocated buffer and
//! never allocates per command. Together they carry everything an execution report, an ITCH
//! feed (add, execute, cancel, delete, replace) or an L2 feed needs.

use crate::command::{AccountId, OrderId, Side};
use crate::market::MarketId;
use crate::reject::{CancelReason, Reject};
use cascade_risk::{Price, Qty};

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
