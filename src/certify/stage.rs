//! The stage an app under test plays on: the reference platform on the
//! port the app's Graph API calls go to, one page whose app 0 is the app
//! under test and whose other apps are simulated, a recorder of every
//! decision, and a forwarder that delivers the app's webhooks itself
//! (so that it can also hold them for a batch, send one again, forge one,
//! or send a kind the app may not know) and records what the app answered.
//!
//! Stimuli reach the platform through the harness's target seam (the
//! control API and the Graph API over loopback), exactly as a test
//! reaches any platform.

use super::record::{DeliveryKind, Entry, Record, ThreadView, WebhookAnswer};
use crate::generate::stimuli::AUT;
use crate::harness::http::HttpTarget;
use crate::harness::target::{Target, TargetError, flush, transcript};
use crate::harness::{RunError, TargetSpec};
use crate::model::{
    AppSpec, Caller, Channel, Event, EventKind, Forgery, Op, Psid, Setup, Special, State, Unusual,
};
use crate::server::{
    Capture, DecideObserver, Decided, DeliveryConfig, RunningServer, ServerConfig, generate_key,
};
use crate::wire::control::{ControlRequest, ResetRequest};
use crate::wire::{AppCredentials, delivery_body, parse_delivery, render_graph, signature_header};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the app may take to answer one delivery (Meta's limit).
pub const ANSWER_LIMIT: Duration = Duration::from_secs(20);
/// How long the app may take for a delivery while an earlier one went
/// unanswered for [`ANSWER_LIMIT`] (until it answers one again): deliveries
/// go out one at a time, and an app that stopped answering must not make
/// every delivery queued behind it wait 20 s.
pub const STALLED_LIMIT: Duration = Duration::from_secs(2);
/// Deliveries waiting for the app before further ones are given up on.
const QUEUE: usize = 10_000;
/// Entries kept in all before a flooding app's calls are only counted.
const MAX_ENTRIES: usize = 20_000;
/// The app's Graph calls kept per PSID after one stimulus on it: a flooding
/// app's further calls are counted, not kept (the record, and the
/// counterexample built from it, stay small).
pub const CALLS_KEPT: u32 = 200;
/// The page of the certification.
pub const PAGE_ID: &str = "900100200";
/// The Instagram professional account linked to the page: its threads are
/// played only with `--instagram` (an app subscribed to Messenger alone
/// never gets `"object":"instagram"` deliveries).
pub const INSTAGRAM_ACCOUNT_ID: &str = "17841400900100200";

/// The app under test's identity on the page, as it was configured.
#[derive(Clone)]
pub struct AppIdentity {
    pub app_id: String,
    pub token: String,
    pub secret: String,
    pub verify_token: Option<String>,
    pub human_agent: bool,
}

impl std::fmt::Debug for AppIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppIdentity")
            .field("app_id", &self.app_id)
            .field("human_agent", &self.human_agent)
            .finish_non_exhaustive()
    }
}

