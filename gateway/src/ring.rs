//! A bounded lock-free multi-producer, single-consumer ring: the queue from the sessions' I/O
//! threads to the core thread, and (with one producer) from the core to each session's writer.
//!
//! # Why MPSC and not one SPSC ring per session
//! One ring keeps the core's loop what it was with a channel: one place to look, arrival order
//! across sessions kept, and no scan over up to `sessions_max` rings per message. Producers
//! contend only on one `compare_exchange` of the head; the consumer owns the tail.
//!
//! # Algorithm
//! Dmitry Vyukov's bounded queue. Each slot has a sequence number: `pos` when free for the
//! producer that claims position `pos`, `pos + 1` once that producer has written it, and
//! `pos + capacity` after the consumer has read it (free for the next lap). A producer claims a
//! position by advancing `head` with a CAS, writes the value, then publishes with a `Release`
//! store of the slot's sequence; the consumer reads a slot only after an `Acquire` load sees
//! `pos + 1`. The single consumer needs no CAS: `tail` is its own.
//!
//! Neither side takes a lock. The one non-lock-free moment: a producer that has claimed a slot
//! and is descheduled before publishing it holds back the consumer from the slots behind it
//! (they are never lost, only later).
//!
//! # Blocking
//! [`Producer::push`] waits while the ring is full (spinning, then yielding, then sleeping in
//! short steps): back-pressure on the sessions, hence on TCP. [`Consumer::pop`] spins briefly
//! and then parks the consumer thread; a producer unparks it only when it has announced that it
//! sleeps, so a busy core is never woken through the kernel.
//!
//! # Testing
//! `cargo test -p cascade-gateway ring` runs the unit tests and a proptest against a
//! `VecDeque` model; `RUSTFLAGS="--cfg loom" cargo test -p cascade-gateway --release ring`
//! runs the loom models, which explore every interleaving of small producer/consumer
//! programs (CONTRIBUTING.md).

// The ring's slots are written and read through raw pointers; each block says why it is sound.
#![allow(unsafe_code)]

use core::fmt;
use core::mem::MaybeUninit;
use std::time::Duration;

use self::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell, Waker};

/// The atomics, cells and parking the ring is built on: `std`'s, or loom's under `--cfg loom`.
#[cfg(not(loom))]
mod sync {
    pub use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub use std::sync::Arc;
    use std::sync::OnceLock;
    use std::thread::{self, Thread};
    use std::time::Duration;

    /// `std::cell::UnsafeCell` with loom's closure-based access.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Parks and unparks the consumer thread.
    #[derive(Debug, Default)]
    pub struct Waker(OnceLock<Thread>);

    impl Waker {
        /// Called on the consumer thread before it first parks.
        pub fn register(&self) {
            let _ = self.0.get_or_init(thread::current);
        }

        pub fn wake(&self) {
            if let Some(t) = self.0.get() {
                t.unpark();
            }
        }

        pub fn park(&self, max: Duration) {
            thread::park_timeout(max);
        }

        pub fn backoff(step: u32) {
            if step < 16 {
                core::hint::spin_loop();
            } else if step < 64 {
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(20));
            }
        }
    }
}

/// Under loom, waiting is a yield: loom explores the interleavings around it.
#[cfg(loom)]
mod sync {
    pub use loom::cell::UnsafeCell;
    pub use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub use loom::sync::Arc;
    use std::time::Duration;

    #[derive(Debug, Default)]
    pub struct Waker;

    impl Waker {
        pub fn register(&self) {}

        pub fn wake(&self) {}

        pub fn park(&self, _max: Duration) {
            loom::thread::yield_now();
        }

        pub fn backoff(_step: u32) {
            loom::thread::yield_now();
        }
    }
}

/// Spins of [`Consumer::pop`] on an empty ring before it parks (under loom, none: each spin
/// would multiply the interleavings to explore).
const SPINS_BEFORE_PARK: u32 = if cfg!(loom) { 0 } else { 128 };
/// The longest a parked consumer sleeps before it looks again (a safety net: producers wake
/// it).
const PARK_MAX: Duration = Duration::from_millis(50);

