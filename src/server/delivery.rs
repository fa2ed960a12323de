//! Webhook delivery: one FIFO queue and one sending task per (page, app).
//!
//! Why this shape:
//! - One queue per app keeps each app's events in the order they happened
//!   (HOOK-6), and a receiver that never answers stalls only its own queue.
//! - Queues are bounded; when one is full the event is given up on (and
//!   counted), so a dead receiver cannot exhaust memory.
//! - Each queue counts events enqueued and events finished (answered 2xx or
//!   given up on). Because a queue is FIFO, `flush` only has to wait until
//!   every queue's finished count reaches its enqueued count as of the
//!   flush: later events never make an earlier one look finished.
//! - A retry is sent only after a non-2xx answer or a timeout, so an event a
//!   receiver acknowledged is never sent again (HOOK-5).
//! - `reset` cancels the page's queues: events still queued are dropped
//!   unsent, and the new configuration gets fresh queues.
//! - A batch holds events of one surface only: an Instagram event after
//!   Messenger ones (or the other way round) starts the next POST, so no
//!   delivery mixes the surfaces (IG-3) and the app's order is kept.

use super::console_log::{Attempt, HookStatus, PageLog};
use crate::model::{Channel, Event, Setup, Surface};
use crate::wire::{delivery_body, delivery_envelope, signature_header};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How deliveries are attempted.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// How long to wait for a receiver's answer.
    pub timeout: Duration,
    /// Further attempts after the first failed one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Events one app's queue holds before new ones are given up on.
    pub queue_capacity: usize,
    /// Most events sent in one POST.
    pub max_batch: usize,
    /// Hand each signed delivery to this hook instead of POSTing it (tests
    /// and fuzzing, with no sockets). Everything else (queues, batching,
    /// envelopes, signatures, retries, mutant faults) is unchanged.
    pub capture: Option<Capture>,
}

/// A delivery hook: called with the receiver's webhook URL, the exact body
/// and its `X-Hub-Signature-256` value; `true` acknowledges (as a 2xx).
#[derive(Clone)]
pub struct Capture(pub Arc<CaptureFn>);

/// `(webhook_url, body, signature) -> acknowledged`.
pub type CaptureFn = dyn Fn(&str, &[u8], &str) -> bool + Send + Sync;

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture(..)")
    }
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            timeout: Duration::from_secs(5),
            retries: 3,
            backoff: Duration::from_millis(200),
            queue_capacity: 10_000,
            max_batch: 50,
            capture: None,
        }
    }
}

/// Deliberate delivery bugs (mutants) this layer can play.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeliveryFaults {
    /// Sign with another app's secret (HOOK-4).
    pub wrong_secret: bool,
    /// Send every delivery twice (HOOK-5).
    pub duplicate: bool,
    /// Write Instagram deliveries with `"object":"page"` (IG-3).
    pub ig_wrong_object: bool,
}

/// One event waiting to be sent.
#[derive(Debug)]
pub struct Job {
    pub channel: Channel,
    pub event: Event,
    /// The delivery's id in the console's page log.
    pub log_id: u64,
}

/// Where one app's deliveries go.
#[derive(Clone)]
pub struct Receiver {
    pub webhook_url: String,
    pub app_secret: String,
    /// A secret that is not this app's, for the wrong-secret fault.
    pub other_secret: String,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

struct Counters {
    enqueued: AtomicU64,
    finished: watch::Sender<u64>,
    delivered: AtomicU64,
    /// Events given up on because the queue was full or closed.
    given_up: AtomicU64,
}

/// One app's queue.
struct Queue {
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    /// Set while the queue is known to be full, so that a dead receiver
    /// costs one log line per episode instead of one per event (the line is
    /// written under the page lock).
    full: AtomicBool,
}

/// A snapshot of one app's webhook queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Events waiting in the queue now; never more than the capacity.
    pub queued: usize,
    /// The queue's capacity (`DeliveryConfig::queue_capacity`).
    pub capacity: usize,
    /// Events pushed since the reset (queued or given up on).
    pub enqueued: u64,
    /// Events answered 2xx, given up on after retries, or dropped.
    pub finished: u64,
    /// Events answered 2xx since the previous flush.
    pub delivered: u64,
    /// Events given up on at once because the queue was full.
    pub given_up_full: u64,
}

/// All of one page's queues (one per app, in setup order).
pub struct Outbox {
    queues: Vec<Queue>,
    cancelled: Arc<AtomicBool>,
    log: Arc<Mutex<PageLog>>,
}

/// What the page knows to build an envelope.
#[derive(Clone)]
struct Page {
    setup: Arc<Setup>,
    clock: Arc<AtomicU64>,
}

