//! The journal replay loop allocates nothing per record: reading, checking, decoding, applying
//! and counting a journal of 20,000 commands allocates exactly as often as one of 2,000.

// Implementing `GlobalAlloc` is unsafe by definition, and the workspace denies `unsafe_code`.
// This test file, and only it, allows it: the allocator just forwards to `System` and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cascade_engine::{
    AccountId, Command, Engine, Limits, MarketId, MarketSpec, NewOrder, OrderId, Sequenced, Side,
};
use cascade_replay::journal_file::for_each_record;
use cascade_replay::tally::Tally;

thread_local! {
    // Per thread, because the test harness runs tests (and allocates) on other threads.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Forwards to the system allocator and counts allocations on the current thread.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only a const-initialised thread-local, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Places, trades and cancels: every path of the matching loop.
fn commands(n: u64) -> Vec<Sequenced<Command>> {
    let mut out = vec![Sequenced {
        seq: 1,
        ts_ns: 0,
        command: Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
    }];
    while (out.len() as u64) < n {
        let seq = out.len() as u64 + 1;
        let k = seq % 4;
        let command = match k {
            // A resting bid, a crossing ask that takes part of it, the bid's cancel, and a
            // cancel of an order that is gone (a reject).
            1 => Command::Place(NewOrder::limit(0, 0, Side::Buy, 100 + (seq % 7) as i64, 5)),
            2 => Command::Place(NewOrder::limit(1, 0, Side::Sell, 90, 2)),
            3 => Command::Cancel {
                account: AccountId(0),
                order_id: OrderId(seq - 2),
            },
            _ => Command::Cancel {
                account: AccountId(1),
                order_id: OrderId(seq - 2),
            },
        };
        out.push(Sequenced {
            seq,
            ts_ns: seq,
            command,
        });
    }
    out
}

fn allocations_replaying(n: u64) -> (u64, Tally) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("j");
    cascade_replay::write_journal(&path, &commands(n)).expect("writes");
    let mut engine = Engine::new(Limits::SMALL);
    let mut tally = Tally::default();
    let before = ALLOCATIONS.with(Cell::get);
    for_each_record(&path, |cmd| tally.add(engine.apply(cmd)), |_| {}).expect("reads");
    (ALLOCATIONS.with(Cell::get) - before, tally)
}

#[test]
fn replay_allocates_nothing_per_record() {
    let (small, small_tally) = allocations_replaying(2_000);
    let (large, large_tally) = allocations_replaying(20_000);
    assert_eq!(large_tally.commands, 20_000);
    assert!(large_tally.trades >= 4_999, "{large_tally:?}");
    assert!(small_tally.trades > 0);
    // Opening the file and the read buffer: a constant, whatever the journal's length.
    assert_eq!(small, large, "allocations grew with the number of records");
    assert!(large <= 16, "{large} allocations");
}
