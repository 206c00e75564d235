//! SoupBinTCP 4.0: the session and framing layer under OUCH, ITCH and the native channel.
//!
//! # Layout
//! Every packet is a 2-byte big-endian length, which counts everything after itself (the type
//! byte and the payload), then a 1-byte packet type, then the payload:
//!
//! | type | packet | direction | payload | length prefix value |
//! |---|---|---|---|---|
//! | `L` | Login Request | C→S | Username alpha(6), Password alpha(10), Requested Session alpha(10), Requested Sequence Number numeric(20) | 47 |
//! | `A` | Login Accepted | S→C | Session alpha(10), Sequence Number numeric(20) | 31 |
//! | `J` | Login Rejected | S→C | Reject Reason Code alpha(1) | 2 |
//! | `S` | Sequenced Data | S→C | application message | 1 + n |
//! | `U` | Unsequenced Data | C→S | application message | 1 + n |
//! | `H` | Server Heartbeat | S→C | — | 1 |
//! | `R` | Client Heartbeat | C→S | — | 1 |
//! | `Z` | End of Session | S→C | — | 1 |
//! | `O` | Logout Request | C→S | — | 1 |
//! | `+` | Debug | both | free text | 1 + n |
//!
//! Alpha fields are left-justified and space-padded. Numeric fields are ASCII digits in 20
//! bytes. **Padding quirk:** Nasdaq's own client writes them left-justified (`"1"` and 19
//! spaces) while Wireshark expects right-justified; the decoder trims spaces on both sides (an
//! all-blank field is 0), and the encoder always writes right-justified, space-padded on the
//! left.
//!
//! # Streaming
//! [`decode_frame`] decodes one packet from the front of a buffer, or says it needs more bytes;
//! [`StreamDecoder`] owns one read buffer, allocated once, and yields packets that borrow it.
//! Neither allocates per frame. A length prefix above the decoder's limit is an error at once,
//! before its bytes arrive, so a hostile peer cannot make the server buffer a large frame.
//!
//! # Errors
//! A framing error ([`CodecError::FrameTooLong`], [`CodecError::FrameLengthZero`],
//! [`CodecError::UnknownPacketType`], [`CodecError::PacketLength`],
//! [`CodecError::InvalidNumeric`]) loses the frame boundary: the session must disconnect.
//! [`StreamDecoder`] keeps returning the first error once it has seen one.

use super::error::CodecError;
use super::wire::{Reader, Writer};

/// SoupBinTCP packet type bytes.
pub mod packet_type {
    /// Debug (both directions).
    pub const DEBUG: u8 = b'+';
    /// Login Accepted (server).
    pub const LOGIN_ACCEPTED: u8 = b'A';
    /// Login Rejected (server).
    pub const LOGIN_REJECTED: u8 = b'J';
    /// Sequenced Data (server).
    pub const SEQUENCED_DATA: u8 = b'S';
    /// Server Heartbeat.
    pub const SERVER_HEARTBEAT: u8 = b'H';
    /// End of Session (server).
    pub const END_OF_SESSION: u8 = b'Z';
    /// Login Request (client).
    pub const LOGIN_REQUEST: u8 = b'L';
    /// Unsequenced Data (client).
    pub const UNSEQUENCED_DATA: u8 = b'U';
    /// Client Heartbeat.
    pub const CLIENT_HEARTBEAT: u8 = b'R';
    /// Logout Request (client).
    pub const LOGOUT_REQUEST: u8 = b'O';
}

/// Login Rejected reason codes.
pub mod reject_code {
    /// The username/password pair is not authorized.
    pub const NOT_AUTHORIZED: u8 = b'A';
    /// The requested session is not available.
    pub const SESSION_NOT_AVAILABLE: u8 = b'S';
}