struct Slot<T> {
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Keeps the producers' `head` and the consumer's `tail` on separate cache lines (128 bytes:
/// adjacent-line prefetching pairs 64-byte lines), so neither side's writes evict the other's.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> core::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// The ring itself: fixed capacity (a power of two), never allocates after creation.
struct Ring<T> {
    slots: Box<[Slot<T>]>,
    mask: usize,
    /// Next position a producer claims.
    head: Padded<AtomicUsize>,
    /// Next position the consumer reads; written only by the consumer.
    tail: Padded<AtomicUsize>,
}

// SAFETY: a value moves from the producer that writes a slot to the consumer that reads it,
// so `T: Send` suffices; slot access is serialized by the slot sequence protocol (module
// docs), never by `&`-sharing of a `T`.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as above: shared `&Ring` gives producers and the consumer disjoint slots.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_power_of_two();
        let slots = (0..capacity)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            slots,
            mask: capacity - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
        }
    }

    const fn capacity(&self) -> usize {
        self.mask + 1
    }

    fn try_push(&self, value: T) -> Result<(), T> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            // Wrapping difference as signed: 0 free for `pos`, < 0 still holds the value of
            // the previous lap (full), > 0 another producer took `pos` already.
            #[allow(clippy::cast_possible_wrap)]
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        slot.value.with_mut(|p| {
                            // SAFETY: winning the CAS for `pos` while the slot's seq is `pos`
                            // gives this producer sole access to the slot until it publishes
                            // below; the consumer reads it only after seeing `pos + 1`.
                            unsafe { (*p).write(value) };
                        });
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                return Err(value);
            } else {
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Only the single consumer calls this (enforced by [`Consumer`] taking `&mut self`).
    fn try_pop(&self) -> Option<T> {
        let pos = self.tail.load(Ordering::Relaxed);
        let slot = &self.slots[pos & self.mask];
        if slot.seq.load(Ordering::Acquire) != pos.wrapping_add(1) {
            return None;
        }
        let value = slot.value.with_mut(|p| {
            // SAFETY: seq == pos + 1 (Acquire) means the producer's write is complete and
            // visible, and no producer touches the slot again until seq becomes
            // pos + capacity below; the consumer is the only reader.
            unsafe { (*p).assume_init_read() }
        });
        slot.seq
            .store(pos.wrapping_add(self.capacity()), Ordering::Release);
        self.tail.store(pos.wrapping_add(1), Ordering::Relaxed);
        Some(value)
    }

    fn is_empty(&self) -> bool {
        let pos = self.tail.load(Ordering::Relaxed);
        self.slots[pos & self.mask].seq.load(Ordering::Acquire) != pos.wrapping_add(1)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread can touch the ring; drop what was pushed and not read.
        while self.try_pop().is_some() {}
    }
}

struct Shared<T> {
    ring: Ring<T>,
    producers: AtomicUsize,
    consumer_alive: AtomicBool,
    consumer_parked: AtomicBool,
    waker: Waker,
}

/// Creates a ring holding at least `capacity` messages (rounded up to a power of two).
#[must_use]
pub fn ring<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared {
        ring: Ring::new(capacity),
        producers: AtomicUsize::new(1),
        consumer_alive: AtomicBool::new(true),
        consumer_parked: AtomicBool::new(false),
        waker: Waker::default(),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

/// The consumer is gone: the message comes back.
#[derive(PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

/// Why [`Producer::try_push`] did not queue a message (which comes back).
#[derive(PartialEq, Eq)]
pub enum TryPushError<T> {
    /// The ring is full.
    Full(T),
    /// The consumer is gone.
    Closed(T),
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

/// The sending side; clone it for each producer thread (or share it: `push` takes `&self`).
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Self {
        self.shared.producers.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        if self.shared.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last producer: a parked consumer must see that nothing more will come.
            self.wake();
        }
    }
}

