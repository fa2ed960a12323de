//! Whole cases: what `baton run` plays, drawn by number from a seed.
//!
//! A case is a page with its PSIDs, a sequence of operations played one at
//! a time, and optionally **branches**: short lists of operations issued
//! concurrently after the sequence (`baton run --concurrent`, RACE-1). Each
//! branch is issued by one actor (an app, the user, the Page Inbox) and
//! plays its operations in order; the branches race each other.

use super::entropy::{Entropy, SplitMix64};
use super::ops::{CaseSetup, GenConfig, case};
use crate::model::apply;
use crate::model::op::{
    AppIx, AppRef, Call, InboxAction, Message, MessagingType, MsgRef, Op, UserEvent,
};
use crate::model::outcome::Party;
use crate::model::state::State;
use serde::{Deserialize, Serialize};

/// The page id every generated case is written with; a run plays each case
/// on a page of its own and files counterexamples under this id.
pub const CASE_PAGE_ID: &str = "100200300";

/// A case: the page and its PSIDs, the operations, and the branches played
/// concurrently after them (empty for a sequential case).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    #[serde(flatten)]
    pub setup: CaseSetup,
    pub ops: Vec<Op>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Vec<Op>>,
}

impl Case {
    /// A sequential case.
    pub fn new(setup: CaseSetup, ops: Vec<Op>) -> Case {
        Case {
            setup,
            ops,
            branches: Vec::new(),
        }
    }

    /// Whether the case ends with a concurrent phase.
    pub fn is_concurrent(&self) -> bool {
        !self.branches.is_empty()
    }

