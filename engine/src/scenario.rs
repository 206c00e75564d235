//! Scenario files: a readable script of commands run through [`Engine::apply`], producing a
//! transcript of events and ASCII books. The format of the golden tests and of
//! `cascade scenario FILE`; documented in `docs/SCENARIOS.md`.
//!
//! Prices are in ticks and quantities in lots of the market (integers), so a scenario reads
//! exactly what the engine sees.
//!
//! ```text
//! accounts alice bob
//! market BTC-PERP preset=unit
//! order alice sell 5 @ 101 as a1
//! order bob buy 8 @ 101 tif=ioc
//! book
//! ```

use crate::account::MarginMode;
use crate::command::{
    AccountId, Command, NewOrder, OrderId, OrderKind, SelfTradePrevention, Sequenced, Side,
    TimeInForce,
};
use crate::limits::Limits;
use crate::market::{MarketId, MarketSpec};
use crate::render::{book_ascii, event_line};
use crate::risk_params::{AdlPolicy, FundingNotional, RiskParams};
use crate::state::Engine;
use cascade_risk::{Price, Qty, Quote};
use core::fmt::{self, Write as _};
use std::collections::BTreeMap;

/// The line that separates a golden file's script from its expected transcript.
pub const EXPECTED_MARKER: &str = "--- expected ---";

/// A scenario that could not be parsed or run: which line, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// 1-based line number in the script.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// The result of running a scenario.
#[derive(Debug)]
pub struct Outcome {
    /// Commands, their events, books and checks, as text.
    pub transcript: String,
    /// The engine after the last command.
    pub engine: Engine,
    /// `expect-*` lines that did not hold, with their line numbers.
    pub failures: Vec<String>,
}

/// Splits a golden file into its script and its expected transcript (if any).
#[must_use]
pub fn split_golden(text: &str) -> (&str, Option<&str>) {
    match text.find(EXPECTED_MARKER) {
        Some(at) => {
            let expected = &text[at + EXPECTED_MARKER.len()..];
            (
                &text[..at],
                Some(expected.strip_prefix('\n').unwrap_or(expected)),
            )
        }
        None => (text, None),
    }
}

struct Runner {
    engine: Engine,
    seq: u64,
    accounts: Vec<String>,
    markets: BTreeMap<String, MarketId>,
    labels: BTreeMap<String, u64>,
    out: String,
    failures: Vec<String>,
    line: usize,
    /// Added to every command's timestamp by `advance`.
    time_offset_ns: u64,
    /// The event oracle, in test builds (the `sim` feature): every scenario, golden files
    /// included, is checked by it command by command.
    #[cfg(feature = "sim")]
    oracle: crate::oracle::Oracle,
}

/// Runs a scenario script (the part before [`EXPECTED_MARKER`], if present).
///
/// # Errors
/// A [`ScenarioError`] for a line that does not parse, names something unknown, or leaves the
/// engine failing its invariant audit (which runs after every command).
pub fn run(text: &str) -> Result<Outcome, ScenarioError> {
    let (script, _) = split_golden(text);
    let mut r = Runner {
        engine: Engine::new(Limits::SMALL),
        seq: 0,
        accounts: Vec::new(),
        markets: BTreeMap::new(),
        labels: BTreeMap::new(),
        out: String::new(),
        failures: Vec::new(),
        line: 0,
        time_offset_ns: 0,
        #[cfg(feature = "sim")]
        oracle: crate::oracle::Oracle::new(),
    };
    for (i, raw) in script.lines().enumerate() {
        r.line = i + 1;
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        r.line_cmd(line)?;
    }
    Ok(Outcome {
        transcript: r.out,
        engine: r.engine,
        failures: r.failures,
    })
}

/// Drops a comment: `#` at the start of a line, or ` # ` after a command. A `#` glued to a
/// number (`#12`) is an order id, not a comment.
fn strip_comment(raw: &str) -> &str {
    let line = raw.trim();
    if line.starts_with('#') {
        return "";
    }
    match line.find(" # ") {
        Some(at) => line[..at].trim(),
        None => line,
    }
}

