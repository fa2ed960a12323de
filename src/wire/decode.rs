//! Server side, second step: a [`RawRequest`] judged into the
//! [`GraphOp`] the model applies.
//!
//! The decoder does not refuse anything itself. It records what it found
//! (the caller, the proof, the call or the first [`Defect`]) and leaves it to
//! the model to decide which problem answers first, so that the check order
//! of `wire.md` is written once, in the model. What the decoder does own is
//! the reading of values: which JSON shapes and texts each parameter
//! accepts. Range checks (text length, `duration` bounds, empty quick
//! replies, `MESSAGE_TAG` without a tag) belong to the model, so the decoder
//! passes such values through untouched.

use super::http::AppCredentials;
use super::params::{Params, duration, id, looks_structured, name_list, present, structured};
use super::request::{RawRequest, TokenFound};
use super::sign::check_appsecret_proof;
use crate::model::{
    AppIx, AppRef, Call, Caller, Choice, Defect, DurationAs, Edge, Encoding, GraphOp, Message,
    MessagingType, Proof, Setup, TokenAt, Transport,
};
use serde_json::Value;

/// What the server knows about the page a token belongs to. Implemented by
/// [`PageKeys`]; a server with its own credential store can implement it
/// directly.
pub trait PageCredentials {
    /// The page's setup: its id (for the node check) and its apps (to
    /// resolve `target_app_id`).
    fn setup(&self) -> &Setup;
    /// Which of the page's apps this token belongs to.
    fn app_for_token(&self, token: &str) -> Option<AppIx>;
    /// The app's secret, for checking `appsecret_proof`.
    fn app_secret(&self, app: AppIx) -> Option<&str>;
}

/// A page's setup with the credentials of its apps, in setup order.
#[derive(Clone, Copy, Debug)]
pub struct PageKeys<'a> {
    pub setup: &'a Setup,
    pub apps: &'a [AppCredentials],
}

impl PageCredentials for PageKeys<'_> {
    fn setup(&self) -> &Setup {
        self.setup
    }

    fn app_for_token(&self, token: &str) -> Option<AppIx> {
        let n = self.apps.len().min(self.setup.apps.len());
        self.apps[..n]
            .iter()
            .position(|c| c.access_token == token)
            .map(|i| AppIx(i as u8))
    }

    fn app_secret(&self, app: AppIx) -> Option<&str> {
        self.apps.get(app.index()).map(|c| c.app_secret.as_str())
    }
}

/// The whole Graph operation. `page` is the page the token belongs to; a
/// server that found no page for the token passes `None` (the caller is then
/// [`Caller::Unknown`], the node is not checked, `target_app_id` stays
/// unresolved, and any proof counts as wrong: the model answers such a call
/// from the token alone, see [`apply_pageless`](crate::model::apply_pageless)).
///
/// The returned `transport` records what was observed: the body encoding,
/// where the token was, whether the node was the page id, whether the path
/// had a version.
pub fn decode_graph(req: &RawRequest, page: Option<&dyn PageCredentials>) -> GraphOp {
    let caller = match &req.token {
        TokenFound::None => Caller::Missing,
        TokenFound::Empty(_) => Caller::Empty,
        TokenFound::Given { token, .. } => page
            .and_then(|p| p.app_for_token(token))
            .map_or(Caller::Unknown, Caller::App),
    };
    let proof = match (&req.proof, caller, page, req.token()) {
        (None, ..) => Proof::Absent,
        (Some(proof), Caller::App(app), Some(page), Some(token)) => match page.app_secret(app) {
            Some(secret) if check_appsecret_proof(secret, token, proof) => Proof::Right,
            _ => Proof::Wrong,
        },
        (Some(_), ..) => Proof::Wrong,
    };
    let call = decode_path_and_call(req, page);
    let mut transport = Transport {
        encoding: req.encoding,
        token_at: match &req.token {
            TokenFound::None => TokenAt::default(),
            TokenFound::Empty(at) | TokenFound::Given { at, .. } => *at,
        },
        page_node: req.path.as_ref().is_ok_and(|p| p.node != "me"),
        unversioned: req.path.as_ref().is_ok_and(|p| p.version.is_none()),
        decoy_token: req.losing_token,
        proof_upper: req.proof.as_deref().is_some_and(upper_hex),
        ..Transport::default()
    };
    if let (false, Ok(params)) = (matches!(call, Call::Malformed { .. }), &req.params) {
        observe_spellings(&mut transport, req, call.edge(), params);
    }
    GraphOp {
        caller,
        proof,
        call,
        transport,
    }
}

/// Hex written in upper case: some `A`–`F`, no `a`–`f`.
fn upper_hex(s: &str) -> bool {
    s.bytes().any(|b| (b'A'..=b'F').contains(&b)) && !s.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

/// The parameters every edge reads (credentials aside); anything else is
/// an extra parameter, ignored.
fn known_params(edge: Edge) -> &'static [&'static str] {
    match edge {
        Edge::Messages => &["recipient", "messaging_type", "tag", "message"],
        Edge::PassThreadControl | Edge::PassThreadMetadata => {
            &["recipient", "target_app_id", "metadata"]
        }
        Edge::TakeThreadControl | Edge::RequestThreadControl => &["recipient", "metadata"],
        Edge::ReleaseThreadControl | Edge::ThreadOwner => &["recipient"],
        Edge::ExtendThreadControl => &["recipient", "duration"],
        Edge::SecondaryReceivers => &["fields", "platform"],
        Edge::MessengerProfile => &["persistent_menu", "fields", "platform"],
        Edge::CustomUserSettings => &["psid", "persistent_menu", "params"],
    }
}

