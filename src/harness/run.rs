//! `baton run`: many random cases on parallel workers, each on its own page
//! of the target; the first failure stops the run once it is shrunk. Also
//! `baton replay`: one counterexample played again.
//!
//! The target is any [`Target`]; [`run`] and [`replay`] reach one over
//! HTTP from a [`TargetSpec`], [`run_on`] and [`replay_on`] take one
//! already made (the embedded server, an in-process router).

use super::config::{RunConfig, RunError, Subject, TargetSpec, run_id};
use super::counterexample::Counterexample;
use super::counts::RuleCounts;
use super::diff::Divergence;
use super::events::RunEvent;
use super::http::HttpTarget;
use super::linearize::CheckOptions;
use super::play::play;
use super::pool::{Shared, Tally, Worker, work};
use super::session::{DriverOptions, TraceStep};
use super::shrink::{self, Budget, Replayer};
use super::target::{Target, TargetError, info};
use crate::generate::{CASE_PAGE_ID, Case};
use crate::model::{Family, Rule, RuleSet};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a run found.
#[derive(Debug)]
pub struct RunReport {
    /// A platform run or an app certification.
    pub subject: Subject,
    pub target: String,
    pub seed: u64,
    pub cases: u64,
    pub steps: u64,
    pub requests: u64,
    pub elapsed: Duration,
    pub exercised: RuleSet,
    /// Failing and non-strict counterexamples, shrunk, in the order found.
    pub counterexamples: Vec<Counterexample>,
    /// Where each counterexample was written (JSON, snapshot; in order).
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
    /// Rule families the run left out on purpose (IG without Instagram
    /// threads): their rules are not-applicable in every report.
    pub left_out: Vec<Family>,
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

    /// Whether the run certifies `rule`: one of its subject's, and not of a
    /// family it left out.
    pub fn applies(&self, rule: Rule) -> bool {
        self.subject.applies(rule) && !self.left_out.contains(&rule.family())
    }

    /// The rules of the run's subject no step exercised.
    pub fn not_reached(&self) -> Vec<Rule> {
        Rule::ALL
            .iter()
            .copied()
            .filter(|r| self.applies(*r) && !self.exercised.contains(*r))
            .collect()
    }
}

/// What the target's control API offers, and what the run does about what
/// it lacks.
struct Features {
    opts: DriverOptions,
    clock: bool,
    roles: bool,
    instagram: bool,
    notes: Vec<String>,
}

/// The line a run prints when it generates no Instagram threads.
pub const INSTAGRAM_SKIPPED: &str = "Instagram skipped: the target's info.features does not list instagram; IG rules are not-applicable";

/// Reads the target's capabilities (`info`, which also checks the key).
async fn features(target: &dyn Target, quiet: Duration) -> Result<Features, RunError> {
    let info = info(target).await?;
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
    Ok(Features {
        opts: DriverOptions::for_features(&info.features, quiet),
        clock: has("clock"),
        roles: has("roles"),
        instagram: has("instagram"),
        notes,
    })
}

/// Reaches the configured target over HTTP.
async fn connect(
    spec: Option<&TargetSpec>,
    webhook_base: Option<&str>,
) -> Result<HttpTarget, RunError> {
    let spec = spec.ok_or_else(|| {
        RunError::Usage("no target: give --target URL (baton run without it tests the embedded reference server)".into())
    })?;
    HttpTarget::connect(spec, webhook_base)
        .await
        .map_err(|e| RunError::Usage(format!("cannot start the webhook sinks: {e}")))
}

/// Runs the configured conformance test against `cfg.target`, over HTTP.
pub async fn run(cfg: RunConfig) -> Result<RunReport, RunError> {
    cfg.check()?;
    let target = connect(cfg.target.as_ref(), cfg.webhook_base.as_deref()).await?;
    run_on(cfg, Arc::new(target)).await
}