    /// Every operation: the sequence, then the branches.
    pub fn len(&self) -> usize {
        self.ops.len() + self.branches.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The random stream of case `index` of the run with `seed` (`salt` tells
/// kinds of case apart). The seed and number are mixed through one
/// SplitMix64 step first: SplitMix64 advances its state by a fixed
/// increment, so streams started at `seed ^ index * increment` would be the
/// same stream shifted, and a run's cases would replay each other's draws.
pub fn case_rng(seed: u64, index: u64, salt: u64) -> SplitMix64 {
    let mixed = SplitMix64::new(seed ^ salt ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64();
    SplitMix64::new(mixed)
}

/// The case with number `index` of the run with `seed`: independent of
/// which worker plays it, so a seed names the same cases on every machine.
pub fn nth_case(seed: u64, index: u64, cfg: &GenConfig, max_steps: usize) -> Case {
    let mut rng = case_rng(seed, index, 0);
    let steps = rng.range(1, max_steps.max(1) as u32) as usize;
    let (setup, ops) = case(&mut rng, cfg, CASE_PAGE_ID, steps);
    Case::new(setup, ops)
}

/// The concurrent case with number `index` of the run with `seed`: a
/// sequence of at most half `max_steps` (and 20), then 2–4 branches on one
/// known thread (a fifth of the cases: two). A third of the cases first
/// release the thread and open every branch with a take, to race for an
/// idle thread.
pub fn nth_concurrent_case(seed: u64, index: u64, cfg: &GenConfig, max_steps: usize) -> Case {
    let mut rng = case_rng(seed, index, 0xC0C0);
    let steps = rng.range(1, (max_steps / 2).clamp(1, 20) as u32) as usize;
    let (setup, mut ops) = case(&mut rng, cfg, CASE_PAGE_ID, steps);
    let mut st = State::new(setup.setup.clone());
    for op in &ops {
        apply(&mut st, op);
    }
    if st.threads.is_empty() {
        let op = Op::User(UserEvent::Message {
            psid: setup.psids[0].clone(),
            text: "hi".into(),
            quick_reply: None,
            platform: Default::default(),
        });
        apply(&mut st, &op);
        ops.push(op);
    }
    let known: Vec<String> = st.threads.keys().cloned().collect();
    let mut in_play = vec![rng.pick(&known).clone()];
    if known.len() > 1 && rng.chance(20) {
        let other = known.iter().find(|p| **p != in_play[0]).expect("two PSIDs");
        in_play.push(other.clone());
    }
    let race_idle = rng.chance(35);
    if race_idle && let Some(Party::App(owner)) = st.owner(&in_play[0]) {
        let op = call(
            &st,
            owner,
            Call::Release {
                psid: in_play[0].clone(),
            },
        );
        apply(&mut st, &op);
        ops.push(op);
    }
    let branches = branches(&mut rng, &st, &in_play, race_idle);
    Case {
        setup,
        ops,
        branches,
    }
}

/// Who issues a branch.
#[derive(Clone, Copy, PartialEq)]
enum Actor {
    App(AppIx),
    User,
    Inbox,
}

/// A well-formed call by `app`, with the proof it needs.
fn call(st: &State, app: AppIx, c: Call) -> Op {
    Op::Graph(st.setup.call(app, c))
}

/// Draws 2–4 branches of 1–3 operations on the PSIDs in play, for a page
/// in state `st`.
pub fn branches(
    e: &mut impl Entropy,
    st: &State,
    in_play: &[String],
    race_idle: bool,
) -> Vec<Vec<Op>> {
    let n = e.range(2, 4) as usize;
    let mut apps: Vec<AppIx> = st.setup.app_ixs().collect();
    // Shuffle, so that who races whom varies.
    for k in (1..apps.len()).rev() {
        let j = e.below(k as u32 + 1) as usize;
        apps.swap(k, j);
    }
    let mut actors = Vec::with_capacity(n);
    for b in 0..n {
        let actor = if b >= 2 && e.chance(25) {
            Actor::User
        } else if b >= 2 && e.chance(10) {
            Actor::Inbox
        } else {
            Actor::App(apps[b % apps.len()])
        };
        actors.push(actor);
    }
    actors
        .iter()
        .enumerate()
        .map(|(b, actor)| {
            let len = *e.pick(&[1, 1, 2, 2, 3]);
            (0..len)
                .map(|k| {
                    let psid = if in_play.len() > 1 && e.chance(35) {
                        in_play[1].clone()
                    } else {
                        in_play[0].clone()
                    };
                    let take_first = race_idle && k == 0 && b < 3;
                    branch_op(e, st, &psid, *actor, take_first)
                })
                .collect()
        })
        .collect()
}

fn branch_op(e: &mut impl Entropy, st: &State, psid: &str, actor: Actor, take: bool) -> Op {
    let p = psid.to_string();
    // User events and inbox actions name the thread's surface.
    let platform = st.surface(psid).unwrap_or_default();
    match actor {
        Actor::User => {
            let buttons: Vec<(usize, String)> = st
                .thread(psid)
                .map(|t| {
                    t.transcript
                        .iter()
                        .enumerate()
                        .filter_map(|(i, m)| m.buttons.first().map(|b| (i, b.payload.clone())))
                        .collect()
                })
                .unwrap_or_default();
            if !buttons.is_empty() && e.chance(30) {
                let (i, payload) = e.pick(&buttons).clone();
                Op::User(UserEvent::Postback {
                    psid: p,
                    message: MsgRef::Nth(i as u32),
                    payload,
                    title: None,
                    platform,
                })
            } else {
                Op::User(UserEvent::Message {
                    psid: p,
                    text: format!("user {}", e.below(100)),
                    quick_reply: None,
                    platform,
                })
            }
        }
        Actor::Inbox => {
            let action = match e.below(3) {
                0 => InboxAction::MoveToMain,
                1 => InboxAction::Reply {
                    text: "an admin here".into(),
                },
                _ => InboxAction::MarkDone,
            };
            Op::Inbox {
                psid: p,
                action,
                platform,
            }
        }
        Actor::App(app) => {
            let metadata = e.chance(50).then(|| format!("by {}", app.0));
            let n_apps = st.setup.apps.len() as u32;
            let c = if take {
                Call::Take { psid: p, metadata }
            } else {
                match e.weighted(&[30, 12, 12, 12, 12, 8, 6, 3]) {
                    Some(0) => Call::Take { psid: p, metadata },
                    Some(1) => Call::Request { psid: p, metadata },
                    Some(2) => Call::Release { psid: p },
                    Some(3) => Call::Pass {
                        psid: p,
                        target: match e.below(8) {
                            // The inbox of the thread's own surface.
                            0 if platform.is_instagram() => Some(AppRef::InstagramInbox),
                            0 => Some(AppRef::PageInbox),
                            1 => None,
                            _ => Some(AppRef::App(AppIx(e.below(n_apps) as u8))),
                        },
                        metadata,
                    },
                    Some(4) => Call::Send {
                        psid: p,
                        messaging_type: MessagingType::Response,
                        tag: None,
                        message: Message::Text {
                            text: format!("from app {}", app.0),
                            quick_replies: None,
                        },
                    },
                    Some(5) => Call::ThreadOwner { psid: p },
                    Some(6) => Call::Extend {
                        psid: p,
                        duration: *e.pick(&[3_600, 172_800, 604_800]),
                    },
                    _ => Call::Send {
                        psid: p,
                        messaging_type: MessagingType::Response,
                        tag: None,
                        message: Message::Survey {
                            title: Some(format!("survey {}", app.0)),
                        },
                    },
                }
            };
            call(st, app, c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_1_generated_branches_are_concurrent_and_on_known_threads() {
        let cfg = GenConfig::default();
        let mut takes = 0;
        for i in 0..200 {
            let cc = nth_concurrent_case(1, i, &cfg, 40);
            assert!((2..=4).contains(&cc.branches.len()));
            let mut st = State::new(cc.setup.setup.clone());
            for op in &cc.ops {
                apply(&mut st, op);
            }
            for ops in &cc.branches {
                assert!((1..=3).contains(&ops.len()));
                for op in ops {
                    let p = op.psid().expect("PSID-scoped");
                    assert!(st.threads.contains_key(p), "{op}");
                }
            }
            let first_takes = cc
                .branches
                .iter()
                .filter(|b| matches!(&b[0], Op::Graph(g) if matches!(g.call, Call::Take { .. })))
                .count();
            if first_takes >= 2 {
                takes += 1;
            }
        }
        assert!(takes >= 40, "only {takes} races for a take");
        assert_eq!(
            nth_concurrent_case(1, 5, &cfg, 40),
            nth_concurrent_case(1, 5, &cfg, 40)
        );
    }

    /// Concurrent cases race Instagram threads too, with the Instagram
    /// Inbox among the pass targets; Messenger-only ones never do.
    #[test]
    fn concurrent_branches_race_instagram_threads_too() {
        let count = |cfg: &GenConfig| {
            let (mut ig_ops, mut ig_inbox) = (0, 0);
            for i in 0..300 {
                let cc = nth_concurrent_case(9, i, cfg, 40);
                let mut st = State::new(cc.setup.setup.clone());
                for op in &cc.ops {
                    apply(&mut st, op);
                }
                for op in cc.branches.iter().flatten() {
                    let p = op.psid().expect("PSID-scoped");
                    if st.surface(p).is_some_and(|s| s.is_instagram()) {
                        ig_ops += 1;
                        if let Op::Graph(g) = op
                            && matches!(
                                g.call,
                                Call::Pass {
                                    target: Some(AppRef::InstagramInbox),
                                    ..
                                }
                            )
                        {
                            ig_inbox += 1;
                        }
                    }
                }
            }
            (ig_ops, ig_inbox)
        };
        let (ig_ops, ig_inbox) = count(&GenConfig::default());
        assert!(
            ig_ops >= 100,
            "only {ig_ops} branch operations on Instagram threads"
        );
        assert!(ig_inbox >= 1, "no pass to the Instagram Inbox in a branch");
        assert_eq!(count(&GenConfig::default().messenger_only()), (0, 0));
    }

    /// Neighbouring cases do not share draws (a stream shifted by one or two
    /// draws would).
    #[test]
    fn case_streams_are_independent() {
        let draws = |i: u64| -> Vec<u64> {
            let mut r = case_rng(1, i, 0);
            (0..50).map(|_| r.next_u64()).collect()
        };
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            for d in draws(i) {
                assert!(seen.insert(d), "case {i} repeats a draw of an earlier case");
            }
        }
    }

    #[test]
    fn cases_are_named_by_seed_and_number() {
        let cfg = GenConfig::default();
        assert_eq!(nth_case(7, 3, &cfg, 40), nth_case(7, 3, &cfg, 40));
        assert_ne!(nth_case(7, 3, &cfg, 40), nth_case(7, 4, &cfg, 40));
        let c = nth_case(7, 3, &cfg, 40);
        assert!(!c.is_concurrent() && (1..=40).contains(&c.ops.len()));
        assert_eq!(c.setup.setup.page_id, CASE_PAGE_ID);
        // A sequential case serializes without a `branches` key, so older
        // counterexamples and scenarios read the same.
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("branches").is_none(), "{json}");
    }
}
