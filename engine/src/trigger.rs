//! Liquidation trigger index: an indexed binary heap of positions keyed by the mark price at
//! which each becomes liquidatable.
//!
//! # Layout
//! One heap per market and direction: longs in a max-heap (a long is liquidatable when the
//! mark falls to or below its trigger, so the highest trigger goes first), shorts in a min-heap.
//! Entries are position slots (`u32` handles); `place[handle]` is the entry's index in the heap
//! array, so update and remove are O(log n). Arrays are sized once to the position capacity
//! and never grow.
//!
//! # Ordering
//! Keys are `(trigger price, account id)`: ties break on the account id, so the order in which
//! a mark move liquidates accounts is a function of state alone.
//!
//! # Complexity
//! A mark update that liquidates nobody costs one comparison with the top: O(1). Each
//! liquidated position costs O(log n).

const NIL: u32 = u32::MAX;

/// Which end of the price axis comes out first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HeapOrder {
    /// Highest trigger first (long positions).
    MaxFirst,
    /// Lowest trigger first (short positions).
    MinFirst,
}

/// Per-handle heap bookkeeping, stored once for all heaps (a handle is in at most one heap at a
/// time), so each heap costs only its array of handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HeapMeta {
    /// Index in its heap's array, or `u32::MAX` when in no heap.
    pub place: u32,
    /// Trigger price.
    pub price: i64,
    /// Tie-break.
    pub account: u32,
}

impl HeapMeta {
    /// Not in any heap.
    pub const NONE: Self = Self {
        place: NIL,
        price: 0,
        account: 0,
    };
}

/// An indexed binary heap of `(price, account)` keys over `u32` handles whose bookkeeping
/// lives in a shared `[HeapMeta]`.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TriggerHeap {
    order: HeapOrder,
    heap: Vec<u32>,
}

impl Clone for TriggerHeap {
    fn clone(&self) -> Self {
        Self {
            order: self.order,
            heap: crate::book::clone_with_capacity(&self.heap, self.heap.capacity()),
        }
    }
}

impl TriggerHeap {
    /// Creates an empty heap with room for `capacity` handles before it first grows.
    #[must_use]
    pub fn new(order: HeapOrder, capacity: usize) -> Self {
        Self {
            order,
            heap: Vec::with_capacity(capacity),
        }
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether the heap is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The first entry: its handle and trigger price.
    #[must_use]
    pub fn top(&self, meta: &[HeapMeta]) -> Option<(u32, i64)> {
        self.heap.first().map(|h| (*h, meta[*h as usize].price))
    }

    /// Entries in heap-array order (not sorted), for audits.
    pub fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.heap.iter().copied()
    }

    #[inline]
    fn before(&self, meta: &[HeapMeta], a: u32, b: u32) -> bool {
        let (ka, kb) = (&meta[a as usize], &meta[b as usize]);
        match self.order {
            // Ties: the lower account id first, in both orders.
            HeapOrder::MaxFirst => {
                ka.price > kb.price || (ka.price == kb.price && ka.account < kb.account)
            }
            HeapOrder::MinFirst => {
                ka.price < kb.price || (ka.price == kb.price && ka.account < kb.account)
            }
        }
    }

    /// Inserts a handle (which must be in no heap) or moves it (if in this heap) to a new key.
    pub fn upsert(&mut self, meta: &mut [HeapMeta], handle: u32, price: i64, account: u32) {
        let h = handle as usize;
        meta[h].price = price;
        meta[h].account = account;
        let at = meta[h].place;
        if at == NIL {
            let i = self.heap.len();
            self.heap.push(handle);
            meta[h].place = u32::try_from(i).expect("invariant: heap index fits u32");
            self.sift_up(meta, i);
        } else {
            let i = at as usize;
            assert_eq!(self.heap[i], handle, "invariant: handle is in this heap");
            self.sift_up(meta, i);
            let i = meta[h].place as usize;
            self.sift_down(meta, i);
        }
    }

