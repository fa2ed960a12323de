//! The report flags of `baton run` and `baton replay` as a user meets them:
//! `--report`, `--expect`/`--update-expect` baselines, `--log-format json`,
//! `--quiet`, and no secret in any output (the control key, the generated
//! tokens `tok-…` and app secrets `sec-…`).

mod report_kit;

use baton::server::{Mutant, Mutants, RunningServer, ServerConfig};
use report_kit::temp_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn baton(args: &[&str], dir: &Path) -> Output {
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

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn report_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn rule<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

const KEY: &str = "known-control-key-7c1e9b";

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_any_report_log_line_or_snapshot() {
    let mut config = ServerConfig::new(KEY.to_string());
    config.mutants = Mutants::new(vec![Mutant::StandbyPayloadLeak]);
    let server = RunningServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let dir = temp_dir("secrets");
    let work = dir.clone();
    let url2 = url.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let common = [
            "--target", &url2, "--key", KEY, "--seed", "1", "--cases", "40", "--jobs", "4",
        ];
        let mut outs = Vec::new();
        let mut args: Vec<&str> = vec!["run"];
        args.extend(common);
        args.extend([
            "--report",
            "rep-json",
            "--log-format",
            "json",
            "--update-expect",
            "expect.toml",
        ]);
        outs.push(baton(&args, &work));
        let mut args: Vec<&str> = vec!["run"];
        args.extend(common);
        args.extend(["--report", "rep-text", "--expect", "expect.toml"]);
        outs.push(baton(&args, &work));
        let ce = files_under(&work.join("baton-out"))
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .unwrap();
        outs.push(baton(
            &[
                "replay",
                ce.to_str().unwrap(),
                "--target",
                &url2,
                "--key",
                KEY,
                "--report",
                "rep-replay",
            ],
            &work,
        ));
        outs
    })
    .await
    .unwrap();
    assert_eq!(outputs[0].status.code(), Some(1), "{}", text(&outputs[0]));
    assert_eq!(outputs[1].status.code(), Some(0), "{}", text(&outputs[1]));
    assert_eq!(outputs[2].status.code(), Some(1), "{}", text(&outputs[2]));

    // Everything printed and everything written.
    let mut haystack: Vec<(String, String)> = outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (format!("output of command {i}"), text(o)))
        .collect();
    let files = files_under(&dir);
    for ext in ["json", "xml", "md", "html", "snap", "toml"] {
        assert!(
            files
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == ext)),
            "no .{ext} file written: {files:?}"
        );
    }
    for f in &files {
        haystack.push((
            f.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned(),
        ));
    }
    for (name, body) in &haystack {
        for secret in [KEY, "tok-", "sec-"] {
            assert!(!body.contains(secret), "{secret:?} appears in {name}");
        }
    }
    // The configuration says a key was given, without it.
    let json = report_json(&dir.join("rep-text"));
    assert_eq!(json["configuration"]["key"], "[redacted]");
    assert_eq!(json["target"], url.as_str());
    // The replay's report: one case, the counterexample's rule fails again.
    let replay = report_json(&dir.join("rep-replay"));
    assert_eq!(replay["kind"], "replay");
    assert_eq!(replay["cases"], 1);
    assert_eq!(rule(&replay, "HOOK-2")["verdict"], "fail");
    assert_eq!(rule(&replay, "RACE-1")["verdict"], "not-reached");
    drop(server);
}

