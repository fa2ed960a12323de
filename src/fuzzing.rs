//! Fuzzing support: what the cargo-fuzz targets under `fuzz/` run, shared
//! with `baton fuzz-import`, `baton fuzz-corpus` and the tests.
//!
//! * Operation sequences come from the one generator ([`crate::generate`])
//!   fed with libFuzzer's bytes through [`Bytes`]: [`case_from_bytes`] is
//!   the only decoding of a fuzz input into a [`Case`], so a crash file
//!   means the same case to the fuzzer, to `fuzz-import` and to the tests.
//!   With the `arbitrary` feature, [`Case`] and [`Op`] implement
//!   `arbitrary::Arbitrary` the same way.
//! * HTTP-level targets read a request written as HTTP/1.1 text
//!   ([`HttpInput`]), with placeholders for the page's real tokens, proofs
//!   and control key, so that the fuzzer reaches past authentication.
//! * [`InProcess`] is the reference server's router called in-process (no
//!   sockets) on a current-thread tokio runtime, with webhook deliveries
//!   captured instead of POSTed; its [`RouterTarget`] is a harness
//!   [`Target`], so the `differential` target plays cases through the
//!   harness's own session, the same code `baton run` uses.

use crate::generate::{self, Bytes, CASE_PAGE_ID, Case, Entropy, GenConfig};
use crate::harness::diff::Divergence;
use crate::harness::linearize::CheckOptions;
use crate::harness::play::play;
use crate::harness::session::DriverOptions;
use crate::harness::target::{Answered, BoxFuture, Captured as Delivered, Target, TargetError};
use crate::model::{AppSpec, Setup, State, apply, invariants::check_step};
use crate::server::{Capture, DeliveryConfig, Mutants, Platform, ServerConfig};
use crate::wire::control::{ControlRequest, ResetRequest, UserEventRequest};
use crate::wire::{
    AppCredentials, HttpParts, HttpRequest, PageKeys, RawRequest, appsecret_proof, canonical,
    decode_graph, delivery_body, parse_delivery, render_graph,
};
use axum::Router;
use axum::body::Body;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// Most operations in one fuzz case.
pub const MAX_STEPS: u32 = 24;

/// The case a fuzz input stands for: the number of steps (first choice),
/// the page, then operations chosen by the generator until the steps are
/// done or the bytes run out (at least one).
pub fn case_from_bytes(data: &[u8]) -> Case {
    let mut e = Bytes::new(data);
    let cfg = GenConfig::default();
    let steps = e.range(1, MAX_STEPS);
    let setup = generate::setup(&mut e, &cfg, CASE_PAGE_ID);
    let mut st = State::new(setup.setup.clone());
    let mut ops = Vec::with_capacity(steps as usize);
    for _ in 0..steps {
        if e.is_exhausted() && !ops.is_empty() {
            break;
        }
        let op = generate::next_op_for(&mut e, &st, &setup, &cfg);
        apply(&mut st, &op);
        ops.push(op);
    }
    Case::new(setup, ops)
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use crate::model::Op;
    use arbitrary::{Arbitrary, Result, Unstructured};

    /// A whole case, from the generator: mostly meaningful operations for
    /// the state the page is in, as in `baton run` and the property tests.
    impl<'a> Arbitrary<'a> for Case {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Case> {
            let n = u.arbitrary_len::<u8>()?;
            Ok(case_from_bytes(u.bytes(n)?))
        }

        fn arbitrary_take_rest(u: Unstructured<'a>) -> Result<Case> {
            Ok(case_from_bytes(u.take_rest()))
        }
    }

    /// One operation: the last of a short generated case, so it is
    /// meaningful for the page that case built.
    impl<'a> Arbitrary<'a> for Op {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Op> {
            let n = u.arbitrary_len::<u8>()?;
            let mut e = Bytes::new(u.bytes(n)?);
            let cfg = GenConfig::default();
            let warmup = e.below(4);
            let cs = generate::setup(&mut e, &cfg, CASE_PAGE_ID);
            let mut st = State::new(cs.setup.clone());
            for _ in 0..warmup {
                let op = generate::next_op_for(&mut e, &st, &cs, &cfg);
                apply(&mut st, &op);
            }
            Ok(generate::next_op_for(&mut e, &st, &cs, &cfg))
        }
    }
}

/// `model_ops`: plays the case through the model, checking the invariants
/// of [`crate::model::invariants`] after every step (the same the property
/// tests check). `Err` names the step and the broken invariant.
pub fn check_model(case: &Case) -> Result<(), String> {
    let mut st = State::new(case.setup.setup.clone());
    for (i, op) in case.ops.iter().enumerate() {
        let before = st.clone();
        let out = apply(&mut st, op);
        check_step(&before, op, &out, &st).map_err(|why| format!("step {i} ({op}): {why}"))?;
    }
    Ok(())
}

