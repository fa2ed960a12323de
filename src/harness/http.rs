//! An implementation under test reached over HTTP: its Graph API and
//! control API through one keep-alive client, its webhooks received by a
//! local [`Sink`]. `baton run --target URL` and the embedded reference
//! server (on loopback) are both driven through this.
//!
//! Requests whose URL needs no normalizing (every well-formed one) go
//! through hyper's pooled client directly: reqwest, on top of the same
//! client, parses each request's URL twice more (for its redirect policy and
//! for the response) and clones its middleware per request, which cost
//! about a tenth of a run's CPU. The others, and targets whose URL carries
//! user info, go through reqwest, which normalizes them as before.

use super::config::{TargetSpec, redact_url};
use super::sink::Sink;
use super::target::{Answered, BoxFuture, Captured, Target, TargetError};
use crate::wire::HttpRequest;
use crate::wire::control::{ControlRequest, KEY_HEADER};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::fmt;
use std::time::Duration;

/// hyper's pooled HTTP/1 client, for requests with plain URLs.
type FastClient = Client<HttpConnector, Full<Bytes>>;

/// How long one request may take before the target counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A target reached over HTTP, with the webhook sinks its apps post to.
pub struct HttpTarget {
    /// Graph API origin, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub graph: String,
    /// Control API base, e.g. `http://127.0.0.1:8080/conformance`.
    pub control: String,
    key: String,
    http: reqwest::Client,
    fast: FastClient,
    timeout: Duration,
    /// `graph` and `control` parsed once: requests are built from these
    /// without parsing the origin again (see [`join`]).
    graph_url: Option<reqwest::Url>,
    control_url: Option<reqwest::Url>,
    /// `graph` and `control` as the fast path prefixes them to a path,
    /// when they are plain `http` URLs without user info.
    graph_base: Option<String>,
    control_base: Option<String>,
    /// `graph` and `control` as error messages show them, redacted once.
    graph_label: String,
    control_label: String,
    sink: Sink,
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("graph", &self.graph)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// Starts the webhook sinks (on loopback; `webhook_base` is the address
    /// given to the target instead, for targets on another host) and
    /// prepares the client.
    pub async fn connect(
        spec: &TargetSpec,
        webhook_base: Option<&str>,
    ) -> std::io::Result<HttpTarget> {
        let sink = Sink::start("127.0.0.1:0".parse().expect("address"), webhook_base).await?;
        let graph = spec.graph.trim_end_matches('/').to_string();
        let control = match &spec.control {
            Some(c) => c.trim_end_matches('/').to_string(),
            None => format!("{graph}/conformance"),
        };
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(256)
            .build()
            .expect("an HTTP client without TLS always builds");
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let fast = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        let graph_url = reqwest::Url::parse(&graph).ok();
        let control_url = reqwest::Url::parse(&control).ok();
        Ok(HttpTarget {
            graph_base: fast_base(graph_url.as_ref()),
            control_base: fast_base(control_url.as_ref()),
            graph_url,
            control_url,
            graph_label: redact_url(&graph),
            control_label: redact_url(&control),
            graph,
            control,
            key: spec.key.clone(),
            http,
            fast,
            timeout: REQUEST_TIMEOUT,
            sink,
        })
    }

    async fn send_control(&self, req: &ControlRequest) -> Result<Answered, TargetError> {
        let mut url = format!("/{}", req.route());
        if let Some(q) = req.query() {
            url.push('?');
            url.push_str(&q);
        }
        let body = req.body().map(|b| serde_json::to_vec(&b).expect("JSON"));
        if let Some(uri) = fast_uri(self.control_base.as_deref(), &url) {
            let method = match req.method() {
                "GET" => hyper::Method::GET,
                _ => hyper::Method::POST,
            };
            let mut b = hyper::Request::builder()
                .method(method)
                .uri(uri)
                .header(KEY_HEADER, &self.key);
            if body.is_some() {
                b = b.header("content-type", "application/json");
            }
            let b = b.header("accept", "*/*");
            if let Ok(r) = b.body(Full::new(body.clone().map(Bytes::from).unwrap_or_default())) {
                return self.send_fast(r, &self.control_label).await;
            }
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
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/json")
                .body(body);
        }
        send(builder, &self.control_label).await
    }

    async fn send_graph(&self, req: &HttpRequest) -> Result<Answered, TargetError> {
        if let Some(uri) = fast_uri(self.graph_base.as_deref(), &req.path_and_query) {
            let method =
                hyper::Method::from_bytes(req.method.as_bytes()).unwrap_or(hyper::Method::POST);
            let mut b = hyper::Request::builder().method(method).uri(uri);
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            if let Some(ct) = &req.content_type {
                b = b.header("content-type", ct);
            }
            let b = b.header("accept", "*/*");
            let body = req.body.clone().map(Bytes::from).unwrap_or_default();
            if let Ok(r) = b.body(Full::new(body)) {
                return self.send_fast(r, &self.graph_label).await;
            }
        }
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
        send(builder, &self.graph_label).await
    }
}