impl Runner {
    fn err(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            line: self.line,
            message: message.into(),
        }
    }

    fn account(&mut self, name: &str) -> Result<AccountId, ScenarioError> {
        if let Some(i) = self.accounts.iter().position(|a| a == name) {
            return Ok(AccountId(
                u32::try_from(i).map_err(|_| self.err("too many accounts"))?,
            ));
        }
        if let Some(id) = name
            .strip_prefix("acct")
            .and_then(|n| n.parse::<u32>().ok())
        {
            return Ok(AccountId(id));
        }
        self.accounts.push(name.to_owned());
        let id =
            u32::try_from(self.accounts.len() - 1).map_err(|_| self.err("too many accounts"))?;
        Ok(AccountId(id))
    }

    fn market(&self, name: Option<&str>) -> Result<MarketId, ScenarioError> {
        match name {
            Some(n) => self
                .markets
                .get(n)
                .copied()
                .ok_or_else(|| self.err(format!("unknown market {n}"))),
            None => self
                .markets
                .values()
                .next()
                .copied()
                .ok_or_else(|| self.err("no market declared")),
        }
    }

    fn order_id(&self, token: &str) -> Result<OrderId, ScenarioError> {
        if let Some(n) = token.strip_prefix('#') {
            return n
                .parse()
                .map(OrderId)
                .map_err(|_| self.err(format!("bad order id {token}")));
        }
        self.labels
            .get(token)
            .copied()
            .map(OrderId)
            .ok_or_else(|| self.err(format!("unknown order label {token}")))
    }

    fn int(&self, token: &str) -> Result<i64, ScenarioError> {
        token
            .replace('_', "")
            .parse()
            .map_err(|_| self.err(format!("not an integer: {token}")))
    }

    fn line_cmd(&mut self, line: &str) -> Result<(), ScenarioError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (positional, options) = split_options(&words);
        let Some(&command) = positional.first() else {
            return Err(self.err("options with no command before them"));
        };
        match command {
            "accounts" => {
                for name in &positional[1..] {
                    self.account(name)?;
                }
                Ok(())
            }
            "market" => self.cmd_market(&positional, &options, line),
            "reference" => {
                let [_, sym, price] = positional[..] else {
                    return Err(self.err("reference SYMBOL PRICE"));
                };
                let market = self.market(Some(sym))?;
                let price = Price(self.int(price)?);
                self.apply(line, Command::SetReferencePrice { market, price })
            }
            "order" => self.cmd_order(&positional, &options, line),
            "cancel" => {
                let [_, who, order] = positional[..] else {
                    return Err(self.err("cancel ACCOUNT ORDER"));
                };
                let account = self.account(who)?;
                let order_id = self.order_id(order)?;
                self.apply(line, Command::Cancel { account, order_id })
            }
            "amend" => {
                let [_, who, order] = positional[..] else {
                    return Err(self.err("amend ACCOUNT ORDER price=P qty=Q"));
                };
                let account = self.account(who)?;
                let order_id = self.order_id(order)?;
                let current = self.engine.order(order_id).map(|o| (o.price, o.qty_open));
                let price = match options.get("price") {
                    Some(p) => self.int(p)?,
                    None => current.map_or(0, |c| c.0),
                };
                let qty = match options.get("qty") {
                    Some(q) => self.int(q)?,
                    None => current.map_or(0, |c| c.1),
                };
                self.apply(
                    line,
                    Command::Amend {
                        account,
                        order_id,
                        price: Price(price),
                        qty: Qty(qty),
                    },
                )
            }
            "mass-cancel" => {
                let [_, who] = positional[..] else {
                    return Err(self.err("mass-cancel ACCOUNT [on=SYMBOL]"));
                };
                let account = self.account(who)?;
                let market = match options.get("on") {
                    Some(s) => Some(self.market(Some(s))?),
                    None => None,
                };
                self.apply(line, Command::MassCancelAccount { account, market })
            }
            "mass-cancel-market" => {
                let market = self.market(positional.get(1).copied())?;
                self.apply(line, Command::MassCancelMarket { market })
            }
            "book" => {
                let market = self.market(positional.get(1).copied())?;
                let depth = match options.get("depth") {
                    Some(d) => usize::try_from(self.int(d)?).unwrap_or(0),
                    None => 10,
                };
                let text = book_ascii(&self.engine, self.accounts.as_slice(), market, depth);
                self.out.push_str(&text);
                Ok(())
            }
            "expect-position" => {
                let [_, who, sym, size] = positional[..] else {
                    return Err(self.err("expect-position ACCOUNT SYMBOL SIZE"));
                };
                let account = self.account(who)?;
                let market = self.market(Some(sym))?;
                let want = self.int(size)?;
                let got = self.engine.position(account, market);
                let status = if got == want { "ok" } else { "FAILED" };
                let _ = writeln!(self.out, "expect-position {who} {sym} {want}: {status}");
                if got != want {
                    self.failures.push(format!(
                        "line {}: position of {who} in {sym} is {got}, expected {want}",
                        self.line
                    ));
                }
                Ok(())
            }
            _ => self.risk_cmd(&positional, &options, line),
        }
    }

    fn amount(&self, token: &str) -> Result<Quote, ScenarioError> {
        self.int(token).map(Quote)
    }

    #[allow(clippy::too_many_lines)]
    fn risk_cmd(
        &mut self,
        positional: &[&str],
        options: &BTreeMap<&str, &str>,
        line: &str,
    ) -> Result<(), ScenarioError> {
        match positional[0] {
            "risk" => {
                let market = self.market(positional.get(1).copied())?;
                let params = self.risk_params(options)?;
                self.apply(
                    line,
                    Command::SetRiskParams {
                        market,
                        params: Box::new(params),
                    },
                )
            }
            "deposit" | "withdraw" => {
                let [verb, who, amount] = positional[..] else {
                    return Err(self.err(format!("{} ACCOUNT AMOUNT", positional[0])));
                };
                let account = self.account(who)?;
                let amount = self.amount(amount)?;
                let cmd = if verb == "deposit" {
                    Command::Deposit { account, amount }
                } else {
                    Command::Withdraw { account, amount }
                };
                self.apply(line, cmd)
            }
            "leverage" => {
                let [_, who, sym, lev] = positional[..] else {
                    return Err(self.err("leverage ACCOUNT SYMBOL N"));
                };
                let account = self.account(who)?;
                let market = self.market(Some(sym))?;
                let leverage =
                    u16::try_from(self.int(lev)?).map_err(|_| self.err("leverage range"))?;
                self.apply(
                    line,
                    Command::SetLeverage {
                        account,
                        market,
                        leverage,
                    },
                )
            }
            "margin-mode" => {
                let [_, who, sym, mode] = positional[..] else {
                    return Err(self.err("margin-mode ACCOUNT SYMBOL cross|isolated"));
                };
                let account = self.account(who)?;
                let market = self.market(Some(sym))?;
                let mode = match mode {
                    "cross" => MarginMode::Cross,
                    "isolated" => MarginMode::Isolated,
                    _ => return Err(self.err("margin-mode ACCOUNT SYMBOL cross|isolated")),
                };
                self.apply(
                    line,
                    Command::SetMarginMode {
                        account,
                        market,
                        mode,
                    },
                )
            }
            "isolated-margin" => {
                let [_, who, sym, amount] = positional[..] else {
                    return Err(self.err("isolated-margin ACCOUNT SYMBOL AMOUNT"));
                };
                let account = self.account(who)?;
                let market = self.market(Some(sym))?;
                let amount = self.amount(amount)?;
                self.apply(
                    line,
                    Command::TransferIsolatedMargin {
                        account,
                        market,
                        amount,
                    },
                )
            }
            "index" => {
                let [_, sym, price] = positional[..] else {
                    return Err(self.err("index SYMBOL PRICE [external=P]"));
                };
                let market = self.market(Some(sym))?;
                let index = Price(self.int(price)?);
                let external_mark = match options.get("external") {
                    Some(p) => Some(Price(self.int(p)?)),
                    None => None,
                };
                self.apply(
                    line,
                    Command::SetIndexPrice {
                        market,
                        index,
                        external_mark,
                    },
                )
            }
            "funding" => {
                let market = self.market(positional.get(1).copied())?;
                self.apply(line, Command::FundingTick { market })
            }
            "backstop" => {
                let [_, who] = positional[..] else {
                    return Err(self.err("backstop ACCOUNT|none"));
                };
                let account = if who == "none" {
                    None
                } else {
                    Some(self.account(who)?)
                };
                self.apply(line, Command::SetBackstopAccount { account })
            }
            "insurance-deposit" => {
                let [_, amount] = positional[..] else {
                    return Err(self.err("insurance-deposit AMOUNT"));
                };
                let amount = self.amount(amount)?;
                self.apply(line, Command::InsuranceDeposit { amount })
            }
            "advance" => {
                let [_, ms] = positional[..] else {
                    return Err(self.err("advance MILLISECONDS"));
                };
                let ms = u64::try_from(self.int(ms)?)
                    .map_err(|_| self.err("advance takes a positive time"))?;
                self.time_offset_ns = self
                    .time_offset_ns
                    .saturating_add(ms.saturating_mul(1_000_000));
                let _ = writeln!(self.out, "advance {ms} ms");
                Ok(())
            }
            "account" => {
                let [_, who] = positional[..] else {
                    return Err(self.err("account ACCOUNT"));
                };
                let account = self.account(who)?;
                let text = crate::render::account_summary(
                    &self.engine,
                    self.accounts.as_slice(),
                    account.0,
                );
                self.out.push_str(&text);
                Ok(())
            }
            "expect-collateral" | "expect-insurance" => self.expect_money(positional),
            other => Err(self.err(format!("unknown command {other}"))),
        }
    }

    fn expect_money(&mut self, positional: &[&str]) -> Result<(), ScenarioError> {
        let (label, got, want) = match positional {
            ["expect-collateral", who, amount] => {
                let account = self.account(who)?;
                (
                    format!("expect-collateral {who}"),
                    self.engine.accounts().collateral(account.0),
                    self.int(amount)?,
                )
            }
            ["expect-insurance", amount] => (
                "expect-insurance".to_owned(),
                self.engine.treasury().insurance_fund,
                self.int(amount)?,
            ),
            _ => return Err(self.err("expect-collateral ACCOUNT AMOUNT | expect-insurance AMOUNT")),
        };
        let status = if got == want { "ok" } else { "FAILED" };
        let _ = writeln!(self.out, "{label} {want}: {status}");
        if got != want {
            self.failures.push(format!(
                "line {}: {label} is {got}, expected {want}",
                self.line
            ));
        }
        Ok(())
    }

    fn risk_params(&self, options: &BTreeMap<&str, &str>) -> Result<RiskParams, ScenarioError> {
        let int = |k: &str| -> Result<Option<i64>, ScenarioError> {
            options.get(k).map(|v| self.int(v)).transpose()
        };
        let mut p =
            match options.get("preset").copied().unwrap_or("simple") {
                "btc" => RiskParams::btc_perp(),
                "eth" => RiskParams::eth_perp(),
                "simple" => {
                    let mmr = i32::try_from(int("mmr_ppm")?.unwrap_or(10_000))
                        .map_err(|_| self.err("mmr_ppm range"))?;
                    let lev = u32::try_from(int("leverage_max")?.unwrap_or(50))
                        .map_err(|_| self.err("leverage_max range"))?;
                    if cascade_risk::margin::MarginTiers::new(&[
                        cascade_risk::margin::TierSpec::new(Quote(0), cascade_risk::Ppm(mmr), lev),
                    ])
                    .is_err()
                    {
                        return Err(self.err("mmr_ppm × leverage_max must stay below 100%"));
                    }
                    RiskParams::simple(mmr, lev)
                }
                other => return Err(self.err(format!("unknown risk preset {other}"))),
            };
        let to_i32 = |v: i64| i32::try_from(v).map_err(|_| self.err("value out of range"));
        let to_u32 = |v: i64| u32::try_from(v).map_err(|_| self.err("value out of range"));
        for (key, value) in options {
            match *key {
                "preset" | "mmr_ppm" | "leverage_max" => {}
                "fee_maker" => p.fee_ppm_maker = to_i32(self.int(value)?)?,
                "fee_taker" => p.fee_ppm_taker = to_i32(self.int(value)?)?,
                "liquidation_fee" => p.liquidation_fee_ppm = to_u32(self.int(value)?)?,
                "slice_notional_min" => p.slice_notional_min = Quote(self.int(value)?),
                "slice_ppm" => p.slice_ppm = to_u32(self.int(value)?)?,
                "cooldown_ms" => {
                    p.cooldown_ns = u64::try_from(self.int(value)?)
                        .map_err(|_| self.err("cooldown_ms ≥ 0"))?
                        .saturating_mul(1_000_000)
                }
                "backstop_ppm" => p.backstop_ppm = to_u32(self.int(value)?)?,
                "insurance_slippage_ppm" => p.insurance_slippage_ppm = to_u32(self.int(value)?)?,
                "adl" => {
                    p.adl = match *value {
                        "queue" => AdlPolicy::Queue,
                        "pro-rata" => AdlPolicy::ProRata,
                        "off" => AdlPolicy::Off,
                        other => return Err(self.err(format!("unknown adl policy {other}"))),
                    }
                }
                "funding_interest_ppb" => p.funding_interest_ppb = self.int(value)?,
                "funding_interval_ms" => {
                    let ms =
                        u64::try_from(self.int(value)?).map_err(|_| self.err("interval > 0"))?;
                    p.funding_interval_ns = ms.saturating_mul(1_000_000);
                }
                "funding_clamp_ppb" => p.funding_clamp_ppb = self.int(value)?,
                "funding_cap_ppb" => p.funding_cap_ppb = self.int(value)?,
                "impact_notional" => p.funding_impact_notional = Quote(self.int(value)?),
                "funding_on" => {
                    p.funding_notional = match *value {
                        "index" => FundingNotional::Index,
                        "mark" => FundingNotional::Mark,
                        other => {
                            return Err(self.err(format!("funding_on index|mark, not {other}")))
                        }
                    }
                }
                "mark" => {
                    p.mark_source = match *value {
                        "median" => crate::risk_params::MarkSource::Median,
                        "index" => crate::risk_params::MarkSource::Index,
                        other => return Err(self.err(format!("mark median|index, not {other}"))),
                    }
                }
                "mark_basis_ppm" => p.mark_basis_ppm = to_u32(self.int(value)?)?,
                "mark_clamp_ppm" => p.mark_clamp_ppm = to_u32(self.int(value)?)?,
                "position_lots_max" => p.position_lots_max = self.int(value)?,
                other => return Err(self.err(format!("unknown risk option {other}"))),
            }
        }
        Ok(p)
    }

    fn cmd_market(
        &mut self,
        positional: &[&str],
        options: &BTreeMap<&str, &str>,
        line: &str,
    ) -> Result<(), ScenarioError> {
        let [_, sym] = positional[..] else {
            return Err(self.err("market SYMBOL [preset=unit|btc|eth] [key=value...]"));
        };
        let id =
            MarketId(u16::try_from(self.markets.len()).map_err(|_| self.err("too many markets"))?);
        let mut spec = match options.get("preset").copied().unwrap_or("unit") {
            "unit" => MarketSpec::unit(id, sym),
            "btc" => MarketSpec::btc_perp(id),
            "eth" => MarketSpec::eth_perp(id),
            other => return Err(self.err(format!("unknown preset {other}"))),
        };
        spec.symbol = MarketSpec::symbol_from_str(sym)
            .ok_or_else(|| self.err("symbol: 1-8 printable ASCII characters"))?;
        for (key, value) in options {
            let v = self.int(value);
            match *key {
                "preset" => {}
                "band_ppm" => {
                    spec.band_ppm = u32::try_from(v?).map_err(|_| self.err("band_ppm range"))?
                }
                "protection_ppm" => {
                    spec.market_protection_ppm =
                        u32::try_from(v?).map_err(|_| self.err("protection_ppm range"))?
                }
                "notional_min" => spec.notional_min = Quote(v?),
                "price_max" => spec.price_max = Price(v?),
                "qty_max" => spec.qty_max = Qty(v?),
                "quote_per_tick_lot" => spec.quote_per_tick_lot = v?,
                other => return Err(self.err(format!("unknown market option {other}"))),
            }
        }
        self.markets.insert(sym.to_owned(), id);
        self.apply(line, Command::AddMarket(Box::new(spec)))
    }

    fn cmd_order(
        &mut self,
        positional: &[&str],
        options: &BTreeMap<&str, &str>,
        line: &str,
    ) -> Result<(), ScenarioError> {
        // order ACCOUNT buy|sell QTY @ PRICE|market [as LABEL]
        let usage = "order ACCOUNT buy|sell QTY @ PRICE|market [on=SYM] [tif=...] [stp=...] [ref=N] [reduce-only] [as LABEL]";
        if positional.len() < 6 || positional[4] != "@" {
            return Err(self.err(usage));
        }
        let account = self.account(positional[1])?;
        let side = match positional[2] {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => return Err(self.err(usage)),
        };
        let qty = Qty(self.int(positional[3])?);
        let (kind, price) = if positional[5] == "market" {
            (OrderKind::Market, Price(0))
        } else {
            (OrderKind::Limit, Price(self.int(positional[5])?))
        };
        let mut rest = positional[6..].iter();
        let mut reduce_only = false;
        let mut label = None;
        while let Some(word) = rest.next() {
            match *word {
                "reduce-only" => reduce_only = true,
                "as" => {
                    label = Some((*rest.next().ok_or_else(|| self.err("as LABEL"))?).to_owned())
                }
                other => return Err(self.err(format!("unexpected {other}: {usage}"))),
            }
        }
        let default_tif = if kind == OrderKind::Market {
            "ioc"
        } else {
            "gtc"
        };
        let tif = match options.get("tif").copied().unwrap_or(default_tif) {
            "gtc" => TimeInForce::Gtc,
            "ioc" => TimeInForce::Ioc,
            "fok" => TimeInForce::Fok,
            "post-only" => TimeInForce::PostOnly,
            "post-slide" => TimeInForce::PostOnlySlide,
            other => return Err(self.err(format!("unknown tif {other}"))),
        };
        let stp = match options.get("stp").copied().unwrap_or("allow") {
            "allow" => SelfTradePrevention::Allow,
            "expire-taker" => SelfTradePrevention::ExpireTaker,
            "expire-maker" => SelfTradePrevention::ExpireMaker,
            "expire-both" => SelfTradePrevention::ExpireBoth,
            other => return Err(self.err(format!("unknown stp {other}"))),
        };
        let client_ref = match options.get("ref") {
            Some(r) => u64::try_from(self.int(r)?).map_err(|_| self.err("ref is unsigned"))?,
            None => 0,
        };
        let market = self.market(options.get("on").copied())?;
        if let Some(label) = label {
            self.labels.insert(label, self.seq + 1);
        }
        let order = NewOrder {
            account,
            market,
            client_ref,
            side,
            kind,
            price,
            qty,
            tif,
            reduce_only,
            stp,
        };
        self.apply(line, Command::Place(order))
    }

    fn apply(&mut self, line: &str, command: Command) -> Result<(), ScenarioError> {
        self.seq += 1;
        let ts_ns = (self.seq * 1_000).saturating_add(self.time_offset_ns);
        let cmd = Sequenced {
            seq: self.seq,
            ts_ns,
            command,
        };
        let _ = writeln!(self.out, "[{}] {}", self.seq, line);
        // Copied out: rendering reads the engine (symbols), which `apply` borrows mutably.
        let events = self.engine.apply(&cmd).to_vec();
        for e in &events {
            let text = event_line(&self.engine, self.accounts.as_slice(), e);
            let _ = writeln!(self.out, "    {text}");
        }
        let checked = self.engine.audit();
        #[cfg(feature = "sim")]
        let checked = checked.and_then(|()| self.oracle.check(&self.engine, &cmd, &events));
        checked.map_err(|e| {
            // Show the step that broke it: its command and events are the last lines written.
            let start = self.out.rfind(&format!("[{}] ", self.seq)).unwrap_or(0);
            self.err(format!("invariant broken: {e}\n{}", &self.out[start..]))
        })
    }
}

