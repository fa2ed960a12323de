//! The model's throughput on one core, over pre-generated random cases,
//! against a loop that only clones each operation.

use crate::generate::{self, GenConfig, SplitMix64};
use crate::model::{Op, State, apply};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Pre-generated cases, so that timing covers `apply` alone.
pub struct Corpus {
    cases: Vec<(State, Vec<Op>)>,
    ops: usize,
}

impl Corpus {
    /// `cases` random cases of `steps` operations each, from `seed`.
    pub fn generate(seed: u64, cases: usize, steps: usize) -> Corpus {
        let mut rng = SplitMix64::new(seed);
        let cfg = GenConfig::default();
        let cases: Vec<_> = (0..cases)
            .map(|i| {
                let (cs, ops) = generate::case(&mut rng, &cfg, &format!("{}", 100 + i), steps);
                (State::new(cs.setup), ops)
            })
            .collect();
        let ops = cases.iter().map(|(_, o)| o.len()).sum();
        Corpus { cases, ops }
    }

    pub fn ops(&self) -> usize {
        self.ops
    }

    /// Applies every case once from its fresh state; returns a checksum so
    /// the work cannot be optimized away.
    pub fn apply_all(&self) -> usize {
        let mut sum = 0;
        for (fresh, ops) in &self.cases {
            let mut st = fresh.clone();
            for op in ops {
                sum += apply(&mut st, op).deliveries.len();
            }
        }
        sum
    }

    /// The baseline: cloning every fresh state and every operation, the
    /// least any step-by-step consumer of the same data must do.
    pub fn clone_all(&self) -> usize {
        let mut sum = 0;
        for (fresh, ops) in &self.cases {
            let st = fresh.clone();
            sum += st.setup.apps.len();
            for op in ops {
                sum += std::hint::black_box(op.clone())
                    .psid()
                    .map_or(0, |p| p.len());
            }
        }
        sum
    }
}

/// Model throughput on one core.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelFigures {
    pub seed: u64,
    pub ops: usize,
    pub rounds: u32,
    pub ops_per_sec: f64,
    /// The same loop cloning the operations instead of applying them.
    pub baseline_ops_per_sec: f64,
    /// `ops_per_sec / baseline_ops_per_sec`.
    pub ratio_to_baseline: f64,
}

/// Measures the model for about `duration`, on 2,000 random cases of 40
/// steps from `seed`.
pub fn model(seed: u64, duration: Duration) -> ModelFigures {
    let corpus = Corpus::generate(seed, 2_000, 40);
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        let mut rounds = 0u32;
        while rounds == 0 || start.elapsed() < duration / 2 {
            std::hint::black_box(f());
            rounds += 1;
        }
        (rounds, start.elapsed())
    };
    std::hint::black_box(corpus.apply_all()); // warm up
    let (rounds, took) = time(&|| corpus.apply_all());
    let (base_rounds, base_took) = time(&|| corpus.clone_all());
    let rate =
        |rounds: u32, took: Duration| (corpus.ops() as f64 * rounds as f64) / took.as_secs_f64();
    let ops_per_sec = rate(rounds, took);
    let baseline_ops_per_sec = rate(base_rounds, base_took);
    ModelFigures {
        seed,
        ops: corpus.ops(),
        rounds,
        ops_per_sec,
        baseline_ops_per_sec,
        ratio_to_baseline: ops_per_sec / baseline_ops_per_sec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_applies_every_generated_operation() {
        let c = Corpus::generate(3, 20, 40);
        assert_eq!(c.ops(), 20 * 40);
        // User events always deliver to every app, so the checksum is positive.
        assert!(c.apply_all() > 0);
        assert_eq!(c.apply_all(), c.apply_all());
    }

    #[test]
    fn model_figures_are_consistent() {
        let f = model(1, Duration::from_millis(20));
        assert!(f.ops_per_sec > 0.0 && f.baseline_ops_per_sec > 0.0);
        assert!((f.ratio_to_baseline - f.ops_per_sec / f.baseline_ops_per_sec).abs() < 1e-9);
    }
}
