//! Market specifications: the units every integer in a market is counted in.

use crate::reject::Reject;
use cascade_risk::num::mul3_i64;
use cascade_risk::{Price, Qty, Quote};

/// Identifies a market. Dense: `0..markets_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarketId(pub u16);

/// A decimal step used only for display and decimal parsing at the edges: `mantissa × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DecimalStep {
    /// Integer mantissa (> 0).
    pub mantissa: i64,
    /// Number of decimal places.
    pub scale: u8,
}

/// Everything about a market that fixes the meaning of its integers. Changes only through a
/// sequenced command.
///
/// # Invariants
/// Checked by [`MarketSpec::validate`]: `price_max × qty_max × quote_per_tick_lot` fits in
/// `i64`, so the notional of any valid order cannot overflow, and a level's total of at most
/// `orders_max` orders of `qty_max` lots fits in `i64` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarketSpec {
    /// Market id, dense from 0.
    pub id: MarketId,
    /// Symbol, ASCII, space padded (8 bytes, as in OUCH and ITCH).
    pub symbol: [u8; 8],
    /// Size of one tick in quote currency (display only).
    pub tick: DecimalStep,
    /// Size of one lot in base currency (display only).
    pub lot: DecimalStep,
    /// Quote quantums in the notional of one lot at a price of one tick.
    pub quote_per_tick_lot: i64,
    /// Smallest order notional in quote quantums.
    pub notional_min: Quote,
    /// Largest valid price in ticks.
    pub price_max: Price,
    /// Largest valid order quantity in lots.
    pub qty_max: Qty,
    /// Limit orders must lie within ± this rate of the reference price (when one is set).
    pub band_ppm: u32,
    /// Market orders may walk the book at most ± this rate from the best opposite price.
    pub market_protection_ppm: u32,
}

impl MarketSpec {
    /// Returns the symbol as a trimmed string.
    #[must_use]
    pub fn symbol_str(&self) -> &str {
        let end = self
            .symbol
            .iter()
            .rposition(|b| *b != b' ')
            .map_or(0, |i| i + 1);
        core::str::from_utf8(&self.symbol[..end]).unwrap_or("?")
    }

    /// Pads an ASCII symbol to 8 bytes; `None` when longer or not printable ASCII.
    #[must_use]
    pub fn symbol_from_str(s: &str) -> Option<[u8; 8]> {
        let bytes = s.as_bytes();
        if bytes.is_empty() || bytes.len() > 8 || !bytes.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let mut out = [b' '; 8];
        out[..bytes.len()].copy_from_slice(bytes);
        Some(out)
    }

    /// Checks the spec is internally consistent and that its ranges cannot overflow.
    ///
    /// # Errors
    /// [`Reject::InvalidMarketSpec`] naming no field; the spec is small enough to read.
    pub fn validate(&self, orders_max: u32) -> Result<(), Reject> {
        let positive = self.quote_per_tick_lot > 0
            && self.price_max.0 > 0
            && self.qty_max.0 > 0
            && self.notional_min.0 >= 0
            && self.tick.mantissa > 0
            && self.lot.mantissa > 0
            && self.tick.scale <= 18
            && self.lot.scale <= 18
            && self.band_ppm <= 1_000_000
            && self.market_protection_ppm <= 1_000_000;
        if !positive || Self::symbol_from_str(self.symbol_str()).is_none() {
            return Err(Reject::InvalidMarketSpec);
        }
        // Proof obligations for the unchecked arithmetic downstream.
        let notional_fits =
            mul3_i64(self.price_max.0, self.qty_max.0, self.quote_per_tick_lot).is_some();
        let level_total_fits = self.qty_max.0.checked_mul(i64::from(orders_max)).is_some();
        // Prices move by one tick for post-only slides and by the band for market orders.
        let band_fits = self.price_max.0.checked_mul(2_000_000).is_some();
        if !(notional_fits && level_total_fits && band_fits) {
            return Err(Reject::InvalidMarketSpec);
        }
        Ok(())
    }

    /// Notional of `qty` lots at `price` ticks, in quote quantums.
    ///
    /// # Panics
    /// Never for a price and quantity within the spec's maxima ([`MarketSpec::validate`]).
    #[must_use]
    pub fn notional(&self, price: Price, qty: Qty) -> Quote {
        Quote(
            mul3_i64(price.0, qty.0, self.quote_per_tick_lot)
                .expect("invariant: price_max × qty_max × quote_per_tick_lot fits in i64"),
        )
    }