impl<T> Producer<T> {
    /// Queues `value` if there is room.
    ///
    /// # Errors
    /// [`TryPushError::Full`] or [`TryPushError::Closed`], with the value.
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        if !self.shared.consumer_alive.load(Ordering::Acquire) {
            return Err(TryPushError::Closed(value));
        }
        match self.shared.ring.try_push(value) {
            Ok(()) => {
                self.wake();
                Ok(())
            }
            Err(value) => Err(TryPushError::Full(value)),
        }
    }

    /// Queues `value`, waiting while the ring is full.
    ///
    /// # Errors
    /// [`Closed`] when the consumer is gone.
    pub fn push(&self, mut value: T) -> Result<(), Closed<T>> {
        let mut step = 0u32;
        loop {
            match self.try_push(value) {
                Ok(()) => return Ok(()),
                Err(TryPushError::Closed(v)) => return Err(Closed(v)),
                Err(TryPushError::Full(v)) => {
                    value = v;
                    Waker::backoff(step);
                    step = step.saturating_add(1);
                }
            }
        }
    }

    /// Unparks the consumer if it announced that it parks. `SeqCst` on both flags orders
    /// "pushed, then read `parked`" against "set `parked`, then looked at the ring": one side
    /// always sees the other, so no message waits out a whole park.
    fn wake(&self) {
        if self.shared.consumer_parked.load(Ordering::SeqCst) {
            self.shared.waker.wake();
        }
    }
}

/// A sender that does not hold the ring open: [`Consumer::pop`] still returns `None` once every
/// [`Producer`] is gone, whatever notifiers remain. For a helper thread of the consumer's own
/// (the core's journal-sync thread) that must wake the consumer but must not keep it alive.
pub struct Notifier<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Notifier<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl<T> Notifier<T> {
    /// Queues `value` if there is room, as [`Producer::try_push`].
    ///
    /// # Errors
    /// [`TryPushError::Full`] or [`TryPushError::Closed`], with the value.
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        if !self.shared.consumer_alive.load(Ordering::Acquire) {
            return Err(TryPushError::Closed(value));
        }
        match self.shared.ring.try_push(value) {
            Ok(()) => {
                // As `Producer::wake`.
                if self.shared.consumer_parked.load(Ordering::SeqCst) {
                    self.shared.waker.wake();
                }
                Ok(())
            }
            Err(value) => Err(TryPushError::Full(value)),
        }
    }
}

/// What [`Consumer::pop_timeout`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped<T> {
    /// A message.
    Item(T),
    /// Nothing within the timeout.
    Timeout,
    /// Every producer is gone and the ring is empty.
    Closed,
}

/// The receiving side: one per ring.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.shared.consumer_alive.store(false, Ordering::Release);
    }
}

