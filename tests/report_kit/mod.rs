//! Shared by the tests/report_*.rs files: a run written as a report, the
//! JUnit validator, headless Chromium.

#![allow(dead_code)]

use baton::embedded;
use baton::harness::{RunConfig, RunReport};
use baton::report::Report;
use baton::server::Mutant;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("baton-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run and the four files its report wrote.
pub struct Written {
    pub dir: PathBuf,
    pub report: RunReport,
    pub json: serde_json::Value,
    pub junit: String,
    pub md: String,
    pub html: String,
}

/// Runs `cases` cases of the embedded server (with `mutants`) and writes
/// the report to a fresh directory.
pub async fn run_and_write(name: &str, mutants: &[Mutant], seed: u64, cases: u64) -> Written {
    let dir = temp_dir(name);
    let cfg = RunConfig {
        seed,
        cases,
        jobs: 4,
        time_limit: Some(Duration::from_secs(60)),
        out_dir: dir.join("out"),
        snapshot_dir: dir.join("snapshots"),
        ..RunConfig::default()
    };
    let report = embedded::run(cfg, mutants).await.unwrap();
    let files = Report::from_run(&report)
        .write_all(&dir.join("report"))
        .unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["report.json", "junit.xml", "report.md", "report.html"]
    );
    let read = |f: &str| std::fs::read_to_string(dir.join("report").join(f)).unwrap();
    Written {
        json: serde_json::from_str(&read("report.json")).unwrap(),
        junit: read("junit.xml"),
        md: read("report.md"),
        html: read("report.html"),
        dir: dir.join("report"),
        report,
    }
}

fn junit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit")
}

static VENV: Mutex<()> = Mutex::new(());

/// `tests/junit/.venv`'s python, installing the pinned validators when
/// missing (.ci/run installs them first).
fn python() -> PathBuf {
    let _one_at_a_time = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = junit_dir();
    let python = dir.join(".venv/bin/python");
    let requirements = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    let marker = dir.join(".venv/installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&marker).ok() == Some(requirements.clone()) {
        return python;
    }
    let hint = "needs python3 with venv; .ci/run runs `python3 -m venv tests/junit/.venv && tests/junit/.venv/bin/pip install -r tests/junit/requirements.txt`";
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv", ".venv"])
            .current_dir(&dir)
            .status()
            .expect(hint);
        assert!(ok.success(), "{hint}");
    }
    let ok = Command::new(dir.join(".venv/bin/pip"))
        .args([
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            "requirements.txt",
        ])
        .current_dir(&dir)
        .status()
        .expect(hint);
    assert!(ok.success(), "{hint}");
    std::fs::write(&marker, requirements).unwrap();
    python
}

/// Validates a junit.xml against the schema and reads it with junitparser;
/// the outcome per rule as check.py prints it.
pub fn junit_check(path: &Path) -> serde_json::Value {
    let out = Command::new(python())
        .arg(junit_dir().join("check.py"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Debian's chromium (.ci/run installs it when missing).
pub fn chromium() -> PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "headless Chromium is needed: `apt-get update && apt-get install -y chromium` (.ci/run does this)"
    );
}

/// Headless Chromium on a local file, fetching nothing else: `extra` is
/// `--screenshot=…` or `--dump-dom`. Returns stdout.
pub fn chromium_run(page: &Path, profile: &Path, extra: &[String]) -> Vec<u8> {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1366,900",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    let out = cmd.output().expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
