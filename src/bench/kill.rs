//! The kill matrix: every mutant of the reference server, run with default
//! settings, must be caught. Used by the test suite, `baton bench` and the
//! README's table. It runs the embedded server ([`crate::embedded`]) with
//! one mutant on; the harness itself never knows it is a mutant.

use crate::embedded;
use crate::harness::RunConfig;
use crate::model::Rule;
use crate::server::Mutant;
use serde::Serialize;
use std::time::Duration;

/// What one run against one mutant found.
#[derive(Clone, Debug, Serialize)]
pub struct Kill {
    pub mutant: &'static str,
    /// The rule the mutant breaks by design.
    pub breaks: Rule,
    /// A divergence was found (strict or not).
    pub detected: bool,
    /// It fails certification (a MUST rule); false for a SHOULD deviation.
    pub strict: bool,
    /// The rules the shrunk counterexample names (the first is its file).
    pub rules: Vec<Rule>,
    pub steps: usize,
    pub cases: u64,
    pub detect_ms: Option<u64>,
    pub shrink_ms: Option<u64>,
    pub replays: Option<u32>,
}

impl Kill {
    /// Whether the counterexample names the rule the mutant breaks.
    pub fn right_rule(&self) -> bool {
        self.rules.contains(&self.breaks)
    }
}

/// Runs the embedded server with one mutant on, default settings but the
/// given seed and limits, writing counterexamples under `out`.
pub async fn kill(
    mutant: Mutant,
    seed: u64,
    time_limit: Duration,
    out: &std::path::Path,
) -> Result<Kill, String> {
    let cfg = RunConfig {
        seed,
        cases: u64::MAX,
        time_limit: Some(time_limit),
        out_dir: out.join("counterexamples"),
        snapshot_dir: out.join("snapshots"),
        stop_on_deviation: true,
        ..RunConfig::default()
    };
    let report = embedded::run(cfg, &[mutant])
        .await
        .map_err(|e| e.to_string())?;
    let failing = report.counterexamples.first();
    Ok(Kill {
        mutant: mutant.name(),
        breaks: mutant.rule(),
        detected: failing.is_some(),
        strict: failing.is_some_and(|c| c.divergence.strict),
        rules: failing
            .map(|c| c.divergence.rules.clone())
            .unwrap_or_default(),
        steps: failing.map_or(0, |c| c.case.ops.len()),
        cases: report.cases,
        detect_ms: report.first_failure_after.map(|d| d.as_millis() as u64),
        shrink_ms: failing.and_then(|c| c.shrink.as_ref()).map(|s| s.millis),
        replays: failing.and_then(|c| c.shrink.as_ref()).map(|s| s.replays),
    })
}

/// The length of a minimal counterexample found by hand for each mutant:
/// the yardstick for the shrinker (README, kill matrix).
pub fn hand_minimal(m: Mutant) -> usize {
    match m {
        // One call shows it.
        Mutant::PrimaryStandbyWhenIdle
        | Mutant::WrongSecret
        | Mutant::DuplicateDelivery
        | Mutant::PageMenuAnyApp
        | Mutant::UnknownTokenCode
        | Mutant::IgWrongObject => 1,
        // A user message gives the primary the thread, then one call.
        Mutant::SendNonOwner
        | Mutant::FailedTakeSticks
        | Mutant::PassWithoutWebhook
        | Mutant::PassMetadataMovesControl
        | Mutant::RequestWithoutWebhook
        | Mutant::LapseHourEarly
        | Mutant::ExtendNoop
        | Mutant::InboxNoTake
        | Mutant::SurveyNotHeld
        | Mutant::ThreadOwnerLeak
        | Mutant::FormMisparse
        | Mutant::IgPageInboxAccepted
        | Mutant::IgSurveyAllowed => 2,
        // Two threads and a release; an extension and a pass; a button
        // message and its tap.
        Mutant::PsidCrosstalk
        | Mutant::DeadlineKeepsExtension
        | Mutant::StandbyPayloadLeak
        | Mutant::PostbackNoControl
        | Mutant::IgSurfaceLeak => 3,
        // Two concurrent takes after a user message.
        Mutant::RacyTake => 3,
    }
}

/// The mutants `baton run` catches one call at a time (all but the
/// concurrency one, which needs `--concurrent`).
pub fn sequential_mutants() -> impl Iterator<Item = Mutant> {
    Mutant::ALL
        .iter()
        .copied()
        .filter(|m| *m != Mutant::RacyTake)
}
