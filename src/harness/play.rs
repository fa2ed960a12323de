//! A whole case played from a reset of its page: the sequential steps on
//! a [`Session`], stopping at the first divergence, then (for a concurrent
//! case) the concurrent phase.

use super::concurrent;
use super::diff;
use super::linearize::CheckOptions;
use super::session::{DriverOptions, Played, Session, TraceStep};
use super::target::{Target, TargetError};
use crate::generate::Case;
use std::sync::Arc;

/// Plays a whole case from a reset of its page, stopping at the first
/// divergence; a concurrent case ends with its concurrent phase.
pub async fn play(
    target: Arc<dyn Target>,
    opts: DriverOptions,
    case: &Case,
    generation: u64,
    secret_seed: &str,
    check: CheckOptions,
) -> Result<Played, TargetError> {
    let mut s = Session::start(target, opts, &case.setup, generation, secret_seed).await?;
    let mut played = Played::default();
    for (i, op) in case.ops.iter().enumerate() {
        let (expected, observed, div) = s.step(i, op).await?;
        played.rules = played.rules.union(expected.rules);
        played.counts.add(expected.rules);
        if let Some(o) = &observed {
            played.trace.push(TraceStep {
                expected: diff::describe_expected(i, op, &expected),
                observed: o.describe(i, op, &s.model.setup),
            });
        }
        played.steps = i + 1;
        if div.is_some() {
            played.requests = s.requests;
            played.divergence = div;
            return Ok(played);
        }
    }
    if case.is_concurrent() {
        played.steps = case.len();
        let result = concurrent::phase(&mut s, case, check, &mut played).await;
        played.divergence = result?;
    }
    played.requests = s.requests;
    Ok(played)
}