/// Records which accepted spellings a well-formed call's parameters used
/// (`wire.md`, precise point 5). None of them changes the call.
fn observe_spellings(t: &mut Transport, req: &RawRequest, edge: Edge, params: &Params) {
    let json = req.encoding == Encoding::Json;
    t.decoy_param = req.shadowed_param;
    t.extra_param = params
        .keys()
        .any(|k| !known_params(edge).contains(&k.as_str()));
    let recipient = params.get("recipient");
    t.recipient_as_text = match (edge, recipient) {
        (Edge::ThreadOwner, Some(Value::String(s))) => looks_structured(s),
        (_, Some(Value::String(_))) => json,
        _ => false,
    };
    let recipient_id_is_number = recipient
        .and_then(structured)
        .is_some_and(|r| matches!(r.get("id"), Some(Value::Number(_))));
    let number = |k: &str| matches!(params.get(k), Some(Value::Number(_)));
    t.ids_as_integers = recipient_id_is_number || number("target_app_id") || number("psid");
    let has_null = |o: &serde_json::Map<String, Value>| o.values().any(Value::is_null);
    let message = params.get("message").and_then(Value::as_object);
    let payload = message
        .and_then(|m| m.get("attachment"))
        .and_then(|a| a.get("payload"))
        .and_then(Value::as_object);
    t.explicit_nulls = json
        && (has_null(params) || message.is_some_and(has_null) || payload.is_some_and(has_null));
    t.duration_as = match (edge, params.get("duration")) {
        (Edge::ExtendThreadControl, Some(Value::String(_))) if json => DurationAs::Text,
        (Edge::ExtendThreadControl, Some(Value::Number(n))) if json && n.is_f64() => {
            DurationAs::Float
        }
        _ => DurationAs::Number,
    };
}

fn decode_path_and_call(req: &RawRequest, page: Option<&dyn PageCredentials>) -> Call {
    let malformed = |edge: Edge, defect| Call::Malformed { edge, defect };
    let path = match &req.path {
        Ok(p) => p,
        // The model does not look at the edge of a bad path; naming the one
        // the path mentions (if any) lets such a call round-trip exactly.
        Err(d) => return malformed(edge_in_bad_path(&req.raw_path), *d),
    };
    // Before the route is known, an unknown edge has no `Edge`; `Messages`
    // stands in (the model does not look at it).
    let edge_or_placeholder = Edge::parse(&path.edge).unwrap_or(Edge::Messages);
    if let Some(page) = page
        && let Err(d) = check_node(&path.node, &page.setup().page_id)
    {
        return malformed(edge_or_placeholder, d);
    }
    let edge = match check_route(&req.method, &path.edge) {
        Ok(e) => e,
        Err(d) => return malformed(edge_or_placeholder, d),
    };
    let params = match &req.params {
        Ok(p) => p,
        Err(d) => return malformed(edge, *d),
    };
    match decode_call(&req.method, &path.edge, params) {
        Ok(call) => match page {
            Some(page) => resolve_apps(call, page.setup()),
            None => call,
        },
        Err(d) => malformed(edge, d),
    }
}

/// The first segment of a malformed path that names an edge, else
/// `Messages` as a placeholder.
fn edge_in_bad_path(path: &str) -> Edge {
    path.split('/')
        .find_map(Edge::parse)
        .unwrap_or(Edge::Messages)
}

/// The node must be `me` or the page's own id.
pub fn check_node(node: &str, page_id: &str) -> Result<(), Defect> {
    if node == "me" || node == page_id {
        Ok(())
    } else {
        Err(Defect::WrongNode)
    }
}

/// The edge must be one of the Graph edges, and take this method.
pub fn check_route(method: &str, edge: &str) -> Result<Edge, Defect> {
    let e = Edge::parse(edge).ok_or(Defect::UnknownEdge)?;
    let m = method.to_ascii_uppercase();
    let ok = match e {
        Edge::ThreadOwner | Edge::SecondaryReceivers => m == "GET",
        Edge::MessengerProfile | Edge::CustomUserSettings => m == "POST" || m == "DELETE",
        _ => m == "POST",
    };
    if ok { Ok(e) } else { Err(Defect::WrongMethod) }
}

