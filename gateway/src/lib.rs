//! Cascade gateway: the binary TCP front end (SoupBinTCP/OUCH in, ITCH out), sequencer,
//! journal and recovery. Built out in its own issue; the engine it drives is complete.

pub mod codec;
pub mod decimal;
