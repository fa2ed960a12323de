//! The `baton serve` console's front door: a one-time login token printed
//! in the ready URL (as Jupyter does) that, once used, becomes an HttpOnly
//! session cookie. Without a session every console route answers 401 and
//! shows nothing of the page.
//!
//! Secrets are compared with [`ct_eq`] (constant time); the login token is
//! consumed by its first use.

use axum::http::{HeaderMap, header};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The session cookie's name.
pub const COOKIE: &str = "baton_console";

/// Compares two secrets in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Login token and open sessions, and the hub the event streams wait on.
pub struct Console {
    login: Mutex<Option<String>>,
    sessions: Mutex<HashSet<String>>,
    pub(super) hub: std::sync::Arc<Hub>,
    /// Counterexamples a run on this server found (`baton run --console`),
    /// oldest first, as the event stream sends them.
    findings: Mutex<Vec<serde_json::Value>>,
}

/// A counterexample shown by the console: its rule, headline and sequence
/// diagram, drawn by the caller (the server draws nothing of the harness).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    pub rule: String,
    pub headline: String,
    pub steps: usize,
    /// The diagram as SVG (shown as an image: it runs no script).
    pub svg: String,
    /// The diagram as Mermaid source.
    pub mermaid: String,
}

/// What the console's event streams wait on: a sequence number bumped by
/// every change of any page (a decision, a webhook attempt), and a wake-up
/// sent only while a stream is attached, so a server nobody watches pays
/// one relaxed atomic add per change.
#[derive(Default)]
pub struct Hub {
    seq: AtomicU64,
    subscribers: AtomicUsize,
    notify: tokio::sync::Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl Hub {
    /// Marks a change; returns its sequence number (the activity stamp of
    /// pages and threads: larger is more recent).
    pub fn bump(&self) -> u64 {
        let s = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if self.subscribers.load(Ordering::Relaxed) > 0 {
            self.notify.notify_waiters();
        }
        s
    }

    /// Ends every event stream (the server is stopping: a graceful
    /// shutdown waits for open connections, and a stream never ends by
    /// itself).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The latest sequence number.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Registers an event stream until the guard drops.
    pub fn subscribe(self: &std::sync::Arc<Hub>) -> Subscription {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscription(self.clone())
    }

    /// Streams attached now.
    pub fn subscribers(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Waits for the next change after `seen`, or `timeout` (then `false`).
    pub async fn changed_after(&self, seen: u64, timeout: std::time::Duration) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.seq() != seen || self.is_closed() {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok()
    }
}

/// An attached event stream (see [`Hub::subscribe`]).
pub struct Subscription(std::sync::Arc<Hub>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Console {
    /// A console whose one-time login token is `login`.
    pub fn new(login: String) -> Console {
        Console {
            login: Mutex::new(Some(login)),
            sessions: Mutex::new(HashSet::new()),
            hub: std::sync::Arc::new(Hub::default()),
            findings: Mutex::new(Vec::new()),
        }
    }

    /// Adds a counterexample to what the console shows, and wakes the
    /// event streams.
    pub fn show_finding(&self, finding: Finding) {
        let value = serde_json::to_value(finding).expect("a finding serializes");
        self.findings.lock().expect("console lock").push(value);
        self.hub.bump();
    }

    /// The counterexamples shown so far, oldest first.
    pub fn findings(&self) -> Vec<serde_json::Value> {
        self.findings.lock().expect("console lock").clone()
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

    /// Consumes the login token if `token` is it and opens `session`.
    pub(super) fn redeem(&self, token: &str, session: String) -> Option<String> {
        let mut login = self.login.lock().expect("console lock");
        let ok = login
            .as_deref()
            .is_some_and(|t| ct_eq(t.as_bytes(), token.as_bytes()));
        if !ok {
            return None;
        }
        *login = None;
        self.sessions
            .lock()
            .expect("console lock")
            .insert(session.clone());
        Some(session)
    }

    pub(super) fn has_session(&self, headers: &HeaderMap) -> bool {
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
        let c = Console::new("t0ken".into());
        let path = c.login_path().expect("fresh token");
        let token = path.strip_prefix("/console?token=").expect("login path");
        assert!(c.redeem("wrong", "s1".into()).is_none());
        assert!(c.redeem(token, "s2".into()).is_some());
        assert!(
            c.redeem(token, "s3".into()).is_none(),
            "second use must fail"
        );
        assert!(c.login_path().is_none());
    }
}