/// Every decision of the page and every delivery to the app, numbered in
/// one sequence.
pub(super) struct Recorder {
    seq: AtomicU64,
    entries: Mutex<Vec<Entry>>,
    /// Entries not kept because there were `MAX_ENTRIES`.
    dropped: AtomicU64,
    /// The app's calls kept per PSID since the latest stimulus on it
    /// (`""`: calls on no PSID).
    kept: Mutex<std::collections::HashMap<Psid, u32>>,
    /// The app's calls counted but not kept, per PSID.
    not_kept: Mutex<std::collections::HashMap<Psid, u64>>,
    /// When the app last made a Graph call.
    last_call: Mutex<Instant>,
    calls: AtomicU64,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            seq: AtomicU64::new(1),
            entries: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            kept: Mutex::new(std::collections::HashMap::new()),
            not_kept: Mutex::new(std::collections::HashMap::new()),
            last_call: Mutex::new(Instant::now()),
            calls: AtomicU64::new(0),
        }
    }

    pub(super) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    pub(super) fn now_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    fn push(&self, e: Entry) {
        let mut v = self.entries.lock().expect("recorder lock");
        if v.len() >= MAX_ENTRIES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            v.push(e);
        }
    }

    /// One decision of the platform (called under the page lock).
    fn observe(&self, d: &Decided<'_>) {
        if d.page_id.is_some_and(|p| p != PAGE_ID) {
            return;
        }
        // The app under test's calls: its token, or none the platform knows
        // (the tool's own simulated apps always use theirs).
        let by_app = match d.op {
            Op::Graph(g) => !matches!(g.caller, Caller::App(a) if a != AUT),
            _ => false,
        };
        if by_app {
            *self.last_call.lock().expect("recorder lock") = Instant::now();
            self.calls.fetch_add(1, Ordering::Relaxed);
            let key = d.op.psid().cloned().unwrap_or_default();
            let mut kept = self.kept.lock().expect("recorder lock");
            let n = kept.entry(key.clone()).or_default();
            if *n >= CALLS_KEPT {
                drop(kept);
                *self
                    .not_kept
                    .lock()
                    .expect("recorder lock")
                    .entry(key)
                    .or_default() += 1;
                return;
            }
            *n += 1;
        }
        let seq = self.next_seq();
        let primary = d.before.and_then(|s| s.primary);
        let view = |st: Option<&State>, p: &str| st.and_then(|s| ThreadView::of(s, p));
        let entry = |psid: Option<Psid>| Entry::Decided {
            seq,
            by_app,
            op: d.op.clone(),
            before: psid.as_deref().and_then(|p| view(d.before, p)),
            after: psid.as_deref().and_then(|p| view(d.after, p)),
            psid,
            primary,
            outcome: Box::new(d.outcome.clone()),
        };
        match (d.op, d.before, d.after) {
            // A clock step: one entry per thread whose owner it changed.
            (Op::Clock { .. }, Some(before), Some(after)) => {
                let changed: Vec<Psid> = before
                    .threads
                    .iter()
                    .filter(|(p, t)| after.owner(p) != t.owner)
                    .map(|(p, _)| p.clone())
                    .collect();
                if changed.is_empty() {
                    self.push(entry(None));
                }
                for p in changed {
                    self.push(entry(Some(p)));
                }
            }
            (op, _, _) => self.push(entry(op.psid().cloned())),
        }
    }

    /// The entries whose sequence number is at least `from`, about the
    /// given PSIDs or about none, in order.
    fn take_for(&self, from: u64, psids: &[Psid]) -> Vec<Entry> {
        let v = self.entries.lock().expect("recorder lock");
        let mut out: Vec<Entry> = v
            .iter()
            .filter(|e| e.seq() >= from)
            .filter(|e| {
                let ps = e.psids();
                ps.is_empty() || ps.iter().any(|p| psids.contains(p))
            })
            .cloned()
            .collect();
        out.sort_by_key(Entry::seq);
        out
    }

    /// A stimulus on `psid` (or on the whole page): the app's reactions to
    /// it are kept again, up to [`CALLS_KEPT`].
    fn stimulus(&self, psid: Option<&Psid>) {
        let mut kept = self.kept.lock().expect("recorder lock");
        match psid {
            Some(p) => {
                kept.remove(p);
                kept.remove("");
            }
            None => kept.clear(),
        }
    }

    /// The app's calls on `psids` (or on none) counted but not kept.
    fn not_kept(&self, psids: &[Psid]) -> u64 {
        let m = self.not_kept.lock().expect("recorder lock");
        m.get("").copied().unwrap_or(0) + psids.iter().filter_map(|p| m.get(p)).sum::<u64>()
    }

    /// Forgets entries older than `before` (memory stays bounded over a run).
    fn forget_before(&self, before: u64) {
        self.entries
            .lock()
            .expect("recorder lock")
            .retain(|e| e.seq() >= before);
        self.kept.lock().expect("recorder lock").clear();
        self.not_kept.lock().expect("recorder lock").clear();
    }
}

