//! `cascade stress`: a liquidation-cascade simulator on the real engine.
//!
//! A scenario (TOML, `docs/STRESS.md`) puts a seeded leveraged population on a market whose
//! depth comes from a real book snapshot, moves the index along a real or parameterised price
//! path, adds exogenous taker flow from real trades, and runs every step through
//! [`cascade_engine::Engine::apply`]: the same matching, marking, waterfall and auto-deleveraging
//! as the server. The report says what the cascade did (liquidations by stage, insurance fund,
//! backstop, ADL and its overshoot) and how much the leveraged population amplified the price
//! drawdown against the same run without it.
//!
//! # Layout
//! - [`scenario`]: the file format, overrides (`--set`, `--sweep`) and validation.
//! - [`data`]: small readers for the recorded inputs (Binance depth snapshot, markPrice and
//!   trade streams, candles), with clear errors when a file is missing.
//! - [`path`]: the index path, one value per step.
//! - [`population`]: the seeded accounts.
//! - [`liquidity`]: the market makers' ladder and how it widens and withdraws.
//! - [`run`]: the simulation loop and the event tally.
//! - [`report`]: summary (JSON and table), time series (CSV); [`svg`]: the plots.
//! - [`sweep`]: every combination of a few parameters, one comparison table and chart.
//!
//! # Determinism
//! The engine is deterministic; everything around it here is too: the population comes from a
//! seeded generator, inputs are read in file order, and floating point is used only for
//! scenario parameters and the makers' ladder (basic IEEE operations, no transcendental
//! functions), so the same scenario and seed give the same report byte for byte.

pub mod data;
pub mod decimal;
pub mod liquidity;
pub mod path;
pub mod population;
pub mod report;
pub mod run;
pub mod scenario;
pub mod svg;
pub mod sweep;

/// An error with a message for the person running the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// An error from anything printable.
    pub fn msg(m: impl Into<String>) -> Self {
        Self(m.into())
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
