//! The differ: what the model expected against what the target did, and
//! which rules a difference breaks.
//!
//! Every comparison names rules from the model's own attribution: the rule
//! that decided the answer ([`Outcome::decided_by`]), the rule behind each
//! expected delivery ([`Delivery::rule`](crate::model::Delivery)), the rule
//! behind each message the user should receive. Extra deliveries break
//! HOOK-5, misordered ones HOOK-6, bad signatures HOOK-4, a 5xx INPUT-1.

use crate::model::{
    Answer, AppIx, Channel, ControlSuccess, Event, EventKind, GraphError, GraphSuccess, Level, Op,
    Outcome, Party, Rule, Setup,
};
use crate::wire::ObservedAnswer;
use crate::wire::control::TranscriptItem;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

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
}

/// A difference between the target and the model at one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Index of the step in the case (0-based).
    pub step: usize,
    /// The step's one-line rendering.
    pub op: String,
    pub kind: Kind,
    /// The rules involved; the first is the one the divergence is filed under.
    pub rules: Vec<Rule>,
    /// False for a non-strict deviation: a broken SHOULD rule, or a refusal
    /// with another code than the (undocumented) expected one.
    pub strict: bool,
    pub expected: String,
    pub observed: String,
}

impl Divergence {
    pub fn rule(&self) -> Rule {
        self.rules[0]
    }

    /// Whether this divergence fails the run (`--strict` fails on any).
    pub fn fails(&self, strict_mode: bool) -> bool {
        self.strict || strict_mode
    }

    /// The human summary, e.g. `step 3: CTRL-4 (MUST) answer differs`.
    pub fn headline(&self) -> String {
        let rules: Vec<&str> = self.rules.iter().map(|r| r.id()).collect();
        let level = if self.strict { "MUST" } else { "non-strict" };
        format!(
            "step {}: {} ({level}): the {} differs",
            self.step,
            rules.join(", "),
            kind_name(self.kind)
        )
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Answer => "answer",
        Kind::Signature => "webhook signature",
        Kind::Deliveries => "set of webhook deliveries",
        Kind::Transcript => "user's transcript",
        Kind::Owner => "thread's owner or deadline afterwards",
    }
}

fn div(
    step: usize,
    op: &Op,
    kind: Kind,
    rules: Vec<Rule>,
    strict: bool,
    expected: String,
    observed: String,
) -> Divergence {
    let mut unique = Vec::with_capacity(rules.len());
    for r in rules {
        if !unique.contains(&r) {
            unique.push(r);
        }
    }
    Divergence {
        step,
        op: op.to_string(),
        kind,
        rules: unique,
        strict,
        expected,
        observed,
    }
}

/// Refusal codes documented by Meta: a mismatch there is strict (rules.md,
/// Refusals).
fn documented_refusal(rule: Rule) -> bool {
    matches!(rule, Rule::Ctrl4 | Rule::Auth1)
}

/// Compares a Graph answer.
pub fn graph_answer(
    step: usize,
    op: &Op,
    expected: &Outcome,
    observed: &Result<ObservedAnswer, String>,
) -> Option<Divergence> {
    let Answer::Graph(want) = &expected.answer else {
        return None;
    };
    let rule = expected.decided_by;
    let must = rule.level() == Level::Must;
    let obs = match observed {
        Ok(o) if o.matches(want) => return None,
        Ok(o) => o,
        Err(e) => {
            // No readable answer at all: a 5xx or garbage breaks INPUT-1.
            return Some(div(
                step,
                op,
                Kind::Answer,
                vec![rule, Rule::Input1],
                true,
                graph_text(want),
                e.clone(),
            ));
        }
    };
    let (rules, strict) = match (want, &obs.answer) {
        (Err(w), Err(o)) => {
            // Refused either way, but not the same refusal.
            let strict = o.status >= 500
                || (documented_refusal(rule) && (w.code, w.subcode) != (o.code, o.subcode));
            let strict = strict || (w.www_authenticate && !o.www_authenticate);
            let mut rules = vec![rule];
            if o.status >= 500 {
                rules.push(Rule::Input1);
            }
            (rules, strict)
        }
        (Ok(_), Err(o)) => {
            // A valid call refused; refused as malformed, it also breaks INPUT-1.
            let mut rules = vec![rule];
            if o.code == 100 && o.subcode.is_none() {
                rules.push(Rule::Input1);
            }
            (rules, must || o.status >= 500)
        }
        (Err(_), Ok(_)) => (vec![rule, Rule::Ctrl5], must),
        (Ok(_), Ok(_)) => (vec![rule], must),
    };
    Some(div(
        step,
        op,
        Kind::Answer,
        rules,
        strict,
        graph_text(want),
        graph_text(&obs.answer),
    ))
}

