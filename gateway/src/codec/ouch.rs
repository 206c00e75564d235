//! OUCH 5.0: order entry. Inbound messages ride in SoupBinTCP Unsequenced Data (`U`) packets,
//! outbound ones in Sequenced Data (`S`) packets, so they are numbered and replayable.
//!
//! # Layout
//! Offsets count from the message type byte. Integers are big-endian; `Price` is an 8-byte
//! signed integer with 4 implied decimals; `Timestamp` is 8 bytes of nanoseconds since
//! midnight; `Symbol` is alpha(8) and `ClOrdID` alpha(14), left-justified and space-padded.
//!
//! | dir | type | message | fixed size |
//! |---|---|---|---|
//! | in | `O` | [`EnterOrder`] | 47 + appendage |
//! | in | `U` | [`ReplaceOrder`] | 40 + appendage |
//! | in | `X` | [`CancelOrder`] | 9 |
//! | in | `M` | [`ModifyOrder`] | 10 |
//! | in | `Q` | Account Query | 1 |
//! | out | `S` | [`SystemEvent`] | 10 |
//! | out | `A` | [`OrderAccepted`] | 64 + appendage |
//! | out | `U` | [`OrderReplaced`] | 68 + appendage |
//! | out | `C` | [`OrderCanceled`] | 18 |
//! | out | `E` | [`OrderExecuted`] | 36 + appendage |
//! | out | `J` | [`Rejected`] | 29 |
//! | out | `P` | [`CancelPending`] | 13 |
//! | out | `I` | [`CancelReject`] | 13 |
//! | out | `M` | [`OrderModified`] | 18 |
//! | out | `Q` | [`AccountQueryResponse`] | 13 |
//!
//! Field-by-field offsets are on each struct and in `docs/PROTOCOL.md`.
//!
//! # Appendage
//! The variable tail of `O`, `U`, `A`, and `E`: a 2-byte length, then TagValue elements, each
//! `length u8, tag u8, value`, where the length counts the tag and the value. The decoder checks
//! only that the elements tile the appendage exactly; what a tag's value means is checked by
//! [`crate::codec::map`].
//!
//! # Decoding policy
//! Decoding checks layout only (sizes, appendage structure) and keeps every one-byte code field
//! as its raw byte. A message with a bad *value* (an unknown side, say) still decodes, so the
//! gateway can answer it with a Rejected that echoes its `UserRefNum` and `ClOrdID`.

use super::error::CodecError;
use super::wire::{exact_len, Reader, Writer};

/// Inbound (client → exchange) message types.
pub mod inbound_type {
    /// Enter Order.
    pub const ENTER_ORDER: u8 = b'O';
    /// Replace Order.
    pub const REPLACE_ORDER: u8 = b'U';
    /// Cancel Order.
    pub const CANCEL_ORDER: u8 = b'X';
    /// Modify Order.
    pub const MODIFY_ORDER: u8 = b'M';
    /// Account Query.
    pub const ACCOUNT_QUERY: u8 = b'Q';
}

/// Outbound (exchange → client) message types.
pub mod outbound_type {
    /// System Event.
    pub const SYSTEM_EVENT: u8 = b'S';
    /// Order Accepted.
    pub const ORDER_ACCEPTED: u8 = b'A';
    /// Order Replaced.
    pub const ORDER_REPLACED: u8 = b'U';
    /// Order Canceled.
    pub const ORDER_CANCELED: u8 = b'C';
    /// Order Executed.
    pub const ORDER_EXECUTED: u8 = b'E';
    /// Rejected.
    pub const REJECTED: u8 = b'J';
    /// Cancel Pending.
    pub const CANCEL_PENDING: u8 = b'P';
    /// Cancel Reject.
    pub const CANCEL_REJECT: u8 = b'I';
    /// Order Modified.
    pub const ORDER_MODIFIED: u8 = b'M';
    /// Account Query Response.
    pub const ACCOUNT_QUERY_RESPONSE: u8 = b'Q';
}

/// `Side` values.
pub mod side {
    /// Buy.
    pub const BUY: u8 = b'B';
    /// Sell.
    pub const SELL: u8 = b'S';
    /// Sell short.
    pub const SELL_SHORT: u8 = b'T';
    /// Sell short exempt.
    pub const SELL_SHORT_EXEMPT: u8 = b'E';
}

/// `TimeInForce` values.
pub mod time_in_force {
    /// Day.
    pub const DAY: u8 = b'0';
    /// Immediate or cancel.
    pub const IOC: u8 = b'3';
    /// Good till extended hours.
    pub const GTX: u8 = b'5';
    /// Good till time (with the ExpireTime tag).
    pub const GTT: u8 = b'6';
    /// After hours.
    pub const AFTER_HOURS: u8 = b'E';
}

/// `Display` values used by Cascade.
pub mod display {
    /// Visible.
    pub const VISIBLE: u8 = b'Y';
    /// Hidden.
    pub const HIDDEN: u8 = b'N';
    /// Attributable.
    pub const ATTRIBUTABLE: u8 = b'A';
}

/// `Capacity` values.
pub mod capacity {
    /// Agency.
    pub const AGENCY: u8 = b'A';
    /// Principal.
    pub const PRINCIPAL: u8 = b'P';
    /// Riskless.
    pub const RISKLESS: u8 = b'R';
    /// Other.
    pub const OTHER: u8 = b'O';
}

/// `InterMarketSweepEligibility` values.
pub mod intermarket_sweep {
    /// Eligible.
    pub const ELIGIBLE: u8 = b'Y';
    /// Not eligible.
    pub const NOT_ELIGIBLE: u8 = b'N';
}

/// `CrossType` values.
pub mod cross_type {
    /// Continuous market (the only one Cascade runs).
    pub const CONTINUOUS: u8 = b'N';
    /// Opening cross.
    pub const OPENING: u8 = b'O';
    /// Closing cross.
    pub const CLOSING: u8 = b'C';
    /// Halt/IPO cross.
    pub const HALT_IPO: u8 = b'H';
    /// Supplemental.
    pub const SUPPLEMENTAL: u8 = b'S';
    /// Retail.
    pub const RETAIL: u8 = b'R';
    /// Extended-life.
    pub const EXTENDED: u8 = b'E';
    /// After-hours close.
    pub const AFTER_HOURS_CLOSE: u8 = b'A';
}

/// `OrderState` values.
pub mod order_state {
    /// The order is live on the book (or about to trade).
    pub const LIVE: u8 = b'L';
    /// The order is dead.
    pub const DEAD: u8 = b'D';
}

/// System Event `EventCode` values.
pub mod event_code {
    /// Start of day.
    pub const START_OF_DAY: u8 = b'S';
    /// End of day.
    pub const END_OF_DAY: u8 = b'E';
}

