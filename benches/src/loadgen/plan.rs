//! The load, decided before the run: every OUCH request, which session sends it, and when it
//! is *intended* to be sent.
//!
//! Deciding everything up front keeps the sending loop to encoding and writing, and it is what
//! makes coordinated-omission correction possible: a request's latency is measured from its
//! intended send time, which does not move when the server (or the sender) falls behind.
//!
//! Each session's requests are answered in the order they were sent (one reader thread per
//! session feeds the core in order, and the core answers each request in the batch that
//! sequenced it), so a session's receiver matches answers to its requests with a cursor; see
//! [`Request::is_ack`].

use crate::rng::SplitMix64 as Rng;
use anyhow::{bail, Context};
use cascade_engine::{Command, Event, OrderId, OrderKind, Side, TimeInForce};
use cascade_gateway::codec::map::MarketRegistry;
use cascade_gateway::codec::ouch::{self, Outbound};
use std::collections::BTreeMap;
use std::path::Path;

/// One OUCH request. `UserRefNum`s here are relative to the session's base (the
/// `NextUserRefNum` its Account Query returned), so a plan runs on a server that has already
/// seen the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Enter Order.
    Enter {
        /// UserRefNum (relative).
        user_ref: u32,
        /// `b'B'` or `b'S'`.
        side: u8,
        /// Lots.
        qty: u32,
        /// OUCH price (4 implied decimals).
        price: i64,
        /// Immediate-or-cancel (else day).
        ioc: bool,
        /// Market index into the symbol table.
        market: u8,
    },
    /// Cancel Order (the whole open quantity).
    Cancel {
        /// UserRefNum of the order (relative).
        user_ref: u32,
    },
    /// Replace Order.
    Replace {
        /// The order's UserRefNum (relative).
        orig: u32,
        /// The replacement's UserRefNum (relative).
        user_ref: u32,
        /// New open lots.
        qty: u32,
        /// New OUCH price.
        price: i64,
    },
}

/// What answered a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ack {
    /// Order Accepted.
    Accepted,
    /// Order Replaced.
    Replaced,
    /// Order Canceled (user requested).
    Canceled,
    /// Rejected (an enter or a replace).
    Rejected,
    /// Cancel Reject (the order was gone: filled, or never accepted).
    CancelReject,
}

impl Request {
    /// Whether `msg` is this request's own answer (`base` added to relative UserRefNums). Other
    /// messages (executions, IOC remainders, self-match cancels) are not acks.
    #[must_use]
    pub fn is_ack(&self, base: u32, msg: &Outbound<'_>) -> Option<Ack> {
        let abs = |r: u32| base.wrapping_add(r);
        match (*self, msg) {
            (Self::Enter { user_ref, .. }, Outbound::OrderAccepted(m))
                if m.user_ref_num == abs(user_ref) =>
            {
                Some(Ack::Accepted)
            }
            (
                Self::Enter { user_ref, .. } | Self::Replace { user_ref, .. },
                Outbound::Rejected(m),
            ) if m.user_ref_num == abs(user_ref) => Some(Ack::Rejected),
            (Self::Replace { user_ref, .. }, Outbound::OrderReplaced(m))
                if m.user_ref_num == abs(user_ref) =>
            {
                Some(Ack::Replaced)
            }
            (Self::Cancel { user_ref }, Outbound::OrderCanceled(m))
                if m.user_ref_num == abs(user_ref)
                    && m.reason == ouch::cancel_reason::USER_REQUESTED =>
            {
                Some(Ack::Canceled)
            }
            (Self::Cancel { user_ref }, Outbound::CancelReject(m))
                if m.user_ref_num == abs(user_ref) =>
            {
                Some(Ack::CancelReject)
            }
            _ => None,
        }
    }
}

/// One planned request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// Intended send time, ns after the run's start.
    pub at_ns: u64,
    /// Session index.
    pub session: u16,
    /// The request.
    pub request: Request,
}

/// The message mix, in relative weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Passive day orders (rest in the book).
    pub enter: u32,
    /// Immediate-or-cancel orders priced through the book (they trade).
    pub ioc: u32,
    /// Cancels of a resting order.
    pub cancel: u32,
    /// Replaces of a resting order (new price and size).
    pub replace: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            enter: 50,
            ioc: 10,
            cancel: 30,
            replace: 10,
        }
    }
}

