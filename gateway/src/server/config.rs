//! Server configuration: TOML, with an embedded default ([`DEFAULT_CONFIG`]).
//!
//! Process settings (ports, timeouts, queue bounds) never affect engine state. The markets and
//! the demo users' starting deposits do: they become sequenced commands (`AddMarket`,
//! `SetRiskParams`, `SetIndexPrice`, `Deposit`) the first time a journal directory is used,
//! and are never applied again on a restart (recovery replays them from the journal).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use cascade_engine::risk_params::RiskParams;
use cascade_engine::{AccountId, MarketId, MarketSpec};
use serde::Deserialize;

use crate::journal::FsyncPolicy;

/// The embedded default: BTC-PERP and ETH-PERP, four demo users, journal in
/// `./cascade-journal`.
pub const DEFAULT_CONFIG: &str = r#"
# Cascade server configuration (the embedded default; `cascade serve --config FILE` replaces it).
listen = "127.0.0.1"
port = 15000          # OUCH 5.0 order entry over SoupBinTCP (0: any free port)
md_port = 15001       # ITCH 5.0 market data over SoupBinTCP (0: any free port)
native_port = 15002   # native perp channel over SoupBinTCP (0: any free port)
journal_dir = "cascade-journal"
fsync = "batch"       # "every-record", "batch" (one fdatasync per group commit) or "never"
heartbeat_ms = 1000   # server heartbeat after this much outbound silence
idle_timeout_ms = 15000   # disconnect a client silent for this long (send heartbeats)
rate_limit_per_s = 5000   # inbound messages per second per session; above it: disconnect
cancel_on_disconnect = false
outbound_queue_max = 65536  # frames queued per session; a slower reader is disconnected
inbound_queue_max = 65536   # messages queued from all sessions to the core
sessions_max = 256          # open connections (all ports); more are closed at once
metrics_listen = "127.0.0.1:15003"  # Prometheus text format at GET /metrics ("" turns it off)
replay_max = 4194304        # messages each stream keeps for replay; older ones are dropped
snapshot_every = 0          # snapshot after this many journal records (0: never); written
                            # on the core thread, so trading pauses while it is written

[[markets]]
preset = "btc"        # BTC-PERP: tick 0.1 USD, lot 0.001 BTC, RiskParams::btc_perp()
index_ticks = 650000  # 65,000.0 USD

[[markets]]
preset = "eth"        # ETH-PERP: tick 0.01 USD, lot 0.01 ETH, RiskParams::eth_perp()
index_ticks = 300000  # 3,000.00 USD

# Demo users. Passwords are plain text: this is a demo, not an authentication scheme.
# deposit_quote is in quote quantums of 1e-6 USD.
[[users]]
username = "alice"
password = "alice"
account = 1
deposit_quote = 1000000000000   # 1,000,000 USD

[[users]]
username = "bob"
password = "bob"
account = 2
deposit_quote = 1000000000000

[[users]]
username = "carol"
password = "carol"
account = 3
deposit_quote = 1000000000000

[[users]]
username = "mm"
password = "mm"
account = 4
deposit_quote = 10000000000000  # 10,000,000 USD

# The operator: on the native port it may act for any account and send index prices, funding
# ticks, the backstop vault and insurance deposits.
[[users]]
username = "ops"
password = "ops"
account = 100
operator = true
"#;

/// One market.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// `btc` or `eth`: the spec and risk parameters of the preset.
    pub preset: String,
    /// The starting index price, in ticks.
    pub index_ticks: i64,
}

/// One user: a SoupBinTCP username/password and the engine account it trades.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Username, at most 6 bytes (SoupBinTCP alpha(6)).
    pub username: String,
    /// Password, at most 10 bytes (SoupBinTCP alpha(10)).
    pub password: String,
    /// Engine account id.
    pub account: u32,
    /// Deposited at genesis, in quote quantums (0: none).
    #[serde(default)]
    pub deposit_quote: i64,
    /// An operator on the native perp channel (any account, index prices, funding ticks,
    /// backstop vault, insurance deposits); a trader otherwise.
    #[serde(default)]
    pub operator: bool,
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// OUCH port (0: ephemeral).
    pub port: u16,
    /// ITCH port (0: ephemeral).
    pub md_port: u16,
    /// Native perp channel port (0: ephemeral).
    #[serde(default = "native_port_default")]
    pub native_port: u16,
    /// Journal directory.
    pub journal_dir: PathBuf,
    /// `every-record`, `batch` or `never`.
    pub fsync: String,
    /// Server heartbeat interval, milliseconds.
    pub heartbeat_ms: u64,
    /// Client idle timeout, milliseconds.
    pub idle_timeout_ms: u64,
    /// Inbound messages per second per session.
    pub rate_limit_per_s: u32,
    /// Cancel an account's orders when its session ends.
    pub cancel_on_disconnect: bool,
    /// Frames queued per session before it is disconnected as a slow consumer.
    pub outbound_queue_max: usize,
    /// Messages queued to the core (back-pressure on the sessions beyond it).
    pub inbound_queue_max: usize,
    /// Open connections, both ports together; a connection beyond it is closed at once.
    #[serde(default = "sessions_max_default")]
    pub sessions_max: usize,
    /// Address of the Prometheus metrics endpoint (`host:port`; empty: none).
    #[serde(default)]
    pub metrics_listen: String,
    /// Messages each stream (an account's OUCH or native stream, the ITCH feed) keeps for
    /// replay; older ones are dropped (`server/stream_log.rs`).
    #[serde(default = "replay_max_default")]
    pub replay_max: usize,
    /// Write a snapshot once this many records have been journaled since the last one (0:
    /// never).
    #[serde(default)]
    pub snapshot_every: u64,
    /// Markets, in id order (the first is id 0).
    pub markets: Vec<MarketConfig>,
    /// Users.
    pub users: Vec<UserConfig>,
}

