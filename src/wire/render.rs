//! Harness side: a [`GraphOp`] written out as the HTTP request that means
//! it, the exact inverse of [`decode_graph`](super::decode_graph).
//!
//! The renderer honours the operation's [`Transport`] wherever the request
//! allows it, so a counterexample replays byte for byte. Where it cannot (a
//! `GET` has no body; a token "in the body" of a request without one goes to
//! the query; a defect that only JSON can show forces JSON), it falls back
//! deterministically, and [`canonical`] says exactly what the server will
//! decode. `decode(render(op)) == canonical(op)` for every operation is the
//! property the tests check; for a well-formed operation with usable ids,
//! `canonical` changes nothing but the transport.
//!
//! Each [`Defect`] renders as a request that shows that defect and nothing
//! earlier in the check order, so the server reaches it for the same reason
//! the model assumed.

use super::http::AppCredentials;
use super::params::{Params, encode_form, integer_id, looks_structured};
use super::request::HttpRequest;
use super::sign::appsecret_proof;
use crate::model::{
    AppRef, Call, Caller, Choice, Defect, DurationAs, Edge, Encoding, GraphOp,
    INSTAGRAM_INBOX_APP_ID, Message, PAGE_INBOX_APP_ID, Proof, Setup, TokenAt, Transport,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

/// The path prefix the harness uses when the transport asks for one.
pub const GRAPH_VERSION: &str = "v19.0";
/// An edge the Graph API has but this protocol does not: [`Defect::UnknownEdge`].
pub const UNKNOWN_EDGE: &str = "conversations";
/// The PSID in requests rendered for a defect (the defect answers first).
const DEFECT_PSID: &str = "1";
/// The `target_app_id` of a malformed `pass_thread_metadata`; never looked
/// at, since the defect answers first.
const DEFECT_TARGET_APP_ID: &str = "1";
/// The token sent for [`Caller::Unknown`] (made longer if it ever clashed).
const BOGUS_TOKEN: &str = "baton-unknown-token";
/// The losing token of [`Transport::decoy_token`] (made longer if it ever
/// clashed).
const DECOY_TOKEN: &str = "baton-decoy-token";
/// The wrong value of [`Transport::decoy_param`], in the query.
pub const DECOY_VALUE: &str = "baton-decoy";
/// The parameter of [`Transport::extra_param`]: no edge knows it.
pub const EXTRA_PARAM: &str = "baton_extra";

/// The request for `op` against the page of `setup`, whose apps hold
/// `creds` (in setup order).
///
/// A caller naming an app without credentials renders as an unknown token;
/// a `target_app_id` naming an app outside the setup renders as an id no app
/// has. Neither is a panic: counterexamples may be replayed against a page
/// with fewer apps.
pub fn render_graph(op: &GraphOp, setup: &Setup, creds: &[AppCredentials]) -> HttpRequest {
    render(op, setup, creds).0
}

/// What [`decode_graph`](super::decode_graph) yields for
/// `render_graph(op, setup, creds)`, given the page's credentials.
///
/// * the caller: an app without credentials becomes [`Caller::Unknown`];
/// * the proof: a right proof without a known app cannot be checked and
///   counts as [`Proof::Wrong`];
/// * the call: an empty PSID or `target_app_id` is
///   [`Defect::IdMalformed`]; a target is resolved against the setup; a
///   malformed call's edge is [`canonical_edge`];
/// * the transport: what the request actually used. Each accepted spelling
///   counts only where the request can show it: the parameter spellings
///   only on a call that decodes well-formed; `decoy_token` only beside a
///   non-empty token in the query or the body; `proof_upper` only with a
///   proof; `decoy_param` only with a body; `recipient_as_text` and
///   `explicit_nulls` in a JSON body (`recipient_as_text` also on
///   `thread_owner`, and always there for a PSID that reads as JSON);
///   `ids_as_integers` only where an id is digits without a leading zero
///   and keeps its JSON type; `duration_as` in a JSON body, and `Float`
///   only up to 2^53.
pub fn canonical(op: &GraphOp, setup: &Setup, creds: &[AppCredentials]) -> GraphOp {
    let caller = effective_caller(op.caller, setup, creds);
    let proof = match (op.proof, caller) {
        (Proof::Right, Caller::App(_)) => Proof::Right,
        (Proof::Right, _) => Proof::Wrong,
        (p, _) => p,
    };
    let call = match &op.call {
        Call::Malformed { edge, defect } => Call::Malformed {
            edge: canonical_edge(*edge, *defect),
            defect: *defect,
        },
        c if c.psid().is_some_and(String::is_empty) => Call::Malformed {
            edge: c.edge(),
            defect: Defect::IdMalformed,
        },
        Call::Pass {
            psid,
            target: Some(t),
            metadata,
        } => match resolved_target(t, setup) {
            Some(t) => Call::Pass {
                psid: psid.clone(),
                target: Some(t),
                metadata: metadata.clone(),
            },
            None => id_malformed(Edge::PassThreadControl),
        },
        Call::PassMetadata {
            psid,
            target,
            metadata,
        } => match resolved_target(target, setup) {
            Some(t) => Call::PassMetadata {
                psid: psid.clone(),
                target: t,
                metadata: metadata.clone(),
            },
            None => id_malformed(Edge::PassThreadMetadata),
        },
        other => other.clone(),
    };
    GraphOp {
        caller,
        proof,
        call,
        transport: render(op, setup, creds).1,
    }
}

/// A `target_app_id` as the server resolves it, or `None` when it renders
/// empty (malformed).
fn resolved_target(t: &AppRef, setup: &Setup) -> Option<AppRef> {
    let id = target_id(t, setup);
    (!id.is_empty()).then(|| setup.app_ref(&id))
}

fn id_malformed(edge: Edge) -> Call {
    Call::Malformed {
        edge,
        defect: Defect::IdMalformed,
    }
}

/// Whether `defect` can be shown on `edge` (and so survives a round trip
/// with its edge unchanged).
pub fn defect_applies(edge: Edge, defect: Defect) -> bool {
    use Defect::*;
    use Edge::*;
    let recipient_edge = !matches!(
        edge,
        SecondaryReceivers | MessengerProfile | CustomUserSettings
    );
    match defect {
        // The decoder cannot name an edge it does not know.
        UnknownEdge => edge == Messages,
        BadPath | WrongNode | WrongMethod | BodyNotJson => true,
        RecipientMissing | RecipientMalformed => recipient_edge,
        RecipientBare => recipient_edge && edge != ThreadOwner,
        IdMalformed | IdBoolean | IdFloat | IdObject => {
            recipient_edge || edge == CustomUserSettings
        }
        MessagingTypeMissing | MessagingTypeUnknown | MessageMissing | MessageMalformed
        | TextAndAttachment | Other => edge == Messages,
        MetadataNotString => matches!(
            edge,
            PassThreadControl | TakeThreadControl | RequestThreadControl | PassThreadMetadata
        ),
        TargetMissing | MetadataMissing => edge == PassThreadMetadata,
        DurationMissing | DurationNotInteger | DurationFloat | DurationBool | DurationNull => {
            edge == ExtendThreadControl
        }
        PsidMissing => edge == CustomUserSettings,
        MenuMalformed => matches!(edge, MessengerProfile | CustomUserSettings),
    }
}

/// The edge a malformed call is rendered on: its own when the defect can be
/// shown there ([`defect_applies`]), else the first edge that shows it.
pub fn canonical_edge(edge: Edge, defect: Defect) -> Edge {
    if defect_applies(edge, defect) {
        return edge;
    }
    match defect {
        Defect::MetadataNotString => Edge::PassThreadControl,
        Defect::TargetMissing | Defect::MetadataMissing => Edge::PassThreadMetadata,
        Defect::DurationMissing
        | Defect::DurationNotInteger
        | Defect::DurationFloat
        | Defect::DurationBool
        | Defect::DurationNull => Edge::ExtendThreadControl,
        Defect::PsidMissing => Edge::CustomUserSettings,
        Defect::MenuMalformed => Edge::MessengerProfile,
        _ => Edge::Messages,
    }
}

fn effective_caller(caller: Caller, setup: &Setup, creds: &[AppCredentials]) -> Caller {
    match caller {
        Caller::App(a) if a.index() < creds.len().min(setup.apps.len()) => caller,
        Caller::App(_) => Caller::Unknown,
        other => other,
    }
}

/// How a request departs from a plain one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Twist {
    None,
    BadPath,
    WrongNode,
    /// A body that is not JSON, parameters in the query.
    Garbage,
    /// A defect only JSON can carry: form values are always strings.
    ForceJson,
}