/// One delivery waiting to go to the app.
struct Job {
    body: Vec<u8>,
    signature: Option<String>,
    kind: DeliveryKind,
}

#[derive(Default)]
struct Held {
    /// Bodies held for a batch; `None` when not holding.
    batch: Option<Vec<Vec<u8>>>,
    /// The latest genuine delivery about each PSID, for a retry.
    last: std::collections::HashMap<Psid, (Vec<u8>, String)>,
}

impl Held {
    /// Remembers a genuine delivery under every PSID it is about.
    fn remember(&mut self, setup: &Setup, body: &[u8], signature: &str) {
        for (_, e) in parse_delivery(body, setup).unwrap_or_default() {
            if let Some(p) = e.psid {
                self.last.insert(p, (body.to_vec(), signature.to_string()));
            }
        }
        // A long run must not keep every PSID's last delivery.
        if self.last.len() > 4096 {
            self.last.clear();
        }
    }
}

/// Delivers to the app's webhook, in order, and records the answers.
pub(super) struct Forwarder {
    tx: tokio::sync::mpsc::Sender<Job>,
    held: Mutex<Held>,
    /// Deliveries queued or being sent.
    pending: AtomicU64,
    /// Deliveries sent to the app (answered or not).
    delivered: AtomicU64,
    last_answer: Mutex<Instant>,
    secret: String,
    setup: Setup,
}

impl Forwarder {
    fn start(
        webhook: String,
        secret: String,
        setup: Setup,
        recorder: Arc<Recorder>,
    ) -> Arc<Forwarder> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(QUEUE);
        let f = Arc::new(Forwarder {
            tx,
            held: Mutex::new(Held::default()),
            pending: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            last_answer: Mutex::new(Instant::now()),
            secret,
            setup: setup.clone(),
        });
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .expect("an HTTP client without TLS always builds");
        let me = f.clone();
        tokio::spawn(async move {
            let mut stalled = false;
            while let Some(job) = rx.recv().await {
                let seq = recorder.next_seq();
                me.delivered.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let limit = if stalled { STALLED_LIMIT } else { ANSWER_LIMIT };
                let mut req = http
                    .post(&webhook)
                    .timeout(limit)
                    .header("content-type", "application/json")
                    .body(job.body.clone());
                if let Some(sig) = &job.signature {
                    req = req.header(crate::wire::SIGNATURE_HEADER, sig);
                }
                let answer = match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        // Read (and bound) the body so the connection is reused.
                        let _ = tokio::time::timeout(limit, resp.bytes()).await;
                        stalled = false;
                        WebhookAnswer::Status(status)
                    }
                    Err(e) if e.is_timeout() && stalled => WebhookAnswer::Failed(format!(
                        "no answer within {} s, after an earlier delivery got none within {} s",
                        STALLED_LIMIT.as_secs(),
                        ANSWER_LIMIT.as_secs()
                    )),
                    Err(e) if e.is_timeout() => {
                        stalled = true;
                        WebhookAnswer::Timeout
                    }
                    Err(e) => WebhookAnswer::Failed(describe(&e.without_url())),
                };
                let events = parse_delivery(&job.body, &setup).unwrap_or_default();
                recorder.push(Entry::Delivered {
                    seq,
                    kind: job.kind,
                    events,
                    answer,
                    elapsed_ms: started.elapsed().as_millis() as u64,
                });
                *me.last_answer.lock().expect("forwarder lock") = Instant::now();
                me.pending.fetch_sub(1, Ordering::SeqCst);
            }
        });
        f
    }

    fn send(&self, job: Job) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.try_send(job).is_err() {
            // A full queue: the app is not keeping up; the delivery is lost.
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A delivery the platform made to the app (from the capture hook).
    fn platform(&self, body: &[u8], signature: &str) {
        let mut h = self.held.lock().expect("forwarder lock");
        if let Some(batch) = &mut h.batch {
            batch.push(body.to_vec());
            return;
        }
        h.remember(&self.setup, body, signature);
        drop(h);
        self.send(Job {
            body: body.to_vec(),
            signature: Some(signature.to_string()),
            kind: DeliveryKind::Platform,
        });
    }

    fn hold(&self) {
        let mut h = self.held.lock().expect("forwarder lock");
        h.batch.get_or_insert_with(Vec::new);
    }

    /// Sends what was held: several deliveries as one, with every entry.
    fn release(&self) {
        let bodies = {
            let mut h = self.held.lock().expect("forwarder lock");
            h.batch.take().unwrap_or_default()
        };
        match bodies.len() {
            0 => {}
            1 => {
                let sig = signature_header(&self.secret, &bodies[0]);
                self.held
                    .lock()
                    .expect("forwarder lock")
                    .remember(&self.setup, &bodies[0], &sig);
                self.send(Job {
                    body: bodies[0].clone(),
                    signature: Some(sig),
                    kind: DeliveryKind::Platform,
                });
            }
            _ => {
                let mut entries = Vec::new();
                let mut object = serde_json::Value::String("page".into());
                for b in &bodies {
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) {
                        object = v["object"].clone();
                        if let Some(es) = v["entry"].as_array() {
                            entries.extend(es.iter().cloned());
                        }
                    }
                }
                let body =
                    serde_json::to_vec(&serde_json::json!({"object": object, "entry": entries}))
                        .expect("JSON");
                let sig = signature_header(&self.secret, &body);
                self.held
                    .lock()
                    .expect("forwarder lock")
                    .remember(&self.setup, &body, &sig);
                self.send(Job {
                    body,
                    signature: Some(sig),
                    kind: DeliveryKind::Batch,
                });
            }
        }
    }

    /// The latest genuine delivery about `psid` again, unchanged.
    fn retry(&self, psid: &str) {
        let last = self
            .held
            .lock()
            .expect("forwarder lock")
            .last
            .get(psid)
            .cloned();
        if let Some((body, sig)) = last {
            self.send(Job {
                body,
                signature: Some(sig),
                kind: DeliveryKind::Retry,
            });
        }
    }

    fn signed(&self, body: Vec<u8>, kind: DeliveryKind) {
        let sig = signature_header(&self.secret, &body);
        self.send(Job {
            body,
            signature: Some(sig),
            kind,
        });
    }

    fn idle(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0
    }
}

