//! Decodes arbitrary bytes with every wire decoder. No input may panic, and whatever decodes
//! must re-encode to exactly the same bytes (the codecs keep every field verbatim).
#![no_main]

use cascade_gateway::codec::soup::{self, StreamDecoder};
use cascade_gateway::codec::{itch, native, ouch};
use libfuzzer_sys::fuzz_target;

fn same(encoded: Result<usize, cascade_gateway::codec::CodecError>, out: &[u8], data: &[u8]) {
    assert_eq!(encoded, Ok(data.len()), "re-encoding changed the length");
    assert_eq!(out, data, "re-encoding changed the bytes");
}

fuzz_target!(|data: &[u8]| {
    let mut out = vec![0u8; data.len()];
    if let Ok(m) = ouch::Inbound::decode(data) {
        same(m.encode(&mut out), &out, data);
    }
    if let Ok(m) = ouch::Outbound::decode(data) {
        same(m.encode(&mut out), &out, data);
    }
    if let Ok(m) = itch::Message::decode(data) {
        same(m.encode(&mut out), &out, data);
    }
    if let Ok(m) = native::Inbound::decode(data) {
        same(m.encode(&mut out), &out, data);
    }
    if let Ok(m) = native::Outbound::decode(data) {
        same(m.encode(&mut out), &out, data);
    }
    // The same bytes as a SoupBinTCP stream, read in 7-byte pieces.
    let mut decoder = StreamDecoder::new(64, 512);
    for chunk in data.chunks(7) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = decoder.feed(rest);
            rest = &rest[n..];
            loop {
                match decoder.next_packet() {
                    Ok(Some(packet)) => {
                        let mut frame = vec![0u8; packet.encoded_len()];
                        assert_eq!(packet.encode(&mut frame), Ok(frame.len()));
                        let again = soup::decode_frame(&frame, soup::LENGTH_MAX);
                        assert_eq!(again, Ok(Some((packet, frame.len()))));
                    }
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    }
});
