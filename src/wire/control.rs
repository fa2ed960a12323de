//! The control API (`control-api.md`): what the harness uses to drive the
//! things the Graph API cannot (users, the Page Inbox, the clock, roles).
//!
//! The request types double as the server's decoder and the driver's
//! encoder. The conversions to and from model [`Op`]s are where the two
//! sides' different knowledge meets: the server knows message ids and app
//! ids and must turn them into transcript positions and setup indices (via
//! the page's [`State`]); the driver knows positions and must turn them
//! back into the ids this particular implementation chose ([`MidMap`]).

use super::http::{AppCredentials, Redacted};
use super::ids;
use crate::model::{
    AppIx, AppRef, AppSpec, ControlSuccess, INSTAGRAM_INBOX_APP_ID, InboxAction, MessageKind,
    MsgRef, Op, PAGE_INBOX_APP_ID, Party, Setup, State, Surface, TranscriptEntry, UserEvent,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;

/// Where the control API lives by default, relative to the Graph API.
pub const CONTROL_PREFIX: &str = "/conformance";
/// The header carrying the conformance key.
pub const KEY_HEADER: &str = "X-Conformance-Key";
/// Every feature the control API can advertise in `info`.
pub const ALL_FEATURES: &[&str] = &["flush", "transcript", "clock", "roles", "instagram"];
/// The feature an implementation with the Instagram surface advertises.
pub const INSTAGRAM_FEATURE: &str = "instagram";

/// `GET info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoAnswer {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub features: Vec<String>,
}

/// One app of a `reset`. Its `Debug` output hides the token and secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetApp {
    #[serde(deserialize_with = "ids::id")]
    pub app_id: String,
    pub name: String,
    pub access_token: String,
    pub app_secret: String,
    pub webhook_url: String,
    #[serde(default)]
    pub human_agent: bool,
    #[serde(default)]
    pub require_appsecret_proof: bool,
}

impl fmt::Debug for ResetApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetApp")
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("access_token", &Redacted(&self.access_token))
            .field("app_secret", &Redacted(&self.app_secret))
            .field("webhook_url", &self.webhook_url)
            .field("human_agent", &self.human_agent)
            .field("require_appsecret_proof", &self.require_appsecret_proof)
            .finish()
    }
}

/// `POST reset`. A missing `primary_receiver` means none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRequest {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
    pub now_ms: u64,
    #[serde(
        default,
        serialize_with = "ids::ser_opt",
        deserialize_with = "ids::opt_id"
    )]
    pub primary_receiver: Option<String>,
    pub apps: Vec<ResetApp>,
    /// The linked Instagram professional account (`instagram.md`); absent:
    /// the page has no Instagram surface.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "ids::opt_id"
    )]
    pub instagram_account_id: Option<String>,
}

impl ResetRequest {
    /// The page's setup and its apps' credentials (in setup order), with
    /// the checks of [`Setup::new`] plus: tokens are non-empty and distinct
    /// within the page. (Uniqueness across pages is the server's to check.)
    pub fn to_setup(&self) -> Result<(Setup, Vec<AppCredentials>), String> {
        for (i, a) in self.apps.iter().enumerate() {
            if a.access_token.is_empty() {
                return Err(format!("apps[{i}].access_token must not be empty"));
            }
            if self.apps[..i]
                .iter()
                .any(|b| b.access_token == a.access_token)
            {
                return Err(format!("apps[{i}].access_token is used by another app"));
            }
        }
        let specs = self
            .apps
            .iter()
            .map(|a| AppSpec {
                app_id: a.app_id.clone(),
                name: a.name.clone(),
                human_agent: a.human_agent,
                require_appsecret_proof: a.require_appsecret_proof,
            })
            .collect();
        let setup = Setup::new(
            self.page_id.clone(),
            self.now_ms,
            specs,
            self.primary_receiver.as_deref(),
        )?
        .with_instagram(self.instagram_account_id.clone())?;
        let creds = self
            .apps
            .iter()
            .map(|a| AppCredentials {
                access_token: a.access_token.clone(),
                app_secret: a.app_secret.clone(),
                webhook_url: a.webhook_url.clone(),
            })
            .collect();
        Ok((setup, creds))
    }

