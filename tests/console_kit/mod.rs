//! Shared by the console tests: a server, a webhook sink that answers 200
//! with a short body, a page reset with known secrets, and a login.
#![allow(dead_code)]

use baton::server::{DeliveryConfig, RunningServer, ServerConfig};
use serde_json::{Value, json};

pub const KEY: &str = "console-test-control-key-5ecret";

/// Every secret the tests configure: none may show in the console.
pub fn secrets(page: &str) -> Vec<String> {
    let mut s = vec![KEY.to_string()];
    for i in 0..3 {
        s.push(format!("tok-{page}-{i}-secret"));
        s.push(format!("appsecret-{page}-{i}-xyz"));
    }
    s
}

pub async fn server() -> RunningServer {
    let mut config = ServerConfig::new(KEY.into());
    config.delivery = DeliveryConfig {
        retries: 1,
        backoff: std::time::Duration::from_millis(20),
        ..DeliveryConfig::default()
    };
    RunningServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts")
}

/// A webhook receiver answering `200 {"received":true}` on `/hook/{name}`.
pub async fn sink() -> String {
    let app = axum::Router::new().route(
        "/hook/{name}",
        axum::routing::post(|| async { axum::Json(json!({"received": true})) }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    url
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn token(page: &str, i: usize) -> String {
    format!("tok-{page}-{i}-secret")
}

/// Resets `page` with three apps (Bot primary, Agent with human_agent,
/// Survey) whose webhooks go to `sink`, and an Instagram account.
pub async fn reset(s: &RunningServer, sink: &str, page: &str) {
    let names = ["Bot", "Agent", "Survey"];
    let apps: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({
                "app_id": format!("{page}{i}0"),
                "name": n,
                "access_token": token(page, i),
                "app_secret": format!("appsecret-{page}-{i}-xyz"),
                "webhook_url": format!("{sink}/hook/{n}"),
                "human_agent": i == 1,
                "require_appsecret_proof": false,
            })
        })
        .collect();
    let r = control(
        s,
        "reset",
        json!({
            "page_id": page,
            "now_ms": 1_767_225_600_000u64,
            "primary_receiver": format!("{page}00"),
            "apps": apps,
            "instagram_account_id": format!("17{page}"),
        }),
    )
    .await;
    assert_eq!(r["ok"], true, "reset: {r}");
}

pub async fn control(s: &RunningServer, route: &str, body: Value) -> Value {
    let r = client()
        .post(format!("{}/conformance/{route}", s.url()))
        .header("x-conformance-key", KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// A Graph call by app `i` of `page`, as a bot (or curl) makes it.
pub async fn graph(s: &RunningServer, page: &str, i: usize, edge: &str, body: Value) -> Value {
    let r = client()
        .post(format!(
            "{}/v19.0/me/{edge}?access_token={}",
            s.url(),
            token(page, i)
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Logs in with the one-time URL; returns the `cookie` header value.
pub async fn login(s: &RunningServer) -> String {
    let url = format!("{}{}", s.url(), s.platform.console_login_path().unwrap());
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let c = r.headers()["set-cookie"].to_str().unwrap();
    c.split(';').next().unwrap().to_string()
}
