//! Helpers for the per-rule tests in `tests/rules.rs`: a page builder, short
//! names for operations, and assertions over a whole [`Outcome`].
//!
//! The expectations are written from the spec (`rules.md`, `wire.md`,
//! `control-api.md`), so these helpers only build inputs and compare; they
//! never compute an expected result the way the model does.

use baton::model::*;

/// The page's clock after `reset`; not a multiple of 1000, so that
/// `expiration` (deadline / 1000, rounded down) is visibly rounded.
pub const T0: u64 = 1_700_000_000_123;
pub const DAY: u64 = DAY_MS;
pub const PAGE_ID: &str = "777000111";

pub const A0: AppIx = AppIx(0);
pub const A1: AppIx = AppIx(1);
pub const A2: AppIx = AppIx(2);
pub const A3: AppIx = AppIx(3);
pub const INBOX: Party = Party::PageInbox;
/// The Instagram Inbox as an owner (IG-2).
pub const IG_INBOX: Party = Party::InstagramInbox;
/// The Instagram account linked to pages built with `.instagram()`.
pub const IG_ACCOUNT: &str = "17841400999000111";

pub fn app(a: AppIx) -> Party {
    Party::App(a)
}

pub fn to_app(a: AppIx) -> AppRef {
    AppRef::App(a)
}

// ---------------------------------------------------------------------------
// Setup.

/// `page(3).primary(A0).human_agent(A1).build()`.
pub struct PageBuilder {
    apps: usize,
    primary: Option<AppIx>,
    human_agent: Vec<AppIx>,
    proof: Vec<AppIx>,
    instagram: bool,
}

pub fn page(apps: usize) -> PageBuilder {
    assert!((1..=4).contains(&apps));
    PageBuilder {
        apps,
        primary: None,
        human_agent: Vec::new(),
        proof: Vec::new(),
        instagram: false,
    }
}

pub fn app_id(a: AppIx) -> String {
    format!("{}", 5550 + a.0 as u32)
}

impl PageBuilder {
    pub fn primary(mut self, a: AppIx) -> Self {
        self.primary = Some(a);
        self
    }

    pub fn human_agent(mut self, a: AppIx) -> Self {
        self.human_agent.push(a);
        self
    }

    pub fn appsecret_proof(mut self, a: AppIx) -> Self {
        self.proof.push(a);
        self
    }

    /// Links the Instagram account [`IG_ACCOUNT`] to the page.
    pub fn instagram(mut self) -> Self {
        self.instagram = true;
        self
    }

    pub fn build(self) -> State {
        let apps = (0..self.apps as u8)
            .map(AppIx)
            .map(|a| AppSpec {
                app_id: app_id(a),
                name: format!("app {}", a.0),
                human_agent: self.human_agent.contains(&a),
                require_appsecret_proof: self.proof.contains(&a),
            })
            .collect();
        let primary = self.primary.map(app_id);
        let setup = Setup::new(PAGE_ID.into(), T0, apps, primary.as_deref())
            .and_then(|s| s.with_instagram(self.instagram.then(|| IG_ACCOUNT.to_string())))
            .expect("valid setup");
        State::new(setup)
    }
}

// ---------------------------------------------------------------------------
// Operations.

pub fn run(st: &mut State, op: Op) -> Outcome {
    apply(st, &op)
}

pub fn graph_op(a: AppIx, call: Call) -> Op {
    Op::Graph(GraphOp::by(a, call))
}

/// A well-formed Graph call by app `a`.
pub fn gr(st: &mut State, a: AppIx, call: Call) -> Outcome {
    run(st, graph_op(a, call))
}

pub fn user_msg_op(psid: &str, text: &str) -> Op {
    Op::User(UserEvent::Message {
        psid: psid.into(),
        text: text.into(),
        quick_reply: None,
        platform: Surface::Messenger,
    })
}

/// The user writes `text`; a new PSID becomes known to the page.
pub fn user_msg(st: &mut State, psid: &str, text: &str) -> Outcome {
    run(st, user_msg_op(psid, text))
}

pub fn quick_reply(st: &mut State, psid: &str, text: &str, payload: &str) -> Outcome {
    run(
        st,
        Op::User(UserEvent::Message {
            psid: psid.into(),
            text: text.into(),
            quick_reply: Some(payload.into()),
            platform: Surface::Messenger,
        }),
    )
}

