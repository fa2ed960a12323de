//! The reference app (`baton::app`) against the reference platform, in
//! process: the platform (`baton serve`) on an ephemeral port, the app on
//! another, and between the app and the Graph API a recording proxy, so a
//! test sees every call the app made and what the platform answered. Users,
//! the Page Inbox, the clock and the page's other apps are driven through
//! the control API and the Graph API; webhooks to the other apps go to the
//! test sink.
//!
//! Test names carry the rule they are about (`bp_4_…`, `app_2_…`); the
//! `mutant_…` tests show each app mutant's fault on the real platform.

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use baton::app::{AppConfig, AppMutant, PAGE_INBOX_APP_ID, RunningApp};
use baton::wire::signature_header;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Harness, T0};

const PAGE: &str = "7100";
const REF: &str = "7101";
const A: &str = "7102";
const B: &str = "7103";
const REF_TOKEN: &str = "ref-token";
const REF_SECRET: &str = "ref-secret";
const DAY: u64 = 86_400_000;

/// One Graph call of the app, with the platform's answer.
#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    edge: String,
    query: String,
    body: Value,
    status: u16,
    answer: Value,
}

/// Forwards the app's Graph calls to the platform and records them.
#[derive(Clone)]
struct Proxy {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Recorded>>>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<Recorded>>>,
    delay: Duration,
}

async fn forward(
    State(s): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    tokio::time::sleep(s.delay).await;
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut rb = s
        .http
        .request(method.clone(), format!("{}{path_and_query}", s.upstream));
    if let Some(ct) = headers.get("content-type") {
        rb = rb.header("content-type", ct.as_bytes());
    }
    let resp = rb
        .body(body.to_vec())
        .send()
        .await
        .expect("the platform answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    s.calls.lock().unwrap().push(Recorded {
        method: method.to_string(),
        edge: uri.path().rsplit('/').next().unwrap_or("").to_string(),
        query: uri.query().unwrap_or("").to_string(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
        answer: serde_json::from_str(&text).unwrap_or(Value::Null),
    });
    (StatusCode::from_u16(status).unwrap(), text)
}

impl Proxy {
    async fn start(upstream: String, delay: Duration) -> Proxy {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            upstream,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            calls: calls.clone(),
            delay,
        };
        let router = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Proxy { addr, calls }
    }

    fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().unwrap().clone()
    }
}

/// Which app, if any, is the primary receiver (the group of cases).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Primary {
    /// The reference app.
    App,
    /// Another app; the reference app is secondary.
    Other,
    Nobody,
}

/// A page whose app 0 is the reference app, apps 1 and 2 simulated.
struct Page {
    h: Harness,
    proxy: Proxy,
    app: RunningApp,
    /// How many recorded calls the test has looked at.
    seen: usize,
    now: u64,
    psid_counter: u64,
}

impl Page {
    async fn start(group: Primary, mutants: &[AppMutant]) -> Page {
        Page::start_with(group, mutants, Duration::ZERO, Some("vt")).await
    }

    async fn start_with(
        group: Primary,
        mutants: &[AppMutant],
        graph_delay: Duration,
        verify_token: Option<&str>,
    ) -> Page {
        let h = Harness::start().await;
        let proxy = Proxy::start(h.server.url(), graph_delay).await;
        let cfg = AppConfig {
            graph: format!("http://{}", proxy.addr),
            version: "v19.0".into(),
            app_id: REF.into(),
            token: REF_TOKEN.into(),
            secret: REF_SECRET.into(),
            verify_token: verify_token.map(str::to_string),
            human_agent: false,
            mutants: mutants.to_vec(),
        };
        let app = RunningApp::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the app starts");
        let app_entry = |id: &str, token: &str, secret: &str, url: String| {
            json!({"app_id": id, "name": format!("app {id}"), "access_token": token,
                   "app_secret": secret, "webhook_url": url, "human_agent": false,
                   "require_appsecret_proof": true})
        };
        let reset = json!({
            "page_id": PAGE, "now_ms": T0, "primary_receiver": null,
            "apps": [
                app_entry(REF, REF_TOKEN, REF_SECRET, app.webhook_url()),
                app_entry(A, "a-token", "a-secret", h.sink.url("a")),
                app_entry(B, "b-token", "b-secret", h.sink.url("b")),
            ]
        });
        h.post("reset", reset).await.assert_ok();
        let page = Page {
            h,
            proxy,
            app,
            seen: 0,
            now: T0,
            psid_counter: 0,
        };
        // As a certification group starts: the roles call tells every app
        // its role (PRI-5).
        let primary = match group {
            Primary::App => json!(REF),
            Primary::Other => json!(A),
            Primary::Nobody => Value::Null,
        };
        if group != Primary::Nobody {
            page.control("roles", json!({ "primary_receiver": primary }))
                .await;
        }
        page.quiet().await;
        page
    }

