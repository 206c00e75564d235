//! `quantcup`: the QuantCup 1 (2011) scoring feed, 35,759 messages.
//!
//! # Source
//! The feed ships in the `lobster` 0.7.0 crate as `data/orders.csv` (`trader_id,side,price,qty`;
//! a row with price 0 cancels the order whose 1-based ordinal among limit rows is `qty`). It is
//! the contest's `score_feed.h` with prices in cents. Neither the contest's feed nor its engines
//! carry a licence of their own, so this repository does not ship a copy: the feed is read at
//! run time from the registry copy that building this crate downloads (its path is recorded by
//! `csrc/build.rs`), or from `$CASCADE_QUANTCUP_CSV`. See `benches/data/PROVENANCE.md`.
//!
//! # Mapping
//! A limit row becomes a GTC add by account `trader_id`; a cancel row becomes a cancel of the
//! order it names, sent by that order's owner (the feed's cancels come from arbitrary traders,
//! which Cascade, checking ownership, would reject), or of id 0 (unknown everywhere) when it
//! names an order not yet placed. Many cancels name orders already filled: every engine treats
//! them as no-ops, as the contest required.

use super::{Op, Tif, Workload};
use anyhow::{bail, Context};
use cascade_engine::Side;
use std::path::{Path, PathBuf};

/// Messages in the scoring feed.
pub const FEED_MESSAGES: usize = 35_759;

/// One raw feed message, as the contest's C engines take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawMsg {
    /// Trader 0..=9.
    pub trader: u8,
    /// 0 bid, 1 ask.
    pub side: u8,
    /// Price in cents; 0 marks a cancel.
    pub price: u16,
    /// Size, or for a cancel the ordinal of the order to cancel.
    pub size: u64,
}

/// The feed, raw and as a workload.
#[derive(Clone, Debug)]
pub struct Feed {
    /// The messages as the C engine takes them.
    pub raw: Vec<RawMsg>,
    /// The same messages as operations.
    pub workload: Workload,
    /// Where it was read from.
    pub path: PathBuf,
}

/// Where the feed is, if anywhere: `$CASCADE_QUANTCUP_CSV`, then the registry copy found when
/// this crate was built.
#[must_use]
pub fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CASCADE_QUANTCUP_CSV") {
        return Some(PathBuf::from(p));
    }
    option_env!("CASCADE_QUANTCUP_CSV_BUILD")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

/// Loads the feed from `path`.
///
/// # Errors
/// If the file cannot be read or a row does not parse.
pub fn load(path: &Path) -> anyhow::Result<Feed> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).map(|(raw, workload)| Feed {
        raw,
        workload,
        path: path.to_path_buf(),
    })
}

/// Parses the CSV text of the feed.
///
/// # Errors
/// If a row does not parse.
pub fn parse(text: &str) -> anyhow::Result<(Vec<RawMsg>, Workload)> {
    let mut raw = Vec::new();
    let mut ops = Vec::new();
    // Ordinal (1-based) of each limit row -> (op id, owner).
    let mut placed: Vec<(u64, u32)> = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 4 {
            bail!("line {}: expected 4 fields, got {line:?}", n + 1);
        }
        let trader: u8 = f[0].parse().with_context(|| format!("line {}", n + 1))?;
        let side = match f[1] {
            "Bid" => Side::Buy,
            "Ask" => Side::Sell,
            s => bail!("line {}: side {s:?}", n + 1),
        };
        let price: u16 = f[2].parse().with_context(|| format!("line {}", n + 1))?;
        let size: u64 = f[3].parse().with_context(|| format!("line {}", n + 1))?;
        raw.push(RawMsg {
            trader,
            side: u8::from(side == Side::Sell),
            price,
            size,
        });
        let id = Workload::id_at(ops.len());
        if price == 0 {
            let target = usize::try_from(size)
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| placed.get(k).copied());
            let (id, account) = target.unwrap_or((0, 0));
            ops.push(Op::Cancel { id, account });
        } else {
            placed.push((id, u32::from(trader)));
            ops.push(Op::Add {
                id,
                account: u32::from(trader),
                side,
                price: i64::from(price),
                qty: i64::try_from(size).context("size fits i64")?,
                tif: Tif::Gtc,
            });
        }
    }
    let w = Workload {
        name: "quantcup",
        seed: 0,
        description: format!(
            "QuantCup 2011 scoring feed: {} messages ({} limit, {} cancel), 10 traders",
            ops.len(),
            placed.len(),
            ops.len() - placed.len()
        ),
        ops,
    };
    w.check_ids();
    Ok((raw, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limits_and_cancels_by_owner() {
        let csv =
            "trader_id,side,price,qty\n8,Bid,4799,500\n4,Ask,4800,800\n7,Bid,0,2\n1,Bid,0,9\n";
        let (raw, w) = parse(csv).expect("parses");
        assert_eq!(raw.len(), 4);
        assert_eq!(raw[1].side, 1);
        assert_eq!(w.ops[2], Op::Cancel { id: 3, account: 4 });
        assert_eq!(w.ops[3], Op::Cancel { id: 0, account: 0 });
    }
}