struct Shape {
    method: &'static str,
    edge: &'static str,
    params: Params,
    twist: Twist,
}

fn render(op: &GraphOp, setup: &Setup, creds: &[AppCredentials]) -> (HttpRequest, Transport) {
    let mut shape = match &op.call {
        Call::Malformed { edge, defect } => defect_shape(canonical_edge(*edge, *defect), *defect),
        call => call_shape(call, setup),
    };
    let t = op.transport;
    let bodyless = matches!(shape.method, "GET" | "DELETE");
    let encoding = if shape.twist == Twist::ForceJson {
        Encoding::Json
    } else {
        t.encoding
    };
    // Whether the parameters go into a body, and which kind.
    let body_enc = match (shape.twist, bodyless, encoding) {
        (Twist::Garbage, ..) | (_, true, _) | (_, _, Encoding::Query) => None,
        (_, false, e) => Some(e),
    };
    // The accepted spellings of the parameters, on a call the server will
    // decode as well-formed only (a defect must stay the first problem).
    let spelled = if decodes_well_formed(&op.call, setup) {
        spell(&mut shape.params, &op.call, &t, body_enc)
    } else {
        Spelled::default()
    };

    // The token and where it goes.
    let caller = effective_caller(op.caller, setup, creds);
    let unused = |base: &str| {
        let mut tok = base.to_string();
        while creds.iter().any(|c| c.access_token == tok) {
            tok.push('x');
        }
        tok
    };
    let token = match caller {
        Caller::App(a) => Some(creds[a.index()].access_token.clone()),
        Caller::Unknown => Some(unused(BOGUS_TOKEN)),
        Caller::Empty => Some(String::new()),
        Caller::Missing => None,
    };
    let token_at = match (token.as_deref(), t.token_at) {
        (None, _) => None,
        // An empty token is the `access_token=` parameter.
        (Some(""), TokenAt::Bearer | TokenAt::OAuth) => Some(TokenAt::Query),
        (Some(_), TokenAt::Body) if body_enc.is_none() => Some(TokenAt::Query),
        (Some(_), at) => Some(at),
    };
    // A decoy token needs a real one to lose to, in a parameter.
    let decoy_token = t.decoy_token
        && token.as_deref().is_some_and(|tok| !tok.is_empty())
        && matches!(token_at, Some(TokenAt::Query | TokenAt::Body));
    let proof = match op.proof {
        Proof::Absent => None,
        p => {
            let secret = match caller {
                Caller::App(a) => creds[a.index()].app_secret.as_str(),
                _ => "",
            };
            let right = appsecret_proof(secret, token.as_deref().unwrap_or(""));
            let proof = if p == Proof::Right {
                right
            } else {
                flip_first_hex(&right)
            };
            Some(if t.proof_upper {
                proof.to_ascii_uppercase()
            } else {
                proof
            })
        }
    };
    let proof_upper = proof
        .as_deref()
        .is_some_and(|p| t.proof_upper && p.bytes().any(|b| b.is_ascii_alphabetic()));

    let mut query = Params::new();
    let mut body = Params::new();
    if body_enc.is_some() {
        body = shape.params;
    } else {
        query = shape.params;
    }
    if let Some((k, v)) = spelled.decoy {
        query.insert(k, v);
    }
    let mut headers = Vec::new();
    if decoy_token {
        let decoy = unused(DECOY_TOKEN);
        if token_at == Some(TokenAt::Body) {
            query.insert("access_token".into(), Value::String(decoy));
        } else {
            headers.push(("Authorization".into(), format!("Bearer {decoy}")));
        }
    }
    let creds_in = if token_at == Some(TokenAt::Body) {
        &mut body
    } else {
        &mut query
    };
    if let Some(p) = proof {
        creds_in.insert("appsecret_proof".into(), Value::String(p));
    }
    match (token_at, token) {
        (Some(TokenAt::Bearer), Some(tok)) => {
            headers.push(("Authorization".into(), format!("Bearer {tok}")))
        }
        (Some(TokenAt::OAuth), Some(tok)) => {
            headers.push(("Authorization".into(), format!("OAuth {tok}")))
        }
        (Some(_), Some(tok)) => {
            creds_in.insert("access_token".into(), Value::String(tok));
        }
        _ => {}
    }

    let (content_type, body_bytes, observed_enc) = match (shape.twist, body_enc) {
        (Twist::Garbage, _) => (
            Some("application/json"),
            Some(b"{not json".to_vec()),
            Encoding::Json,
        ),
        (_, Some(Encoding::Json)) => (
            Some("application/json"),
            Some(serde_json::to_vec(&Value::Object(body)).expect("JSON values serialize")),
            Encoding::Json,
        ),
        (_, Some(_)) if !body.is_empty() => (
            Some("application/x-www-form-urlencoded"),
            Some(encode_form(&body).into_bytes()),
            Encoding::Form,
        ),
        _ => (None, None, Encoding::Query),
    };

    let node = match shape.twist {
        Twist::WrongNode => format!("{}0", setup.page_id),
        _ if t.page_node => setup.page_id.clone(),
        _ => "me".to_string(),
    };
    let mut path = String::new();
    if !t.unversioned {
        path.push('/');
        path.push_str(GRAPH_VERSION);
    }
    path.push('/');
    path.extend(utf8_percent_encode(&node, NON_ALPHANUMERIC));
    // A bad path: `/v19.0/me` with no edge for `messages`; for the other
    // edges one segment too many (`/v19.0/me/take_thread_control/0`), which
    // still names the edge for the decoder to report.
    if shape.twist != Twist::BadPath || shape.edge != Edge::Messages.as_str() {
        path.push('/');
        path.push_str(shape.edge);
    }
    if shape.twist == Twist::BadPath && shape.edge != Edge::Messages.as_str() {
        path.push_str("/0");
    }
    if !query.is_empty() {
        path.push('?');
        path.push_str(&encode_form(&query));
    }

    let observed = Transport {
        encoding: observed_enc,
        token_at: token_at.unwrap_or_default(),
        page_node: match shape.twist {
            Twist::BadPath => false,
            Twist::WrongNode => true,
            _ => t.page_node,
        },
        unversioned: shape.twist != Twist::BadPath && t.unversioned,
        decoy_token,
        proof_upper,
        decoy_param: spelled.decoy_param,
        extra_param: spelled.extra_param,
        recipient_as_text: spelled.recipient_as_text,
        ids_as_integers: spelled.ids_as_integers,
        explicit_nulls: spelled.explicit_nulls,
        duration_as: spelled.duration_as,
    };
    let req = HttpRequest {
        method: shape.method.to_string(),
        path_and_query: path,
        headers,
        content_type: content_type.map(String::from),
        body: body_bytes,
    };
    (req, observed)
}

