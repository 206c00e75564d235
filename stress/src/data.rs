//! Small readers for the recorded inputs a scenario names.
//!
//! Input names: `embedded:btcusdt-20230404` (the Binance BTCUSDT REST depth snapshot shipped in
//! `scenarios/stress/data/`), `shared:<path>` (a file under the shared data folder, given with
//! `--data`, default `../shared/data`), or a path relative to the scenario file. Gzip files
//! (`.gz`) are read through `flate2`. A missing input is an error that names the scenario's
//! need and the folder it looked in.

use crate::decimal::{self, Decimal};
use crate::{Error, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The Binance USDⓈ-M BTCUSDT depth snapshot of 2023-04-04 23:58:20 UTC (1000 levels a side),
/// as `side,price,qty` (see `scenarios/stress/data/PROVENANCE.md`).
pub const EMBEDDED_BTCUSDT_20230404: &str =
    include_str!("../../scenarios/stress/data/btcusdt-20230404-depth1000.csv");

/// Where inputs are looked up.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The shared data folder (`shared:` names).
    pub data_dir: PathBuf,
    /// The scenario file's folder (relative names).
    pub base_dir: PathBuf,
}

/// An opened input.
pub enum Source {
    /// Shipped inside the binary.
    Embedded(&'static str),
    /// A file on disk.
    File(PathBuf),
}

impl Inputs {
    /// Resolves an input name.
    ///
    /// # Errors
    /// An unknown embedded name, or a file that does not exist (the message says which folder
    /// was searched and how to point at another).
    pub fn resolve(&self, name: &str) -> Result<Source> {
        if let Some(e) = name.strip_prefix("embedded:") {
            return match e {
                "btcusdt-20230404" => Ok(Source::Embedded(EMBEDDED_BTCUSDT_20230404)),
                _ => Err(Error(format!(
                    "unknown embedded input {name:?} (known: embedded:btcusdt-20230404)"
                ))),
            };
        }
        let path = match name.strip_prefix("shared:") {
            Some(rel) => {
                let p = self.data_dir.join(rel);
                if !p.is_file() {
                    return Err(Error(format!(
                        "this scenario needs the shared recorded data file {rel:?}, not found under \
                         {} (the shared data folder is not part of the repository; pass \
                         --data DIR pointing at it)",
                        self.data_dir.display()
                    )));
                }
                p
            }
            None => {
                let p = self.base_dir.join(name);
                if !p.is_file() {
                    return Err(Error(format!("input file not found: {}", p.display())));
                }
                p
            }
        };
        Ok(Source::File(path))
    }

    /// Opens an input for reading lines (gunzipping `.gz` files).
    ///
    /// # Errors
    /// As [`Inputs::resolve`], or the file cannot be opened.
    pub fn open(&self, name: &str) -> Result<Box<dyn BufRead>> {
        match self.resolve(name)? {
            Source::Embedded(text) => Ok(Box::new(text.as_bytes())),
            Source::File(p) => {
                let f = std::fs::File::open(&p)
                    .map_err(|e| Error(format!("cannot open {}: {e}", p.display())))?;
                let r: Box<dyn Read> = if p.extension().is_some_and(|x| x == "gz") {
                    Box::new(flate2::read::GzDecoder::new(f))
                } else {
                    Box::new(f)
                };
                Ok(Box::new(BufReader::new(r)))
            }
        }
    }
}

fn lines(name: &str, r: Box<dyn BufRead>) -> impl Iterator<Item = Result<(usize, String)>> + '_ {
    r.lines().enumerate().map(move |(i, l)| {
        l.map(|l| (i + 1, l))
            .map_err(|e| Error(format!("{name}: read error at line {}: {e}", i + 1)))
    })
}

/// One level of a depth snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthLevel {
    /// Bid (true) or ask.
    pub bid: bool,
    /// Price in USD.
    pub price: Decimal,
    /// Quantity in the base asset.
    pub qty: Decimal,
}

/// Reads a depth snapshot: a CSV `side,price,qty` (side `bid`/`ask`), or a Binance capture
/// (`<timestamp> <json>` lines) whose REST snapshot line (`lastUpdateId`, `bids`, `asks`) is
/// used.
///
/// # Errors
/// Missing file, malformed line, or no levels on a side.
pub fn read_depth(inputs: &Inputs, name: &str) -> Result<Vec<DepthLevel>> {
    let mut out = Vec::new();
    for item in lines(name, inputs.open(name)?) {
        let (n, line) = item?;
        let line = line.trim();
        if line.is_empty() || line.starts_with("side,") {
            continue;
        }
        if line.contains("lastUpdateId") {
            let json = line.split_once(' ').map_or(line, |(_, j)| j);
            let v: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| Error(format!("{name}:{n}: bad snapshot JSON: {e}")))?;
            for (key, bid) in [("bids", true), ("asks", false)] {
                let levels = v[key]
                    .as_array()
                    .ok_or_else(|| Error(format!("{name}:{n}: snapshot has no {key}")))?;
                for l in levels {
                    let (p, q) = (l[0].as_str(), l[1].as_str());
                    let (Some(p), Some(q)) = (p, q) else {
                        return Err(Error(format!("{name}:{n}: bad {key} level {l}")));
                    };
                    out.push(level(name, n, bid, p, q)?);
                }
            }
            break;
        }
        if line.starts_with(|c: char| c.is_ascii_digit()) && line.contains('{') {
            // A stream message of a capture: not the snapshot.
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bid = match f.first().copied() {
            Some("bid") => true,
            Some("ask") => false,
            _ => {
                return Err(Error(format!(
                    "{name}:{n}: expected bid/ask,price,qty: {line:?}"
                )))
            }
        };
        if f.len() != 3 {
            return Err(Error(format!("{name}:{n}: expected 3 fields: {line:?}")));
        }
        out.push(level(name, n, bid, f[1], f[2])?);
    }
    if !out.iter().any(|l| l.bid) || !out.iter().any(|l| !l.bid) {
        return Err(Error(format!("{name}: the snapshot needs bids and asks")));
    }
    Ok(out)
}

