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
pub enum HeapOrder {
    /// Highest trigger first (long positions).
    MaxFirst,
    /// Lowest trigger first (short positions).
    MinFirst,
}

/// An indexed binary heap of `(price, account)` keys over `u32` handles.
#[derive(Clone, Debug)]
pub struct TriggerHeap {
    order: HeapOrder,
    heap: Vec<u32>,
    place: Vec<u32>,
    keys: Vec<(i64, u32)>,
}

impl TriggerHeap {
    /// Creates a heap for handles `0..capacity`.
    #[must_use]
    pub fn new(order: HeapOrder, capacity: usize) -> Self {
        Self {
            order,
            heap: Vec::with_capacity(capacity),
            place: vec![NIL; capacity],
            keys: vec![(0, 0); capacity],
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

    /// Whether a handle is in the heap.
    #[must_use]
    pub fn contains(&self, handle: u32) -> bool {
        self.place[handle as usize] != NIL
    }

    /// The key of a handle in the heap.
    #[must_use]
    pub fn key(&self, handle: u32) -> Option<(i64, u32)> {
        self.contains(handle).then(|| self.keys[handle as usize])
    }

    /// The first entry: the handle and its key.
    #[must_use]
    pub fn top(&self) -> Option<(u32, (i64, u32))> {
        self.heap.first().map(|h| (*h, self.keys[*h as usize]))
    }

    /// Entries in heap-array order (not sorted), for audits.
    pub fn handles(&self) -> impl Iterator<Item = u32> + '_ {
        self.heap.iter().copied()
    }

    #[inline]
    fn before(&self, a: u32, b: u32) -> bool {
        let (ka, kb) = (self.keys[a as usize], self.keys[b as usize]);
        match self.order {
            // Ties: the lower account id first, in both orders.
            HeapOrder::MaxFirst => ka.0 > kb.0 || (ka.0 == kb.0 && ka.1 < kb.1),
            HeapOrder::MinFirst => ka.0 < kb.0 || (ka.0 == kb.0 && ka.1 < kb.1),
        }
    }

    /// Inserts a handle or moves it to a new key.
    pub fn upsert(&mut self, handle: u32, price: i64, account: u32) {
        let h = handle as usize;
        self.keys[h] = (price, account);
        let at = self.place[h];
        if at == NIL {
            let i = self.heap.len();
            assert!(i < self.heap.capacity(), "invariant: heap sized to position capacity");
            self.heap.push(handle);
            self.place[h] = u32::try_from(i).expect("invariant: capacity fits u32");
            self.sift_up(i);
        } else {
            let i = at as usize;
            self.sift_up(i);
            let i = self.place[h] as usize;
            self.sift_down(i);
        }
    }

    /// Removes a handle if present.
    pub fn remove(&mut self, handle: u32) {
        let at = self.place[handle as usize];
        if at == NIL {
            return;
        }
        let i = at as usize;
        let last = self.heap.len() - 1;
        self.swap(i, last);
        self.heap.pop();
        self.place[handle as usize] = NIL;
        if i < self.heap.len() {
            // The former last entry now sits at `i`: it may belong higher or lower.
            let moved = self.heap[i];
            self.sift_up(i);
            let j = self.place[moved as usize] as usize;
            self.sift_down(j);
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.heap.swap(i, j);
        let (hi, hj) = (self.heap[i], self.heap[j]);
        self.place[hi as usize] = u32::try_from(i).expect("invariant: fits");
        self.place[hj as usize] = u32::try_from(j).expect("invariant: fits");
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.before(self.heap[i], self.heap[parent]) {
                self.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.before(self.heap[l], self.heap[best]) {
                best = l;
            }
            if r < n && self.before(self.heap[r], self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.swap(i, best);
            i = best;
        }
    }

    /// Checks the heap property and the place index.
    ///
    /// # Errors
    /// A description of the first violation.
    pub fn check(&self) -> Result<(), String> {
        for (i, h) in self.heap.iter().enumerate() {
            if self.place[*h as usize] as usize != i {
                return Err(format!("heap place of handle {h} is stale"));
            }
            if i > 0 && self.before(*h, self.heap[(i - 1) / 2]) {
                return Err(format!("heap order broken at {i}"));
            }
        }
        let placed = self.place.iter().filter(|p| **p != NIL).count();
        if placed != self.heap.len() {
            return Err(format!("{placed} handles placed, {} in heap", self.heap.len()));
        }
        Ok(())
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
            let mut heap = TriggerHeap::new(order, 32);
            let mut model: BTreeMap<u32, i64> = BTreeMap::new();
            for (handle, price, insert) in ops {
                // Account id = handle, so ties break on the handle too.
                if insert {
                    heap.upsert(handle, price, handle);
                    model.insert(handle, price);
                } else {
                    heap.remove(handle);
                    model.remove(&handle);
                }
                heap.check().map_err(TestCaseError::fail)?;
                prop_assert_eq!(heap.len(), model.len());
                let want = model.iter().map(|(h, p)| (*h, *p)).min_by(|a, b| {
                    let by_price = if max_first { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) };
                    by_price.then(a.0.cmp(&b.0))
                });
                prop_assert_eq!(heap.top().map(|(h, k)| (h, k.0)), want);
            }
        }
    }
}
