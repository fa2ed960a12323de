//! The linearizability checker for RACE-1: pure, no I/O.
//!
//! Given one thread's starting state (the model after the sequential
//! prefix) and what was observed while several apps called concurrently
//! (each operation's answer and its invocation/response times, every
//! webhook delivery about the PSID, the final transcript and `thread_owner`
//! as seen by each app afterwards), it decides whether some sequential
//! order of the operations that respects real-time order (an operation
//! that answered before another was sent comes first) makes the model
//! produce exactly those observations.
//!
//! The search is Wing & Gong's depth-first search over the operations that
//! may come next (those all of whose real-time predecessors are already
//! placed), with Lowe's memoization as in Porcupine: a node is the set of
//! operations placed, the model's thread state (message ids left out, as
//! they are opaque labels the differ never compares) and which observed
//! deliveries are still unexplained; a node seen before is never expanded
//! again. Deliveries are attributed by matching: when an operation is
//! placed, each webhook event the model expects from it must be one of the
//! observed events not yet claimed (same app, channel and event, ids and
//! timestamps aside); at the end none may be left. Their arrival order is
//! not used: under concurrency it says little, and per-app order (HOOK-6)
//! is a SHOULD, so it cannot make a MUST verdict. What the user received is
//! checked as the order is built: every message the model delivers must be
//! the next entry of the observed transcript.
//!
//! The search is bounded by a number of nodes and a time limit; hitting
//! either gives [`Verdict::Undecided`], never a failure.

use super::diff::{Seen, branch_label};
use crate::model::{
    Answer, AppIx, Call, Caller, Channel, Event, EventKind, GraphAnswer, GraphError, GraphOp,
    GraphSuccess, MessageKind, ObservedAnswer, Op, Outcome, Party, State, Thread, apply,
    judge_control, judge_graph,
};
use crate::wire::control::TranscriptItem;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The most operations one thread's history may have (a bit set of them is
/// part of every memo key).
pub const MAX_OPS: usize = 128;

/// One operation of a concurrent history.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryOp {
    pub op: Op,
    /// Which concurrent branch issued it.
    pub branch: usize,
    /// Invocation and response, in any monotonic unit (the harness uses
    /// microseconds since the concurrent phase began).
    pub start: u64,
    pub end: u64,
    pub observed: Seen,
}

/// Everything observed about one thread during a concurrent phase.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadHistory {
    pub psid: String,
    pub ops: Vec<HistoryOp>,
    /// Every webhook event about this PSID, to whichever app.
    pub deliveries: Vec<(AppIx, Channel, Event)>,
    /// The whole transcript afterwards, when the target can tell it.
    pub transcript: Option<Vec<TranscriptItem>>,
    /// `thread_owner` afterwards, asked by each of these apps.
    pub owners: Vec<(AppIx, ObservedAnswer)>,
}

/// Bounds on one search.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_nodes: u64,
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_nodes: 5_000_000,
            max_time: Duration::from_secs(5),
        }
    }
}

/// How answers compare.
#[derive(Clone, Copy, Debug, Default)]
pub struct Matching {
    /// Refusals must carry the expected `code` and `error_subcode`. Without
    /// it, another 4xx refusal than the expected one matches unless the
    /// code is binding (CTRL-4, AUTH-1): it is a non-strict deviation, which
    /// the sequential steps report, and must not turn into a RACE-1 failure.
    pub strict_codes: bool,
}

/// How a concurrent phase is checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub matching: Matching,
    pub limits: Limits,
}

impl CheckOptions {
    /// The bounds a run uses: 2,000,000 nodes or 2 s per thread.
    pub fn for_run(strict: bool) -> CheckOptions {
        CheckOptions {
            matching: Matching {
                strict_codes: strict,
            },
            limits: Limits {
                max_nodes: 2_000_000,
                max_time: Duration::from_secs(2),
            },
        }
    }
}

