//! Replay of journals and of real venue data through the Cascade engine.
//!
//! Two ways in:
//! - a **journal** (what `cascade serve` writes, or what an import wrote) is read record by
//!   record and applied to a fresh engine ([`replay::replay_journal`]);
//! - a **venue capture** in one of the [`Format`]s is turned into sequenced commands by an
//!   importer ([`import`]), which can be written out as a journal or replayed at once with a
//!   format-specific [`replay::Checker`] comparing the engine with what the venue did (the
//!   venue's own trades, its top of book).
//!
//! Importers read the whole capture into memory: captures are minutes of one market. Nothing
//! here is on the engine's hot path except the journal read loop and the event tally.

pub mod binance;
pub mod bitstamp;
pub mod decimal;
pub mod error;
pub mod input;
pub mod journal_file;
pub mod l2;
pub mod lobster;
pub mod replay;
pub mod tally;
pub mod tardis;

use std::path::{Path, PathBuf};

use cascade_engine::{Command, Limits, Sequenced};
use cascade_gateway::journal::{FsyncPolicy, JournalWriter};

pub use error::{ImportError, Reason};
pub use replay::{replay_commands, replay_journal, Checker, ReplayOptions, ReplayReport};

/// A source format `cascade replay --format` and `cascade import --format` understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Cascade journal.
    Journal,
    /// Bitstamp order-by-order (L3) CSV: `orders.csv[.gz]` and `trades.csv`.
    BitstampL3,
    /// Binance USDⓈ-M futures raw WebSocket captures (`<ts> <json>` lines, gzip or plain).
    BinanceUsdm,
    /// LOBSTER message files (`*_message_*.csv`).
    Lobster,
    /// Tardis.dev CSV datasets: `incremental_book_L2` and `trades`.
    Tardis,
}

impl Format {
    /// Every format, for help text and errors.
    pub const ALL: [Format; 5] = [
        Format::Journal,
        Format::BitstampL3,
        Format::BinanceUsdm,
        Format::Lobster,
        Format::Tardis,
    ];

    /// The name used on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Format::Journal => "journal",
            Format::BitstampL3 => "bitstamp-l3",
            Format::BinanceUsdm => "binance-usdm",
            Format::Lobster => "lobster",
            Format::Tardis => "tardis",
        }
    }

    /// Parses a command-line name.
    ///
    /// # Errors
    /// [`Reason::WrongInput`] naming the known formats.
    pub fn parse(name: &str) -> Result<Self, ImportError> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                ImportError::new(
                    Reason::WrongInput,
                    format!("unknown format {name:?}; known: {}", known.join(", ")),
                )
            })
    }
}

/// A capture turned into engine commands, with what is needed to check the replay against the
/// venue.
pub struct Imported {
    /// The format it came from.
    pub format: Format,
    /// Commands in sequence order, starting with the market set-up.
    pub commands: Vec<Sequenced<Command>>,
    /// Engine capacities the commands need.
    pub limits: Limits,
    /// What the importer itself found (rows read, rows skipped and why, book checks).
    pub notes: serde_json::Map<String, serde_json::Value>,
    /// Compares the engine's events with the venue's record.
    pub checker: Box<dyn Checker>,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imported")
            .field("format", &self.format)
            .field("commands", &self.commands.len())
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

/// Imports `files` in `format` (every format but [`Format::Journal`]).
///
/// # Errors
/// The first problem with the input, with its stable reason code.
pub fn import(format: Format, files: &[PathBuf]) -> Result<Imported, ImportError> {
    match format {
        Format::Journal => Err(ImportError::new(
            Reason::WrongInput,
            "a journal needs no import: replay it directly",
        )),
        Format::BitstampL3 => bitstamp::import(files),
        Format::BinanceUsdm => binance::import(files),
        Format::Lobster => lobster::import(files),
        Format::Tardis => tardis::import(files),
    }
}

/// Replays an import and merges the importer's notes and the checker's findings into the
/// report's `checks`.
///
/// # Errors
/// As [`replay_commands`].
pub fn replay_imported(
    imported: &mut Imported,
    opts: ReplayOptions,
) -> Result<ReplayReport, ImportError> {
    let opts = ReplayOptions {
        limits: imported.limits,
        ..opts
    };
    let mut report = replay_commands(
        imported.format.name(),
        &imported.commands,
        imported.checker.as_mut(),
        opts,
    )?;
    let mut checks = imported.notes.clone();
    if let serde_json::Value::Object(found) = std::mem::take(&mut report.checks) {
        checks.extend(found);
    }
    report.checks = serde_json::Value::Object(checks);
    Ok(report)
}

/// Writes commands to a new journal at `out` (refusing to overwrite an existing file).
///
/// # Errors
/// I/O errors, or an existing file.
pub fn write_journal(out: &Path, commands: &[Sequenced<Command>]) -> Result<u64, ImportError> {
    if out.exists() {
        return Err(ImportError::new(
            Reason::WrongInput,
            format!("{} exists; refusing to overwrite a journal", out.display()),
        ));
    }
    let mut writer = JournalWriter::create(out, FsyncPolicy::Never)
        .map_err(|e| ImportError::journal(out, &e))?;
    for cmd in commands {
        writer
            .append(cmd)
            .map_err(|e| ImportError::journal(out, &e))?;
    }
    writer.sync().map_err(|e| ImportError::journal(out, &e))?;
    Ok(commands.len() as u64)
}

/// Stamps commands with consecutive sequence numbers from 1 and non-decreasing times. The
/// engine names an order by the sequence number of the command that placed it, so importers
/// know every order id as they emit its `Place`.
#[derive(Debug, Default)]
pub struct Sequencer {
    commands: Vec<Sequenced<Command>>,
    last_ts_ns: u64,
}

impl Sequencer {
    /// Appends `command` at venue time `ts_ns` (held back to the last time if the venue's
    /// clock stepped back); returns its sequence number.
    pub fn push(&mut self, ts_ns: u64, command: Command) -> u64 {
        self.last_ts_ns = self.last_ts_ns.max(ts_ns);
        let seq = self.commands.len() as u64 + 1;
        self.commands.push(Sequenced {
            seq,
            ts_ns: self.last_ts_ns,
            command,
        });
        seq
    }

    /// The sequence number the next command will get.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.commands.len() as u64 + 1
    }

    /// The commands, in order.
    #[must_use]
    pub fn into_commands(self) -> Vec<Sequenced<Command>> {
        self.commands
    }
}
