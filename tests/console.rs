//! The console's front door: nothing without the one-time login URL; the
//! URL works once and sets an HttpOnly cookie; the page never carries the
//! control key.

use baton::server::{RunningServer, ServerConfig};
use serde_json::{Value, json};

mod console_kit;

const KEY: &str = "console-test-control-key";

async fn server() -> RunningServer {
    RunningServer::start(
        ServerConfig::new(KEY.into()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("server starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn console_without_login_shows_nothing() {
    let s = server().await;
    let c = client();
    for path in ["/console", "/console/state", "/console?token=wrong"] {
        let r = c.get(format!("{}{path}", s.url())).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("<html"), "{path} leaked the page: {body}");
        assert!(
            body.contains("baton serve"),
            "{path} says what to do: {body}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn login_url_works_once_and_sets_an_http_only_cookie() {
    let s = server().await;
    let c = client();
    let login = format!("{}{}", s.url(), s.platform.console_login_path().unwrap());
    let r = c.get(&login).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    assert!(s.platform.console_login_path().is_none());

    let again = c.get(&login).send().await.unwrap();
    assert_eq!(again.status(), 401, "the login token is single-use");

    let page = c
        .get(format!("{}/console", s.url()))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("baton console"));
    assert!(
        !html.contains(KEY),
        "the page must not carry the control key"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );

    let state = c
        .get(format!("{}/console/state", s.url()))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&state.text().await.unwrap()).unwrap();
    assert!(v["pages"].is_array());
    s.stop().await;
}

/// Reads server-sent events from a streaming response.
struct Events {
    resp: reqwest::Response,
    buf: String,
    /// Every byte the stream carried, to scan for secrets.
    all: String,
}

impl Events {
    async fn open(s: &RunningServer, cookie: &str, query: &str) -> Events {
        let resp = console_kit::client()
            .get(format!("{}/console/events?{query}", s.url()))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        Events {
            resp,
            buf: String::new(),
            all: String::new(),
        }
    }

    /// The next `snapshot` event's data.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if let Some(data) = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .filter(|_| frame.starts_with("event: snapshot"))
                {
                    return serde_json::from_str(data).expect("snapshot is JSON");
                }
                continue;
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("a snapshot within 10 s of a change")
                .unwrap()
                .expect("the stream stays open");
            let text = String::from_utf8_lossy(&chunk).into_owned();
            self.all.push_str(&text);
            self.buf.push_str(&text);
        }
    }

    /// Snapshots until one satisfies `ok` (each change sends one).
    async fn until(&mut self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..50 {
            let v = self.next().await;
            if ok(&v) {
                return v;
            }
        }
        panic!("no snapshot showed {what}");
    }
}

