//! The report as data: a verdict for every rule ID and every
//! counterexample, built from a run. The renderers beside this file turn it
//! into JSON, JUnit, Markdown and HTML.

use crate::harness::config::redact_url;
use crate::harness::counterexample::Counterexample;
use crate::harness::run::RunReport;
use crate::model::{Family, Rule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A rule's verdict in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Exercised, and no divergence names it.
    Pass,
    /// A counterexample breaks it (a MUST rule, or a refusal code Meta documents).
    Fail,
    /// A counterexample breaks it non-strictly (a SHOULD rule, or another
    /// refusal code than the one fixed).
    NonStrict,
    /// No step of the run exercised it.
    NotReached,
    /// BP-*: advice for apps, not checked on a platform.
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NonStrict => "non-strict",
            Verdict::NotReached => "not-reached",
            Verdict::NotApplicable => "not-applicable",
        }
    }
}

/// One counterexample as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterexampleEntry {
    /// `ctrl-4-1a2b3c4d5e6f`, as its files are named.
    pub id: String,
    /// The rule it is filed under; `rules` are all the rules it names.
    pub rule: Rule,
    pub rules: Vec<Rule>,
    pub strict: bool,
    /// Its rule is a known deviation (`--expect`).
    pub expected: bool,
    /// It fails the run.
    pub fails: bool,
    pub headline: String,
    /// The readable form (as in the snapshot).
    pub text: String,
    /// The replayable counterexample.
    pub counterexample: Counterexample,
}

/// One rule's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleEntry {
    pub id: Rule,
    pub family: String,
    pub level: String,
    pub summary: String,
    /// Steps that exercised the rule.
    pub exercised: u64,
    pub verdict: Verdict,
    /// Some counterexample naming this rule fails the run.
    pub fails: bool,
    /// The reason given in `--expect`, when the rule is listed there (or
    /// `via RULE: reason` when only counterexamples expected under another
    /// rule name it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Counterexamples filed under this rule.
    pub counterexamples: Vec<CounterexampleEntry>,
    /// Ids of counterexamples filed under another rule that also name this one.
    pub also_named_in: Vec<String>,
}

/// Verdict counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pass: usize,
    pub fail: usize,
    pub non_strict: usize,
    pub not_reached: usize,
    pub not_applicable: usize,
    /// Rules whose deviation is known (`--expect`).
    pub expected: usize,
}

/// A baseline entry that did not deviate in this run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    pub rule: Rule,
    pub reason: String,
}

/// Everything `report.json` holds; the other formats render the same data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `run` or `replay`.
    pub kind: String,
    pub target: String,
    pub baton_version: String,
    pub seed: Option<u64>,
    /// The run's configuration, secrets redacted.
    pub configuration: serde_json::Value,
    pub cases: u64,
    pub steps: u64,
    pub requests: u64,
    pub duration_ms: u64,
    pub strict: bool,
    /// `conforms` or `fails`.
    pub verdict: String,
    pub exit_code: u8,
    pub totals: Totals,
    /// Every rule ID of the catalogue, in catalogue order.
    pub rules: Vec<RuleEntry>,
    /// Known deviations that did not show up.
    pub expected_not_seen: Vec<Expectation>,
    pub notes: Vec<String>,
}

