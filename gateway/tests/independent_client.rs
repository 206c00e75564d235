//! The server against an OUCH 5.0 / SoupBinTCP client nobody on the team wrote: Nasdaq's
//! `nasdaq-protocols` (PyPI), driven by `tests/py/ouch_client.py`.
//!
//! The client is a requirement of the test suite, not an optional extra: without `python3`
//! or the package this test fails, saying how to install it (`.ci/run` does).

use std::path::PathBuf;
use std::process::Command;

use cascade_gateway::server::{self, Config};

/// The version `.ci/run` installs; the message layouts in `ouch50.xml` were checked with it.
const NASDAQ_PROTOCOLS_VERSION: &str = "1.3.0";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/ouch_client.py")
}

/// Fails, with the command that fixes it, unless `python3` can import `nasdaq_protocols`.
fn require_client() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('nasdaq-protocols'))",
        ])
        .output();
    let install = format!("pip install nasdaq-protocols=={NASDAQ_PROTOCOLS_VERSION}");
    match probe {
        Err(e) => panic!("python3 is required by this test and could not be run ({e}); install Python 3.10+ and `{install}`"),
        Ok(out) if !out.status.success() => panic!(
            "the Python package nasdaq-protocols is required by this test; run `{install}` ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(out) => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert_eq!(
                version, NASDAQ_PROTOCOLS_VERSION,
                "nasdaq-protocols {version} is installed; the test is pinned to it: `{install}`"
            );
        }
    }
}

#[test]
fn nasdaq_protocols_client_enters_crosses_cancels_and_logs_out() {
    require_client();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::embedded();
    config.port = 0;
    config.md_port = 0;
    config.native_port = 0;
    config.metrics_listen = String::new();
    config.fsync = "never".into();
    config.journal_dir = dir.path().to_path_buf();
    let server = server::start(config).expect("server starts");
    let hash_before = server.state_hash().expect("state hash");
    let port = server.ouch_addr().port().to_string();

    // The script bounds every wait itself (10 s per step), so this cannot hang.
    let out = Command::new("python3")
        .arg(script())
        .args(["127.0.0.1", &port])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the independent client failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for step in [
        "ok alice logged in",
        "ok alice accepted ref=",
        "ok bob logged in",
        "ok executed 2 match=",
        "ok alice canceled 3",
        "ok logged out",
    ] {
        assert!(
            stdout.contains(step),
            "missing step {step:?} in:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");

    // The trades happened in the engine, not only on the wire: both accounts hold a
    // position, so the state moved.
    let hash_after = server.shutdown().expect("clean shutdown");
    assert_ne!(hash_before, hash_after);
}
