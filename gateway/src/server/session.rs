//! One TCP connection: SoupBinTCP login, then a reader (this thread) and a writer thread.
//!
//! The reader decodes frames with a [`StreamDecoder`] (length limit [`FRAME_LENGTH_MAX`]),
//! enforces the idle timeout (no bytes for `idle_timeout_ms`) and the per-session rate limit,
//! and forwards OUCH messages to the core. The writer sends what the core queued, and a Server
//! Heartbeat after `heartbeat_ms` of silence. Any protocol error ends this session only, with
//! its reason logged.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cascade_engine::AccountId;

use super::config::Config;
use super::core::{frame, Out, Payload, Stream, ToCore};
use super::out::{self, WriterSide};
use crate::codec::map::Role;
use crate::codec::native;
use crate::codec::ouch::Inbound;
use crate::codec::soup::{reject_code, LoginRequest, Packet, StreamDecoder};
use crate::ring::{self, Popped, Producer};

/// The largest SoupBinTCP length prefix a client may send (a Login Request is 47; OUCH
/// messages with appendages stay far below).
pub const FRAME_LENGTH_MAX: usize = 1024;

/// Which port the connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// OUCH order entry.
    OrderEntry,
    /// ITCH market data (logins only; client data is refused).
    MarketData,
    /// The native perp channel.
    Native,
}

/// What a session needs from the server.
pub struct SessionCtx {
    /// The configuration.
    pub config: Arc<Config>,
    /// The core's inbound ring.
    pub core: Producer<ToCore>,
    /// The SoupBinTCP session name of this run.
    pub session_name: [u8; 10],
}

/// Why the read side ended.
#[derive(Debug)]
enum End {
    Logout,
    Closed,
    Idle,
    Protocol(String),
    CoreGone,
}

fn read_some(stream: &mut TcpStream, dec: &mut StreamDecoder) -> Result<(), End> {
    let spare = dec.spare();
    if spare.is_empty() {
        return Err(End::Protocol("decoder buffer full".into()));
    }
    match stream.read(spare) {
        Ok(0) => Err(End::Closed),
        Ok(n) => {
            dec.commit(n);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(End::Idle)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(_) => Err(End::Closed),
    }
}

/// Runs one connection to its end.
pub fn run(mut stream: TcpStream, port: Port, id: u64, ctx: &SessionCtx) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let idle = ctx.config.idle_timeout();
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(idle)).is_err() || stream.set_write_timeout(Some(idle)).is_err()
    {
        return;
    }
    let mut dec = StreamDecoder::new(4096, FRAME_LENGTH_MAX);
    let login = match wait_login(&mut stream, &mut dec) {
        Ok(l) => l,
        Err(end) => {
            tracing::info!(session = id, %peer, "closed before login: {end:?}");
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    };
    let reject = |stream: &mut TcpStream, code: u8| {
        let _ = stream.write_all(&frame(&Packet::LoginRejected(code)));
        let _ = stream.shutdown(Shutdown::Both);
    };
    let Some(user) = ctx
        .config
        .authenticate_user(&login.username, &login.password)
    else {
        tracing::info!(session = id, %peer, "login rejected: not authorized");
        reject(&mut stream, reject_code::NOT_AUTHORIZED);
        return;
    };
    let account = AccountId(user.account);
    let role = if user.operator {
        Role::Operator
    } else {
        Role::Trader(account)
    };
    if login.session != [b' '; 10] && login.session != ctx.session_name {
        tracing::info!(session = id, %peer, "login rejected: unknown session");
        reject(&mut stream, reject_code::SESSION_NOT_AVAILABLE);
        return;
    }
    let which = match port {
        Port::OrderEntry => Stream::Ouch(account),
        Port::MarketData => Stream::Itch,
        Port::Native => Stream::Native(account),
    };
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    // Market data fans out to every subscriber: its frames go through the writer threads.
    let (out_tx, writer_side) = out::outbound(
        write_half,
        ring::ring(ctx.config.outbound_queue_max),
        port != Port::MarketData,
    );
    let heartbeat = ctx.config.heartbeat();
    let writer = thread::Builder::new()
        .name(format!("cascade-session-{id}-writer"))
        .spawn(move || write_loop(writer_side, heartbeat));
    if writer.is_err() {
        return;
    }
    if ctx
        .core
        .push(ToCore::Login {
            session: id,
            stream: which,
            requested_seq: login.sequence,
            out: out_tx,
        })
        .is_err()
    {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    tracing::info!(session = id, %peer, account = account.0, ?port, "logged in");
    let end = read_loop(&mut stream, &mut dec, port, id, (account, role), ctx);
    match &end {
        End::Protocol(reason) => tracing::warn!(session = id, %peer, "disconnecting: {reason}"),
        other => tracing::info!(session = id, %peer, "session ended: {other:?}"),
    }
    let _ = ctx.core.push(ToCore::Gone {
        session: id,
        stream: which,
    });
    let _ = stream.shutdown(Shutdown::Both);
}

fn wait_login(stream: &mut TcpStream, dec: &mut StreamDecoder) -> Result<LoginRequest, End> {
    loop {
        match dec.next_packet() {
            Ok(Some(Packet::LoginRequest(l))) => return Ok(l),
            Ok(Some(Packet::ClientHeartbeat | Packet::Debug(_))) => {}
            Ok(Some(other)) => {
                return Err(End::Protocol(format!(
                    "packet {:?} before login",
                    char::from(other.kind())
                )))
            }
            Ok(None) => read_some(stream, dec)?,
            Err(e) => return Err(End::Protocol(e.to_string())),
        }
    }
}

/// A token bucket: `rate` messages per second, bursts up to `rate`.
struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.last = now;
        self.tokens = (self.tokens + refill).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn read_loop(
    stream: &mut TcpStream,
    dec: &mut StreamDecoder,
    port: Port,
    id: u64,
    (account, role): (AccountId, Role),
    ctx: &SessionCtx,
) -> End {
    let mut rate = RateLimit::new(ctx.config.rate_limit_per_s);
    loop {
        let packet = match dec.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => match read_some(stream, dec) {
                Ok(()) => continue,
                Err(end) => return end,
            },
            Err(e) => return End::Protocol(e.to_string()),
        };
        match packet {
            Packet::ClientHeartbeat | Packet::Debug(_) => {}
            Packet::LogoutRequest => return End::Logout,
            Packet::UnsequencedData(payload) => {
                if port == Port::MarketData {
                    return End::Protocol("unsequenced data on the market-data port".into());
                }
                if !rate.take() {
                    return End::Protocol(format!(
                        "rate limit of {} messages/s exceeded",
                        ctx.config.rate_limit_per_s
                    ));
                }
                let msg = if port == Port::Native {
                    if let Err(e) = native::Inbound::decode(payload) {
                        return End::Protocol(format!("bad native message: {e}"));
                    }
                    ToCore::Native {
                        session: id,
                        account,
                        role,
                        payload: Payload::new(payload),
                    }
                } else {
                    if let Err(e) = Inbound::decode(payload) {
                        return End::Protocol(format!("bad OUCH message: {e}"));
                    }
                    ToCore::Ouch {
                        session: id,
                        account,
                        payload: Payload::new(payload),
                        received: Instant::now(),
                    }
                };
                if ctx.core.push(msg).is_err() {
                    return End::CoreGone;
                }
            }
            other => {
                return End::Protocol(format!(
                    "unexpected packet {:?} after login",
                    char::from(other.kind())
                ))
            }
        }
    }
}

