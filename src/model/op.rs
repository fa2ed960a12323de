//! The one operation type: everything that can happen during a run.
//!
//! An [`Op`] is what the generator produces, what the driver sends to a
//! target, what the reference server decodes an HTTP request into, what the
//! model applies and what a counterexample stores (as a JSON list). Apps are
//! named by their position in the page's [`Setup`](super::Setup) (`app 2`),
//! never by token, so a counterexample carries no secret and replays against
//! any target with fresh credentials.

use super::surface::Surface;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A page-scoped user id. The page learns a PSID from the user events
/// `message` and `ad_entry`; the model never invents one. On Instagram
/// threads the same type holds the IGSID (`instagram.md`).
pub type Psid = String;

/// The app id of the Page Inbox pseudo-app.
pub const PAGE_INBOX_APP_ID: &str = "263902037430900";

/// The position of an app in the page's setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppIx(pub u8);

impl AppIx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for AppIx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {}", self.0)
    }
}

/// Who an app id in a request names. The reference server turns the id it
/// received into this without judging it; the model decides what an unknown
/// id or the Page Inbox means in each place.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRef {
    App(AppIx),
    PageInbox,
    /// The Instagram Inbox `1217981644879628` (IG-2).
    InstagramInbox,
    /// An id that is no subscribed app of the page.
    Unknown(String),
}

impl fmt::Display for AppRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppRef::App(a) => a.fmt(f),
            AppRef::PageInbox => f.write_str("page_inbox"),
            AppRef::InstagramInbox => f.write_str("instagram_inbox"),
            AppRef::Unknown(id) => write!(f, "unknown app {id:?}"),
        }
    }
}

/// Anything that can happen in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// An app (or someone holding a bad token) calls the Graph API.
    Graph(GraphOp),
    /// The user does something in Messenger or Instagram (control API
    /// `user_event`).
    User(UserEvent),
    /// A person acts in the Page Inbox, or in the Instagram Inbox with
    /// `platform: instagram` (control API `inbox`).
    Inbox {
        psid: Psid,
        action: InboxAction,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    /// The page's virtual clock moves forward (control API `clock`).
    Clock { advance_ms: u64 },
    /// The primary receiver changes (control API `roles`); `None` unsets it.
    Roles { primary: Option<AppRef> },
    /// A delivery the tool sends to the app under test itself, beside the
    /// platform's own (`baton certify-app`); the platform never sees it.
    Deliver(Special),
}

/// A delivery the tool makes to an app under test directly: the special
/// deliveries of app certification (retried, forged, batched, unusual).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Special {
    /// The latest delivery the app received about `psid`, sent again
    /// unchanged: a retry.
    Retry { psid: Psid },
    /// A user message on `psid` whose `X-Hub-Signature-256` is missing or
    /// wrong.
    Forged {
        psid: Psid,
        text: String,
        signature: Forgery,
    },
    /// The user of `psid` writes each of `texts`, then each app of
    /// `requests` requests control of the thread; the app gets all of it in
    /// one delivery (a batch: several events, several entries). Requests in
    /// one batch are how two requests come to be pending at once (BP-4's
    /// "earliest pending requester"), and a message with them is a request
    /// the app may not honour at once (PASS-7).
    Batch {
        psid: Psid,
        texts: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        requests: Vec<AppIx>,
    },
    /// A delivery about `psid` of a kind the app may have no use for.
    Unusual { psid: Psid, kind: Unusual },
}

/// How a forged delivery is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// A well-formed signature made with another key.
    Wrong,
}

/// The unusual kinds of delivery (app-certification.md, stimuli).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unusual {
    /// A user message carrying fields no version of the API has.
    UnknownField,
    /// An event of a kind the API does not have.
    UnknownEvent,
    /// A postback on `standby`, which carries no `payload` (HOOK-2).
    StandbyPostback,
    /// An `app_roles` event repeating the app's current role.
    AppRoles,
}

impl Unusual {
    pub const ALL: &'static [Unusual] = &[
        Unusual::UnknownField,
        Unusual::UnknownEvent,
        Unusual::StandbyPostback,
        Unusual::AppRoles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Unusual::UnknownField => "unknown_field",
            Unusual::UnknownEvent => "unknown_event",
            Unusual::StandbyPostback => "standby_postback",
            Unusual::AppRoles => "app_roles",
        }
    }
}