/// Splits `key=value` words from positional ones.
fn split_options<'a>(words: &[&'a str]) -> (Vec<&'a str>, BTreeMap<&'a str, &'a str>) {
    let mut positional = Vec::new();
    let mut options = BTreeMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                options.insert(k, v);
            }
            _ => positional.push(*w),
        }
    }
    (positional, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_a_small_script() {
        let out = run("accounts alice bob\nmarket T\norder alice sell 5 @ 101 as a1\norder bob buy 8 @ 101 tif=ioc\nexpect-position bob T 5\nbook\n")
            .expect("valid scenario");
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert!(
            out.transcript
                .contains("trade T 5 @ 101 taker #3 bob buy maker #2 alice"),
            "{}",
            out.transcript
        );
        assert!(out
            .transcript
            .contains("cancelled #3 bob T qty=3 reason=immediate_remainder"));
    }

    #[test]
    fn errors_name_the_line() {
        let err = run("market T\norder alice buy ten @ 5\n").expect_err("bad integer");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("ten"));
        assert_eq!(run("frobnicate\n").expect_err("unknown").line, 1);
        assert_eq!(
            run("market T\ncancel alice nolabel\n")
                .expect_err("label")
                .line,
            2
        );
    }

    /// Found by the `scenario` fuzz target: a line of `key=value` words only indexed an empty
    /// list of positional words.
    #[test]
    fn a_line_of_options_only_is_an_error() {
        let err = run("market T\ntif=ioc qty=5\n").expect_err("no command");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("no command"), "{}", err.message);
    }

    #[test]
    fn failed_expectations_are_reported() {
        let out = run("market T\nexpect-position alice T 3\n").expect("runs");
        assert_eq!(out.failures.len(), 1);
    }
}
