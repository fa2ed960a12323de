//! `baton run`: many random cases on parallel workers, each on its own page
//! of the target; the first failure stops the run once it is shrunk.

use super::concurrent;
use super::counterexample::Counterexample;
use super::diff::Divergence;
use super::driver::{Case, DriverOptions, play};
use super::linearize;
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
    /// `--concurrent`: every case ends with concurrent branches, checked
    /// for linearizability (RACE-1).
    pub concurrent: bool,
    /// Known deviations (`--expect`): rule ID → reason. A divergence filed
    /// under one of these neither fails nor stops the run; at most one
    /// counterexample is kept per rule.
    pub expect: BTreeMap<Rule, String>,
    /// Told of progress (`--log-format`, progress bars); `None`: silent.
    pub observer: Option<Observer>,
    /// Record every deviating rule once instead of stopping at the first
    /// failure (`--update-expect` uses this to find all deviations).
    pub keep_going: bool,
}

/// Per-rule step counts: how many steps exercised each rule, indexed by
/// the rule's position in [`Rule::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleCounts(pub [u64; Rule::COUNT]);

impl Default for RuleCounts {
    fn default() -> RuleCounts {
        RuleCounts([0; Rule::COUNT])
    }
}

impl RuleCounts {
    /// Counts one step that exercised `rules`.
    pub fn add(&mut self, rules: RuleSet) {
        for r in rules.iter() {
            self.0[r as usize] += 1;
        }
    }

    pub fn merge(&mut self, other: &RuleCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    pub fn get(&self, rule: Rule) -> u64 {
        self.0[rule as usize]
    }

    /// The first `steps` operations of `case` replayed through the model:
    /// the model is deterministic, so these are the rules the driver saw.
    pub fn of_case(case: &Case, steps: usize) -> RuleCounts {
        let mut counts = RuleCounts::default();
        let mut state = crate::model::State::new(case.setup.setup.clone());
        for op in case.ops.iter().take(steps) {
            counts.add(crate::model::apply(&mut state, op).rules);
        }
        counts
    }
}

/// Something that happened during a run, for progress displays and
/// `--log-format json` (one object per event, tagged by `event`).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    Started {
        seed: u64,
        cases: u64,
        jobs: usize,
        time_limit_ms: Option<u64>,
    },
    /// Sampled: the first case of the run and every 100th after it.
    CaseStarted { case_index: u64 },
    /// After every case (progress displays aggregate these; the JSON log
    /// writes them at most once a second as `progress`).
    CaseFinished {
        case_index: u64,
        cases_done: u64,
        steps_done: u64,
        /// Divergences on distinct rules found so far.
        divergences: u64,
    },
    /// A divergence on a rule not seen before in this run (it is shrunk next).
    Divergence {
        case_index: u64,
        rule: Rule,
        rules: Vec<Rule>,
        strict: bool,
        expected: bool,
        step: usize,
        headline: String,
    },
    /// One replay of the shrinker.
    ShrinkStep {
        case_index: u64,
        rule: Rule,
        replay: u32,
        steps: usize,
        reproduced: bool,
    },
    /// A shrunk counterexample.
    Counterexample {
        case_index: u64,
        rule: Rule,
        steps: usize,
        replays: u32,
        shrink_ms: u64,
    },
}

/// A callback for [`RunEvent`]s; called from the workers, so it must be cheap.
#[derive(Clone)]
pub struct Observer(pub Arc<dyn Fn(&RunEvent) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl RunConfig {
    fn emit(&self, e: RunEvent) {
        if let Some(o) = &self.observer {
            (o.0)(&e);
        }
    }

    /// The configuration as a report shows it: no key, no credentials in URLs.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target.as_ref().map(|t| redact_url(&t.graph)),
            "control": self.target.as_ref().and_then(|t| t.control.as_deref().map(redact_url)),
            "key": self.target.as_ref().map(|_| "[redacted]"),
            "mutants": self.mutants.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "cases": self.cases,
            "max_steps": self.max_steps,
            "seed": self.seed,
            "time_limit_ms": self.time_limit.map(|d| d.as_millis() as u64),
            "jobs": self.jobs,
            "strict": self.strict,
            "webhook_base": self.webhook_base.as_deref().map(redact_url),
            "generator": self.generator,
            "out_dir": self.out_dir,
            "snapshot_dir": self.snapshot_dir,
            "quiet_ms": self.quiet.as_millis() as u64,
            "expect": self.expect,
            "keep_going": self.keep_going,
            "concurrent": self.concurrent,
        })
    }
}