/// Whether the server decodes the rendered call as the call itself (not
/// as a [`Call::Malformed`]): see [`canonical`].
fn decodes_well_formed(call: &Call, setup: &Setup) -> bool {
    match call {
        Call::Malformed { .. } => false,
        c if c.psid().is_some_and(String::is_empty) => false,
        Call::Pass {
            target: Some(t), ..
        } => !target_id(t, setup).is_empty(),
        Call::PassMetadata { target, .. } => !target_id(target, setup).is_empty(),
        _ => true,
    }
}

/// The accepted spellings a request shows, and the decoy for the query.
#[derive(Default)]
struct Spelled {
    decoy: Option<(String, Value)>,
    decoy_param: bool,
    extra_param: bool,
    recipient_as_text: bool,
    ids_as_integers: bool,
    explicit_nulls: bool,
    duration_as: DurationAs,
}

/// Rewrites a well-formed call's parameters into the spellings `t` asks
/// for, where they can be shown; says which were. `body_enc` is the body's
/// encoding (`None`: every parameter goes into the query).
fn spell(params: &mut Params, call: &Call, t: &Transport, body_enc: Option<Encoding>) -> Spelled {
    let json = body_enc == Some(Encoding::Json);
    let mut out = Spelled::default();
    // An id as a JSON integer, where asked and where it keeps its type.
    let id_value = |s: &str, keeps_type: bool, out: &mut Spelled| match integer_id(s) {
        Some(n) if t.ids_as_integers && keeps_type => {
            out.ids_as_integers = true;
            Value::from(n)
        }
        _ => Value::String(s.to_string()),
    };
    if let Some(psid) = call.psid()
        && params.contains_key("recipient")
    {
        let value = if call.edge() == Edge::ThreadOwner {
            // A bare PSID unless asked (or unless it would read as JSON).
            if t.recipient_as_text || looks_structured(psid) {
                out.recipient_as_text = true;
                let id = id_value(psid, true, &mut out);
                Value::String(json!({ "id": id }).to_string())
            } else {
                Value::String(psid.clone())
            }
        } else {
            // Inside a recipient object (or its JSON text) an id keeps its type.
            let obj = json!({ "id": id_value(psid, true, &mut out) });
            if t.recipient_as_text && json {
                out.recipient_as_text = true;
                Value::String(obj.to_string())
            } else {
                obj
            }
        };
        params.insert("recipient".into(), value);
    }
    for key in ["target_app_id", "psid"] {
        if let Some(Value::String(s)) = params.get(key).cloned() {
            let v = id_value(&s, json, &mut out);
            params.insert(key.into(), v);
        }
    }
    if t.explicit_nulls && json {
        let before = params.clone();
        add_nulls(params, call);
        out.explicit_nulls = *params != before;
    }
    if let Call::Extend { duration, .. } = call
        && json
    {
        let v = match t.duration_as {
            DurationAs::Text => Some((DurationAs::Text, Value::String(duration.to_string()))),
            DurationAs::Float if duration.unsigned_abs() <= 1 << 53 => {
                Some((DurationAs::Float, json!(*duration as f64)))
            }
            _ => None,
        };
        if let Some((how, v)) = v {
            out.duration_as = how;
            params.insert("duration".into(), v);
        }
    }
    // The decoy repeats the first parameter that has a (non-null) value.
    if t.decoy_param && body_enc.is_some() {
        out.decoy = params
            .iter()
            .find(|(_, v)| !v.is_null())
            .map(|(k, _)| (k.clone(), Value::String(DECOY_VALUE.into())));
        out.decoy_param = out.decoy.is_some();
    }
    if t.extra_param {
        params.insert(EXTRA_PARAM.into(), json!({ "ignored": true }));
        out.extra_param = true;
    }
    out
}

