//! Hostile apps under `baton certify-app`: one that never answers, one
//! that stops answering after the preflight, one that answers garbage, one
//! that closes every connection, one that floods the Graph API on every
//! delivery. Each is judged within `--time-limit` + 60 s with exit code 1
//! (a rule broken) or 3 (not an app baton can talk to), and a flood leaves
//! a bounded record. The apps are small hand-written servers below.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const VERIFY_TOKEN: &str = "hostile-vt";
const TOKEN: &str = "hostile-token";
const TIME_LIMIT_S: u64 = 10;

/// A free loopback port (taken, then given back) for baton's Graph API.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Judged {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    dir: std::path::PathBuf,
}

/// Certifies the app at `addr` (its webhook at `/webhook`), baton's Graph
/// API on `graph_port`, and checks the bounds every hostile app must get.
async fn certify(tag: &str, addr: SocketAddr, graph_port: u16, extra: &[&str]) -> Judged {
    let dir = scratch(tag);
    let webhook = format!("http://{addr}/webhook");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(["certify-app", "--webhook", &webhook, "--quiet"])
        .args(["--port", &graph_port.to_string()])
        .args(["--time-limit", &format!("{TIME_LIMIT_S}s")])
        .args(if extra.contains(&"--cases") {
            &[][..]
        } else {
            &["--cases", "20"][..]
        })
        .args(["--seed", "5"])
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--snapshots")
        .arg(dir.join("snap"))
        .args(extra)
        .env("BATON_VERIFY_TOKEN", VERIFY_TOKEN)
        .env("BATON_APP_TOKEN", TOKEN);
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let j = Judged {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
        dir,
    };
    assert!(
        matches!(j.code, Some(1) | Some(3)),
        "{tag}: exit {:?}\n{}\n{}",
        j.code,
        j.stdout,
        j.stderr
    );
    // The bound is generous on purpose: --time-limit + 60 s.
    assert!(
        j.took <= Duration::from_secs(TIME_LIMIT_S + 60),
        "{tag}: took {:?}\n{}",
        j.took,
        j.stdout
    );
    for secret in [VERIFY_TOKEN, TOKEN] {
        assert!(
            !j.stdout.contains(secret) && !j.stderr.contains(secret),
            "{tag}: {secret}"
        );
    }
    j
}

/// A listener that does `with` to every connection.
async fn raw_app<F, Fut>(with: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            tokio::spawn(with(c));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_never_answers_is_unreachable() {
    let addr = raw_app(|c| async move {
        // Hold the connection, read nothing, answer nothing.
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(c);
    })
    .await;
    let j = certify("silent", addr, free_port(), &[]).await;
    assert_eq!(j.code, Some(3), "{}", j.stderr);
    assert!(j.stderr.contains("no answer"), "{}", j.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_answers_garbage_is_judged() {
    let addr = raw_app(|mut c| async move {
        let mut buf = [0u8; 4096];
        let _ = c.read(&mut buf).await;
        let _ = c
            .write_all(b"\x00\xffthis is not HTTP at all\r\n\r\n\x07\x08")
            .await;
        let _ = c.shutdown().await;
    })
    .await;
    let j = certify("garbage", addr, free_port(), &[]).await;
    assert!(
        j.stderr.contains(&format!("http://{addr}/webhook")),
        "{}",
        j.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_closes_every_connection_is_judged() {
    let addr = raw_app(|c| async move { drop(c) }).await;
    let j = certify("closes", addr, free_port(), &[]).await;
    assert!(
        j.stderr.contains(&format!("http://{addr}/webhook")),
        "{}",
        j.stderr
    );
}

/// The verification handshake, answered correctly.
fn handshake(q: &HashMap<String, String>) -> (StatusCode, String) {
    if q.get("hub.verify_token").map(String::as_str) == Some(VERIFY_TOKEN) {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

async fn serve(router: axum::Router) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_stops_answering_after_the_preflight_breaks_app_1() {
    let posts = Arc::new(AtomicU64::new(0));
    let router = axum::Router::new()
        .route(
            "/webhook",
            get(|Query(q): Query<HashMap<String, String>>| async move { handshake(&q) }).post(
                |State(posts): State<Arc<AtomicU64>>| async move {
                    // The first signed delivery is answered; none after it.
                    if posts.fetch_add(1, Ordering::SeqCst) > 0 {
                        std::future::pending::<()>().await;
                    }
                    StatusCode::OK
                },
            ),
        )
        .with_state(posts);
    let addr = serve(router).await;
    let j = certify("stalls", addr, free_port(), &[]).await;
    assert_eq!(j.code, Some(1), "{}\n{}", j.stdout, j.stderr);
    assert!(j.stdout.contains("APP-1"), "{}", j.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_floods_the_graph_api_leaves_a_bounded_record() {
    const FLOOD: usize = 5_000;
    let graph_port = free_port();
    let made = Arc::new(AtomicU64::new(0));
    let state = (graph_port, made.clone());
    let router = axum::Router::new()
        .route(
            "/webhook",
            get(|Query(q): Query<HashMap<String, String>>| async move { handshake(&q) }).post(
                |State((port, made)): State<(u16, Arc<AtomicU64>)>, body: String| async move {
                    // Every PSID of the delivery gets FLOOD sends without a
                    // messaging_type (INPUT-1: APP-6), 64 at a time.
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let mut psids = Vec::new();
                    for e in v["entry"].as_array().into_iter().flatten() {
                        for m in e["messaging"].as_array().into_iter().flatten() {
                            if let Some(p) = m["sender"]["id"].as_str() {
                                psids.push(p.to_string());
                            }
                        }
                    }
                    tokio::spawn(flood(port, psids, FLOOD, made));
                    StatusCode::OK
                },
            ),
        )
        .with_state(state);
    let addr = serve(router).await;
    let j = certify(
        "flood",
        addr,
        graph_port,
        &["--cases", "3", "--jobs", "3", "--max-stimuli", "3"],
    )
    .await;
    assert_eq!(j.code, Some(1), "{}\n{}", j.stdout, j.stderr);
    assert!(
        made.load(Ordering::Relaxed) >= FLOOD as u64,
        "the flood happened"
    );
    assert!(j.stdout.contains("APP-6"), "{}", j.stdout);
    assert!(
        j.stdout
            .contains("more Graph calls than the 200 per PSID and stimulus"),
        "the counterexample says calls were left out: {}",
        j.stdout
    );
    // The counterexample file stays small whatever the flood.
    for f in std::fs::read_dir(j.dir.join("out")).unwrap() {
        let len = f.unwrap().metadata().unwrap().len();
        assert!(len < 2_000_000, "a counterexample of {len} bytes");
    }
}

/// `n` sends per PSID, 64 in flight at a time.
async fn flood(port: u16, psids: Vec<String>, n: usize, made: Arc<AtomicU64>) {
    let http = reqwest::Client::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for psid in psids {
        for i in 0..n {
            let permit = gate.clone().acquire_owned().await.unwrap();
            let http = http.clone();
            let made = made.clone();
            let body =
                format!(r#"{{"recipient":{{"id":"{psid}"}},"message":{{"text":"flood {i}"}}}}"#);
            tasks.spawn(async move {
                let _ = http
                    .post(format!(
                        "http://127.0.0.1:{port}/v19.0/me/messages?access_token={TOKEN}"
                    ))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                made.fetch_add(1, Ordering::Relaxed);
                drop(permit);
            });
        }
    }
    while tasks.join_next().await.is_some() {}
}