impl Mix {
    /// Parses `enter:50,ioc:10,cancel:30,replace:10` (missing kinds weigh 0).
    ///
    /// # Errors
    /// An unknown kind, a weight that is not a number, or all weights zero.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let mut m = Self {
            enter: 0,
            ioc: 0,
            cancel: 0,
            replace: 0,
        };
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once(':')
                .with_context(|| format!("mix entry {part:?}: expected kind:weight"))?;
            let w: u32 = v
                .trim()
                .parse()
                .with_context(|| format!("mix entry {part:?}: weight is not a number"))?;
            match k.trim() {
                "enter" => m.enter = w,
                "ioc" => m.ioc = w,
                "cancel" => m.cancel = w,
                "replace" => m.replace = w,
                other => bail!("mix kind {other:?}: expected enter, ioc, cancel or replace"),
            }
        }
        if m.total() == 0 {
            bail!("mix {s:?}: all weights are zero");
        }
        Ok(m)
    }

    fn total(&self) -> u64 {
        u64::from(self.enter)
            + u64::from(self.ioc)
            + u64::from(self.cancel)
            + u64::from(self.replace)
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "enter:{},ioc:{},cancel:{},replace:{}",
            self.enter, self.ioc, self.cancel, self.replace
        )
    }
}

/// BTC-PERP in the embedded configuration: 65,000.0 USD mid, 0.1 USD tick, OUCH prices with 4
/// implied decimals.
pub const MID_PRICE: i64 = 650_000_000;
/// One BTC-PERP tick in OUCH price units.
pub const TICK: i64 = 1_000;
/// Passive orders rest 1..=this many ticks away from the mid.
pub const PASSIVE_TICKS: i64 = 50;
/// IOC orders are priced this many ticks through the mid, so they reach the resting side.
pub const IOC_TICKS: i64 = 60;
/// Resting orders a session keeps at most; above it an enter becomes a cancel, which bounds
/// the book and each account's margin.
pub const LIVE_MAX: usize = 2_000;

