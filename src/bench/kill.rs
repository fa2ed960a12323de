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

/// What one certification of the reference app with one app mutant found.
#[derive(Clone, Debug, Serialize)]
pub struct AppKill {
    pub mutant: &'static str,
    /// The rule the mutant breaks by design.
    pub breaks: Rule,
    /// A counterexample was found (strict or not).
    pub detected: bool,
    /// The rules its counterexample names, the first one first.
    pub rules: Vec<Rule>,
    /// Stimuli in the shrunk counterexample.
    pub steps: usize,
    pub cases: u64,
    pub detect_ms: Option<u64>,
    pub shrink_ms: Option<u64>,
}

impl AppKill {
    /// Whether the counterexample is filed under the mutant's own rule.
    pub fn right_rule(&self) -> bool {
        self.rules.first() == Some(&self.breaks)
    }
}

/// How an app kill is run: the certification's settings that matter for
/// speed.
#[derive(Clone, Debug)]
pub struct AppKillConfig {
    pub seed: u64,
    pub cases: u64,
    pub jobs: usize,
    pub quiet: Duration,
    pub time_limit: Duration,
}

impl Default for AppKillConfig {
    fn default() -> AppKillConfig {
        AppKillConfig {
            seed: 1,
            cases: 200,
            jobs: 16,
            quiet: Duration::from_millis(300),
            time_limit: Duration::from_secs(120),
        }
    }
}

/// Certifies the reference app with one app mutant on (`baton certify-app
/// --app-mutant NAME --strict`), stopping at the first counterexample.
pub async fn app_kill(
    mutant: crate::app::AppMutant,
    k: &AppKillConfig,
    out: &std::path::Path,
) -> Result<AppKill, String> {
    use crate::certify::reference::{Reference, fixed_port};
    use crate::certify::{AppIdentity, CertifyConfig, certify};
    let identity = AppIdentity {
        app_id: crate::app::DEFAULT_APP_ID.into(),
        token: crate::app::DEFAULT_TOKEN.into(),
        secret: crate::app::DEFAULT_SECRET.into(),
        verify_token: Some(crate::app::DEFAULT_VERIFY_TOKEN.into()),
        human_agent: false,
    };
    let bind = fixed_port(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let app = Reference::start(&identity, bind, &[mutant]).await?;
    let dir = out.join(mutant.name());
    let mut cfg = CertifyConfig::new(app.webhook.clone(), identity);
    cfg.label = format!("the reference app with {mutant}");
    cfg.app_mutants = vec![mutant.name().to_string()];
    cfg.bind = app.graph;
    cfg.seed = k.seed;
    cfg.cases = k.cases;
    cfg.jobs = k.jobs;
    cfg.quiet = k.quiet;
    cfg.time_limit = Some(k.time_limit);
    cfg.strict = true;
    cfg.out_dir = dir.join("counterexamples");
    cfg.snapshot_dir = dir.join("snapshots");
    let report = certify(cfg).await;
    app.stop().await;
    let report = report.map_err(|e| format!("{mutant}: {e}"))?;
    let failing = report.counterexamples.first();
    Ok(AppKill {
        mutant: mutant.name(),
        breaks: mutant.rule(),
        detected: failing.is_some(),
        rules: failing
            .map(|c| c.divergence.rules.clone())
            .unwrap_or_default(),
        steps: failing.map_or(0, |c| c.case.ops.len()),
        cases: report.cases,
        detect_ms: report.first_failure_after.map(|d| d.as_millis() as u64),
        shrink_ms: failing.and_then(|c| c.shrink.as_ref()).map(|s| s.millis),
    })
}
