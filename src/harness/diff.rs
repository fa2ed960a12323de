//! The differ: what the model expected against what the target did, and
//! which rules a difference breaks.
//!
//! Each comparison yields a [`Finding`]: the rules the observation
//! contradicts, whether that fails certification, and the [`Difference`]
//! itself as data (the expected and the observed values, not text). The
//! rules come from the model's own attribution: the rule that decided the
//! step ([`Outcome::decided_by`]), the rule behind each expected delivery
//! and each message the user should receive. A step's findings are merged
//! into one [`Divergence`] ([`merge`]), filed under the first rule of its
//! first strict finding, and naming every rule any finding names.
//!
//! Generic rules are named beside the specific ones, never instead of
//! them: an unexpected handover event breaks HOOK-5 ("nothing is delivered
//! that no rule asks for") and, first, the rule that decided the step (its
//! owner is not the one the observation implies).

use crate::model::{
    Answer, AnswerMatch, AppIx, Channel, ControlAnswer, ControlSuccess, Delivery, Event,
    GraphAnswer, GraphError, GraphSuccess, Level, ObservedAnswer, Op, Outcome, Psid, Rule, Setup,
    judge_control, judge_graph,
};
use crate::wire::control::TranscriptItem;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// Which observation differed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Answer,
    Signature,
    Deliveries,
    Transcript,
    /// The owner or deadline seen through `thread_owner` after the step.
    Owner,
    /// A concurrent phase no sequential order explains (RACE-1).
    Race,
    /// What an app under test did (`baton certify-app`).
    App,
}

impl Kind {
    /// What differed, in words.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Answer => "answer",
            Kind::Signature => "webhook signature",
            Kind::Deliveries => "set of webhook deliveries",
            Kind::Transcript => "user's transcript",
            Kind::Owner => "thread's owner or deadline afterwards",
            Kind::Race => "concurrent history",
            Kind::App => "app's behaviour",
        }
    }
}

/// What the target answered to a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    Graph(ObservedAnswer),
    Control(Result<ControlSuccess, String>),
    /// No readable answer: a 5xx without an error envelope, a body that is
    /// not JSON, a shape that does not fit the call.
    Unreadable(String),
}

impl Seen {
    /// What a correct platform answers: the model's outcome as observed.
    pub fn of(out: &Outcome) -> Seen {
        match &out.answer {
            Answer::Graph(r) => Seen::Graph(ObservedAnswer::of(r)),
            Answer::Control(r) => Seen::Control(r.clone()),
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Graph(o) => GraphAnswer(&o.answer).fmt(f),
            Seen::Control(r) => ControlAnswer(r).fmt(f),
            Seen::Unreadable(e) => f.write_str(e),
        }
    }
}

/// What was wrong with one app's deliveries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryProblem {
    /// An expected event did not arrive (on that channel).
    Missing { channel: Channel, event: Event },
    /// An event arrived that no rule asks for; `duplicate` when it is a
    /// second copy of an expected one.
    Extra {
        channel: Channel,
        event: Event,
        duplicate: bool,
    },
    /// Everything arrived, in another order (HOOK-6).
    Order,
    /// A delivery that is not a webhook envelope as wire.md describes.
    Unreadable { error: String },
    /// An event about a thread the concurrent phase did not touch.
    OtherThread { channel: Channel, event: Event },
}

/// A difference between the model and the target, as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The answer to the operation.
    Answer { expected: Answer, observed: Seen },
    /// A delivery to `app` whose `X-Hub-Signature-256` is missing or wrong.
    Signature { app: AppIx, present: bool },
    /// The webhook deliveries of one app during the step.
    Deliveries {
        app: AppIx,
        problem: DeliveryProblem,
        expected: Vec<(Channel, Event)>,
        observed: Vec<(Channel, Event)>,
    },
    /// What the user of `psid` has received, in all.
    Transcript {
        psid: Psid,
        expected: Vec<TranscriptItem>,
        observed: Vec<TranscriptItem>,
    },
    /// `thread_owner` of `psid`, asked by `asker` after the step.
    Owner {
        psid: Psid,
        asker: AppIx,
        expected: Result<GraphSuccess, GraphError>,
        observed: Seen,
    },
    /// No order of a concurrent phase explains what was observed.
    Race(Box<RaceFailure>),
    /// An app under test broke a rule for apps (BP, APP).
    App(Box<AppFailure>),
}

impl Difference {
    pub fn kind(&self) -> Kind {
        match self {
            Difference::Answer { .. } => Kind::Answer,
            Difference::Signature { .. } => Kind::Signature,
            Difference::Deliveries { .. } => Kind::Deliveries,
            Difference::Transcript { .. } => Kind::Transcript,
            Difference::Owner { .. } => Kind::Owner,
            Difference::Race(_) => Kind::Race,
            Difference::App(_) => Kind::App,
        }
    }

    /// What a correct platform does, in words (one fact per line).
    pub fn expected_text(&self) -> String {
        match self {
            Difference::Answer { expected, .. } => expected.to_string(),
            Difference::Signature { .. } => {
                "sha256=HMAC(app secret, body) on every delivery".into()
            }
            Difference::Deliveries {
                app,
                problem,
                expected,
                ..
            } => match problem {
                DeliveryProblem::Missing { channel, event } => {
                    format!("{app} {channel} {event}")
                }
                DeliveryProblem::Extra { .. } if expected.is_empty() => {
                    format!("nothing for {app}")
                }
                DeliveryProblem::Extra { .. } | DeliveryProblem::Order => lines(*app, expected),
                DeliveryProblem::Unreadable { .. } => {
                    "a webhook envelope as wire.md describes".into()
                }
                DeliveryProblem::OtherThread { .. } => {
                    "webhooks about the threads of the concurrent phase only".into()
                }
            },
            Difference::Transcript { psid, expected, .. } => {
                format!("psid {psid}:\n{}", transcript_lines(expected))
            }
            Difference::Owner {
                psid,
                asker,
                expected,
                ..
            } => format!(
                "after the step, thread_owner of psid {psid} asked by {asker}: {}",
                GraphAnswer(expected)
            ),
            Difference::Race(r) => r.expected_text(),
            Difference::App(a) => a.expected.clone(),
        }
    }

