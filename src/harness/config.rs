//! What a run is configured with, how the configuration shows in a report
//! (secrets redacted), and why a run can fail to happen at all.

use super::events::{Observer, RunEvent};
use super::shrink::Budget;
use super::target::TargetError;
use crate::generate::{GenConfig, SplitMix64};
use crate::model::Rule;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use super::counterexample::Subject;

/// Where the implementation under test is.
#[derive(Clone)]
pub struct TargetSpec {
    /// Graph API origin, e.g. `http://127.0.0.1:8080`.
    pub graph: String,
    /// Control API base; `None`: `<graph>/conformance`.
    pub control: Option<String>,
    /// The control key (`X-Conformance-Key`); never shown.
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
    /// The target; `None` until someone (the CLI, [`crate::embedded`])
    /// says which. The harness itself starts nothing.
    pub target: Option<TargetSpec>,
    /// Names of the deliberate bugs switched on in the target, when the
    /// caller started it with some (the embedded server's mutants); shown
    /// in reports only.
    pub mutants: Vec<String>,
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
    /// Handed each counterexample as soon as it is shrunk (`baton run
    /// --console` shows it); `None`: nobody asks.
    pub on_counterexample: Option<OnCounterexample>,
}

/// A callback for each shrunk counterexample of a run; called from the
/// workers.
#[derive(Clone)]
pub struct OnCounterexample(
    pub std::sync::Arc<dyn Fn(&super::counterexample::Counterexample) + Send + Sync>,
);

impl std::fmt::Debug for OnCounterexample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnCounterexample")
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
            on_counterexample: None,
        }
    }
}

impl RunConfig {
    pub(super) fn emit(&self, e: RunEvent) {
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
            "mutants": self.mutants,
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

    /// Refuses configurations that cannot run (exit code 2).
    pub fn check(&self) -> Result<(), RunError> {
        if self.jobs == 0 {
            return Err(RunError::Usage("--jobs must be at least 1".into()));
        }
        if self.max_steps == 0 {
            return Err(RunError::Usage("--max-steps must be at least 1".into()));
        }
        Ok(())
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

impl From<TargetError> for RunError {
    fn from(e: TargetError) -> RunError {
        RunError::Target(e)
    }
}

/// A fresh id for one run (64 bits as hex): the pages, tokens and secrets
/// of the run derive from it, so two runs against one target never share a
/// page or a token. Mixed from the time, the process and a counter.
pub fn run_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mut rng = SplitMix64::new(
        nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9),
    );
    format!("{:016x}", rng.next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(
            redact_url("https://user:pw@host:1/graph?access_token=x#f"),
            "https://[redacted]@host:1/graph"
        );
        assert_eq!(redact_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn run_ids_differ() {
        let a = run_id();
        let b = run_id();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