/// The checker's answer.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// `order` (indices into the history's operations) explains everything;
    /// `outcomes` are the model's outcomes in that order.
    Linearizable {
        order: Vec<usize>,
        outcomes: Vec<Outcome>,
        nodes: u64,
    },
    /// No order explains the observations. `placed` is the longest order
    /// found that explained everything up to it, `reason` why nothing could
    /// follow it (or why it could not end there).
    NotLinearizable {
        placed: Vec<usize>,
        reason: String,
        nodes: u64,
    },
    /// The bound was hit before a verdict.
    Undecided { nodes: u64 },
}

impl Verdict {
    pub fn is_undecided(&self) -> bool {
        matches!(self, Verdict::Undecided { .. })
    }
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
    pub fn nodes(&self) -> u64 {
        match self {
            Verdict::Linearizable { nodes, .. }
            | Verdict::NotLinearizable { nodes, .. }
            | Verdict::Undecided { nodes } => *nodes,
        }
    }
}

/// The state of one thread as the memo key sees it: everything but
/// message ids.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Canon {
    owner: Option<Party>,
    deadline_ms: u64,
    done: bool,
    menu: Option<(AppIx, Vec<(String, String)>)>,
    held: Vec<(AppIx, String)>,
    transcript: Vec<(Party, MessageKind, String, usize)>,
}

fn canon(t: Option<&Thread>) -> Option<Canon> {
    let t = t?;
    Some(Canon {
        owner: t.owner,
        deadline_ms: t.deadline_ms,
        done: t.folder == crate::model::Folder::Done,
        menu: t.user_menu.as_ref().map(|m| {
            (
                m.set_by,
                m.items
                    .iter()
                    .map(|c| (c.title.clone(), c.payload.clone()))
                    .collect(),
            )
        }),
        held: t.held.iter().map(|h| (h.from, h.title.clone())).collect(),
        transcript: t
            .transcript
            .iter()
            .map(|m| {
                (
                    m.entry.from,
                    m.entry.kind,
                    m.entry.text.clone(),
                    m.buttons.len(),
                )
            })
            .collect(),
    })
}

/// Whether an observed answer can be what the model answers here: the
/// same, or (without `--strict`) another refusal code that the sequential
/// steps report as a non-strict deviation ([`judge_graph`]).
pub fn acceptable(obs: &Seen, out: &Outcome, m: Matching) -> bool {
    match (obs, &out.answer) {
        (Seen::Graph(o), Answer::Graph(w)) => {
            judge_graph(w, out.decided_by, o).acceptable(m.strict_codes)
        }
        (Seen::Control(o), Answer::Control(w)) => judge_control(w, o),
        _ => false,
    }
}

/// The `thread_owner` call an app makes to look at a thread afterwards.
pub fn owner_probe(st: &State, asker: AppIx, psid: &str) -> Op {
    Op::Graph(st.setup.call(
        asker,
        Call::ThreadOwner {
            psid: psid.to_string(),
        },
    ))
}

type Key = (u128, Option<Canon>, Vec<u16>);

struct Search<'a> {
    h: &'a ThreadHistory,
    m: Matching,
    /// For each operation, the operations that answered before it was sent.
    preds: Vec<u128>,
    all: u128,
    /// Distinct observed deliveries; the memo key counts how many of each
    /// are still unexplained.
    classes: Vec<(AppIx, Channel, Event)>,
    seen: HashSet<Key>,
    nodes: u64,
    limits: Limits,
    started: Instant,
    best: (Vec<usize>, String),
    order: Vec<usize>,
    outcomes: Vec<Outcome>,
}

struct OutOfBudget;

