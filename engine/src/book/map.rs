//! A fixed-capacity open-addressing map from non-zero `u64` keys to `u32` values.
//!
//! Used for point lookups only (price → level, and order ids that collide in the order slab's
//! direct id table), never iterated, so its layout
//! cannot leak into results. It is sized once and never grows, so inserting never allocates.
//!
//! # Layout
//! Linear probing over a power-of-two table at most half full; key `u64::MAX` marks an empty
//! bucket. Deletion shifts the following cluster back (no tombstones), so probe lengths stay
//! short under the endless insert/delete churn of an order book.
//!
//! The home bucket is the key itself, masked. Order ids are sequence numbers and level keys
//! are prices, so the live keys of a book are mostly neighbours: identity placement puts them
//! on neighbouring cache lines, where a mixing hash would scatter them over the whole table
//! (measured: the first bucket load was the hottest instruction of the matching loop).
//! The table is filled with the empty marker at construction, which also faults its pages in
//! before the first command instead of during one.
//!
//! A key and its value share one 16-byte bucket (four to a cache line): with the order index
//! far larger than the caches, a lookup is one cache miss instead of one for the key array and
//! another for the value array.
//!
//! # Complexity
//! Expected O(1) for get, insert and remove at load ≤ 1/2.

const EMPTY: u64 = u64::MAX;

/// One slot of the table: a key and its value, side by side.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Bucket {
    key: u64,
    value: u32,
}

const VACANT: Bucket = Bucket {
    key: EMPTY,
    value: 0,
};

/// Fixed-capacity `u64 → u32` map.
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct U64Map {
    buckets: Vec<Bucket>,
    mask: usize,
    len: usize,
    capacity: usize,
    /// The largest distance any key has ever sat from its home bucket. No lookup probes past
    /// it and no deletion scans past it, so a long run of neighbouring keys (a market maker's
    /// consecutive order ids) costs nothing extra to search or delete in.
    displacement_max: usize,
}

impl Clone for U64Map {
    fn clone(&self) -> Self {
        Self {
            buckets: self.buckets.clone(),
            mask: self.mask,
            len: self.len,
            capacity: self.capacity,
            displacement_max: self.displacement_max,
        }
    }

    /// Reuses `self`'s buckets (no allocation, no fresh pages when the sizes match).
    fn clone_from(&mut self, src: &Self) {
        self.buckets.clone_from(&src.buckets);
        self.mask = src.mask;
        self.len = src.len;
        self.capacity = src.capacity;
        self.displacement_max = src.displacement_max;
    }
}

impl U64Map {
    /// Creates a map that holds up to `capacity` entries.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let buckets = (capacity.max(4) * 2).next_power_of_two();
        Self {
            buckets: vec![VACANT; buckets],
            mask: buckets - 1,
            len: 0,
            capacity,
            displacement_max: 0,
        }
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries the map can hold.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        // Identity placement (see the module docs); the mask keeps it in the table.
        (key as usize) & self.mask
    }

    /// Returns the value for `key`.
    #[inline]
    #[must_use]
    pub fn get(&self, key: u64) -> Option<u32> {
        if key == EMPTY {
            // Never stored (insert refuses it): an input id of u64::MAX is simply unknown.
            return None;
        }
        self.find(key).map(|i| self.buckets[i].value)
    }

    /// The bucket holding `key`, probing no further than any key has ever been displaced.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let mut i = self.home(key);
        // The home bucket first, outside the loop: almost every lookup ends there (identity
        // placement), and the loop's setup (counter, bound) cost as much as the compare; with
        // nothing ever displaced the miss is decided here too.
        let k = self.buckets[i].key;
        if k == key {
            return Some(i);
        }
        if k == EMPTY || self.displacement_max == 0 {
            return None;
        }
        i = (i + 1) & self.mask;
        for _ in 0..self.displacement_max {
            let k = self.buckets[i].key;
            if k == key {
                return Some(i);
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Inserts `key → value`; returns `false` (and changes nothing) if the key was present or
    /// the map is full.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u32) -> bool {
        assert_ne!(key, EMPTY, "invariant: map keys are below u64::MAX");
        if self.len >= self.capacity {
            return false;
        }
        // Without tombstones a present key lies between its home and the first empty bucket,
        // so one probe both rules it out and finds the place.
        let home = self.home(key);
        let mut i = home;
        loop {
            let k = self.buckets[i].key;
            if k == key {
                return false;
            }
            if k == EMPTY {
                break;
            }
            i = (i + 1) & self.mask;
        }
        self.buckets[i] = Bucket { key, value };
        self.len += 1;
        self.displacement_max = self.displacement_max.max(i.wrapping_sub(home) & self.mask);
        true
    }

    /// Overwrites the value of a present key; returns whether it was present.
    #[inline]
    pub fn set(&mut self, key: u64, value: u32) -> bool {
        match self.find(key) {
            Some(i) => {
                self.buckets[i].value = value;
                true
            }
            None => false,
        }
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove(&mut self, key: u64) -> Option<u32> {
        if key == EMPTY {
            return None;
        }
        let i = self.find(key)?;
        let value = self.buckets[i].value;
        self.len -= 1;
        // Backward-shift deletion: move later members of the cluster into the hole when their
        // home bucket does not lie (cyclically) between the hole and their current bucket.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let k = self.buckets[j].key;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            // A key that could fill the hole sits at least `dist_hole` from its home; none
            // sits further than `displacement_max`.
            if k == EMPTY || dist_hole > self.displacement_max {
                break;
            }
            let home = self.home(k);
            let dist_home = j.wrapping_sub(home) & self.mask;
            if dist_home >= dist_hole {
                self.buckets[hole] = self.buckets[j];
                hole = j;
            }
        }
        self.buckets[hole].key = EMPTY;
        Some(value)
    }

    /// Removes every entry, keeping the memory.
    pub fn clear(&mut self) {
        self.buckets.fill(VACANT);
        self.len = 0;
        self.displacement_max = 0;
    }
}

