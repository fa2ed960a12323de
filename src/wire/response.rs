//! Graph answers: the model's [`GraphSuccess`] / [`GraphError`] as HTTP
//! (server side) and back (harness side).
//!
//! Success bodies are ambiguous on their own (`{"data":[]}` is both an idle
//! `thread_owner` and an empty `secondary_receivers`), so the parser is told
//! which edge was called. The harness compares only the status, `code`,
//! `error_subcode` and the success fields; `message`, `fbtrace_id` and
//! message ids are implementation details, which [`ObservedAnswer::matches`]
//! leaves out.

use super::ids;
use crate::model::judge::ObservedAnswer;
use crate::model::{AppRef, Edge, GraphError, GraphOp, GraphSuccess, OwnerView, Party, Setup};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `fbtrace_id` the reference server puts in its errors. Clients only
/// log it; it carries no meaning here.
pub const REFERENCE_FBTRACE_ID: &str = "BatonRef0000";

/// `{"error":{…}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    pub code: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<u32>,
    #[serde(default)]
    pub fbtrace_id: String,
}

/// `{"recipient_id":…,"message_id":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentBody {
    #[serde(deserialize_with = "ids::id")]
    pub recipient_id: String,
    pub message_id: String,
}

/// `{"success":true}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessBody {
    pub success: bool,
}

/// `{"result":"success"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultBody {
    pub result: String,
}

/// `{"data":[…]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataBody<T> {
    pub data: Vec<T>,
}

/// One `thread_owner` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadOwnerEntry {
    pub thread_owner: ThreadOwnerInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadOwnerInfo {
    /// Absent for apps not allowed to see it (AUTH-4).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "ids::opt_id"
    )]
    pub app_id: Option<String>,
    pub expiration: u64,
}

/// One `secondary_receivers` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryReceiver {
    #[serde(deserialize_with = "ids::id")]
    pub id: String,
    pub name: String,
}

/// A Graph answer as the reference server sends it. `headers` includes
/// `Content-Type`.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// The `WWW-Authenticate` value that goes with an unknown token.
pub fn www_authenticate(message: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
    format!("OAuth \"Facebook Platform\" \"invalid_token\" \"{escaped}\"")
}

/// The error envelope for a model error.
pub fn error_envelope(e: &GraphError, fbtrace_id: &str) -> ErrorEnvelope {
    ErrorEnvelope {
        error: ErrorBody {
            message: e.message().to_string(),
            kind: "OAuthException".to_string(),
            code: e.code,
            error_subcode: e.subcode,
            fbtrace_id: fbtrace_id.to_string(),
        },
    }
}

/// The body of a successful call. App ids and names come from the setup.
pub fn render_success(s: &GraphSuccess, setup: &Setup) -> Value {
    match s {
        GraphSuccess::Sent {
            recipient_id,
            message_id,
        } => json!({ "recipient_id": recipient_id, "message_id": message_id }),
        GraphSuccess::Success => json!({ "success": true }),
        GraphSuccess::ThreadOwner(None) => json!({ "data": [] }),
        GraphSuccess::ThreadOwner(Some(view)) => {
            let entry = ThreadOwnerEntry {
                thread_owner: ThreadOwnerInfo {
                    app_id: view.app_id.map(|p| setup.party_id(p).to_string()),
                    expiration: view.expiration,
                },
            };
            json!({ "data": [entry] })
        }
        GraphSuccess::SecondaryReceivers(apps) => {
            let data: Vec<SecondaryReceiver> = apps
                .iter()
                .map(|a| {
                    let spec = setup.app(*a);
                    SecondaryReceiver {
                        id: spec.app_id.clone(),
                        name: spec.name.clone(),
                    }
                })
                .collect();
            json!({ "data": data })
        }
        GraphSuccess::Result => json!({ "result": "success" }),
    }
}

/// The whole HTTP answer for the model's verdict on a Graph call.
pub fn render_answer(answer: &Result<GraphSuccess, GraphError>, setup: &Setup) -> HttpAnswer {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    match answer {
        Ok(s) => HttpAnswer {
            status: 200,
            headers,
            body: render_success(s, setup),
        },
        Err(e) => {
            if e.www_authenticate {
                headers.push((
                    "WWW-Authenticate".to_string(),
                    www_authenticate(e.message()),
                ));
            }
            HttpAnswer {
                status: e.status,
                headers,
                body: serde_json::to_value(error_envelope(e, REFERENCE_FBTRACE_ID))
                    .expect("error envelopes serialize"),
            }
        }
    }
}