impl Op {
    /// The PSID the operation is about, for changing it (the shrinker
    /// tries earlier PSIDs).
    pub fn psid_mut(&mut self) -> Option<&mut Psid> {
        match self {
            Op::Graph(g) => g.call.psid_mut(),
            Op::User(
                UserEvent::Message { psid, .. }
                | UserEvent::Postback { psid, .. }
                | UserEvent::Menu { psid, .. }
                | UserEvent::AdEntry { psid, .. },
            ) => Some(psid),
            Op::Inbox { psid, .. } => Some(psid),
            Op::Deliver(
                Special::Forged { psid, .. }
                | Special::Unusual { psid, .. }
                | Special::Retry { psid }
                | Special::Batch { psid, .. },
            ) => Some(psid),
            Op::Clock { .. } | Op::Roles { .. } => None,
        }
    }

    /// The surface a user event or inbox action names (control API
    /// `platform`); `None` for other operations, which find their thread by
    /// its id alone.
    pub fn platform(&self) -> Option<Surface> {
        match self {
            Op::User(ev) => Some(ev.platform()),
            Op::Inbox { platform, .. } => Some(*platform),
            Op::Graph(_) | Op::Clock { .. } | Op::Roles { .. } | Op::Deliver(_) => None,
        }
    }

    /// The PSID the operation is about; `None` for page-wide operations.
    pub fn psid(&self) -> Option<&Psid> {
        match self {
            Op::Graph(g) => g.call.psid(),
            Op::User(ev) => Some(ev.psid()),
            Op::Inbox { psid, .. } => Some(psid),
            Op::Deliver(
                Special::Forged { psid, .. }
                | Special::Unusual { psid, .. }
                | Special::Retry { psid }
                | Special::Batch { psid, .. },
            ) => Some(psid),
            Op::Clock { .. } | Op::Roles { .. } => None,
        }
    }
}

/// One Graph API call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphOp {
    pub caller: Caller,
    #[serde(default, skip_serializing_if = "Proof::is_absent")]
    pub proof: Proof,
    pub call: Call,
    #[serde(default, skip_serializing_if = "Transport::is_default")]
    pub transport: Transport,
}

impl GraphOp {
    /// A well-formed call by `app` with default transport and no proof.
    pub fn by(app: AppIx, call: Call) -> GraphOp {
        GraphOp {
            caller: Caller::App(app),
            proof: Proof::Absent,
            call,
            transport: Transport::default(),
        }
    }
}

/// Which access token a call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// The page access token of this app.
    App(AppIx),
    /// No token anywhere.
    Missing,
    /// `access_token=` with an empty value (counts as missing).
    Empty,
    /// A token no page knows.
    Unknown,
}

/// The `appsecret_proof` a call carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    #[default]
    Absent,
    /// HMAC-SHA256 of the token keyed with the calling app's secret.
    Right,
    /// A well-formed but wrong proof.
    Wrong,
}

impl Proof {
    fn is_absent(&self) -> bool {
        *self == Proof::Absent
    }
}

/// How a call is put on the wire. The model ignores it (every encoding and
/// every accepted spelling means the same); it is part of the operation so
/// that a counterexample replays byte for byte, and so the shrinker can
/// simplify it.
///
/// The fields after `unversioned` are the accepted spellings of `wire.md`'s
/// precise points. Each applies only where the request can show it (the
/// renderer's `canonical` says where); every one defaults to the plain
/// spelling and is left out of the JSON when plain, so counterexamples
/// written before these fields existed load unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transport {
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub token_at: TokenAt,
    /// Use the page id instead of `me` as node.
    #[serde(default)]
    pub page_node: bool,
    /// Leave out the `vNN.N` path prefix.
    #[serde(default)]
    pub unversioned: bool,
    /// A second, unknown token where it must lose: in the query beside a
    /// token in the body (the body wins), or in an `Authorization` header
    /// beside an `access_token` parameter (the parameter wins).
    #[serde(default, skip_serializing_if = "is_false")]
    pub decoy_token: bool,
    /// `appsecret_proof` in upper-case hex (hex is read in any case).
    #[serde(default, skip_serializing_if = "is_false")]
    pub proof_upper: bool,
    /// One parameter also in the query, with a wrong value: the body wins.
    #[serde(default, skip_serializing_if = "is_false")]
    pub decoy_param: bool,
    /// An extra parameter no edge knows (ignored).
    #[serde(default, skip_serializing_if = "is_false")]
    pub extra_param: bool,
    /// `recipient` as JSON text of the object: inside a JSON body (a form
    /// or query always carries it so), and on `thread_owner` instead of
    /// the bare PSID.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recipient_as_text: bool,
    /// Ids made of decimal digits (`recipient.id`, `target_app_id`,
    /// `psid`) as JSON integers wherever the value keeps its JSON type.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ids_as_integers: bool,
    /// Absent optional parameters, and the absent parts of `message`, as
    /// explicit JSON `null` (a JSON body only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub explicit_nulls: bool,
    /// How `duration` is written in a JSON body.
    #[serde(default, skip_serializing_if = "DurationAs::is_number")]
    pub duration_as: DurationAs,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Transport {
    pub fn is_default(&self) -> bool {
        *self == Transport::default()
    }
}

