//! `baton run`: many random cases on parallel workers, each on its own page
//! of the target; the first failure stops the run once it is shrunk.

use super::counterexample::Counterexample;
use super::diff::Divergence;
use super::driver::{Case, DriverOptions, play};
use super::shrink::{self, Budget, Replayer};
use super::sink::Sink;
use super::target::{Target, TargetError};
use crate::generate::{self, Entropy, GenConfig, SplitMix64};
use crate::model::{Rule, RuleSet};
use crate::server::{Mutant, Mutants, RunningServer, ServerConfig, generate_key};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the implementation under test is.
#[derive(Clone)]
pub struct TargetSpec {
    pub graph: String,
    pub control: Option<String>,
    pub key: String,
}

impl std::fmt::Debug for TargetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetSpec")
            .field("graph", &self.graph)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

/// Everything a run is configured with.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// `None`: start the embedded reference server.
    pub target: Option<TargetSpec>,
    /// Mutants for the embedded server.
    pub mutants: Vec<Mutant>,
    pub cases: u64,
    pub max_steps: usize,
    pub seed: u64,
    pub time_limit: Option<Duration>,
    pub jobs: usize,
    pub strict: bool,
    pub webhook_base: Option<String>,
    pub generator: GenConfig,
    /// Where counterexample JSON files go.
    pub out_dir: PathBuf,
    /// Where counterexample snapshots go.
    pub snapshot_dir: PathBuf,
    /// Waiting time per step for targets without `flush`.
    pub quiet: Duration,
    pub shrink: Budget,
    /// End the run at the first divergence even when it is non-strict (the
    /// kill matrix uses this; exit codes are unaffected).
    pub stop_on_deviation: bool,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        RunConfig {
            target: None,
            mutants: Vec::new(),
            cases: 1_000,
            max_steps: 40,
            seed: 0,
            time_limit: None,
            jobs: 4 * cores,
            strict: false,
            webhook_base: None,
            generator: GenConfig::default(),
            out_dir: PathBuf::from("baton-out"),
            snapshot_dir: PathBuf::from("snapshots"),
            quiet: Duration::from_millis(300),
            shrink: Budget::default(),
            stop_on_deviation: false,
        }
    }
}

/// Why a run could not be carried out at all.
#[derive(Debug)]
pub enum RunError {
    /// Exit code 2.
    Usage(String),
    /// Exit code 3.
    Target(TargetError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Usage(s) => f.write_str(s),
            RunError::Target(e) => e.fmt(f),
        }
    }
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Usage(_) => 2,
            RunError::Target(_) => 3,
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct RunReport {
    pub target: String,
    pub seed: u64,
    pub cases: u64,
    pub steps: u64,
    pub requests: u64,
    pub elapsed: Duration,
    pub exercised: RuleSet,
    /// Failing and non-strict counterexamples, shrunk, in the order found.
    pub counterexamples: Vec<Counterexample>,
    /// Where each counterexample was written.
    pub written: Vec<PathBuf>,
    /// Control-API features the target lacks, and what was skipped for it.
    pub notes: Vec<String>,
    pub strict: bool,
    /// How long the run took to find its first failing divergence.
    pub first_failure_after: Option<Duration>,
}

impl RunReport {
    /// 0 conforms; 1 a MUST rule broken (or, with `--strict`, any rule).
    pub fn exit_code(&self) -> u8 {
        if self
            .counterexamples
            .iter()
            .any(|c| c.divergence.fails(self.strict))
        {
            1
        } else {
            0
        }
    }

    /// Platform rules (everything but BP-*) no step exercised.
    pub fn not_reached(&self) -> Vec<Rule> {
        Rule::ALL
            .iter()
            .copied()
            .filter(|r| r.is_platform_rule() && !self.exercised.contains(*r))
            .collect()
    }
}

/// A worker's page and the pieces to play cases on it.
struct Worker {
    target: Arc<Target>,
    sink: Arc<Sink>,
    opts: Arc<DriverOptions>,
    page_id: String,
    generation: u64,
    secret_seed: String,
}

impl Worker {
    async fn play(&mut self, case: &Case) -> Result<super::driver::Played, TargetError> {
        self.generation += 1;
        let mut case = case.clone();
        case.setup.setup.page_id = self.page_id.clone();
        play(
            &self.target,
            &self.sink,
            &self.opts,
            &case,
            self.generation,
            &self.secret_seed,
        )
        .await
    }
}

