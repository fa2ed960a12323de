//! The `baton app` command line, run as a real process: the ready line,
//! credentials from the environment (never printed), the handshake and a
//! signed and a forged delivery, Ctrl-C, `--list-app-mutants` and usage
//! errors.

use baton::app::AppMutant;
use baton::wire::signature_header;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "cli-token-do-not-print";
const SECRET: &str = "cli-secret-do-not-print";

struct App {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl App {
    fn spawn(args: &[&str]) -> App {
        App::spawn_with(args, Some("vt"))
    }

    /// `verify_token`: `BATON_VERIFY_TOKEN`, or `None` for none at all.
    fn spawn_with(args: &[&str], verify_token: Option<&str>) -> App {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
        match verify_token {
            Some(v) => cmd.env("BATON_VERIFY_TOKEN", v),
            None => cmd.env_remove("BATON_VERIFY_TOKEN"),
        };
        let mut child = cmd
            .arg("app")
            .args(args)
            .env("BATON_APP_TOKEN", TOKEN)
            .env("BATON_APP_SECRET", SECRET)
            .env("BATON_APP_ID", "4321")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn baton app");
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
        App { child, lines }
    }

    fn next_line(&self, what: &str, seen: &mut Vec<String>) -> String {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("no {what} line ({e}); saw {seen:?}"));
        seen.push(line.clone());
        line
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn app_prints_its_webhook_serves_and_stops_on_ctrl_c() {
    let mut app = App::spawn(&["--port", "0", "--graph", "http://127.0.0.1:9"]);
    let mut seen = Vec::new();
    let url = loop {
        let line = app.next_line("webhook:", &mut seen);
        if let Some(url) = line.strip_prefix("webhook: ") {
            break url.to_string();
        }
    };
    assert!(seen.iter().any(|l| l == "app id: 4321"), "{seen:?}");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/webhook"));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // APP-5 with the verify token from the environment.
    let ok = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=ch"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "ch");
    let wrong = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=ch"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    // APP-2 with the secret from the environment.
    let body = r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
        {"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m","text":"hi"}}]}]}"#;
    let forged = http
        .post(&url)
        .header(
            "x-hub-signature-256",
            signature_header("guess", body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let signed = http
        .post(&url)
        .header(
            "x-hub-signature-256",
            signature_header(SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    // It tries to answer on a Graph API nobody serves, and says so.
    loop {
        let line = app.next_line("call", &mut seen);
        if line.contains("/me/") {
            assert!(line.contains("cannot connect"), "{line}");
            break;
        }
    }
    let pid = app.child.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let status = app.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    while let Ok(line) = app.lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(line);
    }
    assert!(seen.iter().any(|l| l == "shutting down"), "{seen:?}");
    for l in &seen {
        assert!(!l.contains(TOKEN) && !l.contains(SECRET), "{l}");
    }
}

/// APP-5: `baton app` without a verify token checks the one `baton
/// certify-app` assumes, and both `--help`s print the same default.
#[tokio::test(flavor = "multi_thread")]
async fn app_and_certify_app_agree_on_the_default_verify_token() {
    let vt = baton::app::DEFAULT_VERIFY_TOKEN;
    for cmd in ["app", "certify-app"] {
        let out = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(&format!("[default: {vt}]")),
            "baton {cmd} --help does not print the default verify token:\n{help}"
        );
    }
    let app = App::spawn_with(&["--port", "0", "--graph", "http://127.0.0.1:9"], None);
    let mut seen = Vec::new();
    let url = loop {
        let line = app.next_line("webhook:", &mut seen);
        if let Some(url) = line.strip_prefix("webhook: ") {
            break url.to_string();
        }
    };
    assert!(
        seen.iter().all(|l| !l.contains(vt)),
        "the verify token was printed: {seen:?}"
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let handshake = |token: &str| {
        let req = http.get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=c7"
        ));
        async move { req.send().await.unwrap() }
    };
    let ok = handshake(vt).await;
    assert_eq!(ok.status(), 200, "the default verify token was refused");
    assert_eq!(ok.text().await.unwrap(), "c7");
    for wrong in ["vt", "wrong", ""] {
        assert_eq!(
            handshake(wrong).await.status(),
            403,
            "APP-5: verify token {wrong:?} was accepted"
        );
    }
}

#[test]
fn app_list_app_mutants_names_every_mutant_and_its_rule() {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["app", "--list-app-mutants"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), AppMutant::ALL.len());
    for m in AppMutant::ALL {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m.name()))
            .unwrap_or_else(|| panic!("{m} not listed: {text}"));
        assert!(line.contains(m.rule().id()) && line.contains(m.description()));
    }
}

