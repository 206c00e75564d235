//! The limit order book of one market: price levels with FIFO queues, price-time priority.
//!
//! # Layout
//! - Orders live in the engine-wide [`Orders`] slab and link into their level's FIFO.
//! - Levels live in a per-book slab of [`Level`]s, found by price through a [`U64Map`] keyed
//!   `price << 1 | side`.
//! - Each side keeps its active level prices in a sorted array with the best price at the end
//!   (bids ascending, asks by descending price), so the best level is the last element and
//!   the matching loop consumes levels from the end with no shifting.
//!
//! # Invariants
//! Checked by `invariants::check_all`: each side's prices are strictly sorted; at rest the best
//! bid is below the best ask; every level is non-empty and its total is the sum of its orders.
//!
//! # Complexity
//! Add to an existing level, cancel that leaves its level non-empty, fill at the best level:
//! O(1). Creating or removing a level: O(log L) search plus a shift of the levels behind it;
//! levels near the touch, where almost all activity is, shift almost nothing.
//!
//! # Known limitations
//! A level created far from the touch on a side with tens of thousands of levels pays a memmove
//! of those levels (a few microseconds at worst).

pub mod level;
pub mod map;
pub mod slab;

pub use level::Level;
pub use map::U64Map;
pub use slab::{OrderSlot, Orders, NIL};

use crate::command::Side;

/// A copy of `items` with room for `capacity` of them, reserved now.
///
/// `Vec::clone` keeps only the length, so a cloned engine (a snapshot) would otherwise
/// reallocate on its next insert: the capacity is part of the no-allocation guarantee.
pub(crate) fn clone_with_capacity<T: Clone>(items: &[T], capacity: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(capacity.max(items.len()));
    out.extend_from_slice(items);
    out
}

/// Sorted active prices of one side, best last.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct SideIndex {
    /// `price` for bids, `-price` for asks: ascending, so the best level is last on both sides.
    keys: Vec<i64>,
    /// Level slot for each key.
    levels: Vec<u32>,
    /// Levels with orders (the rest are dormant).
    active: usize,
}

impl Clone for SideIndex {
    fn clone(&self) -> Self {
        Self {
            keys: clone_with_capacity(&self.keys, self.keys.capacity()),
            levels: clone_with_capacity(&self.levels, self.levels.capacity()),
            active: self.active,
        }
    }
}

impl SideIndex {
    fn with_capacity(n: usize) -> Self {
        Self {
            keys: Vec::with_capacity(n),
            levels: Vec::with_capacity(n),
            active: 0,
        }
    }
}

#[inline]
fn sort_key(side: Side, price: i64) -> i64 {
    match side {
        Side::Buy => price,
        Side::Sell => -price,
    }
}

#[inline]
fn level_key(side: Side, price: i64) -> u64 {
    let price = u64::try_from(price).expect("invariant: resting prices are positive");
    (price << 1) | side as u64
}

/// One market's order book.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Book {
    levels: Vec<Level>,
    levels_free: Vec<u32>,
    level_index: U64Map,
    sides: [SideIndex; 2],
    levels_per_side_max: usize,
}

impl Clone for Book {
    /// A copy with the same preallocated capacity, so it never allocates where the original
    /// would not.
    fn clone(&self) -> Self {
        Self {
            levels: clone_with_capacity(&self.levels, self.levels.capacity()),
            levels_free: clone_with_capacity(&self.levels_free, self.levels_free.capacity()),
            level_index: self.level_index.clone(),
            sides: self.sides.clone(),
            levels_per_side_max: self.levels_per_side_max,
        }
    }
}

impl Book {
    /// Creates an empty book with room for `levels_per_side_max` levels a side.
    #[must_use]
    pub fn new(levels_per_side_max: u32) -> Self {
        let n = levels_per_side_max as usize;
        Self {
            levels: Vec::with_capacity(2 * n),
            levels_free: Vec::with_capacity(2 * n),
            level_index: U64Map::with_capacity(2 * n),
            sides: [SideIndex::with_capacity(n), SideIndex::with_capacity(n)],
            levels_per_side_max: n,
        }
    }

