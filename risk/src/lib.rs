//! Cascade risk primitives.
//!
//! The leaf crate of the workspace: fixed-point money types and the pure functions that margin,
//! liquidation, funding and auto-deleveraging are built from. Nothing here does I/O, reads a
//! clock, spawns a thread or touches floating point, so every result is reproducible bit for bit
//! on any machine.
#![forbid(unsafe_code)]
#![deny(
    clippy::float_arithmetic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
#![deny(clippy::cast_possible_wrap, clippy::cast_lossless)]

pub mod num;

pub use num::{mul_div, FundingIndex, PositionSize, Ppm, Price, Qty, Quote, Rounding};