async fn act(s: &RunningServer, cookie: &str, route: &str, body: Value) -> reqwest::Response {
    console_kit::client()
        .post(format!("{}/console/act/{route}", s.url()))
        .header("cookie", cookie)
        .header("x-baton-console", "1")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn console_events_follow_actions_and_never_show_secrets() {
    let s = console_kit::server().await;
    let sink = console_kit::sink().await;
    console_kit::reset(&s, &sink, "61").await;
    let cookie = console_kit::login(&s).await;
    let html = console_kit::client()
        .get(format!("{}/console", s.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut ev = Events::open(&s, &cookie, "").await;
    let first = ev.next().await;
    assert_eq!(first["page"]["page_id"], "61", "the only page opens");
    assert_eq!(first["page"]["apps"][0]["primary"], true);

    // The user writes through the console: the control API's path.
    let r = act(
        &s,
        &cookie,
        "user_event",
        json!({"page_id": "61", "type": "message", "psid": "5", "text": "hello"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let mid = serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["mid"].clone();
    assert!(mid.is_string(), "the answer is the control API's");
    let v = ev
        .until("the message delivered to the primary app", |v| {
            v["page"]["apps"][0]["hooks"][0]["status"] == "delivered"
        })
        .await;
    let p = &v["page"];
    assert_eq!(p["selected"], "5");
    assert_eq!(p["chat"][0]["text"], "hello");
    let st = s.platform.page_state("61").unwrap();
    let owner = baton::server::console_log::party_label(&st.setup, st.owner("5"));
    assert_eq!(p["threads"][0]["owner"], owner.as_str());
    let hook = &p["apps"][0]["hooks"][0];
    assert_eq!(hook["event"], "message");
    assert_eq!(hook["attempts"][0]["status"], 200);
    assert_eq!(hook["attempts"][0]["text"], r#"{"received":true}"#);

    // A bot's refused Graph call shows with the rule that refused it.
    let refused = console_kit::graph(
        &s,
        "61",
        2,
        "release_thread_control",
        json!({"recipient": {"id": "5"}}),
    )
    .await;
    assert!(refused["error"].is_object(), "{refused}");
    let v = ev
        .until("the refused call", |v| {
            v["page"]["apps"][2]["calls"][0]["refused"] == true
        })
        .await;
    let rule = v["page"]["apps"][2]["calls"][0]["rule"].as_str().unwrap();
    assert!(rule.contains('-'), "a rule ID: {rule}");

    // The clock through the console.
    let r = act(
        &s,
        &cookie,
        "clock",
        json!({"page_id": "61", "advance_ms": 60_000}),
    )
    .await;
    assert_eq!(r.status(), 200);
    ev.until("the clock moved", |v| {
        v["page"]["now_ms"] == 1_767_225_660_000u64
    })
    .await;

    // What the console may not do, and says so.
    let r = act(&s, &cookie, "reset", json!({})).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("user_event"));
    let r = console_kit::client()
        .post(format!("{}/console/act/clock", s.url()))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body(json!({"page_id": "61", "advance_ms": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "an action needs the console's header");
    let r = console_kit::client()
        .post(format!("{}/console/act/clock", s.url()))
        .header("x-baton-console", "1")
        .header("content-type", "application/json")
        .body(json!({"page_id": "61", "advance_ms": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an action needs a session");
    let r = console_kit::client()
        .get(format!("{}/console/events", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the stream needs a session");

    for secret in console_kit::secrets("61") {
        assert!(!ev.all.contains(&secret), "the event stream shows a secret");
        assert!(!html.contains(&secret), "the page shows a secret");
    }
    assert!(ev.all.len() > 1000, "the scan saw the stream");
    drop(ev);
    s.stop().await;
}

#[tokio::test]
async fn snapshot_of_50_pages_with_100_threads_is_bounded() {
    let s = console_kit::server().await;
    let sink = console_kit::sink().await;
    let mut tasks = Vec::new();
    for page in 0..50 {
        let page = format!("{}", 700 + page);
        console_kit::reset(&s, &sink, &page).await;
        let url = s.url();
        tasks.push(tokio::spawn(async move {
            let c = console_kit::client();
            for psid in 0..100 {
                let r = c
                    .post(format!("{url}/conformance/user_event"))
                    .header("x-conformance-key", console_kit::KEY)
                    .header("content-type", "application/json").body(json!({"page_id": page, "type": "message", "psid": format!("{psid}"), "text": "a message of some length"}).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cookie = console_kit::login(&s).await;
    let mut ev = Events::open(&s, &cookie, "").await;
    let v = ev.next().await;
    let size = ev.all.len();
    assert_eq!(v["pages_total"], 50);
    assert_eq!(v["pages"].as_array().unwrap().len(), 50);
    assert_eq!(v["page"]["threads"].as_array().unwrap().len(), 100);
    assert!(
        size < 256 * 1024,
        "the first snapshot of 50 pages x 100 threads is {size} bytes"
    );
    // The most recently active page opens, with its most recent thread.
    let newest = v["pages"][0]["page_id"].clone();
    assert_eq!(v["page"]["page_id"], newest);
    assert_eq!(v["page"]["selected"], v["page"]["threads"][0]["psid"]);
    println!("snapshot of 50 pages x 100 threads: {size} bytes");
    drop(ev);
    s.stop().await;
}

#[tokio::test]
async fn stopping_the_server_ends_an_attached_stream() {
    let s = console_kit::server().await;
    let cookie = console_kit::login(&s).await;
    let mut ev = Events::open(&s, &cookie, "").await;
    let first = ev.next().await;
    assert!(first["page"].is_null(), "no page yet: {first}");
    assert_eq!(first["pages_total"], 0);
    // A graceful shutdown waits for open connections: the stream must end
    // by itself, or Ctrl-C on `baton serve` would hang.
    tokio::time::timeout(std::time::Duration::from_secs(10), s.stop())
        .await
        .expect("the server stops with a console attached");
    let rest = tokio::time::timeout(std::time::Duration::from_secs(10), ev.resp.chunk())
        .await
        .expect("the stream ends");
    assert!(!matches!(rest, Ok(Some(_))), "nothing follows the shutdown");
}