impl Outbox {
    /// Starts one sending task per receiver. `clock` is the page's virtual
    /// clock in ms, read when an envelope is built (its `time`); `posts`
    /// counts every webhook POST made (first attempts, retries, duplicates).
    /// `log` is the console's record of the page, told of every attempt.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        log: Arc<Mutex<PageLog>>,
        setup: Arc<Setup>,
        clock: Arc<AtomicU64>,
        receivers: Vec<Receiver>,
        http: reqwest::Client,
        config: Arc<DeliveryConfig>,
        faults: DeliveryFaults,
        posts: Arc<AtomicU64>,
    ) -> Outbox {
        let cancelled = Arc::new(AtomicBool::new(false));
        let page = Page { setup, clock };
        let queues = receivers
            .into_iter()
            .enumerate()
            .map(|(app, receiver)| {
                let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
                let counters = Arc::new(Counters {
                    enqueued: AtomicU64::new(0),
                    finished: watch::Sender::new(0),
                    delivered: AtomicU64::new(0),
                    given_up: AtomicU64::new(0),
                });
                let worker = Worker {
                    rx,
                    url: reqwest::Url::parse(&receiver.webhook_url).ok(),
                    receiver,
                    page: page.clone(),
                    http: http.clone(),
                    config: config.clone(),
                    faults,
                    counters: counters.clone(),
                    cancelled: cancelled.clone(),
                    posts: posts.clone(),
                    log: log.clone(),
                    app,
                };
                tokio::spawn(worker.run());
                Queue {
                    tx,
                    counters,
                    full: AtomicBool::new(false),
                }
            })
            .collect();
        Outbox {
            queues,
            cancelled,
            log,
        }
    }

    /// Queues an event for app `app` without waiting. A full queue gives the
    /// event up at once (it still counts as finished for `flush`).
    pub fn push(&self, app: usize, job: Job) {
        let Some(q) = self.queues.get(app) else {
            return;
        };
        q.counters.enqueued.fetch_add(1, Ordering::SeqCst);
        match q.tx.try_send(job) {
            Ok(()) => {
                // Log again only once the queue has drained to half, so a
                // queue hovering at its limit does not flood the log.
                if q.full.load(Ordering::Relaxed)
                    && q.tx.capacity() >= q.tx.max_capacity() / 2
                    && q.full.swap(false, Ordering::Relaxed)
                {
                    eprintln!(
                        "webhook queue of app #{app} accepts events again ({} given up on so far)",
                        q.counters.given_up.load(Ordering::Relaxed)
                    );
                }
            }
            Err(e) => {
                let id = match e {
                    mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => {
                        j.log_id
                    }
                };
                self.log.lock().expect("console log lock").finished(
                    app,
                    &[id],
                    HookStatus::Dropped,
                );
                q.counters.given_up.fetch_add(1, Ordering::Relaxed);
                if !q.full.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "webhook queue of app #{app} is full or closed; events are given up on until it drains"
                    );
                }
                q.counters.finished.send_modify(|f| *f += 1);
            }
        }
    }

    /// One snapshot per app, in setup order.
    pub fn stats(&self) -> Vec<QueueStats> {
        self.queues
            .iter()
            .map(|q| QueueStats {
                queued: q.tx.max_capacity() - q.tx.capacity(),
                capacity: q.tx.max_capacity(),
                enqueued: q.counters.enqueued.load(Ordering::SeqCst),
                finished: *q.counters.finished.borrow(),
                delivered: q.counters.delivered.load(Ordering::SeqCst),
                given_up_full: q.counters.given_up.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Waits until every event queued so far has been answered or given up
    /// on; returns how many were answered 2xx since the previous flush.
    pub async fn flush(&self) -> u64 {
        let targets: Vec<u64> = self
            .queues
            .iter()
            .map(|q| q.counters.enqueued.load(Ordering::SeqCst))
            .collect();
        for (q, target) in self.queues.iter().zip(targets) {
            let mut rx = q.counters.finished.subscribe();
            // The sender lives in the worker's counters; it cannot be dropped
            // while we hold `q`, so this only ends when the target is reached.
            let _ = rx.wait_for(|f| *f >= target).await;
        }
        self.queues
            .iter()
            .map(|q| q.counters.delivered.swap(0, Ordering::SeqCst))
            .sum()
    }

    /// Drops everything still queued; the tasks end once their queue drains.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.cancel();
    }
}

struct Worker {
    rx: mpsc::Receiver<Job>,
    /// The receiver's URL parsed once, not at every POST (`None`: sent as
    /// the string, which fails as it would have).
    url: Option<reqwest::Url>,
    receiver: Receiver,
    page: Page,
    http: reqwest::Client,
    config: Arc<DeliveryConfig>,
    faults: DeliveryFaults,
    counters: Arc<Counters>,
    cancelled: Arc<AtomicBool>,
    posts: Arc<AtomicU64>,
    /// The console's record of the page, and this app's position in it.
    log: Arc<Mutex<PageLog>>,
    app: usize,
}

/// At most this much of an app's answer is read for the console.
const ANSWER_READ: usize = 1024;

impl Worker {
    async fn run(mut self) {
        let mut batch: Vec<(Channel, Event)> = Vec::with_capacity(self.config.max_batch);
        let mut ids: Vec<u64> = Vec::with_capacity(self.config.max_batch);
        // A job taken from the queue that belongs to the other surface than
        // the batch being built: it starts the next batch (IG-3: one
        // delivery never mixes Messenger and Instagram events).
        let mut next: Option<Job> = None;
        loop {
            let first = match next.take() {
                Some(job) => job,
                None => match self.rx.recv().await {
                    Some(job) => job,
                    None => break,
                },
            };
            let surface = first.event.surface;
            ids.push(first.log_id);
            batch.push((first.channel, first.event));
            while batch.len() < self.config.max_batch {
                match self.rx.try_recv() {
                    Ok(job) if job.event.surface == surface => {
                        ids.push(job.log_id);
                        batch.push((job.channel, job.event));
                    }
                    Ok(job) => {
                        next = Some(job);
                        break;
                    }
                    Err(_) => break,
                }
            }
            let n = batch.len() as u64;
            let status = if !self.cancelled.load(Ordering::SeqCst) {
                let time = self.page.clock.load(Ordering::SeqCst);
                let body = self.body(time, &batch);
                let times = if self.faults.duplicate { 2 } else { 1 };
                let mut ok = false;
                for _ in 0..times {
                    ok = self.send_with_retries(&body, &ids).await;
                }
                if ok {
                    self.counters.delivered.fetch_add(n, Ordering::SeqCst);
                    HookStatus::Delivered
                } else if self.cancelled.load(Ordering::SeqCst) {
                    HookStatus::Dropped
                } else {
                    HookStatus::Failed
                }
            } else {
                HookStatus::Dropped
            };
            self.log
                .lock()
                .expect("console log lock")
                .finished(self.app, &ids, status);
            batch.clear();
            ids.clear();
            self.counters.finished.send_modify(|f| *f += n);
        }
    }

    /// The exact bytes of one delivery of `batch` (all of one surface).
    fn body(&self, time: u64, batch: &[(Channel, Event)]) -> Vec<u8> {
        if self.faults.ig_wrong_object && batch[0].1.surface.is_instagram() {
            // The `ig-wrong-object` mutant: an Instagram delivery written as
            // a Messenger one (IG-3).
            let mut env = delivery_envelope(&self.page.setup, time, batch);
            env.object = Surface::Messenger.webhook_object().into();
            return serde_json::to_vec(&env).expect("envelopes serialize");
        }
        delivery_body(&self.page.setup, time, batch)
    }

    /// One delivery: the first attempt, then up to `retries` more after a
    /// non-2xx answer or a timeout. True when the receiver acknowledged.
    async fn send_with_retries(&self, body: &[u8], ids: &[u64]) -> bool {
        let secret = if self.faults.wrong_secret {
            &self.receiver.other_secret
        } else {
            &self.receiver.app_secret
        };
        let signature = signature_header(secret, body);
        let mut backoff = self.config.backoff;
        for attempt in 0..=self.config.retries {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                if self.cancelled.load(Ordering::SeqCst) {
                    return false;
                }
            }
            if let Some(capture) = &self.config.capture {
                let ok = (capture.0)(&self.receiver.webhook_url, body, &signature);
                self.note(
                    ids,
                    Attempt {
                        status: None,
                        text: if ok {
                            "acknowledged by the capture hook".into()
                        } else {
                            "refused by the capture hook".into()
                        },
                    },
                );
                if ok {
                    return true;
                }
                continue;
            }
            self.posts.fetch_add(1, Ordering::Relaxed);
            let post = match &self.url {
                Some(url) => self.http.post(url.clone()),
                None => self.http.post(&self.receiver.webhook_url),
            };
            let sent = post
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &signature)
                .timeout(self.config.timeout)
                .body(body.to_vec())
                .send()
                .await;
            match sent {
                Ok(mut resp) => {
                    let status = resp.status();
                    let mut answer = Vec::new();
                    while answer.len() < ANSWER_READ {
                        match resp.chunk().await {
                            Ok(Some(c)) => answer.extend_from_slice(&c),
                            _ => break,
                        }
                    }
                    self.note(
                        ids,
                        Attempt {
                            status: Some(status.as_u16()),
                            text: String::from_utf8_lossy(&answer).into_owned(),
                        },
                    );
                    if status.is_success() {
                        return true;
                    }
                }
                Err(e) => self.note(
                    ids,
                    Attempt {
                        status: None,
                        text: if e.is_timeout() {
                            format!("no answer within {:?}", self.config.timeout)
                        } else if e.is_connect() {
                            "cannot connect to the webhook URL".into()
                        } else {
                            "the connection failed before an answer".into()
                        },
                    },
                ),
            }
        }
        false
    }

    /// Tells the console's log of one attempt.
    fn note(&self, ids: &[u64], attempt: Attempt) {
        self.log
            .lock()
            .expect("console log lock")
            .attempt(self.app, ids, attempt);
    }
}