impl Search<'_> {
    /// Whether a failure here explains more than the best one so far.
    fn wants_reason(&self) -> bool {
        self.order.len() > self.best.0.len() || self.best.1.is_empty()
    }

    fn set_reason(&mut self, reason: String) {
        self.best = (self.order.clone(), reason);
    }

    fn describe(&self, i: usize) -> String {
        let o = &self.h.ops[i];
        format!("[{}] {}", branch_label(o.branch), o.op)
    }

    fn dfs(&mut self, done: u128, st: &State, remaining: &[u16]) -> Result<bool, OutOfBudget> {
        if done == self.all {
            return Ok(self.finish(st, remaining));
        }
        let psid = self.h.psid.as_str();
        for i in 0..self.h.ops.len() {
            let bit = 1u128 << i;
            if done & bit != 0 || self.preds[i] & !done != 0 {
                continue;
            }
            self.nodes += 1;
            if self.nodes >= self.limits.max_nodes
                || (self.nodes.is_multiple_of(512)
                    && self.started.elapsed() >= self.limits.max_time)
            {
                return Err(OutOfBudget);
            }
            let mut next = st.clone();
            let out = apply(&mut next, &self.h.ops[i].op);
            if !acceptable(&self.h.ops[i].observed, &out, self.m) {
                if self.wants_reason() {
                    let r = {
                        format!(
                            "{} answered {}, but placed here the model answers {}",
                            self.describe(i),
                            self.h.ops[i].observed,
                            out.answer
                        )
                    };
                    self.set_reason(r);
                }
                continue;
            }
            if let Some(want) = &self.h.transcript {
                let before = st.thread(psid).map_or(0, |t| t.transcript.len());
                let after: Vec<_> = next.transcript(psid).skip(before).collect();
                let mismatch = after.iter().enumerate().find(|(k, e)| {
                    let item = TranscriptItem::from_entry(e, &next.setup);
                    want.get(before + k).is_none_or(|w| {
                        w.from_app_id != item.from_app_id
                            || w.kind != item.kind
                            || w.text != item.text
                    })
                });
                if let Some((k, e)) = mismatch {
                    if self.wants_reason() {
                        let r = {
                            format!(
                                "{} placed here delivers {} {:?} to the user as message #{}, which the transcript does not show there",
                                self.describe(i),
                                e.kind.as_str(),
                                e.text,
                                before + k
                            )
                        };
                        self.set_reason(r);
                    }
                    continue;
                }
            }
            let mut rem = remaining.to_vec();
            let mut missing = None;
            for d in &out.deliveries {
                let ev = d.event.normalized();
                match self
                    .classes
                    .iter()
                    .position(|(a, c, e)| *a == d.app && *c == d.channel && *e == ev)
                {
                    Some(k) if rem[k] > 0 => rem[k] -= 1,
                    _ => {
                        missing = Some(format!("{} {} {ev}", d.app, d.channel));
                        break;
                    }
                }
            }
            if let Some(miss) = missing {
                if self.wants_reason() {
                    let r = {
                        format!(
                            "{} placed here sends the webhook {miss}, which no unexplained delivery matches",
                            self.describe(i)
                        )
                    };
                    self.set_reason(r);
                }
                continue;
            }
            let key = (done | bit, canon(next.thread(psid)), rem.clone());
            if self.seen.contains(&key) {
                continue;
            }
            self.seen.insert(key);
            if let Some(k) = self.orphan(done | bit, &rem) {
                if self.wants_reason() {
                    let (a, c, e) = &self.classes[k];
                    let r = format!(
                        "after {} no operation left can explain the delivery {a} {c} {e}",
                        self.describe(i)
                    );
                    self.set_reason(r);
                }
                continue;
            }
            self.order.push(i);
            self.outcomes.push(out);
            if self.dfs(done | bit, &next, &rem)? {
                return Ok(true);
            }
            self.order.pop();
            self.outcomes.pop();
        }
        Ok(false)
    }

    /// An unexplained delivery that no operation still to be placed could
    /// produce, whatever the state (a necessary condition, so pruning on it
    /// is sound): such a node has no completion.
    fn orphan(&self, done: u128, remaining: &[u16]) -> Option<usize> {
        remaining.iter().enumerate().find_map(|(k, n)| {
            let event = &self.classes[k].2.kind;
            let producible = *n == 0
                || self
                    .h
                    .ops
                    .iter()
                    .enumerate()
                    .any(|(i, o)| done & (1u128 << i) == 0 && could_produce(&o.op, event));
            (!producible).then_some(k)
        })
    }

    /// Every operation is placed: nothing may be left unexplained.
    fn finish(&mut self, st: &State, remaining: &[u16]) -> bool {
        let psid = self.h.psid.as_str();
        if let Some(k) = remaining.iter().position(|n| *n > 0) {
            let (a, c, e) = &self.classes[k];
            let text = format!("{a} {c} {e}");
            if self.wants_reason() {
                let r =
                    { format!("in this order the delivery {text} is explained by no operation") };
                self.set_reason(r);
            }
            return false;
        }
        if let Some(want) = &self.h.transcript {
            let len = st.thread(psid).map_or(0, |t| t.transcript.len());
            if want.len() != len {
                if self.wants_reason() {
                    let r = {
                        format!(
                            "in this order the user receives {len} messages in all, but the transcript holds {}",
                            want.len()
                        )
                    };
                    self.set_reason(r);
                }
                return false;
            }
        }
        for (asker, got) in &self.h.owners {
            if st.thread(psid).is_none() {
                break;
            }
            let want = apply(&mut st.clone(), &owner_probe(st, *asker, psid));
            if let Answer::Graph(w) = &want.answer
                && !got.matches(w)
            {
                let (g, w) = (GraphAnswer(&got.answer), GraphAnswer(w));
                if self.wants_reason() {
                    let r = {
                        format!(
                            "in this order thread_owner asked by {asker} afterwards answers {w}, but it answered {g}"
                        )
                    };
                    self.set_reason(r);
                }
                return false;
            }
        }
        true
    }
}

