//! Journal files after anything a disk or a person can do to them: the reader must yield the
//! valid records in order and then one error (or the end), never panic; every record it
//! yields re-encodes to exactly the bytes it was read from (the codec is canonical); and
//! recovery in either mode leaves a file that reads back cleanly with the same records.
//!
//! After the first byte (odd: no valid file header), the input is a list of pieces, each a
//! kind byte, a length (u16 LE) and that many bytes (the last piece takes what is left). An
//! even kind frames its bytes as a record (length and a correct CRC around them: a payload
//! the codec must judge); an odd kind writes them as they are (torn frames, bad lengths,
//! wrong CRCs).
//!
//! Run on stable: `cargo fuzz run journal -s none`.
#![no_main]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use cascade_gateway::journal::{
    encode_record, file_header, record_crc, recover_with, scan, JournalReader, RecoverMode,
};
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("cascade-fuzz-journal-{}.log", std::process::id()))
    })
}

fn file_from(data: &[u8]) -> Vec<u8> {
    let mut file = Vec::new();
    if data.first().is_none_or(|b| b % 2 == 0) {
        file.extend_from_slice(&file_header());
    }
    let mut rest = data.get(1..).unwrap_or_default();
    while let [kind, l0, l1, tail @ ..] = rest {
        let n = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        if kind % 2 == 0 {
            let len = u32::try_from(bytes.len()).expect("input is small");
            file.extend_from_slice(&len.to_le_bytes());
            file.extend_from_slice(&record_crc(len, bytes).to_le_bytes());
            file.extend_from_slice(bytes);
        } else {
            file.extend_from_slice(bytes);
        }
        rest = next;
    }
    file.extend_from_slice(rest);
    file
}

fuzz_target!(|data: &[u8]| {
    let file = file_from(data);
    // In memory: valid records, each canonical, then at most one error.
    let mut records = Vec::new();
    if let Ok(reader) = JournalReader::new(Cursor::new(&file)) {
        let mut failed = false;
        for item in reader {
            assert!(!failed, "a record after the reader's error");
            match item {
                Ok(r) => {
                    let at = usize::try_from(r.offset).expect("small");
                    let mut again = Vec::new();
                    let n = encode_record(&r.command, &mut again);
                    assert_eq!(
                        &file[at..at + n],
                        &again[..],
                        "record at {at} not canonical"
                    );
                    records.push(r.command);
                }
                Err(_) => failed = true,
            }
        }
    }
    // On disk: recovery (either mode) leaves a journal that scans clean, with the records the
    // reader yielded when it kept them all.
    let path = scratch();
    for mode in [RecoverMode::Strict, RecoverMode::TruncateAtFirstFault] {
        std::fs::write(path, &file).expect("scratch file");
        let Ok(recovered) = recover_with(path, mode, |_| {}) else {
            continue;
        };
        let mut again = Vec::new();
        let rescan =
            scan(path, |r| again.push(r.command.clone())).expect("a recovered journal scans");
        assert_eq!(rescan.torn, None, "recovery left a torn tail");
        assert_eq!(rescan.records, recovered.records);
        assert_eq!(again, records[..again.len()], "recovery kept other records");
    }
});