    fn fresh_psid(&mut self) -> String {
        self.psid_counter += 1;
        format!("55{}", 1000 + self.psid_counter)
    }

    async fn control(&self, route: &str, mut body: Value) -> Value {
        body["page_id"] = json!(PAGE);
        let r = self.h.post(route, body).await;
        r.assert_ok();
        r.json()
    }

    /// Waits until the platform delivered everything and the app reacted
    /// to it all, including deliveries its own calls caused.
    async fn quiet(&self) {
        for _ in 0..20 {
            let before = self.proxy.calls().len();
            self.h.flush(PAGE).await;
            self.app.settled().await;
            self.h.flush(PAGE).await;
            self.app.settled().await;
            if self.proxy.calls().len() == before {
                return;
            }
        }
        panic!("the app does not become quiet");
    }

    /// The calls made since the last look.
    fn new_calls(&mut self) -> Vec<Recorded> {
        let all = self.proxy.calls();
        let new = all[self.seen..].to_vec();
        self.seen = all.len();
        new
    }

    /// The edges and statuses of the calls made since the last look.
    fn new_edges(&mut self) -> Vec<(String, u16)> {
        self.new_calls()
            .into_iter()
            .map(|c| (c.edge, c.status))
            .collect()
    }

    async fn user(&mut self, psid: &str, text: &str) {
        self.clock(1).await;
        self.control(
            "user_event",
            json!({"type": "message", "psid": psid, "text": text}),
        )
        .await;
        self.quiet().await;
    }

    async fn tap(&mut self, psid: &str, title: &str, payload: &str) {
        self.clock(1).await;
        self.control(
            "user_event",
            json!({"type": "message", "psid": psid, "text": title, "quick_reply_payload": payload}),
        )
        .await;
        self.quiet().await;
    }

    async fn clock(&mut self, ms: u64) {
        self.now += ms;
        self.control("clock", json!({ "advance_ms": ms })).await;
    }

    /// Another app of the page (`A` or `B`) calls the Graph API.
    async fn other(&self, app: &str, edge: &str, body: Value) -> support::Resp {
        let (token, secret) = if app == A {
            ("a-token", "a-secret")
        } else {
            ("b-token", "b-secret")
        };
        let proof = baton::wire::appsecret_proof(secret, token);
        self.h
            .request(
                "POST",
                &format!("/v19.0/me/{edge}?access_token={token}&appsecret_proof={proof}"),
                &[("content-type", "application/json")],
                Some(body.to_string().into_bytes()),
            )
            .await
    }

    /// `thread_owner` as seen by the app with `token` (the owner and the
    /// primary see `app_id`).
    async fn owner_seen_by(&self, token: &str, secret: &str, psid: &str) -> Value {
        let r = self
            .h
            .request(
                "GET",
                &format!(
                    "/v19.0/me/thread_owner?recipient={psid}&access_token={token}&appsecret_proof={}",
                    baton::wire::appsecret_proof(secret, token)
                ),
                &[],
                None,
            )
            .await;
        r.assert_ok();
        r.json()
    }

