//! Snapshots of the report renderers for one fixed app certification:
//! baton's reference app with the mutant `ignores-requests` (it breaks
//! BP-4), seed 7, one case at a time. `snapshots/report-app-bp-4-*.snap`
//! hold the Markdown (with the sequence diagram of the counterexample: the
//! stimuli, the deliveries with the app's answers, the app's Graph calls
//! with the platform's answers), the diagram as Mermaid and SVG, and the
//! summary. Pinned: the wall times (set before rendering), the loopback
//! ports and the output directory (replaced in the text), and how many
//! milliseconds the app took to answer each delivery (`in N ms`).

use baton::app::AppMutant;
use baton::certify::reference::{Reference, fixed_port};
use baton::certify::{AppIdentity, CertifyConfig, certify};
use baton::model::Rule;
use baton::report::diagram::Diagram;
use baton::report::{Report, Verdict, html, markdown};
use std::net::SocketAddr;
use std::time::Duration;

const SEED: u64 = 7;

/// `in 12 ms` → `in N ms`: how fast the app answered is not the point.
fn pin_millis(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(" in ") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(" ms") {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn renderers_of_a_fixed_app_mutant_run() {
    println!("seed {SEED}, app mutant ignores-requests, one job");
    let dir = std::env::temp_dir().join(format!("baton-app-snapshots-{}", std::process::id()));
    let identity = AppIdentity {
        app_id: baton::app::DEFAULT_APP_ID.into(),
        token: baton::app::DEFAULT_TOKEN.into(),
        secret: baton::app::DEFAULT_SECRET.into(),
        verify_token: Some(baton::app::DEFAULT_VERIFY_TOKEN.into()),
        human_agent: false,
    };
    let graph = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let app = Reference::start(&identity, graph, &[AppMutant::IgnoresRequests])
        .await
        .unwrap();
    let mut cfg = CertifyConfig::new(app.webhook.clone(), identity);
    cfg.label = "the reference app".into();
    cfg.app_mutants = vec!["ignores-requests".into()];
    cfg.bind = graph;
    cfg.seed = SEED;
    cfg.cases = 12;
    cfg.jobs = 1;
    cfg.out_dir = dir.join("out");
    cfg.snapshot_dir = dir.join("snapshots");
    let webhook = app.webhook.clone();
    let mut run = certify(cfg).await.unwrap();
    app.stop().await;
    assert_eq!(run.exit_code(), 1, "{}", run.summary());
    // Deliveries, the app's calls and the tool's own requests are counted
    // (their number depends on timing: pinned after the check).
    assert!(run.requests > run.steps, "{} requests", run.requests);
    run.requests = 1_000;
    run.elapsed = Duration::from_millis(2_500);
    run.first_failure_after = Some(Duration::from_millis(1_000));
    for c in &mut run.counterexamples {
        if let Some(st) = &mut c.shrink {
            st.millis = 25;
        }
    }
    let pin = |s: &str| {
        pin_millis(
            &s.replace(&webhook, "http://127.0.0.1:[app port]/webhook")
                .replace(&format!("http://{graph}"), "http://127.0.0.1:[graph port]")
                .replace(&dir.display().to_string(), "[dir]"),
        )
    };
    let c = &run.counterexamples[0];
    assert_eq!(c.rule, Rule::Bp4, "{}", run.summary());
    let report = Report::from_run(&run);
    // A verdict for every rule for apps, and none else applies.
    for r in &report.rules {
        if r.id.is_app_rule() {
            assert_ne!(r.verdict, Verdict::NotApplicable, "{}", r.id);
        } else {
            assert_eq!(r.verdict, Verdict::NotApplicable, "{}", r.id);
        }
    }
    assert!(
        report
            .rules
            .iter()
            .any(|r| r.id == Rule::Bp4 && r.verdict == Verdict::Fail)
    );
    let md = pin(&markdown::render(&report));
    for r in Rule::ALL.iter().filter(|r| r.is_app_rule()) {
        assert!(
            md.lines()
                .any(|l| l.starts_with(&format!("| {} |", r.id()))),
            "a verdict row for {r}"
        );
    }
    let diagram = Diagram::of(c);
    let mermaid = pin(&markdown::mermaid(&diagram));
    // The diagram is of what the app did: its calls and their answers.
    assert!(md.contains(&mermaid), "the Markdown carries the diagram");
    for want in [
        "participant A0 as app under test 0 (1001)",
        "participant P as baton platform",
        "A0->>P: request_thread_control psid 2",
        "P-->>A0: 200 success",
        "A0-->>P: HTTP 200 in N ms",
        "DIVERGES here: BP-4",
    ] {
        assert!(mermaid.contains(want), "{want}: {mermaid}");
    }
    let html = pin(&html::render(&report));
    assert!(html.contains("baton platform") && html.contains("<svg"));
    let summary = pin(&run.summary());
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("report-app-bp-4-markdown", md);
        insta::assert_snapshot!("report-app-bp-4-diagram", format!("{mermaid}\n{}", pin(&html::svg(&diagram))));
        insta::assert_snapshot!("report-app-bp-4-summary", summary);
    });
}
