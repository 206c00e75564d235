//! The native perp channel: what OUCH and ITCH cannot say (collateral, leverage, margin mode,
//! isolated margin, index and mark prices, funding, liquidations, backstop, auto-deleveraging,
//! the insurance fund), in the same SoupBinTCP framing.
//!
//! # Layout
//! One message per SoupBinTCP packet (`U` inbound, `S` outbound). Each is a 1-byte type and
//! fixed-size big-endian fields; there is no variable part. Inbound types are lower-case
//! letters, outbound types upper-case, so a capture reads at a glance.
//!
//! Fields are in the engine's own integer units, never decimals: prices in **ticks**,
//! quantities in **lots**, money in **quote quantums**, funding rates in parts per billion,
//! `Symbol` alpha(8). The Instrument message (`I`) publishes each market's tick, lot and
//! quantum. `Timestamp` is nanoseconds since the Unix epoch (perps trade through midnight).
//! `Account` 0xFFFF_FFFF means "none" where a field is optional.
//!
//! Every message, with byte offsets, is in `docs/PROTOCOL.md` and on its struct below.
//!
//! # Correlation
//! Every inbound message carries a client-chosen `RequestRef`. The command's outcome comes back
//! as Request Done (`A`) or Request Rejected (`J`) with that reference, after the events the
//! command caused.

use super::error::CodecError;
use super::wire::{exact_len, Reader, Writer};

/// `Account` value meaning "no account" (Set Backstop, Backstop Set).
pub const ACCOUNT_NONE: u32 = u32::MAX;

/// Margin mode values.
pub mod margin_mode {
    /// Cross margin.
    pub const CROSS: u8 = b'C';
    /// Isolated margin.
    pub const ISOLATED: u8 = b'I';
}

/// Collateral change kinds.
pub mod collateral_kind {
    /// A deposit.
    pub const DEPOSIT: u8 = b'D';
    /// A withdrawal.
    pub const WITHDRAWAL: u8 = b'W';
}

