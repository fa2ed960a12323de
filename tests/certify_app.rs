//! App certification as a `cargo test`:
//!
//! ```sh
//! BATON_APP_WEBHOOK=http://127.0.0.1:3000/webhook BATON_APP_TOKEN=… cargo test --test certify_app
//! ```
//!
//! certifies the app behind that webhook (start it first, with its Graph
//! API base URL at `http://127.0.0.1:$BATON_APP_PORT`, default 8080) and
//! fails with the shrunk counterexample. Without `BATON_APP_WEBHOOK` it
//! certifies baton's reference app. Optional: `BATON_APP_ID`,
//! `BATON_APP_TOKEN`, `BATON_APP_SECRET`, `BATON_VERIFY_TOKEN` (what the
//! app was configured with; the defaults are the reference app's, as
//! `baton certify-app` prints them), `BATON_APP_PORT`, `BATON_CASES`
//! (default 48), `BATON_SEED` (default 1, printed), `BATON_STRICT=1`
//! (fail on SHOULD rules too), `BATON_APP_INSTAGRAM=1` (the app handles
//! the linked Instagram account too: `--instagram`).
//!
//! For the reference app the verdict of every BP and APP rule is
//! snapshotted (`snapshots/certify-app-verdicts.snap`); an app of your own
//! is judged by the exit code alone, its verdicts printed.

use baton::app::{DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN};
use baton::certify::reference::{Reference, fixed_port};
use baton::certify::{AppIdentity, CertifyConfig, certify};
use baton::report::Report;
use std::fmt::Write as _;
use std::net::SocketAddr;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> T {
    env(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} must be a whole number"))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn certify_the_app() {
    let seed: u64 = number("BATON_SEED", 1);
    let cases: u64 = number("BATON_CASES", 48);
    let identity = AppIdentity {
        app_id: env("BATON_APP_ID").unwrap_or_else(|| DEFAULT_APP_ID.into()),
        token: env("BATON_APP_TOKEN").unwrap_or_else(|| DEFAULT_TOKEN.into()),
        secret: env("BATON_APP_SECRET").unwrap_or_else(|| DEFAULT_SECRET.into()),
        verify_token: Some(
            env("BATON_VERIFY_TOKEN").unwrap_or_else(|| DEFAULT_VERIFY_TOKEN.into()),
        ),
        human_agent: false,
    };
    let given = env("BATON_APP_WEBHOOK");
    let (reference, webhook, graph) = match &given {
        Some(w) => {
            let port: u16 = number("BATON_APP_PORT", 8080);
            (None, w.clone(), SocketAddr::from(([127, 0, 0, 1], port)))
        }
        None => {
            let bind = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
            let r = Reference::start(&identity, bind, &[]).await.unwrap();
            let w = r.webhook.clone();
            (Some(r), w, bind)
        }
    };
    println!(
        "certifying {} with seed {seed} and {cases} cases (set BATON_SEED and BATON_CASES to play others); its Graph API: http://{graph}",
        given.as_deref().unwrap_or("the reference app")
    );
    let dir = std::env::temp_dir().join(format!("baton-certify-app-{}", std::process::id()));
    let mut cfg = CertifyConfig::new(webhook, identity);
    if reference.is_some() {
        cfg.label = "the reference app".into();
    }
    cfg.bind = graph;
    cfg.seed = seed;
    cfg.cases = cases;
    cfg.strict = env("BATON_STRICT").is_some();
    cfg.instagram = env("BATON_APP_INSTAGRAM").is_some();
    cfg.out_dir = dir.join("counterexamples");
    cfg.snapshot_dir = dir.join("snapshots");
    let result = certify(cfg).await;
    if let Some(r) = reference {
        r.stop().await;
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => panic!(
            "the certification could not be carried out (exit code {}): {e}",
            e.exit_code()
        ),
    };
    let summary = report.summary();
    println!("{summary}");
    let mut verdicts = String::new();
    for r in Report::from_run(&report).rules {
        if r.id.is_app_rule() {
            let _ = writeln!(verdicts, "{:<6} {}", r.id.id(), r.verdict.as_str());
        }
    }
    println!("{verdicts}");
    assert_eq!(report.exit_code(), 0, "seed {seed}:\n{summary}");
    assert_eq!(report.cases, cases, "every case ran");
    // The summary's request count is real: at least one request per
    // stimulus, besides the deliveries and the app's own calls.
    assert!(
        report.requests > report.steps,
        "seed {seed}: {} HTTP requests for {} stimuli",
        report.requests,
        report.steps
    );
    if given.is_none() {
        insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("certify-app-verdicts", verdicts);
        });
    }
}
