//! The Graph API handler: decode, decide, answer.

use super::mutants::Mutant;
use super::platform::{Page, Platform, read_body};
use crate::model::{
    Call, Caller, DAY_MS, Edge, GraphError, GraphOp, GraphSuccess, Op, Outcome, Party, Setup,
    apply_pageless,
};
use crate::wire::{
    HttpAnswer, HttpParts, PageKeys, RawRequest, decode_graph, render_answer, render_outcome,
};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

pub(super) async fn handle(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    platform.count_request();
    let (parts, body) = req.into_parts();
    let Some(body) = read_body(body).await else {
        return too_large();
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let mut body_bytes: &[u8] = &body;
    let mangled;
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    if platform.config.mutants.has(Mutant::FormMisparse)
        && content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        mangled = drop_json_form_values(&body);
        body_bytes = &mangled;
    }
    let http = HttpParts {
        method: parts.method.as_str(),
        path: &path,
        query: &query,
        headers,
        content_type,
        body: body_bytes,
    };
    let raw = RawRequest::parse(&http);

    let Some(page) = raw.token().and_then(|t| platform.page_of_token(t)) else {
        let op = decode_graph(&raw, None);
        let edge = op.call.edge();
        let mut out = apply_pageless(&op);
        platform.config.mutants.bend_refusal(&mut out);
        if let Some(o) = &platform.config.observer {
            (o.0)(&super::platform::Decided {
                page_id: None,
                op: &Op::Graph(op),
                before: None,
                after: None,
                outcome: &out,
            });
        }
        return answer(
            edge,
            &out,
            &Setup::new("0".into(), 0, Vec::new(), None).expect("empty setup"),
        );
    };

    if platform.config.mutants.has(Mutant::RacyTake)
        && let Some(resp) = racy_take(&page, &raw).await
    {
        return resp;
    }

    let mut page = page.lock().expect("page lock");
    let keys = PageKeys {
        setup: &page.state.setup,
        apps: &page.creds,
    };
    let g = decode_graph(&raw, Some(&keys));
    let edge = g.call.edge();
    let out = page.decide(&platform.config, &Op::Graph(g));
    answer(edge, &out, &page.state.setup)
}

/// The `racy-take` mutant: check that the thread is idle, let go of the
/// page, wait, then make the caller owner without looking again.
async fn racy_take(page: &Arc<std::sync::Mutex<Page>>, raw: &RawRequest) -> Option<Response> {
    let (psid, app) = {
        let p = page.lock().expect("page lock");
        let keys = PageKeys {
            setup: &p.state.setup,
            apps: &p.creds,
        };
        let op = decode_graph(raw, Some(&keys));
        let GraphOp {
            caller: Caller::App(app),
            call: Call::Take { psid, .. },
            ..
        } = op
        else {
            return None;
        };
        let idle = p.state.thread(&psid).is_some_and(|t| t.owner.is_none());
        let proof_ok = !p.state.setup.app(app).require_appsecret_proof
            || op.proof == crate::model::Proof::Right;
        if !idle || !proof_ok {
            return None;
        }
        (psid, app)
    };
    tokio::time::sleep(Duration::from_millis(3)).await;
    let mut p = page.lock().expect("page lock");
    let now = p.state.now_ms;
    let t = p.state.threads.get_mut(&psid)?;
    t.owner = Some(Party::App(app));
    t.deadline_ms = now + DAY_MS;
    Some(http(render_answer(
        &Ok(GraphSuccess::Success),
        &p.state.setup,
    )))
}

/// The `form-misparse` mutant: form values that hold JSON objects or
/// arrays are dropped, as by a decoder that only knows flat forms.
fn drop_json_form_values(body: &[u8]) -> Vec<u8> {
    let kept: Vec<(String, String)> = form_urlencoded::parse(body)
        .filter(|(_, v)| !(v.starts_with('{') || v.starts_with('[')))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
        .into_bytes()
}

/// The model's outcome as HTTP: the wire decides the words of a refusal.
fn answer(edge: Edge, out: &Outcome, setup: &Setup) -> Response {
    http(render_outcome(edge, out, setup))
}

fn too_large() -> Response {
    let mut resp = http(render_answer(
        &Err(GraphError::INVALID),
        &Setup::new("0".into(), 0, Vec::new(), None).expect("empty setup"),
    ));
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp
}

pub(super) fn http(a: HttpAnswer) -> Response {
    let mut resp = Response::new(Body::from(
        serde_json::to_vec(&a.body).expect("JSON values serialize"),
    ));
    *resp.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_REQUEST);
    for (k, v) in a.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp.into_response()
}
