//! Shrinking a failing case to a 1-minimal counterexample: removing any
//! single step (or branch, or branch operation), or simplifying any single
//! operation, no longer reproduces a divergence on the same rule.
//!
//! Removal goes as in delta debugging: chunks of half the sequential
//! steps, then quarters, down to single steps; for a concurrent case also
//! whole branches and single branch operations. Then each operation is
//! offered its simpler variants (default transport, no proof, no metadata,
//! fewer buttons, …). All of it repeats until a whole pass changes nothing.
//! Every try is a full replay from a reset of the target, because the
//! target's state is the thing under test and cannot be rewound. A race
//! may not show every time, so a concurrent candidate is replayed up to
//! [`TRIES`] times before it is taken not to fail.
//!
//! Whether a replay still fails is decided by
//! [`Divergence::reproduced_by`], the one test shared with the repeats of
//! a concurrent counterexample and the progress log.

use super::diff::Divergence;
use super::target::TargetError;
use crate::generate::Case;
use crate::model::{
    AppIx, Call, Caller, GraphOp, Message, MessagingType, MsgRef, Op, Proof, State, Transport,
    UserEvent, apply,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How many times a concurrent candidate is replayed before it is taken
/// not to fail.
pub const TRIES: u32 = 3;
/// How many times a shrunk concurrent counterexample is replayed for its
/// verdict ("always" or "maybe a race").
pub const REPEATS: u32 = 10;

/// Something that can play a case from a reset and report its first
/// divergence.
pub trait Replayer {
    fn replay(
        &mut self,
        case: &Case,
    ) -> impl std::future::Future<Output = Result<Option<Divergence>, TargetError>>;
}

/// Limits on shrinking; past them the best case so far is kept.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_replays: u32,
    pub max_time: Duration,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_replays: 3_000,
            max_time: Duration::from_secs(120),
        }
    }
}

impl Budget {
    /// The budget for a concurrent case: every candidate costs up to
    /// [`TRIES`] replays, so at most 600 replays and 30 s.
    pub fn concurrent(self) -> Budget {
        Budget {
            max_replays: self.max_replays.min(600),
            max_time: self.max_time.min(Duration::from_secs(30)),
        }
    }
}

/// How shrinking went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShrinkStats {
    pub replays: u32,
    pub millis: u64,
    pub steps_before: usize,
    pub steps_after: usize,
    /// False when the budget ran out before 1-minimality was established.
    pub minimal: bool,
    /// The shrunk concurrent case never failed again in its repeats, so the
    /// unshrunk case (which did) is reported instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept_original: bool,
}

/// The shrunk case and its divergence.
pub struct Shrunk {
    pub case: Case,
    pub divergence: Divergence,
    pub stats: ShrinkStats,
}

struct Search<'r, R> {
    replayer: &'r mut R,
    /// The divergence being shrunk.
    original: Divergence,
    tries: u32,
    replays: u32,
    budget: Budget,
    started: Instant,
}

impl<R: Replayer> Search<'_, R> {
    fn out_of_budget(&self) -> bool {
        self.replays >= self.budget.max_replays || self.started.elapsed() >= self.budget.max_time
    }

    /// Replays a candidate (up to `tries` times); `Some` when it still
    /// reproduces, cut after its divergence when that is a sequential step.
    async fn try_case(
        &mut self,
        candidate: Case,
    ) -> Result<Option<(Case, Divergence)>, TargetError> {
        for _ in 0..self.tries {
            if self.out_of_budget() {
                break;
            }
            self.replays += 1;
            let found = self.replayer.replay(&candidate).await?;
            if self.original.reproduced_by(found.as_ref()) {
                let d = found.expect("reproduced");
                return Ok(Some((cut(candidate, &d), d)));
            }
        }
        Ok(None)
    }
}

/// A case cut after a sequential divergence: later steps and the branches
/// played nothing.
fn cut(mut case: Case, d: &Divergence) -> Case {
    if !d.concurrent {
        case.ops.truncate(d.step + 1);
        case.branches.clear();
    }
    case
}

