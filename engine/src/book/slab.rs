//! Order storage: a preallocated slab of fixed-size slots plus an id index.
//!
//! # Layout
//! One 64-byte [`OrderSlot`] per resting order, addressed by a `u32` slot index. Slots link
//! into two intrusive doubly linked lists: the FIFO of their price level, and the list of their
//! account's orders (for mass cancel). [`NIL`] ends a list. Free slots are kept on a LIFO free
//! list, so slot reuse is deterministic.
//!
//! # Id index
//! Ids are sequence numbers, so an id's low bits already spread live orders evenly: the index
//! is a direct-mapped table of slot numbers (`u32`, sixteen to a cache line) at `id & mask`,
//! confirmed by the id stored in the slot itself, which every caller of a lookup reads next
//! anyway. A removal is one store, with no probing and no cluster to shift. The rare id whose
//! entry is taken by a live order with the same low bits (an order that rested for a whole
//! lap of the table) goes to a small-probe overflow map, consulted only while it is non-empty.
//! Four times denser than a map bucket holding key and value, the table keeps far more of the
//! live ids' entries in cache (the cancelled order's entry was the largest single stall).
//!
//! # Complexity
//! Allocate, free and look up by id are O(1).

use super::map::U64Map;
use crate::command::Side;

/// The end of an intrusive list.
pub const NIL: u32 = u32::MAX;

/// Flag bit: the order only reduces its account's position.
pub const FLAG_REDUCE_ONLY: u8 = 1;
/// Flag bit: the order is post-only (reject policy) and must not take when amended.
pub const FLAG_POST_ONLY: u8 = 2;
/// Flag bit: the order is post-only with the reprice (slide) policy.
pub const FLAG_POST_ONLY_SLIDE: u8 = 4;

/// One resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(C, align(64))]
pub struct OrderSlot {
    /// Order id; 0 in a free slot.
    pub id: u64,
    /// Limit price in ticks.
    pub price: i64,
    /// Open quantity in lots (> 0 while resting).
    pub qty_open: i64,
    /// The client's reference.
    pub client_ref: u64,
    /// Owner.
    pub account: u32,
    /// Previous order in the level FIFO.
    pub prev: u32,
    /// Next order in the level FIFO.
    pub next: u32,
    /// Level slot in the market's book.
    pub level: u32,
    /// Previous order of the same account.
    pub account_prev: u32,
    /// Next order of the same account.
    pub account_next: u32,
    /// The owner's position record in this market, found once when the order is placed so
    /// that fills and cancels update its resting-order totals without a search.
    pub position: u32,
    /// Market id.
    pub market: u16,
    /// Side.
    pub side: Side,
    /// `FLAG_*` bits.
    pub flags: u8,
}

const _: () = assert!(core::mem::size_of::<OrderSlot>() == 64);

impl OrderSlot {
    const FREE: Self = Self {
        id: 0,
        price: 0,
        qty_open: 0,
        client_ref: 0,
        account: 0,
        prev: NIL,
        next: NIL,
        level: NIL,
        account_prev: NIL,
        account_next: NIL,
        position: NIL,
        market: 0,
        side: Side::Buy,
        flags: 0,
    };

    /// A fresh unlinked slot for an order.
    #[must_use]
    pub fn new(id: u64, account: u32, market: u16, side: Side, price: i64, qty: i64) -> Self {
        Self {
            id,
            account,
            market,
            side,
            price,
            qty_open: qty,
            ..Self::FREE
        }
    }

    /// Whether a flag bit is set.
    #[inline]
    #[must_use]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The slab of all resting orders across all markets.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Orders {
    /// Every slot, allocated and written at construction (so no page faults mid-command).
    slots: Vec<OrderSlot>,
    /// Slots below this index have been used at least once.
    high_water: u32,
    free: Vec<u32>,
    /// Direct-mapped id index: the slot of the live order whose id is `i` modulo its length,
    /// or `NIL`.
    direct: Vec<u32>,
    /// Ids whose direct entry was held by another live order when they were stored.
    overflow: U64Map,
    /// Orders held.
    held: u32,
    capacity: u32,
}

impl Clone for Orders {
    /// A copy with the full reserved capacity: `alloc` relies on it never reallocating.
    fn clone(&self) -> Self {
        let n = self.capacity as usize;
        Self {
            // Every slot is written at construction, so the slab is already full length.
            slots: self.slots.clone(),
            high_water: self.high_water,
            free: super::clone_with_capacity(&self.free, n),
            direct: self.direct.clone(),
            overflow: self.overflow.clone(),
            held: self.held,
            capacity: self.capacity,
        }
    }

