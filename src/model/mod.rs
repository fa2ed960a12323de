//! The reference model of the Handover Protocol.
//!
//! Pure and deterministic: no I/O, no clock, no randomness. [`apply`] takes
//! one page's [`State`] and one [`Op`] and returns the [`Outcome`] a correct
//! platform produces, updating the state. The reference server, the
//! generator, the differ and the fuzz targets all decide through it, so each
//! rule is written exactly once, here.

mod apply;
pub mod invariants;
pub mod judge;
pub mod op;
pub mod outcome;
pub mod rules;
pub mod state;
pub mod surface;

pub use apply::{apply, apply_pageless};
pub use judge::{AnswerMatch, ObservedAnswer, judge_control, judge_graph};
pub use op::*;
pub use outcome::*;
pub use rules::{Family, Level, Rule, RuleSet};
pub use state::*;
pub use surface::*;
