//! Every collection in the engine has a named maximum, fixed at construction.
//!
//! The engine preallocates to these limits and rejects at them; it never grows past them, so
//! memory is bounded and no command allocates after warm-up.

/// Capacities of one engine instance. Process configuration: it sizes memory but cannot change
/// the outcome of a command stream that stays within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    /// Markets the engine can hold.
    pub markets_max: u16,
    /// Accounts the engine can hold; account ids are `0..accounts_max`.
    pub accounts_max: u32,
    /// Resting orders across all markets.
    pub orders_max: u32,
    /// Resting orders per account across all markets.
    pub orders_per_account_max: u32,
    /// Price levels per side of one book.
    pub levels_per_side_max: u32,
    /// Fills one taker order may make before its remainder is expired.
    pub fills_per_taker_max: u32,
    /// Position records (one per account and market used) across all markets.
    pub positions_max: u32,
    /// Liquidations one command may start; the rest wait for the next command, in trigger
    /// order, so one huge mark move cannot make one command unbounded.
    pub liquidations_per_command_max: u32,
    /// Positions that may sit in a liquidation cooldown at once (between partial slices).
    pub cooldowns_max: u32,
}

impl Limits {
    /// Hard ceiling on any slot index: `u32::MAX` is the list terminator.
    pub const SLOT_MAX: u32 = u32::MAX - 1;

    /// Limits for a small engine, used by tests and scenario files.
    pub const SMALL: Self = Self {
        markets_max: 8,
        accounts_max: 1_024,
        orders_max: 65_536,
        orders_per_account_max: 4_096,
        levels_per_side_max: 4_096,
        fills_per_taker_max: 4_096,
        positions_max: 8_192,
        liquidations_per_command_max: 256,
        cooldowns_max: 1_024,
    };

    /// Limits for the embedded default server and the benchmarks.
    pub const DEFAULT: Self = Self {
        markets_max: 16,
        accounts_max: 100_000,
        orders_max: 1 << 20,
        orders_per_account_max: 100_000,
        levels_per_side_max: 1 << 16,
        fills_per_taker_max: 10_000,
        positions_max: 1 << 20,
        liquidations_per_command_max: 4_096,
        cooldowns_max: 65_536,
    };

    /// The event buffer's preallocated size: what one matching command can emit at most (a
    /// taker's fills and the level updates they cause, or a mass cancel of every order of an
    /// account), or a cascade of `liquidations_per_command_max` liquidations each closed by
    /// one fill, whichever is more, plus a constant for the bookkeeping events.
    #[must_use]
    pub fn events_per_command_max(&self) -> usize {
        let fills = self.fills_per_taker_max as usize;
        let cancels = self.orders_per_account_max as usize;
        let liquidations = self.liquidations_per_command_max as usize;
        // A fill emits a trade; each level swept emits one level update; a self-trade or
        // reduce-only cancel emits a cancel and a level update, and counts as a fill.
        //
        // A liquidation closed by one fill in the book emits `EVENTS_PER_LIQUIDATION` events
        // (a backstop takeover three). A crash is the worst moment to grow the buffer mid-
        // command (measured on an engine's first cascade of 100,000: 77-84 ms with the buffer
        // growing to 28 MB during the command, 56-59 ms with the room reserved, 44-48 ms with
        // it reserved and written at construction), so the room is reserved up front. Liquidation orders that sweep several makers, or ADL, can
        // still need more; the buffer then grows once to that high-water mark and keeps it.
        // Matching never makes it grow.
        (3 * fills)
            .max(2 * cancels)
            .max(EVENTS_PER_LIQUIDATION * liquidations)
            + 16
    }

    /// Bytes an engine reserves from these limits beyond the arrays a snapshot stores whole:
    /// the position records with their trigger and ADL scratch (`positions_max` of each), the
    /// event buffer, the per-command scratch lists, and the book of one new market. An upper
    /// estimate, saturating. A snapshot whose limits ask for far more than its payload could
    /// describe is refused before anything is reserved (`snapshot::decode_payload`).
    #[must_use]
    pub fn reserved_bytes(&self) -> u64 {
        use core::mem::size_of;
        let size = |n: usize| n as u64;
        // Position, trigger place, market list link, ADL queue entry, a place in each heap.
        let per_position = size(
            size_of::<crate::account::Position>()
                + size_of::<crate::trigger::HeapMeta>()
                + size_of::<u32>()
                + size_of::<crate::liquidation::AdlEntry>()
                + 2 * size_of::<u32>(),
        );
        let positions = u64::from(self.positions_max).saturating_mul(per_position);
        let events = size(self.events_per_command_max())
            .saturating_mul(size(size_of::<crate::event::Event>()));
        let scratch = 4
            * (u64::from(self.fills_per_taker_max)
                + 8
                + u64::from(self.cooldowns_max)
                + u64::from(self.liquidations_per_command_max));
        // Per level slot (two sides): the level, its free-list place, two map buckets (the
        // table is at least twice the capacity, rounded up to a power of two: up to four),
        // and its side-index key and slot.
        let per_level = size(size_of::<crate::book::Level>() + 4 + 4 * 16 + 12);
        let book = 2 * u64::from(self.levels_per_side_max) * per_level;
        positions
            .saturating_add(events)
            .saturating_add(scratch)
            .saturating_add(book)
    }

    /// Checks the limits are usable (non-zero and below the index ceiling).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.markets_max > 0
            && self.accounts_max > 0
            && self.orders_max > 0
            && self.orders_max <= Self::SLOT_MAX
            && self.orders_per_account_max > 0
            && self.levels_per_side_max > 0
            && self.levels_per_side_max <= Self::SLOT_MAX / 2
            && self.fills_per_taker_max > 0
            && self.positions_max > 0
            && self.positions_max <= Self::SLOT_MAX
            && self.liquidations_per_command_max > 0
            && self.cooldowns_max > 0
    }
}

/// Events of a liquidation closed by one fill in the book: started, the liquidation order's
/// trade, the maker's level update, the liquidation fee to the insurance fund, ended.
const EVENTS_PER_LIQUIDATION: usize = 5;

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
