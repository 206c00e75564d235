//! The winning QuantCup 1 engine ("voyager", C, 2011), called over FFI.
//!
//! Built by `csrc/build.rs` from the registry copy of `lobster` 0.7.0 (not vendored), only when the
//! sources are found; otherwise [`AVAILABLE`] is false and callers skip it.
//!
//! The engine is global C state, so the runs here are serialized by a mutex. It prints trades
//! at the taker's limit price, not the maker's, so only the fill count and traded quantity
//! compare with the reference; its trade reports carry trader names, not order ids.
//!
//! This is the only module of the workspace that uses `unsafe`, which the workspace denies: a
//! call into C cannot be checked by the compiler. The shim's functions take plain integers and
//! a pointer and length to a slice that outlives the call, and touch only the engine's own
//! static state.
#![allow(unsafe_code)]

use crate::workload::quantcup::RawMsg;

/// Whether the C engine was built.
pub const AVAILABLE: bool = cfg!(cascade_quantcup_c);

/// Fill count and traded quantity of one C run, with its time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CRun {
    /// Fills (trades), counted on the buy-side reports.
    pub fills: u64,
    /// Traded quantity.
    pub qty: u64,
    /// Wall time of the feed loop in ns.
    pub elapsed_ns: u128,
}

#[cfg(cascade_quantcup_c)]
mod ffi {
    #[repr(C)]
    pub struct Msg {
        pub size: u64,
        pub price: u16,
        pub side: u8,
        pub trader: u8,
    }

    extern "C" {
        pub fn cascade_qc_prepare(msgs: *const Msg, n: usize) -> i32;
        pub fn cascade_qc_reset();
        pub fn cascade_qc_feed();
        pub fn cascade_qc_result(fills: *mut u64, qty: *mut u64);
    }
}

#[cfg(cascade_quantcup_c)]
static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the feed `runs` times through the C engine (each on a freshly initialised book, the
/// initialisation untimed) and returns each run. `None` when the engine was not built or the
/// feed holds a cancel the engine's arena cannot address.
#[must_use]
pub fn run(feed: &[RawMsg], runs: usize) -> Option<Vec<CRun>> {
    #[cfg(cascade_quantcup_c)]
    {
        // The engine's arena holds 1,010,000 orders; a larger cancel id would write past it.
        if feed.iter().any(|m| m.price == 0 && m.size >= 1_010_000) {
            return None;
        }
        let msgs: Vec<ffi::Msg> = feed
            .iter()
            .map(|m| ffi::Msg {
                size: m.size,
                price: m.price,
                side: m.side,
                trader: m.trader,
            })
            .collect();
        let _guard = LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: `msgs` is a live slice of `msgs.len()` `repr(C)` messages for the whole call;
        // the shim copies it into its own array.
        if unsafe { ffi::cascade_qc_prepare(msgs.as_ptr(), msgs.len()) } != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(runs);
        for _ in 0..runs.max(1) {
            // SAFETY: resets the engine's static state; no arguments.
            unsafe { ffi::cascade_qc_reset() };
            let start = std::time::Instant::now();
            // SAFETY: runs the prepared feed; every cancel id was checked above.
            unsafe { ffi::cascade_qc_feed() };
            let elapsed_ns = start.elapsed().as_nanos();
            let (mut fills, mut qty) = (0u64, 0u64);
            // SAFETY: two valid, exclusive out-pointers.
            unsafe { ffi::cascade_qc_result(&raw mut fills, &raw mut qty) };
            out.push(CRun {
                fills,
                qty,
                elapsed_ns,
            });
        }
        Some(out)
    }
    #[cfg(not(cascade_quantcup_c))]
    {
        let _ = (feed, runs);
        None
    }
}
