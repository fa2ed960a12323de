//! Generated operation sequences through the reference server's router
//! (in-process) and through the model, side by side; any divergence in an
//! answer, a webhook delivery or a transcript is a crash. Convert a crash
//! into a counterexample with `baton fuzz-import CRASHFILE`.
#![no_main]

use baton::fuzzing::InProcess;
use baton::generate::Case;
use baton::server::Mutants;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn mutants() -> Mutants {
    #[cfg(feature = "mutant-send-non-owner")]
    return Mutants::new(vec![baton::server::Mutant::SendNonOwner]);
    #[cfg(not(feature = "mutant-send-non-owner"))]
    Mutants::none()
}

static SERVER: OnceLock<InProcess> = OnceLock::new();

fuzz_target!(|case: Case| {
    let server = SERVER.get_or_init(|| InProcess::new(mutants()));
    if let Some(d) = server.differential(&case) {
        panic!(
            "divergence: {}\nexpected: {}\nobserved: {}\n(convert with `baton fuzz-import CRASHFILE`)",
            d.headline(),
            d.expected_text(),
            d.observed_text()
        );
    }
});
