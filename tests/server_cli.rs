//! The `baton serve` command line, run as a real process: the listening
//! line, the generated key (printed once), `--mutant` on and unknown, and
//! `--key ""`.

use baton::server::Mutant;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A spawned `baton serve`, killed when dropped; its stdout lines arrive
/// on a channel.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Serve {
    fn spawn(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("serve")
            .args(args)
            .env_remove("BATON_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn baton serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve { child, lines }
    }

    /// Lines up to and including `listening on …`; returns them and the URL.
    fn until_listening(&self) -> (Vec<String>, String) {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|e| panic!("no `listening on` line ({e}); saw {seen:?}"));
            if let Some(url) = line.strip_prefix("listening on ") {
                let url = url.to_string();
                seen.push(line);
                return (seen, url);
            }
            seen.push(line);
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn info(url: &str, key: &str) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{url}/conformance/info"))
        .header("x-conformance-key", key)
        .send()
        .await
        .expect("the spawned server answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_where_it_listens() {
    let s = Serve::spawn(&["--port", "0", "--key", "K-cli-test"]);
    let (lines, url) = s.until_listening();
    // The console's one-time login link, then the ready line.
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("console (login link, works once): http://127.0.0.1:")
            && lines[0].contains("/console?token="),
        "{lines:?}"
    );
    assert!(
        !lines[0].contains("K-cli-test"),
        "the control key is not in the link"
    );
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("{url}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    assert_eq!(info(&url, "K-cli-test").await, 200);
    assert_eq!(info(&url, "wrong").await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_a_key_prints_a_generated_one_once() {
    let s = Serve::spawn(&["--port", "0"]);
    let (lines, url) = s.until_listening();
    let keys: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("X-Conformance-Key"))
        .collect();
    assert_eq!(keys.len(), 1, "{lines:?}");
    let key = keys[0].rsplit(' ').next().unwrap();
    assert!(key.len() >= 16, "{key}");
    assert!(!key.contains(':'));
    assert_eq!(info(&url, key).await, 200);
    assert_eq!(info(&url, "").await, 401);
    // Nothing more is printed while it serves.
    assert!(s.lines.recv_timeout(Duration::from_millis(200)).is_err());
    // Another run generates another key.
    let t = Serve::spawn(&["--port", "0"]);
    let (other, _) = t.until_listening();
    assert_ne!(lines[0], other[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_with_a_mutant_says_so() {
    let s = Serve::spawn(&["--port", "0", "--key", "k", "--mutant", "racy-take"]);
    let (lines, url) = s.until_listening();
    assert_eq!(lines[0], "mutant on: racy-take (breaks RACE-1)");
    assert_eq!(info(&url, "k").await, 200);
}

#[test]
fn unknown_mutant_exits_2_naming_the_known_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--port", "0", "--key", "k", "--mutant", "x"])
        .env_remove("BATON_KEY")
        .output()
        .expect("run baton");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"x\""), "{err}");
    for m in Mutant::ALL {
        assert!(err.contains(m.name()), "{} missing: {err}", m.name());
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_key_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--port", "0", "--key", ""])
        .env_remove("BATON_KEY")
        .output()
        .expect("run baton");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}

#[test]
fn an_unknown_hidden_feature_exits_2_naming_the_features() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--port", "0", "--key", "k", "--hide-feature", "ig"])
        .env_remove("BATON_KEY")
        .output()
        .expect("run baton");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"ig\"") && err.contains("instagram"), "{err}");
}
