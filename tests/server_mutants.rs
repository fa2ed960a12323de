//! `baton serve --mutant …` over real HTTP: the transport-level mutants
//! (which the model-level unit tests cannot see) really break what they
//! claim to break, and the same checks pass without them. Plus a few
//! decision-level mutants, to show the switch reaches the HTTP path, the
//! Instagram mutants (IG-2 .. IG-5), and `--list-mutants`.

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use baton::server::Mutant;
use baton::wire::{parse_answer, render_graph, verify_signature};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_breaks_signatures() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on { &[Mutant::WrongSecret] } else { &[] };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910001", 2, None);
        w.reset(&h).await;
        w.user_message(&h, "1", "sign me").await;
        assert_eq!(h.flush("910001").await, 2);
        for a in [A0, A1] {
            let hits = h.sink.hits(w.hook(a));
            assert_eq!(hits.len(), 1);
            let sig = hits[0].header("x-hub-signature-256").expect("a signature");
            assert_eq!(
                verify_signature(w.secret(a), &hits[0].body, sig),
                !on,
                "mutant {on}, app {a}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_delivery_sends_everything_twice() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on {
            &[Mutant::DuplicateDelivery]
        } else {
            &[]
        };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910002", 2, Some(A0));
        w.reset(&h).await;
        w.user_message(&h, "1", "once").await;
        w.ok(&h, pass(A0, "1", to_app(A1), None)).await;
        let delivered = h.flush("910002").await;
        assert_eq!(delivered, 3, "counted once either way");
        let mut events = Vec::new();
        for a in [A0, A1] {
            for hit in h.sink.hits(w.hook(a)) {
                assert!(hit.acked());
                events.extend(w.events(&hit).into_iter().map(|e| (a, e)));
            }
        }
        let want = if on { 6 } else { 3 };
        assert_eq!(events.len(), want, "mutant {on}: {events:#?}");
        if on {
            // Each event twice, acknowledged both times.
            let mut uniq = events.clone();
            uniq.dedup();
            assert_eq!(uniq.len(), 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn form_misparse_refuses_valid_form_calls() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on { &[Mutant::FormMisparse] } else { &[] };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910003", 1, None);
        w.reset(&h).await;
        w.user_message(&h, "1", "hi").await;
        for encoding in [Encoding::Form, Encoding::Json, Encoding::Query] {
            let mut op = send_text(A0, "1", "form me");
            op.transport.encoding = encoding;
            let req = render_graph(&op, &w.setup, &w.creds);
            let r = h.send(&req).await;
            if on && encoding == Encoding::Form {
                r.assert_graph_error(400, 100, None);
            } else {
                r.assert_ok();
                let got =
                    parse_answer(Edge::Messages, r.status, &r.headers, &r.body, &w.setup).unwrap();
                assert!(got.answer.is_ok());
            }
        }
    }
}

/// Two takes of an idle thread at once by different apps, `attempts`
/// times; how many attempts had both succeed.
async fn racing_takes(h: &Harness, w: &mut World, attempts: usize) -> usize {
    let mut both = 0;
    for i in 0..attempts {
        let psid = format!("{}", 100 + i);
        w.user_message(h, &psid, "hi").await; // idle: no primary
        let r0 = render_graph(&take(A0, &psid, None), &w.setup, &w.creds);
        let r1 = render_graph(&take(A1, &psid, None), &w.setup, &w.creds);
        let (a, b) = tokio::join!(h.send(&r0), h.send(&r1));
        let ok = [&a, &b].iter().filter(|r| r.status == 200).count();
        assert!(ok >= 1, "attempt {i}: neither take succeeded");
        for r in [&a, &b] {
            if r.status != 200 {
                r.assert_graph_error(400, 10, Some(2018300));
            }
        }
        if ok == 2 {
            both += 1;
        }
    }
    both
}

#[tokio::test(flavor = "multi_thread")]
async fn racy_take_lets_two_takes_succeed() {
    let h = Harness::with_mutants(&[Mutant::RacyTake]).await;
    let mut w = World::plain(&h.sink, "910004", 2, None);
    w.reset(&h).await;
    let both = racing_takes(&h, &mut w, 20).await;
    eprintln!("both takes succeeded in {both} of 20 attempts");
    assert!(both >= 1, "the race never showed in 20 attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_racy_take_concurrent_takes_are_atomic() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "910005", 2, None);
    w.reset(&h).await;
    assert_eq!(racing_takes(&h, &mut w, 20).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn decision_mutants_reach_the_http_path() {
    // unknown-token-code: 100 without WWW-Authenticate instead of 190.
    let h = Harness::with_mutants(&[Mutant::UnknownTokenCode]).await;
    let r = raw_req(
        h.server.addr,
        "GET",
        "/v19.0/me/secondary_receivers?access_token=nobody",
        &[],
        b"",
    )
    .await;
    r.assert_graph_error(400, 100, None);
    // send-non-owner: a non-owner's send is delivered.
    let h = Harness::with_mutants(&[Mutant::SendNonOwner]).await;
    let mut w = World::plain(&h.sink, "910006", 2, Some(A0));
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let r = h
        .send(&render_graph(
            &send_text(A1, "1", "sneaky"),
            &w.setup,
            &w.creds,
        ))
        .await;
    r.assert_ok();
    assert_eq!(h.transcript("910006", "1").await.len(), 1);
}

const IG: &str = "17841400000910001";

fn ig_inbox(psid: &str, action: InboxAction) -> Op {
    Op::Inbox {
        psid: psid.into(),
        action,
        platform: Surface::Instagram,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_wrong_object_writes_instagram_deliveries_as_page_ones() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on { &[Mutant::IgWrongObject] } else { &[] };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910101", 2, None).with_instagram(IG);
        w.reset(&h).await;
        w.user_message(&h, "1", "messenger").await;
        w.ig_message(&h, "700", "instagram").await;
        assert_eq!(h.flush("910101").await, 4);
        for a in [A0, A1] {
            let hits = h.sink.hits(w.hook(a));
            assert_eq!(hits.len(), 2);
            let objects: Vec<String> = hits
                .iter()
                .map(|hit| {
                    let v: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
                    // Signed all the same: only the envelope is wrong.
                    let sig = hit.header("x-hub-signature-256").unwrap();
                    assert!(verify_signature(w.secret(a), &hit.body, sig));
                    v["object"].as_str().unwrap().to_string()
                })
                .collect();
            let want = if on {
                ["page", "page"]
            } else {
                ["page", "instagram"]
            };
            assert_eq!(objects, want, "mutant {on}");
            // The harness cannot read the Instagram delivery as either
            // surface's: IG-3.
            let read = baton::wire::parse_delivery(&hits[1].body, &w.setup);
            assert_eq!(read.is_err(), on, "mutant {on}: {read:?}");
            if let Err(e) = read {
                assert!(e.to_string().contains("IG-3"), "{e}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_page_inbox_accepted_takes_the_page_inbox_id_on_instagram() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on {
            &[Mutant::IgPageInboxAccepted]
        } else {
            &[]
        };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910102", 2, Some(A0)).with_instagram(IG);
        w.reset(&h).await;
        w.ig_message(&h, "700", "hi").await;
        let req = render_graph(
            &pass(A0, "700", Some(AppRef::PageInbox), None),
            &w.setup,
            &w.creds,
        );
        let r = h.send(&req).await;
        if on {
            r.assert_ok();
            // The thread went to the Instagram Inbox, against IG-2.
            let st = h.server.platform.page_state("910102").unwrap();
            assert_eq!(st.owner("700"), Some(Party::InstagramInbox));
        } else {
            r.assert_graph_error(400, 100, Some(2018164));
        }
        // On Messenger threads the mutant changes nothing.
        w.user_message(&h, "1", "hi").await;
        let r = h
            .send(&render_graph(
                &pass(A0, "1", Some(AppRef::PageInbox), None),
                &w.setup,
                &w.creds,
            ))
            .await;
        r.assert_ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_surface_leak_releases_across_surfaces() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on { &[Mutant::IgSurfaceLeak] } else { &[] };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910103", 2, Some(A0)).with_instagram(IG);
        w.reset(&h).await;
        w.user_message(&h, "1", "messenger").await;
        w.ig_message(&h, "700", "instagram").await;
        // Releasing the Instagram thread...
        let r = h
            .send(&render_graph(&release(A0, "700"), &w.setup, &w.creds))
            .await;
        r.assert_ok();
        // ...leaves the Messenger thread to its owner, unless the mutant is on.
        let st = h.server.platform.page_state("910103").unwrap();
        let want = if on { None } else { Some(Party::App(A0)) };
        assert_eq!(st.owner("1"), want, "mutant {on}");
        let r = h
            .send(&render_graph(&thread_owner(A0, "1"), &w.setup, &w.creds))
            .await;
        r.assert_ok();
        assert_eq!(r.json()["data"].as_array().unwrap().is_empty(), on);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_survey_allowed_takes_surveys_and_user_menus_on_instagram() {
    for on in [false, true] {
        let mutants: &[Mutant] = if on { &[Mutant::IgSurveyAllowed] } else { &[] };
        let h = Harness::with_mutants(mutants).await;
        let mut w = World::plain(&h.sink, "910104", 2, Some(A0)).with_instagram(IG);
        w.reset(&h).await;
        w.ig_message(&h, "700", "hi").await;
        let survey = send(
            A0,
            "700",
            Message::Survey {
                title: Some("Rate us".into()),
            },
        );
        let r = h.send(&render_graph(&survey, &w.setup, &w.creds)).await;
        let menu = set_user_menu(A0, "700", &[choice("Help", "HELP")]);
        let m = h.send(&render_graph(&menu, &w.setup, &w.creds)).await;
        if on {
            r.assert_ok();
            m.assert_ok();
            let t = h.transcript("910104", "700").await;
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].kind, MessageKind::Survey);
            // The thread stays an Instagram thread.
            let st = h.server.platform.page_state("910104").unwrap();
            assert_eq!(st.surface("700"), Some(Surface::Instagram));
        } else {
            r.assert_graph_error(400, 100, None);
            m.assert_graph_error(400, 100, None);
            assert!(h.transcript("910104", "700").await.is_empty());
        }
        // The Instagram Inbox still works on the thread either way.
        w.sent_control(ig_inbox("700", InboxAction::MoveToMain));
    }
}

#[test]
fn list_mutants_names_every_mutant_with_its_rule() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--list-mutants"])
        .output()
        .expect("run baton");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), Mutant::ALL.len(), "{text}");
    for m in Mutant::ALL {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(m.name()))
            .unwrap_or_else(|| panic!("{} missing from:\n{text}", m.name()));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[1], m.rule().id(), "{line}");
        assert!(line.contains(m.description()), "{line}");
    }
}