    /// Copies into `self`'s storage: no allocation and no fresh pages when the capacities
    /// match (a snapshot copy refreshed from the live engine).
    fn clone_from(&mut self, src: &Self) {
        // Destructured so that a new field fails to compile here until it is copied.
        let Self {
            slots,
            high_water,
            free,
            direct,
            overflow,
            held,
            capacity,
        } = src;
        self.slots.clone_from(slots);
        self.high_water = *high_water;
        self.free.clone_from(free);
        self.direct.clone_from(direct);
        self.overflow.clone_from(overflow);
        self.held = *held;
        self.capacity = *capacity;
    }
}

impl Orders {
    /// Creates storage for up to `capacity` orders, written now so no page faults mid-command.
    #[must_use]
    pub fn with_capacity(capacity: u32) -> Self {
        let n = capacity as usize;
        Self {
            slots: vec![OrderSlot::FREE; n],
            high_water: 0,
            free: Vec::with_capacity(n),
            // Twice the capacity, as the map it replaced: at most half the entries are live,
            // so an id's entry is free unless an order a whole table length older still rests.
            direct: vec![NIL; direct_len(n)],
            overflow: U64Map::with_capacity(n),
            held: 0,
            capacity,
        }
    }

    /// Orders held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held as usize
    }

    /// Whether no order is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Whether another order fits.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.held >= self.capacity
    }

    #[inline]
    fn home(&self, id: u64) -> usize {
        // The table length is a power of two: the low bits of the id. (Wrapping: the length
        // is never 0, and a checked subtraction would cost a branch on every lookup.)
        (id as usize) & self.direct.len().wrapping_sub(1)
    }

    /// The slot of `id` if its direct entry holds it.
    #[inline]
    fn find_direct(&self, id: u64) -> Option<u32> {
        let s = self.direct[self.home(id)];
        // `get`, not indexing: a restored table is checked for shape, not for every entry.
        self.slots
            .get(s as usize)
            .is_some_and(|o| o.id == id)
            .then_some(s)
    }

    /// Stores an order and indexes it by id. Returns `None` when full.
    ///
    /// # Panics
    /// If the id is 0 or already present: ids are sequence numbers, unique by construction.
    pub fn alloc(&mut self, slot: OrderSlot) -> Option<u32> {
        if self.is_full() {
            return None;
        }
        assert_ne!(
            slot.id, 0,
            "invariant: order ids are sequence numbers above 0"
        );
        let index = if let Some(i) = self.free.pop() {
            i
        } else {
            let i = self.high_water;
            self.high_water += 1;
            i
        };
        let home = self.home(slot.id);
        let occupant = self.direct[home];
        if occupant == NIL {
            // The id could still sit in the overflow, stored while its entry was taken.
            assert!(
                self.overflow.is_empty() || self.overflow.get(slot.id).is_none(),
                "invariant: order id {} is unique",
                slot.id
            );
            self.direct[home] = index;
        } else {
            assert_ne!(
                self.slots[occupant as usize].id, slot.id,
                "invariant: order ids are unique"
            );
            // Sized for every order, so it has room; `false` would mean a duplicate id.
            let fresh = self.overflow.insert(slot.id, index);
            assert!(fresh, "invariant: order id {} is unique", slot.id);
        }
        self.slots[index as usize] = slot;
        self.held += 1;
        Some(index)
    }

    /// Frees a slot and removes its id from the index.
    ///
    /// # Panics
    /// If the slot is already free.
    pub fn free(&mut self, index: u32) {
        let id = self.slots[index as usize].id;
        assert_ne!(id, 0, "invariant: slot {index} freed twice");
        let home = self.home(id);
        if self.direct[home] == index {
            self.direct[home] = NIL;
        } else {
            let removed = self.overflow.remove(id);
            assert_eq!(removed, Some(index), "invariant: index agrees with slot");
        }
        self.held -= 1;
        // Only the id marks a slot free (lookups and audits read it); the other fields are
        // rewritten whole when the slot is next allocated, so they are left as they were.
        let slot = &mut self.slots[index as usize];
        slot.id = 0;
        slot.level = NIL;
        self.free.push(index);
    }

    /// Finds the slot of an order id.
    #[inline]
    #[must_use]
    pub fn find(&self, id: u64) -> Option<u32> {
        if id == 0 {
            return None;
        }
        match self.find_direct(id) {
            Some(s) => Some(s),
            None if self.overflow.is_empty() => None,
            None => self.find_overflow(id),
        }
    }

    /// The overflow probe, out of line: kept out of the callers' hot code (and registers).
    #[cold]
    #[inline(never)]
    fn find_overflow(&self, id: u64) -> Option<u32> {
        self.overflow.get(id)
    }

    /// The slot at `index`.
    #[inline]
    #[must_use]
    pub fn get(&self, index: u32) -> &OrderSlot {
        &self.slots[index as usize]
    }

    /// The slot at `index`, mutably.
    #[inline]
    pub fn get_mut(&mut self, index: u32) -> &mut OrderSlot {
        &mut self.slots[index as usize]
    }

    /// Every slot ever used, free ones with id 0. For audits and hashing.
    #[must_use]
    pub fn slots(&self) -> &[OrderSlot] {
        &self.slots[..self.high_water as usize]
    }
}