impl U64Map {
    /// Checks the shape of a deserialized map (restored snapshot): a power-of-two table at
    /// most half full for `capacity`, whose count agrees with its buckets, with a probe bound
    /// inside the table and no entry further from its home than that bound (a lookup would
    /// miss it). What the values name is checked by the map's owner.
    ///
    /// # Errors
    /// A description of the first mismatch.
    pub(crate) fn check_shape(&self, capacity: usize) -> Result<(), String> {
        let buckets = self.buckets.len();
        let ok = buckets.is_power_of_two()
            && self.mask == buckets - 1
            && self.capacity == capacity
            && self.capacity < buckets
            && self.len <= self.capacity
            && self.displacement_max < buckets;
        if !ok {
            return Err(format!(
                "map shape: {buckets} buckets for capacity {capacity}"
            ));
        }
        let mut held = 0usize;
        for (i, b) in self.buckets.iter().enumerate() {
            if b.key == EMPTY {
                continue;
            }
            held += 1;
            if i.wrapping_sub(self.home(b.key)) & self.mask > self.displacement_max {
                return Err(format!("map entry {} past its probe bound", b.key));
            }
        }
        if held != self.len {
            return Err(format!("map of {} entries holds {held}", self.len));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn insert_get_remove() {
        let mut m = U64Map::with_capacity(4);
        assert!(m.insert(7, 70));
        assert!(!m.insert(7, 71));
        assert_eq!(m.get(7), Some(70));
        assert!(m.set(7, 72));
        assert_eq!(m.remove(7), Some(72));
        assert_eq!(m.get(7), None);
        assert!(m.is_empty());
    }

    #[test]
    fn full_map_refuses() {
        let mut m = U64Map::with_capacity(2);
        assert!(m.insert(1, 1));
        assert!(m.insert(2, 2));
        assert!(!m.insert(3, 3));
        assert_eq!(m.len(), 2);
    }

    proptest! {
        /// Keys that share home buckets (multiples of the table size apart) force probing,
        /// displacement and backward shifts.
        #[test]
        fn colliding_keys_behave_like_btreemap(
            ops in proptest::collection::vec((0u64..6, 0u64..20, any::<bool>()), 0..400),
        ) {
            let mut m = U64Map::with_capacity(16);
            let buckets = 32u64;
            let mut model = BTreeMap::new();
            for (i, (lap, slot, insert)) in ops.into_iter().enumerate() {
                let key = lap * buckets + slot;
                let value = u32::try_from(i).expect("small");
                if insert {
                    let fresh = !model.contains_key(&key) && model.len() < 16;
                    prop_assert_eq!(m.insert(key, value), fresh);
                    if fresh {
                        model.insert(key, value);
                    }
                } else {
                    prop_assert_eq!(m.remove(key), model.remove(&key));
                }
                prop_assert_eq!(m.len(), model.len());
                for lap in 0..6 {
                    for slot in 0..20 {
                        let k = lap * buckets + slot;
                        prop_assert_eq!(m.get(k), model.get(&k).copied());
                    }
                }
            }
        }

        #[test]
        fn behaves_like_btreemap(ops in proptest::collection::vec((1u64..64, any::<bool>()), 0..400)) {
            let mut m = U64Map::with_capacity(64);
            let mut model = BTreeMap::new();
            for (i, (key, insert)) in ops.into_iter().enumerate() {
                let value = u32::try_from(i).expect("small");
                if insert {
                    let fresh = !model.contains_key(&key);
                    prop_assert_eq!(m.insert(key, value), fresh);
                    model.entry(key).or_insert(value);
                } else {
                    prop_assert_eq!(m.remove(key), model.remove(&key));
                }
                prop_assert_eq!(m.len(), model.len());
                for k in 1..64 {
                    prop_assert_eq!(m.get(k), model.get(&k).copied());
                }
            }
        }
    }
}
