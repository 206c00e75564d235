//! The metrics endpoint: Prometheus text format (version 0.0.4) over plain HTTP/1.0, on its
//! own thread and port (`metrics_listen`).
//!
//! The core thread owns the numbers and publishes them into [`Metrics`] with relaxed atomic
//! stores: no lock on the hot path, and a scrape never waits for the core. The order→ack
//! latency is measured in the server, from the moment a session's reader has decoded an order
//! to the moment its answers are queued to the session's writer after the group commit (so it
//! includes the channel to the core, sequencing, the journal and its fsync, and matching; not
//! the writer's socket write). The core records it into an HDR histogram and publishes its
//! quantiles once per window of at least [`WINDOW`], the usual meaning of a Prometheus
//! summary's quantiles; `_count` and `_sum` are since start.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Quantiles of the latency summary.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 0.9999];
/// Shortest window the published latency quantiles cover.
pub const WINDOW: Duration = Duration::from_secs(1);
/// How often an idle metrics listener looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// Largest request head read from a scraper.
const REQUEST_MAX: usize = 4096;

/// The numbers a scrape reports. Written by the core (and the acceptors), read by the
/// endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    /// OUCH messages the core has handled.
    pub orders: AtomicU64,
    /// Commands sequenced (journaled and applied).
    pub commands: AtomicU64,
    /// Liquidations started (engine `LiquidationStarted` events).
    pub liquidations: AtomicU64,
    /// Insurance fund balance, quote quantums, after the last group commit.
    pub insurance_fund: AtomicI64,
    /// Journal records in the file (recovered at start, then appended).
    pub journal_records: AtomicU64,
    /// Journal fsyncs (`fdatasync`) performed.
    pub journal_fsyncs: AtomicU64,
    /// Snapshots written (every `snapshot_every` records and on operator request).
    pub snapshots: AtomicU64,
    /// Sessions logged in (both ports).
    pub sessions: AtomicU64,
    /// Open connections (both ports, logged in or not).
    pub connections: Arc<AtomicUsize>,
    /// Latency quantiles of the last window, ns, in [`QUANTILES`] order.
    pub latency_ns: [AtomicU64; 5],
    /// Latency samples since start.
    pub latency_count: AtomicU64,
    /// Sum of latency samples since start, ns.
    pub latency_sum_ns: AtomicU64,
}

/// The core's side: the window histogram and what it publishes into.
pub struct CoreMetrics {
    shared: Arc<Metrics>,
    window: Histogram<u64>,
    window_start: Instant,
    /// Reader timestamps of the orders in the batch being processed (capacity kept).
    /// Receive times of handled orders whose answers are not out yet, oldest first.
    pending: VecDeque<Instant>,
    /// Bound of `pending` (beyond it samples are dropped, not the orders).
    pending_max: usize,
    /// Samples pushed into and taken out of `pending` since the start.
    pushed: u64,
    popped: u64,
}

impl CoreMetrics {
    /// Publishes into `shared`; `batch_max` sizes the buffer of unanswered samples once
    /// (room for a few batches: the answers of a batch wait for its journal sync while the
    /// next batches are sequenced).
    ///
    /// # Panics
    /// Never: the histogram bounds are constants.
    #[must_use]
    pub fn new(shared: Arc<Metrics>, batch_max: usize) -> Self {
        Self {
            shared,
            window: Histogram::new_with_bounds(1, 100_000_000_000, 3)
                .expect("invariant: valid histogram bounds"),
            window_start: Instant::now(),
            pending: VecDeque::with_capacity(4 * batch_max),
            pending_max: 4 * batch_max,
            pushed: 0,
            popped: 0,
        }
    }

    /// The shared numbers.
    #[must_use]
    pub fn shared(&self) -> &Metrics {
        &self.shared
    }

    /// The shared numbers, for another thread.
    #[must_use]
    pub fn shared_arc(&self) -> Arc<Metrics> {
        Arc::clone(&self.shared)
    }

    /// One OUCH message handled; `received` is when its session's reader decoded it.
    pub fn order(&mut self, received: Instant) {
        self.shared.orders.fetch_add(1, Ordering::Relaxed);
        if self.pending.len() < self.pending_max {
            self.pending.push_back(received);
            self.pushed += 1;
        }
    }

    /// A mark for [`CoreMetrics::answered_through`]: the samples taken so far.
    #[must_use]
    pub const fn mark(&self) -> u64 {
        self.pushed
    }