    /// The `reset` that starts `setup` with these credentials (paired in
    /// order; apps beyond the shorter list are left out).
    pub fn from_setup(setup: &Setup, creds: &[AppCredentials]) -> ResetRequest {
        ResetRequest {
            page_id: setup.page_id.clone(),
            now_ms: setup.now_ms,
            primary_receiver: setup.primary.map(|p| setup.app(p).app_id.clone()),
            instagram_account_id: setup.instagram_account_id.clone(),
            apps: setup
                .apps
                .iter()
                .zip(creds)
                .map(|(s, c)| ResetApp {
                    app_id: s.app_id.clone(),
                    name: s.name.clone(),
                    access_token: c.access_token.clone(),
                    app_secret: c.app_secret.clone(),
                    webhook_url: c.webhook_url.clone(),
                    human_agent: s.human_agent,
                    require_appsecret_proof: s.require_appsecret_proof,
                })
                .collect(),
        }
    }
}

/// `POST roles`. A missing `primary_receiver` means none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesRequest {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
    #[serde(
        default,
        serialize_with = "ids::ser_opt",
        deserialize_with = "ids::opt_id"
    )]
    pub primary_receiver: Option<String>,
}

/// `POST user_event`, by `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserEventRequest {
    Message {
        #[serde(deserialize_with = "ids::id")]
        page_id: String,
        #[serde(deserialize_with = "ids::id")]
        psid: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quick_reply_payload: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    Postback {
        #[serde(deserialize_with = "ids::id")]
        page_id: String,
        #[serde(deserialize_with = "ids::id")]
        psid: String,
        mid: String,
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    Menu {
        #[serde(deserialize_with = "ids::id")]
        page_id: String,
        #[serde(deserialize_with = "ids::id")]
        psid: String,
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
    AdEntry {
        #[serde(deserialize_with = "ids::id")]
        page_id: String,
        #[serde(deserialize_with = "ids::id")]
        psid: String,
        #[serde(deserialize_with = "ids::id")]
        app_id: String,
        #[serde(deserialize_with = "ids::id")]
        ad_id: String,
        text: String,
        #[serde(default, skip_serializing_if = "Surface::is_messenger")]
        platform: Surface,
    },
}

impl UserEventRequest {
    pub fn page_id(&self) -> &str {
        match self {
            UserEventRequest::Message { page_id, .. }
            | UserEventRequest::Postback { page_id, .. }
            | UserEventRequest::Menu { page_id, .. }
            | UserEventRequest::AdEntry { page_id, .. } => page_id,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxActionName {
    MoveToMain,
    Reply,
    MarkDone,
}

/// `POST inbox`; `text` only with `reply`. With `platform: instagram` the
/// Instagram Inbox acts on an Instagram thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRequest {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
    pub action: InboxActionName,
    #[serde(deserialize_with = "ids::id")]
    pub psid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Surface::is_messenger")]
    pub platform: Surface,
}

/// `POST clock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRequest {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
    pub advance_ms: u64,
}

/// `POST flush`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushRequest {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
}

/// `GET transcript?page_id=…&psid=…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptQuery {
    #[serde(deserialize_with = "ids::id")]
    pub page_id: String,
    #[serde(deserialize_with = "ids::id")]
    pub psid: String,
}

/// `{"ok":true}`, with `mid` for user events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkAnswer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
}

/// `{"now_ms":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockAnswer {
    pub now_ms: u64,
}

/// `{"delivered":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushAnswer {
    pub delivered: u64,
}

/// `{"data":[…]}` of `transcript`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptAnswer {
    pub data: Vec<TranscriptItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptItem {
    pub mid: String,
    #[serde(deserialize_with = "ids::id")]
    pub from_app_id: String,
    pub kind: MessageKind,
    pub text: String,
}

impl TranscriptItem {
    pub fn from_entry(e: &TranscriptEntry, setup: &Setup) -> TranscriptItem {
        TranscriptItem {
            mid: e.mid.clone(),
            from_app_id: setup.party_id(e.from).to_string(),
            kind: e.kind,
            text: e.text.clone(),
        }
    }

