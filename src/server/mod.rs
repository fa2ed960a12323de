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

pub mod console;
pub mod console_log;
mod console_web;
mod control;
pub mod delivery;
mod graph;
pub mod mutants;
mod platform;

pub use delivery::{Capture, DeliveryConfig, QueueStats};
pub use mutants::{Mutant, Mutants};
pub use platform::{BODY_LIMIT, DecideObserver, Decided, Platform, ServerConfig, generate_key};

use axum::Router;
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::Arc;

impl Platform {
    /// The axum router: the control API under `/conformance`, the Graph API
    /// everywhere else.
    pub fn router(self: &Arc<Platform>) -> Router {
        Router::new()
            .route("/console", axum::routing::get(console_web::page))
            .route("/console/state", axum::routing::get(console_web::state))
            .route("/console/events", axum::routing::get(console_web::events))
            .route(
                "/console/act/{*rest}",
                axum::routing::post(console_web::act),
            )
            .route("/conformance", axum::routing::any(control::handle))
            // `{*rest}` does not match an empty rest: without this route
            // `/conformance/` fell through to the Graph API (no key check,
            // a Graph envelope instead of a control-API error).
            .route("/conformance/", axum::routing::any(control::handle))
            .route("/conformance/{*rest}", axum::routing::any(control::handle))
            .fallback(graph::handle)
            .with_state(self.clone())
    }
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
        self.platform.console.hub.close();
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
        self.platform.console.hub.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
