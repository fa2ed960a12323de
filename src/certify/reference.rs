//! The reference app as the app under test: what `baton certify-app`
//! certifies without `--webhook`, on a loopback port of its own, calling
//! the Graph API of the certification.

use super::stage::AppIdentity;
use crate::app::{AppConfig, AppMutant, RunningApp};
use std::net::SocketAddr;

/// The reference app running for one certification.
pub struct Reference {
    app: RunningApp,
    /// Its webhook URL.
    pub webhook: String,
    /// Where the certification must serve the Graph API it calls.
    pub graph: SocketAddr,
}

/// `addr` with port 0 replaced by a free port found now: the app must know
/// its Graph API's address before the certification binds it (and the
/// printed address must be the real one).
pub fn fixed_port(addr: SocketAddr) -> Result<SocketAddr, String> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("cannot find a free port on {}: {e}", addr.ip()))?;
    l.local_addr().map_err(|e| e.to_string())
}

impl Reference {
    /// Starts the reference app with `identity`'s credentials and `mutants`,
    /// calling the Graph API at `graph` (port 0: a free port is chosen now).
    pub async fn start(
        identity: &AppIdentity,
        graph: SocketAddr,
        mutants: &[AppMutant],
    ) -> Result<Reference, String> {
        let graph = fixed_port(graph)?;
        let mut cfg = AppConfig::new(format!("http://{graph}"));
        cfg.app_id = identity.app_id.clone();
        cfg.token = identity.token.clone();
        cfg.secret = identity.secret.clone();
        cfg.verify_token = identity.verify_token.clone();
        cfg.human_agent = identity.human_agent;
        cfg.mutants = mutants.to_vec();
        let app = RunningApp::start(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("cannot start the reference app: {e}"))?;
        Ok(Reference {
            webhook: app.webhook_url(),
            app,
            graph,
        })
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}
