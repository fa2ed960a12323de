//! `baton run` and `baton replay` as a new user meets them: verdicts, exit
//! codes, and messages that say what to check.

use std::path::PathBuf;
use std::process::{Command, Output};

fn baton(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(dir)
        .env_remove("BATON_KEY")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("baton-run-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_reference_server_conforms_with_a_clear_verdict() {
    let dir = workdir("ok");
    let o = baton(&["run", "--cases", "40", "--seed", "3"], &dir);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("verdict: CONFORMS"), "{t}");
    assert!(t.contains("40 cases"), "{t}");
    assert!(
        t.contains("not reached: RACE-1") || t.contains("rules exercised"),
        "{t}"
    );
    assert!(
        !dir.join("baton-out").exists(),
        "nothing is written when nothing fails"
    );
}

#[test]
fn a_dead_port_exits_3_and_says_what_to_check() {
    let dir = workdir("dead");
    // Bind then drop a listener: the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = baton(&["run", "--target", &url, "--key", "k"], &dir);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("cannot reach") && t.contains("is the target running"),
        "{t}"
    );
}

#[test]
fn a_server_without_the_control_api_exits_3() {
    let dir = workdir("nocontrol");
    // A plain HTTP server that answers 404 to everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found");
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let o = baton(&["run", "--target", &url, "--key", "k"], &dir);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("does not seem to implement the control API") && t.contains("--control"),
        "{t}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = workdir("usage");
    let o = baton(&["run", "--target", "http://127.0.0.1:9"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--key"), "{}", text(&o));
    let o = baton(&["run", "--only", "NOPE"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown rule family"));
    let o = baton(&["run", "--mutant", "nope"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("known mutants"));
    let o = baton(&["run", "--weight", "send"], &dir);
    assert_eq!(o.status.code(), Some(2));
    let o = baton(&["replay", "no-such-file.json"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot read"));
    let o = baton(&["run", "--help"], &dir);
    assert!(text(&o).contains("Exit codes:"));
}

#[test]
fn a_mutant_fails_the_run_and_its_counterexample_replays() {
    let dir = workdir("mutant");
    let o = baton(
        &["run", "--mutant", "pass-without-webhook", "--seed", "1"],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("verdict: FAILS: PASS-1 broken"), "{t}");
    let files: Vec<PathBuf> = std::fs::read_dir(dir.join("baton-out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("pass-1-") && name.ends_with(".json"),
        "{name}"
    );
    let snap = dir.join("snapshots").join(name.replace(".json", ".snap"));
    let snap_text = std::fs::read_to_string(&snap).unwrap();
    assert!(
        snap_text.starts_with("---\n") && snap_text.contains("rule: PASS-1"),
        "{snap_text}"
    );
    // No secret of the run is in what it wrote.
    let json = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!json.contains("tok-") && !json.contains("sec-"), "{json}");

    let file = files[0].to_str().unwrap();
    let o = baton(&["replay", file], &dir);
    assert_eq!(o.status.code(), Some(0), "fixed server: {}", text(&o));
    assert!(text(&o).contains("no longer reproduces"));
    let o = baton(&["replay", file, "--mutant", "pass-without-webhook"], &dir);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("still reproduces"));
}

#[test]
fn only_restricts_the_families_and_lists_what_was_not_reached() {
    let dir = workdir("only");
    let o = baton(
        &["run", "--only", "TAKE", "--cases", "30", "--seed", "2"],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("rules exercised"))
        .unwrap();
    for not_reached in ["PASS-1", "INBOX-1", "MENU-1", "CTM-1"] {
        assert!(line.contains(not_reached), "{line}");
    }
    assert!(!line.contains("TAKE-1"), "{line}");
}

/// A `baton serve` whose `info` leaves out `instagram`, killed when dropped.
struct HiddenInstagram(std::process::Child, String);

impl HiddenInstagram {
    fn spawn(key: &str) -> HiddenInstagram {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["serve", "--port", "0", "--key", key])
            .args(["--hide-feature", "instagram"])
            .env_remove("BATON_KEY")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
            .expect("a `listening on` line");
        HiddenInstagram(child, url)
    }
}

impl Drop for HiddenInstagram {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ig_verdicts(dir: &std::path::Path) -> Vec<(String, String)> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["family"] == "IG")
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_ig_not_applicable(dir: &std::path::Path) {
    let ig = ig_verdicts(dir);
    assert_eq!(ig.len(), 6, "{ig:?}");
    assert!(ig.iter().all(|(_, v)| v == "not-applicable"), "{ig:?}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("not applicable: the run generated no Instagram threads"),
        "{junit}"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("Instagram skipped"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("Instagram skipped"),
        "the note is in the page"
    );
}

#[test]
fn a_target_without_instagram_is_certified_on_messenger_alone() {
    let dir = workdir("no-ig");
    let server = HiddenInstagram::spawn("K-no-ig");
    let o = baton(
        &[
            "run", "--target", &server.1, "--key", "K-no-ig", "--cases", "40", "--seed", "5",
            "--report", "rep",
        ],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("verdict: CONFORMS"), "{t}");
    assert_eq!(
        t.matches("Instagram skipped: the target's info.features does not list instagram; IG rules are not-applicable")
            .count(),
        1,
        "one clear line: {t}"
    );
    let line = t
        .lines()
        .find(|l| l.starts_with("rules exercised"))
        .unwrap();
    assert!(
        !line.contains("IG-"),
        "IG rules are not counted as not reached: {line}"
    );
    assert_ig_not_applicable(&dir.join("rep"));
}

#[test]
fn skip_ig_generates_messenger_only_and_only_ig_instagram_heavy() {
    let dir = workdir("skip-ig");
    let o = baton(
        &[
            "run", "--skip", "IG", "--cases", "30", "--seed", "4", "--report", "rep",
        ],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("Instagram skipped"), "{t}");
    assert_ig_not_applicable(&dir.join("rep"));

    let o = baton(
        &[
            "run", "--only", "IG", "--cases", "30", "--seed", "4", "--report", "rep2",
        ],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(!t.contains("Instagram skipped"), "{t}");
    let ig = ig_verdicts(&dir.join("rep2"));
    assert!(
        ig.iter().any(|(id, v)| id == "IG-1" && v == "pass"),
        "every case has Instagram threads: {ig:?}"
    );
}
