//! `xc` through a margined market: the matching benchmark with the risk engine on.
//!
//! The engine is the one `cascade bench` measures (same limits, same unit market), with
//! `RiskParams::simple(10_000, 50)` set on the market (1% maintenance, 50x maximum, the default
//! 20x leverage for initial margin, mark = index), the index at 100,000 ticks so a mark exists,
//! and 10^10 quantums deposited to each of the 1,000 accounts before the stream: enough that
//! no order of the stream is refused for margin, so the fills must be exactly those of the
//! unmargined run and of the reference book. Every order now pays for the pre-trade margin
//! check, and every fill for the settlement of both sides and the re-filing of their
//! liquidation triggers.
//!
//! # Numbering
//! Setup takes [`SETUP`] sequence numbers after the market's, so operation `i` runs at sequence
//! `i + FIRST_SEQ + SETUP` and its order id is shifted by the same amount; fills are recorded
//! with the shift taken off, so checksums compare with the other runs.

use crate::cascade::MARKET;
use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, FIRST_SEQ};
use cascade_engine::risk_params::{MarkSource, RiskParams};
use cascade_engine::{
    AccountId, Command, Engine, Event, Limits, MarketSpec, OrderId, Reject, Sequenced,
};
use cascade_risk::{Price, Quote};

/// Accounts funded before the stream (the `xc` generator draws from `0..1_000`).
pub const ACCOUNTS: u32 = 1_000;
/// The index (and mark) price, in ticks: `xc`'s reference price.
pub const INDEX: i64 = 100_000;
/// Collateral deposited to each account, in quantums (the largest `xc` position is a few
/// thousand lots, 10^8 to 10^9 quantums of notional at this price).
pub const COLLATERAL: i64 = 10_000_000_000;
/// Sequence numbers used by setup after the market's: risk parameters, index, deposits.
pub const SETUP: u64 = 2 + ACCOUNTS as u64;

/// The risk parameters of the margined market.
#[must_use]
pub fn params() -> RiskParams {
    let mut p = RiskParams::simple(10_000, 50);
    p.mark_source = MarkSource::Index;
    p
}

/// Cascade with a margined market, funded accounts and a mark.
#[derive(Debug)]
pub struct MarginedCascade {
    engine: Engine,
}

impl MarginedCascade {
    /// An engine sized by `limits`, set up as the module docs say.
    ///
    /// # Panics
    /// If a setup command is rejected.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        let mut engine = Engine::new(limits);
        let mut setup = vec![
            Command::AddMarket(Box::new(MarketSpec::unit(MARKET, "BENCH"))),
            Command::SetRiskParams {
                market: MARKET,
                params: Box::new(params()),
            },
            Command::SetIndexPrice {
                market: MARKET,
                index: Price(INDEX),
                external_mark: None,
            },
        ];
        setup.extend((0..ACCOUNTS).map(|a| Command::Deposit {
            account: AccountId(a),
            amount: Quote(COLLATERAL),
        }));
        assert_eq!(setup.len() as u64, SETUP + 1, "SETUP counts the setup");
        for (command, seq) in setup.into_iter().zip(1..) {
            let events = engine.apply(&Sequenced {
                seq,
                ts_ns: seq,
                command,
            });
            assert!(
                !events.iter().any(|e| matches!(e, Event::Rejected { .. })),
                "margined xc setup {seq}: {events:?}"
            );
        }
        Self { engine }
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to apply commands directly.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }
}

fn shifted(command: Command) -> Command {
    match command {
        Command::Cancel { account, order_id } => Command::Cancel {
            account,
            order_id: OrderId(order_id.0 + SETUP),
        },
        Command::Amend {
            account,
            order_id,
            price,
            qty,
        } => Command::Amend {
            account,
            order_id: OrderId(order_id.0 + SETUP),
            price,
            qty,
        },
        other => other,
    }
}

