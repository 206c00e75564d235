//! Throughput of the sessions → core queue: the crossbeam bounded channel the server used
//! before, against `cascade_gateway::ring`, on the same workload.
//!
//! Workload: `PRODUCERS` threads each push `PER_PRODUCER` 48-byte messages (the size of a
//! `ToCore` message) through a queue of 65,536 slots (the default `inbound_queue_max`) to one
//! consumer, which checks each producer's order and sums a checksum. Five runs each; the median
//! is printed with the checksum (identical for both queues) and the command to reproduce.
//!
//! `cargo run --release -p cascade-gateway --example ring_throughput`

use std::thread;
use std::time::Instant;

use cascade_gateway::ring;

const PRODUCERS: u64 = 2;
const PER_PRODUCER: u64 = 2_000_000;
const CAPACITY: usize = 65_536;
const RUNS: usize = 5;

/// 48 bytes, like the server's `ToCore`.
#[derive(Clone, Copy)]
struct Msg {
    producer: u64,
    n: u64,
    _pad: [u64; 4],
}

fn msg(producer: u64, n: u64) -> Msg {
    Msg {
        producer,
        n,
        _pad: [n; 4],
    }
}

/// Checks per-producer order; returns the checksum.
struct Check {
    next: Vec<u64>,
    sum: u64,
}

impl Check {
    fn new() -> Self {
        Self {
            next: vec![0; usize::try_from(PRODUCERS).expect("small")],
            sum: 0,
        }
    }

    fn take(&mut self, m: Msg) {
        let next = &mut self.next[usize::try_from(m.producer).expect("small")];
        assert_eq!(m.n, *next, "out of order");
        *next += 1;
        self.sum = self.sum.wrapping_add(m.n ^ (m.producer << 40));
    }
}

fn crossbeam_run() -> (f64, u64) {
    let (tx, rx) = crossbeam_channel::bounded::<Msg>(CAPACITY);
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for n in 0..PER_PRODUCER {
                    tx.send(msg(p, n)).expect("consumer alive");
                }
            })
        })
        .collect();
    drop(tx);
    let mut check = Check::new();
    while let Ok(m) = rx.recv() {
        check.take(m);
    }
    let secs = start.elapsed().as_secs_f64();
    for p in producers {
        p.join().expect("producer");
    }
    (secs, check.sum)
}

fn ring_run() -> (f64, u64) {
    let (tx, mut rx) = ring::ring::<Msg>(CAPACITY);
    let start = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for n in 0..PER_PRODUCER {
                    tx.push(msg(p, n)).expect("consumer alive");
                }
            })
        })
        .collect();
    drop(tx);
    let mut check = Check::new();
    while let Some(m) = rx.pop() {
        check.take(m);
    }
    let secs = start.elapsed().as_secs_f64();
    for p in producers {
        p.join().expect("producer");
    }
    (secs, check.sum)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let total = PRODUCERS * PER_PRODUCER;
    println!(
        "sessions -> core queue: {PRODUCERS} producers x {PER_PRODUCER} messages of 48 bytes, \
         capacity {CAPACITY}, median of {RUNS} runs"
    );
    let mut sums = Vec::new();
    for (name, run) in [
        ("crossbeam bounded", crossbeam_run as fn() -> (f64, u64)),
        ("cascade ring", ring_run),
    ] {
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            let (secs, sum) = run();
            #[allow(clippy::cast_precision_loss)]
            rates.push(total as f64 / secs / 1e6);
            sums.push(sum);
        }
        println!(
            "  {name:<18} {:>7.1} M msgs/s (runs: {})",
            median(rates.clone()),
            rates
                .iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "checksums differ");
    println!("  checksum {:016x} (same for both)", sums[0]);
    println!("  reproduce: cargo run --release -p cascade-gateway --example ring_throughput");
}
