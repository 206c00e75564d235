//! Finds the QuantCup feed and the contest's winning C engine in the registry copy of the
//! `lobster` 0.7.0 crate (a dependency, so cargo has downloaded it before this runs) and, when
//! both are there, compiles the engine with a small shim for `peers::quantcup_c`.
//!
//! Neither the feed nor the engine is vendored: they carry no licence of their own (see
//! `data/PROVENANCE.md`). When they are not found, the QuantCup workload and the C engine are
//! skipped at run time with a message, and everything else builds as usual.

use std::path::{Path, PathBuf};
use std::process::Command;

fn registry_roots() -> Vec<PathBuf> {
    let mut homes = Vec::new();
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        homes.push(PathBuf::from(h));
    }
    if let Some(h) = std::env::var_os("HOME") {
        homes.push(Path::new(&h).join(".cargo"));
    }
    let mut roots = Vec::new();
    for home in homes {
        let src = home.join("registry").join("src");
        if let Ok(entries) = std::fs::read_dir(&src) {
            let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            dirs.sort();
            roots.extend(dirs);
        }
    }
    roots
}

fn find_lobster() -> Option<PathBuf> {
    registry_roots()
        .into_iter()
        .map(|r| r.join("lobster-0.7.0"))
        .find(|p| p.join("data").join("orders.csv").is_file())
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(cascade_quantcup_c)");
    println!("cargo::rerun-if-changed=csrc/quantcup_shim.c");
    println!("cargo::rerun-if-env-changed=CARGO_HOME");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(
            || "rustc (unknown version)".to_string(),
            |s| s.trim().to_string(),
        );
    println!("cargo::rustc-env=CASCADE_BENCH_RUSTC={version}");

    let Some(lobster) = find_lobster() else {
        println!("cargo::warning=lobster-0.7.0 not found in the cargo registry: QuantCup skipped");
        return;
    };
    let csv = lobster.join("data").join("orders.csv");
    println!(
        "cargo::rustc-env=CASCADE_QUANTCUP_CSV_BUILD={}",
        csv.display()
    );

    let quantcup = lobster.join("quantcup");
    let engine = quantcup.join("engine.c");
    if !engine.is_file() {
        return;
    }
    println!("cargo::rerun-if-changed={}", engine.display());
    let mut build = cc::Build::new();
    build
        .file("csrc/quantcup_shim.c")
        .include(&quantcup)
        .opt_level(3)
        .warnings(false);
    match build.try_compile("cascade_quantcup") {
        Ok(()) => println!("cargo::rustc-cfg=cascade_quantcup_c"),
        Err(e) => println!("cargo::warning=QuantCup C engine not built: {e}"),
    }
}
