//! ITCH 5.0: the market-data messages Cascade publishes, each the payload of one SoupBinTCP
//! Sequenced Data packet.
//!
//! # Layout
//! Every message starts with an 11-byte header: Type 0:1, StockLocate 1:2, TrackingNumber 3:2,
//! Timestamp 5:6 (48-bit nanoseconds since midnight). Integers are big-endian, alpha fields
//! left-justified and space-padded.
//!
//! | type | message | body after the header | size |
//! |---|---|---|---|
//! | `S` | [`SystemEvent`] | EventCode 11:1 | 12 |
//! | `R` | [`StockDirectory`] | Stock 11:8, MarketCategory 19:1, FinancialStatusIndicator 20:1, RoundLotSize 21:4, RoundLotsOnly 25:1, IssueClassification 26:1, IssueSubType 27:2, Authenticity 29:1, ShortSaleThresholdIndicator 30:1, IPOFlag 31:1, LULDReferencePriceTier 32:1, ETPFlag 33:1, ETPLeverageFactor 34:4, InverseIndicator 38:1 | 39 |
//! | `A` | [`AddOrder`] | OrderReferenceNumber 11:8, Side 19:1, Shares 20:4, Stock 24:8, Price 32:4 | 36 |
//! | `E` | [`OrderExecuted`] | OrderReferenceNumber 11:8, ExecutedShares 19:4, MatchNumber 23:8 | 31 |
//! | `X` | [`OrderCancel`] | OrderReferenceNumber 11:8, CanceledShares 19:4 | 23 |
//! | `D` | [`OrderDelete`] | OrderReferenceNumber 11:8 | 19 |
//! | `U` | [`OrderReplace`] | OriginalOrderReferenceNumber 11:8, NewOrderReferenceNumber 19:8, Shares 27:4, Price 31:4 | 35 |
//! | `P` | [`Trade`] | OrderReferenceNumber 11:8, Side 19:1, Shares 20:4, Stock 24:8, Price 32:4, MatchNumber 36:8 | 44 |
//!
//! # Units
//! ITCH's `Price(4)` is a `u32` with 4 implied decimals and caps at 429,496.7295, too little for
//! perps. Cascade keeps the exact layouts and publishes **integer ticks** in every price field
//! and **lots** in every shares field (profile (a) of the protocol reference); the tick and
//! lot of each instrument are on the native channel's Instrument message. A standard decoder
//! parses every message; only its human-readable price is off by the tick scale.

use super::error::CodecError;
use super::wire::{exact_len, Reader, Writer};

/// Message type bytes.
pub mod message_type {
    /// System Event.
    pub const SYSTEM_EVENT: u8 = b'S';
    /// Stock Directory.
    pub const STOCK_DIRECTORY: u8 = b'R';
    /// Add Order (no MPID attribution).
    pub const ADD_ORDER: u8 = b'A';
    /// Order Executed.
    pub const ORDER_EXECUTED: u8 = b'E';
    /// Order Cancel (partial).
    pub const ORDER_CANCEL: u8 = b'X';
    /// Order Delete.
    pub const ORDER_DELETE: u8 = b'D';
    /// Order Replace.
    pub const ORDER_REPLACE: u8 = b'U';
    /// Trade (non-cross).
    pub const TRADE: u8 = b'P';
}

/// System Event codes.
pub mod event_code {
    /// Start of messages.
    pub const START_OF_MESSAGES: u8 = b'O';
    /// Start of system hours.
    pub const START_OF_SYSTEM_HOURS: u8 = b'S';
    /// Start of market hours.
    pub const START_OF_MARKET_HOURS: u8 = b'Q';
    /// End of market hours.
    pub const END_OF_MARKET_HOURS: u8 = b'M';
    /// End of system hours.
    pub const END_OF_SYSTEM_HOURS: u8 = b'E';
    /// End of messages.
    pub const END_OF_MESSAGES: u8 = b'C';
}

/// `Side` (buy/sell indicator) values.
pub mod side {
    /// Buy.
    pub const BUY: u8 = b'B';
    /// Sell.
    pub const SELL: u8 = b'S';
}

/// Bytes of the common header.
pub const HEADER_LEN: usize = 11;

