//! `baton run --concurrent`: cases with a concurrent phase, for RACE-1.
//!
//! A concurrent case is a sequential prefix, played and checked step by
//! step as any case, then 2–4 **branches**: short lists of operations on
//! the same thread(s), each issued by its own app (or by the user, or the
//! Page Inbox), all branches at once. Each branch runs its operations one
//! after another on its own task; every operation's invocation and
//! response times are recorded. Then the target is flushed, the webhook
//! deliveries, transcripts and `thread_owner` (as seen by every app) are
//! collected, and [`linearize::check`] decides, PSID by PSID, whether some
//! sequential order respecting real time explains it all.
//!
//! A history the checker cannot explain is a RACE-1 divergence; it is
//! shrunk (fewer branches, fewer operations, a shorter prefix, simpler
//! operations; each candidate replayed up to [`TRIES`] times, because a
//! race may not show every time) and replayed [`REPEATS`] times to say
//! whether it fails always or only sometimes.

use super::diff::{self, Divergence, Kind};
use super::driver::{Case, DriverOptions, Session};
use super::linearize::{self, HistoryOp, Limits, Matching, Observed, ThreadHistory, Verdict};
use super::shrink::{Budget, ShrinkStats, simpler};
use super::sink::Sink;
use super::target::{Target, TargetError};
use crate::generate::{self, Entropy, GenConfig, SplitMix64};
use crate::model::{
    AppIx, AppRef, Call, Caller, Channel, Edge, Event, GraphOp, InboxAction, Message,
    MessagingType, MsgRef, Op, Outcome, Party, Proof, Rule, RuleSet, State, Transport, UserEvent,
    apply,
};
use crate::wire::control::{ControlRequest, TranscriptItem, parse_control_answer};
use crate::wire::{HttpRequest, parse_answer, parse_delivery, render_graph, verify_signature};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many times a shrinking candidate is replayed before it is taken
/// not to fail.
pub const TRIES: u32 = 3;
/// How many times the shrunk counterexample is replayed for the verdict.
pub const REPEATS: u32 = 10;

/// A case with a concurrent phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcurrentCase {
    /// The page and the sequential prefix.
    pub case: Case,
    /// The branches, issued all at once after the prefix.
    pub branches: Vec<Vec<Op>>,
}

/// What a counterexample keeps of its concurrent phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcurrentPart {
    pub branches: Vec<Vec<Op>>,
    /// How often the shrunk case was replayed, and how often it failed.
    pub repeats: u32,
    pub failed: u32,
}

impl ConcurrentPart {
    /// "always" or "maybe a race".
    pub fn verdict(&self) -> String {
        if self.repeats > 0 && self.failed == self.repeats {
            format!(
                "always ({} of {} repeats failed)",
                self.failed, self.repeats
            )
        } else {
            format!(
                "maybe a race ({} of {} repeats failed)",
                self.failed, self.repeats
            )
        }
    }

