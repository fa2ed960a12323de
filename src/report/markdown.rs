//! `report.md`: the summary of verdicts by rule family, every rule's line,
//! then each counterexample as a Mermaid `sequenceDiagram` (the diverging
//! step in a red `rect`) followed by the expected/observed diff.

use super::data::{CounterexampleEntry, Report, Verdict};
use super::diagram::{ArrowKind, Diagram, Item};
use std::fmt::Write as _;

/// Text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Text safe after the colon of a Mermaid message or note: `;` ends a
/// statement and `#` starts an entity code, so both become entity codes.
pub fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Mermaid source of a diagram.
pub fn mermaid(d: &Diagram) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for p in &d.participants {
        let _ = writeln!(s, "    participant {} as {}", p.id, mermaid_text(&p.label));
    }
    let id = |i: usize| d.participants[i].id.as_str();
    for step in &d.steps {
        let indent = if step.diverges { "        " } else { "    " };
        if step.diverges {
            let _ = writeln!(s, "    rect rgb(255, 222, 222)");
        }
        let _ = writeln!(
            s,
            "{indent}Note over {},{}: step {}",
            id(0),
            id(d.participants.len() - 1),
            step.index
        );
        for item in &step.items {
            match item {
                Item::Arrow {
                    from,
                    to,
                    kind,
                    text,
                } => {
                    let arrow = match kind {
                        ArrowKind::Call | ArrowKind::ToUser => "->>",
                        ArrowKind::Answer => "-->>",
                        ArrowKind::Webhook => "-)",
                    };
                    let _ = writeln!(
                        s,
                        "{indent}{}{arrow}{}: {}",
                        id(*from),
                        id(*to),
                        mermaid_text(text)
                    );
                }
                Item::Note { over, text } => {
                    let over = if over.0 == over.1 {
                        id(over.0).to_string()
                    } else {
                        format!("{},{}", id(over.0), id(over.1))
                    };
                    let _ = writeln!(s, "{indent}Note over {over}: {}", mermaid_text(text));
                }
            }
        }
        if step.diverges {
            let _ = writeln!(s, "    end");
        }
    }
    s
}

fn verdict_cell(v: Verdict, expected: bool) -> String {
    let base = match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "**fail**",
        Verdict::NonStrict => "non-strict",
        Verdict::NotReached => "not-reached",
        Verdict::NotApplicable => "not-applicable",
    };
    if expected && matches!(v, Verdict::Fail | Verdict::NonStrict) {
        format!("{base} (expected)")
    } else {
        base.to_string()
    }
}