    /// What the target did instead, in words.
    pub fn observed_text(&self) -> String {
        match self {
            Difference::Answer { observed, .. } => observed.to_string(),
            Difference::Signature { app, present: true } => format!(
                "a delivery to {app} whose X-Hub-Signature-256 does not match its body under {app}'s secret"
            ),
            Difference::Signature {
                app,
                present: false,
            } => format!("a delivery to {app} without X-Hub-Signature-256"),
            Difference::Deliveries {
                app,
                problem,
                observed,
                ..
            } => match problem {
                DeliveryProblem::Missing { .. } | DeliveryProblem::Order if observed.is_empty() => {
                    format!("{app} received nothing")
                }
                DeliveryProblem::Missing { .. } | DeliveryProblem::Order => lines(*app, observed),
                DeliveryProblem::Extra {
                    channel,
                    event,
                    duplicate,
                } => {
                    let what = if *duplicate { "a duplicate: " } else { "" };
                    format!("{what}{app} {channel} {event}")
                }
                DeliveryProblem::Unreadable { error } => format!("{app}: {error}"),
                DeliveryProblem::OtherThread { channel, event } => {
                    format!("{app} {channel} {event}")
                }
            },
            Difference::Transcript { psid, observed, .. } => {
                format!("psid {psid}:\n{}", transcript_lines(observed))
            }
            Difference::Owner {
                psid,
                asker,
                observed,
                ..
            } => {
                format!("after the step, thread_owner of psid {psid} asked by {asker}: {observed}")
            }
            Difference::Race(r) => r.observed_text(),
            Difference::App(a) => a.observed_text(),
        }
    }
}

/// Deliveries of one app, one per line.
fn lines(app: AppIx, items: &[(Channel, Event)]) -> String {
    items
        .iter()
        .map(|(c, e)| format!("{app} {c} {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn transcript_lines(items: &[TranscriptItem]) -> String {
    if items.is_empty() {
        return "(nothing)".to_string();
    }
    items
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One operation of a concurrent phase as observed: its branch, its
/// invocation and response times (µs from the start of the phase) and
/// what the target answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceOp {
    pub branch: usize,
    pub start: u64,
    pub end: u64,
    pub op: Op,
    pub observed: Seen,
}

/// A concurrent phase on one thread that no sequential order explains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceFailure {
    pub psid: Psid,
    /// The longest order that explained everything up to it: each
    /// operation's branch, the operation and the model's answer there.
    pub placed: Vec<(usize, Op, Answer)>,
    /// Why nothing could follow it (or why it could not end there).
    pub reason: String,
    /// Every operation of the phase on this thread.
    pub history: Vec<RaceOp>,
    /// Every webhook event about the thread, in arrival order.
    pub deliveries: Vec<(AppIx, Channel, Event)>,
    /// The whole transcript afterwards, when the target can tell it, and
    /// how many of its messages were there before the phase.
    pub transcript: Option<Vec<TranscriptItem>>,
    pub transcript_before: usize,
    /// `thread_owner` afterwards, as each app saw it.
    pub owners: Vec<(AppIx, ObservedAnswer)>,
}

/// A branch's name in texts: A, B, C, …
pub fn branch_label(b: usize) -> char {
    (b'A' + (b % 26) as u8) as char
}

impl RaceFailure {
    fn expected_text(&self) -> String {
        let mut s = format!(
            "some order of the {} concurrent operations on psid {} that respects real time explains every answer, webhook, the transcript and thread_owner afterwards\n",
            self.history.len(),
            self.psid
        );
        if self.placed.is_empty() {
            let _ = writeln!(s, "no operation can come first");
        } else {
            let _ = writeln!(s, "the longest order that explains everything so far:");
            for (branch, op, answer) in &self.placed {
                let _ = writeln!(s, "  [{}] {op} -> {answer}", branch_label(*branch));
            }
        }
        let _ = write!(s, "and then: {}", self.reason);
        s
    }

    fn observed_text(&self) -> String {
        let mut s = String::from("observed (µs from the start of the phase):\n");
        for o in &self.history {
            let _ = writeln!(
                s,
                "  [{}] {:>6}..{:<6} {} -> {}",
                branch_label(o.branch),
                o.start,
                o.end,
                o.op,
                o.observed
            );
        }
        if self.deliveries.is_empty() {
            let _ = writeln!(s, "webhooks: none");
        } else {
            let _ = writeln!(s, "webhooks (in arrival order):");
            for (a, c, e) in &self.deliveries {
                let _ = writeln!(s, "  {a} {c} {e}");
            }
        }
        if let Some(t) = &self.transcript {
            let _ = writeln!(s, "transcript: {} messages", t.len());
            for item in t.iter().skip(self.transcript_before) {
                let _ = writeln!(s, "  {item}");
            }
        }
        for (a, o) in &self.owners {
            let _ = writeln!(
                s,
                "thread_owner asked by {a} afterwards: {}",
                GraphAnswer(&o.answer)
            );
        }
        s.trim_end().to_string()
    }
}

/// One thing in the timeline of an app-certification case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum AppEvent {
    /// A stimulus of the tool (number `index` of the case; the end of the
    /// case is the clock moved past every deadline).
    Stimulus { index: usize, op: Op },
    /// A delivery to the app under test and what it answered.
    Delivery {
        kind: String,
        events: Vec<(Channel, Event)>,
        answer: String,
    },
    /// A Graph call of the app under test and the platform's answer (with
    /// the error message it gave, for a refusal).
    Call {
        op: Op,
        answer: Answer,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

impl fmt::Display for AppEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppEvent::Stimulus { index, op } => write!(f, "stimulus {index}: {op}"),
            AppEvent::Delivery {
                kind,
                events,
                answer,
            } => {
                let evs: Vec<String> = events.iter().map(|(c, e)| format!("[{c}] {e}")).collect();
                write!(
                    f,
                    "delivery ({kind}) {} -> app answered {answer}",
                    evs.join(", ")
                )
            }
            AppEvent::Call {
                op,
                answer,
                message,
            } => {
                write!(f, "app calls {op} -> {answer}")?;
                if let Some(m) = message {
                    write!(f, " \"{m}\"")?;
                }
                Ok(())
            }
        }
    }
}

