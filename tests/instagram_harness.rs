//! The harness against a target whose `info` does not list `instagram`
//! (`ServerConfig::hidden_features`): Messenger-only cases (no Instagram
//! account in any reset, no Instagram user event or inbox action), the
//! "Instagram skipped" note, IG rules not-applicable. The same server with
//! the feature shown gets Instagram cases, so the check can fail.

use baton::harness::http::HttpTarget;
use baton::harness::target::{Answered, BoxFuture, Captured};
use baton::harness::{RunConfig, RunReport, Target, TargetError, TargetSpec, run_on};
use baton::model::{Family, Rule};
use baton::server::{RunningServer, ServerConfig};
use baton::wire::HttpRequest;
use baton::wire::control::ControlRequest;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts the control calls that name Instagram.
struct Recording {
    inner: HttpTarget,
    instagram_resets: AtomicU64,
    instagram_events: AtomicU64,
}

impl Target for Recording {
    fn graph<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<Answered, TargetError>> {
        self.inner.graph(req)
    }

    fn control<'a>(
        &'a self,
        req: &'a ControlRequest,
    ) -> BoxFuture<'a, Result<Answered, TargetError>> {
        match req {
            ControlRequest::Reset(r) if r.instagram_account_id.is_some() => {
                self.instagram_resets.fetch_add(1, Ordering::Relaxed);
            }
            ControlRequest::UserEvent(r)
                if serde_json::to_string(r)
                    .unwrap()
                    .contains("\"platform\":\"instagram\"") =>
            {
                self.instagram_events.fetch_add(1, Ordering::Relaxed);
            }
            ControlRequest::Inbox(r) if r.platform.is_instagram() => {
                self.instagram_events.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.inner.control(req)
    }

    fn webhook_url(&self, page: &str, generation: u64, app: u8) -> String {
        self.inner.webhook_url(page, generation, app)
    }

    fn take_deliveries(&self, page: &str, generation: u64, app: u8) -> Vec<Captured> {
        self.inner.take_deliveries(page, generation, app)
    }

    fn forget_page(&self, page: &str) {
        self.inner.forget_page(page)
    }

    fn label(&self) -> String {
        self.inner.label()
    }
}

async fn run_against(hidden: &[&str], seed: u64) -> (RunReport, u64, u64) {
    let key = "K-instagram-harness".to_string();
    let mut config = ServerConfig::new(key.clone());
    config.hidden_features = hidden.iter().map(|s| s.to_string()).collect();
    let server = RunningServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let spec = TargetSpec {
        graph: server.url(),
        control: None,
        key,
    };
    let target = Arc::new(Recording {
        inner: HttpTarget::connect(&spec, None).await.unwrap(),
        instagram_resets: AtomicU64::new(0),
        instagram_events: AtomicU64::new(0),
    });
    let cfg = RunConfig {
        seed,
        cases: 60,
        jobs: 2,
        time_limit: None,
        target: Some(spec),
        ..RunConfig::default()
    };
    let report = run_on(cfg, target.clone()).await.unwrap();
    server.stop().await;
    let resets = target.instagram_resets.load(Ordering::Relaxed);
    let events = target.instagram_events.load(Ordering::Relaxed);
    (report, resets, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_feature_cases_are_messenger_only() {
    let seed = 11;
    println!("seed {seed}");
    let (report, resets, events) = run_against(&["instagram"], seed).await;
    assert_eq!(report.exit_code(), 0, "{}", report.summary());
    assert_eq!(
        (resets, events),
        (0, 0),
        "seed {seed}: Instagram was generated"
    );
    assert_eq!(report.left_out, vec![Family::Ig]);
    let skipped: Vec<&String> = report
        .notes
        .iter()
        .filter(|n| n.starts_with("Instagram skipped"))
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", report.notes);
    assert!(!report.applies(Rule::Ig1) && report.applies(Rule::Ctrl4));
    assert!(
        !report
            .not_reached()
            .iter()
            .any(|r| r.family() == Family::Ig)
    );

    let (report, resets, events) = run_against(&[], seed).await;
    assert_eq!(report.exit_code(), 0, "{}", report.summary());
    assert!(
        resets > 0 && events > 0,
        "seed {seed}: {resets} resets, {events} events"
    );
    assert!(report.left_out.is_empty() && report.applies(Rule::Ig1));
    assert!(
        !report
            .notes
            .iter()
            .any(|n| n.starts_with("Instagram skipped"))
    );
}
