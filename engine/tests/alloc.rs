//! Zero allocations per command after warm-up, measured with a counting global allocator.
//!
//! The engine preallocates every collection to its limits, so once warm it must apply any
//! command without touching the heap: no allocation, no reallocation, no free.

// With the `verify` feature, `Engine::apply` runs the full invariant audit after every command,
// and the audit builds its own scratch collections: what these tests measure is the engine
// without it (the configuration that serves traffic), so they are compiled out there.
#![cfg(not(feature = "verify"))]
// Implementing `GlobalAlloc` is unsafe by definition, and the workspace denies `unsafe_code`.
// This test file, and only it, allows it: the allocator just forwards to `System` and counts.
#![allow(unsafe_code)]

mod common;

use cascade_engine::{Command, Engine, Event, Limits, Sequenced};
use common::random_stream;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Per thread, because the test harness runs tests (and allocates) on other threads.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

/// Forwards to the system allocator and counts calls on the current thread.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only const-initialised thread-locals, which
// never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&FREES);
        // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and frees on this thread while `f` runs.
fn heap_calls_during(f: impl FnOnce()) -> (u64, u64) {
    let allocations = ALLOCATIONS.with(Cell::get);
    let frees = FREES.with(Cell::get);
    f();
    (
        ALLOCATIONS.with(Cell::get) - allocations,
        FREES.with(Cell::get) - frees,
    )
}

const WARM_UP: usize = 20_000;
const MEASURED: usize = 100_000;

/// Event counts by kind, in a fixed array so that tallying does not allocate.
#[derive(Default, Debug)]
struct Tally {
    trades: u64,
    rests: u64,
    cancels: u64,
    rejects: u64,
    reduces: u64,
    replaces: u64,
    levels: u64,
    max_events: usize,
}

impl Tally {
    fn add(&mut self, events: &[Event]) {
        self.max_events = self.max_events.max(events.len());
        for e in events {
            match e {
                Event::Trade { .. } => self.trades += 1,
                Event::Rested { .. } => self.rests += 1,
                Event::Cancelled { .. } => self.cancels += 1,
                Event::Rejected { .. } => self.rejects += 1,
                Event::Reduced { .. } => self.reduces += 1,
                Event::Replaced { .. } => self.replaces += 1,
                Event::BookLevel { .. } => self.levels += 1,
                _ => {}
            }
        }
    }
}

fn apply_all(engine: &mut Engine, stream: &[Sequenced<Command>], tally: &mut Tally) {
    for cmd in stream {
        tally.add(engine.apply(cmd));
    }
}

#[test]
fn no_allocation_per_command_after_warm_up() {
    let stream = random_stream(11, WARM_UP + MEASURED);
    let (warm_up, measured) = stream.split_at(WARM_UP);
    let mut engine = Engine::new(Limits::SMALL);
    apply_all(&mut engine, warm_up, &mut Tally::default());
    let mut tally = Tally::default();
    let (allocations, frees) = heap_calls_during(|| apply_all(&mut engine, measured, &mut tally));
    assert_eq!(
        (allocations, frees),
        (0, 0),
        "heap calls during {MEASURED} commands after warm-up ({tally:?})"
    );
    // The measured commands were a realistic mix, not a stream of rejects.
    assert!(tally.trades > 10_000, "{tally:?}");
    assert!(tally.rests > 20_000, "{tally:?}");
    assert!(tally.cancels > 10_000, "{tally:?}");
    assert!(tally.reduces > 1_000, "{tally:?}");
    assert!(tally.replaces > 1_000, "{tally:?}");
    assert!(tally.rejects < 30_000, "{tally:?}");
    assert!(engine.orders().len() < 5_000, "the book stays bounded");
    engine.audit().expect("invariants hold after the run");
}

/// Regression: `Vec::clone` keeps only the length, so a cloned engine used to reallocate its
/// order slab (tripping a debug assertion) and event buffer on its next commands.
#[test]
fn cloned_engine_keeps_its_capacity_and_does_not_allocate() {
    let stream = random_stream(12, 2 * WARM_UP);
    let (warm_up, rest) = stream.split_at(WARM_UP);
    let mut engine = Engine::new(Limits::SMALL);
    apply_all(&mut engine, warm_up, &mut Tally::default());
    let mut snapshot = engine.clone();
    let mut tally = Tally::default();
    let (allocations, frees) = heap_calls_during(|| apply_all(&mut snapshot, rest, &mut tally));
    assert_eq!((allocations, frees), (0, 0), "{tally:?}");
    assert!(tally.rests > 1_000, "{tally:?}");
    apply_all(&mut engine, rest, &mut Tally::default());
    assert_eq!(engine.state_hash(), snapshot.state_hash());
}

/// A command that auto-deleverages a hundred liquidations allocates nothing once a first such
/// cascade has run: the queue is ranked into scratch the limits reserve, pro-rata shares are
/// computed in place, and the waterfall copies only the scalar parameters it reads.
#[test]
fn adl_cascades_do_not_allocate_after_warm_up() {
    use cascade_engine::risk_params::AdlPolicy;
    use common::{adl_market, AdlCascade};
    for policy in [AdlPolicy::Queue, AdlPolicy::ProRata] {
        let round = |first| AdlCascade {
            first,
            longs: 100,
            shorts: 50,
            short_lots: 10,
        };
        let mut warm_up = adl_market(policy);
        warm_up.extend(round(0).open());
        warm_up.push(AdlCascade::gap());
        let mut measured = round(150).open();
        measured.push(AdlCascade::gap());
        let mut seq = 0;
        let mut stamp = |command| {
            seq += 1;
            Sequenced {
                seq,
                ts_ns: seq,
                command,
            }
        };
        let warm_up: Vec<_> = warm_up.into_iter().map(&mut stamp).collect();
        let measured: Vec<_> = measured.into_iter().map(&mut stamp).collect();
        let mut engine = Engine::new(Limits::SMALL);
        apply_all(&mut engine, &warm_up, &mut Tally::default());
        let mut deleveraged = 0u64;
        let (allocations, frees) = heap_calls_during(|| {
            for cmd in &measured {
                let events = engine.apply(cmd);
                deleveraged += events
                    .iter()
                    .filter(|e| matches!(e, Event::Deleveraged { .. }))
                    .count() as u64;
            }
        });
        assert_eq!((allocations, frees), (0, 0), "{policy:?}");
        assert!(deleveraged >= 50, "{policy:?}: {deleveraged} ADL fills");
        engine.audit().expect("invariants hold after the cascades");
    }
}

#[test]
fn the_counter_sees_allocations() {
    let (allocations, frees) = heap_calls_during(|| {
        let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
        drop(v);
    });
    assert_eq!((allocations, frees), (1, 1));
}
