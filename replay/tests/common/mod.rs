//! Helpers shared by the replay tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/data` beside the repository: real captures too large (or too restrictively
/// licensed) to ship. Tests that need it print why they skip when it is absent.
pub fn shared_data(folder: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(folder);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: {} is absent; this test replays real captures from the shared data folder",
            dir.display()
        );
        None
    }
}

/// A fixture under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes `text` to a file in `dir`.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp file writes");
    path
}
