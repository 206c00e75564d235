//! A price level: the FIFO of orders resting at one price on one side.

use super::slab::NIL;
use crate::command::Side;

/// Aggregate and queue ends of one price level.
///
/// # Invariants
/// `count > 0` and `qty_total` equals the sum of its orders' open quantities while the level is
/// in use; `head`/`tail` are `NIL` exactly when it is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Level {
    /// Price in ticks.
    pub price: i64,
    /// Sum of open quantities of its orders.
    pub qty_total: i64,
    /// Oldest order (first to fill).
    pub head: u32,
    /// Newest order.
    pub tail: u32,
    /// Orders at the level.
    pub count: u32,
    /// Side of the book.
    pub side: Side,
}

impl Level {
    pub(crate) const FREE: Self = Self {
        price: 0,
        qty_total: 0,
        head: NIL,
        tail: NIL,
        count: 0,
        side: Side::Buy,
    };
}