/// `LiquidityFlag` values Cascade sends.
pub mod liquidity_flag {
    /// Added liquidity (maker).
    pub const ADDED: u8 = b'A';
    /// Removed liquidity (taker).
    pub const REMOVED: u8 = b'R';
    /// Cascade: a liquidation order of the engine closed part of this account's position.
    pub const LIQUIDATION: u8 = b'X';
}

/// Order Canceled `Reason` values Cascade sends (see `docs/PROTOCOL.md`).
pub mod cancel_reason {
    /// The user asked (Cancel Order, or a partial cancel).
    pub const USER_REQUESTED: u8 = b'U';
    /// The unfilled rest of an IOC, FOK or market order.
    pub const IMMEDIATE_OR_CANCEL: u8 = b'I';
    /// Self-trade prevention.
    pub const SELF_MATCH_PREVENTION: u8 = b'Q';
    /// System cancel (the fills-per-taker limit).
    pub const SYSTEM: u8 = b'Z';
    /// Cascade: a mass cancel (by account or by market).
    pub const MASS_CANCEL: u8 = b'M';
    /// Cascade: a reduce-only order that can no longer reduce.
    pub const REDUCE_ONLY: u8 = b'O';
    /// Cascade: the liquidation waterfall cancelled the account's orders.
    pub const LIQUIDATION: u8 = b'L';
}

/// Appendage tags. 2–18 are Nasdaq's, as decoded by the OMI OUCH 5.0 dissector; 19–20 are
/// Order Executed tags; 100–102 are Cascade's private range.
pub mod tag {
    /// Firm, alpha(4).
    pub const FIRM: u8 = 2;
    /// MinQty, u32.
    pub const MIN_QTY: u8 = 3;
    /// CustomerType, alpha(1).
    pub const CUSTOMER_TYPE: u8 = 4;
    /// MaxFloor, u32.
    pub const MAX_FLOOR: u8 = 5;
    /// PriceType, alpha(1).
    pub const PRICE_TYPE: u8 = 6;
    /// PegOffset, i32.
    pub const PEG_OFFSET: u8 = 7;
    /// Discretion, alpha(1).
    pub const DISCRETION: u8 = 8;
    /// DiscretionPrice, price(8).
    pub const DISCRETION_PRICE: u8 = 9;
    /// DiscretionPegType, alpha(1).
    pub const DISCRETION_PEG_TYPE: u8 = 10;
    /// DiscretionPegOffset, i32.
    pub const DISCRETION_PEG_OFFSET: u8 = 11;
    /// PostOnly, alpha(1).
    pub const POST_ONLY: u8 = 12;
    /// RandomReserves, u32.
    pub const RANDOM_RESERVES: u8 = 13;
    /// Route, alpha(4).
    pub const ROUTE: u8 = 14;
    /// ExpireTime, u32 seconds since midnight.
    pub const EXPIRE_TIME: u8 = 15;
    /// TradeNow, alpha(1).
    pub const TRADE_NOW: u8 = 16;
    /// HandleInst, alpha(1).
    pub const HANDLE_INST: u8 = 17;
    /// BBO Weight Indicator, alpha(1).
    pub const BBO_WEIGHT_INDICATOR: u8 = 18;
    /// ReferencePrice, price(8) (Order Executed).
    pub const REFERENCE_PRICE: u8 = 19;
    /// ReferencePriceType, alpha(1) (Order Executed).
    pub const REFERENCE_PRICE_TYPE: u8 = 20;
    /// Cascade: reduce-only, alpha(1) `Y`/`N`.
    pub const CASCADE_REDUCE_ONLY: u8 = 100;
    /// Cascade: self-trade prevention, alpha(1) `N` allow, `T` expire taker, `M` expire maker,
    /// `B` expire both.
    pub const CASCADE_SELF_TRADE: u8 = 101;
    /// Cascade: order type, alpha(1) `L` limit, `M` market.
    pub const CASCADE_ORDER_TYPE: u8 = 102;
}

/// Bytes of the appendage length field.
pub const APPENDAGE_LENGTH_LEN: usize = 2;

/// One TagValue element of an appendage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagValue<'a> {
    /// The option tag ([`tag`]).
    pub tag: u8,
    /// The value bytes.
    pub value: &'a [u8],
}

/// An OUCH appendage whose TagValue elements are known to tile its bytes exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Appendage<'a>(&'a [u8]);

impl<'a> Appendage<'a> {
    /// No optional fields.
    pub const EMPTY: Appendage<'static> = Appendage(&[]);

    /// Checks that `bytes` is a sequence of whole TagValue elements.
    ///
    /// # Errors
    /// [`CodecError::AppendageElement`] for an element of length 0 or one running past the end.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CodecError> {
        let mut offset = 0;
        while offset < bytes.len() {
            let length = usize::from(bytes[offset]);
            if length == 0 || offset + 1 + length > bytes.len() {
                return Err(CodecError::AppendageElement { offset });
            }
            offset += 1 + length;
        }
        Ok(Self(bytes))
    }

    /// The raw bytes, without the 2-byte length.
    #[must_use]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Bytes of the elements (the value of the appendage length field).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no elements.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The elements in order.
    #[must_use]
    pub const fn iter(&self) -> TagValues<'a> {
        TagValues {
            bytes: self.0,
            offset: 0,
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        let len = u16::try_from(self.0.len()).map_err(|_| CodecError::FieldOverflow {
            field: "appendage length",
        })?;
        w.u16(len)?;
        w.bytes(self.0)
    }

    /// Reads the 2-byte appendage length and the appendage after a message's fixed part; the
    /// appendage must end the message exactly.
    fn decode(r: &mut Reader<'a>) -> Result<Self, CodecError> {
        let declared = usize::from(r.u16()?);
        let fixed = r.position();
        let rest = r.rest();
        if rest.len() < declared {
            return Err(CodecError::AppendageLength {
                declared,
                available: rest.len(),
            });
        }
        if rest.len() > declared {
            return Err(CodecError::TrailingBytes {
                expected: fixed + declared,
                actual: fixed + rest.len(),
            });
        }
        Self::parse(rest)
    }
}

impl<'a> IntoIterator for Appendage<'a> {
    type Item = TagValue<'a>;
    type IntoIter = TagValues<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the elements of an [`Appendage`].
#[derive(Clone, Debug)]
pub struct TagValues<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for TagValues<'a> {
    type Item = TagValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let length = usize::from(*self.bytes.get(self.offset)?);
        // `Appendage::parse` proved every element is whole; `get` keeps that from being a
        // panic even if it were not.
        let element = self.bytes.get(self.offset + 1..self.offset + 1 + length)?;
        self.offset += 1 + length;
        let (tag, value) = element.split_first()?;
        Some(TagValue { tag: *tag, value })
    }
}

