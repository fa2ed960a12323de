//! The reference app: a well-behaved handover bot in the spirit of the
//! seed's customer-support use, and its mutants.
//!
//! It is what `baton certify-app` certifies when no app is given, and what
//! `baton app` runs on its own as a working example to start from. It is a
//! real HTTP service: it receives signed webhooks on `/webhook` and calls
//! the Graph API at a configurable origin, like any third-party app. It
//! knows nothing of the reference server or the harness (it borrows only
//! the signature helpers of [`crate::wire`]).
//!
//! * [`config`]: [`AppConfig`], the default credentials, the Page Inbox id;
//! * [`mutants`]: [`AppMutant`], one deliberate fault each, and
//!   [`hand_minimal`];
//! * `event`: reading deliveries (its own serde types);
//! * [`bot`]: every decision, as pure functions of what the bot knows;
//! * `graph`: the Graph API client;
//! * `worker`: reacts to queued deliveries one at a time;
//! * `webhook`: the handshake, signatures, retries, answering at once.

pub mod bot;
pub mod config;
pub mod event;
mod graph;
pub mod mutants;
mod webhook;
mod worker;

pub use config::{
    AppConfig, DAY_MS, DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN,
    DEFAULT_VERSION, PAGE_INBOX_APP_ID,
};
pub use mutants::{AppMutant, hand_minimal};
pub use worker::Log;

use std::net::SocketAddr;
use std::sync::Arc;

/// The reference app serving on a socket, until [`RunningApp::stop`].
pub struct RunningApp {
    pub addr: SocketAddr,
    queue: worker::Queue,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    worker: tokio::task::JoinHandle<()>,
}

impl RunningApp {
    /// Serves `cfg` on `bind` (port 0: any free port), without logging.
    pub async fn start(cfg: AppConfig, bind: SocketAddr) -> std::io::Result<RunningApp> {
        RunningApp::start_logged(cfg, bind, None).await
    }

    /// As [`RunningApp::start`], with every delivery and call described to
    /// `log` (never a credential).
    pub async fn start_logged(
        cfg: AppConfig,
        bind: SocketAddr,
        log: Option<Log>,
    ) -> std::io::Result<RunningApp> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let bot = bot::Bot::new(cfg.app_id.clone(), &cfg.mutants);
        let (queue, worker) = worker::start(bot, graph::GraphClient::new(&cfg), log.clone());
        let hook = Arc::new(webhook::Hook::new(&cfg, queue.clone(), log));
        let router = webhook::router(hook);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(RunningApp {
            addr,
            queue,
            shutdown: Some(tx),
            server: Some(server),
            worker,
        })
    }

    /// `http://ADDR/webhook`.
    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// Waits until every delivery accepted so far has been reacted to (its
    /// Graph calls made and answered). Deliveries those calls cause may
    /// still be on their way.
    pub async fn settled(&self) {
        self.queue.settled().await;
    }

    /// Stops accepting deliveries and ends the worker.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.worker.abort();
        let _ = (&mut self.worker).await;
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.worker.abort();
    }
}
