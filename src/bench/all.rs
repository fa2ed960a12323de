//! `baton bench`: every speed figure side by side against the loopback
//! limit, measured in one process run.
//!
//! 1. The limit: a raw axum JSON echo endpoint driven by reqwest clients on
//!    loopback, 1 and 32 connections ([`super::server`]).
//! 2. The reference server's Graph calls per second with 1 and 32 clients,
//!    and their ratio to (1) (the same measurement, interleaved with it).
//! 3. `baton run` against the reference server with `--jobs 1` and the
//!    default number of jobs: cases, steps and HTTP requests per second,
//!    counting every request of the run: the harness's own (Graph, control,
//!    flush, transcript, `thread_owner` probes) and the webhook POSTs the
//!    server's delivery workers make. The default's requests per second over
//!    the 32-connection echo rate is the **harness efficiency**.
//! 4. Model operations per second on one core ([`super::model`]).
//! 5. Time to detect and to shrink each mutant, median over seeds
//!    ([`super::kill::kill`]).
//!
//! The machine baton runs on is shared, so absolute figures move from run
//! to run; the ratios, taken between figures of the same run, are what the
//! bench is for.

use super::kill::{kill, sequential_mutants};
use super::load::{EchoLoad, EchoSlice, ServerFigures, process_cpu_s, server};
use super::model::{ModelFigures, model};
use crate::harness::http::HttpTarget;
use crate::harness::target::{Answered, BoxFuture, Captured};
use crate::harness::{RunConfig, Target, TargetError, TargetSpec, run_on};
use crate::server::{Mutant, RunningServer, ServerConfig, generate_key};
use crate::wire::HttpRequest;
use crate::wire::control::ControlRequest;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What `baton bench` measures, and for how long.
#[derive(Clone, Debug)]
pub struct AllConfig {
    /// Time per measured figure: the server bench (all its configurations
    /// together), each `baton run` configuration, the model.
    pub duration: Duration,
    /// Seeds per mutant (1..=seeds); the medians are over these.
    pub seeds: u64,
    /// The mutants to time; by default every one `baton run` catches.
    pub mutants: Vec<Mutant>,
    /// How long one kill run may search before the mutant counts as missed.
    pub kill_time_limit: Duration,
    /// Jobs of the "default" `baton run` configuration.
    pub default_jobs: usize,
}

impl Default for AllConfig {
    fn default() -> AllConfig {
        AllConfig {
            duration: Duration::from_secs(5),
            seeds: 5,
            mutants: sequential_mutants().collect(),
            kill_time_limit: Duration::from_secs(30),
            default_jobs: RunConfig::default().jobs,
        }
    }
}

/// The machine the figures were measured on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    /// `model name` of /proc/cpuinfo, when there is one.
    pub cpu: Option<String>,
    /// `uname -sr`-like: the OS and kernel release, when known.
    pub os: String,
    /// 1, 5 and 15 minute load averages (/proc/loadavg) at the start and
    /// at the end of the bench.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    /// Whether baton was built with optimizations.
    pub release: bool,
}

impl Machine {
    fn now() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        });
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            os: format!("{} {release}", std::env::consts::OS)
                .trim()
                .to_string(),
            load_before: load_average(),
            load_after: None,
            release: !cfg!(debug_assertions),
        }
    }
}

/// The 1, 5 and 15 minute load averages, from /proc/loadavg.
pub fn load_average() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The 32-connection echo, measured again in slices interleaved with the
/// `baton run` configurations, so that their ratio is taken between
/// figures measured under the same load.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EchoInterleaved {
    pub clients: usize,
    pub requests: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub cpu_s: f64,
    pub cpu_us_per_request: f64,
}

