//! Small-input mode: each standard workload at a few thousand operations through Cascade and
//! through the reference book (and, for the peer streams, through every peer), with identical
//! fills required. Real assertions, no timing.

use cascade_benches::cascade::Cascade;
use cascade_benches::harness::{run_once, Book};
use cascade_benches::peers::{self, Check};
use cascade_benches::reference::RefBook;
use cascade_benches::workload::{mix, quantcup, xc, Workload};

const SMALL: usize = 5_000;

fn small_mix() -> Workload {
    mix::generate(&mix::MixParams {
        ops: SMALL,
        target_orders: 500,
        ..mix::MixParams::default()
    })
}

fn small_xc() -> Workload {
    xc::generate(&xc::XcParams {
        ops: SMALL,
        ..xc::XcParams::default()
    })
}

fn cascade_matches_reference(w: &Workload) {
    w.check_ids();
    let cascade = run_once::<Cascade>(&Cascade::prepare(&w.ops));
    let reference = run_once::<RefBook>(&w.ops);
    assert!(reference.fills > 0, "{}: the workload trades", w.name);
    assert_eq!(cascade, reference, "{}: Cascade vs reference", w.name);
}

fn peers_match_reference(w: &Workload) {
    let stream = w.without_amends();
    let c = peers::compare(&stream, 1, None);
    for row in &c.rows {
        if row.name.starts_with("cascade") || row.name.starts_with("btreemap") {
            assert_eq!(row.check, Check::Ok, "{}: {}", w.name, row.name);
        }
        // Registry peers are reported, not required, to fill correctly.
    }
    assert_eq!(c.rows[0].tally, c.reference);
}

#[test]
fn mix_small_cascade_equals_reference() {
    cascade_matches_reference(&small_mix());
}

#[test]
fn xc_small_cascade_equals_reference() {
    cascade_matches_reference(&small_xc());
}

#[test]
fn mix_small_peer_stream_cascade_equals_reference() {
    peers_match_reference(&small_mix());
}

#[test]
fn xc_small_peer_stream_cascade_equals_reference() {
    peers_match_reference(&small_xc());
}

#[test]
fn quantcup_cascade_equals_reference_when_present() {
    let Some(path) = quantcup::locate() else {
        eprintln!("QuantCup feed not found: skipped");
        return;
    };
    let feed = quantcup::load(&path).expect("feed parses");
    assert_eq!(feed.raw.len(), quantcup::FEED_MESSAGES);
    cascade_matches_reference(&feed.workload.truncated(SMALL));
    cascade_matches_reference(&feed.workload);
    if let Some(runs) = peers::quantcup_c::run(&feed.raw, 1) {
        let reference = run_once::<RefBook>(&feed.workload.ops);
        assert_eq!(
            (runs[0].fills, runs[0].qty),
            (reference.fills, reference.qty)
        );
    }
}

#[test]
fn workloads_are_deterministic_and_seeded() {
    assert_eq!(small_mix().ops, small_mix().ops);
    let other = mix::generate(&mix::MixParams {
        ops: SMALL,
        seed: 7,
        target_orders: 500,
        ..mix::MixParams::default()
    });
    assert_ne!(small_mix().ops, other.ops);
    assert_eq!(small_xc().ops, small_xc().ops);
}

#[test]
fn mix_has_the_documented_shape_and_stays_stationary() {
    let w = mix::generate(&mix::MixParams {
        ops: 200_000,
        ..mix::MixParams::default()
    });
    let c = w.counts();
    let pct = |n: u64| n * 100 / 200_000;
    assert!((49..=51).contains(&pct(c.gtc)), "{c}");
    assert!((34..=36).contains(&pct(c.cancel)), "{c}");
    assert!((9..=11).contains(&pct(c.ioc + c.market)), "{c}");
    assert!((4..=6).contains(&pct(c.amend)), "{c}");
    let mut book = RefBook::new();
    let mut tally = cascade_benches::fills::FillTally::default();
    let mut sizes = Vec::new();
    for (i, op) in w.ops.iter().enumerate() {
        book.apply(op, &mut tally);
        if i % 20_000 == 19_999 {
            sizes.push(book.len());
        }
    }
    // Stationary: after the ramp the book stays near its target of 5,000 orders.
    for s in &sizes[2..] {
        assert!((3_500..=6_500).contains(s), "book sizes {sizes:?}");
    }
}

#[test]
fn xc_has_exchange_core_shape() {
    let w = xc::generate(&xc::XcParams {
        ops: 200_000,
        ..xc::XcParams::default()
    });
    let c = w.counts();
    let permille = |n: u64| n * 1000 / 200_000;
    assert!((70..=110).contains(&permille(c.gtc)), "{c}");
    assert!((20..=40).contains(&permille(c.ioc)), "{c}");
    assert!((45..=75).contains(&permille(c.cancel)), "{c}");
    assert!((790..=850).contains(&permille(c.amend)), "{c}");
    let mut book = RefBook::new();
    let mut tally = cascade_benches::fills::FillTally::default();
    for op in &w.ops {
        book.apply(op, &mut tally);
    }
    let (orders, levels) = (
        book.len(),
        book.depth(cascade_engine::Side::Buy) + book.depth(cascade_engine::Side::Sell),
    );
    eprintln!("xc book: {orders} orders on {levels} levels, {tally}");
    assert!((700..=1_300).contains(&orders), "{orders} orders");
    assert!((400..=1_100).contains(&levels), "{levels} levels");
}

/// Rejected commands of a stream through Cascade.
fn rejects(w: &Workload) -> usize {
    let mut c = Cascade::new();
    cascade_benches::cascade::commands(&w.ops)
        .iter()
        .map(|cmd| {
            c.engine_mut()
                .apply(cmd)
                .iter()
                .filter(|e| matches!(e, cascade_engine::Event::Rejected { .. }))
                .count()
        })
        .sum()
}

#[test]
fn generated_workloads_do_real_work() {
    // Cancels and amends target live orders, so (almost) nothing is rejected: only a market
    // order meeting an empty side, which the first operations of `mix` can do.
    for w in [small_mix(), small_xc()] {
        let r = rejects(&w);
        assert!(r <= 5, "{}: {r} rejects", w.name);
        let p = w.without_amends();
        assert!(rejects(&p) <= 10, "{} peer stream", w.name);
    }
}