/// JSON `null` for every optional parameter the call leaves out, and for
/// the parts of `message` its shape does not have.
fn add_nulls(params: &mut Params, call: &Call) {
    let mut null = |k: &str, absent: bool| {
        if absent {
            params.insert(k.into(), Value::Null);
        }
    };
    match call {
        Call::Send { tag, .. } => null("tag", tag.is_none()),
        Call::Pass {
            target, metadata, ..
        } => {
            null("target_app_id", target.is_none());
            null("metadata", metadata.is_none());
        }
        Call::Take { metadata, .. } | Call::Request { metadata, .. } => {
            null("metadata", metadata.is_none())
        }
        _ => {}
    }
    if let Call::Send { message: m, .. } = call
        && let Some(Value::Object(msg)) = params.get_mut("message")
    {
        match m {
            Message::Text { quick_replies, .. } => {
                msg.insert("attachment".into(), Value::Null);
                if quick_replies.is_none() {
                    msg.insert("quick_replies".into(), Value::Null);
                }
            }
            Message::Buttons { .. } => {
                msg.insert("text".into(), Value::Null);
            }
            Message::Survey { title } => {
                msg.insert("text".into(), Value::Null);
                if title.is_none()
                    && let Some(Value::Object(payload)) =
                        msg.get_mut("attachment").and_then(|a| a.get_mut("payload"))
                {
                    payload.insert("title".into(), Value::Null);
                }
            }
        }
    }
}