/// Bytes of the length prefix.
pub const LENGTH_PREFIX: usize = 2;
/// Largest value of the length prefix the format allows.
pub const LENGTH_MAX: usize = u16::MAX as usize;
/// Largest payload after the type byte.
pub const PAYLOAD_MAX: usize = LENGTH_MAX - 1;
/// Width of an ASCII numeric field (sequence numbers).
pub const NUMERIC_LEN: usize = 20;
/// Length prefix value of a Login Request: type + 6 + 10 + 10 + 20.
pub const LOGIN_REQUEST_LEN: usize = 47;
/// Length prefix value of a Login Accepted: type + 10 + 20.
pub const LOGIN_ACCEPTED_LEN: usize = 31;
/// Length prefix value of a Login Rejected: type + 1.
pub const LOGIN_REJECTED_LEN: usize = 2;
/// Length prefix value of the packets without payload (heartbeats, End of Session, Logout).
pub const EMPTY_LEN: usize = 1;

/// A Login Request (`L`), the first packet a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// Username, alpha(6).
    pub username: [u8; 6],
    /// Password, alpha(10).
    pub password: [u8; 10],
    /// Requested session, alpha(10); all blanks ask for the current session.
    pub session: [u8; 10],
    /// Requested sequence number: 0 starts from the live end, 1 from the start, `n` from `n`.
    pub sequence: u64,
}

/// A Login Accepted (`A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginAccepted {
    /// The session the client is logged into, alpha(10).
    pub session: [u8; 10],
    /// The sequence number of the next Sequenced Data packet the server sends.
    pub sequence: u64,
}