/// Whether `op` can ever send a webhook event like `event` (by its kind
/// and the fields the operation itself supplies).
fn could_produce(op: &Op, event: &EventKind) -> bool {
    use crate::model::{InboxAction, UserEvent};
    let by = |g: &GraphOp, a: &AppIx| g.caller == Caller::App(*a);
    match (op, event) {
        (Op::User(UserEvent::Message { text: t, .. }), EventKind::Message { text, .. })
        | (Op::User(UserEvent::AdEntry { text: t, .. }), EventKind::Message { text, .. }) => {
            t == text
        }
        (
            Op::User(UserEvent::Postback { .. } | UserEvent::Menu { .. }),
            EventKind::Postback { .. },
        ) => true,
        (
            Op::Graph(g),
            EventKind::PassThreadControl {
                new_owner,
                metadata,
                ..
            },
        ) => match &g.call {
            Call::Pass { metadata: m, .. } => m == metadata,
            Call::Request { metadata: m, .. } => {
                m == metadata && matches!(new_owner, Party::App(a) if by(g, a))
            }
            _ => false,
        },
        (
            Op::Graph(g),
            EventKind::TakeThreadControl {
                new_owner,
                metadata,
                ..
            },
        ) => {
            matches!(&g.call, Call::Take { metadata: m, .. } if m == metadata)
                && matches!(new_owner, Party::App(a) if by(g, a))
        }
        (
            Op::Graph(g),
            EventKind::RequestThreadControl {
                requested_owner,
                metadata,
            },
        ) => {
            matches!(&g.call, Call::Request { metadata: m, .. } if m == metadata)
                && by(g, requested_owner)
        }
        (Op::Graph(g), EventKind::PassThreadMetadata { app, metadata }) => {
            matches!(&g.call, Call::PassMetadata { metadata: m, .. } if m == metadata) && by(g, app)
        }
        (Op::Inbox { action, .. }, EventKind::TakeThreadControl { new_owner, .. }) => {
            new_owner.is_inbox() && !matches!(action, InboxAction::MarkDone)
        }
        (Op::Inbox { action, .. }, EventKind::PassThreadControl { .. }) => {
            matches!(action, InboxAction::MarkDone)
        }
        _ => false,
    }
}

