//! What a correct platform does in answer to one [`Op`](super::Op): the
//! answer, the webhook deliveries, what reaches the user, and which rules
//! the step exercised. The differ compares an implementation's observations
//! with exactly this.

use super::op::{AppIx, AppRef, Defect, Psid};
use super::rules::{Rule, RuleSet};
use super::surface::Surface;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who can own a thread: an app, the Page Inbox (Messenger threads) or the
/// Instagram Inbox (Instagram threads, IG-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    App(AppIx),
    PageInbox,
    InstagramInbox,
}

impl Party {
    /// The inbox of a surface: the Page Inbox or the Instagram Inbox.
    pub fn inbox(surface: Surface) -> Party {
        match surface {
            Surface::Messenger => Party::PageInbox,
            Surface::Instagram => Party::InstagramInbox,
        }
    }

    /// The party a resolved reference names; `None` for an unknown id.
    pub fn from_ref(r: &AppRef) -> Option<Party> {
        match r {
            AppRef::App(a) => Some(Party::App(*a)),
            AppRef::PageInbox => Some(Party::PageInbox),
            AppRef::InstagramInbox => Some(Party::InstagramInbox),
            AppRef::Unknown(_) => None,
        }
    }

    /// Either inbox: driven by a person, never by an app.
    pub fn is_inbox(self) -> bool {
        matches!(self, Party::PageInbox | Party::InstagramInbox)
    }
}

/// The expected result of one operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub answer: Answer,
    /// The rule that decided the answer.
    pub decided_by: Rule,
    /// Webhook deliveries, in the order they happen.
    pub deliveries: Vec<Delivery>,
    /// Messages that reach users during this step, in order.
    pub received: Vec<Received>,
    /// Every rule this step exercised.
    pub rules: RuleSet,
    /// Why a Graph call was refused (`None` for anything else): what
    /// decided the error's code, and what its `message` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

impl Outcome {
    pub fn is_refusal(&self) -> bool {
        matches!(self.answer, Answer::Graph(Err(_)) | Answer::Control(Err(_)))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Graph(Result<GraphSuccess, GraphError>),
    Control(Result<ControlSuccess, String>),
}

/// The body of a successful Graph call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphSuccess {
    /// `{"recipient_id":…,"message_id":…}`.
    Sent {
        recipient_id: Psid,
        message_id: String,
    },
    /// `{"success":true}`.
    Success,
    /// `{"data":[…]}`; `None` is the empty list (idle thread).
    ThreadOwner(Option<OwnerView>),
    /// `{"data":[{"id","name"},…]}`, in setup order.
    SecondaryReceivers(Vec<AppIx>),
    /// `{"result":"success"}`.
    Result,
}

/// One `thread_owner` entry; `app_id` only for those allowed to see it (AUTH-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerView {
    pub app_id: Option<Party>,
    /// Unix seconds: the deadline in ms divided by 1000, rounded down.
    pub expiration: u64,
}

/// A Graph error: HTTP status, `code`, optional `error_subcode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GraphError {
    pub status: u16,
    pub code: u32,
    pub subcode: Option<u32>,
    /// An unknown token also gets a `WWW-Authenticate` header.
    pub www_authenticate: bool,
}

impl GraphError {
    pub const fn new(code: u32, subcode: Option<u32>) -> GraphError {
        GraphError {
            status: 400,
            code,
            subcode,
            www_authenticate: false,
        }
    }

    /// 400 / 10 / 2018300: another owner holds the thread.
    pub const NOT_OWNER: GraphError = GraphError::new(10, Some(2018300));
    /// 400 / 100: bad parameter or a refused state transition.
    pub const INVALID: GraphError = GraphError::new(100, None);
    /// 400 / 100 / 2018164: unknown target app.
    pub const UNKNOWN_TARGET: GraphError = GraphError::new(100, Some(2018164));
    /// 400 / 100 / 2018001: PSID unknown to the page.
    pub const UNKNOWN_PSID: GraphError = GraphError::new(100, Some(2018001));
    /// 400 / 10: not allowed for this app now (menus, secondary receivers).
    pub const NOT_ALLOWED: GraphError = GraphError::new(10, None);
    /// 400 / 200: the HUMAN_AGENT tag without the feature.
    pub const NO_PERMISSION: GraphError = GraphError::new(200, None);
    /// 400 / 104: no access token.
    pub const NO_TOKEN: GraphError = GraphError::new(104, None);
    /// 400 / 190: unknown access token.
    pub const BAD_TOKEN: GraphError = GraphError {
        status: 400,
        code: 190,
        subcode: None,
        www_authenticate: true,
    };