/// A URL without user info, query or fragment (where credentials hide).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let userinfo = if authority.contains('@') {
        "[redacted]@"
    } else {
        ""
    };
    if scheme.is_empty() {
        format!("{userinfo}{host}{path}")
    } else {
        format!("{scheme}://{userinfo}{host}{path}")
    }
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
            concurrent: false,
            expect: BTreeMap::new(),
            observer: None,
            keep_going: false,
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
    /// How many steps exercised each rule.
    pub rule_counts: RuleCounts,
    /// The known deviations the run was given (`--expect`).
    pub expect: BTreeMap<Rule, String>,
    /// The configuration, secrets redacted ([`RunConfig::redacted`]).
    pub config: serde_json::Value,
}

impl RunReport {
    /// Whether the counterexample's rule is a known deviation (`--expect`).
    pub fn is_expected(&self, c: &Counterexample) -> bool {
        self.expect.contains_key(&c.rule)
    }

    /// Whether the counterexample fails the run: it breaks a MUST rule (with
    /// `--strict`: any rule) and is not a known deviation.
    pub fn counts_against(&self, c: &Counterexample) -> bool {
        c.divergence.fails(self.strict) && !self.is_expected(c)
    }

    /// 0 conforms; 1 a MUST rule broken (or, with `--strict`, any rule),
    /// not counting known deviations.
    pub fn exit_code(&self) -> u8 {
        if self.counterexamples.iter().any(|c| self.counts_against(c)) {
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
        counts: Mutex::new(RuleCounts::default()),
        divergences: AtomicU64::new(0),
        found: Mutex::new(Vec::new()),
        deviated: Mutex::new(BTreeMap::new()),
        fatal: Mutex::new(None),
        first_failure: Mutex::new(None),
        undecided: AtomicU64::new(0),
    });
    let target = Arc::new(target);
    let sink = Arc::new(sink);
    let run_id = generate_key();
    let page_prefix = u32::from_str_radix(&run_id[..7], 16).unwrap_or(0) % 9_000_000 + 1_000_000;
    let deadline = cfg.time_limit.map(|d| started + d);
    let cfg = Arc::new(RunConfig { generator, ..cfg });
    cfg.emit(RunEvent::Started {
        seed: cfg.seed,
        cases: cfg.cases,
        jobs: cfg.jobs,
        time_limit_ms: cfg.time_limit.map(|d| d.as_millis() as u64),
    });
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
    let mut notes = notes;
    let undecided = shared.undecided.load(Ordering::SeqCst);
    if undecided > 0 {
        notes.push(format!(
            "{undecided} concurrent thread histories were undecided: the linearizability search hit its bound (not counted as failures)"
        ));
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
        rule_counts: *shared.counts.lock().expect("lock"),
        expect: cfg.expect.clone(),
        config: cfg.redacted(),
    })
}

