//! The reference app's decisions: a customer-support bot, as pure functions
//! of what it knows. No sockets and no clock here; the worker feeds events
//! in and carries the calls out (`worker.rs`), which keeps every rule's
//! decision unit-testable.
//!
//! Per user (PSID) the bot keeps a [`Thread`]: who it believes owns the
//! thread, when its own control lapses (from event `timestamp`s: the
//! platform's clock), the requests for control it has not yet honoured (in
//! arrival order), and what the user wants done in this turn. A *turn* is
//! one delivery: every event of it is observed first, then the bot acts
//! once per user on what it then knows, one Graph call at a time
//! ([`Bot::next_call`], [`Bot::answered`]). So a batch in which control
//! already moved on is not acted on as if it had not.
//!
//! The rules it follows (app-certification.md):
//! * BP-1: when unsure who owns the thread (its latest event came on
//!   standby, or its control may have lapsed, or nothing told it), it asks
//!   `thread_owner` before any send, take, request, pass or release.
//! * BP-2: it never sends, passes or releases unless it owns the thread
//!   (or, for a single reply or goodbye, the thread is idle: CTRL-3).
//! * BP-3: not the primary receiver, it requests control; only the primary
//!   takes.
//! * BP-4 / BP-5: a request for control is honoured at once by passing to
//!   the earliest pending requester; when done it passes to a pending
//!   requester or releases. After its control lapsed (by the timestamps) it
//!   no longer acts as the owner, so it never releases an idle thread.
//! * BP-6: having found the thread idle, it requests (or, as primary,
//!   takes) control before its second message; in fact before its first,
//!   except for a last goodbye.

use super::config::{DAY_MS, INSTAGRAM_INBOX_APP_ID, PAGE_INBOX_APP_ID};
use super::event::{Channel, Incoming, Kind};
use super::mutants::AppMutant;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};

/// Quick-reply and postback payloads the bot offers and understands.
pub const HANDOVER: &str = "HANDOVER";
pub const DONE: &str = "DONE";
pub const BOT: &str = "BOT";

/// How many users' threads are remembered; the least recently active are
/// forgotten first (the bot then asks `thread_owner` again).
pub const MAX_THREADS: usize = 10_000;

/// Most Graph calls one turn may make for one user (a plan is at most
/// four: ask, take or request, send, pass or release).
const MAX_CALLS_PER_TURN: usize = 6;

/// Who owns a thread, as far as the bot knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This app (until `deadline`).
    Me,
    /// Another app or the Page Inbox.
    Other,
    Idle,
    /// Not known: ask `thread_owner` before acting (BP-1).
    Unknown,
}

/// A message the bot sends: text, with optional quick replies
/// (title, payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub text: String,
    pub quick_replies: Vec<(String, String)>,
}

/// One Graph call, for one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    ThreadOwner,
    Send(Outgoing),
    Pass {
        target: String,
        metadata: String,
    },
    /// Context for an app whose request cannot be honoured yet (PASS-7);
    /// control stays.
    PassMetadata {
        target: String,
        metadata: String,
    },
    Take {
        metadata: String,
    },
    Request {
        metadata: String,
    },
    Release,
}

impl Call {
    /// The Graph edge it goes to.
    pub fn edge(&self) -> &'static str {
        match self {
            Call::ThreadOwner => "thread_owner",
            Call::Send(_) => "messages",
            Call::Pass { .. } => "pass_thread_control",
            Call::PassMetadata { .. } => "pass_thread_metadata",
            Call::Take { .. } => "take_thread_control",
            Call::Request { .. } => "request_thread_control",
            Call::Release => "release_thread_control",
        }
    }
}

/// What the platform answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx, with the JSON body (`null` when it was not JSON).
    Ok(Value),
    /// Anything else: a Graph error, another status, no answer.
    Failed(String),
}

/// What the user wants done in this turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// An answer while the bot owns the thread.
    Reply(Outgoing),
    /// A person: a notice, then pass to the Page Inbox.
    Handover { notice_sent: bool },
    /// Done: a goodbye, then release (when it owns the thread).
    Done { goodbye_sent: bool },
    /// Back to the bot (the "Back to the bot" quick reply, also tapped on
    /// standby): get control back, then say so.
    Back,
}

impl Want {
    /// When one delivery carries several wishes, the strongest wins.
    fn rank(&self) -> u8 {
        match self {
            Want::Reply(_) => 0,
            Want::Back => 1,
            Want::Done { .. } => 2,
            Want::Handover { .. } => 3,
        }
    }
}

/// What the bot knows of one user's thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub owner: Owner,
    /// When this app's control lapses (EXP-1), while `owner` is `Me`.
    pub deadline: u64,
    /// The latest event `timestamp` for this user: the platform's clock.
    pub now: u64,
    /// The channel of the latest event for this user.
    pub latest: Channel,
    /// Apps that requested control and are not yet honoured, earliest first.
    pub pending: VecDeque<String>,
    /// Pending requesters already told (with `pass_thread_metadata`) that
    /// the bot passes when it has answered the user.
    pub told: Vec<String>,
    /// A request of its own on an idle thread was granted (REQ-2): the
    /// `pass_thread_control` event the platform sends for it is old news,
    /// and may arrive after the bot already released again.
    grant_echo: bool,
    /// Whether a message went out on this thread while it was idle and
    /// not (yet) ours: the next one needs control first (BP-6).
    pub sent_while_idle: bool,
    /// What to do in this turn.
    pub want: Option<Want>,
    /// The last thing the user wrote, for the hand-over's metadata.
    pub last_text: String,
    /// The user is on Instagram (its events come as `"object":"instagram"`):
    /// a hand-over to a person goes to the Instagram Inbox.
    pub instagram: bool,
    /// Whether this turn already asked `thread_owner`.
    asked: bool,
    calls: usize,
    touched: u64,
}

impl Thread {
    fn new() -> Thread {
        Thread {
            owner: Owner::Unknown,
            deadline: 0,
            now: 0,
            latest: Channel::Messaging,
            pending: VecDeque::new(),
            told: Vec::new(),
            grant_echo: false,
            sent_while_idle: false,
            want: None,
            last_text: String::new(),
            instagram: false,
            asked: false,
            calls: 0,
            touched: 0,
        }
    }

    fn become_owner(&mut self) {
        self.owner = Owner::Me;
        self.deadline = self.now + DAY_MS;
        self.sent_while_idle = false;
    }

