//! What the console shows of one page beyond its model state: the chat of
//! each thread (the user's own events beside what the user received), the
//! Graph calls each app made with the platform's answers, and the webhook
//! log of each app with every delivery attempt and the app's HTTP answer.
//!
//! Recorded under the page's lock from the decisions the model already
//! made (nothing is decided here), and by the delivery workers for their
//! attempts. Every list is a bounded ring, so a busy page costs a fixed
//! amount of memory, and the views rendered from it are bounded too.
//!
//! Nothing here holds or renders a credential: the model state has none,
//! and the apps' HTTP answers are shown with the page's tokens and secrets
//! cut out.

use super::console::Hub;
use crate::model::{
    Answer, Call, Caller, Channel, Choice, Event, GraphError, GraphOp, GraphSuccess, Message,
    MessageKind, Op, Outcome, Party, Rule, Setup, State, Surface, UserEvent,
};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Chat lines kept per thread.
pub const CHAT_KEEP: usize = 100;
/// Graph calls kept per app.
pub const CALLS_KEEP: usize = 100;
/// Webhook deliveries kept per app.
pub const HOOKS_KEEP: usize = 100;
/// Entries of each list a view carries (the newest).
pub const VIEW_ENTRIES: usize = 50;
/// Threads a page view lists (the most recently active).
pub const VIEW_THREADS: usize = 200;
/// Pages the page list carries (the most recently active).
pub const VIEW_PAGES: usize = 200;
/// Characters of an app's HTTP answer body kept per attempt.
const ANSWER_CHARS: usize = 160;

/// One line of a thread's chat.
#[derive(Clone, Debug)]
struct ChatLine {
    at_ms: u64,
    /// `None`: the user; else who sent the message the user received.
    from: Option<Party>,
    kind: &'static str,
    text: String,
    mid: Option<String>,
    /// Quick replies of a text message (tappable by the user).
    quick_replies: Vec<Choice>,
    /// Buttons of a button template (CTA-1).
    buttons: Vec<Choice>,
}

#[derive(Default)]
struct ThreadLog {
    last_active: u64,
    chat: VecDeque<ChatLine>,
}

struct CallEntry {
    at_ms: u64,
    op: GraphOp,
    answer: Result<GraphSuccess, GraphError>,
    rule: Rule,
}

/// Where one webhook delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookStatus {
    /// Waiting in the app's queue.
    Queued,
    /// Answered 2xx.
    Delivered,
    /// Given up on after every retry.
    Failed,
    /// Never sent: the queue was full, or the page was reset.
    Dropped,
}

impl HookStatus {
    fn as_str(self) -> &'static str {
        match self {
            HookStatus::Queued => "queued",
            HookStatus::Delivered => "delivered",
            HookStatus::Failed => "failed",
            HookStatus::Dropped => "dropped",
        }
    }
}

/// One POST of a delivery and what the app answered.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The app's HTTP status; `None` when there was no answer.
    pub status: Option<u16>,
    /// The app's answer body (cut), or why there was no answer.
    pub text: String,
}

struct HookEntry {
    id: u64,
    at_ms: u64,
    channel: Channel,
    event: Event,
    status: HookStatus,
    attempts: Vec<Attempt>,
}

/// The console's record of one page.
pub struct PageLog {
    hub: Arc<Hub>,
    /// Bumped by every change of this page (decision or webhook attempt).
    version: u64,
    /// The hub's sequence number at the page's last decision.
    last_active: u64,
    /// Tokens and secrets of the page's apps, cut out of the apps' answers.
    redact: Vec<String>,
    threads: HashMap<String, ThreadLog>,
    calls: Vec<VecDeque<CallEntry>>,
    hooks: Vec<VecDeque<HookEntry>>,
    next_hook: u64,
}

fn push_bounded<T>(q: &mut VecDeque<T>, keep: usize, item: T) {
    if q.len() == keep {
        q.pop_front();
    }
    q.push_back(item);
}