fn level(name: &str, n: usize, bid: bool, p: &str, q: &str) -> Result<DepthLevel> {
    let price = decimal::parse(p).map_err(|e| Error(format!("{name}:{n}: price: {e}")))?;
    let qty = decimal::parse(q).map_err(|e| Error(format!("{name}:{n}: qty: {e}")))?;
    if price.mantissa <= 0 || qty.mantissa < 0 {
        return Err(Error(format!("{name}:{n}: price must be > 0 and qty >= 0")));
    }
    Ok(DepthLevel { bid, price, qty })
}

/// One message of a Binance `markPrice@1s` stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkSample {
    /// Event time, ms since the epoch.
    pub ts_ms: u64,
    /// The mark price (`p`) or index (`i`), as asked.
    pub price: Decimal,
}

fn json_of(name: &str, n: usize, line: &str) -> Result<serde_json::Value> {
    let json = line.split_once(' ').map_or(line, |(_, j)| j);
    serde_json::from_str(json).map_err(|e| Error(format!("{name}:{n}: bad JSON: {e}")))
}

fn field_str<'a>(name: &str, n: usize, d: &'a serde_json::Value, key: &str) -> Result<&'a str> {
    d[key]
        .as_str()
        .ok_or_else(|| Error(format!("{name}:{n}: missing field {key:?}")))
}

fn field_u64(name: &str, n: usize, d: &serde_json::Value, key: &str) -> Result<u64> {
    d[key]
        .as_u64()
        .ok_or_else(|| Error(format!("{name}:{n}: missing field {key:?}")))
}

/// Reads the markPrice messages of a Binance capture (`field` `p` for the mark, `i` for the
/// index), in file order.
///
/// # Errors
/// Missing file, malformed message, or none found.
pub fn read_marks(inputs: &Inputs, name: &str, index: bool) -> Result<Vec<MarkSample>> {
    let key = if index { "i" } else { "p" };
    let mut out = Vec::new();
    for item in lines(name, inputs.open(name)?) {
        let (n, line) = item?;
        if !line.contains("markPriceUpdate") {
            continue;
        }
        let v = json_of(name, n, &line)?;
        let d = &v["data"];
        let price = decimal::parse(field_str(name, n, d, key)?)
            .map_err(|e| Error(format!("{name}:{n}: {e}")))?;
        out.push(MarkSample {
            ts_ms: field_u64(name, n, d, "E")?,
            price,
        });
    }
    if out.is_empty() {
        return Err(Error(format!("{name}: no markPrice messages")));
    }
    Ok(out)
}

/// One recorded trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TradePrint {
    /// Trade time, ms since the epoch.
    pub ts_ms: u64,
    /// Quantity in the base asset.
    pub qty: Decimal,
    /// The aggressor bought (Binance `m` = false: the buyer was not the maker).
    pub taker_buy: bool,
}

/// Reads the `@trade` messages of a Binance capture, in file order.
///
/// # Errors
/// Missing file or malformed message.
pub fn read_trades(inputs: &Inputs, name: &str) -> Result<Vec<TradePrint>> {
    let mut out = Vec::new();
    for item in lines(name, inputs.open(name)?) {
        let (n, line) = item?;
        if !line.contains("@trade\"") {
            continue;
        }
        let v = json_of(name, n, &line)?;
        let d = &v["data"];
        let qty = decimal::parse(field_str(name, n, d, "q")?)
            .map_err(|e| Error(format!("{name}:{n}: {e}")))?;
        let maker_buy = d["m"]
            .as_bool()
            .ok_or_else(|| Error(format!("{name}:{n}: missing field \"m\"")))?;
        out.push(TradePrint {
            ts_ms: field_u64(name, n, d, "T")?,
            qty,
            taker_buy: !maker_buy,
        });
    }
    Ok(out)
}

/// One OHLC candle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    /// Open, high, low, close in USD.
    pub ohlc: [f64; 4],
}

/// Reads the candles of a CSV `date,open,high,low,close,volume` whose `date` lies in
/// `from..=to` (compared as strings: the ISO dates of the file).
///
/// # Errors
/// Missing file, malformed row, or no candle in the range.
pub fn read_candles(inputs: &Inputs, name: &str, from: &str, to: &str) -> Result<Vec<Candle>> {
    let mut out = Vec::new();
    for item in lines(name, inputs.open(name)?) {
        let (n, line) = item?;
        if n == 1 || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            return Err(Error(format!(
                "{name}:{n}: expected date,open,high,low,close,..."
            )));
        }
        let date = f[0];
        if date < from || date > to {
            continue;
        }
        let mut ohlc = [0.0; 4];
        for (i, v) in ohlc.iter_mut().enumerate() {
            let d = decimal::parse(f[i + 1]).map_err(|e| Error(format!("{name}:{n}: {e}")))?;
            *v = d.to_f64();
            if *v <= 0.0 {
                return Err(Error(format!("{name}:{n}: prices must be positive")));
            }
        }
        out.push(Candle { ohlc });
    }
    if out.is_empty() {
        return Err(Error(format!(
            "{name}: no candle between {from:?} and {to:?}"
        )));
    }
    Ok(out)
}

/// The default shared data folder: `../shared/data` from the working directory.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    Path::new("..").join("shared").join("data")
}
