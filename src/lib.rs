//! baton: conformance testing for implementations of the Messenger Handover
//! Protocol.
//!
//! The crate is layered along the data flow: [`model`] (the pure reference
//! model of every rule) feeds [`wire`] (the Graph API's encodings, webhook
//! shapes and signatures), which the reference server and the harness use.

pub mod bench;
pub mod fuzzing;
pub mod generate;
pub mod harness;
pub mod model;
pub mod report;
pub mod server;
pub mod wire;
