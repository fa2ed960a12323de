//! The harness: drives any HTTP implementation of the Handover Protocol
//! with generated cases, compares everything it observes with the model,
//! and shrinks every failure to a minimal, replayable counterexample.
//!
//! Data flows one way: [`run`] draws cases from the generator and hands
//! them to workers; the [`driver`] plays each step against the [`target`],
//! collecting webhooks through the [`sink`]; the [`diff`] names the rules a
//! difference breaks; [`shrink`] minimizes; [`counterexample`] stores.

pub mod concurrent;
pub mod counterexample;
pub mod diff;
pub mod driver;
pub mod kill;
pub mod linearize;
pub mod run;
pub mod shrink;
pub mod sink;
pub mod target;

pub use counterexample::Counterexample;
pub use diff::Divergence;
pub use driver::{Case, DriverOptions, play};
pub use run::{RunConfig, RunError, RunReport, TargetSpec, run};
