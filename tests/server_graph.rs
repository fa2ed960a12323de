//! `baton serve`, Graph API side, over real HTTP: every endpoint end to end
//! under every transport (three body encodings × four token locations ×
//! `me`/page id × with/without `vNN.N`), checked step by step against the
//! model (answers, webhooks per app and channel, transcripts, signatures);
//! plus hand-written requests and webhook bodies compared with `wire.md`
//! literally, so the test does not only trust the renderer and parser.

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use serde_json::{Value, json};
use std::sync::Arc;
use support::*;

fn apply_transport(t: Transport, mut op: GraphOp) -> GraphOp {
    op.transport = t;
    // App 2 requires appsecret_proof: every call of it carries one.
    if op.caller == Caller::App(A2) {
        op.proof = Proof::Right;
    }
    op
}

/// Three apps: A0 primary receiver, A1 with the human agent feature, A2
/// requiring `appsecret_proof`.
fn scenario_world(sink: &Sink, page_id: &str) -> World {
    let mut apps = plain_apps(page_id, 3);
    apps[1].human_agent = true;
    apps[2].require_appsecret_proof = true;
    World::new(sink, page_id, apps, Some(A0))
}

/// Every Graph endpoint and every user event, with `t` on every Graph call.
async fn scenario(h: &Harness, w: &mut World, t: Transport) {
    let g = |op| apply_transport(t, op);
    let (p, q) = ("1001", "1002");
    w.reset(h).await;
    w.user_message(h, p, "hello").await; // PRI-2: A0 owns

    // send: text with quick replies, buttons, HUMAN_AGENT tag, survey.
    let qr = Message::Text {
        text: "Pick one".into(),
        quick_replies: Some(vec![choice("Red", "RED"), choice("Blue", "BLUE")]),
    };
    let sent = w.ok(h, g(send(A0, p, qr))).await;
    assert_eq!(sent["recipient_id"], json!(p));
    assert!(sent["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    let buttons = Message::Buttons {
        text: "Want help?".into(),
        buttons: vec![choice("Yes", "YES"), choice("No", "NO")],
    };
    w.ok(h, g(send(A0, p, buttons))).await;
    w.ok(h, g(send_tagged(A1, p, "agent here"))).await; // HA-1
    w.refused(h, g(send_text(A2, p, "not mine")), 10, Some(2018300))
        .await;
    let survey = Message::Survey {
        title: Some("Rate us".into()),
    };
    w.ok(h, g(send(A2, p, survey))).await; // SURVEY-1: held

    // thread_owner: the non-owner sees only the expiration, the owner all.
    let other = w.ok(h, g(thread_owner(A1, p))).await;
    assert!(other["data"][0]["thread_owner"].get("app_id").is_none());
    let mine = w.ok(h, g(thread_owner(A0, p))).await;
    assert_eq!(
        mine["data"][0]["thread_owner"]["app_id"],
        json!(w.app_id(A0))
    );
    assert_eq!(
        mine["data"][0]["thread_owner"]["expiration"],
        json!((T0 + DAY_MS) / 1000)
    );

    // secondary_receivers: the primary only.
    let list = w.ok(h, g(secondaries(A0))).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    w.refused(h, g(secondaries(A2)), 10, None).await;

    // pass to an app, request, extend, pass to the Page Inbox, take,
    // pass with no target (to the primary), release.
    w.ok(h, g(pass(A0, p, to_app(A1), Some("to the desk"))))
        .await;
    w.ok(h, g(request(A2, p, Some("me next")))).await;
    w.ok(h, g(extend(A1, p, 3600))).await;
    w.ok(h, g(pass(A1, p, Some(AppRef::PageInbox), None))).await;
    w.ok(h, g(take(A0, p, Some("back")))).await;
    w.ok(h, g(pass(A0, p, to_app(A2), None))).await;
    w.ok(h, g(pass(A2, p, None, Some("")))).await; // PASS-4
    w.ok(h, g(release(A0, p))).await; // the held survey goes out
    let idle = w.ok(h, g(thread_owner(A1, p))).await;
    assert_eq!(idle, json!({"data": []}));

    // menus: user-level by the owner, page-level by the primary.
    w.ok(h, g(take(A2, p, None))).await;
    w.ok(h, g(set_user_menu(A2, p, &[choice("Help", "HELP")])))
        .await;
    w.refused(h, g(set_user_menu(A1, p, &[choice("X", "X")])), 10, None)
        .await;
    w.ok(h, g(delete_user_menu(A2, p))).await;
    w.ok(h, g(set_page_menu(A0, &[choice("Start", "START")])))
        .await;
    w.refused(h, g(set_page_menu(A1, &[choice("X", "X")])), 10, None)
        .await;

    // User events: menu pick (MENU-3), button tap (CTA-1), ad entry (CTM-1).
    let menu = Op::User(UserEvent::Menu {
        psid: p.into(),
        payload: "START".into(),
        title: None,
        platform: Surface::Messenger,
    });
    w.op(h, menu).await.resp.assert_ok();
    let nth = w.model.threads[p]
        .transcript
        .iter()
        .position(|m| m.entry.kind == MessageKind::Buttons)
        .expect("the button message") as u32;
    let tap = Op::User(UserEvent::Postback {
        psid: p.into(),
        message: MsgRef::Nth(nth),
        payload: "YES".into(),
        title: None,
        platform: Surface::Messenger,
    });
    w.op(h, tap).await.resp.assert_ok();
    w.ok(h, g(delete_page_menu(A0))).await;
    w.refused(h, g(request(A0, p, None)), 100, None).await;
    let ad = Op::User(UserEvent::AdEntry {
        psid: q.into(),
        app: AppRef::App(A1),
        ad_id: "ad-7".into(),
        text: "from the ad".into(),
        platform: Surface::Messenger,
    });
    w.op(h, ad).await.resp.assert_ok();
    w.ok(h, g(release(A1, q))).await;
    // Quick reply tapped by the user.
    let tapped = Op::User(UserEvent::Message {
        psid: p.into(),
        text: "Red".into(),
        quick_reply: Some("RED".into()),
        platform: Surface::Messenger,
    });
    w.op(h, tapped).await.resp.assert_ok();
    w.check(h).await;

    // The clock: A0's control (from the button tap) lapses.
    w.op(h, Op::Clock { advance_ms: DAY_MS })
        .await
        .resp
        .assert_ok();
    let lapsed = w.ok(h, g(thread_owner(A0, p))).await;
    assert_eq!(lapsed, json!({"data": []}));
    w.check(h).await;
}

/// The two scenario tests load the server enough that, run side by side,
/// deliveries miss the test sink's short timeout and get retried; they take
/// turns.
static SCENARIOS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_over_every_transport() {
    let _turn = SCENARIOS.lock().await;
    let h = Arc::new(Harness::start().await);
    let transports = every_transport();
    assert_eq!(transports.len(), 48);
    let mut tasks = Vec::new();
    for (i, t) in transports.into_iter().enumerate() {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            // One page per transport, all on one server at once.
            let mut w = scenario_world(&h.sink, &format!("5100{i:02}"));
            scenario(&h, &mut w, t).await;
            w.model.clone()
        }));
    }
    for t in tasks {
        let state = t.await.expect("scenario task");
        // Sanity: the scenario really went through the interesting states.
        assert_eq!(state.threads.len(), 2);
    }
}