    /// The branches side by side, one column each, one row per position.
    pub fn side_by_side(&self, after_step: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "then concurrently, after step {}, {} branches (each top to bottom):",
            after_step as i64 - 1,
            self.branches.len()
        );
        let cells: Vec<Vec<String>> = self
            .branches
            .iter()
            .enumerate()
            .map(|(b, ops)| {
                ops.iter()
                    .enumerate()
                    .map(|(k, op)| format!("{}{}. {op}", branch_letter(b), k + 1))
                    .collect()
            })
            .collect();
        let heads: Vec<String> = (0..self.branches.len())
            .map(|b| format!("branch {}", branch_letter(b)))
            .collect();
        let widths: Vec<usize> = cells
            .iter()
            .zip(&heads)
            .map(|(c, h)| {
                c.iter()
                    .map(|x| x.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(h.len())
            })
            .collect();
        let rows = cells.iter().map(Vec::len).max().unwrap_or(0);
        let line = |items: Vec<&str>| {
            let mut l = String::from("   ");
            for (i, it) in items.iter().enumerate() {
                if i + 1 == items.len() {
                    l.push_str(it);
                } else {
                    let pad = widths[i].saturating_sub(it.chars().count());
                    let _ = write!(l, "{it}{} | ", " ".repeat(pad));
                }
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(s, "{}", line(heads.iter().map(String::as_str).collect()));
        for r in 0..rows {
            let items: Vec<&str> = cells
                .iter()
                .map(|c| c.get(r).map_or("", String::as_str))
                .collect();
            let _ = writeln!(s, "{}", line(items));
        }
        s
    }
}

fn branch_letter(b: usize) -> char {
    linearize::branch_label(b)
}

// ---------------------------------------------------------------------------
// Generation.

/// The concurrent case with number `index` of the run with `seed`.
pub fn nth_case(seed: u64, index: u64, cfg: &GenConfig, max_steps: usize) -> ConcurrentCase {
    let mut rng = SplitMix64::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0xC0C0);
    let steps = rng.range(1, (max_steps / 2).clamp(1, 20) as u32) as usize;
    let (setup, mut ops) = generate::case(&mut rng, cfg, super::run::CASE_PAGE_ID, steps);
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
    // A third of the cases race for an idle thread: make it idle first.
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
    ConcurrentCase {
        case: Case { setup, ops },
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
    let proof = if st.setup.app(app).require_appsecret_proof {
        Proof::Right
    } else {
        Proof::Absent
    };
    Op::Graph(GraphOp {
        caller: Caller::App(app),
        proof,
        call: c,
        transport: Transport::default(),
    })
}

/// Draws 2–4 branches of 1–3 operations on the PSIDs in play.
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

// ---------------------------------------------------------------------------
// Playing.

/// The result of playing a concurrent case.
#[derive(Clone, Debug)]
pub struct ConcurrentPlayed {
    /// Steps sent: the prefix's plus every branch operation.
    pub steps: usize,
    pub requests: u64,
    pub divergence: Option<Divergence>,
    /// Whether the divergence is in the sequential prefix (shrink it as an
    /// ordinary case).
    pub in_prefix: bool,
    pub rules: RuleSet,
    /// Threads whose history the checker could not decide in its bounds.
    pub undecided: u32,
    /// Checker time for this case.
    pub check_time: Duration,
    pub trace: Vec<String>,
}

/// How the concurrent phase is checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub matching: Matching,
    pub limits: Limits,
}

enum Prepared {
    Graph(HttpRequest),
    Control(ControlRequest),
}

/// One operation's raw result: start and end in µs since the phase began.
struct Raw {
    start: u64,
    end: u64,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Plays a concurrent case from a reset of the target's page.
pub async fn play(
    target: &Target,
    sink: &Sink,
    opts: &DriverOptions,
    cc: &ConcurrentCase,
    generation: u64,
    secret_seed: &str,
    check: CheckOptions,
) -> Result<ConcurrentPlayed, TargetError> {
    let mut s = Session::start(target, sink, opts, &cc.case.setup, generation, secret_seed).await?;
    let mut rules = RuleSet::EMPTY;
    let mut trace = Vec::new();
    for (i, op) in cc.case.ops.iter().enumerate() {
        let (expected, div) = s.step(i, op).await?;
        rules = rules.union(expected.rules);
        trace.push(diff::describe_step(i, op, &expected, &s.model.setup));
        if div.is_some() {
            return Ok(ConcurrentPlayed {
                steps: i + 1,
                requests: s.requests,
                divergence: div,
                in_prefix: true,
                rules,
                undecided: 0,
                check_time: Duration::ZERO,
                trace,
            });
        }
    }
    let step = cc.case.ops.len();
    let n_ops: usize = cc.branches.iter().map(Vec::len).sum();
    let mut played = ConcurrentPlayed {
        steps: step + n_ops,
        requests: 0,
        divergence: None,
        in_prefix: false,
        rules: rules.with(Rule::Race1),
        undecided: 0,
        check_time: Duration::ZERO,
        trace,
    };
    let result = concurrent_phase(&mut s, cc, step, check, &mut played).await;
    played.requests = s.requests;
    played.divergence = result?;
    Ok(played)
}

async fn concurrent_phase(
    s: &mut Session<'_>,
    cc: &ConcurrentCase,
    step: usize,
    check: CheckOptions,
    played: &mut ConcurrentPlayed,
) -> Result<Option<Divergence>, TargetError> {
    let setup = s.model.setup.clone();
    let page = setup.page_id.clone();
    let phase_op = Op::Clock { advance_ms: 0 };
    let phase_name = format!(
        "concurrent phase: {} branches, {} operations",
        cc.branches.len(),
        cc.branches.iter().map(Vec::len).sum::<usize>()
    );
    let div = |kind: Kind, rules: Vec<Rule>, expected: String, observed: String| Divergence {
        step,
        op: phase_name.clone(),
        kind,
        rules,
        strict: true,
        expected,
        observed,
    };

    // 1. Every request is rendered before the first is sent.
    let mids = s.mids.clone();
    let lookup = |psid: &str, n: u32| mids.get(psid).and_then(|v| v.get(n as usize)).cloned();
    let prepared: Vec<Vec<Prepared>> = cc
        .branches
        .iter()
        .map(|ops| {
            ops.iter()
                .map(|op| match op {
                    Op::Graph(g) => Prepared::Graph(render_graph(g, &setup, &s.creds)),
                    _ => Prepared::Control(
                        ControlRequest::from_op(op, &setup, &lookup).expect("not a Graph op"),
                    ),
                })
                .collect()
        })
        .collect();

    // 2. All branches at once, each on its own task.
    let barrier = Arc::new(tokio::sync::Barrier::new(prepared.len()));
    let base = Instant::now();
    let mut tasks = Vec::with_capacity(prepared.len());
    for reqs in prepared {
        let t = s.target.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut out = Vec::with_capacity(reqs.len());
            for r in reqs {
                let start = base.elapsed().as_micros() as u64;
                let a = match &r {
                    Prepared::Graph(req) => t.graph(req).await?,
                    Prepared::Control(req) => t.control(req).await?,
                };
                let end = base.elapsed().as_micros() as u64;
                out.push(Raw {
                    start,
                    end,
                    status: a.status,
                    headers: a.headers,
                    body: a.body,
                });
            }
            Ok::<_, TargetError>(out)
        }));
    }
    let mut raws = Vec::with_capacity(tasks.len());
    for t in tasks {
        let r = t
            .await
            .map_err(|e| TargetError::Unreachable(format!("a concurrent branch failed: {e}")))??;
        s.requests += r.len() as u64;
        raws.push(r);
    }

    // 3. Answers.
    let mut history: Vec<(String, HistoryOp)> = Vec::new();
    for (b, (ops, raw)) in cc.branches.iter().zip(raws).enumerate() {
        for (op, r) in ops.iter().zip(raw) {
            let observed = match op {
                Op::Graph(g) => {
                    match parse_answer(g.call.edge(), r.status, &r.headers, &r.body, &setup) {
                        Ok(a) if a.status < 500 => Observed::Graph(a),
                        Ok(a) => {
                            return Ok(Some(div(
                                Kind::Answer,
                                vec![Rule::Input1],
                                format!("{op}: an answer below 500"),
                                diff::graph_text(&a.answer),
                            )));
                        }
                        Err(e) => {
                            return Ok(Some(div(
                                Kind::Answer,
                                vec![Rule::Input1],
                                format!("{op}: a readable Graph answer"),
                                e,
                            )));
                        }
                    }
                }
                _ => match parse_control_answer(r.status, &r.body) {
                    Ok(a) => Observed::Control(a),
                    Err(e) => {
                        return Ok(Some(div(
                            Kind::Answer,
                            vec![Rule::Input1],
                            format!("{op}: a readable control answer"),
                            e,
                        )));
                    }
                },
            };
            let psid = op.psid().cloned().unwrap_or_default();
            history.push((
                psid,
                HistoryOp {
                    op: op.clone(),
                    branch: b,
                    start: r.start,
                    end: r.end,
                    observed,
                },
            ));
        }
    }
    let psids: BTreeSet<String> = history.iter().map(|(p, _)| p.clone()).collect();

    // 4. Webhooks.
    if s.opts.flush {
        let ok = s.target.flush(&page).await?;
        s.requests += 1;
        if !ok {
            return Err(TargetError::NoControlApi(
                "flush answered an error; run without the flush feature advertised, or fix flush"
                    .into(),
            ));
        }
    } else {
        tokio::time::sleep(s.opts.quiet).await;
    }
    let mut deliveries: Vec<(AppIx, Channel, Event)> = Vec::new();
    for (i, c) in s.creds.iter().enumerate() {
        let app = AppIx(i as u8);
        for cap in s.sink.take(&page, s.generation, i as u8) {
            let signed = cap
                .signature
                .as_deref()
                .is_some_and(|sig| verify_signature(&c.app_secret, &cap.body, sig));
            if !signed {
                let mut d = diff::bad_signature(step, &phase_op, app, cap.signature.is_some());
                d.op = phase_name.clone();
                return Ok(Some(d));
            }
            match parse_delivery(&cap.body, &setup) {
                Ok(evs) => deliveries.extend(evs.into_iter().map(|(ch, e)| (app, ch, e))),
                Err(e) => {
                    return Ok(Some(div(
                        Kind::Deliveries,
                        vec![Rule::Hook5],
                        "a webhook envelope as wire.md describes".into(),
                        format!("{app}: {e}"),
                    )));
                }
            }
        }
    }
    if let Some((app, ch, e)) = deliveries
        .iter()
        .find(|(_, _, e)| e.psid.as_ref().is_none_or(|p| !psids.contains(p)))
    {
        let rules = if e.psid.is_some() {
            vec![Rule::Ctrl6]
        } else {
            vec![Rule::Hook5]
        };
        return Ok(Some(div(
            Kind::Deliveries,
            rules,
            format!(
                "webhooks about psid {} only",
                psids.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            format!("{app} {} {}", ch.as_str(), diff::event_text(e)),
        )));
    }

    // 5. Transcripts, and thread_owner as every app sees it.
    let mut transcripts = std::collections::BTreeMap::new();
    if s.opts.transcript {
        for psid in &psids {
            let got = s.target.transcript(&page, psid).await?;
            s.requests += 1;
            s.mids.insert(
                psid.clone(),
                got.data.iter().map(|t| t.mid.clone()).collect(),
            );
            transcripts.insert(psid.clone(), got.data);
        }
    }
    let mut owners: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for psid in psids.iter().filter(|p| s.model.threads.contains_key(*p)) {
        for a in setup.app_ixs() {
            let Op::Graph(g) = linearize::owner_probe(&s.model, a, psid) else {
                unreachable!("a Graph call")
            };
            let r = s.target.graph(&render_graph(&g, &setup, &s.creds)).await?;
            s.requests += 1;
            match parse_answer(Edge::ThreadOwner, r.status, &r.headers, &r.body, &setup) {
                Ok(o) => owners.entry(psid.clone()).or_default().push((a, o)),
                Err(e) => {
                    return Ok(Some(div(
                        Kind::Owner,
                        vec![Rule::Input1],
                        format!("thread_owner of psid {psid} asked by {a}: a readable answer"),
                        e,
                    )));
                }
            }
        }
    }

    // 6. The checker, one thread at a time.
    let started = Instant::now();
    let mut failure = None;
    for psid in &psids {
        let h = ThreadHistory {
            psid: psid.clone(),
            ops: history
                .iter()
                .filter(|(p, _)| p == psid)
                .map(|(_, o)| o.clone())
                .collect(),
            deliveries: deliveries
                .iter()
                .filter(|(_, _, e)| e.psid.as_ref() == Some(psid))
                .cloned()
                .collect(),
            transcript: transcripts.get(psid).cloned(),
            owners: owners.remove(psid).unwrap_or_default(),
        };
        let verdict = linearize::check(&s.model, &h, check.matching, check.limits);
        match verdict {
            Verdict::Linearizable {
                order, outcomes, ..
            } => {
                for (i, out) in order.iter().zip(&outcomes) {
                    played.rules = played.rules.union(out.rules);
                    played.trace.push(describe(&h.ops[*i], out));
                }
            }
            Verdict::Undecided { nodes } => {
                played.undecided += 1;
                played.trace.push(format!(
                    "     psid {psid}: undecided after {nodes} search nodes"
                ));
            }
            Verdict::NotLinearizable { placed, reason, .. } if failure.is_none() => {
                failure = Some(not_linearizable(&h, &placed, &reason, &setup, &s.model));
            }
            Verdict::NotLinearizable { .. } => {}
        }
    }
    played.check_time = started.elapsed();
    Ok(
        failure
            .map(|(expected, observed)| div(Kind::Answer, vec![Rule::Race1], expected, observed)),
    )
}

