//! Load against the reference server over loopback: `baton bench server`
//! (Graph calls per second next to a raw axum echo endpoint measured in the
//! same run) and `baton bench soak` (latency and memory under sustained load
//! while one app's webhook receiver never answers).
//!
//! Everything runs in the calling process and runtime: the servers, the
//! webhook receivers and the clients. Each client is a task with its own
//! `reqwest::Client` (one keep-alive connection, TCP_NODELAY) running a
//! fixed script of requests in a loop, one request at a time. The echo
//! endpoint gets the same clients, the same URLs and the same JSON bodies as
//! the Graph API, so the ratio between the two is the price of the server's
//! own work (decoding, the page lock, the model, rendering, webhooks).

use super::histogram::Histogram;
use crate::server::{DeliveryConfig, RunningServer, ServerConfig};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;

/// Virtual time every bench page starts at.
const NOW_MS: u64 = 1_700_000_000_000;
const KEY: &str = "bench-key";
/// The apps of every bench page: A is the primary receiver.
const APP_IDS: [&str; 3] = ["1001", "1002", "1003"];

// ---------------------------------------------------------------------------
// Servers and receivers.

/// An axum router served on an ephemeral loopback port, with TCP_NODELAY
/// on every accepted connection (as `RunningServer` does).
struct Served {
    addr: SocketAddr,
    /// Connections accepted so far.
    accepted: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    async fn start(router: Router) -> std::io::Result<Served> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        let listener = listener.tap_io(move |tcp| {
            let _ = tcp.set_nodelay(true);
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Served {
            addr,
            accepted,
            stop: Some(tx),
            task,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// The baseline: a raw axum endpoint that answers every POST, on any path,
/// with the JSON body it got.
fn echo_router() -> Router {
    async fn echo(Json(v): Json<Value>) -> Json<Value> {
        Json(v)
    }
    Router::new().fallback(axum::routing::post(echo))
}

/// A webhook receiver that answers 200 at once; counts the deliveries.
fn sink_router(count: Arc<AtomicU64>) -> Router {
    Router::new().fallback(axum::routing::post(move |_body: Bytes| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
    }))
}

/// A webhook receiver that accepts connections, reads whatever is sent and
/// never writes a byte back.
struct Silent {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    bytes_read: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Silent {
    async fn start() -> std::io::Result<Silent> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicU64::new(0));
        let bytes_read = Arc::new(AtomicU64::new(0));
        let (conns, bytes) = (connections.clone(), bytes_read.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                conns.fetch_add(1, Ordering::Relaxed);
                let bytes = bytes.clone();
                // Held until the sender gives up and closes it.
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n @ 1..) = sock.read(&mut buf).await {
                        bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        Ok(Silent {
            addr,
            connections,
            bytes_read,
            task,
        })
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// Pages and scripts.

/// One bench page: its id, and the access token of each app.
#[derive(Clone, Debug)]
struct BenchPage {
    id: String,
    tokens: [String; 3],
}

impl BenchPage {
    fn new(id: String) -> BenchPage {
        let tokens = ["a", "b", "c"].map(|app| format!("bench-{id}-{app}"));
        BenchPage { id, tokens }
    }

    /// The `reset` body; `webhooks[i]` is app i's webhook URL.
    fn reset_body(&self, webhooks: [&str; 3]) -> Value {
        let apps: Vec<Value> = (0..3)
            .map(|i| {
                json!({
                    "app_id": APP_IDS[i],
                    "name": format!("bench app {}", ["A", "B", "C"][i]),
                    "access_token": self.tokens[i],
                    "app_secret": format!("secret-{}", APP_IDS[i]),
                    "webhook_url": webhooks[i],
                    "human_agent": false,
                    "require_appsecret_proof": false,
                })
            })
            .collect();
        json!({
            "page_id": self.id,
            "now_ms": NOW_MS,
            "primary_receiver": APP_IDS[0],
            "apps": apps,
        })
    }
}

/// One request of a script and the status it must get.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    url: String,
    /// Empty: no body.
    body: Bytes,
    /// Sends `X-Conformance-Key` (a control call, not a Graph call).
    control: bool,
    expect: u16,
}

impl Call {
    fn graph(
        method: Method,
        base: &str,
        edge: &str,
        query: &str,
        body: Value,
        expect: u16,
    ) -> Call {
        let body = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        Call {
            method,
            url: format!("{base}/v19.0/me/{edge}?{query}"),
            body,
            control: false,
            expect,
        }
    }

    fn user_message(base: &str, page: &BenchPage, psid: &str) -> Call {
        Call {
            method: Method::POST,
            url: format!("{base}/conformance/user_event"),
            body: Bytes::from(
                json!({"page_id": page.id, "type": "message", "psid": psid, "text": "still there?"})
                    .to_string(),
            ),
            control: true,
            expect: 200,
        }
    }

    /// The same request for the echo endpoint: same URL and body, as a POST
    /// (a GET's parameters become its JSON body).
    fn for_echo(&self, graph_base: &str, echo_base: &str) -> Call {
        let body = if self.body.is_empty() {
            let query = self.url.split_once('?').map_or("", |(_, q)| q);
            let params: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Bytes::from(Value::Object(params).to_string())
        } else {
            self.body.clone()
        };
        Call {
            method: Method::POST,
            url: self.url.replacen(graph_base, echo_base, 1),
            body,
            control: false,
            expect: 200,
        }
    }
}

/// The Graph calls one client makes in a loop on its own PSID, which app A
/// (the primary receiver) owns at the start and at the end of each round:
/// owner lookups by both apps, a send by the owner and one by a non-owner,
/// a pass to B and the primary's take back (each with a webhook to B), a
/// release refused and one granted, and an idle take. Two of the nine are
/// refused (400), as cheaply as the server can. `owner_send: false` leaves
/// out the owner's send, the only call that makes the page's state grow.
fn graph_script(base: &str, page: &BenchPage, psid: &str, owner_send: bool) -> Vec<Call> {
    let [a, b, _] = &page.tokens;
    let tok = |t: &str| format!("access_token={t}");
    let text = json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE",
                      "message": {"text": "hello from the bench"}});
    let mut calls = vec![Call::graph(
        Method::GET,
        base,
        "thread_owner",
        &format!("recipient={psid}&{}", tok(a)),
        Value::Null,
        200,
    )];
    if owner_send {
        calls.push(Call::graph(
            Method::POST,
            base,
            "messages",
            &tok(a),
            text.clone(),
            200,
        ));
    }
    calls.extend([
        Call::graph(Method::POST, base, "messages", &tok(b), text, 400),
        Call::graph(
            Method::POST,
            base,
            "pass_thread_control",
            &tok(a),
            json!({"recipient": {"id": psid}, "target_app_id": APP_IDS[1], "metadata": "bench"}),
            200,
        ),
        Call::graph(
            Method::GET,
            base,
            "thread_owner",
            &format!("recipient={psid}&{}", tok(b)),
            Value::Null,
            200,
        ),
        Call::graph(
            Method::POST,
            base,
            "take_thread_control",
            &tok(a),
            json!({"recipient": {"id": psid}, "metadata": "bench"}),
            200,
        ),
        Call::graph(
            Method::POST,
            base,
            "release_thread_control",
            &tok(b),
            json!({"recipient": {"id": psid}}),
            400,
        ),
        Call::graph(
            Method::POST,
            base,
            "release_thread_control",
            &tok(a),
            json!({"recipient": {"id": psid}}),
            200,
        ),
        Call::graph(
            Method::POST,
            base,
            "take_thread_control",
            &tok(a),
            json!({"recipient": {"id": psid}, "metadata": "bench"}),
            200,
        ),
    ]);
    calls
}

/// A client as the load generator uses it: one keep-alive connection per
/// host, TCP_NODELAY.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client without TLS always builds")
}

/// A setup call on the control API; panics on anything but 200, since the
/// measurement would be meaningless.
async fn control(http: &reqwest::Client, base: &str, route: &str, body: &Value) {
    let resp = http
        .post(format!("{base}/conformance/{route}"))
        .header("x-conformance-key", KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("control {route}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "control {route}: {status} {text}");
}

/// Resets `page` with the given webhook URLs and makes `psids` known to it
/// (app A, the primary, then owns each of their threads).
async fn prepare_page(
    http: &reqwest::Client,
    base: &str,
    page: &BenchPage,
    webhooks: [&str; 3],
    psids: &[String],
) {
    control(http, base, "reset", &page.reset_body(webhooks)).await;
    for psid in psids {
        control(
            http,
            base,
            "user_event",
            &json!({"page_id": page.id, "type": "message", "psid": psid, "text": "hi"}),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Driving load.

/// What some clients did during one run.
#[derive(Clone, Debug, Default)]
struct Tally {
    graph: Histogram,
    control: Histogram,
    /// Answers with another status than the script expects, or no answer.
    unexpected: u64,
    first_unexpected: Option<String>,
    elapsed: Duration,
    /// CPU time the whole process (clients, server, receivers) used.
    cpu_s: f64,
}

impl Tally {
    fn requests(&self) -> u64 {
        self.graph.count() + self.control.count()
    }

    fn merge(&mut self, other: &Tally) {
        self.graph.merge(&other.graph);
        self.control.merge(&other.control);
        self.unexpected += other.unexpected;
        if self.first_unexpected.is_none() {
            self.first_unexpected = other.first_unexpected.clone();
        }
    }
}

/// Runs `script` in a loop until `deadline`, always to the end of a round so
/// that the thread is back in its starting state.
async fn drive(
    http: reqwest::Client,
    script: Arc<Vec<Call>>,
    deadline: Instant,
    graph_done: Arc<AtomicU64>,
) -> Tally {
    let mut t = Tally::default();
    while Instant::now() < deadline {
        for call in script.iter() {
            let start = Instant::now();
            let mut req = http.request(call.method.clone(), &call.url);
            if !call.body.is_empty() {
                req = req
                    .header("content-type", "application/json")
                    .body(call.body.clone());
            }
            if call.control {
                req = req.header("x-conformance-key", KEY);
            }
            let got = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.bytes().await {
                        Ok(_) if status == call.expect => Ok(()),
                        Ok(body) => Err(format!(
                            "{} {} -> {status} {}",
                            call.method,
                            call.url,
                            String::from_utf8_lossy(&body)
                        )),
                        Err(e) => Err(format!(
                            "{} {} -> {status}, body: {e}",
                            call.method, call.url
                        )),
                    }
                }
                Err(e) => Err(format!("{} {} -> {e}", call.method, call.url)),
            };
            let took = start.elapsed();
            if call.control {
                t.control.record(took);
            } else {
                t.graph.record(took);
                graph_done.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(e) = got {
                t.unexpected += 1;
                t.first_unexpected.get_or_insert(e);
            }
        }
    }
    t
}

/// Clients, each with the script it runs.
type Clients = Vec<(reqwest::Client, Arc<Vec<Call>>)>;

/// Runs each client's script concurrently for about `duration`;
/// `graph_done` counts the Graph calls answered as they are.
async fn run(clients: &Clients, duration: Duration, graph_done: &Arc<AtomicU64>) -> Tally {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = clients
        .iter()
        .map(|(http, script)| {
            tokio::spawn(drive(
                http.clone(),
                script.clone(),
                deadline,
                graph_done.clone(),
            ))
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        total.merge(&task.await.expect("a load task panicked"));
    }
    total.elapsed = start.elapsed();
    total
}

/// CPU time (user and system) this process has used so far, in seconds,
/// from /proc/self/stat (0 where there is none). Clock ticks are taken to
/// be 1/100 s, as on every Linux baton runs on.
pub fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field of the line, utime the 14th and stime the 15th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) as f64 / 100.0,
        _ => 0.0,
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// An echo endpoint and its clients, ready to be measured in slices
/// interleaved with other measurements (`baton bench` puts it between the
/// `baton run` configurations it compares with it).
pub struct EchoLoad {
    echo: Served,
    clients: Clients,
}

/// What one slice of [`EchoLoad::measure`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoSlice {
    pub requests: u64,
    pub unexpected: u64,
    pub elapsed: Duration,
    /// CPU time the process used meanwhile.
    pub cpu_s: f64,
}

impl EchoLoad {
    /// Starts the echo endpoint with `clients` clients, each running the
    /// echo version of the Graph script of `baton bench server`.
    pub async fn start(clients: usize) -> std::io::Result<EchoLoad> {
        let echo = Served::start(echo_router()).await?;
        let (graph, echo_base) = ("http://graph.invalid", echo.url());
        let clients = (0..clients)
            .map(|i| {
                let page = BenchPage::new(format!("{}", 7000 + i));
                let script = graph_script(graph, &page, &format!("{}", 4_000 + i), true)
                    .iter()
                    .map(|c| c.for_echo(graph, &echo_base))
                    .collect();
                (client(), Arc::new(script))
            })
            .collect();
        Ok(EchoLoad { echo, clients })
    }

    /// Drives the endpoint for about `duration`.
    pub async fn measure(&self, duration: Duration) -> EchoSlice {
        let cpu = process_cpu_s();
        let t = run(&self.clients, duration, &Arc::new(AtomicU64::new(0))).await;
        EchoSlice {
            requests: t.requests(),
            unexpected: t.unexpected,
            elapsed: t.elapsed,
            cpu_s: process_cpu_s() - cpu,
        }
    }

    pub async fn stop(self) {
        drop(self.clients);
        self.echo.stop().await;
    }
}

// ---------------------------------------------------------------------------
// `baton bench server`.

/// One measured configuration, summed over the rounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadRun {
    /// `echo` or `graph`.
    pub target: String,
    /// How the clients' PSIDs are spread over pages (graph only).
    pub layout: String,
    pub clients: usize,
    pub requests: u64,
    /// Answers with another status than expected (or none); should be 0.
    pub unexpected: u64,
    pub first_unexpected: Option<String>,
    pub seconds: f64,
    pub per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// CPU time the whole process used (clients and servers alike: they
    /// all run in it), and per request. Unlike the rates, this does not
    /// depend on how much of the machine the run got.
    #[serde(default)]
    pub cpu_s: f64,
    #[serde(default)]
    pub cpu_us_per_request: f64,
}

impl LoadRun {
    fn new(target: &str, layout: &str, clients: usize, t: &Tally) -> LoadRun {
        let h = &t.graph;
        LoadRun {
            target: target.into(),
            layout: layout.into(),
            clients,
            requests: t.requests(),
            unexpected: t.unexpected,
            first_unexpected: t.first_unexpected.clone(),
            seconds: t.elapsed.as_secs_f64(),
            per_sec: t.requests() as f64 / t.elapsed.as_secs_f64().max(1e-9),
            p50_us: us(h.quantile(0.5)),
            p99_us: us(h.quantile(0.99)),
            max_us: us(h.max()),
            cpu_s: t.cpu_s,
            cpu_us_per_request: t.cpu_s * 1e6 / t.requests().max(1) as f64,
        }
    }
}

/// A Graph run's rate over the echo rate with as many clients.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadRatio {
    pub layout: String,
    pub clients: usize,
    /// `graph per_sec / echo per_sec`.
    pub ratio: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerFigures {
    /// Rounds of all configurations, interleaved so that a change in the
    /// machine's load hits every configuration alike.
    pub rounds: u32,
    pub runs: Vec<LoadRun>,
    pub ratios: Vec<LoadRatio>,
    /// Webhook deliveries (POSTs) the Graph runs caused, all answered 200.
    pub webhooks_received: u64,
    /// Connections the webhook sink accepted: the server's webhook client
    /// keeps them alive, so this stays near the number of busy queues.
    pub webhook_connections: u64,
}

impl ServerFigures {
    pub fn run(&self, target: &str, layout: &str, clients: usize) -> Option<&LoadRun> {
        self.runs
            .iter()
            .find(|r| r.target == target && r.layout == layout && r.clients == clients)
    }
}

pub const LAYOUT_OWN_PAGE: &str = "one page per client";
pub const LAYOUT_SHARED_PAGE: &str = "one shared page";
const CLIENTS: usize = 32;

/// Measures Graph calls per second against the reference server with 1 and
/// 32 clients, beside the echo endpoint with the same clients and bodies,
/// for about `duration` in all.
pub async fn server(duration: Duration) -> ServerFigures {
    let sink_count = Arc::new(AtomicU64::new(0));
    let sink = Served::start(sink_router(sink_count.clone()))
        .await
        .expect("bind the webhook sink");
    let echo = Served::start(echo_router())
        .await
        .expect("bind the echo endpoint");
    let server = RunningServer::start(
        ServerConfig::new(KEY.into()),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("bind the reference server");
    let (base, echo_base) = (server.url(), echo.url());
    let hook = format!("{}/hook", sink.url());

    // One page per client (the single client uses the first), and a page
    // all 32 clients share, each client on its own PSID.
    let setup = client();
    let own: Vec<BenchPage> = (0..CLIENTS)
        .map(|i| BenchPage::new(format!("{}", 7000 + i)))
        .collect();
    let shared = BenchPage::new("8000".into());
    let shared_psids: Vec<String> = (0..CLIENTS).map(|i| format!("{}", 5_000 + i)).collect();
    for (i, page) in own.iter().enumerate() {
        let psid = format!("{}", 4_000 + i);
        prepare_page(&setup, &base, page, [&hook; 3], &[psid]).await;
    }
    prepare_page(&setup, &base, &shared, [&hook; 3], &shared_psids).await;

    let https: Vec<reqwest::Client> = (0..CLIENTS).map(|_| client()).collect();
    let own_scripts: Vec<Arc<Vec<Call>>> = own
        .iter()
        .enumerate()
        .map(|(i, p)| Arc::new(graph_script(&base, p, &format!("{}", 4_000 + i), true)))
        .collect();
    let shared_scripts: Vec<Arc<Vec<Call>>> = shared_psids
        .iter()
        .map(|psid| Arc::new(graph_script(&base, &shared, psid, true)))
        .collect();
    let echo_scripts: Vec<Arc<Vec<Call>>> = own_scripts
        .iter()
        .map(|s| Arc::new(s.iter().map(|c| c.for_echo(&base, &echo_base)).collect()))
        .collect();
    let with = |scripts: &[Arc<Vec<Call>>], n: usize| -> Clients {
        https
            .iter()
            .cloned()
            .zip(scripts.iter().cloned())
            .take(n)
            .collect()
    };
    let configs: [(&str, &str, Clients); 5] = [
        ("echo", "", with(&echo_scripts, 1)),
        ("graph", LAYOUT_OWN_PAGE, with(&own_scripts, 1)),
        ("echo", "", with(&echo_scripts, CLIENTS)),
        ("graph", LAYOUT_OWN_PAGE, with(&own_scripts, CLIENTS)),
        ("graph", LAYOUT_SHARED_PAGE, with(&shared_scripts, CLIENTS)),
    ];

    let rounds: u32 = if duration >= Duration::from_secs(5) {
        5
    } else {
        1
    };
    let slice = duration / (rounds * configs.len() as u32);
    // Warm up: open every connection and touch every code path once.
    let counter = Arc::new(AtomicU64::new(0));
    for (_, _, clients) in &configs {
        run(clients, slice.min(Duration::from_millis(200)) / 2, &counter).await;
    }
    let mut tallies: Vec<Tally> = vec![Tally::default(); configs.len()];
    for _ in 0..rounds {
        for ((_, _, clients), total) in configs.iter().zip(tallies.iter_mut()) {
            let cpu = process_cpu_s();
            let t = run(clients, slice, &counter).await;
            total.merge(&t);
            total.elapsed += t.elapsed;
            total.cpu_s += process_cpu_s() - cpu;
        }
    }

    let runs: Vec<LoadRun> = configs
        .iter()
        .zip(&tallies)
        .map(|((target, layout, clients), t)| LoadRun::new(target, layout, clients.len(), t))
        .collect();
    let ratios = runs
        .iter()
        .filter(|r| r.target == "graph")
        .filter_map(|g| {
            let e = runs
                .iter()
                .find(|e| e.target == "echo" && e.clients == g.clients)?;
            Some(LoadRatio {
                layout: g.layout.clone(),
                clients: g.clients,
                ratio: g.per_sec / e.per_sec,
            })
        })
        .collect();

    drop(configs);
    drop(https);
    drop(setup);
    let webhook_connections = sink.accepted.load(Ordering::Relaxed);
    server.stop().await;
    echo.stop().await;
    sink.stop().await;
    ServerFigures {
        rounds,
        runs,
        ratios,
        webhooks_received: sink_count.load(Ordering::Relaxed),
        webhook_connections,
    }
}

/// The text `baton bench server` prints.
pub fn server_table(f: &ServerFigures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<20} {:>7} {:>9} {:>10} {:>9} {:>9} {:>10}",
        "target", "layout", "clients", "requests", "req/s", "p50 ms", "p99 ms", "unexpected"
    );
    for r in &f.runs {
        let _ = writeln!(
            out,
            "{:<6} {:<20} {:>7} {:>9} {:>10.0} {:>9.3} {:>9.3} {:>10}",
            r.target,
            if r.layout.is_empty() { "-" } else { &r.layout },
            r.clients,
            r.requests,
            r.per_sec,
            r.p50_us / 1000.0,
            r.p99_us / 1000.0,
            r.unexpected
        );
    }
    for r in &f.ratios {
        let _ = writeln!(
            out,
            "graph/echo, {} client{}, {}: {:.3}",
            r.clients,
            if r.clients == 1 { "" } else { "s" },
            r.layout,
            r.ratio
        );
    }
    let worst = f
        .ratios
        .iter()
        .filter(|r| r.clients == CLIENTS)
        .map(|r| r.ratio)
        .fold(f64::INFINITY, f64::min);
    let _ = writeln!(
        out,
        "graph/echo with {CLIENTS} clients at least 0.60 in every layout: {} (lowest {worst:.3})",
        if worst >= 0.6 { "yes" } else { "NO" }
    );
    let _ = writeln!(
        out,
        "({} interleaved rounds; {} webhook deliveries answered during the Graph runs, over {} connections)",
        f.rounds, f.webhooks_received, f.webhook_connections
    );
    for r in f.runs.iter().filter(|r| r.unexpected > 0) {
        let _ = writeln!(
            out,
            "first unexpected answer ({} x{}): {}",
            r.target,
            r.clients,
            r.first_unexpected.as_deref().unwrap_or("?")
        );
    }
    out
}

// ---------------------------------------------------------------------------
// `baton bench soak`.

#[derive(Clone, Debug)]
pub struct SoakConfig {
    pub duration: Duration,
    pub clients: usize,
    /// The server's per-app webhook queue capacity.
    pub queue_capacity: usize,
}

impl Default for SoakConfig {
    fn default() -> SoakConfig {
        SoakConfig {
            duration: Duration::from_secs(60),
            clients: CLIENTS,
            queue_capacity: DeliveryConfig::default().queue_capacity,
        }
    }
}

/// The process's memory, from `/proc/self/status` (Linux only).
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far (`VmHWM`), KiB.
    pub peak_kib: u64,
}

impl Memory {
    pub fn now() -> Option<Memory> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        Memory::parse(&status)
    }