/// The call a request's parameters make on an edge, or the first defect.
///
/// `target_app_id` comes back as [`AppRef::Unknown`] holding the id as
/// received, whatever it names: the decoder does not know the page's apps.
/// [`resolve_apps`] (which [`decode_graph`] applies) turns it into the app,
/// the Page Inbox or a truly unknown id.
pub fn decode_call(method: &str, edge: &str, params: &Params) -> Result<Call, Defect> {
    let e = check_route(method, edge)?;
    let delete = method.eq_ignore_ascii_case("DELETE");
    Ok(match e {
        Edge::Messages => {
            let psid = recipient(params, false)?;
            let messaging_type = match present(params, "messaging_type") {
                None => return Err(Defect::MessagingTypeMissing),
                Some(Value::String(s)) => match s.as_str() {
                    "RESPONSE" => MessagingType::Response,
                    "UPDATE" => MessagingType::Update,
                    "MESSAGE_TAG" => MessagingType::MessageTag,
                    _ => return Err(Defect::MessagingTypeUnknown),
                },
                Some(_) => return Err(Defect::MessagingTypeUnknown),
            };
            let tag = match present(params, "tag") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(Defect::Other),
            };
            let message = match present(params, "message") {
                None => return Err(Defect::MessageMissing),
                Some(v) => message(v)?,
            };
            Call::Send {
                psid,
                messaging_type,
                tag,
                message,
            }
        }
        Edge::PassThreadControl => {
            let psid = recipient(params, false)?;
            let target = match present(params, "target_app_id") {
                None => None,
                Some(v) => Some(AppRef::Unknown(id(v)?)),
            };
            Call::Pass {
                psid,
                target,
                metadata: metadata(params)?,
            }
        }
        Edge::TakeThreadControl => Call::Take {
            psid: recipient(params, false)?,
            metadata: metadata(params)?,
        },
        Edge::RequestThreadControl => Call::Request {
            psid: recipient(params, false)?,
            metadata: metadata(params)?,
        },
        Edge::ReleaseThreadControl => Call::Release {
            psid: recipient(params, false)?,
        },
        Edge::PassThreadMetadata => {
            let psid = recipient(params, false)?;
            let target = match present(params, "target_app_id") {
                None => return Err(Defect::TargetMissing),
                Some(v) => AppRef::Unknown(id(v)?),
            };
            let metadata = metadata(params)?.ok_or(Defect::MetadataMissing)?;
            Call::PassMetadata {
                psid,
                target,
                metadata,
            }
        }
        Edge::ExtendThreadControl => {
            let psid = recipient(params, false)?;
            let duration = match params.get("duration") {
                None => return Err(Defect::DurationMissing),
                // Unlike elsewhere, an explicit null is a wrong value here.
                Some(v) => duration(v)?,
            };
            Call::Extend { psid, duration }
        }
        Edge::ThreadOwner => Call::ThreadOwner {
            psid: recipient(params, true)?,
        },
        // `fields` (which ones to list) is ignored: the answer has both.
        Edge::SecondaryReceivers => Call::SecondaryReceivers {
            platform: platform(params)?,
        },
        Edge::MessengerProfile if delete => {
            names_include_menu(params, "fields")?;
            Call::DeletePageMenu {
                platform: platform(params)?,
            }
        }
        Edge::MessengerProfile => Call::SetPageMenu {
            items: persistent_menu(params)?,
            platform: platform(params)?,
        },
        Edge::CustomUserSettings if delete => {
            let psid = psid(params)?;
            names_include_menu(params, "params")?;
            Call::DeleteUserMenu { psid }
        }
        Edge::CustomUserSettings => {
            let psid = psid(params)?;
            Call::SetUserMenu {
                psid,
                items: persistent_menu(params)?,
            }
        }
    })
}

/// Resolves the `target_app_id` left by [`decode_call`] against the page.
pub fn resolve_apps(call: Call, setup: &Setup) -> Call {
    match call {
        Call::Pass {
            psid,
            target: Some(AppRef::Unknown(id)),
            metadata,
        } => Call::Pass {
            psid,
            target: Some(setup.app_ref(&id)),
            metadata,
        },
        Call::PassMetadata {
            psid,
            target: AppRef::Unknown(id),
            metadata,
        } => Call::PassMetadata {
            psid,
            target: setup.app_ref(&id),
            metadata,
        },
        other => other,
    }
}

/// `recipient`: an object with an `id`, or JSON text of one. With `bare`
/// (`thread_owner`), also the PSID itself, as text or as a number; on the
/// other edges a bare PSID is [`Defect::RecipientBare`].
fn recipient(params: &Params, bare: bool) -> Result<String, Defect> {
    let v = present(params, "recipient").ok_or(Defect::RecipientMissing)?;
    let bare_psid = match v {
        Value::String(s) => !looks_structured(s),
        Value::Number(_) => true,
        _ => false,
    };
    if bare && bare_psid {
        return id(v);
    }
    let obj = match structured(v) {
        Some(Value::Null) => return Err(Defect::RecipientMissing),
        Some(Value::Object(o)) => o,
        _ if bare_psid => return Err(Defect::RecipientBare),
        _ => return Err(Defect::RecipientMalformed),
    };
    id(present(&obj, "id").ok_or(Defect::RecipientMalformed)?)
}

/// `psid` of `custom_user_settings`.
fn psid(params: &Params) -> Result<String, Defect> {
    id(present(params, "psid").ok_or(Defect::PsidMissing)?)
}

/// `platform` of `messenger_profile` and `secondary_receivers`: absent, or
/// text, passed on as received; the model judges the value (IG-5, IG-6).
fn platform(params: &Params) -> Result<Option<String>, Defect> {
    match present(params, "platform") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Defect::Other),
    }
}