/// A fixed-size big-endian field.
trait Field: Sized {
    const LEN: usize;
    fn put(&self, w: &mut Writer<'_>) -> Result<(), CodecError>;
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError>;
}

macro_rules! field_int {
    ($ty:ty, $len:literal, $method:ident) => {
        impl Field for $ty {
            const LEN: usize = $len;
            fn put(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
                w.$method(*self)
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
                r.$method()
            }
        }
    };
}

field_int!(u8, 1, u8);
field_int!(u16, 2, u16);
field_int!(u32, 4, u32);
field_int!(u64, 8, u64);
field_int!(i64, 8, i64);

impl Field for [u8; 8] {
    const LEN: usize = 8;
    fn put(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.bytes(self)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        r.array()
    }
}

/// Defines the message structs of one direction, their enum, and its codec. Each message lists
/// its type byte, its total size (checked at compile time against its fields) and its fields in
/// wire order.
macro_rules! messages {
    (
        $(#[$enum_meta:meta])*
        $enum:ident, $types:ident {
            $(
                $(#[$meta:meta])*
                $variant:ident / $constant:ident = $code:literal, $len:literal {
                    $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
                }
            )*
        }
    ) => {
        /// Message type bytes.
        pub mod $types {
            $(
                #[doc = concat!("[`super::", stringify!($variant), "`].")]
                pub const $constant: u8 = $code;
            )*
        }

        $(
            $(#[$meta])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct $variant {
                $( $(#[$field_meta])* pub $field: $ty, )*
            }

            impl $variant {
                /// Size on the wire, type byte included.
                pub const LEN: usize = $len;
            }

            const _: () = assert!(1 $( + <$ty as Field>::LEN )* == $len);
        )*

        $(#[$enum_meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $enum {
            $( $(#[$meta])* $variant($variant), )*
        }

        impl $enum {
            /// The message type byte.
            #[must_use]
            pub const fn kind(&self) -> u8 {
                match self {
                    $( Self::$variant(_) => $code, )*
                }
            }

            /// Bytes on the wire.
            #[must_use]
            pub const fn encoded_len(&self) -> usize {
                match self {
                    $( Self::$variant(_) => $len, )*
                }
            }

            /// Encodes at the front of `out`; returns the bytes written.
            ///
            /// # Errors
            /// [`CodecError::BufferTooSmall`] when `out` is too short.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
                let mut w = Writer::with_len(out, self.encoded_len())?;
                w.u8(self.kind())?;
                match self {
                    $( Self::$variant(m) => { $( m.$field.put(&mut w)?; )* } )*
                }
                Ok(w.position())
            }

            /// Decodes one message (the whole payload of one SoupBinTCP data packet).
            ///
            /// # Errors
            /// [`CodecError::Empty`], [`CodecError::UnknownMessageType`],
            /// [`CodecError::Truncated`], [`CodecError::TrailingBytes`].
            pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
                let kind = *buf.first().ok_or(CodecError::Empty)?;
                let mut r = Reader::new(buf);
                r.u8()?;
                match kind {
                    $(
                        $code => {
                            exact_len(buf, $len)?;
                            Ok(Self::$variant($variant {
                                $( $field: <$ty as Field>::get(&mut r)?, )*
                            }))
                        }
                    )*
                    other => Err(CodecError::UnknownMessageType { kind: other }),
                }
            }
        }
    };
}

messages! {
    /// A native message from a client (trading session or operator).
    Inbound, inbound_type {
        /// `d` Deposit (17): RequestRef 1:4, Account 5:4, Amount 9:8 (quantums, > 0).
        Deposit / DEPOSIT = b'd', 17 {
            /// Client correlation id.
            request_ref: u32,
            /// Account credited.
            account: u32,
            /// Quote quantums.
            amount: i64,
        }
        /// `w` Withdraw (17): RequestRef 1:4, Account 5:4, Amount 9:8 (quantums, > 0).
        Withdraw / WITHDRAW = b'w', 17 {
            /// Client correlation id.
            request_ref: u32,
            /// Account debited.
            account: u32,
            /// Quote quantums.
            amount: i64,
        }
        /// `l` Set Leverage (19): RequestRef 1:4, Account 5:4, Symbol 9:8, Leverage 17:2.
        SetLeverage / SET_LEVERAGE = b'l', 19 {
            /// Client correlation id.
            request_ref: u32,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// 1 ..= the market's first-tier maximum.
            leverage: u16,
        }
        /// `g` Set Margin Mode (18): RequestRef 1:4, Account 5:4, Symbol 9:8, Mode 17:1
        /// (`C` cross, `I` isolated).
        SetMarginMode / SET_MARGIN_MODE = b'g', 18 {
            /// Client correlation id.
            request_ref: u32,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// [`margin_mode`].
            mode: u8,
        }
        /// `t` Transfer Isolated Margin (25): RequestRef 1:4, Account 5:4, Symbol 9:8,
        /// Amount 17:8 (signed quantums: + into the position, − out).
        TransferIsolatedMargin / TRANSFER_ISOLATED_MARGIN = b't', 25 {
            /// Client correlation id.
            request_ref: u32,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// Signed quote quantums.
            amount: i64,
        }
        /// `x` Set Index Price, operator (29): RequestRef 1:4, Symbol 5:8, Index 13:8 (ticks),
        /// ExternalMark 21:8 (ticks; 0 = none).
        SetIndexPrice / SET_INDEX_PRICE = b'x', 29 {
            /// Client correlation id.
            request_ref: u32,
            /// Market.
            symbol: [u8; 8],
            /// Index price in ticks.
            index: i64,
            /// External perp mark in ticks, 0 when none.
            external_mark: i64,
        }
        /// `f` Funding Tick, operator (13): RequestRef 1:4, Symbol 5:8.
        FundingTick / FUNDING_TICK = b'f', 13 {
            /// Client correlation id.
            request_ref: u32,
            /// Market.
            symbol: [u8; 8],
        }
        /// `k` Set Backstop, operator (9): RequestRef 1:4, Account 5:4 (0xFFFFFFFF = none).
        SetBackstop / SET_BACKSTOP = b'k', 9 {
            /// Client correlation id.
            request_ref: u32,
            /// The vault account, or [`ACCOUNT_NONE`].
            account: u32,
        }
        /// `n` Insurance Deposit, operator (13): RequestRef 1:4, Amount 5:8 (quantums, > 0).
        InsuranceDeposit / INSURANCE_DEPOSIT = b'n', 13 {
            /// Client correlation id.
            request_ref: u32,
            /// Quote quantums.
            amount: i64,
        }
        /// `s` Snapshot, operator (5): RequestRef 1:4. Asks the server to write a snapshot
        /// of the engine now (in the background); answered by `S` Snapshot Written and `A`
        /// once the file is durable, or `J` `snapshot_failed`. Not an engine command: nothing
        /// is journaled.
        Snapshot / SNAPSHOT = b's', 5 {
            /// Client correlation id.
            request_ref: u32,
        }
    }
}

messages! {
    /// A native message from the exchange.
    Outbound, outbound_type {
        /// `A` Request Done (17): Timestamp 1:8, RequestRef 9:4, Account 13:4. The request's
        /// command was applied; its events came before this.
        RequestDone / REQUEST_DONE = b'A', 17 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// The request's RequestRef.
            request_ref: u32,
            /// The account it named ([`ACCOUNT_NONE`] for operator requests without one).
            account: u32,
        }
        /// `J` Request Rejected (19): Timestamp 1:8, RequestRef 9:4, Account 13:4, Reason 17:2
        /// (engine `Reject` code 1–999 or gateway `MapReject` code 1000+).
        RequestRejected / REQUEST_REJECTED = b'J', 19 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// The request's RequestRef.
            request_ref: u32,
            /// The account it named ([`ACCOUNT_NONE`] for operator requests without one).
            account: u32,
            /// Reason code.
            reason: u16,
        }
        /// `I` Instrument (69): Timestamp 1:8, Symbol 9:8, MarketId 17:2, TickMantissa 19:8,
        /// TickScale 27:1, LotMantissa 28:8, LotScale 36:1, QuotePerTickLot 37:8,
        /// NotionalMin 45:8, PriceMax 53:8, QtyMax 61:8. Tick = mantissa × 10^−scale.
        Instrument / INSTRUMENT = b'I', 69 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Symbol.
            symbol: [u8; 8],
            /// Engine market id (ITCH StockLocate − 1).
            market_id: u16,
            /// Tick size mantissa.
            tick_mantissa: i64,
            /// Tick size decimal places.
            tick_scale: u8,
            /// Lot size mantissa.
            lot_mantissa: i64,
            /// Lot size decimal places.
            lot_scale: u8,
            /// Quote quantums in the notional of one lot at one tick.
            quote_per_tick_lot: i64,
            /// Smallest order notional, quantums.
            notional_min: i64,
            /// Largest price, ticks.
            price_max: i64,
            /// Largest order quantity, lots.
            qty_max: i64,
        }
        /// `C` Collateral (30): Timestamp 1:8, Account 9:4, Kind 13:1 (`D`/`W`), Amount 14:8,
        /// Collateral 22:8 (after).
        Collateral / COLLATERAL = b'C', 30 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// [`collateral_kind`].
            kind: u8,
            /// Quantums moved.
            amount: i64,
            /// Collateral after, quantums.
            collateral: i64,
        }
        /// `L` Leverage Set (23): Timestamp 1:8, Account 9:4, Symbol 13:8, Leverage 21:2.
        LeverageSet / LEVERAGE_SET = b'L', 23 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// Leverage.
            leverage: u16,
        }
        /// `G` Margin Mode Set (22): Timestamp 1:8, Account 9:4, Symbol 13:8, Mode 21:1.
        MarginModeSet / MARGIN_MODE_SET = b'G', 22 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// [`margin_mode`].
            mode: u8,
        }
        /// `T` Isolated Margin Set (37): Timestamp 1:8, Account 9:4, Symbol 13:8,
        /// IsolatedMargin 21:8, Collateral 29:8 (both after).
        IsolatedMarginSet / ISOLATED_MARGIN_SET = b'T', 37 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// Isolated margin after, quantums.
            isolated_margin: i64,
            /// Collateral after, quantums.
            collateral: i64,
        }
        /// `M` Mark Price (33): Timestamp 1:8, Symbol 9:8, Index 17:8, Mark 25:8 (ticks).
        MarkPrice / MARK_PRICE = b'M', 33 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Market.
            symbol: [u8; 8],
            /// Index price, ticks.
            index: i64,
            /// Mark price, ticks.
            mark: i64,
        }
        /// `F` Funding (49): Timestamp 1:8, Symbol 9:8, RatePpb 17:8, Paid 25:8, Received 33:8,
        /// Dust 41:8.
        Funding / FUNDING = b'F', 49 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Market.
            symbol: [u8; 8],
            /// Rate for the interval, parts per billion; longs pay shorts when positive.
            rate_ppb: i64,
            /// Total paid, quantums.
            paid: i64,
            /// Total received, quantums.
            received: i64,
            /// Rounding dust to the insurance fund, quantums.
            dust: i64,
        }
        /// `Q` Liquidation Started (45): Timestamp 1:8, Account 9:4, Symbol 13:8, Equity 21:8,
        /// Maintenance 29:8, Mark 37:8.
        LiquidationStarted / LIQUIDATION_STARTED = b'Q', 45 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// Equity, quantums.
            equity: i64,
            /// Maintenance margin, quantums.
            maintenance: i64,
            /// Mark price, ticks.
            mark: i64,
        }
        /// `E` Liquidation Ended (55): Timestamp 1:8, Account 9:4, Symbol 13:8, Stage 21:1,
        /// Outcome 22:1, Closed 23:8, Equity 31:8, Haircut 39:8, HaircutMin 47:8.
        LiquidationEnded / LIQUIDATION_ENDED = b'E', 55 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Account.
            account: u32,
            /// Market.
            symbol: [u8; 8],
            /// Last waterfall stage reached (engine `stage::*`).
            stage: u8,
            /// Outcome bits (engine `outcome::*`).
            outcome: u8,
            /// Lots closed.
            closed: i64,
            /// Equity after, quantums.
            equity: i64,
            /// What ADL counterparties gave up against the mark, quantums.
            haircut: i64,
            /// The smallest haircut that would have sufficed, quantums.
            haircut_min: i64,
        }
        /// `B` Backstop (41): Timestamp 1:8, Account 9:4, Vault 13:4, Symbol 17:8, Size 25:8
        /// (signed lots of the liquidated position), Price 33:8 (bankruptcy, ticks).
        Backstop / BACKSTOP = b'B', 41 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Liquidated account.
            account: u32,
            /// Backstop vault.
            vault: u32,
            /// Market.
            symbol: [u8; 8],
            /// Signed lots taken over.
            size: i64,
            /// Bankruptcy price, ticks.
            price: i64,
        }
        /// `D` Deleveraged (45): Timestamp 1:8, Account 9:4, Counterparty 13:4, Symbol 17:8,
        /// Qty 25:8, Price 33:8, Rank 41:4.
        Deleveraged / DELEVERAGED = b'D', 45 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// Liquidated account.
            account: u32,
            /// Account whose position was reduced.
            counterparty: u32,
            /// Market.
            symbol: [u8; 8],
            /// Lots closed.
            qty: i64,
            /// Bankruptcy price, ticks.
            price: i64,
            /// The counterparty's place in the ranking (0 = first).
            rank: u32,
        }
        /// `U` Insurance Fund (30): Timestamp 1:8, Account 9:4, Delta 13:8, Balance 21:8,
        /// Reason 29:1 (engine `InsuranceReason` code).
        InsuranceFund / INSURANCE_FUND = b'U', 30 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// The account concerned (0 for deposits and funding dust).
            account: u32,
            /// Signed change, quantums.
            delta: i64,
            /// Balance after, quantums.
            balance: i64,
            /// Reason code.
            reason: u8,
        }
        /// `K` Backstop Set (13): Timestamp 1:8, Vault 9:4 (0xFFFFFFFF = none).
        BackstopSet / BACKSTOP_SET = b'K', 13 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// The vault, or [`ACCOUNT_NONE`].
            vault: u32,
        }
        /// `S` Snapshot Written (21): Timestamp 1:8, RequestRef 9:4, Seq 13:8. The snapshot a
        /// `s` request asked for is durable in the journal directory; it holds the engine
        /// after command `Seq` (recovery starts from it and replays the journal after it).
        SnapshotWritten / SNAPSHOT_WRITTEN = b'S', 21 {
            /// Nanoseconds since the Unix epoch.
            timestamp: u64,
            /// The request's RequestRef.
            request_ref: u32,
            /// The last command the snapshot includes.
            seq: u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ouch::tests::layout;

    fn check_in(msg: Inbound, bytes: &[u8]) {
        assert_eq!(msg.encoded_len(), bytes.len());
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
        assert_eq!(Inbound::decode(bytes), Ok(msg));
    }

    fn check_out(msg: Outbound, bytes: &[u8]) {
        assert_eq!(msg.encoded_len(), bytes.len());
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
        assert_eq!(Outbound::decode(bytes), Ok(msg));
    }

    const TS: u64 = 1_760_000_000_000_000_000;

    #[test]
    fn inbound_fixtures() {
        let r = 5u32.to_be_bytes();
        let a = 3u32.to_be_bytes();
        check_in(
            Inbound::Deposit(Deposit {
                request_ref: 5,
                account: 3,
                amount: 1_000_000,
            }),
            &layout(&[
                (0, b"d"),
                (1, &r),
                (5, &a),
                (9, &1_000_000i64.to_be_bytes()),
            ]),
        );
        check_in(
            Inbound::Withdraw(Withdraw {
                request_ref: 5,
                account: 3,
                amount: 7,
            }),
            &layout(&[(0, b"w"), (1, &r), (5, &a), (9, &7i64.to_be_bytes())]),
        );
        check_in(
            Inbound::SetLeverage(SetLeverage {
                request_ref: 5,
                account: 3,
                symbol: *b"BTC-PERP",
                leverage: 1001,
            }),
            &layout(&[
                (0, b"l"),
                (1, &r),
                (5, &a),
                (9, b"BTC-PERP"),
                (17, &1001u16.to_be_bytes()),
            ]),
        );
        check_in(
            Inbound::SetMarginMode(SetMarginMode {
                request_ref: 5,
                account: 3,
                symbol: *b"BTC-PERP",
                mode: margin_mode::ISOLATED,
            }),
            &layout(&[(0, b"g"), (1, &r), (5, &a), (9, b"BTC-PERP"), (17, b"I")]),
        );
        check_in(
            Inbound::TransferIsolatedMargin(TransferIsolatedMargin {
                request_ref: 5,
                account: 3,
                symbol: *b"BTC-PERP",
                amount: -50,
            }),
            &layout(&[
                (0, b"t"),
                (1, &r),
                (5, &a),
                (9, b"BTC-PERP"),
                (17, &(-50i64).to_be_bytes()),
            ]),
        );
        check_in(
            Inbound::SetIndexPrice(SetIndexPrice {
                request_ref: 5,
                symbol: *b"ETH-PERP",
                index: 300_000,
                external_mark: 0,
            }),
            &layout(&[
                (0, b"x"),
                (1, &r),
                (5, b"ETH-PERP"),
                (13, &300_000i64.to_be_bytes()),
                (21, &0i64.to_be_bytes()),
            ]),
        );
        check_in(
            Inbound::FundingTick(FundingTick {
                request_ref: 5,
                symbol: *b"ETH-PERP",
            }),
            &layout(&[(0, b"f"), (1, &r), (5, b"ETH-PERP")]),
        );
        check_in(
            Inbound::SetBackstop(SetBackstop {
                request_ref: 5,
                account: ACCOUNT_NONE,
            }),
            &layout(&[(0, b"k"), (1, &r), (5, &[0xff; 4])]),
        );
        check_in(
            Inbound::InsuranceDeposit(InsuranceDeposit {
                request_ref: 5,
                amount: 9,
            }),
            &layout(&[(0, b"n"), (1, &r), (5, &9i64.to_be_bytes())]),
        );
        check_in(
            Inbound::Snapshot(Snapshot { request_ref: 5 }),
            &layout(&[(0, b"s"), (1, &r)]),
        );
    }

    #[test]
    fn outbound_fixtures() {
        let ts = TS.to_be_bytes();
        let a = 3u32.to_be_bytes();
        let q = |v: i64| v.to_be_bytes();
        check_out(
            Outbound::RequestDone(RequestDone {
                timestamp: TS,
                request_ref: 5,
                account: 3,
            }),
            &layout(&[(0, b"A"), (1, &ts), (9, &5u32.to_be_bytes()), (13, &a)]),
        );
        check_out(
            Outbound::RequestRejected(RequestRejected {
                timestamp: TS,
                request_ref: 5,
                account: 3,
                reason: 28,
            }),
            &layout(&[
                (0, b"J"),
                (1, &ts),
                (9, &5u32.to_be_bytes()),
                (13, &a),
                (17, &28u16.to_be_bytes()),
            ]),
        );
        check_out(
            Outbound::Instrument(Instrument {
                timestamp: TS,
                symbol: *b"BTC-PERP",
                market_id: 0,
                tick_mantissa: 1,
                tick_scale: 1,
                lot_mantissa: 1,
                lot_scale: 3,
                quote_per_tick_lot: 100,
                notional_min: 5_000_000,
                price_max: 100_000_000,
                qty_max: 100_000_000,
            }),
            &layout(&[
                (0, b"I"),
                (1, &ts),
                (9, b"BTC-PERP"),
                (17, &[0, 0]),
                (19, &q(1)),
                (27, &[1]),
                (28, &q(1)),
                (36, &[3]),
                (37, &q(100)),
                (45, &q(5_000_000)),
                (53, &q(100_000_000)),
                (61, &q(100_000_000)),
            ]),
        );
        check_out(
            Outbound::Collateral(Collateral {
                timestamp: TS,
                account: 3,
                kind: collateral_kind::DEPOSIT,
                amount: 10,
                collateral: 110,
            }),
            &layout(&[
                (0, b"C"),
                (1, &ts),
                (9, &a),
                (13, b"D"),
                (14, &q(10)),
                (22, &q(110)),
            ]),
        );
        check_out(
            Outbound::LeverageSet(LeverageSet {
                timestamp: TS,
                account: 3,
                symbol: *b"BTC-PERP",
                leverage: 20,
            }),
            &layout(&[
                (0, b"L"),
                (1, &ts),
                (9, &a),
                (13, b"BTC-PERP"),
                (21, &20u16.to_be_bytes()),
            ]),
        );
        check_out(
            Outbound::MarginModeSet(MarginModeSet {
                timestamp: TS,
                account: 3,
                symbol: *b"BTC-PERP",
                mode: margin_mode::CROSS,
            }),
            &layout(&[(0, b"G"), (1, &ts), (9, &a), (13, b"BTC-PERP"), (21, b"C")]),
        );
        check_out(
            Outbound::IsolatedMarginSet(IsolatedMarginSet {
                timestamp: TS,
                account: 3,
                symbol: *b"BTC-PERP",
                isolated_margin: 5,
                collateral: 6,
            }),
            &layout(&[
                (0, b"T"),
                (1, &ts),
                (9, &a),
                (13, b"BTC-PERP"),
                (21, &q(5)),
                (29, &q(6)),
            ]),
        );
        check_out(
            Outbound::MarkPrice(MarkPrice {
                timestamp: TS,
                symbol: *b"BTC-PERP",
                index: 650_000,
                mark: 650_010,
            }),
            &layout(&[
                (0, b"M"),
                (1, &ts),
                (9, b"BTC-PERP"),
                (17, &q(650_000)),
                (25, &q(650_010)),
            ]),
        );
        check_out(
            Outbound::Funding(Funding {
                timestamp: TS,
                symbol: *b"BTC-PERP",
                rate_ppb: -125,
                paid: 10,
                received: 9,
                dust: 1,
            }),
            &layout(&[
                (0, b"F"),
                (1, &ts),
                (9, b"BTC-PERP"),
                (17, &q(-125)),
                (25, &q(10)),
                (33, &q(9)),
                (41, &q(1)),
            ]),
        );
    }

    #[test]
    fn outbound_liquidation_fixtures() {
        let ts = TS.to_be_bytes();
        let a = 3u32.to_be_bytes();
        let q = |v: i64| v.to_be_bytes();
        check_out(
            Outbound::LiquidationStarted(LiquidationStarted {
                timestamp: TS,
                account: 3,
                symbol: *b"BTC-PERP",
                equity: 1,
                maintenance: 2,
                mark: 3,
            }),
            &layout(&[
                (0, b"Q"),
                (1, &ts),
                (9, &a),
                (13, b"BTC-PERP"),
                (21, &q(1)),
                (29, &q(2)),
                (37, &q(3)),
            ]),
        );
        check_out(
            Outbound::LiquidationEnded(LiquidationEnded {
                timestamp: TS,
                account: 3,
                symbol: *b"BTC-PERP",
                stage: 5,
                outcome: 2,
                closed: 10,
                equity: -4,
                haircut: 7,
                haircut_min: 6,
            }),
            &layout(&[
                (0, b"E"),
                (1, &ts),
                (9, &a),
                (13, b"BTC-PERP"),
                (21, &[5]),
                (22, &[2]),
                (23, &q(10)),
                (31, &q(-4)),
                (39, &q(7)),
                (47, &q(6)),
            ]),
        );
        check_out(
            Outbound::Backstop(Backstop {
                timestamp: TS,
                account: 3,
                vault: 9,
                symbol: *b"BTC-PERP",
                size: -20,
                price: 640_000,
            }),
            &layout(&[
                (0, b"B"),
                (1, &ts),
                (9, &a),
                (13, &9u32.to_be_bytes()),
                (17, b"BTC-PERP"),
                (25, &q(-20)),
                (33, &q(640_000)),
            ]),
        );
        check_out(
            Outbound::Deleveraged(Deleveraged {
                timestamp: TS,
                account: 3,
                counterparty: 4,
                symbol: *b"BTC-PERP",
                qty: 20,
                price: 640_000,
                rank: 0,
            }),
            &layout(&[
                (0, b"D"),
                (1, &ts),
                (9, &a),
                (13, &4u32.to_be_bytes()),
                (17, b"BTC-PERP"),
                (25, &q(20)),
                (33, &q(640_000)),
                (41, &0u32.to_be_bytes()),
            ]),
        );
        check_out(
            Outbound::InsuranceFund(InsuranceFund {
                timestamp: TS,
                account: 3,
                delta: -100,
                balance: 900,
                reason: 3,
            }),
            &layout(&[
                (0, b"U"),
                (1, &ts),
                (9, &a),
                (13, &q(-100)),
                (21, &q(900)),
                (29, &[3]),
            ]),
        );
        check_out(
            Outbound::BackstopSet(BackstopSet {
                timestamp: TS,
                vault: 9,
            }),
            &layout(&[(0, b"K"), (1, &ts), (9, &9u32.to_be_bytes())]),
        );
        check_out(
            Outbound::SnapshotWritten(SnapshotWritten {
                timestamp: TS,
                request_ref: 5,
                seq: 77,
            }),
            &layout(&[
                (0, b"S"),
                (1, &ts),
                (9, &5u32.to_be_bytes()),
                (13, &77u64.to_be_bytes()),
            ]),
        );
    }

    #[test]
    fn errors() {
        assert_eq!(Inbound::decode(&[]), Err(CodecError::Empty));
        assert_eq!(
            Inbound::decode(b"D"),
            Err(CodecError::UnknownMessageType { kind: b'D' })
        );
        assert_eq!(
            Outbound::decode(b"d"),
            Err(CodecError::UnknownMessageType { kind: b'd' })
        );
        assert_eq!(
            Inbound::decode(b"f1234"),
            Err(CodecError::Truncated {
                needed: 13,
                available: 5
            })
        );
    }
}