/// A delivery's failure in words: the error and its causes.
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The platform, the recorder and the forwarder, set up for one app.
pub struct Stage {
    server: RunningServer,
    target: HttpTarget,
    pub(super) recorder: Arc<Recorder>,
    forwarder: Arc<Forwarder>,
    pub setup: Setup,
    creds: Vec<AppCredentials>,
    pub identity: AppIdentity,
    pub webhook: String,
    quiet: Duration,
    reaction_limit: Duration,
    psid_base: u64,
    next_psid: AtomicU64,
    /// HTTP requests the tool made to the platform (control API, the
    /// simulated apps' Graph calls).
    tool_requests: AtomicU64,
}

/// The simulated apps beside the app under test.
fn other_apps() -> Vec<AppSpec> {
    vec![
        AppSpec {
            app_id: "2000000001".into(),
            name: "live-agent desk".into(),
            human_agent: true,
            require_appsecret_proof: false,
        },
        AppSpec {
            app_id: "2000000002".into(),
            name: "crm".into(),
            human_agent: false,
            require_appsecret_proof: false,
        },
    ]
}

impl Stage {
    /// Starts the platform on `bind` for the app of `identity`, whose
    /// webhook is `webhook`.
    pub async fn start(
        bind: SocketAddr,
        webhook: &str,
        identity: AppIdentity,
        quiet: Duration,
        reaction_limit: Duration,
    ) -> Result<Stage, RunError> {
        let mut apps = vec![AppSpec {
            app_id: identity.app_id.clone(),
            name: "app under test".into(),
            human_agent: identity.human_agent,
            require_appsecret_proof: false,
        }];
        apps.extend(other_apps());
        let setup = Setup::new(PAGE_ID.into(), crate::generate::START_MS, apps, None)
            .and_then(|s| s.with_instagram(Some(INSTAGRAM_ACCOUNT_ID.into())))
            .map_err(|e| RunError::Usage(format!("--app-id: {e}")))?;
        let key = generate_key();
        let recorder = Arc::new(Recorder::new());
        let forwarder = Forwarder::start(
            webhook.to_string(),
            identity.secret.clone(),
            setup.clone(),
            recorder.clone(),
        );
        let mut config = ServerConfig::new(key.clone());
        let rec = recorder.clone();
        config.observer = Some(DecideObserver(Arc::new(move |d| rec.observe(d))));
        let fwd = forwarder.clone();
        config.delivery = DeliveryConfig {
            capture: Some(Capture(Arc::new(move |url, body, signature| {
                if url == APP_URL {
                    fwd.platform(body, signature);
                }
                true
            }))),
            retries: 0,
            ..DeliveryConfig::default()
        };
        let server = RunningServer::start(config, bind).await.map_err(|e| {
            RunError::Usage(format!(
                "cannot serve the Graph API on {bind}: {e} (is the port in use? pick another with --port, or --port 0 for any free port)"
            ))
        })?;
        let spec = TargetSpec {
            graph: server.url(),
            control: None,
            key,
        };
        let target = HttpTarget::connect(&spec, None)
            .await
            .map_err(|e| RunError::Usage(format!("cannot start the local sinks: {e}")))?;
        let mut creds = vec![AppCredentials {
            access_token: identity.token.clone(),
            app_secret: identity.secret.clone(),
            webhook_url: APP_URL.to_string(),
        }];
        let id = crate::harness::run_id();
        for i in 1..setup.apps.len() {
            creds.push(AppCredentials {
                access_token: format!("tok-{id}-{i}"),
                app_secret: format!("sec-{id}-{i}"),
                webhook_url: format!("capture://other/{i}"),
            });
        }
        let psid_base = (u64::from_str_radix(&id[..8], 16).unwrap_or(1) % 8_000_000 + 1_000_000)
            * 1_000_000_000;
        let stage = Stage {
            server,
            target,
            recorder,
            forwarder,
            setup,
            creds,
            identity,
            webhook: webhook.to_string(),
            quiet,
            reaction_limit,
            psid_base,
            next_psid: AtomicU64::new(1),
            tool_requests: AtomicU64::new(0),
        };
        stage.reset().await?;
        Ok(stage)
    }