/// Writes one TagValue element (`length = 1 + value.len()`, tag, value) at the front of `out`;
/// returns the bytes written. Used to build appendages.
///
/// # Errors
/// [`CodecError::FieldOverflow`] for a value longer than 254 bytes;
/// [`CodecError::BufferTooSmall`] when `out` is too short.
pub fn encode_tag_value(tag: u8, value: &[u8], out: &mut [u8]) -> Result<usize, CodecError> {
    let length = u8::try_from(value.len() + 1).map_err(|_| CodecError::FieldOverflow {
        field: "tag value length",
    })?;
    let mut w = Writer::with_len(out, 2 + value.len())?;
    w.u8(length)?;
    w.u8(tag)?;
    w.bytes(value)?;
    Ok(w.position())
}

/// `O` Enter Order (47 bytes + appendage).
///
/// Type 0:1, UserRefNum 1:4, Side 5:1, Quantity 6:4, Symbol 10:8, Price 18:8, TimeInForce 26:1,
/// Display 27:1, Capacity 28:1, InterMarketSweepEligibility 29:1, CrossType 30:1, ClOrdID 31:14,
/// AppendageLength 45:2, appendage 47:n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnterOrder<'a> {
    /// Day-unique, strictly increasing per OUCH account.
    pub user_ref_num: u32,
    /// [`side`].
    pub side: u8,
    /// Shares (Cascade: lots).
    pub quantity: u32,
    /// Symbol, alpha(8).
    pub symbol: [u8; 8],
    /// Price, 4 implied decimals.
    pub price: i64,
    /// [`time_in_force`].
    pub time_in_force: u8,
    /// [`display`].
    pub display: u8,
    /// [`capacity`].
    pub capacity: u8,
    /// [`intermarket_sweep`].
    pub intermarket_sweep: u8,
    /// [`cross_type`].
    pub cross_type: u8,
    /// The client's order id, alpha(14), echoed back.
    pub cl_ord_id: [u8; 14],
    /// Optional fields.
    pub appendage: Appendage<'a>,
}

impl<'a> EnterOrder<'a> {
    /// Size without the appendage.
    pub const FIXED_LEN: usize = 47;

    /// Bytes on the wire.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.appendage.len()
    }

    /// Encodes at the front of `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`], or [`CodecError::FieldOverflow`] for an appendage longer
    /// than `u16`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::with_len(out, self.encoded_len())?;
        w.u8(inbound_type::ENTER_ORDER)?;
        w.u32(self.user_ref_num)?;
        w.u8(self.side)?;
        w.u32(self.quantity)?;
        w.bytes(&self.symbol)?;
        w.i64(self.price)?;
        w.u8(self.time_in_force)?;
        w.u8(self.display)?;
        w.u8(self.capacity)?;
        w.u8(self.intermarket_sweep)?;
        w.u8(self.cross_type)?;
        w.bytes(&self.cl_ord_id)?;
        self.appendage.encode(&mut w)?;
        Ok(w.position())
    }

    fn decode_body(r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(Self {
            user_ref_num: r.u32()?,
            side: r.u8()?,
            quantity: r.u32()?,
            symbol: r.array()?,
            price: r.i64()?,
            time_in_force: r.u8()?,
            display: r.u8()?,
            capacity: r.u8()?,
            intermarket_sweep: r.u8()?,
            cross_type: r.u8()?,
            cl_ord_id: r.array()?,
            appendage: Appendage::decode(r)?,
        })
    }
}

/// `U` Replace Order (40 bytes + appendage).
///
/// Type 0:1, OrigUserRefNum 1:4, UserRefNum 5:4, Quantity 9:4, Price 13:8, TimeInForce 21:1,
/// Display 22:1, InterMarketSweepEligibility 23:1, ClOrdID 24:14, AppendageLength 38:2,
/// appendage 40:n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplaceOrder<'a> {
    /// The order's current UserRefNum.
    pub orig_user_ref_num: u32,
    /// The replacement's new UserRefNum.
    pub user_ref_num: u32,
    /// New open quantity.
    pub quantity: u32,
    /// New price, 4 implied decimals.
    pub price: i64,
    /// [`time_in_force`].
    pub time_in_force: u8,
    /// [`display`].
    pub display: u8,
    /// [`intermarket_sweep`].
    pub intermarket_sweep: u8,
    /// New ClOrdID.
    pub cl_ord_id: [u8; 14],
    /// Optional fields.
    pub appendage: Appendage<'a>,
}

impl<'a> ReplaceOrder<'a> {
    /// Size without the appendage.
    pub const FIXED_LEN: usize = 40;

    /// Bytes on the wire.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.appendage.len()
    }

    /// Encodes at the front of `out`; returns the bytes written.
    ///
    /// # Errors
    /// As [`EnterOrder::encode`].
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::with_len(out, self.encoded_len())?;
        w.u8(inbound_type::REPLACE_ORDER)?;
        w.u32(self.orig_user_ref_num)?;
        w.u32(self.user_ref_num)?;
        w.u32(self.quantity)?;
        w.i64(self.price)?;
        w.u8(self.time_in_force)?;
        w.u8(self.display)?;
        w.u8(self.intermarket_sweep)?;
        w.bytes(&self.cl_ord_id)?;
        self.appendage.encode(&mut w)?;
        Ok(w.position())
    }

    fn decode_body(r: &mut Reader<'a>) -> Result<Self, CodecError> {
        Ok(Self {
            orig_user_ref_num: r.u32()?,
            user_ref_num: r.u32()?,
            quantity: r.u32()?,
            price: r.i64()?,
            time_in_force: r.u8()?,
            display: r.u8()?,
            intermarket_sweep: r.u8()?,
            cl_ord_id: r.array()?,
            appendage: Appendage::decode(r)?,
        })
    }
}

/// `X` Cancel Order (9 bytes): Type 0:1, UserRefNum 1:4, Quantity 5:4 (the new intended open
/// quantity; 0 cancels the order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelOrder {
    /// The order's UserRefNum.
    pub user_ref_num: u32,
    /// New open quantity; 0 = cancel in full.
    pub quantity: u32,
}

impl CancelOrder {
    /// Size.
    pub const LEN: usize = 9;
}

/// `M` Modify Order (10 bytes): Type 0:1, UserRefNum 1:4, Side 5:1, Quantity 6:4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModifyOrder {
    /// The order's UserRefNum.
    pub user_ref_num: u32,
    /// [`side`]; Cascade accepts only the order's own side.
    pub side: u8,
    /// New open quantity.
    pub quantity: u32,
}

impl ModifyOrder {
    /// Size.
    pub const LEN: usize = 10;
}

/// Size of the Account Query (`Q`): the type byte alone.
pub const ACCOUNT_QUERY_LEN: usize = 1;

