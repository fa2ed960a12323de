//! The control API (`/conformance/...`): reset, user events, inbox actions,
//! clock, roles, flush, transcript. Operations go through the model like
//! Graph calls do; only reset, flush and transcript are the shell's own.

use super::platform::{Platform, read_body};
use crate::model::Answer;
use crate::wire::control::{
    ALL_FEATURES, ControlRequest, FlushAnswer, InfoAnswer, KEY_HEADER, TranscriptAnswer,
    TranscriptItem, render_control_answer,
};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) async fn handle(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    platform.count_request();
    let (parts, body) = req.into_parts();
    let key_ok = parts
        .headers
        .get(KEY_HEADER)
        .is_some_and(|v| super::console::ct_eq(v.as_bytes(), platform.config.key.as_bytes()));
    if !key_ok {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": format!("missing or wrong {KEY_HEADER} header: use the key the server printed at start (or passed with --key)")}),
        );
    }
    let Some(body) = read_body(body).await else {
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "body larger than 1 MiB"}),
        );
    };
    dispatch(
        &platform,
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &body,
    )
    .await
}

/// One control-API call once its caller is known to be allowed (the key,
/// or a console session): parse, decide, answer. The console's actions
/// come through here too, so they behave exactly as a harness's calls.
pub(super) async fn dispatch(
    platform: &Arc<Platform>,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response {
    let request = match ControlRequest::parse(method, path, query, body) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    match &request {
        ControlRequest::Info => reply(
            StatusCode::OK,
            serde_json::to_value(InfoAnswer {
                name: "baton reference server".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                profiles: vec!["hop".into()],
                features: ALL_FEATURES
                    .iter()
                    .filter(|f| !platform.config.hidden_features.iter().any(|h| h == *f))
                    .map(|f| f.to_string())
                    .collect(),
            })
            .expect("plain JSON"),
        ),
        ControlRequest::Reset(r) => match r
            .to_setup()
            .and_then(|(setup, creds)| platform.reset(setup, creds))
        {
            Ok(()) => reply(StatusCode::OK, json!({"ok": true})),
            Err(e) => bad(format!("reset refused: {e}")),
        },
        ControlRequest::Flush(f) => {
            let outbox = platform
                .page(&f.page_id)
                .map(|p| p.lock().expect("page lock").outbox.clone());
            let delivered = match outbox {
                Some(o) => o.flush().await,
                None => 0,
            };
            reply(
                StatusCode::OK,
                serde_json::to_value(FlushAnswer { delivered }).expect("plain JSON"),
            )
        }
        ControlRequest::Transcript(q) => {
            let Some(page) = platform.page(&q.page_id) else {
                return never_reset(&q.page_id);
            };
            let page = page.lock().expect("page lock");
            let data = page
                .state
                .transcript(&q.psid)
                .map(|e| TranscriptItem::from_entry(e, &page.state.setup))
                .collect();
            reply(
                StatusCode::OK,
                serde_json::to_value(TranscriptAnswer { data }).expect("plain JSON"),
            )
        }
        _ => {
            let page_id = request.page_id().unwrap_or_default();
            let Some(page) = platform.page(page_id) else {
                return never_reset(page_id);
            };
            let mut page = page.lock().expect("page lock");
            let op = match request.to_op(&page.state) {
                Ok(Some(op)) => op,
                Ok(None) => return bad("not an operation".into()),
                Err(e) => return bad(e),
            };
            let out = page.decide(&platform.config, &op);
            match &out.answer {
                Answer::Control(a) => {
                    let (status, body) = render_control_answer(a);
                    reply(
                        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                        body,
                    )
                }
                Answer::Graph(_) => bad("not a control operation".into()),
            }
        }
    }
}

fn never_reset(page_id: &str) -> Response {
    bad(format!(
        "page {page_id:?} was never reset: call POST /conformance/reset for it first"
    ))
}

fn bad(error: String) -> Response {
    reply(StatusCode::BAD_REQUEST, json!({ "error": error }))
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}