/// An HTTP request as a fuzz input: HTTP/1.1 text, `METHOD TARGET` on the
/// first line, `Name: value` header lines, an empty line, the body. Line
/// ends may be `\n` or `\r\n`. In the head and a UTF-8 body, `$TOKEN0`…`$TOKEN2`,
/// `$PROOF0`…`$PROOF2` (the right `appsecret_proof` for that app's token),
/// `$PAGE` and `$KEY` (the control key) stand for the fuzz page's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpInput {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The fixed page the HTTP-level targets use.
pub struct FuzzPage {
    pub setup: Setup,
    pub creds: Vec<AppCredentials>,
    pub key: String,
}

impl FuzzPage {
    pub fn new() -> FuzzPage {
        let apps = (0..3)
            .map(|i| AppSpec {
                app_id: format!("{}", 1001 + i),
                name: format!("app{i}"),
                human_agent: i == 1,
                require_appsecret_proof: i == 2,
            })
            .collect();
        let setup = Setup::new(
            CASE_PAGE_ID.to_string(),
            generate::START_MS,
            apps,
            Some("1001"),
        )
        .expect("valid setup");
        let creds = (0..3)
            .map(|i| AppCredentials {
                access_token: format!("EAAfuzz{i}"),
                app_secret: format!("secret{i}"),
                webhook_url: format!("capture://{CASE_PAGE_ID}/{i}"),
            })
            .collect();
        FuzzPage {
            setup,
            creds,
            key: "fuzz-key".to_string(),
        }
    }

    /// Replaces the placeholders of [`HttpInput`].
    pub fn substitute(&self, s: &str) -> String {
        if !s.contains('$') {
            return s.to_string();
        }
        let mut s = s.replace("$PAGE", &self.setup.page_id);
        s = s.replace("$KEY", &self.key);
        for (i, c) in self.creds.iter().enumerate() {
            s = s.replace(
                &format!("$PROOF{i}"),
                &appsecret_proof(&c.app_secret, &c.access_token),
            );
            s = s.replace(&format!("$TOKEN{i}"), &c.access_token);
        }
        s
    }

    /// The reverse, for writing seeds: real values back to placeholders.
    pub fn templatize(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (i, c) in self.creds.iter().enumerate() {
            s = s.replace(
                &appsecret_proof(&c.app_secret, &c.access_token),
                &format!("$PROOF{i}"),
            );
            s = s.replace(&c.access_token, &format!("$TOKEN{i}"));
        }
        s.replace(&self.key, "$KEY")
    }
}

impl Default for FuzzPage {
    fn default() -> FuzzPage {
        FuzzPage::new()
    }
}

impl HttpInput {
    /// Reads the text form, replacing placeholders with `page`'s values.
    /// Never fails: a missing part is empty.
    pub fn parse(data: &[u8], page: &FuzzPage) -> HttpInput {
        let split = find(data, b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| find(data, b"\n\n").map(|i| (i, 2)));
        let (head, body) = match split {
            Some((i, n)) => (&data[..i], &data[i + n..]),
            None => (data, &data[data.len()..]),
        };
        let head = page.substitute(&String::from_utf8_lossy(head));
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("");
        let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
        let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let body = match std::str::from_utf8(body) {
            Ok(text) if text.contains('$') => page.substitute(text).into_bytes(),
            _ => body.to_vec(),
        };
        HttpInput {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
        }
    }