/// One SoupBinTCP packet. Data-carrying variants borrow their payload from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `+` Debug: free text, to be ignored by the peer.
    Debug(&'a [u8]),
    /// `A` Login Accepted.
    LoginAccepted(LoginAccepted),
    /// `J` Login Rejected with its reason code ([`reject_code`]).
    LoginRejected(u8),
    /// `S` Sequenced Data: one application message; its sequence number is implicit.
    SequencedData(&'a [u8]),
    /// `H` Server Heartbeat.
    ServerHeartbeat,
    /// `Z` End of Session.
    EndOfSession,
    /// `L` Login Request.
    LoginRequest(LoginRequest),
    /// `U` Unsequenced Data: one application message.
    UnsequencedData(&'a [u8]),
    /// `R` Client Heartbeat.
    ClientHeartbeat,
    /// `O` Logout Request.
    LogoutRequest,
}

impl<'a> Packet<'a> {
    /// Returns the packet type byte.
    #[must_use]
    pub const fn kind(&self) -> u8 {
        match self {
            Self::Debug(_) => packet_type::DEBUG,
            Self::LoginAccepted(_) => packet_type::LOGIN_ACCEPTED,
            Self::LoginRejected(_) => packet_type::LOGIN_REJECTED,
            Self::SequencedData(_) => packet_type::SEQUENCED_DATA,
            Self::ServerHeartbeat => packet_type::SERVER_HEARTBEAT,
            Self::EndOfSession => packet_type::END_OF_SESSION,
            Self::LoginRequest(_) => packet_type::LOGIN_REQUEST,
            Self::UnsequencedData(_) => packet_type::UNSEQUENCED_DATA,
            Self::ClientHeartbeat => packet_type::CLIENT_HEARTBEAT,
            Self::LogoutRequest => packet_type::LOGOUT_REQUEST,
        }
    }

    /// The value of the length prefix: the type byte plus the payload.
    #[must_use]
    pub const fn length(&self) -> usize {
        match self {
            Self::Debug(p) | Self::SequencedData(p) | Self::UnsequencedData(p) => 1 + p.len(),
            Self::LoginAccepted(_) => LOGIN_ACCEPTED_LEN,
            Self::LoginRejected(_) => LOGIN_REJECTED_LEN,
            Self::LoginRequest(_) => LOGIN_REQUEST_LEN,
            Self::ServerHeartbeat
            | Self::EndOfSession
            | Self::ClientHeartbeat
            | Self::LogoutRequest => EMPTY_LEN,
        }
    }

    /// Bytes on the wire, length prefix included.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        LENGTH_PREFIX + self.length()
    }

    /// Writes the packet, length prefix included, at the front of `out`; returns the bytes
    /// written.
    ///
    /// # Errors
    /// [`CodecError::FieldOverflow`] when a payload is longer than [`PAYLOAD_MAX`];
    /// [`CodecError::BufferTooSmall`] when `out` is too short.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let length = self.length();
        let length16 = u16::try_from(length).map_err(|_| CodecError::FieldOverflow {
            field: "soupbintcp length",
        })?;
        let mut w = Writer::with_len(out, LENGTH_PREFIX + length)?;
        w.u16(length16)?;
        w.u8(self.kind())?;
        match self {
            Self::Debug(p) | Self::SequencedData(p) | Self::UnsequencedData(p) => w.bytes(p)?,
            Self::LoginAccepted(a) => {
                w.bytes(&a.session)?;
                w.bytes(&numeric(a.sequence))?;
            }
            Self::LoginRejected(code) => w.u8(*code)?,
            Self::LoginRequest(l) => {
                w.bytes(&l.username)?;
                w.bytes(&l.password)?;
                w.bytes(&l.session)?;
                w.bytes(&numeric(l.sequence))?;
            }
            Self::ServerHeartbeat
            | Self::EndOfSession
            | Self::ClientHeartbeat
            | Self::LogoutRequest => {}
        }
        Ok(w.position())
    }

    /// Decodes a packet from its type byte and the payload after it.
    ///
    /// # Errors
    /// [`CodecError::UnknownPacketType`], [`CodecError::PacketLength`] for a fixed-size type
    /// with another length, [`CodecError::InvalidNumeric`] for a sequence number that is not a
    /// number.
    pub fn decode(kind: u8, payload: &'a [u8]) -> Result<Self, CodecError> {
        let fixed = |expected: usize| {
            if payload.len() + 1 == expected {
                Ok(())
            } else {
                Err(CodecError::PacketLength {
                    kind,
                    expected,
                    actual: payload.len() + 1,
                })
            }
        };
        let mut r = Reader::new(payload);
        Ok(match kind {
            packet_type::DEBUG => Self::Debug(payload),
            packet_type::SEQUENCED_DATA => Self::SequencedData(payload),
            packet_type::UNSEQUENCED_DATA => Self::UnsequencedData(payload),
            packet_type::LOGIN_ACCEPTED => {
                fixed(LOGIN_ACCEPTED_LEN)?;
                let session = r.array()?;
                let sequence = parse_numeric(&r.array::<NUMERIC_LEN>()?, "sequence number")?;
                Self::LoginAccepted(LoginAccepted { session, sequence })
            }
            packet_type::LOGIN_REJECTED => {
                fixed(LOGIN_REJECTED_LEN)?;
                Self::LoginRejected(r.u8()?)
            }
            packet_type::LOGIN_REQUEST => {
                fixed(LOGIN_REQUEST_LEN)?;
                let username = r.array()?;
                let password = r.array()?;
                let session = r.array()?;
                let sequence =
                    parse_numeric(&r.array::<NUMERIC_LEN>()?, "requested sequence number")?;
                Self::LoginRequest(LoginRequest {
                    username,
                    password,
                    session,
                    sequence,
                })
            }
            packet_type::SERVER_HEARTBEAT => {
                fixed(EMPTY_LEN)?;
                Self::ServerHeartbeat
            }
            packet_type::END_OF_SESSION => {
                fixed(EMPTY_LEN)?;
                Self::EndOfSession
            }
            packet_type::CLIENT_HEARTBEAT => {
                fixed(EMPTY_LEN)?;
                Self::ClientHeartbeat
            }
            packet_type::LOGOUT_REQUEST => {
                fixed(EMPTY_LEN)?;
                Self::LogoutRequest
            }
            other => return Err(CodecError::UnknownPacketType { kind: other }),
        })
    }
}

/// Writes `value` as a 20-byte ASCII numeric field, right-justified and space-padded on the
/// left (the form both `nasdaq-protocols` and Wireshark accept). `u64::MAX` has 20 digits, so
/// every value fits.
#[must_use]
pub fn numeric(value: u64) -> [u8; NUMERIC_LEN] {
    let mut out = [b' '; NUMERIC_LEN];
    let mut v = value;
    let mut i = NUMERIC_LEN;
    loop {
        i -= 1;
        // `v % 10 < 10`, so the cast cannot truncate.
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out
}

/// Parses a 20-byte ASCII numeric field leniently: spaces (and NULs) on either side are
/// trimmed, so both Nasdaq's left-justified and the standard right-justified forms parse; an
/// all-blank field is 0.
///
/// # Errors
/// [`CodecError::InvalidNumeric`] for any other non-digit, or a value above `u64::MAX`.
pub fn parse_numeric(field: &[u8], name: &'static str) -> Result<u64, CodecError> {
    let blank = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !blank(b)).unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    let digits = field.get(start..end).unwrap_or(&[]);
    let mut value: u64 = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return Err(CodecError::InvalidNumeric { field: name });
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(CodecError::InvalidNumeric { field: name })?;
    }
    Ok(value)
}