/// An app under test broke a rule: what a correct app does, what this one
/// did, and the case's timeline up to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppFailure {
    /// What the rule asks of an app.
    pub expected: String,
    /// What the app did instead.
    pub explanation: String,
    /// Stimuli, deliveries and the app's calls, in order.
    pub timeline: Vec<AppEvent>,
    /// The entry of `timeline` that shows the violation.
    pub at: usize,
}

impl AppFailure {
    fn observed_text(&self) -> String {
        let mut s = format!("{}\n", self.explanation);
        for (i, e) in self.timeline.iter().enumerate() {
            let mark = if i == self.at { ">>" } else { "  " };
            let _ = writeln!(s, "{mark} {e}");
        }
        s.trim_end().to_string()
    }
}

/// One comparison that failed: the rules the observation contradicts (the
/// first is the most specific), whether it fails certification, and what
/// differed.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rules: Vec<Rule>,
    pub strict: bool,
    pub difference: Difference,
}

impl Finding {
    fn new(rules: Vec<Rule>, strict: bool, difference: Difference) -> Finding {
        let mut unique = Vec::with_capacity(rules.len());
        for r in rules {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        Finding {
            rules: unique,
            strict,
            difference,
        }
    }
}

/// A difference between the target and the model at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// Index of the step in the case (0-based); for a concurrent phase, the
    /// number of sequential steps before it.
    pub step: usize,
    /// The diverging operation; `None` for a concurrent phase as a whole.
    pub op: Option<Op>,
    /// Found in the concurrent phase (after the sequential steps).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub concurrent: bool,
    /// The rules involved; the first is the one the divergence is filed under.
    pub rules: Vec<Rule>,
    /// False for a non-strict deviation: a broken SHOULD rule, or a refusal
    /// with another code than the (undocumented) expected one.
    pub strict: bool,
    pub difference: Difference,
}

impl Divergence {
    pub fn rule(&self) -> Rule {
        self.rules[0]
    }

    pub fn kind(&self) -> Kind {
        self.difference.kind()
    }

    /// Whether this divergence fails the run (`--strict` fails on any).
    pub fn fails(&self, strict_mode: bool) -> bool {
        self.strict || strict_mode
    }

    /// The human summary, e.g. `step 3: CTRL-4 (MUST): the answer differs`.
    pub fn headline(&self) -> String {
        let rules: Vec<&str> = self.rules.iter().map(|r| r.id()).collect();
        let level = if self.strict { "MUST" } else { "non-strict" };
        format!(
            "step {}: {} ({level}): the {} differs",
            self.step,
            rules.join(", "),
            self.kind().name()
        )
    }

    /// The diverging step in words: the operation, or the concurrent phase.
    pub fn what(&self) -> String {
        match &self.op {
            Some(op) if !self.concurrent => op.to_string(),
            Some(op) => format!("concurrent phase: {op}"),
            None => "concurrent phase".to_string(),
        }
    }

    pub fn expected_text(&self) -> String {
        self.difference.expected_text()
    }

    pub fn observed_text(&self) -> String {
        self.difference.observed_text()
    }

    /// Whether `found`, the divergence of a replay, reproduces this one:
    /// it names the rule this one is filed under, in the same phase
    /// (sequential steps or the concurrent phase). The one test the
    /// shrinkers, the repeats of a concurrent case and the progress log
    /// all use.
    pub fn reproduced_by(&self, found: Option<&Divergence>) -> bool {
        found.is_some_and(|d| d.rules.contains(&self.rule()) && d.concurrent == self.concurrent)
    }
}

/// Merges a step's findings into one divergence: filed under the first
/// strict finding (else the first), naming the rules of all of them.
pub fn merge(
    step: usize,
    op: Option<&Op>,
    concurrent: bool,
    findings: Vec<Finding>,
) -> Option<Divergence> {
    let lead = findings
        .iter()
        .position(|f| f.strict)
        .or((!findings.is_empty()).then_some(0))?;
    let mut rules = findings[lead].rules.clone();
    let mut strict = false;
    for f in &findings {
        strict |= f.strict;
        for r in &f.rules {
            if !rules.contains(r) {
                rules.push(*r);
            }
        }
    }
    let difference = findings.into_iter().nth(lead).expect("lead").difference;
    Some(Divergence {
        step,
        op: op.cloned(),
        concurrent,
        rules,
        strict,
        difference,
    })
}

fn must(rule: Rule) -> bool {
    rule.level() == Level::Must
}