    /// The text form (placeholders are not put back; see
    /// [`FuzzPage::templatize`]).
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out.push('\n');
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\n"));
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// A rendered request as an input.
    pub fn from_request(req: &HttpRequest) -> HttpInput {
        let (path, query) = req
            .path_and_query
            .split_once('?')
            .unwrap_or((&req.path_and_query, ""));
        let mut headers = req.headers.clone();
        if let Some(ct) = &req.content_type {
            headers.push(("Content-Type".to_string(), ct.clone()));
        }
        HttpInput {
            method: req.method.clone(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body: req.body.clone().unwrap_or_default(),
        }
    }

    pub fn parts(&self) -> HttpParts<'_> {
        HttpParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            content_type: None,
            body: &self.body,
        }
    }

    /// The request as the router takes it; `None` when it is not a valid
    /// HTTP request at all (hyper would refuse it before the router).
    pub fn to_http(&self) -> Option<axum::http::Request<Body>> {
        let mut uri = self.path.clone();
        if !self.query.is_empty() {
            uri.push('?');
            uri.push_str(&self.query);
        }
        let mut b = axum::http::Request::builder()
            .method(axum::http::Method::from_bytes(self.method.as_bytes()).ok()?)
            .uri(axum::http::Uri::try_from(uri).ok()?);
        for (n, v) in &self.headers {
            let n = axum::http::HeaderName::from_bytes(n.as_bytes()).ok()?;
            let v = axum::http::HeaderValue::from_bytes(v.as_bytes()).ok()?;
            b = b.header(n, v);
        }
        b.body(Body::from(self.body.clone())).ok()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `wire_parse`: every request decoder and the webhook parser on one input.
/// Panics on a round-trip failure; never on the input alone.
pub fn check_wire(data: &[u8], page: &FuzzPage) {
    let input = HttpInput::parse(data, page);
    let parts = input.parts();
    let raw = RawRequest::parse(&parts);
    let keys = PageKeys {
        setup: &page.setup,
        apps: &page.creds,
    };
    // Decoding with and without the page; the decoded call must render and
    // decode back to its canonical form.
    let _ = decode_graph(&raw, None);
    let op = decode_graph(&raw, Some(&keys));
    let again = render_graph(&op, &page.setup, &page.creds);
    let op2 = decode_graph(&RawRequest::parse(&again.parts()), Some(&keys));
    let want = canonical(&op, &page.setup, &page.creds);
    assert_eq!(
        op2, want,
        "decode(render(decoded)) is not canonical(decoded); request rendered as {again:?}"
    );
    // The control API decoder: whatever parses renders and parses the same.
    if let Ok(req) = ControlRequest::parse(&input.method, &input.path, &input.query, &input.body) {
        let body = req
            .body()
            .map(|v| serde_json::to_vec(&v).expect("json"))
            .unwrap_or_default();
        let back = ControlRequest::parse(
            req.method(),
            req.route(),
            &req.query().unwrap_or_default(),
            &body,
        );
        assert_eq!(back.as_ref(), Ok(&req), "control request round trip");
    }
    // Webhook envelopes: whatever parses re-serializes and parses the same.
    for body in [&input.body[..], data] {
        if let Ok(events) = parse_delivery(body, &page.setup) {
            let again = delivery_body(&page.setup, page.setup.now_ms, &events);
            let back = parse_delivery(&again, &page.setup);
            assert_eq!(back.as_ref(), Ok(&events), "webhook envelope round trip");
        }
    }
}

type Captures = Arc<Mutex<HashMap<String, Vec<Delivered>>>>;

/// The reference server's router as a [`Target`]: requests go through the
/// router without sockets, and webhook deliveries land in memory instead
/// of being POSTed (`capture://<page>/<generation>/<app>`).
pub struct RouterTarget {
    pub platform: Arc<Platform>,
    router: Router,
    captured: Captures,
    key: String,
}

impl RouterTarget {
    async fn send(&self, req: axum::http::Request<Body>) -> Answered {
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        Answered {
            status,
            headers,
            body,
        }
    }

    fn control_request(&self, req: &ControlRequest) -> axum::http::Request<Body> {
        let mut uri = format!("/conformance/{}", req.route());
        if let Some(q) = req.query() {
            uri.push('?');
            uri.push_str(&q);
        }
        let body = req
            .body()
            .map(|v| serde_json::to_vec(&v).expect("json"))
            .unwrap_or_default();
        axum::http::Request::builder()
            .method(req.method())
            .uri(uri)
            .header("x-conformance-key", &self.key)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("a valid request")
    }
}

impl Target for RouterTarget {
    fn graph<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<Answered, TargetError>> {
        let input = HttpInput::from_request(req);
        let http = input.to_http().expect("rendered requests are valid HTTP");
        Box::pin(async move { Ok(self.send(http).await) })
    }

    fn control<'a>(
        &'a self,
        req: &'a ControlRequest,
    ) -> BoxFuture<'a, Result<Answered, TargetError>> {
        let http = self.control_request(req);
        Box::pin(async move { Ok(self.send(http).await) })
    }

    fn webhook_url(&self, page: &str, generation: u64, app: u8) -> String {
        format!("capture://{page}/{generation}/{app}")
    }

    fn take_deliveries(&self, page: &str, generation: u64, app: u8) -> Vec<Delivered> {
        self.captured
            .lock()
            .expect("capture lock")
            .remove(&self.webhook_url(page, generation, app))
            .unwrap_or_default()
    }

    fn forget_page(&self, page: &str) {
        let prefix = format!("capture://{page}/");
        self.captured
            .lock()
            .expect("capture lock")
            .retain(|url, _| !url.starts_with(&prefix));
    }

    fn label(&self) -> String {
        "the reference server's router, in-process".to_string()
    }
}

/// The reference server's router, called in-process on a current-thread
/// runtime, for the HTTP-level fuzz targets.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    pub target: Arc<RouterTarget>,
    pub page: FuzzPage,
    generation: AtomicU64,
}