/// A well-formed-looking but wrong proof: the right one with its first hex
/// digit changed.
fn flip_first_hex(hex: &str) -> String {
    let mut out = String::with_capacity(hex.len());
    let mut chars = hex.chars();
    if let Some(c) = chars.next() {
        out.push(if c == '0' { '1' } else { '0' });
    }
    out.extend(chars);
    out
}

fn target_id(t: &AppRef, setup: &Setup) -> String {
    match t {
        AppRef::App(a) => match setup.apps.get(a.index()) {
            Some(spec) => spec.app_id.clone(),
            None => format!("unknown-app-{}", a.0),
        },
        AppRef::PageInbox => PAGE_INBOX_APP_ID.to_string(),
        AppRef::InstagramInbox => INSTAGRAM_INBOX_APP_ID.to_string(),
        AppRef::Unknown(id) => id.clone(),
    }
}

fn params(v: Value) -> Params {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("parameters are built as objects"),
    }
}

fn recipient(psid: &str) -> Value {
    json!({ "id": psid })
}

fn choices(items: &[Choice], kind_key: &str, kind: &str) -> Value {
    Value::Array(
        items
            .iter()
            .map(|c| json!({ kind_key: kind, "title": c.title, "payload": c.payload }))
            .collect(),
    )
}

fn menu(items: &[Choice]) -> Value {
    json!([{
        "locale": "default",
        "composer_input_disabled": false,
        "call_to_actions": choices(items, "type", "postback"),
    }])
}

fn message(m: &Message) -> Value {
    match m {
        Message::Text {
            text,
            quick_replies,
        } => {
            let mut v = json!({ "text": text });
            if let Some(q) = quick_replies {
                v["quick_replies"] = choices(q, "content_type", "text");
            }
            v
        }
        Message::Buttons { text, buttons } => json!({"attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": text,
                "buttons": choices(buttons, "type", "postback"),
            },
        }}),
        Message::Survey { title } => {
            let mut payload = json!({ "template_type": "customer_feedback" });
            if let Some(t) = title {
                payload["title"] = json!(t);
            }
            json!({"attachment": {"type": "template", "payload": payload}})
        }
    }
}

/// Adds `platform` (IG-5, IG-6) when the call names one.
fn with_platform(mut v: Value, platform: &Option<String>) -> Value {
    if let Some(p) = platform {
        v["platform"] = json!(p);
    }
    v
}

