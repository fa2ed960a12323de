//! `baton run --concurrent` (RACE-1): the racy-take mutant is caught and
//! reported as a shrunk concurrent counterexample that replays; the
//! reference server passes, with RACE-1 exercised.

use baton::embedded::{replay, run};
use baton::harness::{Counterexample, RunConfig};
use baton::model::Rule;
use baton::server::Mutant;
use std::time::Duration;

fn config(tag: &str) -> RunConfig {
    let dir = std::env::temp_dir().join(format!("baton-race-{tag}-{}", std::process::id()));
    RunConfig {
        concurrent: true,
        seed: 1,
        jobs: 4,
        out_dir: dir.join("counterexamples"),
        snapshot_dir: dir.join("snapshots"),
        ..RunConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn race_1_the_racy_take_mutant_is_caught_shrunk_and_replayed() {
    let cfg = RunConfig {
        cases: 5_000,
        time_limit: Some(Duration::from_secs(30)),
        ..config("mutant")
    };
    let report = run(cfg, &[Mutant::RacyTake]).await.unwrap();
    let summary = report.summary();
    assert_eq!(report.exit_code(), 1, "{summary}");
    let c: &Counterexample = &report.counterexamples[0];
    assert_eq!(c.rule, Rule::Race1, "{summary}");
    let part = c.concurrent.as_ref().expect("a concurrent counterexample");
    // Two takes racing for an idle thread, after at most a user message.
    assert!(c.case.branches.len() == 2, "{summary}");
    assert!(c.case.ops.len() <= 2, "{summary}");
    assert_eq!(part.repeats, 10, "{summary}");
    let text = c.to_text();
    assert!(
        text.contains("branch A") && text.contains("| B1."),
        "{text}"
    );
    assert!(text.contains("repeats failed"), "{text}");
    // The saved file replays against the mutant, and not against the
    // reference server.
    let saved = Counterexample::load(&report.written[0]).unwrap();
    assert_eq!(&saved, c);
    // A race may not show every time (above all on a loaded machine), but
    // the counterexample failed in at least one of its repeats, so it must
    // reproduce within a bounded number of replays: thirty, when one try in
    // ten fails about 96 % of the time.
    assert!(part.failed > 0, "{summary}");
    let mut reproduced = 0;
    for _ in 0..30 {
        let (d, _) = replay(&saved, None, &[Mutant::RacyTake]).await.unwrap();
        if c.divergence.reproduced_by(d.as_ref()) {
            reproduced += 1;
            break;
        }
    }
    assert!(
        reproduced > 0,
        "the counterexample did not replay: {summary}"
    );
    let (d, _) = replay(&saved, None, &[]).await.unwrap();
    assert_eq!(d, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn race_1_the_reference_server_is_linearizable() {
    let cfg = RunConfig {
        cases: 300,
        ..config("reference")
    };
    let report = run(cfg, &[]).await.unwrap();
    let summary = report.summary();
    assert_eq!(report.exit_code(), 0, "{summary}");
    assert!(report.counterexamples.is_empty(), "{summary}");
    assert!(report.exercised.contains(Rule::Race1), "{summary}");
    assert_eq!(report.cases, 300);
}
