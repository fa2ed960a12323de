//! `baton certify-app`: cases of stimuli played against an app under test
//! on the [`Stage`], judged on what the app did, failures shrunk with the
//! harness's shrinker into ordinary counterexamples and reported by the
//! same renderers as platform runs.
//!
//! Cases run in groups, one per page configuration (the app primary,
//! another app primary, no primary), set with the control API's `roles`
//! at the start of the group so that the app learns its role from
//! `app_roles`; the groups take turns, one batch of cases each. Within a group, `jobs` cases run side by side in lockstep,
//! each on PSIDs of its own: every case's next stimulus is applied, then
//! the tool waits until the app is quiet. A failing case is shrunk alone.

use super::judge::{Judgement, Violation, judge};
use super::record::{Entry, Record};
use super::stage::{AppIdentity, Stage};
use crate::generate::stimuli::{AUT, Offers, StimulusWeights, next_stimulus, past_every_deadline};
use crate::generate::{Case, CaseSetup, Entropy, SplitMix64};
use crate::harness::counterexample::Counterexample;
use crate::harness::counts::RuleCounts;
use crate::harness::diff::{AppEvent, AppFailure, Difference, Divergence};
use crate::harness::shrink::{self, Budget, Replayer};
use crate::harness::target::TargetError;
use crate::harness::{Observer, RunError, RunEvent, RunReport, Subject};
use crate::model::{AppIx, AppRef, Caller, Message, Op, Psid, Rule, RuleSet};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Everything `baton certify-app` is configured with.
#[derive(Clone, Debug)]
pub struct CertifyConfig {
    /// The app's webhook URL.
    pub webhook: String,
    /// Where the Graph API the app calls is served.
    pub bind: SocketAddr,
    pub identity: AppIdentity,
    pub cases: u64,
    pub seed: u64,
    pub time_limit: Option<Duration>,
    /// How long the app must be silent after a stimulus.
    pub quiet: Duration,
    /// The longest wait for quiet after one stimulus.
    pub reaction_limit: Duration,
    pub strict: bool,
    /// Cases played side by side (each on its own PSIDs).
    pub jobs: usize,
    /// Most stimuli per case (each case draws its length from 1 to this).
    pub max_stimuli: usize,
    pub weights: StimulusWeights,
    pub out_dir: PathBuf,
    pub snapshot_dir: PathBuf,
    pub expect: BTreeMap<Rule, String>,
    pub shrink: Budget,
    pub observer: Option<Observer>,
    /// Shown in reports: what the app is (`the reference app`, or a URL).
    pub label: String,
    /// Names of the app mutants switched on (reports only).
    pub app_mutants: Vec<String>,
    /// The app handles the linked Instagram account's threads too
    /// (`--instagram`): some cases put their users on Instagram.
    pub instagram: bool,
}

impl CertifyConfig {
    pub fn new(webhook: String, identity: AppIdentity) -> CertifyConfig {
        CertifyConfig {
            label: crate::harness::redact_url(&webhook),
            webhook,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            identity,
            cases: 200,
            seed: 1,
            time_limit: None,
            quiet: Duration::from_millis(300),
            reaction_limit: Duration::from_secs(5),
            strict: false,
            jobs: 16,
            max_stimuli: 10,
            weights: StimulusWeights::default(),
            out_dir: PathBuf::from("baton-out"),
            snapshot_dir: PathBuf::from("snapshots"),
            expect: BTreeMap::new(),
            shrink: Budget {
                max_replays: 300,
                max_time: Duration::from_secs(120),
            },
            observer: None,
            app_mutants: Vec::new(),
            instagram: false,
        }
    }

    fn emit(&self, e: RunEvent) {
        if let Some(o) = &self.observer {
            (o.0)(&e);
        }
    }

    /// The configuration as reports show it: no token, secret or key.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "webhook": crate::harness::redact_url(&self.webhook),
            "graph": format!("http://{}", self.bind),
            "app_id": self.identity.app_id,
            "token": "[redacted]",
            "secret": "[redacted]",
            "verify_token": self.identity.verify_token.as_ref().map(|_| "[redacted]"),
            "human_agent": self.identity.human_agent,
            "cases": self.cases,
            "seed": self.seed,
            "time_limit_ms": self.time_limit.map(|d| d.as_millis() as u64),
            "quiet_ms": self.quiet.as_millis() as u64,
            "reaction_limit_ms": self.reaction_limit.as_millis() as u64,
            "strict": self.strict,
            "jobs": self.jobs,
            "max_stimuli": self.max_stimuli,
            "expect": self.expect,
            "app_mutants": self.app_mutants,
            "instagram": self.instagram,
        })
    }
}