    /// The human text the reference server puts in `message`.
    pub fn message(&self) -> &'static str {
        match (self.code, self.subcode) {
            (10, Some(2018300)) => {
                "(#10) Message failed to send because another app is controlling this thread now."
            }
            (10, _) => "(#10) Application does not have permission for this action",
            (100, Some(2018164)) => {
                "(#100) Invalid target_app_id: not an app subscribed to this page"
            }
            (100, Some(2018001)) => "(#100) No matching user found",
            (100, _) => "(#100) Invalid parameter",
            (104, _) => "An access token is required to request this resource.",
            (190, _) => "Invalid OAuth access token - Cannot parse access token",
            (200, _) => "(#200) The app does not have permission to use the HUMAN_AGENT tag",
            _ => "Unexpected error",
        }
    }
}

/// Why the model refused a Graph call, as precisely as it knows. Each
/// reason has exactly one [`GraphError`] ([`Refusal::error`]): the reason
/// decides the code, and the wire's `error_message` puts it in words, so a
/// developer reading an answer knows what to fix. Only code and subcode are
/// compared by the harness; the reason is the reference server's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The decoder's defect (path, route or parameters; INPUT-1, EXP-3, PASS-7).
    Malformed(Defect),
    /// No access token (AUTH-1).
    NoToken,
    /// An access token no page knows (AUTH-1).
    BadToken,
    /// `appsecret_proof` absent where the app requires one (AUTH-3).
    ProofMissing,
    /// `appsecret_proof` not the HMAC of the token with the app secret (AUTH-3).
    ProofWrong,
    /// An id (`recipient.id`, `target_app_id`) is the empty string.
    IdEmpty,
    /// `messaging_type: MESSAGE_TAG` without `tag`.
    TagMissing,
    /// `message.text` is empty.
    TextEmpty,
    /// `message.text` is longer than 2000 characters.
    TextTooLong,
    /// `quick_replies` is an empty list.
    QuickRepliesEmpty,
    /// `metadata` is longer than 1000 characters.
    MetadataTooLong,
    /// `duration` outside 1 ..= 604 800 seconds (EXP-3).
    DurationOutOfRange,
    /// `platform` is neither messenger nor instagram (IG-5, IG-6).
    PlatformUnknown,
    /// The PSID is unknown to the page (INPUT-1).
    UnknownPsid,
    /// The `HUMAN_AGENT` tag from an app without the feature (HA-2).
    HumanAgentNotApproved,
    /// A customer feedback template on an Instagram thread (IG-5).
    SurveyOnInstagram,
    /// Another app or the inbox owns the thread (CTRL-4, PASS-3, TAKE-3,
    /// REL-2, EXP-3, PASS-7).
    NotOwner,
    /// Nobody owns the thread: nothing to release, extend or pass metadata
    /// for (REL-2, EXP-3, PASS-7).
    Idle,
    /// The caller already owns the thread (TAKE-4, REQ-3).
    AlreadyOwner,
    /// The caller named itself as the target (PASS-6, PASS-7).
    ToSelf,
    /// No `target_app_id` and no primary receiver (PASS-4).
    NoPrimaryToPassTo,
    /// `target_app_id` is no app of the page (PASS-5, PASS-7).
    UnknownTarget,
    /// The inbox of the other surface as target (IG-2).
    OtherSurfaceInbox,
    /// An Instagram menu on a page without an Instagram account (IG-5).
    NoInstagramAccount,
    /// A user-level menu on an Instagram thread (IG-5).
    UserMenuOnInstagram,
    /// The page menu by an app other than the primary receiver (MENU-1).
    PageMenuNotPrimary,
    /// A user-level menu change this app may not make now (MENU-2).
    UserMenuNotAllowed,
    /// `secondary_receivers` by an app that is not the primary (PRI-1).
    SecondariesNotPrimary,
}

impl Refusal {
    /// The one error this reason is answered with.
    pub const fn error(self) -> GraphError {
        use Refusal as R;
        match self {
            R::NoToken => GraphError::NO_TOKEN,
            R::BadToken => GraphError::BAD_TOKEN,
            R::UnknownPsid => GraphError::UNKNOWN_PSID,
            R::HumanAgentNotApproved => GraphError::NO_PERMISSION,
            R::NotOwner => GraphError::NOT_OWNER,
            R::UnknownTarget | R::OtherSurfaceInbox => GraphError::UNKNOWN_TARGET,
            R::PageMenuNotPrimary | R::UserMenuNotAllowed | R::SecondariesNotPrimary => {
                GraphError::NOT_ALLOWED
            }
            R::Malformed(_)
            | R::ProofMissing
            | R::ProofWrong
            | R::IdEmpty
            | R::TagMissing
            | R::TextEmpty
            | R::TextTooLong
            | R::QuickRepliesEmpty
            | R::MetadataTooLong
            | R::DurationOutOfRange
            | R::PlatformUnknown
            | R::SurveyOnInstagram
            | R::Idle
            | R::AlreadyOwner
            | R::ToSelf
            | R::NoPrimaryToPassTo
            | R::NoInstagramAccount
            | R::UserMenuOnInstagram => GraphError::INVALID,
        }
    }
}

