//! `cascade serve`: runs the gateway server (OUCH order entry, ITCH market data) until killed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cascade_gateway::server::{self, Config};
use clap::Args;

/// Flags of `cascade serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML configuration file (default: the embedded demo configuration).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The journal directory (overrides the configuration's `journal_dir`).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// The OUCH order-entry port (0: any free port).
    #[arg(long)]
    port: Option<u16>,
    /// The ITCH market-data port (0: any free port).
    #[arg(long)]
    md_port: Option<u16>,
    /// The native perp channel port (0: any free port).
    #[arg(long)]
    native_port: Option<u16>,
}

/// Loads the configuration, starts the server, prints where it listens and who may log in,
/// and blocks until the core stops.
pub fn run(args: &ServeArgs) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Config::parse(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Config::embedded(),
    };
    if let Some(dir) = &args.journal {
        config.journal_dir.clone_from(dir);
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(port) = args.md_port {
        config.md_port = port;
    }
    if let Some(port) = args.native_port {
        config.native_port = port;
    }
    let users: Vec<String> = config
        .users
        .iter()
        .map(|u| format!("{}/{} (account {})", u.username, u.password, u.account))
        .collect();
    let journal_dir = config.journal_dir.clone();
    let handle = server::start(config).context("starting the server")?;
    let info = handle.start_info();
    println!("Cascade server");
    println!(
        "  OUCH 5.0 order entry (SoupBinTCP): {}",
        handle.ouch_addr()
    );
    println!("  ITCH 5.0 market data (SoupBinTCP): {}", handle.md_addr());
    match handle.metrics_addr() {
        Some(a) => println!("  Prometheus metrics: http://{a}/metrics"),
        None => {
            println!("  Prometheus metrics: off (metrics_listen empty, or not bound: see the log)")
        }
    }
    println!(
        "  native perp channel (SoupBinTCP): {}",
        handle.native_addr()
    );
    println!(
        "  journal: {} (recovered through seq {}, state_hash {:016x})",
        journal_dir.display(),
        info.recovered_seq,
        info.state_hash
    );
    println!("  users (username/password): {}", users.join(", "));
    println!("  markets: BTC-PERP, ETH-PERP (see docs/PROTOCOL.md, \"Server\"). Ctrl-C stops.");
    let hash = handle.wait().context("server stopped")?;
    println!("state_hash {hash:016x}");
    Ok(())
}