/// The page configurations cases are played in: who is the primary
/// receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// The app under test.
    App,
    /// Another app (the app under test is a secondary receiver).
    Other,
    /// Nobody.
    Nobody,
}

impl Group {
    const ALL: [Group; 3] = [Group::App, Group::Other, Group::Nobody];

    fn primary(self) -> Option<AppIx> {
        match self {
            Group::App => Some(AUT),
            Group::Other => Some(AppIx(1)),
            Group::Nobody => None,
        }
    }
}

/// One case being played: its stimuli (logical PSIDs) and where it is.
struct Playing {
    /// The case's own PSIDs: logical ("1", "2") to real (fresh).
    real: Vec<Psid>,
    logical: Vec<Psid>,
    /// The logical users that are on Instagram (IGSIDs); the others are
    /// PSIDs.
    igsids: Vec<Psid>,
    /// Stimuli to replay, or drawn as the case goes.
    script: Option<Vec<Op>>,
    rng: SplitMix64,
    len: usize,
    ops: Vec<Op>,
    starts: Vec<u64>,
    from: u64,
    /// The clock step that ended the case.
    end: Option<Op>,
}

impl Playing {
    fn to_real(&self, op: &Op) -> Op {
        let mut op = op.clone();
        if let Some(p) = op.psid_mut()
            && let Some(i) = self.logical.iter().position(|l| l == p)
        {
            *p = self.real[i].clone();
        }
        op
    }

    fn to_logical(&self, op: &Op) -> Op {
        let mut op = op.clone();
        if let Some(p) = op.psid_mut()
            && let Some(i) = self.real.iter().position(|r| r == p)
        {
            *p = self.logical[i].clone();
        }
        op
    }
}

/// The case's PSIDs as a case stores them.
fn logical_psids() -> Vec<Psid> {
    vec!["1".into(), "2".into()]
}

/// What a played case produced.
struct Outcome {
    case: Case,
    /// The clock step that ended it.
    end: Option<Op>,
    record: Record,
    judgement: Judgement,
    /// Where each real PSID maps back to the case's own.
    real: Vec<Psid>,
}

/// Sets the group's primary receiver; the app learns its role.
async fn set_roles(stage: &Stage, primary: Option<AppIx>) -> Result<(), TargetError> {
    stage
        .apply(&Op::Roles {
            primary: primary.map(AppRef::App),
        })
        .await?;
    stage.settle().await
}

/// Plays cases side by side until every one has run its stimuli (or
/// `stop_at` has come: an app that makes every stimulus wait for the
/// reaction limit must not hold the run past its time limit), then moves
/// the clock past every deadline.
async fn play_batch(
    stage: &Stage,
    weights: &StimulusWeights,
    mut cases: Vec<Playing>,
    primary: Option<AppIx>,
    stop_at: Option<Instant>,
    answers_by: Option<Instant>,
) -> Result<Vec<Outcome>, TargetError> {
    let mut step = 0;
    loop {
        let active: Vec<usize> = (0..cases.len()).filter(|i| step < cases[*i].len).collect();
        if active.is_empty() || (step > 0 && stop_at.is_some_and(|t| Instant::now() >= t)) {
            break;
        }
        // Clock jumps are page-wide: they wait until the app has reacted to
        // the step's other stimuli, so no case's thread lapses while the
        // app is still reading what just happened on it.
        let mut clocks: Vec<(usize, Op)> = Vec::new();
        for i in active {
            let st = stage.state().await;
            let offers = offers_of(stage, &cases[i]);
            let c = &mut cases[i];
            let op = match &c.script {
                Some(ops) => c.to_real(&ops[step]),
                None => next_stimulus(&mut c.rng, &st, &c.real, &offers, weights),
            };
            if matches!(op, Op::Clock { .. }) {
                clocks.push((i, op));
                continue;
            }
            apply_stimulus(stage, c, &op).await?;
        }
        stage.settle().await?;
        for (i, op) in clocks {
            apply_stimulus(stage, &mut cases[i], &op).await?;
            stage.settle().await?;
        }
        step += 1;
    }
    // The end of every case: the clock past every deadline.
    let end = stage.seq();
    for c in &mut cases {
        c.starts.push(end);
    }
    let st = stage.state().await;
    let end_op = past_every_deadline(&st);
    stage.stimulus_begins(&end_op);
    stage.apply(&end_op).await?;
    stage.settle().await?;
    // Every delivery answered (or given up on) before the cases are judged:
    // an app that stops answering is judged on its first unanswered one.
    let limit = super::stage::ANSWER_LIMIT + Duration::from_secs(1);
    stage
        .drain(answers_by.map_or(limit, |t| {
            limit.min(t.saturating_duration_since(Instant::now()))
        }))
        .await;
    for c in &mut cases {
        c.end = Some(end_op.clone());
    }
    let setup = stage.setup.clone();
    Ok(cases
        .into_iter()
        .map(|c| {
            let mut record = stage.record(c.from, &c.real, c.starts.clone());
            if primary == Some(AUT) {
                // The app was told its role by the group's `app_roles`.
                record.primary_at_start = true;
            }
            let judgement = judge(&record);
            let mut s = setup.clone();
            s.primary = primary;
            // The page's Instagram account is part of the case when one of
            // its users is on Instagram.
            if c.igsids.is_empty() {
                s.instagram_account_id = None;
            }
            Outcome {
                end: c.end.clone(),
                case: Case::new(
                    CaseSetup {
                        setup: s,
                        psids: c
                            .logical
                            .iter()
                            .filter(|p| !c.igsids.contains(p))
                            .cloned()
                            .collect(),
                        igsids: c.igsids.clone(),
                    },
                    c.ops,
                ),
                record,
                judgement,
                real: c.real,
            }
        })
        .collect())
}