    /// The best level of a side, if any.
    #[inline]
    #[must_use]
    pub fn best(&self, side: Side) -> Option<u32> {
        self.sides[side.index()].levels.last().copied()
    }

    /// The best price of a side, if any.
    #[inline]
    #[must_use]
    pub fn best_price(&self, side: Side) -> Option<i64> {
        self.best(side).map(|l| self.levels[l as usize].price)
    }

    /// The level at `index`.
    #[inline]
    #[must_use]
    pub fn level(&self, index: u32) -> &Level {
        &self.levels[index as usize]
    }

    /// The level resting at `price` on `side`, if any.
    #[inline]
    #[must_use]
    pub fn find_level(&self, side: Side, price: i64) -> Option<u32> {
        self.level_index.get(level_key(side, price))
    }

    /// Number of levels with orders on a side.
    #[must_use]
    pub fn depth(&self, side: Side) -> usize {
        self.sides[side.index()].active
    }

    /// Levels with orders on a side, from best to worst.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = &Level> + '_ {
        self.level_slots(side)
            .map(move |l| &self.levels[l as usize])
    }

    /// Slots of the levels with orders on a side, from best to worst.
    pub fn level_slots(&self, side: Side) -> impl Iterator<Item = u32> + '_ {
        self.sides[side.index()]
            .levels
            .iter()
            .rev()
            .copied()
            .filter(move |l| self.levels[*l as usize].count > 0)
    }

    /// Every indexed level slot of a side, dormant ones included, best first (for audits).
    pub fn indexed_slots(&self, side: Side) -> impl Iterator<Item = u32> + '_ {
        self.sides[side.index()].levels.iter().rev().copied()
    }

    /// Whether an order could rest at `price` on `side` without exceeding the level limit.
    ///
    /// Inline, with the level lookup out of line: every resting order asks, and a side below
    /// its limit (all but a full one) answers with one comparison.
    #[inline]
    #[must_use]
    pub fn can_rest(&self, side: Side, price: i64) -> bool {
        self.depth(side) < self.levels_per_side_max || self.has_active_level(side, price)
    }

    /// Whether `side` has a level with orders at `price` (a full side can still take orders
    /// there).
    #[cold]
    #[inline(never)]
    fn has_active_level(&self, side: Side, price: i64) -> bool {
        self.find_level(side, price)
            .is_some_and(|l| self.levels[l as usize].count > 0)
    }

    /// Appends a stored, unlinked order to the tail of its price level, creating the level.
    ///
    /// # Panics
    /// If the level would exceed the limit: callers check [`Book::can_rest`] first.
    pub fn push_back(&mut self, orders: &mut Orders, slot: u32) -> u32 {
        let (side, price, qty) = {
            let o = orders.get(slot);
            (o.side, o.price, o.qty_open)
        };
        assert!(qty > 0, "invariant: resting quantity is positive");
        let level_idx = match self.find_level(side, price) {
            Some(l) => l,
            None => self.create_level(side, price),
        };
        let level = &mut self.levels[level_idx as usize];
        if level.count == 0 {
            // A dormant level wakes up: it kept its place in the side index.
            self.sides[side.index()].active += 1;
        }
        let tail = level.tail;
        level.tail = slot;
        if tail == NIL {
            level.head = slot;
        }
        level.count += 1;
        // Cannot overflow: at most orders_max orders of qty_max lots, checked by the spec.
        level.qty_total += qty;
        let o = orders.get_mut(slot);
        o.prev = tail;
        o.next = NIL;
        o.level = level_idx;
        if tail != NIL {
            orders.get_mut(tail).next = slot;
        }
        level_idx
    }

    /// Unlinks an order from its level, removing the level when it empties. The slot stays
    /// allocated. Returns the level index and whether the level is gone.
    pub fn unlink(&mut self, orders: &mut Orders, slot: u32) -> (u32, bool) {
        let (prev, next, level_idx, qty) = {
            let o = orders.get(slot);
            (o.prev, o.next, o.level, o.qty_open)
        };
        assert_ne!(level_idx, NIL, "invariant: only linked orders are unlinked");
        if prev != NIL {
            orders.get_mut(prev).next = next;
        }
        if next != NIL {
            orders.get_mut(next).prev = prev;
        }
        let level = &mut self.levels[level_idx as usize];
        if prev == NIL {
            level.head = next;
        }
        if next == NIL {
            level.tail = prev;
        }
        level.count -= 1;
        level.qty_total -= qty;
        let empty = level.count == 0;
        if empty {
            assert_eq!(
                level.qty_total, 0,
                "invariant: an empty level holds no quantity"
            );
            self.retire_level(level_idx);
        }
        let o = orders.get_mut(slot);
        o.prev = NIL;
        o.next = NIL;
        o.level = NIL;
        (level_idx, empty)
    }

    /// Takes `qty` from a resting order in place (a fill or a size-down); the caller unlinks it
    /// when it reaches zero. Returns the order's open quantity after.
    #[inline]
    pub fn take(&mut self, orders: &mut Orders, slot: u32, qty: i64) -> i64 {
        let o = orders.get_mut(slot);
        assert!(
            qty > 0 && qty <= o.qty_open,
            "invariant: take within open quantity"
        );
        o.qty_open -= qty;
        let left = o.qty_open;
        let level = &mut self.levels[o.level as usize];
        level.qty_total -= qty;
        left
    }

    /// An emptied level: removed if it is the best (with any dormant levels behind it, so the
    /// best level always has orders), otherwise left dormant in place. Dormant levels are the
    /// point: an order book's prices come back, and re-using a dormant level costs no
    /// insertion into the sorted index (which was the hottest memmove of the `xc` workload).
    fn retire_level(&mut self, idx: u32) {
        let side = self.levels[idx as usize].side;
        self.sides[side.index()].active -= 1;
        loop {
            let s = &self.sides[side.index()];
            let Some(&last) = s.levels.last() else { break };
            if self.levels[last as usize].count > 0 {
                break;
            }
            self.remove_level(last);
        }
    }

    /// Drops every dormant level of a side (when the index is full), in place in one pass.
    ///
    /// Dormant levels are worth keeping until then: shedding them whenever they outnumbered
    /// the active ones twice over made `xc` 47% slower (more levels created anew, each with
    /// its index insertion and map entry).
    #[cold]
    #[inline(never)]
    fn compact(&mut self, side: Side) {
        let s = &mut self.sides[side.index()];
        let mut kept = 0;
        for i in 0..s.keys.len() {
            let l = s.levels[i];
            let level = &mut self.levels[l as usize];
            if level.count > 0 {
                s.keys[kept] = s.keys[i];
                s.levels[kept] = l;
                kept += 1;
                continue;
            }
            let removed = self.level_index.remove(level_key(level.side, level.price));
            assert_eq!(removed, Some(l), "invariant: level index agrees with level");
            *level = Level::FREE;
            self.levels_free.push(l);
        }
        s.keys.truncate(kept);
        s.levels.truncate(kept);
    }

    fn create_level(&mut self, side: Side, price: i64) -> u32 {
        if self.sides[side.index()].keys.len() >= self.levels_per_side_max {
            self.compact(side);
        }
        let s = &mut self.sides[side.index()];
        assert!(
            s.keys.len() < self.levels_per_side_max,
            "invariant: callers check can_rest"
        );
        let key = sort_key(side, price);
        // New levels appear mostly near the touch, i.e. near the end: search from there.
        let pos = insert_position(&s.keys, key);
        let level = Level {
            price,
            side,
            ..Level::FREE
        };
        let idx = if let Some(i) = self.levels_free.pop() {
            self.levels[i as usize] = level;
            i
        } else {
            let i = u32::try_from(self.levels.len()).expect("invariant: levels ≤ SLOT_MAX");
            self.levels.push(level);
            i
        };
        s.keys.insert(pos, key);
        s.levels.insert(pos, idx);
        let fresh = self.level_index.insert(level_key(side, price), idx);
        assert!(fresh, "invariant: one level per price and side");
        idx
    }

    fn remove_level(&mut self, idx: u32) {
        let Level { side, price, .. } = self.levels[idx as usize];
        let s = &mut self.sides[side.index()];
        let key = sort_key(side, price);
        let pos = find_position(&s.keys, key);
        assert_eq!(
            s.levels[pos], idx,
            "invariant: side index agrees with level"
        );
        s.keys.remove(pos);
        s.levels.remove(pos);
        let removed = self.level_index.remove(level_key(side, price));
        assert_eq!(
            removed,
            Some(idx),
            "invariant: level index agrees with level"
        );
        self.levels[idx as usize] = Level::FREE;
        self.levels_free.push(idx);
    }
}

