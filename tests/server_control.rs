//! `baton serve`, control API over real HTTP (`control-api.md`): every call
//! (info, reset, roles, user_event, inbox, clock, flush, transcript), its
//! errors, the `X-Conformance-Key` check on every route (401 and nothing
//! changes), and the isolation of pages from each other.

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use baton::wire::control::KEY_HEADER;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;

fn user_event(page_id: &str, body: Value) -> Value {
    let mut b = body;
    b["page_id"] = json!(page_id);
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn info_and_unknown_routes() {
    let h = Harness::start().await;
    let r = h.control("GET", "info", None).await;
    r.assert_ok();
    let v = r.json();
    assert!(v["name"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(v["version"], json!(env!("CARGO_PKG_VERSION")));
    assert_eq!(v["profiles"], json!(["hop"]));
    let mut features: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    features.sort();
    assert_eq!(
        features,
        ["clock", "flush", "instagram", "roles", "transcript"]
    );

    // Unknown routes and methods: 400 {"error"}.
    for (method, route) in [
        ("GET", "nope"),
        ("POST", "nope"),
        ("POST", "info"),
        ("GET", "reset"),
        ("PUT", "clock"),
        ("DELETE", "flush"),
        ("POST", "transcript"),
        ("GET", ""),
        ("GET", "info/extra"),
        ("PATCH", "roles"),
    ] {
        let r = h.control(method, route, Some(json!({}))).await;
        r.assert_control_error();
    }
    let r = h
        .request("GET", "/conformance", &[(KEY_HEADER, KEY)], None)
        .await;
    r.assert_control_error();
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_creates_restarts_and_refuses() {
    let h = Harness::start().await;
    let mut a = World::plain(&h.sink, "700001", 2, Some(A0));
    a.reset(&h).await;
    a.user_message(&h, "1", "hi").await;
    a.ok(&h, extend(A0, "1", 3600)).await;

    // A token already used by another page: refused, nothing created.
    let mut b = World::plain(&h.sink, "700002", 2, None);
    b.creds[1].access_token = a.token(A0).to_string();
    let r = h.post("reset", b.reset_body()).await;
    r.assert_control_error();
    assert!(r.json()["error"].as_str().unwrap().contains("token"));
    assert_eq!(h.flush("700002").await, 0);
    h.post(
        "user_event",
        user_event(
            "700002",
            json!({"type": "message", "psid": "1", "text": "x"}),
        ),
    )
    .await
    .assert_control_error();
    h.control("GET", "transcript?page_id=700002&psid=1", None)
        .await
        .assert_control_error();
    // ... and b's other token was not claimed either: a fresh page may use it.
    let mut c = World::plain(&h.sink, "700003", 1, None);
    c.creds[0].access_token = b.token(A0).to_string();
    c.reset(&h).await;
    // The token still belongs to page a, whose state is intact.
    a.ok(&h, thread_owner(A0, "1")).await;

    // Page Inbox as primary receiver: refused, nothing created.
    let mut d = World::plain(&h.sink, "700004", 2, None);
    let mut body = d.reset_body();
    body["primary_receiver"] = json!(PAGE_INBOX_APP_ID);
    h.post("reset", body).await.assert_control_error();
    h.post("clock", json!({"page_id": "700004", "advance_ms": 1}))
        .await
        .assert_control_error();
    // Other malformed configurations.
    let good = d.reset_body();
    let mut bad = Vec::new();
    let mut v = good.clone();
    v["primary_receiver"] = json!("123");
    bad.push(v); // unknown primary
    let mut v = good.clone();
    v["apps"][1]["app_id"] = v["apps"][0]["app_id"].clone();
    bad.push(v); // duplicate app ids
    let mut v = good.clone();
    v["apps"][1]["access_token"] = v["apps"][0]["access_token"].clone();
    bad.push(v); // duplicate tokens in the page
    let mut v = good.clone();
    v["apps"][0]["access_token"] = json!("");
    bad.push(v); // empty token
    let mut v = good.clone();
    v["apps"][0]["app_id"] = json!(PAGE_INBOX_APP_ID);
    bad.push(v); // the Page Inbox as an app
    let mut v = good.clone();
    v["page_id"] = json!("");
    bad.push(v);
    let mut v = good.clone();
    v["page_id"] = json!(true);
    bad.push(v);
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("page_id");
    bad.push(v);
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("apps");
    bad.push(v);
    for v in bad {
        h.post("reset", v.clone()).await.assert_control_error();
    }
    assert_eq!(h.flush("700004").await, 0);
    h.post(
        "roles",
        json!({"page_id": "700004", "primary_receiver": null}),
    )
    .await
    .assert_control_error();
    d.reset(&h).await; // the good one works

    // A page may reuse its own tokens; a reset forgets everything and
    // sends no app_roles.
    a.check(&h).await;
    a.reset(&h).await;
    a.refused(&h, thread_owner(A0, "1"), 100, Some(2018001))
        .await;
    assert_eq!(h.transcript("700001", "1").await, vec![]);
    assert_eq!(a.check(&h).await, 0);
    // The clock restarted too.
    let r = h
        .post("clock", json!({"page_id": "700001", "advance_ms": 0}))
        .await;
    assert_eq!(r.json(), json!({"now_ms": T0}));
    // A new reset with other tokens: the old ones stop working.
    let old = a.token(A1).to_string();
    a.creds[1].access_token = "EAA-700001-renewed".into();
    a.reset(&h).await;
    let r = raw_req(
        h.server.addr,
        "GET",
        &format!("/v19.0/me/secondary_receivers?access_token={old}"),
        &[],
        b"",
    )
    .await;
    r.assert_graph_error(400, 190, None);
    a.refused(&h, secondaries(A1), 10, None).await;
    // ... and the released token may be taken by another page.
    let mut e = World::plain(&h.sink, "700005", 1, None);
    e.creds[0].access_token = old;
    e.reset(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_drops_queued_deliveries() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700010", 1, None);
    w.reset(&h).await;
    h.sink.hang_always(w.hook(A0), Duration::from_secs(2));
    for i in 0..5 {
        w.user_message(&h, "1", &format!("queued {i}")).await;
    }
    // The first delivery is in flight (hanging); the rest wait behind it.
    h.sink
        .wait_hits(w.hook(A0), 1, Duration::from_secs(2))
        .await;
    w.reset(&h).await;
    h.sink.heal(w.hook(A0));
    assert_eq!(h.flush("700010").await, 0);
    // Long enough for the old queue to have sent anything it would send.
    tokio::time::sleep(Duration::from_millis(700)).await;
    for hit in h.sink.hits(w.hook(A0)) {
        let body = String::from_utf8_lossy(&hit.body).into_owned();
        assert!(body.contains("queued 0"), "sent after reset: {body}");
    }
    // The new configuration delivers normally.
    w.user_message(&h, "1", "after").await;
    assert_eq!(w.check(&h).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_send_app_roles() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700020", 3, None);
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    w.ok(&h, take(A2, "1", None)).await;
    let roles = |p: Option<AppRef>| Op::Roles { primary: p };
    w.op(&h, roles(Some(AppRef::App(A1))))
        .await
        .resp
        .assert_ok();
    assert_eq!(w.check(&h).await, 3 + 3);
    // The exact app_roles events: messaging, no sender, only its own role.
    let app1 = w.app_id(A1).to_string();
    for a in [A0, A1, A2] {
        let hit = h.sink.hits(w.hook(a)).pop().unwrap();
        let v: Value = serde_json::from_slice(&hit.body).unwrap();
        let ev = &v["entry"][0]["messaging"][0];
        assert!(ev.get("sender").is_none(), "{ev}");
        assert_eq!(ev["recipient"], json!({"id": "700020"}));
        let role = if a == A1 {
            "primary_receiver"
        } else {
            "secondary_receiver"
        };
        assert_eq!(ev["app_roles"], json!({ w.app_id(a): [role] }), "{ev}");
    }
    // Owners do not change; the same primary again sends nothing.
    w.ok(&h, thread_owner(A1, "1")).await;
    w.op(&h, roles(Some(AppRef::App(A1))))
        .await
        .resp
        .assert_ok();
    assert_eq!(w.check(&h).await, 0);
    // An integer app id names the same app.
    let r = h
        .post(
            "roles",
            json!({"page_id": 700020, "primary_receiver": app1.parse::<u64>().unwrap()}),
        )
        .await;
    r.assert_ok();
    assert_eq!(w.check(&h).await, 0);
    // Unset: everybody is secondary.
    w.op(&h, roles(None)).await.resp.assert_ok();
    assert_eq!(w.check(&h).await, 3);
    // The Page Inbox and unknown apps are refused, and change nothing.
    let r = w.op(&h, roles(Some(AppRef::PageInbox))).await;
    r.resp.assert_control_error();
    let r = w.op(&h, roles(Some(AppRef::Unknown("31337".into())))).await;
    r.resp.assert_control_error();
    w.refused(&h, pass(A2, "1", None, None), 100, None).await;
    assert_eq!(w.check(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_events_and_their_errors() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700030", 3, Some(A0));
    w.reset(&h).await;

    // message: the answer's mid is the webhook's mid.
    let s = w.user_message(&h, "1", "hello").await;
    let mid = s.json()["mid"].as_str().unwrap().to_string();
    assert_eq!(s.json(), json!({"ok": true, "mid": mid}));
    w.check(&h).await;
    for a in [A0, A1, A2] {
        let hit = h.sink.hits(w.hook(a)).pop().unwrap();
        let v: Value = serde_json::from_slice(&hit.body).unwrap();
        let ch = if a == A0 { "messaging" } else { "standby" };
        assert_eq!(v["entry"][0][ch][0]["message"]["mid"], json!(mid));
    }
    // with a quick reply payload (kept on standby too)
    let qr = Op::User(UserEvent::Message {
        psid: "1".into(),
        text: "Red".into(),
        quick_reply: Some("RED".into()),
        platform: Surface::Messenger,
    });
    w.op(&h, qr).await.resp.assert_ok();

    // postback: on an A1 button message while A0 owns (CTA-1).
    // Without the feature, the HUMAN_AGENT tag is refused (HA-2).
    w.refused(&h, send_tagged(A1, "1", "no"), 200, None).await;
    let msg = Message::Buttons {
        text: "Choose".into(),
        buttons: vec![choice("Yes", "YES"), choice("No", "NO")],
    };
    // A1 may not send while A0 owns: make it the owner first.
    w.ok(&h, pass(A0, "1", to_app(A1), None)).await;
    let sent = w.ok(&h, send(A1, "1", msg)).await;
    let button_mid = sent["message_id"].as_str().unwrap().to_string();
    w.ok(&h, pass(A1, "1", to_app(A2), None)).await;
    let nth = w.model.threads["1"].transcript.len() as u32 - 1;
    let tap = Op::User(UserEvent::Postback {
        psid: "1".into(),
        message: MsgRef::Nth(nth),
        payload: "NO".into(),
        title: None,
        platform: Surface::Messenger,
    });
    let s = w.op(&h, tap).await;
    assert!(s.json()["mid"].is_string());
    w.check(&h).await;
    // A1 got it on messaging with the payload and the button's title; the
    // others on standby without the payload (HOOK-2).
    let hooks = w.hooks.clone();
    let last = |a: AppIx| -> Value {
        let hit = h.sink.hits(&hooks[a.index()]).pop().unwrap();
        serde_json::from_slice(&hit.body).unwrap()
    };
    let v = last(A1);
    assert_eq!(
        v["entry"][0]["messaging"][0]["postback"]["payload"],
        json!("NO")
    );
    assert_eq!(
        v["entry"][0]["messaging"][0]["postback"]["title"],
        json!("No")
    );
    let v = last(A2);
    let pb = &v["entry"][0]["standby"][0]["postback"];
    assert!(pb.get("payload").is_none(), "{v}");
    assert_eq!(pb["title"], json!("No"));
    // postback errors: unknown mid, unknown payload, unknown PSID.
    let pe = |mid: &str, payload: &str, psid: &str| json!({"page_id": "700030", "type": "postback", "psid": psid, "mid": mid, "payload": payload});
    for body in [
        pe("m_nope", "YES", "1"),
        pe(&button_mid, "MAYBE", "1"),
        pe(&button_mid, "YES", "2"),
        pe(&mid, "YES", "1"), // a user message carries no buttons
    ] {
        h.post("user_event", body).await.assert_control_error();
    }
    // A title given by the caller is used.
    let r = h
        .post(
            "user_event",
            json!({"page_id": "700030", "type": "postback", "psid": "1", "mid": button_mid,
                   "payload": "YES", "title": "Yes!"}),
        )
        .await;
    r.assert_ok();
    w.sent_control(Op::User(UserEvent::Postback {
        psid: "1".into(),
        message: MsgRef::Nth(nth),
        payload: "YES".into(),
        title: Some("Yes!".into()),
        platform: Surface::Messenger,
    }));

    // menu: no menu in force is an error; a page menu gives control to
    // its setter; the user menu wins over the page menu.
    let menu = |payload: &str, title: Option<&str>| {
        Op::User(UserEvent::Menu {
            psid: "1".into(),
            payload: payload.into(),
            title: title.map(String::from),
            platform: Surface::Messenger,
        })
    };
    w.op(&h, menu("START", None))
        .await
        .resp
        .assert_control_error();
    w.ok(&h, set_page_menu(A0, &[choice("Start", "START")]))
        .await;
    w.op(&h, menu("START", None)).await.resp.assert_ok(); // A0 gets control
    w.ok(&h, set_user_menu(A0, "1", &[choice("Mine", "MINE")]))
        .await;
    w.op(&h, menu("ANYTHING", Some("Free text")))
        .await
        .resp
        .assert_ok();
    h.post(
        "user_event",
        json!({"page_id": "700030", "type": "menu", "psid": "2", "payload": "START"}),
    )
    .await
    .assert_control_error();

    // ad_entry: the named app gets control and the referral.
    let ad = |app: AppRef| {
        Op::User(UserEvent::AdEntry {
            psid: "3".into(),
            app,
            ad_id: "ad-1".into(),
            text: "from an ad".into(),
            platform: Surface::Messenger,
        })
    };
    w.op(&h, ad(AppRef::App(A2))).await.resp.assert_ok();
    w.op(&h, ad(AppRef::PageInbox))
        .await
        .resp
        .assert_control_error();
    w.op(&h, ad(AppRef::Unknown("5".into())))
        .await
        .resp
        .assert_control_error();
    w.check(&h).await;
    let v = last(A0);
    let ev = &v["entry"][0]["standby"][0];
    assert_eq!(
        ev["referral"],
        json!({"source": "ADS", "type": "OPEN_THREAD", "ad_id": "ad-1"})
    );
    assert_eq!(ev["message"]["text"], json!("from an ad"));

    // Malformed user events.
    for body in [
        json!({"page_id": "700030", "type": "message", "psid": "1"}),
        json!({"page_id": "700030", "type": "message", "text": "x"}),
        json!({"page_id": "700030", "type": "wave", "psid": "1"}),
        json!({"page_id": "700030", "psid": "1", "text": "x"}),
        json!({"page_id": "700030", "type": "postback", "psid": "1", "payload": "YES"}),
        json!({"page_id": "700030", "type": "ad_entry", "psid": "1", "app_id": "1", "text": "x"}),
        json!({"type": "message", "psid": "1", "text": "x"}),
        json!({"page_id": null, "type": "message", "psid": "1", "text": "x"}),
        json!({"page_id": "700030", "type": "message", "psid": "", "text": "x"}),
    ] {
        h.post("user_event", body).await.assert_control_error();
    }
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inbox_actions() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700040", 2, Some(A0));
    w.reset(&h).await;
    let inbox = |psid: &str, action: InboxAction| Op::Inbox {
        psid: psid.into(),
        action,
        platform: Surface::Messenger,
    };
    w.user_message(&h, "1", "hi").await; // A0 owns
    w.ok(&h, pass(A0, "1", to_app(A1), None)).await;
    // move_to_main: the Page Inbox takes; A1 hears of it (INBOX-1).
    w.op(&h, inbox("1", InboxAction::MoveToMain))
        .await
        .resp
        .assert_ok();
    // reply: delivered, from the Page Inbox.
    w.op(
        &h,
        inbox(
            "1",
            InboxAction::Reply {
                text: "a human here".into(),
            },
        ),
    )
    .await
    .resp
    .assert_ok();
    let t = h.transcript("700040", "1").await;
    let last = t.last().unwrap();
    assert_eq!(last.from_app_id, PAGE_INBOX_APP_ID);
    assert_eq!(last.kind, MessageKind::Text);
    assert_eq!(last.text, "a human here");
    // mark_done: control goes to the primary (pass_thread_control from the
    // Page Inbox).
    w.op(&h, inbox("1", InboxAction::MarkDone))
        .await
        .resp
        .assert_ok();
    w.check(&h).await;
    let hit = h.sink.hits(w.hook(A0)).pop().unwrap();
    let v: Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(
        v["entry"][0]["messaging"][0]["pass_thread_control"],
        json!({"new_owner_app_id": w.app_id(A0), "previous_owner_app_id": PAGE_INBOX_APP_ID})
    );
    // reply in a done thread: owner unchanged (INBOX-3).
    w.op(
        &h,
        inbox(
            "1",
            InboxAction::Reply {
                text: "closing".into(),
            },
        ),
    )
    .await
    .resp
    .assert_ok();
    let owner = w.ok(&h, thread_owner(A0, "1")).await;
    assert_eq!(
        owner["data"][0]["thread_owner"]["app_id"],
        json!(w.app_id(A0))
    );
    // Errors: unknown PSID, reply without text, unknown action.
    w.op(&h, inbox("9", InboxAction::MoveToMain))
        .await
        .resp
        .assert_control_error();
    for body in [
        json!({"page_id": "700040", "action": "reply", "psid": "1"}),
        json!({"page_id": "700040", "action": "archive", "psid": "1"}),
        json!({"page_id": "700040", "action": "mark_done"}),
    ] {
        h.post("inbox", body).await.assert_control_error();
    }
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_lapses_release_held_surveys() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700050", 2, None);
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    w.ok(&h, take(A0, "1", None)).await;
    w.ok(&h, extend(A0, "1", 2 * 86_400)).await; // deadline now + 48 h
    let survey = Message::Survey {
        title: Some("How did we do?".into()),
    };
    w.ok(&h, send(A1, "1", survey)).await; // held (SURVEY-1)
    w.ok(&h, send(A1, "1", Message::Survey { title: None }))
        .await;
    assert!(h.transcript("700050", "1").await.is_empty());
    let clock = |ms: u64| Op::Clock { advance_ms: ms };
    // 24 h: the extension holds.
    let s = w.op(&h, clock(DAY_MS)).await;
    assert_eq!(s.json(), json!({"now_ms": T0 + DAY_MS}));
    assert!(h.transcript("700050", "1").await.is_empty());
    // 0 ms is fine; just before the deadline nothing lapses.
    w.op(&h, clock(0)).await.resp.assert_ok();
    w.op(&h, clock(DAY_MS - 1)).await.resp.assert_ok();
    assert!(h.transcript("700050", "1").await.is_empty());
    // Reaching the deadline exactly lapses it; the surveys go out in order.
    w.op(&h, clock(1)).await.resp.assert_ok();
    let t = h.transcript("700050", "1").await;
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].kind, t[0].text.as_str(), t[0].from_app_id.as_str()),
        (MessageKind::Survey, "How did we do?", w.app_id(A1))
    );
    assert_eq!(t[1].text, "");
    let idle = w.ok(&h, thread_owner(A0, "1")).await;
    assert_eq!(idle, json!({"data": []}));
    // Bad clock calls.
    for body in [
        json!({"page_id": "700050", "advance_ms": -1}),
        json!({"page_id": "700050", "advance_ms": 1.5}),
        json!({"page_id": "700050"}),
        json!({"advance_ms": 1}),
    ] {
        h.post("clock", body).await.assert_control_error();
    }
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flush_waits_and_counts() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700060", 2, None);
    w.reset(&h).await;
    // Never reset → {"delivered":0}; reset but idle → 0.
    assert_eq!(h.flush("700069").await, 0);
    assert_eq!(h.flush("700060").await, 0);
    // A slow receiver: flush returns only once it has answered.
    h.sink.slow_next(w.hook(A1), 1, Duration::from_millis(250));
    w.user_message(&h, "1", "hi").await;
    let started = Instant::now();
    let delivered = w.check(&h).await;
    assert!(
        started.elapsed() >= Duration::from_millis(240),
        "flush returned after {:?}",
        started.elapsed()
    );
    assert_eq!(delivered, 2);
    // Counts only since the previous flush.
    assert_eq!(h.flush("700060").await, 0);
    for i in 0..10 {
        w.user_message(&h, "1", &format!("m{i}")).await;
    }
    assert_eq!(w.check(&h).await, 20);
    // flush with an integer page_id; malformed flushes.
    let r = h.post("flush", json!({"page_id": 700060})).await;
    assert_eq!(r.json(), json!({"delivered": 0}));
    for body in [json!({}), json!({"page_id": true}), json!({"page_id": ""})] {
        let r = h.post("flush", body.clone()).await;
        // An empty page id names no page (0); anything else malformed is 400.
        if body["page_id"] == json!("") {
            assert!(r.status == 400 || r.json() == json!({"delivered": 0}));
        } else {
            r.assert_control_error();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transcripts_and_pages_never_reset() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700070", 1, None);
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let buttons = Message::Buttons {
        text: "Tap".into(),
        buttons: vec![choice("A", "A")],
    };
    let sent = w.ok(&h, send(A0, "1", buttons)).await;
    // The transcript, exact.
    let r = h
        .control("GET", "transcript?page_id=700070&psid=1", None)
        .await;
    assert_eq!(
        r.json(),
        json!({"data": [{"mid": sent["message_id"], "from_app_id": w.app_id(A0),
                         "kind": "buttons", "text": "Tap"}]})
    );
    // Unknown PSID → {"data":[]}.
    let r = h
        .control("GET", "transcript?page_id=700070&psid=404", None)
        .await;
    assert_eq!(r.json(), json!({"data": []}));
    // Missing parameters → 400.
    for q in [
        "transcript?page_id=700070",
        "transcript?psid=1",
        "transcript",
    ] {
        h.control("GET", q, None).await.assert_control_error();
    }

    // A page never reset: 400 to everything but flush.
    let never = "700079";
    for (route, body) in [
        ("roles", json!({"page_id": never, "primary_receiver": null})),
        (
            "user_event",
            json!({"page_id": never, "type": "message", "psid": "1", "text": "x"}),
        ),
        (
            "inbox",
            json!({"page_id": never, "action": "move_to_main", "psid": "1"}),
        ),
        ("clock", json!({"page_id": never, "advance_ms": 1})),
    ] {
        h.post(route, body).await.assert_control_error();
    }
    h.control("GET", &format!("transcript?page_id={never}&psid=1"), None)
        .await
        .assert_control_error();
    assert_eq!(h.flush(never).await, 0);
    // Still never reset.
    h.post("clock", json!({"page_id": never, "advance_ms": 1}))
        .await
        .assert_control_error();
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn integer_page_ids() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700080", 2, None);
    let mut body = w.reset_body();
    body["page_id"] = json!(700080);
    h.post("reset", body).await.assert_ok();
    let r = h
        .post(
            "user_event",
            json!({"page_id": 700080, "type": "message", "psid": 5, "text": "hi"}),
        )
        .await;
    r.assert_ok();
    w.sent_control(user_message("5", "hi"));
    let r = h
        .post(
            "inbox",
            json!({"page_id": 700080, "action": "reply", "psid": 5, "text": "hello"}),
        )
        .await;
    r.assert_ok();
    w.sent_control(Op::Inbox {
        psid: "5".into(),
        action: InboxAction::Reply {
            text: "hello".into(),
        },
        platform: Surface::Messenger,
    });
    let r = h
        .post("clock", json!({"page_id": 700080, "advance_ms": 5}))
        .await;
    assert_eq!(r.json(), json!({"now_ms": T0 + 5}));
    w.sent_control(Op::Clock { advance_ms: 5 });
    assert_eq!(h.transcript("700080", "5").await.len(), 1);
    // The Graph side knows the page by its id string.
    w.ok(&h, {
        let mut op = thread_owner(A0, "5");
        op.transport.page_node = true;
        op
    })
    .await;
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn message_ids_are_unique_across_pages_and_resets() {
    let h = Harness::start().await;
    let mut a = World::plain(&h.sink, "700090", 1, None);
    let mut b = World::plain(&h.sink, "700091", 1, None);
    let mut mids = std::collections::HashSet::new();
    for round in 0..2 {
        a.reset(&h).await;
        b.reset(&h).await;
        for w in [&mut a, &mut b] {
            let s = w.user_message(&h, "1", "hi").await;
            assert!(mids.insert(s.json()["mid"].as_str().unwrap().to_string()));
            let sent = w.ok(&h, send_text(A0, "1", "yo")).await;
            assert!(
                mids.insert(sent["message_id"].as_str().unwrap().to_string()),
                "round {round}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The key check.

#[tokio::test(flavor = "multi_thread")]
async fn every_control_route_needs_the_key() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "700100", 2, Some(A0));
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await; // A0 owns
    w.ok(&h, send(A1, "1", Message::Survey { title: None }))
        .await; // held
    let owner_before = w.ok(&h, thread_owner(A0, "1")).await;
    // Deliveries made before: the unkeyed flush must not count them away.
    let mut other = World::plain(&h.sink, "700101", 1, None);
    let wrong_case = KEY.to_uppercase();
    let with_suffix = format!("{KEY}x");
    let prefix = &KEY[..KEY.len() - 1];
    let keys: [Option<&str>; 5] = [
        None,
        Some(""),
        Some("nope"),
        Some(&wrong_case),
        Some(&with_suffix),
    ];
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "info".into(), None),
        ("POST", "reset".into(), Some(other.reset_body())),
        (
            "POST",
            "reset".into(),
            Some({
                let mut v = w.reset_body();
                v["primary_receiver"] = Value::Null;
                v
            }),
        ),
        (
            "POST",
            "roles".into(),
            Some(json!({"page_id": "700100", "primary_receiver": w.app_id(A1)})),
        ),
        (
            "POST",
            "user_event".into(),
            Some(json!({"page_id": "700100", "type": "message", "psid": "9", "text": "x"})),
        ),
        (
            "POST",
            "user_event".into(),
            Some(
                json!({"page_id": "700100", "type": "ad_entry", "psid": "1", "app_id": w.app_id(A1), "ad_id": "a", "text": "x"}),
            ),
        ),
        (
            "POST",
            "inbox".into(),
            Some(json!({"page_id": "700100", "action": "move_to_main", "psid": "1"})),
        ),
        (
            "POST",
            "clock".into(),
            Some(json!({"page_id": "700100", "advance_ms": 3 * DAY_MS})),
        ),
        ("POST", "flush".into(), Some(json!({"page_id": "700100"}))),
        ("GET", "transcript?page_id=700100&psid=1".into(), None),
        ("GET", "nope".into(), None),
        ("GET", "".into(), None),
        ("DELETE", "reset".into(), None),
    ];
    for key in keys {
        for (method, route, body) in &calls {
            let r = h.control_keyed(key, method, route, body.clone()).await;
            assert_eq!(r.status, 401, "{method} {route} with key {key:?}");
            assert!(r.json()["error"].is_string());
        }
    }
    // The key in another header, or in the query, does not count.
    let r = h
        .request(
            "GET",
            &format!("/conformance/info?key={KEY}&X-Conformance-Key={KEY}"),
            &[("Authorization", &format!("Bearer {KEY}"))],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    let r = h.control_keyed(Some(prefix), "GET", "info", None).await;
    assert_eq!(r.status, 401);

    // Nothing changed: the owner and its deadline, the held survey, the
    // primary (no app_roles), no new PSID, the other page never created,
    // and flush still counts the earlier deliveries.
    let owner_after = w.ok(&h, thread_owner(A0, "1")).await;
    assert_eq!(owner_before, owner_after);
    w.refused(&h, thread_owner(A0, "9"), 100, Some(2018001))
        .await;
    assert!(h.transcript("700100", "1").await.is_empty());
    let r = h
        .post("clock", json!({"page_id": "700100", "advance_ms": 0}))
        .await;
    assert_eq!(r.json(), json!({"now_ms": T0}));
    w.sent_control(Op::Clock { advance_ms: 0 });
    h.post("clock", json!({"page_id": "700101", "advance_ms": 0}))
        .await
        .assert_control_error();
    assert_eq!(w.check(&h).await, 2);
    // With the key everything works (the other page can be created now).
    other.reset(&h).await;
    let r = h
        .request(
            "GET",
            "/conformance/info",
            &[("x-CONFORMANCE-key", KEY)],
            None,
        )
        .await;
    r.assert_ok();
}

// ---------------------------------------------------------------------------
// Pages are separate worlds.

#[tokio::test(flavor = "multi_thread")]
async fn pages_are_isolated() {
    let h = Harness::start().await;
    // Both pages have an app "4242" (app ids are per page) and a PSID "1".
    let mut apps_p = plain_apps("800001", 2);
    apps_p[0].app_id = "4242".into();
    let mut apps_q = plain_apps("800002", 3);
    apps_q[1].app_id = "4242".into();
    let mut p = World::new(&h.sink, "800001", apps_p, Some(A0));
    let mut q = World::new(&h.sink, "800002", apps_q, None);
    p.reset(&h).await;
    q.reset(&h).await;
    p.user_message(&h, "1", "to p").await; // P: A0 owns
    q.user_message(&h, "1", "to q").await; // Q: idle, no primary
    q.ok(&h, take(A1, "1", Some("q takes"))).await;
    p.ok(&h, pass(A0, "1", to_app(A1), Some("p passes"))).await;

    // P's clock lapses P's thread only; Q's clock has not moved.
    p.op(&h, Op::Clock { advance_ms: DAY_MS })
        .await
        .resp
        .assert_ok();
    assert_eq!(p.ok(&h, thread_owner(A0, "1")).await, json!({"data": []}));
    let q_owner = q.ok(&h, thread_owner(A1, "1")).await;
    assert_eq!(
        q_owner["data"][0]["thread_owner"]["expiration"],
        json!((T0 + DAY_MS) / 1000)
    );
    let s = q.op(&h, Op::Clock { advance_ms: 0 }).await;
    assert_eq!(s.json(), json!({"now_ms": T0}));

    // A token of P with Q's page id in the path → 400/100, and nothing
    // happens on either page.
    let addr = h.server.addr;
    for (edge, method, body) in [
        ("take_thread_control", "POST", r#"{"recipient":{"id":"1"}}"#),
        ("thread_owner?recipient=1", "GET", ""),
        ("secondary_receivers", "GET", ""),
    ] {
        let sep = if edge.contains('?') { '&' } else { '?' };
        let r = raw_req(
            addr,
            method,
            &format!("/v19.0/800002/{edge}{sep}access_token={}", p.token(A0)),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        r.assert_graph_error(400, 100, None);
    }
    // P's token with P's id works; Q's token with P's id does not.
    let mut op = take(A0, "1", None);
    op.transport.page_node = true;
    p.ok(&h, op).await;
    let r = raw_req(
        addr,
        "GET",
        &format!(
            "/v19.0/800001/thread_owner?recipient=1&access_token={}",
            q.token(A1)
        ),
        &[],
        b"",
    )
    .await;
    r.assert_graph_error(400, 100, None);

    // Resetting P leaves Q alone (threads, queue, counters).
    q.user_message(&h, "1", "q again").await;
    p.check(&h).await;
    p.reset(&h).await;
    q.ok(&h, thread_owner(A1, "1")).await;
    q.check(&h).await;

    // Concurrent work on both pages, each checked against its own model.
    let (hp, hq) = (&h, &h);
    let work_p = async {
        p.user_message(hp, "2", "p2").await;
        for i in 0..10 {
            p.ok(hp, send_text(A0, "2", &format!("p {i}"))).await;
        }
        p.op(hp, Op::Clock { advance_ms: 5 }).await;
    };
    let work_q = async {
        q.user_message(hq, "2", "q2").await;
        for i in 0..10 {
            q.ok(hq, send_text(A2, "2", &format!("q {i}"))).await;
        }
        q.op(
            hq,
            Op::Roles {
                primary: Some(AppRef::App(A2)),
            },
        )
        .await;
    };
    tokio::join!(work_p, work_q);
    assert_eq!(p.check(&h).await, 2);
    assert_eq!(q.check(&h).await, 3 + 3);
    // PSIDs are per page: P's "2" is unknown to a fresh page R.
    let mut r = World::plain(&h.sink, "800003", 1, None);
    r.reset(&h).await;
    r.refused(&h, thread_owner(A0, "2"), 100, Some(2018001))
        .await;
}

/// The server's own count of the requests it answered (what `baton bench`
/// checks the harness's count against): every control and Graph request,
/// refusals, wrong keys and oversized bodies included; nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_counts_every_request_it_answers() {
    let h = Harness::start().await;
    let p = &h.server.platform;
    assert_eq!(p.requests_answered(), 0);
    h.control("GET", "info", None).await.assert_ok();
    h.control("GET", "nope", None).await.assert_control_error();
    let r = h.control_keyed(Some("wrong"), "GET", "info", None).await;
    assert_eq!(r.status, 401);
    let r = h
        .request("POST", "/v19.0/me/messages?access_token=unknown", &[], None)
        .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let big = vec![b'x'; baton::server::BODY_LIMIT + 1];
    let r = h
        .request("POST", "/v19.0/me/messages", &[], Some(big))
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(p.requests_answered(), 5);
    assert_eq!(p.resets(), 0);
    // Accepted resets are counted apart (and are requests too); a refused
    // one is a request but no reset.
    let mut w = World::plain(&h.sink, "700101", 2, None);
    w.reset(&h).await;
    w.reset(&h).await;
    let r = h.post("reset", json!({"page_id": "700102"})).await;
    r.assert_control_error();
    assert_eq!((p.requests_answered(), p.resets()), (8, 2));
}
