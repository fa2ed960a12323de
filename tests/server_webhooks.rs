//! `baton serve`, webhook delivery over real HTTP to test sinks: signatures
//! (HOOK-4) checked with an independent HMAC over the exact body bytes,
//! retries after non-2xx answers and timeouts (a retried event counts once
//! in `delivered`), giving up, `flush` waiting for all of it, a hanging
//! receiver of one app not delaying another app, full queues, and the order
//! of events per app and PSID (HOOK-6).

#[path = "support/mod.rs"]
mod support;

use baton::model::*;
use baton::server::ServerConfig;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, Instant};
use support::*;

/// HMAC-SHA256 as lowercase hex, computed here rather than by baton.
fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_delivery_is_signed_for_its_receiver() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900001", 3, None);
    w.reset(&h).await;
    // One of every event kind.
    w.user_message(&h, "1", "hi").await;
    w.ok(&h, take(A0, "1", None)).await;
    let buttons = Message::Buttons {
        text: "t".into(),
        buttons: vec![choice("B", "B")],
    };
    w.ok(&h, send(A0, "1", buttons)).await;
    w.ok(&h, request(A1, "1", Some("r"))).await;
    w.ok(&h, pass(A0, "1", to_app(A1), Some("p"))).await;
    let tap = Op::User(UserEvent::Postback {
        psid: "1".into(),
        message: MsgRef::Nth(0),
        payload: "B".into(),
        title: None,
        platform: Surface::Messenger,
    });
    w.op(&h, tap).await.resp.assert_ok();
    w.op(
        &h,
        Op::Roles {
            primary: Some(AppRef::App(A2)),
        },
    )
    .await;
    w.ok(&h, take(A2, "1", Some("t"))).await;
    let ad = Op::User(UserEvent::AdEntry {
        psid: "2".into(),
        app: AppRef::App(A1),
        ad_id: "ad".into(),
        text: "ad".into(),
        platform: Surface::Messenger,
    });
    w.op(&h, ad).await.resp.assert_ok();
    // `check` verifies each signature with baton's verifier (own secret
    // yes, others no); here independently, byte for byte.
    w.check(&h).await;
    let mut kinds = std::collections::BTreeSet::new();
    for (i, hook) in w.hooks.iter().enumerate() {
        let hits = h.sink.hits(hook);
        assert!(!hits.is_empty());
        for hit in &hits {
            let sig = hit.header("x-hub-signature-256").unwrap();
            let hex = sig.strip_prefix("sha256=").expect("sha256= prefix");
            assert_eq!(hex.len(), 64);
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert_eq!(hex, hmac_hex(&w.creds[i].app_secret, &hit.body));
            for (j, c) in w.creds.iter().enumerate() {
                if j != i {
                    assert_ne!(hex, hmac_hex(&c.app_secret, &hit.body));
                }
            }
            // Any change to the bytes breaks it (so it signs these bytes).
            let mut tampered = hit.body.clone();
            tampered.push(b' ');
            assert!(!baton::wire::verify_signature(
                &w.creds[i].app_secret,
                &tampered,
                sig
            ));
            assert_eq!(hit.header("content-type"), Some("application/json"));
            for (_, ev) in w.events(hit) {
                kinds.insert(ev.kind.name());
            }
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "ad_entry",
            "app_roles",
            "message",
            "pass_thread_control",
            "postback",
            "request_thread_control",
            "take_thread_control"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_2xx_answers_are_retried_and_count_once() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900002", 2, None);
    w.reset(&h).await;
    h.sink.fail_next(w.hook(A0), 2, 500);
    h.sink.fail_next(w.hook(A1), 1, 404);
    w.user_message(&h, "1", "retry me").await;
    let delivered = h.flush("900002").await;
    assert_eq!(delivered, 2, "each event counts once");
    let a0 = h.sink.hits(w.hook(A0));
    let answered: Vec<Answered> = a0.iter().map(|x| x.answered).collect();
    assert_eq!(
        answered,
        [Answered::Status(500), Answered::Status(500), Answered::Ok]
    );
    // The same event, the same bytes, the same signature every time.
    assert!(a0.iter().all(|x| x.body == a0[0].body));
    assert!(
        a0.iter()
            .all(|x| { x.header("x-hub-signature-256") == a0[0].header("x-hub-signature-256") })
    );
    assert!(
        a0.iter()
            .all(|x| w.events(x).len() == 1 && w.events(x) == w.events(&a0[0]))
    );
    // Backoff: the retries are spaced out (20 ms, then 40 ms).
    assert!(a0[1].at - a0[0].at >= Duration::from_millis(15));
    assert!(a0[2].at - a0[1].at >= Duration::from_millis(30));
    assert_eq!(h.sink.hits(w.hook(A1)).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_always_fails_is_given_up_on() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900003", 2, None);
    w.reset(&h).await;
    h.sink.fail_always(w.hook(A0));
    w.user_message(&h, "1", "doomed").await;
    let started = Instant::now();
    let delivered = h.flush("900003").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(delivered, 1, "only app 1 answered 2xx");
    // 1 + 3 attempts, and no more even later.
    assert_eq!(h.sink.hits(w.hook(A0)).len(), 4);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.sink.hits(w.hook(A0)).len(), 4);
    // The queue is not stuck: once the receiver heals, new events arrive.
    h.sink.heal(w.hook(A0));
    w.user_message(&h, "1", "after").await;
    assert_eq!(h.flush("900003").await, 2);
    let last = h.sink.hits(w.hook(A0)).pop().unwrap();
    assert!(last.acked());
    assert!(String::from_utf8_lossy(&last.body).contains("after"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_receiver_is_retried_after_the_timeout() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900004", 1, None);
    w.reset(&h).await;
    h.sink.hang_next(w.hook(A0), 1, Duration::from_secs(3));
    w.user_message(&h, "1", "slowpoke").await;
    let started = Instant::now();
    assert_eq!(h.flush("900004").await, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let hits = h.sink.hits(w.hook(A0));
    assert_eq!(
        hits.iter().map(|x| x.answered).collect::<Vec<_>>(),
        [Answered::Hung, Answered::Ok]
    );
    assert_eq!(hits[0].body, hits[1].body);
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_app_does_not_delay_another() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900005", 2, None);
    w.reset(&h).await;
    h.sink.hang_always(w.hook(A0), Duration::from_secs(5));
    // No primary: both apps get every message on `messaging`.
    for i in 0..5 {
        let sent = Instant::now();
        w.user_message(&h, "1", &format!("m{i}")).await;
        let hits = h
            .sink
            .wait_hits(w.hook(A1), i + 1, Duration::from_secs(2))
            .await;
        let lag = hits[i].at.saturating_duration_since(sent);
        // App 0's first attempt alone takes 300 ms to time out, and its
        // give-up 1.3 s: app 1 must not wait for either.
        assert!(lag < Duration::from_millis(250), "message {i} took {lag:?}");
    }
    let started = Instant::now();
    let delivered = h.flush("900005").await;
    assert_eq!(delivered, 5, "app 1's five; app 0 never answered");
    // Flush waited for app 0 to be given up on (first batch: 4 timeouts).
    assert!(started.elapsed() >= Duration::from_millis(500));
    let a0 = h.sink.hits(w.hook(A0));
    assert!(a0.iter().all(|x| x.answered == Answered::Hung));
    // Every one of app 0's events was attempted 4 times (in batches).
    let mut per_text = std::collections::BTreeMap::new();
    for hit in &a0 {
        for (_, ev) in w.events(hit) {
            if let EventKind::Message { text, .. } = ev.kind {
                *per_text.entry(text).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(per_text.len(), 5, "{per_text:?}");
    assert!(per_text.values().all(|n| *n == 4), "{per_text:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn order_is_kept_per_app_and_psid() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900006", 3, None);
    w.reset(&h).await;
    // App 0 fails at first and app 1 is slow, so events pile up and are
    // sent in batches and after retries.
    h.sink.fail_next(w.hook(A0), 2, 503);
    h.sink.slow_next(w.hook(A1), 3, Duration::from_millis(30));
    const N: usize = 60;
    let psids = ["11", "12", "13"];
    // Known PSIDs first (one message each), then three writers at once.
    let base = h.server.url();
    let send_all = |psid: &'static str| {
        let http = h.http.clone();
        let base = base.clone();
        async move {
            for i in 0..N {
                let r = http
                    .post(format!("{base}/conformance/user_event"))
                    .header("x-conformance-key", KEY)
                    .header("content-type", "application/json")
                    .body(
                        json!({"page_id": "900006", "type": "message", "psid": psid,
                               "text": format!("{psid}:{i}")})
                        .to_string(),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }
    };
    tokio::join!(send_all(psids[0]), send_all(psids[1]), send_all(psids[2]));
    let delivered = h.flush("900006").await;
    assert_eq!(delivered as usize, 3 * 3 * N, "a retried event counts once");
    let mut batched = false;
    for a in [A0, A1, A2] {
        let mut seen: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for hit in h.sink.hits(w.hook(a)).iter().filter(|x| x.acked()) {
            let events = w.events(hit);
            batched |= events.len() > 1;
            for (channel, ev) in events {
                assert_eq!(channel, Channel::Messaging);
                let EventKind::Message { text, .. } = ev.kind else {
                    panic!("{ev:?}")
                };
                let (psid, i) = text.split_once(':').unwrap();
                assert_eq!(ev.psid.as_deref(), Some(psid));
                seen.entry(psid.to_string())
                    .or_default()
                    .push(i.parse().unwrap());
            }
        }
        for psid in psids {
            assert_eq!(
                seen[psid],
                (0..N).collect::<Vec<_>>(),
                "app {a}, PSID {psid}"
            );
        }
    }
    // Not required, but the receivers must cope with it when it happens.
    eprintln!("deliveries carried several events: {batched}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_gives_events_up_and_flush_returns() {
    let mut config = ServerConfig::new(KEY.to_string());
    config.delivery = fast_delivery();
    config.delivery.timeout = Duration::from_millis(100);
    config.delivery.retries = 0;
    config.delivery.queue_capacity = 2;
    config.delivery.max_batch = 1;
    let h = Harness::with_config(config).await;
    let mut w = World::plain(&h.sink, "900007", 1, None);
    w.reset(&h).await;
    h.sink.hang_always(w.hook(A0), Duration::from_secs(5));
    for i in 0..10 {
        w.user_message(&h, "1", &format!("m{i}")).await;
    }
    let started = Instant::now();
    assert_eq!(h.flush("900007").await, 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    // At most 1 in flight + 2 queued were ever attempted.
    let hits = h.sink.hits(w.hook(A0));
    assert!((1..=3).contains(&hits.len()), "{} attempts", hits.len());
    // The queue works again once the receiver does.
    h.sink.heal(w.hook(A0));
    w.user_message(&h, "1", "later").await;
    assert_eq!(h.flush("900007").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn envelopes_carry_the_virtual_clock() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900008", 1, None);
    w.reset(&h).await;
    w.op(&h, Op::Clock { advance_ms: 5_000 }).await;
    w.user_message(&h, "1", "tick").await;
    w.check(&h).await;
    let hit = h.sink.hits(w.hook(A0)).pop().unwrap();
    let v: Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(v["entry"][0]["time"], json!(T0 + 5_000));
    assert_eq!(
        v["entry"][0]["messaging"][0]["timestamp"],
        json!(T0 + 5_000)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_webhook_urls_are_given_up_on() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900009", 4, None);
    w.creds[0].webhook_url = "not a url".into();
    w.creds[1].webhook_url = "https://127.0.0.1:1/tls".into();
    w.creds[2].webhook_url = "http://127.0.0.1:1/closed".into();
    w.reset(&h).await;
    w.user_message(&h, "1", "anyone?").await;
    let started = Instant::now();
    assert_eq!(h.flush("900009").await, 1, "only app 3 can be reached");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(h.sink.hits(w.hook(A3)).len(), 1);
    // A page without apps: events go nowhere, nothing breaks.
    let mut empty = World::plain(&h.sink, "900010", 0, None);
    empty.reset(&h).await;
    empty.user_message(&h, "1", "hello?").await;
    assert_eq!(empty.check(&h).await, 0);
    let r = h
        .control("GET", "transcript?page_id=900010&psid=1", None)
        .await;
    assert_eq!(r.json(), json!({"data": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn any_2xx_acknowledges_and_3xx_does_not() {
    let h = Harness::start().await;
    let mut w = World::plain(&h.sink, "900011", 3, None);
    w.reset(&h).await;
    h.sink.fail_next(w.hook(A0), 1, 204);
    h.sink.fail_next(w.hook(A1), 1, 202);
    h.sink.fail_next(w.hook(A2), 1, 302);
    w.user_message(&h, "1", "ack?").await;
    // The sink records 204/202 as "not 200", but they are 2xx: no retry.
    assert_eq!(h.flush("900011").await, 3);
    assert_eq!(h.sink.hits(w.hook(A0)).len(), 1);
    assert_eq!(h.sink.hits(w.hook(A1)).len(), 1);
    let a2: Vec<Answered> = h.sink.hits(w.hook(A2)).iter().map(|x| x.answered).collect();
    assert_eq!(a2, [Answered::Status(302), Answered::Ok]);
}