/// One `baton run` configuration against the reference server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HarnessRun {
    pub jobs: usize,
    pub cases: u64,
    pub steps: u64,
    /// The harness's own requests (Graph, control, flush, transcript, probes).
    pub harness_requests: u64,
    /// Webhook POSTs the server made to the harness's sinks.
    pub webhook_posts: u64,
    /// `harness_requests + webhook_posts`.
    pub requests: u64,
    pub seconds: f64,
    pub cases_per_sec: f64,
    pub steps_per_sec: f64,
    pub requests_per_sec: f64,
    /// `requests_per_sec` over the 32-connection echo rate measured in
    /// slices interleaved with the runs ([`AllFigures::echo_interleaved`]).
    pub ratio_to_echo: f64,
    /// CPU time the process used (harness and server: both run in it), and
    /// per request.
    #[serde(default)]
    pub cpu_s: f64,
    #[serde(default)]
    pub cpu_us_per_request: f64,
    /// The counts above as the other side saw them, to check them against:
    /// the `baton run`s these figures add up (one per round), the requests
    /// the reference server answered during them (its own count: the
    /// harness's requests plus each run's opening `info`), the page resets
    /// it accepted (one per case), and the webhook POSTs the harness took
    /// from its sinks.
    #[serde(default)]
    pub runs: u64,
    #[serde(default)]
    pub server_requests: u64,
    #[serde(default)]
    pub server_resets: u64,
    #[serde(default)]
    pub sink_deliveries: u64,
}

/// One mutant's detection and shrinking times over the seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MutantTimes {
    pub mutant: String,
    /// The rule the mutant breaks.
    pub breaks: String,
    pub seeds: u64,
    /// Seeds whose run found a divergence (the reference server has none,
    /// so the mutant caused it).
    pub detected: u64,
    /// Seeds whose shrunk counterexample names the rule the mutant breaks
    /// (the first divergence a run finds may be a knock-on effect filed
    /// under another rule).
    pub named: u64,
    /// Per seed (1..=seeds): ms to the first failure, and to shrink it.
    pub detect_ms: Vec<Option<u64>>,
    pub shrink_ms: Vec<Option<u64>>,
    /// Medians over the seeds that detected the mutant.
    pub detect_ms_median: Option<f64>,
    pub shrink_ms_median: Option<f64>,
    /// Steps of the shrunk counterexample, median.
    pub steps_median: Option<f64>,
}

/// Everything `baton bench` measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AllFigures {
    pub baton_version: String,
    pub machine: Machine,
    /// `--duration`, in seconds.
    pub duration_s: f64,
    /// Sections 1 and 2.
    pub server: ServerFigures,
    /// Section 3: `--jobs 1`, then the default.
    pub harness: Vec<HarnessRun>,
    /// The 32-connection echo again, interleaved with section 3.
    #[serde(default)]
    pub echo_interleaved: EchoInterleaved,
    /// The default configuration's requests per second over the
    /// 32-connection echo rate.
    pub harness_efficiency: f64,
    /// The same comparison by CPU time, which does not depend on how much of
    /// a shared machine the run got: the 32-connection echo's CPU time per
    /// request over the default configuration's.
    #[serde(default)]
    pub cpu_efficiency: f64,
    /// Section 4.
    pub model: ModelFigures,
    /// Section 5.
    pub mutants: Vec<MutantTimes>,
    /// Wall time of the whole bench, in seconds.
    pub total_s: f64,
}

impl AllFigures {
    /// The echo rate with `clients` connections.
    pub fn echo_per_sec(&self, clients: usize) -> Option<f64> {
        self.server.run("echo", "", clients).map(|r| r.per_sec)
    }
}

/// The median of some numbers; `None` for none.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// What one or more `baton run`s against the reference server counted.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    runs: u64,
    cases: u64,
    steps: u64,
    harness_requests: u64,
    webhook_posts: u64,
    took: Duration,
    cpu_s: f64,
    server_requests: u64,
    server_resets: u64,
    sink_deliveries: u64,
}