/// Runs the configured conformance test against `target`.
pub async fn run_on(cfg: RunConfig, target: Arc<dyn Target>) -> Result<RunReport, RunError> {
    cfg.check()?;
    let started = Instant::now();
    let features = features(&*target, cfg.quiet).await?;
    let mut cfg = cfg;
    if !features.clock {
        cfg.generator.weights.clock = 0;
    }
    if !features.roles {
        cfg.generator.weights.roles = 0;
    }
    let mut notes = features.notes;
    if !features.instagram {
        cfg.generator.instagram_percent = 0;
        notes.push(INSTAGRAM_SKIPPED.to_string());
    } else if cfg.generator.instagram_percent == 0 {
        notes.push(
            "Instagram skipped: the run was told to generate no Instagram threads (--skip IG); IG rules are not-applicable"
                .to_string(),
        );
    }
    let left_out = if cfg.generator.instagram_percent == 0 {
        vec![Family::Ig]
    } else {
        Vec::new()
    };
    let id = run_id();
    let page_prefix = u32::from_str_radix(&id[..7], 16).unwrap_or(0) % 9_000_000 + 1_000_000;
    let jobs = cfg.jobs;
    cfg.emit(RunEvent::Started {
        seed: cfg.seed,
        cases: cfg.cases,
        jobs,
        time_limit_ms: cfg.time_limit.map(|d| d.as_millis() as u64),
    });
    let shared = Arc::new(Shared {
        deadline: cfg.time_limit.map(|d| started + d),
        check: CheckOptions::for_run(cfg.strict),
        cfg,
        target: target.clone(),
        opts: features.opts,
        run_id: id,
        tally: Mutex::new(Tally::default()),
    });
    let tasks: Vec<_> = (0..jobs)
        .map(|w| {
            tokio::spawn(work(Worker {
                shared: shared.clone(),
                page_id: format!("{page_prefix}{w:04}"),
                generation: 0,
            }))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let cfg = &shared.cfg;
    let mut tally = std::mem::take(&mut *shared.tally.lock().expect("tally lock"));
    if let Some(e) = tally.fatal.take() {
        return Err(RunError::Target(e));
    }
    let mut counterexamples = std::mem::take(&mut tally.found);
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
    if tally.undecided > 0 {
        notes.push(format!(
            "{} concurrent thread histories were undecided: the linearizability search hit its bound (not counted as failures)",
            tally.undecided
        ));
    }
    Ok(RunReport {
        subject: Subject::Platform,
        target: target.label(),
        seed: cfg.seed,
        cases: tally.cases,
        steps: tally.steps,
        requests: tally.requests,
        elapsed: started.elapsed(),
        exercised: tally.exercised,
        counterexamples,
        written,
        notes,
        strict: cfg.strict,
        first_failure_after: tally.first_failure.map(|t| t.duration_since(started)),
        rule_counts: tally.counts,
        expect: cfg.expect.clone(),
        config: cfg.redacted(),
        left_out,
    })
}

/// Plays cases on one page of a target, each from a reset of its own
/// generation: the replayer behind [`shrink_on`].
struct PageReplayer {
    target: Arc<dyn Target>,
    opts: DriverOptions,
    page_id: String,
    generation: u64,
    secret: String,
}

impl Replayer for PageReplayer {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        self.generation += 1;
        let mut case = case.clone();
        case.setup.setup.page_id = self.page_id.clone();
        let played = play(
            self.target.clone(),
            self.opts,
            &case,
            self.generation,
            &self.secret,
            CheckOptions::default(),
        )
        .await?;
        Ok(played.divergence)
    }
}

/// Plays one case against `target` and, when it diverges, shrinks it into
/// a counterexample (filed under [`CASE_PAGE_ID`]); `None` when it does
/// not diverge. `baton fuzz-import` turns fuzzer inputs into
/// counterexamples this way.
pub async fn shrink_on(
    case: Case,
    target: Arc<dyn Target>,
    budget: Budget,
) -> Result<Option<Counterexample>, RunError> {
    let features = features(&*target, RunConfig::default().quiet).await?;
    let id = run_id();
    let mut r = PageReplayer {
        target: target.clone(),
        opts: features.opts,
        page_id: format!(
            "{}",
            9_100_000 + u32::from_str_radix(&id[..5], 16).unwrap_or(0) % 99_999
        ),
        generation: 0,
        secret: id,
    };
    let Some(d) = r.replay(&case).await? else {
        return Ok(None);
    };
    let shrunk = shrink::shrink(&mut r, case, d, budget).await?;
    let mut c = Counterexample::new(shrunk.case, shrunk.divergence, &target.label());
    c.case.setup.setup.page_id = CASE_PAGE_ID.to_string();
    c.shrink = Some(shrunk.stats);
    Ok(Some(c))
}

/// Plays a counterexample once more against the target of `spec`, over
/// HTTP: the divergence found, if any, and the trace of every step.
pub async fn replay(
    c: &Counterexample,
    spec: &TargetSpec,
) -> Result<(Option<Divergence>, Vec<TraceStep>), RunError> {
    let target = connect(Some(spec), None).await?;
    replay_on(c, Arc::new(target)).await
}

/// Plays a counterexample once more against `target`, on a fresh page.
pub async fn replay_on(
    c: &Counterexample,
    target: Arc<dyn Target>,
) -> Result<(Option<Divergence>, Vec<TraceStep>), RunError> {
    let features = features(&*target, RunConfig::default().quiet).await?;
    let id = run_id();
    let mut case = c.case.clone();
    case.setup.setup.page_id = format!(
        "{}",
        9_000_000 + u32::from_str_radix(&id[..5], 16).unwrap_or(0) % 999_999
    );
    let opts = DriverOptions {
        trace: true,
        ..features.opts
    };
    let played = play(target, opts, &case, 1, &id, CheckOptions::default()).await?;
    Ok((played.divergence, played.trace))
}
