//! Webhook sinks: a local HTTP receiver that plays every app's webhook
//! endpoint and keeps what arrives, for the driver to check.
//!
//! One server serves all apps of all workers; each app of each case gets its
//! own path, `/hook/<page>/<generation>/<app>`. The generation changes at
//! every reset, so a delivery the target still sends for an earlier case
//! lands in a bucket nobody reads instead of polluting the current one.

use super::target::Captured;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

type Key = (String, u64, u8);

#[derive(Default)]
struct Store {
    by_app: Mutex<HashMap<Key, Vec<Captured>>>,
}

/// The running sink server.
pub struct Sink {
    /// Where targets must post (`--webhook-base`), defaulting to the sink's
    /// own loopback address.
    base: String,
    store: Arc<Store>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Sink {
    /// Starts a sink on `bind` (port 0: any). `public_base` overrides the
    /// address given to targets, for targets on another host.
    pub async fn start(bind: SocketAddr, public_base: Option<&str>) -> std::io::Result<Sink> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store::default());
        let app = axum::Router::new()
            .route(
                "/hook/{page}/{generation}/{app}",
                axum::routing::post(receive),
            )
            .with_state(store.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        let base = match public_base {
            Some(b) => b.trim_end_matches('/').to_string(),
            None => format!("http://{addr}"),
        };
        Ok(Sink {
            base,
            store,
            shutdown: Some(tx),
        })
    }

    /// The webhook URL of one app in one case.
    pub fn url(&self, page: &str, generation: u64, app: u8) -> String {
        format!("{}/hook/{page}/{generation}/{app}", self.base)
    }

    /// Takes everything app `app` of this case received so far, in arrival
    /// order.
    pub fn take(&self, page: &str, generation: u64, app: u8) -> Vec<Captured> {
        let mut map = self.store.by_app.lock().expect("sink lock");
        map.remove(&(page.to_string(), generation, app))
            .unwrap_or_default()
    }

    /// Forgets everything received for a page (all generations).
    pub fn clear_page(&self, page: &str) {
        self.store
            .by_app
            .lock()
            .expect("sink lock")
            .retain(|(p, _, _), _| p != page);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn receive(
    State(store): State<Arc<Store>>,
    Path((page, generation, app)): Path<(String, u64, u8)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let signature = headers
        .get(crate::wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut map = store.by_app.lock().expect("sink lock");
    map.entry((page, generation, app))
        .or_default()
        .push(Captured {
            body: body.to_vec(),
            signature,
        });
    "ok"
}