impl std::ops::AddAssign for Measured {
    fn add_assign(&mut self, o: Measured) {
        self.runs += o.runs;
        self.cases += o.cases;
        self.steps += o.steps;
        self.harness_requests += o.harness_requests;
        self.webhook_posts += o.webhook_posts;
        self.took += o.took;
        self.cpu_s += o.cpu_s;
        self.server_requests += o.server_requests;
        self.server_resets += o.server_resets;
        self.sink_deliveries += o.sink_deliveries;
    }
}

/// An [`HttpTarget`] that counts the webhook deliveries the harness takes
/// from its sinks.
struct CountingSinks {
    inner: HttpTarget,
    taken: AtomicU64,
}

impl Target for CountingSinks {
    fn graph<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<Answered, TargetError>> {
        self.inner.graph(req)
    }

    fn control<'a>(
        &'a self,
        req: &'a ControlRequest,
    ) -> BoxFuture<'a, Result<Answered, TargetError>> {
        self.inner.control(req)
    }

    fn webhook_url(&self, page: &str, generation: u64, app: u8) -> String {
        self.inner.webhook_url(page, generation, app)
    }

    fn take_deliveries(&self, page: &str, generation: u64, app: u8) -> Vec<Captured> {
        let taken = self.inner.take_deliveries(page, generation, app);
        self.taken.fetch_add(taken.len() as u64, Ordering::Relaxed);
        taken
    }

    fn forget_page(&self, page: &str) {
        self.inner.forget_page(page)
    }

    fn label(&self) -> String {
        self.inner.label()
    }
}

/// `baton run` with `jobs` workers for about `duration` against `server`;
/// counts the server's webhook POSTs, answered requests and resets during
/// the run, and the deliveries the harness took from its sinks.
async fn harness_run(
    server: &RunningServer,
    key: &str,
    jobs: usize,
    duration: Duration,
    out: &std::path::Path,
) -> Result<Measured, String> {
    let platform = &server.platform;
    let (posts_before, requests_before, resets_before) = (
        platform.webhook_posts(),
        platform.requests_answered(),
        platform.resets(),
    );
    let cpu_before = process_cpu_s();
    let spec = TargetSpec {
        graph: server.url(),
        control: None,
        key: key.to_string(),
    };
    let target = Arc::new(CountingSinks {
        inner: HttpTarget::connect(&spec, None)
            .await
            .map_err(|e| format!("cannot start the webhook sinks: {e}"))?,
        taken: AtomicU64::new(0),
    });
    let cfg = RunConfig {
        target: Some(spec),
        cases: u64::MAX,
        seed: 1,
        time_limit: Some(duration),
        jobs,
        out_dir: out.join("counterexamples"),
        snapshot_dir: out.join("snapshots"),
        ..RunConfig::default()
    };
    let report = run_on(cfg, target.clone())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(c) = report.counterexamples.first() {
        return Err(format!(
            "the reference server diverged from the model: {}",
            c.divergence.headline()
        ));
    }
    Ok(Measured {
        runs: 1,
        cases: report.cases,
        steps: report.steps,
        harness_requests: report.requests,
        webhook_posts: platform.webhook_posts() - posts_before,
        took: report.elapsed,
        cpu_s: process_cpu_s() - cpu_before,
        server_requests: platform.requests_answered() - requests_before,
        server_resets: platform.resets() - resets_before,
        sink_deliveries: target.taken.load(Ordering::Relaxed),
    })
}

