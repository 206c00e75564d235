//! The loopback floor: a plain TCP ping-pong between two threads of this process, with the
//! byte counts of an order and its answer. Nothing on the server path can be faster than this
//! round trip through the kernel's loopback and two thread wake-ups, so the server's
//! order→ack latency is quoted against it.
//!
//! Beside it, [`open_loop_echo`]: the same plain echo driven open loop at the order run's rate
//! and pacing. A ping-pong has one message in flight, so a stall of the machine (a descheduled
//! thread, a late timer) costs it one sample; at 100,000 messages a second the same stall
//! delays every message sent during it. The open-loop echo shows what the machine's stalls
//! alone do to an open-loop tail, with no server in the path.

use crate::report;
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Round trips of `ping` bytes out and `pong` bytes back: `warmup` untimed, then `samples`
/// timed, each from just before the write to just after the last byte of the answer is read.
/// Returns the histogram (ns) and the seconds the timed part took.
///
/// # Errors
/// A socket error on either side.
pub fn ping_pong(
    ping: usize,
    pong: usize,
    warmup: usize,
    samples: usize,
) -> io::Result<(Histogram<u64>, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = thread::Builder::new()
        .name("loadgen-floor-echo".into())
        .spawn(move || -> io::Result<()> {
            let (mut s, _) = listener.accept()?;
            s.set_nodelay(true)?;
            let mut inb = vec![0u8; ping];
            let out = vec![0x5au8; pong];
            loop {
                match s.read_exact(&mut inb) {
                    Ok(()) => s.write_all(&out)?,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        })?;
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let out = vec![0xa5u8; ping];
    let mut inb = vec![0u8; pong];
    let mut h = report::histogram();
    for _ in 0..warmup {
        c.write_all(&out)?;
        c.read_exact(&mut inb)?;
    }
    let start = Instant::now();
    for _ in 0..samples {
        let t = Instant::now();
        c.write_all(&out)?;
        c.read_exact(&mut inb)?;
        h.saturating_record(
            u64::try_from(t.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .max(1),
        );
    }
    let secs = start.elapsed().as_secs_f64();
    c.shutdown(Shutdown::Both)?;
    echo.join()
        .map_err(|_| io::Error::other("echo thread panicked"))??;
    Ok((h, secs))
}

/// Messages gathered into one `write` at most by the open-loop sender, as in the order run.
const FRAMES_PER_WRITE: usize = 256;

/// Nanoseconds from `start`.
fn ns_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Intended send time of frame `k` at `rate` frames a second, in ns from the start.
fn intended_ns(k: u64, rate: u64) -> u64 {
    u64::try_from(u128::from(k) * 1_000_000_000 / u128::from(rate.max(1))).unwrap_or(u64::MAX)
}

/// The plain echo, open loop: `ping`-byte frames sent at `rate` a second for `warmup` then
/// `measured`, paced as the order run's sender paces (sleep until the next frame is due, then
/// send every frame due in one write), and answered by an echo thread with `pong` bytes per
/// frame (one write per read, as a server answers what one read brought). Each frame is timed
/// from its intended send time to the last byte of its answer read (coordinated omission
/// corrected, as the order run); frames due in the warm-up are not recorded. Returns the
/// histogram (ns) and the seconds the whole run took.
///
/// # Errors
/// A socket error on any side.
pub fn open_loop_echo(
    ping: usize,
    pong: usize,
    rate: u64,
    warmup: Duration,
    measured: Duration,
) -> io::Result<(Histogram<u64>, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let warmup_ns = u64::try_from(warmup.as_nanos()).unwrap_or(u64::MAX);
    let total_ns = warmup_ns.saturating_add(u64::try_from(measured.as_nanos()).unwrap_or(0));
    let frames = u64::try_from(u128::from(total_ns) * u128::from(rate) / 1_000_000_000)
        .unwrap_or(u64::MAX)
        .max(1);
    let echo =
        thread::Builder::new()
            .name("loadgen-echo".into())
            .spawn(move || -> io::Result<()> {
                let (mut s, _) = listener.accept()?;
                s.set_nodelay(true)?;
                let mut inb = vec![0u8; 1 << 16];
                let mut out = Vec::with_capacity((1 << 16) / ping.max(1) * pong + pong);
                let mut partial = 0usize;
                loop {
                    let n = s.read(&mut inb)?;
                    if n == 0 {
                        return Ok(());
                    }
                    let whole = (partial + n) / ping;
                    partial = (partial + n) % ping;
                    out.clear();
                    out.resize(whole * pong, 0x5a);
                    s.write_all(&out)?;
                }
            })?;
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut reader = c.try_clone()?;
    let start = Instant::now();
    let receiver = thread::Builder::new()
        .name("loadgen-echo-recv".into())
        .spawn(move || -> io::Result<Histogram<u64>> {
            let mut h = report::histogram();
            let mut inb = vec![0u8; 1 << 16];
            let (mut answered, mut partial) = (0u64, 0usize);
            while answered < frames {
                let n = reader.read(&mut inb)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "echo closed early",
                    ));
                }
                let now = ns_since(start);
                let whole = (partial + n) / pong;
                partial = (partial + n) % pong;
                for _ in 0..whole {
                    let due = intended_ns(answered, rate);
                    if due >= warmup_ns {
                        h.saturating_record(now.saturating_sub(due).max(1));
                    }
                    answered += 1;
                }
            }
            Ok(h)
        })?;
    let buf = vec![0xa5u8; FRAMES_PER_WRITE * ping];
    let mut k = 0u64;
    while k < frames {
        let now = ns_since(start);
        let due = intended_ns(k, rate);
        if due > now {
            // The order run's default pacing: sleep, then send what fell due meanwhile.
            thread::sleep(Duration::from_nanos(due - now));
            continue;
        }
        let mut ready = 1u64;
        while ready < FRAMES_PER_WRITE as u64
            && k + ready < frames
            && intended_ns(k + ready, rate) <= now
        {
            ready += 1;
        }
        let bytes = usize::try_from(ready).unwrap_or(FRAMES_PER_WRITE) * ping;
        c.write_all(&buf[..bytes])?;
        k += ready;
    }
    let h = receiver
        .join()
        .map_err(|_| io::Error::other("echo receiver panicked"))??;
    let secs = start.elapsed().as_secs_f64();
    c.shutdown(Shutdown::Both)?;
    echo.join()
        .map_err(|_| io::Error::other("echo thread panicked"))??;
    Ok((h, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_trip_is_counted() {
        let (h, secs) = ping_pong(50, 67, 10, 200).expect("loopback works");
        assert_eq!(h.len(), 200);
        assert!(secs > 0.0);
        assert!(h.min() >= 1);
    }

    #[test]
    fn open_loop_echo_records_the_measured_frames_only() {
        // 20,000 frames a second: 0.05 s of warm-up (1,000 frames) and 0.1 s measured (2,000).
        let (h, secs) = open_loop_echo(
            50,
            67,
            20_000,
            Duration::from_millis(50),
            Duration::from_millis(100),
        )
        .expect("loopback works");
        assert_eq!(h.len(), 2_000);
        assert!(h.min() >= 1);
        assert!(secs > 0.0);
    }

    #[test]
    fn intended_times_follow_the_rate() {
        assert_eq!(intended_ns(0, 100_000), 0);
        assert_eq!(intended_ns(1, 100_000), 10_000);
        assert_eq!(intended_ns(100_000, 100_000), 1_000_000_000);
        assert_eq!(intended_ns(3, 3), 1_000_000_000);
    }
}
