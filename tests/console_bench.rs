//! The cost of watching: Graph calls per second against the reference
//! server with and without a console event stream attached, in
//! interleaved rounds. Ignored by default (it measures, and measuring
//! belongs to the release build):
//!
//! `cargo test --release --test console_bench -- --ignored --nocapture`
//!
//! It prints the ratio (with / without); the done-when asks for >= 0.9.

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod console_kit;

const PAGES: usize = 4;
const CLIENTS_PER_PAGE: usize = 8;
const ROUNDS: usize = 8;
const ROUND_SECS: f64 = 1.5;

async fn load(s: &baton::server::RunningServer, secs: f64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for p in 0..PAGES {
        for c in 0..CLIENTS_PER_PAGE {
            let (url, done, stop) = (s.url(), done.clone(), stop.clone());
            let page = format!("{}", 800 + p);
            tasks.push(tokio::spawn(async move {
                let http = console_kit::client();
                let psid = format!("{}", 10 + c);
                let call = |i: usize, edge: &str, body: serde_json::Value| {
                    http.post(format!(
                        "{url}/v19.0/me/{edge}?access_token={}",
                        console_kit::token(&page, i)
                    ))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                };
                while !stop.load(Ordering::Relaxed) {
                    let r = call(
                        0,
                        "messages",
                        json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "hello"}}),
                    )
                    .await
                    .unwrap();
                    let _ = r.bytes().await;
                    let r = call(
                        0,
                        "pass_thread_control",
                        json!({"recipient": {"id": psid}, "target_app_id": format!("{page}10")}),
                    )
                    .await
                    .unwrap();
                    let _ = r.bytes().await;
                    let r = call(0, "take_thread_control", json!({"recipient": {"id": psid}}))
                        .await
                        .unwrap();
                    let _ = r.bytes().await;
                    done.fetch_add(3, Ordering::Relaxed);
                }
            }));
        }
    }
    let t0 = Instant::now();
    let start = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let n = done.load(Ordering::Relaxed) - start;
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture, in release"]
async fn graph_throughput_with_a_console_attached() {
    let s = console_kit::server().await;
    let sink = console_kit::sink().await;
    for p in 0..PAGES {
        let page = format!("{}", 800 + p);
        console_kit::reset(&s, &sink, &page).await;
        for c in 0..CLIENTS_PER_PAGE {
            console_kit::control(
                &s,
                "user_event",
                json!({"page_id": page, "type": "message", "psid": format!("{}", 10 + c), "text": "hi"}),
            )
            .await;
        }
    }
    let cookie = console_kit::login(&s).await;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    // Rounds alternate which configuration goes first, so a drift of the
    // machine's load during the run falls on both alike.
    for round in 0..ROUNDS {
        let attached_first = round % 2 == 1;
        if !attached_first {
            without.push(load(&s, ROUND_SECS).await);
        }
        // A console attached: a stream that reads every snapshot.
        let mut resp = console_kit::client()
            .get(format!("{}/console/events", s.url()))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let bytes = Arc::new(AtomicU64::new(0));
        let b = bytes.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(c)) = resp.chunk().await {
                b.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
        });
        with.push(load(&s, ROUND_SECS).await);
        reader.abort();
        let _ = reader.await;
        if attached_first {
            without.push(load(&s, ROUND_SECS).await);
        }
        println!(
            "round {round}: without {:.0}/s, with {:.0}/s ({} bytes of snapshots)",
            without[round],
            with[round],
            bytes.load(Ordering::Relaxed)
        );
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (med(&mut without), med(&mut with));
    println!(
        "Graph calls/s: without a console {a:.0}, with one attached {b:.0}: ratio {:.3}",
        b / a
    );
    s.stop().await;
}