#[test]
fn baselines_turn_known_deviations_into_expected_ones() {
    let dir = temp_dir("expect");
    // Two bugs at once; without a baseline the first failure ends the run.
    let both = [
        "run",
        "--mutant",
        "send-non-owner",
        "--mutant",
        "pass-without-webhook",
        "--seed",
        "1",
        "--cases",
        "40",
        "--jobs",
        "4",
        "--quiet",
    ];

    // --update-expect looks for every deviating rule and writes them all.
    let mut args = both.to_vec();
    args.extend(["--update-expect", "known.toml"]);
    let o = baton(&args, &dir);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let known = std::fs::read_to_string(dir.join("known.toml")).unwrap();
    assert!(
        known.contains("CTRL-4 = ") && known.contains("PASS-1 = "),
        "{known}"
    );
    assert!(text(&o).contains("written to known.toml"));
    // --quiet: no progress on stderr.
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("testing"),
        "{}",
        text(&o)
    );

    // With the baseline: exit 0, both reported as expected, in every format.
    std::fs::write(
        dir.join("known.toml"),
        "# reasons from the vendor\nCTRL-4 = \"sends by non-owners go through (ticket 12)\"\nPASS-1 = \"no pass webhook yet\"\n",
    )
    .unwrap();
    let mut args = both.to_vec();
    args.extend(["--expect", "known.toml", "--report", "rep"]);
    let o = baton(&args, &dir);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("expected deviation (--expect): sends by non-owners go through (ticket 12)"),
        "{t}"
    );
    assert!(
        t.contains("verdict: CONFORMS, with 2 expected deviation(s)"),
        "{t}"
    );
    let json = report_json(&dir.join("rep"));
    for (id, reason) in [
        ("CTRL-4", "sends by non-owners go through (ticket 12)"),
        ("PASS-1", "no pass webhook yet"),
    ] {
        let r = rule(&json, id);
        assert_eq!(r["verdict"], "fail", "{r}");
        assert_eq!(r["expected"], reason);
        assert_eq!(r["fails"], false);
        assert_eq!(r["counterexamples"][0]["expected"], true);
    }
    assert_eq!(json["exit_code"], 0);
    assert!(json["totals"]["expected"].as_u64().unwrap() >= 2);
    // Rules named only by expected counterexamples are expected too.
    for r in json["rules"].as_array().unwrap() {
        if r["verdict"] == "fail" {
            assert_eq!(r["fails"], false, "{r}");
            assert!(r["expected"].is_string(), "{r}");
        }
    }
    let junit = std::fs::read_to_string(dir.join("rep/junit.xml")).unwrap();
    assert!(junit.contains("<skipped message=\"expected deviation: no pass webhook yet\"/>"));
    assert!(!junit.contains("<failure"));
    let md = std::fs::read_to_string(dir.join("rep/report.md")).unwrap();
    assert!(md.contains("| CTRL-4 | MUST |") && md.contains("fail (expected)"));
    assert!(md.contains("Expected (`--expect`): no pass webhook yet"));
    let html = std::fs::read_to_string(dir.join("rep/report.html")).unwrap();
    assert!(html.contains("expected deviation") && html.contains("no pass webhook yet"));

    // A baseline listing only one: the other is new and fails the run,
    // while the expected one is still reported as such.
    std::fs::write(dir.join("one.toml"), "CTRL-4 = \"known\"\n").unwrap();
    let mut args = both.to_vec();
    args.extend(["--expect", "one.toml", "--report", "rep-one"]);
    let o = baton(&args, &dir);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILS: PASS-1 broken"), "{t}");
    let json = report_json(&dir.join("rep-one"));
    assert_eq!(rule(&json, "PASS-1")["fails"], true);

    // A bad baseline is a usage error.
    std::fs::write(dir.join("bad.toml"), "NOPE-1 = \"x\"\n").unwrap();
    let o = baton(&["run", "--expect", "bad.toml", "--cases", "1"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown rule ID"), "{}", text(&o));
}

#[test]
fn json_log_has_one_object_per_event() {
    let dir = temp_dir("jsonlog");
    let o = baton(
        &[
            "run",
            "--mutant",
            "pass-without-webhook",
            "--seed",
            "1",
            "--cases",
            "100",
            "--jobs",
            "2",
            "--log-format",
            "json",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"finished"));
    for k in [
        "case_started",
        "divergence",
        "shrink_step",
        "counterexample",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let fin = events.last().unwrap();
    assert_eq!(fin["exit_code"], 1);
    assert!(
        fin["counterexamples"][0]
            .as_str()
            .unwrap()
            .starts_with("pass-1-")
    );
    // The summary still goes to stdout.
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict: FAILS: PASS-1 broken"));
}

#[test]
fn plain_progress_when_not_a_terminal_and_coverage_lists_unreached_rules() {
    let dir = temp_dir("plain");
    let o = baton(
        &["run", "--cases", "5", "--max-steps", "3", "--seed", "2"],
        &dir,
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // Not a terminal: no bar, no escape codes.
    assert!(!t.contains('\u{1b}'), "{t}");
    // Few steps cannot reach everything: the rules not reached are named.
    let line = t
        .lines()
        .find(|l| l.starts_with("rules exercised: "))
        .unwrap();
    assert!(
        line.contains("; not reached: ") && line.contains("RACE-1"),
        "{line}"
    );
}
