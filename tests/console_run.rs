//! `baton run --console`: the embedded server's console follows the run
//! and shows each counterexample's sequence diagram; with `--target` the
//! flag is a usage error.

use baton::harness::RunConfig;
use baton::server::Mutant;
use serde_json::Value;
use std::time::Duration;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in with the one-time URL; the session cookie.
async fn login(c: &reqwest::Client, url: &str) -> String {
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "the login URL logs in once");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    cookie.split(';').next().unwrap().to_string()
}

/// Reads the event stream until a snapshot with a counterexample arrives;
/// that snapshot and the stream's whole text so far.
async fn snapshot_with_counterexample(
    c: &reqwest::Client,
    base: &str,
    cookie: &str,
) -> (Value, String) {
    let mut r = c
        .get(format!("{base}/console/events"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let chunk = tokio::time::timeout_at(deadline, r.chunk())
            .await
            .expect("a snapshot with the counterexample within 20 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        for frame in text.split("\n\n") {
            let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Ok(snap) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if snap["counterexamples"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
            {
                return (snap, text.clone());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_run_shows_the_counterexample_diagram_of_a_caught_mutant() {
    let seed = 7;
    let out = std::env::temp_dir().join(format!("baton-console-run-{}", std::process::id()));
    let cfg = RunConfig {
        seed,
        cases: 300,
        jobs: 2,
        time_limit: Some(Duration::from_secs(90)),
        out_dir: out.join("counterexamples"),
        snapshot_dir: out.join("snapshots"),
        stop_on_deviation: true,
        ..RunConfig::default()
    };
    let mut printed = None;
    let (report, embedded) = baton::embedded::run_with_console(cfg, &[Mutant::SendNonOwner], |u| {
        printed = Some(u.to_string())
    })
    .await
    .unwrap_or_else(|e| panic!("seed {seed}: run failed: {e}"));
    let url = printed.expect("the login URL is handed over before the run");
    let base = embedded.url();
    assert!(
        url.starts_with(&format!("{base}/console?token=")),
        "login URL has the serve format: {url}"
    );
    let c = report
        .counterexamples
        .first()
        .unwrap_or_else(|| panic!("seed {seed}: send_non_owner not caught"));
    let rule = c.rule.id().to_string();

    let http = client();
    let cookie = login(&http, &url).await;
    let (snap, stream) = snapshot_with_counterexample(&http, &base, &cookie).await;
    assert_eq!(
        snap["counterexamples"].as_array().unwrap().len(),
        report.counterexamples.len(),
        "seed {seed}: each counterexample shown once"
    );
    let shown = &snap["counterexamples"][0];
    assert_eq!(shown["rule"], rule.as_str(), "seed {seed}: {shown}");
    assert_eq!(shown["steps"], c.case.ops.len());
    let mermaid = shown["mermaid"].as_str().unwrap();
    assert!(mermaid.starts_with("sequenceDiagram\n"), "{mermaid}");
    assert!(
        mermaid
            .lines()
            .any(|l| l.trim_start().starts_with("participant ")),
        "a participant line: {mermaid}"
    );
    let svg = shown["svg"].as_str().unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(&rule),
        "the SVG names {rule}"
    );
    assert!(
        !stream.contains(&embedded.spec.key),
        "the control key must never reach the console's stream"
    );
    // The pages the run reset are in the console too.
    assert!(snap["pages_total"].as_u64().unwrap() > 0, "{snap}");
    embedded.stop().await;
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn console_with_a_target_is_a_usage_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "run",
            "--console",
            "--target",
            "http://127.0.0.1:9",
            "--key",
            "k",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--console") && err.contains("drop --target"),
        "says why and what to do: {err}"
    );
}

/// The binary: the login line comes before the run, the "still open" line
/// after it, the console still answers then, and Ctrl-C (SIGINT) exits
/// with the run's exit code (1: CTRL-4 broken).
#[test]
fn the_binary_keeps_the_console_open_until_ctrl_c_and_exits_with_the_runs_code() {
    use std::io::BufRead;
    let seed = "7";
    let out = std::env::temp_dir().join(format!("baton-console-bin-{}", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["run", "--console", "--mutant", "send-non-owner", "--quiet"])
        .args(["--seed", seed, "--cases", "300", "--jobs", "2"])
        .arg("--out")
        .arg(out.join("out"))
        .arg("--snapshots")
        .arg(out.join("snapshots"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A failing assertion must not leave the server waiting for Ctrl-C.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let mut login_url = None;
    let open = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("seed {seed}: stdout ended early: {seen:?}"))
            .unwrap();
        if let Some(u) = line.strip_prefix("console (login link, works once): ") {
            assert!(seen.is_empty(), "the login line comes first: {seen:?}");
            login_url = Some(u.to_string());
        }
        if let Some(rest) = line.strip_prefix("console still open at ") {
            break rest.split(';').next().unwrap().to_string();
        }
        seen.push(line);
    };
    let login_url = login_url.expect("a login line before the run");
    assert!(
        seen.iter().any(|l| l.contains("CTRL-4")),
        "seed {seed}: the summary names CTRL-4: {seen:?}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = client();
        let cookie = login(&http, &login_url).await;
        let base = open.strip_suffix("/console").expect("the console's URL");
        let (snap, _) = snapshot_with_counterexample(&http, base, &cookie).await;
        assert_eq!(snap["counterexamples"][0]["rule"], "CTRL-4", "seed {seed}");
    });
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the run's exit code after Ctrl-C");
    let _ = std::fs::remove_dir_all(&out);
}
