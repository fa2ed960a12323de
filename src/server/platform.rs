//! The platform's state: every page's world (model state, credentials,
//! webhook queues, clock) behind its own lock, the token index, and the
//! configuration. The HTTP handlers (`graph.rs`, `control.rs`) decide
//! through it; the router in `mod.rs` wires them up.

use super::console_log::PageLog;
use super::delivery::{DeliveryConfig, Job, Outbox, QueueStats, Receiver};
use super::mutants::Mutants;
use crate::model::{Op, Outcome, State};
use crate::wire::AppCredentials;
use std::collections::HashMap;
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
pub(super) async fn read_body(mut body: axum::body::Body) -> Option<axum::body::Bytes> {
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
    /// Told of every operation a page decides (app certification records
    /// an app's calls with it; the console shows them).
    pub observer: Option<DecideObserver>,
    /// Features `info` leaves out (`baton serve --hide-feature`), to play a
    /// target that lacks them; the server still behaves the same.
    pub hidden_features: Vec<String>,
}

impl ServerConfig {
    pub fn new(key: String) -> ServerConfig {
        ServerConfig {
            key,
            mutants: Mutants::none(),
            delivery: DeliveryConfig::default(),
            observer: None,
            hidden_features: Vec::new(),
        }
    }
}

/// One decision: the operation (a decoded Graph call or a control-API
/// action), the page's state just before it, and the outcome. A Graph call
/// whose token belongs to no page is decided without one (`page_id` and
/// `before` are `None`).
pub struct Decided<'a> {
    pub page_id: Option<&'a str>,
    pub op: &'a Op,
    pub before: Option<&'a State>,
    /// The page's state just after it.
    pub after: Option<&'a State>,
    pub outcome: &'a Outcome,
}

/// A hook called under the page's lock for every decision, in the order of
/// the decisions; it must be cheap (record and return).
#[derive(Clone)]
pub struct DecideObserver(pub Arc<dyn Fn(&Decided<'_>) + Send + Sync>);

impl std::fmt::Debug for DecideObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecideObserver(..)")
    }
}

/// One page's world: the model state, the apps' credentials, the webhook
/// queues and the clock the queues stamp envelopes with.
pub(super) struct Page {
    pub(super) state: State,
    pub(super) creds: Vec<AppCredentials>,
    pub(super) outbox: Arc<Outbox>,
    pub(super) clock: Arc<AtomicU64>,
    /// What the console shows beside the state (chats, calls, webhooks).
    pub(super) log: Arc<Mutex<PageLog>>,
}

impl Page {
    /// Decides one operation and queues its deliveries, under the page lock.
    pub(super) fn decide(&mut self, config: &ServerConfig, op: &Op) -> Outcome {
        let before = config.observer.as_ref().map(|_| self.state.clone());
        let out = config.mutants.decide(&mut self.state, op);
        if let (Some(o), Some(before)) = (&config.observer, &before) {
            (o.0)(&Decided {
                page_id: Some(&self.state.setup.page_id),
                op,
                before: Some(before),
                after: Some(&self.state),
                outcome: &out,
            });
        }
        self.clock.store(self.state.now_ms, Ordering::SeqCst);
        let ids = self
            .log
            .lock()
            .expect("console log lock")
            .record(op, &out, &self.state);
        for (d, log_id) in out.deliveries.iter().zip(ids) {
            self.outbox.push(
                d.app.index(),
                Job {
                    channel: d.channel,
                    event: d.event.clone(),
                    log_id,
                },
            );
        }
        out
    }
}

