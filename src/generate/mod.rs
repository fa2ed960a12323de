//! The generator: random but meaningful cases of the one operation type.
//!
//! A case is a page [`Setup`] with its PSIDs, then a sequence of [`Op`]s.
//! Each next operation is chosen by looking at the model's current state,
//! so most steps do something interesting (the owner sends, postbacks are
//! tapped on messages that carry buttons, clock jumps land just before, on
//! and just after a deadline), with a share of refused, invalid and
//! malformed calls. All randomness comes through [`Entropy`], so the same
//! generator serves `baton run` (seeded PRNG), proptest (a shrinkable
//! tape of choices) and the fuzzers (libFuzzer's bytes).

mod case;
pub mod entropy;
mod ops;
pub mod points;
pub mod stimuli;

pub use case::{CASE_PAGE_ID, Case, branches, case_rng, nth_case, nth_concurrent_case};
pub use entropy::{Bytes, Entropy, SplitMix64, Tape};
pub use ops::{
    CaseSetup, DEFECTS, GenConfig, START_MS, Weights, case, code_points, next_op, next_op_for,
    setup,
};
pub use points::Point;