/// The sequenced commands of a stream on the margined engine.
///
/// # Panics
/// If an operation names an account the setup did not fund.
#[must_use]
pub fn commands(ops: &[Op]) -> Vec<Sequenced<Command>> {
    ops.iter()
        .zip(FIRST_SEQ + SETUP..)
        .map(|(op, seq)| {
            let account = match op {
                Op::Add { account, .. }
                | Op::Market { account, .. }
                | Op::Cancel { account, .. }
                | Op::Amend { account, .. } => *account,
            };
            assert!(account < ACCOUNTS, "account {account} is not funded");
            Sequenced {
                seq,
                ts_ns: seq,
                command: shifted(crate::cascade::command(op)),
            }
        })
        .collect()
}

impl Book for MarginedCascade {
    type Input = Sequenced<Command>;
    const NAME: &'static str = "cascade+risk";

    fn prepare(ops: &[Op]) -> Vec<Self::Input> {
        commands(ops)
    }

    fn new() -> Self {
        Self::with_limits(crate::cascade::limits())
    }

    #[inline]
    fn apply(&mut self, cmd: &Self::Input, tally: &mut FillTally) {
        for e in self.engine.apply(cmd) {
            if let Event::Trade {
                maker_order,
                taker_order,
                price,
                qty,
                ..
            } = e
            {
                tally.record(
                    maker_order.0 - SETUP,
                    taker_order.0 - SETUP,
                    price.0.unsigned_abs(),
                    qty.0.unsigned_abs(),
                );
            }
        }
    }
}

/// What an untimed run of the stream on the margined engine did besides filling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskEffects {
    /// Rejected commands.
    pub rejects: u64,
    /// Of which for margin (`InsufficientMargin`).
    pub margin_rejects: u64,
    /// Liquidations started (the mark never moves, so none are expected).
    pub liquidations: u64,
    /// Accounts holding a position at the end.
    pub accounts_with_positions: u64,
    /// Largest absolute position at the end, in lots.
    pub position_lots_max: i64,
    /// Smallest ratio of equity to maintenance margin among accounts with positions, in
    /// percent (how far from liquidation the stream left the most exposed account).
    pub equity_to_maintenance_min_pct: i128,
    /// The engine's full invariant audit at the end.
    pub audit: Result<(), String>,
}

impl RiskEffects {
    /// The checks the benchmark asserts: nothing refused, nothing liquidated, positions really
    /// margined, the audit clean.
    ///
    /// # Errors
    /// The first failed check.
    pub fn check(&self) -> Result<(), String> {
        if self.rejects != 0 {
            return Err(format!(
                "{} rejects ({} for margin)",
                self.rejects, self.margin_rejects
            ));
        }
        if self.liquidations != 0 {
            return Err(format!("{} liquidations", self.liquidations));
        }
        if self.accounts_with_positions == 0 {
            return Err("no positions: the stream did not trade".into());
        }
        self.audit.clone().map_err(|e| format!("audit: {e}"))
    }
}

/// Runs the stream once, untimed, and reports [`RiskEffects`].
#[must_use]
pub fn effects(inputs: &[Sequenced<Command>]) -> RiskEffects {
    let mut c = MarginedCascade::new();
    let mut out = RiskEffects {
        rejects: 0,
        margin_rejects: 0,
        liquidations: 0,
        accounts_with_positions: 0,
        position_lots_max: 0,
        equity_to_maintenance_min_pct: 0,
        audit: Ok(()),
    };
    for cmd in inputs {
        for e in c.engine.apply(cmd) {
            match e {
                Event::Rejected { reason, .. } => {
                    out.rejects += 1;
                    if *reason == Reject::InsufficientMargin {
                        out.margin_rejects += 1;
                    }
                }
                Event::LiquidationStarted { .. } => out.liquidations += 1,
                _ => {}
            }
        }
    }
    let mut ratio_min: Option<i128> = None;
    for a in 0..ACCOUNTS {
        let lots = c.engine.position(AccountId(a), MARKET);
        if lots == 0 {
            continue;
        }
        out.accounts_with_positions += 1;
        out.position_lots_max = out.position_lots_max.max(lots.abs());
        let h = c.engine.health(AccountId(a));
        if h.maintenance > 0 {
            let pct = h.equity * 100 / h.maintenance;
            ratio_min = Some(ratio_min.map_or(pct, |r| r.min(pct)));
        }
    }
    out.equity_to_maintenance_min_pct = ratio_min.unwrap_or(0);
    out.audit = c.engine.audit();
    out
}
