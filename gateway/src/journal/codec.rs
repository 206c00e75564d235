//! The record payload: an explicit, versioned binary encoding of `Sequenced<Command>`.
//!
//! Written by hand rather than derived, so that the bytes on disk are a documented format that
//! a refactor of the engine's types cannot change by accident. Every integer is fixed-width
//! little-endian; the layout of every command is in `docs/DURABILITY.md`.
//!
//! # Layout
//! ```text
//! offset  size  field
//!      0     1  payload version (PAYLOAD_VERSION = 1)
//!      1     8  seq    u64
//!      9     8  ts_ns  u64
//!     17     1  command tag (stable, never reused; see `tag`)
//!     18     …  command body
//! ```
//!
//! # Invariants
//! The encoding is canonical: `decode` accepts exactly the bytes `encode` produces, so
//! `encode(decode(b)) == b` for every `b` that decodes. Flags are 0 or 1; an absent option is
//! a 0 flag followed by zeros; no trailing bytes. Decoding never panics: any input is either a
//! command or a [`Corruption`].

use cascade_engine::account::MarginMode;
use cascade_engine::risk_params::{AdlPolicy, FundingNotional, MarkSource, RiskParams};
use cascade_engine::{
    AccountId, Command, DecimalStep, MarketId, MarketSpec, NewOrder, OrderId, OrderKind,
    SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::margin::{MarginTiers, TierSpec, TIERS_MAX};
use cascade_risk::{Ppm, Price, Qty, Quote};

use super::error::Corruption;

/// Version of the payload encoding written by this build.
pub const PAYLOAD_VERSION: u8 = 1;

/// Bytes before the command body: version, seq, ts_ns, tag.
pub const PAYLOAD_HEADER_LEN: usize = 18;

/// The largest payload this build writes: `SetRiskParams` with [`TIERS_MAX`] tiers is
/// 18 + 2 + 1 + 64 × 16 + 91 = 1,136 bytes; the bound leaves room for later versions.
pub const PAYLOAD_MAX: usize = 4096;

/// Stable command tags. Never renumbered, never reused.
pub mod tag {
    /// `Command::AddMarket`.
    pub const ADD_MARKET: u8 = 1;
    /// `Command::SetReferencePrice`.
    pub const SET_REFERENCE_PRICE: u8 = 2;
    /// `Command::Place`.
    pub const PLACE: u8 = 3;
    /// `Command::Cancel`.
    pub const CANCEL: u8 = 4;
    /// `Command::Amend`.
    pub const AMEND: u8 = 5;
    /// `Command::MassCancelAccount`.
    pub const MASS_CANCEL_ACCOUNT: u8 = 6;
    /// `Command::MassCancelMarket`.
    pub const MASS_CANCEL_MARKET: u8 = 7;
    /// `Command::Deposit`.
    pub const DEPOSIT: u8 = 8;
    /// `Command::Withdraw`.
    pub const WITHDRAW: u8 = 9;
    /// `Command::SetLeverage`.
    pub const SET_LEVERAGE: u8 = 10;
    /// `Command::SetMarginMode`.
    pub const SET_MARGIN_MODE: u8 = 11;
    /// `Command::TransferIsolatedMargin`.
    pub const TRANSFER_ISOLATED_MARGIN: u8 = 12;
    /// `Command::SetRiskParams`.
    pub const SET_RISK_PARAMS: u8 = 13;
    /// `Command::SetIndexPrice`.
    pub const SET_INDEX_PRICE: u8 = 14;
    /// `Command::FundingTick`.
    pub const FUNDING_TICK: u8 = 15;
    /// `Command::SetBackstopAccount`.
    pub const SET_BACKSTOP_ACCOUNT: u8 = 16;
    /// `Command::InsuranceDeposit`.
    pub const INSURANCE_DEPOSIT: u8 = 17;
    /// The highest tag in use.
    pub const MAX: u8 = 17;
}

/// The stable tag of a command. Exhaustive, so a new command variant does not compile until it
/// has a tag and an encoding.
#[must_use]
pub fn command_tag(command: &Command) -> u8 {
    match command {
        Command::AddMarket(_) => tag::ADD_MARKET,
        Command::SetReferencePrice { .. } => tag::SET_REFERENCE_PRICE,
        Command::Place(_) => tag::PLACE,
        Command::Cancel { .. } => tag::CANCEL,
        Command::Amend { .. } => tag::AMEND,
        Command::MassCancelAccount { .. } => tag::MASS_CANCEL_ACCOUNT,
        Command::MassCancelMarket { .. } => tag::MASS_CANCEL_MARKET,
        Command::Deposit { .. } => tag::DEPOSIT,
        Command::Withdraw { .. } => tag::WITHDRAW,
        Command::SetLeverage { .. } => tag::SET_LEVERAGE,
        Command::SetMarginMode { .. } => tag::SET_MARGIN_MODE,
        Command::TransferIsolatedMargin { .. } => tag::TRANSFER_ISOLATED_MARGIN,
        Command::SetRiskParams { .. } => tag::SET_RISK_PARAMS,
        Command::SetIndexPrice { .. } => tag::SET_INDEX_PRICE,
        Command::FundingTick { .. } => tag::FUNDING_TICK,
        Command::SetBackstopAccount { .. } => tag::SET_BACKSTOP_ACCOUNT,
        Command::InsuranceDeposit { .. } => tag::INSURANCE_DEPOSIT,
    }
}

/// Appends the payload of `cmd` to `out`. Returns the number of bytes written, at most
/// [`PAYLOAD_MAX`].
pub fn encode(cmd: &Sequenced<Command>, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let mut w = Writer(out);
    w.u8(PAYLOAD_VERSION);
    w.u64(cmd.seq);
    w.u64(cmd.ts_ns);
    w.u8(command_tag(&cmd.command));
    encode_body(&mut w, &cmd.command);
    let len = out.len() - start;
    assert!(
        (PAYLOAD_HEADER_LEN..=PAYLOAD_MAX).contains(&len),
        "invariant: every command encodes within PAYLOAD_MAX ({len} bytes)"
    );
    len
}

fn encode_body(w: &mut Writer<'_>, command: &Command) {
    match command {
        Command::AddMarket(spec) => encode_spec(w, spec),
        Command::SetReferencePrice { market, price } => {
            w.u16(market.0);
            w.i64(price.0);
        }
        Command::Place(o) => encode_order(w, o),
        Command::Cancel { account, order_id } => {
            w.u32(account.0);
            w.u64(order_id.0);
        }
        Command::Amend {
            account,
            order_id,
            price,
            qty,
        } => {
            w.u32(account.0);
            w.u64(order_id.0);
            w.i64(price.0);
            w.i64(qty.0);
        }
        Command::MassCancelAccount { account, market } => {
            w.u32(account.0);
            w.flag(market.is_some());
            w.u16(market.map_or(0, |m| m.0));
        }
        Command::MassCancelMarket { market } | Command::FundingTick { market } => w.u16(market.0),
        Command::Deposit { account, amount } | Command::Withdraw { account, amount } => {
            w.u32(account.0);
            w.i64(amount.0);
        }
        Command::SetLeverage {
            account,
            market,
            leverage,
        } => {
            w.u32(account.0);
            w.u16(market.0);
            w.u16(*leverage);
        }
        Command::SetMarginMode {
            account,
            market,
            mode,
        } => {
            w.u32(account.0);
            w.u16(market.0);
            w.u8(margin_mode_code(*mode));
        }
        Command::TransferIsolatedMargin {
            account,
            market,
            amount,
        } => {
            w.u32(account.0);
            w.u16(market.0);
            w.i64(amount.0);
        }
        Command::SetRiskParams { market, params } => {
            w.u16(market.0);
            encode_risk_params(w, params);
        }
        Command::SetIndexPrice {
            market,
            index,
            external_mark,
        } => {
            w.u16(market.0);
            w.i64(index.0);
            w.flag(external_mark.is_some());
            w.i64(external_mark.map_or(0, |p| p.0));
        }
        Command::SetBackstopAccount { account } => {
            w.flag(account.is_some());
            w.u32(account.map_or(0, |a| a.0));
        }
        Command::InsuranceDeposit { amount } => w.i64(amount.0),
    }
}

fn encode_spec(w: &mut Writer<'_>, spec: &MarketSpec) {
    w.u16(spec.id.0);
    w.bytes(&spec.symbol);
    w.i64(spec.tick.mantissa);
    w.u8(spec.tick.scale);
    w.i64(spec.lot.mantissa);
    w.u8(spec.lot.scale);
    w.i64(spec.quote_per_tick_lot);
    w.i64(spec.notional_min.0);
    w.i64(spec.price_max.0);
    w.i64(spec.qty_max.0);
    w.u32(spec.band_ppm);
    w.u32(spec.market_protection_ppm);
}

fn encode_order(w: &mut Writer<'_>, o: &NewOrder) {
    w.u32(o.account.0);
    w.u16(o.market.0);
    w.u64(o.client_ref);
    w.u8(side_code(o.side));
    w.u8(match o.kind {
        OrderKind::Limit => 0,
        OrderKind::Market => 1,
    });
    w.i64(o.price.0);
    w.i64(o.qty.0);
    w.u8(match o.tif {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Fok => 2,
        TimeInForce::PostOnly => 3,
        TimeInForce::PostOnlySlide => 4,
    });
    w.flag(o.reduce_only);
    w.u8(match o.stp {
        SelfTradePrevention::Allow => 0,
        SelfTradePrevention::ExpireTaker => 1,
        SelfTradePrevention::ExpireMaker => 2,
        SelfTradePrevention::ExpireBoth => 3,
    });
}

fn encode_risk_params(w: &mut Writer<'_>, p: &RiskParams) {
    let tiers = p.tiers.tiers();
    // MarginTiers::new refuses more than TIERS_MAX (64) rows, so the count fits a byte.
    let count = u8::try_from(tiers.len()).expect("invariant: at most TIERS_MAX tiers");
    w.u8(count);
    for t in tiers {
        w.i64(t.notional_floor().0);
        w.i32(t.mmr().0);
        w.u32(t.leverage_max());
    }
    w.i32(p.fee_ppm_maker);
    w.i32(p.fee_ppm_taker);
    w.u32(p.liquidation_fee_ppm);
    w.i64(p.slice_notional_min.0);
    w.u32(p.slice_ppm);
    w.u64(p.cooldown_ns);
    w.u32(p.backstop_ppm);
    w.u32(p.insurance_slippage_ppm);
    w.u8(match p.adl {
        AdlPolicy::Queue => 0,
        AdlPolicy::ProRata => 1,
        AdlPolicy::Off => 2,
    });
    w.u64(p.funding_interval_ns);
    w.i64(p.funding_interest_ppb);
    w.i64(p.funding_clamp_ppb);
    w.i64(p.funding_cap_ppb);
    w.i64(p.funding_impact_notional.0);
    w.u8(match p.funding_notional {
        FundingNotional::Index => 0,
        FundingNotional::Mark => 1,
    });
    w.u8(match p.mark_source {
        MarkSource::Median => 0,
        MarkSource::Index => 1,
    });
    w.u32(p.mark_basis_ppm);
    w.u32(p.mark_clamp_ppm);
    w.i64(p.position_lots_max);
}

fn side_code(side: Side) -> u8 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

fn margin_mode_code(mode: MarginMode) -> u8 {
    match mode {
        MarginMode::Cross => 0,
        MarginMode::Isolated => 1,
    }
}

/// Decodes one payload.
///
/// # Errors
/// The [`Corruption`] that describes the first problem; never panics on any input.
pub fn decode(payload: &[u8]) -> Result<Sequenced<Command>, Corruption> {
    let mut r = Reader(payload);
    if r.u8()? != PAYLOAD_VERSION {
        return Err(Corruption::PayloadVersion);
    }
    let seq = r.u64()?;
    let ts_ns = r.u64()?;
    let command = decode_body(&mut r)?;
    if !r.0.is_empty() {
        return Err(Corruption::PayloadTrailing);
    }
    Ok(Sequenced {
        seq,
        ts_ns,
        command,
    })
}

fn decode_body(r: &mut Reader<'_>) -> Result<Command, Corruption> {
    let command = match r.u8()? {
        tag::ADD_MARKET => Command::AddMarket(Box::new(decode_spec(r)?)),
        tag::SET_REFERENCE_PRICE => Command::SetReferencePrice {
            market: r.market()?,
            price: Price(r.i64()?),
        },
        tag::PLACE => Command::Place(decode_order(r)?),
        tag::CANCEL => Command::Cancel {
            account: r.account()?,
            order_id: OrderId(r.u64()?),
        },
        tag::AMEND => Command::Amend {
            account: r.account()?,
            order_id: OrderId(r.u64()?),
            price: Price(r.i64()?),
            qty: Qty(r.i64()?),
        },
        tag::MASS_CANCEL_ACCOUNT => {
            let account = r.account()?;
            let present = r.flag()?;
            let market = r.optional(present, Reader::market)?;
            Command::MassCancelAccount { account, market }
        }
        tag::MASS_CANCEL_MARKET => Command::MassCancelMarket {
            market: r.market()?,
        },
        tag::DEPOSIT => Command::Deposit {
            account: r.account()?,
            amount: Quote(r.i64()?),
        },
        tag::WITHDRAW => Command::Withdraw {
            account: r.account()?,
            amount: Quote(r.i64()?),
        },
        tag::SET_LEVERAGE => Command::SetLeverage {
            account: r.account()?,
            market: r.market()?,
            leverage: r.u16()?,
        },
        tag::SET_MARGIN_MODE => Command::SetMarginMode {
            account: r.account()?,
            market: r.market()?,
            mode: match r.u8()? {
                0 => MarginMode::Cross,
                1 => MarginMode::Isolated,
                _ => return Err(Corruption::EnumValue),
            },
        },
        tag::TRANSFER_ISOLATED_MARGIN => Command::TransferIsolatedMargin {
            account: r.account()?,
            market: r.market()?,
            amount: Quote(r.i64()?),
        },
        tag::SET_RISK_PARAMS => Command::SetRiskParams {
            market: r.market()?,
            params: Box::new(decode_risk_params(r)?),
        },
        tag::SET_INDEX_PRICE => {
            let market = r.market()?;
            let index = Price(r.i64()?);
            let present = r.flag()?;
            let external_mark = r.optional(present, |r| r.i64().map(Price))?;
            Command::SetIndexPrice {
                market,
                index,
                external_mark,
            }
        }
        tag::FUNDING_TICK => Command::FundingTick {
            market: r.market()?,
        },
        tag::SET_BACKSTOP_ACCOUNT => {
            let present = r.flag()?;
            Command::SetBackstopAccount {
                account: r.optional(present, Reader::account)?,
            }
        }
        tag::INSURANCE_DEPOSIT => Command::InsuranceDeposit {
            amount: Quote(r.i64()?),
        },
        _ => return Err(Corruption::CommandTag),
    };
    Ok(command)
}

fn decode_spec(r: &mut Reader<'_>) -> Result<MarketSpec, Corruption> {
    Ok(MarketSpec {
        id: r.market()?,
        symbol: r.array()?,
        tick: DecimalStep {
            mantissa: r.i64()?,
            scale: r.u8()?,
        },
        lot: DecimalStep {
            mantissa: r.i64()?,
            scale: r.u8()?,
        },
        quote_per_tick_lot: r.i64()?,
        notional_min: Quote(r.i64()?),
        price_max: Price(r.i64()?),
        qty_max: Qty(r.i64()?),
        band_ppm: r.u32()?,
        market_protection_ppm: r.u32()?,
    })
}

fn decode_order(r: &mut Reader<'_>) -> Result<NewOrder, Corruption> {
    Ok(NewOrder {
        account: r.account()?,
        market: r.market()?,
        client_ref: r.u64()?,
        side: match r.u8()? {
            0 => Side::Buy,
            1 => Side::Sell,
            _ => return Err(Corruption::EnumValue),
        },
        kind: match r.u8()? {
            0 => OrderKind::Limit,
            1 => OrderKind::Market,
            _ => return Err(Corruption::EnumValue),
        },
        price: Price(r.i64()?),
        qty: Qty(r.i64()?),
        tif: match r.u8()? {
            0 => TimeInForce::Gtc,
            1 => TimeInForce::Ioc,
            2 => TimeInForce::Fok,
            3 => TimeInForce::PostOnly,
            4 => TimeInForce::PostOnlySlide,
            _ => return Err(Corruption::EnumValue),
        },
        reduce_only: r.flag()?,
        stp: match r.u8()? {
            0 => SelfTradePrevention::Allow,
            1 => SelfTradePrevention::ExpireTaker,
            2 => SelfTradePrevention::ExpireMaker,
            3 => SelfTradePrevention::ExpireBoth,
            _ => return Err(Corruption::EnumValue),
        },
    })
}

fn decode_risk_params(r: &mut Reader<'_>) -> Result<RiskParams, Corruption> {
    let count = usize::from(r.u8()?);
    if count == 0 || count > TIERS_MAX {
        return Err(Corruption::MarginTiers);
    }
    let mut rows = Vec::with_capacity(count);
    for _ in 0..count {
        rows.push(TierSpec::new(Quote(r.i64()?), Ppm(r.i32()?), r.u32()?));
    }
    // The table is validated and its deductions recomputed, exactly as when it was built.
    let tiers = MarginTiers::new(&rows).map_err(|_| Corruption::MarginTiers)?;
    Ok(RiskParams {
        tiers,
        fee_ppm_maker: r.i32()?,
        fee_ppm_taker: r.i32()?,
        liquidation_fee_ppm: r.u32()?,
        slice_notional_min: Quote(r.i64()?),
        slice_ppm: r.u32()?,
        cooldown_ns: r.u64()?,
        backstop_ppm: r.u32()?,
        insurance_slippage_ppm: r.u32()?,
        adl: match r.u8()? {
            0 => AdlPolicy::Queue,
            1 => AdlPolicy::ProRata,
            2 => AdlPolicy::Off,
            _ => return Err(Corruption::EnumValue),
        },
        funding_interval_ns: r.u64()?,
        funding_interest_ppb: r.i64()?,
        funding_clamp_ppb: r.i64()?,
        funding_cap_ppb: r.i64()?,
        funding_impact_notional: Quote(r.i64()?),
        funding_notional: match r.u8()? {
            0 => FundingNotional::Index,
            1 => FundingNotional::Mark,
            _ => return Err(Corruption::EnumValue),
        },
        mark_source: match r.u8()? {
            0 => MarkSource::Median,
            1 => MarkSource::Index,
            _ => return Err(Corruption::EnumValue),
        },
        mark_basis_ppm: r.u32()?,
        mark_clamp_ppm: r.u32()?,
        position_lots_max: r.i64()?,
    })
}

/// Little-endian fixed-width writes.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }
    fn flag(&mut self, x: bool) {
        self.0.push(u8::from(x));
    }
    fn u16(&mut self, x: u16) {
        self.bytes(&x.to_le_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }
    fn i32(&mut self, x: i32) {
        self.bytes(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
    fn i64(&mut self, x: i64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// Bounds-checked little-endian reads over the rest of a payload.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Corruption> {
        let Some((head, rest)) = self.0.split_first_chunk::<N>() else {
            return Err(Corruption::PayloadTruncated);
        };
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, Corruption> {
        self.array::<1>().map(|[b]| b)
    }
    fn flag(&mut self) -> Result<bool, Corruption> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Corruption::FlagValue),
        }
    }
    fn u16(&mut self) -> Result<u16, Corruption> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, Corruption> {
        self.array().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Result<i32, Corruption> {
        self.array().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, Corruption> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, Corruption> {
        self.array().map(i64::from_le_bytes)
    }
    fn market(&mut self) -> Result<MarketId, Corruption> {
        self.u16().map(MarketId)
    }
    fn account(&mut self) -> Result<AccountId, Corruption> {
        self.u32().map(AccountId)
    }

    /// Reads an option's value field: the value when `present`, else a field that must be
    /// all zero (so the encoding stays canonical).
    fn optional<T>(
        &mut self,
        present: bool,
        read: impl FnOnce(&mut Self) -> Result<T, Corruption>,
    ) -> Result<Option<T>, Corruption> {
        let before = self.0;
        let value = read(self)?;
        let consumed = &before[..before.len() - self.0.len()];
        if present {
            Ok(Some(value))
        } else if consumed.iter().all(|b| *b == 0) {
            Ok(None)
        } else {
            Err(Corruption::FlagValue)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(command: Command) {
        let cmd = Sequenced {
            seq: 42,
            ts_ns: 1_700_000_000_000_000_000,
            command,
        };
        let mut buf = Vec::new();
        let len = encode(&cmd, &mut buf);
        assert_eq!(len, buf.len());
        assert_eq!(decode(&buf), Ok(cmd));
        // Every strict prefix is truncated, never a panic and never a command.
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "prefix {cut} decoded");
        }
        buf.push(0);
        assert_eq!(decode(&buf), Err(Corruption::PayloadTrailing));
    }

    #[test]
    fn largest_command_fits_the_bound() {
        let rows: Vec<TierSpec> = (0..TIERS_MAX)
            .map(|i| {
                let i = i64::try_from(i).expect("small");
                TierSpec::new(Quote(i * 1_000), Ppm(100), 10)
            })
            .collect();
        let mut params = RiskParams::simple(100, 10);
        params.tiers = MarginTiers::new(&rows).expect("valid");
        let cmd = Sequenced {
            seq: 1,
            ts_ns: 1,
            command: Command::SetRiskParams {
                market: MarketId(0),
                params: Box::new(params),
            },
        };
        let mut buf = Vec::new();
        assert_eq!(encode(&cmd, &mut buf), 1_144);
        assert_eq!(decode(&buf), Ok(cmd));
    }

    #[test]
    fn absent_option_with_a_value_is_refused() {
        round_trip(Command::SetBackstopAccount { account: None });
        let cmd = Sequenced {
            seq: 1,
            ts_ns: 1,
            command: Command::SetBackstopAccount { account: None },
        };
        let mut buf = Vec::new();
        encode(&cmd, &mut buf);
        let last = buf.len() - 1;
        buf[last] = 1;
        assert_eq!(decode(&buf), Err(Corruption::FlagValue));
        buf[last] = 0;
        buf[PAYLOAD_HEADER_LEN] = 2;
        assert_eq!(decode(&buf), Err(Corruption::FlagValue));
    }

    #[test]
    fn unknown_version_and_tag_are_refused() {
        let cmd = Sequenced {
            seq: 1,
            ts_ns: 1,
            command: Command::FundingTick {
                market: MarketId(3),
            },
        };
        let mut buf = Vec::new();
        encode(&cmd, &mut buf);
        let mut bad = buf.clone();
        bad[0] = 2;
        assert_eq!(decode(&bad), Err(Corruption::PayloadVersion));
        let mut bad = buf.clone();
        bad[17] = tag::MAX + 1;
        assert_eq!(decode(&bad), Err(Corruption::CommandTag));
        bad[17] = 0;
        assert_eq!(decode(&bad), Err(Corruption::CommandTag));
    }

    #[test]
    fn simple_commands_round_trip() {
        round_trip(Command::FundingTick {
            market: MarketId(7),
        });
        round_trip(Command::MassCancelAccount {
            account: AccountId(3),
            market: None,
        });
        round_trip(Command::MassCancelAccount {
            account: AccountId(3),
            market: Some(MarketId(0)),
        });
    }
}
