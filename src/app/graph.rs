//! The reference app's Graph API client: a [`Call`] as an HTTP request
//! (wire.md: `POST {graph}/{version}/me/{edge}` with a JSON body, or `GET
//! thread_owner?recipient=…`, always with `access_token` and
//! `appsecret_proof` in the query), sent with reqwest.
//!
//! The token and the secret are only ever put into the request; they never
//! reach a log line or an error message.

use super::bot::{Answer, Call, Outgoing};
use super::config::AppConfig;
use super::mutants::AppMutant;
use crate::wire::appsecret_proof;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one Graph call may take before the bot gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A rendered call: method, path and query, JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub method: &'static str,
    /// Path and query without the credentials (safe to log).
    pub path: String,
    pub body: Option<Value>,
}

/// The JSON body (or, for `thread_owner`, the query) of a call for `psid`.
pub fn render(call: &Call, psid: &str, version: &str, mutants: &[AppMutant]) -> Rendered {
    let prefix = if version.is_empty() {
        String::new()
    } else {
        format!("/{}", version.trim_matches('/'))
    };
    let path = format!("{prefix}/me/{}", call.edge());
    let recipient = json!({ "id": psid });
    let body = match call {
        Call::ThreadOwner => {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("recipient", psid)
                .finish();
            return Rendered {
                method: "GET",
                path: format!("{path}?{q}"),
                body: None,
            };
        }
        Call::Send(msg) => {
            let mut b = json!({ "recipient": recipient, "message": message(msg) });
            if !mutants.contains(&AppMutant::NoMessagingType) {
                b["messaging_type"] = json!("RESPONSE");
            }
            b
        }
        Call::Pass { target, metadata } | Call::PassMetadata { target, metadata } => {
            json!({ "recipient": recipient, "target_app_id": target, "metadata": metadata })
        }
        Call::Take { metadata } | Call::Request { metadata } => {
            json!({ "recipient": recipient, "metadata": metadata })
        }
        Call::Release => json!({ "recipient": recipient }),
    };
    Rendered {
        method: "POST",
        path,
        body: Some(body),
    }
}

fn message(m: &Outgoing) -> Value {
    let mut v = json!({ "text": m.text });
    if !m.quick_replies.is_empty() {
        v["quick_replies"] = m
            .quick_replies
            .iter()
            .map(|(title, payload)| {
                json!({ "content_type": "text", "title": title, "payload": payload })
            })
            .collect();
    }
    v
}

/// Sends calls to the Graph API with the app's credentials.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    origin: String,
    version: String,
    /// `access_token=…&appsecret_proof=…`, computed once.
    credentials: String,
    mutants: Vec<AppMutant>,
}

impl GraphClient {
    pub fn new(cfg: &AppConfig) -> GraphClient {
        let credentials = form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", &cfg.token)
            .append_pair("appsecret_proof", &appsecret_proof(&cfg.secret, &cfg.token))
            .finish();
        GraphClient {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(CALL_TIMEOUT)
                .build()
                .expect("an HTTP client without TLS always builds"),
            origin: cfg.graph.trim_end_matches('/').to_string(),
            version: cfg.version.clone(),
            credentials,
            mutants: cfg.mutants.clone(),
        }
    }

    /// Makes one call; returns the rendered request (for logs) and the
    /// answer.
    pub async fn call(&self, call: &Call, psid: &str) -> (Rendered, Answer) {
        let r = render(call, psid, &self.version, &self.mutants);
        let sep = if r.path.contains('?') { '&' } else { '?' };
        let url = format!("{}{}{sep}{}", self.origin, r.path, self.credentials);
        let req = match r.method {
            "GET" => self.http.get(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(r.body.as_ref().map(Value::to_string).unwrap_or_default()),
        };
        let answer = match req.send().await {
            Err(e) => Answer::Failed(format!(
                "no answer ({})",
                if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "transport error"
                }
            )),
            Ok(resp) => {
                let status = resp.status();
                let bytes = resp.bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                if status.is_success() {
                    Answer::Ok(body)
                } else {
                    Answer::Failed(refusal(status.as_u16(), &body))
                }
            }
        };
        (r, answer)
    }
}

/// A refused call in words for the log: status, code, subcode and the
/// platform's message (which says what was wrong).
fn refusal(status: u16, body: &Value) -> String {
    let e = &body["error"];
    let mut s = format!(
        "HTTP {status} code {} subcode {}",
        e["code"], e["error_subcode"]
    );
    if let Some(m) = e["message"].as_str().filter(|m| !m.is_empty()) {
        s.push_str(&format!(": {m}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::bot::{answer_for, goodbye};

    #[test]
    fn a_refusal_is_logged_with_the_platforms_message() {
        let body = json!({"error": {"message": "(#100) The parameter messaging_type is required",
            "type": "OAuthException", "code": 100, "fbtrace_id": "x"}});
        assert_eq!(
            refusal(400, &body),
            "HTTP 400 code 100 subcode null: (#100) The parameter messaging_type is required"
        );
        assert_eq!(
            refusal(500, &Value::Null),
            "HTTP 500 code null subcode null"
        );
    }

    #[test]
    fn app_6_every_call_is_rendered_as_wire_md_says() {
        let send = render(&Call::Send(answer_for("hi")), "42", "v19.0", &[]);
        assert_eq!(
            (send.method, send.path.as_str()),
            ("POST", "/v19.0/me/messages")
        );
        let b = send.body.unwrap();
        assert_eq!(b["recipient"], json!({"id": "42"}));
        assert_eq!(b["messaging_type"], "RESPONSE");
        assert!(b["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let qr = b["message"]["quick_replies"].as_array().unwrap();
        assert_eq!(qr[0]["content_type"], "text");
        assert_eq!(qr[0]["payload"], "HANDOVER");
        let plain = render(&Call::Send(goodbye()), "42", "v19.0", &[])
            .body
            .unwrap();
        assert!(plain["message"].get("quick_replies").is_none());

        let owner = render(&Call::ThreadOwner, "42", "v19.0", &[]);
        assert_eq!(owner.method, "GET");
        assert_eq!(owner.path, "/v19.0/me/thread_owner?recipient=42");
        assert_eq!(owner.body, None);

        let pass = Call::Pass {
            target: "263902037430900".into(),
            metadata: "m".into(),
        };
        let p = render(&pass, "42", "", &[]);
        assert_eq!(p.path, "/me/pass_thread_control");
        assert_eq!(
            p.body.unwrap(),
            json!({"recipient":{"id":"42"},"target_app_id":"263902037430900","metadata":"m"})
        );
        let rel = render(&Call::Release, "42", "v19.0", &[]).body.unwrap();
        assert_eq!(rel, json!({"recipient":{"id":"42"}}));
        let take = render(
            &Call::Take {
                metadata: "x".into(),
            },
            "42",
            "v2.0",
            &[],
        );
        assert_eq!(take.path, "/v2.0/me/take_thread_control");
        let req = render(
            &Call::Request {
                metadata: "x".into(),
            },
            "42",
            "v2.0",
            &[],
        );
        assert_eq!(req.body.unwrap()["metadata"], "x");
    }

    #[test]
    fn app_6_the_mutant_drops_messaging_type() {
        let b = render(
            &Call::Send(answer_for("hi")),
            "42",
            "v19.0",
            &[AppMutant::NoMessagingType],
        )
        .body
        .unwrap();
        assert!(b.get("messaging_type").is_none());
        assert!(b.get("message").is_some());
    }
}
