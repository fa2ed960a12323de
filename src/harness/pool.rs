//! The workers of a run: each claims case numbers, plays each case on its
//! own page of the target, and shrinks and records what diverges. All they
//! share is one locked [`Tally`].

use super::concurrent::ConcurrentPart;
use super::config::RunConfig;
use super::counterexample::Counterexample;
use super::counts::RuleCounts;
use super::diff::Divergence;
use super::events::RunEvent;
use super::linearize::CheckOptions;
use super::play::play;
use super::session::{DriverOptions, Played};
use super::shrink::{self, REPEATS, Replayer};
use super::target::{Target, TargetError};
use crate::generate::{CASE_PAGE_ID, Case, nth_case, nth_concurrent_case};
use crate::model::{Rule, RuleSet};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the workers found, all behind one lock.
#[derive(Default)]
pub(super) struct Tally {
    /// The next case number to claim.
    pub next: u64,
    /// Set by a failure (or a fatal target error): no new cases.
    pub stop: bool,
    pub cases: u64,
    pub steps: u64,
    pub requests: u64,
    pub exercised: RuleSet,
    pub counts: RuleCounts,
    /// Divergences on distinct rules announced so far.
    pub divergences: u64,
    pub found: Vec<Counterexample>,
    /// Rules with a non-failing (non-strict or expected) deviation already
    /// recorded.
    pub deviated: BTreeSet<Rule>,
    pub fatal: Option<TargetError>,
    pub first_failure: Option<Instant>,
    /// Concurrent thread histories the checker could not decide.
    pub undecided: u64,
}

/// What every worker of a run shares.
pub(super) struct Shared {
    pub cfg: RunConfig,
    pub target: Arc<dyn Target>,
    pub opts: DriverOptions,
    pub check: CheckOptions,
    /// Makes this run's pages, tokens and secrets its own.
    pub run_id: String,
    pub deadline: Option<Instant>,
    pub tally: Mutex<Tally>,
}

impl Shared {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().expect("tally lock")
    }

    /// Claims the next case number, unless the run is over.
    fn claim(&self) -> Option<u64> {
        let mut t = self.tally();
        if t.stop || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let index = t.next;
        if index >= self.cfg.cases {
            return None;
        }
        t.next += 1;
        Some(index)
    }

    fn fatal(&self, e: TargetError) {
        let mut t = self.tally();
        t.stop = true;
        t.fatal.get_or_insert(e);
    }
}

/// A worker's page and the pieces to play cases on it.
pub(super) struct Worker {
    pub shared: Arc<Shared>,
    pub page_id: String,
    pub generation: u64,
}

impl Worker {
    /// Plays a case from a reset of the worker's page.
    async fn play(&mut self, case: &Case) -> Result<Played, TargetError> {
        self.generation += 1;
        let mut case = case.clone();
        case.setup.setup.page_id = self.page_id.clone();
        let s = &self.shared;
        play(
            s.target.clone(),
            s.opts,
            &case,
            self.generation,
            &s.run_id,
            s.check,
        )
        .await
    }
}

impl Replayer for Worker {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        Ok(self.play(case).await?.divergence)
    }
}