/// `metadata`: absent, or a string (`""` included).
fn metadata(params: &Params) -> Result<Option<String>, Defect> {
    match present(params, "metadata") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Defect::MetadataNotString),
    }
}

/// `message`: exactly one of `text` (with optional `quick_replies`) and a
/// template `attachment` (button or customer feedback).
fn message(v: &Value) -> Result<Message, Defect> {
    let bad = Defect::MessageMalformed;
    let obj = match structured(v) {
        Some(Value::Null) => return Err(Defect::MessageMissing),
        Some(Value::Object(o)) => o,
        _ => return Err(bad),
    };
    match (present(&obj, "text"), present(&obj, "attachment")) {
        (Some(text), None) => {
            let Value::String(text) = text else {
                return Err(bad);
            };
            let quick_replies = match present(&obj, "quick_replies") {
                None => None,
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|i| choice(i, "content_type", "text"))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(bad)?,
                ),
                Some(_) => return Err(bad),
            };
            Ok(Message::Text {
                text: text.clone(),
                quick_replies,
            })
        }
        (None, Some(att)) => {
            let Value::Object(att) = att else {
                return Err(bad);
            };
            if present(att, "type") != Some(&Value::String("template".into())) {
                return Err(bad);
            }
            let Some(Value::Object(payload)) = present(att, "payload") else {
                return Err(bad);
            };
            match present(payload, "template_type").and_then(Value::as_str) {
                Some("button") => {
                    let Some(Value::String(text)) = present(payload, "text") else {
                        return Err(bad);
                    };
                    let Some(Value::Array(buttons)) = present(payload, "buttons") else {
                        return Err(bad);
                    };
                    let buttons = buttons
                        .iter()
                        .map(|b| choice(b, "type", "postback"))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(bad)?;
                    Ok(Message::Buttons {
                        text: text.clone(),
                        buttons,
                    })
                }
                Some("customer_feedback") => {
                    let title = match present(payload, "title") {
                        None => None,
                        Some(Value::String(t)) => Some(t.clone()),
                        Some(_) => return Err(bad),
                    };
                    Ok(Message::Survey { title })
                }
                _ => Err(bad),
            }
        }
        (Some(_), Some(_)) => Err(Defect::TextAndAttachment),
        (None, None) => Err(bad),
    }
}

/// A quick reply, button or menu item: `{kind_key: kind, title, payload}`.
fn choice(v: &Value, kind_key: &str, kind: &str) -> Option<Choice> {
    let o = v.as_object()?;
    if o.get(kind_key)?.as_str()? != kind {
        return None;
    }
    Some(Choice {
        title: o.get("title")?.as_str()?.to_string(),
        payload: o.get("payload")?.as_str()?.to_string(),
    })
}

/// `persistent_menu`: the `call_to_actions` of the `default` locale's entry,
/// or of the first entry when none is marked `default`.
fn persistent_menu(params: &Params) -> Result<Vec<Choice>, Defect> {
    let bad = Defect::MenuMalformed;
    let v = present(params, "persistent_menu").ok_or(bad)?;
    let Some(Value::Array(entries)) = structured(v) else {
        return Err(bad);
    };
    let entry = entries
        .iter()
        .find(|e| e.get("locale").and_then(Value::as_str) == Some("default"))
        .or(entries.first())
        .ok_or(bad)?;
    let Some(Value::Array(items)) = entry.get("call_to_actions") else {
        return Err(bad);
    };
    items
        .iter()
        .map(|i| choice(i, "type", "postback"))
        .collect::<Option<Vec<_>>>()
        .ok_or(bad)
}