    /// Whether a handle is in this heap (O(1), through its place).
    #[must_use]
    pub fn contains(&self, meta: &[HeapMeta], handle: u32) -> bool {
        let at = meta[handle as usize].place;
        at != NIL && self.heap.get(at as usize) == Some(&handle)
    }

    /// Removes a handle if it is in this heap; a handle in another heap is left alone.
    pub fn remove_if_member(&mut self, meta: &mut [HeapMeta], handle: u32) {
        let at = meta[handle as usize].place;
        if at != NIL && self.heap.get(at as usize) == Some(&handle) {
            self.remove(meta, handle);
        }
    }

    /// Removes a handle (which must be in this heap or in none).
    pub fn remove(&mut self, meta: &mut [HeapMeta], handle: u32) {
        let at = meta[handle as usize].place;
        if at == NIL {
            return;
        }
        let i = at as usize;
        assert_eq!(self.heap[i], handle, "invariant: handle is in this heap");
        let last = self.heap.len() - 1;
        self.swap(meta, i, last);
        self.heap.pop();
        meta[handle as usize].place = NIL;
        if i < self.heap.len() {
            // The former last entry now sits at `i`: it may belong higher or lower.
            let moved = self.heap[i];
            self.sift_up(meta, i);
            let j = meta[moved as usize].place as usize;
            self.sift_down(meta, j);
        }
    }

    fn swap(&mut self, meta: &mut [HeapMeta], i: usize, j: usize) {
        self.heap.swap(i, j);
        let (hi, hj) = (self.heap[i], self.heap[j]);
        meta[hi as usize].place = u32::try_from(i).expect("invariant: fits");
        meta[hj as usize].place = u32::try_from(j).expect("invariant: fits");
    }

    fn sift_up(&mut self, meta: &mut [HeapMeta], mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.before(meta, self.heap[i], self.heap[parent]) {
                self.swap(meta, i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, meta: &mut [HeapMeta], mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.before(meta, self.heap[l], self.heap[best]) {
                best = l;
            }
            if r < n && self.before(meta, self.heap[r], self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.swap(meta, i, best);
            i = best;
        }
    }

    /// Checks the heap property and that every entry's place points back at it.
    ///
    /// # Errors
    /// A description of the first violation.
    pub fn check(&self, meta: &[HeapMeta]) -> Result<(), String> {
        for (i, h) in self.heap.iter().enumerate() {
            if meta.get(*h as usize).is_none_or(|m| m.place as usize != i) {
                return Err(format!("heap place of handle {h} is stale"));
            }
            if i > 0 && self.before(meta, *h, self.heap[(i - 1) / 2]) {
                return Err(format!("heap order broken at {i}"));
            }
        }
        Ok(())
    }
}

impl TriggerHeap {
    /// Reserves a deserialized heap back to the capacity it was created with.
    pub(crate) fn restore_capacity(&mut self, capacity: usize) {
        crate::restore::reserve_exact_to(&mut self.heap, capacity);
    }

    /// Handles the heap holds before it grows.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.heap.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn behaves_like_a_sorted_map(
            ops in proptest::collection::vec((0u32..32, -50i64..50, any::<bool>()), 0..300),
            max_first in any::<bool>(),
        ) {
            let order = if max_first { HeapOrder::MaxFirst } else { HeapOrder::MinFirst };
            let mut heap = TriggerHeap::new(order, 4);
            let mut meta = vec![HeapMeta::NONE; 32];
            let mut model: BTreeMap<u32, i64> = BTreeMap::new();
            for (handle, price, insert) in ops {
                // Account id = handle, so ties break on the handle too.
                if insert {
                    heap.upsert(&mut meta, handle, price, handle);
                    model.insert(handle, price);
                } else {
                    heap.remove(&mut meta, handle);
                    model.remove(&handle);
                }
                heap.check(&meta).map_err(TestCaseError::fail)?;
                prop_assert_eq!(heap.len(), model.len());
                let want = model.iter().map(|(h, p)| (*h, *p)).min_by(|a, b| {
                    let by_price = if max_first { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) };
                    by_price.then(a.0.cmp(&b.0))
                });
                prop_assert_eq!(heap.top(&meta), want);
            }
        }
    }
}