const fn sessions_max_default() -> usize {
    256
}

const fn replay_max_default() -> usize {
    1 << 22
}

const fn native_port_default() -> u16 {
    15002
}

/// A configuration that does not parse or does not make sense.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A market ready to add: spec, risk parameters, starting index.
#[derive(Clone, Debug)]
pub struct MarketSetup {
    /// The spec.
    pub spec: MarketSpec,
    /// The risk parameters.
    pub risk: RiskParams,
    /// Starting index, ticks.
    pub index_ticks: i64,
}

impl Config {
    /// Parses and validates a TOML configuration.
    ///
    /// # Errors
    /// [`ConfigError`] for TOML errors, unknown fields, bad presets, users whose names or
    /// passwords do not fit SoupBinTCP, duplicate usernames, zero bounds.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded default.
    ///
    /// # Panics
    /// Never: a test parses [`DEFAULT_CONFIG`].
    #[must_use]
    pub fn embedded() -> Self {
        Self::parse(DEFAULT_CONFIG).expect("invariant: the embedded config parses")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.fsync_policy()?;
        self.markets()?;
        for (i, u) in self.users.iter().enumerate() {
            if u.username.is_empty() || u.username.len() > 6 || u.username.contains(' ') {
                return Err(ConfigError(format!(
                    "user {:?}: username must be 1-6 bytes without spaces",
                    u.username
                )));
            }
            if u.password.len() > 10 || u.password.contains(' ') {
                return Err(ConfigError(format!(
                    "user {:?}: password must be at most 10 bytes without spaces",
                    u.username
                )));
            }
            if u.deposit_quote < 0 {
                return Err(ConfigError(format!(
                    "user {:?}: negative deposit",
                    u.username
                )));
            }
            if self.users[..i].iter().any(|o| o.username == u.username) {
                return Err(ConfigError(format!("user {:?} twice", u.username)));
            }
        }
        if self.heartbeat_ms == 0 || self.idle_timeout_ms == 0 {
            return Err(ConfigError(
                "heartbeat_ms and idle_timeout_ms must be > 0".into(),
            ));
        }
        if self.outbound_queue_max == 0
            || self.inbound_queue_max == 0
            || self.rate_limit_per_s == 0
            || self.sessions_max == 0
            || self.replay_max == 0
        {
            return Err(ConfigError(
                "queue bounds and rate limit must be > 0".into(),
            ));
        }
        if !self.metrics_listen.is_empty()
            && self.metrics_listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError(format!(
                "metrics_listen {:?}: expected host:port with a numeric host, or \"\"",
                self.metrics_listen
            )));
        }
        Ok(())
    }

    /// The journal's fsync policy.
    ///
    /// # Errors
    /// An unknown policy name.
    pub fn fsync_policy(&self) -> Result<FsyncPolicy, ConfigError> {
        match self.fsync.as_str() {
            "every-record" => Ok(FsyncPolicy::EveryRecord),
            "batch" => Ok(FsyncPolicy::Batch {
                records: 0,
                bytes: 0,
            }),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(ConfigError(format!("unknown fsync policy {other:?}"))),
        }
    }

    /// The markets, ids from 0 in order.
    ///
    /// # Errors
    /// An unknown preset, a non-positive index, too many markets.
    pub fn markets(&self) -> Result<Vec<MarketSetup>, ConfigError> {
        self.markets
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let id =
                    MarketId(u16::try_from(i).map_err(|_| ConfigError("too many markets".into()))?);
                let (spec, risk) = match m.preset.as_str() {
                    "btc" => (MarketSpec::btc_perp(id), RiskParams::btc_perp()),
                    "eth" => (MarketSpec::eth_perp(id), RiskParams::eth_perp()),
                    other => return Err(ConfigError(format!("unknown market preset {other:?}"))),
                };
                if m.index_ticks <= 0 {
                    return Err(ConfigError(format!(
                        "{}: index_ticks must be > 0",
                        m.preset
                    )));
                }
                Ok(MarketSetup {
                    spec,
                    risk,
                    index_ticks: m.index_ticks,
                })
            })
            .collect()
    }

    /// The user with this SoupBinTCP username and password (both space-padded on the wire).
    #[must_use]
    pub fn authenticate(&self, username: &[u8; 6], password: &[u8; 10]) -> Option<AccountId> {
        self.authenticate_user(username, password)
            .map(|u| AccountId(u.account))
    }

    /// [`Self::authenticate`], returning the whole user.
    #[must_use]
    pub fn authenticate_user(
        &self,
        username: &[u8; 6],
        password: &[u8; 10],
    ) -> Option<&UserConfig> {
        let trim = |b: &[u8]| -> Vec<u8> {
            let s = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
            let e = b.iter().rposition(|&c| c != b' ').map_or(s, |e| e + 1);
            b[s..e.max(s)].to_vec()
        };
        let (name, pass) = (trim(username), trim(password));
        self.users
            .iter()
            .find(|u| u.username.as_bytes() == name.as_slice() && u.password.as_bytes() == pass)
    }

    /// Heartbeat interval.
    #[must_use]
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// Idle timeout.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}
