//! What happens during a run, as events for progress displays and
//! `--log-format json` (one object per event, tagged by `event`).

use crate::model::Rule;
use std::sync::Arc;

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