/// The intended send time of the `k`-th request at `rate` per second: `k / rate` seconds,
/// exactly, in integer ns (no drift over a long run).
#[must_use]
pub fn intended_ns(k: u64, rate: u64) -> u64 {
    let ns = u128::from(k) * 1_000_000_000 / u128::from(rate.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// A generated open-loop plan: `count` requests at `rate` per second over `sessions`
/// sessions (round robin), drawn from `mix` with a seeded generator (same seed, same plan).
#[must_use]
pub fn generate(count: u64, rate: u64, sessions: u16, mix: Mix, seed: u64) -> Vec<Planned> {
    let sessions = sessions.max(1);
    let mut rng = Rng::new(seed);
    let mut next_ref = vec![1u32; usize::from(sessions)];
    // Per session: the resting orders it believes are live: (user_ref, side).
    let mut live: Vec<Vec<(u32, u8)>> = vec![Vec::new(); usize::from(sessions)];
    let total = mix.total();
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for k in 0..count {
        let session = u16::try_from(k % u64::from(sessions)).unwrap_or(0);
        let s = usize::from(session);
        let mut draw = rng.below(total);
        let mut kind = 0;
        for (i, w) in [mix.enter, mix.ioc, mix.cancel, mix.replace]
            .into_iter()
            .enumerate()
        {
            if draw < u64::from(w) {
                kind = i;
                break;
            }
            draw -= u64::from(w);
        }
        // Nothing to cancel or replace: enter instead. A full book: cancel instead.
        if kind >= 2 && live[s].is_empty() {
            kind = 0;
        }
        if kind == 0 && live[s].len() >= LIVE_MAX {
            kind = 2;
        }
        let side = if rng.chance(1, 2) { b'B' } else { b'S' };
        let qty = u32::try_from(rng.range(1, 5)).unwrap_or(1);
        let passive = |rng: &mut Rng, side: u8| {
            let away = rng.range(1, PASSIVE_TICKS) * TICK;
            if side == b'B' {
                MID_PRICE - away
            } else {
                MID_PRICE + away
            }
        };
        let request = match kind {
            0 | 1 => {
                let user_ref = next_ref[s];
                next_ref[s] += 1;
                let ioc = kind == 1;
                let price = if ioc {
                    if side == b'B' {
                        MID_PRICE + IOC_TICKS * TICK
                    } else {
                        MID_PRICE - IOC_TICKS * TICK
                    }
                } else {
                    live[s].push((user_ref, side));
                    passive(&mut rng, side)
                };
                Request::Enter {
                    user_ref,
                    side,
                    qty,
                    price,
                    ioc,
                    market: 0,
                }
            }
            2 => {
                let i = rng.index(live[s].len());
                let (user_ref, _) = live[s].swap_remove(i);
                Request::Cancel { user_ref }
            }
            _ => {
                let i = rng.index(live[s].len());
                let (orig, side) = live[s][i];
                let user_ref = next_ref[s];
                next_ref[s] += 1;
                live[s][i] = (user_ref, side);
                Request::Replace {
                    orig,
                    user_ref,
                    qty,
                    price: passive(&mut rng, side),
                }
            }
        };
        out.push(Planned {
            at_ns: intended_ns(k, rate),
            session,
            request,
        });
    }
    out
}

/// A plan read from a recorded journal: its order flow as OUCH requests, paced as recorded.
#[derive(Debug)]
pub struct JournalPlan {
    /// The requests, in journal order.
    pub planned: Vec<Planned>,
    /// The engine account behind each session index.
    pub accounts: Vec<u32>,
    /// Commands that are not order flow (deposits, prices, markets…), not sent.
    pub skipped: u64,
    /// Cancels and amends of orders the plan never entered (before the journal's start).
    pub unmatched: u64,
    /// Recorded span, ns, of the requests sent.
    pub span_ns: u64,
}

/// Reads `path` and turns its `Place`, `Cancel` and `Amend` commands into OUCH Enter, Cancel
/// and Replace requests, one session per account, paced at `speed` times the recorded pace.
/// The journal is applied to an engine on the way, which is how a `Cancel` of engine order id
/// N finds the UserRefNum of the `Place` that created N.
///
/// # Errors
/// An unreadable or corrupt journal, or a non-positive speed.
pub fn from_journal(
    path: &Path,
    speed: f64,
    registry: &MarketRegistry,
) -> anyhow::Result<JournalPlan> {
    if !(speed.is_finite() && speed > 0.0) {
        bail!("--speed must be a positive number, got {speed}");
    }
    let reader = cascade_gateway::journal::JournalReader::open(path)
        .with_context(|| format!("opening journal {}", path.display()))?;
    let mut engine = cascade_engine::Engine::new(cascade_engine::Limits::DEFAULT);
    let mut sessions: BTreeMap<u32, u16> = BTreeMap::new();
    let mut accounts = Vec::new();
    let mut next_ref: Vec<u32> = Vec::new();
    // Engine order id → (session, current relative UserRefNum, market).
    let mut orders: BTreeMap<OrderId, (u16, u32, cascade_engine::MarketId)> = BTreeMap::new();
    let mut planned = Vec::new();
    let (mut skipped, mut unmatched) = (0u64, 0u64);
    let mut first_ts: Option<u64> = None;
    let mut last_at = 0u64;
    for record in reader {
        let record = record.with_context(|| format!("reading journal {}", path.display()))?;
        let cmd = &record.command;
        let events = engine.apply(cmd);
        let request = match &cmd.command {
            Command::Place(o) => {
                let s = *sessions.entry(o.account.0).or_insert_with(|| {
                    accounts.push(o.account.0);
                    next_ref.push(1);
                    u16::try_from(accounts.len() - 1).unwrap_or(u16::MAX)
                });
                let user_ref = next_ref[usize::from(s)];
                next_ref[usize::from(s)] += 1;
                let side = if o.side == Side::Buy { b'B' } else { b'S' };
                // A market order goes out as an IOC at the limit the engine gave it (the
                // protection bound), which trades the same way.
                let mut price = o.price;
                for e in events {
                    if let Event::Accepted {
                        order_id,
                        price: p,
                        market,
                        ..
                    } = e
                    {
                        orders.insert(*order_id, (s, user_ref, *market));
                        if o.kind == OrderKind::Market {
                            price = *p;
                        }
                    }
                }
                Some((
                    s,
                    Request::Enter {
                        user_ref,
                        side,
                        qty: u32::try_from(o.qty.0).unwrap_or(u32::MAX),
                        price: registry.ticks_to_ouch_price(o.market, price),
                        ioc: o.kind == OrderKind::Market
                            || matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok),
                        market: u8::try_from(o.market.0).unwrap_or(u8::MAX),
                    },
                ))
            }
            Command::Cancel { order_id, .. } => match orders.remove(order_id) {
                Some((s, user_ref, _)) => Some((s, Request::Cancel { user_ref })),
                None => {
                    unmatched += 1;
                    None
                }
            },
            Command::Amend {
                order_id,
                price,
                qty,
                ..
            } => match orders.get_mut(order_id) {
                Some((s, cur, market)) => {
                    let s = *s;
                    let orig = *cur;
                    let user_ref = next_ref[usize::from(s)];
                    next_ref[usize::from(s)] += 1;
                    *cur = user_ref;
                    Some((
                        s,
                        Request::Replace {
                            orig,
                            user_ref,
                            qty: u32::try_from(qty.0).unwrap_or(u32::MAX),
                            price: registry.ticks_to_ouch_price(*market, *price),
                        },
                    ))
                }
                None => {
                    unmatched += 1;
                    None
                }
            },
            _ => {
                skipped += 1;
                None
            }
        };
        if let Some((session, request)) = request {
            let first = *first_ts.get_or_insert(cmd.ts_ns);
            // Benchmark pacing arithmetic.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let at_ns = (cmd.ts_ns.saturating_sub(first) as f64 / speed) as u64;
            last_at = at_ns.max(last_at);
            planned.push(Planned {
                at_ns: last_at,
                session,
                request,
            });
        }
    }
    Ok(JournalPlan {
        planned,
        accounts,
        skipped,
        unmatched,
        span_ns: last_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_do_not_drift() {
        assert_eq!(intended_ns(0, 100_000), 0);
        assert_eq!(intended_ns(1, 100_000), 10_000);
        assert_eq!(intended_ns(100_000, 100_000), 1_000_000_000);
        // 3 per second: 333,333,333.33 ns apart, and exactly 1 s after 3 of them.
        assert_eq!(intended_ns(1, 3), 333_333_333);
        assert_eq!(intended_ns(3, 3), 1_000_000_000);
        assert_eq!(intended_ns(3_000_000, 3), 1_000_000_000_000_000);
    }

    #[test]
    fn mix_parses_and_refuses_nonsense() {
        let m = Mix::parse("enter:60,cancel:40").expect("valid");
        assert_eq!((m.enter, m.ioc, m.cancel, m.replace), (60, 0, 40, 0));
        assert_eq!(
            Mix::parse(&Mix::default().to_string()).expect("valid"),
            Mix::default()
        );
        assert!(Mix::parse("enter:x").is_err());
        assert!(Mix::parse("fill:3").is_err());
        assert!(Mix::parse("enter:0").is_err());
        assert!(Mix::parse("enter").is_err());
    }

    #[test]
    fn generated_plans_are_seeded_valid_and_round_robin() {
        let a = generate(20_000, 100_000, 3, Mix::default(), 7);
        assert_eq!(a, generate(20_000, 100_000, 3, Mix::default(), 7));
        assert_ne!(a, generate(20_000, 100_000, 3, Mix::default(), 8));
        let mut next = [1u32; 3];
        let mut live: [std::collections::BTreeSet<u32>; 3] = Default::default();
        for (k, p) in a.iter().enumerate() {
            let s = usize::from(p.session);
            assert_eq!(s, k % 3);
            assert_eq!(p.at_ns, intended_ns(k as u64, 100_000));
            match p.request {
                Request::Enter { user_ref, ioc, .. } => {
                    // UserRefNums strictly increase per session (the server requires it).
                    assert_eq!(user_ref, next[s]);
                    next[s] += 1;
                    if !ioc {
                        live[s].insert(user_ref);
                    }
                }
                Request::Cancel { user_ref } => assert!(live[s].remove(&user_ref)),
                Request::Replace { orig, user_ref, .. } => {
                    assert!(live[s].remove(&orig), "replace of an order not live");
                    assert_eq!(user_ref, next[s]);
                    next[s] += 1;
                    live[s].insert(user_ref);
                }
            }
            assert!(live[s].len() <= LIVE_MAX);
        }
    }

    #[test]
    fn acks_match_their_own_request_only() {
        let enter = Request::Enter {
            user_ref: 5,
            side: b'B',
            qty: 1,
            price: MID_PRICE,
            ioc: false,
            market: 0,
        };
        let canceled = |user_ref_num, reason| {
            Outbound::OrderCanceled(ouch::OrderCanceled {
                timestamp: 0,
                user_ref_num,
                quantity: 1,
                reason,
            })
        };
        let rejected = Outbound::Rejected(ouch::Rejected {
            timestamp: 0,
            user_ref_num: 105,
            reason: 1011,
            cl_ord_id: [b' '; 14],
        });
        assert_eq!(enter.is_ack(100, &rejected), Some(Ack::Rejected));
        assert_eq!(enter.is_ack(0, &rejected), None);
        let cancel = Request::Cancel { user_ref: 5 };
        assert_eq!(
            cancel.is_ack(100, &canceled(105, ouch::cancel_reason::USER_REQUESTED)),
            Some(Ack::Canceled)
        );
        // A self-match or IOC cancel of the same order is not the cancel's answer.
        assert_eq!(
            cancel.is_ack(
                100,
                &canceled(105, ouch::cancel_reason::SELF_MATCH_PREVENTION)
            ),
            None
        );
        assert_eq!(
            cancel.is_ack(
                100,
                &Outbound::CancelReject(ouch::CancelReject {
                    timestamp: 0,
                    user_ref_num: 105
                })
            ),
            Some(Ack::CancelReject)
        );
    }
}