#[test]
fn app_usage_errors_exit_2() {
    for args in [
        vec!["app"],
        vec!["app", "--graph", "ftp://x"],
        vec![
            "app",
            "--graph",
            "http://127.0.0.1:9",
            "--app-mutant",
            "nope",
        ],
        vec!["app", "--graph", "http://127.0.0.1:9", "--token", ""],
        vec!["app", "--graph", "http://127.0.0.1:9", "--port", "x"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(&args)
            .env_remove("BATON_APP_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// A fresh directory of this test process.
fn scratch(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "baton-app-cli-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `baton certify-app --webhook URL` with the given extra arguments: exit
/// code, stderr and how long it took.
fn certify_app(webhook: &str, extra: &[&str]) -> (Option<i32>, String, String, Duration) {
    let dir = scratch("unreachable");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["certify-app", "--webhook", webhook, "--port", "0"])
        .args(["--cases", "3", "--quiet"])
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--snapshots")
        .arg(dir.join("snap"))
        .args(extra)
        .env("BATON_VERIFY_TOKEN", "vt-do-not-print")
        .env("BATON_APP_TOKEN", TOKEN)
        .env("BATON_APP_SECRET", SECRET)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// What every "cannot reach the bot" message must say, and what it must not.
fn assert_unreachable_message(url: &str, code: Option<i32>, stdout: &str, stderr: &str) {
    assert_eq!(code, Some(3), "{url}: {stdout}\n{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line for {url}: {stderr}"));
    assert!(error.contains(url), "names the URL: {error}");
    for check in [
        "running",
        "webhook path",
        "Graph API base URL is set to http://127.0.0.1:",
    ] {
        assert!(error.contains(check), "says to check {check:?}: {error}");
    }
    for secret in ["vt-do-not-print", TOKEN, SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
}

#[test]
fn certify_app_names_a_bot_that_is_not_running_and_exits_3() {
    // A port nobody listens on: taken, then given back.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let (code, stdout, stderr, took) = certify_app(&url, &[]);
    assert_unreachable_message(&url, code, &stdout, &stderr);
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn certify_app_names_a_host_that_does_not_resolve_and_exits_3() {
    let url = "http://no-such-bot.invalid:3000/webhook";
    let (code, stdout, stderr, took) = certify_app(url, &[]);
    assert_unreachable_message(url, code, &stdout, &stderr);
    assert!(stderr.contains("dns"), "{stderr}");
    assert!(took < Duration::from_secs(60), "{took:?}");
}

#[test]
fn certify_app_gives_up_on_a_port_that_accepts_but_never_answers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    // Accept and hold every connection, never answer.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            match conn {
                Ok(c) => held.push(c),
                Err(_) => break,
            }
        }
    });
    let (code, stdout, stderr, took) = certify_app(&url, &[]);
    assert_unreachable_message(&url, code, &stdout, &stderr);
    assert!(stderr.contains("no answer"), "{stderr}");
    // The handshake's answer limit (20 s) with a generous margin: no hang.
    assert!(took < Duration::from_secs(80), "{took:?}");
}

/// `baton replay` with the app's credentials in the environment (as
/// `App::spawn` gives them to the app).
fn replay(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("replay")
        .args(args)
        .env("BATON_APP_TOKEN", TOKEN)
        .env("BATON_APP_SECRET", SECRET)
        .env("BATON_VERIFY_TOKEN", "vt")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in [TOKEN, SECRET] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    (out.status.code(), stdout, stderr)
}

#[test]
fn an_app_counterexample_replays_against_a_running_app_and_the_reference_app() {
    let dir = scratch("replay");
    // Certify a faulty reference app; it writes a BP-4 counterexample.
    let (code, stdout, stderr, _) = {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args([
                "certify-app",
                "--app-mutant",
                "ignores-requests",
                "--port",
                "0",
            ])
            .args(["--cases", "30", "--seed", "7", "--quiet"])
            .arg("--out")
            .arg(dir.join("out"))
            .arg("--snapshots")
            .arg(dir.join("snap"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            started.elapsed(),
        )
    };
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let file = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a counterexample file");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("bp-4-"), "{name}");
    assert!(
        stdout.contains(&format!("baton replay {} [--webhook URL]", file.display())),
        "{stdout}"
    );
    let file = file.to_string_lossy().into_owned();

    // The same fault in a bot running on its own, reached by --webhook.
    let graph_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let graph = format!("http://127.0.0.1:{graph_port}");
    let mut bot = App::spawn(&[
        "--port",
        "0",
        "--graph",
        &graph,
        "--app-id",
        "1001",
        "--app-mutant",
        "ignores-requests",
    ]);
    let mut seen = Vec::new();
    let webhook = loop {
        let line = bot.next_line("webhook:", &mut seen);
        if let Some(url) = line.strip_prefix("webhook: ") {
            break url.to_string();
        }
    };
    let port = graph_port.to_string();
    let (code, stdout, stderr) = replay(&[&file, "--webhook", &webhook, "--port", &port]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("still reproduces") && stdout.contains("BP-4"),
        "{stdout}"
    );
    assert!(
        stdout.contains("request_thread_control"),
        "the stimuli: {stdout}"
    );
    let _ = bot.child.kill();
    let _ = bot.child.wait();

    // The correct reference app keeps the rule: exit 0.
    let (code, stdout, stderr) = replay(&[&file]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("no longer reproduces"), "{stdout}");
    // The faulty one, in-process: exit 1, and the report files.
    let report = dir.join("report");
    let (code, stdout, _) = replay(&[
        &file,
        "--app-mutant",
        "ignores-requests",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    let json = std::fs::read_to_string(report.join("report.json")).unwrap();
    assert!(
        json.contains("BP-4") && json.contains("\"replay\""),
        "{json}"
    );

    // The app is gone now: exit 3, naming its URL.
    let (code, stdout, stderr) = replay(&[&file, "--webhook", &webhook, "--port", &port]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&webhook) && stderr.contains("running"),
        "{stderr}"
    );

    // A platform's flags for an app counterexample, an app's for a
    // platform counterexample: usage errors that say which is which.
    let (code, _, stderr) = replay(&[&file, "--target", "http://127.0.0.1:9", "--key", "k"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("app counterexample") && stderr.contains("--webhook"),
        "{stderr}"
    );
    let mut platform: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    platform.as_object_mut().unwrap().remove("subject");
    let platform_file = dir.join("platform.json");
    std::fs::write(&platform_file, platform.to_string()).unwrap();
    let (code, _, stderr) = replay(&[platform_file.to_str().unwrap(), "--webhook", &webhook]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("platform counterexample") && stderr.contains("--target"),
        "{stderr}"
    );
}