    pub fn to_entry(&self, setup: &Setup) -> Result<TranscriptEntry, String> {
        let from = match setup.app_ref(&self.from_app_id) {
            AppRef::App(a) => Party::App(a),
            AppRef::PageInbox => Party::PageInbox,
            AppRef::InstagramInbox => Party::InstagramInbox,
            AppRef::Unknown(id) => {
                return Err(format!("transcript names an unknown sender {id:?}"));
            }
        };
        Ok(TranscriptEntry {
            mid: self.mid.clone(),
            from,
            kind: self.kind,
            text: self.text.clone(),
        })
    }

    /// The same message as far as the harness compares: sender, kind and
    /// text (message ids differ between implementations).
    pub fn same_message(&self, other: &TranscriptItem) -> bool {
        self.from_app_id == other.from_app_id && self.kind == other.kind && self.text == other.text
    }
}

/// `text from 1001: "hi"`.
impl std::fmt::Display for TranscriptItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} from {}: {:?}",
            self.kind.as_str(),
            self.from_app_id,
            self.text
        )
    }
}

/// `{"error":"…"}`: a control-API error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    pub error: String,
}

/// Any control-API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlRequest {
    Info,
    Reset(ResetRequest),
    Roles(RolesRequest),
    UserEvent(UserEventRequest),
    Inbox(InboxRequest),
    Clock(ClockRequest),
    Flush(FlushRequest),
    Transcript(TranscriptQuery),
}