impl InProcess {
    pub fn new(mutants: Mutants) -> InProcess {
        let page = FuzzPage::new();
        let captured: Captures = Arc::default();
        let sink = captured.clone();
        let mut config = ServerConfig::new(page.key.clone());
        config.mutants = mutants;
        config.delivery = DeliveryConfig {
            capture: Some(Capture(Arc::new(move |url, body, signature| {
                sink.lock()
                    .expect("capture lock")
                    .entry(url.to_string())
                    .or_default()
                    .push(Delivered {
                        body: body.to_vec(),
                        signature: Some(signature.to_string()),
                    });
                true
            }))),
            ..DeliveryConfig::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime builds");
        // The HTTP client inside the platform is built inside the runtime.
        let platform = rt.block_on(async { Platform::new(config) });
        let router = platform.router();
        InProcess {
            rt,
            target: Arc::new(RouterTarget {
                platform,
                router,
                captured,
                key: page.key.clone(),
            }),
            page,
            generation: AtomicU64::new(0),
        }
    }

    pub fn platform(&self) -> &Platform {
        &self.target.platform
    }

    /// Sends one request through the router.
    pub fn send(&self, req: axum::http::Request<Body>) -> Answered {
        self.rt.block_on(self.target.send(req))
    }

    pub fn control(&self, req: &ControlRequest) -> Answered {
        self.send(self.target.control_request(req))
    }

    /// Resets `setup` with `creds`.
    pub fn reset(&self, setup: &Setup, creds: &[AppCredentials]) {
        let a = self.control(&ControlRequest::Reset(ResetRequest::from_setup(
            setup, creds,
        )));
        assert_eq!(
            a.status,
            200,
            "reset refused: {}",
            String::from_utf8_lossy(&a.body)
        );
    }

    /// Resets the fixed fuzz page and makes users 1 and 2 exist (owned by
    /// the primary receiver).
    pub fn reset_fuzz_page(&self) {
        self.reset(&self.page.setup, &self.page.creds);
        for psid in ["1", "2"] {
            let ev = ControlRequest::UserEvent(UserEventRequest::Message {
                page_id: self.page.setup.page_id.clone(),
                psid: psid.to_string(),
                text: "hi".to_string(),
                quick_reply_payload: None,
                platform: Default::default(),
            });
            assert_eq!(self.control(&ev).status, 200);
        }
    }

    /// `differential`: plays the case against the router exactly as `baton
    /// run` plays it against any target (the harness's own session: every
    /// answer, every delivery, transcripts and owners after each step),
    /// and returns the first divergence.
    pub fn differential(&self, case: &Case) -> Option<Divergence> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let target: Arc<dyn Target> = self.target.clone();
        self.rt
            .block_on(play(
                target,
                DriverOptions::default(),
                case,
                generation,
                "fuzz",
                CheckOptions::default(),
            ))
            .expect("the in-process router always answers")
            .divergence
    }
}

/// The statuses the reference server may answer with.
pub const ALLOWED_STATUSES: &[u16] = &[200, 400, 401, 404, 413];

/// `server_http`: one arbitrary request into the router. Panics when the
/// answer is a 5xx or has an unexpected status, when an error is not an
/// error envelope, or when a refused call changed the fuzz page.
pub fn check_server_http(server: &InProcess, baseline: &mut Option<State>, data: &[u8]) {
    let page_id = server.page.setup.page_id.clone();
    let current = server.platform().page_state(&page_id);
    if baseline.is_none() || current != *baseline {
        server.reset_fuzz_page();
        *baseline = server.platform().page_state(&page_id);
    }
    let input = HttpInput::parse(data, &server.page);
    let Some(req) = input.to_http() else { return };
    // The path as the router sees it (`#…` and such are not part of it).
    let path = req.uri().path().to_string();
    let a = server.send(req);
    assert!(
        ALLOWED_STATUSES.contains(&a.status),
        "HTTP {} for {input:?}: {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    let json: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| {
        panic!(
            "the body of HTTP {} is not JSON ({e}) for {input:?}: {:?}",
            a.status,
            String::from_utf8_lossy(&a.body)
        )
    });
    if a.status != 200 {
        let control = path == "/conformance" || path.starts_with("/conformance/");
        if control {
            assert!(
                json.get("error").is_some_and(|e| e.is_string()),
                "control error without an error message: {json}"
            );
        } else {
            assert!(
                serde_json::from_value::<crate::wire::ErrorEnvelope>(json.clone()).is_ok(),
                "HTTP {} without a Graph error envelope: {json}",
                a.status
            );
        }
        let after = server.platform().page_state(&page_id);
        assert!(
            after == *baseline,
            "a refused call (HTTP {}) changed the page: {input:?}",
            a.status
        );
    }
}
