//! The driver: plays one case against a target, step by step, and compares
//! every observation with the model.
//!
//! Each step: the model says what must happen; the operation goes to the
//! target (a Graph request or a control call); the target is flushed (or
//! given a quiet period); the sinks' deliveries for this case are taken,
//! their signatures checked and their events parsed; the user's transcript
//! is fetched when the step can change it. The first difference ends the
//! case as a [`Divergence`] naming the rules involved.

use super::diff::{self, Divergence};
use super::sink::Sink;
use super::target::{Target, TargetError};
use crate::generate::CaseSetup;
use crate::model::{
    Answer, AppIx, Call, Caller, Channel, Edge, Event, GraphOp, GraphSuccess, InboxAction, Op,
    Outcome, Party, Proof, Rule, RuleSet, State, Transport, apply,
};
use crate::wire::control::{ControlRequest, ResetRequest, TranscriptItem, parse_control_answer};
use crate::wire::{AppCredentials, parse_answer, parse_delivery, render_graph, verify_signature};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// What the driver needs to know about the target's control API.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    /// The target implements `flush`; otherwise wait `quiet` after each step.
    pub flush: bool,
    pub quiet: Duration,
    /// The target implements `transcript`.
    pub transcript: bool,
    /// After each step, ask `thread_owner` about the threads the step may
    /// have changed, so a wrong owner or deadline is caught at the step that
    /// caused it rather than at a later symptom.
    pub probe: bool,
}

impl Default for DriverOptions {
    fn default() -> DriverOptions {
        DriverOptions {
            flush: true,
            quiet: Duration::from_millis(300),
            transcript: true,
            probe: true,
        }
    }
}

/// A case: the page and its PSIDs, then the operations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    #[serde(flatten)]
    pub setup: CaseSetup,
    pub ops: Vec<Op>,
}

/// The result of playing a case.
#[derive(Clone, Debug)]
pub struct Played {
    /// Steps sent to the target.
    pub steps: usize,
    /// HTTP requests made (Graph, control, flush, transcript).
    pub requests: u64,
    pub divergence: Option<Divergence>,
    /// Rules exercised by the steps that ran.
    pub rules: RuleSet,
    /// One line per step: the operation and what the model expected.
    pub trace: Vec<String>,
}

/// One case in progress on one page of the target.
pub struct Session<'a> {
    pub(super) target: &'a Target,
    pub(super) sink: &'a Sink,
    pub(super) opts: &'a DriverOptions,
    pub(super) generation: u64,
    pub(super) creds: Vec<AppCredentials>,
    pub(super) model: State,
    /// The message ids the target gave each PSID's transcript, in order.
    pub(super) mids: HashMap<String, Vec<String>>,
    pub(super) requests: u64,
}