/// Writes the 3-byte header of a data-carrying packet (`S`, `U` or `+`) whose payload of
/// `payload_len` bytes the caller then encodes right after it, so an application message is
/// encoded once, in place.
///
/// # Errors
/// [`CodecError::FieldOverflow`] when `payload_len` is above [`PAYLOAD_MAX`];
/// [`CodecError::BufferTooSmall`] when `out` is shorter than 3 bytes.
pub fn encode_header(kind: u8, payload_len: usize, out: &mut [u8]) -> Result<usize, CodecError> {
    if payload_len > PAYLOAD_MAX {
        return Err(CodecError::FieldOverflow {
            field: "soupbintcp length",
        });
    }
    let length = u16::try_from(payload_len + 1).map_err(|_| CodecError::FieldOverflow {
        field: "soupbintcp length",
    })?;
    let mut w = Writer::with_len(out, LENGTH_PREFIX + 1)?;
    w.u16(length)?;
    w.u8(kind)?;
    Ok(w.position())
}

/// Decodes the packet at the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole packet, or the packet and the bytes
/// it took. `length_max` bounds the length prefix (at most [`LENGTH_MAX`]).
///
/// # Errors
/// [`CodecError::FrameLengthZero`] and [`CodecError::FrameTooLong`] as soon as the prefix is
/// read; then as [`Packet::decode`].
pub fn decode_frame(
    buf: &[u8],
    length_max: usize,
) -> Result<Option<(Packet<'_>, usize)>, CodecError> {
    let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
        return Ok(None);
    };
    let length = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if length == 0 {
        return Err(CodecError::FrameLengthZero);
    }
    if length > length_max {
        return Err(CodecError::FrameTooLong {
            length,
            max: length_max,
        });
    }
    let total = LENGTH_PREFIX + length;
    let Some(frame) = buf.get(LENGTH_PREFIX..total) else {
        return Ok(None);
    };
    let (kind, payload) = frame.split_first().ok_or(CodecError::FrameLengthZero)?;
    let packet = Packet::decode(*kind, payload)?;
    Ok(Some((packet, total)))
}

/// Iterates over the whole packets at the front of a buffer. [`Frames::consumed`] says how many
/// bytes they took, so the caller can keep the partial tail for the next read.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    length_max: usize,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Iterates over `buf` with the length limit `length_max`.
    #[must_use]
    pub const fn new(buf: &'a [u8], length_max: usize) -> Self {
        Self {
            buf,
            pos: 0,
            length_max,
            failed: false,
        }
    }

    /// Bytes taken by the packets yielded so far.
    #[must_use]
    pub const fn consumed(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Packet<'a>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        match decode_frame(rest, self.length_max) {
            Ok(Some((packet, used))) => {
                self.pos += used;
                Some(Ok(packet))
            }
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A read buffer for one connection: bytes go in through [`StreamDecoder::spare`] and
/// [`StreamDecoder::commit`] (or [`StreamDecoder::feed`]), packets come out of
/// [`StreamDecoder::next_packet`], borrowing the buffer.
///
/// # Invariants
/// `start ≤ end ≤ buf.len()`, and `buf.len() ≥ LENGTH_PREFIX + length_max`, so any frame the
/// limit admits fits once the buffer is compacted. The buffer is allocated once, in `new`.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    length_max: usize,
    error: Option<CodecError>,
}

impl StreamDecoder {
    /// A decoder admitting length prefixes up to `length_max` (clamped to [`LENGTH_MAX`]), with
    /// a buffer of at least `capacity` bytes (and always room for one largest frame).
    #[must_use]
    pub fn new(capacity: usize, length_max: usize) -> Self {
        let length_max = length_max.clamp(1, LENGTH_MAX);
        let capacity = capacity.max(LENGTH_PREFIX + length_max);
        Self {
            buf: vec![0; capacity],
            start: 0,
            end: 0,
            length_max,
            error: None,
        }
    }