/// An inbound OUCH message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// `O`.
    EnterOrder(EnterOrder<'a>),
    /// `U`.
    ReplaceOrder(ReplaceOrder<'a>),
    /// `X`.
    CancelOrder(CancelOrder),
    /// `M`.
    ModifyOrder(ModifyOrder),
    /// `Q`.
    AccountQuery,
}

impl<'a> Inbound<'a> {
    /// The message type byte.
    #[must_use]
    pub const fn kind(&self) -> u8 {
        match self {
            Self::EnterOrder(_) => inbound_type::ENTER_ORDER,
            Self::ReplaceOrder(_) => inbound_type::REPLACE_ORDER,
            Self::CancelOrder(_) => inbound_type::CANCEL_ORDER,
            Self::ModifyOrder(_) => inbound_type::MODIFY_ORDER,
            Self::AccountQuery => inbound_type::ACCOUNT_QUERY,
        }
    }

    /// Bytes on the wire.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        match self {
            Self::EnterOrder(m) => m.encoded_len(),
            Self::ReplaceOrder(m) => m.encoded_len(),
            Self::CancelOrder(_) => CancelOrder::LEN,
            Self::ModifyOrder(_) => ModifyOrder::LEN,
            Self::AccountQuery => ACCOUNT_QUERY_LEN,
        }
    }

    /// Encodes at the front of `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`]; [`CodecError::FieldOverflow`] for an oversized
    /// appendage.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        match self {
            Self::EnterOrder(m) => m.encode(out),
            Self::ReplaceOrder(m) => m.encode(out),
            Self::CancelOrder(m) => {
                let mut w = Writer::with_len(out, CancelOrder::LEN)?;
                w.u8(inbound_type::CANCEL_ORDER)?;
                w.u32(m.user_ref_num)?;
                w.u32(m.quantity)?;
                Ok(w.position())
            }
            Self::ModifyOrder(m) => {
                let mut w = Writer::with_len(out, ModifyOrder::LEN)?;
                w.u8(inbound_type::MODIFY_ORDER)?;
                w.u32(m.user_ref_num)?;
                w.u8(m.side)?;
                w.u32(m.quantity)?;
                Ok(w.position())
            }
            Self::AccountQuery => {
                let mut w = Writer::with_len(out, ACCOUNT_QUERY_LEN)?;
                w.u8(inbound_type::ACCOUNT_QUERY)?;
                Ok(w.position())
            }
        }
    }

    /// Decodes one inbound message (the whole payload of a `U` packet).
    ///
    /// # Errors
    /// [`CodecError::Empty`], [`CodecError::UnknownMessageType`], [`CodecError::Truncated`],
    /// [`CodecError::TrailingBytes`], [`CodecError::AppendageLength`],
    /// [`CodecError::AppendageElement`].
    pub fn decode(buf: &'a [u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(buf);
        let kind = *buf.first().ok_or(CodecError::Empty)?;
        r.u8()?;
        Ok(match kind {
            inbound_type::ENTER_ORDER => {
                at_least(buf, EnterOrder::FIXED_LEN)?;
                Self::EnterOrder(EnterOrder::decode_body(&mut r)?)
            }
            inbound_type::REPLACE_ORDER => {
                at_least(buf, ReplaceOrder::FIXED_LEN)?;
                Self::ReplaceOrder(ReplaceOrder::decode_body(&mut r)?)
            }
            inbound_type::CANCEL_ORDER => {
                exact_len(buf, CancelOrder::LEN)?;
                Self::CancelOrder(CancelOrder {
                    user_ref_num: r.u32()?,
                    quantity: r.u32()?,
                })
            }
            inbound_type::MODIFY_ORDER => {
                exact_len(buf, ModifyOrder::LEN)?;
                Self::ModifyOrder(ModifyOrder {
                    user_ref_num: r.u32()?,
                    side: r.u8()?,
                    quantity: r.u32()?,
                })
            }
            inbound_type::ACCOUNT_QUERY => {
                exact_len(buf, ACCOUNT_QUERY_LEN)?;
                Self::AccountQuery
            }
            other => return Err(CodecError::UnknownMessageType { kind: other }),
        })
    }
}

fn at_least(buf: &[u8], fixed: usize) -> Result<(), CodecError> {
    if buf.len() < fixed {
        return Err(CodecError::Truncated {
            needed: fixed,
            available: buf.len(),
        });
    }
    Ok(())
}

/// `S` System Event (10 bytes): Type 0:1, Timestamp 1:8, EventCode 9:1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemEvent {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// [`event_code`].
    pub event_code: u8,
}

impl SystemEvent {
    /// Size.
    pub const LEN: usize = 10;
}

/// `A` Order Accepted (64 bytes + appendage).
///
/// Type 0:1, Timestamp 1:8, UserRefNum 9:4, Side 13:1, Quantity 14:4, Symbol 18:8, Price 26:8,
/// TimeInForce 34:1, Display 35:1, OrderReferenceNumber 36:8, Capacity 44:1,
/// InterMarketSweepEligibility 45:1, CrossType 46:1, OrderState 47:1, ClOrdID 48:14,
/// AppendageLength 62:2, appendage 64:n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderAccepted<'a> {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum.
    pub user_ref_num: u32,
    /// [`side`].
    pub side: u8,
    /// Accepted quantity.
    pub quantity: u32,
    /// Symbol.
    pub symbol: [u8; 8],
    /// Accepted price, 4 implied decimals.
    pub price: i64,
    /// [`time_in_force`].
    pub time_in_force: u8,
    /// [`display`].
    pub display: u8,
    /// Exchange-assigned order id (Cascade: the engine's `OrderId`).
    pub order_reference_number: u64,
    /// [`capacity`].
    pub capacity: u8,
    /// [`intermarket_sweep`].
    pub intermarket_sweep: u8,
    /// [`cross_type`].
    pub cross_type: u8,
    /// [`order_state`].
    pub order_state: u8,
    /// ClOrdID.
    pub cl_ord_id: [u8; 14],
    /// Optional fields.
    pub appendage: Appendage<'a>,
}

impl OrderAccepted<'_> {
    /// Size without the appendage.
    pub const FIXED_LEN: usize = 64;
}

/// `U` Order Replaced (68 bytes + appendage): as [`OrderAccepted`] with OrigUserRefNum after
/// the timestamp.
///
/// Type 0:1, Timestamp 1:8, OrigUserRefNum 9:4, UserRefNum 13:4, Side 17:1, Quantity 18:4,
/// Symbol 22:8, Price 30:8, TimeInForce 38:1, Display 39:1, OrderReferenceNumber 40:8,
/// Capacity 48:1, InterMarketSweepEligibility 49:1, CrossType 50:1, OrderState 51:1,
/// ClOrdID 52:14, AppendageLength 66:2, appendage 68:n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderReplaced<'a> {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The replaced order's UserRefNum.
    pub orig_user_ref_num: u32,
    /// The replacement's UserRefNum.
    pub user_ref_num: u32,
    /// [`side`].
    pub side: u8,
    /// New open quantity.
    pub quantity: u32,
    /// Symbol.
    pub symbol: [u8; 8],
    /// New price, 4 implied decimals.
    pub price: i64,
    /// [`time_in_force`].
    pub time_in_force: u8,
    /// [`display`].
    pub display: u8,
    /// Exchange-assigned order id (unchanged by a replace in Cascade).
    pub order_reference_number: u64,
    /// [`capacity`].
    pub capacity: u8,
    /// [`intermarket_sweep`].
    pub intermarket_sweep: u8,
    /// [`cross_type`].
    pub cross_type: u8,
    /// [`order_state`].
    pub order_state: u8,
    /// ClOrdID of the replacement.
    pub cl_ord_id: [u8; 14],
    /// Optional fields.
    pub appendage: Appendage<'a>,
}