/// Applies one stimulus of a case (with real PSIDs), a millisecond after
/// the previous one (distinct stimuli carry distinct timestamps).
async fn apply_stimulus(stage: &Stage, c: &mut Playing, op: &Op) -> Result<(), TargetError> {
    stage.apply(&Op::Clock { advance_ms: 1 }).await?;
    c.starts.push(stage.seq());
    stage.stimulus_begins(op);
    c.ops.push(c.to_logical(op));
    // The tool never calls as the app under test.
    if !matches!(op, Op::Graph(g) if g.caller == Caller::App(AUT)) {
        stage.apply(op).await?;
    }
    Ok(())
}

/// The quick replies the app last offered each of the case's PSIDs, and
/// which of its users are on Instagram.
fn offers_of(stage: &Stage, c: &Playing) -> Offers {
    let mut offers = Offers {
        igsids: c
            .logical
            .iter()
            .zip(&c.real)
            .filter(|(l, _)| c.igsids.contains(l))
            .map(|(_, r)| r.clone())
            .collect(),
        ..Offers::default()
    };
    for e in stage.record(c.from, &c.real, Vec::new()).entries {
        if let Entry::Decided {
            by_app: true,
            op: Op::Graph(g),
            ..
        } = e
            && let crate::model::Call::Send {
                psid,
                message:
                    Message::Text {
                        quick_replies: Some(q),
                        ..
                    },
                ..
            } = &g.call
        {
            offers.quick_replies.insert(psid.clone(), q.clone());
        }
    }
    offers
}

/// Where a case's users are: for a replay, as the case says; for a new
/// case, all on Messenger, or (with `--instagram`) the second user on
/// Instagram in half the cases and both in a quarter more.
enum Users<'a> {
    Replay(&'a CaseSetup),
    New { instagram: bool },
}

fn fresh(
    stage: &Stage,
    script: Option<Vec<Op>>,
    rng: SplitMix64,
    max: usize,
    users: Users<'_>,
) -> Playing {
    let mut rng = rng;
    let len = match &script {
        Some(ops) => ops.len(),
        None => rng.range(1, max.max(1) as u32) as usize,
    };
    let logical = logical_psids();
    let igsids = match users {
        Users::Replay(cs) => cs.igsids.clone(),
        Users::New { instagram: false } => Vec::new(),
        Users::New { instagram: true } => match rng.below(4) {
            0 => Vec::new(),
            1 => logical.clone(),
            _ => logical[1..].to_vec(),
        },
    };
    Playing {
        real: stage.fresh_psids(2),
        logical,
        igsids,
        script,
        rng,
        len,
        ops: Vec::new(),
        starts: Vec::new(),
        from: stage.seq(),
        end: None,
    }
}

/// What a rule asks of an app, for the expected side of a counterexample.
fn asks(rule: Rule) -> &'static str {
    match rule {
        Rule::Bp1 => {
            "unsure who owns the thread (its latest event came on standby), the app asks thread_owner before it sends, takes, requests, passes, releases or extends"
        }
        Rule::Bp2 => {
            "the app never sends, passes, releases or extends while another app or the Page Inbox owns the thread (no 10/2018300)"
        }
        Rule::Bp3 => {
            "an app that is not the primary receiver requests control instead of taking it"
        }
        Rule::Bp4 => {
            "a request_thread_control is honoured: the next pass goes to the earliest pending requester, and control never lapses with a request pending"
        }
        Rule::Bp5 => {
            "when done the app passes or releases, acting on what it knows: none of its release or extend calls is refused because the thread is idle"
        }
        Rule::Bp6 => {
            "having found the thread idle, the app takes or requests control before its second message"
        }
        Rule::App1 => "every signed delivery is answered with a 2xx within 20 s",
        Rule::App2 => "a delivery with a missing or wrong signature causes no Graph call",
        Rule::App3 => {
            "deliveries of unusual kinds (batches, app_roles, standby postbacks without payload, unknown fields and kinds) are answered 2xx and the app keeps serving"
        }
        Rule::App4 => "a retried delivery causes no second reaction",
        Rule::App5 => {
            "the verification handshake answers the challenge for the right verify token and 403 for a wrong one"
        }
        Rule::App6 => {
            "every Graph call is well-formed and authorised (no INPUT-1, AUTH-1 or AUTH-3 refusal)"
        }
        _ => "",
    }
}

