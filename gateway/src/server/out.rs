//! A session's outbound path: the core writes small outputs straight to the socket when it can,
//! and hands the rest to the session's writer thread through its queue.
//!
//! Every answer used to cross one more thread: core → writer queue → writer thread → socket.
//! On a machine with few cores each such hand-off is a wake-up that costs CPU time and, when
//! the cores are busy, a scheduling delay. Now the core sends a release's frames itself with a
//! non-blocking `send` when nothing is queued for the writer and the writer is not writing, and
//! queues them otherwise (a full socket buffer, a partial send, a writer busy with a
//! heartbeat or a backlog). The writer thread still sends heartbeats, End of Session and any
//! backlog, and a slow consumer is still detected by its queue filling up.
//!
//! # Ordering
//! Bytes must reach the socket in the order the core produced them. Two rules keep it:
//! - every write to the socket, the core's and the writer's, happens under `write` (so frames
//!   never interleave);
//! - `queued` counts the items the core pushed to the queue that the writer has not yet
//!   written: the core increments it before each push, the writer decrements it (under
//!   `write`) only after the items' bytes were written. The core writes directly only while
//!   holding `write` and seeing `queued == 0`, that is when everything it queued before is
//!   already on the socket; and once it queues anything, it queues everything after it until
//!   the writer has caught up. The core is the only producer, so its program order is the
//!   stream's order.
//!
//! The core never blocks here: it takes `write` with `try_lock` and falls back to the queue.
//!
//! Market-data sessions always go through their writer thread: one `send` per subscriber per
//! batch on the core would make its cost grow with the fan-out. Order-entry and native sessions
//! (one per account) take the direct path.

use std::io;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::core::Out;
use crate::ring::{Consumer, Producer};

/// Bytes the core gathers into one direct `send` at most.
const DIRECT_BYTES_MAX: usize = 1 << 16;

/// What the core and the writer thread share.
#[derive(Debug)]
struct Shared {
    /// A handle on the session's socket (the writer's own, or a clone: the same socket).
    socket: TcpStream,
    /// Held by whoever writes to the socket.
    write: Mutex<()>,
    /// Items pushed to the queue and not yet written by the writer.
    queued: AtomicU64,
    /// When the core last wrote directly, ns after `epoch` (0: never): the writer's heartbeat
    /// timer counts from the latest write of either side.
    direct_at_ns: AtomicU64,
    epoch: Instant,
}

/// The core's side of a session's outbound path.
#[derive(Debug)]
pub struct SessionOut {
    queue: Producer<Out>,
    shared: Arc<Shared>,
    /// Whether the core may write to the socket itself.
    direct: bool,
}

/// The writer thread's side.
pub struct WriterSide {
    queue: Consumer<Out>,
    shared: Arc<Shared>,
}

/// The two sides of a session's outbound path over `socket` and `queue`; `direct`: whether the
/// core may write to the socket itself (else everything goes through the queue).
pub fn outbound(
    socket: TcpStream,
    queue: (Producer<Out>, Consumer<Out>),
    direct: bool,
) -> (SessionOut, WriterSide) {
    let shared = Arc::new(Shared {
        socket,
        write: Mutex::new(()),
        queued: AtomicU64::new(0),
        direct_at_ns: AtomicU64::new(0),
        epoch: Instant::now(),
    });
    (
        SessionOut {
            queue: queue.0,
            shared: Arc::clone(&shared),
            direct,
        },
        WriterSide {
            queue: queue.1,
            shared,
        },
    )
}

impl SessionOut {
    /// Queues one item for the writer thread; false when the queue is full or closed (the
    /// session is then to be dropped: nothing after it may be sent).
    pub fn push(&self, item: Out) -> bool {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        self.queue.try_push(item).is_ok()
    }

    /// Sends `frames` in order: straight to the socket while it takes them without blocking
    /// and nothing is queued before them, the rest through the queue. `buf` is scratch space
    /// (kept by the caller so that this allocates nothing). False when the queue is full or
    /// closed (a slow consumer or a closed session).
    pub fn send<'a>(&self, frames: impl Iterator<Item = &'a Arc<[u8]>>, buf: &mut Vec<u8>) -> bool {
        let mut frames = frames.peekable();
        if frames.peek().is_none() {
            return true;
        }
        if let Some(guard) = self.direct() {
            loop {
                buf.clear();
                while buf.len() < DIRECT_BYTES_MAX {
                    match frames.next() {
                        Some(f) => buf.extend_from_slice(f),
                        None => break,
                    }
                }
                if buf.is_empty() {
                    break;
                }
                let sent = send_nonblocking(&self.shared.socket, buf).unwrap_or(0);
                if sent > 0 {
                    self.shared.direct_at_ns.store(
                        u64::try_from(self.shared.epoch.elapsed().as_nanos())
                            .unwrap_or(u64::MAX)
                            .max(1),
                        Ordering::Release,
                    );
                }
                if sent < buf.len() {
                    // The socket is full (or failed: the writer finds out): the rest of this
                    // gather, and everything after it, goes through the queue. An allocation,
                    // but only here.
                    let rest: Arc<[u8]> = Arc::from(&buf[sent..]);
                    if !self.push(Out::Frame(rest)) {
                        return false;
                    }
                    break;
                }
            }
            drop(guard);
        }
        frames.all(|f| self.push(Out::Frame(Arc::clone(f))))
    }

    /// The write lock when the core may write directly: nothing is queued and no one is
    /// writing.
    fn direct(&self) -> Option<MutexGuard<'_, ()>> {
        if !self.direct || self.shared.queued.load(Ordering::Acquire) != 0 {
            return None;
        }
        let guard = match self.shared.write.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return None,
        };
        // Only the writer decrements `queued`, and only under the lock we now hold.
        (self.shared.queued.load(Ordering::Acquire) == 0).then_some(guard)
    }
}

