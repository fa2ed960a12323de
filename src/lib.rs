//! baton: conformance testing for implementations of the Messenger Handover
//! Protocol.
//!
//! The crate is layered along the data flow: [`model`] (the pure reference
//! model of every rule) feeds [`generate`] (cases) and [`wire`] (the Graph
//! API's encodings, webhook shapes and signatures), which the reference
//! [`server`] and the [`harness`] use; the harness reaches every platform
//! through one seam and never names the server. [`report`] renders what a
//! run found. Above both sit [`embedded`] (the reference server as a
//! target), [`fuzzing`] (the fuzz targets' bodies) and [`bench`]; [`alloc`]
//! is the allocator the `baton` binary and the model bench install.
//!
//! [`app`] stands apart: the reference *app* (a well-behaved handover bot
//! and its mutants), the subject `baton certify-app` certifies by default.
//! It speaks HTTP to any Graph API like a third-party app and uses only
//! [`wire`]'s signature helpers.

pub mod alloc;
pub mod app;
pub mod bench;
pub mod certify;
pub mod embedded;
pub mod fuzzing;
pub mod generate;
pub mod harness;
pub mod model;
pub mod report;
pub mod server;
pub mod wire;
