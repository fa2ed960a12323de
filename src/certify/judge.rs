//! The judge of an app under test: BP-1..6 and APP-1..4, APP-6 decided on a
//! case's [`Record`] (APP-5, the verification handshake, is checked once
//! before the first case). Pure: the record in, the violations out.
//!
//! Each rule is read as `app-certification.md` makes it checkable; the
//! comments quote the decisive part. Only genuine deliveries tell the app
//! who owns a thread (forged, retried and synthesized unusual ones say
//! nothing new), and the platform's own decisions say who really owns it.

use super::record::{DeliveryKind, Entry, Record};
use crate::harness::counts::RuleCounts;
use crate::model::{
    Answer, AppIx, Call, Caller, Channel, Event, EventKind, GraphError, GraphOp, GraphSuccess,
    HUMAN_AGENT_TAG, MessagingType, Op, Party, Psid, Rule, RuleSet,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One rule the app under test broke, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: Rule,
    /// The stimulus in whose reaction window it happened.
    pub stimulus: usize,
    /// The entry of the record that shows it.
    pub entry: usize,
    pub psid: Option<Psid>,
    /// What the app did, in words.
    pub explanation: String,
}

/// What the judge found in a record.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// In the order they happened.
    pub violations: Vec<Violation>,
    /// How often each rule was put to the test.
    pub counts: RuleCounts,
}

impl Judgement {
    pub fn exercised(&self) -> RuleSet {
        self.counts.exercised()
    }
}

/// A call of the app under test, as the rules see it.
struct AppCall<'a> {
    index: usize,
    seq: u64,
    g: &'a GraphOp,
    outcome: &'a crate::model::Outcome,
    before_owner: Option<Party>,
}

impl AppCall<'_> {
    fn psid(&self) -> Option<&Psid> {
        self.g.call.psid()
    }

    fn refused(&self) -> Option<GraphError> {
        match &self.outcome.answer {
            Answer::Graph(Err(e)) => Some(*e),
            _ => None,
        }
    }

    /// send, take, request, pass, release, extend (BP-1's "acting").
    fn acts(&self) -> bool {
        matches!(
            self.g.call,
            Call::Send { .. }
                | Call::Take { .. }
                | Call::Request { .. }
                | Call::Pass { .. }
                | Call::PassMetadata { .. }
                | Call::Release { .. }
                | Call::Extend { .. }
        )
    }

    fn name(&self) -> String {
        Op::Graph(self.g.clone()).to_string()
    }
}

/// A delivery is ordinary (APP-1) when every event in it is a user event or
/// a handover event addressed to the app; anything else (app roles, a
/// standby postback without payload, handed-over metadata, batches,
/// synthesized kinds) is unusual (APP-3).
fn ordinary(kind: DeliveryKind, events: &[(Channel, Event)]) -> bool {
    matches!(
        kind,
        DeliveryKind::Platform | DeliveryKind::Retry | DeliveryKind::Forged
    ) && events.iter().all(|(c, e)| match &e.kind {
        EventKind::Message { .. } => true,
        EventKind::Postback { payload, .. } => *c == Channel::Messaging || payload.is_some(),
        EventKind::PassThreadControl { .. }
        | EventKind::TakeThreadControl { .. }
        | EventKind::RequestThreadControl { .. } => true,
        _ => false,
    })
}

