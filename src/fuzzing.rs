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
//!   captured instead of POSTed.

use crate::generate::{self, Bytes, Entropy, GenConfig};
use crate::harness::Case;
use crate::harness::diff::{self, Divergence};
use crate::harness::run::CASE_PAGE_ID;
use crate::model::{
    AppIx, AppSpec, Channel, Event, Op, Setup, State, apply, invariants::check_step,
};
use crate::server::{Capture, DeliveryConfig, Mutants, Platform, ServerConfig};
use crate::wire::control::{
    ControlRequest, FlushRequest, ResetRequest, TranscriptAnswer, TranscriptItem, TranscriptQuery,
    UserEventRequest, parse_control_answer,
};
use crate::wire::{
    AppCredentials, HttpParts, HttpRequest, PageKeys, RawRequest, appsecret_proof, canonical,
    decode_graph, delivery_body, parse_answer, parse_delivery, render_graph, verify_signature,
};
use axum::Router;
use axum::body::Body;
use std::collections::HashMap;
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
        let op = generate::next_op(&mut e, &st, &setup.psids, &cfg);
        apply(&mut st, &op);
        ops.push(op);
    }
    Case { setup, ops }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
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
                let op = generate::next_op(&mut e, &st, &cs.psids, &cfg);
                apply(&mut st, &op);
            }
            Ok(generate::next_op(&mut e, &st, &cs.psids, &cfg))
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

/// What a request to the router answered.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Captured = Arc<Mutex<HashMap<String, Vec<(Vec<u8>, String)>>>>;

/// The reference server's router, called in-process on a current-thread
/// runtime; webhook deliveries go to an in-memory capture instead of HTTP.
pub struct InProcess {
    rt: tokio::runtime::Runtime,
    pub platform: Arc<Platform>,
    router: Router,
    captured: Captured,
    pub page: FuzzPage,
}