    /// The owner's `app_id` as the reference app sees it; `None` when idle,
    /// `Some("?")` when someone it may not name owns the thread.
    async fn owner(&self, psid: &str) -> Option<String> {
        let v = self.owner_seen_by(REF_TOKEN, REF_SECRET, psid).await;
        let data = v["data"].as_array().unwrap();
        data.first().map(|d| {
            d["thread_owner"]["app_id"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
    }

    async fn transcript(&self, psid: &str) -> Vec<(String, String)> {
        self.h
            .transcript(PAGE, psid)
            .await
            .into_iter()
            .map(|t| (t.from_app_id, t.text))
            .collect()
    }

    /// POSTs a delivery straight to the app's webhook, signed as given;
    /// the status and how long the answer took.
    async fn deliver_raw(&self, body: &[u8], signature: Option<&str>) -> (u16, Duration) {
        let mut rb = self
            .h
            .http
            .post(self.app.webhook_url())
            .header("content-type", "application/json");
        if let Some(s) = signature {
            rb = rb.header("x-hub-signature-256", s);
        }
        let started = Instant::now();
        let r = rb
            .body(body.to_vec())
            .send()
            .await
            .expect("the app answers");
        (r.status().as_u16(), started.elapsed())
    }

    /// POSTs a delivery signed with the app's secret.
    async fn deliver(&self, body: &Value) -> u16 {
        let bytes = body.to_string().into_bytes();
        let sig = signature_header(REF_SECRET, &bytes);
        let (status, _) = self.deliver_raw(&bytes, Some(&sig)).await;
        self.quiet().await;
        status
    }

    async fn handshake(&self, query: &str) -> (u16, String) {
        let r = self
            .h
            .http
            .get(format!("{}?{query}", self.app.webhook_url()))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn e(edge: &str, status: u16) -> (String, u16) {
    (edge.to_string(), status)
}

/// A delivery of events in `messaging` (one entry).
fn envelope(events: Vec<Value>) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": T0, "messaging": events}]})
}

fn user_message(psid: &str, ts: u64, mid: &str, text: &str) -> Value {
    json!({"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": ts,
           "message": {"mid": mid, "text": text}})
}

fn texts(t: &[(String, String)]) -> Vec<&str> {
    t.iter().map(|(_, text)| text.as_str()).collect()
}

/// Every call so far was accepted by the platform.
fn all_accepted(calls: &[Recorded]) {
    for c in calls {
        assert!(
            (200..300).contains(&c.status),
            "{} {} {} -> {} {}",
            c.method,
            c.edge,
            c.body,
            c.status,
            c.answer
        );
    }
}

// ===========================================================================
// The reference app

#[tokio::test]
async fn customer_support_conversation_as_primary_follows_every_rule() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    // The user writes: as primary it owns the thread (PRI-2) and answers,
    // offering a person.
    p.user(&u, "hi").await;
    assert_eq!(p.new_edges(), [e("messages", 200)]);
    let t = p.transcript(&u).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].0, REF);
    // The user taps "Talk to a person": a notice, then a pass to the Page
    // Inbox with metadata.
    p.tap(&u, "Talk to a person", "HANDOVER").await;
    let calls = p.new_calls();
    assert_eq!(
        calls.iter().map(|c| c.edge.as_str()).collect::<Vec<_>>(),
        ["messages", "pass_thread_control"]
    );
    assert_eq!(calls[1].body["target_app_id"], PAGE_INBOX_APP_ID);
    assert!(calls[1].body["metadata"].as_str().unwrap().len() <= 1000);
    assert_eq!(p.owner(&u).await.as_deref(), Some(PAGE_INBOX_APP_ID));
    // Back to the bot, tapped while the Page Inbox owns (a standby event):
    // it asks first (BP-1), then takes as primary.
    p.tap(&u, "Back to the bot", "BOT").await;
    assert_eq!(
        p.new_edges(),
        [
            e("thread_owner", 200),
            e("take_thread_control", 200),
            e("messages", 200)
        ]
    );
    assert_eq!(p.owner(&u).await.as_deref(), Some(REF));
    // A live-agent app requests control: passed at once (BP-4).
    p.other(
        A,
        "request_thread_control",
        json!({"recipient": {"id": u}, "metadata": "agent free"}),
    )
    .await
    .assert_ok();
    p.quiet().await;
    let calls = p.new_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].edge, "pass_thread_control");
    assert_eq!(calls[0].body["target_app_id"], A);
    assert_eq!(p.owner(&u).await.as_deref(), Some(A));
    // The agent passes back when done; the user says bye: goodbye and
    // release (BP-5).
    p.other(
        A,
        "pass_thread_control",
        json!({"recipient": {"id": u}, "target_app_id": REF}),
    )
    .await
    .assert_ok();
    p.quiet().await;
    assert_eq!(p.new_edges(), []);
    p.user(&u, "thanks, bye").await;
    assert_eq!(
        p.new_edges(),
        [e("messages", 200), e("release_thread_control", 200)]
    );
    assert_eq!(p.owner(&u).await, None);
    let t = p.transcript(&u).await;
    assert_eq!(t.len(), 4, "{t:?}");
    assert!(t.iter().all(|(from, _)| from == REF));
    assert_eq!(texts(&t)[3], "Glad I could help. Goodbye!");
    all_accepted(&p.proxy.calls());
    p.app.stop().await;
}