/// Shrinks `case`, which diverged with `divergence`, keeping a divergence
/// that reproduces it. Concurrent divergences replay each candidate up to
/// [`TRIES`] times.
pub async fn shrink<R: Replayer>(
    replayer: &mut R,
    case: Case,
    divergence: Divergence,
    budget: Budget,
) -> Result<Shrunk, TargetError> {
    let steps_before = case.len();
    let mut best = cut(case, &divergence);
    let tries = if divergence.concurrent { TRIES } else { 1 };
    let mut s = Search {
        replayer,
        original: divergence.clone(),
        tries,
        replays: 0,
        budget,
        started: Instant::now(),
    };
    let mut best_div = divergence;
    let mut minimal = false;
    'outer: while !s.out_of_budget() {
        let mut changed = false;

        // Drop whole branches (at least one stays).
        let mut b = 0;
        while best.branches.len() > 1 && b < best.branches.len() {
            if s.out_of_budget() {
                break 'outer;
            }
            let mut candidate = best.clone();
            candidate.branches.remove(b);
            if let Some((c, d)) = s.try_case(candidate).await? {
                (best, best_div, changed) = (c, d, true);
            } else {
                b += 1;
            }
        }

        // Remove chunks of steps, halving the chunk size down to single steps.
        let mut size = (best.ops.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start < best.ops.len() {
                if s.out_of_budget() {
                    break 'outer;
                }
                let end = (start + size).min(best.ops.len());
                let candidate = without(&best, start..end);
                if candidate.is_empty() {
                    start = end;
                    continue;
                }
                if let Some((c, d)) = s.try_case(candidate).await? {
                    (best, best_div, changed) = (c, d, true);
                } else {
                    start = end;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }

        // A simpler page: no primary receiver, no human-agent feature, no
        // required proof, one app fewer.
        for candidate in simpler_setups(&best) {
            if s.out_of_budget() {
                break 'outer;
            }
            if let Some((c, d)) = s.try_case(candidate).await? {
                (best, best_div, changed) = (c, d, true);
                break;
            }
        }

        // Drop single branch operations (a branch keeps at least one).
        let mut b = 0;
        while b < best.branches.len() {
            let mut k = 0;
            while best.branches[b].len() > 1 && k < best.branches[b].len() {
                if s.out_of_budget() {
                    break 'outer;
                }
                let mut candidate = best.clone();
                candidate.branches[b].remove(k);
                if let Some((c, d)) = s.try_case(candidate).await? {
                    (best, best_div, changed) = (c, d, true);
                } else {
                    k += 1;
                }
            }
            b += 1;
        }

        // Simplify single operations: the branches', then the steps'.
        let mut slot = 0;
        loop {
            let n_branch_ops: usize = best.branches.iter().map(Vec::len).sum();
            if slot >= n_branch_ops + best.ops.len() {
                break;
            }
            let op = op_at(&best, slot).clone();
            let mut simplified = false;
            for variant in simpler(&op, &best.setup.psids) {
                if s.out_of_budget() {
                    break 'outer;
                }
                let mut candidate = best.clone();
                *op_at_mut(&mut candidate, slot) = variant;
                if let Some((c, d)) = s.try_case(candidate).await? {
                    (best, best_div, changed) = (c, d, true);
                    simplified = true;
                    break;
                }
            }
            if !simplified {
                slot += 1;
            }
        }
        if !changed {
            minimal = true;
            break;
        }
    }
    let stats = ShrinkStats {
        replays: s.replays,
        millis: s.started.elapsed().as_millis() as u64,
        steps_before,
        steps_after: best.len(),
        minimal,
        kept_original: false,
    };
    Ok(Shrunk {
        case: best,
        divergence: best_div,
        stats,
    })
}

/// `case` without the steps of `range`. Postbacks after them name messages
/// by their position in the transcript, so each later postback is
/// renumbered to name the same message it named before (a removed step
/// that delivered messages moves every later message up).
pub fn without(case: &Case, range: std::ops::Range<usize>) -> Case {
    // The transcript positions each step of the case filled, per PSID.
    let mut st = State::new(case.setup.setup.clone());
    let mut removed: Vec<(String, u32)> = Vec::new();
    for (i, op) in case.ops.iter().enumerate() {
        let before: std::collections::BTreeMap<String, usize> = st
            .threads
            .iter()
            .map(|(p, t)| (p.clone(), t.transcript.len()))
            .collect();
        apply(&mut st, op);
        if range.contains(&i) {
            for (p, t) in &st.threads {
                let from = before.get(p).copied().unwrap_or(0);
                removed.extend((from..t.transcript.len()).map(|k| (p.clone(), k as u32)));
            }
        }
    }
    let renumber = |op: &mut Op| {
        if let Op::User(UserEvent::Postback {
            psid,
            message: MsgRef::Nth(n),
            ..
        }) = op
        {
            let shift = removed.iter().filter(|(p, k)| p == psid && *k < *n).count() as u32;
            *n -= shift;
        }
    };
    let mut out = case.clone();
    out.ops.drain(range.clone());
    for op in out.ops.iter_mut().skip(range.start) {
        renumber(op);
    }
    for b in &mut out.branches {
        for op in b.iter_mut() {
            renumber(op);
        }
    }
    out
}

/// The same case on simpler pages: without the primary receiver, without
/// an app's human-agent feature or required proof, without the last app
/// when no step names it.
fn simpler_setups(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    let setup = &case.setup.setup;
    let with = |f: &dyn Fn(&mut crate::model::Setup)| {
        let mut c = case.clone();
        f(&mut c.setup.setup);
        c
    };
    if setup.primary.is_some() {
        out.push(with(&|s| s.primary = None));
    }
    for i in 0..setup.apps.len() {
        if setup.apps[i].human_agent {
            out.push(with(&|s| s.apps[i].human_agent = false));
        }
        if setup.apps[i].require_appsecret_proof {
            out.push(with(&|s| s.apps[i].require_appsecret_proof = false));
        }
    }
    let last = AppIx(setup.apps.len().saturating_sub(1) as u8);
    let named = |op: &Op| match op {
        Op::Graph(g) => {
            g.caller == Caller::App(last)
                || matches!(&g.call, Call::Pass { target: Some(crate::model::AppRef::App(a)), .. } if *a == last)
        }
        Op::User(UserEvent::AdEntry {
            app: crate::model::AppRef::App(a),
            ..
        }) => *a == last,
        Op::Roles {
            primary: Some(crate::model::AppRef::App(a)),
        } => *a == last,
        _ => false,
    };
    let named_anywhere = case
        .ops
        .iter()
        .chain(case.branches.iter().flatten())
        .any(named);
    if setup.apps.len() > 2 && setup.primary != Some(last) && !named_anywhere {
        out.push(with(&|s| {
            s.apps.pop();
        }));
    }
    out
}

/// Operation `slot` of a case, counting the branches' operations first
/// (branch by branch), then the sequential steps.
fn op_at(case: &Case, mut slot: usize) -> &Op {
    for b in &case.branches {
        if slot < b.len() {
            return &b[slot];
        }
        slot -= b.len();
    }
    &case.ops[slot]
}

fn op_at_mut(case: &mut Case, mut slot: usize) -> &mut Op {
    for b in &mut case.branches {
        if slot < b.len() {
            return &mut b[slot];
        }
        slot -= b.len();
    }
    &mut case.ops[slot]
}

/// Replays a case `n` times; how many of them reproduced `d`.
pub async fn repeat<R: Replayer>(
    r: &mut R,
    case: &Case,
    d: &Divergence,
    n: u32,
) -> Result<u32, TargetError> {
    let mut failed = 0;
    for _ in 0..n {
        if d.reproduced_by(r.replay(case).await?.as_ref()) {
            failed += 1;
        }
    }
    Ok(failed)
}

/// The simpler variants of one operation, each strictly simpler (so
/// shrinking ends): fewer optional parts, default encodings, an app or PSID
/// that comes earlier in the setup.
pub fn simpler(op: &Op, psids: &[String]) -> Vec<Op> {
    let mut out = Vec::new();
    if let Some(p) = op.psid()
        && let Some(k) = psids.iter().position(|q| q == p)
    {
        for earlier in &psids[..k] {
            let mut v = op.clone();
            if let Some(p) = v.psid_mut() {
                *p = earlier.clone();
            }
            out.push(v);
        }
    }
    match op {
        Op::Graph(g) => {
            if let Caller::App(a) = g.caller {
                for b in 0..a.0 {
                    let mut g = g.clone();
                    g.caller = Caller::App(crate::model::AppIx(b));
                    out.push(Op::Graph(g));
                }
            }
            let with = |f: &dyn Fn(&mut GraphOp)| {
                let mut g = g.clone();
                f(&mut g);
                Op::Graph(g)
            };
            if !g.transport.is_default() {
                out.push(with(&|g| g.transport = Transport::default()));
            }
            if g.proof != Proof::Absent {
                out.push(with(&|g| g.proof = Proof::Absent));
            }
            if g.caller == Caller::Empty {
                out.push(with(&|g| g.caller = Caller::Missing));
            }
            for call in simpler_call(&g.call) {
                out.push(with(&|g| g.call = call.clone()));
            }
        }
        Op::User(UserEvent::Message {
            psid,
            text,
            quick_reply: Some(_),
            platform,
        }) => {
            out.push(Op::User(UserEvent::Message {
                psid: psid.clone(),
                text: text.clone(),
                quick_reply: None,
                platform: *platform,
            }));
        }
        Op::User(UserEvent::Postback {
            psid,
            message,
            payload,
            title: Some(_),
            platform,
        }) => {
            out.push(Op::User(UserEvent::Postback {
                psid: psid.clone(),
                message: message.clone(),
                payload: payload.clone(),
                title: None,
                platform: *platform,
            }));
        }
        Op::User(UserEvent::Menu {
            psid,
            payload,
            title: Some(_),
            platform,
        }) => {
            out.push(Op::User(UserEvent::Menu {
                psid: psid.clone(),
                payload: payload.clone(),
                title: None,
                platform: *platform,
            }));
        }
        _ => {}
    }
    out
}

fn simpler_call(call: &Call) -> Vec<Call> {
    let mut out = Vec::new();
    match call {
        Call::Send {
            psid,
            messaging_type,
            tag,
            message,
        } => {
            let send = |messaging_type, tag: Option<String>, message| Call::Send {
                psid: psid.clone(),
                messaging_type,
                tag,
                message,
            };
            if *messaging_type == MessagingType::Update {
                out.push(send(MessagingType::Response, tag.clone(), message.clone()));
            }
            match message {
                Message::Text {
                    text,
                    quick_replies: Some(_),
                } => {
                    out.push(send(
                        *messaging_type,
                        tag.clone(),
                        Message::Text {
                            text: text.clone(),
                            quick_replies: None,
                        },
                    ));
                }
                Message::Buttons { text, buttons } if buttons.len() > 1 => {
                    let buttons = buttons[..1].to_vec();
                    out.push(send(
                        *messaging_type,
                        tag.clone(),
                        Message::Buttons {
                            text: text.clone(),
                            buttons,
                        },
                    ));
                }
                Message::Survey { title: Some(_) } => {
                    out.push(send(
                        *messaging_type,
                        tag.clone(),
                        Message::Survey { title: None },
                    ));
                }
                _ => {}
            }
        }
        Call::Pass {
            psid,
            target,
            metadata: Some(_),
        } => {
            out.push(Call::Pass {
                psid: psid.clone(),
                target: target.clone(),
                metadata: None,
            });
        }
        Call::Take {
            psid,
            metadata: Some(_),
        } => out.push(Call::Take {
            psid: psid.clone(),
            metadata: None,
        }),
        Call::Request {
            psid,
            metadata: Some(_),
        } => out.push(Call::Request {
            psid: psid.clone(),
            metadata: None,
        }),
        Call::SetPageMenu { items, platform } if items.len() > 1 => out.push(Call::SetPageMenu {
            items: items[..1].to_vec(),
            platform: platform.clone(),
        }),
        Call::SetUserMenu { psid, items } if items.len() > 1 => {
            out.push(Call::SetUserMenu {
                psid: psid.clone(),
                items: items[..1].to_vec(),
            });
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, GenConfig, SplitMix64};
    use crate::harness::diff::Difference;
    use crate::model::{AppIx, Rule, State, apply};

    /// A fake target: "diverges" on CTRL-4 at the first refused non-owner
    /// send, like a target that lets non-owners send.
    struct Fake {
        replays: u32,
    }

    impl Replayer for Fake {
        async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
            self.replays += 1;
            let mut st = State::new(case.setup.setup.clone());
            for (i, op) in case.ops.iter().enumerate() {
                let out = apply(&mut st, op);
                if out.decided_by == Rule::Ctrl4 && out.is_refusal() {
                    return Ok(Some(Divergence {
                        step: i,
                        op: Some(op.clone()),
                        concurrent: false,
                        rules: vec![Rule::Ctrl4],
                        strict: true,
                        difference: Difference::Signature {
                            app: AppIx(0),
                            present: false,
                        },
                    }));
                }
            }
            Ok(None)
        }
    }

    #[tokio::test]
    async fn shrinks_to_a_one_minimal_case() {
        let mut found = 0;
        for seed in 0..40 {
            let (cs, ops) =
                generate::case(&mut SplitMix64::new(seed), &GenConfig::default(), "1", 40);
            let case = Case::new(cs, ops);
            let mut fake = Fake { replays: 0 };
            let Some(d) = fake.replay(&case).await.unwrap() else {
                continue;
            };
            found += 1;
            let shrunk = shrink(&mut fake, case, d, Budget::default()).await.unwrap();
            assert!(shrunk.stats.minimal);
            // A non-owner send needs a known PSID, an owner (set by the
            // primary, a take or pass, or a button sent and tapped) and the send.
            assert!(
                shrunk.case.ops.len() <= 4,
                "seed {seed}: {:#?}",
                shrunk.case.ops
            );
            // 1-minimal: no single removal or simplification still fails.
            for i in 0..shrunk.case.ops.len() {
                let mut c = shrunk.case.clone();
                c.ops.remove(i);
                assert!(
                    fake.replay(&c).await.unwrap().is_none(),
                    "seed {seed}: step {i} was removable"
                );
                for v in simpler(&shrunk.case.ops[i], &shrunk.case.setup.psids) {
                    let mut c = shrunk.case.clone();
                    c.ops[i] = v;
                    assert!(
                        fake.replay(&c).await.unwrap().is_none(),
                        "seed {seed}: step {i} was simplifiable"
                    );
                }
            }
        }
        assert!(
            found >= 5,
            "too few failing cases to test shrinking ({found})"
        );
    }

    #[test]
    fn simplifications_are_strictly_simpler() {
        let op = Op::Graph(GraphOp {
            caller: Caller::App(AppIx(0)),
            proof: Proof::Wrong,
            call: Call::Take {
                psid: "1".into(),
                metadata: Some("m".into()),
            },
            transport: Transport {
                page_node: true,
                ..Transport::default()
            },
        });
        let psids = vec!["1".to_string()];
        let variants = simpler(&op, &psids);
        assert_eq!(variants.len(), 3);
        for v in &variants {
            assert!(simpler(v, &psids).len() < variants.len());
        }
        // Later apps and PSIDs give way to earlier ones.
        let op = Op::Graph(GraphOp::by(AppIx(2), Call::Release { psid: "3".into() }));
        let psids: Vec<String> = ["1", "2", "3"].map(String::from).to_vec();
        let variants = simpler(&op, &psids);
        assert_eq!(variants.len(), 4);
        assert!(variants.contains(&Op::Graph(GraphOp::by(
            AppIx(0),
            Call::Release { psid: "3".into() }
        ))));
        assert!(variants.contains(&Op::Graph(GraphOp::by(
            AppIx(2),
            Call::Release { psid: "1".into() }
        ))));
    }
}