/// Decides one thread's history. `initial` is the page before the
/// concurrent phase; only the history's PSID is looked at.
pub fn check(initial: &State, h: &ThreadHistory, m: Matching, limits: Limits) -> Verdict {
    let n = h.ops.len();
    if n > MAX_OPS {
        return Verdict::Undecided { nodes: 0 };
    }
    // The other threads cannot matter (CTRL-6); leaving them out makes
    // every clone cheap.
    let mut st = initial.clone();
    st.threads.retain(|p, _| *p == h.psid);
    let preds: Vec<u128> = h
        .ops
        .iter()
        .map(|a| {
            h.ops
                .iter()
                .enumerate()
                .filter(|(_, b)| b.end < a.start)
                .fold(0u128, |m, (j, _)| m | 1u128 << j)
        })
        .collect();
    let mut classes: Vec<(AppIx, Channel, Event)> = Vec::new();
    let mut counts: Vec<u16> = Vec::new();
    for (a, c, e) in &h.deliveries {
        let e = e.normalized();
        match classes
            .iter()
            .position(|(x, y, z)| x == a && y == c && *z == e)
        {
            Some(k) => counts[k] = counts[k].saturating_add(1),
            None => {
                classes.push((*a, *c, e));
                counts.push(1);
            }
        }
    }
    let all = if n == MAX_OPS {
        u128::MAX
    } else {
        (1u128 << n) - 1
    };
    let mut s = Search {
        h,
        m,
        preds,
        all,
        classes,
        seen: HashSet::new(),
        nodes: 0,
        limits,
        started: Instant::now(),
        best: (Vec::new(), String::new()),
        order: Vec::with_capacity(n),
        outcomes: Vec::with_capacity(n),
    };
    match s.dfs(0, &st, &counts) {
        Ok(true) => Verdict::Linearizable {
            order: s.order,
            outcomes: s.outcomes,
            nodes: s.nodes,
        },
        Ok(false) => Verdict::NotLinearizable {
            placed: s.best.0,
            reason: s.best.1,
            nodes: s.nodes,
        },
        Err(OutOfBudget) => Verdict::Undecided { nodes: s.nodes },
    }
}

// ---------------------------------------------------------------------------
// Simulated histories, for tests and the benchmark.

/// A history as a correct platform would produce it: `branches` apps (or
/// the user) each issue `per_branch` operations on PSID `"1"` one after
/// another, with random overlapping intervals; each takes effect at a
/// random point inside its interval, and the model, applied in that order,
/// gives every observation. Deterministic in `seed`. Returns the initial
/// state and the history.
pub fn simulate(seed: u64, branches: usize, per_branch: usize) -> (State, ThreadHistory) {
    use crate::generate::{Entropy, SplitMix64};
    use crate::model::{AppRef, AppSpec, Message, MessagingType, Setup, UserEvent};
    let mut rng = SplitMix64::new(seed);
    let n_apps = branches.clamp(2, 5);
    let apps = (0..n_apps)
        .map(|i| AppSpec {
            app_id: format!("{}", 1001 + i),
            name: format!("app{i}"),
            human_agent: false,
            require_appsecret_proof: false,
        })
        .collect();
    let primary = rng.chance(50).then_some("1001");
    let setup = Setup::new("1".into(), crate::generate::START_MS, apps, primary).expect("setup");
    let mut st = State::new(setup);
    let psid = "1".to_string();
    apply(
        &mut st,
        &Op::User(UserEvent::Message {
            psid: psid.clone(),
            text: "hi".into(),
            quick_reply: None,
            platform: Default::default(),
        }),
    );
    let initial = st.clone();
    // Each branch's operations, with times: invoke, take effect, answer.
    let mut ops: Vec<(usize, Op, u64, u64, u64)> = Vec::new();
    for b in 0..branches {
        let app = AppIx((b % n_apps) as u8);
        let mut t = rng.below(20) as u64;
        for k in 0..per_branch {
            let call = match rng.below(9) {
                0 | 1 => Call::Take {
                    psid: psid.clone(),
                    metadata: rng.chance(50).then(|| format!("b{b}.{k}")),
                },
                2 => Call::Release { psid: psid.clone() },
                3 => Call::Pass {
                    psid: psid.clone(),
                    target: Some(AppRef::App(AppIx(rng.below(n_apps as u32) as u8))),
                    metadata: Some(format!("p{b}.{k}")),
                },
                4 => Call::Request {
                    psid: psid.clone(),
                    metadata: None,
                },
                5 => Call::ThreadOwner { psid: psid.clone() },
                6 => Call::Extend {
                    psid: psid.clone(),
                    duration: 3600 * (1 + rng.below(48) as i64),
                },
                _ => Call::Send {
                    psid: psid.clone(),
                    messaging_type: MessagingType::Response,
                    tag: None,
                    message: Message::Text {
                        text: format!("m{b}.{k}"),
                        quick_replies: None,
                    },
                },
            };
            let op = if b == 3 && rng.chance(40) {
                Op::User(UserEvent::Message {
                    psid: psid.clone(),
                    text: format!("u{k}"),
                    quick_reply: None,
                    platform: Default::default(),
                })
            } else {
                Op::Graph(GraphOp::by(app, call))
            };
            let start = t;
            let lin = start + 1 + rng.below(30) as u64;
            let end = lin + 1 + rng.below(30) as u64;
            t = end + rng.below(5) as u64;
            ops.push((b, op, start, lin, end));
        }
    }
    let mut by_lin: Vec<usize> = (0..ops.len()).collect();
    by_lin.sort_by_key(|i| (ops[*i].3, *i));
    let mut observed: Vec<Option<Seen>> = vec![None; ops.len()];
    let mut deliveries = Vec::new();
    for &i in &by_lin {
        let out = apply(&mut st, &ops[i].1);
        observed[i] = Some(Seen::of(&out));
        deliveries.extend(
            out.deliveries
                .iter()
                .map(|d| (d.app, d.channel, d.event.clone())),
        );
    }
    // Arrival order says nothing: shuffle.
    for k in (1..deliveries.len()).rev() {
        let j = rng.below(k as u32 + 1) as usize;
        deliveries.swap(k, j);
    }
    let transcript = Some(
        st.transcript(&psid)
            .map(|e| TranscriptItem::from_entry(e, &st.setup))
            .collect(),
    );
    let owners = st
        .setup
        .app_ixs()
        .map(|a| {
            let out = apply(&mut st.clone(), &owner_probe(&st, a, &psid));
            let Seen::Graph(o) = Seen::of(&out) else {
                unreachable!("thread_owner is a Graph call")
            };
            (a, o)
        })
        .collect();
    let history = ThreadHistory {
        psid,
        ops: ops
            .into_iter()
            .zip(observed)
            .map(|((branch, op, start, _, end), o)| HistoryOp {
                op,
                branch,
                start,
                end,
                observed: o.expect("every operation was applied"),
            })
            .collect(),
        deliveries,
        transcript,
        owners,
    };
    (initial, history)
}