#[tokio::test]
async fn app_6_every_call_carries_the_token_the_proof_and_a_messaging_type() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "where is my order").await;
    p.user(&u, "a human please").await;
    let calls = p.new_calls();
    assert!(!calls.is_empty());
    let proof = baton::wire::appsecret_proof(REF_SECRET, REF_TOKEN);
    for c in &calls {
        assert!(
            c.query.contains(&format!("access_token={REF_TOKEN}")),
            "{c:?}"
        );
        assert!(
            c.query.contains(&format!("appsecret_proof={proof}")),
            "{c:?}"
        );
        assert_eq!(c.body["recipient"], json!({"id": u}));
        if c.edge == "messages" {
            assert_eq!(c.body["messaging_type"], "RESPONSE");
        }
    }
    all_accepted(&calls);
}

#[tokio::test]
async fn bp_6_on_an_idle_thread_it_asks_then_requests_before_talking() {
    let mut p = Page::start(Primary::Nobody, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    assert_eq!(
        p.new_edges(),
        [
            e("thread_owner", 200),
            e("request_thread_control", 200),
            e("messages", 200)
        ]
    );
    assert_eq!(p.owner(&u).await.as_deref(), Some(REF));
    // The request was granted at once (REQ-2); it now answers directly.
    p.user(&u, "opening hours?").await;
    assert_eq!(p.new_edges(), [e("messages", 200)]);
    let t = p.transcript(&u).await;
    assert_eq!(t.len(), 2);
    assert!(t[1].1.contains("Monday"));
}

#[tokio::test]
async fn bp_3_as_secondary_it_requests_a_thread_the_page_inbox_holds() {
    let mut p = Page::start(Primary::Nobody, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "I need a person").await;
    assert_eq!(
        p.new_edges(),
        [
            e("thread_owner", 200),
            e("request_thread_control", 200),
            e("messages", 200),
            e("pass_thread_control", 200)
        ]
    );
    assert_eq!(p.owner(&u).await.as_deref(), Some("?"));
    p.tap(&u, "Back to the bot", "BOT").await;
    // Not primary: it requests (no webhook when the Page Inbox owns: REQ-1).
    assert_eq!(
        p.new_edges(),
        [e("thread_owner", 200), e("request_thread_control", 200)]
    );
    // The person marks the conversation done: idle (no primary).
    p.control("inbox", json!({"action": "mark_done", "psid": u}))
        .await;
    p.quiet().await;
    assert_eq!(p.new_edges(), []);
    assert_eq!(p.owner(&u).await, None);
}

#[tokio::test]
async fn bp_2_as_secondary_with_another_primary_it_listens_on_standby() {
    let mut p = Page::start(Primary::Other, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.user(&u, "I want a person").await;
    p.user(&u, "bye").await;
    assert_eq!(p.new_edges(), []);
    assert_eq!(p.transcript(&u).await, []);
}

#[tokio::test]
async fn bp_4_requests_are_honoured_earliest_first_even_in_one_batch() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    // Two requests in one delivery (the platform batches what is queued).
    let batch = envelope(vec![
        json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": p.now,
               "request_thread_control": {"requested_owner_app_id": A, "metadata": "first"}}),
        json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": p.now,
               "request_thread_control": {"requested_owner_app_id": B, "metadata": "second"}}),
    ]);
    assert_eq!(p.deliver(&batch).await, 200);
    let calls = p.new_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].body["target_app_id"], A);
    all_accepted(&calls);
    // The platform's own webhook to A.
    let hits = p.h.sink.hits("a");
    assert!(
        hits.iter()
            .any(|h| String::from_utf8_lossy(&h.body).contains("pass_thread_control"))
    );
}

