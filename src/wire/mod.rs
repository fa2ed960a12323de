//! The Graph API as it appears on the wire, for both ends of a conversation.
//!
//! The reference server and the harness must agree byte for byte on what a
//! [`GraphOp`](crate::model::GraphOp) looks like as HTTP, or a difference in
//! the *encoding* would be reported as a difference in *behaviour*. So both
//! sides go through this one module:
//!
//! * server side: [`HttpParts`] → [`RawRequest::parse`] → [`decode_graph`]
//!   gives the `GraphOp` the model applies; [`render_outcome`] turns the
//!   model's answer back into HTTP (a refusal's `message` worded from the
//!   model's [`Refusal`](crate::model::Refusal) by [`error_message`]); [`delivery_body`] and [`signature_header`]
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
mod http;
mod ids;
mod params;
mod render;
mod request;
mod response;
mod sign;
mod webhook;

pub use crate::model::judge::ObservedAnswer;
pub use decode::{
    PageCredentials, PageKeys, check_node, check_route, decode_call, decode_graph, resolve_apps,
};
pub use http::AppCredentials;
pub(crate) use http::Redacted;
pub use params::Params;
pub use render::{
    GRAPH_VERSION, UNKNOWN_EDGE, canonical, canonical_edge, defect_applies, render_graph,
};
pub use request::{
    HttpParts, HttpRequest, PathParts, RawRequest, TokenFound, parse_path, split_target,
};
pub use response::{
    DataBody, ErrorBody, ErrorEnvelope, HttpAnswer, REFERENCE_FBTRACE_ID, ResultBody,
    SecondaryReceiver, SentBody, SuccessBody, ThreadOwnerEntry, ThreadOwnerInfo, error_envelope,
    error_message, outcome_message, parse_answer, render_answer, render_outcome, render_success,
    www_authenticate,
};
pub use sign::{
    SIGNATURE_HEADER, appsecret_proof, check_appsecret_proof, signature_header, verify_signature,
};
pub use webhook::{
    Envelope, EnvelopeEntry, IdField, WebhookError, WireEvent, WireMessage, WirePass,
    WirePassMetadata, WirePostback, WireQuickReply, WireReferral, WireRequest, WireTake,
    delivery_body, delivery_envelope, delivery_headers, event_from_wire, event_to_wire,
    parse_delivery, surface_runs,
};
