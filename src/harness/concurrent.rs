//! The concurrent phase of a case (`baton run --concurrent`, RACE-1).
//!
//! After the sequential steps, the case's branches are issued all at once:
//! each branch on its own task, its operations one after another, every
//! operation's invocation and response times recorded. Then the webhooks
//! are collected as after any step ([`observe::collect`]), the transcripts
//! of the threads in play are read, and `thread_owner` is asked by every
//! app; [`linearize::check`] decides, thread by thread, whether some
//! sequential order respecting real time explains it all.
//!
//! What counterexamples keep of the phase ([`ConcurrentPart`]) and how the
//! branches are drawn side by side live here too.

use super::diff::{
    self, DeliveryProblem, Difference, Divergence, Finding, RaceFailure, RaceOp, Seen, branch_label,
};
use super::linearize::{self, CheckOptions, HistoryOp, ThreadHistory, Verdict};
use super::observe;
use super::session::{Played, Session, TraceStep};
use super::target::{TargetError, transcript};
use crate::generate::Case;
use crate::model::{AppIx, Channel, Edge, Event, Op, Rule, apply};
use crate::wire::control::{ControlRequest, parse_control_answer};
use crate::wire::{HttpRequest, parse_answer, render_graph};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// What a counterexample keeps of its concurrent phase: how often the
/// shrunk case was replayed, and how often it failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcurrentPart {
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
}

/// The branches of a case side by side, one column each, one row per
/// position.
pub fn side_by_side(case: &Case) -> String {
    let branches = &case.branches;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "then concurrently, after step {}, {} branches (each top to bottom):",
        case.ops.len() as i64 - 1,
        branches.len()
    );
    let cells: Vec<Vec<String>> = branches
        .iter()
        .enumerate()
        .map(|(b, ops)| {
            ops.iter()
                .enumerate()
                .map(|(k, op)| format!("{}{}. {op}", branch_label(b), k + 1))
                .collect()
        })
        .collect();
    let heads: Vec<String> = (0..branches.len())
        .map(|b| format!("branch {}", branch_label(b)))
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

/// Plays the branches of `case` on the session's page (after its
/// sequential steps) and checks the outcome.
pub(super) async fn phase(
    s: &mut Session,
    case: &Case,
    check: CheckOptions,
    played: &mut Played,
) -> Result<Option<Divergence>, TargetError> {
    let setup = s.model.setup.clone();
    let page = setup.page_id.clone();
    let step = case.ops.len();
    let divergence =
        |findings: Vec<Finding>| diff::merge(step, None, true, findings).expect("a finding");
    played.rules.insert(Rule::Race1);
    played
        .counts
        .add(crate::model::RuleSet::EMPTY.with(Rule::Race1));

    // 1. Every request is rendered before the first is sent.
    let mids = s.mids.clone();
    let lookup = |psid: &str, n: u32| mids.get(psid).and_then(|v| v.get(n as usize)).cloned();
    let prepared: Vec<Vec<Prepared>> = case
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

    // 3. Answers. One without a readable answer (or a 5xx) breaks INPUT-1.
    let mut history: Vec<(String, HistoryOp)> = Vec::new();
    for (b, (ops, raw)) in case.branches.iter().zip(raws).enumerate() {
        for (op, r) in ops.iter().zip(raw) {
            let observed = match op {
                Op::Graph(g) => {
                    match parse_answer(g.call.edge(), r.status, &r.headers, &r.body, &setup) {
                        Ok(a) if a.status < 500 => Seen::Graph(a),
                        Ok(a) => Seen::Unreadable(format!(
                            "HTTP {}: {}",
                            a.status,
                            crate::model::GraphAnswer(&a.answer)
                        )),
                        Err(e) => Seen::Unreadable(e),
                    }
                }
                _ => parse_control_answer(r.status, &r.body)
                    .map_or_else(Seen::Unreadable, Seen::Control),
            };
            if let Seen::Unreadable(_) = &observed {
                let expected = apply(&mut s.model.clone(), op);
                let mut d = divergence(vec![Finding {
                    rules: vec![Rule::Input1],
                    strict: true,
                    difference: Difference::Answer {
                        expected: expected.answer,
                        observed,
                    },
                }]);
                d.op = Some(op.clone());
                return Ok(Some(d));
            }
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

    // 4. Webhooks, read as after any step.
    let collected = observe::collect(
        &*s.target,
        &page,
        s.generation,
        &s.creds,
        &setup,
        s.opts.wait,
    )
    .await?;
    s.requests += 1;
    if let Some(f) = collected.faults.first() {
        return Ok(Some(divergence(vec![diff::fault(f, None)])));
    }
    let deliveries: Vec<(AppIx, Channel, Event)> = collected
        .events
        .into_iter()
        .enumerate()
        .flat_map(|(i, evs)| evs.into_iter().map(move |(c, e)| (AppIx(i as u8), c, e)))
        .collect();
    if let Some((app, channel, event)) = deliveries
        .iter()
        .find(|(_, _, e)| e.psid.as_ref().is_none_or(|p| !psids.contains(p)))
    {
        let rules = if event.psid.is_some() {
            vec![Rule::Ctrl6]
        } else {
            vec![Rule::Hook5]
        };
        let mine: Vec<(Channel, Event)> = deliveries
            .iter()
            .filter(|(a, _, _)| a == app)
            .map(|(_, c, e)| (*c, e.clone()))
            .collect();
        return Ok(Some(divergence(vec![Finding {
            rules,
            strict: true,
            difference: Difference::Deliveries {
                app: *app,
                problem: DeliveryProblem::OtherThread {
                    channel: *channel,
                    event: event.clone(),
                },
                expected: Vec::new(),
                observed: mine,
            },
        }])));
    }

    // 5. Transcripts, and thread_owner as every app sees it.
    let mut transcripts = BTreeMap::new();
    if s.opts.transcript {
        for psid in &psids {
            let got = transcript(&*s.target, &page, psid).await?;
            s.requests += 1;
            s.mids.insert(
                psid.clone(),
                got.data.iter().map(|t| t.mid.clone()).collect(),
            );
            transcripts.insert(psid.clone(), got.data);
        }
    }
    let mut owners: BTreeMap<String, Vec<_>> = BTreeMap::new();
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
                    let want = apply(&mut s.model.clone(), &Op::Graph(g));
                    let crate::model::Answer::Graph(want) = want.answer else {
                        unreachable!("a Graph answer")
                    };
                    return Ok(Some(divergence(vec![Finding {
                        rules: vec![Rule::Input1],
                        strict: true,
                        difference: Difference::Owner {
                            psid: psid.clone(),
                            asker: a,
                            expected: want,
                            observed: Seen::Unreadable(e),
                        },
                    }])));
                }
            }
        }
    }

    // 6. The checker, one thread at a time.
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
        match linearize::check(&s.model, &h, check.matching, check.limits) {
            Verdict::Linearizable {
                order, outcomes, ..
            } => {
                for (i, out) in order.iter().zip(&outcomes) {
                    played.rules = played.rules.union(out.rules);
                    played.counts.add(out.rules);
                    if s.opts.trace {
                        let line = diff::describe_expected(0, &h.ops[*i].op, out);
                        let line = format!(
                            "  [{}] {}",
                            branch_label(h.ops[*i].branch),
                            line.trim_start_matches("  0. ")
                        );
                        played.trace.push(TraceStep {
                            expected: line.clone(),
                            observed: line,
                        });
                    }
                }
            }
            Verdict::Undecided { nodes } => {
                played.undecided += 1;
                if s.opts.trace {
                    let line = format!("     psid {psid}: undecided after {nodes} search nodes");
                    played.trace.push(TraceStep {
                        expected: line.clone(),
                        observed: line,
                    });
                }
            }
            Verdict::NotLinearizable { placed, reason, .. } if failure.is_none() => {
                failure = Some(race_failure(&h, &placed, reason, s));
            }
            Verdict::NotLinearizable { .. } => {}
        }
    }
    Ok(failure.map(|f| {
        divergence(vec![Finding {
            rules: vec![Rule::Race1],
            strict: true,
            difference: Difference::Race(Box::new(f)),
        }])
    }))
}

