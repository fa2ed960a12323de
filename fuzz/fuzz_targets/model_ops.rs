//! Generated operation sequences (libFuzzer's bytes through the one
//! generator, via `Arbitrary`) into the model; every step must keep the
//! invariants the property tests check.
#![no_main]

use baton::generate::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: Case| {
    if let Err(why) = baton::fuzzing::check_model(&case) {
        panic!(
            "model invariant broken: {why}\ncase: {}",
            serde_json::to_string(&case).unwrap_or_default()
        );
    }
});