fn describe(h: &HistoryOp, out: &Outcome) -> String {
    let line = diff::describe_step(
        0,
        &h.op,
        out,
        &crate::model::Setup::new("0".into(), 0, Vec::new(), None).expect("empty setup"),
    );
    format!(
        "  [{}] {}",
        branch_letter(h.branch),
        line.trim_start_matches("  0. ")
    )
}

/// The expected and observed texts of a RACE-1 divergence.
fn not_linearizable(
    h: &ThreadHistory,
    placed: &[usize],
    reason: &str,
    setup: &crate::model::Setup,
    model: &State,
) -> (String, String) {
    let mut expected = format!(
        "some order of the {} concurrent operations on psid {} that respects real time explains every answer, webhook, the transcript and thread_owner afterwards\n",
        h.ops.len(),
        h.psid
    );
    if placed.is_empty() {
        let _ = writeln!(expected, "no operation can come first");
    } else {
        let _ = writeln!(
            expected,
            "the longest order that explains everything so far:"
        );
        let mut st = model.clone();
        for i in placed {
            let out = apply(&mut st, &h.ops[*i].op);
            let _ = writeln!(
                expected,
                "  [{}] {} -> {}",
                branch_letter(h.ops[*i].branch),
                h.ops[*i].op,
                match &out.answer {
                    crate::model::Answer::Graph(a) => diff::graph_text(a),
                    crate::model::Answer::Control(_) => "ok".into(),
                }
            );
        }
    }
    let _ = write!(expected, "and then: {reason}");
    let mut observed = String::from("observed (µs from the start of the phase):\n");
    for o in &h.ops {
        let answer = match &o.observed {
            Observed::Graph(a) => diff::graph_text(&a.answer),
            Observed::Control(Ok(_)) => "ok".into(),
            Observed::Control(Err(e)) => format!("control error: {e}"),
        };
        let _ = writeln!(
            observed,
            "  [{}] {:>6}..{:<6} {} -> {answer}",
            branch_letter(o.branch),
            o.start,
            o.end,
            o.op
        );
    }
    if h.deliveries.is_empty() {
        let _ = writeln!(observed, "webhooks: none");
    } else {
        let _ = writeln!(observed, "webhooks (in arrival order):");
        for (a, c, e) in &h.deliveries {
            let _ = writeln!(observed, "  {a} {} {}", c.as_str(), diff::event_text(e));
        }
    }
    if let Some(t) = &h.transcript {
        let _ = writeln!(observed, "transcript: {} messages", t.len());
        let start = model.thread(&h.psid).map_or(0, |t| t.transcript.len());
        for item in t.iter().skip(start) {
            let _ = writeln!(
                observed,
                "  {} from {}: {:?}",
                item.kind.as_str(),
                item_from(item, setup),
                item.text
            );
        }
    }
    for (a, o) in &h.owners {
        let _ = writeln!(
            observed,
            "thread_owner asked by {a} afterwards: {}",
            diff::graph_text(&o.answer)
        );
    }
    (expected, observed.trim_end().to_string())
}

