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
use baton::harness::diff::{AppEvent, AppFailure, Difference};
use baton::model::Rule;
use baton::model::{Call, EventKind, Op};
use baton::report::diagram::Diagram;
use baton::report::{Report, Verdict, html, markdown};
use std::net::SocketAddr;
use std::time::Duration;

/// The pass that grants the app's own request (REQ-2) is delivered while
/// the app goes on with its next call: the record has the two in whichever
/// order they happened, and on a loaded machine that varies. For a stable
/// snapshot the delivery is put right after the call that caused it (each
/// order is a true record; only the snapshot needs one).
fn canonical_races(a: &mut AppFailure) {
    let granted = |e: &AppEvent| {
        matches!(e, AppEvent::Delivery { events, .. }
            if !events.is_empty() && events.iter().all(|(_, ev)| matches!(ev.kind, EventKind::PassThreadControl { .. })))
    };
    let causes = |e: &AppEvent| {
        matches!(e, AppEvent::Call { op: Op::Graph(g), .. }
            if matches!(g.call, Call::Request { .. } | Call::Take { .. }))
    };
    let mut i = 1;
    while i < a.timeline.len() {
        let mut j = i;
        if granted(&a.timeline[j]) {
            while j > 0
                && j != a.at
                && j - 1 != a.at
                && matches!(a.timeline[j - 1], AppEvent::Call { .. })
                && !causes(&a.timeline[j - 1])
            {
                a.timeline.swap(j - 1, j);
                j -= 1;
            }
        }
        i += 1;
    }
}

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
        if let Difference::App(a) = &mut c.divergence.difference {
            canonical_races(a);
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

/// APP-6: a counterexample of the `no-messaging-type` mutant shows, beside
/// the rule, the message the platform refused the send with, in the
/// summary, the Markdown report and the diagram.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_6_counterexample_shows_the_refusal_message() {
    let seed = 3;
    println!("seed {seed}, app mutant no-messaging-type");
    let dir = std::env::temp_dir().join(format!("baton-app-6-message-{}", std::process::id()));
    let identity = AppIdentity {
        app_id: baton::app::DEFAULT_APP_ID.into(),
        token: baton::app::DEFAULT_TOKEN.into(),
        secret: baton::app::DEFAULT_SECRET.into(),
        verify_token: Some(baton::app::DEFAULT_VERIFY_TOKEN.into()),
        human_agent: false,
    };
    let graph = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let app = Reference::start(&identity, graph, &[AppMutant::NoMessagingType])
        .await
        .unwrap();
    let mut cfg = CertifyConfig::new(app.webhook.clone(), identity);
    cfg.app_mutants = vec!["no-messaging-type".into()];
    cfg.bind = graph;
    cfg.seed = seed;
    cfg.cases = 12;
    cfg.out_dir = dir.join("out");
    cfg.snapshot_dir = dir.join("snapshots");
    let run = certify(cfg).await.unwrap();
    app.stop().await;
    let summary = run.summary();
    assert_eq!(run.exit_code(), 1, "seed {seed}: {summary}");
    let c = run
        .counterexamples
        .iter()
        .find(|c| c.rule == Rule::App6)
        .unwrap_or_else(|| panic!("seed {seed}: no APP-6 counterexample: {summary}"));
    let want = "(#100) The parameter messaging_type is required";
    // The line that says how the app broke APP-6 (the first observed line).
    let explanation = c
        .divergence
        .observed_text()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        explanation.contains("was refused as malformed or unauthorised")
            && explanation.contains(&format!("the platform answered \"{want}\"")),
        "seed {seed}: {explanation:?} does not show {want:?} beside APP-6:\n{summary}"
    );
    assert!(
        summary
            .lines()
            .any(|l| l.contains("+   ") && l.contains(&format!("answered \"{want}\""))),
        "seed {seed}: the summary lacks it:\n{summary}"
    );
    let report = Report::from_run(&run);
    let md = markdown::render(&report);
    assert!(
        md.contains(want),
        "seed {seed}: the report lacks {want:?}:\n{md}"
    );
    let mermaid = markdown::mermaid(&Diagram::of(c));
    // Mermaid escapes `#` (`#35;`).
    let escaped = want.replace('#', "#35;");
    assert!(
        mermaid.contains(&format!("HTTP 400 code 100: {escaped}")),
        "seed {seed}: the diagram's answer to the send lacks {want:?}: {mermaid}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A call that breaks a MUST rule and a SHOULD rule at once (a send on
/// standby without asking thread_owner: BP-1 and BP-2) is filed under the
/// MUST rule and fails the run: a SHOULD finding never hides a MUST one.
#[tokio::test(flavor = "multi_thread")]
async fn a_must_rule_broken_with_a_should_rule_fails_the_run() {
    let seed = 1;
    let mutants = [AppMutant::NeverAsksOwner, AppMutant::SendsOnStandby];
    println!("seed {seed}, app mutants never-asks-owner and sends-on-standby");
    let dir = std::env::temp_dir().join(format!("baton-app-bp-2-lead-{}", std::process::id()));
    let identity = AppIdentity {
        app_id: baton::app::DEFAULT_APP_ID.into(),
        token: baton::app::DEFAULT_TOKEN.into(),
        secret: baton::app::DEFAULT_SECRET.into(),
        verify_token: Some(baton::app::DEFAULT_VERIFY_TOKEN.into()),
        human_agent: false,
    };
    let graph = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let app = Reference::start(&identity, graph, &mutants).await.unwrap();
    let mut cfg = CertifyConfig::new(app.webhook.clone(), identity);
    cfg.app_mutants = vec!["never-asks-owner".into(), "sends-on-standby".into()];
    cfg.bind = graph;
    cfg.seed = seed;
    cfg.cases = 24;
    cfg.out_dir = dir.join("out");
    cfg.snapshot_dir = dir.join("snapshots");
    let run = certify(cfg).await.unwrap();
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let summary = run.summary();
    let both: Vec<_> = run
        .counterexamples
        .iter()
        .filter(|c| {
            c.divergence.rules.contains(&Rule::Bp1) && c.divergence.rules.contains(&Rule::Bp2)
        })
        .collect();
    assert!(
        !both.is_empty(),
        "seed {seed}: no counterexample breaks BP-1 and BP-2 at once:\n{summary}"
    );
    for c in both {
        assert_eq!(
            c.rule,
            Rule::Bp2,
            "seed {seed}: filed under {}:\n{summary}",
            c.rule
        );
        assert!(
            c.divergence.strict,
            "seed {seed}: BP-2 is a MUST:\n{summary}"
        );
    }
    assert_eq!(
        run.exit_code(),
        1,
        "seed {seed}: BP-2 is broken:\n{summary}"
    );
}