/// The spellings of an integer `duration` in a JSON body (form and query
/// values are always text).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationAs {
    /// `3600`.
    #[default]
    Number,
    /// `"3600"`.
    Text,
    /// `3600.0`.
    Float,
}

impl DurationAs {
    fn is_number(&self) -> bool {
        *self == DurationAs::Number
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`, objects as JSON text.
    Form,
    /// Every parameter in the query string.
    Query,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAt {
    #[default]
    Query,
    Body,
    Bearer,
    OAuth,
}

/// The Graph API edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    Messages,
    PassThreadControl,
    TakeThreadControl,
    RequestThreadControl,
    ReleaseThreadControl,
    ExtendThreadControl,
    ThreadOwner,
    SecondaryReceivers,
    MessengerProfile,
    CustomUserSettings,
    PassThreadMetadata,
}

impl Edge {
    pub const ALL: &'static [Edge] = &[
        Edge::Messages,
        Edge::PassThreadControl,
        Edge::TakeThreadControl,
        Edge::RequestThreadControl,
        Edge::ReleaseThreadControl,
        Edge::ExtendThreadControl,
        Edge::ThreadOwner,
        Edge::SecondaryReceivers,
        Edge::MessengerProfile,
        Edge::CustomUserSettings,
        Edge::PassThreadMetadata,
    ];

    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Edge::Messages => "messages",
            Edge::PassThreadControl => "pass_thread_control",
            Edge::TakeThreadControl => "take_thread_control",
            Edge::RequestThreadControl => "request_thread_control",
            Edge::ReleaseThreadControl => "release_thread_control",
            Edge::ExtendThreadControl => "extend_thread_control",
            Edge::ThreadOwner => "thread_owner",
            Edge::SecondaryReceivers => "secondary_receivers",
            Edge::MessengerProfile => "messenger_profile",
            Edge::CustomUserSettings => "custom_user_settings",
            Edge::PassThreadMetadata => "pass_thread_metadata",
        }
    }

    pub fn parse(s: &str) -> Option<Edge> {
        Edge::ALL.iter().copied().find(|e| e.as_str() == s)
    }
}

/// A Graph call's meaning, once decoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// `POST messages`.
    Send {
        psid: Psid,
        messaging_type: MessagingType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        message: Message,
    },
    /// `POST pass_thread_control`.
    Pass {
        psid: Psid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<AppRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// `POST take_thread_control`.
    Take {
        psid: Psid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// `POST request_thread_control`.
    Request {
        psid: Psid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// `POST release_thread_control`.
    Release { psid: Psid },
    /// `POST pass_thread_metadata` (PASS-7): context for another app, the
    /// owner keeping control. Both parameters are required.
    PassMetadata {
        psid: Psid,
        target: AppRef,
        metadata: String,
    },
    /// `POST extend_thread_control`; `duration` in seconds as an integer
    /// (one that is not an integer is a [`Defect`], see
    /// [`Defect::is_duration_not_integer`]).
    Extend { psid: Psid, duration: i64 },
    /// `GET thread_owner`.
    ThreadOwner { psid: Psid },
    /// `GET secondary_receivers`; `platform` as received (IG-6), `None`
    /// when absent.
    SecondaryReceivers {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
    },
    /// `POST messenger_profile` with `persistent_menu`; `platform` as
    /// received (IG-5), `None` when absent (Messenger).
    SetPageMenu {
        items: Vec<Choice>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
    },
    /// `DELETE messenger_profile` with `fields=["persistent_menu"]`.
    DeletePageMenu {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<String>,
    },
    /// `POST custom_user_settings` with `psid` and `persistent_menu`.
    SetUserMenu { psid: Psid, items: Vec<Choice> },
    /// `DELETE custom_user_settings?psid=…&params=["persistent_menu"]`.
    DeleteUserMenu { psid: Psid },
    /// A request that cannot be decoded into any of the above.
    Malformed { edge: Edge, defect: Defect },
}

impl Call {
    pub fn edge(&self) -> Edge {
        match self {
            Call::Send { .. } => Edge::Messages,
            Call::Pass { .. } => Edge::PassThreadControl,
            Call::Take { .. } => Edge::TakeThreadControl,
            Call::Request { .. } => Edge::RequestThreadControl,
            Call::Release { .. } => Edge::ReleaseThreadControl,
            Call::PassMetadata { .. } => Edge::PassThreadMetadata,
            Call::Extend { .. } => Edge::ExtendThreadControl,
            Call::ThreadOwner { .. } => Edge::ThreadOwner,
            Call::SecondaryReceivers { .. } => Edge::SecondaryReceivers,
            Call::SetPageMenu { .. } | Call::DeletePageMenu { .. } => Edge::MessengerProfile,
            Call::SetUserMenu { .. } | Call::DeleteUserMenu { .. } => Edge::CustomUserSettings,
            Call::Malformed { edge, .. } => *edge,
        }
    }

    /// The PSID the call is about, for changing it.
    pub fn psid_mut(&mut self) -> Option<&mut Psid> {
        match self {
            Call::Send { psid, .. }
            | Call::Pass { psid, .. }
            | Call::Take { psid, .. }
            | Call::Request { psid, .. }
            | Call::Release { psid }
            | Call::PassMetadata { psid, .. }
            | Call::Extend { psid, .. }
            | Call::ThreadOwner { psid }
            | Call::SetUserMenu { psid, .. }
            | Call::DeleteUserMenu { psid } => Some(psid),
            _ => None,
        }
    }

    /// The PSID the call is about, if any.
    pub fn psid(&self) -> Option<&Psid> {
        match self {
            Call::Send { psid, .. }
            | Call::Pass { psid, .. }
            | Call::Take { psid, .. }
            | Call::Request { psid, .. }
            | Call::Release { psid }
            | Call::PassMetadata { psid, .. }
            | Call::Extend { psid, .. }
            | Call::ThreadOwner { psid }
            | Call::SetUserMenu { psid, .. }
            | Call::DeleteUserMenu { psid } => Some(psid),
            Call::SecondaryReceivers { .. }
            | Call::SetPageMenu { .. }
            | Call::DeletePageMenu { .. }
            | Call::Malformed { .. } => None,
        }
    }
}

/// Where in the order of checks a defect is found (`wire.md`, precise points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// 1: the path is not `/{version}/{node}/{edge}`; decided before the token.
    Path,
    /// 3: wrong node, unknown edge or method; after the token, before the proof.
    Route,
    /// 5: parameters; after the proof, before the PSID check.
    Params,
}

/// Ways a request can be malformed. The reference server reports what its
/// decoder found as one of these; the driver knows how to produce each.
///
/// Variants are only ever added (counterexamples name them by their JSON
/// name), so the newer ones come after `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Defect {
    /// The path has no edge, or too many segments.
    BadPath,
    /// The node is neither `me` nor the token's page id.
    WrongNode,
    /// The edge is not one of the Graph edges.
    UnknownEdge,
    /// The edge does not take this HTTP method.
    WrongMethod,
    /// The body is neither JSON nor a form.
    BodyNotJson,
    RecipientMissing,
    /// `recipient` is not an object with a usable `id` (`[1]`, `{}`).
    RecipientMalformed,
    /// An id is `""` (or a value of a kind no other id defect names, such
    /// as an array).
    IdMalformed,
    MessagingTypeMissing,
    MessagingTypeUnknown,
    MessageMissing,
    /// `message` is none of text, buttons and survey (`{}`).
    MessageMalformed,
    MetadataNotString,
    DurationMissing,
    /// `duration` is text that is no number (`"abc"`).
    DurationNotInteger,
    /// `custom_user_settings` without `psid`.
    PsidMissing,
    /// `persistent_menu` or `fields`/`params` are missing or malformed.
    MenuMalformed,
    /// Anything else the decoder refused.
    Other,
    /// An id is a boolean.
    IdBoolean,
    /// An id is a number with a fraction (`1.5`).
    IdFloat,
    /// An id is an object.
    IdObject,
    /// `duration` is a number with a fraction (`1.5`, or its text).
    DurationFloat,
    /// `duration` is a boolean.
    DurationBool,
    /// `duration` is JSON `null` (where null does not mean absent).
    DurationNull,
    /// `message` has both `text` and `attachment`.
    TextAndAttachment,
    /// `recipient` is a bare PSID on an edge other than `thread_owner`.
    RecipientBare,
    /// `pass_thread_metadata` without `target_app_id` (PASS-7: required).
    TargetMissing,
    /// `pass_thread_metadata` without `metadata` (PASS-7: required).
    MetadataMissing,
}

impl Defect {
    /// Every defect, in declaration order.
    pub const ALL: &'static [Defect] = &[
        Defect::BadPath,
        Defect::WrongNode,
        Defect::UnknownEdge,
        Defect::WrongMethod,
        Defect::BodyNotJson,
        Defect::RecipientMissing,
        Defect::RecipientMalformed,
        Defect::IdMalformed,
        Defect::MessagingTypeMissing,
        Defect::MessagingTypeUnknown,
        Defect::MessageMissing,
        Defect::MessageMalformed,
        Defect::MetadataNotString,
        Defect::DurationMissing,
        Defect::DurationNotInteger,
        Defect::PsidMissing,
        Defect::MenuMalformed,
        Defect::Other,
        Defect::IdBoolean,
        Defect::IdFloat,
        Defect::IdObject,
        Defect::DurationFloat,
        Defect::DurationBool,
        Defect::DurationNull,
        Defect::TextAndAttachment,
        Defect::RecipientBare,
        Defect::TargetMissing,
        Defect::MetadataMissing,
    ];

    pub fn stage(self) -> Stage {
        match self {
            Defect::BadPath => Stage::Path,
            Defect::WrongNode | Defect::UnknownEdge | Defect::WrongMethod => Stage::Route,
            _ => Stage::Params,
        }
    }

    /// Whether the defect is a `duration` that is not an integer: EXP-3
    /// names it besides INPUT-1.
    pub fn is_duration_not_integer(self) -> bool {
        matches!(
            self,
            Defect::DurationNotInteger
                | Defect::DurationFloat
                | Defect::DurationBool
                | Defect::DurationNull
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Defect::BadPath => "bad_path",
            Defect::WrongNode => "wrong_node",
            Defect::UnknownEdge => "unknown_edge",
            Defect::WrongMethod => "wrong_method",
            Defect::BodyNotJson => "body_not_json",
            Defect::RecipientMissing => "recipient_missing",
            Defect::RecipientMalformed => "recipient_malformed",
            Defect::IdMalformed => "id_malformed",
            Defect::MessagingTypeMissing => "messaging_type_missing",
            Defect::MessagingTypeUnknown => "messaging_type_unknown",
            Defect::MessageMissing => "message_missing",
            Defect::MessageMalformed => "message_malformed",
            Defect::MetadataNotString => "metadata_not_string",
            Defect::DurationMissing => "duration_missing",
            Defect::DurationNotInteger => "duration_not_integer",
            Defect::PsidMissing => "psid_missing",
            Defect::MenuMalformed => "menu_malformed",
            Defect::Other => "other",
            Defect::IdBoolean => "id_boolean",
            Defect::IdFloat => "id_float",
            Defect::IdObject => "id_object",
            Defect::DurationFloat => "duration_float",
            Defect::DurationBool => "duration_bool",
            Defect::DurationNull => "duration_null",
            Defect::TextAndAttachment => "text_and_attachment",
            Defect::RecipientBare => "recipient_bare",
            Defect::TargetMissing => "target_missing",
            Defect::MetadataMissing => "metadata_missing",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessagingType {
    Response,
    Update,
    MessageTag,
}

impl MessagingType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessagingType::Response => "RESPONSE",
            MessagingType::Update => "UPDATE",
            MessagingType::MessageTag => "MESSAGE_TAG",
        }
    }
}

/// The tag that lets an approved app send without owning the thread (HA-1).
pub const HUMAN_AGENT_TAG: &str = "HUMAN_AGENT";

/// A titled postback: a quick reply, a button or a persistent-menu item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Choice {
    pub title: String,
    pub payload: String,
}