/// The divergence of a played case, naming every rule the case broke (so a
/// replay that breaks the same rule first or later still reproduces it).
/// It is filed under its first violation; when that entry of the record
/// (one call, one delivery) broke several rules, under the first APP-2 or
/// APP-4 among them (the forged or retried delivery *caused* the call,
/// whatever else the call broke), else the first MUST rule among them (a
/// call that breaks BP-1 and BP-2 at once is filed under BP-2). It is
/// strict when any rule the case broke is a MUST.
fn divergence(o: &Outcome) -> Option<Divergence> {
    let violations = &o.judgement.violations;
    let earliest = violations.first()?.entry;
    let same: Vec<&Violation> = violations.iter().filter(|v| v.entry == earliest).collect();
    let first: &Violation = same
        .iter()
        .find(|v| matches!(v.rule, Rule::App2 | Rule::App4))
        .or_else(|| {
            same.iter()
                .find(|v| v.rule.level() == crate::model::Level::Must)
        })
        .unwrap_or(&same[0]);
    let mut rules = vec![first.rule];
    for v in &o.judgement.violations {
        if !rules.contains(&v.rule) {
            rules.push(v.rule);
        }
    }
    let logical = |p: &str| {
        o.real
            .iter()
            .position(|r| r == p)
            .map_or_else(|| p.to_string(), |i| logical_psids()[i].clone())
    };
    let relabel = |op: &Op| {
        let mut op = op.clone();
        if let Some(p) = op.psid_mut() {
            *p = logical(p);
        }
        op
    };
    let relabel_event = |e: &crate::model::Event| {
        let mut e = e.clone();
        if let Some(p) = &mut e.psid {
            *p = logical(p);
        }
        e
    };
    // A send's answer names the recipient: the case's own PSID too.
    let relabel_answer = |a: &crate::model::Answer| {
        let mut a = a.clone();
        if let crate::model::Answer::Graph(Ok(crate::model::GraphSuccess::Sent {
            recipient_id,
            ..
        })) = &mut a
        {
            *recipient_id = logical(recipient_id);
        }
        a
    };
    // The timeline: stimuli, deliveries and the app's calls, up to the
    // violation.
    let mut items: Vec<(u64, AppEvent, Option<usize>)> = Vec::new();
    for (i, start) in o.record.starts.iter().enumerate() {
        let Some(op) = o.case.ops.get(i).or(o.end.as_ref()).cloned() else {
            continue;
        };
        items.push((*start, AppEvent::Stimulus { index: i, op }, None));
    }
    for (k, e) in o.record.entries.iter().enumerate() {
        match e {
            Entry::Delivered {
                seq,
                kind,
                events,
                answer,
                elapsed_ms,
            } => items.push((
                *seq,
                AppEvent::Delivery {
                    kind: format!("{kind:?}").to_lowercase(),
                    events: events.iter().map(|(c, e)| (*c, relabel_event(e))).collect(),
                    answer: format!("{answer} in {elapsed_ms} ms"),
                },
                Some(k),
            )),
            Entry::Decided {
                seq,
                by_app: true,
                op,
                outcome,
                ..
            } => items.push((
                *seq,
                AppEvent::Call {
                    op: relabel(op),
                    answer: relabel_answer(&outcome.answer),
                    message: refusal_message(op, outcome),
                },
                Some(k),
            )),
            _ => {}
        }
    }
    items.sort_by_key(|(s, _, _)| *s);
    let at = items
        .iter()
        .position(|(_, _, k)| *k == Some(first.entry))
        .unwrap_or(items.len().saturating_sub(1));
    items.truncate(at + 1);
    let timeline: Vec<AppEvent> = items.into_iter().map(|(_, e, _)| e).collect();
    // A refused call says, beside the rule it broke, what the platform
    // answered it with: the words a developer can act on.
    let said = match o.record.entries.get(first.entry) {
        Some(Entry::Decided {
            by_app: true,
            op,
            outcome,
            ..
        }) => refusal_message(op, outcome)
            .filter(|m| !first.explanation.contains(m.as_str()))
            .map(|m| format!("; the platform answered \"{m}\"")),
        _ => None,
    }
    .unwrap_or_default();
    // A MUST broken anywhere in the case makes it strict, even when a
    // SHOULD is named first (APP-4 before the BP-2 of the same call).
    let strict = rules.iter().any(|r| r.level() == crate::model::Level::Must);
    Some(Divergence {
        step: first.stimulus,
        op: o.case.ops.get(first.stimulus).cloned(),
        concurrent: false,
        rules,
        strict,
        difference: Difference::App(Box::new(AppFailure {
            expected: asks(first.rule).to_string(),
            explanation: first.psid.as_ref().map_or_else(
                || first.explanation.clone(),
                |p| format!("psid {}: {}", logical(p), first.explanation),
            ) + &said
                + &not_kept(o.record.dropped),
            timeline,
            at,
        })),
    })
}