impl<T> Consumer<T> {
    /// The ring's capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.ring.capacity()
    }

    /// A [`Notifier`] for this ring.
    #[must_use]
    pub fn notifier(&self) -> Notifier<T> {
        Notifier {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The next message, if one is published.
    pub fn try_pop(&mut self) -> Option<T> {
        self.shared.ring.try_pop()
    }

    /// The next message, waiting for one; `None` once every producer is gone and the ring is
    /// empty.
    pub fn pop(&mut self) -> Option<T> {
        match self.pop_until(None) {
            Popped::Item(v) => Some(v),
            Popped::Timeout | Popped::Closed => None,
        }
    }

    /// [`Self::pop`], giving up after `timeout`.
    pub fn pop_timeout(&mut self, timeout: Duration) -> Popped<T> {
        self.pop_until(Some(std::time::Instant::now() + timeout))
    }

    fn pop_until(&mut self, deadline: Option<std::time::Instant>) -> Popped<T> {
        let mut spins = 0;
        loop {
            if let Some(v) = self.shared.ring.try_pop() {
                return Popped::Item(v);
            }
            if spins < SPINS_BEFORE_PARK {
                // Spin, then yield (never the backoff's sleeps): parking costs a system call on
                // both sides, so it waits until the ring has been idle for a while.
                Waker::backoff(spins.min(63));
                spins += 1;
                continue;
            }
            self.shared.waker.register();
            self.shared.consumer_parked.store(true, Ordering::SeqCst);
            if !self.shared.ring.is_empty() {
                self.shared.consumer_parked.store(false, Ordering::SeqCst);
                continue;
            }
            if self.shared.producers.load(Ordering::Acquire) == 0 {
                self.shared.consumer_parked.store(false, Ordering::SeqCst);
                // A producer may have pushed just before it went away.
                return self
                    .shared
                    .ring
                    .try_pop()
                    .map_or(Popped::Closed, Popped::Item);
            }
            let mut park = PARK_MAX;
            if let Some(deadline) = deadline {
                let now = std::time::Instant::now();
                if now >= deadline {
                    self.shared.consumer_parked.store(false, Ordering::SeqCst);
                    return Popped::Timeout;
                }
                park = park.min(deadline - now);
            }
            self.shared.waker.park(park);
            self.shared.consumer_parked.store(false, Ordering::SeqCst);
            spins = 0;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::VecDeque;
    use std::thread;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn capacity_rounds_up_to_a_power_of_two() {
        assert_eq!(ring::<u8>(0).1.capacity(), 2);
        assert_eq!(ring::<u8>(5).1.capacity(), 8);
        assert_eq!(ring::<u8>(64).1.capacity(), 64);
    }

    #[test]
    fn full_ring_refuses_and_gives_the_value_back() {
        let (tx, mut rx) = ring(4);
        for i in 0..4 {
            tx.try_push(i).expect("room");
        }
        assert_eq!(tx.try_push(9), Err(TryPushError::Full(9)));
        assert_eq!(rx.try_pop(), Some(0));
        tx.try_push(4).expect("room again");
        let rest: Vec<_> = std::iter::from_fn(|| rx.try_pop()).collect();
        assert_eq!(rest, [1, 2, 3, 4]);
    }

    #[test]
    fn a_notifier_wakes_the_consumer_without_holding_the_ring_open() {
        let (tx, mut rx) = ring::<u32>(4);
        let notifier = rx.notifier();
        drop(tx);
        notifier.try_push(5).expect("room");
        assert_eq!(rx.pop(), Some(5));
        assert_eq!(rx.pop(), None, "only producers keep the ring open");
        let (tx, mut rx) = ring::<u32>(2);
        let notifier = rx.notifier();
        tx.try_push(1).expect("room");
        tx.try_push(2).expect("room");
        assert_eq!(notifier.try_push(3), Err(TryPushError::Full(3)));
        assert_eq!(rx.pop(), Some(1));
        drop(rx);
        assert_eq!(notifier.try_push(4), Err(TryPushError::Closed(4)));
    }

    #[test]
    fn closed_when_the_consumer_is_gone_and_none_when_the_producers_are() {
        let (tx, rx) = ring::<u32>(4);
        drop(rx);
        assert_eq!(tx.try_push(1), Err(TryPushError::Closed(1)));
        assert_eq!(tx.push(2), Err(Closed(2)));

        let (tx, mut rx) = ring::<u32>(4);
        tx.push(7).expect("push");
        drop(tx);
        assert_eq!(rx.pop(), Some(7));
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn pop_timeout_reports_timeout_item_and_closed() {
        let (tx, mut rx) = ring::<u32>(4);
        assert_eq!(rx.pop_timeout(Duration::from_millis(1)), Popped::Timeout);
        tx.push(3).expect("push");
        assert_eq!(rx.pop_timeout(Duration::from_millis(1)), Popped::Item(3));
        drop(tx);
        assert_eq!(rx.pop_timeout(Duration::from_secs(60)), Popped::Closed);
    }

    #[test]
    fn unread_values_are_dropped_with_the_ring() {
        let value = std::sync::Arc::new(());
        let (tx, rx) = ring(4);
        tx.push(std::sync::Arc::clone(&value)).expect("push");
        tx.push(std::sync::Arc::clone(&value)).expect("push");
        assert_eq!(std::sync::Arc::strong_count(&value), 3);
        drop((tx, rx));
        assert_eq!(std::sync::Arc::strong_count(&value), 1);
    }

    /// Several producers through a small ring (so it is full most of the time, and wraps many
    /// laps): every message arrives exactly once, in each producer's order.
    #[test]
    fn producers_through_a_small_ring_keep_their_order() {
        const PRODUCERS: u64 = 4;
        const EACH: u64 = 20_000;
        let (tx, mut rx) = ring::<(u64, u64)>(8);
        let threads: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        tx.push((p, i)).expect("consumer alive");
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; PRODUCERS as usize];
        let mut total = 0;
        while let Some((p, i)) = rx.pop() {
            let expected = &mut next[usize::try_from(p).expect("small")];
            assert_eq!(i, *expected, "producer {p} out of order");
            *expected += 1;
            total += 1;
        }
        for t in threads {
            t.join().expect("producer");
        }
        assert_eq!(total, PRODUCERS * EACH);
        assert!(next.iter().all(|&n| n == EACH));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u16),
        Pop,
    }

    proptest! {
        /// Single-threaded, the ring behaves as a bounded FIFO (a `VecDeque` capped at the
        /// capacity).
        #[test]
        fn ring_matches_a_bounded_fifo(
            capacity in 1usize..20,
            ops in proptest::collection::vec(
                prop_oneof![any::<u16>().prop_map(Op::Push), Just(Op::Pop)], 0..300),
        ) {
            let (tx, mut rx) = ring(capacity);
            let cap = rx.capacity();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        let got = tx.try_push(v);
                        if model.len() < cap {
                            prop_assert_eq!(got, Ok(()));
                            model.push_back(v);
                        } else {
                            prop_assert_eq!(got, Err(TryPushError::Full(v)));
                        }
                    }
                    Op::Pop => prop_assert_eq!(rx.try_pop(), model.pop_front()),
                }
            }
        }
    }
}

