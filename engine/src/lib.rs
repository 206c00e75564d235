//! Cascade's deterministic core: order books, matching, and [`Engine::apply`], the one state
//! machine every sequenced command goes through.
//!
//! Nothing here does I/O, reads a clock, spawns a thread, or uses floating point. The same
//! commands give the same events and the same [`Engine::state_hash`] on any machine.
#![forbid(unsafe_code)]
#![deny(clippy::float_arithmetic)]

pub mod account;
pub mod book;
pub mod command;
pub mod event;
pub mod funds;
pub mod hash;
pub mod invariants;
pub mod limits;
pub mod liquidation;
pub mod margin;
pub mod market;
#[cfg(feature = "sim")]
pub mod oracle;
pub mod pricing;
pub mod reject;
pub mod render;
pub mod restore;
pub mod risk_params;
pub mod scenario;
#[cfg(feature = "sim")]
pub mod sim;
pub mod state;
#[cfg(feature = "sim")]
pub mod story;
pub mod trigger;

pub use command::{
    AccountId, Command, NewOrder, OrderId, OrderKind, SelfTradePrevention, Sequenced, Side,
    TimeInForce,
};
pub use event::Event;
pub use limits::Limits;
pub use market::{DecimalStep, MarketId, MarketSpec};
pub use reject::{CancelReason, Reject};
pub use state::{Engine, Market};