impl PageLog {
    /// An empty record for a page of `apps` apps whose credentials are
    /// `redact`.
    pub fn new(hub: Arc<Hub>, apps: usize, redact: Vec<String>) -> PageLog {
        let last_active = hub.bump();
        PageLog {
            hub,
            version: 0,
            last_active,
            redact: redact.into_iter().filter(|s| !s.is_empty()).collect(),
            threads: HashMap::new(),
            calls: (0..apps).map(|_| VecDeque::new()).collect(),
            hooks: (0..apps).map(|_| VecDeque::new()).collect(),
            next_hook: 0,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn last_active(&self) -> u64 {
        self.last_active
    }

    fn touch(&mut self) -> u64 {
        self.version += 1;
        self.hub.bump()
    }

    /// Records one decision; `state` is the page just after it. Returns the
    /// log ids of `out.deliveries`, in order, for the delivery workers to
    /// report their attempts with.
    pub fn record(&mut self, op: &Op, out: &Outcome, state: &State) -> Vec<u64> {
        let seq = self.touch();
        self.last_active = seq;
        let now = state.now_ms;
        if let Some(psid) = op.psid()
            && state.threads.contains_key(psid)
        {
            self.threads.entry(psid.clone()).or_default().last_active = seq;
        }
        if let Op::User(ev) = op
            && !out.is_refusal()
        {
            let t = self.threads.entry(ev.psid().clone()).or_default();
            push_bounded(&mut t.chat, CHAT_KEEP, user_line(ev, now, &state.setup));
        }
        let sent_choices = match op {
            Op::Graph(GraphOp {
                call: Call::Send { message, .. },
                ..
            }) => match message {
                Message::Text {
                    quick_replies: Some(q),
                    ..
                } => (q.clone(), Vec::new()),
                Message::Buttons { buttons, .. } => (Vec::new(), buttons.clone()),
                _ => (Vec::new(), Vec::new()),
            },
            _ => (Vec::new(), Vec::new()),
        };
        for r in &out.received {
            let t = self.threads.entry(r.psid.clone()).or_default();
            t.last_active = seq;
            let (quick_replies, buttons) = match r.entry.kind {
                MessageKind::Text => (sent_choices.0.clone(), Vec::new()),
                MessageKind::Buttons => (Vec::new(), sent_choices.1.clone()),
                MessageKind::Survey => (Vec::new(), Vec::new()),
            };
            push_bounded(
                &mut t.chat,
                CHAT_KEEP,
                ChatLine {
                    at_ms: now,
                    from: Some(r.entry.from),
                    kind: r.entry.kind.as_str(),
                    text: r.entry.text.clone(),
                    mid: Some(r.entry.mid.clone()),
                    quick_replies,
                    buttons,
                },
            );
        }
        if let Op::Graph(g) = op
            && let Caller::App(a) = g.caller
            && let (Some(q), Answer::Graph(answer)) = (self.calls.get_mut(a.index()), &out.answer)
        {
            push_bounded(
                q,
                CALLS_KEEP,
                CallEntry {
                    at_ms: now,
                    op: g.clone(),
                    answer: answer.clone(),
                    rule: out.decided_by,
                },
            );
        }
        let mut ids = Vec::with_capacity(out.deliveries.len());
        for d in &out.deliveries {
            let id = self.next_hook;
            self.next_hook += 1;
            ids.push(id);
            if let Some(q) = self.hooks.get_mut(d.app.index()) {
                push_bounded(
                    q,
                    HOOKS_KEEP,
                    HookEntry {
                        id,
                        at_ms: now,
                        channel: d.channel,
                        event: d.event.clone(),
                        status: HookStatus::Queued,
                        attempts: Vec::new(),
                    },
                );
            }
        }
        ids
    }

    fn hook_mut(&mut self, app: usize, id: u64) -> Option<&mut HookEntry> {
        let q = self.hooks.get_mut(app)?;
        // Ids grow along the ring: search from the newest end.
        q.iter_mut().rev().find(|h| h.id == id)
    }

    /// A delivery worker's POST of the deliveries `ids` of app `app` got
    /// this answer (or none).
    pub fn attempt(&mut self, app: usize, ids: &[u64], attempt: Attempt) {
        let attempt = Attempt {
            status: attempt.status,
            text: self.redacted(&attempt.text),
        };
        for &id in ids {
            if let Some(h) = self.hook_mut(app, id) {
                h.attempts.push(attempt.clone());
            }
        }
        self.touch();
    }

    /// The deliveries `ids` of app `app` are finished.
    pub fn finished(&mut self, app: usize, ids: &[u64], status: HookStatus) {
        for &id in ids {
            if let Some(h) = self.hook_mut(app, id) {
                h.status = status;
            }
        }
        self.touch();
    }

    fn redacted(&self, text: &str) -> String {
        let mut t: String = text.chars().take(ANSWER_CHARS).collect();
        for s in &self.redact {
            if t.contains(s.as_str()) {
                t = t.replace(s.as_str(), "[redacted]");
            }
        }
        // A secret cut in half by the length limit must not show either.
        for s in &self.redact {
            for n in (4..s.len()).rev() {
                if t.ends_with(&s[..n]) && s.is_char_boundary(n) {
                    t.truncate(t.len() - n);
                    t.push_str("[redacted]");
                    break;
                }
            }
        }
        t
    }
}

fn user_line(ev: &UserEvent, at_ms: u64, setup: &Setup) -> ChatLine {
    let (kind, text) = match ev {
        UserEvent::Message {
            text, quick_reply, ..
        } => match quick_reply {
            Some(q) => ("quick_reply", format!("{text} (quick reply {q})")),
            None => ("message", text.clone()),
        },
        UserEvent::Postback { title, payload, .. } => (
            "postback",
            format!("tapped {}", title.as_deref().unwrap_or(payload)),
        ),
        UserEvent::Menu { title, payload, .. } => (
            "menu",
            format!("picked menu item {}", title.as_deref().unwrap_or(payload)),
        ),
        UserEvent::AdEntry {
            app, ad_id, text, ..
        } => {
            let to = match setup.resolve(app) {
                crate::model::AppRef::App(a) => setup.app(a).name.clone(),
                other => other.to_string(),
            };
            (
                "ad_entry",
                format!("{text} (from ad {ad_id}, assigned to {to})"),
            )
        }
    };
    ChatLine {
        at_ms,
        from: None,
        kind,
        text,
        mid: None,
        quick_replies: Vec::new(),
        buttons: Vec::new(),
    }
}

/// An owner as a person reads it: the app's name, an inbox, or idle.
pub fn party_label(setup: &Setup, p: Option<Party>) -> String {
    match p {
        None => "idle".into(),
        Some(Party::App(a)) => setup
            .apps
            .get(a.index())
            .map_or_else(|| a.to_string(), |s| s.name.clone()),
        Some(Party::PageInbox) => "Page Inbox".into(),
        Some(Party::InstagramInbox) => "Instagram Inbox".into(),
    }
}

fn party_kind(p: Option<Party>) -> &'static str {
    match p {
        None => "idle",
        Some(Party::App(_)) => "app",
        Some(Party::PageInbox) | Some(Party::InstagramInbox) => "inbox",
    }
}

fn choices(c: &[Choice]) -> Value {
    Value::Array(
        c.iter()
            .map(|c| json!({"title": c.title, "payload": c.payload}))
            .collect(),
    )
}

fn menu(setup: &Setup, m: Option<&crate::model::MenuState>, level: &str) -> Value {
    match m {
        None => Value::Null,
        Some(m) => json!({
            "level": level,
            "set_by": party_label(setup, Some(Party::App(m.set_by))),
            "items": choices(&m.items),
        }),
    }
}

fn event_text(setup: &Setup, e: &Event) -> String {
    named(setup, e.to_string())
}

/// The model's one-line renderings name apps by position (`app 1`) and
/// the inboxes by their wire names; the console names them as the page
/// does.
/// Only the words outside quoted strings are renamed: a user's text that
/// says "app 1" stays as written.
fn named(setup: &Setup, s: String) -> String {
    let rename = |mut part: String| {
        for (i, a) in setup.apps.iter().enumerate().rev() {
            part = part.replace(&format!("app {i}"), &a.name);
        }
        part.replace("page_inbox", "Page Inbox")
            .replace("instagram_inbox", "Instagram Inbox")
    };
    let mut out = String::with_capacity(s.len());
    let mut plain = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if quoted {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
        } else if c == '"' {
            out.push_str(&rename(std::mem::take(&mut plain)));
            out.push(c);
            quoted = true;
        } else {
            plain.push(c);
        }
    }
    out.push_str(&rename(plain));
    out
}

