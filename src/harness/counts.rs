//! How many steps exercised each rule: the `exercised` column of reports.

use crate::generate::Case;
use crate::model::{Rule, RuleSet, State, apply};

/// Per-rule step counts, indexed by the rule's position in [`Rule::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleCounts(pub [u64; Rule::ALL.len()]);

impl Default for RuleCounts {
    fn default() -> RuleCounts {
        RuleCounts([0; Rule::ALL.len()])
    }
}

impl RuleCounts {
    /// Counts one step that exercised `rules`.
    pub fn add(&mut self, rules: RuleSet) {
        for r in rules.iter() {
            self.0[r as usize] += 1;
        }
    }

    pub fn merge(&mut self, other: &RuleCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    pub fn get(&self, rule: Rule) -> u64 {
        self.0[rule as usize]
    }

    /// The rules exercised at least once.
    pub fn exercised(&self) -> RuleSet {
        Rule::ALL
            .iter()
            .copied()
            .filter(|r| self.get(*r) > 0)
            .collect()
    }

    /// The first `steps` sequential operations of `case` replayed through
    /// the model: the model is deterministic, so these are the rules the
    /// driver saw.
    pub fn of_case(case: &Case, steps: usize) -> RuleCounts {
        let mut counts = RuleCounts::default();
        let mut state = State::new(case.setup.setup.clone());
        for op in case.ops.iter().take(steps) {
            counts.add(apply(&mut state, op).rules);
        }
        counts
    }
}