impl Replayer for Worker {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        Ok(self.play(case).await?.divergence)
    }
}

/// The page id every generated case is written with; workers play it on
/// their own page.
pub const CASE_PAGE_ID: &str = "100200300";

/// The case with number `index` of the run with `seed`: independent of
/// which worker plays it, so a seed names the same cases on every machine.
pub fn nth_case(seed: u64, index: u64, cfg: &GenConfig, max_steps: usize) -> Case {
    let mut rng = SplitMix64::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let steps = rng.range(1, max_steps.max(1) as u32) as usize;
    let (setup, ops) = generate::case(&mut rng, cfg, CASE_PAGE_ID, steps);
    Case { setup, ops }
}

/// Runs the configured conformance test.
pub async fn run(cfg: RunConfig) -> Result<RunReport, RunError> {
    if cfg.jobs == 0 {
        return Err(RunError::Usage("--jobs must be at least 1".into()));
    }
    if cfg.max_steps == 0 {
        return Err(RunError::Usage("--max-steps must be at least 1".into()));
    }
    if cfg.target.is_some() && !cfg.mutants.is_empty() {
        return Err(RunError::Usage(
            "--mutant applies to the embedded server only; drop --target to use it".into(),
        ));
    }
    let started = Instant::now();
    // The embedded server lives as long as the run.
    let Connected {
        target,
        server: _server,
        opts,
        notes,
    } = connect(cfg.target.as_ref(), &cfg.mutants, cfg.quiet).await?;
    let mut generator = cfg.generator.clone();
    if !opts.clock {
        generator.weights.clock = 0;
    }
    if !opts.roles {
        generator.weights.roles = 0;
    }
    let opts = Arc::new(opts.driver);
    let sink = Sink::start(
        "127.0.0.1:0".parse().expect("address"),
        cfg.webhook_base.as_deref(),
    )
    .await
    .map_err(|e| RunError::Usage(format!("cannot start the webhook sinks: {e}")))?;

    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cases: AtomicU64::new(0),
        steps: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        exercised: Mutex::new(RuleSet::EMPTY),
        found: Mutex::new(Vec::new()),
        deviated: Mutex::new(BTreeMap::new()),
        fatal: Mutex::new(None),
        first_failure: Mutex::new(None),
    });
    let target = Arc::new(target);
    let sink = Arc::new(sink);
    let run_id = generate_key();
    let page_prefix = u32::from_str_radix(&run_id[..7], 16).unwrap_or(0) % 9_000_000 + 1_000_000;
    let deadline = cfg.time_limit.map(|d| started + d);
    let cfg = Arc::new(RunConfig { generator, ..cfg });
    let mut tasks = Vec::new();
    for w in 0..cfg.jobs {
        let worker = Worker {
            target: target.clone(),
            sink: sink.clone(),
            opts: opts.clone(),
            page_id: format!("{page_prefix}{w:04}"),
            generation: 0,
            secret_seed: run_id[..16].to_string(),
        };
        tasks.push(tokio::spawn(work(
            worker,
            cfg.clone(),
            shared.clone(),
            deadline,
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
    if let Some(e) = shared.fatal.lock().expect("lock").take() {
        return Err(RunError::Target(e));
    }
    let mut counterexamples = std::mem::take(&mut *shared.found.lock().expect("lock"));
    counterexamples.sort_by_key(|c| (!c.divergence.strict, c.case_index));
    let mut written = Vec::new();
    for c in &counterexamples {
        let json = c.write_json(&cfg.out_dir).map_err(|e| {
            RunError::Usage(format!("cannot write to {}: {e}", cfg.out_dir.display()))
        })?;
        let snap = c.write_snapshot(&cfg.snapshot_dir).map_err(|e| {
            RunError::Usage(format!(
                "cannot write to {}: {e}",
                cfg.snapshot_dir.display()
            ))
        })?;
        written.push(json);
        written.push(snap);
    }
    Ok(RunReport {
        target: target.graph.clone(),
        seed: cfg.seed,
        cases: shared.cases.load(Ordering::SeqCst),
        steps: shared.steps.load(Ordering::SeqCst),
        requests: shared.requests.load(Ordering::SeqCst),
        elapsed: started.elapsed(),
        exercised: *shared.exercised.lock().expect("lock"),
        counterexamples,
        written,
        notes,
        strict: cfg.strict,
        first_failure_after: shared
            .first_failure
            .lock()
            .expect("lock")
            .map(|t| t.duration_since(started)),
    })
}

struct Shared {
    next: AtomicU64,
    stop: AtomicBool,
    cases: AtomicU64,
    steps: AtomicU64,
    requests: AtomicU64,
    exercised: Mutex<RuleSet>,
    found: Mutex<Vec<Counterexample>>,
    /// Rules with a non-strict deviation already recorded.
    deviated: Mutex<BTreeMap<Rule, ()>>,
    fatal: Mutex<Option<TargetError>>,
    first_failure: Mutex<Option<Instant>>,
}

async fn work(
    mut worker: Worker,
    cfg: Arc<RunConfig>,
    shared: Arc<Shared>,
    deadline: Option<Instant>,
) {
    loop {
        if shared.stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let index = shared.next.fetch_add(1, Ordering::SeqCst);
        if index >= cfg.cases {
            return;
        }
        let case = nth_case(cfg.seed, index, &cfg.generator, cfg.max_steps);
        let played = match worker.play(&case).await {
            Ok(p) => p,
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.fatal.lock().expect("lock").get_or_insert(e);
                return;
            }
        };
        shared.cases.fetch_add(1, Ordering::SeqCst);
        shared
            .steps
            .fetch_add(played.steps as u64, Ordering::SeqCst);
        shared.requests.fetch_add(played.requests, Ordering::SeqCst);
        {
            let mut ex = shared.exercised.lock().expect("lock");
            *ex = ex.union(played.rules);
        }
        let Some(d) = played.divergence else { continue };
        let fails = d.fails(cfg.strict) || cfg.stop_on_deviation;
        if fails {
            // The first failure ends the run; later ones are not shrunk.
            if shared.stop.swap(true, Ordering::SeqCst) {
                return;
            }
            *shared.first_failure.lock().expect("lock") = Some(Instant::now());
        } else if shared
            .deviated
            .lock()
            .expect("lock")
            .insert(d.rule(), ())
            .is_some()
        {
            continue;
        }
        let shrunk = match shrink::shrink(&mut worker, case.clone(), d.clone(), cfg.shrink).await {
            Ok(s) => s,
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.fatal.lock().expect("lock").get_or_insert(e);
                return;
            }
        };
        let mut c = Counterexample::new(shrunk.case, shrunk.divergence, &worker.target.graph);
        c.case.setup.setup.page_id = CASE_PAGE_ID.to_string();
        c.shrink = Some(shrunk.stats);
        c.seed = Some(cfg.seed);
        c.case_index = Some(index);
        shared.found.lock().expect("lock").push(c);
        if fails {
            return;
        }
    }
}

/// What the target offers, and what the run does about what it lacks.
struct Features {
    driver: DriverOptions,
    clock: bool,
    roles: bool,
}

struct Connected {
    target: Target,
    /// The embedded server, when there is no `--target`; it stops when dropped.
    server: Option<RunningServer>,
    opts: Features,
    notes: Vec<String>,
}

/// Reaches the target (starting the embedded server when there is none)
/// and reads its capabilities.
async fn connect(
    spec: Option<&TargetSpec>,
    mutants: &[Mutant],
    quiet: Duration,
) -> Result<Connected, RunError> {
    let (target, server) = match spec {
        Some(t) => (Target::new(&t.graph, t.control.as_deref(), &t.key), None),
        None => {
            let key = generate_key();
            let mut config = ServerConfig::new(key.clone());
            config.mutants = Mutants::new(mutants.to_vec());
            let server = RunningServer::start(config, "127.0.0.1:0".parse().expect("address"))
                .await
                .map_err(|e| {
                    RunError::Usage(format!("cannot start the embedded reference server: {e}"))
                })?;
            (Target::new(&server.url(), None, &key), Some(server))
        }
    };
    let info = target.info().await.map_err(RunError::Target)?;
    let has = |f: &str| info.features.iter().any(|x| x == f);
    let mut notes = Vec::new();
    if !has("clock") {
        notes.push(
            "the target lacks `clock`: no clock steps were generated (EXP-1 lapses are untested)"
                .to_string(),
        );
    }
    if !has("roles") {
        notes.push(
            "the target lacks `roles`: the primary receiver never changed during a case"
                .to_string(),
        );
    }
    if !has("flush") {
        notes.push(format!(
            "the target lacks `flush`: waited {} ms after each step instead",
            quiet.as_millis()
        ));
    }
    if !has("transcript") {
        notes.push(
            "the target lacks `transcript`: what users received was not compared".to_string(),
        );
    }
    let driver = DriverOptions {
        flush: has("flush"),
        quiet,
        transcript: has("transcript"),
        probe: true,
    };
    Ok(Connected {
        target,
        server,
        opts: Features {
            driver,
            clock: has("clock"),
            roles: has("roles"),
        },
        notes,
    })
}

/// Plays a counterexample once more against a target (the embedded server
/// when `target` is `None`); the divergence found, if any.
pub async fn replay(
    c: &Counterexample,
    target: Option<TargetSpec>,
    mutants: Vec<Mutant>,
) -> Result<(Option<Divergence>, Vec<String>), RunError> {
    let Connected {
        target,
        server: _server,
        opts,
        ..
    } = connect(target.as_ref(), &mutants, RunConfig::default().quiet).await?;
    let opts = opts.driver;
    let sink = Sink::start("127.0.0.1:0".parse().expect("address"), None)
        .await
        .map_err(|e| RunError::Usage(format!("cannot start the webhook sinks: {e}")))?;
    let run_id = generate_key();
    let mut case = c.case.clone();
    case.setup.setup.page_id = format!(
        "{}",
        9_000_000 + u32::from_str_radix(&run_id[..5], 16).unwrap_or(0) % 999_999
    );
    let played = play(&target, &sink, &opts, &case, 1, &run_id[..16])
        .await
        .map_err(RunError::Target)?;
    Ok((played.divergence, played.trace))
}

impl RunReport {
    /// The closing summary `baton run` prints.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(s, "target {} (seed {})", self.target, self.seed);
        let _ = writeln!(
            s,
            "{} cases, {} steps, {} HTTP requests in {:.1} s ({:.0} steps/s)",
            self.cases,
            self.steps,
            self.requests,
            secs,
            self.steps as f64 / secs
        );
        let platform = Rule::ALL.iter().filter(|r| r.is_platform_rule()).count();
        let not_reached = self.not_reached();
        let _ = write!(
            s,
            "rules exercised: {} of {platform}",
            platform - not_reached.len()
        );
        if not_reached.is_empty() {
            let _ = writeln!(s);
        } else {
            let ids: Vec<&str> = not_reached.iter().map(|r| r.id()).collect();
            let _ = writeln!(s, "; not reached: {}", ids.join(", "));
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        for (i, c) in self.counterexamples.iter().enumerate() {
            let _ = writeln!(s);
            let _ = writeln!(s, "{}", c.divergence.headline());
            if let Some(st) = &c.shrink {
                let _ = writeln!(
                    s,
                    "shrunk from {} to {} steps in {} replays ({} ms){}",
                    st.steps_before,
                    st.steps_after,
                    st.replays,
                    st.millis,
                    if st.minimal {
                        ""
                    } else {
                        " (budget ran out: may not be minimal)"
                    }
                );
            }
            let _ = write!(s, "{}", c.to_text());
            if let (Some(json), Some(snap)) = (self.written.get(2 * i), self.written.get(2 * i + 1))
            {
                let _ = writeln!(s, "saved: {} and {}", json.display(), snap.display());
                let _ = writeln!(
                    s,
                    "replay: baton replay {} [--target URL --key KEY]",
                    json.display()
                );
            }
        }
        let _ = writeln!(s);
        let verdict = match self.exit_code() {
            0 if self.counterexamples.is_empty() => {
                "CONFORMS: no divergence from the model".to_string()
            }
            0 => format!(
                "CONFORMS, with {} non-strict deviation(s) (use --strict to fail on them)",
                self.counterexamples.len()
            ),
            _ => {
                let rules: Vec<&str> = self
                    .counterexamples
                    .iter()
                    .filter(|c| c.divergence.fails(self.strict))
                    .map(|c| c.rule.id())
                    .collect();
                format!("FAILS: {} broken", rules.join(", "))
            }
        };
        let _ = writeln!(s, "verdict: {verdict}");
        s
    }
}