pub fn ad_entry_op(psid: &str, a: AppRef, ad_id: &str, text: &str) -> Op {
    Op::User(UserEvent::AdEntry {
        psid: psid.into(),
        app: a,
        ad_id: ad_id.into(),
        text: text.into(),
        platform: Surface::Messenger,
    })
}

pub fn click_op(psid: &str, nth: u32, payload: &str, title: Option<&str>) -> Op {
    Op::User(UserEvent::Postback {
        psid: psid.into(),
        message: MsgRef::Nth(nth),
        payload: payload.into(),
        title: title.map(Into::into),
        platform: Surface::Messenger,
    })
}

pub fn menu_op(psid: &str, payload: &str, title: Option<&str>) -> Op {
    Op::User(UserEvent::Menu {
        psid: psid.into(),
        payload: payload.into(),
        title: title.map(Into::into),
        platform: Surface::Messenger,
    })
}

pub fn inbox_op(psid: &str, action: InboxAction) -> Op {
    Op::Inbox {
        psid: psid.into(),
        action,
        platform: Surface::Messenger,
    }
}

/// The same user event or inbox action on Instagram (`platform:
/// instagram`); other operations unchanged.
pub fn on_ig(mut op: Op) -> Op {
    match &mut op {
        Op::User(
            UserEvent::Message { platform, .. }
            | UserEvent::Postback { platform, .. }
            | UserEvent::Menu { platform, .. }
            | UserEvent::AdEntry { platform, .. },
        )
        | Op::Inbox { platform, .. } => *platform = Surface::Instagram,
        _ => {}
    }
    op
}

/// An Instagram user writes `text`; a new IGSID becomes known to the page.
pub fn ig_msg(st: &mut State, igsid: &str, text: &str) -> Outcome {
    run(st, on_ig(user_msg_op(igsid, text)))
}

/// An Instagram Inbox action (`inbox` with `platform: instagram`).
pub fn ig_inbox(st: &mut State, igsid: &str, action: InboxAction) -> Outcome {
    run(st, on_ig(inbox_op(igsid, action)))
}

/// The IGSID writes to the page, so it is known on Instagram.
pub fn ig_know(st: &mut State, igsid: &str) {
    let out = ig_msg(st, igsid, "hello");
    assert_success(&out, "Instagram user message");
}

/// Deliveries as they are seen on Instagram (IG-3).
pub fn on_ig_seen(seen: Vec<Seen>) -> Vec<Seen> {
    seen.into_iter()
        .map(|(a, c, mut e)| {
            e.surface = Surface::Instagram;
            (a, c, e)
        })
        .collect()
}

pub fn reply(text: &str) -> InboxAction {
    InboxAction::Reply { text: text.into() }
}

pub fn inbox(st: &mut State, psid: &str, action: InboxAction) -> Outcome {
    run(st, inbox_op(psid, action))
}

pub fn clock(st: &mut State, advance_ms: u64) -> Outcome {
    run(st, Op::Clock { advance_ms })
}

pub fn roles(st: &mut State, primary: Option<AppRef>) -> Outcome {
    run(st, Op::Roles { primary })
}

// ---------------------------------------------------------------------------
// Graph calls.

pub fn text(psid: &str, t: &str) -> Call {
    Call::Send {
        psid: psid.into(),
        messaging_type: MessagingType::Response,
        tag: None,
        message: Message::Text {
            text: t.into(),
            quick_replies: None,
        },
    }
}

pub fn tagged(psid: &str, messaging_type: MessagingType, tag: &str, t: &str) -> Call {
    Call::Send {
        psid: psid.into(),
        messaging_type,
        tag: Some(tag.into()),
        message: Message::Text {
            text: t.into(),
            quick_replies: None,
        },
    }
}

pub fn human_agent_text(psid: &str, t: &str) -> Call {
    tagged(psid, MessagingType::MessageTag, HUMAN_AGENT_TAG, t)
}

pub fn choices(items: &[(&str, &str)]) -> Vec<Choice> {
    items
        .iter()
        .map(|(title, payload)| Choice {
            title: (*title).into(),
            payload: (*payload).into(),
        })
        .collect()
}