/// The page list entry of one page.
pub fn page_summary(state: &State, log: &PageLog) -> Value {
    json!({
        "page_id": state.setup.page_id,
        "last_active": log.last_active,
        "threads": state.threads.len(),
        "apps": state.setup.apps.len(),
        "instagram": state.setup.has_instagram(),
    })
}

/// The earliest deadline of an owned thread still ahead of the clock.
pub fn next_deadline(state: &State) -> Option<u64> {
    state
        .threads
        .values()
        .filter(|t| t.owner.is_some() && t.deadline_ms > state.now_ms)
        .map(|t| t.deadline_ms)
        .min()
}

/// Everything the console shows of one page; `thread` is the thread whose
/// chat it carries (default: the most recently active one).
pub fn page_view(state: &State, log: &PageLog, thread: Option<&str>) -> Value {
    let setup = &state.setup;
    let now = state.now_ms;
    let active = |psid: &str| log.threads.get(psid).map_or(0, |t| t.last_active);
    let mut psids: Vec<&String> = state.threads.keys().collect();
    psids.sort_by(|a, b| active(b).cmp(&active(a)).then(a.cmp(b)));
    let selected = thread
        .filter(|t| state.threads.contains_key(*t))
        .or(psids.first().map(|p| p.as_str()));
    let threads: Vec<Value> = psids
        .iter()
        .take(VIEW_THREADS)
        .map(|psid| {
            let t = &state.threads[*psid];
            let owned = t.owner.is_some();
            let menu_v = match (&t.user_menu, state.page_menu_of(t.surface)) {
                (Some(m), _) => menu(setup, Some(m), "user"),
                (None, m) => menu(setup, m, "page"),
            };
            json!({
                "psid": psid,
                "surface": t.surface.as_str(),
                "id_label": if t.surface == Surface::Instagram { "IGSID" } else { "PSID" },
                "inbox": if t.surface == Surface::Instagram { "Instagram Inbox" } else { "Page Inbox" },
                "owner": party_label(setup, t.owner),
                "owner_kind": party_kind(t.owner),
                "deadline_ms": if owned { Some(t.deadline_ms) } else { None },
                "left_ms": if owned { Some(t.deadline_ms.saturating_sub(now)) } else { None },
                "folder": match t.folder { crate::model::Folder::Main => "main", crate::model::Folder::Done => "done" },
                "menu": menu_v,
                "held": t.held.iter().map(|h| json!({
                    "title": h.title,
                    "from": party_label(setup, Some(Party::App(h.from))),
                })).collect::<Vec<_>>(),
                "last_active": active(psid),
            })
        })
        .collect();
    let chat: Vec<Value> = selected
        .and_then(|p| log.threads.get(p))
        .map(|t| {
            let skip = t.chat.len().saturating_sub(VIEW_ENTRIES);
            t.chat
                .iter()
                .skip(skip)
                .map(|l| {
                    json!({
                        "at_ms": l.at_ms,
                        "from": l.from.map(|p| party_label(setup, Some(p))),
                        "from_kind": match l.from { None => "user", Some(p) => party_kind(Some(p)) },
                        "kind": l.kind,
                        "text": l.text,
                        "mid": l.mid,
                        "quick_replies": choices(&l.quick_replies),
                        "buttons": choices(&l.buttons),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let apps: Vec<Value> = setup
        .apps
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let calls = &log.calls[i];
            let hooks = &log.hooks[i];
            json!({
                "app_id": a.app_id,
                "name": a.name,
                "primary": state.primary.is_some_and(|p| p.index() == i),
                "human_agent": a.human_agent,
                "calls": calls.iter().skip(calls.len().saturating_sub(VIEW_ENTRIES)).map(|c| {
                    let mut call = c.op.to_string();
                    if let Some(rest) = call.strip_prefix(&format!("app {i} ")) {
                        call = rest.to_string();
                    }
                    let call = named(setup, call);
                    json!({
                        "at_ms": c.at_ms,
                        "call": call,
                        "answer": crate::model::GraphAnswer(&c.answer).to_string(),
                        "refused": c.answer.is_err(),
                        "rule": c.rule.id(),
                    })
                }).collect::<Vec<_>>(),
                "hooks": hooks.iter().skip(hooks.len().saturating_sub(VIEW_ENTRIES)).map(|h| json!({
                    "at_ms": h.at_ms,
                    "channel": h.channel.as_str(),
                    "event": h.event.kind.name(),
                    "psid": h.event.psid,
                    "surface": h.event.surface.as_str(),
                    "text": event_text(setup, &h.event),
                    "status": h.status.as_str(),
                    "attempts": h.attempts.iter().map(|a| json!({"status": a.status, "text": a.text})).collect::<Vec<_>>(),
                    "retries": h.attempts.len().saturating_sub(1),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "page_id": setup.page_id,
        "instagram_account_id": setup.instagram_account_id,
        "now_ms": now,
        "next_deadline_ms": next_deadline(state),
        "primary": state.primary.map(|p| party_label(setup, Some(Party::App(p)))),
        "apps": apps,
        "threads": threads,
        "threads_total": state.threads.len(),
        "selected": selected,
        "chat": chat,
        "version": log.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppIx, AppSpec, apply};

    fn setup() -> Setup {
        let apps = ["Bot", "Agent"]
            .iter()
            .enumerate()
            .map(|(i, n)| AppSpec {
                app_id: format!("10{i}"),
                name: n.to_string(),
                human_agent: false,
                require_appsecret_proof: false,
            })
            .collect();
        Setup::new("1".into(), 1_000, apps, Some("100")).unwrap()
    }

    #[test]
    fn records_the_users_message_and_its_deliveries() {
        let mut st = State::new(setup());
        let mut log = PageLog::new(Arc::new(Hub::default()), 2, vec!["s3cret".into()]);
        let op = Op::User(UserEvent::Message {
            psid: "7".into(),
            text: "hello".into(),
            quick_reply: None,
            platform: Surface::Messenger,
        });
        let out = apply(&mut st, &op);
        let ids = log.record(&op, &out, &st);
        assert_eq!(ids.len(), out.deliveries.len());
        assert!(!ids.is_empty(), "a message is delivered to somebody");
        let v = page_view(&st, &log, None);
        assert_eq!(v["selected"], "7");
        assert_eq!(v["chat"][0]["text"], "hello");
        assert_eq!(v["chat"][0]["from_kind"], "user");
        assert_eq!(v["apps"][0]["primary"], true);
        assert_eq!(v["apps"][0]["hooks"][0]["status"], "queued");
        let app = out.deliveries[0].app.index();
        log.attempt(
            app,
            &ids[..1],
            Attempt {
                status: Some(500),
                text: "oops s3cret".into(),
            },
        );
        log.finished(app, &ids[..1], HookStatus::Failed);
        let v = page_view(&st, &log, None);
        let h = &v["apps"][app]["hooks"][0];
        assert_eq!(h["status"], "failed");
        assert_eq!(h["attempts"][0]["status"], 500);
        assert_eq!(h["attempts"][0]["text"], "oops [redacted]");
        assert!(!v.to_string().contains("s3cret"));
    }

    #[test]
    fn a_refused_graph_call_shows_its_rule() {
        let mut st = State::new(setup());
        let mut log = PageLog::new(Arc::new(Hub::default()), 2, Vec::new());
        let op = Op::Graph(st.setup.call(AppIx(1), Call::Release { psid: "9".into() }));
        let out = apply(&mut st, &op);
        log.record(&op, &out, &st);
        let v = page_view(&st, &log, None);
        let c = &v["apps"][1]["calls"][0];
        assert_eq!(c["refused"], true);
        assert_eq!(c["rule"], out.decided_by.id());
    }

    #[test]
    fn apps_are_named_outside_quotes_only() {
        let s = setup();
        assert_eq!(
            named(&s, r#"psid 1 pass_thread_control to app 1 from page_inbox metadata "app 1 \"x\" app 0""#.into()),
            r#"psid 1 pass_thread_control to Agent from Page Inbox metadata "app 1 \"x\" app 0""#
        );
    }

    #[test]
    fn a_secret_cut_by_the_length_limit_is_redacted() {
        let log = PageLog::new(Arc::new(Hub::default()), 0, vec!["abcdefgh".into()]);
        let text = format!("{}abcdefgh", "x".repeat(ANSWER_CHARS - 5));
        let t = log.redacted(&text);
        assert!(!t.contains("abcde"), "{t}");
        assert!(t.ends_with("[redacted]"));
    }
}