/// The one work loop, for sequential and concurrent cases alike.
pub(super) async fn work(mut worker: Worker) {
    let shared = worker.shared.clone();
    let cfg = &shared.cfg;
    while let Some(index) = shared.claim() {
        let case = if cfg.concurrent {
            nth_concurrent_case(cfg.seed, index, &cfg.generator, cfg.max_steps)
        } else {
            nth_case(cfg.seed, index, &cfg.generator, cfg.max_steps)
        };
        if index.is_multiple_of(100) {
            cfg.emit(RunEvent::CaseStarted { case_index: index });
        }
        let played = match worker.play(&case).await {
            Ok(p) => p,
            Err(e) => return shared.fatal(e),
        };
        let event = {
            let mut t = shared.tally();
            t.cases += 1;
            t.steps += played.steps as u64;
            t.requests += played.requests;
            t.undecided += u64::from(played.undecided);
            t.exercised = t.exercised.union(played.rules);
            t.counts.merge(&played.counts);
            RunEvent::CaseFinished {
                case_index: index,
                cases_done: t.cases,
                steps_done: t.steps,
                divergences: t.divergences,
            }
        };
        cfg.emit(event);
        let Some(d) = played.divergence else { continue };
        let fails = match triage(&shared, index, &d) {
            Triage::Shrink { fails } => fails,
            Triage::Skip => continue,
            Triage::Stop => return,
        };
        match counterexample(&mut worker, case, d, index).await {
            Ok(c) => record(&shared, c, index),
            Err(e) => return shared.fatal(e),
        }
        if fails {
            return;
        }
    }
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
fn triage(shared: &Shared, index: u64, d: &Divergence) -> Triage {
    let cfg = &shared.cfg;
    let expected = cfg.expect.contains_key(&d.rule());
    let fails = (d.fails(cfg.strict) && !expected && !cfg.keep_going) || cfg.stop_on_deviation;
    {
        let mut t = shared.tally();
        if fails {
            // The first failure ends the run; later ones are not shrunk.
            if t.stop {
                return Triage::Stop;
            }
            t.stop = true;
            t.first_failure = Some(Instant::now());
        } else if !t.deviated.insert(d.rule()) {
            return Triage::Skip;
        }
        t.divergences += 1;
    }
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

/// A worker whose replays are reported as shrink steps.
struct Observed<'a> {
    worker: &'a mut Worker,
    case_index: u64,
    original: Divergence,
    replays: u32,
}

impl Replayer for Observed<'_> {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        let d = self.worker.replay(case).await?;
        self.replays += 1;
        self.worker.shared.cfg.emit(RunEvent::ShrinkStep {
            case_index: self.case_index,
            rule: self.original.rule(),
            replay: self.replays,
            steps: case.len(),
            reproduced: self.original.reproduced_by(d.as_ref()),
        });
        Ok(d)
    }
}

/// Shrinks a diverging case into a counterexample. A concurrent one is then
/// replayed [`REPEATS`] times for its verdict; when the shrunk case never
/// fails again, the unshrunk case is kept if it fails more often.
async fn counterexample(
    worker: &mut Worker,
    case: Case,
    d: Divergence,
    index: u64,
) -> Result<Counterexample, TargetError> {
    let budget = if d.concurrent {
        worker.shared.cfg.shrink.concurrent()
    } else {
        worker.shared.cfg.shrink
    };
    let original = (case.clone(), d.clone());
    let mut observed = Observed {
        worker,
        case_index: index,
        original: d.clone(),
        replays: 0,
    };
    let mut shrunk = shrink::shrink(&mut observed, case, d, budget).await?;
    let worker = observed.worker;
    let concurrent = if shrunk.divergence.concurrent {
        let mut failed = shrink::repeat(worker, &shrunk.case, &shrunk.divergence, REPEATS).await?;
        if failed == 0 {
            // Shrinking kept a candidate that failed once but rarely: the
            // original case may show the race more often.
            let n = shrink::repeat(worker, &original.0, &original.1, REPEATS).await?;
            if n > 0 {
                failed = n;
                shrunk.stats.steps_after = shrunk.stats.steps_before;
                shrunk.stats.minimal = false;
                shrunk.stats.kept_original = true;
                (shrunk.case, shrunk.divergence) = original;
            }
        }
        Some(ConcurrentPart {
            repeats: REPEATS,
            failed,
        })
    } else {
        None
    };
    let mut c = Counterexample::new(
        shrunk.case,
        shrunk.divergence,
        &worker.shared.target.label(),
    );
    c.concurrent = concurrent;
    c.shrink = Some(shrunk.stats);
    Ok(c)
}

/// Files a shrunk counterexample under the run: the canonical page id,
/// the seed and case number that produced it, and an event for the log.
fn record(shared: &Shared, mut c: Counterexample, index: u64) {
    c.case.setup.setup.page_id = CASE_PAGE_ID.to_string();
    c.seed = Some(shared.cfg.seed);
    c.case_index = Some(index);
    if let Some(st) = &c.shrink {
        shared.cfg.emit(RunEvent::Counterexample {
            case_index: index,
            rule: c.rule,
            steps: st.steps_after,
            replays: st.replays,
            shrink_ms: st.millis,
        });
    }
    if let Some(f) = &shared.cfg.on_counterexample {
        (f.0)(&c);
    }
    shared.tally().found.push(c);
}
