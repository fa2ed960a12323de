//! `baton bench` (every figure in one run), with short durations so that it
//! keeps working. Nothing here looks at how fast anything was (the figures
//! live in the README, measured with the release build); it checks that
//! every figure is there, consistent with its parts, and sane.

use baton::bench::{AllConfig, AllFigures, all, markdown, table};
use baton::server::Mutant;
use std::process::Command;
use std::time::Duration;

fn check(f: &AllFigures, mutants: &[Mutant], seeds: u64) {
    // 1-2: the server bench's five configurations, all answered as scripted.
    assert_eq!(f.server.runs.len(), 5);
    assert!(f.server.runs.iter().all(|r| r.unexpected == 0));
    let echo32 = f.echo_per_sec(32).expect("echo with 32 connections");
    assert!(f.echo_per_sec(1).is_some_and(|r| r > 0.0) && echo32 > 0.0);
    assert_eq!(f.server.ratios.len(), 3);

    // 3: --jobs 1 and the default, each with cases, steps, the harness's
    // requests and the server's webhook POSTs.
    assert_eq!(f.harness.len(), 2);
    assert_eq!(f.harness[0].jobs, 1);
    assert_eq!(f.harness[1].jobs, AllConfig::default().default_jobs);
    for h in &f.harness {
        assert!(h.cases > 0 && h.steps >= h.cases, "{h:?}");
        // At least a reset, the operation and a flush per step.
        assert!(h.harness_requests >= h.cases + 2 * h.steps, "{h:?}");
        // User messages are delivered to every app: there are webhooks.
        assert!(h.webhook_posts > 0, "{h:?}");
        assert_eq!(h.requests, h.harness_requests + h.webhook_posts);
        let secs = h.seconds;
        assert!(secs > 0.0);
        assert!((h.cases_per_sec - h.cases as f64 / secs).abs() < 1e-6);
        assert!((h.steps_per_sec - h.steps as f64 / secs).abs() < 1e-6);
        assert!((h.requests_per_sec - h.requests as f64 / secs).abs() < 1e-6);
        let echo = f.echo_interleaved.per_sec;
        assert!((h.ratio_to_echo - h.requests_per_sec / echo).abs() < 1e-9);
    }
    assert_eq!(f.harness_efficiency, f.harness[1].ratio_to_echo);
    assert!(f.harness_efficiency.is_finite() && f.harness_efficiency > 0.0);
    // CPU time per request, for the load-independent comparison.
    for h in &f.harness {
        assert!(h.cpu_s > 0.0, "{h:?}");
        assert!((h.cpu_us_per_request - h.cpu_s * 1e6 / h.requests as f64).abs() < 1e-6);
    }
    let e = &f.echo_interleaved;
    assert_eq!(e.clients, 32);
    assert!(e.requests > 0 && e.per_sec > 0.0, "{e:?}");
    assert!((e.per_sec - e.requests as f64 / e.seconds).abs() < 1e-6);
    assert!(e.cpu_s > 0.0 && e.cpu_us_per_request > 0.0, "{e:?}");
    let h = &f.harness[1];
    assert!((f.cpu_efficiency - e.cpu_us_per_request / h.cpu_us_per_request).abs() < 1e-9);

    // 4: the model.
    assert!(f.model.ops_per_sec > 0.0 && f.model.ratio_to_baseline > 0.0);

    // 5: every mutant caught on every seed, with a detection and a
    // shrinking time (the kill matrix checks the rules they name).
    assert_eq!(f.mutants.len(), mutants.len());
    for (m, t) in mutants.iter().zip(&f.mutants) {
        assert_eq!(t.mutant, m.name());
        assert_eq!(t.breaks, m.rule().id());
        assert_eq!(t.seeds, seeds);
        assert_eq!(t.detected, seeds, "{t:?}");
        assert!(t.named <= t.detected, "{t:?}");
        assert_eq!(t.detect_ms.len() as u64, seeds);
        assert!(t.detect_ms.iter().all(Option::is_some), "{t:?}");
        assert!(t.detect_ms_median.is_some() && t.shrink_ms_median.is_some());
        assert!(t.steps_median.is_some_and(|s| s >= 1.0));
    }

    assert!(f.machine.cores >= 1);
    if cfg!(target_os = "linux") {
        assert!(f.machine.load_before.is_some() && f.machine.load_after.is_some());
    }
    assert!(f.total_s > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_is_measured_in_one_run() {
    let mutants = vec![Mutant::ExtendNoop, Mutant::WrongSecret];
    let cfg = AllConfig {
        duration: Duration::from_millis(600),
        seeds: 2,
        mutants: mutants.clone(),
        ..AllConfig::default()
    };
    let f = all(&cfg, &|_| {}).await.expect("the bench runs");
    check(&f, &mutants, 2);

    // The JSON round-trips, and the table and the Markdown show every part.
    let json = serde_json::to_string(&f).expect("JSON");
    let back: AllFigures = serde_json::from_str(&json).expect("parses back");
    // (serde_json parses floats to within an ulp, not always exactly.)
    assert!((back.harness_efficiency - f.harness_efficiency).abs() < 1e-9);
    let text = table(&f);
    for needle in [
        "1. echo (limit), 32 connections",
        "2. server Graph calls, 32 clients",
        "3. baton run --jobs 1: HTTP requests",
        "4. model operations",
        "harness efficiency",
        "extend-noop",
        "wrong-secret",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    let md = markdown(&f);
    assert!(md.contains("**Harness efficiency: "), "{md}");
    assert!(md.contains("| extend-noop | EXP-2 | 2/2 | "), "{md}");
    assert!(md.contains("cores"), "{md}");
}

fn baton(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .expect("run baton")
}

#[test]
fn cli_measures_renders_and_rerenders() {
    let out = baton(&["bench", "--duration", "300ms", "--seeds", "0", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: AllFigures = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(f.harness.len(), 2);
    assert!(f.mutants.is_empty(), "--seeds 0 skips the mutants");
    assert!((f.duration_s - 0.3).abs() < 1e-9);

    // --from renders a saved run without measuring again.
    let dir = std::env::temp_dir().join(format!("baton-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.json");
    std::fs::write(&path, &out.stdout).expect("write");
    let path = path.to_str().expect("UTF-8 path");
    let md = baton(&["bench", "--from", path, "--markdown"]);
    assert!(md.status.success());
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| 1 | axum JSON echo (the limit), 32 connections |"),
        "{md}"
    );
    assert!(md.contains("**Harness efficiency: "), "{md}");
    let text = baton(&["bench", "--from", path]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("harness efficiency"));
    let _ = std::fs::remove_dir_all(&dir);

    // Usage errors.
    for bad in [
        &["bench", "--duration", "0s"][..],
        &["bench", "--duration", "soon"],
        &["bench", "--json", "--markdown"],
        &["bench", "--from", "/nonexistent/bench.json"],
    ] {
        assert_eq!(baton(bad).status.code(), Some(2), "{bad:?}");
    }
    // The subcommands still work beside the flags.
    let out = baton(&["bench", "model", "--seconds", "0.2", "--json"]);
    assert!(out.status.success());
}
