//! Memory per account: the bytes the engine allocates, measured, and what they are.
//!
//! # Method
//! A *meter* reads the bytes the process has allocated and not freed. `cascade bench` uses
//! glibc's `mallinfo2()` (in-use bytes of every arena plus mmapped chunks, so it includes the
//! allocator's chunk headers and page rounding); the tests use a counting global allocator.
//! The population's engine is measured from before `Engine::new` to after the last setup
//! command, and a *fixed* engine (same limits but 2 accounts, same market) separately, so
//!
//! - total per account = engine bytes / accounts (what the floor is judged on), and
//! - marginal per account = (engine bytes − fixed bytes) / accounts.
//!
//! The breakdown adds up what scales with accounts from the engine's own types
//! (`size_of::<Position>()`, `size_of::<HeapMeta>()`) and its per-account vectors as declared
//! in `engine/src/account.rs` and `state.rs` (listed in [`ACCOUNT_ARRAYS`]); what the parts do
//! not explain is printed as the remainder, and the small-input test requires it to be small,
//! so a change to the engine's layout shows up here.

use super::population::{self, Population, PopulationParams};
use super::{Driver, PRICE_50K};
use cascade_engine::account::Position;
use cascade_engine::trigger::HeapMeta;
use cascade_engine::Limits;
use cascade_risk::adl::AdlCandidate;
use std::mem::size_of;

/// Reads the bytes allocated by the process now, if it can.
pub type Meter = fn() -> Option<u64>;

/// The engine's vectors with one entry per account (`accounts_max` long): name and bytes per
/// entry. `multi` is reserved to `accounts_max` too.
pub const ACCOUNT_ARRAYS: [(&str, usize); 9] = [
    ("orders_open", size_of::<u32>()),
    ("order_head", size_of::<u32>()),
    ("collateral", size_of::<i64>()),
    ("position_head", size_of::<u32>()),
    ("flags", size_of::<u8>()),
    ("cross_open", size_of::<u8>()),
    ("multi", size_of::<u32>()),
    ("multi_at", size_of::<u32>()),
    ("fok_delta", size_of::<i64>()),
];

/// Bytes per account slot in [`ACCOUNT_ARRAYS`].
#[must_use]
pub fn account_array_bytes() -> usize {
    ACCOUNT_ARRAYS.iter().map(|(_, b)| b).sum()
}

/// Bytes reserved per position record: the record and its trigger-heap bookkeeping.
#[must_use]
pub fn position_record_bytes() -> usize {
    size_of::<Position>() + size_of::<HeapMeta>()
}

/// Bytes reserved per position slot for auto-deleveraging: the engine's ADL queue scratch
/// (one `AdlCandidate<(account, handle)>` per slot, reserved up front so a cascade never
/// allocates) and the per-market position list link (`u32`), which lets ranking skip other
/// markets' positions.
#[must_use]
pub fn adl_slot_bytes() -> usize {
    size_of::<AdlCandidate<(u32, u32)>>() + size_of::<u32>()
}

/// Capacity of a trigger heap: the engine sizes each heap of a margined market to
/// `positions_max` when the market gets its risk parameters, so it never grows (`len` is
/// at most that).
#[must_use]
pub fn heap_capacity(positions_max: u32, len: usize) -> usize {
    (positions_max as usize).max(len)
}

/// glibc's in-use byte count.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    /// `struct mallinfo2` of glibc ≥ 2.33.
    #[repr(C)]
    #[allow(dead_code)]
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }

    unsafe extern "C" {
        fn mallinfo2() -> Mallinfo2;
    }

    pub(super) fn allocated() -> u64 {
        // SAFETY: `mallinfo2` takes no arguments, reads the allocator's statistics under its
        // own locks and returns a plain struct of `size_t` by value, declared above with the
        // same layout.
        let m = unsafe { mallinfo2() };
        // In-use bytes of the arenas plus bytes in mmapped chunks.
        u64::try_from(m.uordblks + m.hblkhd).unwrap_or(u64::MAX)
    }
}

/// Bytes in use according to glibc's `mallinfo2()`; `None` on other platforms.
#[must_use]
pub fn glibc_allocated() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        Some(glibc::allocated())
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// No meter.
#[must_use]
pub fn no_meter() -> Option<u64> {
    None
}

/// Memory of an engine holding `accounts` accounts with one position each.
#[derive(Clone, Debug)]
pub struct MemoryReport {
    /// Accounts holding one position.
    pub accounts: u64,
    /// The engine's limits.
    pub limits: Limits,
    /// Trigger-heap entries (longs, shorts).
    pub heap_entries: (usize, usize),
    /// Measured bytes of the whole engine, when a meter is available.
    pub measured: Option<u64>,
    /// Measured bytes of the same engine with 2 accounts.
    pub fixed: Option<u64>,
}

/// One line of the breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What it is.
    pub name: String,
    /// Bytes.
    pub bytes: i64,
}

impl MemoryReport {
    fn per(&self, bytes: i64) -> f64 {
        // Benchmark arithmetic, not money.
        #[allow(clippy::cast_precision_loss)]
        let v = bytes as f64 / self.accounts.max(1) as f64;
        v
    }