/// `fields` / `params` of a delete must name `persistent_menu`.
fn names_include_menu(params: &Params, key: &str) -> Result<(), Defect> {
    let names = present(params, key)
        .and_then(name_list)
        .ok_or(Defect::MenuMalformed)?;
    if names.iter().any(|n| n == "persistent_menu") {
        Ok(())
    } else {
        Err(Defect::MenuMalformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppSpec, Encoding};
    use crate::wire::request::HttpParts;
    use crate::wire::sign::appsecret_proof;
    use serde_json::json;

    fn p(v: Value) -> Params {
        v.as_object().unwrap().clone()
    }

    /// Form and query values are text: every value as a string.
    fn form(v: Value) -> Params {
        p(v).into_iter()
            .map(|(k, v)| (k, Value::String(super::super::params::as_text(&v))))
            .collect()
    }

    fn post(edge: &str, v: Value) -> Result<Call, Defect> {
        decode_call("POST", edge, &p(v))
    }

    fn send(message: Value) -> Result<Call, Defect> {
        post(
            "messages",
            json!({"recipient": {"id": "1"}, "messaging_type": "RESPONSE", "message": message}),
        )
    }

    fn text_msg(text: &str) -> Message {
        Message::Text {
            text: text.into(),
            quick_replies: None,
        }
    }

    #[test]
    fn recipients_and_ids() {
        let take = |r: Value| post("take_thread_control", json!({ "recipient": r }));
        let ok = |psid: &str| {
            Ok(Call::Take {
                psid: psid.into(),
                metadata: None,
            })
        };
        assert_eq!(take(json!({"id": "12"})), ok("12"));
        assert_eq!(take(json!({"id": 12})), ok("12"));
        assert_eq!(take(json!(r#"{"id":"12"}"#)), ok("12"));
        assert_eq!(take(json!(r#"{"id":12}"#)), ok("12"));
        assert_eq!(take(json!({"id": "12", "extra": true})), ok("12"));
        assert_eq!(take(json!(null)), Err(Defect::RecipientMissing));
        assert_eq!(take(json!("null")), Err(Defect::RecipientMissing));
        assert_eq!(
            post("take_thread_control", json!({})),
            Err(Defect::RecipientMissing)
        );
        for bad in [
            json!([1]),
            json!("{x"),
            json!({}),
            json!(true),
            json!("[1]"),
        ] {
            assert_eq!(take(bad.clone()), Err(Defect::RecipientMalformed), "{bad}");
        }
        // Only thread_owner takes a bare PSID.
        for bare in [json!("12"), json!(12), json!("abc")] {
            assert_eq!(take(bare.clone()), Err(Defect::RecipientBare), "{bare}");
        }
        assert_eq!(take(json!({"id": null})), Err(Defect::RecipientMalformed));
        for (bad, defect) in [
            (json!(""), Defect::IdMalformed),
            (json!([]), Defect::IdMalformed),
            (json!(true), Defect::IdBoolean),
            (json!(1.5), Defect::IdFloat),
            (json!(2.0), Defect::IdFloat),
            (json!({"x": 1}), Defect::IdObject),
        ] {
            assert_eq!(take(json!({ "id": bad })), Err(defect), "{bad}");
            assert_eq!(
                take(json!(json!({ "id": bad }).to_string())),
                Err(defect),
                "{bad} as JSON text"
            );
        }
    }

    #[test]
    fn thread_owner_takes_a_bare_psid() {
        let get = |v: Value| decode_call("GET", "thread_owner", &p(v));
        let ok = |psid: &str| Ok(Call::ThreadOwner { psid: psid.into() });
        assert_eq!(get(json!({"recipient": "123"})), ok("123"));
        assert_eq!(get(json!({"recipient": 123})), ok("123"));
        assert_eq!(get(json!({"recipient": "abc"})), ok("abc"));
        assert_eq!(get(json!({"recipient": r#"{"id":"7"}"#})), ok("7"));
        assert_eq!(get(json!({"recipient": {"id": 7}})), ok("7"));
        assert_eq!(get(json!({"recipient": ""})), Err(Defect::IdMalformed));
        assert_eq!(
            get(json!({"recipient": true})),
            Err(Defect::RecipientMalformed)
        );
        assert_eq!(
            get(json!({"recipient": "[1]"})),
            Err(Defect::RecipientMalformed)
        );
        assert_eq!(get(json!({})), Err(Defect::RecipientMissing));
        // Bare text is always a PSID, even one that reads like JSON null.
        assert_eq!(get(json!({"recipient": "null"})), ok("null"));
        assert_eq!(
            get(json!({ "recipient": null })),
            Err(Defect::RecipientMissing)
        );
    }

    #[test]
    fn pass_targets_and_metadata() {
        let pass = |extra: Value| {
            let mut m = p(json!({"recipient": {"id": "1"}}));
            m.extend(p(extra));
            decode_call("POST", "pass_thread_control", &m)
        };
        let ok = |target: Option<&str>, metadata: Option<&str>| {
            Ok(Call::Pass {
                psid: "1".into(),
                target: target.map(|t| AppRef::Unknown(t.into())),
                metadata: metadata.map(String::from),
            })
        };
        assert_eq!(pass(json!({})), ok(None, None));
        assert_eq!(pass(json!({"target_app_id": null})), ok(None, None));
        assert_eq!(pass(json!({"target_app_id": "55"})), ok(Some("55"), None));
        assert_eq!(pass(json!({"target_app_id": 55})), ok(Some("55"), None));
        for (bad, defect) in [
            (json!(""), Defect::IdMalformed),
            (json!([]), Defect::IdMalformed),
            (json!(false), Defect::IdBoolean),
            (json!(5.5), Defect::IdFloat),
            (json!({}), Defect::IdObject),
        ] {
            assert_eq!(pass(json!({ "target_app_id": bad })), Err(defect));
        }
        assert_eq!(pass(json!({"metadata": ""})), ok(None, Some("")));
        assert_eq!(pass(json!({"metadata": null})), ok(None, None));
        assert_eq!(
            pass(json!({"metadata": "{\"a\":1}"})),
            ok(None, Some("{\"a\":1}"))
        );
        for bad in [json!(1), json!(true), json!({}), json!(["x"])] {
            assert_eq!(
                pass(json!({ "metadata": bad })),
                Err(Defect::MetadataNotString)
            );
        }
    }

    #[test]
    fn durations() {
        let extend = |d: Option<Value>| {
            let mut m = p(json!({"recipient": {"id": "1"}}));
            if let Some(d) = d {
                m.insert("duration".into(), d);
            }
            decode_call("POST", "extend_thread_control", &m)
        };
        let ok = |duration| {
            Ok(Call::Extend {
                psid: "1".into(),
                duration,
            })
        };
        assert_eq!(extend(Some(json!(3600))), ok(3600));
        assert_eq!(extend(Some(json!("3600"))), ok(3600));
        assert_eq!(extend(Some(json!(3600.0))), ok(3600));
        // Out of range is the model's to refuse.
        assert_eq!(extend(Some(json!(0))), ok(0));
        assert_eq!(extend(Some(json!(-7))), ok(-7));
        assert_eq!(extend(Some(json!(604801))), ok(604801));
        assert_eq!(extend(Some(json!("1e30"))), ok(i64::MAX));
        assert_eq!(extend(None), Err(Defect::DurationMissing));
        for (bad, defect) in [
            (json!(1.5), Defect::DurationFloat),
            (json!("1.5"), Defect::DurationFloat),
            (json!("abc"), Defect::DurationNotInteger),
            (json!(""), Defect::DurationNotInteger),
            (json!(true), Defect::DurationBool),
            (json!(null), Defect::DurationNull),
        ] {
            assert_eq!(extend(Some(bad)), Err(defect));
        }
    }

    #[test]
    fn sends() {
        assert_eq!(
            send(json!({"text": "hi"})),
            Ok(Call::Send {
                psid: "1".into(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: text_msg("hi"),
            })
        );
        let mut m = p(
            json!({"recipient": {"id": 9}, "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT", "message": {"text": "", "attachment": null}}),
        );
        assert_eq!(
            decode_call("POST", "messages", &m),
            Ok(Call::Send {
                psid: "9".into(),
                messaging_type: MessagingType::MessageTag,
                tag: Some("HUMAN_AGENT".into()),
                message: text_msg(""),
            })
        );
        m.insert("tag".into(), json!(5));
        assert_eq!(decode_call("POST", "messages", &m), Err(Defect::Other));
        m.insert("tag".into(), Value::Null);
        m.insert("messaging_type".into(), json!("response"));
        assert_eq!(
            decode_call("POST", "messages", &m),
            Err(Defect::MessagingTypeUnknown)
        );
        m.insert("messaging_type".into(), json!(1));
        assert_eq!(
            decode_call("POST", "messages", &m),
            Err(Defect::MessagingTypeUnknown)
        );
        m.remove("messaging_type");
        assert_eq!(
            decode_call("POST", "messages", &m),
            Err(Defect::MessagingTypeMissing)
        );
        assert_eq!(
            post(
                "messages",
                json!({"recipient": {"id": "1"}, "messaging_type": "UPDATE"})
            ),
            Err(Defect::MessageMissing)
        );
        assert_eq!(send(json!(null)), Err(Defect::MessageMissing));
        assert_eq!(send(json!("null")), Err(Defect::MessageMissing));
    }

    #[test]
    fn messages() {
        let qr = |t: &str, p: &str| Choice {
            title: t.into(),
            payload: p.into(),
        };
        assert_eq!(
            send(json!({"text": "hi", "quick_replies": [
                {"content_type": "text", "title": "A", "payload": "a", "image_url": "x"}]})),
            Ok(Call::Send {
                psid: "1".into(),
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Text {
                    text: "hi".into(),
                    quick_replies: Some(vec![qr("A", "a")])
                },
            })
        );
        let msg = |m: Value| match send(m) {
            Ok(Call::Send { message, .. }) => Ok(message),
            Ok(other) => panic!("{other:?}"),
            Err(d) => Err(d),
        };
        assert_eq!(
            msg(json!({"text": "hi", "quick_replies": []})),
            Ok(Message::Text {
                text: "hi".into(),
                quick_replies: Some(vec![])
            })
        );
        assert_eq!(
            msg(json!({"text": "hi", "quick_replies": null})),
            Ok(text_msg("hi"))
        );
        assert_eq!(msg(json!(r#"{"text":"hi"}"#)), Ok(text_msg("hi")));
        let buttons = json!({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": "Pick",
            "buttons": [{"type": "postback", "title": "Yes", "payload": "Y"}]}}});
        assert_eq!(
            msg(buttons),
            Ok(Message::Buttons {
                text: "Pick".into(),
                buttons: vec![qr("Yes", "Y")]
            })
        );
        assert_eq!(
            msg(json!({"attachment": {"type": "template", "payload": {
                "template_type": "customer_feedback", "title": "Rate us", "subtitle": "x"}}})),
            Ok(Message::Survey {
                title: Some("Rate us".into())
            })
        );
        assert_eq!(
            msg(
                json!({"text": null, "attachment": {"type": "template", "payload": {
                "template_type": "customer_feedback", "title": null}}})
            ),
            Ok(Message::Survey { title: None })
        );
        for bad in [
            json!({}),
            json!([]),
            json!("hi"),
            json!({"text": 5}),
            json!({"text": "a", "quick_replies": {}}),
            json!({"text": "a", "quick_replies": [{"title": "A", "payload": "a"}]}),
            json!({"text": "a", "quick_replies": [{"content_type": "text", "title": "A"}]}),
            json!({"text": "a", "quick_replies": [
                {"content_type": "user_email", "title": "A", "payload": "a"}]}),
            json!({"attachment": {"type": "image", "payload": {"url": "x"}}}),
            json!({"attachment": {"type": "template", "payload": {"template_type": "generic"}}}),
            json!({"attachment": {"type": "template", "payload": {
                "template_type": "button", "text": "x", "buttons": [
                    {"type": "web_url", "title": "t", "url": "u"}]}}}),
            json!({"attachment": {"type": "template", "payload": {
                "template_type": "button", "buttons": []}}}),
            json!({"attachment": {"type": "template", "payload": {
                "template_type": "customer_feedback", "title": 3}}}),
            json!({"attachment": "x"}),
        ] {
            assert_eq!(msg(bad.clone()), Err(Defect::MessageMalformed), "{bad}");
        }
        // Text and attachment together: exactly one shape is allowed.
        let both = json!({"text": "a", "attachment": {"type": "template", "payload": {
            "template_type": "customer_feedback"}}});
        assert_eq!(msg(both.clone()), Err(Defect::TextAndAttachment));
        assert_eq!(msg(json!(both.to_string())), Err(Defect::TextAndAttachment));
    }

    #[test]
    fn menus() {
        let item = |t: &str| json!({"type": "postback", "title": t, "payload": t});
        let ch = |t: &str| Choice {
            title: t.into(),
            payload: t.into(),
        };
        let menu = json!([
            {"locale": "fr_FR", "call_to_actions": [item("fr")]},
            {"locale": "default", "composer_input_disabled": false,
             "call_to_actions": [item("a"), item("b")]}
        ]);
        assert_eq!(
            post("messenger_profile", json!({ "persistent_menu": menu })),
            Ok(Call::SetPageMenu {
                items: vec![ch("a"), ch("b")],
                platform: None,
            })
        );
        assert_eq!(
            decode_call(
                "POST",
                "messenger_profile",
                &form(
                    json!({ "persistent_menu": [{"locale": "fr_FR", "call_to_actions": [item("fr")]}] })
                )
            ),
            Ok(Call::SetPageMenu {
                items: vec![ch("fr")],
                platform: None,
            })
        );
        assert_eq!(
            post(
                "custom_user_settings",
                json!({"psid": 42, "persistent_menu": [{"call_to_actions": []}]})
            ),
            Ok(Call::SetUserMenu {
                psid: "42".into(),
                items: vec![]
            })
        );
        for bad in [
            json!({}),
            json!({"persistent_menu": []}),
            json!({"persistent_menu": "x"}),
            json!({"persistent_menu": [{"locale": "default"}]}),
            json!({"persistent_menu": [{"call_to_actions": [{"type": "web_url", "title": "t"}]}]}),
            json!({"greeting": [{"locale": "default", "text": "hi"}]}),
        ] {
            assert_eq!(
                post("messenger_profile", bad.clone()),
                Err(Defect::MenuMalformed),
                "{bad}"
            );
        }
        assert_eq!(
            post("custom_user_settings", json!({"persistent_menu": menu})),
            Err(Defect::PsidMissing)
        );
        assert_eq!(
            post(
                "custom_user_settings",
                json!({"psid": "", "persistent_menu": menu})
            ),
            Err(Defect::IdMalformed)
        );

        let del = |edge: &str, v: Value| decode_call("DELETE", edge, &p(v));
        assert_eq!(
            del("messenger_profile", json!({"fields": ["persistent_menu"]})),
            Ok(Call::DeletePageMenu { platform: None })
        );
        assert_eq!(
            del(
                "messenger_profile",
                json!({"fields": "[\"greeting\",\"persistent_menu\"]"})
            ),
            Ok(Call::DeletePageMenu { platform: None })
        );
        assert_eq!(
            del("messenger_profile", json!({"fields": "persistent_menu"})),
            Ok(Call::DeletePageMenu { platform: None })
        );
        for bad in [
            json!({}),
            json!({"fields": ["greeting"]}),
            json!({"fields": 3}),
        ] {
            assert_eq!(del("messenger_profile", bad), Err(Defect::MenuMalformed));
        }
        assert_eq!(
            del(
                "custom_user_settings",
                json!({"psid": "5", "params": "[\"persistent_menu\"]"})
            ),
            Ok(Call::DeleteUserMenu { psid: "5".into() })
        );
        assert_eq!(
            del(
                "custom_user_settings",
                json!({"params": ["persistent_menu"]})
            ),
            Err(Defect::PsidMissing)
        );
        assert_eq!(
            del(
                "custom_user_settings",
                json!({"psid": "5", "fields": ["persistent_menu"]})
            ),
            Err(Defect::MenuMalformed)
        );
    }

    #[test]
    fn routes() {
        let empty = Params::new();
        assert_eq!(
            decode_call("POST", "feed", &empty),
            Err(Defect::UnknownEdge)
        );
        assert_eq!(
            decode_call("GET", "messages", &empty),
            Err(Defect::WrongMethod)
        );
        assert_eq!(
            decode_call("POST", "thread_owner", &empty),
            Err(Defect::WrongMethod)
        );
        assert_eq!(
            decode_call("GET", "messenger_profile", &empty),
            Err(Defect::WrongMethod)
        );
        assert_eq!(
            decode_call("PUT", "release_thread_control", &empty),
            Err(Defect::WrongMethod)
        );
        assert_eq!(
            decode_call(
                "get",
                "secondary_receivers",
                &p(json!({"fields": "id,name"}))
            ),
            Ok(Call::SecondaryReceivers { platform: None })
        );
        assert_eq!(check_node("me", "77"), Ok(()));
        assert_eq!(check_node("77", "77"), Ok(()));
        assert_eq!(check_node("78", "77"), Err(Defect::WrongNode));
    }

    fn setup() -> (Setup, Vec<AppCredentials>) {
        let spec = |id: &str, proof| AppSpec {
            app_id: id.into(),
            name: format!("App {id}"),
            human_agent: false,
            require_appsecret_proof: proof,
        };
        let setup = Setup::new(
            "777".into(),
            0,
            vec![spec("1001", false), spec("1002", true)],
            None,
        )
        .unwrap();
        let creds = (0..2)
            .map(|i| AppCredentials {
                access_token: format!("tok{i}"),
                app_secret: format!("sec{i}"),
                webhook_url: String::new(),
            })
            .collect();
        (setup, creds)
    }

    fn decode(
        method: &str,
        target: &str,
        headers: Vec<(&str, &str)>,
        ct: Option<&str>,
        body: &[u8],
        page: bool,
    ) -> GraphOp {
        let (setup, creds) = setup();
        let keys = PageKeys {
            setup: &setup,
            apps: &creds,
        };
        let (path, query) = crate::wire::request::split_target(target);
        let raw = RawRequest::parse(&HttpParts {
            method,
            path,
            query,
            headers,
            content_type: ct,
            body,
        });
        decode_graph(&raw, page.then_some(&keys as &dyn PageCredentials))
    }

    #[test]
    fn whole_requests() {
        let proof = appsecret_proof("sec1", "tok1");
        let target = format!("/v19.0/777/pass_thread_control?appsecret_proof={proof}");
        let g = decode(
            "POST",
            &target,
            vec![("Authorization", "Bearer tok1")],
            None,
            b"recipient=%7B%22id%22%3A%2242%22%7D&target_app_id=263902037430900&metadata=",
            true,
        );
        assert_eq!(g.caller, Caller::App(AppIx(1)));
        assert_eq!(g.proof, Proof::Right);
        assert_eq!(
            g.call,
            Call::Pass {
                psid: "42".into(),
                target: Some(AppRef::PageInbox),
                metadata: Some(String::new()),
            }
        );
        assert_eq!(
            g.transport,
            Transport {
                encoding: Encoding::Form,
                token_at: TokenAt::Bearer,
                page_node: true,
                unversioned: false,
                ..Transport::default()
            }
        );

        // A wrong proof, a target that resolves to an app.
        let g = decode(
            "POST",
            "/me/pass_thread_control?access_token=tok0&appsecret_proof=00",
            vec![],
            Some("application/json"),
            br#"{"recipient":{"id":42},"target_app_id":1002}"#,
            true,
        );
        assert_eq!(g.caller, Caller::App(AppIx(0)));
        assert_eq!(g.proof, Proof::Wrong);
        assert!(matches!(
            g.call,
            Call::Pass {
                target: Some(AppRef::App(AppIx(1))),
                ..
            }
        ));
        assert!(g.transport.unversioned && !g.transport.page_node);

        // Unknown token, no page: unresolved target, node unchecked.
        let g = decode(
            "POST",
            "/v1.0/999/pass_thread_control?access_token=nope&appsecret_proof=00",
            vec![],
            Some("application/json"),
            br#"{"recipient":{"id":42},"target_app_id":"1002"}"#,
            false,
        );
        assert_eq!((g.caller, g.proof), (Caller::Unknown, Proof::Wrong));
        assert!(matches!(
            g.call,
            Call::Pass {
                target: Some(AppRef::Unknown(_)),
                ..
            }
        ));

        // Defects in check order: path, then route, then body.
        let g = decode("POST", "/v19.0/me", vec![], None, b"{x", true);
        assert_eq!(
            g.call,
            Call::Malformed {
                edge: Edge::Messages,
                defect: Defect::BadPath
            }
        );
        assert_eq!(g.caller, Caller::Missing);
        let g = decode(
            "POST",
            "/v19.0/778/release_thread_control?access_token=tok0",
            vec![],
            None,
            b"{x",
            true,
        );
        assert_eq!(
            g.call,
            Call::Malformed {
                edge: Edge::ReleaseThreadControl,
                defect: Defect::WrongNode
            }
        );
        let g = decode(
            "POST",
            "/v19.0/me/conversations?access_token=tok0",
            vec![],
            None,
            b"{x",
            true,
        );
        assert_eq!(
            g.call,
            Call::Malformed {
                edge: Edge::Messages,
                defect: Defect::UnknownEdge
            }
        );
        let g = decode(
            "POST",
            "/v19.0/me/release_thread_control?access_token=",
            vec![],
            Some("application/json"),
            b"{x",
            true,
        );
        assert_eq!(g.caller, Caller::Empty);
        assert_eq!(
            g.call,
            Call::Malformed {
                edge: Edge::ReleaseThreadControl,
                defect: Defect::BodyNotJson
            }
        );
    }
}