struct Shared {
    next: AtomicU64,
    stop: AtomicBool,
    cases: AtomicU64,
    steps: AtomicU64,
    requests: AtomicU64,
    exercised: Mutex<RuleSet>,
    counts: Mutex<RuleCounts>,
    divergences: AtomicU64,
    found: Mutex<Vec<Counterexample>>,
    /// Rules with a non-failing (non-strict or expected) deviation already
    /// recorded.
    deviated: Mutex<BTreeMap<Rule, ()>>,
    fatal: Mutex<Option<TargetError>>,
    first_failure: Mutex<Option<Instant>>,
    /// Concurrent thread histories the checker could not decide.
    undecided: AtomicU64,
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
        if cfg.concurrent {
            if work_concurrent(&mut worker, &cfg, &shared, index).await {
                continue;
            }
            return;
        }
        let case = nth_case(cfg.seed, index, &cfg.generator, cfg.max_steps);
        if index.is_multiple_of(100) {
            cfg.emit(RunEvent::CaseStarted { case_index: index });
        }
        let played = match worker.play(&case).await {
            Ok(p) => p,
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.fatal.lock().expect("lock").get_or_insert(e);
                return;
            }
        };
        let cases_done = shared.cases.fetch_add(1, Ordering::SeqCst) + 1;
        let steps_done = shared
            .steps
            .fetch_add(played.steps as u64, Ordering::SeqCst)
            + played.steps as u64;
        shared.requests.fetch_add(played.requests, Ordering::SeqCst);
        {
            let mut ex = shared.exercised.lock().expect("lock");
            *ex = ex.union(played.rules);
        }
        let counts = RuleCounts::of_case(&case, played.steps);
        shared.counts.lock().expect("lock").merge(&counts);
        cfg.emit(RunEvent::CaseFinished {
            case_index: index,
            cases_done,
            steps_done,
            divergences: shared.divergences.load(Ordering::SeqCst),
        });
        let Some(d) = played.divergence else { continue };
        let fails = match triage(&cfg, &shared, index, &d) {
            Triage::Shrink { fails } => fails,
            Triage::Skip => continue,
            Triage::Stop => return,
        };
        let mut observed = Observed {
            worker: &mut worker,
            cfg: &cfg,
            case_index: index,
            rule: d.rule(),
            replays: 0,
        };
        let shrunk = match shrink::shrink(&mut observed, case.clone(), d.clone(), cfg.shrink).await
        {
            Ok(s) => s,
            Err(e) => {
                shared.stop.store(true, Ordering::SeqCst);
                shared.fatal.lock().expect("lock").get_or_insert(e);
                return;
            }
        };
        let mut c = Counterexample::new(shrunk.case, shrunk.divergence, &worker.target.graph);
        c.shrink = Some(shrunk.stats);
        record(&cfg, &shared, c, index);
        if fails {
            return;
        }
    }
}

/// A worker playing concurrent cases, checked with `check`.
struct ConcurrentWorker<'a> {
    worker: &'a mut Worker,
    check: concurrent::CheckOptions,
}

impl concurrent::ConcurrentReplayer for ConcurrentWorker<'_> {
    async fn replay_concurrent(
        &mut self,
        cc: &concurrent::ConcurrentCase,
    ) -> Result<Option<Divergence>, TargetError> {
        Ok(self.play(cc).await?.divergence)
    }
}

impl ConcurrentWorker<'_> {
    async fn play(
        &mut self,
        cc: &concurrent::ConcurrentCase,
    ) -> Result<concurrent::ConcurrentPlayed, TargetError> {
        let w = &mut *self.worker;
        w.generation += 1;
        let mut cc = cc.clone();
        cc.case.setup.setup.page_id = w.page_id.clone();
        concurrent::play(
            &w.target,
            &w.sink,
            &w.opts,
            &cc,
            w.generation,
            &w.secret_seed,
            self.check,
        )
        .await
    }
}

