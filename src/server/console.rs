//! The `baton serve` console's front door: a one-time login token printed
//! in the ready URL (as Jupyter does) that, once used, becomes an HttpOnly
//! session cookie. Without a session every console route answers 401 and
//! shows nothing of the page.
//!
//! Secrets are compared with [`ct_eq`] (constant time); the login token is
//! consumed by its first use.

use super::platform::{Platform, generate_key};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The console page, self-contained (no external resources).
const PAGE: &str = include_str!("console.html");
/// The session cookie's name.
pub const COOKIE: &str = "baton_console";

/// Compares two secrets in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Login token and open sessions.
pub struct Console {
    login: Mutex<Option<String>>,
    sessions: Mutex<HashSet<String>>,
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Console {
    pub fn new() -> Console {
        Console {
            login: Mutex::new(Some(generate_key())),
            sessions: Mutex::new(HashSet::new()),
        }
    }

    /// The path with the login token, to print once at start; `None` once
    /// the token was used.
    pub fn login_path(&self) -> Option<String> {
        self.login
            .lock()
            .expect("console lock")
            .as_ref()
            .map(|t| format!("/console?token={t}"))
    }

    /// Consumes the login token if `token` is it; returns a new session id.
    fn redeem(&self, token: &str) -> Option<String> {
        let mut login = self.login.lock().expect("console lock");
        let ok = login
            .as_deref()
            .is_some_and(|t| ct_eq(t.as_bytes(), token.as_bytes()));
        if !ok {
            return None;
        }
        *login = None;
        let session = generate_key();
        self.sessions
            .lock()
            .expect("console lock")
            .insert(session.clone());
        Some(session)
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        let Some(id) = session_cookie(headers) else {
            return false;
        };
        let sessions = self.sessions.lock().expect("console lock");
        // Constant time per stored session: no early exit on a prefix match.
        sessions
            .iter()
            .fold(false, |found, s| found | ct_eq(s.as_bytes(), id.as_bytes()))
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn query_token(query: &str) -> Option<&str> {
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
        return match console.redeem(token) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_compares_whole_secrets() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn login_token_is_single_use() {
        let c = Console::new();
        let path = c.login_path().expect("fresh token");
        let token = query_token(path.split_once('?').unwrap().1).unwrap();
        assert!(c.redeem("wrong").is_none());
        assert!(c.redeem(token).is_some());
        assert!(c.redeem(token).is_none(), "second use must fail");
        assert!(c.login_path().is_none());
    }
}
