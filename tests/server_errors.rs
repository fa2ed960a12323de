//! `baton serve`, Graph API errors over real HTTP: every row of `wire.md`'s
//! error table (status, `code`, `error_subcode`, the envelope, and
//! `WWW-Authenticate` with 190), the order of checks, and bad input that
//! must never get a 5xx, a hang or a dropped connection.
//!
//! Each refusal goes through a [`World`], so besides the code the spec
//! names, the model must agree, and [`World::check`] proves that refused
//! calls delivered nothing (CTRL-5).

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use serde_json::{Value, json};
use support::*;

/// A0 primary, A1 human agent, A2 requires appsecret_proof, A3 plain.
fn four_apps(sink: &Sink, page_id: &str) -> World {
    let mut apps = plain_apps(page_id, 4);
    apps[1].human_agent = true;
    apps[2].require_appsecret_proof = true;
    World::new(sink, page_id, apps, Some(A0))
}

fn with_proof(mut op: GraphOp, proof: Proof) -> GraphOp {
    op.proof = proof;
    op
}

fn as_caller(mut op: GraphOp, caller: Caller) -> GraphOp {
    op.caller = caller;
    op
}

const NOT_OWNER: (u64, Option<u64>) = (10, Some(2018300));

#[tokio::test(flavor = "multi_thread")]
async fn every_row_of_the_error_table() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630001");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await; // A0 (primary) owns "1"
    w.user_message(&h, "2", "hi").await;
    w.ok(&h, release(A0, "2")).await; // "2" is idle

    // Another owner holds the thread: send, pass, non-primary take,
    // release, extend → 10 / 2018300.
    let (c, s) = NOT_OWNER;
    w.refused(&h, send_text(A3, "1", "x"), c, s).await;
    w.refused(&h, pass(A3, "1", to_app(A1), None), c, s).await;
    w.refused(&h, take(A3, "1", None), c, s).await;
    w.refused(&h, release(A3, "1"), c, s).await;
    w.refused(&h, extend(A3, "1", 60), c, s).await;

    // The caller already owns (take, request), or passes to itself → 100.
    w.refused(&h, take(A0, "1", None), 100, None).await;
    w.refused(&h, request(A0, "1", None), 100, None).await;
    w.refused(&h, pass(A0, "1", to_app(A0), None), 100, None)
        .await;

    // Release or extend on an idle thread → 100.
    w.refused(&h, release(A3, "2"), 100, None).await;
    w.refused(&h, extend(A3, "2", 60), 100, None).await;

    // Unknown target_app_id → 100 / 2018164.
    let unknown = Some(AppRef::Unknown("99999999".into()));
    w.refused(&h, pass(A0, "1", unknown, None), 100, Some(2018164))
        .await;

    // No target_app_id and no primary receiver → 100.
    let unset = Op::Roles { primary: None };
    w.op(&h, unset).await.resp.assert_ok();
    w.refused(&h, pass(A0, "1", None, None), 100, None).await;
    let back = Op::Roles {
        primary: Some(AppRef::App(A0)),
    };
    w.op(&h, back).await.resp.assert_ok();

    // PSID unknown to the page → 100 / 2018001, on every PSID edge.
    for op in [
        send_text(A0, "404", "x"),
        pass(A0, "404", to_app(A1), None),
        take(A0, "404", None),
        request(A0, "404", None),
        release(A0, "404"),
        extend(A0, "404", 60),
        thread_owner(A0, "404"),
        set_user_menu(A0, "404", &[choice("a", "A")]),
        delete_user_menu(A0, "404"),
    ] {
        w.refused(&h, op, 100, Some(2018001)).await;
    }

    // Missing or malformed parameters, bad JSON, bad duration → 100:
    // every defect the decoder knows, on every edge that can show it, in
    // every encoding.
    for encoding in [Encoding::Json, Encoding::Form, Encoding::Query] {
        for defect in DEFECTS {
            for &edge in Edge::ALL {
                if !baton::wire::defect_applies(edge, *defect) {
                    continue;
                }
                let mut op = malformed(A0, edge, *defect);
                op.transport.encoding = encoding;
                w.refused(&h, op, 100, None).await;
            }
        }
    }
    // Values that decode but are out of range.
    for d in [0, -5, 604_801, i64::MAX] {
        w.refused(&h, extend(A0, "1", d), 100, None).await;
    }
    let long = "x".repeat(2001);
    w.refused(&h, send_text(A0, "1", &long), 100, None).await;
    w.ok(&h, send_text(A0, "1", &"y".repeat(2000))).await;
    let empty_qr = Message::Text {
        text: "q".into(),
        quick_replies: Some(Vec::new()),
    };
    w.refused(&h, send(A0, "1", empty_qr), 100, None).await;
    let untagged = GraphOp::by(
        A0,
        Call::Send {
            psid: "1".into(),
            messaging_type: MessagingType::MessageTag,
            tag: None,
            message: text("x"),
        },
    );
    w.refused(&h, untagged, 100, None).await;
    let meta = "m".repeat(1001);
    w.refused(&h, take(A3, "2", Some(&meta)), 100, None).await;

    // Persistent menu not allowed now; secondary_receivers by a
    // non-primary → 10 (no subcode).
    w.refused(&h, set_page_menu(A3, &[choice("a", "A")]), 10, None)
        .await;
    w.refused(&h, delete_page_menu(A3), 10, None).await;
    w.refused(&h, set_user_menu(A3, "1", &[choice("a", "A")]), 10, None)
        .await;
    w.refused(&h, delete_user_menu(A3, "2"), 10, None).await; // idle
    w.refused(&h, secondaries(A3), 10, None).await;

    // HUMAN_AGENT without the feature → 200, whoever owns.
    w.refused(&h, send_tagged(A3, "1", "x"), 200, None).await;
    w.refused(&h, send_tagged(A3, "2", "x"), 200, None).await;
    w.refused(&h, send_tagged(A0, "1", "x"), 200, None).await;
    // Another tag value is an ordinary send.
    let other_tag = GraphOp::by(
        A0,
        Call::Send {
            psid: "1".into(),
            messaging_type: MessagingType::MessageTag,
            tag: Some("ACCOUNT_UPDATE".into()),
            message: text("ok"),
        },
    );
    w.ok(&h, other_tag).await;

    // No access token → 104; an empty one counts as missing.
    for t in [TokenAt::Query, TokenAt::Body, TokenAt::Bearer] {
        let mut op = as_caller(send_text(A0, "1", "x"), Caller::Missing);
        op.transport.token_at = t;
        w.refused(&h, op, 104, None).await;
        let mut op = as_caller(take(A0, "1", None), Caller::Empty);
        op.transport.token_at = t;
        w.refused(&h, op, 104, None).await;
    }

    // Unknown access token → 190 with WWW-Authenticate, in every place.
    for t in [
        TokenAt::Query,
        TokenAt::Body,
        TokenAt::Bearer,
        TokenAt::OAuth,
    ] {
        let mut op = as_caller(release(A0, "1"), Caller::Unknown);
        op.transport.token_at = t;
        w.refused(&h, op, 190, None).await;
    }

    // appsecret_proof missing or wrong when required → 100; right → ok.
    w.refused(&h, thread_owner(A2, "1"), 100, None).await;
    w.refused(
        &h,
        with_proof(thread_owner(A2, "1"), Proof::Wrong),
        100,
        None,
    )
    .await;
    w.ok(&h, with_proof(thread_owner(A2, "1"), Proof::Right))
        .await;
    // Apps that do not require it may still send one, right or not.
    w.ok(&h, with_proof(thread_owner(A3, "1"), Proof::Wrong))
        .await;

    // The Page Inbox as owner is "another owner".
    let inbox = Op::Inbox {
        psid: "2".into(),
        action: InboxAction::MoveToMain,
        platform: Surface::Messenger,
    };
    w.op(&h, inbox).await.resp.assert_ok();
    w.refused(&h, send_text(A0, "2", "x"), c, s).await;
    w.refused(&h, release(A0, "2"), c, s).await;
    w.refused(&h, extend(A0, "2", 60), c, s).await;
    w.refused(&h, take(A3, "2", None), c, s).await;

    // None of the refusals delivered anything the model did not expect.
    w.check(&h).await;
}

