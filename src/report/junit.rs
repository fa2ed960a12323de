//! `junit.xml`: one test case per rule ID, in the shape common CI readers
//! (Jenkins, GitLab, GitHub actions' reporters) accept: `<testsuites>` with
//! one `<testsuite>` per rule family.
//!
//! - a rule whose counterexample fails the run: `<failure>`, its text the
//!   shrunk counterexample;
//! - a known deviation (`--expect`): `<skipped>` with the reason, the
//!   counterexample in `<system-out>`;
//! - a non-strict deviation that does not fail the run: a passing case
//!   with the counterexample in `<system-out>`;
//! - not reached, or not applicable (BP-*): `<skipped>`.

use super::data::{Report, RuleEntry, Verdict};
use super::escape::escape;
use std::fmt::Write as _;

enum Outcome {
    Passed,
    Failed,
    Skipped(String),
}

fn outcome(r: &RuleEntry) -> Outcome {
    match r.verdict {
        Verdict::NotReached => Outcome::Skipped("not reached in this run".into()),
        Verdict::NotApplicable if r.family == "IG" => Outcome::Skipped(
            "not applicable: the run generated no Instagram threads (the target lacks `instagram`, or --skip IG)".into(),
        ),
        Verdict::NotApplicable => {
            Outcome::Skipped("not applicable: advice for apps, not checked on a platform".into())
        }
        _ if r.fails => Outcome::Failed,
        Verdict::Fail | Verdict::NonStrict if r.expected.is_some() => Outcome::Skipped(format!(
            "expected deviation: {}",
            r.expected.as_deref().unwrap_or_default()
        )),
        _ => Outcome::Passed,
    }
}

/// The counterexamples naming a rule, as text.
fn counterexample_text(report: &Report, r: &RuleEntry) -> String {
    let mut s = String::new();
    for c in &r.counterexamples {
        let _ = writeln!(s, "{}\ncounterexample {}\n{}", c.headline, c.id, c.text);
    }
    for id in &r.also_named_in {
        if let Some(c) = report.counterexamples().into_iter().find(|c| &c.id == id) {
            let _ = writeln!(
                s,
                "{}\ncounterexample {} (filed under {})\n{}",
                c.headline, c.id, c.rule, c.text
            );
        }
    }
    s
}

pub fn render(report: &Report) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let secs = report.duration_ms as f64 / 1000.0;
    let families = report.by_family();
    let count =
        |pred: &dyn Fn(&Outcome) -> bool| report.rules.iter().filter(|r| pred(&outcome(r))).count();
    let _ = writeln!(
        s,
        "<testsuites name=\"baton {}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{secs:.3}\">",
        escape(&report.target),
        report.rules.len(),
        count(&|o| matches!(o, Outcome::Failed)),
        count(&|o| matches!(o, Outcome::Skipped(_))),
    );
    for (family, rules) in families {
        let failures = rules
            .iter()
            .filter(|r| matches!(outcome(r), Outcome::Failed))
            .count();
        let skipped = rules
            .iter()
            .filter(|r| matches!(outcome(r), Outcome::Skipped(_)))
            .count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">",
            family.as_str(),
            rules.len()
        );
        if report.kind == "run" && family == crate::model::Family::Ctrl {
            let _ = writeln!(s, "    <properties>");
            let _ = writeln!(
                s,
                "      <property name=\"seed\" value=\"{}\"/>",
                report.seed.map_or(String::new(), |x| x.to_string())
            );
            let _ = writeln!(
                s,
                "      <property name=\"baton_version\" value=\"{}\"/>",
                escape(&report.baton_version)
            );
            let _ = writeln!(s, "    </properties>");
        }
        for r in rules {
            let name = format!("{} ({}) {}", r.id, r.level, r.summary);
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"baton.{}\" time=\"0\"",
                escape(&name),
                family.as_str()
            );
            let text = counterexample_text(report, r);
            match outcome(r) {
                Outcome::Passed if text.is_empty() => {
                    let _ = writeln!(s, "/>");
                    continue;
                }
                Outcome::Passed => {
                    let _ = writeln!(s, ">");
                }
                Outcome::Failed => {
                    let headline = r
                        .counterexamples
                        .first()
                        .map(|c| c.headline.clone())
                        .unwrap_or_else(|| format!("{} is broken", r.id));
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                        escape(&headline),
                        r.verdict.as_str(),
                        escape(&text)
                    );
                }
                Outcome::Skipped(why) => {
                    let _ = writeln!(s, ">\n      <skipped message=\"{}\"/>", escape(&why));
                }
            }
            if !text.is_empty() && !matches!(outcome(r), Outcome::Failed) {
                let _ = writeln!(s, "      <system-out>{}</system-out>", escape(&text));
            }
            let _ = writeln!(s, "    </testcase>");
        }
        let _ = writeln!(s, "  </testsuite>");
    }
    let _ = writeln!(s, "</testsuites>");
    s
}