impl ControlRequest {
    /// Decodes a call. `route` is the path below the control prefix
    /// (`reset`, `/reset` or `/conformance/reset`); `query` matters only for
    /// `GET transcript`. An unknown route or method is an error (400).
    pub fn parse(
        method: &str,
        route: &str,
        query: &str,
        body: &[u8],
    ) -> Result<ControlRequest, String> {
        let route = route.strip_prefix(CONTROL_PREFIX).unwrap_or(route);
        let route = route.trim_matches('/');
        let m = method.to_ascii_uppercase();
        fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
            serde_json::from_slice(body).map_err(|e| format!("bad request body: {e}"))
        }
        match (m.as_str(), route) {
            ("GET", "info") => Ok(ControlRequest::Info),
            ("POST", "reset") => json(body).map(ControlRequest::Reset),
            ("POST", "roles") => json(body).map(ControlRequest::Roles),
            ("POST", "user_event") => json(body).map(ControlRequest::UserEvent),
            ("POST", "inbox") => json(body).map(ControlRequest::Inbox),
            ("POST", "clock") => json(body).map(ControlRequest::Clock),
            ("POST", "flush") => json(body).map(ControlRequest::Flush),
            ("GET", "transcript") => {
                let q: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                serde_json::from_value(Value::Object(q))
                    .map(ControlRequest::Transcript)
                    .map_err(|e| format!("bad transcript query: {e}"))
            }
            (
                _,
                "info" | "reset" | "roles" | "user_event" | "inbox" | "clock" | "flush"
                | "transcript",
            ) => Err(format!("{method} is not allowed on {route}")),
            _ => Err(format!("no control route {route:?}")),
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            ControlRequest::Info | ControlRequest::Transcript(_) => "GET",
            _ => "POST",
        }
    }

    /// The path below the control prefix, e.g. `reset`.
    pub fn route(&self) -> &'static str {
        match self {
            ControlRequest::Info => "info",
            ControlRequest::Reset(_) => "reset",
            ControlRequest::Roles(_) => "roles",
            ControlRequest::UserEvent(_) => "user_event",
            ControlRequest::Inbox(_) => "inbox",
            ControlRequest::Clock(_) => "clock",
            ControlRequest::Flush(_) => "flush",
            ControlRequest::Transcript(_) => "transcript",
        }
    }

    /// The query string (`transcript` only).
    pub fn query(&self) -> Option<String> {
        match self {
            ControlRequest::Transcript(q) => Some(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("page_id", &q.page_id)
                    .append_pair("psid", &q.psid)
                    .finish(),
            ),
            _ => None,
        }
    }

    /// The JSON body (`POST` calls only).
    pub fn body(&self) -> Option<Value> {
        let v = match self {
            ControlRequest::Info | ControlRequest::Transcript(_) => return None,
            ControlRequest::Reset(r) => serde_json::to_value(r),
            ControlRequest::Roles(r) => serde_json::to_value(r),
            ControlRequest::UserEvent(r) => serde_json::to_value(r),
            ControlRequest::Inbox(r) => serde_json::to_value(r),
            ControlRequest::Clock(r) => serde_json::to_value(r),
            ControlRequest::Flush(r) => serde_json::to_value(r),
        };
        Some(v.expect("control requests serialize"))
    }

    /// The page the call is about (`info` has none).
    pub fn page_id(&self) -> Option<&str> {
        Some(match self {
            ControlRequest::Info => return None,
            ControlRequest::Reset(r) => &r.page_id,
            ControlRequest::Roles(r) => &r.page_id,
            ControlRequest::UserEvent(r) => r.page_id(),
            ControlRequest::Inbox(r) => &r.page_id,
            ControlRequest::Clock(r) => &r.page_id,
            ControlRequest::Flush(r) => &r.page_id,
            ControlRequest::Transcript(r) => &r.page_id,
        })
    }

    /// The model operation this call is, for the page in `state`: app ids
    /// resolved with [`Setup::app_ref`], a postback's `mid` turned into its
    /// transcript position ([`MsgRef::Unknown`] when the PSID's transcript
    /// does not hold it). `Ok(None)` for calls that are not operations
    /// (`info`, `reset`, `flush`, `transcript`). An `inbox` `reply` without
    /// `text` is an error.
    pub fn to_op(&self, state: &State) -> Result<Option<Op>, String> {
        let setup = &state.setup;
        Ok(Some(match self {
            ControlRequest::Info
            | ControlRequest::Reset(_)
            | ControlRequest::Flush(_)
            | ControlRequest::Transcript(_) => return Ok(None),
            ControlRequest::Roles(r) => Op::Roles {
                primary: r.primary_receiver.as_deref().map(|id| setup.app_ref(id)),
            },
            ControlRequest::Clock(c) => Op::Clock {
                advance_ms: c.advance_ms,
            },
            ControlRequest::Inbox(i) => Op::Inbox {
                psid: i.psid.clone(),
                platform: i.platform,
                action: match i.action {
                    InboxActionName::MoveToMain => InboxAction::MoveToMain,
                    InboxActionName::MarkDone => InboxAction::MarkDone,
                    InboxActionName::Reply => InboxAction::Reply {
                        text: i
                            .text
                            .clone()
                            .ok_or_else(|| "inbox reply needs \"text\"".to_string())?,
                    },
                },
            },
            ControlRequest::UserEvent(u) => Op::User(match u {
                UserEventRequest::Message {
                    psid,
                    text,
                    quick_reply_payload,
                    platform,
                    ..
                } => UserEvent::Message {
                    psid: psid.clone(),
                    text: text.clone(),
                    quick_reply: quick_reply_payload.clone(),
                    platform: *platform,
                },
                UserEventRequest::Postback {
                    psid,
                    mid,
                    payload,
                    title,
                    platform,
                    ..
                } => UserEvent::Postback {
                    platform: *platform,
                    psid: psid.clone(),
                    message: match state.message_position(psid, mid) {
                        Some(n) => MsgRef::Nth(n),
                        None => MsgRef::Unknown(mid.clone()),
                    },
                    payload: payload.clone(),
                    title: title.clone(),
                },
                UserEventRequest::Menu {
                    psid,
                    payload,
                    title,
                    platform,
                    ..
                } => UserEvent::Menu {
                    psid: psid.clone(),
                    payload: payload.clone(),
                    title: title.clone(),
                    platform: *platform,
                },
                UserEventRequest::AdEntry {
                    psid,
                    app_id,
                    ad_id,
                    text,
                    platform,
                    ..
                } => UserEvent::AdEntry {
                    psid: psid.clone(),
                    app: setup.app_ref(app_id),
                    ad_id: ad_id.clone(),
                    text: text.clone(),
                    platform: *platform,
                },
            }),
        }))
    }

    /// The control call for a model operation (`None` for Graph calls,
    /// which go through [`render_graph`](super::render_graph)). Positions
    /// in a transcript become this implementation's message ids through
    /// `mids`; a position it does not know becomes an id no implementation
    /// uses, which the target must refuse just as the model does.
    pub fn from_op(op: &Op, setup: &Setup, mids: &dyn MidMap) -> Option<ControlRequest> {
        let page_id = setup.page_id.clone();
        let app_id = |r: &AppRef| match r {
            AppRef::App(a) => app_id_of(setup, *a),
            AppRef::PageInbox => PAGE_INBOX_APP_ID.to_string(),
            AppRef::InstagramInbox => INSTAGRAM_INBOX_APP_ID.to_string(),
            AppRef::Unknown(id) => id.clone(),
        };
        Some(match op {
            Op::Graph(_) | Op::Deliver(_) => return None,
            Op::Roles { primary } => ControlRequest::Roles(RolesRequest {
                page_id,
                primary_receiver: primary.as_ref().map(app_id),
            }),
            Op::Clock { advance_ms } => ControlRequest::Clock(ClockRequest {
                page_id,
                advance_ms: *advance_ms,
            }),
            Op::Inbox {
                psid,
                action,
                platform,
            } => ControlRequest::Inbox(InboxRequest {
                page_id,
                platform: *platform,
                action: match action {
                    InboxAction::MoveToMain => InboxActionName::MoveToMain,
                    InboxAction::Reply { .. } => InboxActionName::Reply,
                    InboxAction::MarkDone => InboxActionName::MarkDone,
                },
                psid: psid.clone(),
                text: match action {
                    InboxAction::Reply { text } => Some(text.clone()),
                    _ => None,
                },
            }),
            Op::User(u) => ControlRequest::UserEvent(match u {
                UserEvent::Message {
                    psid,
                    text,
                    quick_reply,
                    platform,
                } => UserEventRequest::Message {
                    platform: *platform,
                    page_id,
                    psid: psid.clone(),
                    text: text.clone(),
                    quick_reply_payload: quick_reply.clone(),
                },
                UserEvent::Postback {
                    psid,
                    message,
                    payload,
                    title,
                    platform,
                } => UserEventRequest::Postback {
                    platform: *platform,
                    page_id,
                    psid: psid.clone(),
                    mid: match message {
                        MsgRef::Nth(n) => mids
                            .mid(psid, *n)
                            .unwrap_or_else(|| format!("baton-missing-mid-{n}")),
                        MsgRef::Unknown(mid) => mid.clone(),
                    },
                    payload: payload.clone(),
                    title: title.clone(),
                },
                UserEvent::Menu {
                    psid,
                    payload,
                    title,
                    platform,
                } => UserEventRequest::Menu {
                    platform: *platform,
                    page_id,
                    psid: psid.clone(),
                    payload: payload.clone(),
                    title: title.clone(),
                },
                UserEvent::AdEntry {
                    psid,
                    app,
                    ad_id,
                    text,
                    platform,
                } => UserEventRequest::AdEntry {
                    platform: *platform,
                    page_id,
                    psid: psid.clone(),
                    app_id: app_id(app),
                    ad_id: ad_id.clone(),
                    text: text.clone(),
                },
            }),
        })
    }
}