/// The `message` of a refusal, in Meta's own words where the decoder knows
/// what was wrong (the defect of a malformed call), so that a developer
/// reading it can act on it; else the code's general message.
pub fn error_message(op: &GraphOp, e: &GraphError) -> String {
    use crate::model::{Call, Defect};
    let Call::Malformed { defect, .. } = &op.call else {
        return e.message().to_string();
    };
    let param = |p: &str| format!("(#100) The parameter {p} is required");
    match defect {
        Defect::BadPath => {
            "(#100) Unknown path components: the path must be /{version}/{node}/{edge}".into()
        }
        Defect::WrongNode => {
            "(#100) The node must be me or the id of the page the access token belongs to".into()
        }
        Defect::UnknownEdge => "(#100) Unknown path component: this edge does not exist".into(),
        Defect::WrongMethod => "(#100) Unsupported request method for this edge".into(),
        Defect::BodyNotJson => "(#100) The request body is neither JSON nor form-encoded".into(),
        Defect::RecipientMissing => param("recipient"),
        Defect::RecipientMalformed => "(#100) Param recipient must be an object with an id".into(),
        Defect::IdMalformed => "(#100) An id must be a non-empty string or an integer".into(),
        Defect::IdBoolean => "(#100) An id must be a string or an integer, not a boolean".into(),
        Defect::IdFloat => "(#100) An id must be a string or an integer, not a number with a fraction".into(),
        Defect::IdObject => "(#100) An id must be a string or an integer, not an object".into(),
        Defect::RecipientBare => "(#100) Param recipient must be an object with an id (a bare id is only taken by thread_owner)".into(),
        Defect::TextAndAttachment => "(#100) Param message must have either text or attachment, not both".into(),
        Defect::DurationFloat => "(#100) Param duration must be a whole number of seconds".into(),
        Defect::DurationBool => "(#100) Param duration must be a number of seconds, not a boolean".into(),
        Defect::DurationNull => param("duration"),
        Defect::MessagingTypeMissing => param("messaging_type"),
        Defect::MessagingTypeUnknown => {
            "(#100) Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG".into()
        }
        Defect::MessageMissing => param("message"),
        Defect::MessageMalformed => {
            "(#100) Param message must be exactly one of text or attachment".into()
        }
        Defect::MetadataNotString => "(#100) Param metadata must be a string".into(),
        Defect::DurationMissing => param("duration"),
        Defect::DurationNotInteger => {
            "(#100) Param duration must be an integer number of seconds".into()
        }
        Defect::PsidMissing => param("psid"),
        Defect::TargetMissing => param("target_app_id"),
        Defect::MetadataMissing => param("metadata"),
        Defect::MenuMalformed => {
            "(#100) Param persistent_menu must be a non-empty list of menus".into()
        }
        Defect::Other => e.message().to_string(),
    }
}