/// One case of a `--concurrent` run; false when the worker must stop.
async fn work_concurrent(
    worker: &mut Worker,
    cfg: &Arc<RunConfig>,
    shared: &Arc<Shared>,
    index: u64,
) -> bool {
    let fatal = |e: TargetError| {
        shared.stop.store(true, Ordering::SeqCst);
        shared.fatal.lock().expect("lock").get_or_insert(e);
        false
    };
    let cc = concurrent::nth_case(cfg.seed, index, &cfg.generator, cfg.max_steps);
    if index.is_multiple_of(100) {
        cfg.emit(RunEvent::CaseStarted { case_index: index });
    }
    let check = concurrent::CheckOptions {
        matching: linearize::Matching {
            strict_codes: cfg.strict,
        },
        limits: linearize::Limits {
            max_nodes: 2_000_000,
            max_time: Duration::from_secs(2),
        },
    };
    let played = match (ConcurrentWorker { worker, check }).play(&cc).await {
        Ok(p) => p,
        Err(e) => return fatal(e),
    };
    let cases_done = shared.cases.fetch_add(1, Ordering::SeqCst) + 1;
    let steps_done = shared
        .steps
        .fetch_add(played.steps as u64, Ordering::SeqCst)
        + played.steps as u64;
    shared.requests.fetch_add(played.requests, Ordering::SeqCst);
    shared
        .undecided
        .fetch_add(played.undecided as u64, Ordering::SeqCst);
    {
        let mut ex = shared.exercised.lock().expect("lock");
        *ex = ex.union(played.rules);
    }
    let mut counts = RuleCounts::of_case(&cc.case, played.steps.min(cc.case.ops.len()));
    if !played.in_prefix {
        counts.add(RuleSet::EMPTY.with(Rule::Race1));
    }
    shared.counts.lock().expect("lock").merge(&counts);
    cfg.emit(RunEvent::CaseFinished {
        case_index: index,
        cases_done,
        steps_done,
        divergences: shared.divergences.load(Ordering::SeqCst),
    });
    let Some(d) = played.divergence else {
        return true;
    };
    let fails = match triage(cfg, shared, index, &d) {
        Triage::Shrink { fails } => fails,
        Triage::Skip => return true,
        Triage::Stop => return false,
    };
    let c = if played.in_prefix {
        // An ordinary divergence in the sequential prefix.
        let mut observed = Observed {
            worker: &mut *worker,
            cfg,
            case_index: index,
            rule: d.rule(),
            replays: 0,
        };
        let shrunk = match shrink::shrink(&mut observed, cc.case.clone(), d, cfg.shrink).await {
            Ok(s) => s,
            Err(e) => return fatal(e),
        };
        let mut c = Counterexample::new(shrunk.case, shrunk.divergence, &worker.target.graph);
        c.shrink = Some(shrunk.stats);
        c
    } else {
        let rule = d.rule();
        let budget = Budget {
            max_replays: cfg.shrink.max_replays.min(600),
            max_time: cfg.shrink.max_time.min(Duration::from_secs(30)),
        };
        let mut cw = ConcurrentWorker {
            worker: &mut *worker,
            check,
        };
        let original = (cc.clone(), d.clone());
        let mut shrunk = match concurrent::shrink(&mut cw, cc, d, budget).await {
            Ok(s) => s,
            Err(e) => return fatal(e),
        };
        let mut failed =
            match concurrent::repeat(&mut cw, &shrunk.case, rule, concurrent::REPEATS).await {
                Ok(n) => n,
                Err(e) => return fatal(e),
            };
        if failed == 0 {
            // Shrinking kept a candidate that failed once but rarely: the
            // original case may show the race more often.
            match concurrent::repeat(&mut cw, &original.0, rule, concurrent::REPEATS).await {
                Ok(n) if n > 0 => {
                    failed = n;
                    shrunk.stats.steps_after = shrunk.stats.steps_before;
                    shrunk.stats.minimal = false;
                    (shrunk.case, shrunk.divergence) = original;
                }
                Ok(_) => {}
                Err(e) => return fatal(e),
            }
        }
        let target = cw.worker.target.graph.clone();
        let mut c = Counterexample::new(shrunk.case.case, shrunk.divergence, &target);
        c.concurrent = Some(concurrent::ConcurrentPart {
            branches: shrunk.case.branches,
            repeats: concurrent::REPEATS,
            failed,
        });
        c.shrink = Some(shrunk.stats);
        c
    };
    record(cfg, shared, c, index);
    !fails
}

/// What a worker does with the divergence a case found.
enum Triage {
    /// Shrink it; `fails` ends the run afterwards.
    Shrink { fails: bool },
    /// A rule already recorded as a non-strict or expected deviation.
    Skip,
    /// Another worker's failure already ends the run.
    Stop,
}