    /// The Graph API origin the app calls.
    pub fn graph_url(&self) -> String {
        self.server.url()
    }

    async fn reset(&self) -> Result<(), RunError> {
        let req = ControlRequest::Reset(ResetRequest::from_setup(&self.setup, &self.creds));
        self.tool_request();
        let a = self.target.control(&req).await?;
        if a.status != 200 {
            return Err(RunError::Usage(format!(
                "the page could not be set up: {} (check --app-id and --token)",
                String::from_utf8_lossy(&a.body)
            )));
        }
        Ok(())
    }

    /// `n` PSIDs the app has never seen.
    pub fn fresh_psids(&self, n: usize) -> Vec<Psid> {
        (0..n)
            .map(|_| {
                let k = self.next_psid.fetch_add(1, Ordering::Relaxed);
                (self.psid_base + k).to_string()
            })
            .collect()
    }

    /// The page as the platform has it now.
    pub async fn state(&self) -> State {
        self.server
            .platform
            .page_state(PAGE_ID)
            .expect("the page was reset")
    }

    pub fn seq(&self) -> u64 {
        self.recorder.now_seq()
    }

    /// Applies one stimulus (with real PSIDs) to the platform or the
    /// forwarder.
    pub async fn apply(&self, op: &Op) -> Result<(), TargetError> {
        match op {
            Op::Graph(g) => {
                let req = render_graph(g, &self.setup, &self.creds);
                self.tool_request();
                self.target.graph(&req).await?;
            }
            Op::Deliver(d) => self.special(d).await,
            _ => {
                // A postback names a message by its position: look up the
                // platform's own ids first.
                let mut mids = std::collections::HashMap::new();
                if let Op::User(crate::model::UserEvent::Postback { psid, .. }) = op {
                    self.tool_request();
                    let t = transcript(&self.target, PAGE_ID, psid).await?;
                    mids.insert(
                        psid.clone(),
                        t.data.into_iter().map(|i| i.mid).collect::<Vec<_>>(),
                    );
                }
                let lookup =
                    |psid: &str, n: u32| mids.get(psid).and_then(|v| v.get(n as usize)).cloned();
                if let Some(req) = ControlRequest::from_op(op, &self.setup, &lookup) {
                    self.tool_request();
                    self.target.control(&req).await?;
                }
            }
        }
        Ok(())
    }