    fn parse(status: &str) -> Option<Memory> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        };
        Some(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }
}

/// Once a second during the soak.
#[derive(Clone, Debug, Serialize)]
pub struct SoakSample {
    pub at_s: f64,
    pub memory: Option<Memory>,
    /// Events waiting in the silent app's queue.
    pub silent_queued: usize,
    /// Events for the silent app given up on so far because its queue was full.
    pub silent_given_up: u64,
    /// Graph calls answered so far.
    pub graph_calls: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SoakFigures {
    pub seconds: f64,
    pub clients: usize,
    pub graph_calls: u64,
    pub graph_per_sec: f64,
    pub graph_p50_us: f64,
    pub graph_p99_us: f64,
    pub graph_max_us: f64,
    /// `user_event` control calls (one per script round), which feed the
    /// webhook queues.
    pub user_events: u64,
    pub user_event_p99_us: f64,
    /// Answers with another status than expected (or none); should be 0.
    pub unexpected: u64,
    pub first_unexpected: Option<String>,
    pub queue_capacity: usize,
    /// The most events seen waiting in the silent app's queue (sampled
    /// every 50 ms); never above `queue_capacity`.
    pub silent_queued_max: usize,
    /// Events for the silent app pushed, given up on for a full queue, and
    /// answered 2xx (must stay 0).
    pub silent_enqueued: u64,
    pub silent_given_up: u64,
    pub silent_delivered: u64,
    /// Connections the silent receiver accepted and bytes it read; it never
    /// wrote a byte.
    pub silent_connections: u64,
    pub silent_bytes_read: u64,
    /// Deliveries the healthy receivers answered.
    pub webhooks_answered: u64,
    /// Memory just before the server started, and at the end.
    pub memory_before: Option<Memory>,
    pub memory_after: Option<Memory>,
    pub samples: Vec<SoakSample>,
}

impl SoakFigures {
    /// The peak resident set size of the process, KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.memory_after.map(|m| m.peak_kib)
    }