/// Decides whether a divergence ends the run, is shrunk and recorded, or
/// was seen before; announces the ones that count.
fn triage(cfg: &RunConfig, shared: &Shared, index: u64, d: &Divergence) -> Triage {
    let expected = cfg.expect.contains_key(&d.rule());
    let fails = (d.fails(cfg.strict) && !expected && !cfg.keep_going) || cfg.stop_on_deviation;
    if fails {
        // The first failure ends the run; later ones are not shrunk.
        if shared.stop.swap(true, Ordering::SeqCst) {
            return Triage::Stop;
        }
        *shared.first_failure.lock().expect("lock") = Some(Instant::now());
    } else if shared
        .deviated
        .lock()
        .expect("lock")
        .insert(d.rule(), ())
        .is_some()
    {
        return Triage::Skip;
    }
    shared.divergences.fetch_add(1, Ordering::SeqCst);
    cfg.emit(RunEvent::Divergence {
        case_index: index,
        rule: d.rule(),
        rules: d.rules.clone(),
        strict: d.strict,
        expected,
        step: d.step,
        headline: d.headline(),
    });
    Triage::Shrink { fails }
}

/// Files a shrunk counterexample under the run: the canonical page id,
/// the seed and case number that produced it, and an event for the log.
fn record(cfg: &RunConfig, shared: &Shared, mut c: Counterexample, index: u64) {
    c.case.setup.setup.page_id = CASE_PAGE_ID.to_string();
    c.seed = Some(cfg.seed);
    c.case_index = Some(index);
    if let Some(st) = &c.shrink {
        cfg.emit(RunEvent::Counterexample {
            case_index: index,
            rule: c.rule,
            steps: st.steps_after,
            replays: st.replays,
            shrink_ms: st.millis,
        });
    }
    shared.found.lock().expect("lock").push(c);
}

/// A worker whose replays are reported as shrink steps.
struct Observed<'a> {
    worker: &'a mut Worker,
    cfg: &'a RunConfig,
    case_index: u64,
    rule: Rule,
    replays: u32,
}

impl Replayer for Observed<'_> {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        let d = self.worker.replay(case).await?;
        self.replays += 1;
        self.cfg.emit(RunEvent::ShrinkStep {
            case_index: self.case_index,
            rule: self.rule,
            replay: self.replays,
            steps: case.ops.len(),
            reproduced: d.as_ref().is_some_and(|d| d.rule() == self.rule),
        });
        Ok(d)
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
    if let Some(part) = &c.concurrent {
        let cc = concurrent::ConcurrentCase {
            case,
            branches: part.branches.clone(),
        };
        let check = concurrent::CheckOptions::default();
        let played = concurrent::play(&target, &sink, &opts, &cc, 1, &run_id[..16], check)
            .await
            .map_err(RunError::Target)?;
        return Ok((played.divergence, played.trace));
    }
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
            if let Some(reason) = self.expect.get(&c.rule) {
                let _ = writeln!(s, "expected deviation (--expect): {reason}");
            }
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
        let unseen: Vec<&str> = self
            .expect
            .keys()
            .filter(|r| !self.counterexamples.iter().any(|c| c.rule == **r))
            .map(|r| r.id())
            .collect();
        if !unseen.is_empty() {
            let _ = writeln!(
                s,
                "\nexpected deviations not seen in this run: {}",
                unseen.join(", ")
            );
        }
        let _ = writeln!(s);
        let expected = self
            .counterexamples
            .iter()
            .filter(|c| self.is_expected(c))
            .count();
        let verdict = match self.exit_code() {
            0 if self.counterexamples.is_empty() => {
                "CONFORMS: no divergence from the model".to_string()
            }
            0 if expected > 0 => format!(
                "CONFORMS, with {expected} expected deviation(s) and {} non-strict one(s)",
                self.counterexamples.len() - expected
            ),
            0 => format!(
                "CONFORMS, with {} non-strict deviation(s) (use --strict to fail on them)",
                self.counterexamples.len()
            ),
            _ => {
                let rules: Vec<&str> = self
                    .counterexamples
                    .iter()
                    .filter(|c| self.counts_against(c))
                    .map(|c| c.rule.id())
                    .collect();
                format!("FAILS: {} broken", rules.join(", "))
            }
        };
        let _ = writeln!(s, "verdict: {verdict}");
        s
    }
}