    /// Bytes received and not yet decoded.
    #[must_use]
    pub const fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The free tail of the buffer, to read into; compacts first when the tail is short.
    /// Empty only when the buffered bytes fill the whole buffer, which cannot happen while
    /// [`StreamDecoder::next_packet`] is drained, because one frame always fits.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let end = self.end;
        self.buf.get_mut(end..).unwrap_or(&mut [])
    }

    /// Marks `n` bytes written into [`StreamDecoder::spare`] as received (clamped to the free
    /// space).
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies as much of `bytes` as fits; returns how many were taken.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(bytes.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        self.commit(n);
        n
    }

    /// Decodes the next buffered packet, or `Ok(None)` when a whole one has not arrived.
    ///
    /// # Errors
    /// As [`decode_frame`]; after an error the stream is unusable and every later call returns
    /// the same error.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CodecError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // `buf` and `start` are disjoint fields: the packet borrows the first while the
        // second moves past it.
        let window = self.buf.get(self.start..self.end).unwrap_or(&[]);
        match decode_frame(window, self.length_max) {
            Ok(Some((packet, used))) => {
                self.start += used;
                Ok(Some(packet))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.error = Some(e);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_request_fixture() -> Vec<u8> {
        let mut v = vec![0x00, 0x2f, b'L'];
        v.extend_from_slice(b"alice ");
        v.extend_from_slice(b"secret    ");
        v.extend_from_slice(b"          ");
        v.extend_from_slice(b"                  42");
        v
    }

    #[test]
    fn login_request_is_49_bytes_exactly() {
        let bytes = login_request_fixture();
        assert_eq!(bytes.len(), 49);
        let (packet, used) = decode_frame(&bytes, LENGTH_MAX)
            .expect("valid")
            .expect("whole");
        assert_eq!(used, 49);
        let expected = Packet::LoginRequest(LoginRequest {
            username: *b"alice ",
            password: *b"secret    ",
            session: [b' '; 10],
            sequence: 42,
        });
        assert_eq!(packet, expected);
        let mut out = [0u8; 64];
        assert_eq!(expected.encode(&mut out), Ok(49));
        assert_eq!(&out[..49], &bytes[..]);
    }

    #[test]
    fn left_justified_sequence_numbers_parse() {
        let mut bytes = login_request_fixture();
        bytes[29..49].copy_from_slice(b"1                   ");
        let (packet, _) = decode_frame(&bytes, LENGTH_MAX)
            .expect("lenient")
            .expect("whole");
        assert!(matches!(packet, Packet::LoginRequest(l) if l.sequence == 1));
        bytes[29..49].copy_from_slice(b"                    ");
        let (packet, _) = decode_frame(&bytes, LENGTH_MAX)
            .expect("blank is 0")
            .expect("whole");
        assert!(matches!(packet, Packet::LoginRequest(l) if l.sequence == 0));
        bytes[29..49].copy_from_slice(b"   1 2              ");
        assert_eq!(
            decode_frame(&bytes, LENGTH_MAX).map(|_| ()),
            Err(CodecError::InvalidNumeric {
                field: "requested sequence number"
            })
        );
        bytes[29..49].copy_from_slice(b"99999999999999999999");
        assert!(decode_frame(&bytes, LENGTH_MAX).is_err());
        bytes[29..49].copy_from_slice(b"18446744073709551615");
        assert!(decode_frame(&bytes, LENGTH_MAX).is_ok());
    }

    #[test]
    fn numeric_is_right_justified() {
        assert_eq!(&numeric(0), b"                   0");
        assert_eq!(&numeric(1234), b"                1234");
        assert_eq!(&numeric(u64::MAX), b"18446744073709551615");
    }

    #[test]
    fn login_accepted_and_rejected_fixtures() {
        let accepted = Packet::LoginAccepted(LoginAccepted {
            session: *b"SESSION001",
            sequence: 7,
        });
        let mut out = [0u8; 40];
        assert_eq!(accepted.encode(&mut out), Ok(33));
        let mut expected = vec![0x00, 0x1f, b'A'];
        expected.extend_from_slice(b"SESSION001");
        expected.extend_from_slice(b"                   7");
        assert_eq!(&out[..33], &expected[..]);
        let rejected = Packet::LoginRejected(reject_code::NOT_AUTHORIZED);
        assert_eq!(rejected.encode(&mut out), Ok(4));
        assert_eq!(&out[..4], &[0x00, 0x02, b'J', b'A']);
    }

    #[test]
    fn empty_packets_are_three_bytes() {
        for (packet, kind) in [
            (Packet::ServerHeartbeat, b'H'),
            (Packet::ClientHeartbeat, b'R'),
            (Packet::EndOfSession, b'Z'),
            (Packet::LogoutRequest, b'O'),
        ] {
            let mut out = [0u8; 3];
            assert_eq!(packet.encode(&mut out), Ok(3));
            assert_eq!(out, [0, 1, kind]);
            assert_eq!(decode_frame(&out, 1), Ok(Some((packet, 3))));
        }
        assert_eq!(
            decode_frame(&[0, 2, b'H', 0], 10),
            Err(CodecError::PacketLength {
                kind: b'H',
                expected: 1,
                actual: 2
            })
        );
    }

    #[test]
    fn data_packets_carry_their_payload() {
        let mut out = [0u8; 16];
        let n = Packet::SequencedData(b"xyz")
            .encode(&mut out)
            .expect("fits");
        assert_eq!(&out[..n], &[0, 4, b'S', b'x', b'y', b'z']);
        let n = Packet::UnsequencedData(b"").encode(&mut out).expect("fits");
        assert_eq!(&out[..n], &[0, 1, b'U']);
        let n = Packet::Debug(b"hi").encode(&mut out).expect("fits");
        assert_eq!(&out[..n], &[0, 3, b'+', b'h', b'i']);
        assert_eq!(encode_header(b'S', 3, &mut out), Ok(3));
        assert_eq!(&out[..3], &[0, 4, b'S']);
        assert!(encode_header(b'S', PAYLOAD_MAX + 1, &mut out).is_err());
    }

    #[test]
    fn framing_errors() {
        assert_eq!(decode_frame(&[0], 10), Ok(None));
        assert_eq!(decode_frame(&[0, 5, b'S'], 10), Ok(None));
        assert_eq!(decode_frame(&[0, 0], 10), Err(CodecError::FrameLengthZero));
        assert_eq!(
            decode_frame(&[0, 11], 10),
            Err(CodecError::FrameTooLong {
                length: 11,
                max: 10
            })
        );
        assert_eq!(
            decode_frame(&[0, 1, b'?'], 10),
            Err(CodecError::UnknownPacketType { kind: b'?' })
        );
    }

    #[test]
    fn stream_decoder_splits_and_poisons() {
        let mut stream = Vec::new();
        let mut out = [0u8; 64];
        for packet in [
            Packet::ClientHeartbeat,
            Packet::UnsequencedData(b"abc"),
            Packet::LogoutRequest,
        ] {
            let n = packet.encode(&mut out).expect("fits");
            stream.extend_from_slice(&out[..n]);
        }
        let mut decoder = StreamDecoder::new(8, 16);
        let mut got = Vec::new();
        for byte in &stream {
            assert_eq!(decoder.feed(std::slice::from_ref(byte)), 1);
            while let Some(packet) = decoder.next_packet().expect("valid") {
                got.push(packet.kind());
            }
        }
        assert_eq!(got, b"RUO");
        assert_eq!(decoder.buffered(), 0);
        decoder.feed(&[0, 0]);
        assert_eq!(decoder.next_packet(), Err(CodecError::FrameLengthZero));
        decoder.feed(&[0, 1, b'R']);
        assert_eq!(decoder.next_packet(), Err(CodecError::FrameLengthZero));
    }

    #[test]
    fn frames_iterator_reports_consumed() {
        let bytes = [0, 1, b'H', 0, 1, b'Z', 0, 3, b'S'];
        let mut frames = Frames::new(&bytes, 100);
        assert_eq!(frames.next(), Some(Ok(Packet::ServerHeartbeat)));
        assert_eq!(frames.next(), Some(Ok(Packet::EndOfSession)));
        assert_eq!(frames.next(), None);
        assert_eq!(frames.consumed(), 6);
    }
}