/// A button template; `items` are `(title, payload)`.
pub fn buttons(psid: &str, t: &str, items: &[(&str, &str)]) -> Call {
    Call::Send {
        psid: psid.into(),
        messaging_type: MessagingType::Response,
        tag: None,
        message: Message::Buttons {
            text: t.into(),
            buttons: choices(items),
        },
    }
}

pub fn survey(psid: &str, title: Option<&str>) -> Call {
    Call::Send {
        psid: psid.into(),
        messaging_type: MessagingType::Response,
        tag: None,
        message: Message::Survey {
            title: title.map(Into::into),
        },
    }
}

pub fn pass(psid: &str, target: Option<AppRef>, metadata: Option<&str>) -> Call {
    Call::Pass {
        psid: psid.into(),
        target,
        metadata: metadata.map(Into::into),
    }
}

pub fn pass_to(psid: &str, target: AppIx) -> Call {
    pass(psid, Some(AppRef::App(target)), None)
}

pub fn pass_metadata(psid: &str, target: AppRef, metadata: &str) -> Call {
    Call::PassMetadata {
        psid: psid.into(),
        target,
        metadata: metadata.into(),
    }
}

pub fn take(psid: &str, metadata: Option<&str>) -> Call {
    Call::Take {
        psid: psid.into(),
        metadata: metadata.map(Into::into),
    }
}

pub fn request(psid: &str, metadata: Option<&str>) -> Call {
    Call::Request {
        psid: psid.into(),
        metadata: metadata.map(Into::into),
    }
}

pub fn release(psid: &str) -> Call {
    Call::Release { psid: psid.into() }
}

pub fn extend(psid: &str, duration: i64) -> Call {
    Call::Extend {
        psid: psid.into(),
        duration,
    }
}

pub fn owner_query(psid: &str) -> Call {
    Call::ThreadOwner { psid: psid.into() }
}

pub fn malformed(edge: Edge, defect: Defect) -> Call {
    Call::Malformed { edge, defect }
}

// ---------------------------------------------------------------------------
// Expected answers and events.

pub fn ok() -> Answer {
    Answer::Graph(Ok(GraphSuccess::Success))
}

pub fn result_ok() -> Answer {
    Answer::Graph(Ok(GraphSuccess::Result))
}

pub fn err(e: GraphError) -> Answer {
    Answer::Graph(Err(e))
}

pub fn ctl_ok() -> Answer {
    Answer::Control(Ok(ControlSuccess::Ok))
}

pub fn sent(psid: &str, mid: &str) -> Answer {
    Answer::Graph(Ok(GraphSuccess::Sent {
        recipient_id: psid.into(),
        message_id: mid.into(),
    }))
}

pub fn owner_view(view: Option<(Option<Party>, u64)>) -> Answer {
    Answer::Graph(Ok(GraphSuccess::ThreadOwner(
        view.map(|(app_id, expiration)| OwnerView { app_id, expiration }),
    )))
}

/// One webhook delivery as an app observes it: who, which channel, what.
pub type Seen = (AppIx, Channel, Event);

pub fn hook(a: AppIx, channel: Channel, psid: &str, timestamp: u64, kind: EventKind) -> Seen {
    (
        a,
        channel,
        Event {
            psid: Some(psid.into()),
            timestamp,
            kind,
            surface: Surface::Messenger,
        },
    )
}

/// The handover event `kind` to app `a`, on `messaging` (HOOK-3).
pub fn handover(a: AppIx, psid: &str, timestamp: u64, kind: EventKind) -> Seen {
    hook(a, Channel::Messaging, psid, timestamp, kind)
}

pub fn app_roles(a: AppIx, timestamp: u64, primary: bool) -> Seen {
    (
        a,
        Channel::Messaging,
        Event {
            psid: None,
            timestamp,
            kind: EventKind::AppRoles { app: a, primary },
            surface: Surface::Messenger,
        },
    )
}

pub fn message_ev(mid: &str, t: &str) -> EventKind {
    EventKind::Message {
        mid: mid.into(),
        text: t.into(),
        quick_reply: None,
        ad_id: None,
    }
}

pub fn quick_reply_ev(mid: &str, t: &str, payload: &str) -> EventKind {
    EventKind::Message {
        mid: mid.into(),
        text: t.into(),
        quick_reply: Some(payload.into()),
        ad_id: None,
    }
}

