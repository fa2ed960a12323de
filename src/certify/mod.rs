//! `baton certify-app`: the roles turned around. baton plays the platform
//! (its reference server), the users, the Page Inbox and the other apps of
//! the page; the app under test is a real HTTP service that receives
//! webhooks and calls the Graph API. Its behaviour is judged on the rules
//! for apps (BP-1..6, APP-1..6).
//!
//! | file | what it does |
//! |---|---|
//! | [`stage`] | the platform on the app's Graph port, the recorder of decisions, the forwarder of deliveries |
//! | [`record`] | what happened, as data |
//! | [`judge`] | the rules for apps, decided on a record (pure) |
//! | [`run`] | groups, side-by-side cases, shrinking, the run's report |
//! | [`reference`] | the reference app started for a run without `--webhook` |
//!
//! The stimuli come from [`crate::generate::stimuli`]; counterexamples,
//! shrinking and reports are the harness's own.

pub mod judge;
pub mod record;
pub mod reference;
pub mod run;
pub mod stage;

pub use run::{CertifyConfig, certify, replay};
pub use stage::AppIdentity;
