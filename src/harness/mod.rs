//! The harness: drives any implementation of the Handover Protocol with
//! generated cases, compares everything it observes with the model, and
//! shrinks every failure to a minimal, replayable counterexample.
//!
//! One operation flows through it like this:
//!
//! | stage | file | what happens |
//! |---|---|---|
//! | case | [`crate::generate`] | `nth_case` draws the case (and branches) |
//! | run | [`run`], [`pool`] | workers claim case numbers, each on its own page |
//! | step | [`play`], [`session`] | the model's expectation, then the operation rendered by [`crate::wire`] |
//! | target | [`target`] (seam), [`http`] | the request goes to the platform under test |
//! | sinks | [`sink`], [`observe`] | webhooks collected, signatures checked, envelopes read |
//! | diff | [`diff`] (+ [`linearize`] for a concurrent phase, in [`concurrent`]) | findings merged into one divergence naming the rules |
//! | shrink | [`shrink`] | replays until 1-minimal |
//! | store | [`counterexample`] | JSON and snapshot, rendered by [`crate::report`] |
//!
//! The harness never knows what the target is: everything goes through the
//! [`target::Target`] seam, implemented over HTTP here and in-process by
//! the fuzz targets; the embedded reference server is started above the
//! harness ([`crate::embedded`]) and reached over loopback HTTP like any
//! other implementation.

pub mod concurrent;
pub mod config;
pub mod counterexample;
pub mod counts;
pub mod diff;
pub mod events;
pub mod http;
pub mod linearize;
pub mod observe;
pub mod play;
mod pool;
pub mod run;
pub mod session;
pub mod shrink;
pub mod sink;
pub mod target;

pub use config::{OnCounterexample, RunConfig, RunError, Subject, TargetSpec, redact_url, run_id};
pub use counterexample::Counterexample;
pub use counts::RuleCounts;
pub use diff::Divergence;
pub use events::{Observer, RunEvent};
pub use play::play;
pub use run::{RunReport, replay, replay_on, run, run_on, shrink_on};
pub use session::{DriverOptions, Played, Session};
pub use target::{Target, TargetError};