const DEFECTS: &[Defect] = Defect::ALL;

#[tokio::test(flavor = "multi_thread")]
async fn the_first_failing_check_answers() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630002");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await; // A0 owns
    let addr = h.server.addr;
    let tok3 = w.token(A3).to_string();

    // 1. Path before token: a bad path with no or an unknown token → 100.
    for target in [
        "/v19.0/me".to_string(),
        "/v19/me/messages".to_string(),
        "/v19.0/me/messages/extra".to_string(),
        "//messages".to_string(),
        "/".to_string(),
    ] {
        raw_req(addr, "POST", &target, &[], b"")
            .await
            .assert_graph_error(400, 100, None);
        raw_req(
            addr,
            "POST",
            &format!("{target}?access_token=nobody"),
            &[],
            b"",
        )
        .await
        .assert_graph_error(400, 100, None);
    }

    // 2. Token before route and parameters.
    let bad_params = malformed(A3, Edge::Messages, Defect::MessageMalformed);
    w.refused(
        &h,
        as_caller(bad_params.clone(), Caller::Unknown),
        190,
        None,
    )
    .await;
    w.refused(&h, as_caller(bad_params, Caller::Missing), 104, None)
        .await;
    for defect in [
        Defect::WrongNode,
        Defect::UnknownEdge,
        Defect::WrongMethod,
        Defect::BodyNotJson,
    ] {
        let op = malformed(A3, Edge::Messages, defect);
        w.refused(&h, as_caller(op, Caller::Unknown), 190, None)
            .await;
    }
    // Body over query for the token: a good token in the query does not
    // rescue an unknown one in the body.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/take_thread_control?access_token={tok3}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"1"},"access_token":"nobody"}"#,
    )
    .await;
    r.assert_graph_error(400, 190, None);
    // The access_token parameter over the Authorization header.
    let r = raw_req(
        addr,
        "POST",
        "/v19.0/me/take_thread_control?access_token=nobody",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {tok3}")),
        ],
        br#"{"recipient":{"id":"1"}}"#,
    )
    .await;
    r.assert_graph_error(400, 190, None);

    // 3/4. Route before proof: A2 without its proof on a wrong route → 100
    // either way, but the proof before parameters and PSID: a missing
    // proof with an unknown PSID is 100 without the 2018001 subcode.
    w.refused(&h, thread_owner(A2, "404"), 100, None).await;
    w.refused(
        &h,
        with_proof(send_text(A2, "404", "x"), Proof::Wrong),
        100,
        None,
    )
    .await;
    w.refused(
        &h,
        with_proof(
            malformed(A2, Edge::Messages, Defect::WrongNode),
            Proof::Right,
        ),
        100,
        None,
    )
    .await;

    // 5. Parameters before PSID: bad parameters and an unknown PSID.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/messages?access_token={tok3}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"404"},"messaging_type":"SOMETIMES","message":{"text":"x"}}"#,
    )
    .await;
    r.assert_graph_error(400, 100, None);
    w.refused(&h, extend(A3, "404", 0), 100, None).await;

    // 6. PSID before the rules: a non-owner on an unknown PSID.
    w.refused(&h, send_text(A3, "404", "x"), 100, Some(2018001))
        .await;
    w.refused(&h, send_tagged(A3, "404", "x"), 100, Some(2018001))
        .await;

    // 7. Rules: HA-2 before ownership; pass target before ownership,
    // ownership before pass-to-self.
    w.refused(&h, send_tagged(A3, "1", "x"), 200, None).await;
    let unknown = Some(AppRef::Unknown("31337".into()));
    w.refused(&h, pass(A3, "1", unknown, None), 100, Some(2018164))
        .await;
    w.refused(&h, pass(A3, "1", to_app(A3), None), 10, Some(2018300))
        .await;
    w.op(&h, Op::Roles { primary: None }).await.resp.assert_ok();
    w.refused(&h, pass(A3, "1", None, None), 100, None).await;
    w.check(&h).await;
}

