//! `baton serve` with pages that have a linked Instagram account, over real
//! HTTP: Instagram deliveries in their own envelopes (IG-3) with the
//! Instagram account as entry and recipient id, signed for their receiver
//! (HOOK-4) and never sharing a POST with Messenger events; the control API's
//! `instagram_account_id` and `platform`; the Instagram Inbox (IG-2); the
//! `platform` parameter of `messenger_profile` and `secondary_receivers`
//! (IG-5, IG-6). Every step is also checked against the model by [`World`].

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use support::*;

const IG: &str = "17841400000900001";

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn ig_page(h: &Harness, page_id: &str, apps: usize, primary: Option<AppIx>) -> World {
    World::plain(&h.sink, page_id, apps, primary).with_instagram(IG)
}

fn ig_op(op: Op) -> Op {
    match op {
        Op::Inbox { psid, action, .. } => Op::Inbox {
            psid,
            action,
            platform: Surface::Instagram,
        },
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_3_instagram_deliveries_name_the_instagram_account_and_are_signed() {
    let h = Harness::start().await;
    let mut w = ig_page(&h, "930001", 3, Some(A0));
    w.reset(&h).await;
    w.ig_message(&h, "700", "hi from instagram").await;
    w.ok(&h, pass(A0, "700", to_app(A1), Some("lead"))).await;
    w.ok(&h, request(A2, "700", None)).await;
    w.check(&h).await;
    let mut kinds = std::collections::BTreeSet::new();
    for (i, hook) in w.hooks.iter().enumerate() {
        let hits = h.sink.hits(hook);
        assert!(!hits.is_empty(), "app {i}");
        for hit in &hits {
            let v: Value = serde_json::from_slice(&hit.body).unwrap();
            assert_eq!(v["object"], json!("instagram"), "{v}");
            for entry in v["entry"].as_array().unwrap() {
                assert_eq!(entry["id"], json!(IG));
                for ch in ["messaging", "standby"] {
                    for ev in entry[ch].as_array().into_iter().flatten() {
                        assert_eq!(ev["recipient"]["id"], json!(IG), "{ev}");
                        assert_eq!(ev["sender"]["id"], json!("700"), "{ev}");
                    }
                }
            }
            // HOOK-4, independently of baton's verifier.
            let sig = hit.header("x-hub-signature-256").unwrap();
            assert_eq!(
                sig,
                format!("sha256={}", hmac_hex(&w.creds[i].app_secret, &hit.body))
            );
            for (_, ev) in w.events(hit) {
                assert_eq!(ev.surface, Surface::Instagram);
                kinds.insert(ev.kind.name());
            }
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["message", "pass_thread_control", "request_thread_control"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_3_one_delivery_never_mixes_the_surfaces() {
    let mut config = baton::server::ServerConfig::new(KEY.to_string());
    config.delivery = fast_delivery();
    config.delivery.timeout = Duration::from_secs(5);
    let h = Harness::with_config(config).await;
    let mut w = ig_page(&h, "930002", 2, None);
    w.reset(&h).await;
    // The first delivery to app 0 is slow (but answered in time), so what
    // follows queues up and is batched: Messenger, Messenger, Instagram,
    // Instagram, Messenger.
    h.sink.slow_next(w.hook(A0), 1, Duration::from_millis(800));
    w.user_message(&h, "1", "m0").await;
    for (psid, text, ig) in [
        ("1", "m1", false),
        ("2", "m2", false),
        ("700", "i1", true),
        ("701", "i2", true),
        ("2", "m3", false),
    ] {
        if ig {
            w.ig_message(&h, psid, text).await;
        } else {
            w.user_message(&h, psid, text).await;
        }
    }
    // In order, each event once, signed (World::check).
    w.check(&h).await;
    let hits = h.sink.hits(w.hook(A0));
    let mut shapes = Vec::new();
    for hit in &hits {
        let v: Value = serde_json::from_slice(&hit.body).unwrap();
        let events = w.events(hit);
        let surfaces: std::collections::BTreeSet<Surface> =
            events.iter().map(|(_, e)| e.surface).collect();
        assert_eq!(surfaces.len(), 1, "a mixed delivery: {v}");
        let want = if surfaces.contains(&Surface::Instagram) {
            "instagram"
        } else {
            "page"
        };
        assert_eq!(v["object"], json!(want));
        shapes.push((want, events.len()));
    }
    // The queued events went out as [m1, m2], [i1, i2], [m3]: batched within
    // a surface, cut where the surface changes.
    assert_eq!(
        shapes,
        [("page", 1), ("page", 2), ("instagram", 2), ("page", 1)],
        "{shapes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_the_control_api_knows_the_surfaces() {
    let h = Harness::start().await;
    // A page without an Instagram account refuses Instagram user events.
    let mut plain = World::plain(&h.sink, "930003", 2, None);
    plain.reset(&h).await;
    let r = h
        .post(
            "user_event",
            json!({"page_id": "930003", "type": "message", "platform": "instagram",
                   "psid": "700", "text": "hi"}),
        )
        .await;
    r.assert_control_error();
    // An unknown platform value is a control-API error too.
    let r = h
        .post(
            "user_event",
            json!({"page_id": "930003", "type": "message", "platform": "whatsapp",
                   "psid": "700", "text": "hi"}),
        )
        .await;
    r.assert_control_error();
    // A bad instagram_account_id is refused and creates nothing.
    let mut body = plain.reset_body();
    body["page_id"] = json!("930004");
    body["instagram_account_id"] = json!("930004");
    for a in body["apps"].as_array_mut().unwrap() {
        a["access_token"] = json!(format!("{}-x", a["access_token"].as_str().unwrap()));
    }
    h.post("reset", body).await.assert_control_error();
    // With the account: the first event decides the surface of an id.
    let mut w = ig_page(&h, "930005", 2, None);
    w.reset(&h).await;
    assert_eq!(w.reset_body()["instagram_account_id"], json!(IG));
    w.ig_message(&h, "700", "hi").await;
    w.user_message(&h, "1", "hi").await;
    for op in [
        user_message("700", "same id on messenger"),
        ig_user_message("1", "same id on instagram"),
        ig_op(Op::Inbox {
            psid: "1".into(),
            action: InboxAction::MoveToMain,
            platform: Surface::Messenger,
        }),
        Op::Inbox {
            psid: "700".into(),
            action: InboxAction::MoveToMain,
            platform: Surface::Messenger,
        },
    ] {
        w.op(&h, op).await.resp.assert_control_error();
    }
    w.check(&h).await;
    // The transcript of an IGSID works unchanged.
    assert!(h.transcript("930005", "700").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_2_the_instagram_inbox_over_http() {
    let h = Harness::start().await;
    let mut w = ig_page(&h, "930006", 2, Some(A0));
    w.reset(&h).await;
    w.ig_message(&h, "700", "hi").await;
    w.user_message(&h, "1", "hi").await;
    // The Page Inbox is no target on Instagram, the Instagram Inbox none on
    // Messenger; ids as strings or numbers alike.
    let r = raw_req(
        h.server.addr,
        "POST",
        &format!("/v19.0/me/pass_thread_control?access_token={}", w.token(A0)),
        &[("content-type", "application/json")],
        json!({"recipient": {"id": "700"}, "target_app_id": 263902037430900u64})
            .to_string()
            .as_bytes(),
    )
    .await;
    r.assert_graph_error(400, 100, Some(2018164));
    w.refused(
        &h,
        pass(A0, "1", Some(AppRef::InstagramInbox), None),
        100,
        Some(2018164),
    )
    .await;
    w.ok(
        &h,
        pass(A0, "700", Some(AppRef::InstagramInbox), Some("qualified")),
    )
    .await;
    w.refused(&h, send_text(A0, "700", "bot"), 10, Some(2018300))
        .await;
    let reply = ig_op(Op::Inbox {
        psid: "700".into(),
        action: InboxAction::Reply {
            text: "Sam here".into(),
        },
        platform: Surface::Messenger,
    });
    w.op(&h, reply).await.resp.assert_ok();
    let t = h.transcript("930006", "700").await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].from_app_id, INSTAGRAM_INBOX_APP_ID);
    let done = ig_op(Op::Inbox {
        psid: "700".into(),
        action: InboxAction::MarkDone,
        platform: Surface::Messenger,
    });
    w.op(&h, done).await.resp.assert_ok();
    let v = w.ok(&h, thread_owner(A0, "700")).await;
    assert_eq!(v["data"][0]["thread_owner"]["app_id"], json!(w.app_id(A0)));
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ig_5_and_ig_6_platform_parameters_over_http() {
    let h = Harness::start().await;
    let mut w = ig_page(&h, "930007", 3, Some(A1));
    w.reset(&h).await;
    w.ig_message(&h, "700", "hi").await;
    w.user_message(&h, "1", "hi").await;
    // The Instagram page menu, in the query or in the body, any case.
    let menu = |platform: &str, encoding: Encoding| {
        let mut op = GraphOp::by(
            A1,
            Call::SetPageMenu {
                items: vec![choice("Book", "BOOK")],
                platform: Some(platform.into()),
            },
        );
        op.transport.encoding = encoding;
        op
    };
    w.ok(&h, menu("instagram", Encoding::Json)).await;
    w.ok(&h, menu("INSTAGRAM", Encoding::Query)).await;
    w.ok(&h, menu("Instagram", Encoding::Form)).await;
    w.refused(&h, menu("whatsapp", Encoding::Json), 100, None)
        .await;
    w.refused(
        &h,
        GraphOp::by(
            A0,
            Call::SetPageMenu {
                items: vec![choice("X", "X")],
                platform: Some("instagram".into()),
            },
        ),
        10,
        None,
    )
    .await;
    // A pick on Instagram uses it; surveys and user menus are refused there.
    let pick = Op::User(UserEvent::Menu {
        psid: "700".into(),
        payload: "BOOK".into(),
        title: None,
        platform: Surface::Instagram,
    });
    w.op(&h, pick).await.resp.assert_ok();
    let survey = send(
        A2,
        "700",
        Message::Survey {
            title: Some("Rate us".into()),
        },
    );
    w.refused(&h, survey, 100, None).await;
    w.refused(&h, set_user_menu(A1, "700", &[choice("H", "H")]), 100, None)
        .await;
    w.ok(
        &h,
        GraphOp::by(
            A1,
            Call::DeletePageMenu {
                platform: Some("instagram".into()),
            },
        ),
    )
    .await;
    // secondary_receivers?platform=…: the same list, or 400 / 100.
    let secondaries_on = |platform: &str| {
        GraphOp::by(
            A1,
            Call::SecondaryReceivers {
                platform: Some(platform.into()),
            },
        )
    };
    let plain = w.ok(&h, secondaries(A1)).await;
    for p in ["instagram", "INSTAGRAM", "messenger", "Messenger"] {
        assert_eq!(w.ok(&h, secondaries_on(p)).await, plain, "{p}");
    }
    w.refused(&h, secondaries_on("threads"), 100, None).await;
    let r = raw_req(
        h.server.addr,
        "GET",
        &format!(
            "/v19.0/me/secondary_receivers?fields=id,name&platform=instagram&access_token={}",
            w.token(A1)
        ),
        &[],
        b"",
    )
    .await;
    r.assert_ok();
    assert_eq!(r.json(), plain);
    // A `platform` that is no text is a malformed parameter (INPUT-1): 100.
    let r = raw_req(
        h.server.addr,
        "POST",
        &format!("/v19.0/me/messenger_profile?access_token={}", w.token(A1)),
        &[("content-type", "application/json")],
        json!({"platform": 1, "persistent_menu": [{"locale": "default",
               "call_to_actions": [{"type": "postback", "title": "X", "payload": "X"}]}]})
        .to_string()
        .as_bytes(),
    )
    .await;
    r.assert_graph_error(400, 100, None);
    w.check(&h).await;
}
