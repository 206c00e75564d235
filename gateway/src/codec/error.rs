//! Why bytes could not be decoded or encoded.
//!
//! [`CodecError`] is about *layout* only: lengths, framing, types, the structure of an
//! appendage. Whether a well-formed field holds an acceptable value (a known symbol, a supported
//! time in force) is decided by [`crate::codec::map`], which answers with a
//! [`crate::codec::map::MapReject`] so that the client can be told which field was wrong.
//!
//! # Codes
//! Every variant has a stable numeric code ([`CodecError::code`]), listed in
//! `docs/PROTOCOL.md`. Codes are never renumbered and never reused; a retired variant keeps its
//! number, marked deprecated.

use core::fmt;

/// A decode or encode failure. `Copy`, allocation-free, and never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// Code 1. A message of zero bytes (no type byte).
    Empty,
    /// Code 2. Fewer bytes than the message's layout needs.
    Truncated {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes there were.
        available: usize,
    },
    /// Code 3. More bytes than the message's layout (fixed part plus declared appendage) holds.
    TrailingBytes {
        /// Bytes the layout holds.
        expected: usize,
        /// Bytes there were.
        actual: usize,
    },
    /// Code 4. An application message type byte this protocol does not define.
    UnknownMessageType {
        /// The type byte.
        kind: u8,
    },
    /// Code 5. A SoupBinTCP length prefix above the decoder's limit.
    FrameTooLong {
        /// The length prefix.
        length: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// Code 6. A SoupBinTCP length prefix of zero: a packet must at least hold its type byte.
    FrameLengthZero,
    /// Code 7. A SoupBinTCP packet type this protocol does not define.
    UnknownPacketType {
        /// The type byte.
        kind: u8,
    },
    /// Code 8. A SoupBinTCP packet of a fixed-size type with the wrong length.
    PacketLength {
        /// The packet type.
        kind: u8,
        /// The length the type has (after the length prefix, type byte included).
        expected: usize,
        /// The length prefix received.
        actual: usize,
    },
    /// Code 9. An ASCII numeric field (SoupBinTCP sequence number) that is not a number, or
    /// does not fit in `u64`.
    InvalidNumeric {
        /// The field.
        field: &'static str,
    },
    /// Code 10. An OUCH appendage length that does not match the bytes that follow.
    AppendageLength {
        /// The declared appendage length.
        declared: usize,
        /// Bytes actually after the fixed part.
        available: usize,
    },
    /// Code 11. A malformed TagValue element inside an appendage (zero length, or running past
    /// the end of the appendage).
    AppendageElement {
        /// Offset of the element inside the appendage.
        offset: usize,
    },
    /// Code 12. The output buffer is too small for the encoded message.
    BufferTooSmall {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// Code 13. A value that does not fit its wire field (an appendage longer than `u16`, a
    /// SoupBinTCP payload longer than 65,534 bytes, a 48-bit ITCH timestamp overflow).
    FieldOverflow {
        /// The field.
        field: &'static str,
    },
}

impl CodecError {
    /// The highest code in use; codes are dense from 1.
    pub const CODE_MAX: u16 = 13;

    /// Returns the stable numeric code.
    #[must_use]
    pub const fn code(self) -> u16 {
        match self {
            Self::Empty => 1,
            Self::Truncated { .. } => 2,
            Self::TrailingBytes { .. } => 3,
            Self::UnknownMessageType { .. } => 4,
            Self::FrameTooLong { .. } => 5,
            Self::FrameLengthZero => 6,
            Self::UnknownPacketType { .. } => 7,
            Self::PacketLength { .. } => 8,
            Self::InvalidNumeric { .. } => 9,
            Self::AppendageLength { .. } => 10,
            Self::AppendageElement { .. } => 11,
            Self::BufferTooSmall { .. } => 12,
            Self::FieldOverflow { .. } => 13,
        }
    }

    /// Returns a short snake_case name, stable like the code.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::UnknownMessageType { .. } => "unknown_message_type",
            Self::FrameTooLong { .. } => "frame_too_long",
            Self::FrameLengthZero => "frame_length_zero",
            Self::UnknownPacketType { .. } => "unknown_packet_type",
            Self::PacketLength { .. } => "packet_length",
            Self::InvalidNumeric { .. } => "invalid_numeric",
            Self::AppendageLength { .. } => "appendage_length",
            Self::AppendageElement { .. } => "appendage_element",
            Self::BufferTooSmall { .. } => "buffer_too_small",
            Self::FieldOverflow { .. } => "field_overflow",
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}): ", self.name(), self.code())?;
        match *self {
            Self::Empty => f.write_str("empty message"),
            Self::Truncated { needed, available } => {
                write!(f, "needs {needed} bytes, has {available}")
            }
            Self::TrailingBytes { expected, actual } => {
                write!(f, "layout holds {expected} bytes, got {actual}")
            }
            Self::UnknownMessageType { kind } => write!(f, "message type {kind:#04x}"),
            Self::FrameTooLong { length, max } => write!(f, "length {length} above {max}"),
            Self::FrameLengthZero => f.write_str("length prefix 0"),
            Self::UnknownPacketType { kind } => write!(f, "packet type {kind:#04x}"),
            Self::PacketLength {
                kind,
                expected,
                actual,
            } => write!(f, "packet {kind:#04x} has length {expected}, got {actual}"),
            Self::InvalidNumeric { field } => write!(f, "{field} is not a u64 number"),
            Self::AppendageLength {
                declared,
                available,
            } => write!(f, "appendage declares {declared} bytes, {available} follow"),
            Self::AppendageElement { offset } => {
                write!(f, "malformed TagValue element at appendage offset {offset}")
            }
            Self::BufferTooSmall { needed, available } => {
                write!(f, "needs {needed} bytes of buffer, has {available}")
            }
            Self::FieldOverflow { field } => write!(f, "{field} does not fit its wire field"),
        }
    }
}

impl std::error::Error for CodecError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant, in code order.
    pub(crate) const EVERY: [CodecError; 13] = [
        CodecError::Empty,
        CodecError::Truncated {
            needed: 1,
            available: 0,
        },
        CodecError::TrailingBytes {
            expected: 1,
            actual: 2,
        },
        CodecError::UnknownMessageType { kind: 0 },
        CodecError::FrameTooLong { length: 2, max: 1 },
        CodecError::FrameLengthZero,
        CodecError::UnknownPacketType { kind: 0 },
        CodecError::PacketLength {
            kind: b'H',
            expected: 1,
            actual: 2,
        },
        CodecError::InvalidNumeric { field: "x" },
        CodecError::AppendageLength {
            declared: 1,
            available: 0,
        },
        CodecError::AppendageElement { offset: 0 },
        CodecError::BufferTooSmall {
            needed: 1,
            available: 0,
        },
        CodecError::FieldOverflow { field: "x" },
    ];

    #[test]
    fn codes_are_dense_unique_and_named() {
        for (i, e) in EVERY.iter().enumerate() {
            assert_eq!(usize::from(e.code()), i + 1, "{e:?} out of order");
            assert!(e.to_string().starts_with(e.name()));
        }
        assert_eq!(usize::from(CodecError::CODE_MAX), EVERY.len());
        let mut names: Vec<_> = EVERY.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVERY.len());
    }
}