pub fn ad_ev(mid: &str, t: &str, ad_id: &str) -> EventKind {
    EventKind::Message {
        mid: mid.into(),
        text: t.into(),
        quick_reply: None,
        ad_id: Some(ad_id.into()),
    }
}

pub fn postback_ev(mid: &str, title: &str, payload: Option<&str>) -> EventKind {
    EventKind::Postback {
        mid: mid.into(),
        title: title.into(),
        payload: payload.map(Into::into),
    }
}

pub fn pass_ev(
    new_owner: Party,
    previous_owner: Option<Party>,
    metadata: Option<&str>,
) -> EventKind {
    EventKind::PassThreadControl {
        new_owner,
        previous_owner,
        metadata: metadata.map(Into::into),
    }
}

pub fn take_ev(previous_owner: Party, new_owner: Party, metadata: Option<&str>) -> EventKind {
    EventKind::TakeThreadControl {
        previous_owner,
        new_owner,
        metadata: metadata.map(Into::into),
    }
}

pub fn request_ev(requested_owner: AppIx, metadata: Option<&str>) -> EventKind {
    EventKind::RequestThreadControl {
        requested_owner,
        metadata: metadata.map(Into::into),
    }
}

/// A user event's copy for every app of `apps`: `messaging` for those in
/// `on_messaging`, `standby` for the rest.
pub fn fan_out(
    apps: &[AppIx],
    on_messaging: &[AppIx],
    psid: &str,
    timestamp: u64,
    kind: impl Fn(Channel) -> EventKind,
) -> Vec<Seen> {
    apps.iter()
        .map(|a| {
            let ch = if on_messaging.contains(a) {
                Channel::Messaging
            } else {
                Channel::Standby
            };
            hook(*a, ch, psid, timestamp, kind(ch))
        })
        .collect()
}

pub fn entry(mid: &str, from: Party, kind: MessageKind, t: &str) -> TranscriptEntry {
    TranscriptEntry {
        mid: mid.into(),
        from,
        kind,
        text: t.into(),
    }
}

// ---------------------------------------------------------------------------
// Reading outcomes and state.

/// The message id a user event was answered with (`{"ok":true,"mid":…}`).
pub fn event_mid(out: &Outcome) -> String {
    match &out.answer {
        Answer::Control(Ok(ControlSuccess::Mid(mid))) => mid.clone(),
        other => panic!("expected a user-event answer with a mid, got {other:?}"),
    }
}

/// The `message_id` of a successful send.
pub fn sent_mid(out: &Outcome) -> String {
    match &out.answer {
        Answer::Graph(Ok(GraphSuccess::Sent { message_id, .. })) => message_id.clone(),
        other => panic!("expected a send answer, got {other:?}"),
    }
}

pub fn owner(st: &State, psid: &str) -> Option<Party> {
    st.thread(psid).expect("known PSID").owner
}

pub fn deadline(st: &State, psid: &str) -> u64 {
    st.thread(psid).expect("known PSID").deadline_ms
}

pub fn folder(st: &State, psid: &str) -> Folder {
    st.thread(psid).expect("known PSID").folder
}

pub fn transcript(st: &State, psid: &str) -> Vec<TranscriptEntry> {
    st.transcript(psid).cloned().collect()
}

// ---------------------------------------------------------------------------
// Assertions over a whole outcome.

/// Deliveries as apps observe them. The spec orders events per app (HOOK-6),
/// not across apps, so both sides are compared after a stable sort by app.
fn observed(out: &Outcome) -> Vec<Seen> {
    let mut v: Vec<Seen> = out
        .deliveries
        .iter()
        .map(|d| (d.app, d.channel, d.event.clone()))
        .collect();
    v.sort_by_key(|s| s.0);
    v
}

pub fn assert_hooks(out: &Outcome, mut expected: Vec<Seen>) {
    expected.sort_by_key(|s| s.0);
    assert_eq!(observed(out), expected, "deliveries of {out:#?}");
}