    /// The answers of the orders sampled before `mark` have been queued: records their
    /// latencies, and publishes the window when it is due.
    pub fn answered_through(&mut self, mark: u64) {
        if self.popped >= mark {
            return;
        }
        let now = Instant::now();
        let (mut n, mut sum) = (0u64, 0u64);
        while self.popped < mark {
            let Some(t) = self.pending.pop_front() else {
                break;
            };
            self.popped += 1;
            let ns = u64::try_from(now.duration_since(t).as_nanos()).unwrap_or(u64::MAX);
            self.window.saturating_record(ns.max(1));
            n += 1;
            sum = sum.saturating_add(ns);
        }
        self.shared.latency_count.fetch_add(n, Ordering::Relaxed);
        self.shared.latency_sum_ns.fetch_add(sum, Ordering::Relaxed);
        if now.duration_since(self.window_start) >= WINDOW {
            for (slot, q) in self.shared.latency_ns.iter().zip(QUANTILES) {
                slot.store(self.window.value_at_quantile(q), Ordering::Relaxed);
            }
            self.window.reset();
            self.window_start = now;
        }
    }
}

/// Renders the metrics in Prometheus text format. `orders_per_s` is the rate since the
/// previous scrape.
#[must_use]
pub fn render(m: &Metrics, orders_per_s: f64) -> String {
    let mut s = String::new();
    let mut counter = |name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(s, "# HELP {name} {help}");
        let _ = writeln!(s, "# TYPE {name} {kind}");
        let _ = writeln!(s, "{name} {value}");
    };
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    counter(
        "cascade_orders_total",
        "OUCH order-entry messages handled by the core.",
        "counter",
        get(&m.orders),
    );
    counter(
        "cascade_orders_per_second",
        "OUCH messages per second since the previous scrape.",
        "gauge",
        format!("{orders_per_s:.1}"),
    );
    counter(
        "cascade_commands_total",
        "Commands sequenced (journaled and applied).",
        "counter",
        get(&m.commands),
    );
    counter(
        "cascade_sessions",
        "Sessions logged in, both ports.",
        "gauge",
        get(&m.sessions),
    );
    counter(
        "cascade_connections",
        "Open TCP connections, both ports.",
        "gauge",
        m.connections.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "cascade_liquidations_total",
        "Liquidations started.",
        "counter",
        get(&m.liquidations),
    );
    counter(
        "cascade_insurance_fund_quote",
        "Insurance fund balance in quote quantums (1e-6 USD).",
        "gauge",
        m.insurance_fund.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "cascade_journal_records_total",
        "Journal records in the journal file (recovered at start, then appended).",
        "counter",
        get(&m.journal_records),
    );
    counter(
        "cascade_journal_fsyncs_total",
        "Journal fdatasync calls.",
        "counter",
        get(&m.journal_fsyncs),
    );
    counter(
        "cascade_snapshots_total",
        "Snapshots written (every snapshot_every records and on operator request).",
        "counter",
        get(&m.snapshots),
    );
    let name = "cascade_order_ack_latency_seconds";
    let _ = writeln!(
        s,
        "# HELP {name} Order decoded by its session reader to its answers queued after the \
         group commit; quantiles over the last window of at least 1 s."
    );
    let _ = writeln!(s, "# TYPE {name} summary");
    for (q, v) in QUANTILES.iter().zip(&m.latency_ns) {
        let _ = writeln!(
            s,
            "{name}{{quantile=\"{q}\"}} {}",
            seconds(v.load(Ordering::Relaxed))
        );
    }
    let _ = writeln!(
        s,
        "{name}_sum {}",
        seconds(m.latency_sum_ns.load(Ordering::Relaxed))
    );
    let _ = writeln!(
        s,
        "{name}_count {}",
        m.latency_count.load(Ordering::Relaxed)
    );
    s
}

fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Binds the endpoint.
///
/// # Errors
/// The address cannot be bound.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let l = TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Serves scrapes until `stop`, one connection at a time.
pub fn serve(listener: &TcpListener, metrics: &Metrics, stop: &AtomicBool) {
    let mut last = (Instant::now(), metrics.orders.load(Ordering::Relaxed));
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(e) = answer(stream, metrics, &mut last) {
                    tracing::debug!(%peer, "metrics request failed: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) => {
                tracing::warn!("metrics accept failed: {e}");
                thread::sleep(POLL);
            }
        }
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics,
    NotFound,
    MethodNotAllowed,
    Bad,
}

