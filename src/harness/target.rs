//! The implementation under test, as the harness reaches it: its Graph API
//! and its control API, over HTTP.

use crate::wire::HttpRequest;
use crate::wire::control::{ControlRequest, InfoAnswer, KEY_HEADER, TranscriptAnswer};
use std::fmt;
use std::time::Duration;

/// How a target failed us (not how it broke a rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// Nothing answered (connection refused, timeout, DNS).
    Unreachable(String),
    /// Something answered, but not the control API as specified.
    NoControlApi(String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Unreachable(s) | TargetError::NoControlApi(s) => f.write_str(s),
        }
    }
}

/// A raw HTTP answer.
#[derive(Clone, Debug)]
pub struct Answered {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Where and how to reach an implementation under test.
#[derive(Clone)]
pub struct Target {
    /// Graph API origin, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub graph: String,
    /// Control API base, e.g. `http://127.0.0.1:8080/conformance`.
    pub control: String,
    key: String,
    http: reqwest::Client,
    timeout: Duration,
    /// `graph` and `control` parsed once: requests are built from these
    /// without parsing the origin again (see [`join`]).
    graph_url: Option<reqwest::Url>,
    control_url: Option<reqwest::Url>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("graph", &self.graph)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl Target {
    pub fn new(graph: &str, control: Option<&str>, key: &str) -> Target {
        let graph = graph.trim_end_matches('/').to_string();
        let control = match control {
            Some(c) => c.trim_end_matches('/').to_string(),
            None => format!("{graph}/conformance"),
        };
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(256)
            .build()
            .expect("an HTTP client without TLS always builds");
        Target {
            graph_url: reqwest::Url::parse(&graph).ok(),
            control_url: reqwest::Url::parse(&control).ok(),
            graph,
            control,
            key: key.to_string(),
            http,
            timeout: Duration::from_secs(30),
        }
    }

    /// Asks `info`, which also checks that the control API and the key work.
    pub async fn info(&self) -> Result<InfoAnswer, TargetError> {
        let a = self.control(&ControlRequest::Info).await?;
        match a.status {
            200 => serde_json::from_slice(&a.body).map_err(|e| {
                TargetError::NoControlApi(format!(
                    "GET {}/info answered 200 but not with the info object ({e}); is --control right?",
                    self.control
                ))
            }),
            401 => Err(TargetError::NoControlApi(format!(
                "the control API at {} refused the key (401); pass the key the target uses with --key or BATON_KEY",
                self.control
            ))),
            s => Err(TargetError::NoControlApi(format!(
                "GET {}/info answered HTTP {s}; the target does not seem to implement the control API there (check --control)",
                self.control
            ))),
        }
    }

    /// Sends one control-API call.
    pub async fn control(&self, req: &ControlRequest) -> Result<Answered, TargetError> {
        let mut url = format!("/{}", req.route());
        if let Some(q) = req.query() {
            url.push('?');
            url.push_str(&q);
        }
        let method = match req.method() {
            "GET" => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut builder = match join(self.control_url.as_ref(), &url) {
            Some(u) => self.http.request(method, u),
            None => self.http.request(method, format!("{}{url}", self.control)),
        }
        .header(KEY_HEADER, &self.key)
        .timeout(self.timeout);
        if let Some(body) = req.body() {
            builder = builder
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("JSON"));
        }
        send(builder, &url).await
    }

    /// Sends one rendered Graph request.
    pub async fn graph(&self, req: &HttpRequest) -> Result<Answered, TargetError> {
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut builder = match join(self.graph_url.as_ref(), &req.path_and_query) {
            Some(u) => self.http.request(method, u),
            None => self
                .http
                .request(method, format!("{}{}", self.graph, req.path_and_query)),
        }
        .timeout(self.timeout);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if let Some(ct) = &req.content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        send(builder, &self.graph).await
    }

    /// `flush`; `Ok(false)` when the call was answered but not with 200.
    pub async fn flush(&self, page_id: &str) -> Result<bool, TargetError> {
        let req = ControlRequest::Flush(crate::wire::control::FlushRequest {
            page_id: page_id.to_string(),
        });
        Ok(self.control(&req).await?.status == 200)
    }

    /// The transcript of one PSID.
    pub async fn transcript(
        &self,
        page_id: &str,
        psid: &str,
    ) -> Result<TranscriptAnswer, TargetError> {
        let req = ControlRequest::Transcript(crate::wire::control::TranscriptQuery {
            page_id: page_id.to_string(),
            psid: psid.to_string(),
        });
        let a = self.control(&req).await?;
        if a.status != 200 {
            return Err(TargetError::NoControlApi(format!(
                "GET transcript answered HTTP {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )));
        }
        serde_json::from_slice(&a.body).map_err(|e| {
            TargetError::NoControlApi(format!(
                "transcript answer is not the documented shape: {e}"
            ))
        })
    }
}

/// `base` (an origin, maybe with a path prefix) followed by
/// `path_and_query`, built from the parsed base instead of parsing the whole
/// string again: reqwest parses a string URL on every request, host and IDNA
/// handling included, which cost about 5 % of a run's CPU. `None` (parse the
/// string instead) unless `path_and_query` is plain enough that both ways
/// give the same URL: it starts with `/` and holds only characters that
/// neither the path nor the query percent-encodes, with at most one `?`.
fn join(base: Option<&reqwest::Url>, path_and_query: &str) -> Option<reqwest::Url> {
    let base = base?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~/%=&+,:;@!$()*?".contains(&b);
    if !path_and_query.starts_with('/')
        || !path_and_query.bytes().all(plain)
        || path_and_query.bytes().filter(|&b| b == b'?').count() > 1
        || path_and_query.contains("/.")
        || base.query().is_some()
        || base.fragment().is_some()
    {
        return None;
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    if prefix.is_empty() {
        url.set_path(path);
    } else {
        url.set_path(&format!("{prefix}{path}"));
    }
    url.set_query(query);
    Some(url)
}

async fn send(builder: reqwest::RequestBuilder, what: &str) -> Result<Answered, TargetError> {
    let resp = builder.send().await.map_err(|e| {
        TargetError::Unreachable(format!(
            "cannot reach {what}: {} (is the target running, and is the URL right?)",
            describe(&e)
        ))
    })?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    let body = resp
        .bytes()
        .await
        .map_err(|e| {
            TargetError::Unreachable(format!(
                "{what} stopped answering mid-response: {}",
                describe(&e)
            ))
        })?
        .to_vec();
    Ok(Answered {
        status,
        headers,
        body,
    })
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, GenConfig, SplitMix64};
    use crate::model::{Op, State, apply};
    use crate::wire::{AppCredentials, render_graph};

    /// What reqwest would have made of the concatenated string.
    fn parsed(base: &str, pq: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("{base}{pq}")).expect("a URL")
    }

    #[test]
    fn joined_urls_are_the_parsed_ones() {
        for base in [
            "http://127.0.0.1:8080",
            "http://localhost:1/prefix",
            "http://127.0.0.1:9/conformance",
        ] {
            let b = reqwest::Url::parse(base).ok();
            for pq in [
                "/flush",
                "/transcript?page_id=1&psid=2",
                "/v19.0/me/messages?access_token=EAA%2Btok&appsecret_proof=ab12",
                "/123/pass_thread_control",
                "/v19.0/me/thread_owner?recipient=42&access_token=",
                "/a b?c d",
                "/x#frag",
                "/a/../b?x=1?y",
                "/caf\u{e9}?q=\u{e9}",
                "noslash",
            ] {
                if let Some(u) = join(b.as_ref(), pq) {
                    assert_eq!(u, parsed(base, pq), "{base} {pq}");
                }
            }
        }
        assert!(join(None, "/flush").is_none());
    }

    /// Every Graph request the generator makes is joined exactly as it
    /// would have been parsed (malformed ones included).
    #[test]
    fn generated_requests_join_as_parsed() {
        let base = "http://127.0.0.1:8080";
        let b = reqwest::Url::parse(base).ok();
        let mut rng = SplitMix64::new(7);
        let cfg = GenConfig::default();
        let mut joined = 0;
        for i in 0..300 {
            let (cs, ops) = generate::case(&mut rng, &cfg, &format!("{}", 500 + i), 40);
            let creds: Vec<AppCredentials> = (0..cs.setup.apps.len())
                .map(|a| AppCredentials {
                    access_token: format!("tok-{i}-{a}"),
                    app_secret: format!("sec-{i}-{a}"),
                    webhook_url: format!("http://127.0.0.1:1/hook/{a}"),
                })
                .collect();
            let mut st = State::new(cs.setup.clone());
            for op in &ops {
                if let Op::Graph(g) = op {
                    let req = render_graph(g, &st.setup, &creds);
                    if let Some(u) = join(b.as_ref(), &req.path_and_query) {
                        assert_eq!(u, parsed(base, &req.path_and_query));
                        joined += 1;
                    }
                }
                apply(&mut st, op);
            }
        }
        assert!(joined > 1000, "the fast path is taken: {joined}");
    }
}