    fn wish(&mut self, w: Want) {
        if self.want.as_ref().is_none_or(|old| w.rank() >= old.rank()) {
            self.want = Some(w);
        }
    }
}

/// The bot: its identity, role, faults and every thread it knows.
#[derive(Clone, Debug)]
pub struct Bot {
    pub app_id: String,
    /// Per the latest `app_roles` naming it; none seen: not primary.
    pub primary: bool,
    mutants: Vec<AppMutant>,
    threads: HashMap<String, Thread>,
    ticks: u64,
}

impl Bot {
    pub fn new(app_id: impl Into<String>, mutants: &[AppMutant]) -> Bot {
        Bot {
            app_id: app_id.into(),
            primary: false,
            mutants: mutants.to_vec(),
            threads: HashMap::new(),
            ticks: 0,
        }
    }

    fn has(&self, m: AppMutant) -> bool {
        self.mutants.contains(&m)
    }

    /// What the bot knows of a user's thread.
    pub fn thread(&self, psid: &str) -> Option<&Thread> {
        self.threads.get(psid)
    }

    /// Starts a turn: observes every event of one delivery, in order, and
    /// returns the users to act for, in order of first appearance.
    pub fn turn(&mut self, events: &[Incoming]) -> Vec<String> {
        let mut psids: Vec<String> = Vec::new();
        for ev in events {
            if let Some(p) = self.observe(ev)
                && !psids.contains(&p)
            {
                psids.push(p);
            }
        }
        for p in &psids {
            if let Some(t) = self.threads.get_mut(p) {
                t.asked = false;
                t.calls = 0;
            }
        }
        psids
    }

