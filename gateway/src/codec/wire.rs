//! Bounds-checked big-endian cursors and the small field helpers every codec shares.
//!
//! Every read and write checks its bounds and returns a [`CodecError`] instead of panicking, so
//! no byte string, however hostile, can crash a decoder.

use super::error::CodecError;

/// Reads big-endian fields from a byte slice, front to back.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts at the first byte of `buf`.
    #[must_use]
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes read so far.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than `n` bytes remain.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Truncated {
            needed: usize::MAX,
            available: self.buf.len(),
        })?;
        let out = self.buf.get(self.pos..end).ok_or(CodecError::Truncated {
            needed: end,
            available: self.buf.len(),
        })?;
        self.pos = end;
        Ok(out)
    }

    /// Takes the next `N` bytes as an array.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than `N` bytes remain.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Takes one byte.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] at the end.
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    /// Takes a big-endian `u16`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 2 bytes remain.
    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian `u32`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 4 bytes remain.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian 48-bit unsigned integer (the ITCH timestamp).
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 6 bytes remain.
    pub fn u48(&mut self) -> Result<u64, CodecError> {
        let six: [u8; 6] = self.array()?;
        let mut eight = [0u8; 8];
        eight[2..].copy_from_slice(&six);
        Ok(u64::from_be_bytes(eight))
    }

    /// Takes a big-endian `u64`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 8 bytes remain.
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian two's-complement `i32`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 4 bytes remain.
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian two's-complement `i64`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] when fewer than 8 bytes remain.
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }
}

/// Writes big-endian fields into a caller's buffer, front to back.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Starts at the first byte of `buf`, after checking it can hold `len` bytes.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when `buf` is shorter than `len`.
    pub fn with_len(buf: &'a mut [u8], len: usize) -> Result<Self, CodecError> {
        if buf.len() < len {
            return Err(CodecError::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        }
        Ok(Self { buf, pos: 0 })
    }

    /// Bytes written so far.
    #[must_use]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// Writes raw bytes.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when they do not fit.
    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let end = self.pos.saturating_add(bytes.len());
        let available = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(CodecError::BufferTooSmall {
                needed: end,
                available,
            })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Writes one byte.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] at the end of the buffer.
    pub fn u8(&mut self, v: u8) -> Result<(), CodecError> {
        self.bytes(&[v])
    }

    /// Writes a big-endian `u16`.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn u16(&mut self, v: u16) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian `u32`.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn u32(&mut self, v: u32) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian 48-bit unsigned integer.
    ///
    /// # Errors
    /// [`CodecError::FieldOverflow`] when `v` needs more than 48 bits;
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn u48(&mut self, v: u64, field: &'static str) -> Result<(), CodecError> {
        if v >> 48 != 0 {
            return Err(CodecError::FieldOverflow { field });
        }
        let eight = v.to_be_bytes();
        self.bytes(&eight[2..])
    }

    /// Writes a big-endian `u64`.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn u64(&mut self, v: u64) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian `i32`.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn i32(&mut self, v: i32) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian `i64`.
    ///
    /// # Errors
    /// [`CodecError::BufferTooSmall`] when it does not fit.
    pub fn i64(&mut self, v: i64) -> Result<(), CodecError> {
        self.bytes(&v.to_be_bytes())
    }
}

/// Checks that a message is exactly `expected` bytes long.
///
/// # Errors
/// [`CodecError::Truncated`] when shorter, [`CodecError::TrailingBytes`] when longer.
pub fn exact_len(buf: &[u8], expected: usize) -> Result<(), CodecError> {
    match buf.len().cmp(&expected) {
        core::cmp::Ordering::Less => Err(CodecError::Truncated {
            needed: expected,
            available: buf.len(),
        }),
        core::cmp::Ordering::Greater => Err(CodecError::TrailingBytes {
            expected,
            actual: buf.len(),
        }),
        core::cmp::Ordering::Equal => Ok(()),
    }
}

/// Pads ASCII text into a left-justified, space-padded alpha field; `None` when longer than `N`.
#[must_use]
pub fn alpha<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() > N {
        return None;
    }
    let mut out = [b' '; N];
    out[..bytes.len()].copy_from_slice(bytes);
    Some(out)
}

/// Returns an alpha field without its padding: trailing spaces (and NULs, which some clients
/// pad with) removed.
#[must_use]
pub fn alpha_trim(field: &[u8]) -> &[u8] {
    let end = field
        .iter()
        .rposition(|b| *b != b' ' && *b != 0)
        .map_or(0, |i| i + 1);
    field.get(..end).unwrap_or(&[])
}

/// Nanoseconds since midnight UTC of a Unix-epoch nanosecond time: the OUCH and ITCH
/// `Timestamp`. Always below 86,400 × 10^9 < 2^47, so it fits the 48-bit ITCH field.
#[must_use]
pub const fn ns_since_midnight(ts_ns: u64) -> u64 {
    ts_ns % NS_PER_DAY
}

/// Nanoseconds in a day.
pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_bounds() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(
            r.u16(),
            Err(CodecError::Truncated {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(r.u8(), Ok(2));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn u48_round_trips_and_overflows() {
        let mut buf = [0u8; 6];
        let mut w = Writer::with_len(&mut buf, 6).expect("fits");
        w.u48(0x0102_0304_0506, "t").expect("48 bits");
        assert_eq!(buf, [1, 2, 3, 4, 5, 6]);
        assert_eq!(Reader::new(&buf).u48(), Ok(0x0102_0304_0506));
        let mut w = Writer::with_len(&mut buf, 6).expect("fits");
        assert_eq!(
            w.u48(1 << 48, "t"),
            Err(CodecError::FieldOverflow { field: "t" })
        );
        assert!(ns_since_midnight(u64::MAX) < 1 << 48);
    }

    #[test]
    fn writer_refuses_short_buffers() {
        let mut buf = [0u8; 2];
        assert_eq!(
            Writer::with_len(&mut buf, 3).map(|_| ()),
            Err(CodecError::BufferTooSmall {
                needed: 3,
                available: 2
            })
        );
        let mut w = Writer::with_len(&mut buf, 2).expect("fits");
        assert_eq!(
            w.u32(1),
            Err(CodecError::BufferTooSmall {
                needed: 4,
                available: 2
            })
        );
    }

    #[test]
    fn alpha_pads_and_trims() {
        assert_eq!(alpha::<4>("AB"), Some(*b"AB  "));
        assert_eq!(alpha::<2>("ABC"), None);
        assert_eq!(alpha_trim(b"AB  "), b"AB");
        assert_eq!(alpha_trim(b"AB\0\0"), b"AB");
        assert_eq!(alpha_trim(b"    "), b"");
    }
}
