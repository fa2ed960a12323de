//! One case on one page of a target: reset, then each step compared with
//! the model, then (for a concurrent case) the concurrent phase.
//!
//! Each step: the model says what must happen; the operation goes to the
//! target (a Graph request or a control call); the deliveries are collected
//! ([`observe::collect`]); the user's transcript is fetched where the step
//! can change it; `thread_owner` is asked about the threads the step may
//! have changed. Every comparison's [`Finding`] is merged into at most one
//! [`Divergence`] for the step. [`super::play`] plays whole cases on it.

use super::counts::RuleCounts;
use super::diff::{self, Divergence, Finding, Observation, Seen};
use super::observe::{self, Wait};
use super::target::{Target, TargetError, transcript};
use crate::generate::CaseSetup;
use crate::model::{
    Answer, AppIx, Call, Edge, GraphSuccess, InboxAction, Op, Outcome, Party, Rule, RuleSet, State,
    apply,
};
use crate::wire::control::{ControlRequest, ResetRequest, TranscriptItem, parse_control_answer};
use crate::wire::{AppCredentials, parse_answer, render_graph};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How cases are played, given what the target's control API offers.
#[derive(Clone, Copy, Debug)]
pub struct DriverOptions {
    /// How to know the webhooks of a step are out.
    pub wait: Wait,
    /// The target implements `transcript`.
    pub transcript: bool,
    /// After each step, ask `thread_owner` about the threads the step may
    /// have changed, so a wrong owner or deadline is caught at the step that
    /// caused it rather than at a later symptom.
    pub probe: bool,
    /// Keep a readable trace of every step (replays, scenarios); off in
    /// runs, where only counterexamples are kept.
    pub trace: bool,
}

impl Default for DriverOptions {
    fn default() -> DriverOptions {
        DriverOptions {
            wait: Wait::Flush,
            transcript: true,
            probe: true,
            trace: false,
        }
    }
}

impl DriverOptions {
    /// The options for a target with these control-API `features`; `quiet`
    /// is the wait per step when it lacks `flush`.
    pub fn for_features(features: &[String], quiet: Duration) -> DriverOptions {
        let has = |f: &str| features.iter().any(|x| x == f);
        DriverOptions {
            wait: if has("flush") {
                Wait::Flush
            } else {
                Wait::Quiet(quiet)
            },
            transcript: has("transcript"),
            ..DriverOptions::default()
        }
    }
}

/// The result of playing a case.
#[derive(Clone, Debug, Default)]
pub struct Played {
    /// Steps sent to the target: sequential ones, plus every branch
    /// operation when the concurrent phase was reached.
    pub steps: usize,
    /// HTTP requests made (Graph, control, flush, transcript, probes).
    pub requests: u64,
    pub divergence: Option<Divergence>,
    /// Rules exercised by the steps that ran.
    pub rules: RuleSet,
    /// How many steps exercised each rule.
    pub counts: RuleCounts,
    /// Concurrent thread histories the checker could not decide.
    pub undecided: u32,
    /// With [`DriverOptions::trace`]: one entry per step, what the model
    /// expected and what the target did.
    pub trace: Vec<TraceStep>,
}

/// One step of a trace.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// What the model expects, as [`diff::describe_expected`] writes it.
    pub expected: String,
    /// What the target did, as [`Observation::describe`] writes it.
    pub observed: String,
}

/// One case in progress on one page of the target.
pub struct Session {
    pub(super) target: Arc<dyn Target>,
    pub(super) opts: DriverOptions,
    pub(super) generation: u64,
    pub(super) creds: Vec<AppCredentials>,
    pub(super) model: State,
    /// The message ids the target gave each PSID's transcript, in order.
    pub(super) mids: HashMap<String, Vec<String>>,
    pub(super) requests: u64,
}

