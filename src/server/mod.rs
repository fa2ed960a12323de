//! `baton serve`: the reference platform.
//!
//! A thin HTTP shell around the model, in the style of mini-redis: the
//! request is decoded by [`crate::wire`], decided by the model (through
//! [`Mutants::decide`], which is exactly the model when no mutant is on),
//! and the outcome is turned back into an HTTP answer and queued webhook
//! deliveries. No rule is written here.
//!
//! Pages are independent worlds. Each page's state sits behind its own
//! mutex, held only while the model decides one operation (microseconds,
//! never across an `await`), which makes every call on a page atomic and
//! gives RACE-1's single order for free; calls on different pages never
//! wait on each other. Webhook deliveries are queued while the lock is held,
//! so their order is the order of the decisions.

mod control;
pub mod delivery;
mod graph;
pub mod mutants;

pub use delivery::{Capture, DeliveryConfig, QueueStats};
pub use mutants::{Mutant, Mutants};

use crate::model::{Outcome, State};
use crate::wire::AppCredentials;
use axum::Router;
use axum::serve::ListenerExt;
use delivery::{Job, Outbox, Receiver};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Bodies larger than this get 413 with a Graph error envelope.
pub const BODY_LIMIT: usize = 1 << 20;
/// How much of an oversized body is still read (and thrown away) before
/// answering 413, and for how long at most.
const DRAIN_LIMIT: usize = 16 * BODY_LIMIT;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads a request body of at most [`BODY_LIMIT`] bytes; `None` when it is
/// larger (or cannot be read).
///
/// A larger body is still read to its end and thrown away (up to
/// `DRAIN_LIMIT` bytes or `DRAIN_TIME`) before the caller answers 413:
/// closing a connection with unread request bytes makes the kernel send a
/// RST, which can destroy the 413 before the client, still sending, reads
/// it (the client then sees a broken connection instead of an answer).
async fn read_body(mut body: axum::body::Body) -> Option<axum::body::Bytes> {
    use axum::body::HttpBody;
    use std::pin::Pin;
    let mut buf = Vec::new();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return Some(buf.into()),
            Some(Err(_)) => return None,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > BODY_LIMIT {
                        break;
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    drop(buf);
    let drain = async {
        let mut drained = 0;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            drained += frame.data_ref().map_or(0, |d| d.len());
            if drained > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    None
}

/// How the reference server behaves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The control API key (`X-Conformance-Key`).
    pub key: String,
    pub mutants: Mutants,
    pub delivery: DeliveryConfig,
}

impl ServerConfig {
    pub fn new(key: String) -> ServerConfig {
        ServerConfig {
            key,
            mutants: Mutants::none(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// One page's world: the model state, the apps' credentials, the webhook
/// queues and the clock the queues stamp envelopes with.
struct Page {
    state: State,
    creds: Vec<AppCredentials>,
    outbox: Arc<Outbox>,
    clock: Arc<AtomicU64>,
}

impl Page {
    /// Decides one operation and queues its deliveries, under the page lock.
    fn decide(&mut self, mutants: &Mutants, op: &crate::model::Op) -> Outcome {
        let out = mutants.decide(&mut self.state, op);
        self.clock.store(self.state.now_ms, Ordering::SeqCst);
        for d in &out.deliveries {
            self.outbox.push(
                d.app.index(),
                Job {
                    channel: d.channel,
                    event: d.event.clone(),
                },
            );
        }
        out
    }
}

/// The platform shared by every connection.
pub struct Platform {
    config: ServerConfig,
    http: reqwest::Client,
    /// Page id → the page (created by its first `reset`).
    pages: RwLock<HashMap<String, Arc<Mutex<Page>>>>,
    /// Access token → page id; tokens are unique across pages.
    tokens: RwLock<HashMap<String, String>>,
    /// Makes message ids unique across pages and resets.
    resets: AtomicU64,
    /// Webhook POSTs made by the delivery workers of every page.
    webhook_posts: Arc<AtomicU64>,
}

impl Platform {
    pub fn new(config: ServerConfig) -> Arc<Platform> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .expect("an HTTP client without TLS always builds");
        Arc::new(Platform {
            config,
            http,
            pages: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
            resets: AtomicU64::new(0),
            webhook_posts: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Webhook POSTs the delivery workers made so far, over all pages
    /// (first attempts, retries and duplicates): the HTTP requests the
    /// platform makes, beside those it answers (`baton bench`).
    pub fn webhook_posts(&self) -> u64 {
        self.webhook_posts.load(Ordering::Relaxed)
    }

    /// The axum router: the control API under `/conformance`, the Graph API
    /// everywhere else.
    pub fn router(self: &Arc<Platform>) -> Router {
        Router::new()
            .route("/conformance", axum::routing::any(control::handle))
            // `{*rest}` does not match an empty rest: without this route
            // `/conformance/` fell through to the Graph API (no key check,
            // a Graph envelope instead of a control-API error).
            .route("/conformance/", axum::routing::any(control::handle))
            .route("/conformance/{*rest}", axum::routing::any(control::handle))
            .fallback(graph::handle)
            .with_state(self.clone())
    }

    /// A snapshot of a page's webhook queues, one per app in setup order;
    /// `None` for a page never reset. For monitoring and `baton bench soak`.
    pub fn queue_stats(&self, page_id: &str) -> Option<Vec<QueueStats>> {
        let page = self.page(page_id)?;
        let outbox = page.lock().expect("page lock").outbox.clone();
        Some(outbox.stats())
    }

    /// A copy of a page's model state; `None` for a page never reset. For
    /// tests and fuzzing ("a refused call changes no state").
    pub fn page_state(&self, page_id: &str) -> Option<State> {
        let page = self.page(page_id)?;
        Some(page.lock().expect("page lock").state.clone())
    }

    fn page(&self, page_id: &str) -> Option<Arc<Mutex<Page>>> {
        self.pages.read().expect("pages lock").get(page_id).cloned()
    }

    fn page_of_token(&self, token: &str) -> Option<Arc<Mutex<Page>>> {
        let page_id = self
            .tokens
            .read()
            .expect("tokens lock")
            .get(token)
            .cloned()?;
        self.page(&page_id)
    }

    /// Starts (or restarts) a page with a new configuration. Refused when a
    /// token is already used by another page; a refused reset creates
    /// nothing.
    fn reset(&self, setup: crate::model::Setup, creds: Vec<AppCredentials>) -> Result<(), String> {
        let page_id = setup.page_id.clone();
        // Tokens first: they are the only thing shared between pages.
        let mut tokens = self.tokens.write().expect("tokens lock");
        for (i, c) in creds.iter().enumerate() {
            if let Some(owner) = tokens.get(&c.access_token)
                && owner != &page_id
            {
                return Err(format!(
                    "apps[{i}].access_token is already used by another page"
                ));
            }
        }
        tokens.retain(|_, p| p != &page_id);
        for c in &creds {
            tokens.insert(c.access_token.clone(), page_id.clone());
        }
        let n = self.resets.fetch_add(1, Ordering::SeqCst);
        let clock = Arc::new(AtomicU64::new(setup.now_ms));
        let receivers = creds
            .iter()
            .enumerate()
            .map(|(i, c)| Receiver {
                webhook_url: c.webhook_url.clone(),
                app_secret: c.app_secret.clone(),
                other_secret: creds[(i + 1) % creds.len()].app_secret.clone() + "-not-mine",
            })
            .collect();
        let outbox = Outbox::start(
            Arc::new(setup.clone()),
            clock.clone(),
            receivers,
            self.http.clone(),
            Arc::new(self.config.delivery.clone()),
            self.config.mutants.delivery_faults(),
            self.webhook_posts.clone(),
        );
        let page = Page {
            state: State::with_mid_prefix(setup, format!("{page_id}.{n}")),
            creds,
            outbox: Arc::new(outbox),
            clock,
        };
        let mut pages = self.pages.write().expect("pages lock");
        match pages.get(&page_id) {
            // Replace in place, so callers holding the page see the reset.
            Some(slot) => {
                let mut old = slot.lock().expect("page lock");
                old.outbox.cancel();
                *old = page;
            }
            None => {
                pages.insert(page_id, Arc::new(Mutex::new(page)));
            }
        }
        drop(tokens);
        Ok(())
    }
}

/// A generated control key: 128 random bits as hex.
pub fn generate_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", word(), word())
}

/// A server running in the background (tests, `baton run`).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub platform: Arc<Platform>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Serves `config` on `addr` (port 0: an ephemeral port).
    pub async fn start(config: ServerConfig, addr: SocketAddr) -> std::io::Result<RunningServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let platform = Platform::new(config);
        let app = platform.router();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningServer {
            addr,
            platform,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
