//! Binance USDⓈ-M futures captures.
use crate::{ImportError, Imported, Reason};
use std::path::PathBuf;
/// Imports.
///
/// # Errors
/// Always, for now.
pub fn import(_files: &[PathBuf]) -> Result<Imported, ImportError> {
    Err(ImportError::new(
        Reason::WrongInput,
        "binance-usdm: not yet",
    ))
}