/// The 11-byte header every message starts with (after its type byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// Locate code of the instrument (Cascade: market id + 1); 0 for system messages.
    pub stock_locate: u16,
    /// Tracking number (Cascade: 0).
    pub tracking_number: u16,
    /// Nanoseconds since midnight; must fit in 48 bits.
    pub timestamp: u64,
}

impl Header {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u16(self.stock_locate)?;
        w.u16(self.tracking_number)?;
        w.u48(self.timestamp, "itch timestamp")
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            stock_locate: r.u16()?,
            tracking_number: r.u16()?,
            timestamp: r.u48()?,
        })
    }
}

/// `S` System Event (12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemEvent {
    /// Header.
    pub header: Header,
    /// [`event_code`].
    pub event_code: u8,
}

/// `R` Stock Directory (39 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockDirectory {
    /// Header.
    pub header: Header,
    /// Symbol.
    pub stock: [u8; 8],
    /// Market category.
    pub market_category: u8,
    /// Financial status indicator.
    pub financial_status: u8,
    /// Round lot size (Cascade: 1, in lots).
    pub round_lot_size: u32,
    /// Round lots only.
    pub round_lots_only: u8,
    /// Issue classification.
    pub issue_classification: u8,
    /// Issue sub-type, alpha(2).
    pub issue_sub_type: [u8; 2],
    /// Authenticity (`P` production, `T` test).
    pub authenticity: u8,
    /// Short sale threshold indicator.
    pub short_sale_threshold: u8,
    /// IPO flag.
    pub ipo_flag: u8,
    /// LULD reference price tier.
    pub luld_tier: u8,
    /// ETP flag.
    pub etp_flag: u8,
    /// ETP leverage factor.
    pub etp_leverage_factor: u32,
    /// Inverse indicator.
    pub inverse_indicator: u8,
}

/// `A` Add Order (36 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddOrder {
    /// Header.
    pub header: Header,
    /// Order reference number (Cascade: the engine's `OrderId`).
    pub order_ref: u64,
    /// [`side`].
    pub side: u8,
    /// Open quantity (lots).
    pub shares: u32,
    /// Symbol.
    pub stock: [u8; 8],
    /// Price (ticks).
    pub price: u32,
}

/// `E` Order Executed (31 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderExecuted {
    /// Header.
    pub header: Header,
    /// The resting order.
    pub order_ref: u64,
    /// Lots executed.
    pub executed_shares: u32,
    /// Trade id, as on OUCH.
    pub match_number: u64,
}

/// `X` Order Cancel (23 bytes): part of a resting order removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCancel {
    /// Header.
    pub header: Header,
    /// The resting order.
    pub order_ref: u64,
    /// Lots removed.
    pub canceled_shares: u32,
}

/// `D` Order Delete (19 bytes): a resting order removed in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderDelete {
    /// Header.
    pub header: Header,
    /// The resting order.
    pub order_ref: u64,
}

/// `U` Order Replace (35 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderReplace {
    /// Header.
    pub header: Header,
    /// The order replaced.
    pub orig_order_ref: u64,
    /// The replacement's reference number (Cascade: the same `OrderId`).
    pub new_order_ref: u64,
    /// New open quantity (lots).
    pub shares: u32,
    /// New price (ticks).
    pub price: u32,
}

/// `P` Trade, non-cross (44 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Header.
    pub header: Header,
    /// Order reference (Cascade: 0, no displayed order).
    pub order_ref: u64,
    /// [`side`].
    pub side: u8,
    /// Lots.
    pub shares: u32,
    /// Symbol.
    pub stock: [u8; 8],
    /// Price (ticks).
    pub price: u32,
    /// Trade id.
    pub match_number: u64,
}

/// An ITCH message Cascade publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// `S`.
    SystemEvent(SystemEvent),
    /// `R`.
    StockDirectory(StockDirectory),
    /// `A`.
    AddOrder(AddOrder),
    /// `E`.
    OrderExecuted(OrderExecuted),
    /// `X`.
    OrderCancel(OrderCancel),
    /// `D`.
    OrderDelete(OrderDelete),
    /// `U`.
    OrderReplace(OrderReplace),
    /// `P`.
    Trade(Trade),
}

