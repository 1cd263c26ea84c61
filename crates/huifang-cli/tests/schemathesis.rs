//! The served OpenAPI document against the server that serves it: schemathesis (Python, from
//! PyPI; `scripts/test` installs it; settings in `schemathesis.toml`) generates requests for
//! every operation from the document, authenticated with the API tokens of the demo's risk
//! officer, admin, a team lead and a collector, and checks every answer: no 5xx, no status code
//! the document does not list, no body or header outside its schema, the content type it says,
//! no schema-violating request accepted, every schema-valid read accepted; its stateful phase
//! follows the document's links (from the lists and the intake routes to the records' reads).
//! Runs on a small demo database in a temporary directory; fails when schemathesis is missing
//! (a skipped check is not a passed one).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/demo_cli.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::{huifang, serve};
use tempfile::TempDir;

fn token(dir: &Path, user: &str) -> String {
    let out = huifang(dir, &["user", "token", user, "--days", "1"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The checks of the two runs: every check on every operation but the acceptance of every
/// schema-valid request, which only reads must meet (a write's body is checked by business rules
/// the schema cannot express: a loan that exists, a task in the caller's queue).
const RUNS: [(&str, &[&str]); 2] = [
    (
        "all",
        &[
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ],
    ),
    (
        "reads",
        &[
            "--checks",
            "positive_data_acceptance",
            "--include-method",
            "GET",
        ],
    ),
];

/// schemathesis against the server as `user`; its reports are kept under
/// target/schemathesis/USER-RUN. Returns how many of the document's links its stateful phase
/// followed, per run.
fn run(dir: &Path, base: &str, user: &str) -> Vec<(&'static str, u32)> {
    let mut links = Vec::new();
    let token = token(dir, user);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (name, checks) in RUNS {
        let work = root.join("target/schemathesis");
        std::fs::create_dir_all(&work).unwrap();
        let report = work.join(format!("{user}-{name}"));
        let out = Command::new("schemathesis")
            .current_dir(&work)
            .arg("--config-file")
            .arg(root.join("schemathesis.toml"))
            .args([
                "run",
                &format!("{base}/api/v1/openapi.json"),
                "--url",
                base,
                "--header",
                &format!("Authorization: Bearer {token}"),
            ])
            .args(checks)
            .args([
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                "20",
                "--seed",
                "20261206",
                // one worker: the data generator's caches are not safe across threads
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--suppress-health-check",
                "all",
                "--report",
                "junit",
                "--report-dir",
                report.to_str().unwrap(),
            ])
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| {
                panic!("schemathesis is not installed ({e}): scripts/test installs it with pip")
            });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis ({name}) as {user} found failures:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // it ran and tested operations
        assert!(stdout.contains("Tested:"), "{stdout}");
        assert!(!stdout.contains("Tested: 0"), "{stdout}");
        // "API Links:    5 covered / 88 selected / …" of the stateful phase
        let covered = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("API Links:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no stateful phase in the report:\n{stdout}"));
        links.push((name, covered));
    }
    links
}

#[test]
fn every_operation_of_the_served_document_answers_as_it_says() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let out = huifang(dir, &["demo", "--loans", "200"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_server, addr) = serve(dir);
    let base = format!("http://{addr}");
    for user in ["risk", "admin", "malead", "chenjing"] {
        let links = run(dir, &base, user);
        // the stateful phase follows the document's links from the lists and the intake routes
        // to the records' reads, for the roles that may read them
        if user == "risk" {
            assert!(
                links.iter().all(|(_, covered)| *covered >= 3),
                "links followed as {user}: {links:?}"
            );
        }
    }
}
