//! The console's HTTP routes (the login door and the state it shows).

use super::console::COOKIE;
use super::platform::{Platform, generate_key};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The console page, self-contained (no external resources).
const PAGE: &str = include_str!("console.html");

pub(super) fn query_token(query: &str) -> Option<&str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not logged in to the console: open the URL `baton serve` (or `baton run --console`) \
         printed at start (its login token works once; restart for a new one)\n",
    )
        .into_response()
}

/// `GET /console[?token=...]`.
pub(super) async fn page(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    let console = &platform.console;
    if let Some(token) = req.uri().query().and_then(query_token) {
        return match console.redeem(token, generate_key()) {
            Some(session) => (
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/console"),
                    ),
                    (header::LOCATION, "/console".to_string()),
                ],
            )
                .into_response(),
            None => unauthorized(),
        };
    }
    if !console.has_session(req.headers()) {
        return unauthorized();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /console/state`: the ids of the pages the server knows.
pub(super) async fn state(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    if !platform.console.has_session(req.headers()) {
        return unauthorized();
    }
    let mut pages: Vec<String> = platform
        .pages
        .read()
        .expect("pages lock")
        .keys()
        .cloned()
        .collect();
    pages.sort();
    axum::Json(serde_json::json!({ "pages": pages })).into_response()
}

/// How often at most a stream sends a new snapshot: changes in between are
/// sent together (a busy server costs a watcher four renders a second, and
/// every change still shows within a second).
const COALESCE: std::time::Duration = std::time::Duration::from_millis(250);
/// A comment line this often keeps idle connections open.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// `GET /console/events?page=…&thread=…`: server-sent events. Each
/// `snapshot` event carries the page list and the view of one page (the
/// one asked for, else the most recently active) with the chat of one
/// thread; a new one follows every change, at most every [`COALESCE`].
pub(super) async fn events(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    if !platform.console.has_session(req.headers()) {
        return unauthorized();
    }
    let query = req.uri().query().unwrap_or("");
    let page = query_param(query, "page");
    let thread = query_param(query, "thread");
    let (mut tx, body) =
        http_body_util::channel::Channel::<axum::body::Bytes, std::convert::Infallible>::new(2);
    let hub = platform.console.hub.clone();
    let subscription = hub.subscribe();
    tokio::spawn(async move {
        let _subscription = subscription;
        let mut seen = None;
        let mut last = String::new();
        while !hub.is_closed() {
            let seq = hub.seq();
            if seen != Some(seq) {
                seen = Some(seq);
                let snap = platform
                    .console_snapshot(page.as_deref(), thread.as_deref())
                    .to_string();
                if snap != last {
                    let frame = format!("event: snapshot\ndata: {snap}\n\n");
                    if tx.send_data(frame.into()).await.is_err() {
                        return;
                    }
                    last = snap;
                }
                tokio::time::sleep(COALESCE).await;
                continue;
            }
            if !hub.changed_after(seq, KEEPALIVE).await
                && tx.send_data(": keepalive\n\n".into()).await.is_err()
            {
                return;
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::new(body),
    )
        .into_response()
}

/// The header every console action carries: a cross-site form cannot set
/// it, so the session cookie alone never triggers an action.
pub const ACT_HEADER: &str = "x-baton-console";

/// The control-API routes the console may call.
const ACT_ROUTES: &[&str] = &["user_event", "inbox", "clock", "roles", "flush"];

/// `POST /console/act/<route>`: an action of the console, passed to the
/// control API's own dispatcher (the same code path a harness's call
/// takes), with the console session standing in for the control key.
pub(super) async fn act(State(platform): State<Arc<Platform>>, req: Request) -> Response {
    if !platform.console.has_session(req.headers()) {
        return unauthorized();
    }
    let (parts, body) = req.into_parts();
    let json_error = |status: StatusCode, msg: String| {
        (status, axum::Json(serde_json::json!({ "error": msg }))).into_response()
    };
    if !parts.headers.contains_key(ACT_HEADER) {
        return json_error(
            StatusCode::FORBIDDEN,
            format!("console actions need the {ACT_HEADER} header: use the console page"),
        );
    }
    let route = parts.uri.path().strip_prefix("/console/act/").unwrap_or("");
    if !ACT_ROUTES.contains(&route) {
        return json_error(
            StatusCode::BAD_REQUEST,
            format!(
                "the console cannot call {route:?}; it calls {}",
                ACT_ROUTES.join(", ")
            ),
        );
    }
    let Some(body) = super::platform::read_body(body).await else {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body larger than 1 MiB".into(),
        );
    };
    super::control::dispatch(
        &platform,
        "POST",
        &format!("/conformance/{route}"),
        "",
        &body,
    )
    .await
}
