//! `cargo bench --bench linearize`: the RACE-1 checker's time per case, for
//! thread histories of 10, 20 and 40 concurrent operations (4 branches, on
//! one PSID), simulated as a correct platform produces them; and the same
//! histories with one refused take answered with success (as under the
//! `racy-take` mutant), where the search must rule out every order.

use baton::harness::linearize::{Limits, Matching, break_a_take, check, simulate};
use std::cell::Cell;

fn main() {
    divan::main();
}

const SEEDS: u64 = 16;

fn limits() -> Limits {
    Limits {
        max_nodes: u64::MAX,
        max_time: std::time::Duration::from_secs(60),
    }
}

#[divan::bench(args = [10, 20, 40])]
fn linearizable_history(b: divan::Bencher, ops: usize) {
    let seed = Cell::new(0u64);
    b.with_inputs(|| {
        seed.set((seed.get() + 1) % SEEDS);
        simulate(seed.get(), 4, ops / 4)
    })
    .bench_local_refs(|(st, h)| {
        let v = check(st, h, Matching::default(), limits());
        assert!(v.is_linearizable());
        v
    });
}

#[divan::bench(args = [10, 20, 40])]
fn non_linearizable_history(b: divan::Bencher, ops: usize) {
    let broken: Vec<_> = (0..4 * SEEDS)
        .filter_map(|s| {
            let (st, mut h) = simulate(s, 4, ops / 4);
            break_a_take(&mut h).then_some((st, h))
        })
        .collect();
    let i = Cell::new(0usize);
    b.with_inputs(|| {
        i.set((i.get() + 1) % broken.len());
        broken[i.get()].clone()
    })
    .bench_local_refs(|(st, h)| {
        let v = check(st, h, Matching::default(), limits());
        assert!(!v.is_undecided());
        v
    });
}