/// The accepted spellings of `wire.md`'s precise points, one at a time and
/// all at once, under a few encodings and token places.
fn every_spelling() -> Vec<Transport> {
    let t = |f: &dyn Fn(&mut Transport)| {
        let mut t = Transport::default();
        f(&mut t);
        t
    };
    let all = |t: &mut Transport| {
        t.decoy_token = true;
        t.proof_upper = true;
        t.decoy_param = true;
        t.extra_param = true;
        t.recipient_as_text = true;
        t.ids_as_integers = true;
        t.explicit_nulls = true;
        t.duration_as = DurationAs::Float;
    };
    vec![
        t(&|t| t.decoy_token = true),
        t(&|t| {
            t.decoy_token = true;
            t.token_at = TokenAt::Body;
        }),
        t(&|t| {
            t.decoy_token = true;
            t.token_at = TokenAt::Body;
            t.encoding = Encoding::Form;
        }),
        t(&|t| t.proof_upper = true),
        t(&|t| t.decoy_param = true),
        t(&|t| {
            t.decoy_param = true;
            t.encoding = Encoding::Form;
        }),
        t(&|t| t.extra_param = true),
        t(&|t| {
            t.extra_param = true;
            t.encoding = Encoding::Query;
        }),
        t(&|t| t.recipient_as_text = true),
        t(&|t| t.ids_as_integers = true),
        t(&|t| {
            t.ids_as_integers = true;
            t.encoding = Encoding::Form;
        }),
        t(&|t| t.explicit_nulls = true),
        t(&|t| t.duration_as = DurationAs::Text),
        t(&|t| t.duration_as = DurationAs::Float),
        t(&|t| {
            all(t);
            t.token_at = TokenAt::Body;
        }),
        t(&|t| {
            all(t);
            t.duration_as = DurationAs::Text;
            t.encoding = Encoding::Form;
        }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_with_every_accepted_spelling() {
    // The same scenario as above, the server's answers, webhooks and
    // transcripts checked against the model at every step: a decoy token
    // or parameter that loses, an upper-case proof, an unknown parameter,
    // recipient as JSON text, ids as integers, explicit nulls, duration as
    // text or float all mean what the plain call means.
    // One page per spelling, one after the other.
    let _turn = SCENARIOS.lock().await;
    let h = Harness::start().await;
    for (i, t) in every_spelling().into_iter().enumerate() {
        let mut w = scenario_world(&h.sink, &format!("5200{i:02}"));
        // The spelling really shows in requests of the scenario.
        let shown = [extend(A2, "1001", 3600), pass(A2, "1001", None, None)]
            .into_iter()
            .any(|op| {
                let op = apply_transport(t, op);
                baton::wire::canonical(&op, &w.setup, &w.creds).transport != Transport::default()
            });
        assert!(shown, "{t:?} shows in no request");
        scenario(&h, &mut w, t).await;
        assert_eq!(w.model.threads.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_written_requests() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "620001", 2, Some(A0));
    w.reset(&h).await;
    w.user_message(&h, "42", "hi").await; // A0 owns
    let (tok0, tok1) = (w.token(A0).to_string(), w.token(A1).to_string());
    let (app0, app1) = (w.app_id(A0).to_string(), w.app_id(A1).to_string());
    let addr = h.server.addr;

    // JSON body, token in the query (the npm SDK's shape).
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/messages?access_token={tok0}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"42"},"messaging_type":"RESPONSE","message":{"text":"one"}}"#,
    )
    .await;
    r.assert_ok();
    let v = r.json();
    assert_eq!(v["recipient_id"], json!("42"));
    assert!(v["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{v}");
    w.sent_raw(send_text(A0, "42", "one"));

    // Form body with JSON-encoded object values and the token in the body
    // (Meta's Python SDK), page id as node, no version.
    let form = format!(
        "recipient=%7B%22id%22%3A%2242%22%7D&messaging_type=UPDATE&message=%7B%22text%22%3A%22two%22%7D&access_token={tok0}"
    );
    let r = raw_req(
        addr,
        "POST",
        "/620001/messages",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    r.assert_ok();
    assert_eq!(r.json()["recipient_id"], json!("42"));
    w.sent_raw(send_text(A0, "42", "two"));

    // Everything in the query, Bearer token, numeric recipient id.
    let r = raw_req(
        addr,
        "POST",
        "/v2.11/me/messages?recipient=%7B%22id%22%3A42%7D&messaging_type=RESPONSE&message=%7B%22text%22%3A%22three%22%7D",
        &[("Authorization", &format!("Bearer {tok0}"))],
        b"",
    )
    .await;
    r.assert_ok();
    assert_eq!(r.json()["recipient_id"], json!("42"));
    w.sent_raw(send_text(A0, "42", "three"));

    // OAuth token, JSON with a numeric target_app_id and metadata.
    let body = format!(r#"{{"recipient":{{"id":42}},"target_app_id":{app1},"metadata":"m1"}}"#);
    let r = raw_req(
        addr,
        "POST",
        "/v19.0/620001/pass_thread_control",
        &[
            ("Authorization", &format!("OAuth {tok0}")),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        body.as_bytes(),
    )
    .await;
    r.assert_ok();
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(pass(A0, "42", to_app(A1), Some("m1")));

    // thread_owner with a bare PSID and with JSON text; exact bodies.
    let expiration = (T0 + DAY_MS) / 1000;
    let r = raw_req(
        addr,
        "GET",
        &format!("/v19.0/me/thread_owner?recipient=42&access_token={tok1}"),
        &[],
        b"",
    )
    .await;
    r.assert_ok();
    assert_eq!(
        r.json(),
        json!({"data": [{"thread_owner": {"app_id": app1, "expiration": expiration}}]})
    );
    let r = raw_req(
        addr,
        "GET",
        &format!("/me/thread_owner?recipient=%7B%22id%22%3A%2242%22%7D&access_token={tok0}"),
        &[],
        b"",
    )
    .await;
    // A0 is the primary receiver: it sees the owner too (AUTH-4).
    assert_eq!(
        r.json(),
        json!({"data": [{"thread_owner": {"app_id": app1, "expiration": expiration}}]})
    );

    // secondary_receivers, exact body.
    let r = raw_req(
        addr,
        "GET",
        &format!("/v19.0/me/secondary_receivers?fields=id,name&access_token={tok0}"),
        &[],
        b"",
    )
    .await;
    r.assert_ok();
    assert_eq!(
        r.json(),
        json!({"data": [{"id": app1, "name": "App 1 of 620001"}]})
    );

    // Menus: POST / DELETE messenger_profile, POST / DELETE custom_user_settings.
    let menu = r#"[{"locale":"default","call_to_actions":[{"type":"postback","title":"Go","payload":"GO"}]}]"#;
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/messenger_profile?access_token={tok0}"),
        &[("Content-Type", "application/json")],
        format!(r#"{{"persistent_menu":{menu}}}"#).as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"result": "success"}));
    w.sent_raw(set_page_menu(A0, &[choice("Go", "GO")]));
    let r = raw_req(
        addr,
        "DELETE",
        &format!(
            "/v19.0/me/messenger_profile?fields=%5B%22persistent_menu%22%5D&access_token={tok0}"
        ),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.json(), json!({"result": "success"}));
    w.sent_raw(delete_page_menu(A0));
    // DELETE with a JSON body, as the npm SDK sends it.
    let r = raw_req(
        addr,
        "DELETE",
        &format!("/v19.0/me/messenger_profile?access_token={tok0}"),
        &[("Content-Type", "application/json")],
        br#"{"fields":["persistent_menu","greeting"]}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"result": "success"}), "{}", r.text());
    w.sent_raw(delete_page_menu(A0));
    let form = format!(
        "psid=42&persistent_menu={}&access_token={tok1}",
        utf8_form(menu)
    );
    let r = raw_req(
        addr,
        "POST",
        "/v19.0/me/custom_user_settings",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"result": "success"}), "{}", r.text());
    w.sent_raw(set_user_menu(A1, "42", &[choice("Go", "GO")]));
    let r = raw_req(
        addr,
        "DELETE",
        "/v19.0/me/custom_user_settings?psid=42&params=%5B%22persistent_menu%22%5D",
        &[("Authorization", &format!("Bearer {tok1}"))],
        b"",
    )
    .await;
    assert_eq!(r.json(), json!({"result": "success"}));
    w.sent_raw(delete_user_menu(A1, "42"));

    // extend: "3600" as text and 3600.0 are integers; release.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/extend_thread_control?access_token={tok1}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"recipient=%7B%22id%22%3A%2242%22%7D&duration=3600",
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(extend(A1, "42", 3600));
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/extend_thread_control?access_token={tok1}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"42"},"duration":3600.0}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(extend(A1, "42", 3600));
    let r = raw_req(
        addr,
        "POST",
        "/v19.0/me/release_thread_control",
        &[("Content-Type", "application/json")],
        format!(r#"{{"recipient":{{"id":"42"}},"access_token":"{tok1}"}}"#).as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(release(A1, "42"));

    // request on an idle thread: granted at once (REQ-2), metadata carried.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/request_thread_control?access_token={tok1}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"42"},"metadata":"please"}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(request(A1, "42", Some("please")));
    // take by the primary: A1 hears of it.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/take_thread_control?access_token={tok0}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"42"}}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(take(A0, "42", None));

    // Query and body merge; the body wins; unknown parameters are ignored.
    let r = raw_req(
        addr,
        "POST",
        &format!(
            "/v19.0/me/messages?access_token={tok0}&recipient=%7B%22id%22%3A%22999%22%7D&messaging_type=RESPONSE&foo=bar"
        ),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"42"},"message":{"text":"merged"},"unknown":{"x":1}}"#,
    )
    .await;
    r.assert_ok();
    assert_eq!(r.json()["recipient_id"], json!("42"));
    w.sent_raw(send_text(A0, "42", "merged"));

    // The webhooks against the model, then as wire.md shows them.
    assert_eq!(w.check(&h).await, 5);
    let a1 = h.sink.hits(w.hook(A1));
    let a0 = h.sink.hits(w.hook(A0));
    let events = |hits: &[Hit]| -> Vec<Value> {
        hits.iter()
            .flat_map(|hit| {
                let v: Value = serde_json::from_slice(&hit.body).unwrap();
                assert_eq!(v["object"], json!("page"));
                v["entry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|e| {
                        assert_eq!(e["id"], json!("620001"));
                        assert!(e["time"].is_u64());
                        let (ch, list) = match e.get("messaging") {
                            Some(l) => ("messaging", l),
                            None => ("standby", &e["standby"]),
                        };
                        list.as_array()
                            .unwrap()
                            .iter()
                            .map(|ev| json!({"channel": ch, "event": ev}))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let a1_events = events(&a1);
    let a0_events = events(&a0);
    let sender = json!({"id": "42"});
    let page = json!({"id": "620001"});
    // App 1: the user message on standby, the pass, the REQ-2 grant, the take.
    assert_eq!(a1_events.len(), 4, "{a1_events:#?}");
    assert_eq!(a1_events[0]["channel"], json!("standby"));
    assert_eq!(a1_events[0]["event"]["message"]["text"], json!("hi"));
    let pass_ev = &a1_events[1];
    assert_eq!(pass_ev["channel"], json!("messaging"));
    assert_eq!(pass_ev["event"]["sender"], sender);
    assert_eq!(pass_ev["event"]["recipient"], page);
    assert_eq!(pass_ev["event"]["timestamp"], json!(T0));
    assert_eq!(
        pass_ev["event"]["pass_thread_control"],
        json!({"new_owner_app_id": app1, "previous_owner_app_id": app0, "metadata": "m1"})
    );
    assert_eq!(
        a1_events[2]["event"]["pass_thread_control"],
        json!({"new_owner_app_id": app1, "previous_owner_app_id": null, "metadata": "please"})
    );
    assert_eq!(
        a1_events[3]["event"]["take_thread_control"],
        json!({"previous_owner_app_id": app1, "new_owner_app_id": app0})
    );
    // App 0: the user message on messaging, nothing else.
    assert_eq!(a0_events.len(), 1, "{a0_events:#?}");
    let m = &a0_events[0]["event"];
    assert_eq!(a0_events[0]["channel"], json!("messaging"));
    assert_eq!(m["sender"], sender);
    assert_eq!(m["recipient"], page);
    assert!(m["message"]["mid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(m["message"].get("quick_reply").is_none());
    assert!(m.get("referral").is_none());
}

/// Percent-encodes a form value.
fn utf8_form(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_as_numbers_or_strings_and_null_as_absent() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "620002", 2, None);
    w.reset(&h).await;
    w.user_message(&h, "77", "hi").await;
    let tok0 = w.token(A0).to_string();
    let app1 = w.app_id(A1).to_string();
    let addr = h.server.addr;
    let post = |edge: &str, body: String| {
        let target = format!("/v19.0/me/{edge}?access_token={tok0}");
        async move {
            raw_req(
                addr,
                "POST",
                &target,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await
        }
    };
    // `"metadata": null` counts as absent, `"tag": null` too.
    let r = post(
        "take_thread_control",
        r#"{"recipient":{"id":77},"metadata":null}"#.into(),
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(take(A0, "77", None));
    let r = post(
        "messages",
        r#"{"recipient":{"id":"77"},"messaging_type":"RESPONSE","tag":null,"message":{"text":"x","quick_replies":null}}"#.into(),
    )
    .await;
    r.assert_ok();
    w.sent_raw(send_text(A0, "77", "x"));
    // target_app_id as a string of the app id.
    let r = post(
        "pass_thread_control",
        format!(r#"{{"recipient":{{"id":"77"}},"target_app_id":"{app1}"}}"#),
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(pass(A0, "77", to_app(A1), None));
    // Malformed ids: "", true, 1.5, {} → 100.
    for bad in [r#""""#, "true", "1.5", "{}"] {
        let r = post(
            "release_thread_control",
            format!(r#"{{"recipient":{{"id":{bad}}}}}"#),
        )
        .await;
        r.assert_graph_error(400, 100, None);
    }
    w.check(&h).await;
}
