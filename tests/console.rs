//! The console's front door: nothing without the one-time login URL; the
//! URL works once and sets an HttpOnly cookie; the page never carries the
//! control key.

use baton::server::{RunningServer, ServerConfig};

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
