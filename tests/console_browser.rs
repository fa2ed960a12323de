//! The console in a real browser: headless Chromium driven through the
//! DevTools protocol (a small hand-written client: one WebSocket, JSON
//! commands) logs in with the printed URL, writes as the user from the
//! page, and checks from the DOM that the owner, the chat and the webhook
//! log show what the model says, without a reload; a bot's pass to the
//! Page Inbox (as with curl) shows too. Then the layout at 1366 x 768:
//! the panels are visible, inside the viewport and do not overlap; the
//! screenshot is written to docs/console.png with BATON_UPDATE_SCREENSHOT=1.
//!
//! Without Chromium the test is skipped with a message, except under
//! CI=true, where it fails.

use baton::model::{Op, Surface, UserEvent, apply};
use baton::server::console_log::party_label;
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod console_kit;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, killed (by its own id) when the test ends, even on failure;
/// its profile directory is removed then.
struct Browser(std::process::Child, std::path::PathBuf);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// A DevTools WebSocket connection to one page target.
struct Cdp {
    ws: TcpStream,
    next_id: u64,
}

impl Cdp {
    async fn connect(ws_url: &str) -> Cdp {
        let rest = ws_url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_once('/').expect("a path");
        let mut ws = TcpStream::connect(host).await.expect("DevTools port");
        let req = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        ws.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            ws.read_exact(&mut b).await.expect("handshake answer");
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "no WebSocket: {head}");
        Cdp { ws, next_id: 0 }
    }

    async fn send_frame(&mut self, text: &[u8]) {
        let mut f = vec![0x81u8];
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        match text.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&mask);
        f.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.ws.write_all(&f).await.unwrap();
    }

    /// One whole text message (continuation frames joined).
    async fn read_message(&mut self) -> Vec<u8> {
        let mut msg = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.ws.read_exact(&mut h).await.expect("a frame");
            let fin = h[0] & 0x80 != 0;
            let opcode = h[0] & 0x0f;
            let mut len = (h[1] & 0x7f) as u64;
            if len == 126 {
                let mut b = [0u8; 2];
                self.ws.read_exact(&mut b).await.unwrap();
                len = u16::from_be_bytes(b) as u64;
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.ws.read_exact(&mut b).await.unwrap();
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.ws.read_exact(&mut payload).await.unwrap();
            match opcode {
                0x8 => panic!("DevTools closed the connection"),
                0x9 | 0xA => continue,
                _ => msg.extend_from_slice(&payload),
            }
            if fin {
                return msg;
            }
        }
    }

    /// Sends a command and waits for its result (events are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let cmd = json!({"id": id, "method": method, "params": params}).to_string();
        self.send_frame(cmd.as_bytes()).await;
        loop {
            let m: Value = serde_json::from_slice(&self.read_message().await).expect("JSON");
            if m["id"] == id {
                assert!(m["error"].is_null(), "{method} failed: {}", m["error"]);
                return m["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression and returns its value.
    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            r["exceptionDetails"].is_null(),
            "{expr} threw: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits (at most 5 s, checking every 50 ms) for `expr` to be true.
    async fn wait_for(&mut self, what: &str, expr: &str) {
        for _ in 0..100 {
            if self.eval(expr).await == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = self.eval("document.body.innerText").await;
        panic!("the page did not show {what} within 5 s; it shows:\n{body}");
    }

    async fn click(&mut self, id: &str) {
        let r = self
            .eval(&format!(
                "(() => {{ const r = document.getElementById({id:?}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }

    async fn type_into(&mut self, id: &str, text: &str) {
        self.eval(&format!(
            "(() => {{ const e = document.getElementById({id:?}); e.focus(); e.select(); }})()"
        ))
        .await;
        self.call("Input.insertText", json!({"text": text})).await;
    }
}

fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(val).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= (b as u32) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

/// Headless Chromium at 1366 x 768 with its own profile `name`, and a
/// DevTools connection to its page.
async fn chromium(name: &str) -> (Browser, Cdp) {
    let profile = std::env::temp_dir().join(format!(
        "baton-console-chromium-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1366,768",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let stderr = child.stderr.take().unwrap();
    let chrome = Browser(child, profile);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(u) = l.strip_prefix("DevTools listening on ") {
                let _ = tx.send(u.to_string());
            }
        }
    });
    let browser_ws = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("chromium prints its DevTools URL within 30 s");
    let port = browser_ws
        .strip_prefix("ws://127.0.0.1:")
        .and_then(|r| r.split('/').next())
        .expect("a local DevTools port");
    let list: Value = serde_json::from_str(
        &reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let target = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "page")
        .expect("a page target");
    let mut cdp = Cdp::connect(target["webSocketDebuggerUrl"].as_str().unwrap()).await;
    cdp.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;

    (chrome, cdp)
}

#[tokio::test]
async fn console_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{CHROMIUM} is missing under CI: install Debian's chromium (.ci/run does)");
        }
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install -y chromium) and CI is not set");
        return;
    }
    let s = console_kit::server().await;
    let sink = console_kit::sink().await;
    let page = "62";
    console_kit::reset(&s, &sink, page).await;
    // Some history so the screenshot shows a lived-in page: a menu, an
    // Instagram user, and a bot's refused call.
    console_kit::graph(
        &s,
        page,
        0,
        "messenger_profile",
        json!({"persistent_menu": [{"locale": "default", "call_to_actions": [
            {"type": "postback", "title": "Talk to a human", "payload": "HUMAN"},
            {"type": "postback", "title": "Order status", "payload": "ORDER"}]}]}),
    )
    .await;
    console_kit::control(
        &s,
        "user_event",
        json!({"page_id": page, "type": "message", "psid": "901", "text": "hi on Instagram", "platform": "instagram"}),
    )
    .await;
    console_kit::graph(
        &s,
        page,
        2,
        "take_thread_control",
        json!({"recipient": {"id": "901"}}),
    )
    .await;

    let (chrome, mut cdp) = chromium("main").await;

    // Log in with the printed URL; the page goes live over its stream.
    let login = format!("{}{}", s.url(), s.platform.console_login_path().unwrap());
    cdp.call("Page.navigate", json!({"url": login})).await;
    cdp.wait_for(
        "the live connection",
        "document.getElementById('conn')?.textContent === 'live'",
    )
    .await;
    assert_eq!(cdp.eval("location.pathname").await, "/console");
    assert_eq!(
        cdp.eval("document.cookie").await,
        "",
        "the session cookie is HttpOnly"
    );
    cdp.eval("window.__noReload = true").await;

    // Write as a new user from the page.
    cdp.type_into("psid-input", "501").await;
    cdp.type_into("msg-input", "hello from the browser").await;
    cdp.click("send-btn").await;
    cdp.wait_for(
        "the user's message in the chat",
        "[...document.querySelectorAll('#chat .msg.user')].some(m => m.textContent.includes('hello from the browser'))",
    )
    .await;

    // What the model says that step does, on a copy of the page as it was.
    let st = s.platform.page_state(page).unwrap();
    let owner = party_label(&st.setup, st.owner("501"));
    let mut before = st.clone();
    before.threads.remove("501");
    let out = apply(
        &mut before,
        &Op::User(UserEvent::Message {
            psid: "501".into(),
            text: "hello from the browser".into(),
            quick_reply: None,
            platform: Surface::Messenger,
        }),
    );
    assert_eq!(party_label(&before.setup, before.owner("501")), owner);
    cdp.wait_for(
        "the owner",
        &format!("document.getElementById('owner')?.textContent === {owner:?}"),
    )
    .await;
    assert!(!out.deliveries.is_empty(), "the model delivers the message");
    for d in &out.deliveries {
        let app = &st.setup.app(d.app).app_id;
        cdp.wait_for(
            &format!("app {app}'s delivery"),
            &format!(
                "[...document.querySelectorAll('.app-box[data-app-id=\"{app}\"] .webhooks li')].some(l => l.textContent.startsWith({:?}) && l.textContent.includes('message \"hello from the browser\"') && l.textContent.includes('delivered') && l.textContent.includes('HTTP 200'))",
                format!("{} · ", d.channel.as_str())
            ),
        )
        .await;
    }

    // A bot passes the thread to the Page Inbox (as with curl): the page
    // follows without a reload.
    let passed = console_kit::graph(
        &s,
        page,
        0,
        "pass_thread_control",
        json!({"recipient": {"id": "501"}, "target_app_id": "263902037430900"}),
    )
    .await;
    assert_eq!(passed["success"], true, "{passed}");
    cdp.wait_for(
        "the Page Inbox as owner",
        "document.getElementById('owner')?.textContent === 'Page Inbox'",
    )
    .await;
    // The inbox replies from the page, then marks the thread done.
    cdp.type_into("msg-input", "a person here").await;
    cdp.click("inbox-reply-btn").await;
    cdp.wait_for(
        "the inbox reply in the chat",
        "[...document.querySelectorAll('#chat .msg.inbox')].some(m => m.textContent.includes('a person here'))",
    )
    .await;
    cdp.click("inbox-done-btn").await;
    cdp.wait_for(
        "the done folder",
        "document.getElementById('folder')?.textContent === 'done'",
    )
    .await;
    let st = s.platform.page_state(page).unwrap();
    assert_eq!(st.thread("501").unwrap().folder, baton::model::Folder::Done);
    assert_eq!(cdp.eval("window.__noReload").await, true, "no reload");
    let notice = cdp
        .eval("document.getElementById('notice').textContent")
        .await;
    assert_eq!(notice, "", "no action was refused");

    // Layout at 1366 x 768.
    let rects = cdp
        .eval(
            "JSON.stringify(['header','left','center','right','chat','composer','thread-info','apps'].map(id => { const r = document.getElementById(id).getBoundingClientRect(); return {id, x: r.x, y: r.y, w: r.width, h: r.height}; }).concat([{id: 'vw', x: 0, y: 0, w: innerWidth, h: innerHeight}]))",
        )
        .await;
    let rects: Vec<Value> = serde_json::from_str(rects.as_str().unwrap()).unwrap();
    let get = |id: &str| {
        let r = rects.iter().find(|r| r["id"] == id).unwrap();
        let f = |k: &str| r[k].as_f64().unwrap();
        (f("x"), f("y"), f("w"), f("h"))
    };
    let (_, _, vw, vh) = get("vw");
    assert_eq!((vw, vh), (1366.0, 768.0));
    for id in [
        "header",
        "left",
        "center",
        "right",
        "chat",
        "composer",
        "thread-info",
    ] {
        let (x, y, w, h) = get(id);
        assert!(w > 50.0 && h > 20.0, "{id} is visible: {w}x{h}");
        assert!(
            x >= 0.0 && y >= 0.0 && x + w <= vw + 0.5 && y + h <= vh + 0.5,
            "{id} lies inside the viewport: {x},{y} {w}x{h}"
        );
    }
    let (lx, _, lw, _) = get("left");
    let (cx, _, cw, _) = get("center");
    let (rx, _, rw, _) = get("right");
    assert!(
        lx + lw <= cx + 0.5 && cx + cw <= rx + 0.5,
        "the columns do not overlap"
    );
    assert!(cw >= 500.0 && rw >= 300.0, "center {cw} px, right {rw} px");
    let (_, chy, _, chh) = get("chat");
    let (_, coy, _, _) = get("composer");
    assert!(chy + chh <= coy + 0.5, "the chat ends above the composer");
    assert!(chh >= 120.0, "the chat has room: {chh} px");

    let shot = cdp
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png_bytes = b64decode(shot["data"].as_str().unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let reader = decoder.read_info().expect("a PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (1366, 768));
    if std::env::var("BATON_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console.png");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, &png_bytes).unwrap();
        eprintln!("wrote {}", out.display());
    }

    // Nothing secret reached the page.
    let html = cdp.eval("document.documentElement.outerHTML").await;
    for secret in console_kit::secrets(page) {
        assert!(
            !html.as_str().unwrap().contains(&secret),
            "the DOM shows a secret"
        );
    }

    drop(chrome);
    drop(cdp);
    s.stop().await;
}

/// `baton run --console`: the page logged in with the run's login URL
/// shows the counterexample the run found, its diagram opened by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_run_opens_the_counterexample_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{CHROMIUM} is missing under CI: install Debian's chromium (.ci/run does)");
        }
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install -y chromium) and CI is not set");
        return;
    }
    let seed = 7;
    let out = std::env::temp_dir().join(format!("baton-console-run-cdp-{}", std::process::id()));
    let cfg = baton::harness::RunConfig {
        seed,
        cases: 300,
        jobs: 2,
        time_limit: Some(Duration::from_secs(90)),
        out_dir: out.join("counterexamples"),
        snapshot_dir: out.join("snapshots"),
        stop_on_deviation: true,
        ..baton::harness::RunConfig::default()
    };
    let mut login = None;
    let (report, embedded) =
        baton::embedded::run_with_console(cfg, &[baton::server::Mutant::SendNonOwner], |u| {
            login = Some(u.to_string())
        })
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let rule = report
        .counterexamples
        .first()
        .unwrap_or_else(|| panic!("seed {seed}: send-non-owner not caught"))
        .rule
        .id();
    let (chrome, mut cdp) = chromium("run").await;
    cdp.call("Page.navigate", json!({"url": login.expect("a login URL")}))
        .await;
    cdp.wait_for(
        "the counterexample's diagram, opened",
        "(() => { const d = document.querySelector('#findings:not([hidden]) details[open] img'); \
         return !!d && d.complete && d.naturalWidth > 0; })()",
    )
    .await;
    let summary = cdp
        .eval("document.querySelector('#findings details[open] summary').textContent")
        .await;
    assert!(
        summary.as_str().unwrap().contains(rule),
        "seed {seed}: the panel names {rule}: {summary}"
    );
    drop(chrome);
    drop(cdp);
    embedded.stop().await;
    let _ = std::fs::remove_dir_all(&out);
}