/// Bytes the writer gathers from its queue before one `write`.
const WRITE_BATCH_BYTES: usize = 1 << 16;

/// The writer thread: sends what the core queued (in order after the core's direct writes,
/// `out.rs`), End of Session, and a Server Heartbeat after `heartbeat` of outbound silence.
pub(super) fn write_loop(mut side: WriterSide, heartbeat: Duration) {
    let heartbeat_frame = frame(&Packet::ServerHeartbeat);
    let end_frame = frame(&Packet::EndOfSession);
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES);
    let mut last_write = Instant::now();
    loop {
        let mut end = false;
        // Queue items in `buf` (the core's direct writes are counted by it, not here).
        let mut items = 0u64;
        // The core's direct writes count as traffic: a heartbeat follows silence from both.
        let wait = side.heartbeat_wait(last_write, heartbeat);
        let popped = if wait.is_zero() {
            side.queue().try_pop().map_or(Popped::Timeout, Popped::Item)
        } else {
            side.queue().pop_timeout(wait)
        };
        match popped {
            Popped::Item(Out::Frame(f)) => {
                items += 1;
                buf.extend_from_slice(&f);
                // Gather what is already queued into one write.
                while buf.len() < WRITE_BATCH_BYTES {
                    match side.queue().try_pop() {
                        Some(Out::Frame(f)) => {
                            items += 1;
                            buf.extend_from_slice(&f);
                        }
                        Some(Out::End) => {
                            items += 1;
                            end = true;
                            break;
                        }
                        None => break,
                    }
                }
            }
            Popped::Item(Out::End) => {
                items += 1;
                end = true;
            }
            Popped::Timeout => {
                if !side.heartbeat_wait(last_write, heartbeat).is_zero() {
                    continue;
                }
                buf.extend_from_slice(&heartbeat_frame);
            }
            Popped::Closed => {
                // The core dropped the session (slow consumer, replaced, bad input) or the
                // reader ended it.
                side.shutdown();
                return;
            }
        }
        if end {
            buf.extend_from_slice(&end_frame);
        }
        let written = side.write(&buf, items);
        buf.clear();
        last_write = Instant::now();
        if end || written.is_err() {
            side.shutdown();
            return;
        }
    }
}