/// The plain request for a well-formed call.
fn call_shape(call: &Call, setup: &Setup) -> Shape {
    let shape = |method, edge: Edge, v| Shape {
        method,
        edge: edge.as_str(),
        params: params(v),
        twist: Twist::None,
    };
    match call {
        Call::Send {
            psid,
            messaging_type,
            tag,
            message: m,
        } => {
            let mut v = json!({
                "recipient": recipient(psid),
                "messaging_type": messaging_type.as_str(),
                "message": message(m),
            });
            if let Some(t) = tag {
                v["tag"] = json!(t);
            }
            shape("POST", Edge::Messages, v)
        }
        Call::Pass {
            psid,
            target,
            metadata,
        } => {
            let mut v = json!({ "recipient": recipient(psid) });
            if let Some(t) = target {
                v["target_app_id"] = json!(target_id(t, setup));
            }
            if let Some(m) = metadata {
                v["metadata"] = json!(m);
            }
            shape("POST", Edge::PassThreadControl, v)
        }
        Call::Take { psid, metadata } | Call::Request { psid, metadata } => {
            let mut v = json!({ "recipient": recipient(psid) });
            if let Some(m) = metadata {
                v["metadata"] = json!(m);
            }
            shape("POST", call.edge(), v)
        }
        Call::PassMetadata {
            psid,
            target,
            metadata,
        } => shape(
            "POST",
            Edge::PassThreadMetadata,
            json!({
                "recipient": recipient(psid),
                "target_app_id": target_id(target, setup),
                "metadata": metadata,
            }),
        ),
        Call::Release { psid } => shape(
            "POST",
            Edge::ReleaseThreadControl,
            json!({ "recipient": recipient(psid) }),
        ),
        Call::Extend { psid, duration } => shape(
            "POST",
            Edge::ExtendThreadControl,
            json!({ "recipient": recipient(psid), "duration": duration }),
        ),
        Call::ThreadOwner { psid } => {
            // A bare PSID, as the SDKs send it, unless it would read as JSON
            // (then `spell` writes the object's JSON text).
            let r = if looks_structured(psid) {
                json!(recipient(psid).to_string())
            } else {
                json!(psid)
            };
            shape("GET", Edge::ThreadOwner, json!({ "recipient": r }))
        }
        Call::SecondaryReceivers { platform } => shape(
            "GET",
            Edge::SecondaryReceivers,
            with_platform(json!({ "fields": "id,name" }), platform),
        ),
        Call::SetPageMenu { items, platform } => shape(
            "POST",
            Edge::MessengerProfile,
            with_platform(json!({ "persistent_menu": menu(items) }), platform),
        ),
        Call::DeletePageMenu { platform } => shape(
            "DELETE",
            Edge::MessengerProfile,
            with_platform(json!({ "fields": ["persistent_menu"] }), platform),
        ),
        Call::SetUserMenu { psid, items } => shape(
            "POST",
            Edge::CustomUserSettings,
            json!({ "psid": psid, "persistent_menu": menu(items) }),
        ),
        Call::DeleteUserMenu { psid } => shape(
            "DELETE",
            Edge::CustomUserSettings,
            json!({ "psid": psid, "params": ["persistent_menu"] }),
        ),
        Call::Malformed { edge, defect } => defect_shape(*edge, *defect),
    }
}

/// A plain, valid request on `edge`, to be spoiled by one defect.
fn baseline(edge: Edge) -> Shape {
    let item = [Choice {
        title: "x".into(),
        payload: "x".into(),
    }];
    let call = match edge {
        Edge::Messages => Call::Send {
            psid: DEFECT_PSID.into(),
            messaging_type: crate::model::MessagingType::Response,
            tag: None,
            message: Message::Text {
                text: "x".into(),
                quick_replies: None,
            },
        },
        Edge::PassThreadControl => Call::Pass {
            psid: DEFECT_PSID.into(),
            target: None,
            metadata: None,
        },
        Edge::TakeThreadControl => Call::Take {
            psid: DEFECT_PSID.into(),
            metadata: None,
        },
        Edge::RequestThreadControl => Call::Request {
            psid: DEFECT_PSID.into(),
            metadata: None,
        },
        Edge::ReleaseThreadControl => Call::Release {
            psid: DEFECT_PSID.into(),
        },
        Edge::PassThreadMetadata => Call::PassMetadata {
            psid: DEFECT_PSID.into(),
            target: AppRef::Unknown(DEFECT_TARGET_APP_ID.into()),
            metadata: "x".into(),
        },
        Edge::ExtendThreadControl => Call::Extend {
            psid: DEFECT_PSID.into(),
            duration: 60,
        },
        Edge::ThreadOwner => Call::ThreadOwner {
            psid: DEFECT_PSID.into(),
        },
        Edge::SecondaryReceivers => Call::SecondaryReceivers { platform: None },
        Edge::MessengerProfile => Call::SetPageMenu {
            items: item.to_vec(),
            platform: None,
        },
        Edge::CustomUserSettings => Call::SetUserMenu {
            psid: DEFECT_PSID.into(),
            items: item.to_vec(),
        },
    };
    // No `AppRef` but an unknown id in a baseline, so the setup is never
    // consulted.
    let setup = Setup {
        page_id: String::new(),
        now_ms: 0,
        primary: None,
        apps: Vec::new(),
        instagram_account_id: None,
    };
    call_shape(&call, &setup)
}