/// Length of the direct id table for `capacity` orders: a power of two, at least twice it.
fn direct_len(capacity: usize) -> usize {
    (capacity.max(4) * 2).next_power_of_two()
}

impl Orders {
    /// Checks a deserialized slab against `capacity` and reserves its free list back to it, so
    /// a restored engine never allocates where the original did not.
    ///
    /// # Errors
    /// A description of the first shape mismatch.
    pub(crate) fn restore_capacities(&mut self, capacity: u32) -> Result<(), String> {
        let n = capacity as usize;
        if self.capacity != capacity || self.slots.len() != n {
            return Err(format!(
                "order slab holds {} slots, limit {n}",
                self.slots.len()
            ));
        }
        if self.high_water as usize > n || self.free.len() > n || self.held > capacity {
            return Err("order slab high water or free list past capacity".into());
        }
        if self.direct.len() != direct_len(n) {
            return Err(format!("id table of {} entries", self.direct.len()));
        }
        self.overflow.check_shape(n)?;
        self.check_links()?;
        crate::restore::reserve_exact_to(&mut self.free, n);
        Ok(())
    }

    /// Checks that every slot number a deserialized slab stores is in range and that the id
    /// index holds exactly the live orders, each once: what a lookup, a link walk or the
    /// audit would otherwise index out of bounds or trip over (an id indexed but not live
    /// would make a later order with that id a duplicate).
    fn check_links(&self) -> Result<(), String> {
        let n = self.slots.len();
        let ok = |s: u32| s == NIL || (s as usize) < n;
        let mut live = 0usize;
        for (i, o) in self.slots.iter().enumerate() {
            if o.id == 0 {
                continue;
            }
            live += 1;
            if i >= self.high_water as usize {
                return Err(format!("order slot {i} live above the high-water mark"));
            }
            if ![o.prev, o.next, o.account_prev, o.account_next]
                .into_iter()
                .all(ok)
            {
                return Err(format!("order {} links past the slab", o.id));
            }
            if self.find(o.id) != Some(u32::try_from(i).map_err(|e| e.to_string())?) {
                return Err(format!("order {} not indexed at its slot", o.id));
            }
        }
        // Each live order was found through its own entry (a direct entry names one slot, so
        // one id; overflow entries are keyed by id): with as many entries as live orders, no
        // entry is left naming anything else.
        let direct = self.direct.iter().filter(|s| **s != NIL).count();
        if live != self.held as usize || direct + self.overflow.len() != live {
            return Err(format!(
                "{live} live orders, {} held, {direct} + {} indexed",
                self.held,
                self.overflow.len()
            ));
        }
        let mut free = vec![false; n];
        for s in &self.free {
            let i = *s as usize;
            if i >= self.high_water as usize || self.slots[i].id != 0 || free[i] {
                return Err(format!("free list entry {s}"));
            }
            free[i] = true;
        }
        if live + self.free.len() != self.high_water as usize {
            return Err("free list and live orders do not cover the used slots".into());
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
        /// Ids a multiple of the table length apart share a direct entry, so they exercise the
        /// overflow: storing, finding and freeing in any order agree with a plain map.
        #[test]
        fn id_index_behaves_like_btreemap(
            ops in proptest::collection::vec((0u64..4, 1u64..10, any::<bool>()), 0..300),
        ) {
            let mut orders = Orders::with_capacity(8);
            let table = direct_len(8) as u64;
            let mut model: BTreeMap<u64, u32> = BTreeMap::new();
            for (lap, low, store) in ops {
                let id = lap * table + low;
                if store && !model.contains_key(&id) {
                    let slot = orders.alloc(OrderSlot::new(id, 0, 0, Side::Buy, 1, 1));
                    prop_assert_eq!(slot.is_some(), model.len() < 8);
                    if let Some(s) = slot {
                        model.insert(id, s);
                    }
                } else if !store {
                    if let Some(s) = model.remove(&id) {
                        orders.free(s);
                    }
                }
                prop_assert_eq!(orders.len(), model.len());
                for lap in 0..4 {
                    for low in 0..10 {
                        let k = lap * table + low;
                        prop_assert_eq!(orders.find(k), model.get(&k).copied());
                    }
                }
            }
        }
    }
}