impl InProcess {
    pub fn new(mutants: Mutants) -> InProcess {
        let page = FuzzPage::new();
        let captured: Captured = Arc::default();
        let sink = captured.clone();
        let mut config = ServerConfig::new(page.key.clone());
        config.mutants = mutants;
        config.delivery = DeliveryConfig {
            capture: Some(Capture(Arc::new(move |url, body, signature| {
                sink.lock()
                    .expect("capture lock")
                    .entry(url.to_string())
                    .or_default()
                    .push((body.to_vec(), signature.to_string()));
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
            platform,
            router,
            captured,
            page,
        }
    }

    /// Sends one request through the router.
    pub fn send(&self, req: axum::http::Request<Body>) -> Answer {
        self.rt.block_on(async {
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
            Answer {
                status,
                headers,
                body,
            }
        })
    }

    pub fn graph(&self, req: &HttpRequest) -> Answer {
        let input = HttpInput::from_request(req);
        self.send(input.to_http().expect("rendered requests are valid HTTP"))
    }

    pub fn control(&self, req: &ControlRequest) -> Answer {
        let mut uri = format!("/conformance/{}", req.route());
        if let Some(q) = req.query() {
            uri.push('?');
            uri.push_str(&q);
        }
        let body = req
            .body()
            .map(|v| serde_json::to_vec(&v).expect("json"))
            .unwrap_or_default();
        let http = axum::http::Request::builder()
            .method(req.method())
            .uri(uri)
            .header("x-conformance-key", &self.page.key)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("a valid request");
        self.send(http)
    }

    /// Resets `setup` with `creds` (deliveries captured per app URL).
    pub fn reset(&self, setup: &Setup, creds: &[AppCredentials]) {
        self.captured.lock().expect("capture lock").clear();
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

    fn take_captured(&self, url: &str) -> Vec<(Vec<u8>, String)> {
        self.captured
            .lock()
            .expect("capture lock")
            .remove(url)
            .unwrap_or_default()
    }

    fn transcript(&self, page_id: &str, psid: &str) -> Vec<TranscriptItem> {
        let a = self.control(&ControlRequest::Transcript(TranscriptQuery {
            page_id: page_id.to_string(),
            psid: psid.to_string(),
        }));
        serde_json::from_slice::<TranscriptAnswer>(&a.body)
            .map(|t| t.data)
            .unwrap_or_default()
    }

    /// `differential`: plays the case against the server and the model side
    /// by side: every answer, every delivery (signature, envelope, events
    /// per app and channel, order) and, at the end, every transcript. The
    /// first difference is returned.
    pub fn differential(&self, case: &Case) -> Option<Divergence> {
        let setup = &case.setup.setup;
        let page = setup.page_id.clone();
        let creds: Vec<AppCredentials> = (0..setup.apps.len())
            .map(|i| AppCredentials {
                access_token: format!("tok-{page}-{i}"),
                app_secret: format!("sec-{page}-{i}"),
                webhook_url: format!("capture://{page}/{i}"),
            })
            .collect();
        self.reset(setup, &creds);
        let mut model = State::new(setup.clone());
        let mut mids: HashMap<String, Vec<String>> = HashMap::new();
        let mut last = None;
        for (index, op) in case.ops.iter().enumerate() {
            let expected = apply(&mut model, op);
            let answer_div = match op {
                Op::Graph(g) => {
                    let req = render_graph(g, &model.setup, &creds);
                    let a = self.graph(&req);
                    let observed =
                        parse_answer(g.call.edge(), a.status, &a.headers, &a.body, setup);
                    diff::graph_answer(index, op, &expected, &observed)
                }
                _ => {
                    if let Op::User(crate::model::UserEvent::Postback { psid, .. }) = op {
                        let t = self.transcript(&page, psid);
                        mids.insert(psid.clone(), t.into_iter().map(|t| t.mid).collect());
                    }
                    let lookup = |psid: &str, n: u32| {
                        mids.get(psid).and_then(|v| v.get(n as usize)).cloned()
                    };
                    let req = ControlRequest::from_op(op, setup, &lookup).expect("not a Graph op");
                    let a = self.control(&req);
                    diff::control_answer(
                        index,
                        op,
                        &expected,
                        parse_control_answer(a.status, &a.body),
                    )
                }
            };
            if answer_div.is_some() {
                return answer_div;
            }
            let f = self.control(&ControlRequest::Flush(FlushRequest {
                page_id: page.clone(),
            }));
            assert_eq!(f.status, 200, "flush failed");
            let mut observed: Vec<Vec<(Channel, Event)>> = Vec::with_capacity(creds.len());
            for (i, c) in creds.iter().enumerate() {
                let mut events = Vec::new();
                for (body, signature) in self.take_captured(&c.webhook_url) {
                    if !verify_signature(&c.app_secret, &body, &signature) {
                        return Some(diff::bad_signature(index, op, AppIx(i as u8), true));
                    }
                    match parse_delivery(&body, setup) {
                        Ok(evs) => events.extend(evs),
                        Err(e) => {
                            return Some(diff::unreadable_delivery(
                                index,
                                op,
                                &expected,
                                AppIx(i as u8),
                                &e.to_string(),
                            ));
                        }
                    }
                }
                observed.push(events);
            }
            if let Some(d) = diff::deliveries(index, op, &expected, &observed) {
                return Some(d);
            }
            last = Some((index, op, expected));
        }
        let (last, op, expected) = last?;
        let mut psids: Vec<&String> = model.threads.keys().collect();
        psids.sort();
        for psid in psids {
            let want: Vec<TranscriptItem> = model
                .transcript(psid)
                .map(|e| TranscriptItem::from_entry(e, setup))
                .collect();
            let got = self.transcript(&page, psid);
            if let Some(d) = diff::transcript(last, op, &expected, psid, &want, &got) {
                return Some(d);
            }
        }
        None
    }
}

/// The statuses the reference server may answer with.
pub const ALLOWED_STATUSES: &[u16] = &[200, 400, 401, 404, 413];

/// `server_http`: one arbitrary request into the router. Panics when the
/// answer is a 5xx or has an unexpected status, when an error is not an
/// error envelope, or when a refused call changed the fuzz page.
pub fn check_server_http(server: &InProcess, baseline: &mut Option<State>, data: &[u8]) {
    let page_id = server.page.setup.page_id.clone();
    let current = server.platform.page_state(&page_id);
    if baseline.is_none() || current != *baseline {
        server.reset_fuzz_page();
        *baseline = server.platform.page_state(&page_id);
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
        let after = server.platform.page_state(&page_id);
        assert!(
            after == *baseline,
            "a refused call (HTTP {}) changed the page: {input:?}",
            a.status
        );
    }
}