/// Reads an implementation's answer to a call on `edge`. An error envelope
/// is read whatever the status; without one, a non-2xx status or a body
/// that does not fit the edge is an `Err` describing what was wrong.
pub fn parse_answer(
    edge: Edge,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    setup: &Setup,
) -> Result<ObservedAnswer, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("HTTP {status}: the body is not JSON ({e})"))?;
    if value.get("error").is_some() {
        let env: ErrorEnvelope = serde_json::from_value(value)
            .map_err(|e| format!("HTTP {status}: malformed error envelope ({e})"))?;
        let www = super::http::header(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            "www-authenticate",
        )
        .is_some();
        return Ok(ObservedAnswer {
            status,
            answer: Err(GraphError {
                status,
                code: env.error.code,
                subcode: env.error.error_subcode,
                www_authenticate: www,
            }),
        });
    }
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status} without an error envelope"));
    }
    let bad = |what: &str, e: serde_json::Error| format!("{what}: {e}");
    let success = match edge {
        Edge::Messages => {
            let b: SentBody = serde_json::from_value(value).map_err(|e| bad("send answer", e))?;
            GraphSuccess::Sent {
                recipient_id: b.recipient_id,
                message_id: b.message_id,
            }
        }
        Edge::PassThreadControl
        | Edge::TakeThreadControl
        | Edge::RequestThreadControl
        | Edge::ReleaseThreadControl
        | Edge::PassThreadMetadata
        | Edge::ExtendThreadControl => {
            let b: SuccessBody =
                serde_json::from_value(value).map_err(|e| bad("handover answer", e))?;
            if !b.success {
                return Err("\"success\" is false in a 2xx answer".into());
            }
            GraphSuccess::Success
        }
        Edge::ThreadOwner => {
            let b: DataBody<ThreadOwnerEntry> =
                serde_json::from_value(value).map_err(|e| bad("thread_owner answer", e))?;
            match b.data.as_slice() {
                [] => GraphSuccess::ThreadOwner(None),
                [entry] => {
                    let app_id = match &entry.thread_owner.app_id {
                        None => None,
                        Some(id) => Some(party(setup, id)?),
                    };
                    GraphSuccess::ThreadOwner(Some(OwnerView {
                        app_id,
                        expiration: entry.thread_owner.expiration,
                    }))
                }
                _ => return Err("thread_owner lists more than one owner".into()),
            }
        }
        Edge::SecondaryReceivers => {
            let b: DataBody<SecondaryReceiver> =
                serde_json::from_value(value).map_err(|e| bad("secondary_receivers answer", e))?;
            let apps = b
                .data
                .iter()
                .map(|r| match setup.app_ref(&r.id) {
                    AppRef::App(a) => Ok(a),
                    _ => Err(format!("secondary_receivers lists {:?}, not an app", r.id)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            GraphSuccess::SecondaryReceivers(apps)
        }
        Edge::MessengerProfile | Edge::CustomUserSettings => {
            let b: ResultBody = serde_json::from_value(value).map_err(|e| bad("menu answer", e))?;
            if b.result != "success" {
                return Err(format!("\"result\" is {:?}", b.result));
            }
            GraphSuccess::Result
        }
    };
    Ok(ObservedAnswer {
        status,
        answer: Ok(success),
    })
}

fn party(setup: &Setup, id: &str) -> Result<Party, String> {
    Party::from_ref(&setup.app_ref(id))
        .ok_or_else(|| format!("{id:?} is neither an app of the page nor an inbox"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppIx, AppSpec};

    fn setup() -> Setup {
        let app = |id: &str, name: &str| AppSpec {
            app_id: id.into(),
            name: name.into(),
            human_agent: false,
            require_appsecret_proof: false,
        };
        Setup::new(
            "9".into(),
            0,
            vec![app("11", "Bot"), app("12", "Desk"), app("13", "Shop")],
            Some("11"),
        )
        .unwrap()
    }

    fn round(edge: Edge, a: Result<GraphSuccess, GraphError>) -> (HttpAnswer, ObservedAnswer) {
        let s = setup();
        let http = render_answer(&a, &s);
        let body = serde_json::to_vec(&http.body).unwrap();
        let obs = parse_answer(edge, http.status, &http.headers, &body, &s).unwrap();
        assert!(obs.matches(&a), "{a:?} vs {obs:?}");
        assert_eq!(obs.answer, a);
        (http, obs)
    }

    #[test]
    fn successes() {
        let (h, _) = round(
            Edge::Messages,
            Ok(GraphSuccess::Sent {
                recipient_id: "5".into(),
                message_id: "m_1".into(),
            }),
        );
        assert_eq!(h.body, json!({"recipient_id": "5", "message_id": "m_1"}));
        let (h, _) = round(Edge::TakeThreadControl, Ok(GraphSuccess::Success));
        assert_eq!(h.body, json!({"success": true}));
        let (h, _) = round(Edge::ThreadOwner, Ok(GraphSuccess::ThreadOwner(None)));
        assert_eq!(h.body, json!({"data": []}));
        let (h, _) = round(
            Edge::ThreadOwner,
            Ok(GraphSuccess::ThreadOwner(Some(OwnerView {
                app_id: Some(Party::PageInbox),
                expiration: 1700000000,
            }))),
        );
        assert_eq!(
            h.body,
            json!({"data": [{"thread_owner": {"app_id": "263902037430900", "expiration": 1700000000u64}}]})
        );
        let (h, _) = round(
            Edge::ThreadOwner,
            Ok(GraphSuccess::ThreadOwner(Some(OwnerView {
                app_id: None,
                expiration: 7,
            }))),
        );
        assert_eq!(
            h.body,
            json!({"data": [{"thread_owner": {"expiration": 7}}]})
        );
        let (h, _) = round(
            Edge::SecondaryReceivers,
            Ok(GraphSuccess::SecondaryReceivers(vec![AppIx(1), AppIx(2)])),
        );
        assert_eq!(
            h.body,
            json!({"data": [{"id": "12", "name": "Desk"}, {"id": "13", "name": "Shop"}]})
        );
        let (h, _) = round(
            Edge::SecondaryReceivers,
            Ok(GraphSuccess::SecondaryReceivers(vec![])),
        );
        assert_eq!(h.body, json!({"data": []}));
        let (h, _) = round(Edge::MessengerProfile, Ok(GraphSuccess::Result));
        assert_eq!(h.body, json!({"result": "success"}));
    }

    #[test]
    fn errors() {
        let (h, _) = round(Edge::Messages, Err(GraphError::NOT_OWNER));
        assert_eq!(h.status, 400);
        assert_eq!(h.body["error"]["code"], json!(10));
        assert_eq!(h.body["error"]["error_subcode"], json!(2018300));
        assert_eq!(h.body["error"]["type"], json!("OAuthException"));
        assert!(h.body["error"]["fbtrace_id"].is_string());
        let (h, _) = round(Edge::Messages, Err(GraphError::INVALID));
        assert!(h.body["error"].get("error_subcode").is_none());
        assert!(!h.headers.iter().any(|(n, _)| n == "WWW-Authenticate"));
        let (h, _) = round(Edge::Messages, Err(GraphError::BAD_TOKEN));
        let www = &h
            .headers
            .iter()
            .find(|(n, _)| n == "WWW-Authenticate")
            .unwrap()
            .1;
        assert!(
            www.starts_with(r#"OAuth "Facebook Platform" "invalid_token" ""#),
            "{www}"
        );
    }

    #[test]
    fn observed_answers() {
        let s = setup();
        let parse = |edge, status, body: &str| parse_answer(edge, status, &[], body.as_bytes(), &s);
        // Numeric ids are the same ids.
        let o = parse(
            Edge::ThreadOwner,
            200,
            r#"{"data":[{"thread_owner":{"app_id":12,"expiration":5}}]}"#,
        )
        .unwrap();
        assert_eq!(
            o.answer,
            Ok(GraphSuccess::ThreadOwner(Some(OwnerView {
                app_id: Some(Party::App(AppIx(1))),
                expiration: 5
            })))
        );
        // Message ids are not compared.
        let o = parse(
            Edge::Messages,
            200,
            r#"{"recipient_id":5,"message_id":"theirs"}"#,
        )
        .unwrap();
        assert!(o.matches(&Ok(GraphSuccess::Sent {
            recipient_id: "5".into(),
            message_id: "ours".into()
        })));
        // An error with a missing subcode does not match one with a subcode.
        let o = parse(Edge::Messages, 400, r#"{"error":{"code":10}}"#).unwrap();
        assert!(!o.matches(&Err(GraphError::NOT_OWNER)));
        assert!(o.matches(&Err(GraphError::NOT_ALLOWED)));
        // A 190 without the header does not match.
        let o = parse(Edge::Messages, 400, r#"{"error":{"code":190}}"#).unwrap();
        assert!(!o.matches(&Err(GraphError::BAD_TOKEN)));
        // A 500 with an envelope is kept, with its status.
        let o = parse(Edge::Messages, 500, r#"{"error":{"code":100}}"#).unwrap();
        assert!(!o.matches(&Err(GraphError::INVALID)));
        assert!(parse(Edge::Messages, 500, "{}").is_err());
        assert!(parse(Edge::Messages, 200, "oops").is_err());
        assert!(parse(Edge::TakeThreadControl, 200, r#"{"success":false}"#).is_err());
        assert!(
            parse(
                Edge::ThreadOwner,
                200,
                r#"{"data":[{"thread_owner":{"app_id":"99","expiration":1}}]}"#
            )
            .is_err()
        );
        assert!(
            parse(
                Edge::SecondaryReceivers,
                200,
                r#"{"data":[{"id":"263902037430900","name":"Inbox"}]}"#
            )
            .is_err()
        );
        assert!(parse(Edge::MessengerProfile, 200, r#"{"result":"failure"}"#).is_err());
        // The wrong success shape for the edge.
        assert!(parse(Edge::MessengerProfile, 200, r#"{"success":true}"#).is_err());
        // A 2xx other than 200 is observed but does not match.
        let o = parse(Edge::TakeThreadControl, 201, r#"{"success":true}"#).unwrap();
        assert!(!o.matches(&Ok(GraphSuccess::Success)));
    }
}