/// The decided points of `wire.md`'s check 5, written by hand (no
/// renderer): each refused form gets 400/100 with no subcode even on a
/// known PSID, and each accepted spelling does what the plain call does.
#[tokio::test(flavor = "multi_thread")]
async fn decided_inputs_over_raw_http() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630007");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await; // A0 (primary) owns "1"
    let tok0 = w.token(A0).to_string();
    let addr = h.server.addr;
    let app3 = w.app_id(A3).to_string();
    let json_post = |edge: &str, body: String| {
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

    // Refused: ids of the wrong kind, wherever an id goes.
    for bad in ["true", "1.5", r#"{"id":"1"}"#] {
        json_post(
            "take_thread_control",
            format!(r#"{{"recipient":{{"id":{bad}}}}}"#),
        )
        .await
        .assert_graph_error(400, 100, None);
        json_post(
            "pass_thread_control",
            format!(r#"{{"recipient":{{"id":"1"}},"target_app_id":{bad}}}"#),
        )
        .await
        .assert_graph_error(400, 100, None);
        json_post(
            "custom_user_settings",
            format!(
                r#"{{"psid":{bad},"persistent_menu":[{{"locale":"default","call_to_actions":[]}}]}}"#
            ),
        )
        .await
        .assert_graph_error(400, 100, None);
    }
    // Refused: durations that are no integer, in JSON and in a form.
    for bad in ["1.5", "true", "null", r#""abc""#] {
        json_post(
            "extend_thread_control",
            format!(r#"{{"recipient":{{"id":"1"}},"duration":{bad}}}"#),
        )
        .await
        .assert_graph_error(400, 100, None);
    }
    for bad in ["1.5", "abc", "true", ""] {
        raw_req(
            addr,
            "POST",
            &format!("/v19.0/me/extend_thread_control?access_token={tok0}"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            format!("recipient=%7B%22id%22%3A%221%22%7D&duration={bad}").as_bytes(),
        )
        .await
        .assert_graph_error(400, 100, None);
    }
    // Refused: text and attachment together.
    json_post(
        "messages",
        r#"{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"x","attachment":{"type":"template","payload":{"template_type":"customer_feedback"}}}}"#.into(),
    )
    .await
    .assert_graph_error(400, 100, None);
    // Refused: a bare PSID is a recipient for thread_owner only.
    for body in [r#"{"recipient":"1"}"#, r#"{"recipient":1}"#] {
        json_post("release_thread_control", body.into())
            .await
            .assert_graph_error(400, 100, None);
    }
    // Refused: `[1]` on thread_owner is JSON, not a PSID (no 2018001).
    raw_req(
        addr,
        "GET",
        &format!("/v19.0/me/thread_owner?access_token={tok0}&recipient=%5B1%5D"),
        &[],
        b"",
    )
    .await
    .assert_graph_error(400, 100, None);
    // None of that changed anything.
    w.check(&h).await;

    // Accepted: duration as text in JSON, and as an integral float.
    json_post(
        "extend_thread_control",
        r#"{"recipient":{"id":"1"},"duration":"3600"}"#.into(),
    )
    .await
    .assert_ok();
    w.sent_raw(extend(A0, "1", 3600));
    json_post(
        "extend_thread_control",
        r#"{"recipient":{"id":1},"duration":7200.0}"#.into(),
    )
    .await
    .assert_ok();
    w.sent_raw(extend(A0, "1", 7200));
    // Accepted: recipient as JSON text inside JSON, an unknown extra
    // parameter, an explicit null inside message.
    json_post(
        "messages",
        r#"{"recipient":"{\"id\":\"1\"}","messaging_type":"UPDATE","notify":{"x":[1]},"message":{"text":"t","attachment":null}}"#.into(),
    )
    .await
    .assert_ok();
    w.sent_raw(GraphOp::by(
        A0,
        Call::Send {
            psid: "1".into(),
            messaging_type: MessagingType::Update,
            tag: None,
            message: text("t"),
        },
    ));
    // Accepted: a parameter in both query and body, the body's winning
    // (the query's metadata would be echoed otherwise); target as integer.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/pass_thread_control?access_token={tok0}&metadata=query"),
        &[("Content-Type", "application/json")],
        format!(r#"{{"recipient":{{"id":"1"}},"target_app_id":{app3},"metadata":"body"}}"#)
            .as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(pass(A0, "1", to_app(A3), Some("body")));
    // Accepted: the token in the body beats a decoy in the query, the
    // access_token parameter beats a decoy Authorization header.
    let tok3 = w.token(A3).to_string();
    let r = raw_req(
        addr,
        "POST",
        "/v19.0/me/release_thread_control?access_token=decoy",
        &[("Content-Type", "application/json")],
        format!(r#"{{"recipient":{{"id":"1"}},"access_token":"{tok3}"}}"#).as_bytes(),
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(release(A3, "1"));
    let r = raw_req(
        addr,
        "GET",
        &format!("/v19.0/me/thread_owner?recipient=1&access_token={tok0}"),
        &[("Authorization", "Bearer decoy")],
        b"",
    )
    .await;
    assert_eq!(r.json(), json!({"data": []}));
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_in_query_or_body_any_case() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630003");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let tok = w.token(A2).to_string();
    let proof = baton::wire::appsecret_proof(w.secret(A2), &tok);
    let addr = h.server.addr;
    let owner = |q: String, body: &'static [u8]| {
        let target = format!("/v19.0/me/thread_owner?{q}");
        async move {
            let ct = if body.is_empty() {
                vec![]
            } else {
                vec![("Content-Type", "application/x-www-form-urlencoded")]
            };
            raw_req(addr, "GET", &target, &ct, body).await
        }
    };
    owner(
        format!("recipient=1&access_token={tok}&appsecret_proof={proof}"),
        b"",
    )
    .await
    .assert_ok();
    owner(
        format!(
            "recipient=1&access_token={tok}&appsecret_proof={}",
            proof.to_uppercase()
        ),
        b"",
    )
    .await
    .assert_ok();
    owner(
        format!("recipient=1&access_token={tok}&appsecret_proof="),
        b"",
    )
    .await
    .assert_graph_error(400, 100, None);
    owner(
        format!("recipient=1&access_token={tok}&appsecret_proof=zz{proof}"),
        b"",
    )
    .await
    .assert_graph_error(400, 100, None);
    // Via Bearer, the proof in the query.
    let r = raw_req(
        addr,
        "POST",
        &format!("/v19.0/me/request_thread_control?appsecret_proof={proof}"),
        &[
            ("Authorization", &format!("Bearer {tok}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"recipient":{"id":"1"}}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"success": true}));
    w.sent_raw(with_proof(request(A2, "1", None), Proof::Right));
    w.check(&h).await;
}

// ---------------------------------------------------------------------------
// Bad input never gets a 5xx.

/// Asserts a 4xx answer with a Graph error envelope.
fn assert_enveloped(r: &Resp, what: &str) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: HTTP {} {}",
        r.status,
        r.text()
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{what}: HTTP {} body not JSON ({e}): {}",
            r.status,
            r.text()
        )
    });
    assert!(v["error"]["code"].is_u64(), "{what}: {v}");
    assert_eq!(v["error"]["type"], json!("OAuthException"), "{what}: {v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630004");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let tok = w.token(A0).to_string();
    let big_text = "x".repeat((1 << 20) + 10);
    let json_body = format!(
        r#"{{"recipient":{{"id":"1"}},"messaging_type":"RESPONSE","message":{{"text":"{big_text}"}}}}"#
    );
    for (ct, body) in [
        ("application/json", json_body.into_bytes()),
        (
            "application/x-www-form-urlencoded",
            format!("recipient=1&message={big_text}").into_bytes(),
        ),
        ("application/octet-stream", vec![0u8; 3 << 20]),
    ] {
        for target in [
            format!("/v19.0/me/messages?access_token={tok}"),
            "/v19.0/me/messages".to_string(),
        ] {
            let r = h
                .request("POST", &target, &[("content-type", ct)], Some(body.clone()))
                .await;
            assert!(
                r.status == 413 || r.status == 400,
                "{ct}: HTTP {}",
                r.status
            );
            assert_enveloped(&r, ct);
        }
    }
    // Many times over: the client must always get the answer, never a
    // connection reset while it is still sending (the server reads the
    // rest of an oversized body before answering).
    for i in 0..40 {
        let size = if i % 2 == 0 { 3 << 20 } else { (1 << 20) + 1 };
        let r = h
            .request(
                "POST",
                "/v19.0/me/messages?access_token=x",
                &[("content-type", "application/json")],
                Some(vec![b'{'; size]),
            )
            .await;
        assert_eq!(r.status, 413, "attempt {i}");
        assert_enveloped(&r, "repeated");
    }
    // Chunked, without a Content-Length.
    let mut req = format!(
        "POST /v19.0/me/messages?access_token={tok} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..20 {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = raw(h.server.addr, &req).await;
    assert!(r.status == 413 || r.status == 400, "HTTP {}", r.status);
    assert_enveloped(&r, "chunked");
    // Just under the limit is read (and refused for its content only).
    let near = format!(
        r#"{{"recipient":{{"id":"1"}},"messaging_type":"RESPONSE","message":{{"text":"{}"}}}}"#,
        "x".repeat((1 << 20) - 200)
    );
    let r = h
        .request(
            "POST",
            &format!("/v19.0/me/messages?access_token={tok}"),
            &[("content-type", "application/json")],
            Some(near.into_bytes()),
        )
        .await;
    r.assert_graph_error(400, 100, None); // text longer than 2000 characters
    // Control API: 413 with {"error"}.
    let r = h
        .control_keyed(
            Some(KEY),
            "POST",
            "user_event",
            Some(json!({"page_id": "630004", "type": "message", "psid": "1", "text": "x".repeat(1 << 20)})),
        )
        .await;
    assert!(r.status == 413 || r.status == 400, "HTTP {}", r.status);
    assert!(r.json()["error"].is_string());
    // The page is unharmed.
    w.ok(&h, send_text(A0, "1", "still here")).await;
    w.check(&h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_methods_paths_and_encodings() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630005");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let tok = w.token(A0).to_string();
    let addr = h.server.addr;
    let messages = format!("/v19.0/me/messages?access_token={tok}");

    // Garbage bodies under every content type.
    let bodies: Vec<&[u8]> = vec![
        b"{not json",
        b"[1,2,3]",
        b"\"just a string\"",
        b"null",
        b"\xff\xfe\x00\x01garbage",
        b"%%%===&&&",
        b"recipient=%7B&message=%ZZ",
        b"{\"recipient\":{\"id\":\"1\"},\"messaging_type\":\"RESPONSE\",\"message\":{\"text\":\"\xff\"}}",
        b"{\"a\":1,\"a\":2}",
    ];
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_obj = format!(
        r#"{{"recipient":{}1{}}}"#,
        r#"{"id":"#.repeat(500),
        "}".repeat(500)
    );
    let content_types = [
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=xyz"),
        Some("application/json; charset=latin1"),
        Some("application/weird"),
        None,
    ];
    for ct in content_types {
        for body in bodies
            .iter()
            .copied()
            .chain([nested.as_bytes(), deep_obj.as_bytes()])
        {
            let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
            let r = raw_req(addr, "POST", &messages, &headers, body).await;
            assert_enveloped(
                &r,
                &format!(
                    "{ct:?} {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(40)])
                ),
            );
        }
    }

    // A header with a control character is not HTTP: hyper refuses it
    // before the server sees it (400, no envelope). Still no 5xx.
    let r = raw_req(
        addr,
        "POST",
        &messages,
        &[("Content-Type", "\u{1}bogus")],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 400);

    // Weird methods on a real edge, with and without a token.
    for method in ["PUT", "PATCH", "OPTIONS", "TRACE", "FOO", "BREW", "DELETE"] {
        for target in [messages.as_str(), "/v19.0/me/messages"] {
            let r = raw_req(addr, method, target, &[], b"").await;
            assert_enveloped(&r, method);
        }
    }
    let r = raw_req(addr, "GET", &messages, &[], b"").await;
    r.assert_graph_error(400, 100, None);
    let r = raw_req(addr, "HEAD", &messages, &[], b"").await;
    assert_eq!(r.status, 400);

    // Bad percent-encoding in the path and the query.
    for target in [
        format!("/v19.0/me/mess%ZZages?access_token={tok}"),
        format!("/v19.0/%FF%FE/messages?access_token={tok}"),
        format!("/v19.0/me/messages%?access_token={tok}"),
        format!("/v19.0/me/messages?access_token={tok}&recipient=%E0%A4%A&message=%"),
        "/v19.0/me/messages?access_token=%ZZ%".to_string(),
        format!(
            "/%7619.0/me/take_thread_control?access_token={tok}&recipient=%7B%22id%22%3A%22%FF%22%7D"
        ),
        format!("/v19.0/me/thread_owner?access_token={tok}&recipient=%00"),
    ] {
        let r = raw_req(addr, "POST", &target, &[], b"").await;
        assert_enveloped(&r, &target);
    }

    // Other request-target forms: absolute (proxy style) and asterisk.
    let r = raw_req(
        addr,
        "POST",
        &format!("http://graph.test{messages}"),
        &[("Content-Type", "application/json")],
        br#"{"recipient":{"id":"1"},"messaging_type":"RESPONSE","message":{"text":"abs"}}"#,
    )
    .await;
    r.assert_ok();
    w.sent_raw(send_text(A0, "1", "abs"));
    let r = raw_req(addr, "OPTIONS", "*", &[], b"").await;
    assert!((400..500).contains(&r.status), "HTTP {}", r.status);

    // A huge query string (just below hyper's 64 KiB URI limit).
    let huge = format!("{messages}&junk={}", "a".repeat(60_000));
    let r = raw_req(addr, "POST", &huge, &[], b"").await;
    r.assert_graph_error(400, 100, None);
    let many = format!(
        "{messages}&{}",
        (0..5000)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let r = raw_req(addr, "POST", &many, &[], b"").await;
    r.assert_graph_error(400, 100, None);
    // Beyond that limit hyper itself answers (414); still no 5xx.
    let beyond = format!("{messages}&junk={}", "a".repeat(70_000));
    let r = raw_req(addr, "POST", &beyond, &[], b"").await;
    assert!((400..500).contains(&r.status), "HTTP {}", r.status);

    // Headers that are not UTF-8, or absurd.
    let mut req =
        format!("POST {messages} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ").into_bytes();
    req.extend_from_slice(b"\xff\xfe\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    let r = raw(addr, &req).await;
    assert_enveloped(&r, "non-UTF-8 Authorization");
    for auth in [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "OAuth",
        "bearer nobody",
        "Bearer a b c",
    ] {
        let r = raw_req(
            addr,
            "POST",
            "/v19.0/me/messages",
            &[("Authorization", auth)],
            b"",
        )
        .await;
        assert_enveloped(&r, auth);
    }

    // Control API garbage: 400 with {"error"}.
    for (method, route, body) in [
        ("POST", "reset", "{"),
        ("POST", "user_event", "[]"),
        (
            "POST",
            "user_event",
            r#"{"type":"wave","page_id":"630005"}"#,
        ),
        ("POST", "clock", r#"{"page_id":"630005","advance_ms":-1}"#),
        (
            "POST",
            "clock",
            r#"{"page_id":"630005","advance_ms":"soon"}"#,
        ),
        (
            "POST",
            "inbox",
            r#"{"page_id":"630005","action":"archive","psid":"1"}"#,
        ),
        ("POST", "flush", "\u{0}"),
        ("GET", "transcript?page_id=%ZZ", ""),
        ("GET", "transcript", ""),
    ] {
        let body = (!body.is_empty()).then(|| body.as_bytes().to_vec());
        let r = h
            .request(
                method,
                &format!("/conformance/{route}"),
                &[
                    ("x-conformance-key", KEY),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await;
        r.assert_control_error();
    }

    // After all that the page still works, and nothing was delivered.
    w.ok(&h, send_text(A0, "1", "still here")).await;
    w.check(&h).await;
}

/// Random requests from a seeded generator: every one gets a JSON answer
/// below 500 (no panic drops a connection, nothing hangs).
#[tokio::test(flavor = "multi_thread")]
async fn random_requests_never_get_a_5xx() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630006");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let tokens: Vec<String> = (0..4).map(|i| w.token(AppIx(i)).to_string()).collect();
    let mut rng = baton::generate::SplitMix64::new(7);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let methods = ["GET", "POST", "DELETE", "PUT", "PATCH"];
    let versions = ["/v19.0", "", "/v2.0", "/vX", "/v1.2.3"];
    let nodes = ["me", "630006", "6300060", "", "%20", "me/me"];
    let edges: Vec<&str> = Edge::ALL
        .iter()
        .map(|e| e.as_str())
        .chain(["conversations", "", "messages/"])
        .collect();
    let values = [
        r#"{"id":"1"}"#,
        r#"{"id":1}"#,
        "1",
        "",
        "null",
        "true",
        "[]",
        r#"{"text":"hi"}"#,
        r#"{"attachment":{"type":"template","payload":{"template_type":"button","text":"t","buttons":[]}}}"#,
        r#"{"attachment":{"type":"template","payload":{"template_type":"customer_feedback"}}}"#,
        r#"[{"locale":"default","call_to_actions":[]}]"#,
        r#"["persistent_menu"]"#,
        "RESPONSE",
        "MESSAGE_TAG",
        "HUMAN_AGENT",
        "3600",
        "1.5",
        "-1",
        "99999999999999999999999",
        "263902037430900",
        "\u{0}\u{ffff}",
    ];
    let keys = [
        "recipient",
        "message",
        "messaging_type",
        "tag",
        "target_app_id",
        "metadata",
        "duration",
        "psid",
        "persistent_menu",
        "fields",
        "params",
        "appsecret_proof",
        "access_token",
    ];
    for i in 0..400 {
        let method = methods[pick(methods.len())];
        let mut params = Vec::new();
        for _ in 0..pick(6) {
            let k = keys[pick(keys.len())];
            let v = match k {
                "access_token" if pick(2) == 0 => tokens[pick(4)].clone(),
                _ => values[pick(values.len())].to_string(),
            };
            params.push((k, v));
        }
        if pick(3) > 0 {
            params.push(("access_token", tokens[pick(4)].clone()));
        }
        let path = format!(
            "{}/{}/{}",
            versions[pick(versions.len())],
            nodes[pick(nodes.len())],
            edges[pick(edges.len())]
        );
        let split = pick(params.len() + 1);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params[..split].iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let rest = &params[split..];
        let (ct, body): (Option<&str>, Vec<u8>) = match pick(3) {
            0 => (
                Some("application/x-www-form-urlencoded"),
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(rest.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish()
                    .into_bytes(),
            ),
            1 => {
                let obj: serde_json::Map<String, Value> = rest
                    .iter()
                    .map(|(k, v)| {
                        let v = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
                        (k.to_string(), v)
                    })
                    .collect();
                (Some("application/json"), serde_json::to_vec(&obj).unwrap())
            }
            _ => (None, Vec::new()),
        };
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let r = raw_req(h.server.addr, method, &target, &headers, &body).await;
        assert!(
            r.status < 500,
            "#{i} {method} {target}: HTTP {} {}",
            r.status,
            r.text()
        );
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("#{i} {method} {target}: not JSON ({e}): {}", r.text()));
        if r.status != 200 {
            assert_eq!(r.status, 400, "#{i} {method} {target}");
            assert!(v["error"]["code"].is_u64(), "#{i} {method} {target}: {v}");
        }
    }
    // Still serving.
    let r = h.control("GET", "info", None).await;
    r.assert_ok();
}

/// Sends `op`, checks it against the model like [`World::refused`], and
/// asserts the exact `message` besides the status, code and subcode.
async fn says(
    w: &mut World,
    h: &Harness,
    op: GraphOp,
    (code, subcode): (u64, Option<u64>),
    message: &str,
) {
    let shown = op.to_string();
    let s = w.graph(h, op).await;
    s.resp.assert_graph_error(400, code, subcode);
    assert_eq!(
        s.json()["error"]["message"],
        json!(message),
        "{shown}: the message does not say what was wrong"
    );
}

const INVALID: (u64, Option<u64>) = (100, None);

/// Every refusal says what was wrong, in Meta's words where Meta has some
/// (INPUT-1, AUTH-1, AUTH-3, CTRL-4, REL-2, EXP-3, …), with the code and
/// subcode of `wire.md`'s error table unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_say_what_was_wrong() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630021");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await; // A0 (primary) owns "1"
    w.user_message(&h, "2", "hi").await;
    w.ok(&h, release(A0, "2")).await; // "2" is idle

    // INPUT-1: what the decoder found.
    let m = |d| malformed(A0, Edge::Messages, d);
    says(
        &mut w,
        &h,
        m(Defect::MessagingTypeMissing),
        INVALID,
        "(#100) The parameter messaging_type is required",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::MessagingTypeUnknown),
        INVALID,
        "(#100) Param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::RecipientMissing),
        INVALID,
        "(#100) The parameter recipient is required",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::RecipientMalformed),
        INVALID,
        "(#100) Param recipient must be an object with an id",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::MessageMissing),
        INVALID,
        "(#100) The parameter message is required",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::TextAndAttachment),
        INVALID,
        "(#100) Param message must have either text or attachment, not both",
    )
    .await;
    says(
        &mut w,
        &h,
        m(Defect::UnknownEdge),
        INVALID,
        "(#100) Unknown path component: this edge does not exist",
    )
    .await;
    says(
        &mut w,
        &h,
        malformed(A0, Edge::PassThreadMetadata, Defect::TargetMissing),
        INVALID,
        "(#100) The parameter target_app_id is required",
    )
    .await;
    // Every defect but `Other` has words of its own, on every edge.
    for &defect in Defect::ALL {
        for &edge in Edge::ALL {
            if defect == Defect::Other || !baton::wire::defect_applies(edge, defect) {
                continue;
            }
            let s = w.graph(&h, malformed(A0, edge, defect)).await;
            s.resp.assert_graph_error(400, 100, None);
            let msg = s.json()["error"]["message"].as_str().unwrap().to_string();
            assert!(
                msg.starts_with("(#100) ") && msg != GraphError::INVALID.message(),
                "{defect:?} on {edge:?}: {msg:?} says nothing of the defect"
            );
        }
    }

    // INPUT-1: values that decode but are out of range.
    let untagged = GraphOp::by(
        A0,
        Call::Send {
            psid: "1".into(),
            messaging_type: MessagingType::MessageTag,
            tag: None,
            message: text("x"),
        },
    );
    says(
        &mut w,
        &h,
        untagged,
        INVALID,
        "(#100) The parameter tag is required when messaging_type is MESSAGE_TAG",
    )
    .await;
    says(
        &mut w,
        &h,
        send_text(A0, "1", &"x".repeat(2001)),
        INVALID,
        "(#100) Length of param message[text] must be less than or equal to 2000",
    )
    .await;
    says(
        &mut w,
        &h,
        take(A3, "2", Some(&"m".repeat(1001))),
        INVALID,
        "(#100) Length of param metadata must be less than or equal to 1000",
    )
    .await;
    says(
        &mut w,
        &h,
        extend(A0, "1", 604_801),
        INVALID,
        "(#100) Param duration must be between 1 and 604800 seconds",
    )
    .await;
    says(
        &mut w,
        &h,
        send_text(A0, "404", "x"),
        (100, Some(2018001)),
        "(#100) No matching user found",
    )
    .await;

    // HA-2: the tag without the feature.
    says(
        &mut w,
        &h,
        send_tagged(A3, "1", "x"),
        (200, None),
        "(#200) The app does not have permission to use the HUMAN_AGENT tag",
    )
    .await;

    // target_app_id: unknown (PASS-5), none and no primary (PASS-4).
    let unknown = Some(AppRef::Unknown("99999999".into()));
    says(
        &mut w,
        &h,
        pass(A0, "1", unknown, None),
        (100, Some(2018164)),
        "(#100) Invalid target_app_id: not an app subscribed to this page",
    )
    .await;
    w.op(&h, Op::Roles { primary: None }).await.resp.assert_ok();
    says(
        &mut w,
        &h,
        pass(A0, "1", None, None),
        INVALID,
        "(#100) The parameter target_app_id is required: this page has no primary receiver to pass to",
    )
    .await;
    let back = Op::Roles {
        primary: Some(AppRef::App(A0)),
    };
    w.op(&h, back).await.resp.assert_ok();

    // 10 / 2018300: another app controls the thread (CTRL-4 in Meta's
    // words; PASS-3, TAKE-3, REL-2, EXP-3 saying who may).
    let not_owner = (10, Some(2018300));
    says(
        &mut w,
        &h,
        send_text(A3, "1", "x"),
        not_owner,
        "(#10) Message failed to send because another app is controlling this thread now.",
    )
    .await;
    says(
        &mut w,
        &h,
        pass(A3, "1", to_app(A1), None),
        not_owner,
        "(#10) Another app is controlling this thread now: only the app controlling it can pass thread control",
    )
    .await;
    says(
        &mut w,
        &h,
        take(A3, "1", None),
        not_owner,
        "(#10) Another app is controlling this thread now: only the primary receiver can take thread control from it",
    )
    .await;
    says(
        &mut w,
        &h,
        release(A3, "1"),
        not_owner,
        "(#10) Another app is controlling this thread now: only the app controlling it can release thread control",
    )
    .await;
    says(
        &mut w,
        &h,
        extend(A3, "1", 60),
        not_owner,
        "(#10) Another app is controlling this thread now: only the app controlling it can extend thread control",
    )
    .await;

    // REL-2 and EXP-3 on an idle thread.
    says(
        &mut w,
        &h,
        release(A3, "2"),
        INVALID,
        "(#100) No app is controlling this thread now: there is no thread control to release",
    )
    .await;
    says(
        &mut w,
        &h,
        extend(A3, "2", 60),
        INVALID,
        "(#100) No app is controlling this thread now: there is no thread control to extend",
    )
    .await;
    // TAKE-4, REQ-3, PASS-6: the caller already owns, or names itself.
    says(
        &mut w,
        &h,
        take(A0, "1", None),
        INVALID,
        "(#100) This app is already controlling this thread: there is no need to take thread control",
    )
    .await;
    says(
        &mut w,
        &h,
        request(A0, "1", None),
        INVALID,
        "(#100) This app is already controlling this thread: there is no need to request thread control",
    )
    .await;
    says(
        &mut w,
        &h,
        pass(A0, "1", to_app(A0), None),
        INVALID,
        "(#100) An app cannot pass thread control to itself",
    )
    .await;
    // MENU-1 and PRI-1: only the primary receiver.
    says(
        &mut w,
        &h,
        set_page_menu(A3, &[choice("a", "A")]),
        (10, None),
        "(#10) Only the primary receiver can change this page's persistent menu",
    )
    .await;
    says(
        &mut w,
        &h,
        secondaries(A3),
        (10, None),
        "(#10) Only the page's primary receiver can list secondary receivers",
    )
    .await;

    // AUTH-3: appsecret_proof missing, then wrong (Meta's words).
    says(
        &mut w,
        &h,
        thread_owner(A2, "1"),
        INVALID,
        "API calls from the server require an appsecret_proof argument",
    )
    .await;
    says(
        &mut w,
        &h,
        with_proof(thread_owner(A2, "1"), Proof::Wrong),
        INVALID,
        "Invalid appsecret_proof provided in the API argument",
    )
    .await;

    // AUTH-1: Meta's token messages, the 190 one in WWW-Authenticate too.
    says(
        &mut w,
        &h,
        as_caller(send_text(A0, "1", "x"), Caller::Missing),
        (104, None),
        "An access token is required to request this resource.",
    )
    .await;
    let bad = "Invalid OAuth access token - Cannot parse access token";
    let s = w
        .graph(&h, as_caller(release(A0, "1"), Caller::Unknown))
        .await;
    s.resp.assert_graph_error(400, 190, None);
    assert_eq!(s.json()["error"]["message"], json!(bad));
    assert_eq!(
        s.resp.header("www-authenticate"),
        Some(format!(r#"OAuth "Facebook Platform" "invalid_token" "{bad}""#).as_str())
    );
    w.check(&h).await;
}

/// The whole envelope of a send without `messaging_type`, over raw HTTP:
/// the message says which parameter, the code and the rest are as before.
#[tokio::test(flavor = "multi_thread")]
async fn a_send_without_messaging_type_names_the_parameter() {
    let h = Harness::start().await;
    let mut w = four_apps(&h.sink, "630022");
    w.reset(&h).await;
    w.user_message(&h, "1", "hi").await;
    let tok = w.token(A0).to_string();
    for (content_type, body) in [
        (
            "application/json",
            r#"{"recipient":{"id":"1"},"message":{"text":"x"}}"#.to_string(),
        ),
        (
            "application/x-www-form-urlencoded",
            "recipient=%7B%22id%22%3A%221%22%7D&message=%7B%22text%22%3A%22x%22%7D".to_string(),
        ),
    ] {
        let r = raw_req(
            h.server.addr,
            "POST",
            &format!("/v19.0/me/messages?access_token={tok}"),
            &[("Content-Type", content_type)],
            body.as_bytes(),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(
            r.json(),
            json!({"error": {
                "message": "(#100) The parameter messaging_type is required",
                "type": "OAuthException",
                "code": 100,
                "fbtrace_id": baton::wire::REFERENCE_FBTRACE_ID,
            }}),
            "{content_type}"
        );
    }
}
