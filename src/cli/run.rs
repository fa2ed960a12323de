//! `baton run` and `baton replay`: argument parsing and printing only; the
//! work is in `baton::embedded`, `baton::harness` and `baton::report`.

use super::progress;
use super::{EXIT_CODES, mutants, parse_duration, runtime, usage, write_report};
use baton::generate::Weights;
use baton::harness::{Counterexample, RunConfig, Subject, TargetSpec};
use baton::model::Family;
use baton::report::{Baseline, Report};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Certify an implementation: generate cases, run them, diff with the model,
/// shrink failures to minimal counterexamples.
#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct RunArgs {
    /// Graph API origin of the implementation under test, e.g. http://127.0.0.1:8080.
    /// Without it, baton tests its embedded reference server.
    #[arg(long)]
    target: Option<String>,
    /// Control API base URL [default: <target>/conformance].
    #[arg(long, requires = "target")]
    control: Option<String>,
    /// Control API key (X-Conformance-Key) of the target.
    #[arg(long, env = "BATON_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Number of cases to run.
    #[arg(long, default_value_t = 1000)]
    cases: u64,
    /// Most operations per case (each case draws its length from 1 to this).
    #[arg(long, default_value_t = 40)]
    max_steps: usize,
    /// Seed of the generated cases [default: random, printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this long, e.g. 30s, 5m, 1h (whichever of this and --cases comes first).
    #[arg(long, value_parser = parse_duration)]
    time_limit: Option<Duration>,
    /// Parallel workers, each on its own page [default: 4 x cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Fail on SHOULD rules and refusal codes too.
    #[arg(long)]
    strict: bool,
    /// Address the target must post webhooks to, for targets on another host
    /// [default: the local sinks' loopback address].
    #[arg(long)]
    webhook_base: Option<String>,
    /// Generate only operations of these rule families (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_family)]
    only: Vec<Family>,
    /// Generate no operations of these rule families (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_family)]
    skip: Vec<Family>,
    /// Weight of one kind of operation, e.g. send=20 (repeatable); kinds:
    /// user_message, postback, menu_pick, ad_entry, send, pass, take, request,
    /// release, extend, thread_owner, secondary_receivers, page_menu,
    /// user_menu, inbox, clock, roles, invalid, malformed.
    #[arg(long = "weight", value_name = "KIND=N")]
    weights: Vec<String>,
    /// Wait this many milliseconds after each step for targets without `flush`.
    #[arg(long, default_value_t = 300)]
    quiet_ms: u64,
    /// Directory for counterexample JSON files.
    #[arg(long, default_value = "baton-out")]
    out: PathBuf,
    /// Directory for counterexample snapshots.
    #[arg(long, default_value = "snapshots")]
    snapshots: PathBuf,
    /// Switch on a deliberate bug in the embedded server (see `baton serve --list-mutants`).
    #[arg(long = "mutant", value_name = "NAME", conflicts_with = "target")]
    mutants: Vec<String>,
    /// End every case with 2-4 branches of calls issued concurrently on the
    /// same thread(s), and check the outcome is linearizable (RACE-1).
    #[arg(long)]
    concurrent: bool,
    /// Write report.json, junit.xml, report.md and report.html to this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Known deviations (TOML: RULE-ID = "reason"): they are reported as
    /// expected and neither fail nor stop the run.
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// Write this run's deviations to FILE (TOML, as --expect reads it),
    /// keeping the reasons of --expect; the run looks for every deviating
    /// rule instead of stopping at the first failure.
    #[arg(long, value_name = "FILE")]
    update_expect: Option<PathBuf>,
    /// No progress bar or progress lines on stderr (the summary still goes to stdout).
    #[arg(long, short)]
    quiet: bool,
    /// Progress on stderr: `text` (a bar on a terminal, a line a minute
    /// otherwise) or `json` (one object per event: started, case_started
    /// (every 100th), progress (at most once a second), divergence,
    /// shrink_step, counterexample, finished).
    #[arg(long, value_enum, default_value = "text")]
    log_format: progress::LogFormat,
    /// Follow the run in the embedded server's console (embedded target
    /// only): prints the console's one-time login URL before the first
    /// case, shows each counterexample's sequence diagram there as soon
    /// as it is shrunk, then keeps the server and console up until Ctrl-C and
    /// exits with the run's exit code.
    #[arg(long)]
    console: bool,
}

/// Play a counterexample again (exit 0: no longer reproduces; 1: still does):
/// a platform's (from `baton run`) against a platform, an app's (from
/// `baton certify-app`) against a running app.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes:\n  0  the counterexample no longer reproduces\n  1  it still reproduces\n  2  usage error or unreadable file\n  3  the target could not be reached or does not implement the control API; for an app counterexample: the app could not be reached"
)]
pub struct ReplayArgs {
    /// The counterexample JSON file written by `baton run` or `baton certify-app`.
    file: PathBuf,
    /// Graph API origin of the implementation [default: the embedded reference server].
    #[arg(long)]
    target: Option<String>,
    /// Control API base URL [default: <target>/conformance].
    #[arg(long, requires = "target")]
    control: Option<String>,
    /// Control API key of the target.
    #[arg(long, env = "BATON_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Switch on a deliberate bug in the embedded server.
    #[arg(long = "mutant", value_name = "NAME", conflicts_with = "target")]
    mutants: Vec<String>,
    /// Write report.json, junit.xml, report.md and report.html for this replay to DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Known deviations (TOML), to mark the replayed one as expected in the
    /// report (the exit code still says whether it reproduces).
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    #[command(flatten)]
    app: super::certify::AppReplayArgs,
}