pub fn assert_received(out: &Outcome, expected: Vec<(&str, TranscriptEntry)>) {
    let got: Vec<(String, TranscriptEntry)> = out
        .received
        .iter()
        .map(|r| (r.psid.clone(), r.entry.clone()))
        .collect();
    let expected: Vec<(String, TranscriptEntry)> = expected
        .into_iter()
        .map(|(p, e)| (p.to_string(), e))
        .collect();
    assert_eq!(got, expected, "received of {out:#?}");
}

/// The whole outcome: answer, every delivery, everything the user received,
/// and that `rule` was exercised.
pub fn expect(
    out: &Outcome,
    answer: Answer,
    hooks: Vec<Seen>,
    received: Vec<(&str, TranscriptEntry)>,
    rule: Rule,
) {
    assert_eq!(out.answer, answer, "answer of {out:#?}");
    assert_hooks(out, hooks);
    assert_received(out, received);
    assert_rule(out, rule);
}

pub fn assert_rule(out: &Outcome, rule: Rule) {
    assert!(
        out.rules.contains(rule),
        "{} not among the rules exercised: {:?}",
        rule.id(),
        out.rules
    );
}

/// Applies `op`, which must be refused with `e`: nothing delivered, nothing
/// received, the state exactly as before (CTRL-5), and `rule` exercised.
pub fn refused(st: &mut State, op: Op, e: GraphError, rule: Rule) -> Outcome {
    let before = st.clone();
    let out = run(st, op);
    expect(&out, err(e), vec![], vec![], rule);
    assert_rule(&out, Rule::Ctrl5);
    assert_eq!(*st, before, "a refused call changed the state (CTRL-5)");
    out
}

/// A refused Graph call by app `a`; see [`refused`].
pub fn refused_call(st: &mut State, a: AppIx, call: Call, e: GraphError, rule: Rule) -> Outcome {
    refused(st, graph_op(a, call), e, rule)
}

/// Applies a control-API `op` that must be a control-API error (400): nothing
/// happens and the state is unchanged.
pub fn control_refused(st: &mut State, op: Op) -> Outcome {
    let before = st.clone();
    let out = run(st, op);
    assert!(
        matches!(out.answer, Answer::Control(Err(_))),
        "expected a control-API error, got {:?}",
        out.answer
    );
    assert_hooks(&out, vec![]);
    assert_received(&out, vec![]);
    assert_eq!(*st, before, "a refused control call changed the state");
    out
}

fn assert_success(out: &Outcome, what: &str) {
    assert!(!out.is_refusal(), "setup step {what} refused: {out:#?}");
}

// ---------------------------------------------------------------------------
// Getting a thread into a given state through ordinary operations.

/// The user writes to the page, so the PSID is known.
pub fn know(st: &mut State, psid: &str) {
    let out = user_msg(st, psid, "hello");
    assert_success(&out, "user message");
}

/// A known, idle thread (the primary, if any, releases what PRI-2 gave it).
pub fn idle(st: &mut State, psid: &str) {
    if st.thread(psid).is_none() {
        know(st, psid);
    }
    match owner(st, psid) {
        None => {}
        Some(Party::App(o)) => assert_success(&gr(st, o, release(psid)), "release"),
        Some(Party::PageInbox | Party::InstagramInbox) => {
            panic!("idle(): an inbox owns {psid}")
        }
    }
    assert_eq!(owner(st, psid), None);
}

/// A known thread owned by app `a`.
pub fn owned_by(st: &mut State, psid: &str, a: AppIx) {
    if st.thread(psid).is_none() {
        know(st, psid);
    }
    match owner(st, psid) {
        Some(o) if o == app(a) => {}
        None => assert_success(&gr(st, a, take(psid, None)), "take"),
        Some(Party::App(o)) => assert_success(&gr(st, o, pass_to(psid, a)), "pass"),
        Some(Party::PageInbox | Party::InstagramInbox) => {
            panic!("owned_by(): an inbox owns {psid}")
        }
    }
    assert_eq!(owner(st, psid), Some(app(a)));
}

/// A known thread the Page Inbox owns (an admin moved it to `main`).
pub fn inbox_owned(st: &mut State, psid: &str) {
    if st.thread(psid).is_none() {
        know(st, psid);
    }
    assert_success(&inbox(st, psid, InboxAction::MoveToMain), "move_to_main");
    assert_eq!(owner(st, psid), Some(INBOX));
}
