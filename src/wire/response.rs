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
use crate::model::{
    Answer, AppRef, Defect, Edge, GraphError, GraphSuccess, Outcome, OwnerView, Party, Refusal,
    Setup,
};
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

/// The error envelope for a model error, with its `message`.
pub fn error_envelope(e: &GraphError, message: &str, fbtrace_id: &str) -> ErrorEnvelope {
    ErrorEnvelope {
        error: ErrorBody {
            message: message.to_string(),
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

/// The whole HTTP answer for the model's verdict on a Graph call on
/// `edge`: a refusal says why in its `message` ([`error_message`]), with
/// the code and subcode of its reason. This is what the reference server
/// sends; it only renders what the model decided.
pub fn render_outcome(edge: Edge, out: &Outcome, setup: &Setup) -> HttpAnswer {
    match &out.answer {
        Answer::Graph(a) => {
            let message = outcome_message(edge, out);
            render(a, message.as_deref(), setup)
        }
        // The model answers Graph operations with Graph answers only.
        Answer::Control(_) => render_answer(&Err(GraphError::INVALID), setup),
    }
}

/// The whole HTTP answer for a Graph answer with no reason known: a
/// refusal gets its code's general message.
pub fn render_answer(answer: &Result<GraphSuccess, GraphError>, setup: &Setup) -> HttpAnswer {
    render(answer, None, setup)
}

fn render(
    answer: &Result<GraphSuccess, GraphError>,
    message: Option<&str>,
    setup: &Setup,
) -> HttpAnswer {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    match answer {
        Ok(s) => HttpAnswer {
            status: 200,
            headers,
            body: render_success(s, setup),
        },
        Err(e) => {
            let message = message.unwrap_or(e.message());
            if e.www_authenticate {
                headers.push(("WWW-Authenticate".to_string(), www_authenticate(message)));
            }
            HttpAnswer {
                status: e.status,
                headers,
                body: serde_json::to_value(error_envelope(e, message, REFERENCE_FBTRACE_ID))
                    .expect("error envelopes serialize"),
            }
        }
    }
}

/// The `message` of a refusal of a call on `edge`: the model's reason in
/// Meta's own words where Meta has some (the token errors, `appsecret_proof`,
/// `messaging_type`, 2018300, 2018001), else in words saying what was wrong
/// and how to fix it. A refusal without a reason, or whose error is not its
/// reason's (a mutant bent it), gets the code's general message.
pub fn error_message(edge: Edge, refusal: Option<Refusal>, e: &GraphError) -> String {
    match refusal {
        Some(r) if r.error() == *e => refusal_words(edge, r),
        _ => e.message().to_string(),
    }
}

/// The `message` of the refusal in an outcome, if it is one.
pub fn outcome_message(edge: Edge, out: &Outcome) -> Option<String> {
    match &out.answer {
        Answer::Graph(Err(e)) => Some(error_message(edge, out.refusal, e)),
        _ => None,
    }
}

fn refusal_words(edge: Edge, r: Refusal) -> String {
    use Refusal as R;
    let verb = match edge {
        Edge::Messages => "send messages",
        Edge::PassThreadControl => "pass thread control",
        Edge::TakeThreadControl => "take thread control",
        Edge::ReleaseThreadControl => "release thread control",
        Edge::ExtendThreadControl => "extend thread control",
        Edge::PassThreadMetadata => "pass thread metadata",
        Edge::RequestThreadControl => "request thread control",
        Edge::ThreadOwner => "read the thread owner",
        Edge::SecondaryReceivers => "list secondary receivers",
        Edge::MessengerProfile | Edge::CustomUserSettings => "change persistent menus",
    };
    match r {
        R::Malformed(d) => defect_words(d),
        R::NoToken => GraphError::NO_TOKEN.message().into(),
        R::BadToken => GraphError::BAD_TOKEN.message().into(),
        R::ProofMissing => "API calls from the server require an appsecret_proof argument".into(),
        R::ProofWrong => "Invalid appsecret_proof provided in the API argument".into(),
        R::IdEmpty => "(#100) An id must be a non-empty string or an integer".into(),
        R::TagMissing => {
            "(#100) The parameter tag is required when messaging_type is MESSAGE_TAG".into()
        }
        R::TextEmpty => "(#100) Param message[text] must be a non-empty string".into(),
        R::TextTooLong => {
            "(#100) Length of param message[text] must be less than or equal to 2000".into()
        }
        R::QuickRepliesEmpty => {
            "(#100) Param message[quick_replies] must be a non-empty array".into()
        }
        R::MetadataTooLong => {
            "(#100) Length of param metadata must be less than or equal to 1000".into()
        }
        R::DurationOutOfRange => {
            "(#100) Param duration must be between 1 and 604800 seconds".into()
        }
        R::PlatformUnknown => "(#100) Param platform must be messenger or instagram".into(),
        R::UnknownPsid => GraphError::UNKNOWN_PSID.message().into(),
        R::HumanAgentNotApproved => GraphError::NO_PERMISSION.message().into(),
        R::SurveyOnInstagram => {
            "(#100) Customer feedback templates cannot be sent on Instagram".into()
        }
        R::NotOwner if edge == Edge::Messages => GraphError::NOT_OWNER.message().into(),
        R::NotOwner if edge == Edge::TakeThreadControl => {
            "(#10) Another app is controlling this thread now: only the primary receiver can take thread control from it".into()
        }
        R::NotOwner => format!(
            "(#10) Another app is controlling this thread now: only the app controlling it can {verb}"
        ),
        R::Idle if edge == Edge::PassThreadMetadata => {
            "(#100) No app is controlling this thread now: only the app controlling it can pass thread metadata".into()
        }
        R::Idle => format!(
            "(#100) No app is controlling this thread now: there is no thread control to {}",
            verb.trim_end_matches(" thread control")
        ),
        R::AlreadyOwner => format!(
            "(#100) This app is already controlling this thread: there is no need to {verb}"
        ),
        R::ToSelf => format!("(#100) An app cannot {verb} to itself"),
        R::NoPrimaryToPassTo => {
            "(#100) The parameter target_app_id is required: this page has no primary receiver to pass to".into()
        }
        R::UnknownTarget => GraphError::UNKNOWN_TARGET.message().into(),
        R::OtherSurfaceInbox => {
            "(#100) Invalid target_app_id: that inbox is not the inbox of this thread's platform".into()
        }
        R::NoInstagramAccount => {
            "(#100) No Instagram account is linked to this page: there is no Instagram menu".into()
        }
        R::UserMenuOnInstagram => {
            "(#100) User-level persistent menus are not available on Instagram".into()
        }
        R::PageMenuNotPrimary => {
            "(#10) Only the primary receiver can change this page's persistent menu".into()
        }
        R::UserMenuNotAllowed => {
            "(#10) Only the app controlling this thread can change its persistent menu (any app may set one on an idle thread)".into()
        }
        R::SecondariesNotPrimary => {
            "(#10) Only the page's primary receiver can list secondary receivers".into()
        }
    }
}

/// What the decoder found wrong, in Meta's words where it has some.
fn defect_words(defect: Defect) -> String {
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
        Defect::Other => GraphError::INVALID.message().to_string(),
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

    /// Every reason, on every edge, is worded with its own error's code
    /// (`(#10)`, `(#100)`, `(#200)`; the token and proof errors in Meta's
    /// words, which carry none), and says more than the code's general
    /// message wherever the reason is more precise than the code.
    #[test]
    fn every_refusal_is_worded_with_its_code() {
        use Refusal as R;
        let mut all = vec![
            R::NoToken,
            R::BadToken,
            R::ProofMissing,
            R::ProofWrong,
            R::IdEmpty,
            R::TagMissing,
            R::TextEmpty,
            R::TextTooLong,
            R::QuickRepliesEmpty,
            R::MetadataTooLong,
            R::DurationOutOfRange,
            R::PlatformUnknown,
            R::UnknownPsid,
            R::HumanAgentNotApproved,
            R::SurveyOnInstagram,
            R::NotOwner,
            R::Idle,
            R::AlreadyOwner,
            R::ToSelf,
            R::NoPrimaryToPassTo,
            R::UnknownTarget,
            R::OtherSurfaceInbox,
            R::NoInstagramAccount,
            R::UserMenuOnInstagram,
            R::PageMenuNotPrimary,
            R::UserMenuNotAllowed,
            R::SecondariesNotPrimary,
        ];
        // A new reason must be added above: this match has no wildcard.
        for r in &all {
            match r {
                R::Malformed(_)
                | R::NoToken
                | R::BadToken
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
                | R::UnknownPsid
                | R::HumanAgentNotApproved
                | R::SurveyOnInstagram
                | R::NotOwner
                | R::Idle
                | R::AlreadyOwner
                | R::ToSelf
                | R::NoPrimaryToPassTo
                | R::UnknownTarget
                | R::OtherSurfaceInbox
                | R::NoInstagramAccount
                | R::UserMenuOnInstagram
                | R::PageMenuNotPrimary
                | R::UserMenuNotAllowed
                | R::SecondariesNotPrimary => {}
            }
        }
        all.extend(Defect::ALL.iter().map(|d| R::Malformed(*d)));
        for &r in &all {
            let e = r.error();
            for &edge in Edge::ALL {
                let m = error_message(edge, Some(r), &e);
                match e.code {
                    10 | 100 | 200 if !matches!(r, R::ProofMissing | R::ProofWrong) => {
                        assert!(m.starts_with(&format!("(#{}) ", e.code)), "{r:?}: {m}")
                    }
                    _ => assert!(!m.is_empty() && !m.starts_with("(#"), "{r:?}: {m}"),
                }
                let general = matches!(r, R::Malformed(Defect::Other))
                    || e.subcode.is_some()
                    || matches!(r, R::NoToken | R::BadToken | R::HumanAgentNotApproved);
                if !general {
                    assert_ne!(m, e.message(), "{r:?} on {edge:?} says only the code");
                }
            }
        }
        // A reason that does not go with the error (a mutant bent the
        // code) falls back to the error's general message.
        let bent = error_message(Edge::Messages, Some(R::BadToken), &GraphError::INVALID);
        assert_eq!(bent, GraphError::INVALID.message());
        assert_eq!(
            error_message(Edge::Messages, None, &GraphError::NOT_OWNER),
            GraphError::NOT_OWNER.message()
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
