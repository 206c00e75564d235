//! Memory per account, measured with a counting global allocator: the breakdown of
//! `cascade bench --workload risk` must explain what the engine allocates, and mark updates
//! must allocate nothing.

// Implementing `GlobalAlloc` is unsafe by definition, and the workspace denies `unsafe_code`.
// This test file allows it: the allocator forwards to `System` and counts bytes.
#![allow(unsafe_code)]

use cascade_benches::risk::memory::{self, MemoryReport};
use cascade_benches::risk::population::{self, PopulationParams};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Per thread, because the test harness allocates on other threads. Offset so a thread
    // that frees more than it allocated stays positive.
    static BYTES: Cell<i64> = const { Cell::new(1 << 40) };
}

fn add(delta: i64) {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = BYTES.try_with(|b| b.set(b.get() + delta));
}

fn size(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Forwards to the system allocator and counts the bytes held by the current thread.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only a const-initialised thread-local, which
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(size(layout.size()));
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(size(layout.size()));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(size(new_size) - size(layout.size()));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-size(layout.size()));
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn held() -> Option<u64> {
    BYTES
        .try_with(|b| u64::try_from(b.get()).ok())
        .ok()
        .flatten()
}

fn check_breakdown(mem: &MemoryReport) {
    let measured = mem.measured.expect("measured");
    assert!(mem.fixed.is_some());
    let remainder = mem.remainder().expect("measured");
    // The counting allocator sees exact sizes (no headers, no page rounding): the parts must
    // explain the measurement to within a few small allocations.
    assert!(
        remainder.abs() <= 4_096,
        "breakdown leaves {remainder} of {measured} bytes unexplained:\n{}",
        mem.table()
    );
    let total = mem.per_account().expect("measured");
    let marginal = mem.marginal_per_account().expect("measured");
    assert!(marginal > 0.0 && marginal < total, "{marginal} / {total}");
}

#[test]
fn breakdown_explains_the_allocation_and_mark_updates_allocate_nothing() {
    // 140,000 accounts: 70,000 positions a side. The trigger heaps are sized to
    // positions_max up front, so none grows while the population is built.
    let params = PopulationParams {
        accounts: 140_000,
        levels: 30,
        orders_max: 0,
    };
    let (mut pop, mem) = memory::measure_population(&params, held);
    assert_eq!(mem.heap_entries, (70_000, 70_000));
    assert_eq!(
        memory::heap_capacity(mem.limits.positions_max, 70_000),
        mem.limits.positions_max as usize
    );
    check_breakdown(&mem);
    let updates = population::mark_updates(&mut pop, 200, 2, held);
    assert_eq!(updates.allocated, Some(0));
    assert_eq!(updates.check(), Ok(()));
}

#[test]
fn small_population_breakdown_without_heap_growth() {
    let (_pop, mem) = memory::measure_population(
        &PopulationParams {
            accounts: 1_000,
            levels: 5,
            orders_max: 0,
        },
        held,
    );
    assert_eq!(
        memory::heap_capacity(mem.limits.positions_max, 500),
        1_001,
        "positions_max below 65,536 sizes the heaps"
    );
    check_breakdown(&mem);
}