/// Compares the answer to an operation.
pub fn answer(expected: &Outcome, seen: &Seen) -> Option<Finding> {
    let rule = expected.decided_by;
    let diff = || Difference::Answer {
        expected: expected.answer.clone(),
        observed: seen.clone(),
    };
    match (&expected.answer, seen) {
        (Answer::Graph(want), Seen::Graph(obs)) => {
            let (rules, strict) = match judge_graph(want, rule, obs) {
                AnswerMatch::Same => return None,
                AnswerMatch::OtherRefusal { strict } => {
                    // Refused either way, but not the same refusal. Refused
                    // as a bad parameter where the model finds the input
                    // well-formed (it refuses later, for who or what the
                    // call names), the target misread valid input (INPUT-1).
                    let mut rules = vec![rule];
                    let as_malformed =
                        matches!(&obs.answer, Err(o) if o.code == 100 && o.subcode.is_none());
                    let want_later = matches!(want, Err(w) if w.code != 100);
                    if obs.status >= 500 || (as_malformed && want_later) {
                        rules.push(Rule::Input1);
                    }
                    (rules, strict)
                }
                AnswerMatch::Different => match (want, &obs.answer) {
                    (Ok(_), Err(o)) => {
                        // A valid call refused; refused as malformed, it
                        // also breaks INPUT-1.
                        let mut rules = vec![rule];
                        if o.code == 100 && o.subcode.is_none() {
                            rules.push(Rule::Input1);
                        }
                        (rules, must(rule) || o.status >= 500)
                    }
                    (Err(_), Ok(_)) => (vec![rule, Rule::Ctrl5], must(rule)),
                    _ => (vec![rule], must(rule)),
                },
            };
            Some(Finding::new(rules, strict, diff()))
        }
        // No readable answer at all: a 5xx or garbage breaks INPUT-1.
        (Answer::Graph(_), _) => Some(Finding::new(vec![rule, Rule::Input1], true, diff())),
        (Answer::Control(want), Seen::Control(obs)) => {
            if judge_control(want, obs) {
                None
            } else {
                // The control API is not certified, but a target that
                // answers an operation differently has decided it
                // differently.
                Some(Finding::new(vec![rule], must(rule), diff()))
            }
        }
        (Answer::Control(_), _) => Some(Finding::new(vec![rule], must(rule), diff())),
    }
}

/// A delivery that cannot be taken at face value.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Missing or wrong `X-Hub-Signature-256`.
    BadSignature { app: AppIx, present: bool },
    /// Not a webhook envelope.
    Unreadable { app: AppIx, error: String },
}

/// A delivery fault: a bad signature breaks HOOK-4; an unreadable delivery
/// breaks the rule that asked for a delivery to that app in the step, or
/// HOOK-5 when none did (or none is known, in a concurrent phase).
pub fn fault(f: &Fault, expected: Option<&Outcome>) -> Finding {
    match f {
        Fault::BadSignature { app, present } => Finding::new(
            vec![Rule::Hook4],
            true,
            Difference::Signature {
                app: *app,
                present: *present,
            },
        ),
        Fault::Unreadable { app, error } => {
            let due = expected.and_then(|o| o.deliveries.iter().find(|d| d.app == *app));
            let rule = due.map_or(Rule::Hook5, |d| d.rule);
            // An Instagram delivery that cannot be read as one: its
            // envelope is wrong (IG-3).
            let rules = if due.is_some_and(|d| d.event.surface.is_instagram()) {
                vec![Rule::Ig3, rule]
            } else {
                vec![rule]
            };
            Finding::new(
                rules,
                true,
                Difference::Deliveries {
                    app: *app,
                    problem: DeliveryProblem::Unreadable {
                        error: error.clone(),
                    },
                    expected: of_app(expected.map_or(&[][..], |o| &o.deliveries[..]), *app),
                    observed: Vec::new(),
                },
            )
        }
    }
}

fn of_app(deliveries: &[Delivery], app: AppIx) -> Vec<(Channel, Event)> {
    deliveries
        .iter()
        .filter(|d| d.app == app)
        .map(|d| (d.channel, d.event.normalized()))
        .collect()
}

/// Compares the deliveries per app and channel as multisets, then their
/// order per app (and so per PSID). `observed[i]` is what app `i` got.
pub fn deliveries(expected: &Outcome, observed: &[Vec<(Channel, Event)>]) -> Option<Finding> {
    struct Missing {
        app: AppIx,
        channel: Channel,
        event: Event,
        rule: Rule,
    }
    struct Extra {
        app: AppIx,
        channel: Channel,
        event: Event,
        duplicate: bool,
    }
    let mut missing: Vec<Missing> = Vec::new();
    let mut extra: Vec<Extra> = Vec::new();
    let mut order: Option<AppIx> = None;
    type Lists = (Vec<(Channel, Event)>, Vec<(Channel, Event)>);
    let mut per_app: Vec<Lists> = Vec::new();
    for (i, got) in observed.iter().enumerate() {
        let app = AppIx(i as u8);
        let want: Vec<(Channel, Event, Rule)> = expected
            .deliveries
            .iter()
            .filter(|d| d.app == app)
            .map(|d| (d.channel, d.event.normalized(), d.rule))
            .collect();
        let got: Vec<(Channel, Event)> = got.iter().map(|(c, e)| (*c, e.normalized())).collect();
        let mut used = vec![false; got.len()];
        for (c, e, r) in &want {
            match (0..got.len()).find(|j| !used[*j] && got[*j].0 == *c && got[*j].1 == *e) {
                Some(j) => used[j] = true,
                None => missing.push(Missing {
                    app,
                    channel: *c,
                    event: e.clone(),
                    rule: *r,
                }),
            }
        }
        for (j, (c, e)) in got.iter().enumerate() {
            if !used[j] {
                let duplicate = want.iter().any(|(wc, we, _)| wc == c && we == e);
                extra.push(Extra {
                    app,
                    channel: *c,
                    event: e.clone(),
                    duplicate,
                });
            }
        }
        let want: Vec<(Channel, Event)> = want.into_iter().map(|(c, e, _)| (c, e)).collect();
        if order.is_none() && used.iter().all(|u| *u) && want.len() == got.len() && want != got {
            order = Some(app);
        }
        per_app.push((want, got));
    }
    let lists = |app: AppIx| per_app[app.index()].clone();
    // An unexpected handover event says the target changed (or was asked
    // to change) who owns the thread: the rule that decided the step is
    // contradicted, whatever else is.
    let handover_extra = extra
        .iter()
        .any(|x| !x.duplicate && x.event.kind.is_handover());
    let step_rule = |rules: &mut Vec<Rule>| {
        if handover_extra && !rules.contains(&expected.decided_by) {
            rules.insert(0, expected.decided_by);
        }
    };
    // A missing delivery names the rule that asked for it, preferring the
    // rule that decided the step (the owner's copy of a user event).
    let pick = missing
        .iter()
        .position(|m| m.rule == expected.decided_by)
        .unwrap_or(0);
    if let Some(m) = missing.get(pick) {
        // The same event on the other channel means the target chose another
        // owner: the step's control rule is broken before the channel rule.
        let swapped = extra.iter().any(|x| {
            x.app == m.app && x.channel != m.channel && x.event.same_but_payload(&m.event)
        });
        let mut rules = if swapped {
            vec![expected.decided_by, m.rule]
        } else {
            vec![m.rule]
        };
        step_rule(&mut rules);
        if expected.is_refusal() {
            rules.push(Rule::Ctrl5);
        }
        if handover_extra {
            rules.push(Rule::Hook3);
            rules.push(Rule::Hook5);
        }
        let (want, got) = lists(m.app);
        let strict = must(m.rule) || (handover_extra && must(expected.decided_by));
        return Some(Finding::new(
            rules,
            strict,
            Difference::Deliveries {
                app: m.app,
                problem: DeliveryProblem::Missing {
                    channel: m.channel,
                    event: m.event.clone(),
                },
                expected: want,
                observed: got,
            },
        ));
    }
    // An extra handover event first: it carries the step's rule.
    let lead = extra
        .iter()
        .position(|x| !x.duplicate && x.event.kind.is_handover())
        .unwrap_or(0);
    if let Some(x) = extra.get(lead) {
        let mut rules = Vec::new();
        if expected.is_refusal() && !x.duplicate {
            rules.push(Rule::Ctrl5);
        }
        if !x.duplicate && x.event.kind.is_handover() {
            rules.push(Rule::Hook3);
        }
        rules.push(Rule::Hook5);
        step_rule(&mut rules);
        let (want, got) = lists(x.app);
        return Some(Finding::new(
            rules,
            true,
            Difference::Deliveries {
                app: x.app,
                problem: DeliveryProblem::Extra {
                    channel: x.channel,
                    event: x.event.clone(),
                    duplicate: x.duplicate,
                },
                expected: want,
                observed: got,
            },
        ));
    }
    let app = order?;
    let (want, got) = lists(app);
    Some(Finding::new(
        vec![Rule::Hook6],
        false,
        Difference::Deliveries {
            app,
            problem: DeliveryProblem::Order,
            expected: want,
            observed: got,
        },
    ))
}

