//! Cascade risk primitives.
//!
//! The leaf crate of the workspace: fixed-point money types and the pure functions that margin,
//! liquidation, funding and auto-deleveraging are built from. Nothing here does I/O, reads a
//! clock, spawns a thread or touches floating point, so every result is reproducible bit for bit
//! on any machine.
//!
//! # Modules
//! - [`num`]: fixed-point newtypes and rounding-named integer helpers.
//! - [`margin`]: tier tables, maintenance margin with a deduction, initial margin, max leverage.
//! - [`liquidation`]: equity, PnL, fees, liquidation and bankruptcy prices of isolated positions.
//! - [`mark`]: the mark price (median of three) and the smoothed basis.
//! - [`funding`]: premium, funding rate, interval scaling, exact settlement with dust.
//! - [`adl`]: auto-deleveraging ranking, indicator lights and allocation.
//! - [`insurance`]: the insurance fund value type and liquidation surplus/deficit.
//!
//! Choices and the venues they follow are written up in `docs/RISK.md`.
#![forbid(unsafe_code)]
#![deny(
    clippy::float_arithmetic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
#![deny(clippy::cast_possible_wrap, clippy::cast_lossless)]

pub mod adl;
pub mod error;
pub mod funding;
pub mod insurance;
pub mod liquidation;
pub mod margin;
pub mod mark;
pub mod num;

pub use error::RiskError;
pub use funding::FundingRate;
pub use insurance::InsuranceFund;
pub use liquidation::IsolatedPosition;
pub use margin::{MarginTiers, TierSpec};
pub use num::{mul_div, FundingIndex, PositionSize, Ppm, Price, Qty, Quote, Rounding};