impl WriterSide {
    /// The queue.
    pub fn queue(&mut self) -> &mut Consumer<Out> {
        &mut self.queue
    }

    /// Writes `bytes`, which carry `items` queue items, and marks those items written.
    ///
    /// # Errors
    /// The write failing (including its timeout).
    pub fn write(&self, bytes: &[u8], items: u64) -> io::Result<()> {
        use std::io::Write;
        let mut socket = &self.shared.socket;
        let _guard = self
            .shared
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = socket.write_all(bytes);
        self.shared.queued.fetch_sub(items, Ordering::AcqRel);
        written
    }

    /// Shuts the socket down both ways.
    pub fn shutdown(&self) {
        let _ = self.shared.socket.shutdown(std::net::Shutdown::Both);
    }

    /// How long after `own_write` (the writer's last write) a heartbeat is due, counting the
    /// core's direct writes as traffic too: zero when it is due now.
    #[must_use]
    pub fn heartbeat_wait(&self, own_write: Instant, heartbeat: Duration) -> Duration {
        let direct = self.shared.direct_at_ns.load(Ordering::Acquire);
        let last = if direct == 0 {
            own_write
        } else {
            own_write.max(self.shared.epoch + Duration::from_nanos(direct))
        };
        heartbeat.saturating_sub(last.elapsed())
    }
}

/// One `send` that never blocks (and never raises `SIGPIPE`); `WouldBlock` when the socket's
/// buffer is full.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn send_nonblocking(socket: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for as long as `socket` lives, and the pointer and length
    // describe the live slice `bytes`, which `send` only reads.
    let n = unsafe {
        libc::send(
            socket.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Elsewhere the core always queues.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_nonblocking(_socket: &TcpStream, _bytes: &[u8]) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc;
    use std::thread;

    use super::*;
    use crate::codec::soup::Packet;
    use crate::ring;
    use crate::server::core::frame;
    use crate::server::session::write_loop;

    /// Frames written directly by the core and frames queued for the writer thread reach the
    /// client in the order the core sent them: first with nothing reading (the socket fills up
    /// and the core falls back to the queue), then with the client reading (the writer drains
    /// the queue while the core goes on sending, directly again once it is empty).
    #[test]
    fn frames_arrive_in_order_whether_written_directly_or_queued() {
        const FRAMES: u32 = 80_000;
        const LEN: usize = 1_000;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let (out, writer) = outbound(server, ring::ring(1 << 17), true);
        // No heartbeat within the test's life.
        let writer = thread::spawn(move || write_loop(writer, Duration::from_secs(3600)));
        let (go, wait) = mpsc::channel::<()>();
        let reader = thread::spawn(move || {
            let _ = wait.recv();
            let mut got = Vec::new();
            client.read_to_end(&mut got).expect("read");
            got
        });
        let frames: Vec<Arc<[u8]>> = (0..FRAMES)
            .map(|i| {
                let mut f = vec![(i % 251) as u8; LEN];
                f[..4].copy_from_slice(&i.to_le_bytes());
                Arc::from(f)
            })
            .collect();
        let mut buf = Vec::new();
        let half = frames.len() / 2;
        for (n, chunk) in frames[..half].chunks(7).enumerate() {
            assert!(out.send(chunk.iter(), &mut buf), "queue full");
            if n == 0 {
                assert_eq!(
                    out.shared.queued.load(Ordering::Acquire),
                    0,
                    "written directly"
                );
            }
        }
        assert!(
            out.shared.queued.load(Ordering::Acquire) > 0,
            "40 MB unread: the socket is full and the rest is queued"
        );
        go.send(()).expect("reader");
        for chunk in frames[half..].chunks(7) {
            assert!(out.send(chunk.iter(), &mut buf), "queue full");
        }
        assert!(out.push(Out::End));
        writer.join().expect("writer");
        let got = reader.join().expect("reader");
        let mut want: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        want.extend_from_slice(&frame(&Packet::EndOfSession));
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes out of order");
    }
}