/// Compares a PSID's whole transcript (sender, kind, text; not ids).
pub fn transcript(
    expected: &Outcome,
    psid: &str,
    want: &[TranscriptItem],
    got: &[TranscriptItem],
) -> Option<Finding> {
    let first_diff =
        (0..want.len().max(got.len())).find(|i| match (want.get(*i), got.get(*i)) {
            (Some(a), Some(b)) => !a.same_message(b),
            _ => true,
        })?;
    // A message the model delivered at this step names its own rule; one
    // the target delivered on its own names the rule that refused or held it.
    let this_step: Vec<&crate::model::Received> = expected
        .received
        .iter()
        .filter(|r| r.psid == psid)
        .collect();
    let fresh_from = want.len() - this_step.len();
    let rule = if first_diff >= fresh_from && first_diff < want.len() {
        this_step[first_diff - fresh_from].rule
    } else {
        expected.decided_by
    };
    let mut rules = vec![rule];
    if expected.is_refusal() && rule != Rule::Ctrl5 {
        rules.push(Rule::Ctrl5);
    }
    Some(Finding::new(
        rules,
        must(rule),
        Difference::Transcript {
            psid: psid.to_string(),
            expected: want.to_vec(),
            observed: got.to_vec(),
        },
    ))
}

/// Compares a `thread_owner` probe taken after a step. A wrong owner or
/// deadline is charged to the step: to CTRL-6 when it is another PSID's
/// thread, CTRL-5 when the step was refused, EXP-1/EXP-2 when only the
/// expiration differs, AUTH-4 when only what the asker may see differs,
/// else the rule that decided the step.
pub fn owner(
    op: &Op,
    expected: &Outcome,
    psid: &str,
    asker: AppIx,
    want: &Result<GraphSuccess, GraphError>,
    got: &Seen,
    cross_surface: bool,
) -> Option<Finding> {
    let seen_owner = match got {
        Seen::Graph(o) if o.matches(want) => return None,
        Seen::Graph(o) => Some(&o.answer),
        _ => None,
    };
    let views = match (want, seen_owner) {
        (Ok(GraphSuccess::ThreadOwner(Some(w))), Some(Ok(GraphSuccess::ThreadOwner(Some(g))))) => {
            Some((w, g))
        }
        _ => None,
    };
    let only_expiration = views.is_some_and(|(w, g)| w.app_id == g.app_id);
    // Shown or hidden when it should not be: the view itself is wrong.
    let wrong_visibility = views.is_some_and(|(w, g)| {
        w.expiration == g.expiration && w.app_id.is_none() != g.app_id.is_none()
    });
    let rules = if op.psid().is_some_and(|p| p != psid) {
        // Another thread changed: on the other surface, the surfaces are
        // not independent (IG-4) either.
        if cross_surface {
            vec![Rule::Ig4, Rule::Ctrl6]
        } else {
            vec![Rule::Ctrl6]
        }
    } else if expected.is_refusal() {
        // A refused call changed the thread (the view may look wrong only
        // because the owner is not who it should be).
        vec![Rule::Ctrl5, expected.decided_by]
    } else if wrong_visibility {
        vec![Rule::Auth4]
    } else {
        match op {
            Op::Clock { .. } => vec![Rule::Exp1],
            Op::Roles { .. } => vec![Rule::Pri5, Rule::Ctrl1],
            Op::Graph(g)
                if only_expiration && matches!(g.call, crate::model::Call::Extend { .. }) =>
            {
                vec![Rule::Exp2]
            }
            _ if only_expiration => vec![Rule::Exp1, expected.decided_by],
            _ => vec![expected.decided_by, Rule::Ctrl1],
        }
    };
    let strict = must(rules[0]);
    Some(Finding::new(
        rules,
        strict,
        Difference::Owner {
            psid: psid.to_string(),
            asker,
            expected: want.clone(),
            observed: got.clone(),
        },
    ))
}

