//! Arbitrary HTTP requests into the reference server's router, in-process:
//! no panic, no 5xx, every error is an error envelope, and a refused call
//! changes no state.
#![no_main]

use baton::fuzzing::{InProcess, check_server_http};
use baton::model::State;
use baton::server::Mutants;
use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock};

struct Fuzz {
    server: InProcess,
    baseline: Option<State>,
}

static SERVER: OnceLock<Mutex<Fuzz>> = OnceLock::new();

fn mutants() -> Mutants {
    #[cfg(feature = "mutant-send-non-owner")]
    return Mutants::new(vec![baton::server::Mutant::SendNonOwner]);
    #[cfg(not(feature = "mutant-send-non-owner"))]
    Mutants::none()
}

fuzz_target!(|data: &[u8]| {
    let fuzz = SERVER.get_or_init(|| {
        Mutex::new(Fuzz {
            server: InProcess::new(mutants()),
            baseline: None,
        })
    });
    let mut f = fuzz.lock().unwrap_or_else(|e| e.into_inner());
    let Fuzz { server, baseline } = &mut *f;
    check_server_http(server, baseline, data);
});