/// Compares a control-API answer (the control API is not certified, but a
/// target that answers an operation differently has decided it differently).
pub fn control_answer(
    step: usize,
    op: &Op,
    expected: &Outcome,
    observed: Result<Result<ControlSuccess, String>, String>,
) -> Option<Divergence> {
    let Answer::Control(want) = &expected.answer else {
        return None;
    };
    let rule = expected.decided_by;
    let same = match (&observed, want) {
        (Ok(Ok(ControlSuccess::Ok)), Ok(ControlSuccess::Ok)) => true,
        (Ok(Ok(ControlSuccess::Mid(_))), Ok(ControlSuccess::Mid(_))) => true,
        (Ok(Ok(ControlSuccess::NowMs(a))), Ok(ControlSuccess::NowMs(b))) => a == b,
        (Ok(Err(_)), Err(_)) => true,
        _ => false,
    };
    if same {
        return None;
    }
    let observed = match observed {
        Ok(a) => control_text(&a),
        Err(e) => e,
    };
    Some(div(
        step,
        op,
        Kind::Answer,
        vec![rule],
        rule.level() == Level::Must,
        control_text(want),
        observed,
    ))
}

/// Compares a `thread_owner` probe taken after a step. A wrong owner or
/// deadline is charged to the step: to CTRL-6 when it is another PSID's
/// thread, CTRL-5 when the step was refused, EXP-1/EXP-2 when only the
/// expiration differs, else the rule that decided the step.
pub fn probe(
    step: usize,
    op: &Op,
    expected: &Outcome,
    psid: &str,
    asker: AppIx,
    want: &Result<GraphSuccess, GraphError>,
    got: &Result<ObservedAnswer, String>,
) -> Option<Divergence> {
    if got.as_ref().is_ok_and(|g| g.matches(want)) {
        return None;
    }
    let only_expiration = match (want, got) {
        (
            Ok(GraphSuccess::ThreadOwner(Some(w))),
            Ok(ObservedAnswer {
                answer: Ok(GraphSuccess::ThreadOwner(Some(g))),
                ..
            }),
        ) => w.app_id == g.app_id,
        _ => false,
    };
    // Shown or hidden when it should not be: the view itself is wrong.
    let wrong_visibility = match (want, got) {
        (
            Ok(GraphSuccess::ThreadOwner(Some(w))),
            Ok(ObservedAnswer {
                answer: Ok(GraphSuccess::ThreadOwner(Some(g))),
                ..
            }),
        ) => w.expiration == g.expiration && w.app_id.is_none() != g.app_id.is_none(),
        _ => false,
    };
    let rules = if wrong_visibility {
        vec![Rule::Auth4]
    } else if op.psid().is_some_and(|p| p != psid) {
        vec![Rule::Ctrl6]
    } else if expected.is_refusal() {
        vec![Rule::Ctrl5, expected.decided_by]
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
    let strict = rules[0].level() == Level::Must;
    let observed = match got {
        Ok(o) => graph_text(&o.answer),
        Err(e) => e.clone(),
    };
    Some(div(
        step,
        op,
        Kind::Owner,
        rules,
        strict,
        format!(
            "after the step, thread_owner of psid {psid} asked by {asker}: {}",
            graph_text(want)
        ),
        format!("after the step, thread_owner of psid {psid} asked by {asker}: {observed}"),
    ))
}

pub fn bad_signature(step: usize, op: &Op, app: AppIx, present: bool) -> Divergence {
    let observed = if present {
        format!(
            "a delivery to {app} whose X-Hub-Signature-256 does not match its body under {app}'s secret"
        )
    } else {
        format!("a delivery to {app} without X-Hub-Signature-256")
    };
    div(
        step,
        op,
        Kind::Signature,
        vec![Rule::Hook4],
        true,
        "sha256=HMAC(app secret, body) on every delivery".into(),
        observed,
    )
}

pub fn unreadable_delivery(
    step: usize,
    op: &Op,
    expected: &Outcome,
    app: AppIx,
    error: &str,
) -> Divergence {
    let rule = expected
        .deliveries
        .iter()
        .find(|d| d.app == app)
        .map_or(Rule::Hook5, |d| d.rule);
    div(
        step,
        op,
        Kind::Deliveries,
        vec![rule],
        true,
        "a webhook envelope as wire.md describes".into(),
        format!("{app}: {error}"),
    )
}

/// Events compare without message ids and timestamps (wire.md).
fn normalized(e: &Event) -> Event {
    let mut e = e.clone();
    e.timestamp = 0;
    match &mut e.kind {
        EventKind::Message { mid, .. } | EventKind::Postback { mid, .. } => mid.clear(),
        _ => {}
    }
    e
}

/// Compares the deliveries per app and channel as multisets, then their
/// order per app (and so per PSID).
pub fn deliveries(
    step: usize,
    op: &Op,
    expected: &Outcome,
    observed: &[Vec<(Channel, Event)>],
) -> Option<Divergence> {
    // (app, channel, event, rule) expected but not seen; (app, channel,
    // event, duplicate?) seen but not expected; per app.
    let mut missing: Vec<(AppIx, Channel, Event, Rule, String)> = Vec::new();
    let mut extra: Vec<(AppIx, Channel, Event, bool, String)> = Vec::new();
    let mut order_div = None;
    for (i, got) in observed.iter().enumerate() {
        let app = AppIx(i as u8);
        let want: Vec<(Channel, Event, Rule)> = expected
            .deliveries
            .iter()
            .filter(|d| d.app == app)
            .map(|d| (d.channel, normalized(&d.event), d.rule))
            .collect();
        let got: Vec<(Channel, Event)> = got.iter().map(|(c, e)| (*c, normalized(e))).collect();
        let want_text = lines(app, want.iter().map(|(c, e, _)| (*c, e)));
        let got_text = lines(app, got.iter().map(|(c, e)| (*c, e)));
        let mut used = vec![false; got.len()];
        for (c, e, r) in &want {
            match (0..got.len()).find(|j| !used[*j] && got[*j].0 == *c && got[*j].1 == *e) {
                Some(j) => used[j] = true,
                None => missing.push((app, *c, e.clone(), *r, got_text.clone())),
            }
        }
        for (j, (c, e)) in got.iter().enumerate() {
            if !used[j] {
                let duplicate = want.iter().any(|(wc, we, _)| wc == c && we == e);
                extra.push((app, *c, e.clone(), duplicate, want_text.clone()));
            }
        }
        if order_div.is_none()
            && used.iter().all(|u| *u)
            && want.len() == got.len()
            && want_text != got_text
        {
            order_div = Some(div(
                step,
                op,
                Kind::Deliveries,
                vec![Rule::Hook6],
                false,
                want_text,
                got_text,
            ));
        }
    }
    // A missing delivery names the rule that asked for it, preferring the
    // rule that decided the step (the owner's copy of a user event).
    let pick = missing
        .iter()
        .position(|m| m.3 == expected.decided_by)
        .unwrap_or(0);
    if let Some((app, c, e, r, got_text)) = missing.get(pick) {
        // The same event on the other channel means the target chose another
        // owner: the step's control rule is broken before the channel rule.
        let swapped = extra
            .iter()
            .any(|(a, xc, xe, _, _)| a == app && xc != c && same_but_payload(xe, e));
        let mut rules = if swapped {
            vec![expected.decided_by, *r]
        } else {
            vec![*r]
        };
        if expected.is_refusal() {
            rules.push(Rule::Ctrl5);
        }
        let observed = if got_text.is_empty() {
            format!("{app} received nothing")
        } else {
            got_text.clone()
        };
        let expected_text = format!("{app} {} {}", c.as_str(), event_text(e));
        return Some(div(
            step,
            op,
            Kind::Deliveries,
            rules,
            r.level() == Level::Must,
            expected_text,
            observed,
        ));
    }
    if let Some((app, c, e, duplicate, want_text)) = extra.first() {
        let rules = if expected.is_refusal() && !duplicate {
            vec![Rule::Ctrl5, Rule::Hook5]
        } else {
            vec![Rule::Hook5]
        };
        let expected_text = if want_text.is_empty() {
            format!("nothing for {app}")
        } else {
            want_text.clone()
        };
        let what = if *duplicate { "a duplicate: " } else { "" };
        let observed = format!("{what}{app} {} {}", c.as_str(), event_text(e));
        return Some(div(
            step,
            op,
            Kind::Deliveries,
            rules,
            true,
            expected_text,
            observed,
        ));
    }
    order_div
}

/// Equal but for a postback's payload (which depends on the channel).
fn same_but_payload(a: &Event, b: &Event) -> bool {
    let strip = |e: &Event| {
        let mut e = e.clone();
        if let EventKind::Postback { payload, .. } = &mut e.kind {
            *payload = None;
        }
        e
    };
    strip(a) == strip(b)
}

/// Deliveries of one app, one per line.
fn lines<'e>(app: AppIx, items: impl Iterator<Item = (Channel, &'e Event)>) -> String {
    items
        .map(|(c, e)| format!("{app} {} {}", c.as_str(), event_text(e)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares a PSID's whole transcript (sender, kind, text; not ids).
pub fn transcript(
    step: usize,
    op: &Op,
    expected: &Outcome,
    psid: &str,
    want: &[TranscriptItem],
    got: &[TranscriptItem],
) -> Option<Divergence> {
    let same = |a: &TranscriptItem, b: &TranscriptItem| {
        a.from_app_id == b.from_app_id && a.kind == b.kind && a.text == b.text
    };
    let first_diff =
        (0..want.len().max(got.len())).find(|i| match (want.get(*i), got.get(*i)) {
            (Some(a), Some(b)) => !same(a, b),
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
    let show = |items: &[TranscriptItem]| {
        if items.is_empty() {
            return "(nothing)".to_string();
        }
        items
            .iter()
            .map(|t| format!("{} from {}: {:?}", t.kind.as_str(), t.from_app_id, t.text))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(div(
        step,
        op,
        Kind::Transcript,
        rules,
        rule.level() == Level::Must,
        format!("psid {psid}:\n{}", show(want)),
        format!("psid {psid}:\n{}", show(got)),
    ))
}

// ---------------------------------------------------------------------------
// Human-readable renderings.

fn party(p: Party) -> String {
    match p {
        Party::App(a) => a.to_string(),
        Party::PageInbox => "page_inbox".into(),
        Party::InstagramInbox => "instagram_inbox".into(),
    }
}

/// One event on one line, with apps by position.
pub fn event_text(e: &Event) -> String {
    let psid = e
        .psid
        .as_deref()
        .map(|p| format!("psid {p} "))
        .unwrap_or_default();
    let meta = |m: &Option<String>| {
        m.as_ref()
            .map(|m| format!(" metadata {m:?}"))
            .unwrap_or_default()
    };
    let body = match &e.kind {
        EventKind::Message {
            text,
            quick_reply,
            ad_id,
            ..
        } => {
            let mut s = format!("message {text:?}");
            if let Some(q) = quick_reply {
                let _ = write!(s, " quick_reply {q:?}");
            }
            if let Some(a) = ad_id {
                let _ = write!(s, " referral ad {a:?}");
            }
            s
        }
        EventKind::Postback { title, payload, .. } => match payload {
            Some(p) => format!("postback {title:?} payload {p:?}"),
            None => format!("postback {title:?} (no payload)"),
        },
        EventKind::PassThreadControl {
            new_owner,
            previous_owner,
            metadata,
        } => format!(
            "pass_thread_control to {} from {}{}",
            party(*new_owner),
            previous_owner.map_or("null".to_string(), party),
            meta(metadata)
        ),
        EventKind::TakeThreadControl {
            previous_owner,
            new_owner,
            metadata,
        } => {
            format!(
                "take_thread_control by {} from {}{}",
                party(*new_owner),
                party(*previous_owner),
                meta(metadata)
            )
        }
        EventKind::RequestThreadControl {
            requested_owner,
            metadata,
        } => {
            format!(
                "request_thread_control by {requested_owner}{}",
                meta(metadata)
            )
        }
        EventKind::AppRoles { app, primary } => {
            format!(
                "app_roles {app} {}",
                if *primary {
                    "primary_receiver"
                } else {
                    "secondary_receiver"
                }
            )
        }
    };
    format!("{psid}{body}")
}

pub fn graph_text(a: &Result<GraphSuccess, GraphError>) -> String {
    match a {
        Err(e) => match e.subcode {
            Some(s) => format!("HTTP {} code {} subcode {s}", e.status, e.code),
            None => format!("HTTP {} code {}", e.status, e.code),
        },
        Ok(GraphSuccess::Sent { recipient_id, .. }) => format!("200 sent to psid {recipient_id}"),
        Ok(GraphSuccess::Success) => "200 success".into(),
        Ok(GraphSuccess::Result) => "200 result success".into(),
        Ok(GraphSuccess::ThreadOwner(None)) => "200 thread_owner: none (idle)".into(),
        Ok(GraphSuccess::ThreadOwner(Some(v))) => match v.app_id {
            Some(p) => format!("200 thread_owner {} expiration {}", party(p), v.expiration),
            None => format!("200 thread_owner hidden, expiration {}", v.expiration),
        },
        Ok(GraphSuccess::SecondaryReceivers(apps)) => {
            format!(
                "200 secondary_receivers [{}]",
                apps.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

fn control_text(a: &Result<ControlSuccess, String>) -> String {
    match a {
        Ok(ControlSuccess::Ok) => "ok".into(),
        Ok(ControlSuccess::Mid(_)) => "ok with a message id".into(),
        Ok(ControlSuccess::NowMs(n)) => format!("now_ms {n}"),
        Err(e) => format!("control error: {e}"),
    }
}

/// One line for a trace: the step and what the model expected of it.
pub fn describe_step(i: usize, op: &Op, expected: &Outcome, _setup: &Setup) -> String {
    let answer = match &expected.answer {
        Answer::Graph(a) => graph_text(a),
        Answer::Control(a) => control_text(a),
    };
    let mut s = format!("{i:>3}. {op}\n     -> {answer} [{}]", expected.decided_by);
    for d in &expected.deliveries {
        let _ = write!(
            s,
            "\n     => {} {} {}",
            d.app,
            d.channel.as_str(),
            event_text(&d.event)
        );
    }
    for r in &expected.received {
        let _ = write!(
            s,
            "\n     user psid {} receives {} from {}: {:?}",
            r.psid,
            r.entry.kind.as_str(),
            party(r.entry.from),
            r.entry.text
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppSpec, Call, GraphOp, Setup, State, UserEvent, apply};

    fn page() -> State {
        let apps = (0..3)
            .map(|i| AppSpec {
                app_id: format!("{}", 11 + i),
                name: format!("a{i}"),
                human_agent: false,
                require_appsecret_proof: false,
            })
            .collect();
        State::new(Setup::new("1".into(), 0, apps, Some("11")).unwrap())
    }

    fn user_message(st: &mut State) -> (Op, Outcome) {
        let op = Op::User(UserEvent::Message {
            psid: "1".into(),
            text: "hi".into(),
            quick_reply: None,
            platform: Default::default(),
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

    #[test]
    fn identical_deliveries_do_not_diverge_whatever_the_mids() {
        let mut st = page();
        let (op, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        for evs in &mut got {
            for (_, e) in evs.iter_mut() {
                e.timestamp += 5;
                if let EventKind::Message { mid, .. } = &mut e.kind {
                    *mid = "their-mid".into();
                }
            }
        }
        assert_eq!(deliveries(0, &op, &out, &got), None);
    }

    #[test]
    fn hook_1_a_channel_swap_names_the_control_rule_first() {
        let mut st = page();
        let (op, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        got[0][0].0 = Channel::Standby; // the primary got standby
        let d = deliveries(0, &op, &out, &got).unwrap();
        assert_eq!(d.rules, vec![Rule::Pri2]);
        assert!(d.strict);
    }

    #[test]
    fn hook_5_a_duplicate_is_named() {
        let mut st = page();
        let (op, out) = user_message(&mut st);
        let mut got = observed(&out, 3);
        let copy = got[1][0].clone();
        got[1].push(copy);
        let d = deliveries(0, &op, &out, &got).unwrap();
        assert_eq!(d.rules, vec![Rule::Hook5]);
        assert!(d.observed.starts_with("a duplicate"), "{}", d.observed);
    }

    #[test]
    fn hook_6_misordered_deliveries_are_non_strict() {
        let mut st = page();
        let (_, first) = user_message(&mut st);
        let op = Op::User(UserEvent::Message {
            psid: "1".into(),
            text: "second".into(),
            quick_reply: None,
            platform: Default::default(),
        });
        let second = apply(&mut st, &op);
        let mut both = first.clone();
        both.deliveries.extend(second.deliveries.clone());
        let mut got = observed(&both, 3);
        got[2].reverse();
        let d = deliveries(1, &op, &both, &got).unwrap();
        assert_eq!((d.rules.clone(), d.strict), (vec![Rule::Hook6], false));
    }

    #[test]
    fn another_refusal_code_is_non_strict_except_where_documented() {
        let mut st = page();
        user_message(&mut st);
        // App 1 takes a thread the primary owns: TAKE-3, 10/2018300 (not documented).
        let take = Op::Graph(GraphOp::by(
            AppIx(1),
            Call::Take {
                psid: "1".into(),
                metadata: None,
            },
        ));
        let out = apply(&mut st.clone(), &take);
        let other = Ok(ObservedAnswer {
            status: 400,
            answer: Err(GraphError::INVALID),
        });
        let d = graph_answer(1, &take, &out, &other).unwrap();
        assert_eq!((d.rule(), d.strict), (Rule::Take3, false));
        // App 1 sends on it: CTRL-4, whose code is documented.
        let send = Op::Graph(GraphOp::by(
            AppIx(1),
            Call::Send {
                psid: "1".into(),
                messaging_type: crate::model::MessagingType::Response,
                tag: None,
                message: crate::model::Message::Text {
                    text: "x".into(),
                    quick_replies: None,
                },
            },
        ));
        let out = apply(&mut st.clone(), &send);
        let d = graph_answer(1, &send, &out, &other).unwrap();
        assert_eq!((d.rule(), d.strict), (Rule::Ctrl4, true));
        // Letting it through fails whatever the codes.
        let through = Ok(ObservedAnswer {
            status: 200,
            answer: Ok(GraphSuccess::Sent {
                recipient_id: "1".into(),
                message_id: "m".into(),
            }),
        });
        let d = graph_answer(1, &send, &out, &through).unwrap();
        assert_eq!(d.rules, vec![Rule::Ctrl4, Rule::Ctrl5]);
        assert!(d.strict);
    }

    #[test]
    fn input_1_a_server_error_is_strict() {
        let mut st = page();
        user_message(&mut st);
        let take = Op::Graph(GraphOp::by(
            AppIx(1),
            Call::Take {
                psid: "1".into(),
                metadata: None,
            },
        ));
        let out = apply(&mut st.clone(), &take);
        let d = graph_answer(
            1,
            &take,
            &out,
            &Err("HTTP 500: the body is not JSON".into()),
        )
        .unwrap();
        assert!(d.rules.contains(&Rule::Input1) && d.strict);
    }
}
