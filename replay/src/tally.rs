//! Counting what a replay did, from the events alone.

use std::collections::BTreeMap;

use cascade_engine::{Event, Reject};

/// Reject codes are `u16`; all in use are well below this, and any above share the last slot.
const REJECT_SLOTS: usize = 256;

/// Running counts over the events of a replay. Fixed size, so counting never allocates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Commands applied.
    pub commands: u64,
    /// Events emitted.
    pub events: u64,
    /// New orders accepted.
    pub accepted: u64,
    /// Commands rejected.
    pub rejected: u64,
    /// Trades.
    pub trades: u64,
    /// Orders cancelled or expired.
    pub cancelled: u64,
    /// Liquidations started.
    pub liquidations: u64,
    /// Funding settlements.
    pub funding: u64,
    rejects: [u64; REJECT_SLOTS],
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            commands: 0,
            events: 0,
            accepted: 0,
            rejected: 0,
            trades: 0,
            cancelled: 0,
            liquidations: 0,
            funding: 0,
            rejects: [0; REJECT_SLOTS],
        }
    }
}

impl Tally {
    /// Counts one command and the events it caused.
    #[inline]
    pub fn add(&mut self, events: &[Event]) {
        self.commands += 1;
        self.events += events.len() as u64;
        for event in events {
            match event {
                Event::Accepted { .. } => self.accepted += 1,
                Event::Rejected { reason, .. } => {
                    self.rejected += 1;
                    let slot = usize::from(reason.code()).min(REJECT_SLOTS - 1);
                    self.rejects[slot] += 1;
                }
                Event::Trade { .. } => self.trades += 1,
                Event::Cancelled { .. } => self.cancelled += 1,
                Event::LiquidationStarted { .. } => self.liquidations += 1,
                Event::Funding { .. } => self.funding += 1,
                _ => {}
            }
        }
    }

    /// Rejects by reason name (the engine's stable names), for the report.
    #[must_use]
    pub fn rejects_by_reason(&self) -> BTreeMap<String, u64> {
        self.rejects
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| {
                let name = u16::try_from(code)
                    .ok()
                    .and_then(Reject::from_code)
                    .map_or_else(|| format!("code_{code}"), |r| r.name().to_string());
                (name, *n)
            })
            .collect()
    }
}
