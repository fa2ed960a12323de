//! App certification on Instagram threads (`baton certify-app --instagram`,
//! issue 13 item 7): with the flag, cases put users on the page's linked
//! Instagram account, the app gets `"object":"instagram"` deliveries and
//! acts on IGSIDs, and a correct app (the reference app, which hands an
//! Instagram thread to the Instagram Inbox, IG-2) still conforms under
//! `--strict`. Without the flag no user is on Instagram, and the report
//! says so.

use baton::app::{DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN};
use baton::certify::reference::{Reference, fixed_port};
use baton::certify::{AppIdentity, CertifyConfig, certify};
use baton::harness::RunReport;
use std::net::SocketAddr;

fn identity() -> AppIdentity {
    AppIdentity {
        app_id: DEFAULT_APP_ID.into(),
        token: DEFAULT_TOKEN.into(),
        secret: DEFAULT_SECRET.into(),
        verify_token: Some(DEFAULT_VERIFY_TOKEN.into()),
        human_agent: false,
    }
}

async fn run(instagram: bool, seed: u64, cases: u64) -> RunReport {
    let bind = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let r = Reference::start(&identity(), bind, &[]).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "baton-certify-ig-{}-{instagram}-{seed}",
        std::process::id()
    ));
    let mut cfg = CertifyConfig::new(r.webhook.clone(), identity());
    cfg.label = "the reference app".into();
    cfg.bind = r.graph;
    cfg.seed = seed;
    cfg.cases = cases;
    cfg.jobs = 8;
    cfg.strict = true;
    cfg.instagram = instagram;
    cfg.out_dir = dir.join("counterexamples");
    cfg.snapshot_dir = dir.join("snapshots");
    let report = certify(cfg).await;
    r.stop().await;
    report.unwrap_or_else(|e| panic!("seed {seed}: the certification failed to run: {e}"))
}

/// The numbers of the "Instagram: …" note, in order.
fn tally(report: &RunReport) -> Vec<u64> {
    let note = report
        .notes
        .iter()
        .find(|n| n.starts_with("Instagram: "))
        .unwrap_or_else(|| panic!("no Instagram note in {:?}", report.notes));
    note.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_1_the_reference_app_conforms_on_instagram_threads_too() {
    let seed = 7;
    let report = run(true, seed, 24).await;
    let summary = report.summary();
    assert_eq!(report.exit_code(), 0, "seed {seed}:\n{summary}");
    assert!(report.counterexamples.is_empty(), "seed {seed}:\n{summary}");
    let t = tally(&report);
    let [cases, of, events, calls] = t[..] else {
        panic!("seed {seed}: {t:?}")
    };
    assert_eq!(of, 24, "seed {seed}: every case counted: {t:?}");
    assert!(
        cases > 0 && cases < of,
        "seed {seed}: some cases, not all, on Instagram: {t:?}"
    );
    assert!(
        events > 0,
        "seed {seed}: the app got Instagram deliveries: {t:?}"
    );
    assert!(calls > 0, "seed {seed}: the app acted on IGSIDs: {t:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_instagram_no_user_is_on_instagram_and_the_report_says_so() {
    let report = run(false, 7, 6).await;
    assert_eq!(report.exit_code(), 0, "{}", report.summary());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("Instagram threads were not played") && n.contains("--instagram")),
        "{:?}",
        report.notes
    );
    assert!(report.notes.iter().all(|n| !n.starts_with("Instagram: ")));
}
