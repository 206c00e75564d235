//! The markets the gateway knows: symbol lookup and the scales between wire fields and the
//! engine's ticks and lots.
//!
//! # Scales
//! - OUCH `Price` has 4 implied decimals. A market's tick must be a whole number of
//!   0.0001 units (`units_per_tick`), so every tick price has an exact OUCH price and an OUCH
//!   price is a tick price exactly when it divides by `units_per_tick`.
//! - ITCH `Price(4)` carries ticks and ITCH/OUCH quantities carry lots, as `u32`.
//!
//! # Invariants
//! [`MarketRegistry::insert`] admits a spec only if `price_max × units_per_tick` fits in
//! `i64` and `price_max` and `qty_max` fit in `u32`, so every price and quantity of a valid
//! order encodes exactly in OUCH and ITCH.

use cascade_engine::{DecimalStep, MarketId, MarketSpec};
use cascade_risk::{Price, Qty};
use core::fmt;

use super::MapReject;

/// Implied decimals of an OUCH price.
pub const OUCH_PRICE_DECIMALS: u8 = 4;

/// Why a market spec cannot be served on the wire. Stable codes, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum RegistryError {
    /// A market with this id is already registered.
    DuplicateId = 1,
    /// A market with this symbol is already registered.
    DuplicateSymbol = 2,
    /// The symbol is empty or not printable ASCII.
    InvalidSymbol = 3,
    /// The tick is not a whole number of 0.0001 (OUCH's price unit), or not positive.
    TickNotOuchRepresentable = 4,
    /// `price_max` in OUCH units overflows `i64`, or `price_max` ticks overflow ITCH's `u32`.
    PriceRangeNotRepresentable = 5,
    /// `qty_max` lots overflow the `u32` quantity of OUCH and ITCH.
    QtyRangeNotRepresentable = 6,
}

impl RegistryError {
    /// Returns the stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::DuplicateId => "duplicate market id",
            Self::DuplicateSymbol => "duplicate symbol",
            Self::InvalidSymbol => "invalid symbol",
            Self::TickNotOuchRepresentable => "tick is not a whole number of 0.0001",
            Self::PriceRangeNotRepresentable => "price_max does not fit OUCH/ITCH prices",
            Self::QtyRangeNotRepresentable => "qty_max does not fit u32",
        };
        write!(f, "{text} ({})", self.code())
    }
}

impl std::error::Error for RegistryError {}

#[derive(Clone, Copy, Debug)]
struct Entry {
    spec: MarketSpec,
    /// OUCH price units (10^-4) per tick.
    units_per_tick: i64,
}

/// The markets served, by id and by symbol. Few and fixed after start-up; lookups are a dense
/// index and a binary search.
#[derive(Clone, Debug, Default)]
pub struct MarketRegistry {
    by_id: Vec<Option<Entry>>,
    by_symbol: Vec<([u8; 8], MarketId)>,
}

/// OUCH price units per tick, if the tick is a whole number of them.
fn units_per_tick(tick: DecimalStep) -> Option<i64> {
    if tick.mantissa <= 0 {
        return None;
    }
    if tick.scale <= OUCH_PRICE_DECIMALS {
        let factor = 10i64.pow(u32::from(OUCH_PRICE_DECIMALS - tick.scale));
        return tick.mantissa.checked_mul(factor);
    }
    let divisor = 10i64.checked_pow(u32::from(tick.scale - OUCH_PRICE_DECIMALS))?;
    (tick.mantissa % divisor == 0).then(|| tick.mantissa / divisor)
}