/// What a counterexample says of the calls a flooding app made beyond
/// what the record keeps.
fn not_kept(n: u64) -> String {
    if n == 0 {
        return String::new();
    }
    format!(
        " (the app made {n} more Graph calls than the {} per PSID and stimulus that baton keeps: they were counted and answered, not recorded)",
        super::stage::CALLS_KEPT
    )
}

/// The error message the platform gave a refused call, in Meta's words.
fn refusal_message(op: &Op, outcome: &crate::model::Outcome) -> Option<String> {
    match (op, &outcome.answer) {
        (Op::Graph(g), _) => crate::wire::outcome_message(g.call.edge(), outcome),
        (_, crate::model::Answer::Graph(Err(e))) => Some(e.message().to_string()),
        _ => None,
    }
}

/// How much of a run (with `--instagram`) happened on Instagram threads.
#[derive(Default)]
struct InstagramTally {
    cases: u64,
    of: u64,
    events: u64,
    calls: u64,
}

impl InstagramTally {
    fn add(&mut self, o: &Outcome) {
        self.of += 1;
        if o.case.setup.igsids.is_empty() {
            return;
        }
        self.cases += 1;
        // A real PSID is on Instagram when its logical one is an IGSID.
        let logical = logical_psids();
        let on_instagram = |p: &Psid| {
            o.real
                .iter()
                .position(|r| r == p)
                .is_some_and(|i| o.case.setup.igsids.contains(&logical[i]))
        };
        for e in &o.record.entries {
            match e {
                Entry::Delivered { events, .. } => {
                    self.events += events
                        .iter()
                        .filter(|(_, ev)| ev.surface.is_instagram())
                        .count() as u64;
                }
                Entry::Decided {
                    by_app: true,
                    psid: Some(p),
                    ..
                } if on_instagram(p) => self.calls += 1,
                _ => {}
            }
        }
    }
}

impl std::fmt::Display for InstagramTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Instagram: {} of {} cases put users on Instagram; the app got {} Instagram events and made {} calls on Instagram threads",
            self.cases, self.of, self.events, self.calls
        )
    }
}

/// Replays one case alone, on fresh PSIDs, for the shrinker.
struct Alone<'a> {
    stage: &'a Stage,
    weights: StimulusWeights,
    /// No stimulus is applied after this.
    stop_at: Option<Instant>,
}

impl Replayer for Alone<'_> {
    async fn replay(&mut self, case: &Case) -> Result<Option<Divergence>, TargetError> {
        // A candidate that makes the tool call as the app under test, or
        // that changes the page's apps (the stage has its own), is not a
        // case at all.
        if case.setup.setup.apps != self.stage.setup.apps
            || case
                .ops
                .iter()
                .any(|op| matches!(op, Op::Graph(g) if g.caller == Caller::App(AUT)))
        {
            return Ok(None);
        }
        let primary = case.setup.setup.primary;
        set_roles(self.stage, primary).await?;
        let p = fresh(
            self.stage,
            Some(case.ops.clone()),
            SplitMix64::new(0),
            1,
            Users::Replay(&case.setup),
        );
        let outcomes = play_batch(
            self.stage,
            &self.weights,
            vec![p],
            primary,
            self.stop_at,
            self.stop_at,
        )
        .await?;
        Ok(outcomes.first().and_then(divergence))
    }
}

/// What to check when the app cannot be reached: that it runs, that the
/// webhook URL is its webhook, and that it calls baton's Graph API.
fn what_to_check(cfg: &CertifyConfig) -> String {
    let graph = if cfg.bind.port() == 0 {
        "baton's Graph API (the address printed at the start)".to_string()
    } else {
        format!("http://{}", cfg.bind)
    };
    format!(
        "check that the app is running and listening there, that the webhook path is right (baton sends the handshake and deliveries to exactly {}), and that the app's Graph API base URL is set to {graph}",
        cfg.label
    )
}

