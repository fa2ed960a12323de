//! The reference server on an ephemeral port, a webhook sink, and an HTTP
//! client to call both the Graph API and the control API.

use super::sink::Sink;
use baton::server::{DeliveryConfig, Mutant, Mutants, RunningServer, ServerConfig};
use baton::wire::HttpRequest;
use baton::wire::control::{ControlRequest, KEY_HEADER, TranscriptItem};
use serde_json::{Value, json};
use std::time::Duration;

/// The control key every test server uses.
pub const KEY: &str = "test-conformance-key";

/// Short delivery settings so that retry and timeout tests stay fast (the
/// timeout is long enough that a loaded machine does not turn slow answers
/// into retries, which the tests would count as duplicates).
pub fn fast_delivery() -> DeliveryConfig {
    DeliveryConfig {
        timeout: Duration::from_millis(1000),
        retries: 3,
        backoff: Duration::from_millis(20),
        queue_capacity: 1000,
        max_batch: 50,
        capture: None,
    }
}

/// An HTTP answer: status, headers (names in lowercase), body bytes.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a Graph error answer: the status, a well-formed envelope
    /// (`message`, `type`, `code`, `fbtrace_id`), the code, and the
    /// subcode (absent, not null, when `None`).
    pub fn assert_graph_error(&self, status: u16, code: u64, subcode: Option<u64>) {
        let ctx = format!("HTTP {}: {}", self.status, self.text());
        assert_eq!(self.status, status, "{ctx}");
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{ctx}"
        );
        let v = self.json();
        let e = v
            .get("error")
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("no error envelope: {ctx}"));
        assert!(
            e.get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty()),
            "{ctx}"
        );
        assert_eq!(e.get("type"), Some(&json!("OAuthException")), "{ctx}");
        assert!(
            e.get("fbtrace_id").and_then(Value::as_str).is_some(),
            "{ctx}"
        );
        assert_eq!(e.get("code"), Some(&json!(code)), "{ctx}");
        match subcode {
            Some(s) => assert_eq!(e.get("error_subcode"), Some(&json!(s)), "{ctx}"),
            None => assert!(!e.contains_key("error_subcode"), "{ctx}"),
        }
        if code == 190 {
            let www = self
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("190 without WWW-Authenticate: {ctx}"));
            assert!(
                www.starts_with("OAuth \"Facebook Platform\" \"invalid_token\" \""),
                "{www}"
            );
        } else {
            assert!(self.header("www-authenticate").is_none(), "{ctx}");
        }
    }

    /// Asserts a control-API error: 400 with `{"error":"…"}`.
    pub fn assert_control_error(&self) {
        assert_eq!(self.status, 400, "{}", self.text());
        let v = self.json();
        assert!(
            v.get("error")
                .and_then(Value::as_str)
                .is_some_and(|e| !e.is_empty()),
            "{v}"
        );
    }

    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.text());
    }
}

/// A running server, a sink and a client.
pub struct Harness {
    pub server: RunningServer,
    pub sink: Sink,
    pub http: reqwest::Client,
}

impl Harness {
    /// No mutants, fast delivery settings.
    pub async fn start() -> Harness {
        Harness::with_mutants(&[]).await
    }

    pub async fn with_mutants(mutants: &[Mutant]) -> Harness {
        let mut config = ServerConfig::new(KEY.to_string());
        config.mutants = Mutants::new(mutants.to_vec());
        config.delivery = fast_delivery();
        Harness::with_config(config).await
    }

    pub async fn with_config(config: ServerConfig) -> Harness {
        let sink = Sink::start().await;
        let server = RunningServer::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("start the server");
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(16)
            .build()
            .expect("client");
        Harness { server, sink, http }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.server.url())
    }

    /// Any request; `method` may be an extension method.
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(method, self.url(path_and_query));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let resp = tokio::time::timeout(Duration::from_secs(10), rb.send())
            .await
            .expect("the server answers within 10 s")
            .expect("HTTP request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp.bytes().await.expect("body").to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A rendered Graph request.
    pub async fn send(&self, req: &HttpRequest) -> Resp {
        let mut headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(ct) = &req.content_type {
            headers.push(("content-type", ct));
        }
        self.request(&req.method, &req.path_and_query, &headers, req.body.clone())
            .await
    }

    /// A control call with the right key. `route` is below `/conformance/`
    /// and may carry a query.
    pub async fn control(&self, method: &str, route: &str, body: Option<Value>) -> Resp {
        self.control_keyed(Some(KEY), method, route, body).await
    }

    /// A control call with the given key (`None`: no header at all).
    pub async fn control_keyed(
        &self,
        key: Option<&str>,
        method: &str,
        route: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut headers = Vec::new();
        if let Some(k) = key {
            headers.push((KEY_HEADER, k));
        }
        let body = body.map(|b| {
            headers.push(("content-type", "application/json"));
            serde_json::to_vec(&b).unwrap()
        });
        self.request(method, &format!("/conformance/{route}"), &headers, body)
            .await
    }

    /// A typed control call with the right key.
    pub async fn control_req(&self, req: &ControlRequest) -> Resp {
        let route = match req.query() {
            Some(q) => format!("{}?{q}", req.route()),
            None => req.route().to_string(),
        };
        self.control(req.method(), &route, req.body()).await
    }

    pub async fn post(&self, route: &str, body: Value) -> Resp {
        self.control("POST", route, Some(body)).await
    }

    /// `flush` for a page; returns `delivered`.
    pub async fn flush(&self, page_id: &str) -> u64 {
        let r = self.post("flush", json!({ "page_id": page_id })).await;
        r.assert_ok();
        r.json()["delivered"]
            .as_u64()
            .unwrap_or_else(|| panic!("flush answer {}", r.text()))
    }

    pub async fn transcript(&self, page_id: &str, psid: &str) -> Vec<TranscriptItem> {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("page_id", page_id)
            .append_pair("psid", psid)
            .finish();
        let r = self.control("GET", &format!("transcript?{q}"), None).await;
        r.assert_ok();
        let v: baton::wire::control::TranscriptAnswer =
            serde_json::from_slice(&r.body).expect("transcript answer");
        v.data
    }
}
