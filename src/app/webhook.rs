//! The reference app's webhook: `GET /webhook` answers the verification
//! handshake (APP-5); `POST /webhook` checks the signature (APP-2), drops
//! retries (APP-4), answers 200 at once (APP-1) to anything signed,
//! whatever it carries (APP-3), and queues the events for the worker.

use super::config::AppConfig;
use super::event::{Kind, parse_delivery};
use super::mutants::AppMutant;
use super::worker::{Log, Queue};
use crate::wire::verify_signature;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// How many delivery bodies are remembered to recognise a retry.
pub const DEDUPE_WINDOW: usize = 4096;

/// The bodies seen lately, by SHA-256, oldest first out.
#[derive(Default)]
pub struct Seen {
    order: VecDeque<[u8; 32]>,
    set: HashSet<[u8; 32]>,
}

impl Seen {
    /// Records `body`; false when it was seen before (a retry).
    pub fn first_time(&mut self, body: &[u8]) -> bool {
        let h: [u8; 32] = Sha256::digest(body).into();
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > DEDUPE_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// What the handlers share.
pub struct Hook {
    pub app_id: String,
    pub secret: String,
    pub verify_token: Option<String>,
    pub mutants: Vec<AppMutant>,
    pub queue: Queue,
    pub seen: Mutex<Seen>,
    pub log: Option<Log>,
    /// Signed deliveries answered so far (the `fails-deliveries` mutant
    /// accepts its first: baton's check that it answers a signed delivery).
    pub answered: std::sync::atomic::AtomicU64,
}

impl Hook {
    pub fn new(cfg: &AppConfig, queue: Queue, log: Option<Log>) -> Hook {
        Hook {
            app_id: cfg.app_id.clone(),
            secret: cfg.secret.clone(),
            verify_token: cfg.verify_token.clone(),
            mutants: cfg.mutants.clone(),
            queue,
            seen: Mutex::new(Seen::default()),
            log,
            answered: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn has(&self, m: AppMutant) -> bool {
        self.mutants.contains(&m)
    }

    fn say(&self, line: String) {
        if let Some(l) = &self.log {
            l(line);
        }
    }
}

/// `/webhook`, GET and POST.
pub fn router(hook: Arc<Hook>) -> Router {
    Router::new()
        .route("/webhook", get(handshake).post(deliver))
        .with_state(hook)
}

/// Constant-time equality of two byte strings (the length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handshake(
    State(hook): State<Arc<Hook>>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let mode_ok = q.get("hub.mode").map(String::as_str) == Some("subscribe");
    let token_ok = match (&hook.verify_token, q.get("hub.verify_token")) {
        _ if hook.has(AppMutant::BadHandshake) => true,
        (None, _) => true,
        (Some(want), Some(got)) => same(want.as_bytes(), got.as_bytes()),
        (Some(_), None) => false,
    };
    match q.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok => (StatusCode::OK, challenge.clone()),
        _ => {
            hook.say("webhook: verification refused".to_string());
            (StatusCode::FORBIDDEN, String::new())
        }
    }
}

async fn deliver(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signed = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| verify_signature(&hook.secret, &body, sig));
    if !signed && !hook.has(AppMutant::SkipsSignatureCheck) {
        hook.say("webhook: refused a delivery with a missing or wrong signature".to_string());
        return StatusCode::FORBIDDEN;
    }
    let delivery = match parse_delivery(&body, &hook.app_id) {
        Ok(d) => d,
        Err(e) => {
            // Signed but not a delivery: nothing to do, and nothing to retry.
            hook.say(format!("webhook: ignored: {e}"));
            return StatusCode::OK;
        }
    };
    let earlier = hook
        .answered
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if hook.has(AppMutant::FailsDeliveries)
        && earlier > 0
        && delivery.events.iter().any(|e| e.kind.is_ordinary())
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if hook.has(AppMutant::RejectsUnknownEvents)
        && (delivery.events.len() > 1
            || delivery.entries > 1
            || delivery.events.iter().any(|e| e.kind == Kind::Unknown))
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let first = hook.has(AppMutant::ReactsToRetries)
        || hook.seen.lock().expect("not poisoned").first_time(&body);
    if !first {
        hook.say("webhook: ignored a retried delivery".to_string());
        return StatusCode::OK;
    }
    for e in &delivery.events {
        hook.say(format!("webhook: {e}"));
    }
    hook.queue.push(delivery.events);
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_4_seen_remembers_a_bounded_window() {
        let mut s = Seen::default();
        assert!(s.first_time(b"a"));
        assert!(!s.first_time(b"a"));
        assert!(s.first_time(b"b"));
        for i in 0..DEDUPE_WINDOW {
            assert!(s.first_time(format!("body {i}").as_bytes()));
        }
        assert_eq!(s.order.len(), DEDUPE_WINDOW);
        assert_eq!(s.set.len(), DEDUPE_WINDOW);
        // "a" fell out of the window; the newest are still known.
        assert!(s.first_time(b"a"));
        assert!(!s.first_time(format!("body {}", DEDUPE_WINDOW - 1).as_bytes()));
    }

    #[test]
    fn app_5_tokens_compare_whole() {
        assert!(same(b"token", b"token"));
        assert!(!same(b"token", b"tokeN"));
        assert!(!same(b"token", b"token2"));
        assert!(!same(b"", b"x"));
    }
}