    /// Measured bytes per account (everything the engine allocated, over its accounts).
    #[must_use]
    pub fn per_account(&self) -> Option<f64> {
        self.measured
            .map(|m| self.per(i64::try_from(m).unwrap_or(i64::MAX)))
    }

    /// Measured bytes per account that scale with accounts (total − fixed).
    #[must_use]
    pub fn marginal_per_account(&self) -> Option<f64> {
        let (m, f) = (self.measured?, self.fixed?);
        Some(self.per(i64::try_from(m).unwrap_or(i64::MAX) - i64::try_from(f).unwrap_or(0)))
    }

    /// The breakdown: the parts that scale with accounts, the measured fixed part, and the
    /// remainder of the measurement that they do not explain.
    #[must_use]
    pub fn parts(&self) -> Vec<Part> {
        let to_i64 = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        let accounts_max = self.limits.accounts_max as usize;
        let positions_max = self.limits.positions_max as usize;
        let (longs, shorts) = self.heap_entries;
        let (cap_l, cap_s) = (
            heap_capacity(self.limits.positions_max, longs),
            heap_capacity(self.limits.positions_max, shorts),
        );
        let names: Vec<String> = ACCOUNT_ARRAYS
            .iter()
            .map(|(n, b)| format!("{n} {b}"))
            .collect();
        let mut parts = vec![
            Part {
                name: format!(
                    "per-account vectors, {} B x accounts_max {accounts_max} ({})",
                    account_array_bytes(),
                    names.join(", ")
                ),
                bytes: to_i64(account_array_bytes() * accounts_max),
            },
            Part {
                name: format!(
                    "position records, Position {} B + HeapMeta {} B x positions_max {positions_max}",
                    size_of::<Position>(),
                    size_of::<HeapMeta>()
                ),
                bytes: to_i64(position_record_bytes() * positions_max),
            },
            Part {
                name: format!(
                    "ADL queue scratch + market position list, {} B x positions_max {positions_max}",
                    adl_slot_bytes()
                ),
                bytes: to_i64(adl_slot_bytes() * positions_max),
            },
            Part {
                name: format!(
                    "trigger heaps, u32 x capacity {cap_l} (longs: {longs}) + {cap_s} (shorts: {shorts})"
                ),
                bytes: to_i64(size_of::<u32>() * (cap_l + cap_s)),
            },
        ];
        if let Some(f) = self.fixed {
            parts.push(Part {
                name: "fixed: order slab and index, book, event buffer, scratch (measured, 2 accounts)"
                    .into(),
                bytes: i64::try_from(f).unwrap_or(i64::MAX),
            });
        }
        if let Some(m) = self.measured {
            let explained: i64 = parts.iter().map(|p| p.bytes).sum();
            parts.push(Part {
                name: "remainder (allocator headers and page rounding, or unexplained)".into(),
                bytes: i64::try_from(m).unwrap_or(i64::MAX) - explained,
            });
        }
        parts
    }

    /// The breakdown as a table with bytes per account.
    #[must_use]
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "| part | bytes | bytes/account |");
        let _ = writeln!(s, "|---|---:|---:|");
        for p in self.parts() {
            let _ = writeln!(s, "| {} | {} | {:.1} |", p.name, p.bytes, self.per(p.bytes));
        }
        if let Some(m) = self.measured {
            let _ = writeln!(
                s,
                "| **measured total** | {m} | {:.1} |",
                self.per(i64::try_from(m).unwrap_or(i64::MAX))
            );
        }
        s
    }

    /// The remainder of the measurement that the parts do not explain, if measured.
    #[must_use]
    pub fn remainder(&self) -> Option<i64> {
        self.measured?;
        self.parts().last().map(|p| p.bytes)
    }
}

/// Bytes of an engine with `limits` but 2 accounts, with the benchmark market and its mark.
#[must_use]
pub fn fixed_bytes(limits: Limits, meter: Meter) -> Option<u64> {
    let small = Limits {
        accounts_max: 2,
        positions_max: 2,
        ..limits
    };
    let before = meter()?;
    let mut d = Driver::new(small);
    d.btc_market(PRICE_50K);
    let after = meter()?;
    drop(d);
    Some(after.saturating_sub(before))
}

/// Builds the population, measuring what its engine allocates, and the fixed engine beside it.
#[must_use]
pub fn measure_population(p: &PopulationParams, meter: Meter) -> (Population, MemoryReport) {
    let before = meter();
    let pop = population::build(p);
    let after = meter();
    let measured = before.zip(after).map(|(b, a)| a.saturating_sub(b));
    let fixed = fixed_bytes(pop.limits, meter);
    let risk = pop
        .driver
        .engine
        .market(super::MARKET)
        .and_then(|m| m.risk.as_ref())
        .map_or((0, 0), |r| (r.longs.len(), r.shorts.len()));
    let report = MemoryReport {
        accounts: u64::from(p.accounts),
        limits: pop.limits,
        heap_entries: risk,
        measured,
        fixed,
    };
    (pop, report)
}