/// Loom models: `RUSTFLAGS="--cfg loom" cargo test -p cascade-gateway --release ring`.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::thread;

    use super::*;

    /// Every interleaving with at most `PREEMPTIONS` forced thread switches (loom's usual
    /// bound: almost all concurrency bugs need two or three, and the unbounded search over a
    /// spinning producer does not finish).
    fn model(f: impl Fn() + Sync + Send + 'static) {
        const PREEMPTIONS: usize = 2;
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(PREEMPTIONS);
        builder.check(f);
    }

    /// Two producers race (the CAS on the head) for the slots of a 2-slot ring as the
    /// consumer drains it: every value arrives exactly once.
    #[test]
    fn ring_two_producers_one_consumer() {
        model(|| {
            let (tx, mut rx) = ring::<u32>(2);
            let tx2 = tx.clone();
            let a = thread::spawn(move || tx.push(1).expect("alive"));
            let b = thread::spawn(move || tx2.push(2).expect("alive"));
            let mut got = Vec::new();
            while let Some(v) = rx.pop() {
                got.push(v);
            }
            a.join().expect("a");
            b.join().expect("b");
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
        });
    }

    /// A full ring refuses without corrupting the slot the consumer is reading, across laps.
    #[test]
    fn ring_wraps_while_full() {
        model(|| {
            let (tx, mut rx) = ring::<u32>(2);
            let producer = thread::spawn(move || {
                for v in 0..3 {
                    tx.push(v).expect("alive");
                }
            });
            let mut got = Vec::new();
            while let Some(v) = rx.pop() {
                got.push(v);
            }
            producer.join().expect("producer");
            assert_eq!(got, [0, 1, 2]);
        });
    }

    /// A message pushed as the last producer leaves is never lost by the consumer's "no
    /// producers left" exit.
    #[test]
    fn ring_last_message_before_producers_leave() {
        model(|| {
            let (tx, mut rx) = ring::<u32>(2);
            let producer = thread::spawn(move || {
                tx.push(5).expect("alive");
            });
            assert_eq!(rx.pop(), Some(5));
            assert_eq!(rx.pop(), None);
            producer.join().expect("producer");
        });
    }
}