impl HttpTarget {
    /// Sends a request through hyper's client, with the same timeout and
    /// error messages as [`send`].
    async fn send_fast(
        &self,
        req: hyper::Request<Full<Bytes>>,
        what: &str,
    ) -> Result<Answered, TargetError> {
        let exchange = async {
            let resp = self.fast.request(req).await.map_err(|e| {
                TargetError::Unreachable(format!(
                    "cannot reach {what}: {} (is the target running, and is the URL right?)",
                    describe_chain(
                        if e.is_connect() {
                            "connection failed"
                        } else {
                            ""
                        },
                        &e
                    )
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
                .into_body()
                .collect()
                .await
                .map_err(|e| {
                    TargetError::Unreachable(format!(
                        "{what} stopped answering mid-response: {}",
                        describe_chain("", &e)
                    ))
                })?
                .to_bytes()
                .to_vec();
            Ok(Answered {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answered) => answered,
            Err(_) => Err(TargetError::Unreachable(format!(
                "cannot reach {what}: timed out (is the target running, and is the URL right?)"
            ))),
        }
    }
}

impl Target for HttpTarget {
    fn graph<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<Answered, TargetError>> {
        Box::pin(self.send_graph(req))
    }

    fn control<'a>(
        &'a self,
        req: &'a ControlRequest,
    ) -> BoxFuture<'a, Result<Answered, TargetError>> {
        Box::pin(self.send_control(req))
    }

    fn webhook_url(&self, page: &str, generation: u64, app: u8) -> String {
        self.sink.url(page, generation, app)
    }

    fn take_deliveries(&self, page: &str, generation: u64, app: u8) -> Vec<Captured> {
        self.sink.take(page, generation, app)
    }

    fn forget_page(&self, page: &str) {
        self.sink.clear_page(page)
    }

    fn label(&self) -> String {
        self.graph_label.clone()
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
    if !plain(path_and_query) || base.query().is_some() || base.fragment().is_some() {
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

/// Whether both ways of building a URL from a base and `path_and_query`
/// give the same URL (see [`join`]): it starts with `/` and holds only
/// characters that neither the path nor the query percent-encodes, with at
/// most one `?` and no dot segment.
fn plain(path_and_query: &str) -> bool {
    /// The bytes allowed, as a table: this runs on every request.
    const PLAIN: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = (b as u8).is_ascii_alphanumeric();
            b += 1;
        }
        let extra = b"-._~/%=&+,:;@!$()*?";
        let mut i = 0;
        while i < extra.len() {
            t[extra[i] as usize] = true;
            i += 1;
        }
        t
    };
    let mut questions = 0;
    path_and_query.starts_with('/')
        && path_and_query.bytes().all(|b| {
            questions += usize::from(b == b'?');
            PLAIN[b as usize]
        })
        && questions <= 1
        && !path_and_query.contains("/.")
}

/// The prefix of fast-path URLs for a parsed base: its serialization
/// without a trailing `/`, for a plain `http` URL (no user info, query or
/// fragment, whose credentials reqwest would turn into a header).
fn fast_base(base: Option<&reqwest::Url>) -> Option<String> {
    let base = base?;
    if base.scheme() != "http"
        || !base.username().is_empty()
        || base.password().is_some()
        || base.query().is_some()
        || base.fragment().is_some()
        || !plain(base.path())
    {
        return None;
    }
    Some(base.as_str().trim_end_matches('/').to_string())
}

/// The URI of a fast-path request: the base followed by `path_and_query`,
/// exactly what [`join`] makes of them (tested below), or `None` where the
/// path needs reqwest's normalizing.
fn fast_uri(base: Option<&str>, path_and_query: &str) -> Option<hyper::Uri> {
    let base = base?;
    if !plain(path_and_query) {
        return None;
    }
    hyper::Uri::try_from(format!("{base}{path_and_query}")).ok()
}

/// `first` (when not empty), then every error in the chain from `e`.
fn describe_chain(first: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = if first.is_empty() {
        e.to_string()
    } else {
        first.to_string()
    };
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
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

    /// The fast path sends exactly the URL reqwest would have.
    #[test]
    fn fast_uris_are_the_joined_ones() {
        for base in [
            "http://127.0.0.1:8080",
            "http://localhost:1/prefix/",
            "http://127.0.0.1:9/conformance",
        ] {
            let b = reqwest::Url::parse(base).ok();
            let fb = fast_base(b.as_ref());
            assert!(fb.is_some(), "{base}");
            for pq in [
                "/flush",
                "/transcript?page_id=1&psid=2",
                "/v19.0/me/messages?access_token=EAA%2Btok&appsecret_proof=ab12",
                "/v19.0/me/thread_owner?recipient=42&access_token=",
                "/a b?c d",
                "/a/../b?x=1?y",
                "noslash",
            ] {
                match (fast_uri(fb.as_deref(), pq), join(b.as_ref(), pq)) {
                    (Some(u), Some(j)) => assert_eq!(u.to_string(), j.as_str(), "{base} {pq}"),
                    (None, None) => {}
                    (u, j) => panic!("{base} {pq}: fast {u:?}, joined {j:?}"),
                }
            }
        }
        for base in ["https://host", "http://u:p@host", "http://host/?q=1"] {
            let b = reqwest::Url::parse(base).ok();
            assert!(fast_base(b.as_ref()).is_none(), "{base}");
        }
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
                        let fast = fast_uri(Some(base), &req.path_and_query).expect("fast");
                        assert_eq!(fast.to_string(), u.as_str());
                        joined += 1;
                    }
                }
                apply(&mut st, op);
            }
        }
        assert!(joined > 1000, "the fast path is taken: {joined}");
    }
}
