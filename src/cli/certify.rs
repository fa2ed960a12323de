//! `baton certify-app`: argument parsing and printing only; the work is in
//! `baton::certify`.

use super::progress;
use super::{parse_duration, runtime, usage, write_report};
use baton::certify::{AppIdentity, CertifyConfig, certify};
use baton::harness::Counterexample;
use baton::report::{Baseline, Report};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  the app conforms (SHOULD deviations may be listed)
  1  a MUST rule was broken (with --strict: any rule)
  2  usage or configuration error
  3  the app cannot be reached or does not accept its first signed delivery";

// The credentials baton prints when the user gives none, so an app can be
// configured from baton's first lines: the reference app's own defaults,
// so `baton app` and `baton certify-app --webhook` work together as they are.
use baton::app::{DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN};

/// Certify an app (a bot or a live-agent tool) against the rules for apps:
/// baton plays the platform, the users, the Page Inbox and the other apps.
///
/// Start your app with its Graph API base URL pointed at baton
/// (http://127.0.0.1:PORT, e.g. messaging-api-messenger's `origin`, or
/// facebook-business's `FacebookSession.GRAPH`), then run
/// `baton certify-app --webhook http://127.0.0.1:3000/webhook`. Without
/// --webhook baton certifies its own reference app.
#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct CertifyArgs {
    /// The app's webhook URL (where deliveries are POSTed and the
    /// verification handshake is sent). Without it: baton's reference app.
    #[arg(long)]
    webhook: Option<String>,
    /// Port of the Graph API the app calls (http://127.0.0.1:PORT/<version>/me/<edge>); 0: any free port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to serve the Graph API on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The app's id on the page [default: 1001].
    #[arg(long, env = "BATON_APP_ID")]
    app_id: Option<String>,
    /// The page access token the app uses [default: reference-app-token].
    #[arg(long, env = "BATON_APP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The app secret (signatures of deliveries) [default: reference-app-secret].
    #[arg(long, env = "BATON_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The webhook verify token the app expects [default: reference-app-verify-token].
    #[arg(long, env = "BATON_VERIFY_TOKEN", hide_env_values = true)]
    verify_token: Option<String>,
    /// The app has passed review for the human agent feature (it may send
    /// with the HUMAN_AGENT tag without owning the thread).
    #[arg(long)]
    human_agent: bool,
    /// The app also handles the page's linked Instagram account (it is
    /// subscribed to "object":"instagram" webhooks): about three cases in
    /// four then put one or both users on Instagram, with IGSIDs and the
    /// Instagram Inbox (1217981644879628). Without it every user is on
    /// Messenger.
    #[arg(long)]
    instagram: bool,
    /// Number of cases.
    #[arg(long, default_value_t = 200)]
    cases: u64,
    /// Most stimuli per case.
    #[arg(long, default_value_t = 10)]
    max_stimuli: usize,
    /// Cases played side by side, each on PSIDs of its own.
    #[arg(long, default_value_t = 16)]
    jobs: usize,
    /// Seed of the generated stimuli [default: random, printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Stop starting cases after this long, e.g. 2m (the run ends within about a minute more).
    #[arg(long, value_parser = parse_duration)]
    time_limit: Option<Duration>,
    /// The app counts as quiet after this many milliseconds without a Graph call.
    #[arg(long, default_value_t = 300)]
    quiet_ms: u64,
    /// The longest wait for the app to be quiet after one stimulus.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    reaction_limit: Duration,
    /// Fail on SHOULD rules too.
    #[arg(long)]
    strict: bool,
    /// Write report.json, junit.xml, report.md and report.html to this directory.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Directory for counterexample JSON files.
    #[arg(long, default_value = "baton-out")]
    out: PathBuf,
    /// Directory for counterexample snapshots.
    #[arg(long, default_value = "snapshots")]
    snapshots: PathBuf,
    /// Known deviations (TOML: RULE-ID = "reason").
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// Switch on a deliberate fault in the reference app (without --webhook); see --list-app-mutants.
    #[arg(long = "app-mutant", value_name = "NAME", conflicts_with = "webhook")]
    app_mutants: Vec<String>,
    /// Print every app mutant with the rule it breaks, and exit.
    #[arg(long)]
    list_app_mutants: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Progress on stderr: `text` or `json` (one object per event).
    #[arg(long, value_enum, default_value = "text")]
    log_format: progress::LogFormat,
}

/// A credential given on the command line or in the environment, else
/// the printed default.
pub(super) fn credential(given: Option<String>, default: &str) -> (String, bool) {
    match given.filter(|v| !v.is_empty()) {
        Some(v) => (v, true),
        None => (default.to_string(), false),
    }
}