/// Where `key` goes in ascending `keys` (not present). Scans back a few places from the end
/// first, because new levels usually appear at or near the touch.
#[inline]
fn insert_position(keys: &[i64], key: i64) -> usize {
    let n = keys.len();
    let scan = n.min(8);
    for i in 0..scan {
        let pos = n - i;
        if keys[pos - 1] < key {
            return pos;
        }
    }
    keys[..n - scan].partition_point(|k| *k < key)
}

/// Position of `key` in ascending `keys` (present).
#[inline]
fn find_position(keys: &[i64], key: i64) -> usize {
    let n = keys.len();
    let scan = n.min(8);
    for i in 1..=scan {
        if keys[n - i] == key {
            return n - i;
        }
    }
    let pos = keys[..n - scan].partition_point(|k| *k < key);
    assert!(
        pos < n && keys[pos] == key,
        "invariant: removed level is indexed"
    );
    pos
}

impl Book {
    /// Checks a deserialized book against the level limit and reserves its arrays back to the
    /// capacities [`Book::new`] gives them.
    ///
    /// # Errors
    /// A description of the first shape mismatch.
    pub(crate) fn restore_capacities(&mut self, levels_per_side_max: u32) -> Result<(), String> {
        let n = levels_per_side_max as usize;
        if self.levels_per_side_max != n || self.levels.len() > 2 * n {
            return Err(format!("book levels do not fit the limit {n}"));
        }
        if self.levels_free.len() > self.levels.len() {
            return Err("book free list longer than its levels".into());
        }
        for s in &mut self.sides {
            if s.keys.len() != s.levels.len() || s.keys.len() > n || s.active > s.keys.len() {
                return Err("book side index shape".into());
            }
            crate::restore::reserve_exact_to(&mut s.keys, n);
            crate::restore::reserve_exact_to(&mut s.levels, n);
        }
        self.level_index.check_shape(2 * n)?;
        self.check_links()?;
        crate::restore::reserve_exact_to(&mut self.levels, 2 * n);
        crate::restore::reserve_exact_to(&mut self.levels_free, 2 * n);
        Ok(())
    }