fn item_from(item: &TranscriptItem, setup: &crate::model::Setup) -> String {
    match setup.app_ref(&item.from_app_id) {
        AppRef::App(a) => a.to_string(),
        AppRef::PageInbox => "page_inbox".into(),
        AppRef::InstagramInbox => "instagram_inbox".into(),
        AppRef::Unknown(id) => id,
    }
}

// ---------------------------------------------------------------------------
// Shrinking and repeating.

/// Something that can play a concurrent case from a reset.
pub trait ConcurrentReplayer {
    fn replay_concurrent(
        &mut self,
        cc: &ConcurrentCase,
    ) -> impl std::future::Future<Output = Result<Option<Divergence>, TargetError>>;
}

/// The shrunk concurrent case.
pub struct Shrunk {
    pub case: ConcurrentCase,
    pub divergence: Divergence,
    pub stats: ShrinkStats,
}

/// The smaller candidates of a concurrent case, most promising first:
/// without a branch, without prefix chunks, without one branch operation,
/// with one operation simplified.
fn candidates(cc: &ConcurrentCase) -> Vec<ConcurrentCase> {
    let mut out = Vec::new();
    if cc.branches.len() > 1 {
        for b in 0..cc.branches.len() {
            let mut c = cc.clone();
            c.branches.remove(b);
            out.push(c);
        }
    }
    let n = cc.case.ops.len();
    let mut size = n.div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < n {
            let end = (start + size).min(n);
            let mut c = cc.clone();
            c.case.ops.drain(start..end);
            out.push(c);
            start = end;
        }
        if size == 1 {
            break;
        }
        size /= 2;
    }
    for (b, ops) in cc.branches.iter().enumerate() {
        if ops.len() > 1 {
            for k in 0..ops.len() {
                let mut c = cc.clone();
                c.branches[b].remove(k);
                out.push(c);
            }
        }
    }
    for (b, ops) in cc.branches.iter().enumerate() {
        for (k, op) in ops.iter().enumerate() {
            for v in simpler(op, &cc.case.setup.psids) {
                let mut c = cc.clone();
                c.branches[b][k] = v;
                out.push(c);
            }
        }
    }
    for (k, op) in cc.case.ops.iter().enumerate() {
        for v in simpler(op, &cc.case.setup.psids) {
            let mut c = cc.clone();
            c.case.ops[k] = v;
            out.push(c);
        }
    }
    out
}

