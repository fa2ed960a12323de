//! Snapshots of every report renderer for one fixed run: the embedded
//! reference server with the mutant `pass-without-webhook` (it breaks
//! PASS-1), seed 1, one job. `snapshots/report-pass-1-*.snap` hold the
//! JUnit XML, the Markdown, the HTML, the sequence diagram of the
//! counterexample (as data, and as Mermaid and SVG) and the closing
//! summary; a change to any renderer, to the shrinker or to the model that
//! changes what the report says shows up as a snapshot diff.
//!
//! Determinism: with one job the cases are played in order, so the first
//! failing case is always the same one, and the shrinker replays it against
//! a deterministic server: the same counterexample every time. What is
//! inherently variable is pinned by [`Pinned`], documented there, and
//! nothing else: the run's wall time and the shrinker's (set to fixed
//! values before rendering), the embedded server's loopback port and the
//! temporary output directory (replaced in the rendered text).

mod report_kit;

use baton::embedded;
use baton::harness::{RunConfig, RunReport};
use baton::model::Rule;
use baton::report::diagram::Diagram;
use baton::report::{Report, html, junit, markdown};
use baton::server::Mutant;
use report_kit::temp_dir;
use std::path::Path;
use std::time::Duration;

const SEED: u64 = 1;
const MUTANT: Mutant = Mutant::PassWithoutWebhook;

/// The inherently variable parts of a run, and what the snapshots show
/// instead.
struct Pinned {
    /// The embedded server's origin, `http://127.0.0.1:<ephemeral port>`.
    origin: String,
    /// The temporary directory the run wrote its counterexample to.
    dir: String,
}

impl Pinned {
    /// Pins the wall times of `report` (the run's and the shrinker's) to
    /// fixed values, so the durations every format prints (and the
    /// summary's steps per second) do not move; returns what the rendered
    /// text must still have replaced.
    fn pin(report: &mut RunReport, dir: &Path) -> Pinned {
        report.elapsed = Duration::from_millis(2_500);
        report.first_failure_after = Some(Duration::from_millis(1_000));
        for c in &mut report.counterexamples {
            if let Some(st) = &mut c.shrink {
                st.millis = 25;
            }
        }
        Pinned {
            origin: report.target.clone(),
            dir: dir.display().to_string(),
        }
    }

    /// The rendered text with the port and the directory replaced.
    fn text(&self, s: &str) -> String {
        s.replace(&self.origin, "http://127.0.0.1:[port]")
            .replace(&self.dir, "[dir]")
    }
}

async fn fixed_run(dir: &Path) -> RunReport {
    let cfg = RunConfig {
        seed: SEED,
        cases: 2_000,
        jobs: 1,
        time_limit: None,
        out_dir: dir.join("out"),
        snapshot_dir: dir.join("snapshots"),
        ..RunConfig::default()
    };
    embedded::run(cfg, &[MUTANT]).await.unwrap()
}

/// Text as the XML and HTML renderers escape it.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn snapshot(name: &str, body: String) {
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(format!("report-pass-1-{name}"), body);
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn renderers_of_a_fixed_mutant_run() {
    println!("seed {SEED}, mutant {}, one job", MUTANT.name());
    let dir = temp_dir("snapshots");
    let mut run = fixed_run(&dir).await;
    assert_eq!(run.exit_code(), 1, "{}", run.summary());
    assert_eq!(run.counterexamples.len(), 1, "{}", run.summary());
    let pinned = Pinned::pin(&mut run, &dir);
    assert!(
        pinned.origin.starts_with("http://127.0.0.1:"),
        "{}",
        pinned.origin
    );

    let c = &run.counterexamples[0];
    assert_eq!(c.rule, Rule::Pass1);
    assert!(c.shrink.as_ref().is_some_and(|s| s.minimal));
    let report = Report::from_run(&run);
    let diagram = Diagram::of(c);

    let junit = pinned.text(&junit::render(&report));
    let md = pinned.text(&markdown::render(&report));
    let html = pinned.text(&html::render(&report));
    let summary = pinned.text(&run.summary());
    let drawn = pinned.text(&format!(
        "{diagram:#?}\n\n{}\n{}\n",
        markdown::mermaid(&diagram),
        html::svg(&diagram)
    ));
    // Nothing variable is left for the snapshots to trip over.
    for text in [&junit, &md, &html, &summary, &drawn] {
        assert!(!text.contains(&pinned.origin) && !text.contains(&pinned.dir));
    }
    // What the snapshots are for, so that a snapshot accepted blindly
    // cannot lose it: every format has the steps, the rule and the
    // expected/observed difference, the Markdown and HTML the diagram.
    let d = &c.divergence;
    assert!(d.step < c.case.ops.len() && !d.expected_text().is_empty());
    for text in [&junit, &md, &html, &summary] {
        assert!(text.contains("PASS-1"), "{text}");
        for op in &c.case.ops {
            let op = op.to_string();
            assert!(text.contains(&op) || text.contains(&escape(&op)), "{op}");
        }
        for line in d.expected_text().lines().chain(d.observed_text().lines()) {
            assert!(
                text.contains(line) || text.contains(&escape(line)),
                "{line}"
            );
        }
    }
    assert!(junit.contains(&format!("<failure message=\"{}\"", escape(&d.headline()))));
    assert!(md.contains("```mermaid\nsequenceDiagram") && md.contains("rect rgb(255, 222, 222)"));
    assert!(md.contains(&format!(
        "```diff\n- {}",
        d.expected_text().lines().next().unwrap()
    )));
    assert!(html.contains("<svg") && html.contains("DIVERGES here: PASS-1"));
    assert_eq!(diagram.steps.len(), d.step + 1);
    assert!(diagram.steps.last().is_some_and(|s| s.diverges));

    snapshot("junit", junit);
    snapshot("markdown", md);
    snapshot("html", html);
    snapshot("diagram", drawn);
    snapshot("summary", summary);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An Instagram counterexample: the embedded server with the mutant
/// `ig-page-inbox-accepted` (IG-2), seed 1, one job. The text names each
/// user with its surface, the diagram labels the Instagram Inbox.
#[tokio::test(flavor = "multi_thread")]
async fn an_instagram_counterexample_names_the_surfaces() {
    let mutant = Mutant::IgPageInboxAccepted;
    println!("seed {SEED}, mutant {}, one job", mutant.name());
    let dir = temp_dir("snapshots-ig");
    let cfg = RunConfig {
        seed: SEED,
        cases: 2_000,
        jobs: 1,
        time_limit: None,
        out_dir: dir.join("out"),
        snapshot_dir: dir.join("snapshots"),
        ..RunConfig::default()
    };
    let mut run = embedded::run(cfg, &[mutant]).await.unwrap();
    assert_eq!(run.exit_code(), 1, "{}", run.summary());
    let pinned = Pinned::pin(&mut run, &dir);
    let c = &run.counterexamples[0];
    assert_eq!(c.rule, Rule::Ig2, "{}", run.summary());
    let text = pinned.text(&c.to_text());
    assert!(
        text.contains("IGSID ") && text.contains("(Instagram)"),
        "{text}"
    );
    assert!(
        text.contains("the Instagram Inbox is 1217981644879628"),
        "{text}"
    );
    let diagram = Diagram::of(c);
    assert!(
        diagram
            .participants
            .iter()
            .any(|p| p.label == "Page/Instagram Inbox"),
        "{diagram:#?}"
    );
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(
            "report-ig-2-counterexample",
            format!("{text}\n{}", markdown::mermaid(&diagram))
        );
    });
}