/// Judges one case's record.
pub fn judge(r: &Record) -> Judgement {
    let mut j = Judgement::default();
    let app = r.app;
    let me = Party::App(app);
    let add = |j: &mut Judgement, rule: Rule| j.counts.add(RuleSet::EMPTY.with(rule));
    let violation = |j: &mut Judgement, rule, seq, entry, psid: Option<&Psid>, why: String| {
        j.violations.push(Violation {
            rule,
            stimulus: r.stimulus_of(seq),
            entry,
            psid: psid.cloned(),
            explanation: why,
        });
    };

    // What the app has been told, per PSID: the channel of its latest
    // genuine event, and whether it asked thread_owner since (BP-1).
    let mut last_channel: BTreeMap<Psid, (Channel, u64)> = BTreeMap::new();
    let mut asked_since: BTreeSet<Psid> = BTreeSet::new();
    // Its role, per the latest app_roles it received (BP-3).
    let mut primary = r.primary_at_start;
    // Requests pending while it owns the thread, earliest first (BP-4).
    let mut pending: BTreeMap<Psid, Vec<AppIx>> = BTreeMap::new();
    // Threads it found idle, and its sends since (BP-6).
    let mut found_idle: BTreeMap<Psid, u32> = BTreeMap::new();
    // The stimulus that opened each reaction window, for APP-2 and APP-4:
    // (window, PSIDs, rule).
    let mut watched: Vec<(usize, Vec<Psid>, Rule)> = Vec::new();
    // Who really owns each thread, per the platform's decisions.
    let mut owner: BTreeMap<Psid, Option<Party>> = BTreeMap::new();

    for (index, e) in r.entries.iter().enumerate() {
        match e {
            Entry::Delivered {
                seq,
                kind,
                events,
                answer,
                ..
            } => {
                let window = r.stimulus_of(*seq);
                let psid = events.iter().find_map(|(_, e)| e.psid.as_ref());
                // APP-1 / APP-3: the answer.
                if ordinary(*kind, events) {
                    add(&mut j, Rule::App1);
                    if !answer.is_2xx() && *kind != DeliveryKind::Forged {
                        violation(
                            &mut j,
                            Rule::App1,
                            *seq,
                            index,
                            psid,
                            format!(
                                "a signed delivery was answered: {answer} (a 2xx within 20 s is required)"
                            ),
                        );
                    } else if *answer == super::record::WebhookAnswer::Timeout {
                        violation(
                            &mut j,
                            Rule::App1,
                            *seq,
                            index,
                            psid,
                            "a delivery got no answer within 20 s".into(),
                        );
                    }
                } else {
                    add(&mut j, Rule::App3);
                    match answer {
                        super::record::WebhookAnswer::Timeout => violation(
                            &mut j,
                            Rule::App1,
                            *seq,
                            index,
                            psid,
                            "a delivery got no answer within 20 s".into(),
                        ),
                        a if !a.is_2xx() => violation(
                            &mut j,
                            Rule::App3,
                            *seq,
                            index,
                            psid,
                            format!(
                                "a delivery of a kind the app may have no use for was answered: {a} (2xx is required)"
                            ),
                        ),
                        _ => {}
                    }
                }
                match kind {
                    DeliveryKind::Forged => {
                        add(&mut j, Rule::App2);
                        watched.push((
                            window,
                            events.iter().filter_map(|(_, e)| e.psid.clone()).collect(),
                            Rule::App2,
                        ));
                    }
                    DeliveryKind::Retry => {
                        add(&mut j, Rule::App4);
                        watched.push((
                            window,
                            events.iter().filter_map(|(_, e)| e.psid.clone()).collect(),
                            Rule::App4,
                        ));
                    }
                    DeliveryKind::Platform | DeliveryKind::Batch => {
                        // Genuine news: what the app now knows.
                        for (c, ev) in events {
                            if let Some(p) = &ev.psid {
                                last_channel.insert(p.clone(), (*c, *seq));
                                asked_since.remove(p);
                            }
                            match &ev.kind {
                                EventKind::AppRoles { app: a, primary: p } if *a == app => {
                                    primary = *p;
                                }
                                EventKind::RequestThreadControl {
                                    requested_owner, ..
                                } => {
                                    let p = ev.psid.clone().unwrap_or_default();
                                    if owner.get(&p).copied().flatten() == Some(me) {
                                        add(&mut j, Rule::Bp4);
                                        pending.entry(p).or_default().push(*requested_owner);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    DeliveryKind::Unusual => {}
                }
            }
            Entry::Decided {
                seq,
                by_app,
                op,
                psid,
                before,
                after,
                outcome,
                ..
            } => {
                let before_owner = before.as_ref().and_then(|t| t.owner);
                let after_owner = after.as_ref().and_then(|t| t.owner);
                if let Some(p) = &psid {
                    owner.insert(p.clone(), after_owner);
                    // BP-6: once the thread changes hands, "found idle" is
                    // old news (the app may have become owner by an ad
                    // entry, a pass or a user message as primary).
                    if before_owner != after_owner {
                        found_idle.remove(p);
                    }
                }
                if *by_app
                    && let Op::Graph(g) = op
                    && g.caller == Caller::App(app)
                {
                    let call = AppCall {
                        index,
                        seq: *seq,
                        g,
                        outcome,
                        before_owner,
                    };
                    // APP-2 / APP-4 first: a call about a watched PSID in the
                    // window of a forged or retried delivery is a call the
                    // delivery "causes" (app-certification.md), so it is named
                    // under the delivery's rule before any rule the call itself
                    // may also break (a BP-2 refusal, say), which follows it in
                    // the case's list of rules.
                    let window = r.stimulus_of(*seq);
                    if let Some(p) = call.psid()
                        && let Some((_, _, rule)) = watched
                            .iter()
                            .find(|(w, ps, _)| *w == window && ps.contains(p))
                    {
                        let why = match rule {
                            Rule::App2 => format!(
                                "it made `{}` after a delivery with a missing or wrong signature",
                                call.name()
                            ),
                            _ => format!(
                                "it made `{}` again after a delivery it had already received (a retry)",
                                call.name()
                            ),
                        };
                        violation(&mut j, *rule, *seq, index, Some(p), why);
                    }
                    judge_call(
                        &mut j,
                        r,
                        &call,
                        primary,
                        &mut last_channel,
                        &mut asked_since,
                        &mut pending,
                        &mut found_idle,
                    );
                }
                // BP-4: the app's ownership ended. A lapse (the clock) with
                // a request pending fails; any other ending settles the
                // requests. After the call is judged: the pass that ends
                // it is the one that must go to the earliest requester.
                if let Some(p) = &psid
                    && before_owner == Some(me)
                    && after_owner != Some(me)
                {
                    let lapsed = matches!(op, Op::Clock { .. });
                    if let Some(reqs) = pending.remove(p)
                        && lapsed
                        && !reqs.is_empty()
                    {
                        violation(
                            &mut j,
                            Rule::Bp4,
                            *seq,
                            index,
                            Some(p),
                            format!(
                                "its control lapsed with a request pending (from {})",
                                reqs[0]
                            ),
                        );
                    }
                }
            }
        }
    }
    j
}

#[allow(clippy::too_many_arguments)]
fn judge_call(
    j: &mut Judgement,
    r: &Record,
    call: &AppCall<'_>,
    primary: bool,
    last_channel: &mut BTreeMap<Psid, (Channel, u64)>,
    asked_since: &mut BTreeSet<Psid>,
    pending: &mut BTreeMap<Psid, Vec<AppIx>>,
    found_idle: &mut BTreeMap<Psid, u32>,
) {
    let add = |j: &mut Judgement, rule: Rule| j.counts.add(RuleSet::EMPTY.with(rule));
    let violation = |j: &mut Judgement, rule: Rule, why: String| {
        j.violations.push(Violation {
            rule,
            stimulus: r.stimulus_of(call.seq),
            entry: call.index,
            psid: call.psid().cloned(),
            explanation: why,
        });
    };
    let name = call.name();
    // APP-6: well-formed and authorised.
    j.counts.add(RuleSet::EMPTY.with(Rule::App6));
    if let Some(e) = call.refused() {
        let rules = call.outcome.rules;
        if rules.contains(Rule::Input1)
            || matches!(call.outcome.decided_by, Rule::Auth1 | Rule::Auth3)
        {
            violation(
                j,
                Rule::App6,
                format!(
                    "`{name}` was refused as malformed or unauthorised ({e}, {})",
                    call.outcome.decided_by
                ),
            );
            return;
        }
    }
    let Some(psid) = call.psid().cloned() else {
        return;
    };
    match &call.g.call {
        Call::ThreadOwner { .. } => {
            asked_since.insert(psid.clone());
            match &call.outcome.answer {
                Answer::Graph(Ok(GraphSuccess::ThreadOwner(None))) => {
                    j.counts.add(RuleSet::EMPTY.with(Rule::Bp6));
                    found_idle.insert(psid, 0);
                }
                _ => {
                    found_idle.remove(&psid);
                }
            }
            return;
        }
        Call::Take { .. } | Call::Request { .. } => {
            found_idle.remove(&psid);
        }
        _ => {}
    }
    // BP-1: unsure (its latest genuine event came on standby and it has not
    // asked since), the app acts.
    if call.acts()
        && let Some((Channel::Standby, _)) = last_channel.get(&psid)
    {
        add(j, Rule::Bp1);
        if !asked_since.contains(&psid) {
            violation(
                j,
                Rule::Bp1,
                format!("`{name}` right after a standby event, without asking thread_owner first"),
            );
        }
    }
    let refused = call.refused();
    match &call.g.call {
        // BP-2: no 10/2018300 for send, pass, release, extend.
        Call::Send {
            messaging_type,
            tag,
            message,
            ..
        } => {
            add(j, Rule::Bp2);
            let ha = r.human_agent
                && *messaging_type == MessagingType::MessageTag
                && tag.as_deref() == Some(HUMAN_AGENT_TAG);
            let survey = matches!(message, crate::model::Message::Survey { .. });
            if refused == Some(GraphError::NOT_OWNER) && !ha && !survey {
                violation(
                    j,
                    Rule::Bp2,
                    format!("`{name}` while another owner held the thread (10/2018300)"),
                );
            }
            // BP-6: found idle, the second send without taking control.
            if let Some(n) = found_idle.get_mut(&psid) {
                *n += 1;
                if *n == 2 {
                    violation(
                        j,
                        Rule::Bp6,
                        format!(
                            "a second message on a thread thread_owner said was idle, without taking or requesting control first (`{name}`)"
                        ),
                    );
                }
            }
        }
        Call::Pass { target, .. } => {
            add(j, Rule::Bp2);
            if refused == Some(GraphError::NOT_OWNER) {
                violation(
                    j,
                    Rule::Bp2,
                    format!("`{name}` while another owner held the thread (10/2018300)"),
                );
            }
            // BP-4: the next pass goes to the earliest pending requester.
            if refused.is_none()
                && let Some(reqs) = pending.get(&psid)
                && let Some(first) = reqs.first()
            {
                let to = match target {
                    Some(crate::model::AppRef::App(a)) => Some(*a),
                    _ => None,
                };
                if to != Some(*first) {
                    violation(
                        j,
                        Rule::Bp4,
                        format!(
                            "`{name}` with a request from {first} pending: the next pass must go to the earliest requester"
                        ),
                    );
                }
            }
        }
        // A pass of metadata is a pass for BP-2 ("no call of the AUT gets
        // 10/2018300"); it hands over no control, so BP-4 does not look.
        Call::PassMetadata { .. } => {
            add(j, Rule::Bp2);
            if refused == Some(GraphError::NOT_OWNER) {
                violation(
                    j,
                    Rule::Bp2,
                    format!("`{name}` while another owner held the thread (10/2018300)"),
                );
            }
        }
        Call::Release { .. } | Call::Extend { .. } => {
            add(j, Rule::Bp2);
            add(j, Rule::Bp5);
            if refused == Some(GraphError::NOT_OWNER) {
                violation(
                    j,
                    Rule::Bp2,
                    format!("`{name}` while another owner held the thread (10/2018300)"),
                );
            } else if refused.is_some() && call.before_owner.is_none() {
                // BP-5: refused because the thread was idle.
                violation(
                    j,
                    Rule::Bp5,
                    format!("`{name}` on a thread that was idle (its control had lapsed or ended)"),
                );
            }
        }
        Call::Take { .. } => {
            add(j, Rule::Bp3);
            if !primary {
                violation(
                    j,
                    Rule::Bp3,
                    format!(
                        "`{name}` by an app that is not the primary receiver (it should request control)"
                    ),
                );
            }
        }
        Call::Request { .. } => add(j, Rule::Bp3),
        _ => {}
    }
}
