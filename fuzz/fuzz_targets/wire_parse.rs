//! Arbitrary bytes into every request decoder (Graph path, token, proof,
//! JSON / form / query parameters, control API) and the webhook envelope
//! parser: no panic, and whatever parses round-trips.
#![no_main]

use baton::fuzzing::{FuzzPage, check_wire};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static PAGE: OnceLock<FuzzPage> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    check_wire(data, PAGE.get_or_init(FuzzPage::new));
});
