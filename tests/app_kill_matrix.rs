//! The app kill matrix: every app mutant of `baton certify-app
//! --list-app-mutants` must be caught by a strict certification of the
//! reference app with that mutant on, filed under the rule it breaks (the
//! first rule its counterexample names), and shrunk to at most one
//! stimulus more than the minimum found by hand (`src/app/mutants.rs`).
//!
//! The mutants run side by side (each with its own app and platform on
//! ports of their own) on a fixed seed, with a short quiet period, so the
//! whole matrix stays well under two minutes on two cores. `BATON_SEED`
//! plays another seed; `BATON_APP_MUTANT` runs one mutant.

use baton::app::{AppMutant, hand_minimal};
use baton::bench::kill::{AppKillConfig, app_kill};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_app_mutant_is_caught_under_its_rule() {
    let seed = std::env::var("BATON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let only = std::env::var("BATON_APP_MUTANT").ok();
    let dir = std::env::temp_dir().join(format!("baton-app-kill-{}", std::process::id()));
    let k = AppKillConfig {
        seed,
        cases: 240,
        jobs: 16,
        quiet: Duration::from_millis(150),
        time_limit: Duration::from_secs(60),
    };
    let mutants: Vec<AppMutant> = AppMutant::ALL
        .iter()
        .copied()
        .filter(|m| only.as_deref().is_none_or(|o| o == m.name()))
        .collect();
    assert!(!mutants.is_empty(), "no app mutant named {only:?}");
    let runs: Vec<_> = mutants
        .iter()
        .map(|m| {
            let (m, k, dir) = (*m, k.clone(), dir.clone());
            tokio::spawn(async move { app_kill(m, &k, &dir).await })
        })
        .collect();
    println!(
        "{:<24} {:<7} {:<8} {:<16} {:>8} {:>6} {:>9} {:>9}",
        "app mutant", "breaks", "caught", "rules", "stimuli", "hand", "detect ms", "shrink ms"
    );
    let mut wrong = Vec::new();
    for (m, run) in mutants.iter().zip(runs) {
        let r = run.await.expect("the run did not panic").unwrap();
        let rules: Vec<&str> = r.rules.iter().map(|r| r.id()).collect();
        println!(
            "{:<24} {:<7} {:<8} {:<16} {:>8} {:>6} {:>9} {:>9}",
            r.mutant,
            r.breaks.id(),
            match (r.detected, r.right_rule()) {
                (false, _) => "NO",
                (true, true) => "yes",
                (true, false) => "misnamed",
            },
            rules.join(","),
            r.steps,
            hand_minimal(*m),
            r.detect_ms.map_or("-".into(), |v| v.to_string()),
            r.shrink_ms.map_or("-".into(), |v| v.to_string()),
        );
        if !r.detected {
            wrong.push(format!("{m} ({}) was not caught", m.rule()));
        } else if !r.right_rule() {
            wrong.push(format!(
                "{m} was caught as {} instead of {}",
                rules.join(","),
                m.rule()
            ));
        } else if r.steps > hand_minimal(*m) + 1 {
            wrong.push(format!(
                "{m}: the counterexample has {} stimuli, the hand-found minimum is {}",
                r.steps,
                hand_minimal(*m)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "seed {seed}: {} (counterexamples under {})",
        wrong.join("; "),
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