pub fn certify_app(a: CertifyArgs) -> ExitCode {
    if a.list_app_mutants {
        for m in baton::app::AppMutant::ALL {
            println!("{:<24} {:<6} {}", m.name(), m.rule().id(), m.description());
        }
        return ExitCode::SUCCESS;
    }
    let app_mutants = match super::app_mutants(&a.app_mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let (app_id, _) = credential(a.app_id, DEFAULT_APP_ID);
    let (token, token_given) = credential(a.token, DEFAULT_TOKEN);
    let (secret, secret_given) = credential(a.secret, DEFAULT_SECRET);
    let (verify_token, verify_given) = credential(a.verify_token, DEFAULT_VERIFY_TOKEN);
    if let Some(w) = &a.webhook
        && !(w.starts_with("http://") || w.starts_with("https://"))
    {
        return usage(format!("--webhook {w:?} must be an http:// URL"));
    }
    let identity = AppIdentity {
        app_id: app_id.clone(),
        token,
        secret,
        verify_token: Some(verify_token),
        human_agent: a.human_agent,
    };
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
    });
    let baseline = match &a.expect {
        Some(f) => match Baseline::load(f) {
            Ok(b) => b,
            Err(e) => return usage(e),
        },
        None => Baseline::default(),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let show = |given: bool, default: &str, flag: &str| {
        if given {
            format!("(yours, from {flag})")
        } else {
            default.to_string()
        }
    };
    let bind = match baton::certify::reference::fixed_port(SocketAddr::new(a.bind, a.port)) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let progress = progress::Progress::new(a.log_format, a.quiet, a.cases, a.time_limit);
    let result = rt.block_on(async {
        // Without --webhook: the reference app, on a port of its own.
        let reference = match &a.webhook {
            Some(_) => None,
            None => Some(
                baton::certify::reference::Reference::start(&identity, bind, &app_mutants)
                    .await
                    .map_err(usage)?,
            ),
        };
        let (webhook, graph_bind) = match &reference {
            Some(r) => (r.webhook.clone(), r.graph),
            None => (a.webhook.clone().expect("given"), bind),
        };
        let mut cfg = CertifyConfig::new(webhook, identity.clone());
        if reference.is_some() {
            cfg.label = "the reference app".into();
            cfg.app_mutants = app_mutants.iter().map(|m| m.name().to_string()).collect();
        }
        cfg.bind = graph_bind;
        cfg.cases = a.cases;
        cfg.max_stimuli = a.max_stimuli;
        cfg.jobs = a.jobs;
        cfg.seed = seed;
        cfg.instagram = a.instagram;
        cfg.time_limit = a.time_limit;
        cfg.quiet = Duration::from_millis(a.quiet_ms);
        cfg.reaction_limit = a.reaction_limit;
        cfg.strict = a.strict;
        cfg.out_dir = a.out.clone();
        cfg.snapshot_dir = a.snapshots.clone();
        cfg.expect = baseline.0.clone();
        cfg.observer = progress.observer();
        if !a.quiet && a.log_format == progress::LogFormat::Text {
            eprintln!(
                "baton {}: certifying {} ({} cases, {} side by side, seed {seed})",
                env!("CARGO_PKG_VERSION"),
                cfg.label,
                cfg.cases,
                cfg.jobs
            );
            eprintln!(
                "Graph API for the app: http://{graph_bind} (e.g. http://{graph_bind}/v19.0/me/messages)"
            );
            eprintln!(
                "app id {app_id}, page access token {}, app secret {}, verify token {}",
                show(token_given, DEFAULT_TOKEN, "--token"),
                show(secret_given, DEFAULT_SECRET, "--secret"),
                show(verify_given, DEFAULT_VERIFY_TOKEN, "--verify-token"),
            );
        }
        let report = certify(cfg).await;
        if let Some(r) = reference {
            r.stop().await;
        }
        Ok::<_, ExitCode>(report)
    });
    let result = match result {
        Ok(r) => r,
        Err(code) => return code,
    };
    match result {
        Ok(report) => {
            let full = Report::from_run(&report);
            progress.finish(serde_json::json!({
                "cases": report.cases,
                "steps": report.steps,
                "elapsed_ms": report.elapsed.as_millis() as u64,
                "exit_code": report.exit_code(),
                "verdict": full.verdict,
            }));
            print!("{}", report.summary());
            if let Some(dir) = &a.report
                && let Err(code) = write_report(&full, dir)
            {
                return code;
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            progress
                .finish(serde_json::json!({"error": e.to_string(), "exit_code": e.exit_code()}));
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `baton replay`'s flags for an app counterexample (one written by
/// `baton certify-app`): the app to play it against, configured as it was
/// for the certification.
#[derive(clap::Args)]
pub struct AppReplayArgs {
    /// For an app counterexample: the app's webhook URL [default: baton's
    /// reference app].
    #[arg(long, conflicts_with_all = ["target", "mutants"])]
    webhook: Option<String>,
    /// For an app counterexample: port of the Graph API the app calls
    /// [default: 8080 with --webhook, any free port for the reference app].
    #[arg(long)]
    port: Option<u16>,
    /// For an app counterexample: address to serve the Graph API on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// For an app counterexample: the app's id [default: the one in the
    /// counterexample].
    #[arg(long)]
    app_id: Option<String>,
    /// For an app counterexample: the page access token the app uses
    /// [default: reference-app-token].
    #[arg(long, env = "BATON_APP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// For an app counterexample: the app secret [default: reference-app-secret].
    #[arg(long, env = "BATON_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// For an app counterexample: the webhook verify token the app expects
    /// [default: reference-app-verify-token].
    #[arg(long, env = "BATON_VERIFY_TOKEN", hide_env_values = true)]
    verify_token: Option<String>,
    /// For an app counterexample, without --webhook: a deliberate fault in
    /// the reference app (see `baton certify-app --list-app-mutants`).
    #[arg(long = "app-mutant", value_name = "NAME", conflicts_with_all = ["webhook", "target"])]
    app_mutants: Vec<String>,
}

impl AppReplayArgs {
    /// The first flag given that only an app counterexample takes (the
    /// credentials may come from the environment, so they do not count).
    pub(super) fn platform_flag(&self) -> Option<&'static str> {
        if self.webhook.is_some() {
            Some("--webhook")
        } else if !self.app_mutants.is_empty() {
            Some("--app-mutant")
        } else if self.port.is_some() {
            Some("--port")
        } else if self.app_id.is_some() {
            Some("--app-id")
        } else {
            None
        }
    }
}

/// `baton replay` of an app counterexample: plays its stimuli again on
/// fresh PSIDs against the running app (or the reference app) and says
/// whether the app still breaks the rule.
pub(super) fn replay_app(
    c: &Counterexample,
    file: &Path,
    a: AppReplayArgs,
    report: Option<&Path>,
    baseline: &Baseline,
) -> ExitCode {
    let app_mutants = match super::app_mutants(&a.app_mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if let Some(w) = &a.webhook
        && !(w.starts_with("http://") || w.starts_with("https://"))
    {
        return usage(format!("--webhook {w:?} must be an http:// URL"));
    }
    let found = c.case.setup.setup.apps.first();
    let (app_id, _) = credential(
        a.app_id,
        found.map_or(DEFAULT_APP_ID, |f| f.app_id.as_str()),
    );
    let identity = AppIdentity {
        app_id,
        token: credential(a.token, DEFAULT_TOKEN).0,
        secret: credential(a.secret, DEFAULT_SECRET).0,
        verify_token: Some(credential(a.verify_token, DEFAULT_VERIFY_TOKEN).0),
        human_agent: found.is_some_and(|f| f.human_agent),
    };
    let port = a.port.unwrap_or(if a.webhook.is_some() { 8080 } else { 0 });
    let bind = match baton::certify::reference::fixed_port(SocketAddr::new(a.bind, port)) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let result = rt.block_on(async {
        let reference = match &a.webhook {
            Some(_) => None,
            None => Some(
                baton::certify::reference::Reference::start(&identity, bind, &app_mutants)
                    .await
                    .map_err(baton::harness::RunError::Usage)?,
            ),
        };
        let webhook = match &reference {
            Some(r) => r.webhook.clone(),
            None => a.webhook.clone().expect("given"),
        };
        let mut cfg = CertifyConfig::new(webhook, identity.clone());
        if let Some(r) = &reference {
            cfg.label = "the reference app".into();
            cfg.app_mutants = app_mutants.iter().map(|m| m.name().to_string()).collect();
            cfg.bind = r.graph;
        } else {
            cfg.bind = bind;
        }
        cfg.seed = c.seed.unwrap_or(0);
        cfg.expect = baseline.0.clone();
        println!(
            "replaying {} ({} stimuli, filed under {}) against {}; its Graph API: http://{}",
            file.display(),
            c.case.ops.len(),
            c.rule,
            cfg.label,
            cfg.bind
        );
        for (i, op) in c.case.ops.iter().enumerate() {
            println!("  {i}. {op}");
        }
        let d = baton::certify::replay(c, &cfg).await;
        if let Some(r) = reference {
            r.stop().await;
        }
        d.map(|d| (d, cfg))
    });
    let (divergence, cfg) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let full = Report::from_replay(
        c,
        divergence.clone(),
        &cfg.label,
        started.elapsed(),
        cfg.redacted(),
        baseline.0.clone(),
    );
    if let Some(dir) = report
        && let Err(code) = write_report(&full, dir)
    {
        return code;
    }
    match divergence {
        Some(d) => {
            println!("\nstill reproduces: {}", d.headline());
            println!(
                "--- expected\n{}\n+++ observed\n{}",
                d.expected_text(),
                d.observed_text()
            );
            if let Some(reason) = baseline.0.get(&d.rule()) {
                println!("(a known deviation, --expect: {reason})");
            }
            ExitCode::from(1)
        }
        None => {
            println!(
                "\nno longer reproduces: the app kept {} on these stimuli",
                c.rule
            );
            ExitCode::SUCCESS
        }
    }
}
