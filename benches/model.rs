//! `cargo bench --bench model`: the model's throughput on random cases,
//! beside the clone-only baseline measured on the same data.

use baton::bench::Corpus;

/// The allocator of the `baton` binary, so that this measures what
/// `baton bench model` does.
#[global_allocator]
static ALLOC: baton::alloc::MiMalloc = baton::alloc::MiMalloc;

fn main() {
    divan::main();
}

#[divan::bench]
fn apply_2000_cases_of_40_steps(b: divan::Bencher) {
    let corpus = Corpus::generate(1, 2_000, 40);
    b.counter(divan::counter::ItemsCount::new(corpus.ops()))
        .bench(|| corpus.apply_all());
}

#[divan::bench]
fn baseline_clone_the_same_operations(b: divan::Bencher) {
    let corpus = Corpus::generate(1, 2_000, 40);
    b.counter(divan::counter::ItemsCount::new(corpus.ops()))
        .bench(|| corpus.clone_all());
}