    /// Resident memory at the end minus at the middle of the run, KiB: near
    /// zero when memory is bounded, since the silent app's queue fills in
    /// the first part of a long run.
    pub fn rss_growth_second_half_kib(&self) -> Option<i64> {
        let mid = self.samples.get(self.samples.len() / 2)?.memory?;
        let end = self.samples.last()?.memory?;
        Some(end.rss_kib as i64 - mid.rss_kib as i64)
    }
}

/// `clients` clients run the Graph script (without the owner's send, so the
/// page's state stays the same size) plus one user message per round on one
/// shared page, whose third app's webhook receiver never answers.
pub async fn soak(cfg: &SoakConfig) -> SoakFigures {
    let memory_before = Memory::now();
    let sink_count = Arc::new(AtomicU64::new(0));
    let sink = Served::start(sink_router(sink_count.clone()))
        .await
        .expect("bind the webhook sink");
    let silent = Silent::start().await.expect("bind the silent receiver");
    let mut config = ServerConfig::new(KEY.into());
    config.delivery.queue_capacity = cfg.queue_capacity;
    let server = RunningServer::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind the reference server");
    let base = server.url();
    let hook = format!("{}/hook", sink.url());
    let silent_hook = format!("http://{}/hook", silent.addr);

    let page = BenchPage::new("9000".into());
    let psids: Vec<String> = (0..cfg.clients).map(|i| format!("{}", 6_000 + i)).collect();
    let setup = client();
    prepare_page(&setup, &base, &page, [&hook, &hook, &silent_hook], &psids).await;
    let clients: Clients = psids
        .iter()
        .map(|psid| {
            let mut script = graph_script(&base, &page, psid, false);
            script.push(Call::user_message(&base, &page, psid));
            (client(), Arc::new(script))
        })
        .collect();

    // Sample memory every second and the silent queue every 50 ms.
    let done = Arc::new(AtomicBool::new(false));
    let queued_max = Arc::new(AtomicUsize::new(0));
    let graph_done = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, queued_max, graph_done) = (done.clone(), queued_max.clone(), graph_done.clone());
        let platform = server.platform.clone();
        let page_id = page.id.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                let stats = platform.queue_stats(&page_id).unwrap_or_default();
                let silent = stats.get(2).copied().unwrap_or_default();
                queued_max.fetch_max(silent.queued, Ordering::Relaxed);
                if n.is_multiple_of(20) {
                    samples.push(SoakSample {
                        at_s: start.elapsed().as_secs_f64(),
                        memory: Memory::now(),
                        silent_queued: silent.queued,
                        silent_given_up: silent.given_up_full,
                        graph_calls: graph_done.load(Ordering::Relaxed),
                    });
                }
                n += 1;
            }
            samples
        })
    };
    let tally = run(&clients, cfg.duration, &graph_done).await;
    done.store(true, Ordering::Relaxed);
    let mut samples = sampler.await.expect("the sampler panicked");
    let stats = server.platform.queue_stats(&page.id).unwrap_or_default();
    let silent_stats = stats.get(2).copied().unwrap_or_default();
    samples.push(SoakSample {
        at_s: tally.elapsed.as_secs_f64(),
        memory: Memory::now(),
        silent_queued: silent_stats.queued,
        silent_given_up: silent_stats.given_up_full,
        graph_calls: tally.graph.count(),
    });
    let memory_after = Memory::now();

    drop(clients);
    drop(setup);
    let figures = SoakFigures {
        seconds: tally.elapsed.as_secs_f64(),
        clients: cfg.clients,
        graph_calls: tally.graph.count(),
        graph_per_sec: tally.graph.count() as f64 / tally.elapsed.as_secs_f64().max(1e-9),
        graph_p50_us: us(tally.graph.quantile(0.5)),
        graph_p99_us: us(tally.graph.quantile(0.99)),
        graph_max_us: us(tally.graph.max()),
        user_events: tally.control.count(),
        user_event_p99_us: us(tally.control.quantile(0.99)),
        unexpected: tally.unexpected,
        first_unexpected: tally.first_unexpected.clone(),
        queue_capacity: cfg.queue_capacity,
        silent_queued_max: queued_max.load(Ordering::Relaxed),
        silent_enqueued: silent_stats.enqueued,
        silent_given_up: silent_stats.given_up_full,
        silent_delivered: silent_stats.delivered,
        silent_connections: silent.connections.load(Ordering::Relaxed),
        silent_bytes_read: silent.bytes_read.load(Ordering::Relaxed),
        webhooks_answered: sink_count.load(Ordering::Relaxed),
        memory_before,
        memory_after,
        samples,
    };
    server.stop().await;
    sink.stop().await;
    drop(silent);
    figures
}

