//! The Graph API as it appears on the wire, for both ends of a conversation.
//!
//! The reference server and the harness must agree byte for byte on what a
//! [`GraphOp`](crate::model::GraphOp) looks like as HTTP, or a difference in
//! the *encoding* would be reported as a difference in *behaviour*. So both
//! sides go through this one module:
//!
//! * server side: [`HttpParts`] → [`RawRequest::parse`] → [`decode_graph`]
//!   gives the `GraphOp` the model applies; [`render_answer`] turns the
//!   model's answer back into HTTP; [`delivery_body`] and [`signature_header`]
//!   build webhook deliveries; [`control`] decodes control-API calls.
//! * harness side: [`render_graph`] produces the request for an operation,
//!   [`parse_answer`] and [`parse_delivery`] turn what the implementation
//!   sent back into model values the differ can compare.
//!
//! Everything here is pure: no sockets, no clock, no HTTP library types, so
//! any server or client stack can sit on top and the round trip
//! `decode(render(op))` can be property-tested without a network.
//!
//! Credentials ([`AppCredentials`]) live here and never in the model, and
//! every type that holds one redacts it from its `Debug` output, so logs and
//! counterexamples stay free of secrets.

pub mod control;
mod decode;
mod ids;
mod params;
mod render;
mod request;
mod response;
mod sign;
mod webhook;

pub use decode::{
    PageCredentials, PageKeys, check_node, check_route, decode_call, decode_graph, resolve_apps,
};
pub use params::Params;
pub use render::{
    GRAPH_VERSION, UNKNOWN_EDGE, canonical, canonical_edge, defect_applies, render_graph,
};
pub use request::{HttpParts, PathParts, RawRequest, TokenFound, parse_path, split_target};
pub use response::{
    DataBody, ErrorBody, ErrorEnvelope, HttpAnswer, ObservedAnswer, REFERENCE_FBTRACE_ID,
    ResultBody, SecondaryReceiver, SentBody, SuccessBody, ThreadOwnerEntry, ThreadOwnerInfo,
    error_envelope, parse_answer, render_answer, render_success, www_authenticate,
};
pub use sign::{
    SIGNATURE_HEADER, appsecret_proof, check_appsecret_proof, signature_header, verify_signature,
};
pub use webhook::{
    Envelope, EnvelopeEntry, IdField, WebhookError, WireEvent, WireMessage, WirePass, WirePostback,
    WireQuickReply, WireReferral, WireRequest, WireTake, delivery_body, delivery_envelope,
    delivery_headers, event_from_wire, event_to_wire, parse_delivery,
};

use std::fmt;

/// What the shell knows about one app beyond the model's
/// [`AppSpec`](crate::model::AppSpec): the secrets that authenticate it and where its
/// webhooks go. Kept apart from the model so that a model state can be
/// logged or snapshotted without leaking anything.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub access_token: String,
    pub app_secret: String,
    pub webhook_url: String,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("access_token", &Redacted(&self.access_token))
            .field("app_secret", &Redacted(&self.app_secret))
            .field("webhook_url", &self.webhook_url)
            .finish()
    }
}

/// Shows that a secret is there (and whether it is empty) without showing it.
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// A Graph request as the harness sends it. `content_type` is kept apart
/// from `headers` (which never contain `Content-Type`) so that an HTTP client
/// that sets the header itself from the body type does not send it twice.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Path and, when there is one, `?` and the query string.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// The same request as the server sees it, for feeding the decoder
    /// directly (tests, in-process servers).
    pub fn parts(&self) -> HttpParts<'_> {
        let (path, query) = split_target(&self.path_and_query);
        HttpParts {
            method: &self.method,
            path,
            query,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            content_type: self.content_type.as_deref(),
            body: self.body.as_deref().unwrap_or_default(),
        }
    }

    /// The value of a header (first match, name compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            name,
        )
    }
}

/// Tokens travel in the query string, the body and `Authorization`, so the
/// `Debug` output shows only the path, the header names and the body size.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, query) = split_target(&self.path_and_query);
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &path)
            .field("query_len", &query.len())
            .field("headers", &names)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// The first header called `name` (compared without case).
pub(crate) fn header<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    name: &str,
) -> Option<&'a str> {
    headers
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let c = AppCredentials {
            access_token: "EAAtoken".into(),
            app_secret: "shh".into(),
            webhook_url: "http://127.0.0.1:9/hook".into(),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("EAAtoken") && !d.contains("shh"), "{d}");
        assert!(d.contains("127.0.0.1:9/hook"), "{d}");

        let r = HttpRequest {
            method: "POST".into(),
            path_and_query: "/v19.0/me/messages?access_token=EAAtoken".into(),
            headers: vec![("Authorization".into(), "Bearer EAAtoken".into())],
            content_type: Some("application/json".into()),
            body: Some(br#"{"access_token":"EAAtoken"}"#.to_vec()),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("EAAtoken"), "{d}");
        assert!(d.contains("/v19.0/me/messages"), "{d}");
        assert_eq!(r.header("authorization"), Some("Bearer EAAtoken"));
    }
}
