//! The conformance suite as a `cargo test`:
//!
//! ```sh
//! BATON_TARGET=http://host:port BATON_KEY=… cargo test --test conformance
//! ```
//!
//! runs the randomized suite and the scripted scenarios of
//! `fixtures/scenarios/` against that target and fails with the shrunk
//! counterexample. Without `BATON_TARGET` it tests the embedded reference
//! server. Optional: `BATON_CONTROL` (control API base, default
//! `<target>/conformance`), `BATON_CASES` (default 300), `BATON_SEED`
//! (default 1, printed), `BATON_STRICT=1` (fail on SHOULD rules too),
//! `BATON_WEBHOOK_BASE` (where a remote target posts webhooks).
//!
//! The scenarios snapshot what the target did at every step (answers,
//! deliveries, what the user received), so a snapshot diff shows the
//! target behaving differently, whichever target it is.

use baton::embedded::{self, Embedded};
use baton::generate::Case;
use baton::harness::http::HttpTarget;
use baton::harness::linearize::CheckOptions;
use baton::harness::target::{Target, info};
use baton::harness::{DriverOptions, RunConfig, TargetSpec, play, run_id};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn target_spec() -> Option<TargetSpec> {
    let graph = env("BATON_TARGET")?;
    let key = env("BATON_KEY")
        .expect("BATON_TARGET is set but BATON_KEY is not: give the target's control key");
    Some(TargetSpec {
        graph,
        control: env("BATON_CONTROL"),
        key,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn randomized_suite() {
    let seed = env("BATON_SEED").map_or(1, |s| {
        s.parse().expect("BATON_SEED must be an unsigned integer")
    });
    println!("randomized suite: seed {seed} (set BATON_SEED to play other cases)");
    let cases =
        env("BATON_CASES").map_or(300, |c| c.parse().expect("BATON_CASES must be a number"));
    let dir = std::env::temp_dir().join(format!("baton-conformance-{}", std::process::id()));
    let cfg = RunConfig {
        target: target_spec(),
        cases,
        seed,
        strict: env("BATON_STRICT").is_some(),
        webhook_base: env("BATON_WEBHOOK_BASE"),
        out_dir: dir.join("counterexamples"),
        snapshot_dir: dir.join("snapshots"),
        ..RunConfig::default()
    };
    let report = match embedded::run(cfg, &[]).await {
        Ok(r) => r,
        Err(e) => panic!(
            "the run could not be carried out (exit code {}): {e}",
            e.exit_code()
        ),
    };
    let summary = report.summary();
    println!("{summary}");
    assert_eq!(report.exit_code(), 0, "seed {seed}:\n{summary}");
    assert_eq!(report.cases, cases, "every case ran");
}

#[derive(Deserialize)]
struct Scenario {
    description: String,
    #[serde(flatten)]
    case: Case,
}

/// Plays one scripted scenario against the target, asserts it conforms, and
/// snapshots what the target did at each step.
async fn scenario(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/scenarios")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let sc: Scenario =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (spec, embedded) = match target_spec() {
        Some(t) => (t, None),
        None => {
            let e = Embedded::start(&[]).await.unwrap();
            (e.spec.clone(), Some(e))
        }
    };
    let target: Arc<dyn Target> = Arc::new(
        HttpTarget::connect(&spec, env("BATON_WEBHOOK_BASE").as_deref())
            .await
            .unwrap(),
    );
    let info = info(&*target).await.unwrap_or_else(|e| panic!("{e}"));
    if sc.case.setup.setup.instagram_account_id.is_some()
        && !info.features.iter().any(|f| f == "instagram")
    {
        eprintln!("scenario {name} skipped: the target does not list the instagram feature");
        return;
    }
    let opts = DriverOptions {
        trace: true,
        ..DriverOptions::for_features(&info.features, std::time::Duration::from_millis(300))
    };
    let mut case = sc.case.clone();
    let id = run_id();
    case.setup.setup.page_id = format!(
        "{}",
        8_000_000 + u32::from_str_radix(&id[..5], 16).unwrap() % 999_999
    );
    let played = play(target, opts, &case, 1, &id, CheckOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(d) = &played.divergence {
        panic!(
            "scenario {name} diverges:\n{}\nexpected:\n{}\nobserved:\n{}",
            d.headline(),
            d.expected_text(),
            d.observed_text()
        );
    }
    assert_eq!(played.steps, sc.case.ops.len());
    let observed: Vec<&str> = played.trace.iter().map(|t| t.observed.as_str()).collect();
    let trace = format!("{}\n\n{}", sc.description, observed.join("\n"));
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(format!("scenario-{name}"), trace);
    });
    if let Some(e) = embedded {
        e.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_customer_support() {
    scenario("customer_support").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_lead_qualification() {
    scenario("lead_qualification").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_click_to_messenger() {
    scenario("click_to_messenger").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_lead_qualification_instagram() {
    scenario("lead_qualification_instagram").await;
}

/// Every scripted scenario has its test above.
#[test]
fn every_scenario_file_is_played() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let source = include_str!("conformance.rs");
    for n in &names {
        assert!(
            source.contains(&format!("scenario(\"{n}\")")),
            "fixtures/scenarios/{n}.json has no test"
        );
    }
    assert_eq!(names.len(), 4, "{names:?}");
}
