//! `baton bench` (every figure in one run), with short durations so that it
//! keeps working. Nothing here looks at how fast anything was (the figures
//! live in the README, measured with the release build); it checks that
//! every figure is there, consistent with its parts, and sane.

use baton::bench::{AllConfig, AllFigures, HarnessRun, all, markdown, table};
use baton::server::Mutant;
use std::process::Command;
use std::time::Duration;

/// A rate or ratio that can be a measurement: finite and positive.
fn plausible(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// The counts of one `baton run` configuration, checked against what the
/// other side counted: the reference server's own count of the requests
/// it answered and of the resets it accepted, and the harness's sinks'
/// count of the webhook POSTs they received.
fn check_counts(h: &HarnessRun) {
    assert!(h.runs >= 1, "{h:?}");
    assert!(h.cases > 0 && h.steps >= h.cases, "{h:?}");
    // At least a reset, the operation and a flush per step.
    assert!(h.harness_requests >= h.cases + 2 * h.steps, "{h:?}");
    // The server answered every request the harness counted, and one
    // `info` per run that opens it (no case counts that one).
    assert_eq!(h.server_requests, h.harness_requests + h.runs, "{h:?}");
    // Each case resets its page once, and nothing else resets a page.
    assert_eq!(h.server_resets, h.cases, "{h:?}");
    // User messages are delivered to every app: there are webhooks, and
    // each one the server posted was taken from a sink by the harness.
    assert!(h.webhook_posts > 0, "{h:?}");
    assert_eq!(h.sink_deliveries, h.webhook_posts, "{h:?}");
    assert_eq!(h.requests, h.harness_requests + h.webhook_posts);
}

fn check(f: &AllFigures, mutants: &[Mutant], seeds: u64) {
    // 1-2: the server bench's five configurations, all answered as scripted.
    assert_eq!(f.server.runs.len(), 5);
    assert!(f.server.runs.iter().all(|r| r.unexpected == 0));
    assert!(
        f.server
            .runs
            .iter()
            .all(|r| r.requests > 0 && plausible(r.per_sec))
    );
    let echo32 = f.echo_per_sec(32).expect("echo with 32 connections");
    assert!(f.echo_per_sec(1).is_some_and(plausible) && plausible(echo32));
    assert_eq!(f.server.ratios.len(), 3);
    assert!(
        f.server
            .ratios
            .iter()
            .all(|r| r.ratio > 0.0 && r.ratio < 3.0)
    );

    // 3: --jobs 1 and the default, each with cases, steps, the harness's
    // requests and the server's webhook POSTs.
    assert_eq!(f.harness.len(), 2);
    assert_eq!(f.harness[0].jobs, 1);
    assert_eq!(f.harness[1].jobs, AllConfig::default().default_jobs);
    let cores = f.machine.cores as f64;
    for h in &f.harness {
        check_counts(h);
        // Each run goes on until its time limit (its share of --duration)
        // and then only finishes the cases under way.
        assert!(h.seconds >= f.duration_s * 0.999, "{h:?}");
        assert!(h.seconds < f.duration_s + 5.0 * h.runs as f64, "{h:?}");
        for rate in [h.cases_per_sec, h.steps_per_sec, h.requests_per_sec] {
            assert!(plausible(rate), "{h:?}");
        }
        assert!(h.steps_per_sec >= h.cases_per_sec, "{h:?}");
        assert!(h.requests_per_sec > h.steps_per_sec, "{h:?}");
        // Nothing outruns the loopback echo by a factor of 3.
        assert!(h.ratio_to_echo > 0.0 && h.ratio_to_echo < 3.0, "{h:?}");
        // The process cannot have used more CPU than its cores had (with
        // room for the clock ticks and the set-up around each run).
        assert!(h.cpu_s > 0.0, "{h:?}");
        assert!(
            h.cpu_s <= cores * (h.seconds * 1.25 + 0.25 * h.runs as f64),
            "{h:?}"
        );
        assert!(plausible(h.cpu_us_per_request), "{h:?}");
    }
    assert_eq!(f.harness_efficiency, f.harness[1].ratio_to_echo);
    assert!(f.harness_efficiency > 0.0 && f.harness_efficiency < 3.0);
    assert!(
        f.cpu_efficiency > 0.0 && f.cpu_efficiency < 3.0,
        "{}",
        f.cpu_efficiency
    );
    let e = &f.echo_interleaved;
    assert_eq!(e.clients, 32);
    assert!(e.requests > 0 && plausible(e.per_sec), "{e:?}");
    assert!(
        e.cpu_s > 0.0 && e.cpu_s <= cores * (e.seconds * 1.25 + 0.25),
        "{e:?}"
    );
    assert!(plausible(e.cpu_us_per_request), "{e:?}");

    // 4: the model.
    assert!(plausible(f.model.ops_per_sec) && plausible(f.model.ratio_to_baseline));

    // 5: every mutant caught on every seed, with a detection and a
    // shrinking time (the kill matrix checks the rules they name).
    assert_eq!(f.mutants.len(), mutants.len());
    let limit_ms = AllConfig::default().kill_time_limit.as_millis() as u64;
    for (m, t) in mutants.iter().zip(&f.mutants) {
        assert_eq!(t.mutant, m.name());
        assert_eq!(t.breaks, m.rule().id());
        assert_eq!(t.seeds, seeds);
        assert_eq!(t.detected, seeds, "{t:?}");
        assert!(t.named <= t.detected, "{t:?}");
        assert_eq!(t.detect_ms.len() as u64, seeds);
        assert_eq!(t.shrink_ms.len() as u64, seeds);
        // Found within the kill run's time limit.
        assert!(
            t.detect_ms.iter().all(|d| d.is_some_and(|d| d <= limit_ms)),
            "{t:?}"
        );
        assert!(t.detect_ms_median.is_some() && t.shrink_ms_median.is_some());
        assert!(t.steps_median.is_some_and(|s| s >= 1.0));
    }

    assert!(f.machine.cores >= 1);
    if cfg!(target_os = "linux") {
        assert!(f.machine.load_before.is_some() && f.machine.load_after.is_some());
    }
    // The whole bench took at least its measured figures: the server
    // bench, both run configurations and the model.
    assert!(f.total_s >= 3.0 * f.duration_s, "{}", f.total_s);
}

/// The table and the Markdown show the figures' own values, with the
/// precision the README documents.
fn check_rendered(f: &AllFigures) {
    let text = table(f);
    let md = markdown(f);
    let efficiency = format!("{:.3}", f.harness_efficiency);
    assert!(
        md.contains(&format!("**Harness efficiency: {efficiency}**")),
        "{efficiency} missing from\n{md}"
    );
    assert!(
        md.contains(&format!(
            "**harness efficiency by CPU {:.3}**",
            f.cpu_efficiency
        )),
        "{md}"
    );
    assert!(
        text.contains(&format!(
            "over the interleaved 32-connection echo): {efficiency}"
        )),
        "{efficiency} missing from\n{text}"
    );
    let last = f.harness.last().unwrap();
    assert!(
        md.contains(&format!(
            "`thread_owner` probes: {} with the default jobs) plus the webhook POSTs the server made to the harness's sinks ({})",
            last.harness_requests, last.webhook_posts
        )),
        "{md}"
    );
    for h in &f.harness {
        let row = format!(
            "| 3 | `baton run --jobs {}`: HTTP requests (harness + webhooks) | {:.0} | {:.3} |",
            h.jobs, h.requests_per_sec, h.ratio_to_echo
        );
        assert!(md.contains(&row), "{row:?} missing from\n{md}");
        let line = format!(
            "  --jobs {}: {} cases, {} steps, {} harness requests + {} webhook POSTs in {:.1} s",
            h.jobs, h.cases, h.steps, h.harness_requests, h.webhook_posts, h.seconds
        );
        assert!(text.contains(&line), "{line:?} missing from\n{text}");
    }
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
    for m in &f.mutants {
        let row = format!(
            "| {} | {} | {}/{} | {}/{} | {} | {} | {} |",
            m.mutant,
            m.breaks,
            m.detected,
            m.seeds,
            m.named,
            m.seeds,
            opt(m.detect_ms_median),
            opt(m.shrink_ms_median),
            opt(m.steps_median)
        );
        assert!(md.contains(&row), "{row:?} missing from\n{md}");
    }
    assert!(
        md.contains(&format!("on {} cores", f.machine.cores)),
        "{md}"
    );
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
    for (a, b) in f.harness.iter().zip(&back.harness) {
        let counts = |h: &HarnessRun| {
            (
                h.cases,
                h.steps,
                h.harness_requests,
                h.webhook_posts,
                h.runs,
                h.server_requests,
                h.server_resets,
                h.sink_deliveries,
            )
        };
        assert_eq!(counts(a), counts(b));
    }
    check_rendered(&f);
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
    assert!(md.contains("| extend-noop | EXP-2 | 2/2 | "), "{md}");
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
    f.harness.iter().for_each(check_counts);
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
    // The saved figures, not new ones: the efficiency of the saved run.
    let efficiency = format!("**Harness efficiency: {:.3}**", f.harness_efficiency);
    assert!(md.contains(&efficiency), "{efficiency} missing from\n{md}");
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

/// The README's figures are what `scripts/bench-readme` pastes: the saved
/// run of `benches/bench.json` rendered as Markdown (which also shows that
/// a run saved before the newer fields still reads).
#[test]
fn readme_figures_are_the_saved_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let saved = root.join("benches/bench.json");
    let out = baton(&["bench", "--from", saved.to_str().unwrap(), "--markdown"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let begin = readme.find("<!-- bench:begin").expect("bench:begin marker");
    let begin = begin + readme[begin..].find('\n').unwrap() + 1;
    let end = readme.find("<!-- bench:end").expect("bench:end marker");
    assert_eq!(
        &readme[begin..end],
        String::from_utf8_lossy(&out.stdout),
        "the README's Performance figures differ from `baton bench --from benches/bench.json --markdown`: run scripts/bench-readme"
    );
    let f: AllFigures = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert!(readme.contains(&format!(
        "**Harness efficiency: {:.3}**",
        f.harness_efficiency
    )));
}