#[tokio::test]
async fn bp_5_after_a_lapse_it_no_longer_acts_as_the_owner() {
    let mut p = Page::start(Primary::Nobody, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    p.clock(DAY).await;
    p.user(&u, "bye").await;
    // The thread lapsed: it asks, finds it idle, says goodbye, and does not
    // release an idle thread.
    assert_eq!(p.new_edges(), [e("thread_owner", 200), e("messages", 200)]);
    all_accepted(&p.proxy.calls());
}

#[tokio::test]
async fn bp_5_as_primary_after_a_lapse_the_next_message_is_its_again() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.clock(DAY + 5).await;
    p.user(&u, "thanks").await;
    let calls = p.new_calls();
    assert_eq!(
        calls.iter().map(|c| c.edge.as_str()).collect::<Vec<_>>(),
        ["messages", "messages", "release_thread_control"]
    );
    all_accepted(&calls);
}

#[tokio::test]
async fn app_2_a_missing_or_wrong_signature_gets_403_and_no_call() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let body = envelope(vec![user_message(&u, p.now + 1, "forged-1", "agent")]).to_string();
    let wrong = signature_header("not-the-secret", body.as_bytes());
    assert_eq!(p.deliver_raw(body.as_bytes(), Some(&wrong)).await.0, 403);
    assert_eq!(p.deliver_raw(body.as_bytes(), None).await.0, 403);
    assert_eq!(
        p.deliver_raw(body.as_bytes(), Some("sha256=zz")).await.0,
        403
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.quiet().await;
    assert_eq!(p.new_edges(), []);
    // It goes on serving: the same body, signed, is acted on.
    let right = signature_header(REF_SECRET, body.as_bytes());
    assert_eq!(p.deliver_raw(body.as_bytes(), Some(&right)).await.0, 200);
    p.quiet().await;
    assert_eq!(
        p.new_edges(),
        [e("messages", 200), e("pass_thread_control", 200)]
    );
}

#[tokio::test]
async fn app_4_a_retried_delivery_causes_no_second_reaction() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let body = envelope(vec![user_message(&u, p.now, "retry-1", "hours?")]);
    assert_eq!(p.deliver(&body).await, 200);
    assert_eq!(p.new_edges(), [e("messages", 200)]);
    assert_eq!(p.deliver(&body).await, 200);
    assert_eq!(p.new_edges(), []);
    // A different body is not a retry.
    let other = envelope(vec![user_message(&u, p.now, "retry-2", "hours?")]);
    assert_eq!(p.deliver(&other).await, 200);
    assert_eq!(p.new_edges(), [e("messages", 200)]);
}

#[tokio::test]
async fn app_3_unusual_deliveries_get_200_and_it_keeps_serving() {
    let mut p = Page::start(Primary::App, &[]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let ts = p.now;
    let unusual = [
        envelope(vec![
            json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": ts,
            "reaction": {"mid": "m", "emoji": "+1"}, "novel_member": [1, 2, 3]}),
        ]),
        envelope(vec![json!({"recipient": {"id": PAGE}, "timestamp": ts,
            "app_roles": {A: ["primary_receiver"]}})]),
        json!({"object": "page", "entry": [{"id": PAGE, "time": ts, "standby": [
            {"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": ts,
             "postback": {"mid": "m2", "title": "Menu"}}]}]}),
        envelope(vec![
            json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": ts,
            "pass_thread_metadata": {"app_id": A, "metadata": "context"}}),
        ]),
        json!({"object": "page", "entry": [
            {"id": PAGE, "time": ts, "messaging": [
                json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": ts,
                       "unknown_kind": {}})]},
            {"id": PAGE, "time": ts, "messaging": [
                json!({"recipient": {"id": PAGE}, "timestamp": ts,
                       "app_roles": {REF: ["primary_receiver"]}})]}]}),
        json!({"object": "page", "entry": "not a list"}),
        json!([1, 2, 3]),
    ];
    for body in &unusual {
        assert_eq!(p.deliver(body).await, 200, "{body}");
    }
    assert_eq!(p.new_edges(), []);
    // Still serving: an ordinary message is answered (on messaging, as
    // primary: its own thread).
    let ok = envelope(vec![user_message(&u, ts, "after", "hours?")]);
    assert_eq!(p.deliver(&ok).await, 200);
    assert_eq!(p.new_edges(), [e("messages", 200)]);
}