impl<'a> Session<'a> {
    /// Resets the target's page to `setup`. `generation` must differ from
    /// any earlier case on the same page (it separates their webhooks), and
    /// `secret_seed` makes this run's tokens and secrets its own.
    pub async fn start(
        target: &'a Target,
        sink: &'a Sink,
        opts: &'a DriverOptions,
        setup: &CaseSetup,
        generation: u64,
        secret_seed: &str,
    ) -> Result<Session<'a>, TargetError> {
        let page = &setup.setup.page_id;
        let creds: Vec<AppCredentials> = (0..setup.setup.apps.len())
            .map(|i| AppCredentials {
                access_token: format!("tok-{secret_seed}-{page}-{generation}-{i}"),
                app_secret: format!("sec-{secret_seed}-{page}-{generation}-{i}"),
                webhook_url: sink.url(page, generation, i as u8),
            })
            .collect();
        sink.clear_page(page);
        let reset = ControlRequest::Reset(ResetRequest::from_setup(&setup.setup, &creds));
        let a = target.control(&reset).await?;
        if a.status != 200 {
            return Err(TargetError::NoControlApi(format!(
                "reset of page {page} answered HTTP {}: {} (the target must accept the reset of control-api.md)",
                a.status,
                String::from_utf8_lossy(&a.body)
            )));
        }
        Ok(Session {
            target,
            sink,
            opts,
            generation,
            creds,
            model: State::new(setup.setup.clone()),
            mids: HashMap::new(),
            requests: 1,
        })
    }

    pub fn model(&self) -> &State {
        &self.model
    }

    /// Plays one operation; `Ok(Err(d))` when the target diverged.
    pub async fn step(
        &mut self,
        index: usize,
        op: &Op,
    ) -> Result<(Outcome, Option<Divergence>), TargetError> {
        let before = self.model.clone();
        let expected = apply(&mut self.model, op);
        let page = self.model.setup.page_id.clone();

        // 1. The operation itself, and its answer.
        let answer_div = match op {
            Op::Graph(g) => {
                let req = render_graph(g, &self.model.setup, &self.creds);
                let a = self.target.graph(&req).await?;
                self.requests += 1;
                let observed = parse_answer(
                    g.call.edge(),
                    a.status,
                    &a.headers,
                    &a.body,
                    &self.model.setup,
                );
                if let (Ok(obs), Answer::Graph(Ok(GraphSuccess::Sent { recipient_id, .. }))) =
                    (&observed, &expected.answer)
                    && let Ok(GraphSuccess::Sent { message_id, .. }) = &obs.answer
                    && expected.received.iter().any(|r| &r.psid == recipient_id)
                    && !self.opts.transcript
                {
                    self.mids
                        .entry(recipient_id.clone())
                        .or_default()
                        .push(message_id.clone());
                }
                diff::graph_answer(index, op, &expected, &observed)
            }
            _ => {
                let mids = &self.mids;
                let lookup =
                    |psid: &str, n: u32| mids.get(psid).and_then(|v| v.get(n as usize)).cloned();
                let req = ControlRequest::from_op(op, &self.model.setup, &lookup)
                    .expect("not a Graph op");
                let a = self.target.control(&req).await?;
                self.requests += 1;
                diff::control_answer(
                    index,
                    op,
                    &expected,
                    parse_control_answer(a.status, &a.body),
                )
            }
        };

        // 2. Webhooks: flush, then take and check what arrived.
        if self.opts.flush {
            let ok = self.target.flush(&page).await?;
            self.requests += 1;
            if !ok {
                return Err(TargetError::NoControlApi(
                    "flush answered an error; run without the flush feature advertised, or fix flush".into(),
                ));
            }
        } else {
            tokio::time::sleep(self.opts.quiet).await;
        }
        let mut observed: Vec<Vec<(Channel, Event)>> = Vec::with_capacity(self.creds.len());
        let mut delivery_div = None;
        for (i, c) in self.creds.iter().enumerate() {
            let mut events = Vec::new();
            for cap in self.sink.take(&page, self.generation, i as u8) {
                let signed = cap
                    .signature
                    .as_deref()
                    .is_some_and(|s| verify_signature(&c.app_secret, &cap.body, s));
                if !signed && delivery_div.is_none() {
                    delivery_div = Some(diff::bad_signature(
                        index,
                        op,
                        AppIx(i as u8),
                        cap.signature.is_some(),
                    ));
                }
                match parse_delivery(&cap.body, &self.model.setup) {
                    Ok(evs) => events.extend(evs),
                    Err(e) if delivery_div.is_none() => {
                        delivery_div = Some(diff::unreadable_delivery(
                            index,
                            op,
                            &expected,
                            AppIx(i as u8),
                            &e.to_string(),
                        ));
                    }
                    Err(_) => {}
                }
            }
            observed.push(events);
        }

        // 3. What the user received, when this step can have changed it.
        let mut transcript_div = None;
        if self.opts.transcript {
            for psid in transcript_psids(&before, op, &expected) {
                let got = self.target.transcript(&page, &psid).await?;
                self.requests += 1;
                self.mids.insert(
                    psid.clone(),
                    got.data.iter().map(|t| t.mid.clone()).collect(),
                );
                let want: Vec<TranscriptItem> = self
                    .model
                    .transcript(&psid)
                    .map(|e| TranscriptItem::from_entry(e, &self.model.setup))
                    .collect();
                if transcript_div.is_none() {
                    transcript_div =
                        diff::transcript(index, op, &expected, &psid, &want, &got.data);
                }
            }
        }

        // The answer decides first; then signatures and deliveries; then the
        // transcript; then the owners.
        let mut div = answer_div
            .or(delivery_div)
            .or_else(|| diff::deliveries(index, op, &expected, &observed))
            .or(transcript_div);
        if div.is_none() && self.opts.probe {
            div = self.probe(index, op, &expected).await?;
        }
        Ok((expected, div))
    }

    /// Asks `thread_owner`, as an app allowed to see the owner, about the
    /// step's PSID, or about every known PSID after a step that changed an
    /// owner, moved the clock or changed roles.
    async fn probe(
        &mut self,
        index: usize,
        op: &Op,
        expected: &Outcome,
    ) -> Result<Option<Divergence>, TargetError> {
        let page_wide = matches!(op, Op::Clock { .. } | Op::Roles { .. })
            || expected.rules.contains(Rule::Ctrl1);
        let psids: Vec<String> = if page_wide {
            self.model.threads.keys().cloned().collect()
        } else {
            op.psid()
                .filter(|p| self.model.threads.contains_key(*p))
                .cloned()
                .into_iter()
                .collect()
        };
        for psid in psids {
            let asker = match (self.model.primary, self.model.owner(&psid)) {
                (Some(p), _) => p,
                (None, Some(Party::App(a))) => a,
                (None, _) => AppIx(0),
            };
            let proof = if self.model.setup.app(asker).require_appsecret_proof {
                Proof::Right
            } else {
                Proof::Absent
            };
            let g = GraphOp {
                caller: Caller::App(asker),
                proof,
                call: Call::ThreadOwner { psid: psid.clone() },
                transport: Transport::default(),
            };
            // thread_owner reads the state and changes nothing.
            let want = apply(&mut self.model, &Op::Graph(g.clone()));
            let a = self
                .target
                .graph(&render_graph(&g, &self.model.setup, &self.creds))
                .await?;
            self.requests += 1;
            let got = parse_answer(
                Edge::ThreadOwner,
                a.status,
                &a.headers,
                &a.body,
                &self.model.setup,
            );
            if let Answer::Graph(want) = &want.answer
                && let Some(d) = diff::probe(index, op, expected, &psid, asker, want, &got)
            {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }
}

/// PSIDs whose transcript the step may have changed: those the model
/// delivered to, the PSID of a send or inbox action (a faulty target may
/// deliver what it should refuse), and PSIDs holding surveys when a step
/// can release them.
fn transcript_psids(before: &State, op: &Op, expected: &Outcome) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = expected.received.iter().map(|r| r.psid.clone()).collect();
    let known = |p: &String| before.threads.contains_key(p);
    match op {
        Op::Graph(g) => {
            if let (
                crate::model::Call::Send { psid, .. } | crate::model::Call::Release { psid },
                true,
            ) = (&g.call, g.call.psid().is_some_and(known))
            {
                out.insert(psid.clone());
            }
        }
        Op::Inbox {
            psid,
            action: InboxAction::Reply { .. } | InboxAction::MarkDone,
            ..
        } if known(psid) => {
            out.insert(psid.clone());
        }
        Op::Clock { .. } => {
            out.extend(
                before
                    .threads
                    .iter()
                    .filter(|(_, t)| !t.held.is_empty())
                    .map(|(p, _)| p.clone()),
            );
        }
        _ => {}
    }
    out
}

/// Plays a whole case from a reset, stopping at the first divergence.
pub async fn play(
    target: &Target,
    sink: &Sink,
    opts: &DriverOptions,
    case: &Case,
    generation: u64,
    secret_seed: &str,
) -> Result<Played, TargetError> {
    let mut s = Session::start(target, sink, opts, &case.setup, generation, secret_seed).await?;
    let mut rules = RuleSet::EMPTY;
    let mut trace = Vec::with_capacity(case.ops.len());
    for (i, op) in case.ops.iter().enumerate() {
        let (expected, div) = s.step(i, op).await?;
        rules = rules.union(expected.rules);
        trace.push(diff::describe_step(i, op, &expected, &s.model.setup));
        if div.is_some() {
            return Ok(Played {
                steps: i + 1,
                requests: s.requests,
                divergence: div,
                rules,
                trace,
            });
        }
    }
    Ok(Played {
        steps: case.ops.len(),
        requests: s.requests,
        divergence: None,
        rules,
        trace,
    })
}