fn parse(head: &[u8]) -> Request {
    let Some(line) = head.split(|&b| b == b'\n').next() else {
        return Request::Bad;
    };
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Request::Bad;
    };
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/")) {
        return Request::Bad;
    }
    if method != "GET" && method != "HEAD" {
        return Request::MethodNotAllowed;
    }
    match path.split('?').next() {
        Some("/metrics" | "/") => Request::Metrics,
        _ => Request::NotFound,
    }
}

fn answer(mut stream: TcpStream, metrics: &Metrics, last: &mut (Instant, u64)) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > REQUEST_MAX {
            break;
        }
    }
    let (status, body) = if head.len() > REQUEST_MAX {
        ("400 Bad Request", "request head too long\n".to_string())
    } else {
        match parse(&head) {
            Request::Metrics => {
                let now = Instant::now();
                let orders = metrics.orders.load(Ordering::Relaxed);
                let dt = now.duration_since(last.0).as_secs_f64();
                // Benchmark arithmetic for a gauge, not money.
                #[allow(clippy::cast_precision_loss)]
                let rate = if dt > 0.0 {
                    orders.saturating_sub(last.1) as f64 / dt
                } else {
                    0.0
                };
                *last = (now, orders);
                ("200 OK", render(metrics, rate))
            }
            Request::NotFound => ("404 Not Found", "try /metrics\n".to_string()),
            Request::MethodNotAllowed => ("405 Method Not Allowed", "GET only\n".to_string()),
            Request::Bad => ("400 Bad Request", "not an HTTP request\n".to_string()),
        }
    };
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    if head.len() > REQUEST_MAX {
        // Closing with unread bytes would reset the connection before the client reads the
        // answer: end our side, then discard what it still sends (bounded by the timeout).
        stream.shutdown(Shutdown::Write)?;
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_parsed_without_panicking() {
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(parse(b"GET / HTTP/1.0\r\n\r\n"), Request::Metrics);
        assert_eq!(
            parse(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(parse(b"GET /other HTTP/1.0\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse(b"POST /metrics HTTP/1.0\r\n\r\n"),
            Request::MethodNotAllowed
        );
        assert_eq!(parse(b"GET /metrics\r\n\r\n"), Request::Bad);
        assert_eq!(parse(b""), Request::Bad);
        assert_eq!(parse(&[0xff, 0xfe, b' ', b'\n']), Request::Bad);
    }

    #[test]
    fn summary_quantiles_come_from_the_window() {
        let shared = Arc::new(Metrics::default());
        let mut core = CoreMetrics::new(Arc::clone(&shared), 8);
        let t = Instant::now();
        core.order(t);
        core.order(t);
        // The window is older than WINDOW only after a second; force publication by aging it.
        core.window_start = t.checked_sub(WINDOW).unwrap_or(t);
        core.answered_through(1);
        assert_eq!(
            shared.latency_count.load(Ordering::Relaxed),
            1,
            "only the first answered"
        );
        core.answered_through(core.mark());
        assert_eq!(shared.orders.load(Ordering::Relaxed), 2);
        assert_eq!(shared.latency_count.load(Ordering::Relaxed), 2);
        assert!(shared.latency_ns[0].load(Ordering::Relaxed) > 0);
        let text = render(&shared, 12.0);
        assert!(text.contains("cascade_orders_total 2\n"), "{text}");
        assert!(text.contains("cascade_orders_per_second 12.0\n"), "{text}");
        assert!(
            text.contains("cascade_order_ack_latency_seconds_count 2\n"),
            "{text}"
        );
        assert!(text.contains("cascade_order_ack_latency_seconds{quantile=\"0.999\"} 0."));
        assert!(text.contains("# TYPE cascade_order_ack_latency_seconds summary"));
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(0), "0.000000000");
        assert_eq!(seconds(1_500_000_123), "1.500000123");
    }
}

/// The endpoint over real sockets, on a running server.
#[cfg(test)]
mod socket_tests {
    use super::super::{start_in, Config};
    use crate::codec::ouch::{self, Appendage, EnterOrder, Inbound, Outbound};
    use crate::codec::soup::{LoginRequest, Packet, StreamDecoder};
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    const DEADLINE: Duration = Duration::from_secs(10);

    fn scrape(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).expect("connect to metrics");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        s.write_all(request.as_bytes()).expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read to close");
        out
    }

    fn value(text: &str, name: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
    }

    fn send(stream: &mut TcpStream, p: &Packet<'_>) {
        let mut buf = vec![0u8; p.encoded_len()];
        let n = p.encode(&mut buf).expect("encode");
        stream.write_all(&buf[..n]).expect("write");
    }

    /// Reads packets until `f` says stop, within the deadline.
    fn read_until(
        stream: &mut TcpStream,
        dec: &mut StreamDecoder,
        f: impl Fn(&Packet<'_>) -> bool,
    ) {
        let start = Instant::now();
        loop {
            while let Some(p) = dec.next_packet().expect("valid frames") {
                if f(&p) {
                    return;
                }
            }
            assert!(start.elapsed() < DEADLINE, "no answer in time");
            match stream.read(dec.spare()) {
                Ok(0) => panic!("server closed"),
                Ok(n) => dec.commit(n),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    #[test]
    fn metrics_endpoint_counts_orders_sessions_and_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::embedded();
        config.port = 0;
        config.md_port = 0;
        config.native_port = 0;
        config.fsync = "batch".into();
        config.metrics_listen = "127.0.0.1:0".into();
        let server = start_in(config, dir.path()).expect("server starts");
        let maddr = server.metrics_addr().expect("metrics endpoint bound");

        let before = scrape(maddr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(before.starts_with("HTTP/1.0 200 OK\r\n"), "{before}");
        assert!(before.contains("Content-Type: text/plain; version=0.0.4"));
        assert_eq!(value(&before, "cascade_orders_total"), 0.0);
        assert_eq!(value(&before, "cascade_sessions"), 0.0);
        // Genesis: per market AddMarket, SetRiskParams, SetIndexPrice; a deposit per user.
        let genesis = value(&before, "cascade_journal_records_total");
        assert_eq!(genesis, 2.0 * 3.0 + 4.0);
        assert_eq!(value(&before, "cascade_journal_fsyncs_total"), 0.0);

        let mut c = TcpStream::connect(server.ouch_addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut dec = StreamDecoder::new(1 << 16, u16::MAX as usize);
        send(
            &mut c,
            &Packet::LoginRequest(LoginRequest {
                username: *b"alice ",
                password: *b"alice     ",
                session: [b' '; 10],
                sequence: 0,
            }),
        );
        read_until(&mut c, &mut dec, |p| matches!(p, Packet::LoginAccepted(_)));
        for user_ref_num in 1..=3 {
            let msg = Inbound::EnterOrder(EnterOrder {
                user_ref_num,
                side: ouch::side::BUY,
                quantity: 1,
                symbol: *b"BTC-PERP",
                price: 640_000_000,
                time_in_force: ouch::time_in_force::DAY,
                display: ouch::display::VISIBLE,
                capacity: ouch::capacity::AGENCY,
                intermarket_sweep: ouch::intermarket_sweep::NOT_ELIGIBLE,
                cross_type: ouch::cross_type::CONTINUOUS,
                cl_ord_id: *b"metrics-test-1",
                appendage: Appendage::EMPTY,
            });
            let mut buf = [0u8; 64];
            let n = msg.encode(&mut buf).expect("encode");
            send(&mut c, &Packet::UnsequencedData(&buf[..n]));
        }
        read_until(&mut c, &mut dec, |p| match p {
            Packet::SequencedData(d) => {
                matches!(Outbound::decode(d), Ok(Outbound::OrderAccepted(a)) if a.user_ref_num == 3)
            }
            _ => false,
        });

        let after = scrape(maddr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(value(&after, "cascade_orders_total"), 3.0);
        assert_eq!(value(&after, "cascade_sessions"), 1.0);
        assert_eq!(value(&after, "cascade_connections"), 1.0);
        assert_eq!(
            value(&after, "cascade_journal_records_total"),
            genesis + 3.0
        );
        assert_eq!(
            value(&after, "cascade_order_ack_latency_seconds_count"),
            3.0
        );
        assert!(value(&after, "cascade_order_ack_latency_seconds_sum") > 0.0);
        assert_eq!(value(&after, "cascade_liquidations_total"), 0.0);
        assert!(after.contains("cascade_insurance_fund_quote "));

        // Bad requests get an HTTP error, and the endpoint keeps serving.
        assert!(scrape(maddr, "POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 405"));
        assert!(scrape(maddr, "GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
        assert!(scrape(maddr, "\u{1}\u{2}garbage\r\n\r\n").starts_with("HTTP/1.0 400"));
        let long = format!("GET /{} HTTP/1.0\r\n\r\n", "x".repeat(10_000));
        assert!(scrape(maddr, &long).starts_with("HTTP/1.0 400"));
        assert!(scrape(maddr, "GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 200"));
        drop(c);
        server.shutdown().expect("clean shutdown");
    }
}