/// What an app sends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_replies: Option<Vec<Choice>>,
    },
    /// A button template; the sender owns every postback in it (CTA-1).
    Buttons { text: String, buttons: Vec<Choice> },
    /// A `customer_feedback` template (SURVEY-1).
    Survey {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
}

/// What the user does (control API `user_event`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
///
/// Each event names its surface (`platform`, Messenger when absent): the
/// first event naming a user id decides the thread's surface, and an event
/// naming a user id of the other surface is a control-API error.
pub enum UserEvent {
    Message {
        psid: Psid,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    /// A tap on a button of an earlier message in this PSID's transcript.
    Postback {
        psid: Psid,
        message: MsgRef,
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    /// A pick from the persistent menu in force.
    Menu {
        psid: Psid,
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    /// Arrival from a Click-to-Messenger ad (on Instagram: a
    /// Click-to-Instagram-Direct ad) assigned to `app`.
    AdEntry {
        psid: Psid,
        app: AppRef,
        ad_id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
}

impl UserEvent {
    pub fn psid(&self) -> &Psid {
        match self {
            UserEvent::Message { psid, .. }
            | UserEvent::Postback { psid, .. }
            | UserEvent::Menu { psid, .. }
            | UserEvent::AdEntry { psid, .. } => psid,
        }
    }

    /// The surface the event happens on.
    pub fn platform(&self) -> Surface {
        match self {
            UserEvent::Message { platform, .. }
            | UserEvent::Postback { platform, .. }
            | UserEvent::Menu { platform, .. }
            | UserEvent::AdEntry { platform, .. } => *platform,
        }
    }
}

/// Which earlier message a postback was tapped on: its position in the
/// PSID's transcript (0 = oldest). Message ids differ between
/// implementations, positions do not; the driver maps one to the other.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MsgRef {
    Nth(u32),
    /// A message id the PSID's transcript does not hold.
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxAction {
    MoveToMain,
    Reply { text: String },
    MarkDone,
}

impl InboxAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            InboxAction::MoveToMain => "move_to_main",
            InboxAction::Reply { .. } => "reply",
            InboxAction::MarkDone => "mark_done",
        }
    }
}

// ---------------------------------------------------------------------------
// One-line human rendering, e.g. `app 2 take_thread_control psid 1 metadata "m"`.

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Graph(g) => g.fmt(f),
            Op::User(u) => u.fmt(f),
            Op::Inbox {
                psid,
                action,
                platform,
            } => {
                if platform.is_instagram() {
                    f.write_str("instagram ")?;
                }
                write!(f, "inbox psid {psid} {}", action.as_str())?;
                if let InboxAction::Reply { text } = action {
                    write!(f, " {text:?}")?;
                }
                Ok(())
            }
            Op::Clock { advance_ms } => write!(f, "clock +{advance_ms}ms"),
            Op::Roles { primary: None } => f.write_str("roles primary none"),
            Op::Roles { primary: Some(p) } => write!(f, "roles primary {p}"),
            Op::Deliver(d) => d.fmt(f),
        }
    }
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Special::Retry { psid } => {
                write!(
                    f,
                    "deliver the latest delivery about psid {psid} again (a retry)"
                )
            }
            Special::Forged {
                psid,
                text,
                signature,
            } => {
                let how = match signature {
                    Forgery::Missing => "without a signature",
                    Forgery::Wrong => "with a wrong signature",
                };
                write!(f, "deliver {how}: psid {psid} message {text:?}")
            }
            Special::Batch {
                psid,
                texts,
                requests,
            } => {
                write!(f, "user psid {psid} writes {texts:?}")?;
                for a in requests {
                    write!(f, ", {a} requests control")?;
                }
                f.write_str(", delivered as one batch")
            }
            Special::Unusual { psid, kind } => {
                write!(f, "deliver psid {psid} unusual {}", kind.as_str())
            }
        }
    }
}

