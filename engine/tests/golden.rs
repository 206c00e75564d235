//! Golden scenario files: `tests/scenarios/*.scn` hold a script, then `--- expected ---`, then
//! the transcript it must produce (events, rejects, ASCII books). Regenerate the transcripts
//! with `UPDATE_GOLDEN=1 cargo test -p cascade-engine --test golden` and review the diff.

use cascade_engine::scenario::{run, split_golden, EXPECTED_MARKER};
use std::fs;
use std::path::Path;

#[test]
fn golden_scenarios_match() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("scenario folder exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the shipped scenarios, found {}",
        files.len()
    );
    let mut mismatches = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).expect("readable scenario");
        let (script, expected) = split_golden(&text);
        let outcome = run(script).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            outcome.failures.is_empty(),
            "{}: {:?}",
            path.display(),
            outcome.failures
        );
        // Determinism: the same script gives the same transcript and state hash.
        let again = run(script).expect("ran once already");
        assert_eq!(again.transcript, outcome.transcript);
        assert_eq!(again.engine.state_hash(), outcome.engine.state_hash());
        if update {
            let body = format!(
                "{}{EXPECTED_MARKER}\n{}",
                script.trim_end_matches('\n').to_owned() + "\n",
                outcome.transcript
            );
            fs::write(path, body).expect("writable scenario");
        } else if expected != Some(outcome.transcript.as_str()) {
            mismatches.push(format!(
                "{}\n--- got ---\n{}",
                path.display(),
                outcome.transcript
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatch (UPDATE_GOLDEN=1 to regenerate, then review):\n{}",
        mismatches.join("\n")
    );
}
