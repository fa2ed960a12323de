//! Certification reports (`--report DIR`): the content of report.json,
//! junit.xml, report.md and report.html for a run against the reference
//! server (every rule passes or is not reached) and for runs against three
//! mutants (the rule each breaks fails, and its counterexample is in all
//! four files). junit.xml is validated against tests/junit/junit.xsd and read
//! with junitparser (tests/junit/check.py).

mod report_kit;

use baton::model::Rule;
use baton::server::Mutant;
use report_kit::{Written, junit_check, run_and_write};

fn verdict<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing from report.json"))
}

#[tokio::test(flavor = "multi_thread")]
async fn reference_server_every_rule_passes_or_is_not_reached() {
    let w: Written = run_and_write("reference", &[], 3, 60).await;
    assert_eq!(w.report.exit_code(), 0, "{}", w.report.summary());

    // report.json: every rule ID, in catalogue order, with a verdict.
    let json = &w.json;
    assert_eq!(json["kind"], "run");
    assert_eq!(json["seed"], 3);
    assert_eq!(json["verdict"], "conforms");
    assert_eq!(json["baton_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["cases"], 60);
    assert!(json["steps"].as_u64().unwrap() > 60);
    assert!(json["duration_ms"].is_u64());
    assert!(json["configuration"]["max_steps"].is_u64());
    let rules = json["rules"].as_array().unwrap();
    assert_eq!(rules.len(), Rule::ALL.len());
    let mut total_steps = 0;
    for (r, rule) in rules.iter().zip(Rule::ALL) {
        assert_eq!(r["id"], rule.id());
        assert_eq!(r["level"], rule.level().as_str());
        let v = r["verdict"].as_str().unwrap();
        let n = r["exercised"].as_u64().unwrap();
        total_steps += n;
        if rule.is_platform_rule() {
            assert!(
                v == "pass" || v == "not-reached",
                "{}: {v} against the reference server",
                rule.id()
            );
            assert_eq!(v == "pass", n > 0, "{}: {v} with {n} steps", rule.id());
        } else {
            assert_eq!(v, "not-applicable", "{}", rule.id());
        }
        assert!(r["counterexamples"].as_array().unwrap().is_empty());
    }
    assert!(total_steps >= json["steps"].as_u64().unwrap());
    assert_eq!(verdict(json, "RACE-1")["verdict"], "not-reached");
    assert_eq!(verdict(json, "CTRL-2")["verdict"], "pass");

    // junit.xml: one case per rule, nothing failed; validates.
    let j = junit_check(&w.dir.join("junit.xml"));
    assert_eq!(j["cases"], Rule::ALL.len());
    assert!(j["failed"].as_array().unwrap().is_empty(), "{j}");
    assert!(
        j["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "RACE-1")
    );
    assert!(j["skipped"].as_array().unwrap().iter().any(|s| s == "BP-1"));
    assert!(!w.junit.contains("<failure"));

    // report.md: the family table, every rule line, no counterexample.
    assert!(w.md.contains("## Verdicts by rule family"), "{}", w.md);
    for fam in ["| CTRL |", "| HOOK |", "| BP |"] {
        assert!(w.md.contains(fam), "{fam}");
    }
    for rule in Rule::ALL {
        assert!(
            w.md.contains(&format!("| {} |", rule.id())),
            "{}",
            rule.id()
        );
    }
    assert!(w.md.contains("**CONFORMS"));
    assert!(!w.md.contains("```mermaid"));

    // report.html: self-contained, every rule.
    assert!(w.html.starts_with("<!DOCTYPE html>"));
    for rule in Rule::ALL {
        assert!(w.html.contains(&format!("<code>{}</code>", rule.id())));
    }
    assert!(!w.html.contains("<script") && !w.html.contains("http-equiv"));
    assert!(w.html.contains("CONFORMS"));
}

/// Runs against a mutant and checks that `rule` fails in all four files,
/// with the shrunk counterexample in each.
async fn mutant_fails_rule(m: Mutant, rule: &str) {
    let w = run_and_write(m.name(), &[m], 1, 400).await;
    assert_eq!(w.report.exit_code(), 1, "{}", w.report.summary());
    let c = w
        .report
        .counterexamples
        .iter()
        .find(|c| c.rule.id() == rule)
        .unwrap_or_else(|| panic!("no {rule} counterexample: {}", w.report.summary()));
    let id = c.stem();
    let op = c.case.ops[c.divergence.step].to_string();

    // report.json
    let r = verdict(&w.json, rule);
    assert_eq!(r["verdict"], "fail", "{r}");
    assert_eq!(r["fails"], true);
    let ces = r["counterexamples"].as_array().unwrap();
    assert_eq!(ces.len(), 1);
    assert_eq!(ces[0]["id"], id.as_str());
    assert_eq!(
        ces[0]["counterexample"]["case"]["ops"]
            .as_array()
            .unwrap()
            .len(),
        c.case.ops.len()
    );
    assert_eq!(w.json["verdict"], "fails");
    assert_eq!(w.json["exit_code"], 1);

    // junit.xml: the rule's case fails, its text is the counterexample.
    let j = junit_check(&w.dir.join("junit.xml"));
    assert!(
        j["failed"].as_array().unwrap().iter().any(|f| f == rule),
        "{j}"
    );
    let case_at = w.junit.find(&format!("name=\"{rule} (")).unwrap();
    let case = &w.junit[case_at..case_at + w.junit[case_at..].find("</testcase>").unwrap()];
    assert!(case.contains("<failure"), "{case}");
    assert!(case.contains(&id), "{case}");
    assert!(case.contains("--- expected") && case.contains("+++ observed"));

    // report.md: the family summary, the diagram with the diverging step
    // highlighted, the diff.
    assert!(w.md.contains(&format!("{rule} fail")), "family table");
    assert!(w.md.contains(&format!("### {rule} — `{id}`")), "{}", w.md);
    assert!(w.md.contains("```mermaid\nsequenceDiagram\n"));
    for p in [
        "participant U as User",
        "participant A0 as app 0",
        "participant P as Platform",
    ] {
        assert!(w.md.contains(p), "{p}");
    }
    // The inbox lifeline: both inboxes on a page with an Instagram account.
    assert!(
        w.md.contains("participant I as Page Inbox\n")
            || w.md.contains("participant I as Page/Instagram Inbox\n"),
        "{}",
        w.md
    );
    assert!(w.md.contains("    rect rgb(255, 222, 222)\n"));
    assert!(w.md.contains(&format!("Note over U,P: DIVERGES here: {rule}")));
    assert!(w.md.contains("```diff\n- "));
    assert!(w.md.contains(&format!("`{op}` **← diverges**")), "{}", w.md);

    // report.html: the same, drawn as SVG.
    assert!(
        w.html
            .contains(&format!("<section class=\"ce\" id=\"{id}\">"))
    );
    assert!(w.html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(w.html.contains(&format!("DIVERGES here: {rule}")));
    assert!(w.html.contains("class=\"del\"") && w.html.contains("class=\"add\""));
    assert!(!w.html.contains("<script"));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_non_owner_fails_ctrl_4_in_every_format() {
    mutant_fails_rule(Mutant::SendNonOwner, "CTRL-4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pass_without_webhook_fails_pass_1_in_every_format() {
    mutant_fails_rule(Mutant::PassWithoutWebhook, "PASS-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn standby_payload_leak_fails_hook_2_in_every_format() {
    mutant_fails_rule(Mutant::StandbyPayloadLeak, "HOOK-2").await;
}