/// Shrinks a concurrent case that diverged in its concurrent phase,
/// keeping a divergence on the same rule. Each candidate is replayed up to
/// [`TRIES`] times.
pub async fn shrink<R: ConcurrentReplayer>(
    r: &mut R,
    cc: ConcurrentCase,
    divergence: Divergence,
    budget: Budget,
) -> Result<Shrunk, TargetError> {
    let started = Instant::now();
    let steps_before = cc.case.ops.len() + cc.branches.iter().map(Vec::len).sum::<usize>();
    let rule = divergence.rule();
    let mut best = cc;
    let mut best_div = divergence;
    let mut replays = 0u32;
    let mut minimal = false;
    let out_of_budget =
        |replays: u32| replays >= budget.max_replays || started.elapsed() >= budget.max_time;
    'outer: loop {
        let mut changed = false;
        for c in candidates(&best) {
            for _ in 0..TRIES {
                if out_of_budget(replays) {
                    break 'outer;
                }
                replays += 1;
                match r.replay_concurrent(&c).await? {
                    Some(d) if d.rule() == rule && d.step >= c.case.ops.len() => {
                        best = c;
                        best_div = d;
                        changed = true;
                        break;
                    }
                    _ => {}
                }
            }
            if changed {
                break;
            }
        }
        if !changed {
            minimal = true;
            break;
        }
    }
    let stats = ShrinkStats {
        replays,
        millis: started.elapsed().as_millis() as u64,
        steps_before,
        steps_after: best.case.ops.len() + best.branches.iter().map(Vec::len).sum::<usize>(),
        minimal,
    };
    Ok(Shrunk {
        case: best,
        divergence: best_div,
        stats,
    })
}

