//! Shared helpers for the `server_*` integration tests, which run the
//! reference server (`baton serve`) on an ephemeral port and talk to it over
//! real HTTP:
//!
//! * [`sink`]: a tiny webhook receiver (one route per app) that records every
//!   delivery attempt and can be told to fail or hang;
//! * [`raw`]: hand-written HTTP/1.1 requests over a bare TCP socket, so that
//!   some tests do not trust any client library (or the renderer);
//! * [`harness`]: the server plus a sink plus an HTTP client;
//! * [`world`]: one page of the server mirrored by a model [`State`], so a
//!   test can send operations and check answers, webhooks and transcripts
//!   against `baton::model::apply`.
//!
//! Each test binary uses only part of this, hence the allowances.
#![allow(dead_code, unused_imports)]

pub mod harness;
pub mod raw;
pub mod sink;
pub mod world;

pub use harness::*;
pub use raw::*;
pub use sink::*;
pub use world::*;