    async fn special(&self, d: &Special) {
        let st = self.state().await;
        let now = st.now_ms;
        let surface = |psid: &str| st.surface(psid).unwrap_or_default();
        let event = |psid: &str, kind: EventKind| Event {
            psid: Some(psid.to_string()),
            timestamp: now,
            kind,
            surface: surface(psid),
        };
        // The envelope of a delivery the tool writes itself: the object and
        // the id of the thread's surface (IG-3).
        let envelope = |psid: &str| {
            let s = surface(psid);
            let id = self.setup.surface_id(s).unwrap_or(PAGE_ID).to_string();
            (s.webhook_object(), id)
        };
        match d {
            Special::Retry { psid } => self.forwarder.retry(psid),
            Special::Batch {
                psid,
                texts,
                requests,
            } => {
                // Only this batch's deliveries are held: whatever the
                // platform had queued goes out first.
                self.tool_request();
                let _ = flush(&self.target, PAGE_ID).await;
                self.forwarder.hold();
                for text in texts {
                    let ev = ControlRequest::from_op(
                        &Op::User(crate::model::UserEvent::Message {
                            psid: psid.clone(),
                            text: text.clone(),
                            quick_reply: None,
                            platform: surface(psid),
                        }),
                        &self.setup,
                        &|_: &str, _: u32| None,
                    )
                    .expect("a control call");
                    self.tool_request();
                    let _ = self.target.control(&ev).await;
                }
                for app in requests {
                    let g = self.setup.call(
                        *app,
                        crate::model::Call::Request {
                            psid: psid.clone(),
                            metadata: Some("a request from another app of the page".into()),
                        },
                    );
                    self.tool_request();
                    let _ = self
                        .target
                        .graph(&render_graph(&g, &self.setup, &self.creds))
                        .await;
                }
                self.tool_request();
                let _ = flush(&self.target, PAGE_ID).await;
                self.forwarder.release();
            }
            Special::Forged {
                psid,
                text,
                signature,
            } => {
                let ev = event(
                    psid,
                    EventKind::Message {
                        mid: format!("m_forged_{now}"),
                        text: text.clone(),
                        quick_reply: None,
                        ad_id: None,
                    },
                );
                let body = delivery_body(&self.setup, now, &[(Channel::Messaging, ev)]);
                let signature = match signature {
                    Forgery::Missing => None,
                    Forgery::Wrong => Some(signature_header("not-the-app-secret", &body)),
                };
                self.forwarder.send(Job {
                    body,
                    signature,
                    kind: DeliveryKind::Forged,
                });
            }
            Special::Unusual { psid, kind } => {
                let body = match kind {
                    Unusual::StandbyPostback => delivery_body(
                        &self.setup,
                        now,
                        &[(
                            Channel::Standby,
                            event(
                                psid,
                                EventKind::Postback {
                                    mid: format!("m_other_{now}"),
                                    title: "a button of another app".into(),
                                    payload: None,
                                },
                            ),
                        )],
                    ),
                    Unusual::AppRoles => delivery_body(
                        &self.setup,
                        now,
                        &[(
                            Channel::Messaging,
                            Event {
                                psid: None,
                                timestamp: now,
                                surface: Default::default(),
                                kind: EventKind::AppRoles {
                                    app: AUT,
                                    primary: st.primary == Some(AUT),
                                },
                            },
                        )],
                    ),
                    Unusual::UnknownEvent => {
                        let (object, id) = envelope(psid);
                        serde_json::to_vec(&serde_json::json!({
                        "object": object,
                        "entry": [{"id": id, "time": now, "messaging": [{
                            "sender": {"id": psid}, "recipient": {"id": id}, "timestamp": now,
                            "baton_unknown_event": {"note": "an event kind this API does not have"}
                        }]}]
                    }))
                    .expect("JSON")
                    }
                    Unusual::UnknownField => {
                        let (object, id) = envelope(psid);
                        serde_json::to_vec(&serde_json::json!({
                        "object": object,
                        "baton_extra": "a field this API does not have",
                        "entry": [{"id": id, "time": now, "baton_extra": {"n": 1}, "messaging": [{
                            "sender": {"id": psid}, "recipient": {"id": id}, "timestamp": now,
                            "read": {"watermark": now}, "baton_extra": [1, 2]
                        }]}]
                    }))
                    .expect("JSON")
                    }
                };
                self.forwarder.signed(body, DeliveryKind::Unusual);
            }
        }
    }