/// Replays a case `n` times; how many of them diverged on `rule`.
pub async fn repeat<R: ConcurrentReplayer>(
    r: &mut R,
    cc: &ConcurrentCase,
    rule: Rule,
    n: u32,
) -> Result<u32, TargetError> {
    let mut failed = 0;
    for _ in 0..n {
        if r.replay_concurrent(cc)
            .await?
            .is_some_and(|d| d.rule() == rule)
        {
            failed += 1;
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_1_generated_branches_are_concurrent_and_on_known_threads() {
        let cfg = GenConfig::default();
        let mut takes = 0;
        for i in 0..200 {
            let cc = nth_case(1, i, &cfg, 40);
            assert!((2..=4).contains(&cc.branches.len()));
            let mut st = State::new(cc.case.setup.setup.clone());
            for op in &cc.case.ops {
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
        assert_eq!(nth_case(1, 5, &cfg, 40), nth_case(1, 5, &cfg, 40));
    }

    #[test]
    fn race_1_branches_render_side_by_side() {
        let take = |a: u8| {
            Op::Graph(GraphOp::by(
                AppIx(a),
                Call::Take {
                    psid: "1".into(),
                    metadata: None,
                },
            ))
        };
        let part = ConcurrentPart {
            branches: vec![vec![take(0), take(0)], vec![take(1)]],
            repeats: 10,
            failed: 10,
        };
        let text = part.side_by_side(1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "then concurrently, after step 0, 2 branches (each top to bottom):"
        );
        assert_eq!(
            lines[2],
            "   A1. app 0 take_thread_control psid 1 | B1. app 1 take_thread_control psid 1"
        );
        assert_eq!(lines[3], "   A2. app 0 take_thread_control psid 1 |");
        assert!(lines[1].starts_with("   branch A ") && lines[1].ends_with("| branch B"));
        assert_eq!(lines[1].find('|'), lines[2].find('|'));
        assert!(part.verdict().starts_with("always"));
    }

    #[test]
    fn race_1_candidates_are_smaller() {
        let cc = nth_case(3, 7, &GenConfig::default(), 40);
        let size =
            |c: &ConcurrentCase| c.case.ops.len() + c.branches.iter().map(Vec::len).sum::<usize>();
        for c in candidates(&cc) {
            assert!(size(&c) <= size(&cc));
            assert_ne!(c, cc);
        }
    }
}