/// The control API's successful answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlSuccess {
    /// `{"ok":true}`.
    Ok,
    /// `{"ok":true,"mid":…}` for user events.
    Mid(String),
    /// `{"now_ms":…}` for `clock`.
    NowMs(u64),
}

/// `messaging` (the owner's channel) or `standby` (everyone else's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Messaging,
    Standby,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Messaging => "messaging",
            Channel::Standby => "standby",
        }
    }
}

/// One webhook event to one app on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Delivery {
    pub app: AppIx,
    pub channel: Channel,
    pub event: Event,
    /// The rule that asks for this delivery.
    pub rule: Rule,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The user's PSID or IGSID (`sender.id`); absent for `app_roles`.
    pub psid: Option<Psid>,
    /// The surface of the thread, which decides the envelope (IG-3):
    /// `"object":"page"` or `"object":"instagram"`. `app_roles` is a page
    /// event and goes on Messenger.
    #[serde(default, skip_serializing_if = "Surface::is_messenger")]
    pub surface: Surface,
    /// The page's virtual clock when it happened, in ms.
    pub timestamp: u64,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A user message; with `ad_id` it is an ad entry carrying a `referral`.
    Message {
        mid: String,
        text: String,
        quick_reply: Option<String>,
        ad_id: Option<String>,
    },
    /// A button or menu postback; `payload` is `None` on standby (HOOK-2).
    Postback {
        mid: String,
        title: String,
        payload: Option<String>,
    },
    PassThreadControl {
        new_owner: Party,
        previous_owner: Option<Party>,
        metadata: Option<String>,
    },
    TakeThreadControl {
        previous_owner: Party,
        new_owner: Party,
        metadata: Option<String>,
    },
    RequestThreadControl {
        requested_owner: AppIx,
        metadata: Option<String>,
    },
    /// Context handed over by the owner `app`, who keeps control (PASS-7).
    PassThreadMetadata { app: AppIx, metadata: String },
    /// `{"<app id>":[role]}` naming the receiving app itself.
    AppRoles { app: AppIx, primary: bool },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Message { ad_id: None, .. } => "message",
            EventKind::Message { ad_id: Some(_), .. } => "ad_entry",
            EventKind::Postback { .. } => "postback",
            EventKind::PassThreadControl { .. } => "pass_thread_control",
            EventKind::TakeThreadControl { .. } => "take_thread_control",
            EventKind::RequestThreadControl { .. } => "request_thread_control",
            EventKind::PassThreadMetadata { .. } => "pass_thread_metadata",
            EventKind::AppRoles { .. } => "app_roles",
        }
    }
}

/// What kind of message the user received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Buttons,
    Survey,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Buttons => "buttons",
            MessageKind::Survey => "survey",
        }
    }
}

/// One transcript entry: a message the user received.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TranscriptEntry {
    pub mid: String,
    pub from: Party,
    pub kind: MessageKind,
    /// Text, button template text, or survey title (`""` when none).
    pub text: String,
}

/// A message reaching a user during a step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Received {
    pub psid: Psid,
    pub entry: TranscriptEntry,
    /// CTRL-2, CTRL-3, HA-1, SURVEY-1 (a held survey released), INBOX-2/3.
    pub rule: Rule,
}

impl Outcome {
    pub(crate) fn new(answer: Answer, decided_by: Rule) -> Outcome {
        Outcome {
            answer,
            decided_by,
            deliveries: Vec::new(),
            received: Vec::new(),
            rules: RuleSet::EMPTY.with(decided_by),
            refusal: None,
        }
    }
}

// ---------------------------------------------------------------------------
// One-line human renderings, with apps by position (`app 2`): what traces,
// divergences, counterexamples and reports show.

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::App(a) => a.fmt(f),
            Party::PageInbox => f.write_str("page_inbox"),
            Party::InstagramInbox => f.write_str("instagram_inbox"),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `psid 1 pass_thread_control to app 0 from app 1 metadata "m"`; an event
