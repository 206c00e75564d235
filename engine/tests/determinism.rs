//! Determinism: the same command stream gives the same events and the same `state_hash()`, on
//! fresh engines and on an engine cloned midway (a snapshot) that applies the same suffix; a
//! different stream gives a different hash.

mod common;

use cascade_engine::{Command, Engine, Event, Limits, NewOrder, OrderId, Sequenced, TimeInForce};
use common::{random_stream, Harness};

const COMMANDS: usize = 20_000;
const CHECK_EVERY: usize = 1_000;

/// Applies a stream to a fresh engine; returns the hash after every `CHECK_EVERY`th command and
/// at the end (once), and the engine. The audit runs on the engines compared against in each
/// test; these replays skip it to keep the suite fast in debug builds.
fn run(stream: &[Sequenced<Command>]) -> (Vec<u64>, Engine) {
    let mut engine = Engine::new(Limits::SMALL);
    let mut hashes = Vec::new();
    for (i, cmd) in stream.iter().enumerate() {
        engine.apply(cmd);
        if (i + 1) % CHECK_EVERY == 0 {
            hashes.push(engine.state_hash());
        }
    }
    if stream.len() % CHECK_EVERY != 0 {
        hashes.push(engine.state_hash());
    }
    (hashes, engine)
}

#[test]
fn same_stream_gives_identical_events_and_hashes_on_two_engines() {
    let stream = random_stream(1, COMMANDS);
    let mut a = Harness::bare(Limits::SMALL);
    let mut b = Engine::new(Limits::SMALL);
    let (mut trades, mut rejects, mut rests) = (0usize, 0usize, 0usize);
    for (i, cmd) in stream.iter().enumerate() {
        let events = a.apply(cmd);
        assert_eq!(events, b.apply(cmd), "events differ at seq {}", cmd.seq);
        for e in &events {
            match e {
                Event::Trade { .. } => trades += 1,
                Event::Rejected { .. } => rejects += 1,
                Event::Rested { .. } => rests += 1,
                _ => {}
            }
        }
        if (i + 1) % CHECK_EVERY == 0 {
            assert_eq!(
                a.engine.state_hash(),
                b.state_hash(),
                "hash differs at seq {}",
                cmd.seq
            );
        }
    }
    // The stream is a realistic mix, not a stream of rejects.
    assert!(trades > 2_000, "only {trades} trades");
    assert!(rests > 4_000, "only {rests} rests");
    assert!(rejects < COMMANDS / 3, "{rejects} rejects");
    assert!(!a.engine.orders().is_empty());
    assert!(a.engine.orders().len() < 5_000, "the book stays bounded");
    // Replaying once more from genesis reproduces every checkpoint.
    let (hashes, _) = run(&stream);
    let (again, _) = run(&stream);
    assert_eq!(hashes, again);
    assert_eq!(hashes.last(), Some(&a.engine.state_hash()));
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        hashes.len(),
        "state changes between checkpoints"
    );
}

#[test]
fn different_stream_gives_different_hashes() {
    let (one, _) = run(&random_stream(1, COMMANDS));
    let (two, _) = run(&random_stream(2, COMMANDS));
    assert_eq!(one.len(), two.len());
    for (i, (x, y)) in one.iter().zip(&two).enumerate() {
        assert_ne!(x, y, "checkpoint {i} collides");
    }
}

#[test]
fn changing_one_order_in_a_stream_changes_the_hash() {
    let stream = random_stream(3, COMMANDS / 2);
    // The first GTC order past the first quarter that rests.
    let mut h = Harness::bare(Limits::SMALL);
    let mut found = None;
    for (i, cmd) in stream.iter().enumerate() {
        h.apply(cmd);
        if let Command::Place(o) = &cmd.command {
            let rested = h.engine.order(OrderId(cmd.seq)).is_some();
            if i >= COMMANDS / 8 && o.tif == TimeInForce::Gtc && rested {
                found = Some((i, *o));
                break;
            }
        }
    }
    let (at, original) = found.expect("the stream rests GTC orders");
    let hash = h.engine.state_hash();
    assert_eq!(run(&stream[..=at]).1.state_hash(), hash);
    let tweaks: [fn(&mut NewOrder); 3] = [
        |o| o.client_ref ^= 1,
        |o| o.qty.0 += 1,
        |o| o.price.0 -= o.side.sign(),
    ];
    for (k, tweak) in tweaks.iter().enumerate() {
        let mut changed = stream[..=at].to_vec();
        let mut order = original;
        tweak(&mut order);
        changed[at].command = Command::Place(order);
        let (_, b) = run(&changed);
        assert_ne!(b.state_hash(), hash, "tweak {k} left the hash unchanged");
    }
}

