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
        "not logged in to the console: open the URL `baton serve` printed at start \
         (its login token works once; restart the server for a new one)\n",
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