/// The app's webhook cannot be reached (exit 3): why, and what to check.
fn cannot_reach(cfg: &CertifyConfig, why: &str) -> RunError {
    RunError::Target(TargetError::Unreachable(format!(
        "cannot reach the app's webhook at {}: {why}; {}",
        cfg.label,
        what_to_check(cfg)
    )))
}

/// Checks the verification handshake (APP-5): the challenge for the right
/// token, 403 for a wrong one. `Err` when the webhook cannot be reached.
async fn handshake(cfg: &CertifyConfig) -> Result<Option<String>, RunError> {
    let Some(token) = &cfg.identity.verify_token else {
        return Ok(None);
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client without TLS always builds");
    let ask = |t: &str| {
        let mut url = reqwest::Url::parse(&cfg.webhook)
            .map_err(|e| RunError::Usage(format!("--webhook {:?} is not a URL: {e}", cfg.label)))?;
        url.query_pairs_mut()
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.verify_token", t)
            .append_pair("hub.challenge", "baton-challenge-1589");
        Ok::<_, RunError>(http.get(url).send())
    };
    let unreachable = |e: reqwest::Error| {
        // Without the URL: its query carries the verify token.
        let why = if e.is_timeout() {
            "no answer to the verification handshake within 20 s".to_string()
        } else {
            super::stage::describe(&e.without_url())
        };
        cannot_reach(cfg, &why)
    };
    let right = ask(token)?.await.map_err(unreachable)?;
    let status = right.status().as_u16();
    let body = right.text().await.unwrap_or_default();
    if status != 200 || body.trim() != "baton-challenge-1589" {
        return Ok(Some(format!(
            "GET with the right verify token answered HTTP {status} with {body:?} instead of 200 with the challenge"
        )));
    }
    let wrong = ask("not-the-verify-token")?.await.map_err(unreachable)?;
    let status = wrong.status().as_u16();
    if status != 403 {
        return Ok(Some(format!(
            "GET with a wrong verify token answered HTTP {status} instead of 403"
        )));
    }
    Ok(None)
}

/// `Err` (exit 3) when the app's webhook cannot be reached at all: the
/// handshake when there is a verify token, else any HTTP answer to a GET.
async fn reachable(cfg: &CertifyConfig) -> Result<(), RunError> {
    if cfg.identity.verify_token.is_some() {
        return handshake(cfg).await.map(|_| ());
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client without TLS always builds");
    match http.get(&cfg.webhook).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(cannot_reach(cfg, &super::stage::describe(&e.without_url()))),
    }
}

/// Certifies the app.
pub async fn certify(cfg: CertifyConfig) -> Result<RunReport, RunError> {
    if cfg.jobs == 0 {
        return Err(RunError::Usage("--jobs must be at least 1".into()));
    }
    let started = Instant::now();
    let deadline = cfg.time_limit.map(|d| started + d);
    let mut counterexamples: Vec<Counterexample> = Vec::new();
    let mut counts = RuleCounts::default();
    let mut notes = Vec::new();
    // APP-5 first: the handshake (it also shows whether the app is there).
    let handshake = handshake(&cfg).await?;
    if !cfg.instagram {
        notes.push(
            "Instagram threads were not played: add --instagram if the app also handles the linked Instagram account (\"object\":\"instagram\" deliveries)".into(),
        );
    }
    if cfg.identity.verify_token.is_some() {
        counts.add(RuleSet::EMPTY.with(Rule::App5));
    } else {
        notes.push(
            "no --verify-token given: the verification handshake (APP-5) was not checked".into(),
        );
    }
    // A broken handshake fails a strict run before the first case.
    let handshake_fails = handshake.is_some() && cfg.strict;
    if let Some(why) = handshake {
        let mut c = Counterexample::new(
            Case::new(
                CaseSetup {
                    setup: crate::model::Setup::new("0".into(), 0, Vec::new(), None)
                        .expect("empty setup"),
                    psids: Vec::new(),
                    igsids: Vec::new(),
                },
                Vec::new(),
            ),
            Divergence {
                step: 0,
                op: None,
                concurrent: false,
                rules: vec![Rule::App5],
                strict: false,
                difference: Difference::App(Box::new(AppFailure {
                    expected: asks(Rule::App5).to_string(),
                    explanation: why,
                    timeline: Vec::new(),
                    at: 0,
                })),
            },
            &cfg.label,
        );
        c.subject = Subject::App;
        counterexamples.push(c);
    }
    let stage = Stage::start(
        cfg.bind,
        &cfg.webhook,
        cfg.identity.clone(),
        cfg.quiet,
        cfg.reaction_limit,
    )
    .await?;
    // The first signed delivery: a user writes on a thread of its own.
    let first = stage.fresh_psids(1);
    let from = stage.seq();
    stage
        .apply(&Op::User(crate::model::UserEvent::Message {
            psid: first[0].clone(),
            text: "hello".into(),
            quick_reply: None,
            platform: Default::default(),
        }))
        .await?;
    stage.settle().await?;
    stage.drain(Duration::from_secs(25)).await;
    let answered = stage
        .record(from, &first, vec![from])
        .entries
        .into_iter()
        .find_map(|e| match e {
            Entry::Delivered { answer, .. } => Some(answer),
            _ => None,
        });
    match answered {
        Some(a) if a.is_2xx() => {}
        Some(a) => {
            stage.stop().await;
            return Err(RunError::Target(TargetError::Unreachable(format!(
                "the app did not accept its first signed delivery at {}: {a} (is it running, does --webhook point at its webhook, and does it use the app secret given with --secret?)",
                cfg.label
            ))));
        }
        None => {
            stage.stop().await;
            return Err(RunError::Target(TargetError::Unreachable(format!(
                "the first delivery to {} was never made; check --webhook",
                cfg.label
            ))));
        }
    }
    cfg.emit(RunEvent::Started {
        seed: cfg.seed,
        cases: cfg.cases,
        jobs: cfg.jobs,
        time_limit_ms: cfg.time_limit.map(|d| d.as_millis() as u64),
    });
    let mut cases_done = 0u64;
    let mut steps = 0u64;
    let mut index = 0u64;
    let mut deviated: Vec<Rule> = Vec::new();
    let mut instagram = InstagramTally::default();
    let mut stop = handshake_fails;
    let mut first_failure = handshake_fails.then(|| started.elapsed());
    if handshake_fails {
        deviated.push(Rule::App5);
    }
    // The groups take turns, one batch each (the app primary, another app
    // primary, no primary, again), so that every page configuration is
    // played from the first seconds of a run on, not only after the
    // cases of the groups before it.
    let mut batch_no = 0usize;
    'groups: while index < cfg.cases {
        let group = Group::ALL[batch_no % Group::ALL.len()];
        batch_no += 1;
        set_roles(&stage, group.primary()).await?;
        {
            if stop || deadline.is_some_and(|d| Instant::now() >= d) {
                break 'groups;
            }
            let n = (cfg.jobs as u64).min(cfg.cases - index) as usize;
            let batch: Vec<Playing> = (0..n)
                .map(|k| {
                    let i = index + k as u64;
                    fresh(
                        &stage,
                        None,
                        crate::generate::case_rng(cfg.seed, i, 0xA99),
                        cfg.max_stimuli,
                        Users::New {
                            instagram: cfg.instagram,
                        },
                    )
                })
                .collect();
            let first_index = index;
            index += n as u64;
            let batch_start = stage.seq();
            let outcomes =
                play_batch(&stage, &cfg.weights, batch, group.primary(), deadline, None).await?;
            // The shortest failing case of the batch is shrunk first: it
            // is the nearest to a minimal counterexample.
            let mut outcomes: Vec<(usize, Outcome)> = outcomes.into_iter().enumerate().collect();
            outcomes.sort_by_key(|(k, o)| {
                (
                    o.judgement.violations.is_empty(),
                    o.judgement
                        .violations
                        .first()
                        .map_or(usize::MAX, |v| v.stimulus),
                    o.case.ops.len(),
                    *k,
                )
            });
            for (k, o) in outcomes {
                let case_index = first_index + k as u64;
                cases_done += 1;
                steps += o.case.ops.len() as u64;
                counts.merge(&o.judgement.counts);
                instagram.add(&o);
                cfg.emit(RunEvent::CaseFinished {
                    case_index,
                    cases_done,
                    steps_done: steps,
                    divergences: counterexamples.len() as u64,
                });
                let Some(d) = divergence(&o) else { continue };
                let rule = d.rule();
                let expected = cfg.expect.contains_key(&rule);
                let fails = d.fails(cfg.strict) && !expected;
                if !fails && deviated.contains(&rule) {
                    continue;
                }
                if stop {
                    continue;
                }
                deviated.push(rule);
                cfg.emit(RunEvent::Divergence {
                    case_index,
                    rule,
                    rules: d.rules.clone(),
                    strict: d.strict,
                    expected,
                    step: d.step,
                    headline: d.headline(),
                });
                if fails {
                    stop = true;
                    first_failure.get_or_insert(started.elapsed());
                }
                // Shrink alone, within the time that is left.
                let mut budget = cfg.shrink;
                if let Some(dl) = deadline {
                    let left =
                        (dl + Duration::from_secs(40)).saturating_duration_since(Instant::now());
                    budget.max_time = budget.max_time.min(left);
                }
                let mut alone = Alone {
                    stage: &stage,
                    weights: cfg.weights.clone(),
                    stop_at: deadline.map(|_| Instant::now() + budget.max_time),
                };
                let shrunk = shrink::shrink(&mut alone, o.case.clone(), d, budget).await?;
                let mut c = Counterexample::new(shrunk.case, shrunk.divergence, &cfg.label);
                c.subject = Subject::App;
                c.seed = Some(cfg.seed);
                c.case_index = Some(case_index);
                c.shrink = Some(shrunk.stats);
                cfg.emit(RunEvent::Counterexample {
                    case_index,
                    rule: c.rule,
                    steps: c.case.ops.len(),
                    replays: c.shrink.as_ref().map_or(0, |s| s.replays),
                    shrink_ms: c.shrink.as_ref().map_or(0, |s| s.millis),
                });
                counterexamples.push(c);
                // The group's roles again, for the cases that follow.
                set_roles(&stage, group.primary()).await?;
            }
            stage.forget_before(batch_start);
        }
    }
    // The last answers, within the minute a time limit allows after it.
    let drain = deadline.map_or(Duration::from_secs(30), |d| {
        (d + Duration::from_secs(50))
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(30))
    });
    stage.drain(drain).await;
    // The handshake's two GETs and every request made on the stage.
    let requests = stage.http_requests()
        + if cfg.identity.verify_token.is_some() {
            2
        } else {
            0
        };
    stage.stop().await;
    if cfg.instagram {
        notes.push(instagram.to_string());
    }
    counterexamples.sort_by_key(|c| (!c.divergence.strict, c.case_index));
    let mut written = Vec::new();
    for c in &counterexamples {
        written.push(c.write_json(&cfg.out_dir).map_err(|e| {
            RunError::Usage(format!("cannot write to {}: {e}", cfg.out_dir.display()))
        })?);
        written.push(c.write_snapshot(&cfg.snapshot_dir).map_err(|e| {
            RunError::Usage(format!(
                "cannot write to {}: {e}",
                cfg.snapshot_dir.display()
            ))
        })?);
    }
    Ok(RunReport {
        subject: Subject::App,
        target: cfg.label.clone(),
        seed: cfg.seed,
        cases: cases_done,
        steps,
        requests,
        elapsed: started.elapsed(),
        exercised: counts.exercised(),
        counterexamples,
        written,
        notes,
        strict: cfg.strict,
        first_failure_after: first_failure,
        rule_counts: counts,
        expect: cfg.expect.clone(),
        config: cfg.redacted(),
        left_out: Vec::new(),
    })
}