impl Message {
    /// The message type byte.
    #[must_use]
    pub const fn kind(&self) -> u8 {
        match self {
            Self::SystemEvent(_) => message_type::SYSTEM_EVENT,
            Self::StockDirectory(_) => message_type::STOCK_DIRECTORY,
            Self::AddOrder(_) => message_type::ADD_ORDER,
            Self::OrderExecuted(_) => message_type::ORDER_EXECUTED,
            Self::OrderCancel(_) => message_type::ORDER_CANCEL,
            Self::OrderDelete(_) => message_type::ORDER_DELETE,
            Self::OrderReplace(_) => message_type::ORDER_REPLACE,
            Self::Trade(_) => message_type::TRADE,
        }
    }

    /// The size of a message of type `kind`, if it is one Cascade publishes.
    #[must_use]
    pub const fn len_of(kind: u8) -> Option<usize> {
        Some(match kind {
            message_type::SYSTEM_EVENT => 12,
            message_type::STOCK_DIRECTORY => 39,
            message_type::ADD_ORDER => 36,
            message_type::ORDER_EXECUTED => 31,
            message_type::ORDER_CANCEL => 23,
            message_type::ORDER_DELETE => 19,
            message_type::ORDER_REPLACE => 35,
            message_type::TRADE => 44,
            _ => return None,
        })
    }

