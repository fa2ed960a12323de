//! Property tests of the model: random operation sequences of up to 60
//! steps on pages of 2–5 apps, with and without a primary receiver, 1–6
//! PSIDs, checking the invariants of `baton::model::invariants` after every
//! step (at most one owner, HOOK-1, CTRL-5, CTRL-6, deadlines).
//!
//! The cases come from baton's own generator, fed by a tape of choices that
//! proptest draws and shrinks, so a failure is reported as a short, simple
//! sequence. Set `BATON_SEED=<n>` to replay a run; the seed is printed when
//! a property fails.

use baton::generate::{self, GenConfig, SplitMix64, Tape};
use baton::model::{Op, State, apply, invariants::check_step};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

fn seed() -> u64 {
    match std::env::var("BATON_SEED") {
        Ok(s) => s.parse().expect("BATON_SEED must be an unsigned integer"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// Runs `prop` over proptest-drawn choice tapes with a reproducible seed.
fn run(name: &str, cases: u32, prop: impl Fn(&[u32]) -> Result<(), TestCaseError>) {
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = proptest::collection::vec(any::<u32>(), 0..1200);
    if let Err(e) = runner.run(&strategy, |tape| prop(&tape)) {
        panic!("property {name} failed (replay with BATON_SEED={seed}): {e}");
    }
}

/// A case from a tape: the setup, then up to 60 steps.
fn case_from(tape: &[u32], cfg: &GenConfig) -> (generate::CaseSetup, Vec<Op>) {
    let mut e = Tape::new(tape);
    let steps = (tape.first().copied().unwrap_or(0) % 61) as usize;
    generate::case(&mut e, cfg, "100200300", steps)
}

fn check_case(setup: &generate::CaseSetup, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut st = State::new(setup.setup.clone());
    for (i, op) in ops.iter().enumerate() {
        let before = st.clone();
        let out = apply(&mut st, op);
        if let Err(why) = check_step(&before, op, &out, &st) {
            let listing: Vec<String> = ops[..=i].iter().map(|o| format!("  {o}")).collect();
            return Err(TestCaseError::fail(format!(
                "step {i}: {why}\nsteps:\n{}",
                listing.join("\n")
            )));
        }
    }
    Ok(())
}

#[test]
fn ctrl_1_ctrl_5_ctrl_6_hook_1_invariants_hold_on_random_sequences() {
    run("invariants", 600, |tape| {
        let (setup, ops) = case_from(tape, &GenConfig::default());
        check_case(&setup, &ops)
    });
}

#[test]
fn invariants_hold_without_a_primary_receiver() {
    let cfg = GenConfig {
        primary_percent: 0,
        ..GenConfig::default()
    };
    run("invariants-no-primary", 300, |tape| {
        let (setup, ops) = case_from(tape, &cfg);
        prop_assert!(setup.setup.primary.is_none());
        check_case(&setup, &ops)
    });
}

#[test]
fn invariants_hold_with_a_primary_receiver() {
    let cfg = GenConfig {
        primary_percent: 100,
        ..GenConfig::default()
    };
    run("invariants-primary", 300, |tape| {
        let (setup, ops) = case_from(tape, &cfg);
        prop_assert!(setup.setup.primary.is_some());
        check_case(&setup, &ops)
    });
}

#[test]
fn generated_pages_span_the_required_shapes() {
    // 2–5 apps, 1–6 PSIDs, with and without a primary: all reached.
    let cfg = GenConfig::default();
    let mut apps = std::collections::BTreeSet::new();
    let mut psids = std::collections::BTreeSet::new();
    let mut primaries = std::collections::BTreeSet::new();
    let mut rng = SplitMix64::new(seed());
    for _ in 0..2000 {
        let cs = generate::setup(&mut rng, &cfg, "1");
        apps.insert(cs.setup.apps.len());
        psids.insert(cs.psids.len());
        primaries.insert(cs.setup.primary.is_some());
    }
    assert_eq!(apps.into_iter().collect::<Vec<_>>(), vec![2, 3, 4, 5]);
    assert_eq!(
        psids.into_iter().collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(primaries.len(), 2);
}

#[test]
fn the_model_is_deterministic() {
    run("determinism", 100, |tape| {
        let (setup, ops) = case_from(tape, &GenConfig::default());
        let (mut a, mut b) = (
            State::new(setup.setup.clone()),
            State::new(setup.setup.clone()),
        );
        for op in &ops {
            prop_assert_eq!(apply(&mut a, op), apply(&mut b, op));
        }
        prop_assert_eq!(a, b);
        Ok(())
    });
}

#[test]
fn the_invariant_checker_catches_a_broken_step() {
    // The checker must be able to fail: feed it an outcome that claims a
    // refusal while the state changed.
    let (setup, ops) = generate::case(&mut SplitMix64::new(7), &GenConfig::default(), "1", 10);
    let mut st = State::new(setup.setup.clone());
    let first_user = ops
        .iter()
        .position(|o| matches!(o, Op::User(_)))
        .expect("cases start with user events");
    for op in &ops[..first_user] {
        apply(&mut st, op);
    }
    let before = st.clone();
    let mut out = apply(&mut st, &ops[first_user]);
    assert!(check_step(&before, &ops[first_user], &out, &st).is_ok());
    out.answer = baton::model::Answer::Graph(Err(baton::model::GraphError::INVALID));
    let err = check_step(&before, &ops[first_user], &out, &st).unwrap_err();
    assert!(err.starts_with("CTRL-5"), "{err}");
    // And a delivery dropped from a user event breaks HOOK-1.
    let mut out = apply(&mut before.clone(), &ops[first_user]);
    out.deliveries.pop();
    assert!(
        check_step(&before, &ops[first_user], &out, &st)
            .unwrap_err()
            .starts_with("HOOK-1")
    );
}

#[test]
fn the_invariant_checker_catches_broken_instagram_steps() {
    use baton::model::{AppSpec, Setup, Surface, UserEvent};
    let app = |id: &str| AppSpec {
        app_id: id.into(),
        name: id.into(),
        human_agent: false,
        require_appsecret_proof: false,
    };
    let setup = Setup::new("5".into(), 0, vec![app("51"), app("52")], Some("51"))
        .and_then(|s| s.with_instagram(Some("17841".into())))
        .unwrap();
    let msg = |psid: &str, platform| {
        Op::User(UserEvent::Message {
            psid: psid.into(),
            text: "hi".into(),
            quick_reply: None,
            platform,
        })
    };
    let mut st = State::new(setup);
    apply(&mut st, &msg("1", Surface::Messenger));
    let before = st.clone();
    let op = msg("7", Surface::Instagram);
    let out = apply(&mut st, &op);
    assert!(check_step(&before, &op, &out, &st).is_ok());
    // An Instagram event written as a Messenger one breaks IG-3.
    let mut wrong = out.clone();
    wrong.deliveries[0].event.surface = Surface::Messenger;
    let err = check_step(&before, &op, &wrong, &st).unwrap_err();
    assert!(err.starts_with("IG-3"), "{err}");
    // A thread moving to the other surface, or owned by the other surface's
    // inbox, breaks IG-4 / IG-2.
    let mut moved = st.clone();
    moved.threads.get_mut("1").unwrap().surface = Surface::Instagram;
    let err = check_step(&before, &op, &out, &moved).unwrap_err();
    assert!(err.starts_with("IG-4"), "{err}");
    let mut owned = st.clone();
    owned.threads.get_mut("7").unwrap().owner = Some(baton::model::Party::PageInbox);
    let err = check_step(&before, &op, &out, &owned).unwrap_err();
    assert!(err.starts_with("IG-2"), "{err}");
}