impl fmt::Display for GraphOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.caller {
            Caller::App(a) => a.fmt(f)?,
            Caller::Missing => f.write_str("no-token")?,
            Caller::Empty => f.write_str("empty-token")?,
            Caller::Unknown => f.write_str("unknown-token")?,
        }
        write!(f, " {}", self.call.edge().as_str())?;
        match &self.call {
            Call::Send {
                psid,
                messaging_type,
                tag,
                message,
            } => {
                write!(f, " psid {psid} {}", messaging_type.as_str())?;
                if let Some(t) = tag {
                    write!(f, " tag {t}")?;
                }
                match message {
                    Message::Text {
                        text,
                        quick_replies,
                    } => {
                        write!(f, " text {text:?}")?;
                        if let Some(q) = quick_replies {
                            write!(f, " quick_replies {}", choices(q))?;
                        }
                    }
                    Message::Buttons { text, buttons } => {
                        write!(f, " buttons {text:?} {}", choices(buttons))?
                    }
                    Message::Survey { title } => match title {
                        Some(t) => write!(f, " survey {t:?}")?,
                        None => f.write_str(" survey")?,
                    },
                }
            }
            Call::Pass {
                psid,
                target,
                metadata,
            } => {
                write!(f, " psid {psid}")?;
                if let Some(t) = target {
                    write!(f, " target {t}")?;
                }
                meta(f, metadata)?;
            }
            Call::Take { psid, metadata } | Call::Request { psid, metadata } => {
                write!(f, " psid {psid}")?;
                meta(f, metadata)?;
            }
            Call::PassMetadata {
                psid,
                target,
                metadata,
            } => write!(f, " psid {psid} target {target} metadata {metadata:?}")?,
            Call::Release { psid } | Call::ThreadOwner { psid } | Call::DeleteUserMenu { psid } => {
                write!(f, " psid {psid}")?;
            }
            Call::Extend { psid, duration } => write!(f, " psid {psid} duration {duration}")?,
            Call::SecondaryReceivers { platform } => platform_param(f, platform)?,
            Call::SetPageMenu { items, platform } => {
                platform_param(f, platform)?;
                write!(f, " set {}", choices(items))?
            }
            Call::DeletePageMenu { platform } => {
                platform_param(f, platform)?;
                f.write_str(" delete")?
            }
            Call::SetUserMenu { psid, items } => write!(f, " psid {psid} set {}", choices(items))?,
            Call::Malformed { defect, .. } => write!(f, " malformed {}", defect.as_str())?,
        }
        if let Call::DeleteUserMenu { .. } = self.call {
            f.write_str(" delete")?;
        }
        match self.proof {
            Proof::Absent => {}
            Proof::Right => f.write_str(" proof")?,
            Proof::Wrong => f.write_str(" wrong-proof")?,
        }
        if !self.transport.is_default() {
            let t = self.transport;
            let enc = match t.encoding {
                Encoding::Json => "json",
                Encoding::Form => "form",
                Encoding::Query => "query",
            };
            let tok = match t.token_at {
                TokenAt::Query => "query",
                TokenAt::Body => "body",
                TokenAt::Bearer => "bearer",
                TokenAt::OAuth => "oauth",
            };
            write!(f, " [{enc}, token in {tok}")?;
            let flags = [
                (t.page_node, ", page node"),
                (t.unversioned, ", unversioned"),
                (t.decoy_token, ", decoy token"),
                (t.proof_upper, ", proof in upper case"),
                (t.decoy_param, ", decoy param in query"),
                (t.extra_param, ", extra param"),
                (t.recipient_as_text, ", recipient as text"),
                (t.ids_as_integers, ", ids as integers"),
                (t.explicit_nulls, ", explicit nulls"),
                (t.duration_as == DurationAs::Text, ", duration as text"),
                (t.duration_as == DurationAs::Float, ", duration as float"),
            ];
            for (on, what) in flags {
                if on {
                    f.write_str(what)?;
                }
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl fmt::Display for UserEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.platform().is_instagram() {
            f.write_str("instagram ")?;
        }
        match self {
            UserEvent::Message {
                psid,
                text,
                quick_reply,
                ..
            } => {
                write!(f, "user psid {psid} message {text:?}")?;
                if let Some(q) = quick_reply {
                    write!(f, " quick_reply {q:?}")?;
                }
                Ok(())
            }
            UserEvent::Postback {
                psid,
                message,
                payload,
                title,
                ..
            } => {
                write!(f, "user psid {psid} postback ")?;
                match message {
                    MsgRef::Nth(n) => write!(f, "on message #{n}")?,
                    MsgRef::Unknown(mid) => write!(f, "on unknown mid {mid:?}")?,
                }
                write!(f, " payload {payload:?}")?;
                if let Some(t) = title {
                    write!(f, " title {t:?}")?;
                }
                Ok(())
            }
            UserEvent::Menu {
                psid,
                payload,
                title,
                ..
            } => {
                write!(f, "user psid {psid} menu payload {payload:?}")?;
                if let Some(t) = title {
                    write!(f, " title {t:?}")?;
                }
                Ok(())
            }
            UserEvent::AdEntry {
                psid,
                app,
                ad_id,
                text,
                ..
            } => {
                write!(
                    f,
                    "user psid {psid} ad_entry for {app} ad {ad_id:?} text {text:?}"
                )
            }
        }
    }
}

