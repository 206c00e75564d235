//! The loopback floor: a plain TCP ping-pong between two threads of this process, with the
//! byte counts of an order and its answer. Nothing on the server path can be faster than this
//! round trip through the kernel's loopback and two thread wake-ups, so the server's
//! order→ack latency is quoted against it.

use crate::report;
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Instant;

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
}
