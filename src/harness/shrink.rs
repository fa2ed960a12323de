//! Shrinking a failing case to a 1-minimal counterexample: removing any
//! single step, or simplifying any single operation, no longer reproduces a
//! divergence on the same rule.
//!
//! Removal goes as in delta debugging: chunks of half the case, then
//! quarters, down to single steps. Then each operation is offered its
//! simpler variants (default transport, no proof, no metadata, fewer
//! buttons, …). Both repeat until a whole pass changes nothing. Every try is
//! a full replay from a reset of the target, because the target's state is
//! the thing under test and cannot be rewound.

use super::diff::Divergence;
use super::driver::Case;
use super::target::TargetError;
use crate::model::{
    Call, Caller, GraphOp, Message, MessagingType, Op, Proof, Rule, Transport, UserEvent,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

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

/// How shrinking went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShrinkStats {
    pub replays: u32,
    pub millis: u64,
    pub steps_before: usize,
    pub steps_after: usize,
    /// False when the budget ran out before 1-minimality was established.
    pub minimal: bool,
}

/// The shrunk case and its divergence.
pub struct Shrunk {
    pub case: Case,
    pub divergence: Divergence,
    pub stats: ShrinkStats,
}

struct Search<'r, R> {
    replayer: &'r mut R,
    rule: Rule,
    replays: u32,
    budget: Budget,
    started: Instant,
}

impl<R: Replayer> Search<'_, R> {
    fn out_of_budget(&self) -> bool {
        self.replays >= self.budget.max_replays || self.started.elapsed() >= self.budget.max_time
    }

    /// Replays a candidate; `Some` (cut after its divergence) when it
    /// still diverges on the rule being shrunk.
    async fn try_case(
        &mut self,
        candidate: Case,
    ) -> Result<Option<(Case, Divergence)>, TargetError> {
        self.replays += 1;
        match self.replayer.replay(&candidate).await? {
            Some(d) if d.rules.contains(&self.rule) => {
                let mut c = candidate;
                c.ops.truncate(d.step + 1);
                Ok(Some((c, d)))
            }
            _ => Ok(None),
        }
    }
}

/// Shrinks `case`, which diverged with `divergence`, keeping a divergence
/// on `divergence.rule()`.
pub async fn shrink<R: Replayer>(
    replayer: &mut R,
    case: Case,
    divergence: Divergence,
    budget: Budget,
) -> Result<Shrunk, TargetError> {
    let steps_before = case.ops.len();
    let mut s = Search {
        replayer,
        rule: divergence.rule(),
        replays: 0,
        budget,
        started: Instant::now(),
    };
    let mut best = case;
    best.ops.truncate(divergence.step + 1);
    let mut best_div = divergence;
    let mut minimal = false;
    'outer: while !s.out_of_budget() {
        let mut changed = false;

        // Remove chunks, halving the chunk size down to single steps.
        let mut size = (best.ops.len() / 2).max(1);
        loop {
            let mut start = 0;
            while start < best.ops.len() {
                if s.out_of_budget() {
                    break 'outer;
                }
                let end = (start + size).min(best.ops.len());
                let mut candidate = best.clone();
                candidate.ops.drain(start..end);
                if candidate.ops.is_empty() {
                    start = end;
                    continue;
                }
                if let Some((c, d)) = s.try_case(candidate).await? {
                    best = c;
                    best_div = d;
                    changed = true;
                } else {
                    start = end;
                }
            }
            if size == 1 {
                break;
            }
            size /= 2;
        }

        // Simplify single operations.
        let mut i = 0;
        while i < best.ops.len() {
            let mut simplified = false;
            for variant in simpler(&best.ops[i], &best.setup.psids) {
                if s.out_of_budget() {
                    break 'outer;
                }
                let mut candidate = best.clone();
                candidate.ops[i] = variant;
                if let Some((c, d)) = s.try_case(candidate).await? {
                    best = c;
                    best_div = d;
                    changed = true;
                    simplified = true;
                    break;
                }
            }
            if !simplified {
                i += 1;
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
        steps_after: best.ops.len(),
        minimal,
    };
    Ok(Shrunk {
        case: best,
        divergence: best_div,
        stats,
    })
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
    use crate::harness::diff::Kind;
    use crate::model::{AppIx, State, apply};

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
                        op: op.to_string(),
                        kind: Kind::Answer,
                        rules: vec![Rule::Ctrl4],
                        strict: true,
                        expected: String::new(),
                        observed: String::new(),
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
            let case = Case { setup: cs, ops };
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