/// Runs every measurement of `baton bench`; `progress` is told what is
/// being measured next.
pub async fn all(cfg: &AllConfig, progress: &dyn Fn(&str)) -> Result<AllFigures, String> {
    let started = std::time::Instant::now();
    let mut machine = Machine::now();
    let out = std::env::temp_dir().join(format!("baton-bench-{}", generate_key()));

    progress("1-2. loopback echo and reference server Graph calls");
    let server_figures = server(cfg.duration).await;
    if let Some(r) = server_figures.runs.iter().find(|r| r.unexpected > 0) {
        return Err(format!(
            "{} x{}: unexpected answer: {}",
            r.target,
            r.clients,
            r.first_unexpected.as_deref().unwrap_or("?")
        ));
    }

    progress("3. baton run against the reference server");
    let key = generate_key();
    let server = RunningServer::start(
        ServerConfig::new(key.clone()),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .map_err(|e| format!("cannot start the reference server: {e}"))?;
    let echo = EchoLoad::start(32)
        .await
        .map_err(|e| format!("cannot start the echo endpoint: {e}"))?;
    echo.measure((cfg.duration / 10).min(Duration::from_millis(300)))
        .await;
    // Warm up: connections, allocator, caches.
    harness_run(
        &server,
        &key,
        cfg.default_jobs,
        (cfg.duration / 10).min(Duration::from_millis(300)),
        &out,
    )
    .await?;
    // Interleaved rounds, so a change in the machine's load hits both alike.
    let rounds: u32 = if cfg.duration >= Duration::from_secs(4) {
        2
    } else {
        1
    };
    let mut totals = [Measured::default(); 2];
    let job_counts = [1, cfg.default_jobs];
    let mut echo_total = EchoSlice::default();
    for _ in 0..rounds {
        let e = echo.measure(cfg.duration / rounds).await;
        if e.unexpected > 0 {
            return Err("the echo endpoint answered unexpectedly".into());
        }
        echo_total.requests += e.requests;
        echo_total.elapsed += e.elapsed;
        echo_total.cpu_s += e.cpu_s;
        for (jobs, total) in job_counts.iter().zip(totals.iter_mut()) {
            *total += harness_run(&server, &key, *jobs, cfg.duration / rounds, &out).await?;
        }
    }
    server.stop().await;
    echo.stop().await;
    let echo_secs = echo_total.elapsed.as_secs_f64().max(1e-9);
    let echo_interleaved = EchoInterleaved {
        clients: 32,
        requests: echo_total.requests,
        seconds: echo_secs,
        per_sec: echo_total.requests as f64 / echo_secs,
        cpu_s: echo_total.cpu_s,
        cpu_us_per_request: echo_total.cpu_s * 1e6 / echo_total.requests.max(1) as f64,
    };
    let echo32 = echo_interleaved.per_sec;
    let harness: Vec<HarnessRun> = job_counts
        .iter()
        .zip(totals)
        .map(|(&jobs, t)| {
            let secs = t.took.as_secs_f64().max(1e-9);
            let requests = t.harness_requests + t.webhook_posts;
            HarnessRun {
                jobs,
                cases: t.cases,
                steps: t.steps,
                harness_requests: t.harness_requests,
                webhook_posts: t.webhook_posts,
                requests,
                seconds: secs,
                cases_per_sec: t.cases as f64 / secs,
                steps_per_sec: t.steps as f64 / secs,
                requests_per_sec: requests as f64 / secs,
                ratio_to_echo: requests as f64 / secs / echo32,
                cpu_s: t.cpu_s,
                cpu_us_per_request: t.cpu_s * 1e6 / requests.max(1) as f64,
                runs: t.runs,
                server_requests: t.server_requests,
                server_resets: t.server_resets,
                sink_deliveries: t.sink_deliveries,
            }
        })
        .collect();
    let harness_efficiency = harness.last().map_or(f64::NAN, |h| h.ratio_to_echo);
    let cpu_efficiency = match harness.last() {
        Some(h) if h.cpu_us_per_request > 0.0 => {
            echo_interleaved.cpu_us_per_request / h.cpu_us_per_request
        }
        _ => f64::NAN,
    };

    progress("4. model operations per second");
    let model = tokio::task::spawn_blocking({
        let d = cfg.duration;
        move || model(1, d)
    })
    .await
    .map_err(|e| format!("the model bench panicked: {e}"))?;

    let mut mutants = Vec::new();
    for &m in cfg.mutants.iter().filter(|_| cfg.seeds > 0) {
        progress(&format!("5. mutant {} ({} seeds)", m.name(), cfg.seeds));
        let mut detect_ms = Vec::new();
        let mut shrink_ms = Vec::new();
        let mut steps = Vec::new();
        let (mut detected, mut named) = (0, 0);
        for seed in 1..=cfg.seeds {
            let k = kill(m, seed, cfg.kill_time_limit, &out).await?;
            if k.detected {
                detected += 1;
                named += u64::from(k.right_rule());
                steps.push(k.steps as f64);
            }
            detect_ms.push(k.detect_ms.filter(|_| k.detected));
            shrink_ms.push(k.shrink_ms.filter(|_| k.detected));
        }
        let med = |v: &[Option<u64>]| median(v.iter().flatten().map(|&x| x as f64).collect());
        mutants.push(MutantTimes {
            mutant: m.name().to_string(),
            breaks: m.rule().id().to_string(),
            seeds: cfg.seeds,
            detected,
            named,
            detect_ms_median: med(&detect_ms),
            shrink_ms_median: med(&shrink_ms),
            steps_median: median(steps),
            detect_ms,
            shrink_ms,
        });
    }
    let _ = std::fs::remove_dir_all(&out);
    machine.load_after = load_average();
    Ok(AllFigures {
        baton_version: env!("CARGO_PKG_VERSION").to_string(),
        machine,
        duration_s: cfg.duration.as_secs_f64(),
        server: server_figures,
        harness,
        echo_interleaved,
        harness_efficiency,
        cpu_efficiency,
        model,
        mutants,
        total_s: started.elapsed().as_secs_f64(),
    })
}

/// A warning when the machine was busier than it has cores: baton then got
/// only a share of the CPU, which bounds every rate alike.
pub fn starved_note(f: &AllFigures) -> Option<String> {
    let [l1, _, _] = f.machine.load_before?;
    if l1 < f.machine.cores as f64 {
        return None;
    }
    let scale = f.echo_per_sec(32)? / f.echo_per_sec(1)?;
    Some(format!(
        "Note: the load average ({l1:.2}) was at or above the number of cores ({}), so \
         this run got only a share of the CPU and every rate is bounded by it (32 echo \
         connections were {scale:.2} times as fast as one). The ratios then compare the \
         CPU cost per request; on a quiet machine 32 echo connections make better use of \
         both cores than the harness's dependent requests may.",
        f.machine.cores
    ))
}

fn load(l: Option<[f64; 3]>) -> String {
    l.map_or("?".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.0}"))
}

fn machine_line(f: &AllFigures) -> String {
    let m = &f.machine;
    format!(
        "{} cores{}, {}, {} build; load average {} at the start, {} at the end",
        m.cores,
        m.cpu.as_ref().map_or(String::new(), |c| format!(" ({c})")),
        m.os,
        if m.release { "release" } else { "debug" },
        load(m.load_before),
        load(m.load_after),
    )
}

/// The text `baton bench` prints.
pub fn table(f: &AllFigures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "baton {} bench: {}", f.baton_version, machine_line(f));
    let _ = writeln!(
        out,
        "{:.1} s per figure, {:.0} s in all; ratios compare figures of this run",
        f.duration_s, f.total_s
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<58} {:>12} {:>8}", "figure", "per second", "ratio");
    let row = |out: &mut String, name: &str, rate: f64, ratio: Option<f64>| {
        let _ = writeln!(
            out,
            "{name:<58} {rate:>12.0} {:>8}",
            ratio.map_or(String::new(), |r| format!("{r:.3}"))
        );
    };
    for clients in [1, 32] {
        if let Some(e) = f.server.run("echo", "", clients) {
            row(
                &mut out,
                &format!(
                    "1. echo (limit), {clients} connection{}: requests",
                    if clients == 1 { "" } else { "s" }
                ),
                e.per_sec,
                None,
            );
        }
    }
    for g in f.server.runs.iter().filter(|r| r.target == "graph") {
        let ratio = f
            .server
            .ratios
            .iter()
            .find(|r| r.clients == g.clients && r.layout == g.layout)
            .map(|r| r.ratio);
        row(
            &mut out,
            &format!(
                "2. server Graph calls, {} client{} ({})",
                g.clients,
                if g.clients == 1 { "" } else { "s" },
                g.layout
            ),
            g.per_sec,
            ratio,
        );
    }
    row(
        &mut out,
        "3. echo, 32 connections, interleaved with the runs",
        f.echo_interleaved.per_sec,
        None,
    );
    for h in &f.harness {
        let label = format!("3. baton run --jobs {}", h.jobs);
        row(&mut out, &format!("{label}: cases"), h.cases_per_sec, None);
        row(&mut out, &format!("{label}: steps"), h.steps_per_sec, None);
        row(
            &mut out,
            &format!("{label}: HTTP requests (with webhooks)"),
            h.requests_per_sec,
            Some(h.ratio_to_echo),
        );
    }
    row(
        &mut out,
        "4. model operations, one core",
        f.model.ops_per_sec,
        Some(f.model.ratio_to_baseline),
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "harness efficiency (baton run --jobs {} requests/s over the interleaved 32-connection echo): {:.3} ({})",
        f.harness.last().map_or(0, |h| h.jobs),
        f.harness_efficiency,
        if f.harness_efficiency >= 0.5 {
            "at least 0.5"
        } else {
            "BELOW 0.5"
        }
    );
    for h in &f.harness {
        let _ = writeln!(
            out,
            "  --jobs {}: {} cases, {} steps, {} harness requests + {} webhook POSTs in {:.1} s; {:.1} CPU us per request",
            h.jobs,
            h.cases,
            h.steps,
            h.harness_requests,
            h.webhook_posts,
            h.seconds,
            h.cpu_us_per_request
        );
    }
    let _ = writeln!(
        out,
        "by CPU time: echo {:.1} CPU us per request (32 connections, interleaved); harness efficiency by CPU {:.3}",
        f.echo_interleaved.cpu_us_per_request, f.cpu_efficiency
    );
    let _ = writeln!(
        out,
        "model ratio is to the clone-only baseline ({:.0} ops/s)",
        f.model.baseline_ops_per_sec
    );
    if let Some(note) = starved_note(f) {
        let _ = writeln!(out, "{note}");
    }
    if !f.mutants.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "5. {:<26} {:<9} {:>8} {:>8} {:>10} {:>10} {:>6}",
            "mutant", "breaks", "caught", "named", "detect ms", "shrink ms", "steps"
        );
        for m in &f.mutants {
            let _ = writeln!(
                out,
                "   {:<26} {:<9} {:>8} {:>8} {:>10} {:>10} {:>6}",
                m.mutant,
                m.breaks,
                format!("{}/{}", m.detected, m.seeds),
                format!("{}/{}", m.named, m.seeds),
                opt(m.detect_ms_median),
                opt(m.shrink_ms_median),
                opt(m.steps_median)
            );
        }
        let _ = writeln!(
            out,
            "   (caught: a divergence found; named: its counterexample names the rule the mutant breaks; medians over the seeds that caught it)"
        );
    }
    out
}