    /// Bytes on the wire.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        match Self::len_of(self.kind()) {
            Some(len) => len,
            None => 0,
        }
    }

    /// The header.
    #[must_use]
    pub const fn header(&self) -> &Header {
        match self {
            Self::SystemEvent(m) => &m.header,
            Self::StockDirectory(m) => &m.header,
            Self::AddOrder(m) => &m.header,
            Self::OrderExecuted(m) => &m.header,
            Self::OrderCancel(m) => &m.header,
            Self::OrderDelete(m) => &m.header,
            Self::OrderReplace(m) => &m.header,
            Self::Trade(m) => &m.header,
        }
    }

    /// Encodes at the front of `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`]; [`CodecError::FieldOverflow`] for a timestamp above 48
    /// bits.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::with_len(out, self.encoded_len())?;
        w.u8(self.kind())?;
        self.header().encode(&mut w)?;
        match self {
            Self::SystemEvent(m) => w.u8(m.event_code)?,
            Self::StockDirectory(m) => {
                w.bytes(&m.stock)?;
                w.u8(m.market_category)?;
                w.u8(m.financial_status)?;
                w.u32(m.round_lot_size)?;
                w.u8(m.round_lots_only)?;
                w.u8(m.issue_classification)?;
                w.bytes(&m.issue_sub_type)?;
                w.u8(m.authenticity)?;
                w.u8(m.short_sale_threshold)?;
                w.u8(m.ipo_flag)?;
                w.u8(m.luld_tier)?;
                w.u8(m.etp_flag)?;
                w.u32(m.etp_leverage_factor)?;
                w.u8(m.inverse_indicator)?;
            }
            Self::AddOrder(m) => {
                w.u64(m.order_ref)?;
                w.u8(m.side)?;
                w.u32(m.shares)?;
                w.bytes(&m.stock)?;
                w.u32(m.price)?;
            }
            Self::OrderExecuted(m) => {
                w.u64(m.order_ref)?;
                w.u32(m.executed_shares)?;
                w.u64(m.match_number)?;
            }
            Self::OrderCancel(m) => {
                w.u64(m.order_ref)?;
                w.u32(m.canceled_shares)?;
            }
            Self::OrderDelete(m) => w.u64(m.order_ref)?,
            Self::OrderReplace(m) => {
                w.u64(m.orig_order_ref)?;
                w.u64(m.new_order_ref)?;
                w.u32(m.shares)?;
                w.u32(m.price)?;
            }
            Self::Trade(m) => {
                w.u64(m.order_ref)?;
                w.u8(m.side)?;
                w.u32(m.shares)?;
                w.bytes(&m.stock)?;
                w.u32(m.price)?;
                w.u64(m.match_number)?;
            }
        }
        Ok(w.position())
    }

    /// Decodes one message (the whole payload of an `S` packet).
    ///
    /// # Errors
    /// [`CodecError::Empty`], [`CodecError::UnknownMessageType`] (including ITCH types Cascade
    /// does not publish), [`CodecError::Truncated`], [`CodecError::TrailingBytes`].
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        let kind = *buf.first().ok_or(CodecError::Empty)?;
        let len = Self::len_of(kind).ok_or(CodecError::UnknownMessageType { kind })?;
        exact_len(buf, len)?;
        let mut r = Reader::new(buf);
        r.u8()?;
        let header = Header::decode(&mut r)?;
        Ok(match kind {
            message_type::SYSTEM_EVENT => Self::SystemEvent(SystemEvent {
                header,
                event_code: r.u8()?,
            }),
            message_type::STOCK_DIRECTORY => Self::StockDirectory(StockDirectory {
                header,
                stock: r.array()?,
                market_category: r.u8()?,
                financial_status: r.u8()?,
                round_lot_size: r.u32()?,
                round_lots_only: r.u8()?,
                issue_classification: r.u8()?,
                issue_sub_type: r.array()?,
                authenticity: r.u8()?,
                short_sale_threshold: r.u8()?,
                ipo_flag: r.u8()?,
                luld_tier: r.u8()?,
                etp_flag: r.u8()?,
                etp_leverage_factor: r.u32()?,
                inverse_indicator: r.u8()?,
            }),
            message_type::ADD_ORDER => Self::AddOrder(AddOrder {
                header,
                order_ref: r.u64()?,
                side: r.u8()?,
                shares: r.u32()?,
                stock: r.array()?,
                price: r.u32()?,
            }),
            message_type::ORDER_EXECUTED => Self::OrderExecuted(OrderExecuted {
                header,
                order_ref: r.u64()?,
                executed_shares: r.u32()?,
                match_number: r.u64()?,
            }),
            message_type::ORDER_CANCEL => Self::OrderCancel(OrderCancel {
                header,
                order_ref: r.u64()?,
                canceled_shares: r.u32()?,
            }),
            message_type::ORDER_DELETE => Self::OrderDelete(OrderDelete {
                header,
                order_ref: r.u64()?,
            }),
            message_type::ORDER_REPLACE => Self::OrderReplace(OrderReplace {
                header,
                orig_order_ref: r.u64()?,
                new_order_ref: r.u64()?,
                shares: r.u32()?,
                price: r.u32()?,
            }),
            _ => Self::Trade(Trade {
                header,
                order_ref: r.u64()?,
                side: r.u8()?,
                shares: r.u32()?,
                stock: r.array()?,
                price: r.u32()?,
                match_number: r.u64()?,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ouch::tests::layout;

    const TS: u64 = 0x0000_1234_5678_9abc;
    const HEADER: Header = Header {
        stock_locate: 1,
        tracking_number: 0,
        timestamp: TS,
    };

    fn header_bytes() -> [u8; 10] {
        let mut out = [0u8; 10];
        out[..2].copy_from_slice(&1u16.to_be_bytes());
        out[4..].copy_from_slice(&TS.to_be_bytes()[2..]);
        out
    }

    fn check(msg: Message, bytes: &[u8]) {
        assert_eq!(Message::len_of(msg.kind()), Some(bytes.len()));
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
        assert_eq!(Message::decode(bytes), Ok(msg));
    }

    #[test]
    fn system_event_and_stock_directory() {
        let h = header_bytes();
        check(
            Message::SystemEvent(SystemEvent {
                header: Header {
                    stock_locate: 0,
                    ..HEADER
                },
                event_code: event_code::START_OF_MESSAGES,
            }),
            &layout(&[
                (0, b"S"),
                (1, &[0, 0]),
                (3, &[0, 0]),
                (5, &TS.to_be_bytes()[2..]),
                (11, b"O"),
            ]),
        );
        check(
            Message::StockDirectory(StockDirectory {
                header: HEADER,
                stock: *b"BTC-PERP",
                market_category: b' ',
                financial_status: b' ',
                round_lot_size: 1,
                round_lots_only: b'N',
                issue_classification: b' ',
                issue_sub_type: *b"  ",
                authenticity: b'P',
                short_sale_threshold: b' ',
                ipo_flag: b' ',
                luld_tier: b' ',
                etp_flag: b' ',
                etp_leverage_factor: 0,
                inverse_indicator: b'N',
            }),
            &layout(&[
                (0, b"R"),
                (1, &h),
                (11, b"BTC-PERP"),
                (19, b" "),
                (20, b" "),
                (21, &1u32.to_be_bytes()),
                (25, b"N"),
                (26, b" "),
                (27, b"  "),
                (29, b"P"),
                (30, b" "),
                (31, b" "),
                (32, b" "),
                (33, b" "),
                (34, &0u32.to_be_bytes()),
                (38, b"N"),
            ]),
        );
    }

    #[test]
    fn order_messages() {
        let h = header_bytes();
        check(
            Message::AddOrder(AddOrder {
                header: HEADER,
                order_ref: 42,
                side: side::BUY,
                shares: 700,
                stock: *b"BTC-PERP",
                price: 650_020,
            }),
            &layout(&[
                (0, b"A"),
                (1, &h),
                (11, &42u64.to_be_bytes()),
                (19, b"B"),
                (20, &700u32.to_be_bytes()),
                (24, b"BTC-PERP"),
                (32, &650_020u32.to_be_bytes()),
            ]),
        );
        check(
            Message::OrderExecuted(OrderExecuted {
                header: HEADER,
                order_ref: 42,
                executed_shares: 300,
                match_number: 9,
            }),
            &layout(&[
                (0, b"E"),
                (1, &h),
                (11, &42u64.to_be_bytes()),
                (19, &300u32.to_be_bytes()),
                (23, &9u64.to_be_bytes()),
            ]),
        );
        check(
            Message::OrderCancel(OrderCancel {
                header: HEADER,
                order_ref: 42,
                canceled_shares: 100,
            }),
            &layout(&[
                (0, b"X"),
                (1, &h),
                (11, &42u64.to_be_bytes()),
                (19, &100u32.to_be_bytes()),
            ]),
        );
        check(
            Message::OrderDelete(OrderDelete {
                header: HEADER,
                order_ref: 42,
            }),
            &layout(&[(0, b"D"), (1, &h), (11, &42u64.to_be_bytes())]),
        );
        check(
            Message::OrderReplace(OrderReplace {
                header: HEADER,
                orig_order_ref: 42,
                new_order_ref: 42,
                shares: 200,
                price: 650_010,
            }),
            &layout(&[
                (0, b"U"),
                (1, &h),
                (11, &42u64.to_be_bytes()),
                (19, &42u64.to_be_bytes()),
                (27, &200u32.to_be_bytes()),
                (31, &650_010u32.to_be_bytes()),
            ]),
        );
        check(
            Message::Trade(Trade {
                header: HEADER,
                order_ref: 0,
                side: side::SELL,
                shares: 5,
                stock: *b"ETH-PERP",
                price: 300_000,
                match_number: 77,
            }),
            &layout(&[
                (0, b"P"),
                (1, &h),
                (11, &0u64.to_be_bytes()),
                (19, b"S"),
                (20, &5u32.to_be_bytes()),
                (24, b"ETH-PERP"),
                (32, &300_000u32.to_be_bytes()),
                (36, &77u64.to_be_bytes()),
            ]),
        );
    }

    #[test]
    fn errors() {
        assert_eq!(Message::decode(&[]), Err(CodecError::Empty));
        assert_eq!(
            Message::decode(b"Z"),
            Err(CodecError::UnknownMessageType { kind: b'Z' })
        );
        assert_eq!(
            Message::decode(b"D"),
            Err(CodecError::Truncated {
                needed: 19,
                available: 1
            })
        );
        let mut out = [0u8; 19];
        let late = Message::OrderDelete(OrderDelete {
            header: Header {
                timestamp: 1 << 48,
                ..HEADER
            },
            order_ref: 1,
        });
        assert_eq!(
            late.encode(&mut out),
            Err(CodecError::FieldOverflow {
                field: "itch timestamp"
            })
        );
    }
}
