//! An engine's first liquidation cascade, up to `liquidations_per_command_max` liquidations
//! each closed by one fill, runs in the event buffer the limits reserve: no allocation during
//! the crash command, on a fresh copy of the prepared engine (the moment a venue can least
//! afford a 28 MB reallocation is its first crash). Measured with a counting allocator.

// Implementing `GlobalAlloc` is unsafe by definition, and the workspace denies `unsafe_code`.
// This test file, and only it, allows it: the allocator just forwards to `System` and counts.
#![allow(unsafe_code)]

use cascade_benches::risk::cascade::{prepare, CascadeParams, Closer};
use cascade_engine::Event;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Per thread, because the test harness runs tests (and allocates) on other threads.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

/// Forwards to the system allocator and counts calls on the current thread.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only a const-initialised thread-local, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump();
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_first_cascade_does_not_allocate() {
    for closer in [Closer::Book, Closer::Backstop] {
        // Past the matching room (200,016 events with the default limits) at five events each.
        let longs = 50_000;
        let prepared = prepare(&CascadeParams {
            longs,
            closer,
            orders_max: 0,
        });
        let mut engine = prepared.driver.engine.clone();
        let before = CALLS.with(Cell::get);
        let events = engine.apply(&prepared.crash);
        let calls = CALLS.with(Cell::get) - before;
        let ended = events
            .iter()
            .filter(|e| matches!(e, Event::LiquidationEnded { .. }))
            .count();
        assert_eq!(
            ended, longs as usize,
            "{closer:?}: every long is liquidated"
        );
        assert_eq!(calls, 0, "{closer:?}: heap calls during the crash");
    }
}