impl Session {
    /// Resets the target's page to `setup`. `generation` must differ from
    /// any earlier case on the same page (it separates their webhooks), and
    /// `secret_seed` makes this run's tokens and secrets its own.
    pub async fn start(
        target: Arc<dyn Target>,
        opts: DriverOptions,
        setup: &CaseSetup,
        generation: u64,
        secret_seed: &str,
    ) -> Result<Session, TargetError> {
        let page = &setup.setup.page_id;
        let creds: Vec<AppCredentials> = (0..setup.setup.apps.len())
            .map(|i| AppCredentials {
                access_token: format!("tok-{secret_seed}-{page}-{generation}-{i}"),
                app_secret: format!("sec-{secret_seed}-{page}-{generation}-{i}"),
                webhook_url: target.webhook_url(page, generation, i as u8),
            })
            .collect();
        target.forget_page(page);
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

    pub fn page(&self) -> &str {
        &self.model.setup.page_id
    }

    /// Sends one operation and reads the answer.
    async fn send(&mut self, op: &Op) -> Result<Seen, TargetError> {
        self.requests += 1;
        match op {
            Op::Graph(g) => {
                let req = render_graph(g, &self.model.setup, &self.creds);
                let a = self.target.graph(&req).await?;
                let observed = parse_answer(
                    g.call.edge(),
                    a.status,
                    &a.headers,
                    &a.body,
                    &self.model.setup,
                );
                Ok(observed.map_or_else(Seen::Unreadable, Seen::Graph))
            }
            _ => {
                let mids = &self.mids;
                let lookup =
                    |psid: &str, n: u32| mids.get(psid).and_then(|v| v.get(n as usize)).cloned();
                let Some(req) = ControlRequest::from_op(op, &self.model.setup, &lookup) else {
                    return Err(TargetError::NoControlApi(format!(
                        "`{op}` is an app-certification stimulus, not something a platform is sent (replay it with `baton replay FILE --webhook URL`)"
                    )));
                };
                let a = self.target.control(&req).await?;
                Ok(parse_control_answer(a.status, &a.body)
                    .map_or_else(Seen::Unreadable, Seen::Control))
            }
        }
    }

    /// Plays one operation: what the model expected, what the target did
    /// (with [`DriverOptions::trace`]), and the divergence, if any.
    pub async fn step(
        &mut self,
        index: usize,
        op: &Op,
    ) -> Result<(Outcome, Option<Observation>, Option<Divergence>), TargetError> {
        // What the transcripts to fetch depend on in the state before the
        // step (cheaper than keeping a copy of the whole state).
        let before = TranscriptsBefore::of(&self.model, op);
        let expected = apply(&mut self.model, op);
        let page = self.model.setup.page_id.clone();
        let mut findings: Vec<Finding> = Vec::new();

        // 1. The operation itself, and its answer.
        let seen = self.send(op).await?;
        if !self.opts.transcript
            && let (Seen::Graph(obs), Answer::Graph(Ok(GraphSuccess::Sent { recipient_id, .. }))) =
                (&seen, &expected.answer)
            && let Ok(GraphSuccess::Sent { message_id, .. }) = &obs.answer
            && expected.received.iter().any(|r| &r.psid == recipient_id)
        {
            // Without transcripts, postbacks name messages by the ids the
            // send answers gave.
            self.mids
                .entry(recipient_id.clone())
                .or_default()
                .push(message_id.clone());
        }
        findings.extend(diff::answer(&expected, &seen));

        // 2. Webhooks.
        let collected = observe::collect(
            &*self.target,
            &page,
            self.generation,
            &self.creds,
            &self.model.setup,
            self.opts.wait,
        )
        .await?;
        self.requests += 1;
        if let Some(f) = collected.faults.first() {
            findings.push(diff::fault(f, Some(&expected)));
        }
        findings.extend(diff::deliveries(&expected, &collected.events));

        // 3. What the user received, when this step can have changed it.
        let mut received = Vec::new();
        let mut transcript_found = false;
        if self.opts.transcript {
            for psid in before.with_received(&expected) {
                let got = transcript(&*self.target, &page, &psid).await?;
                self.requests += 1;
                let seen_before = self.mids.get(&psid).map_or(0, Vec::len);
                if self.opts.trace {
                    received.push((
                        psid.clone(),
                        got.data.iter().skip(seen_before).cloned().collect(),
                    ));
                }
                self.mids.insert(
                    psid.clone(),
                    got.data.iter().map(|t| t.mid.clone()).collect(),
                );
                if transcript_found {
                    continue;
                }
                let want: Vec<TranscriptItem> = self
                    .model
                    .transcript(&psid)
                    .map(|e| TranscriptItem::from_entry(e, &self.model.setup))
                    .collect();
                if let Some(f) = diff::transcript(&expected, &psid, &want, &got.data) {
                    findings.push(f);
                    transcript_found = true;
                }
            }
        }

        // 4. The owners and deadlines afterwards.
        if self.opts.probe {
            findings.extend(self.probe(op, &expected).await?);
        }

        let observation = self.opts.trace.then_some(Observation {
            answer: seen,
            deliveries: collected.events,
            received,
        });
        let mut divergence = diff::merge(index, Some(op), false, findings);
        // A failure on an Instagram thread is filed under the rule it
        // breaks and under IG-1 (instagram.md).
        if let Some(d) = &mut divergence
            && op
                .psid()
                .and_then(|p| self.model.surface(p))
                .is_some_and(|s| s.is_instagram())
            && !d.rules.contains(&Rule::Ig1)
        {
            d.rules.push(Rule::Ig1);
        }
        Ok((expected, observation, divergence))
    }

    /// Asks `thread_owner`, as an app allowed to see the owner, about the
    /// step's PSID, or about every known PSID after a step that changed an
    /// owner, moved the clock or changed roles. The first difference.
    async fn probe(&mut self, op: &Op, expected: &Outcome) -> Result<Option<Finding>, TargetError> {
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
            let g = self
                .model
                .setup
                .call(asker, Call::ThreadOwner { psid: psid.clone() });
            // thread_owner reads the state and changes nothing, so the
            // model answers it in place (checked in debug builds).
            #[cfg(debug_assertions)]
            let unchanged = self.model.clone();
            let want = apply(&mut self.model, &Op::Graph(g.clone()));
            #[cfg(debug_assertions)]
            debug_assert!(self.model == unchanged, "thread_owner changed the model");
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
            )
            .map_or_else(Seen::Unreadable, Seen::Graph);
            let cross_surface = op
                .psid()
                .and_then(|p| self.model.surface(p))
                .is_some_and(|s| Some(s) != self.model.surface(&psid));
            if let Answer::Graph(want) = &want.answer
                && let Some(f) = diff::owner(op, expected, &psid, asker, want, &got, cross_surface)
            {
                return Ok(Some(f));
            }
        }
        Ok(None)
    }
}

/// PSIDs whose transcript the step may have changed: those the model
/// delivered to, the PSID of a send or inbox action (a faulty target may
/// deliver what it should refuse), and PSIDs holding surveys when a step
/// can release them. All but the first are decided by the state before
/// the step, taken by [`TranscriptsBefore::of`] before the model applies
/// it.
struct TranscriptsBefore(BTreeSet<String>);

impl TranscriptsBefore {
    fn of(before: &State, op: &Op) -> TranscriptsBefore {
        let mut out = BTreeSet::new();
        let known = |p: &String| before.threads.contains_key(p);
        match op {
            Op::Graph(g) => {
                if let (Call::Send { psid, .. } | Call::Release { psid }, true) =
                    (&g.call, g.call.psid().is_some_and(known))
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
        TranscriptsBefore(out)
    }

    /// Adds the PSIDs the model delivered to in `expected`.
    fn with_received(self, expected: &Outcome) -> BTreeSet<String> {
        let mut out = self.0;
        for r in &expected.received {
            if !out.contains(&r.psid) {
                out.insert(r.psid.clone());
            }
        }
        out
    }
}
