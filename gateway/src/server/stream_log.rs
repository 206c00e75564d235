//! One numbered SoupBinTCP stream in memory: the last `replay_max` Sequenced Data frames.
//!
//! Message numbers start at 1 and never reset within a server run. The log keeps a window of
//! the newest frames; older ones are dropped as new ones arrive, so memory stays bounded
//! whatever a run's length. A login asking for a message older than the window is accepted
//! from the oldest message kept (Login Accepted names it, so the client sees the gap) with a
//! Debug packet saying why: the SoupBinTCP reject codes have no "too old", and refusing the
//! login would lock out a client that asks for 1 (the default of common clients) for the rest
//! of the run.
//!
//! # Memory
//! Frames are held in fixed-size chunks ([`CHUNK`] entries), not in one contiguous buffer: a
//! growing `VecDeque` doubles and copies every entry it holds, which at a few hundred thousand
//! frames is a pause of milliseconds inside the core thread, and it would happen again on every
//! stream as it passes each power of two. Here an append costs at most one chunk allocation,
//! and a chunk whose frames all left the window is reused for the next one.

use std::collections::VecDeque;
use std::sync::Arc;

/// Frames per chunk (16 bytes each: one chunk is 64 KiB).
pub const CHUNK: usize = 4096;

/// Chunk slots reserved at most up front (a window of 16 Mi frames).
const CHUNKS_PREALLOCATED: usize = 4096;

/// A bounded window over a numbered stream of frames.
#[derive(Debug)]
pub struct StreamLog {
    /// Full chunks, then the one being filled (the only one shorter than [`CHUNK`]). Frames
    /// that left the window are `None` (in the first chunk only).
    chunks: VecDeque<Vec<Option<Arc<[u8]>>>>,
    /// Index of the oldest frame kept in `chunks[0]`.
    head: usize,
    /// Frames kept.
    len: usize,
    /// The number of the oldest frame kept (1 while nothing was dropped).
    first: u64,
    max: usize,
    /// An emptied chunk kept for the next one (no allocation at the steady state).
    spare: Option<Vec<Option<Arc<[u8]>>>>,
}

impl StreamLog {
    /// An empty stream keeping at most `max` frames (at least 1).
    #[must_use]
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            // Sized for the whole window (the default `replay_max` included): the chunk index
            // does not grow during a run. Capped for an unbounded configured `replay_max`.
            chunks: VecDeque::with_capacity((max.div_ceil(CHUNK) + 1).min(CHUNKS_PREALLOCATED)),
            head: 0,
            len: 0,
            first: 1,
            max,
            spare: None,
        }
    }

    /// Appends the next message, dropping the oldest beyond the bound.
    pub fn push(&mut self, frame: Arc<[u8]>) {
        if self.len == self.max {
            self.drop_oldest();
        }
        if self.chunks.back().is_none_or(|c| c.len() == CHUNK) {
            let chunk = self
                .spare
                .take()
                .unwrap_or_else(|| Vec::with_capacity(CHUNK));
            self.chunks.push_back(chunk);
        }
        if let Some(last) = self.chunks.back_mut() {
            last.push(Some(frame));
            self.len += 1;
        }
    }

    fn drop_oldest(&mut self) {
        let Some(front) = self.chunks.front_mut() else {
            return;
        };
        if let Some(slot) = front.get_mut(self.head) {
            *slot = None;
        }
        self.head += 1;
        self.len -= 1;
        self.first += 1;
        if self.head == front.len() && (front.len() == CHUNK || self.len == 0) {
            if let Some(mut chunk) = self.chunks.pop_front() {
                chunk.clear();
                self.spare = Some(chunk);
            }
            self.head = 0;
        }
    }

    /// The frame at `i` from the oldest kept.
    fn get(&self, i: usize) -> Option<&Arc<[u8]>> {
        let at = self.head + i;
        self.chunks.get(at / CHUNK)?.get(at % CHUNK)?.as_ref()
    }

    /// The number of the newest message (0 before any).
    #[must_use]
    pub fn last(&self) -> u64 {
        self.first + self.len as u64 - 1
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
        Some((start.min(self.len)..end.min(self.len)).filter_map(|i| self.get(i)))
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

    #[test]
    fn matches_a_plain_window_across_chunks() {
        let numbered = |n: u64| -> Arc<[u8]> { Arc::from(n.to_le_bytes().to_vec()) };
        let decode = |f: &Arc<[u8]>| {
            let mut b = [0u8; 8];
            b.copy_from_slice(f);
            u64::from_le_bytes(b)
        };
        for max in [1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5] {
            let mut log = StreamLog::new(max);
            let total = 3 * CHUNK as u64 + 7;
            for n in 1..=total {
                log.push(numbered(n));
                let first = n.saturating_sub(max as u64) + 1;
                assert_eq!((log.first(), log.last()), (first, n), "max {max}");
                if n % 997 == 0 || n == total || n < 10 {
                    for from in [first, (first + n) / 2, n, n + 1] {
                        let got: Vec<u64> = log
                            .range(from, u64::MAX)
                            .expect("kept")
                            .map(decode)
                            .collect();
                        let want: Vec<u64> = (from..=n).collect();
                        assert_eq!(got, want, "max {max}, n {n}, from {from}");
                    }
                    assert!(first == 1 || log.range(first - 1, n).is_none());
                }
            }
            let kept = log.chunks.iter().map(Vec::len).sum::<usize>() - log.head;
            assert_eq!(kept, max.min(total as usize), "max {max}: frames held");
            assert!(log.chunks.len() <= max.div_ceil(CHUNK) + 1, "max {max}");
        }
    }
}