fn parse_family(s: &str) -> Result<Family, String> {
    Family::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Family::ALL
            .iter()
            .filter(|f| !matches!(f, Family::Bp | Family::App | Family::Race))
            .map(|f| f.as_str())
            .collect();
        format!("unknown rule family {s:?}; families: {}", names.join(", "))
    })
}

fn target(
    target: Option<String>,
    control: Option<String>,
    key: Option<String>,
) -> Result<Option<TargetSpec>, String> {
    match target {
        None => Ok(None),
        Some(graph) => {
            let key = key.filter(|k| !k.is_empty()).ok_or(
                "--target needs the target's control key: pass --key KEY or set BATON_KEY"
                    .to_string(),
            )?;
            if !(graph.starts_with("http://") || graph.starts_with("https://")) {
                return Err(format!("--target {graph:?} must be an http:// URL"));
            }
            Ok(Some(TargetSpec {
                graph,
                control,
                key,
            }))
        }
    }
}

fn set_weight(w: &mut Weights, spec: &str) -> Result<(), String> {
    let (kind, n) = spec
        .split_once('=')
        .ok_or(format!("--weight {spec:?}: expected KIND=N, e.g. send=20"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("--weight {spec:?}: {n:?} is not a whole number"))?;
    let mut value = serde_json::to_value(&*w).expect("weights serialize");
    let slot = value.get_mut(kind.trim()).ok_or(format!(
        "--weight: unknown kind {kind:?}; see `baton run --help` for the kinds"
    ))?;
    *slot = n.into();
    *w = serde_json::from_value(value).expect("weights deserialize");
    Ok(())
}

pub fn run(a: RunArgs) -> ExitCode {
    if a.console && a.target.is_some() {
        return usage(
            "--console shows the embedded reference server's console, and --target names \
             a server of your own (which has no baton console): drop --target to follow \
             the run against the embedded server, or drop --console"
                .to_string(),
        );
    }
    let target = match target(a.target, a.control, a.key) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let mutants = match mutants(&a.mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let mut cfg = RunConfig::default();
    for spec in &a.weights {
        if let Err(e) = set_weight(&mut cfg.generator.weights, spec) {
            return usage(e);
        }
    }
    // IG is no kind of operation but the surface of a thread: every kind
    // is generated on Instagram threads too. `--skip IG` generates none,
    // `--only IG` nothing but (on top of any other families named).
    let (only, skip): (Vec<Family>, Vec<Family>) = (
        a.only
            .iter()
            .copied()
            .filter(|f| *f != Family::Ig)
            .collect(),
        a.skip
            .iter()
            .copied()
            .filter(|f| *f != Family::Ig)
            .collect(),
    );
    if a.skip.contains(&Family::Ig) {
        cfg.generator.instagram_percent = 0;
    } else if a.only.contains(&Family::Ig) {
        cfg.generator.instagram_percent = 100;
    }
    if !only.is_empty() || !skip.is_empty() {
        cfg.generator
            .weights
            .restrict(&|f| (only.is_empty() || only.contains(&f)) && !skip.contains(&f));
    }
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
    });
    cfg.target = target;
    cfg.cases = a.cases;
    cfg.max_steps = a.max_steps;
    cfg.seed = seed;
    cfg.time_limit = a.time_limit;
    if let Some(j) = a.jobs {
        cfg.jobs = j;
    }
    cfg.strict = a.strict;
    cfg.concurrent = a.concurrent;
    cfg.webhook_base = a.webhook_base;
    cfg.quiet = Duration::from_millis(a.quiet_ms);
    cfg.out_dir = a.out;
    cfg.snapshot_dir = a.snapshots;
    let baseline = match &a.expect {
        Some(f) => match Baseline::load(f) {
            Ok(b) => b,
            Err(e) => return usage(e),
        },
        None => Baseline::default(),
    };
    cfg.expect = baseline.0.clone();
    cfg.keep_going = a.update_expect.is_some();
    let progress = progress::Progress::new(a.log_format, a.quiet, cfg.cases, cfg.time_limit);
    cfg.observer = progress.observer();
    let what = cfg
        .target
        .as_ref()
        .map_or("the embedded reference server".to_string(), |t| {
            t.graph.clone()
        });
    if !a.quiet && a.log_format == progress::LogFormat::Text {
        eprintln!(
            "baton {}: testing {what} with {} workers, seed {seed}",
            env!("CARGO_PKG_VERSION"),
            cfg.jobs
        );
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let console = a.console;
    let outcome = rt.block_on(async {
        if console {
            baton::embedded::run_with_console(cfg, &mutants, |url| {
                println!("console (login link, works once): {url}");
            })
            .await
            .map(|(report, embedded)| (report, Some(embedded)))
        } else {
            baton::embedded::run(cfg, &mutants)
                .await
                .map(|report| (report, None))
        }
    });
    match outcome {
        Ok((report, embedded)) => {
            let code = finish_run(&a.report, &a.update_expect, &baseline, &progress, &report);
            if let Some(embedded) = embedded {
                println!(
                    "console still open at {}/console; Ctrl-C to exit",
                    embedded.url()
                );
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                    embedded.stop().await;
                });
            }
            code
        }
        Err(e) => {
            progress
                .finish(serde_json::json!({"error": e.to_string(), "exit_code": e.exit_code()}));
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// What a run prints and writes once it ended; its exit code.
fn finish_run(
    report_dir: &Option<PathBuf>,
    update_expect: &Option<PathBuf>,
    baseline: &Baseline,
    progress: &progress::Progress,
    report: &baton::harness::RunReport,
) -> ExitCode {
    let full = Report::from_run(report);
    progress.finish(serde_json::json!({
        "cases": report.cases,
        "steps": report.steps,
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "exit_code": report.exit_code(),
        "verdict": full.verdict,
        "counterexamples": full.counterexamples().iter().map(|c| &c.id).collect::<Vec<_>>(),
    }));
    print!("{}", report.summary());
    if let Some(dir) = report_dir
        && let Err(code) = write_report(&full, dir)
    {
        return code;
    }
    if let Some(f) = update_expect {
        let updated = Baseline::of_run(report, baseline);
        if let Err(e) = updated.save(f) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        println!(
            "expectations: {} deviating rule(s) written to {}",
            updated.0.len(),
            f.display()
        );
    }
    ExitCode::from(report.exit_code())
}

pub fn replay(a: ReplayArgs) -> ExitCode {
    let c = match Counterexample::load(&a.file) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let baseline = match &a.expect {
        Some(f) => match Baseline::load(f) {
            Ok(b) => b,
            Err(e) => return usage(e),
        },
        None => Baseline::default(),
    };
    // An app's counterexample is played against an app, a platform's
    // against a platform; the flags of the other kind are a usage error.
    if c.subject == Subject::App {
        if let Some(flag) = [
            (a.target.is_some(), "--target"),
            (a.control.is_some(), "--control"),
            (!a.mutants.is_empty(), "--mutant"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
        {
            return usage(format!(
                "{} is an app counterexample (from baton certify-app): {flag} names a platform; replay it against your app with --webhook URL (or against baton's reference app with no --webhook, --app-mutant NAME for a faulty one)",
                a.file.display()
            ));
        }
        return super::certify::replay_app(&c, &a.file, a.app, a.report.as_deref(), &baseline);
    }
    if let Some(flag) = a.app.platform_flag() {
        return usage(format!(
            "{} is a platform counterexample (from baton run): {flag} is for app counterexamples; replay it with --target URL --key KEY (or against the embedded reference server with no --target)",
            a.file.display()
        ));
    }
    let target = match target(a.target, a.control, a.key) {
        Ok(t) => t,
        Err(e) => return usage(e),
    };
    let mutants = match mutants(&a.mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let graph = target
        .as_ref()
        .map_or("the embedded reference server".to_string(), |t| {
            t.graph.clone()
        });
    let config = RunConfig {
        target: target.clone(),
        mutants: mutants.iter().map(|m| m.name().to_string()).collect(),
        cases: 1,
        seed: c.seed.unwrap_or(0),
        expect: baseline.0.clone(),
        ..RunConfig::default()
    }
    .redacted();
    let started = std::time::Instant::now();
    println!(
        "replaying {} ({} steps, filed under {})",
        a.file.display(),
        c.case.ops.len(),
        c.rule
    );
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(baton::embedded::replay(&c, target.as_ref(), &mutants)) {
        Ok((divergence, trace)) => {
            for step in &trace {
                println!("{}", step.observed);
            }
            let report = Report::from_replay(
                &c,
                divergence.clone(),
                &graph,
                started.elapsed(),
                config,
                baseline.0.clone(),
            );
            if let Some(dir) = &a.report
                && let Err(code) = write_report(&report, dir)
            {
                return code;
            }
            let expected = divergence.as_ref().and_then(|d| baseline.0.get(&d.rule()));
            match divergence {
                Some(d) => {
                    println!("\nstill reproduces: {}", d.headline());
                    println!(
                        "--- expected\n{}\n+++ observed\n{}",
                        d.expected_text(),
                        d.observed_text()
                    );
                    if let Some(reason) = expected {
                        println!("(a known deviation, --expect: {reason})");
                    }
                    ExitCode::from(1)
                }
                None => {
                    println!("\nno longer reproduces: every step matched the model");
                    ExitCode::SUCCESS
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_set_by_name() {
        let mut w = Weights::default();
        set_weight(&mut w, "send=99").unwrap();
        assert_eq!(w.send, 99);
        assert!(set_weight(&mut w, "nonsense=1").is_err());
        assert!(set_weight(&mut w, "send").is_err());
    }
}