fn app_id_of(setup: &Setup, a: AppIx) -> String {
    match setup.apps.get(a.index()) {
        Some(s) => s.app_id.clone(),
        None => format!("unknown-app-{}", a.0),
    }
}

/// The driver's knowledge of message ids: the id this implementation gave
/// the message at `position` in `psid`'s transcript. Any
/// `Fn(&str, u32) -> Option<String>` is one.
pub trait MidMap {
    fn mid(&self, psid: &str, position: u32) -> Option<String>;
}

impl<F: Fn(&str, u32) -> Option<String>> MidMap for F {
    fn mid(&self, psid: &str, position: u32) -> Option<String> {
        self(psid, position)
    }
}

/// The HTTP status and JSON body for a control answer of the model.
pub fn render_control_answer(answer: &Result<ControlSuccess, String>) -> (u16, Value) {
    match answer {
        Ok(ControlSuccess::Ok) => (200, json!({"ok": true})),
        Ok(ControlSuccess::Mid(mid)) => (200, json!({"ok": true, "mid": mid})),
        Ok(ControlSuccess::NowMs(now)) => (200, json!({"now_ms": now})),
        Err(e) => (400, json!({"error": e})),
    }
}

/// Reads an implementation's answer to a control call that is an
/// operation: `Ok(Err(message))` for a control-API error (400 with
/// `{"error"}`), `Err` for an answer that fits no documented shape.
pub fn parse_control_answer(
    status: u16,
    body: &[u8],
) -> Result<Result<ControlSuccess, String>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("HTTP {status}: the body is not JSON ({e})"))?;
    if status == 400
        && let Ok(e) = serde_json::from_value::<ControlError>(v.clone())
    {
        return Ok(Err(e.error));
    }
    if status != 200 {
        return Err(format!("HTTP {status}: {v}"));
    }
    if let Ok(c) = serde_json::from_value::<ClockAnswer>(v.clone()) {
        return Ok(Ok(ControlSuccess::NowMs(c.now_ms)));
    }
    match serde_json::from_value::<OkAnswer>(v.clone()) {
        Ok(OkAnswer {
            ok: true,
            mid: None,
        }) => Ok(Ok(ControlSuccess::Ok)),
        Ok(OkAnswer {
            ok: true,
            mid: Some(m),
        }) => Ok(Ok(ControlSuccess::Mid(m))),
        _ => Err(format!("unexpected control answer {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Call, GraphOp, Message, MessagingType, Proof, apply};

    fn reset_json() -> Value {
        json!({"page_id": 900, "now_ms": 1000, "primary_receiver": "91",
        "apps": [
            {"app_id": "91", "name": "Bot", "access_token": "TOKEN-A", "app_secret": "SECRET-A",
             "webhook_url": "http://127.0.0.1:1/a", "human_agent": false,
             "require_appsecret_proof": true},
            {"app_id": 92, "name": "Desk", "access_token": "TOKEN-B", "app_secret": "SECRET-B",
             "webhook_url": "http://127.0.0.1:1/b"}
        ]})
    }

    fn parse_post(route: &str, v: Value) -> Result<ControlRequest, String> {
        ControlRequest::parse("POST", route, "", v.to_string().as_bytes())
    }

    #[test]
    fn reset_to_setup_and_back() {
        let ControlRequest::Reset(r) = parse_post("/conformance/reset", reset_json()).unwrap()
        else {
            panic!()
        };
        let dbg = format!("{r:?}");
        assert!(
            !dbg.contains("TOKEN-A") && !dbg.contains("SECRET-B"),
            "{dbg}"
        );
        let (setup, creds) = r.to_setup().unwrap();
        assert_eq!(setup.page_id, "900");
        assert_eq!(setup.primary, Some(AppIx(0)));
        assert_eq!(setup.apps[1].app_id, "92");
        assert!(setup.apps[0].require_appsecret_proof && !setup.apps[1].human_agent);
        assert_eq!(creds[1].access_token, "TOKEN-B");
        let back = ResetRequest::from_setup(&setup, &creds);
        assert_eq!(back, r);
        let v = serde_json::to_value(&back).unwrap();
        assert_eq!(v["page_id"], json!("900"));

        let mut none = reset_json();
        none["primary_receiver"] = Value::Null;
        let ControlRequest::Reset(r) = parse_post("reset", none).unwrap() else {
            panic!()
        };
        assert_eq!(r.to_setup().unwrap().0.primary, None);
        assert_eq!(
            serde_json::to_value(&r).unwrap()["primary_receiver"],
            Value::Null
        );

        let mut dup = reset_json();
        dup["apps"][1]["access_token"] = json!("TOKEN-A");
        let ControlRequest::Reset(r) = parse_post("reset", dup).unwrap() else {
            panic!()
        };
        assert!(r.to_setup().is_err());
        let mut inbox = reset_json();
        inbox["primary_receiver"] = json!(PAGE_INBOX_APP_ID);
        let ControlRequest::Reset(r) = parse_post("reset", inbox).unwrap() else {
            panic!()
        };
        assert!(r.to_setup().is_err());
    }

    #[test]
    fn malformed_calls_are_errors() {
        assert!(parse_post("reset", json!({"now_ms": 1, "apps": []})).is_err());
        assert!(parse_post("reset", json!({"page_id": true, "now_ms": 1, "apps": []})).is_err());
        assert!(parse_post("clock", json!({"page_id": "1", "advance_ms": -1})).is_err());
        assert!(parse_post("clock", json!({"page_id": "1", "advance_ms": 1.5})).is_err());
        assert!(parse_post("user_event", json!({"page_id": "1", "type": "wave"})).is_err());
        assert!(
            parse_post(
                "inbox",
                json!({"page_id": "1", "action": "archive", "psid": "2"})
            )
            .is_err()
        );
        assert!(ControlRequest::parse("GET", "reset", "", b"").is_err());
        assert!(ControlRequest::parse("POST", "nope", "", b"{}").is_err());
        assert!(ControlRequest::parse("GET", "transcript", "page_id=1", b"").is_err());
        assert_eq!(
            ControlRequest::parse("GET", "/conformance/info", "", b""),
            Ok(ControlRequest::Info)
        );
        let t = ControlRequest::parse("GET", "transcript", "page_id=1&psid=2", b"").unwrap();
        assert_eq!(t.query().as_deref(), Some("page_id=1&psid=2"));
        assert_eq!(t.page_id(), Some("1"));
    }

    #[test]
    fn ops_round_trip_through_the_control_api() {
        let ControlRequest::Reset(r) = parse_post("reset", reset_json()).unwrap() else {
            panic!()
        };
        let (setup, _) = r.to_setup().unwrap();
        let mut state = State::new(setup.clone());
        // A known PSID with one button message in its transcript.
        apply(
            &mut state,
            &Op::User(UserEvent::Message {
                psid: "7".into(),
                text: "hi".into(),
                quick_reply: None,
                platform: Surface::Messenger,
            }),
        );
        let out = apply(
            &mut state,
            &Op::Graph(GraphOp {
                proof: Proof::Right,
                ..GraphOp::by(
                    AppIx(0),
                    Call::Send {
                        psid: "7".into(),
                        messaging_type: MessagingType::Response,
                        tag: None,
                        message: Message::Buttons {
                            text: "pick".into(),
                            buttons: vec![],
                        },
                    },
                )
            }),
        );
        assert!(!out.is_refusal(), "{out:?}");
        let their_mid = state.transcript("7").next().unwrap().mid.clone();
        let mids = |psid: &str, n: u32| (psid == "7" && n == 0).then(|| their_mid.clone());

        let ops = vec![
            Op::Roles { primary: None },
            Op::Roles {
                primary: Some(AppRef::App(AppIx(1))),
            },
            Op::Roles {
                primary: Some(AppRef::PageInbox),
            },
            Op::Roles {
                primary: Some(AppRef::Unknown("999".into())),
            },
            Op::Clock {
                advance_ms: 86_400_000,
            },
            Op::Inbox {
                psid: "7".into(),
                action: InboxAction::MoveToMain,
                platform: Surface::Messenger,
            },
            Op::Inbox {
                psid: "7".into(),
                action: InboxAction::Reply {
                    text: "hello".into(),
                },
                platform: Surface::Messenger,
            },
            Op::Inbox {
                psid: "7".into(),
                action: InboxAction::MarkDone,
                platform: Surface::Messenger,
            },
            Op::User(UserEvent::Message {
                psid: "8".into(),
                text: "yo".into(),
                quick_reply: Some("Q".into()),
                platform: Surface::Messenger,
            }),
            Op::User(UserEvent::Postback {
                psid: "7".into(),
                message: MsgRef::Nth(0),
                payload: "P".into(),
                title: None,
                platform: Surface::Messenger,
            }),
            Op::User(UserEvent::Postback {
                psid: "7".into(),
                message: MsgRef::Unknown("m_nope".into()),
                payload: "P".into(),
                title: Some("T".into()),
                platform: Surface::Messenger,
            }),
            Op::User(UserEvent::Menu {
                psid: "7".into(),
                payload: "M".into(),
                title: None,
                platform: Surface::Messenger,
            }),
            Op::User(UserEvent::AdEntry {
                psid: "9".into(),
                app: AppRef::App(AppIx(1)),
                ad_id: "ad".into(),
                text: "from ad".into(),
                platform: Surface::Messenger,
            }),
        ];
        for op in ops {
            let req = ControlRequest::from_op(&op, &setup, &mids).unwrap();
            assert_eq!(req.page_id(), Some("900"));
            let body = req.body().unwrap().to_string();
            let parsed = ControlRequest::parse(req.method(), req.route(), "", body.as_bytes())
                .unwrap_or_else(|e| panic!("{op}: {e}: {body}"));
            assert_eq!(parsed, req);
            assert_eq!(parsed.to_op(&state), Ok(Some(op.clone())), "{body}");
        }
        // A position the driver never saw becomes an unknown mid.
        let op = Op::User(UserEvent::Postback {
            psid: "7".into(),
            message: MsgRef::Nth(5),
            payload: "P".into(),
            title: None,
            platform: Surface::Messenger,
        });
        let req = ControlRequest::from_op(&op, &setup, &mids).unwrap();
        assert!(matches!(
            req.to_op(&state),
            Ok(Some(Op::User(UserEvent::Postback {
                message: MsgRef::Unknown(_),
                ..
            })))
        ));
        let graph = Op::Graph(GraphOp::by(
            AppIx(0),
            Call::SecondaryReceivers { platform: None },
        ));
        assert_eq!(ControlRequest::from_op(&graph, &setup, &mids), None);
        // A reply without text.
        let bad = parse_post(
            "inbox",
            json!({"page_id": "900", "action": "reply", "psid": "7"}),
        )
        .unwrap();
        assert!(bad.to_op(&state).is_err());
    }

    #[test]
    fn answers() {
        for a in [
            Ok(ControlSuccess::Ok),
            Ok(ControlSuccess::Mid("m_1".into())),
            Ok(ControlSuccess::NowMs(5)),
            Err("no such PSID".to_string()),
        ] {
            let (status, body) = render_control_answer(&a);
            assert_eq!(
                parse_control_answer(status, body.to_string().as_bytes()),
                Ok(a)
            );
        }
        assert!(parse_control_answer(200, br#"{"ok":false}"#).is_err());
        assert!(parse_control_answer(401, b"{}").is_err());
        assert!(parse_control_answer(200, b"nope").is_err());
    }

    #[test]
    fn transcript_items() {
        let ControlRequest::Reset(r) = parse_post("reset", reset_json()).unwrap() else {
            panic!()
        };
        let (setup, _) = r.to_setup().unwrap();
        let v = json!({"data": [
            {"mid": "m1", "from_app_id": 263902037430900u64, "kind": "text", "text": "hi"},
            {"mid": "m2", "from_app_id": "92", "kind": "survey", "text": ""}]});
        let t: TranscriptAnswer = serde_json::from_value(v).unwrap();
        let e0 = t.data[0].to_entry(&setup).unwrap();
        assert_eq!(e0.from, Party::PageInbox);
        let e1 = t.data[1].to_entry(&setup).unwrap();
        assert_eq!(e1.from, Party::App(AppIx(1)));
        assert_eq!(e1.kind, MessageKind::Survey);
        assert_eq!(TranscriptItem::from_entry(&e1, &setup), t.data[1]);
        let unknown = TranscriptItem {
            from_app_id: "5".into(),
            ..t.data[1].clone()
        };
        assert!(unknown.to_entry(&setup).is_err());
    }
}