/// of an Instagram thread says so first (`instagram psid 7 message "hi"`).
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.surface.is_instagram() {
            f.write_str("instagram ")?;
        }
        if let Some(p) = &self.psid {
            write!(f, "psid {p} ")?;
        }
        self.kind.fmt(f)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meta = |f: &mut fmt::Formatter<'_>, m: &Option<String>| match m {
            Some(m) => write!(f, " metadata {m:?}"),
            None => Ok(()),
        };
        match self {
            EventKind::Message {
                text,
                quick_reply,
                ad_id,
                ..
            } => {
                write!(f, "message {text:?}")?;
                if let Some(q) = quick_reply {
                    write!(f, " quick_reply {q:?}")?;
                }
                if let Some(a) = ad_id {
                    write!(f, " referral ad {a:?}")?;
                }
                Ok(())
            }
            EventKind::Postback { title, payload, .. } => match payload {
                Some(p) => write!(f, "{} {title:?} payload {p:?}", self.name()),
                None => write!(f, "{} {title:?} (no payload)", self.name()),
            },
            EventKind::PassThreadControl {
                new_owner,
                previous_owner,
                metadata,
            } => {
                write!(f, "{} to {new_owner} from ", self.name())?;
                match previous_owner {
                    Some(p) => p.fmt(f)?,
                    None => f.write_str("null")?,
                }
                meta(f, metadata)
            }
            EventKind::TakeThreadControl {
                previous_owner,
                new_owner,
                metadata,
            } => {
                write!(f, "{} by {new_owner} from {previous_owner}", self.name())?;
                meta(f, metadata)
            }
            EventKind::RequestThreadControl {
                requested_owner,
                metadata,
            } => {
                write!(f, "{} by {requested_owner}", self.name())?;
                meta(f, metadata)
            }
            EventKind::PassThreadMetadata { app, metadata } => {
                write!(f, "{} from {app} metadata {metadata:?}", self.name())
            }
            EventKind::AppRoles { app, primary } => write!(
                f,
                "{} {app} {}",
                self.name(),
                if *primary {
                    "primary_receiver"
                } else {
                    "secondary_receiver"
                }
            ),
        }
    }
}

/// `HTTP 400 code 10 subcode 2018300`.
impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} code {}", self.status, self.code)?;
        if let Some(s) = self.subcode {
            write!(f, " subcode {s}")?;
        }
        Ok(())
    }
}

/// `200 thread_owner app 1 expiration 1767312000`.
impl fmt::Display for GraphSuccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphSuccess::Sent { recipient_id, .. } => write!(f, "200 sent to psid {recipient_id}"),
            GraphSuccess::Success => f.write_str("200 success"),
            GraphSuccess::Result => f.write_str("200 result success"),
            GraphSuccess::ThreadOwner(None) => f.write_str("200 thread_owner: none (idle)"),
            GraphSuccess::ThreadOwner(Some(v)) => match v.app_id {
                Some(p) => write!(f, "200 thread_owner {p} expiration {}", v.expiration),
                None => write!(f, "200 thread_owner hidden, expiration {}", v.expiration),
            },
            GraphSuccess::SecondaryReceivers(apps) => {
                let apps: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
                write!(f, "200 secondary_receivers [{}]", apps.join(", "))
            }
        }
    }
}

impl fmt::Display for ControlSuccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlSuccess::Ok => f.write_str("ok"),
            ControlSuccess::Mid(_) => f.write_str("ok with a message id"),
            ControlSuccess::NowMs(n) => write!(f, "now_ms {n}"),
        }
    }
}

/// A Graph answer, success or error.
pub struct GraphAnswer<'a>(pub &'a Result<GraphSuccess, GraphError>);

impl fmt::Display for GraphAnswer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(s) => s.fmt(f),
            Err(e) => e.fmt(f),
        }
    }
}

/// A control-API answer, success or error.
pub struct ControlAnswer<'a>(pub &'a Result<ControlSuccess, String>);

impl fmt::Display for ControlAnswer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Ok(s) => s.fmt(f),
            Err(e) => write!(f, "control error: {e}"),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Graph(r) => GraphAnswer(r).fmt(f),
            Answer::Control(r) => ControlAnswer(r).fmt(f),
        }
    }
}

/// `app 0 messaging psid 1 message "hi"`.
impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.app, self.channel, self.event)
    }
}

/// `psid 1 receives text from app 0: "hi"`.
impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "psid {} receives {} from {}: {:?}",
            self.psid,
            self.entry.kind.as_str(),
            self.entry.from,
            self.entry.text
        )
    }
}