    fn thread_mut(&mut self, psid: &str) -> &mut Thread {
        self.ticks += 1;
        if !self.threads.contains_key(psid) && self.threads.len() >= MAX_THREADS {
            let oldest = self
                .threads
                .iter()
                .min_by_key(|(_, t)| t.touched)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.threads.remove(&k);
            }
        }
        let t = self
            .threads
            .entry(psid.to_string())
            .or_insert_with(Thread::new);
        t.touched = self.ticks;
        t
    }

    /// Learns from one event; returns its user, if it has one.
    fn observe(&mut self, ev: &Incoming) -> Option<String> {
        if let Kind::Roles { primary } = ev.kind {
            if let Some(p) = primary {
                self.primary = p;
            }
            return None;
        }
        let psid = ev.psid.clone()?;
        let me = self.app_id.clone();
        let primary = self.primary;
        let ignores_lapse = self.has(AppMutant::ReleasesAfterLapse);
        let ignores_requests = self.has(AppMutant::IgnoresRequests);
        let sends_on_standby = self.has(AppMutant::SendsOnStandby);
        let t = self.thread_mut(&psid);
        t.now = t.now.max(ev.timestamp);
        t.latest = ev.channel;
        // A user id is on one surface for good (instagram.md).
        t.instagram |= ev.instagram;
        // Whether the bot owned the thread up to this event (EXP-1: a
        // deadline reached exactly has lapsed).
        let still_mine = t.owner == Owner::Me && (t.now < t.deadline || ignores_lapse);
        let user_event = matches!(ev.kind, Kind::Message { .. } | Kind::Postback { .. });
        if ev.channel == Channel::Standby {
            // Before acting after a standby event it must ask (BP-1).
            t.owner = Owner::Unknown;
        }
        if user_event && ev.channel == Channel::Standby {
            // Someone else owns the thread now: every request addressed to
            // this app is settled (BP-4).
            t.pending.clear();
            if let Kind::Message {
                text, quick_reply, ..
            } = &ev.kind
            {
                t.last_text = text.clone();
                if quick_reply.as_deref() == Some(BOT) {
                    t.wish(Want::Back);
                } else if sends_on_standby {
                    t.wish(Want::Reply(answer_for(text)));
                }
            }
            return Some(psid);
        }
        match &ev.kind {
            Kind::Message {
                text,
                quick_reply,
                ad_entry,
            } => {
                // A user message on messaging: this app owns the thread
                // (already, or now as primary receiver: PRI-2, or through
                // an ad assigned to it: CTM-1), or the thread is idle with
                // no primary receiver (PRI-3).
                if *ad_entry || (!still_mine && primary) {
                    t.become_owner();
                } else if still_mine {
                    t.deadline = t.deadline.max(t.now + DAY_MS);
                } else if t.owner != Owner::Idle {
                    t.owner = Owner::Unknown;
                }
                t.last_text = text.clone();
                t.wish(want_for(quick_reply.as_deref(), text));
            }
            Kind::Postback { payload } => {
                // On messaging a postback moved control to this app (CTA-1
                // for its own button, MENU-3 for its menu).
                if still_mine {
                    t.deadline = t.deadline.max(t.now + DAY_MS);
                } else {
                    t.become_owner();
                }
                if let Some(p) = payload {
                    t.wish(want_for(Some(p), ""));
                }
            }
            Kind::Pass { new_owner, .. } => {
                if new_owner.as_deref() == Some(me.as_str()) && t.grant_echo {
                    // The echo of its own granted request: it knew (BP-5:
                    // after a release since, it must not believe it owns).
                    t.grant_echo = false;
                } else if new_owner.as_deref() == Some(me.as_str()) {
                    t.become_owner();
                    t.pending.clear();
                } else {
                    t.owner = Owner::Unknown;
                }
            }
            Kind::Take { new_owner } => {
                t.owner = if new_owner.as_deref() == Some(me.as_str()) {
                    Owner::Me
                } else {
                    Owner::Other
                };
                t.pending.clear();
            }
            Kind::Request { requester } => {
                // Only the owner is asked (REQ-1): the thread is this app's
                // at this event's time, whatever it believed.
                if t.owner != Owner::Me || t.deadline <= t.now {
                    t.owner = Owner::Me;
                    t.deadline = t.deadline.max(t.now + 1);
                }
                if !ignores_requests && *requester != me && !t.pending.contains(requester) {
                    t.pending.push_back(requester.clone());
                }
            }
            Kind::PassMetadata | Kind::Unknown | Kind::Roles { .. } => {}
        }
        Some(psid)
    }

    /// The next Graph call for this user in this turn, if any.
    pub fn next_call(&mut self, psid: &str) -> Option<Call> {
        let ignores_lapse = self.has(AppMutant::ReleasesAfterLapse);
        let never_asks = self.has(AppMutant::NeverAsksOwner);
        let wrong_requester = self.has(AppMutant::WrongRequester);
        let chatters = self.has(AppMutant::ChattersWhenIdle);
        let sends_on_standby = self.has(AppMutant::SendsOnStandby);
        let takes = self.primary || self.has(AppMutant::TakesAsSecondary);
        let t = self.threads.get_mut(psid)?;
        let call = plan(
            t,
            Flags {
                ignores_lapse,
                never_asks,
                wrong_requester,
                chatters,
                sends_on_standby,
                takes,
            },
        );
        match &call {
            Some(_) if t.calls >= MAX_CALLS_PER_TURN => {
                t.want = None;
                None
            }
            Some(c) => {
                t.calls += 1;
                Some(c.clone())
            }
            None => {
                t.want = None;
                None
            }
        }
    }

    /// Learns from the answer to a call [`Bot::next_call`] gave.
    pub fn answered(&mut self, psid: &str, call: &Call, answer: &Answer) {
        let me = self.app_id.clone();
        let Some(t) = self.threads.get_mut(psid) else {
            return;
        };
        let body = match answer {
            Answer::Ok(body) => body,
            Answer::Failed(_) => {
                // Whatever the bot believed was wrong, or the platform is in
                // trouble: stop this turn and ask before acting next time.
                if *call == Call::ThreadOwner {
                    t.asked = true;
                }
                t.owner = Owner::Unknown;
                t.want = None;
                return;
            }
        };
        match call {
            Call::ThreadOwner => match owner_view(body, &me) {
                Some(OwnerView::Me { expiration_s }) => {
                    t.owner = Owner::Me;
                    // `expiration` is the deadline rounded down to seconds;
                    // the bot owns it now, so it lasts past now.
                    t.deadline = (expiration_s * 1000).max(t.now + 1);
                }
                Some(OwnerView::Other) => t.owner = Owner::Other,
                Some(OwnerView::Idle) => t.owner = Owner::Idle,
                None => t.want = None,
            },
            Call::Send(_) => {
                if t.owner != Owner::Me {
                    t.sent_while_idle = true;
                }
                match &mut t.want {
                    Some(Want::Handover { notice_sent }) => *notice_sent = true,
                    Some(Want::Done { goodbye_sent }) => {
                        *goodbye_sent = true;
                        if t.owner != Owner::Me {
                            t.want = None;
                        }
                    }
                    _ => t.want = None,
                }
            }
            Call::Pass { .. } => {
                t.owner = Owner::Other;
                t.pending.clear();
                t.want = None;
            }
            // Control stays; the requester now knows it waits.
            Call::PassMetadata { target, .. } => t.told.push(target.clone()),
            Call::Take { .. } => t.become_owner(),
            Call::Request { .. } => {
                if t.owner == Owner::Idle {
                    // Requesting an idle thread grants it at once (REQ-2).
                    t.become_owner();
                    t.grant_echo = true;
                } else {
                    // The owner decides; a pass will tell.
                    t.want = None;
                }
            }
            Call::Release => {
                t.owner = Owner::Idle;
                t.want = None;
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Flags {
    ignores_lapse: bool,
    never_asks: bool,
    wrong_requester: bool,
    chatters: bool,
    sends_on_standby: bool,
    /// Gets control by taking (the primary receiver) rather than requesting.
    takes: bool,
}

/// The next call for a thread, from what the bot knows and wants.
fn plan(t: &mut Thread, f: Flags) -> Option<Call> {
    if t.owner == Owner::Me && t.now >= t.deadline && !f.ignores_lapse {
        // Its control lapsed (EXP-1); the thread may be idle or someone
        // else's by now (BP-5: no longer act as the owner).
        t.owner = Owner::Unknown;
    }
    if t.pending.is_empty() && t.want.is_none() {
        return None;
    }
    if t.owner == Owner::Unknown {
        if f.never_asks {
            t.owner = match t.latest {
                Channel::Standby => Owner::Other,
                Channel::Messaging => Owner::Idle,
            };
        } else if t.asked {
            return None;
        } else {
            t.asked = true;
            return Some(Call::ThreadOwner);
        }
    }
    t.told.retain(|r| t.pending.contains(r));
    if !t.pending.is_empty() {
        // Mid-conversation: the user is still owed a message in this turn.
        // The requesters are told so (PASS-7) and get the thread once it is
        // sent, in this same turn, so no request is left pending at a lapse.
        let busy = match &t.want {
            Some(Want::Reply(_) | Want::Back) => true,
            Some(Want::Handover { notice_sent }) => !notice_sent,
            Some(Want::Done { goodbye_sent }) => !goodbye_sent,
            None => false,
        };
        if t.owner == Owner::Me && busy {
            if let Some(r) = t.pending.iter().find(|r| !t.told.contains(r)) {
                return Some(Call::PassMetadata {
                    target: r.clone(),
                    metadata: metadata(
                        "the assistant is answering the user and passes the thread to the earliest requester right after",
                        &t.last_text,
                    ),
                });
            }
        } else if t.owner == Owner::Me {
            // BP-4: the earliest pending requester first.
            let target = if f.wrong_requester {
                t.pending.back()
            } else {
                t.pending.front()
            };
            let target = target.cloned().expect("pending is not empty");
            return Some(Call::Pass {
                metadata: metadata("honouring your request_thread_control", &t.last_text),
                target,
            });
        } else {
            // Not the owner: every request to it is settled.
            t.pending.clear();
        }
    }
    let want = t.want.clone()?;
    let acquire = || {
        let metadata = metadata("the assistant answers the user", "");
        if f.takes {
            Call::Take { metadata }
        } else {
            Call::Request { metadata }
        }
    };
    // Idle counts as owned for a mutant that does not bother to get control.
    let owned = t.owner == Owner::Me || (f.chatters && t.owner == Owner::Idle);
    match want {
        Want::Reply(msg) => match t.owner {
            _ if owned => Some(Call::Send(msg)),
            Owner::Idle => Some(acquire()),
            Owner::Other if f.sends_on_standby && t.latest == Channel::Standby => {
                Some(Call::Send(msg))
            }
            _ => None,
        },
        Want::Handover { notice_sent } => match t.owner {
            _ if owned && !notice_sent => Some(Call::Send(handover_notice())),
            _ if owned => Some(Call::Pass {
                target: if t.instagram {
                    INSTAGRAM_INBOX_APP_ID
                } else {
                    PAGE_INBOX_APP_ID
                }
                .to_string(),
                metadata: metadata("the user asked for a person", &t.last_text),
            }),
            Owner::Idle => Some(acquire()),
            _ => None,
        },
        Want::Done { goodbye_sent } => match t.owner {
            Owner::Me if !goodbye_sent => Some(Call::Send(goodbye())),
            Owner::Me => Some(Call::Release),
            // Idle: one goodbye needs no control, and there is nothing to
            // release (BP-5); a second message would need control (BP-6).
            Owner::Idle if !goodbye_sent && !t.sent_while_idle => Some(Call::Send(goodbye())),
            Owner::Idle if !goodbye_sent => Some(acquire()),
            _ => None,
        },
        Want::Back => match t.owner {
            _ if owned => Some(Call::Send(back_greeting())),
            // Get control back: request it (BP-3), or take it as primary.
            Owner::Idle | Owner::Other => Some(acquire()),
            _ => None,
        },
    }
}

/// What `thread_owner` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerView {
    Me { expiration_s: u64 },
    Other,
    Idle,
}

/// Reads a `thread_owner` answer (AUTH-4: the owner sees its own `app_id`,
/// others may see only `expiration`; idle is `{"data":[]}`).
pub fn owner_view(body: &Value, me: &str) -> Option<OwnerView> {
    let data = body.get("data")?.as_array()?;
    let Some(first) = data.first() else {
        return Some(OwnerView::Idle);
    };
    let owner = first.get("thread_owner")?;
    let app_id = owner.get("app_id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    match app_id {
        Some(id) if id == me => Some(OwnerView::Me {
            expiration_s: owner.get("expiration").and_then(Value::as_u64).unwrap_or(0),
        }),
        _ => Some(OwnerView::Other),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// What a user message (or a payload) asks for.
pub fn want_for(payload: Option<&str>, text: &str) -> Want {
    match payload {
        Some(HANDOVER) => return Want::Handover { notice_sent: false },
        Some(DONE) => {
            return Want::Done {
                goodbye_sent: false,
            };
        }
        Some(BOT) => return Want::Back,
        _ => {}
    }
    let w = words(text);
    let any = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    if any(&[
        "agent",
        "person",
        "human",
        "operator",
        "representative",
        "someone",
    ]) {
        Want::Handover { notice_sent: false }
    } else if any(&["bye", "goodbye", "thanks", "thank", "done", "that's"]) {
        Want::Done {
            goodbye_sent: false,
        }
    } else if any(&["bot", "assistant"]) {
        Want::Back
    } else {
        Want::Reply(answer_for(text))
    }
}

fn offer() -> Vec<(String, String)> {
    vec![
        ("Talk to a person".to_string(), HANDOVER.to_string()),
        ("That's all, thanks".to_string(), DONE.to_string()),
    ]
}

/// The bot's answer to an ordinary message: a small FAQ, always offering a
/// person and a way to finish.
pub fn answer_for(text: &str) -> Outgoing {
    let w = words(text);
    let any = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
    let text = if any(&["hours", "open", "opening", "closed"]) {
        "We are open Monday to Friday, 9:00 to 18:00."
    } else if any(&["order", "delivery", "shipping", "parcel"]) {
        "You can follow your order with the link in your confirmation email."
    } else if any(&["return", "refund", "exchange"]) {
        "You can return any item within 30 days for a full refund."
    } else {
        "Hi! I am this page's assistant. Ask me about opening hours, orders or returns, or talk to a person."
    };
    Outgoing {
        text: text.to_string(),
        quick_replies: offer(),
    }
}

/// Said just before passing to the Page Inbox.
pub fn handover_notice() -> Outgoing {
    Outgoing {
        text: "I am connecting you with a person; they will answer you here.".to_string(),
        quick_replies: vec![("Back to the bot".to_string(), BOT.to_string())],
    }
}

/// Said just before releasing.
pub fn goodbye() -> Outgoing {
    Outgoing {
        text: "Glad I could help. Goodbye!".to_string(),
        quick_replies: Vec::new(),
    }
}

/// Said when the user came back to the bot.
pub fn back_greeting() -> Outgoing {
    Outgoing {
        text: "I am back. How can I help?".to_string(),
        quick_replies: offer(),
    }
}

/// The `metadata` of a pass, take or request: a short JSON text, well under
/// the 1000-character limit.
fn metadata(reason: &str, last_text: &str) -> String {
    let last: String = last_text.chars().take(300).collect();
    let mut v = json!({ "from": "baton reference app", "reason": reason });
    if !last.is_empty() {
        v["last_user_text"] = Value::String(last);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "77";
    const A: &str = "88";
    const B: &str = "99";
    const U: &str = "4242";
    const T0: u64 = 1_700_000_000_123;

    /// One thread of a page, as the platform sees it: enough of the rules
    /// to answer the bot's calls the way the reference server would.
    struct Platform {
        owner: Option<String>,
        deadline: u64,
        now: u64,
        primary: bool,
        /// Every call that was refused.
        refused: Vec<(Call, &'static str)>,
    }

    impl Platform {
        fn new(primary: bool) -> Platform {
            Platform {
                owner: None,
                deadline: 0,
                now: T0,
                primary,
                refused: Vec::new(),
            }
        }

        fn owner(&self) -> Option<&str> {
            if self.now >= self.deadline {
                None
            } else {
                self.owner.as_deref()
            }
        }

        fn set_owner(&mut self, o: Option<&str>) {
            self.owner = o.map(str::to_string);
            self.deadline = self.now + DAY_MS;
        }

        fn refuse(&mut self, c: &Call, why: &'static str) -> Answer {
            self.refused.push((c.clone(), why));
            Answer::Failed(why.to_string())
        }

        fn answer(&mut self, c: &Call) -> Answer {
            let ok = Answer::Ok(json!({"success": true}));
            let owner = self.owner().map(str::to_string);
            let mine = owner.as_deref() == Some(ME);
            match c {
                Call::ThreadOwner => Answer::Ok(match owner.as_deref() {
                    None => json!({"data": []}),
                    Some(ME) => json!({"data": [{"thread_owner":
                        {"app_id": ME, "expiration": self.deadline / 1000}}]}),
                    Some(_) => json!({"data": [{"thread_owner":
                        {"expiration": self.deadline / 1000}}]}),
                }),
                Call::Send(_) if owner.is_none() || mine => ok,
                Call::Send(_) => self.refuse(c, "10/2018300"),
                Call::Pass { target, .. } if owner.is_none() || mine => {
                    self.set_owner(Some(target));
                    ok
                }
                Call::Pass { .. } => self.refuse(c, "10/2018300"),
                Call::PassMetadata { .. } if mine => ok,
                Call::PassMetadata { .. } if owner.is_none() => self.refuse(c, "100"),
                Call::PassMetadata { .. } => self.refuse(c, "10/2018300"),
                Call::Take { .. } if mine => self.refuse(c, "100"),
                Call::Take { .. } if owner.is_none() || self.primary => {
                    self.set_owner(Some(ME));
                    ok
                }
                Call::Take { .. } => self.refuse(c, "10/2018300"),
                Call::Request { .. } if mine => self.refuse(c, "100"),
                Call::Request { .. } => {
                    if owner.is_none() {
                        self.set_owner(Some(ME));
                    }
                    ok
                }
                Call::Release if mine => {
                    self.owner = None;
                    ok
                }
                Call::Release if owner.is_none() => self.refuse(c, "100"),
                Call::Release => self.refuse(c, "10/2018300"),
            }
        }
    }

    fn bot(mutants: &[AppMutant]) -> Bot {
        Bot::new(ME, mutants)
    }

    /// One turn: the bot observes `events` and acts; the platform answers.
    fn turn(bot: &mut Bot, p: &mut Platform, events: &[Incoming]) -> Vec<Call> {
        if let Some(t) = events.iter().map(|e| e.timestamp).max() {
            p.now = p.now.max(t);
        }
        let mut calls = Vec::new();
        for psid in bot.turn(events) {
            while let Some(c) = bot.next_call(&psid) {
                let a = p.answer(&c);
                bot.answered(&psid, &c, &a);
                calls.push(c);
            }
        }
        calls
    }

    fn ev(channel: Channel, ts: u64, kind: Kind) -> Incoming {
        Incoming {
            channel,
            psid: Some(U.to_string()),
            timestamp: ts,
            kind,
            instagram: false,
        }
    }

    fn msg(ts: u64, text: &str) -> Incoming {
        ev(
            Channel::Messaging,
            ts,
            Kind::Message {
                text: text.into(),
                quick_reply: None,
                ad_entry: false,
            },
        )
    }

    fn standby(ts: u64, text: &str) -> Incoming {
        Incoming {
            channel: Channel::Standby,
            ..msg(ts, text)
        }
    }

    fn tap(channel: Channel, ts: u64, payload: &str) -> Incoming {
        ev(
            channel,
            ts,
            Kind::Message {
                text: "tapped".into(),
                quick_reply: Some(payload.into()),
                ad_entry: false,
            },
        )
    }

    fn request(ts: u64, from: &str) -> Incoming {
        ev(
            Channel::Messaging,
            ts,
            Kind::Request {
                requester: from.into(),
            },
        )
    }

    fn roles(primary: bool) -> Incoming {
        Incoming {
            channel: Channel::Messaging,
            psid: None,
            timestamp: T0,
            kind: Kind::Roles {
                primary: Some(primary),
            },
            instagram: false,
        }
    }

    fn edges(calls: &[Call]) -> Vec<&'static str> {
        calls.iter().map(Call::edge).collect()
    }

    fn target(c: &Call) -> &str {
        match c {
            Call::Pass { target, .. } | Call::PassMetadata { target, .. } => target,
            other => panic!("not a pass: {other:?}"),
        }
    }

    /// The app primary, owning the thread after the user's first message.
    fn primary_owning(mutants: &[AppMutant]) -> (Bot, Platform) {
        let mut b = bot(mutants);
        let mut p = Platform::new(true);
        assert!(turn(&mut b, &mut p, &[roles(true)]).is_empty());
        p.set_owner(Some(ME)); // PRI-2
        let calls = turn(&mut b, &mut p, &[msg(T0, "hi")]);
        assert_eq!(edges(&calls), ["messages"]);
        (b, p)
    }

    /// No primary: the user writes, the bot finds the thread idle, requests
    /// it (granted at once) and answers.
    fn secondary_owning(mutants: &[AppMutant]) -> (Bot, Platform) {
        let mut b = bot(mutants);
        let mut p = Platform::new(false);
        let calls = turn(&mut b, &mut p, &[msg(T0, "hi")]);
        assert_eq!(
            edges(&calls),
            ["thread_owner", "request_thread_control", "messages"]
        );
        assert_eq!(p.owner(), Some(ME));
        (b, p)
    }

    #[test]
    fn bp_1_asks_thread_owner_after_a_standby_event_before_acting() {
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + 10, "I want a person")]);
        assert_eq!(edges(&calls), ["messages", "pass_thread_control"]);
        assert_eq!(target(&calls[1]), PAGE_INBOX_APP_ID);
        assert_eq!(calls[0], Call::Send(handover_notice()));
        // The user taps "Back to the bot" while the Page Inbox owns: standby.
        let calls = turn(&mut b, &mut p, &[tap(Channel::Standby, T0 + 20, BOT)]);
        assert_eq!(
            edges(&calls),
            ["thread_owner", "take_thread_control", "messages"]
        );
        assert_eq!(calls[2], Call::Send(back_greeting()));
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        assert_eq!(p.owner(), Some(ME));
    }

    #[test]
    fn bp_1_asks_thread_owner_when_its_control_may_have_lapsed() {
        let (mut b, mut p) = secondary_owning(&[]);
        // 24 h after the last activity control has lapsed (now == deadline).
        let calls = turn(&mut b, &mut p, &[msg(T0 + DAY_MS, "hours?")]);
        assert_eq!(calls[0], Call::ThreadOwner);
        assert_eq!(
            edges(&calls),
            ["thread_owner", "request_thread_control", "messages"]
        );
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        // Just before the lapse it still knows it owns the thread.
        let calls = turn(&mut b, &mut p, &[msg(T0 + 2 * DAY_MS - 1, "order")]);
        assert_eq!(edges(&calls), ["messages"]);
    }

    /// IG-2: on an Instagram thread a person answers in the Instagram
    /// Inbox; the Page Inbox id would be an unknown target there.
    #[test]
    fn ig_2_hands_an_instagram_thread_to_the_instagram_inbox() {
        let on_ig = |e: Incoming| Incoming {
            instagram: true,
            ..e
        };
        let mut b = bot(&[]);
        let mut p = Platform::new(true);
        turn(&mut b, &mut p, &[roles(true)]);
        p.set_owner(Some(ME));
        let calls = turn(&mut b, &mut p, &[on_ig(msg(T0, "hi"))]);
        assert_eq!(edges(&calls), ["messages"]);
        let calls = turn(
            &mut b,
            &mut p,
            &[on_ig(tap(Channel::Messaging, T0 + 10, HANDOVER))],
        );
        assert_eq!(edges(&calls), ["messages", "pass_thread_control"]);
        assert_eq!(target(&calls[1]), INSTAGRAM_INBOX_APP_ID);
        // A later Messenger-looking event does not move the user back.
        assert!(b.thread(U).unwrap().instagram);
    }

    #[test]
    fn bp_1_never_asks_owner_mutant_acts_on_standby_without_asking() {
        let (mut b, mut p) = primary_owning(&[AppMutant::NeverAsksOwner]);
        turn(
            &mut b,
            &mut p,
            &[tap(Channel::Messaging, T0 + 10, HANDOVER)],
        );
        assert_eq!(p.owner(), Some(PAGE_INBOX_APP_ID));
        let calls = turn(&mut b, &mut p, &[tap(Channel::Standby, T0 + 20, BOT)]);
        assert_eq!(edges(&calls), ["take_thread_control", "messages"]);
    }

    #[test]
    fn bp_2_stays_quiet_while_another_app_owns_the_thread() {
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(A));
        // Standby copies of anything but its own "Back to the bot": nothing.
        for (i, text) in ["hi", "I want a person", "bye"].iter().enumerate() {
            let calls = turn(&mut b, &mut p, &[standby(T0 + i as u64, text)]);
            assert!(calls.is_empty(), "{text}: {calls:?}");
        }
        let calls = turn(&mut b, &mut p, &[tap(Channel::Standby, T0 + 5, HANDOVER)]);
        assert!(calls.is_empty());
        // Taken from it (TAKE-2 or INBOX-1): it knows it is not the owner.
        let (mut b, mut p) = primary_owning(&[]);
        p.set_owner(Some(PAGE_INBOX_APP_ID));
        let take = ev(
            Channel::Messaging,
            T0 + 5,
            Kind::Take {
                new_owner: Some(PAGE_INBOX_APP_ID.into()),
            },
        );
        assert!(turn(&mut b, &mut p, &[take]).is_empty());
        assert_eq!(b.thread(U).unwrap().owner, Owner::Other);
        let calls = turn(&mut b, &mut p, &[standby(T0 + 6, "bye")]);
        assert!(calls.is_empty());
        assert!(p.refused.is_empty());
    }

    #[test]
    fn bp_2_a_message_on_messaging_that_thread_owner_contradicts_is_not_answered() {
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(A));
        let calls = turn(&mut b, &mut p, &[msg(T0, "agent please")]);
        assert_eq!(calls, [Call::ThreadOwner]);
        assert!(p.refused.is_empty());
    }

    #[test]
    fn bp_2_sends_on_standby_mutant_replies_although_another_app_owns() {
        let mut b = bot(&[AppMutant::SendsOnStandby]);
        let mut p = Platform::new(false);
        p.set_owner(Some(A));
        let calls = turn(&mut b, &mut p, &[standby(T0, "hi")]);
        assert_eq!(edges(&calls), ["thread_owner", "messages"]);
        assert_eq!(p.refused.len(), 1);
        assert_eq!(p.refused[0].1, "10/2018300");
    }

    #[test]
    fn bp_3_a_secondary_requests_and_only_the_primary_takes() {
        // Not primary (no app_roles seen): request, on an idle thread...
        let (_, p) = secondary_owning(&[]);
        assert!(p.refused.is_empty());
        // ... and when it wants the thread back from the Page Inbox.
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        assert!(turn(&mut b, &mut p, &[roles(false)]).is_empty());
        p.set_owner(Some(PAGE_INBOX_APP_ID));
        let calls = turn(&mut b, &mut p, &[tap(Channel::Standby, T0, BOT)]);
        assert_eq!(edges(&calls), ["thread_owner", "request_thread_control"]);
        assert_eq!(p.owner(), Some(PAGE_INBOX_APP_ID));
        // Primary: takes an idle thread it found...
        let mut b = bot(&[]);
        let mut p = Platform::new(true);
        turn(&mut b, &mut p, &[roles(true)]);
        p.set_owner(Some(PAGE_INBOX_APP_ID));
        let calls = turn(&mut b, &mut p, &[tap(Channel::Standby, T0, BOT)]);
        assert_eq!(
            edges(&calls),
            ["thread_owner", "take_thread_control", "messages"]
        );
        // ... and a later app_roles making it secondary turns that off.
        turn(&mut b, &mut p, &[roles(false)]);
        assert!(!b.primary);
        assert!(p.refused.is_empty());
    }

    #[test]
    fn bp_3_takes_as_secondary_mutant_takes_an_idle_thread() {
        let mut b = bot(&[AppMutant::TakesAsSecondary]);
        let mut p = Platform::new(false);
        let calls = turn(&mut b, &mut p, &[msg(T0, "hi")]);
        assert_eq!(
            edges(&calls),
            ["thread_owner", "take_thread_control", "messages"]
        );
    }

    #[test]
    fn bp_4_passes_to_a_requester_at_once() {
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A)]);
        assert_eq!(edges(&calls), ["pass_thread_control"]);
        assert_eq!(target(&calls[0]), A);
        let Call::Pass { metadata, .. } = &calls[0] else {
            unreachable!()
        };
        assert!(metadata.len() <= 1000 && metadata.contains("request_thread_control"));
        assert_eq!(p.owner(), Some(A));
        assert!(b.thread(U).unwrap().pending.is_empty());
    }

    #[test]
    fn bp_4_honours_several_requests_earliest_first() {
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A), request(T0 + 6, B)]);
        assert_eq!(edges(&calls), ["pass_thread_control"]);
        assert_eq!(target(&calls[0]), A);
        // The pass settled B's request too (BP-4).
        assert!(b.thread(U).unwrap().pending.is_empty());
        // A request beats the user's wish for the Page Inbox: the next pass
        // must go to the requester.
        let (mut b, mut p) = primary_owning(&[]);
        // Mid-conversation (the user is owed the notice): B hears it waits
        // (PASS-7), the user gets the notice, then B gets the thread.
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, B), msg(T0 + 6, "agent")]);
        assert_eq!(
            edges(&calls),
            ["pass_thread_metadata", "messages", "pass_thread_control"]
        );
        assert_eq!(target(&calls[0]), B);
        assert_eq!(target(&calls[2]), B);
        assert!(p.refused.is_empty(), "{:?}", p.refused);
    }

    #[test]
    fn pass_7_a_request_mid_conversation_gets_context_then_the_thread() {
        // The user writes and two apps request in the same delivery: each
        // requester is told with pass_thread_metadata, the user gets the
        // answer, then the earliest requester gets the thread (BP-4).
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(
            &mut b,
            &mut p,
            &[
                msg(T0 + 5, "my order is late"),
                request(T0 + 6, A),
                request(T0 + 7, B),
            ],
        );
        assert_eq!(
            edges(&calls),
            [
                "pass_thread_metadata",
                "pass_thread_metadata",
                "messages",
                "pass_thread_control"
            ]
        );
        assert_eq!(target(&calls[0]), A);
        assert_eq!(target(&calls[1]), B);
        let Call::PassMetadata { metadata, .. } = &calls[0] else {
            unreachable!()
        };
        assert!(metadata.len() <= 1000 && metadata.contains("my order is late"));
        assert_eq!(target(&calls[3]), A);
        assert_eq!(p.owner(), Some(A));
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        // Not mid-conversation: no context, the thread at once.
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 6, A), request(T0 + 7, B)]);
        assert_eq!(edges(&calls), ["pass_thread_control"]);
        assert_eq!(target(&calls[0]), A);
        // The wrong-requester mutant tells both, then passes to the latest.
        let (mut b, mut p) = primary_owning(&[AppMutant::WrongRequester]);
        let calls = turn(
            &mut b,
            &mut p,
            &[msg(T0 + 5, "hi"), request(T0 + 6, A), request(T0 + 7, B)],
        );
        assert_eq!(target(calls.last().unwrap()), B);
    }

    #[test]
    fn bp_4_a_request_while_unsure_is_still_honoured() {
        // Its latest event came on standby, then a request: the request
        // shows it owns the thread (REQ-1), and it passes.
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(A));
        turn(&mut b, &mut p, &[standby(T0, "hi")]);
        p.set_owner(Some(ME));
        let calls = turn(&mut b, &mut p, &[request(T0 + 1, B)]);
        assert_eq!(edges(&calls), ["pass_thread_control"]);
        assert_eq!(p.owner(), Some(B));
    }

    #[test]
    fn bp_4_a_standby_event_after_a_request_settles_it() {
        let (mut b, mut p) = primary_owning(&[]);
        // A postback on another app's button moved control (CTA-1).
        p.set_owner(Some(B));
        let later = Incoming {
            channel: Channel::Standby,
            ..ev(Channel::Standby, T0 + 6, Kind::Postback { payload: None })
        };
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A), later]);
        assert!(calls.is_empty(), "{calls:?}");
        assert!(b.thread(U).unwrap().pending.is_empty());
    }

    #[test]
    fn bp_4_ignores_requests_mutant_keeps_the_thread() {
        let (mut b, mut p) = primary_owning(&[AppMutant::IgnoresRequests]);
        assert!(turn(&mut b, &mut p, &[request(T0 + 5, A)]).is_empty());
        assert_eq!(p.owner(), Some(ME));
    }

    #[test]
    fn bp_4_wrong_requester_mutant_passes_to_the_latest() {
        let (mut b, mut p) = primary_owning(&[AppMutant::WrongRequester]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A), request(T0 + 6, B)]);
        assert_eq!(target(&calls[0]), B);
        // With one request it is the right one.
        let (mut b, mut p) = primary_owning(&[AppMutant::WrongRequester]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A)]);
        assert_eq!(target(&calls[0]), A);
    }

    #[test]
    fn bp_5_says_goodbye_and_releases_when_done() {
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + 5, "thanks, bye")]);
        assert_eq!(calls, [Call::Send(goodbye()), Call::Release]);
        assert_eq!(p.owner(), None);
        // The quick reply means the same.
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[tap(Channel::Messaging, T0 + 5, DONE)]);
        assert_eq!(edges(&calls), ["messages", "release_thread_control"]);
        // When done with a request pending, it says goodbye (telling the
        // requester it waits: PASS-7) and passes to the requester.
        let (mut b, mut p) = primary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[request(T0 + 5, A), msg(T0 + 6, "bye")]);
        assert_eq!(
            edges(&calls),
            ["pass_thread_metadata", "messages", "pass_thread_control"]
        );
        assert_eq!(calls[1], Call::Send(goodbye()));
        assert_eq!(target(&calls[2]), A);
        assert!(p.refused.is_empty());
    }

    #[test]
    fn bp_5_the_echo_of_a_granted_request_after_a_release_changes_nothing() {
        // No primary: the bot requests an idle thread (granted at once),
        // says goodbye and releases; the platform's pass event for the
        // grant arrives only then. A goodbye after it must not release.
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        turn(&mut b, &mut p, &[msg(T0, "done")]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + 1, "done")]);
        assert_eq!(
            edges(&calls),
            [
                "request_thread_control",
                "messages",
                "release_thread_control"
            ]
        );
        let echo = ev(
            Channel::Messaging,
            T0 + 1,
            Kind::Pass {
                new_owner: Some(ME.to_string()),
                previous_owner: None,
            },
        );
        assert!(turn(&mut b, &mut p, &[echo]).is_empty());
        let calls = turn(&mut b, &mut p, &[msg(T0 + 2, "done")]);
        assert!(
            !edges(&calls).contains(&"release_thread_control"),
            "{calls:?}"
        );
        assert!(p.refused.is_empty(), "{:?}", p.refused);
    }

    #[test]
    fn bp_5_never_releases_after_its_control_lapsed() {
        let (mut b, mut p) = secondary_owning(&[]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + DAY_MS + 1, "bye")]);
        assert_eq!(calls, [Call::ThreadOwner, Call::Send(goodbye())]);
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        // As primary, the message after the lapse made it owner again
        // (PRI-2), so it may release.
        let (mut b, mut p) = primary_owning(&[]);
        p.now = T0 + DAY_MS + 1;
        p.set_owner(Some(ME));
        let calls = turn(&mut b, &mut p, &[msg(T0 + DAY_MS + 1, "bye")]);
        assert_eq!(edges(&calls), ["messages", "release_thread_control"]);
        assert!(p.refused.is_empty(), "{:?}", p.refused);
    }

    #[test]
    fn bp_5_releases_after_lapse_mutant_releases_an_idle_thread() {
        let (mut b, mut p) = secondary_owning(&[AppMutant::ReleasesAfterLapse]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + DAY_MS + 1, "bye")]);
        assert_eq!(calls, [Call::Send(goodbye()), Call::Release]);
        assert_eq!(p.refused, [(Call::Release, "100")]);
    }

    #[test]
    fn bp_6_gets_control_before_talking_on_an_idle_thread() {
        let (mut b, mut p) = secondary_owning(&[]);
        // It owns it now: later messages go straight out.
        let calls = turn(&mut b, &mut p, &[msg(T0 + 5, "where is my order")]);
        assert_eq!(edges(&calls), ["messages"]);
        // A hand-over on an idle thread too.
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        let calls = turn(&mut b, &mut p, &[msg(T0, "a human please")]);
        assert_eq!(
            edges(&calls),
            [
                "thread_owner",
                "request_thread_control",
                "messages",
                "pass_thread_control"
            ]
        );
        assert!(p.refused.is_empty());
    }

    #[test]
    fn bp_6_one_goodbye_on_an_idle_thread_and_control_before_another() {
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        let calls = turn(&mut b, &mut p, &[msg(T0, "bye")]);
        assert_eq!(calls, [Call::ThreadOwner, Call::Send(goodbye())]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + 1, "bye")]);
        assert_eq!(
            edges(&calls),
            [
                "request_thread_control",
                "messages",
                "release_thread_control"
            ]
        );
        assert!(p.refused.is_empty(), "{:?}", p.refused);
    }

    #[test]
    fn bp_6_chatters_when_idle_mutant_sends_twice_without_control() {
        let mut b = bot(&[AppMutant::ChattersWhenIdle]);
        let mut p = Platform::new(false);
        let calls = turn(&mut b, &mut p, &[msg(T0, "hi")]);
        assert_eq!(edges(&calls), ["thread_owner", "messages"]);
        let calls = turn(&mut b, &mut p, &[msg(T0 + 1, "hello?")]);
        assert_eq!(edges(&calls), ["messages"]);
        assert_eq!(p.owner(), None);
    }

    #[test]
    fn ownership_comes_from_passes_ads_and_postbacks() {
        // Passed to it (REQ-2, PASS-1, INBOX-4): it owns without asking.
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(ME));
        let pass = ev(
            Channel::Messaging,
            T0,
            Kind::Pass {
                new_owner: Some(ME.into()),
                previous_owner: Some(A.into()),
            },
        );
        assert!(turn(&mut b, &mut p, &[pass]).is_empty());
        assert_eq!(
            edges(&turn(&mut b, &mut p, &[msg(T0 + 1, "hi")])),
            ["messages"]
        );
        // An ad entry assigned to it (CTM-1).
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(ME));
        let ad = ev(
            Channel::Messaging,
            T0,
            Kind::Message {
                text: "from the ad".into(),
                quick_reply: None,
                ad_entry: true,
            },
        );
        assert_eq!(edges(&turn(&mut b, &mut p, &[ad])), ["messages"]);
        // A postback on messaging (CTA-1, MENU-3).
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        p.set_owner(Some(ME));
        let pb = ev(
            Channel::Messaging,
            T0,
            Kind::Postback {
                payload: Some(HANDOVER.into()),
            },
        );
        assert_eq!(
            edges(&turn(&mut b, &mut p, &[pb])),
            ["messages", "pass_thread_control"]
        );
        assert!(p.refused.is_empty());
    }

    #[test]
    fn app_3_events_it_has_no_use_for_cause_no_call() {
        let mut b = bot(&[]);
        let mut p = Platform::new(false);
        let quiet = [
            ev(Channel::Messaging, T0, Kind::PassMetadata),
            ev(Channel::Messaging, T0, Kind::Unknown),
            ev(Channel::Standby, T0, Kind::Postback { payload: None }),
            Incoming {
                channel: Channel::Messaging,
                psid: None,
                timestamp: T0,
                kind: Kind::Roles { primary: None },
                instagram: false,
            },
        ];
        assert!(turn(&mut b, &mut p, &quiet).is_empty());
        assert!(!b.primary);
    }

    #[test]
    fn words_pick_the_wish() {
        assert_eq!(
            want_for(None, "Talk to a PERSON"),
            Want::Handover { notice_sent: false }
        );
        assert_eq!(
            want_for(None, "That's all, thanks"),
            Want::Done {
                goodbye_sent: false
            }
        );
        assert_eq!(want_for(None, "Back to the bot"), Want::Back);
        assert_eq!(want_for(Some(BOT), "whatever"), Want::Back);
        assert!(matches!(want_for(None, "opening hours?"), Want::Reply(m)
            if m.text.contains("Monday")));
        assert_eq!(want_for(Some("OTHER"), "hi"), Want::Reply(answer_for("hi")));
    }

    #[test]
    fn thread_owner_answers_read_as_auth_4_says() {
        assert_eq!(owner_view(&json!({"data": []}), ME), Some(OwnerView::Idle));
        assert_eq!(
            owner_view(
                &json!({"data": [{"thread_owner": {"app_id": "77", "expiration": 5}}]}),
                ME
            ),
            Some(OwnerView::Me { expiration_s: 5 })
        );
        assert_eq!(
            owner_view(
                &json!({"data": [{"thread_owner": {"app_id": 88, "expiration": 5}}]}),
                ME
            ),
            Some(OwnerView::Other)
        );
        assert_eq!(
            owner_view(&json!({"data": [{"thread_owner": {"expiration": 5}}]}), ME),
            Some(OwnerView::Other)
        );
        assert_eq!(owner_view(&json!({"error": {}}), ME), None);
    }

    #[test]
    fn threads_are_bounded() {
        let mut b = bot(&[]);
        for i in 0..MAX_THREADS + 10 {
            b.turn(&[Incoming {
                psid: Some(format!("p{i}")),
                ..msg(T0, "x")
            }]);
        }
        assert_eq!(b.threads.len(), MAX_THREADS);
        assert!(b.thread("p0").is_none() && b.thread(&format!("p{}", MAX_THREADS + 9)).is_some());
    }
}