/// The figures as the README's Performance section shows them (Markdown).
pub fn markdown(f: &AllFigures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let r = |x: f64| format!("{:.0}", x);
    let _ = writeln!(
        out,
        "Measured with `baton bench --duration {}s --json` on {}; {} s in all.",
        f.duration_s,
        machine_line(f),
        r(f.total_s)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| # | figure | per second | ratio |");
    let _ = writeln!(out, "|---|---|---:|---:|");
    for clients in [1, 32] {
        if let Some(e) = f.server.run("echo", "", clients) {
            let _ = writeln!(
                out,
                "| 1 | axum JSON echo (the limit), {clients} connection{} | {} | 1 |",
                if clients == 1 { "" } else { "s" },
                r(e.per_sec)
            );
        }
    }
    for g in f.server.runs.iter().filter(|r| r.target == "graph") {
        let ratio = f
            .server
            .ratios
            .iter()
            .find(|x| x.clients == g.clients && x.layout == g.layout)
            .map_or(String::new(), |x| format!("{:.3}", x.ratio));
        let _ = writeln!(
            out,
            "| 2 | reference server Graph calls, {} client{}, {} | {} | {ratio} |",
            g.clients,
            if g.clients == 1 { "" } else { "s" },
            g.layout,
            r(g.per_sec)
        );
    }
    let _ = writeln!(
        out,
        "| 3 | axum JSON echo, 32 connections, interleaved with the runs below | {} | 1 |",
        r(f.echo_interleaved.per_sec)
    );
    for h in &f.harness {
        let _ = writeln!(
            out,
            "| 3 | `baton run --jobs {}`: cases / steps | {} / {} | |",
            h.jobs,
            r(h.cases_per_sec),
            r(h.steps_per_sec)
        );
        let _ = writeln!(
            out,
            "| 3 | `baton run --jobs {}`: HTTP requests (harness + webhooks) | {} | {:.3} |",
            h.jobs,
            r(h.requests_per_sec),
            h.ratio_to_echo
        );
    }
    let _ = writeln!(
        out,
        "| 4 | model operations, one core (ratio: to cloning each op) | {} | {:.3} |",
        r(f.model.ops_per_sec),
        f.model.ratio_to_baseline
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Harness efficiency: {:.3}** (`baton run` with the default {} jobs, requests per \
         second over the 32-connection echo rate measured in slices interleaved with the runs). \
         Ratios of row 2 are to the echo rate with as many connections (row 1), those of row 3 \
         to the interleaved echo; the requests of row 3 are the harness's own (Graph, control, \
         flush, transcript, `thread_owner` probes: {} with the default jobs) plus the webhook \
         POSTs the server made to the harness's sinks ({}).",
        f.harness_efficiency,
        f.harness.last().map_or(0, |h| h.jobs),
        f.harness.last().map_or(0, |h| h.harness_requests),
        f.harness.last().map_or(0, |h| h.webhook_posts),
    );
    if let Some(h) = f.harness.last() {
        let e = &f.echo_interleaved;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "By CPU time, which does not depend on how much of the machine the run got (the \
             process's user and system time; clients, servers and receivers all run in it): \
             an echo request costs {:.1} µs with 32 connections, a `baton run` request {:.1} µs \
             with {} jobs ({:.1} µs with 1): **harness efficiency by CPU {:.3}**.",
            e.cpu_us_per_request,
            h.cpu_us_per_request,
            h.jobs,
            f.harness.first().map_or(f64::NAN, |h| h.cpu_us_per_request),
            f.cpu_efficiency
        );
    }
    if let Some(note) = starved_note(f) {
        let _ = writeln!(out);
        let _ = writeln!(out, "{note}");
    }
    if !f.mutants.is_empty() {
        let _ = writeln!(out);
        let seeds = f.mutants.first().map_or(0, |m| m.seeds);
        let _ = writeln!(
            out,
            "**5. Time to detect and shrink each mutant** (`baton run --mutant NAME` with default \
             settings, seeds 1 to {seeds}; *caught*: a divergence was found, *named*: its shrunk \
             counterexample names the rule the mutant breaks (else the first divergence was a \
             knock-on effect filed under another rule); medians over the seeds that caught it):"
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| mutant | breaks | caught | named | detect ms | shrink ms | shrunk steps |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
        for m in &f.mutants {
            let _ = writeln!(
                out,
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
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn load_average_reads_proc() {
        if cfg!(target_os = "linux") {
            let l = load_average().expect("/proc/loadavg");
            assert!(l.iter().all(|x| *x >= 0.0));
        }
    }
}
