//! Opening source files: plain or gzip, found by the gzip magic rather than the file name.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::ImportError;

/// Opens `path` for buffered reading, decompressing it when it starts with the gzip magic.
///
/// # Errors
/// [`crate::error::Reason::Io`] when the file cannot be opened or read.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, ImportError> {
    let mut file = File::open(path).map_err(|e| ImportError::io(path, &e))?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .map_err(|e| ImportError::io(path, &e))?;
    let file = File::open(path).map_err(|e| ImportError::io(path, &e))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file)),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}