fn platform_param(f: &mut fmt::Formatter<'_>, platform: &Option<String>) -> fmt::Result {
    match platform {
        Some(p) => write!(f, " platform {p:?}"),
        None => Ok(()),
    }
}

fn meta(f: &mut fmt::Formatter<'_>, metadata: &Option<String>) -> fmt::Result {
    match metadata {
        Some(m) => write!(f, " metadata {m:?}"),
        None => Ok(()),
    }
}

fn choices(items: &[Choice]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|c| format!("{:?}:{:?}", c.title, c.payload))
        .collect();
    format!("[{}]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line() {
        let op = Op::Graph(GraphOp::by(
            AppIx(2),
            Call::Take {
                psid: "1".into(),
                metadata: Some("m".into()),
            },
        ));
        assert_eq!(
            op.to_string(),
            r#"app 2 take_thread_control psid 1 metadata "m""#
        );
        let op = Op::Graph(GraphOp {
            caller: Caller::Unknown,
            proof: Proof::Wrong,
            call: Call::Release { psid: "3".into() },
            transport: Transport {
                encoding: Encoding::Form,
                token_at: TokenAt::Bearer,
                ..Default::default()
            },
        });
        assert_eq!(
            op.to_string(),
            "unknown-token release_thread_control psid 3 wrong-proof [form, token in bearer]"
        );
        assert_eq!(Op::Clock { advance_ms: 5 }.to_string(), "clock +5ms");
        let op = Op::User(UserEvent::Message {
            psid: "9".into(),
            text: "hi".into(),
            quick_reply: None,
            platform: Surface::Instagram,
        });
        assert_eq!(op.to_string(), r#"instagram user psid 9 message "hi""#);
        let op = Op::Graph(GraphOp::by(
            AppIx(0),
            Call::SetPageMenu {
                items: vec![],
                platform: Some("INSTAGRAM".into()),
            },
        ));
        assert_eq!(
            op.to_string(),
            r#"app 0 messenger_profile platform "INSTAGRAM" set []"#
        );
        let op = Op::Graph(GraphOp {
            caller: Caller::App(AppIx(0)),
            proof: Proof::Right,
            call: Call::Extend {
                psid: "1".into(),
                duration: 3600,
            },
            transport: Transport {
                decoy_token: true,
                proof_upper: true,
                duration_as: DurationAs::Text,
                ..Default::default()
            },
        });
        assert_eq!(
            op.to_string(),
            "app 0 extend_thread_control psid 1 duration 3600 proof \
             [json, token in query, decoy token, proof in upper case, duration as text]"
        );
    }

    #[test]
    fn transports_without_the_spellings_serialize_as_before() {
        // A transport written before the spelling fields existed loads,
        // and a plain one writes no spelling field.
        let old = r#"{"encoding":"form","token_at":"bearer","page_node":true,"unversioned":false}"#;
        let t: Transport = serde_json::from_str(old).unwrap();
        assert_eq!(
            t,
            Transport {
                encoding: Encoding::Form,
                token_at: TokenAt::Bearer,
                page_node: true,
                ..Transport::default()
            }
        );
        assert_eq!(serde_json::to_string(&t).unwrap(), old);
        let spelled = Transport {
            ids_as_integers: true,
            duration_as: DurationAs::Float,
            ..Transport::default()
        };
        let json = serde_json::to_string(&spelled).unwrap();
        assert!(
            json.ends_with(r#""ids_as_integers":true,"duration_as":"float"}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Transport>(&json).unwrap(), spelled);
    }

    #[test]
    fn defects_have_distinct_names_and_the_new_ones_are_parameters() {
        let names: std::collections::BTreeSet<&str> =
            Defect::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(names.len(), Defect::ALL.len());
        for d in Defect::ALL {
            let json = serde_json::to_string(d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
        }
        for d in [
            Defect::IdBoolean,
            Defect::IdFloat,
            Defect::IdObject,
            Defect::DurationFloat,
            Defect::DurationBool,
            Defect::DurationNull,
            Defect::TextAndAttachment,
            Defect::RecipientBare,
        ] {
            assert_eq!(d.stage(), Stage::Params);
        }
        assert!(Defect::DurationNull.is_duration_not_integer());
        assert!(!Defect::DurationMissing.is_duration_not_integer());
    }

    #[test]
    fn serializes_compactly_and_round_trips() {
        let ops = vec![
            Op::Graph(GraphOp::by(
                AppIx(1),
                Call::Pass {
                    psid: "1".into(),
                    target: Some(AppRef::PageInbox),
                    metadata: None,
                },
            )),
            Op::User(UserEvent::Postback {
                psid: "1".into(),
                message: MsgRef::Nth(0),
                payload: "p".into(),
                title: None,
                platform: Surface::Messenger,
            }),
            Op::Inbox {
                psid: "1".into(),
                action: InboxAction::Reply { text: "hi".into() },
                platform: Surface::Messenger,
            },
            Op::Roles { primary: None },
        ];
        let json = serde_json::to_string(&ops).unwrap();
        assert!(json.starts_with(r#"[{"graph":{"caller":{"app":1},"call":{"pass":{"psid":"1","target":"page_inbox"}}}}"#), "{json}");
        // Messenger operations serialize as before the second surface.
        assert!(!json.contains("platform"), "{json}");
        let back: Vec<Op> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ops);
        let ig = vec![
            Op::Inbox {
                psid: "1".into(),
                action: InboxAction::MarkDone,
                platform: Surface::Instagram,
            },
            Op::Graph(GraphOp::by(
                AppIx(0),
                Call::Pass {
                    psid: "1".into(),
                    target: Some(AppRef::InstagramInbox),
                    metadata: None,
                },
            )),
        ];
        let json = serde_json::to_string(&ig).unwrap();
        assert_eq!(
            json,
            r#"[{"inbox":{"psid":"1","action":"mark_done","platform":"instagram"}},{"graph":{"caller":{"app":0},"call":{"pass":{"psid":"1","target":"instagram_inbox"}}}}]"#
        );
        assert_eq!(serde_json::from_str::<Vec<Op>>(&json).unwrap(), ig);
    }
}