impl Report {
    /// The report of a `baton run`.
    pub fn from_run(r: &RunReport) -> Report {
        let entries: Vec<CounterexampleEntry> = r
            .counterexamples
            .iter()
            .map(|c| {
                let mut redacted = c.clone();
                redacted.target = redact_url(&c.target);
                CounterexampleEntry {
                    id: c.stem(),
                    rule: c.rule,
                    rules: c.divergence.rules.clone(),
                    strict: c.divergence.strict,
                    expected: r.is_expected(c),
                    fails: r.counts_against(c),
                    headline: c.divergence.headline(),
                    text: redacted.to_text(),
                    counterexample: redacted,
                }
            })
            .collect();
        let mut totals = Totals::default();
        let rules: Vec<RuleEntry> = Rule::ALL
            .iter()
            .map(|&rule| {
                let named: Vec<&CounterexampleEntry> =
                    entries.iter().filter(|e| e.rules.contains(&rule)).collect();
                let exercised = r.rule_counts.get(rule);
                let verdict = if !r.applies(rule) {
                    Verdict::NotApplicable
                } else if named.iter().any(|e| e.strict) {
                    Verdict::Fail
                } else if !named.is_empty() {
                    Verdict::NonStrict
                } else if exercised > 0 || r.exercised.contains(rule) {
                    Verdict::Pass
                } else {
                    Verdict::NotReached
                };
                // Listed in the baseline, or named only by counterexamples
                // that are expected under another rule.
                let expected = r.expect.get(&rule).cloned().or_else(|| {
                    let first = named.first()?;
                    named.iter().all(|e| e.expected).then(|| {
                        format!(
                            "via {}: {}",
                            first.rule,
                            r.expect.get(&first.rule).map_or("", |s| s.as_str())
                        )
                    })
                });
                match verdict {
                    Verdict::Pass => totals.pass += 1,
                    Verdict::Fail => totals.fail += 1,
                    Verdict::NonStrict => totals.non_strict += 1,
                    Verdict::NotReached => totals.not_reached += 1,
                    Verdict::NotApplicable => totals.not_applicable += 1,
                }
                if expected.is_some() && matches!(verdict, Verdict::Fail | Verdict::NonStrict) {
                    totals.expected += 1;
                }
                RuleEntry {
                    id: rule,
                    family: rule.family().as_str().to_string(),
                    level: rule.level().as_str().to_string(),
                    summary: rule.summary().to_string(),
                    exercised,
                    verdict,
                    fails: named.iter().any(|e| e.fails),
                    expected,
                    counterexamples: named
                        .iter()
                        .filter(|e| e.rule == rule)
                        .map(|e| (*e).clone())
                        .collect(),
                    also_named_in: named
                        .iter()
                        .filter(|e| e.rule != rule)
                        .map(|e| e.id.clone())
                        .collect(),
                }
            })
            .collect();
        let exit_code = r.exit_code();
        Report {
            kind: "run".into(),
            target: redact_url(&r.target),
            baton_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: Some(r.seed),
            configuration: r.config.clone(),
            cases: r.cases,
            steps: r.steps,
            requests: r.requests,
            duration_ms: r.elapsed.as_millis() as u64,
            strict: r.strict,
            verdict: if exit_code == 0 { "conforms" } else { "fails" }.into(),
            exit_code,
            totals,
            rules,
            expected_not_seen: r
                .expect
                .iter()
                .filter(|(rule, _)| !r.counterexamples.iter().any(|c| c.rule == **rule))
                .map(|(rule, reason)| Expectation {
                    rule: *rule,
                    reason: reason.clone(),
                })
                .collect(),
            notes: r.notes.clone(),
        }
    }

    /// The report of a `baton replay`: one case, the counterexample's, with
    /// the divergence it produced this time (none: every rule passes).
    pub fn from_replay(
        c: &Counterexample,
        divergence: Option<crate::harness::Divergence>,
        target: &str,
        elapsed: std::time::Duration,
        config: serde_json::Value,
        expect: BTreeMap<Rule, String>,
    ) -> Report {
        let steps = divergence
            .as_ref()
            .map_or(c.case.ops.len(), |d| (d.step + 1).min(c.case.ops.len()));
        let rule_counts = crate::harness::counts::RuleCounts::of_case(&c.case, steps);
        let exercised = Rule::ALL
            .iter()
            .copied()
            .filter(|r| rule_counts.get(*r) > 0)
            .collect();
        let counterexamples = divergence
            .map(|d| {
                let mut again = Counterexample::new(c.case.clone(), d, target);
                again.subject = c.subject;
                again.seed = c.seed;
                again.case_index = c.case_index;
                vec![again]
            })
            .unwrap_or_default();
        let run = RunReport {
            subject: c.subject,
            target: target.to_string(),
            seed: c.seed.unwrap_or(0),
            cases: 1,
            steps: steps as u64,
            requests: 0,
            elapsed,
            exercised,
            counterexamples,
            written: Vec::new(),
            notes: vec![format!(
                "replay of counterexample {} (filed under {})",
                c.stem(),
                c.rule
            )],
            strict: false,
            first_failure_after: None,
            rule_counts,
            expect,
            config,
            left_out: Vec::new(),
        };
        let mut report = Report::from_run(&run);
        report.kind = "replay".into();
        report.seed = c.seed;
        report
    }

    /// Every counterexample once, in the order found (failing ones first).
    pub fn counterexamples(&self) -> Vec<&CounterexampleEntry> {
        let mut all: Vec<&CounterexampleEntry> = self
            .rules
            .iter()
            .flat_map(|r| r.counterexamples.iter())
            .collect();
        all.sort_by_key(|e| (!e.fails, !e.strict, e.counterexample.case_index));
        all
    }

    /// Rules grouped by family, in catalogue order.
    pub fn by_family(&self) -> Vec<(Family, Vec<&RuleEntry>)> {
        Family::ALL
            .iter()
            .map(|f| {
                (
                    *f,
                    self.rules
                        .iter()
                        .filter(|r| r.id.family() == *f)
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// A one-line statement of the outcome.
    pub fn headline(&self) -> String {
        let t = &self.totals;
        let platform = self.rules.len() - t.not_applicable;
        format!(
            "{}: {} of {platform} platform rules pass, {} fail, {} non-strict, {} not reached{}",
            self.verdict.to_uppercase(),
            t.pass,
            t.fail,
            t.non_strict,
            t.not_reached,
            if t.expected > 0 {
                format!(" ({} deviating rule(s) expected)", t.expected)
            } else {
                String::new()
            }
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }
}