impl OrderReplaced<'_> {
    /// Size without the appendage.
    pub const FIXED_LEN: usize = 68;
}

/// `C` Order Canceled (18 bytes): Type 0:1, Timestamp 1:8, UserRefNum 9:4, Quantity 13:4
/// (shares canceled), Reason 17:1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCanceled {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum.
    pub user_ref_num: u32,
    /// Shares canceled by this message.
    pub quantity: u32,
    /// [`cancel_reason`].
    pub reason: u8,
}

impl OrderCanceled {
    /// Size.
    pub const LEN: usize = 18;
}

/// `E` Order Executed (36 bytes + appendage): Type 0:1, Timestamp 1:8, UserRefNum 9:4,
/// Quantity 13:4, Price 17:8, LiquidityFlag 25:1, MatchNumber 26:8, AppendageLength 34:2,
/// appendage 36:n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderExecuted<'a> {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum (0 for the engine's liquidation orders).
    pub user_ref_num: u32,
    /// Shares executed.
    pub quantity: u32,
    /// Execution price, 4 implied decimals.
    pub price: i64,
    /// [`liquidity_flag`].
    pub liquidity_flag: u8,
    /// Trade id, the same on both sides and on the ITCH feed.
    pub match_number: u64,
    /// Optional fields.
    pub appendage: Appendage<'a>,
}

impl OrderExecuted<'_> {
    /// Size without the appendage.
    pub const FIXED_LEN: usize = 36;
}

/// `J` Rejected (29 bytes): Type 0:1, Timestamp 1:8, UserRefNum 9:4, Reason 13:2,
/// ClOrdID 15:14.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The rejected message's UserRefNum.
    pub user_ref_num: u32,
    /// Reason code: an engine `Reject` code (1–999) or a gateway `MapReject` code (1000+).
    pub reason: u16,
    /// The rejected message's ClOrdID.
    pub cl_ord_id: [u8; 14],
}

impl Rejected {
    /// Size.
    pub const LEN: usize = 29;
}

/// `P` Cancel Pending (13 bytes): Type 0:1, Timestamp 1:8, UserRefNum 9:4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelPending {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum.
    pub user_ref_num: u32,
}

impl CancelPending {
    /// Size.
    pub const LEN: usize = 13;
}

/// `I` Cancel Reject (13 bytes): Type 0:1, Timestamp 1:8, UserRefNum 9:4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelReject {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum.
    pub user_ref_num: u32,
}

impl CancelReject {
    /// Size.
    pub const LEN: usize = 13;
}

/// `M` Order Modified (18 bytes): Type 0:1, Timestamp 1:8, UserRefNum 9:4, Side 13:1,
/// Quantity 14:4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderModified {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The order's UserRefNum.
    pub user_ref_num: u32,
    /// [`side`].
    pub side: u8,
    /// New open quantity.
    pub quantity: u32,
}

impl OrderModified {
    /// Size.
    pub const LEN: usize = 18;
}

/// `Q` Account Query Response (13 bytes): Type 0:1, Timestamp 1:8, NextUserRefNum 9:4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountQueryResponse {
    /// Nanoseconds since midnight.
    pub timestamp: u64,
    /// The lowest UserRefNum the account may use next.
    pub next_user_ref_num: u32,
}

impl AccountQueryResponse {
    /// Size.
    pub const LEN: usize = 13;
}

