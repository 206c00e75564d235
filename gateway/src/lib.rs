//! Cascade gateway: the binary TCP front end (SoupBinTCP/OUCH in, ITCH out), sequencer,
//! journal and recovery.
//!
//! # Modules
//! - [`codec`]: SoupBinTCP 4.0 framing, OUCH 5.0, ITCH 5.0 and the native perp channel, and
//!   their mapping to engine commands and events (`docs/PROTOCOL.md`).
//! - [`decimal`]: decimal strings to and from integer units, at the edges.
//! - [`journal`]: the append-only journal of sequenced commands (group commit, torn tails).
//! - [`snapshot`]: engine snapshots (serde + bincode, isolated here).
//! - [`ring`]: the bounded lock-free MPSC ring from the sessions to the core thread (the
//!   crate's only `unsafe`, loom-tested).
//! - [`server`]: the running server (`cascade serve`): sessions, the core thread, config.
//! - [`recovery`]: newest valid snapshot + journal tail, and the [`recovery::Store`] that keeps
//!   them consistent.

pub mod codec;
pub mod decimal;
pub mod journal;
pub mod recovery;
pub mod ring;
pub mod server;
pub mod snapshot;
