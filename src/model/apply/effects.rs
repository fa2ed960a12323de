//! The building blocks every command uses: outcomes for success and
//! refusal, and the state changes shared between commands (a change of
//! owner, activity, going idle, a message reaching the user, a webhook).
//! Each records the rules it exercises.

use crate::model::op::{AppIx, Choice};
use crate::model::outcome::{
    Answer, Channel, ControlSuccess, Delivery, Event, EventKind, GraphSuccess, MessageKind,
    Outcome, Party, Received, Refusal, TranscriptEntry,
};
use crate::model::rules::Rule;
use crate::model::state::{DAY_MS, SentMessage, State};

/// A refused Graph call, answered with the reason's error. A refusal
/// changes nothing (CTRL-5).
pub(super) fn refuse(why: Refusal, rule: Rule) -> Outcome {
    let mut out = Outcome::new(Answer::Graph(Err(why.error())), rule);
    out.refusal = Some(why);
    out.rules.insert(Rule::Ctrl5);
    out
}

pub(super) fn succeed(s: GraphSuccess, rule: Rule) -> Outcome {
    Outcome::new(Answer::Graph(Ok(s)), rule)
}

/// A refused control-API call (not a protocol refusal: the test asked for
/// something impossible). It changes nothing either.
pub(super) fn control_error(msg: impl Into<String>, rule: Rule) -> Outcome {
    let mut out = Outcome::new(Answer::Control(Err(msg.into())), rule);
    out.rules.insert(Rule::Ctrl5);
    out
}

pub(super) fn control_ok(s: ControlSuccess, rule: Rule) -> Outcome {
    Outcome::new(Answer::Control(Ok(s)), rule)
}

// ---------------------------------------------------------------------------
// State changes shared by the commands. Each records the rules it exercises.

impl State {
    /// A change of owner: the deadline restarts at now + 24 h, even after an
    /// extension, which belonged to the previous owner (EXP-1).
    pub(super) fn set_owner(&mut self, psid: &str, owner: Party, out: &mut Outcome) {
        let now = self.now_ms;
        let t = self.threads.get_mut(psid).expect("thread exists");
        t.owner = Some(owner);
        t.deadline_ms = now + DAY_MS;
        out.rules.insert(Rule::Ctrl1);
        out.rules.insert(Rule::Exp1);
    }

    /// Activity without a change of owner only ever pushes the deadline
    /// later (EXP-1).
    pub(super) fn touch(&mut self, psid: &str, out: &mut Outcome) {
        let now = self.now_ms;
        let t = self.threads.get_mut(psid).expect("thread exists");
        if t.owner.is_some() {
            t.deadline_ms = t.deadline_ms.max(now + DAY_MS);
            out.rules.insert(Rule::Exp1);
        }
    }

    /// The thread becomes idle (release, lapse, INBOX-4): it stays idle until
    /// the next user message (PRI-4), and held surveys reach the user now,
    /// in the order they were sent (SURVEY-1).
    pub(super) fn go_idle(&mut self, psid: &str, out: &mut Outcome) {
        let t = self.threads.get_mut(psid).expect("thread exists");
        t.owner = None;
        t.deadline_ms = 0;
        out.rules.insert(Rule::Ctrl1);
        out.rules.insert(Rule::Pri4);
        if t.held.is_empty() {
            return;
        }
        out.rules.insert(Rule::Survey1);
        for h in std::mem::take(&mut t.held) {
            let entry = TranscriptEntry {
                mid: h.mid,
                from: Party::App(h.from),
                kind: MessageKind::Survey,
                text: h.title,
            };
            out.received.push(Received {
                psid: psid.to_string(),
                entry: entry.clone(),
                rule: Rule::Survey1,
            });
            t.transcript.push(SentMessage {
                entry,
                buttons: Vec::new(),
            });
        }
    }

    /// A message (its kind, transcript text and buttons) reaches the user
    /// now; returns its message id.
    pub(super) fn deliver_to_user(
        &mut self,
        psid: &str,
        from: Party,
        (kind, text, buttons): (MessageKind, String, Vec<Choice>),
        rule: Rule,
        out: &mut Outcome,
    ) -> String {
        let mid = self.fresh_mid();
        let entry = TranscriptEntry {
            mid: mid.clone(),
            from,
            kind,
            text,
        };
        out.received.push(Received {
            psid: psid.to_string(),
            entry: entry.clone(),
            rule,
        });
        out.rules.insert(rule);
        self.threads
            .get_mut(psid)
            .expect("thread exists")
            .transcript
            .push(SentMessage { entry, buttons });
        mid
    }

    /// A webhook event to one app, on the surface of the thread it is about
    /// (IG-3); page events (`app_roles`) go on Messenger.
    pub(super) fn notify(
        &self,
        out: &mut Outcome,
        app: AppIx,
        channel: Channel,
        psid: Option<&str>,
        kind: EventKind,
        rule: Rule,
    ) {
        let surface = psid.and_then(|p| self.surface(p)).unwrap_or_default();
        notify_on(out, surface, self.now_ms, app, channel, psid, kind, rule);
    }

    /// A handover event (HOOK-3): always on `messaging`, only to the app the
    /// rule names.
    pub(super) fn notify_handover(
        &self,
        out: &mut Outcome,
        app: AppIx,
        psid: &str,
        kind: EventKind,
        rule: Rule,
    ) {
        out.rules.insert(Rule::Hook3);
        self.notify(out, app, Channel::Messaging, Some(psid), kind, rule);
    }
}

/// [`State::notify`] with the thread's surface already looked up: a user
/// event reaches every app of the page, and the surface is the same for all.
#[allow(clippy::too_many_arguments)]
pub(super) fn notify_on(
    out: &mut Outcome,
    surface: crate::model::surface::Surface,
    timestamp: u64,
    app: AppIx,
    channel: Channel,
    psid: Option<&str>,
    kind: EventKind,
    rule: Rule,
) {
    out.rules.insert(rule);
    out.deliveries.push(Delivery {
        app,
        channel,
        event: Event {
            psid: psid.map(str::to_string),
            surface,
            timestamp,
            kind,
        },
        rule,
    });
}