/// The text `baton bench soak` prints.
pub fn soak_report(f: &SoakFigures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let _ = writeln!(
        out,
        "{} clients for {:.1} s on one page; app C's webhook receiver never answers",
        f.clients, f.seconds
    );
    let _ = writeln!(
        out,
        "graph calls: {} ({:.0}/s), latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        f.graph_calls,
        f.graph_per_sec,
        f.graph_p50_us / 1000.0,
        f.graph_p99_us / 1000.0,
        f.graph_max_us / 1000.0
    );
    let _ = writeln!(
        out,
        "user events: {} (p99 {:.3} ms); unexpected answers: {}",
        f.user_events,
        f.user_event_p99_us / 1000.0,
        f.unexpected
    );
    let _ = writeln!(
        out,
        "silent app C: {} events pushed, at most {} queued (capacity {}), {} given up on for a full queue, {} delivered; \
         its receiver accepted {} connections, read {} bytes, answered none",
        f.silent_enqueued,
        f.silent_queued_max,
        f.queue_capacity,
        f.silent_given_up,
        f.silent_delivered,
        f.silent_connections,
        f.silent_bytes_read
    );
    let _ = writeln!(
        out,
        "healthy receivers answered {} deliveries",
        f.webhooks_answered
    );
    if let (Some(before), Some(after)) = (f.memory_before, f.memory_after) {
        let _ = writeln!(
            out,
            "memory: RSS {:.1} MiB before the server started, {:.1} MiB at the end, peak {:.1} MiB; \
             growth over the second half {} KiB",
            mib(before.rss_kib),
            mib(after.rss_kib),
            mib(after.peak_kib),
            f.rss_growth_second_half_kib()
                .map_or("?".into(), |g| g.to_string())
        );
    }
    let _ = writeln!(
        out,
        "{:>6} {:>9} {:>11} {:>8} {:>10}",
        "t s", "RSS MiB", "graph calls", "C queued", "C given up"
    );
    for s in &f.samples {
        let _ = writeln!(
            out,
            "{:>6.1} {:>9} {:>11} {:>8} {:>10}",
            s.at_s,
            s.memory
                .map_or("?".into(), |m| format!("{:.1}", mib(m.rss_kib))),
            s.graph_calls,
            s.silent_queued,
            s.silent_given_up
        );
    }
    if let Some(e) = &f.first_unexpected {
        let _ = writeln!(out, "first unexpected answer: {e}");
    }
    let _ = writeln!(
        out,
        "p99 under 50 ms: {}",
        if f.graph_p99_us < 50_000.0 {
            "yes"
        } else {
            "NO"
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_parses_proc_status() {
        let status = "Name:\tbaton\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(
            Memory::parse(status),
            Some(Memory {
                rss_kib: 1024,
                peak_kib: 2048
            })
        );
        assert_eq!(Memory::parse("Name:\tbaton\n"), None);
    }

    #[test]
    fn process_cpu_time_grows_with_work() {
        let before = process_cpu_s();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        if cfg!(target_os = "linux") {
            assert!(process_cpu_s() > before, "{x}");
        }
    }

    #[test]
    fn echo_calls_mirror_graph_calls() {
        let page = BenchPage::new("1".into());
        let script = graph_script("http://g", &page, "42", true);
        assert_eq!(script.len(), 9);
        assert_eq!(graph_script("http://g", &page, "42", false).len(), 8);
        for call in &script {
            let e = call.for_echo("http://g", "http://e");
            assert_eq!(e.method, Method::POST);
            assert!(e.url.starts_with("http://e/v19.0/me/"), "{}", e.url);
            let body: Value = serde_json::from_slice(&e.body).expect("JSON body");
            if call.body.is_empty() {
                assert_eq!(body["recipient"], "42");
            } else {
                assert_eq!(e.body, call.body);
            }
        }
    }
}
