//! One numbered SoupBinTCP stream in memory: the last `replay_max` Sequenced Data frames.
//!
//! Message numbers start at 1 and never reset within a server run. The log keeps a window of
//! the newest frames; older ones are dropped as new ones arrive, so memory stays bounded
//! whatever a run's length. A login asking for a message older than the window is accepted
//! from the oldest message kept (Login Accepted names it, so the client sees the gap) with a
//! Debug packet saying why: the SoupBinTCP reject codes have no "too old", and refusing the
//! login would lock out a client that asks for 1 (the default of common clients) for the rest
//! of the run.

use std::collections::VecDeque;
use std::sync::Arc;

/// A bounded window over a numbered stream of frames.
#[derive(Debug)]
pub struct StreamLog {
    frames: VecDeque<Arc<[u8]>>,
    /// The number of `frames[0]` (1 while nothing was dropped).
    first: u64,
    max: usize,
}

impl StreamLog {
    /// An empty stream keeping at most `max` frames (at least 1).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            first: 1,
            max: max.max(1),
        }
    }

    /// Appends the next message, dropping the oldest beyond the bound.
    pub fn push(&mut self, frame: Arc<[u8]>) {
        if self.frames.len() == self.max {
            self.frames.pop_front();
            self.first += 1;
        }
        self.frames.push_back(frame);
    }

    /// The number of the newest message (0 before any).
    #[must_use]
    pub fn last(&self) -> u64 {
        self.first + self.frames.len() as u64 - 1
    }

    /// The number of the oldest message kept.
    #[must_use]
    pub const fn first(&self) -> u64 {
        self.first
    }

    /// Messages `from..=to`, or `None` when `from` is no longer kept. `to` is clamped to the
    /// newest.
    pub fn range(&self, from: u64, to: u64) -> Option<impl Iterator<Item = &Arc<[u8]>>> {
        if from < self.first {
            return None;
        }
        let start = usize::try_from(from - self.first).ok()?;
        let end = usize::try_from(to.min(self.last()).saturating_add(1) - self.first)
            .ok()?
            .max(start);
        Some(
            self.frames
                .range(start.min(self.frames.len())..end.min(self.frames.len())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Arc<[u8]> {
        Arc::from(vec![n])
    }

    fn numbers(log: &StreamLog, from: u64, to: u64) -> Option<Vec<u8>> {
        log.range(from, to).map(|it| it.map(|f| f[0]).collect())
    }

    #[test]
    fn keeps_the_newest_window_and_numbers_never_reset() {
        let mut log = StreamLog::new(3);
        assert_eq!(log.last(), 0);
        assert_eq!(numbers(&log, 1, 10), Some(vec![]));
        for n in 1..=5 {
            log.push(frame(n));
        }
        assert_eq!((log.first(), log.last()), (3, 5));
        assert_eq!(numbers(&log, 3, 5), Some(vec![3, 4, 5]));
        assert_eq!(numbers(&log, 4, 99), Some(vec![4, 5]));
        assert_eq!(numbers(&log, 6, 99), Some(vec![]));
        assert_eq!(numbers(&log, 2, 5), None, "message 2 was dropped");
    }
}