    /// Checks that every level slot a deserialized book stores is in range, that each is
    /// either indexed once (on its side, at a positive price, under its key) or free once, and
    /// that the price map holds exactly the indexed levels. The orders' links into the slab are
    /// checked against the slab by [`Book::check_level_ends`] and the engine.
    fn check_links(&self) -> Result<(), String> {
        let n = self.levels.len();
        let mut seen = vec![false; n];
        let mut indexed = 0usize;
        for side in [Side::Buy, Side::Sell] {
            let s = &self.sides[side.index()];
            for (key, l) in s.keys.iter().zip(&s.levels) {
                let i = *l as usize;
                let Some(level) = self.levels.get(i) else {
                    return Err(format!("side index names level {l} of {n}"));
                };
                if seen[i] || level.side != side || level.price <= 0 {
                    return Err(format!(
                        "level {l} indexed twice, on the wrong side or unpriced"
                    ));
                }
                if *key != sort_key(side, level.price)
                    || self.level_index.get(level_key(side, level.price)) != Some(*l)
                {
                    return Err(format!("level {l} not under its key"));
                }
                seen[i] = true;
                indexed += 1;
            }
        }
        if self.level_index.len() != indexed {
            return Err(format!(
                "price map holds {} levels, the side index {indexed}",
                self.level_index.len()
            ));
        }
        for l in &self.levels_free {
            let i = *l as usize;
            if i >= n || seen[i] {
                return Err(format!("free level {l} in use or out of range"));
            }
            seen[i] = true;
        }
        if seen.iter().any(|s| !s) {
            return Err("a level neither indexed nor free".into());
        }
        Ok(())
    }