/// The section of one counterexample.
pub fn counterexample_section(c: &CounterexampleEntry, expected_reason: Option<&str>) -> String {
    let mut s = String::new();
    let rules: Vec<&str> = c.rules.iter().map(|r| r.id()).collect();
    let _ = writeln!(s, "### {} — `{}`\n", c.rule, c.id);
    let _ = writeln!(s, "**{}**\n", cell(&c.headline));
    let _ = writeln!(
        s,
        "{}; rules named: {}. {}\n",
        if c.fails {
            "Fails the run"
        } else if c.expected {
            "Expected deviation"
        } else {
            "Non-strict deviation"
        },
        rules.join(", "),
        c.counterexample.rule.summary()
    );
    if let Some(reason) = expected_reason {
        let _ = writeln!(s, "Expected (`--expect`): {}\n", cell(reason));
    }
    let ce = &c.counterexample;
    let setup = &ce.case.setup.setup;
    let _ = writeln!(s, "Steps (replay with `baton replay {}.json`):\n", c.id);
    for (i, op) in ce.case.ops.iter().enumerate() {
        let mark = if i == ce.divergence.step {
            " **← diverges**"
        } else {
            ""
        };
        let _ = writeln!(s, "{i}. `{}`{mark}", op.to_string().replace('`', "'"));
    }
    let _ = writeln!(
        s,
        "\nPage {} with {} apps{}.\n",
        setup.page_id,
        setup.apps.len(),
        setup
            .primary
            .map_or(", no primary receiver".to_string(), |p| format!(
                ", primary receiver app {}",
                p.0
            ))
    );
    let _ = writeln!(s, "```mermaid\n{}```\n", mermaid(&Diagram::of(ce)));
    let d = &ce.divergence;
    let _ = writeln!(s, "At step {}, the {} differs:\n", d.step, d.kind().name());
    let _ = writeln!(s, "```diff");
    for line in d.expected_text().lines() {
        let _ = writeln!(s, "- {line}");
    }
    for line in d.observed_text().lines() {
        let _ = writeln!(s, "+ {line}");
    }
    let _ = writeln!(s, "```\n");
    s
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# baton certification report\n");
    let _ = writeln!(s, "**{}**\n", r.headline());
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Target | {} |", cell(&r.target));
    let _ = writeln!(s, "| Kind | {} |", r.kind);
    let _ = writeln!(s, "| baton | {} |", r.baton_version);
    if let Some(seed) = r.seed {
        let _ = writeln!(s, "| Seed | {seed} |");
    }
    let _ = writeln!(
        s,
        "| Cases, steps, requests | {}, {}, {} |",
        r.cases, r.steps, r.requests
    );
    let _ = writeln!(s, "| Duration | {:.1} s |", r.duration_ms as f64 / 1000.0);
    let _ = writeln!(s, "| Strict | {} |", if r.strict { "yes" } else { "no" });
    let _ = writeln!(s, "| Exit code | {} |\n", r.exit_code);
    for n in &r.notes {
        let _ = writeln!(s, "> note: {}\n", cell(n));
    }

    let _ = writeln!(s, "## Verdicts by rule family\n");
    let _ = writeln!(
        s,
        "| Family | pass | fail | non-strict | not-reached | not-applicable | deviating rules |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|");
    for (family, rules) in r.by_family() {
        let n = |v: Verdict| rules.iter().filter(|x| x.verdict == v).count();
        let deviating: Vec<String> = rules
            .iter()
            .filter(|x| matches!(x.verdict, Verdict::Fail | Verdict::NonStrict))
            .map(|x| {
                format!(
                    "{} {}",
                    x.id,
                    verdict_cell(x.verdict, x.expected.is_some()).replace("**", "")
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            family.as_str(),
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::NonStrict),
            n(Verdict::NotReached),
            n(Verdict::NotApplicable),
            deviating.join(", ")
        );
    }
    let _ = writeln!(s, "\n## Every rule\n");
    let _ = writeln!(s, "| Rule | Level | Steps | Verdict | Counterexamples |");
    let _ = writeln!(s, "|---|---|---:|---|---|");
    for rule in &r.rules {
        let mut ces: Vec<String> = rule
            .counterexamples
            .iter()
            .map(|c| format!("`{}`", c.id))
            .collect();
        ces.extend(rule.also_named_in.iter().map(|id| format!("`{id}` (also)")));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            rule.id,
            rule.level,
            rule.exercised,
            verdict_cell(rule.verdict, rule.expected.is_some()),
            ces.join(", ")
        );
    }
    if !r.expected_not_seen.is_empty() {
        let _ = writeln!(s, "\n## Expected deviations not seen in this run\n");
        for e in &r.expected_not_seen {
            let _ = writeln!(s, "- {}: {}", e.rule, cell(&e.reason));
        }
    }
    let ces = r.counterexamples();
    if !ces.is_empty() {
        let _ = writeln!(s, "\n## Counterexamples\n");
        for c in ces {
            let reason = r
                .rules
                .iter()
                .find(|x| x.id == c.rule)
                .and_then(|x| x.expected.as_deref());
            s.push_str(&counterexample_section(c, reason.filter(|_| c.expected)));
        }
    }
    s
}