#[test]
fn clone_midway_then_same_suffix_gives_same_events_and_hash() {
    let stream = random_stream(4, COMMANDS);
    let (prefix, suffix) = stream.split_at(COMMANDS / 2);
    let mut original = Harness::bare(Limits::SMALL);
    for cmd in prefix {
        original.apply(cmd);
    }
    // The snapshot is a clone; it is audited after every command of the suffix too.
    let mut snapshot = original.clone();
    assert_eq!(original.engine.state_hash(), snapshot.engine.state_hash());
    for cmd in suffix {
        let events = original.apply(cmd);
        assert_eq!(
            events,
            snapshot.apply(cmd),
            "events differ at seq {}",
            cmd.seq
        );
    }
    assert_eq!(original.engine.state_hash(), snapshot.engine.state_hash());
    // Both agree with a replay from genesis.
    let (_, genesis) = run(&stream);
    assert_eq!(genesis.state_hash(), original.engine.state_hash());
    assert_eq!(genesis.last_seq(), stream.last().map_or(0, |c| c.seq));
}

#[test]
fn clone_from_refreshes_a_stale_copy_to_the_same_state() {
    // A snapshot copy is refreshed in place (`clone_from`, reusing its storage) rather than
    // made anew: from a copy taken at a quarter of the stream, refreshed at half, the suffix
    // must give the same events and hashes as on the original.
    let stream = random_stream(6, COMMANDS);
    let mut original = Engine::new(Limits::SMALL);
    let mut copy = Engine::new(Limits::SMALL);
    for (i, cmd) in stream.iter().enumerate() {
        if i == COMMANDS / 4 {
            copy = original.clone();
        }
        if i == COMMANDS / 2 {
            assert_ne!(
                copy.state_hash(),
                original.state_hash(),
                "the copy is stale"
            );
            copy.clone_from(&original);
            assert_eq!(copy.state_hash(), original.state_hash());
            copy.audit().expect("the refreshed copy passes the audit");
        }
        let events = original.apply(cmd).to_vec();
        if i >= COMMANDS / 2 {
            assert_eq!(events, copy.apply(cmd), "events differ at seq {}", cmd.seq);
        }
    }
    assert_eq!(copy.state_hash(), original.state_hash());
    copy.audit().expect("audit after the suffix");
}

#[test]
fn hash_covers_book_order_positions_and_sequence() {
    use cascade_engine::{NewOrder, Side};
    let base = || {
        let mut h = Harness::new();
        h.rest(NewOrder::limit(1, 0, Side::Buy, 100, 5));
        h
    };
    let hash_after = |f: &dyn Fn(&mut Harness)| {
        let mut h = base();
        f(&mut h);
        h.engine.state_hash()
    };
    let baseline = hash_after(&|h| {
        h.rest(NewOrder::limit(2, 0, Side::Buy, 100, 5));
    });
    let variants = [
        hash_after(&|h| {
            h.rest(NewOrder::limit(2, 0, Side::Buy, 99, 5));
        }),
        hash_after(&|h| {
            h.rest(NewOrder::limit(2, 0, Side::Buy, 100, 4));
        }),
        hash_after(&|h| {
            h.rest(NewOrder::limit(3, 0, Side::Buy, 100, 5));
        }),
        hash_after(&|h| {
            h.rest(NewOrder::limit(2, 0, Side::Sell, 101, 5));
        }),
        hash_after(&|h| {
            h.seq += 1;
            h.rest(NewOrder::limit(2, 0, Side::Buy, 100, 5));
        }),
        // A trade in between: positions and ids differ.
        hash_after(&|h| {
            h.place(NewOrder::limit(3, 0, Side::Sell, 100, 5));
            h.rest(NewOrder::limit(2, 0, Side::Buy, 100, 5));
        }),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_ne!(*v, baseline, "variant {i} hashes like the baseline");
    }
}