#[tokio::test]
async fn app_1_deliveries_are_answered_at_once_even_when_the_graph_api_is_slow() {
    let mut p = Page::start_with(Primary::App, &[], Duration::from_millis(800), None).await;
    let u = p.fresh_psid();
    p.control(
        "user_event",
        json!({"type": "message", "psid": u, "text": "hi"}),
    )
    .await;
    p.quiet().await;
    p.new_calls();
    let body = envelope(vec![user_message(&u, p.now, "slow-1", "agent please")]);
    let bytes = body.to_string().into_bytes();
    let sig = signature_header(REF_SECRET, &bytes);
    let (status, took) = p.deliver_raw(&bytes, Some(&sig)).await;
    assert_eq!(status, 200);
    // Two calls of 800 ms each follow; the answer did not wait for them.
    assert!(took < Duration::from_millis(600), "took {took:?}");
    p.quiet().await;
    assert_eq!(
        p.new_edges(),
        [e("messages", 200), e("pass_thread_control", 200)]
    );
}

#[tokio::test]
async fn app_5_the_handshake_answers_the_right_token_only() {
    let p = Page::start(Primary::Nobody, &[]).await;
    assert_eq!(
        p.handshake("hub.mode=subscribe&hub.verify_token=vt&hub.challenge=c123")
            .await,
        (200, "c123".to_string())
    );
    for q in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=c123",
        "hub.mode=subscribe&hub.challenge=c123",
        "hub.mode=unsubscribe&hub.verify_token=vt&hub.challenge=c123",
        "hub.mode=subscribe&hub.verify_token=v&hub.challenge=c123",
    ] {
        assert_eq!(p.handshake(q).await.0, 403, "{q}");
    }
    // Without a verify token every challenge is answered.
    let open = Page::start_with(Primary::Nobody, &[], Duration::ZERO, None).await;
    assert_eq!(
        open.handshake("hub.mode=subscribe&hub.verify_token=any&hub.challenge=42")
            .await,
        (200, "42".to_string())
    );
}

// ===========================================================================
// The app mutants, each showing its fault on the platform

#[tokio::test]
async fn mutant_never_asks_owner_acts_on_standby_without_asking() {
    let mut p = Page::start(Primary::App, &[AppMutant::NeverAsksOwner]).await;
    let u = p.fresh_psid();
    p.user(&u, "talk to a person").await;
    assert_eq!(p.owner(&u).await.as_deref(), Some(PAGE_INBOX_APP_ID));
    p.new_calls();
    p.tap(&u, "Back to the bot", "BOT").await;
    assert_eq!(
        p.new_edges(),
        [e("take_thread_control", 200), e("messages", 200)]
    );
}

#[tokio::test]
async fn mutant_sends_on_standby_is_refused_10_2018300() {
    let mut p = Page::start(Primary::Other, &[AppMutant::SendsOnStandby]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    let calls = p.new_calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.edge.as_str(), c.status))
            .collect::<Vec<_>>(),
        [("thread_owner", 200), ("messages", 400)]
    );
    assert_eq!(calls[1].answer["error"]["code"], 10);
    assert_eq!(calls[1].answer["error"]["error_subcode"], 2018300);
}

#[tokio::test]
async fn mutant_takes_as_secondary_takes_an_idle_thread() {
    let mut p = Page::start(Primary::Nobody, &[AppMutant::TakesAsSecondary]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    assert_eq!(
        p.new_edges(),
        [
            e("thread_owner", 200),
            e("take_thread_control", 200),
            e("messages", 200)
        ]
    );
}

#[tokio::test]
async fn mutant_ignores_requests_lets_the_thread_lapse_with_a_request_pending() {
    let mut p = Page::start(Primary::App, &[AppMutant::IgnoresRequests]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    p.other(A, "request_thread_control", json!({"recipient": {"id": u}}))
        .await
        .assert_ok();
    p.quiet().await;
    assert_eq!(p.new_edges(), []);
    assert_eq!(p.owner(&u).await.as_deref(), Some(REF));
    p.clock(DAY).await;
    assert_eq!(p.owner(&u).await, None);
}

#[tokio::test]
async fn mutant_wrong_requester_passes_to_the_latest() {
    let mut p = Page::start(Primary::App, &[AppMutant::WrongRequester]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let batch = envelope(vec![
        json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": p.now,
               "request_thread_control": {"requested_owner_app_id": A}}),
        json!({"sender": {"id": u}, "recipient": {"id": PAGE}, "timestamp": p.now,
               "request_thread_control": {"requested_owner_app_id": B}}),
    ]);
    assert_eq!(p.deliver(&batch).await, 200);
    let calls = p.new_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body["target_app_id"], B);
}