    /// Waits until the app is quiet: its webhook answers are in and it made
    /// no Graph call for the quiet period; at most the reaction limit.
    pub async fn settle(&self) -> Result<(), TargetError> {
        let started = Instant::now();
        loop {
            self.tool_request();
            flush(&self.target, PAGE_ID).await?;
            let last_call = *self.recorder.last_call.lock().expect("recorder lock");
            let last_answer = *self.forwarder.last_answer.lock().expect("forwarder lock");
            let since = last_call.max(last_answer).elapsed();
            if self.forwarder.idle() && since >= self.quiet {
                return Ok(());
            }
            if started.elapsed() >= self.reaction_limit {
                return Ok(());
            }
            let wait = self
                .quiet
                .saturating_sub(since)
                .clamp(Duration::from_millis(5), Duration::from_millis(50));
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits (at most `limit`) for every queued delivery to be answered.
    pub async fn drain(&self, limit: Duration) {
        let started = Instant::now();
        while !self.forwarder.idle() && started.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The record of a case that began at `from`, on `psids`, whose
    /// stimuli began at `starts`.
    pub fn record(&self, from: u64, psids: &[Psid], starts: Vec<u64>) -> Record {
        Record {
            entries: self.recorder.take_for(from, psids),
            starts,
            app: AUT,
            human_agent: self.identity.human_agent,
            dropped: self.recorder.dropped.load(Ordering::Relaxed) + self.recorder.not_kept(psids),
            primary_at_start: false,
        }
    }

    /// A stimulus of a case begins: the app's calls on its PSID (all of
    /// them, for one on the whole page) are kept again, up to
    /// [`CALLS_KEPT`].
    pub fn stimulus_begins(&self, op: &Op) {
        self.recorder.stimulus(op.psid());
    }

    pub fn forget_before(&self, seq: u64) {
        self.recorder.forget_before(seq);
    }

    /// The Graph calls the app made so far.
    pub fn app_calls(&self) -> u64 {
        self.recorder.calls.load(Ordering::Relaxed)
    }

    fn tool_request(&self) {
        self.tool_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Every HTTP request of the certification so far: deliveries to the
    /// app, the app's Graph calls, and the tool's own requests to the
    /// platform (control API, the simulated apps' calls).
    pub fn http_requests(&self) -> u64 {
        self.forwarder.delivered.load(Ordering::Relaxed)
            + self.app_calls()
            + self.tool_requests.load(Ordering::Relaxed)
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// The capture URL the platform delivers the app's webhooks to (the
/// forwarder takes them from there).
const APP_URL: &str = "capture://app-under-test";