impl MarketRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a market.
    ///
    /// # Errors
    /// A [`RegistryError`] when the id or symbol is taken, or the spec's ranges cannot be
    /// carried exactly by OUCH and ITCH fields (see the module's invariants).
    pub fn insert(&mut self, spec: MarketSpec) -> Result<(), RegistryError> {
        if MarketSpec::symbol_from_str(spec.symbol_str()) != Some(spec.symbol) {
            return Err(RegistryError::InvalidSymbol);
        }
        let units = units_per_tick(spec.tick).ok_or(RegistryError::TickNotOuchRepresentable)?;
        let price_fits = spec.price_max.0 > 0
            && spec.price_max.0.checked_mul(units).is_some()
            && u32::try_from(spec.price_max.0).is_ok();
        if !price_fits {
            return Err(RegistryError::PriceRangeNotRepresentable);
        }
        if spec.qty_max.0 <= 0 || u32::try_from(spec.qty_max.0).is_err() {
            return Err(RegistryError::QtyRangeNotRepresentable);
        }
        let index = usize::from(spec.id.0);
        if self.by_id.get(index).is_some_and(Option::is_some) {
            return Err(RegistryError::DuplicateId);
        }
        let slot = match self
            .by_symbol
            .binary_search_by(|(s, _)| s.cmp(&spec.symbol))
        {
            Ok(_) => return Err(RegistryError::DuplicateSymbol),
            Err(slot) => slot,
        };
        self.by_symbol.insert(slot, (spec.symbol, spec.id));
        if self.by_id.len() <= index {
            self.by_id.resize(index + 1, None);
        }
        self.by_id[index] = Some(Entry {
            spec,
            units_per_tick: units,
        });
        Ok(())
    }

    fn entry(&self, id: MarketId) -> Option<&Entry> {
        self.by_id.get(usize::from(id.0))?.as_ref()
    }

    /// The spec of market `id`.
    #[must_use]
    pub fn get(&self, id: MarketId) -> Option<&MarketSpec> {
        self.entry(id).map(|e| &e.spec)
    }

    /// The market with this wire symbol (alpha(8); trailing NULs count as spaces).
    #[must_use]
    pub fn lookup(&self, symbol: &[u8; 8]) -> Option<&MarketSpec> {
        let mut padded = *symbol;
        for b in padded.iter_mut().rev() {
            if *b != 0 {
                break;
            }
            *b = b' ';
        }
        let i = self
            .by_symbol
            .binary_search_by(|(s, _)| s.cmp(&padded))
            .ok()?;
        self.get(self.by_symbol.get(i)?.1)
    }

    /// OUCH price units (0.0001) in one tick of market `id`.
    #[must_use]
    pub fn units_per_tick(&self, id: MarketId) -> Option<i64> {
        self.entry(id).map(|e| e.units_per_tick)
    }

    /// Converts an OUCH price (4 implied decimals) to ticks.
    ///
    /// # Errors
    /// [`MapReject::UnknownSymbol`] for an unregistered market;
    /// [`MapReject::PriceNotTickMultiple`] when the price is not a whole number of ticks. A
    /// zero or negative price converts (to ≤ 0 ticks) and is left to the engine to reject.
    pub fn ouch_price_to_ticks(&self, id: MarketId, price: i64) -> Result<Price, MapReject> {
        let units = self.units_per_tick(id).ok_or(MapReject::UnknownSymbol)?;
        // `units > 0` by construction, so neither operation can overflow or divide by zero.
        if price % units != 0 {
            return Err(MapReject::PriceNotTickMultiple);
        }
        Ok(Price(price / units))
    }

    /// Converts ticks to an OUCH price. Exact for every price up to the market's `price_max`;
    /// a price beyond it (never that of a valid order) saturates. 0 for an unknown market.
    #[must_use]
    pub fn ticks_to_ouch_price(&self, id: MarketId, price: Price) -> i64 {
        self.units_per_tick(id)
            .map_or(0, |units| price.0.saturating_mul(units))
    }
}

/// Converts a price in ticks to ITCH's `u32`. Exact for every price of a resting order
/// (`0 < price ≤ price_max ≤ u32::MAX`, checked by [`MarketRegistry::insert`]); saturates
/// otherwise.
#[must_use]
pub fn ticks_to_u32(price: Price) -> u32 {
    u32::try_from(price.0.max(0)).unwrap_or(u32::MAX)
}