/// A step and what the model expects of it, for traces: the operation,
/// the answer with the rule that decided it, the deliveries (by app) and
/// what the user receives.
pub fn describe_expected(i: usize, op: &Op, expected: &Outcome) -> String {
    let mut s = format!(
        "{i:>3}. {op}\n     -> {} [{}]",
        expected.answer, expected.decided_by
    );
    let mut deliveries: Vec<&Delivery> = expected.deliveries.iter().collect();
    deliveries.sort_by_key(|d| d.app);
    for d in deliveries {
        let _ = write!(s, "\n     => {d}");
    }
    for r in &expected.received {
        let _ = write!(s, "\n     user {r}");
    }
    s
}

/// What the target did at one step, in the form of [`describe_expected`]
/// (a correct target's observation reads exactly like the expectation,
/// except that no rule is named).
pub struct Observation {
    pub answer: Seen,
    /// Per app in setup order, in arrival order.
    pub deliveries: Vec<Vec<(Channel, Event)>>,
    /// Messages that reached users during the step: the transcript entries
    /// beyond what was seen before, per PSID.
    pub received: Vec<(Psid, Vec<TranscriptItem>)>,
}

impl Observation {
    pub fn describe(&self, i: usize, op: &Op, setup: &Setup) -> String {
        let mut s = format!("{i:>3}. {op}\n     -> {}", self.answer);
        for (a, evs) in self.deliveries.iter().enumerate() {
            for (c, e) in evs {
                let _ = write!(s, "\n     => app {a} {c} {e}");
            }
        }
        for (psid, items) in &self.received {
            for t in items {
                let from = match setup.app_ref(&t.from_app_id) {
                    crate::model::AppRef::App(a) => a.to_string(),
                    crate::model::AppRef::PageInbox => "page_inbox".into(),
                    crate::model::AppRef::InstagramInbox => "instagram_inbox".into(),
                    crate::model::AppRef::Unknown(id) => id,
                };
                let _ = write!(
                    s,
                    "\n     user psid {psid} receives {} from {from}: {:?}",
                    t.kind.as_str(),
                    t.text
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AppRef, AppSpec, Call, EventKind, GraphOp, InboxAction, Message, MessagingType, MsgRef,
        Party, Setup, State, UserEvent, apply,
    };

    fn page(primary: Option<&str>) -> State {
        let apps = (0..3)
            .map(|i| AppSpec {
                app_id: format!("{}", 11 + i),
                name: format!("a{i}"),
                human_agent: false,
                require_appsecret_proof: false,
            })
            .collect();
        State::new(Setup::new("1".into(), 0, apps, primary).unwrap())
    }

    fn user_message(st: &mut State) -> (Op, Outcome) {
        let op = Op::User(UserEvent::Message {
            platform: Default::default(),
            psid: "1".into(),
            text: "hi".into(),
            quick_reply: None,
        });
        let out = apply(st, &op);
        (op, out)
    }

    fn observed(out: &Outcome, n: usize) -> Vec<Vec<(Channel, Event)>> {
        (0..n)
            .map(|i| {
                out.deliveries
                    .iter()
                    .filter(|d| d.app.index() == i)
                    .map(|d| (d.channel, d.event.clone()))
                    .collect()
            })
            .collect()
    }

    fn graph(app: u8, call: Call) -> Op {
        Op::Graph(GraphOp::by(AppIx(app), call))
    }

    #[test]
    fn identical_deliveries_do_not_diverge_whatever_the_mids() {
        let mut st = page(Some("11"));
        let (_, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        for evs in &mut got {
            for (_, e) in evs.iter_mut() {
                e.timestamp += 5;
                if let EventKind::Message { mid, .. } = &mut e.kind {
                    *mid = "their-mid".into();
                }
            }
        }
        assert_eq!(deliveries(&out, &got), None);
    }

    #[test]
    fn hook_1_a_channel_swap_names_the_control_rule_first() {
        let mut st = page(Some("11"));
        let (_, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        got[0][0].0 = Channel::Standby; // the primary got standby
        let f = deliveries(&out, &got).unwrap();
        assert_eq!(f.rules, vec![Rule::Pri2]);
        assert!(f.strict);
    }

    #[test]
    fn hook_5_a_duplicate_is_named() {
        let mut st = page(Some("11"));
        let (op, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        let copy = got[1][0].clone();
        got[1].push(copy);
        let d = merge(0, Some(&op), false, vec![deliveries(&out, &got).unwrap()]).unwrap();
        assert_eq!(d.rules, vec![Rule::Hook5]);
        assert!(
            d.observed_text().starts_with("a duplicate"),
            "{}",
            d.observed_text()
        );
    }

    #[test]
    fn hook_6_misordered_deliveries_are_non_strict() {
        let mut st = page(Some("11"));
        let (_, first) = user_message(&mut st);
        let op = Op::User(UserEvent::Message {
            platform: Default::default(),
            psid: "1".into(),
            text: "second".into(),
            quick_reply: None,
        });
        let second = apply(&mut st, &op);
        let mut both = first.clone();
        both.deliveries.extend(second.deliveries.clone());
        let mut got = observed(&both, 3);
        got[2].reverse();
        let f = deliveries(&both, &got).unwrap();
        assert_eq!((f.rules.clone(), f.strict), (vec![Rule::Hook6], false));
    }

    #[test]
    fn another_refusal_code_is_non_strict_except_where_documented() {
        let mut st = page(Some("11"));
        user_message(&mut st);
        // App 1 takes a thread the primary owns: TAKE-3, 10/2018300 (not documented).
        let take = graph(
            1,
            Call::Take {
                psid: "1".into(),
                metadata: None,
            },
        );
        let out = apply(&mut st.clone(), &take);
        let other = Seen::Graph(ObservedAnswer {
            status: 400,
            answer: Err(GraphError::INVALID),
        });
        let f = answer(&out, &other).unwrap();
        assert_eq!((f.rules[0], f.strict), (Rule::Take3, false));
        // App 1 sends on it: CTRL-4, whose code is documented.
        let send = graph(
            1,
            Call::Send {
                psid: "1".into(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Text {
                    text: "x".into(),
                    quick_replies: None,
                },
            },
        );
        let out = apply(&mut st.clone(), &send);
        let f = answer(&out, &other).unwrap();
        assert_eq!((f.rules[0], f.strict), (Rule::Ctrl4, true));
        // Letting it through fails whatever the codes.
        let through = Seen::Graph(ObservedAnswer {
            status: 200,
            answer: Ok(GraphSuccess::Sent {
                recipient_id: "1".into(),
                message_id: "m".into(),
            }),
        });
        let f = answer(&out, &through).unwrap();
        assert_eq!(f.rules, vec![Rule::Ctrl4, Rule::Ctrl5]);
        assert!(f.strict);
    }

    /// The platform harness compares status, code and subcode only: a
    /// target whose `message` says something else entirely (or nothing)
    /// does not diverge, while one with another subcode does (wire.md,
    /// Errors).
    #[test]
    fn refusal_messages_are_never_compared() {
        let mut st = page(Some("11"));
        user_message(&mut st);
        let send = graph(
            1,
            Call::Send {
                psid: "1".into(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Text {
                    text: "x".into(),
                    quick_replies: None,
                },
            },
        );
        let out = apply(&mut st.clone(), &send);
        let Op::Graph(g) = &send else { unreachable!() };
        let ours = crate::wire::render_outcome(g.call.edge(), &out, &st.setup);
        let ours = serde_json::to_string(&ours.body).unwrap();
        assert!(
            ours.contains("another app is controlling this thread"),
            "{ours}"
        );
        let seen = |body: &str| {
            Seen::Graph(
                crate::wire::parse_answer(
                    crate::model::Edge::Messages,
                    400,
                    &[],
                    body.as_bytes(),
                    &st.setup,
                )
                .unwrap(),
            )
        };
        for body in [
            ours.as_str(),
            r#"{"error":{"message":"Nope.","type":"OAuthException","code":10,"error_subcode":2018300,"fbtrace_id":"X"}}"#,
            r#"{"error":{"code":10,"error_subcode":2018300}}"#,
        ] {
            assert!(answer(&out, &seen(body)).is_none(), "{body}");
        }
        let other = r#"{"error":{"message":"(#10) Message failed to send because another app is controlling this thread now.","code":10}}"#;
        assert!(answer(&out, &seen(other)).is_some());
    }

    #[test]
    fn input_1_a_server_error_is_strict() {
        let mut st = page(Some("11"));
        user_message(&mut st);
        let take = graph(
            1,
            Call::Take {
                psid: "1".into(),
                metadata: None,
            },
        );
        let out = apply(&mut st.clone(), &take);
        let f = answer(
            &out,
            &Seen::Unreadable("HTTP 500: the body is not JSON".into()),
        )
        .unwrap();
        assert!(f.rules.contains(&Rule::Input1) && f.strict);
    }

    #[test]
    fn a_strict_finding_leads_the_merged_divergence() {
        let order = Finding::new(
            vec![Rule::Hook6],
            false,
            Difference::Signature {
                app: AppIx(0),
                present: true,
            },
        );
        let owner = Finding::new(
            vec![Rule::Inbox3, Rule::Ctrl1],
            true,
            Difference::Signature {
                app: AppIx(1),
                present: true,
            },
        );
        let d = merge(2, None, false, vec![order, owner]).unwrap();
        assert_eq!(d.rules, vec![Rule::Inbox3, Rule::Ctrl1, Rule::Hook6]);
        assert!(d.strict);
        assert_eq!(merge(2, None, false, Vec::new()), None);
    }

    /// The steps of every kind (each command, user event, inbox action,
    /// the clock and roles), each on a page where it succeeds.
    fn steps_of_every_kind() -> Vec<(State, Op)> {
        let mut out = Vec::new();
        let p = "1".to_string();
        // A page where app 0 (primary) owns psid 1 after a button message.
        let mut owned = page(Some("11"));
        user_message(&mut owned);
        let buttons = graph(
            0,
            Call::Send {
                psid: p.clone(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Buttons {
                    text: "pick".into(),
                    buttons: vec![crate::model::Choice {
                        title: "B".into(),
                        payload: "b".into(),
                    }],
                },
            },
        );
        apply(&mut owned, &buttons);
        let menu = graph(
            0,
            Call::SetPageMenu {
                platform: Default::default(),
                items: vec![crate::model::Choice {
                    title: "M".into(),
                    payload: "m".into(),
                }],
            },
        );
        apply(&mut owned, &menu);
        let mut done = owned.clone();
        apply(
            &mut done,
            &Op::Inbox {
                platform: Default::default(),
                psid: p.clone(),
                action: InboxAction::MarkDone,
            },
        );
        let ops = vec![
            (owned.clone(), user_message(&mut owned.clone()).0),
            (
                owned.clone(),
                Op::User(UserEvent::Postback {
                    platform: Default::default(),
                    psid: p.clone(),
                    message: MsgRef::Nth(0),
                    payload: "b".into(),
                    title: None,
                }),
            ),
            (
                owned.clone(),
                Op::User(UserEvent::Menu {
                    platform: Default::default(),
                    psid: p.clone(),
                    payload: "m".into(),
                    title: None,
                }),
            ),
            (
                owned.clone(),
                Op::User(UserEvent::AdEntry {
                    platform: Default::default(),
                    psid: p.clone(),
                    app: AppRef::App(AppIx(1)),
                    ad_id: "ad".into(),
                    text: "from an ad".into(),
                }),
            ),
            (owned.clone(), buttons.clone()),
            (
                owned.clone(),
                graph(
                    0,
                    Call::Pass {
                        psid: p.clone(),
                        target: Some(AppRef::App(AppIx(1))),
                        metadata: None,
                    },
                ),
            ),
            (
                owned.clone(),
                graph(
                    1,
                    Call::Request {
                        psid: p.clone(),
                        metadata: None,
                    },
                ),
            ),
            (owned.clone(), graph(0, Call::Release { psid: p.clone() })),
            (
                owned.clone(),
                graph(
                    0,
                    Call::Extend {
                        psid: p.clone(),
                        duration: 3600,
                    },
                ),
            ),
            (
                owned.clone(),
                graph(1, Call::ThreadOwner { psid: p.clone() }),
            ),
            (
                owned.clone(),
                graph(0, Call::SecondaryReceivers { platform: None }),
            ),
            (owned.clone(), menu),
            (
                owned.clone(),
                graph(
                    0,
                    Call::SetUserMenu {
                        psid: p.clone(),
                        items: vec![crate::model::Choice {
                            title: "U".into(),
                            payload: "u".into(),
                        }],
                    },
                ),
            ),
            (
                owned.clone(),
                Op::Inbox {
                    platform: Default::default(),
                    psid: p.clone(),
                    action: InboxAction::MoveToMain,
                },
            ),
            (
                owned.clone(),
                Op::Inbox {
                    platform: Default::default(),
                    psid: p.clone(),
                    action: InboxAction::Reply { text: "hi".into() },
                },
            ),
            (
                done.clone(),
                Op::Inbox {
                    platform: Default::default(),
                    psid: p.clone(),
                    action: InboxAction::Reply {
                        text: "in done".into(),
                    },
                },
            ),
            (
                owned.clone(),
                Op::Inbox {
                    platform: Default::default(),
                    psid: p.clone(),
                    action: InboxAction::MarkDone,
                },
            ),
            (owned.clone(), Op::Clock { advance_ms: 1000 }),
            (
                owned.clone(),
                Op::Roles {
                    primary: Some(AppRef::App(AppIx(2))),
                },
            ),
        ];
        out.extend(ops);
        // And a refused step: a non-primary take of an owned thread.
        out.push((
            owned.clone(),
            graph(
                2,
                Call::Take {
                    psid: p.clone(),
                    metadata: None,
                },
            ),
        ));
        out
    }

    /// An unexpected handover event at any kind of step names the rule
    /// that decided the step (filed under it), then HOOK-3 and HOOK-5; the
    /// Page Inbox taking control when it replies in a `done` thread is
    /// filed under INBOX-3.
    #[test]
    fn hook_5_an_unexpected_handover_event_names_the_steps_rule_at_every_kind_of_step() {
        let mut kinds = std::collections::BTreeSet::new();
        for (before, op) in steps_of_every_kind() {
            let mut st = before.clone();
            let out = apply(&mut st, &op);
            let mut got = observed(&out, 3);
            let stray = Event {
                surface: Default::default(),
                psid: Some("1".into()),
                timestamp: 0,
                kind: EventKind::TakeThreadControl {
                    previous_owner: Party::App(AppIx(2)),
                    new_owner: Party::PageInbox,
                    metadata: None,
                },
            };
            got[2].push((Channel::Messaging, stray));
            let f = deliveries(&out, &got).unwrap_or_else(|| panic!("{op}: no finding"));
            let d = merge(0, Some(&op), false, vec![f]).unwrap();
            assert_eq!(d.rule(), out.decided_by, "{op}: {:?}", d.rules);
            assert!(
                d.rules.contains(&Rule::Hook5) && d.rules.contains(&Rule::Hook3),
                "{op}: {:?}",
                d.rules
            );
            if out.is_refusal() {
                assert!(d.rules.contains(&Rule::Ctrl5), "{op}: {:?}", d.rules);
            }
            kinds.insert(out.decided_by);
        }
        assert!(kinds.contains(&Rule::Inbox3), "{kinds:?}");
        assert!(kinds.len() >= 15, "{kinds:?}");
    }

    /// An unexpected handover event seen together with an expected one
    /// missing still names the step's rule first.
    #[test]
    fn inbox_3_a_take_instead_of_nothing_is_filed_under_inbox_3() {
        let mut st = page(Some("11"));
        user_message(&mut st);
        apply(
            &mut st,
            &Op::Inbox {
                platform: Default::default(),
                psid: "1".into(),
                action: InboxAction::MarkDone,
            },
        );
        let op = Op::Inbox {
            platform: Default::default(),
            psid: "1".into(),
            action: InboxAction::Reply {
                text: "done already".into(),
            },
        };
        let out = apply(&mut st, &op);
        assert_eq!(out.decided_by, Rule::Inbox3);
        let got = vec![
            vec![(
                Channel::Messaging,
                Event {
                    surface: Default::default(),
                    psid: Some("1".into()),
                    timestamp: 0,
                    kind: EventKind::TakeThreadControl {
                        previous_owner: Party::App(AppIx(0)),
                        new_owner: Party::PageInbox,
                        metadata: None,
                    },
                },
            )],
            vec![],
            vec![],
        ];
        let d = merge(3, Some(&op), false, vec![deliveries(&out, &got).unwrap()]).unwrap();
        assert_eq!(d.rules, vec![Rule::Inbox3, Rule::Hook3, Rule::Hook5]);
        assert!(d.strict);
        assert!(
            d.observed_text().contains("take_thread_control"),
            "{}",
            d.observed_text()
        );
    }

    #[test]
    fn reproduction_needs_the_rule_in_the_same_phase() {
        let d = Divergence {
            step: 1,
            op: None,
            concurrent: true,
            rules: vec![Rule::Race1],
            strict: true,
            difference: Difference::Signature {
                app: AppIx(0),
                present: false,
            },
        };
        let mut again = d.clone();
        again.rules = vec![Rule::Input1, Rule::Race1];
        assert!(d.reproduced_by(Some(&again)));
        again.concurrent = false;
        assert!(!d.reproduced_by(Some(&again)));
        assert!(!d.reproduced_by(None));
        let mut other = d.clone();
        other.rules = vec![Rule::Hook4];
        assert!(!d.reproduced_by(Some(&other)));
    }
}
