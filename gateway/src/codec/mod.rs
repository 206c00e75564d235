//! Wire codecs: SoupBinTCP 4.0 framing, OUCH 5.0 order entry, ITCH 5.0 market data, the
//! native perp channel, and the mapping between them and the engine's commands and events.
//!
//! Pure and allocation-light: decoders borrow from the caller's buffer and encoders write into
//! it. No I/O, threads or sessions here. Byte layouts, error codes and the mapping are written
//! up in `docs/PROTOCOL.md`.

pub mod error;
pub mod itch;
pub mod map;
pub mod native;
pub mod ouch;
pub mod soup;
pub mod wire;

pub use error::CodecError;

#[cfg(test)]
mod proptests;
