//! The closing summary `baton run` prints: a pure function of the run's
//! findings, like every other report format.

use crate::harness::run::RunReport;
use crate::model::Rule;

impl RunReport {
    /// The closing summary `baton run` prints.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(s, "target {} (seed {})", self.target, self.seed);
        let _ = writeln!(
            s,
            "{} cases, {} steps, {} HTTP requests in {:.1} s ({:.0} steps/s)",
            self.cases,
            self.steps,
            self.requests,
            secs,
            self.steps as f64 / secs
        );
        let applicable = Rule::ALL.iter().filter(|r| self.applies(**r)).count();
        let not_reached = self.not_reached();
        let _ = write!(
            s,
            "rules exercised: {} of {applicable}",
            applicable - not_reached.len()
        );
        if not_reached.is_empty() {
            let _ = writeln!(s);
        } else {
            let ids: Vec<&str> = not_reached.iter().map(|r| r.id()).collect();
            let _ = writeln!(s, "; not reached: {}", ids.join(", "));
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        for (i, c) in self.counterexamples.iter().enumerate() {
            let _ = writeln!(s);
            let _ = writeln!(s, "{}", c.divergence.headline());
            if let Some(reason) = self.expect.get(&c.rule) {
                let _ = writeln!(s, "expected deviation (--expect): {reason}");
            }
            if let Some(st) = &c.shrink {
                let _ = writeln!(
                    s,
                    "shrunk from {} to {} steps in {} replays ({} ms){}",
                    st.steps_before,
                    st.steps_after,
                    st.replays,
                    st.millis,
                    if st.kept_original {
                        " (the shrunk case never failed again in its repeats: the unshrunk case is reported)"
                    } else if st.minimal {
                        ""
                    } else {
                        " (budget ran out: may not be minimal)"
                    }
                );
            }
            let _ = write!(s, "{}", c.to_text());
            if let (Some(json), Some(snap)) = (self.written.get(2 * i), self.written.get(2 * i + 1))
            {
                let _ = writeln!(s, "saved: {} and {}", json.display(), snap.display());
                let _ = writeln!(
                    s,
                    "replay: baton replay {} {}",
                    json.display(),
                    c.subject.replay_flags()
                );
            }
        }
        let unseen: Vec<&str> = self
            .expect
            .keys()
            .filter(|r| !self.counterexamples.iter().any(|c| c.rule == **r))
            .map(|r| r.id())
            .collect();
        if !unseen.is_empty() {
            let _ = writeln!(
                s,
                "\nexpected deviations not seen in this run: {}",
                unseen.join(", ")
            );
        }
        let _ = writeln!(s);
        let expected = self
            .counterexamples
            .iter()
            .filter(|c| self.is_expected(c))
            .count();
        let verdict = match self.exit_code() {
            0 if self.counterexamples.is_empty() => {
                "CONFORMS: no divergence from the model".to_string()
            }
            0 if expected > 0 => format!(
                "CONFORMS, with {expected} expected deviation(s) and {} non-strict one(s)",
                self.counterexamples.len() - expected
            ),
            0 => format!(
                "CONFORMS, with {} non-strict deviation(s) (use --strict to fail on them)",
                self.counterexamples.len()
            ),
            _ => {
                let rules: Vec<&str> = self
                    .counterexamples
                    .iter()
                    .filter(|c| self.counts_against(c))
                    .map(|c| c.rule.id())
                    .collect();
                format!("FAILS: {} broken", rules.join(", "))
            }
        };
        let _ = writeln!(s, "verdict: {verdict}");
        s
    }
}