    /// A BTC-PERP spec like the big venues: tick 0.1 USD, lot 0.001 BTC, quantum 1e-6 USD.
    #[must_use]
    pub fn btc_perp(id: MarketId) -> Self {
        Self {
            id,
            symbol: *b"BTC-PERP",
            tick: DecimalStep {
                mantissa: 1,
                scale: 1,
            },
            lot: DecimalStep {
                mantissa: 1,
                scale: 3,
            },
            // 0.1 USD × 0.001 BTC = 0.0001 USD = 100 quantums of 1e-6.
            quote_per_tick_lot: 100,
            // 5 USD.
            notional_min: Quote(5_000_000),
            // 10,000,000 USD per BTC.
            price_max: Price(100_000_000),
            // 100,000 BTC.
            qty_max: Qty(100_000_000),
            band_ppm: 100_000,
            market_protection_ppm: 50_000,
        }
    }

    /// An ETH-PERP spec: tick 0.01 USD, lot 0.01 ETH, quantum 1e-6 USD.
    #[must_use]
    pub fn eth_perp(id: MarketId) -> Self {
        Self {
            id,
            symbol: *b"ETH-PERP",
            tick: DecimalStep {
                mantissa: 1,
                scale: 2,
            },
            lot: DecimalStep {
                mantissa: 1,
                scale: 2,
            },
            // 0.01 USD × 0.01 ETH = 0.0001 USD = 100 quantums.
            quote_per_tick_lot: 100,
            notional_min: Quote(5_000_000),
            // 1,000,000 USD per ETH.
            price_max: Price(100_000_000),
            // 1,000,000 ETH.
            qty_max: Qty(100_000_000),
            band_ppm: 100_000,
            market_protection_ppm: 50_000,
        }
    }

    /// A unit market for tests and benchmarks: one quantum per tick-lot, no minimum notional,
    /// no band. Prices and quantities are plain integers.
    #[must_use]
    pub fn unit(id: MarketId, symbol: &str) -> Self {
        Self {
            id,
            symbol: Self::symbol_from_str(symbol).unwrap_or(*b"TEST    "),
            tick: DecimalStep {
                mantissa: 1,
                scale: 0,
            },
            lot: DecimalStep {
                mantissa: 1,
                scale: 0,
            },
            quote_per_tick_lot: 1,
            notional_min: Quote(0),
            price_max: Price(1_000_000_000),
            qty_max: Qty(1_000_000_000),
            band_ppm: 1_000_000,
            market_protection_ppm: 1_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_specs_validate() {
        let orders_max = crate::Limits::DEFAULT.orders_max;
        assert_eq!(
            MarketSpec::btc_perp(MarketId(0)).validate(orders_max),
            Ok(())
        );
        assert_eq!(
            MarketSpec::eth_perp(MarketId(1)).validate(orders_max),
            Ok(())
        );
        assert_eq!(
            MarketSpec::unit(MarketId(2), "T").validate(orders_max),
            Ok(())
        );
    }

    #[test]
    fn overflowing_spec_is_rejected() {
        let mut spec = MarketSpec::unit(MarketId(0), "X");
        spec.price_max = Price(i64::MAX / 2);
        assert_eq!(spec.validate(1), Err(Reject::InvalidMarketSpec));
        let mut spec = MarketSpec::unit(MarketId(0), "X");
        spec.quote_per_tick_lot = 0;
        assert_eq!(spec.validate(1), Err(Reject::InvalidMarketSpec));
    }

    #[test]
    fn symbols_pad_and_trim() {
        let s = MarketSpec::symbol_from_str("BTC").expect("ascii");
        assert_eq!(&s, b"BTC     ");
        assert_eq!(MarketSpec::symbol_from_str("TOO-LONG-1"), None);
        assert_eq!(MarketSpec::symbol_from_str("a b"), None);
        let spec = MarketSpec::btc_perp(MarketId(0));
        assert_eq!(spec.symbol_str(), "BTC-PERP");
        // 50,000.0 USD × 1 BTC = 50,000 USD = 5e10 quantums.
        assert_eq!(
            spec.notional(Price(500_000), Qty(1_000)),
            Quote(50_000_000_000)
        );
    }
}