/// The request showing `defect` on `edge` (already canonical).
fn defect_shape(edge: Edge, defect: Defect) -> Shape {
    let mut s = baseline(edge);
    let p = &mut s.params;
    match defect {
        Defect::BadPath => s.twist = Twist::BadPath,
        Defect::WrongNode => s.twist = Twist::WrongNode,
        Defect::UnknownEdge => {
            s.method = "POST";
            s.edge = UNKNOWN_EDGE;
            s.params.clear();
        }
        Defect::WrongMethod => s.method = "PUT",
        Defect::BodyNotJson => s.twist = Twist::Garbage,
        Defect::RecipientMissing => {
            p.remove("recipient");
        }
        Defect::RecipientMalformed => {
            p.insert("recipient".into(), json!([1]));
        }
        Defect::IdMalformed | Defect::IdBoolean | Defect::IdFloat | Defect::IdObject => {
            let bad = match defect {
                Defect::IdMalformed => json!(""),
                Defect::IdBoolean => json!(true),
                Defect::IdFloat => json!(1.5),
                _ => json!({"id": DEFECT_PSID}),
            };
            // `""` reads the same as text; the others need JSON's types,
            // except inside `recipient` (an object, or JSON text of one).
            let force = defect != Defect::IdMalformed;
            match edge {
                Edge::CustomUserSettings => {
                    p.insert("psid".into(), bad);
                    if force {
                        s.twist = Twist::ForceJson;
                    }
                }
                Edge::PassThreadControl => {
                    p.insert("target_app_id".into(), bad);
                    if force {
                        s.twist = Twist::ForceJson;
                    }
                }
                _ => {
                    p.insert("recipient".into(), json!({ "id": bad }));
                }
            }
        }
        Defect::RecipientBare => {
            p.insert("recipient".into(), json!(DEFECT_PSID));
        }
        Defect::MessagingTypeMissing => {
            p.remove("messaging_type");
        }
        Defect::MessagingTypeUnknown => {
            p.insert("messaging_type".into(), json!("SOMETIMES"));
        }
        Defect::MessageMissing => {
            p.remove("message");
        }
        Defect::MessageMalformed => {
            p.insert("message".into(), json!({}));
        }
        Defect::TextAndAttachment => {
            p.insert(
                "message".into(),
                json!({"text": "x", "attachment": {"type": "template",
                    "payload": {"template_type": "customer_feedback"}}}),
            );
        }
        Defect::MetadataNotString => {
            p.insert("metadata".into(), json!(7));
            s.twist = Twist::ForceJson;
        }
        Defect::DurationMissing => {
            p.remove("duration");
        }
        Defect::DurationNotInteger => {
            p.insert("duration".into(), json!("abc"));
        }
        Defect::DurationFloat => {
            // Its text (form, query) is just as much not an integer.
            p.insert("duration".into(), json!(1.5));
        }
        Defect::DurationBool => {
            p.insert("duration".into(), json!(true));
            s.twist = Twist::ForceJson;
        }
        Defect::DurationNull => {
            p.insert("duration".into(), Value::Null);
            s.twist = Twist::ForceJson;
        }
        Defect::PsidMissing => {
            p.remove("psid");
        }
        Defect::TargetMissing => {
            p.remove("target_app_id");
        }
        Defect::MetadataMissing => {
            p.remove("metadata");
        }
        Defect::MenuMalformed => {
            p.insert("persistent_menu".into(), json!([]));
        }
        Defect::Other => {
            p.insert("tag".into(), json!(5));
            s.twist = Twist::ForceJson;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppIx, AppSpec, MessagingType};
    use crate::wire::decode::{PageCredentials, PageKeys, decode_graph};
    use crate::wire::request::RawRequest;

    fn page() -> (Setup, Vec<AppCredentials>) {
        let apps = vec![
            AppSpec {
                app_id: "2001".into(),
                name: "Bot".into(),
                human_agent: false,
                require_appsecret_proof: true,
            },
            AppSpec {
                app_id: "2002".into(),
                name: "Desk".into(),
                human_agent: true,
                require_appsecret_proof: false,
            },
        ];
        let setup = Setup::new("123456".into(), 0, apps, Some("2001")).unwrap();
        let creds = vec![
            AppCredentials {
                access_token: "EAA-bot".into(),
                app_secret: "bot-secret".into(),
                webhook_url: "http://127.0.0.1:1/bot".into(),
            },
            AppCredentials {
                access_token: "EAA-desk".into(),
                app_secret: "desk-secret".into(),
                webhook_url: "http://127.0.0.1:1/desk".into(),
            },
        ];
        (setup, creds)
    }

    fn round_trip(op: &GraphOp) -> (HttpRequest, GraphOp) {
        let (setup, creds) = page();
        let req = render_graph(op, &setup, &creds);
        let keys = PageKeys {
            setup: &setup,
            apps: &creds,
        };
        let raw = RawRequest::parse(&req.parts());
        (req, decode_graph(&raw, Some(&keys as &dyn PageCredentials)))
    }

    #[test]
    fn plain_send_looks_like_an_sdk_call() {
        let op = GraphOp::by(
            AppIx(0),
            Call::Send {
                psid: "42".into(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Text {
                    text: "hi".into(),
                    quick_replies: None,
                },
            },
        );
        let (req, back) = round_trip(&op);
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.path_and_query,
            "/v19.0/me/messages?access_token=EAA-bot"
        );
        assert_eq!(req.content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"recipient": {"id": "42"}, "messaging_type": "RESPONSE",
                   "message": {"text": "hi"}})
        );
        assert_eq!(back, op);
    }

    #[test]
    fn form_bodies_carry_json_text() {
        let (setup, creds) = page();
        let op = GraphOp {
            caller: Caller::App(AppIx(1)),
            proof: Proof::Right,
            call: Call::Pass {
                psid: "42".into(),
                target: Some(AppRef::PageInbox),
                metadata: Some("m".into()),
            },
            transport: Transport {
                encoding: Encoding::Form,
                token_at: TokenAt::Body,
                page_node: true,
                unversioned: true,
                ..Transport::default()
            },
        };
        let req = render_graph(&op, &setup, &creds);
        assert_eq!(req.path_and_query, "/123456/pass_thread_control");
        let body = String::from_utf8(req.body.clone().unwrap()).unwrap();
        assert!(
            body.contains("recipient=%7B%22id%22%3A%2242%22%7D"),
            "{body}"
        );
        assert!(body.contains("target_app_id=263902037430900"), "{body}");
        assert!(body.contains("access_token=EAA-desk"), "{body}");
        assert!(body.contains("appsecret_proof="), "{body}");
        assert_eq!(round_trip(&op).1, op);
    }

    #[test]
    fn get_calls_use_the_query_and_bare_psids() {
        let op = GraphOp {
            caller: Caller::App(AppIx(0)),
            proof: Proof::Absent,
            call: Call::ThreadOwner { psid: "42".into() },
            transport: Transport {
                encoding: Encoding::Json,
                token_at: TokenAt::Bearer,
                ..Transport::default()
            },
        };
        let (req, back) = round_trip(&op);
        assert_eq!(req.path_and_query, "/v19.0/me/thread_owner?recipient=42");
        assert_eq!(req.header("authorization"), Some("Bearer EAA-bot"));
        assert_eq!(req.body, None);
        assert_eq!(back.call, op.call);
        assert_eq!(back.transport.encoding, Encoding::Query);
        let (setup, creds) = page();
        assert_eq!(back, canonical(&op, &setup, &creds));
    }

    #[test]
    fn callers_without_a_known_app() {
        let (setup, creds) = page();
        for caller in [
            Caller::Missing,
            Caller::Empty,
            Caller::Unknown,
            Caller::App(AppIx(9)),
        ] {
            let op = GraphOp {
                caller,
                proof: Proof::Right,
                call: Call::Release { psid: "1".into() },
                transport: Transport::default(),
            };
            let (req, back) = round_trip(&op);
            let want = canonical(&op, &setup, &creds);
            assert_eq!(back, want, "{req:?}");
            assert_eq!(want.proof, Proof::Wrong);
            if caller == Caller::Empty {
                assert!(req.path_and_query.contains("access_token=&"), "{req:?}");
            }
        }
    }

    #[test]
    fn every_defect_round_trips() {
        let (setup, creds) = page();
        let defects = Defect::ALL;
        for &defect in defects {
            for &edge in Edge::ALL {
                let op = GraphOp::by(AppIx(1), Call::Malformed { edge, defect });
                let (req, back) = round_trip(&op);
                assert_eq!(
                    back,
                    canonical(&op, &setup, &creds),
                    "{defect:?} on {edge:?}: {req:?}"
                );
                if defect_applies(edge, defect) {
                    assert_eq!(back.call, op.call);
                }
            }
        }
        let bad = |d| {
            render_graph(
                &GraphOp::by(
                    AppIx(0),
                    Call::Malformed {
                        edge: Edge::Messages,
                        defect: d,
                    },
                ),
                &setup,
                &creds,
            )
        };
        assert!(
            bad(Defect::BadPath)
                .path_and_query
                .starts_with("/v19.0/me?")
        );
        assert!(
            bad(Defect::WrongNode)
                .path_and_query
                .starts_with("/v19.0/1234560/messages?")
        );
        assert_eq!(
            bad(Defect::BodyNotJson).body.as_deref(),
            Some(&b"{not json"[..])
        );
    }
}