#[tokio::test]
async fn mutant_releases_after_lapse_is_refused_on_an_idle_thread() {
    let mut p = Page::start(Primary::Nobody, &[AppMutant::ReleasesAfterLapse]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    p.clock(DAY).await;
    p.user(&u, "bye").await;
    let calls = p.new_calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.edge.as_str(), c.status))
            .collect::<Vec<_>>(),
        [("messages", 200), ("release_thread_control", 400)]
    );
    assert_eq!(calls[1].answer["error"]["code"], 100);
}

#[tokio::test]
async fn mutant_chatters_when_idle_sends_twice_without_control() {
    let mut p = Page::start(Primary::Nobody, &[AppMutant::ChattersWhenIdle]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.user(&u, "hello?").await;
    assert_eq!(
        p.new_edges(),
        [
            e("thread_owner", 200),
            e("messages", 200),
            e("messages", 200)
        ]
    );
    assert_eq!(p.owner(&u).await, None);
}

#[tokio::test]
async fn mutant_fails_deliveries_answers_500() {
    let mut p = Page::start(Primary::App, &[AppMutant::FailsDeliveries]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    assert_eq!(p.new_edges(), []);
    let body = envelope(vec![user_message(&u, p.now, "x", "hi")]);
    assert_eq!(p.deliver(&body).await, 500);
    // Deliveries that are not ordinary events still get 200.
    let roles = envelope(vec![json!({"recipient": {"id": PAGE}, "timestamp": p.now,
        "app_roles": {REF: ["primary_receiver"]}})]);
    assert_eq!(p.deliver(&roles).await, 200);
}

#[tokio::test]
async fn mutant_skips_signature_check_reacts_to_a_forged_delivery() {
    let mut p = Page::start(Primary::App, &[AppMutant::SkipsSignatureCheck]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let body = envelope(vec![user_message(&u, p.now, "forged", "hours?")]).to_string();
    assert_eq!(p.deliver_raw(body.as_bytes(), None).await.0, 200);
    p.quiet().await;
    assert_eq!(p.new_edges(), [e("messages", 200)]);
}

#[tokio::test]
async fn mutant_rejects_unknown_events_answers_500_to_batches_and_unknown_kinds() {
    let mut p = Page::start(Primary::App, &[AppMutant::RejectsUnknownEvents]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    let ts = p.now;
    let unknown = envelope(vec![json!({"sender": {"id": u}, "recipient": {"id": PAGE},
        "timestamp": ts, "reaction": {"emoji": "+1"}})]);
    assert_eq!(p.deliver(&unknown).await, 500);
    let batch = envelope(vec![
        user_message(&u, ts, "b1", "hours?"),
        user_message(&u, ts, "b2", "order?"),
    ]);
    assert_eq!(p.deliver(&batch).await, 500);
    let single = envelope(vec![user_message(&u, ts, "b3", "hours?")]);
    assert_eq!(p.deliver(&single).await, 200);
}

#[tokio::test]
async fn mutant_reacts_to_retries_answers_a_retry_again() {
    let mut p = Page::start(Primary::App, &[AppMutant::ReactsToRetries]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    p.new_calls();
    let body = envelope(vec![user_message(&u, p.now, "r", "hours?")]);
    assert_eq!(p.deliver(&body).await, 200);
    assert_eq!(p.deliver(&body).await, 200);
    assert_eq!(p.new_edges(), [e("messages", 200), e("messages", 200)]);
}

#[tokio::test]
async fn mutant_bad_handshake_answers_any_token() {
    let p = Page::start(Primary::Nobody, &[AppMutant::BadHandshake]).await;
    assert_eq!(
        p.handshake("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=c9")
            .await,
        (200, "c9".to_string())
    );
}

#[tokio::test]
async fn mutant_no_messaging_type_is_refused_as_bad_input() {
    let mut p = Page::start(Primary::App, &[AppMutant::NoMessagingType]).await;
    let u = p.fresh_psid();
    p.user(&u, "hi").await;
    let calls = p.new_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].edge.as_str(), calls[0].status), ("messages", 400));
    assert_eq!(calls[0].answer["error"]["code"], 100);
    // The platform says what was wrong, in Meta's words.
    assert_eq!(
        calls[0].answer["error"]["message"],
        "(#100) The parameter messaging_type is required"
    );
    assert_eq!(p.transcript(&u).await, []);
}