/// Plays a saved app counterexample again against a running app: whether
/// it still breaks its rule.
pub async fn replay(
    c: &Counterexample,
    cfg: &CertifyConfig,
) -> Result<Option<Divergence>, RunError> {
    if c.case.ops.is_empty() && c.rule == Rule::App5 {
        let why = handshake(cfg).await?;
        return Ok(why.map(|why| Divergence {
            step: 0,
            op: None,
            concurrent: false,
            rules: vec![Rule::App5],
            strict: false,
            difference: Difference::App(Box::new(AppFailure {
                expected: asks(Rule::App5).to_string(),
                explanation: why,
                timeline: Vec::new(),
                at: 0,
            })),
        }));
    }
    // The page must be the one the counterexample was found on, and the
    // app must be there: a replay against nothing must not pass.
    if let Some(found) = c.case.setup.setup.apps.first()
        && (found.app_id != cfg.identity.app_id || found.human_agent != cfg.identity.human_agent)
    {
        return Err(RunError::Usage(format!(
            "the counterexample was found with app id {}{}; replay it with the same identity (--app-id {}{})",
            found.app_id,
            if found.human_agent {
                " and the human agent feature"
            } else {
                ""
            },
            found.app_id,
            if found.human_agent {
                " --human-agent"
            } else {
                ""
            },
        )));
    }
    reachable(cfg).await?;
    let stage = Stage::start(
        cfg.bind,
        &cfg.webhook,
        cfg.identity.clone(),
        cfg.quiet,
        cfg.reaction_limit,
    )
    .await?;
    let mut alone = Alone {
        stage: &stage,
        weights: cfg.weights.clone(),
        stop_at: None,
    };
    let d = alone.replay(&c.case).await?;
    stage.drain(Duration::from_secs(30)).await;
    stage.stop().await;
    Ok(d.filter(|d| d.rules.contains(&c.rule)).or(None))
}
