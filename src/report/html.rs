//! `report.html`: the content of `report.md` as one self-contained page:
//! inline CSS, sequence diagrams drawn here as inline SVG, no script, no
//! font or image fetched from anywhere. Laid out for a laptop screen
//! (about 1366 px wide); wide diagrams scroll sideways in their own box.

use super::data::{CounterexampleEntry, Report, Verdict};
use super::diagram::{ArrowKind, Diagram, Item};
use super::escape::escape;
use std::fmt::Write as _;

const CSS: &str = r#"
:root { --fail:#b42318; --fail-bg:#fde8e6; --pass:#067647; --pass-bg:#e3f6ea; --warn:#93370d; --warn-bg:#fef0c7; --muted:#667085; --line:#d0d5dd; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #101828; background: #f9fafb; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 26px 0 8px; }
.banner { padding: 12px 16px; border-radius: 8px; font-weight: 600; font-size: 17px; margin: 12px 0 18px; }
.banner.fails { background: var(--fail-bg); color: var(--fail); border: 1px solid #f5b5ae; }
.banner.conforms { background: var(--pass-bg); color: var(--pass); border: 1px solid #a6e0bf; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 10px; }
th, td { border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta td:first-child { color: var(--muted); }
.v { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px; font-weight: 600; white-space: nowrap; }
.v-pass { background: var(--pass-bg); color: var(--pass); }
.v-fail { background: var(--fail-bg); color: var(--fail); }
.v-non-strict { background: var(--warn-bg); color: var(--warn); }
.v-not-reached, .v-not-applicable { background: #eaecf0; color: #475467; }
.v-expected { background: #e0eaff; color: #3538cd; }
details > summary { cursor: pointer; font-weight: 600; margin: 8px 0; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; margin: 8px 0; }
.diff .del { color: #b42318; background: #fef3f2; display: block; }
.diff .add { color: #067647; background: #ecfdf3; display: block; }
.ce { background: #fff; border: 1px solid var(--line); border-left: 5px solid var(--fail); border-radius: 8px; padding: 6px 18px 14px; margin: 18px 0; }
.ce.nonfailing { border-left-color: #f79009; }
.diagram { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; margin: 10px 0; }
ol.steps li.div { color: var(--fail); font-weight: 600; }
.muted { color: var(--muted); }
.top { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.top h2 { margin-top: 0; }
.fam td, .fam th { padding: 2px 8px; font-size: 14px; }
"#;

fn badge(v: Verdict, expected: bool) -> String {
    let mut s = format!("<span class=\"v v-{0}\">{0}</span>", v.as_str());
    if expected && matches!(v, Verdict::Fail | Verdict::NonStrict) {
        s.push_str(" <span class=\"v v-expected\">expected</span>");
    }
    s
}

/// Approximate width in px of `text` at the diagram's 12.5 px font.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.9
}

/// Cuts `text` into lines of at most `max` characters, at spaces where possible.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > max {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(head);
        }
        if cur.chars().count() + word.chars().count() + usize::from(!cur.is_empty()) > max {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// The diagram as inline SVG.
pub fn svg(d: &Diagram) -> String {
    const COL: f64 = 164.0;
    const LEFT: f64 = 80.0;
    const ROW: f64 = 24.0;
    const HEAD: f64 = 50.0;
    const LINE: f64 = 16.0;
    let n = d.participants.len();
    let x = |i: usize| LEFT + COL * i as f64;
    let notes_span = x(n - 1) - x(0) + 120.0;
    let note_chars = (notes_span / 7.0) as usize;
    // First pass: heights and the widest label.
    let mut height = HEAD + 16.0;
    let mut right = x(n - 1) + 80.0;
    for step in &d.steps {
        height += ROW;
        for item in &step.items {
            match item {
                Item::Arrow { from, to, text, .. } => {
                    let left = x(*from.min(to));
                    right = right.max(left + 8.0 + text_width(&clip(text, 120)));
                    height += ROW;
                }
                Item::Note { over, text } => {
                    if over.0 == over.1 {
                        height += ROW;
                        right = right.max(x(over.0) + 60.0 + text_width(text) / 2.0);
                    } else {
                        height += wrap(text, note_chars).len() as f64 * LINE + 10.0;
                    }
                }
            }
        }
        height += 6.0;
    }
    height += 12.0;
    let width = right + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"system-ui, 'DejaVu Sans', sans-serif\" font-size=\"12.5\" role=\"img\">"
    );
    let _ = writeln!(
        s,
        "<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#344054\"/></marker><marker id=\"ao\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10\" fill=\"none\" stroke=\"#1570ef\" stroke-width=\"1.6\"/></marker></defs>"
    );
    // Second pass: backgrounds of the diverging step, then everything else.
    let mut y = HEAD + 16.0;
    let mut body = String::new();
    for step in &d.steps {
        let top = y;
        y += ROW;
        let mut rows = String::new();
        for item in &step.items {
            match item {
                Item::Arrow {
                    from,
                    to,
                    kind,
                    text,
                } => {
                    y += ROW;
                    let (x1, x2) = (x(*from), x(*to));
                    let (stroke, dash, marker) = match kind {
                        ArrowKind::Call => ("#344054", "", "ah"),
                        ArrowKind::Answer => ("#344054", " stroke-dasharray=\"5 4\"", "ah"),
                        ArrowKind::Webhook => ("#1570ef", "", "ao"),
                        ArrowKind::ToUser => ("#7a2e0e", "", "ah"),
                    };
                    let color = match kind {
                        ArrowKind::Webhook => "#175cd3",
                        ArrowKind::ToUser => "#7a2e0e",
                        _ => "#101828",
                    };
                    let _ = writeln!(
                        rows,
                        "<line x1=\"{x1:.0}\" y1=\"{y:.0}\" x2=\"{x2:.0}\" y2=\"{y:.0}\" stroke=\"{stroke}\" stroke-width=\"1.4\"{dash} marker-end=\"url(#{marker})\"/>"
                    );
                    let _ = writeln!(
                        rows,
                        "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"{color}\"><title>{}</title>{}</text>",
                        x1.min(x2) + 8.0,
                        y - 5.0,
                        escape(text),
                        escape(&clip(text, 120))
                    );
                }
                Item::Note { over, text } if over.0 == over.1 => {
                    y += ROW;
                    let w = text_width(text) + 16.0;
                    let cx = x(over.0);
                    let _ = writeln!(
                        rows,
                        "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{w:.0}\" height=\"20\" rx=\"3\" fill=\"#fffbe6\" stroke=\"#d6bb52\"/><text x=\"{cx:.0}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
                        cx - w / 2.0,
                        y - 15.0,
                        y - 1.0,
                        escape(text)
                    );
                }
                Item::Note { over, text } => {
                    let lines = wrap(text, note_chars);
                    let h = lines.len() as f64 * LINE + 6.0;
                    let x0 = x(over.0) - 60.0;
                    let strong = text.starts_with("DIVERGES");
                    let _ = writeln!(
                        rows,
                        "<rect x=\"{x0:.0}\" y=\"{:.0}\" width=\"{:.0}\" height=\"{h:.0}\" rx=\"3\" fill=\"{}\" stroke=\"#f04438\"/>",
                        y + 4.0,
                        x(over.1) - x(over.0) + 120.0,
                        if strong { "#fecdca" } else { "#fff" },
                    );
                    for (k, l) in lines.iter().enumerate() {
                        let _ = writeln!(
                            rows,
                            "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"#7a271a\"{}>{}</text>",
                            x0 + 8.0,
                            y + 4.0 + LINE * (k as f64 + 1.0) - 2.0,
                            if strong { " font-weight=\"700\"" } else { "" },
                            escape(l)
                        );
                    }
                    y += h + 4.0;
                }
            }
        }
        y += 6.0;
        if step.diverges {
            let _ = writeln!(
                body,
                "<rect x=\"4\" y=\"{:.0}\" width=\"{:.0}\" height=\"{:.0}\" fill=\"#fee4e2\" stroke=\"#f04438\" stroke-width=\"1.5\" rx=\"6\"/>",
                top + 2.0,
                width - 8.0,
                y - top
            );
        }
        let _ = writeln!(
            body,
            "<line x1=\"8\" y1=\"{top:.0}\" x2=\"{:.0}\" y2=\"{top:.0}\" stroke=\"#eaecf0\"/><text x=\"10\" y=\"{:.0}\" fill=\"#475467\" font-weight=\"600\">step {}{}</text>",
            width - 8.0,
            top + 17.0,
            step.index,
            if step.diverges { " — diverges" } else { "" }
        );
        body.push_str(&rows);
    }
    // Lifelines and heads (drawn under the rows' text, over backgrounds).
    let mut heads = String::new();
    for (i, p) in d.participants.iter().enumerate() {
        let cx = x(i);
        let _ = writeln!(
            heads,
            "<line x1=\"{cx:.0}\" y1=\"{HEAD:.0}\" x2=\"{cx:.0}\" y2=\"{:.0}\" stroke=\"#98a2b3\" stroke-dasharray=\"3 4\"/>",
            height - 8.0
        );
        let label = clip(&p.label, 22);
        let _ = writeln!(
            heads,
            "<rect x=\"{:.0}\" y=\"10\" width=\"{:.0}\" height=\"{:.0}\" rx=\"5\" fill=\"{}\" stroke=\"#475467\"/><text x=\"{cx:.0}\" y=\"34\" text-anchor=\"middle\" font-weight=\"600\">{}</text>",
            cx - COL / 2.0 + 6.0,
            COL - 12.0,
            HEAD - 14.0,
            if p.id == "P" { "#eef4ff" } else { "#f2f4f7" },
            escape(&label)
        );
    }
    // Backgrounds first, then lifelines, then text.
    let (backgrounds, rest): (Vec<&str>, Vec<&str>) =
        body.lines().partition(|l| l.starts_with("<rect x=\"4\""));
    for l in backgrounds {
        let _ = writeln!(s, "{l}");
    }
    s.push_str(&heads);
    for l in rest {
        let _ = writeln!(s, "{l}");
    }
    s.push_str("</svg>\n");
    s
}

fn counterexample_section(c: &CounterexampleEntry, reason: Option<&str>) -> String {
    let mut s = String::new();
    let ce = &c.counterexample;
    let d = &ce.divergence;
    let rules: Vec<&str> = c.rules.iter().map(|r| r.id()).collect();
    let _ = writeln!(
        s,
        "<section class=\"ce{}\" id=\"{}\">",
        if c.fails { "" } else { " nonfailing" },
        escape(&c.id)
    );
    let _ = writeln!(s, "<h3>{}</h3>", escape(&c.headline));
    let _ = writeln!(
        s,
        "<p>{} <span class=\"mono\">{}</span> · rules named: {} · {}</p>",
        if c.fails {
            badge(Verdict::Fail, false)
        } else if c.expected {
            "<span class=\"v v-expected\">expected deviation</span>".to_string()
        } else {
            badge(Verdict::NonStrict, false)
        },
        escape(&c.id),
        escape(&rules.join(", ")),
        escape(c.rule.summary())
    );
    if let Some(r) = reason {
        let _ = writeln!(s, "<p>Expected (<code>--expect</code>): {}</p>", escape(r));
    }
    let _ = writeln!(
        s,
        "<p class=\"muted\">Replay: <code>baton replay {}.json {}</code></p>",
        escape(&c.id),
        escape(ce.subject.replay_flags())
    );
    let _ = writeln!(s, "<ol class=\"steps\" start=\"0\">");
    for (i, op) in ce.case.ops.iter().enumerate() {
        let _ = writeln!(
            s,
            "<li{}><code>{}</code>{}</li>",
            if i == d.step { " class=\"div\"" } else { "" },
            escape(&op.to_string()),
            if i == d.step { " ← diverges" } else { "" }
        );
    }
    let _ = writeln!(s, "</ol>");
    let _ = writeln!(s, "<div class=\"diagram\">{}</div>", svg(&Diagram::of(ce)));
    let _ = writeln!(
        s,
        "<p>At step {}, the {} differs:</p><pre class=\"diff\">",
        d.step,
        d.kind().name()
    );
    for l in d.expected_text().lines() {
        let _ = write!(s, "<span class=\"del\">- {}</span>", escape(l));
    }
    for l in d.observed_text().lines() {
        let _ = write!(s, "<span class=\"add\">+ {}</span>", escape(l));
    }
    let _ = writeln!(s, "</pre>");
    let _ = writeln!(
        s,
        "<details><summary>Full counterexample text</summary><pre>{}</pre></details>",
        escape(&c.text)
    );
    let _ = writeln!(s, "</section>");
    s
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>baton report: {} — {}</title><style>{CSS}</style></head><body><main>",
        escape(&r.verdict),
        escape(&r.target)
    );
    let _ = writeln!(s, "<h1>baton certification report</h1>");
    let _ = writeln!(
        s,
        "<div class=\"banner {}\">{}</div>",
        if r.exit_code == 0 {
            "conforms"
        } else {
            "fails"
        },
        escape(&r.headline())
    );
    let _ = writeln!(
        s,
        "<div class=\"top\"><div><h2>Run</h2><table class=\"meta\">"
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(s, "<tr><td>{k}</td><td>{v}</td></tr>");
    };
    row("Target", format!("<code>{}</code>", escape(&r.target)));
    row("Kind", escape(&r.kind));
    row("baton", escape(&r.baton_version));
    if let Some(seed) = r.seed {
        row("Seed", seed.to_string());
    }
    row(
        "Cases, steps, requests",
        format!("{}, {}, {}", r.cases, r.steps, r.requests),
    );
    row(
        "Duration",
        format!("{:.1} s", r.duration_ms as f64 / 1000.0),
    );
    row("Strict", if r.strict { "yes" } else { "no" }.into());
    row("Exit code", r.exit_code.to_string());
    let _ = writeln!(s, "</table>");
    for n in &r.notes {
        let _ = writeln!(s, "<p class=\"muted\">note: {}</p>", escape(n));
    }

    let ces = r.counterexamples();
    if !ces.is_empty() {
        let _ = writeln!(s, "<p>Counterexamples: ");
        for c in &ces {
            let _ = write!(s, "<a href=\"#{0}\"><code>{0}</code></a> ", escape(&c.id));
        }
        let _ = writeln!(s, "</p>");
    }

    let _ = writeln!(s, "</div><div>");
    let _ = writeln!(s, "<h2>Verdicts by rule family</h2>");
    let _ = writeln!(
        s,
        "<table class=\"fam\"><tr><th>Family</th><th>pass</th><th>fail</th><th>non-strict</th><th>not-reached</th><th>not-applicable</th><th>deviating rules</th></tr>"
    );
    for (family, rules) in r.by_family() {
        let n = |v: Verdict| rules.iter().filter(|x| x.verdict == v).count();
        let deviating: Vec<String> = rules
            .iter()
            .filter(|x| matches!(x.verdict, Verdict::Fail | Verdict::NonStrict))
            .map(|x| {
                format!(
                    "{} {}",
                    escape(x.id.id()),
                    badge(x.verdict, x.expected.is_some())
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            family.as_str(),
            n(Verdict::Pass),
            n(Verdict::Fail),
            n(Verdict::NonStrict),
            n(Verdict::NotReached),
            n(Verdict::NotApplicable),
            deviating.join(" ")
        );
    }
    let _ = writeln!(s, "</table></div></div>");

    if !ces.is_empty() {
        let _ = writeln!(s, "<h2>Counterexamples</h2>");
        for c in &ces {
            let reason = r
                .rules
                .iter()
                .find(|x| x.id == c.rule)
                .and_then(|x| x.expected.as_deref())
                .filter(|_| c.expected);
            s.push_str(&counterexample_section(c, reason));
        }
    }

    if !r.expected_not_seen.is_empty() {
        let _ = writeln!(s, "<h2>Expected deviations not seen in this run</h2><ul>");
        for e in &r.expected_not_seen {
            let _ = writeln!(s, "<li>{}: {}</li>", escape(e.rule.id()), escape(&e.reason));
        }
        let _ = writeln!(s, "</ul>");
    }

    let _ = writeln!(s, "<h2>Every rule</h2>");
    let _ = writeln!(
        s,
        "<table><tr><th>Rule</th><th>Level</th><th>Steps</th><th>Verdict</th><th>Summary</th><th>Counterexamples</th></tr>"
    );
    for rule in &r.rules {
        let mut links: Vec<String> = rule
            .counterexamples
            .iter()
            .map(|c| format!("<a href=\"#{0}\"><code>{0}</code></a>", escape(&c.id)))
            .collect();
        links.extend(
            rule.also_named_in
                .iter()
                .map(|id| format!("<a href=\"#{0}\"><code>{0}</code></a> (also)", escape(id))),
        );
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(rule.id.id()),
            escape(&rule.level),
            rule.exercised,
            badge(rule.verdict, rule.expected.is_some()),
            escape(&rule.summary),
            links.join(" ")
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(
        s,
        "<p class=\"muted\">BP-* rules are advice for apps, not checked on a platform: not-applicable. Generated by baton {}.</p>",
        escape(&r.baton_version)
    );
    let _ = writeln!(s, "</main></body></html>");
    s
}