/// Makes a simulated history non-linearizable in the way the `racy-take`
/// mutant does: the first refused take is answered with success instead.
/// Returns false when the history has no refused take.
pub fn break_a_take(h: &mut ThreadHistory) -> bool {
    for o in &mut h.ops {
        if let (Op::Graph(g), Seen::Graph(a)) = (&o.op, &mut o.observed)
            && matches!(g.call, Call::Take { .. })
            && a.answer == Err(GraphError::NOT_OWNER)
        {
            *a = ObservedAnswer {
                status: 200,
                answer: Ok(GraphSuccess::Success),
            };
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppSpec, Setup, UserEvent};

    fn page(primary: Option<&str>) -> State {
        let apps = (0..3)
            .map(|i| AppSpec {
                app_id: format!("{}", 11 + i),
                name: format!("a{i}"),
                human_agent: false,
                require_appsecret_proof: false,
            })
            .collect();
        let mut st = State::new(Setup::new("1".into(), 0, apps, primary).unwrap());
        apply(
            &mut st,
            &Op::User(UserEvent::Message {
                psid: "1".into(),
                text: "hi".into(),
                quick_reply: None,
                platform: Default::default(),
            }),
        );
        st
    }

    fn take(app: u8) -> Op {
        Op::Graph(GraphOp::by(
            AppIx(app),
            Call::Take {
                psid: "1".into(),
                metadata: None,
            },
        ))
    }

    fn ok() -> Seen {
        Seen::Graph(ObservedAnswer {
            status: 200,
            answer: Ok(GraphSuccess::Success),
        })
    }

    fn refused() -> Seen {
        Seen::Graph(ObservedAnswer {
            status: 400,
            answer: Err(GraphError::NOT_OWNER),
        })
    }

    fn hop(op: Op, branch: usize, start: u64, end: u64, observed: Seen) -> HistoryOp {
        HistoryOp {
            op,
            branch,
            start,
            end,
            observed,
        }
    }

    fn history(ops: Vec<HistoryOp>) -> ThreadHistory {
        ThreadHistory {
            psid: "1".into(),
            ops,
            ..ThreadHistory::default()
        }
    }

    #[test]
    fn race_1_two_overlapping_takes_one_wins() {
        let st = page(None);
        // Either may win, whatever the order of their invocations.
        let h = history(vec![
            hop(take(0), 0, 0, 10, refused()),
            hop(take(1), 1, 1, 9, ok()),
        ]);
        let v = check(&st, &h, Matching::default(), Limits::default());
        let Verdict::Linearizable { order, .. } = v else {
            panic!("{v:?}")
        };
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn race_1_two_successful_takes_are_not_linearizable() {
        let st = page(None);
        let h = history(vec![
            hop(take(0), 0, 0, 10, ok()),
            hop(take(1), 1, 1, 9, ok()),
        ]);
        let v = check(&st, &h, Matching::default(), Limits::default());
        let Verdict::NotLinearizable { placed, reason, .. } = v else {
            panic!("{v:?}")
        };
        assert_eq!(placed.len(), 1);
        assert!(reason.contains("take_thread_control"), "{reason}");
    }

    #[test]
    fn race_1_real_time_order_is_respected() {
        let st = page(None);
        // Take 0 answered before take 1 was sent: take 0 must come first,
        // so take 1 cannot have won.
        let h = history(vec![
            hop(take(0), 0, 0, 5, refused()),
            hop(take(1), 1, 6, 9, ok()),
        ]);
        let v = check(&st, &h, Matching::default(), Limits::default());
        assert!(matches!(v, Verdict::NotLinearizable { .. }), "{v:?}");
    }

    #[test]
    fn race_1_deliveries_are_attributed_by_matching() {
        // The primary (app 0) owns the thread; app 1 requests while app 0
        // releases. Request first: app 0 gets request_thread_control. Release
        // first: app 1 is granted the thread and gets pass_thread_control.
        let st = page(Some("11"));
        let release = Op::Graph(GraphOp::by(AppIx(0), Call::Release { psid: "1".into() }));
        let request = Op::Graph(GraphOp::by(
            AppIx(1),
            Call::Request {
                psid: "1".into(),
                metadata: Some("m".into()),
            },
        ));
        let mut seq = st.clone();
        apply(&mut seq, &release);
        let granted = apply(&mut seq, &request);
        let mut h = history(vec![
            hop(release.clone(), 0, 0, 10, ok()),
            hop(request.clone(), 1, 0, 10, ok()),
        ]);
        h.deliveries = granted
            .deliveries
            .iter()
            .map(|d| (d.app, d.channel, d.event.clone()))
            .collect();
        let v = check(&st, &h, Matching::default(), Limits::default());
        let Verdict::Linearizable { order, .. } = v else {
            panic!("{v:?}")
        };
        assert_eq!(order, vec![0, 1]);
        // Without the webhook, no order explains a successful request.
        h.deliveries.clear();
        let v = check(&st, &h, Matching::default(), Limits::default());
        assert!(matches!(v, Verdict::NotLinearizable { .. }), "{v:?}");
    }

    #[test]
    fn race_1_final_owner_is_checked() {
        let st = page(None);
        let h0 = history(vec![
            hop(take(0), 0, 0, 10, ok()),
            hop(take(1), 1, 0, 10, refused()),
        ]);
        let mut h = h0.clone();
        let mut after = st.clone();
        apply(&mut after, &take(1));
        // thread_owner says app 1 owns it, which contradicts app 0's win.
        let out = apply(&mut after.clone(), &owner_probe(&after, AppIx(1), "1"));
        let Seen::Graph(o) = Seen::of(&out) else {
            unreachable!()
        };
        h.owners = vec![(AppIx(1), o)];
        assert!(matches!(
            check(&st, &h, Matching::default(), Limits::default()),
            Verdict::NotLinearizable { .. }
        ));
        assert!(check(&st, &h0, Matching::default(), Limits::default()).is_linearizable());
    }

    #[test]
    fn race_1_other_refusal_codes_match_unless_strict() {
        let st = page(None);
        let other = Seen::Graph(ObservedAnswer {
            status: 400,
            answer: Err(GraphError::INVALID),
        });
        let h = history(vec![
            hop(take(0), 0, 0, 10, ok()),
            hop(take(1), 1, 0, 10, other),
        ]);
        assert!(check(&st, &h, Matching::default(), Limits::default()).is_linearizable());
        let strict = Matching { strict_codes: true };
        assert!(!check(&st, &h, strict, Limits::default()).is_linearizable());
    }

    #[test]
    fn race_1_the_bound_gives_undecided_never_a_failure() {
        let (st, mut h) = simulate(7, 4, 10);
        assert!(break_a_take(&mut h) || h.ops.is_empty());
        let tiny = Limits {
            max_nodes: 3,
            max_time: Duration::from_secs(5),
        };
        assert!(check(&st, &h, Matching::default(), tiny).is_undecided());
    }

    #[test]
    fn race_1_simulated_correct_histories_are_linearizable() {
        for seed in 0..60 {
            let (st, h) = simulate(seed, 2 + (seed % 3) as usize, 5);
            let v = check(&st, &h, Matching::default(), Limits::default());
            assert!(v.is_linearizable(), "seed {seed}: {v:?}");
        }
    }

    #[test]
    fn race_1_broken_simulated_histories_are_caught() {
        let mut caught = 0;
        for seed in 0..60 {
            let (st, mut h) = simulate(seed, 3, 5);
            if !break_a_take(&mut h) {
                continue;
            }
            match check(&st, &h, Matching::default(), Limits::default()) {
                Verdict::NotLinearizable { .. } => caught += 1,
                // A refused take turned into a success may still be explained
                // by another order; it must never be undecided at this size.
                Verdict::Linearizable { .. } => {}
                Verdict::Undecided { .. } => panic!("seed {seed}: undecided"),
            }
        }
        assert!(caught >= 10, "only {caught} caught");
    }

    #[test]
    fn race_1_forty_operations_are_decided_within_a_second() {
        // Generous bound: the benchmark measures the real figure.
        let limits = Limits {
            max_nodes: u64::MAX,
            max_time: Duration::from_secs(10),
        };
        for seed in 0..3 {
            let (st, h) = simulate(seed, 4, 10);
            assert_eq!(h.ops.len(), 40);
            let t = Instant::now();
            let v = check(&st, &h, Matching::default(), limits);
            assert!(v.is_linearizable(), "seed {seed}: {v:?}");
            let (st, mut h) = simulate(seed, 4, 10);
            if break_a_take(&mut h) {
                let v = check(&st, &h, Matching::default(), limits);
                assert!(!v.is_undecided(), "seed {seed}: undecided");
            }
            assert!(t.elapsed() < Duration::from_secs(10));
        }
    }
}
#[cfg(test)]
mod stress {
    use super::*;

    /// The worst case: 40 operations in 4 branches, every one overlapping
    /// every other (no real-time order at all). The search space is then
    /// every interleaving; within 5 s these may end undecided, but never
    /// with a false failure. `cargo test --release -- --ignored stress`.
    #[test]
    #[ignore]
    fn fully_overlapping_forty_operations() {
        let limits = Limits {
            max_nodes: u64::MAX,
            max_time: Duration::from_secs(5),
        };
        for seed in 0..5 {
            let (st, mut h) = simulate(seed, 4, 10);
            for o in &mut h.ops {
                o.start = 0;
                o.end = 1000;
            }
            let t = Instant::now();
            let v = check(&st, &h, Matching::default(), limits);
            assert!(!matches!(v, Verdict::NotLinearizable { .. }), "seed {seed}");
            println!(
                "seed {seed}: linearizable {} undecided {} after {} nodes in {:?}",
                v.is_linearizable(),
                v.is_undecided(),
                v.nodes(),
                t.elapsed()
            );
        }
    }
}
