//! The embedded reference server as a target: what `baton run`, `baton
//! replay` and `baton fuzz-import` use without `--target`.
//!
//! This module sits above both the harness and the server: it starts the
//! reference server (with the chosen mutants) on a loopback port and hands
//! the harness its URL and key, so the harness tests it over HTTP exactly
//! as it tests any other implementation.

use crate::generate::Case;
use crate::harness::http::HttpTarget;
use crate::harness::session::TraceStep;
use crate::harness::shrink::Budget;
use crate::harness::{
    self, Counterexample, Divergence, RunConfig, RunError, RunReport, TargetSpec,
};
use crate::server::{Mutant, Mutants, RunningServer, ServerConfig, generate_key};
use std::sync::Arc;

/// A reference server running for one run, and how to reach it.
pub struct Embedded {
    server: RunningServer,
    pub spec: TargetSpec,
}

impl Embedded {
    /// Starts the reference server on an ephemeral loopback port with
    /// `mutants` switched on.
    pub async fn start(mutants: &[Mutant]) -> Result<Embedded, RunError> {
        let key = generate_key();
        let mut config = ServerConfig::new(key.clone());
        config.mutants = Mutants::new(mutants.to_vec());
        let server = RunningServer::start(config, "127.0.0.1:0".parse().expect("address"))
            .await
            .map_err(|e| {
                RunError::Usage(format!("cannot start the embedded reference server: {e}"))
            })?;
        let spec = TargetSpec {
            graph: server.url(),
            control: None,
            key,
        };
        Ok(Embedded { server, spec })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The console's one-time login URL (`None` once used).
    pub fn console_login_url(&self) -> Option<String> {
        self.server
            .platform
            .console_login_path()
            .map(|p| format!("{}{p}", self.server.url()))
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// What the console shows of a counterexample, its diagram drawn here (the
/// server draws nothing of the harness).
fn finding(c: &Counterexample) -> crate::server::console::Finding {
    let diagram = crate::report::diagram::Diagram::of(c);
    crate::server::console::Finding {
        rule: c.rule.id().to_string(),
        headline: c.divergence.headline(),
        steps: c.case.ops.len(),
        svg: crate::report::html::svg(&diagram),
        mermaid: crate::report::markdown::mermaid(&diagram),
    }
}

/// Refuses mutants with a target of the caller's: they exist only in the
/// embedded server.
fn check_mutants(target: Option<&TargetSpec>, mutants: &[Mutant]) -> Result<(), RunError> {
    if target.is_some() && !mutants.is_empty() {
        return Err(RunError::Usage(
            "--mutant applies to the embedded server only; drop --target to use it".into(),
        ));
    }
    Ok(())
}

/// `baton run`: against `cfg.target`, or, without one, against the
/// embedded reference server with `mutants` on.
pub async fn run(cfg: RunConfig, mutants: &[Mutant]) -> Result<RunReport, RunError> {
    check_mutants(cfg.target.as_ref(), mutants)?;
    cfg.check()?;
    if cfg.target.is_some() {
        return harness::run(cfg).await;
    }
    let embedded = Embedded::start(mutants).await?;
    let cfg = RunConfig {
        target: Some(embedded.spec.clone()),
        mutants: mutants.iter().map(|m| m.name().to_string()).collect(),
        ..cfg
    };
    let report = harness::run(cfg).await;
    embedded.stop().await;
    report
}

/// `baton run --console`: a run against the embedded reference server with
/// `mutants` on, whose console follows it. `ready` gets the console's
/// one-time login URL before the first case; each counterexample is shown
/// in the console as soon as it is shrunk. The server is handed back running, so
/// the console stays open until the caller stops it.
pub async fn run_with_console(
    cfg: RunConfig,
    mutants: &[Mutant],
    ready: impl FnOnce(&str),
) -> Result<(RunReport, Embedded), RunError> {
    if cfg.target.is_some() {
        return Err(RunError::Usage(
            "--console shows the embedded server's console; drop --target to use it \
             (a target of your own has no baton console)"
                .into(),
        ));
    }
    cfg.check()?;
    let embedded = Embedded::start(mutants).await?;
    if let Some(url) = embedded.console_login_url() {
        ready(&url);
    }
    let platform = embedded.server.platform.clone();
    let cfg = RunConfig {
        target: Some(embedded.spec.clone()),
        mutants: mutants.iter().map(|m| m.name().to_string()).collect(),
        on_counterexample: Some(harness::OnCounterexample(Arc::new(move |c| {
            platform.console_show_finding(finding(c))
        }))),
        ..cfg
    };
    match harness::run(cfg).await {
        Ok(report) => Ok((report, embedded)),
        Err(e) => {
            embedded.stop().await;
            Err(e)
        }
    }
}

/// `baton replay`: a counterexample played again against `target`, or
/// the embedded reference server with `mutants` on.
pub async fn replay(
    c: &Counterexample,
    target: Option<&TargetSpec>,
    mutants: &[Mutant],
) -> Result<(Option<Divergence>, Vec<TraceStep>), RunError> {
    check_mutants(target, mutants)?;
    if let Some(t) = target {
        return harness::replay(c, t).await;
    }
    let embedded = Embedded::start(mutants).await?;
    let result = harness::replay(c, &embedded.spec).await;
    embedded.stop().await;
    result
}

/// `baton fuzz-import`: a case played against the embedded reference
/// server with `mutants` on and, when it diverges, shrunk into a
/// counterexample.
pub async fn shrink_case(
    case: Case,
    mutants: &[Mutant],
    budget: Budget,
) -> Result<Option<Counterexample>, RunError> {
    let embedded = Embedded::start(mutants).await?;
    let target = HttpTarget::connect(&embedded.spec, None)
        .await
        .map_err(|e| RunError::Usage(format!("cannot start the webhook sinks: {e}")))?;
    let result = harness::shrink_on(case, Arc::new(target), budget).await;
    embedded.stop().await;
    result
}
