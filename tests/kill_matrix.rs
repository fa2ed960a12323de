//! Every mutant of `baton serve --list-mutants` (but the concurrency one)
//! must be caught by `baton run` with default settings, under the rule it
//! breaks, and shrunk to at most one step more than the shortest
//! counterexample found by hand.

use baton::bench::kill::{hand_minimal, kill, sequential_mutants};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_sequential_mutant_is_detected() {
    let seed = std::env::var("BATON_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = std::env::temp_dir().join(format!("baton-kill-{}", std::process::id()));
    let mut survivors = Vec::new();
    let mut misnamed = Vec::new();
    let mut too_long = Vec::new();
    println!(
        "{:<28} {:<9} {:<8} {:<22} {:>5} {:>9} {:>9} {:>7}",
        "mutant", "breaks", "caught", "rules", "steps", "detect ms", "shrink ms", "replays"
    );
    for m in sequential_mutants() {
        let k = kill(m, seed, Duration::from_secs(60), &dir).await.unwrap();
        let rules: Vec<&str> = k.rules.iter().map(|r| r.id()).collect();
        println!(
            "{:<28} {:<9} {:<8} {:<22} {:>5} {:>9} {:>9} {:>7}",
            k.mutant,
            k.breaks.id(),
            if k.detected {
                if k.right_rule() { "yes" } else { "yes*" }
            } else {
                "NO"
            },
            rules.join(","),
            k.steps,
            k.detect_ms.map_or("-".into(), |v| v.to_string()),
            k.shrink_ms.map_or("-".into(), |v| v.to_string()),
            k.replays.map_or("-".into(), |v| v.to_string()),
        );
        if !k.detected {
            survivors.push(k.mutant);
        } else if !k.right_rule() {
            misnamed.push((k.mutant, k.breaks.id(), rules.join(",")));
        }
        if k.detected && k.steps > hand_minimal(m) + 1 {
            too_long.push((k.mutant, k.steps, hand_minimal(m)));
        }
    }
    assert!(
        survivors.is_empty(),
        "mutants not detected (seed {seed}): {survivors:?}"
    );
    assert!(
        misnamed.is_empty(),
        "counterexamples that do not name the broken rule (seed {seed}): {misnamed:?}"
    );
    // The shrinker gets within one step of the shortest counterexample
    // found by hand: (mutant, shrunk steps, by hand).
    assert!(
        too_long.is_empty(),
        "counterexamples more than one step longer than by hand (seed {seed}): {too_long:?}"
    );
}
