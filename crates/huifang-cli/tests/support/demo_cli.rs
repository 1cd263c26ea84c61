//! Shared by the command-line tests: `huifang` run on a demo database in a temporary directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// `huifang --db <dir>/demo.db ARGS`, run in `dir`.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let mut c = Command::new(env!("CARGO_BIN_EXE_huifang"));
    c.arg("--db")
        .arg(&db)
        .args(args)
        .current_dir(dir)
        .env_remove("HUIFANG_DATABASE_URL");
    c
}

pub fn huifang(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = command(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn huifang");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = huifang(dir, args, None);
    assert!(
        out.status.success(),
        "huifang {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn fails(dir: &Path, args: &[&str]) -> String {
    let out = huifang(dir, args, None);
    assert!(!out.status.success(), "huifang {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

pub fn demo_and_next_task(d: &Path) -> Value {
    ok(
        d,
        &[
            "demo",
            "--loans",
            "60",
            "--today",
            "2026-11-27",
            "--seed",
            "5",
        ],
    );
    serde_json::from_str(&ok(d, &["task", "next", "--as", "wangfang", "--json"])).unwrap()
}

/// `huifang` run with the machine's time zone set to `tz`: the contact rules read the hours in
/// the lender's time (Asia/Shanghai), never the machine's.
pub fn huifang_in(dir: &Path, tz: &str, args: &[&str]) -> Output {
    command(dir, args)
        .env("TZ", tz)
        .stdin(Stdio::null())
        .output()
        .expect("spawn huifang")
}

/// A `huifang serve` process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `huifang serve` on the demo database, on a free port of 127.0.0.1, without the outbox's
/// worker; the server and its address.
pub fn serve(dir: &Path) -> (Server, String) {
    let mut c = command(dir, &["serve", "--listen", "127.0.0.1:0", "--no-worker"]);
    c.stderr(Stdio::null());
    serve_by(c)
}

/// A `huifang serve` command started; the server and the address it printed.
pub fn serve_by(mut command: Command) -> (Server, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("start huifang serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Server(child), addr)
}