/// Converts lots to the `u32` quantity of OUCH and ITCH. Exact for every order quantity
/// (`qty ≤ qty_max ≤ u32::MAX`, checked by [`MarketRegistry::insert`]); saturates otherwise.
#[must_use]
pub fn lots_to_u32(qty: Qty) -> u32 {
    u32::try_from(qty.0.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(mantissa: i64, scale: u8) -> DecimalStep {
        DecimalStep { mantissa, scale }
    }

    #[test]
    fn units_per_tick_is_exact() {
        assert_eq!(units_per_tick(step(1, 1)), Some(1_000));
        assert_eq!(units_per_tick(step(1, 2)), Some(100));
        assert_eq!(units_per_tick(step(5, 1)), Some(5_000));
        assert_eq!(units_per_tick(step(1, 4)), Some(1));
        assert_eq!(units_per_tick(step(100, 6)), Some(1));
        assert_eq!(units_per_tick(step(1, 5)), None);
        assert_eq!(units_per_tick(step(25, 0)), Some(250_000));
        assert_eq!(units_per_tick(step(0, 0)), None);
    }

    #[test]
    fn btc_prices_convert_both_ways() {
        let mut registry = MarketRegistry::new();
        registry
            .insert(MarketSpec::btc_perp(MarketId(0)))
            .expect("btc fits");
        registry
            .insert(MarketSpec::eth_perp(MarketId(1)))
            .expect("eth fits");
        let btc = registry.lookup(b"BTC-PERP").expect("registered");
        assert_eq!(btc.id, MarketId(0));
        assert_eq!(
            registry.lookup(b"ETH-PERP").map(|s| s.id),
            Some(MarketId(1))
        );
        assert!(registry.lookup(b"SOL-PERP").is_none());
        // 65,002.0 USD is 650,020 ticks of 0.1, and 650,020,000 OUCH units.
        assert_eq!(
            registry.ouch_price_to_ticks(MarketId(0), 650_020_000),
            Ok(Price(650_020))
        );
        assert_eq!(
            registry.ticks_to_ouch_price(MarketId(0), Price(650_020)),
            650_020_000
        );
        // 65,002.05 is not a whole number of 0.1 ticks.
        assert_eq!(
            registry.ouch_price_to_ticks(MarketId(0), 650_020_500),
            Err(MapReject::PriceNotTickMultiple)
        );
        assert_eq!(
            registry.ouch_price_to_ticks(MarketId(0), -1_000),
            Ok(Price(-1))
        );
        assert_eq!(
            registry.ouch_price_to_ticks(MarketId(9), 1_000),
            Err(MapReject::UnknownSymbol)
        );
    }

    #[test]
    fn unrepresentable_specs_are_refused() {
        let mut registry = MarketRegistry::new();
        let btc = MarketSpec::btc_perp(MarketId(0));
        registry.insert(btc).expect("fits");
        assert_eq!(registry.insert(btc), Err(RegistryError::DuplicateId));
        let mut other = MarketSpec::btc_perp(MarketId(1));
        assert_eq!(registry.insert(other), Err(RegistryError::DuplicateSymbol));
        other.symbol = *b"XBT-PERP";
        other.tick = step(1, 5);
        assert_eq!(
            registry.insert(other),
            Err(RegistryError::TickNotOuchRepresentable)
        );
        other.tick = step(1, 1);
        other.price_max = Price(i64::from(u32::MAX) + 1);
        assert_eq!(
            registry.insert(other),
            Err(RegistryError::PriceRangeNotRepresentable)
        );
        other.price_max = Price(1_000);
        other.qty_max = Qty(i64::from(u32::MAX) + 1);
        assert_eq!(
            registry.insert(other),
            Err(RegistryError::QtyRangeNotRepresentable)
        );
        other.qty_max = Qty(1_000);
        other.symbol = *b"x y     ";
        assert_eq!(registry.insert(other), Err(RegistryError::InvalidSymbol));
        assert_eq!(ticks_to_u32(Price(-5)), 0);
        assert_eq!(lots_to_u32(Qty(i64::MAX)), u32::MAX);
    }

    #[test]
    fn nul_padded_symbols_match() {
        let mut registry = MarketRegistry::new();
        registry
            .insert(MarketSpec::unit(MarketId(3), "T"))
            .expect("fits");
        assert_eq!(
            registry.lookup(b"T\0\0\0\0\0\0\0").map(|s| s.id),
            Some(MarketId(3))
        );
    }
}