/// The data of a RACE-1 divergence: the longest order found, with the
/// model's answers replayed along it, and everything observed.
fn race_failure(h: &ThreadHistory, placed: &[usize], reason: String, s: &Session) -> RaceFailure {
    let mut st = s.model.clone();
    let placed = placed
        .iter()
        .map(|i| {
            let o = &h.ops[*i];
            let out = apply(&mut st, &o.op);
            (o.branch, o.op.clone(), out.answer)
        })
        .collect();
    RaceFailure {
        psid: h.psid.clone(),
        placed,
        reason,
        history: h
            .ops
            .iter()
            .map(|o| RaceOp {
                branch: o.branch,
                start: o.start,
                end: o.end,
                op: o.op.clone(),
                observed: o.observed.clone(),
            })
            .collect(),
        deliveries: h.deliveries.clone(),
        transcript: h.transcript.clone(),
        transcript_before: s.model.thread(&h.psid).map_or(0, |t| t.transcript.len()),
        owners: h.owners.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{CaseSetup, GenConfig, nth_concurrent_case};
    use crate::model::{AppSpec, Call, GraphOp, Setup};

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
        let setup = Setup::new(
            "1".into(),
            0,
            vec![AppSpec {
                app_id: "1".into(),
                name: "a".into(),
                human_agent: false,
                require_appsecret_proof: false,
            }],
            None,
        )
        .unwrap();
        let case = Case {
            setup: CaseSetup {
                igsids: Vec::new(),
                setup,
                psids: vec!["1".into()],
            },
            ops: vec![take(0)],
            branches: vec![vec![take(0), take(0)], vec![take(1)]],
        };
        let text = side_by_side(&case);
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
        let part = ConcurrentPart {
            repeats: 10,
            failed: 10,
        };
        assert!(part.verdict().starts_with("always"));
        let part = ConcurrentPart {
            repeats: 10,
            failed: 3,
        };
        assert!(part.verdict().starts_with("maybe a race"));
        // Generated concurrent cases draw the same way.
        let cc = nth_concurrent_case(3, 7, &GenConfig::default(), 40);
        assert!(side_by_side(&cc).contains("branch B"));
    }
}