/// An outbound OUCH message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound<'a> {
    /// `S`.
    SystemEvent(SystemEvent),
    /// `A`.
    OrderAccepted(OrderAccepted<'a>),
    /// `U`.
    OrderReplaced(OrderReplaced<'a>),
    /// `C`.
    OrderCanceled(OrderCanceled),
    /// `E`.
    OrderExecuted(OrderExecuted<'a>),
    /// `J`.
    Rejected(Rejected),
    /// `P`.
    CancelPending(CancelPending),
    /// `I`.
    CancelReject(CancelReject),
    /// `M`.
    OrderModified(OrderModified),
    /// `Q`.
    AccountQueryResponse(AccountQueryResponse),
}

impl<'a> Outbound<'a> {
    /// The message type byte.
    #[must_use]
    pub const fn kind(&self) -> u8 {
        match self {
            Self::SystemEvent(_) => outbound_type::SYSTEM_EVENT,
            Self::OrderAccepted(_) => outbound_type::ORDER_ACCEPTED,
            Self::OrderReplaced(_) => outbound_type::ORDER_REPLACED,
            Self::OrderCanceled(_) => outbound_type::ORDER_CANCELED,
            Self::OrderExecuted(_) => outbound_type::ORDER_EXECUTED,
            Self::Rejected(_) => outbound_type::REJECTED,
            Self::CancelPending(_) => outbound_type::CANCEL_PENDING,
            Self::CancelReject(_) => outbound_type::CANCEL_REJECT,
            Self::OrderModified(_) => outbound_type::ORDER_MODIFIED,
            Self::AccountQueryResponse(_) => outbound_type::ACCOUNT_QUERY_RESPONSE,
        }
    }

    /// Bytes on the wire.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        match self {
            Self::SystemEvent(_) => SystemEvent::LEN,
            Self::OrderAccepted(m) => OrderAccepted::FIXED_LEN + m.appendage.len(),
            Self::OrderReplaced(m) => OrderReplaced::FIXED_LEN + m.appendage.len(),
            Self::OrderCanceled(_) => OrderCanceled::LEN,
            Self::OrderExecuted(m) => OrderExecuted::FIXED_LEN + m.appendage.len(),
            Self::Rejected(_) => Rejected::LEN,
            Self::CancelPending(_) => CancelPending::LEN,
            Self::CancelReject(_) => CancelReject::LEN,
            Self::OrderModified(_) => OrderModified::LEN,
            Self::AccountQueryResponse(_) => AccountQueryResponse::LEN,
        }
    }

    /// Encodes at the front of `out`; returns the bytes written.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`]; [`CodecError::FieldOverflow`] for an oversized
    /// appendage.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let mut w = Writer::with_len(out, self.encoded_len())?;
        w.u8(self.kind())?;
        match self {
            Self::SystemEvent(m) => {
                w.u64(m.timestamp)?;
                w.u8(m.event_code)?;
            }
            Self::OrderAccepted(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.user_ref_num)?;
                w.u8(m.side)?;
                w.u32(m.quantity)?;
                w.bytes(&m.symbol)?;
                w.i64(m.price)?;
                w.u8(m.time_in_force)?;
                w.u8(m.display)?;
                w.u64(m.order_reference_number)?;
                w.u8(m.capacity)?;
                w.u8(m.intermarket_sweep)?;
                w.u8(m.cross_type)?;
                w.u8(m.order_state)?;
                w.bytes(&m.cl_ord_id)?;
                m.appendage.encode(&mut w)?;
            }
            Self::OrderReplaced(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.orig_user_ref_num)?;
                w.u32(m.user_ref_num)?;
                w.u8(m.side)?;
                w.u32(m.quantity)?;
                w.bytes(&m.symbol)?;
                w.i64(m.price)?;
                w.u8(m.time_in_force)?;
                w.u8(m.display)?;
                w.u64(m.order_reference_number)?;
                w.u8(m.capacity)?;
                w.u8(m.intermarket_sweep)?;
                w.u8(m.cross_type)?;
                w.u8(m.order_state)?;
                w.bytes(&m.cl_ord_id)?;
                m.appendage.encode(&mut w)?;
            }
            Self::OrderCanceled(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.user_ref_num)?;
                w.u32(m.quantity)?;
                w.u8(m.reason)?;
            }
            Self::OrderExecuted(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.user_ref_num)?;
                w.u32(m.quantity)?;
                w.i64(m.price)?;
                w.u8(m.liquidity_flag)?;
                w.u64(m.match_number)?;
                m.appendage.encode(&mut w)?;
            }
            Self::Rejected(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.user_ref_num)?;
                w.u16(m.reason)?;
                w.bytes(&m.cl_ord_id)?;
            }
            Self::CancelPending(CancelPending {
                timestamp,
                user_ref_num,
            })
            | Self::CancelReject(CancelReject {
                timestamp,
                user_ref_num,
            }) => {
                w.u64(*timestamp)?;
                w.u32(*user_ref_num)?;
            }
            Self::OrderModified(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.user_ref_num)?;
                w.u8(m.side)?;
                w.u32(m.quantity)?;
            }
            Self::AccountQueryResponse(m) => {
                w.u64(m.timestamp)?;
                w.u32(m.next_user_ref_num)?;
            }
        }
        Ok(w.position())
    }

    /// Decodes one outbound message (the whole payload of an `S` packet).
    ///
    /// # Errors
    /// As [`Inbound::decode`].
    pub fn decode(buf: &'a [u8]) -> Result<Self, CodecError> {
        let kind = *buf.first().ok_or(CodecError::Empty)?;
        let mut r = Reader::new(buf);
        r.u8()?;
        let fixed = match kind {
            outbound_type::SYSTEM_EVENT => SystemEvent::LEN,
            outbound_type::ORDER_ACCEPTED => OrderAccepted::FIXED_LEN,
            outbound_type::ORDER_REPLACED => OrderReplaced::FIXED_LEN,
            outbound_type::ORDER_CANCELED => OrderCanceled::LEN,
            outbound_type::ORDER_EXECUTED => OrderExecuted::FIXED_LEN,
            outbound_type::REJECTED => Rejected::LEN,
            outbound_type::CANCEL_PENDING => CancelPending::LEN,
            outbound_type::CANCEL_REJECT => CancelReject::LEN,
            outbound_type::ORDER_MODIFIED => OrderModified::LEN,
            outbound_type::ACCOUNT_QUERY_RESPONSE => AccountQueryResponse::LEN,
            other => return Err(CodecError::UnknownMessageType { kind: other }),
        };
        let variable = matches!(
            kind,
            outbound_type::ORDER_ACCEPTED
                | outbound_type::ORDER_REPLACED
                | outbound_type::ORDER_EXECUTED
        );
        if variable {
            at_least(buf, fixed)?;
        } else {
            exact_len(buf, fixed)?;
        }
        Ok(match kind {
            outbound_type::SYSTEM_EVENT => Self::SystemEvent(SystemEvent {
                timestamp: r.u64()?,
                event_code: r.u8()?,
            }),
            outbound_type::ORDER_ACCEPTED => Self::OrderAccepted(OrderAccepted {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
                side: r.u8()?,
                quantity: r.u32()?,
                symbol: r.array()?,
                price: r.i64()?,
                time_in_force: r.u8()?,
                display: r.u8()?,
                order_reference_number: r.u64()?,
                capacity: r.u8()?,
                intermarket_sweep: r.u8()?,
                cross_type: r.u8()?,
                order_state: r.u8()?,
                cl_ord_id: r.array()?,
                appendage: Appendage::decode(&mut r)?,
            }),
            outbound_type::ORDER_REPLACED => Self::OrderReplaced(OrderReplaced {
                timestamp: r.u64()?,
                orig_user_ref_num: r.u32()?,
                user_ref_num: r.u32()?,
                side: r.u8()?,
                quantity: r.u32()?,
                symbol: r.array()?,
                price: r.i64()?,
                time_in_force: r.u8()?,
                display: r.u8()?,
                order_reference_number: r.u64()?,
                capacity: r.u8()?,
                intermarket_sweep: r.u8()?,
                cross_type: r.u8()?,
                order_state: r.u8()?,
                cl_ord_id: r.array()?,
                appendage: Appendage::decode(&mut r)?,
            }),
            outbound_type::ORDER_CANCELED => Self::OrderCanceled(OrderCanceled {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
                quantity: r.u32()?,
                reason: r.u8()?,
            }),
            outbound_type::ORDER_EXECUTED => Self::OrderExecuted(OrderExecuted {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
                quantity: r.u32()?,
                price: r.i64()?,
                liquidity_flag: r.u8()?,
                match_number: r.u64()?,
                appendage: Appendage::decode(&mut r)?,
            }),
            outbound_type::REJECTED => Self::Rejected(Rejected {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
                reason: r.u16()?,
                cl_ord_id: r.array()?,
            }),
            outbound_type::CANCEL_PENDING => Self::CancelPending(CancelPending {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
            }),
            outbound_type::CANCEL_REJECT => Self::CancelReject(CancelReject {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
            }),
            outbound_type::ORDER_MODIFIED => Self::OrderModified(OrderModified {
                timestamp: r.u64()?,
                user_ref_num: r.u32()?,
                side: r.u8()?,
                quantity: r.u32()?,
            }),
            _ => Self::AccountQueryResponse(AccountQueryResponse {
                timestamp: r.u64()?,
                next_user_ref_num: r.u32()?,
            }),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds bytes field by field from (offset, bytes) pairs, checking each field starts
    /// where the reference says it does.
    pub(crate) fn layout(fields: &[(usize, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (offset, bytes) in fields {
            assert_eq!(out.len(), *offset, "field at {offset} misplaced");
            out.extend_from_slice(bytes);
        }
        out
    }

    fn enter_order_buy_100_aapl_at_150() -> (EnterOrder<'static>, Vec<u8>) {
        let msg = EnterOrder {
            user_ref_num: 7,
            side: side::BUY,
            quantity: 100,
            symbol: *b"AAPL    ",
            price: 1_500_000,
            time_in_force: time_in_force::DAY,
            display: display::VISIBLE,
            capacity: capacity::AGENCY,
            intermarket_sweep: intermarket_sweep::NOT_ELIGIBLE,
            cross_type: cross_type::CONTINUOUS,
            cl_ord_id: *b"client-0000001",
            appendage: Appendage::EMPTY,
        };
        let bytes = layout(&[
            (0, b"O"),
            (1, &7u32.to_be_bytes()),
            (5, b"B"),
            (6, &100u32.to_be_bytes()),
            (10, b"AAPL    "),
            (18, &1_500_000i64.to_be_bytes()),
            (26, b"0"),
            (27, b"Y"),
            (28, b"A"),
            (29, b"N"),
            (30, b"N"),
            (31, b"client-0000001"),
            (45, &[0, 0]),
        ]);
        (msg, bytes)
    }

    #[test]
    fn enter_order_is_47_bytes() {
        let (msg, bytes) = enter_order_buy_100_aapl_at_150();
        assert_eq!(bytes.len(), 47);
        let mut out = [0u8; 64];
        assert_eq!(msg.encode(&mut out), Ok(47));
        assert_eq!(&out[..47], &bytes[..]);
        assert_eq!(Inbound::decode(&bytes), Ok(Inbound::EnterOrder(msg)));
    }

    #[test]
    fn enter_order_with_appendage() {
        let (_, mut bytes) = enter_order_buy_100_aapl_at_150();
        // Firm "ABCD" (length 5 = tag + 4) and PostOnly "P" (length 2).
        bytes[45..47].copy_from_slice(&9u16.to_be_bytes());
        bytes.extend_from_slice(&[
            5,
            tag::FIRM,
            b'A',
            b'B',
            b'C',
            b'D',
            2,
            tag::POST_ONLY,
            b'P',
        ]);
        let Ok(Inbound::EnterOrder(msg)) = Inbound::decode(&bytes) else {
            panic!("decodes");
        };
        let tags: Vec<_> = msg.appendage.iter().collect();
        assert_eq!(
            tags,
            [
                TagValue {
                    tag: tag::FIRM,
                    value: b"ABCD"
                },
                TagValue {
                    tag: tag::POST_ONLY,
                    value: b"P"
                }
            ]
        );
        let mut out = [0u8; 64];
        assert_eq!(msg.encode(&mut out), Ok(56));
        assert_eq!(&out[..56], &bytes[..]);
        let mut element = [0u8; 8];
        assert_eq!(encode_tag_value(tag::FIRM, b"ABCD", &mut element), Ok(6));
        assert_eq!(&element[..6], &bytes[47..53]);
    }

    #[test]
    fn appendage_errors() {
        let (_, bytes) = enter_order_buy_100_aapl_at_150();
        let mut long = bytes.clone();
        long[45..47].copy_from_slice(&3u16.to_be_bytes());
        long.extend_from_slice(&[2, 12]);
        assert_eq!(
            Inbound::decode(&long),
            Err(CodecError::AppendageLength {
                declared: 3,
                available: 2
            })
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Inbound::decode(&trailing),
            Err(CodecError::TrailingBytes {
                expected: 47,
                actual: 48
            })
        );
        let mut zero = bytes.clone();
        zero[45..47].copy_from_slice(&1u16.to_be_bytes());
        zero.push(0);
        assert_eq!(
            Inbound::decode(&zero),
            Err(CodecError::AppendageElement { offset: 0 })
        );
        let mut overrun = bytes;
        overrun[45..47].copy_from_slice(&3u16.to_be_bytes());
        overrun.extend_from_slice(&[1, 3, 5]);
        assert_eq!(
            Inbound::decode(&overrun),
            Err(CodecError::AppendageElement { offset: 2 })
        );
    }

    #[test]
    fn replace_cancel_modify_query_fixtures() {
        let replace = ReplaceOrder {
            orig_user_ref_num: 7,
            user_ref_num: 8,
            quantity: 50,
            price: 1_499_900,
            time_in_force: time_in_force::DAY,
            display: display::VISIBLE,
            intermarket_sweep: intermarket_sweep::NOT_ELIGIBLE,
            cl_ord_id: *b"client-0000002",
            appendage: Appendage::EMPTY,
        };
        let bytes = layout(&[
            (0, b"U"),
            (1, &7u32.to_be_bytes()),
            (5, &8u32.to_be_bytes()),
            (9, &50u32.to_be_bytes()),
            (13, &1_499_900i64.to_be_bytes()),
            (21, b"0"),
            (22, b"Y"),
            (23, b"N"),
            (24, b"client-0000002"),
            (38, &[0, 0]),
        ]);
        assert_eq!(bytes.len(), 40);
        check_inbound(Inbound::ReplaceOrder(replace), &bytes);
        let cancel = layout(&[
            (0, b"X"),
            (1, &8u32.to_be_bytes()),
            (5, &0u32.to_be_bytes()),
        ]);
        check_inbound(
            Inbound::CancelOrder(CancelOrder {
                user_ref_num: 8,
                quantity: 0,
            }),
            &cancel,
        );
        let modify = layout(&[
            (0, b"M"),
            (1, &8u32.to_be_bytes()),
            (5, b"S"),
            (6, &25u32.to_be_bytes()),
        ]);
        check_inbound(
            Inbound::ModifyOrder(ModifyOrder {
                user_ref_num: 8,
                side: side::SELL,
                quantity: 25,
            }),
            &modify,
        );
        check_inbound(Inbound::AccountQuery, b"Q");
        assert_eq!(
            Inbound::decode(b"Q "),
            Err(CodecError::TrailingBytes {
                expected: 1,
                actual: 2
            })
        );
        assert_eq!(
            Inbound::decode(b"X\0\0"),
            Err(CodecError::Truncated {
                needed: 9,
                available: 3
            })
        );
        assert_eq!(Inbound::decode(b""), Err(CodecError::Empty));
        assert_eq!(
            Inbound::decode(b"Z"),
            Err(CodecError::UnknownMessageType { kind: b'Z' })
        );
    }

    fn check_inbound(msg: Inbound<'_>, bytes: &[u8]) {
        assert_eq!(msg.encoded_len(), bytes.len());
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
        assert_eq!(Inbound::decode(bytes), Ok(msg));
    }

    fn check_outbound(msg: Outbound<'_>, bytes: &[u8]) {
        assert_eq!(msg.encoded_len(), bytes.len());
        let mut out = vec![0u8; bytes.len()];
        assert_eq!(msg.encode(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
        assert_eq!(Outbound::decode(bytes), Ok(msg));
        let mut short = vec![0u8; bytes.len() - 1];
        assert!(matches!(
            msg.encode(&mut short),
            Err(CodecError::BufferTooSmall { .. })
        ));
    }

    const TS: u64 = 34_200_000_000_123;

    #[test]
    fn order_accepted_is_64_bytes() {
        let msg = OrderAccepted {
            timestamp: TS,
            user_ref_num: 7,
            side: side::BUY,
            quantity: 100,
            symbol: *b"AAPL    ",
            price: 1_500_000,
            time_in_force: time_in_force::DAY,
            display: display::VISIBLE,
            order_reference_number: 0x0102_0304_0506_0708,
            capacity: capacity::AGENCY,
            intermarket_sweep: intermarket_sweep::NOT_ELIGIBLE,
            cross_type: cross_type::CONTINUOUS,
            order_state: order_state::LIVE,
            cl_ord_id: *b"client-0000001",
            appendage: Appendage::EMPTY,
        };
        let bytes = layout(&[
            (0, b"A"),
            (1, &TS.to_be_bytes()),
            (9, &7u32.to_be_bytes()),
            (13, b"B"),
            (14, &100u32.to_be_bytes()),
            (18, b"AAPL    "),
            (26, &1_500_000i64.to_be_bytes()),
            (34, b"0"),
            (35, b"Y"),
            (36, &[1, 2, 3, 4, 5, 6, 7, 8]),
            (44, b"A"),
            (45, b"N"),
            (46, b"N"),
            (47, b"L"),
            (48, b"client-0000001"),
            (62, &[0, 0]),
        ]);
        assert_eq!(bytes.len(), 64);
        check_outbound(Outbound::OrderAccepted(msg), &bytes);
    }

    #[test]
    fn order_replaced_is_68_bytes() {
        let msg = OrderReplaced {
            timestamp: TS,
            orig_user_ref_num: 7,
            user_ref_num: 8,
            side: side::SELL,
            quantity: 50,
            symbol: *b"BTC-PERP",
            price: 650_001_000,
            time_in_force: time_in_force::DAY,
            display: display::VISIBLE,
            order_reference_number: 99,
            capacity: capacity::PRINCIPAL,
            intermarket_sweep: intermarket_sweep::NOT_ELIGIBLE,
            cross_type: cross_type::CONTINUOUS,
            order_state: order_state::LIVE,
            cl_ord_id: *b"replacement-01",
            appendage: Appendage::EMPTY,
        };
        let bytes = layout(&[
            (0, b"U"),
            (1, &TS.to_be_bytes()),
            (9, &7u32.to_be_bytes()),
            (13, &8u32.to_be_bytes()),
            (17, b"S"),
            (18, &50u32.to_be_bytes()),
            (22, b"BTC-PERP"),
            (30, &650_001_000i64.to_be_bytes()),
            (38, b"0"),
            (39, b"Y"),
            (40, &99u64.to_be_bytes()),
            (48, b"P"),
            (49, b"N"),
            (50, b"N"),
            (51, b"L"),
            (52, b"replacement-01"),
            (66, &[0, 0]),
        ]);
        assert_eq!(bytes.len(), 68);
        check_outbound(Outbound::OrderReplaced(msg), &bytes);
    }

    #[test]
    fn small_outbound_fixtures() {
        let ts = TS.to_be_bytes();
        check_outbound(
            Outbound::SystemEvent(SystemEvent {
                timestamp: TS,
                event_code: event_code::START_OF_DAY,
            }),
            &layout(&[(0, b"S"), (1, &ts), (9, b"S")]),
        );
        check_outbound(
            Outbound::OrderCanceled(OrderCanceled {
                timestamp: TS,
                user_ref_num: 7,
                quantity: 40,
                reason: cancel_reason::USER_REQUESTED,
            }),
            &layout(&[
                (0, b"C"),
                (1, &ts),
                (9, &7u32.to_be_bytes()),
                (13, &40u32.to_be_bytes()),
                (17, b"U"),
            ]),
        );
        check_outbound(
            Outbound::Rejected(Rejected {
                timestamp: TS,
                user_ref_num: 9,
                reason: 1002,
                cl_ord_id: *b"client-0000009",
            }),
            &layout(&[
                (0, b"J"),
                (1, &ts),
                (9, &9u32.to_be_bytes()),
                (13, &1002u16.to_be_bytes()),
                (15, b"client-0000009"),
            ]),
        );
        check_outbound(
            Outbound::CancelPending(CancelPending {
                timestamp: TS,
                user_ref_num: 7,
            }),
            &layout(&[(0, b"P"), (1, &ts), (9, &7u32.to_be_bytes())]),
        );
        check_outbound(
            Outbound::CancelReject(CancelReject {
                timestamp: TS,
                user_ref_num: 7,
            }),
            &layout(&[(0, b"I"), (1, &ts), (9, &7u32.to_be_bytes())]),
        );
        check_outbound(
            Outbound::OrderModified(OrderModified {
                timestamp: TS,
                user_ref_num: 7,
                side: side::BUY,
                quantity: 30,
            }),
            &layout(&[
                (0, b"M"),
                (1, &ts),
                (9, &7u32.to_be_bytes()),
                (13, b"B"),
                (14, &30u32.to_be_bytes()),
            ]),
        );
        check_outbound(
            Outbound::AccountQueryResponse(AccountQueryResponse {
                timestamp: TS,
                next_user_ref_num: 10,
            }),
            &layout(&[(0, b"Q"), (1, &ts), (9, &10u32.to_be_bytes())]),
        );
    }

    #[test]
    fn order_executed_is_36_bytes_plus_appendage() {
        let value = 1_500_000i64.to_be_bytes();
        let mut appendage = vec![9, tag::REFERENCE_PRICE];
        appendage.extend_from_slice(&value);
        let msg = OrderExecuted {
            timestamp: TS,
            user_ref_num: 7,
            quantity: 60,
            price: 1_500_000,
            liquidity_flag: liquidity_flag::ADDED,
            match_number: 12_345,
            appendage: Appendage::parse(&appendage).expect("valid"),
        };
        let bytes = layout(&[
            (0, b"E"),
            (1, &TS.to_be_bytes()),
            (9, &7u32.to_be_bytes()),
            (13, &60u32.to_be_bytes()),
            (17, &1_500_000i64.to_be_bytes()),
            (25, b"A"),
            (26, &12_345u64.to_be_bytes()),
            (34, &10u16.to_be_bytes()),
            (36, &appendage),
        ]);
        assert_eq!(bytes.len(), 46);
        check_outbound(Outbound::OrderExecuted(msg), &bytes);
    }
}
