//! Cascade gateway: the binary TCP front end (SoupBinTCP/OUCH in, ITCH out), sequencer,
//! journal and recovery. Built out in its own issue; the engine it drives is complete.
//!
//! # Modules
//! - [`decimal`]: decimal strings to and from integer units, at the edges.
//! - [`journal`]: the append-only journal of sequenced commands (group commit, torn tails).
//! - [`snapshot`]: engine snapshots (serde + bincode, isolated here).
//! - [`recovery`]: newest valid snapshot + journal tail, and the [`recovery::Store`] that keeps
//!   them consistent.

pub mod decimal;
pub mod journal;
pub mod recovery;
pub mod snapshot;