/// The platform shared by every connection.
pub struct Platform {
    pub(super) config: ServerConfig,
    pub(super) http: reqwest::Client,
    /// Page id → the page (created by its first `reset`).
    pub(super) pages: RwLock<HashMap<String, Arc<Mutex<Page>>>>,
    /// Access token → page id; tokens are unique across pages.
    pub(super) tokens: RwLock<HashMap<String, String>>,
    /// Makes message ids unique across pages and resets.
    pub(super) resets: AtomicU64,
    /// Webhook POSTs made by the delivery workers of every page.
    pub(super) webhook_posts: Arc<AtomicU64>,
    /// Requests the handlers answered (Graph and control API, refusals
    /// included).
    pub(super) requests: AtomicU64,
    /// The console's login token and sessions.
    pub(super) console: super::console::Console,
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
            requests: AtomicU64::new(0),
            console: super::console::Console::new(generate_key()),
        })
    }

    /// Shows a counterexample in the console (`baton run --console`).
    pub fn console_show_finding(&self, finding: super::console::Finding) {
        self.console.show_finding(finding);
    }

    /// The console's path with its one-time login token (`None` once used).
    pub fn console_login_path(&self) -> Option<String> {
        self.console.login_path()
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

    /// Requests the Graph and control handlers answered so far (refusals,
    /// errors and oversized bodies included): the server's own count of
    /// what its clients sent, to check theirs against (`baton bench`).
    pub fn requests_answered(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resets of any page accepted so far.
    pub fn resets(&self) -> u64 {
        self.resets.load(Ordering::SeqCst)
    }

    /// Counts one request answered by a handler.
    pub(super) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of a page's webhook queues, one per app in setup order;
    /// `None` for a page never reset. For monitoring and `baton bench soak`.
    pub fn queue_stats(&self, page_id: &str) -> Option<Vec<QueueStats>> {
        let page = self.page(page_id)?;
        let outbox = page.lock().expect("page lock").outbox.clone();
        Some(outbox.stats())
    }

    /// The console's page list and the view of one page (`page`, default
    /// the most recently active; `thread`, default its most recently active
    /// thread), as the console's event stream sends them.
    pub fn console_snapshot(&self, page: Option<&str>, thread: Option<&str>) -> serde_json::Value {
        let pages: Vec<(String, Arc<Mutex<Page>>)> = self
            .pages
            .read()
            .expect("pages lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut list: Vec<(u64, String, serde_json::Value)> = pages
            .iter()
            .map(|(id, p)| {
                let p = p.lock().expect("page lock");
                let log = p.log.lock().expect("console log lock");
                (
                    log.last_active(),
                    id.clone(),
                    super::console_log::page_summary(&p.state, &log),
                )
            })
            .collect();
        list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let chosen = page
            .filter(|p| list.iter().any(|(_, id, _)| id == p))
            .map(str::to_string)
            .or_else(|| list.first().map(|(_, id, _)| id.clone()));
        let view = chosen.as_deref().and_then(|id| {
            let (_, p) = pages.iter().find(|(k, _)| k == id)?;
            let p = p.lock().expect("page lock");
            let log = p.log.lock().expect("console log lock");
            Some(super::console_log::page_view(&p.state, &log, thread))
        });
        let total = list.len();
        serde_json::json!({
            "pages": list.into_iter().take(super::console_log::VIEW_PAGES).map(|(_, _, v)| v).collect::<Vec<_>>(),
            "pages_total": total,
            "page": view,
            "counterexamples": self.console.findings(),
        })
    }

    /// A copy of a page's model state; `None` for a page never reset. For
    /// tests and fuzzing ("a refused call changes no state").
    pub fn page_state(&self, page_id: &str) -> Option<State> {
        let page = self.page(page_id)?;
        Some(page.lock().expect("page lock").state.clone())
    }

    pub(super) fn page(&self, page_id: &str) -> Option<Arc<Mutex<Page>>> {
        self.pages.read().expect("pages lock").get(page_id).cloned()
    }

    pub(super) fn page_of_token(&self, token: &str) -> Option<Arc<Mutex<Page>>> {
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
    pub(super) fn reset(
        &self,
        setup: crate::model::Setup,
        creds: Vec<AppCredentials>,
    ) -> Result<(), String> {
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
        let log = Arc::new(Mutex::new(PageLog::new(
            self.console.hub.clone(),
            creds.len(),
            creds
                .iter()
                .flat_map(|c| [c.access_token.clone(), c.app_secret.clone()])
                .collect(),
        )));
        let outbox = Outbox::start(
            log.clone(),
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
            log,
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