    /// Checks that the levels' FIFO ends name slab slots (`slots` of them).
    pub(crate) fn check_level_ends(&self, slots: usize) -> Result<(), String> {
        let ok = |s: u32| s == NIL || (s as usize) < slots;
        if let Some(l) = self.levels.iter().find(|l| !ok(l.head) || !ok(l.tail)) {
            return Err(format!("level {} links past the slab", l.price));
        }
        Ok(())
    }

    /// Whether `level` is a level slot of this book (for checks of a deserialized order).
    pub(crate) fn has_level_slot(&self, level: u32) -> bool {
        (level as usize) < self.levels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_scan_then_search() {
        let keys: Vec<i64> = (0..100).map(|k| k * 2).collect();
        assert_eq!(insert_position(&keys, 199), 100);
        assert_eq!(insert_position(&keys, 185), 93);
        assert_eq!(insert_position(&keys, 1), 1);
        assert_eq!(insert_position(&keys, -1), 0);
        assert_eq!(insert_position(&[], 5), 0);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(find_position(&keys, *k), i);
        }
    }

    /// A full index sheds its dormant levels in place: the freed slots and map entries are
    /// reused, and the active levels keep their order.
    #[test]
    fn full_index_sheds_dormant_levels() {
        let mut orders = Orders::with_capacity(16);
        let mut book = Book::new(4);
        let mut slots = Vec::new();
        for (i, price) in [100, 101, 102, 103].into_iter().enumerate() {
            let id = u64::try_from(i).expect("small") + 1;
            let s = orders
                .alloc(OrderSlot::new(id, 0, 0, Side::Buy, price, 1))
                .expect("room");
            book.push_back(&mut orders, s);
            slots.push(s);
        }
        // 100 and 102 go dormant (not the best): the index stays full.
        for s in [slots[0], slots[2]] {
            assert!(book.unlink(&mut orders, s).1, "its level emptied");
            orders.free(s);
        }
        assert_eq!(book.indexed_slots(Side::Buy).count(), 4);
        assert_eq!(book.depth(Side::Buy), 2);
        assert!(book.can_rest(Side::Buy, 99));
        let s = orders
            .alloc(OrderSlot::new(9, 0, 0, Side::Buy, 99, 1))
            .expect("room");
        book.push_back(&mut orders, s);
        let prices: Vec<i64> = book.levels(Side::Buy).map(|l| l.price).collect();
        assert_eq!(prices, vec![103, 101, 99]);
        assert_eq!(book.indexed_slots(Side::Buy).count(), 3);
        assert_eq!(book.find_level(Side::Buy, 100), None);
        assert_eq!(book.find_level(Side::Buy, 102), None);
        assert!(book.find_level(Side::Buy, 99).is_some());
    }

    #[test]
    fn fifo_and_levels() {
        let mut orders = Orders::with_capacity(8);
        let mut book = Book::new(4);
        let a = orders
            .alloc(OrderSlot::new(1, 0, 0, Side::Buy, 100, 5))
            .expect("room");
        let b = orders
            .alloc(OrderSlot::new(2, 1, 0, Side::Buy, 100, 7))
            .expect("room");
        let c = orders
            .alloc(OrderSlot::new(3, 1, 0, Side::Buy, 101, 1))
            .expect("room");
        let la = book.push_back(&mut orders, a);
        assert_eq!(book.push_back(&mut orders, b), la);
        book.push_back(&mut orders, c);
        assert_eq!(book.best_price(Side::Buy), Some(101));
        assert_eq!(book.level(la).qty_total, 12);
        assert_eq!(book.level(la).head, a);
        assert!(book.unlink(&mut orders, c).1);
        assert_eq!(book.best_price(Side::Buy), Some(100));
        assert_eq!(book.take(&mut orders, a, 5), 0);
        assert_eq!(book.unlink(&mut orders, a), (la, false));
        assert_eq!(book.level(la).head, b);
        assert_eq!(book.level(la).qty_total, 7);
        let prices: Vec<i64> = book.levels(Side::Buy).map(|l| l.price).collect();
        assert_eq!(prices, vec![100]);
    }
}
