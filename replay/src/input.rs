//! Opening source files (plain or gzip, found by the gzip magic rather than the file name) and
//! reading CSV rows with their line numbers for error reports.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{ImportError, Reason};

/// Opens `path` for buffered reading, decompressing it when it starts with the gzip magic.
///
/// # Errors
/// [`crate::error::Reason::Io`] when the file cannot be opened or read.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, ImportError> {
    let file = File::open(path).map_err(|e| ImportError::io(path, &e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gzip = reader
        .fill_buf()
        .map_err(|e| ImportError::io(path, &e))?
        .starts_with(&[0x1f, 0x8b]);
    if gzip {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// A CSV reader over a (possibly gzipped) file whose first row names the columns.
///
/// # Errors
/// The file cannot be opened.
pub fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn BufRead>>, ImportError> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(open(path)?))
}

/// The header row of `rdr`.
///
/// # Errors
/// The header row cannot be read.
pub fn csv_headers(
    rdr: &mut csv::Reader<Box<dyn BufRead>>,
    path: &Path,
) -> Result<csv::StringRecord, ImportError> {
    rdr.headers()
        .cloned()
        .map_err(|e| ImportError::at(Reason::Header, path, 1, e.to_string()))
}

/// The index of the column called `name`.
///
/// # Errors
/// No such column.
pub fn csv_column(
    headers: &csv::StringRecord,
    name: &str,
    path: &Path,
) -> Result<usize, ImportError> {
    headers
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| ImportError::at(Reason::Header, path, 1, format!("no column {name:?}")))
}

/// Reads the next row into `rec` and advances `line` to it (the header is line 1); `false` at
/// the end of the file. One record buffer serves the whole file: no allocation per row.
///
/// # Errors
/// A row the CSV reader refuses (reported at its line).
pub fn csv_next(
    rdr: &mut csv::Reader<Box<dyn BufRead>>,
    rec: &mut csv::StringRecord,
    path: &Path,
    line: &mut u64,
) -> Result<bool, ImportError> {
    *line += 1;
    rdr.read_record(rec)
        .map_err(|e| ImportError::at(Reason::FieldMissing, path, *line, e.to_string()))
}

/// Reads the next non-empty line of a text source into `text` and returns it without its line
/// ending, advancing `line` past every line read (blank ones included, so error reports name
/// the file's own line numbers); `None` at the end.
///
/// # Errors
/// [`Reason::Io`] when the source cannot be read.
pub fn next_line<'t>(
    reader: &mut dyn BufRead,
    text: &'t mut String,
    path: &Path,
    line: &mut u64,
) -> Result<Option<&'t str>, ImportError> {
    loop {
        text.clear();
        let n = reader
            .read_line(text)
            .map_err(|e| ImportError::io(path, &e))?;
        if n == 0 {
            return Ok(None);
        }
        *line += 1;
        if !text.trim_end().is_empty() {
            return Ok(Some(text.trim_end()));
        }
    }
}
