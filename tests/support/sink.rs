//! A webhook receiver for tests: an axum server on an ephemeral port with
//! one route per hook (`/hook/{name}`), recording every attempt (hook,
//! headers, exact body bytes, what it answered, when) and answering as
//! planned per hook: 200, a non-2xx status some number of times (or
//! always), or hanging (never answering within the server's timeout).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the sink answered to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// 200.
    Ok,
    /// Some other status.
    Status(u16),
    /// Nothing within the planned hang (the server times out first).
    Hung,
}

/// One delivery attempt as received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub hook: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub answered: Answered,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn acked(&self) -> bool {
        self.answered == Answered::Ok
    }
}

/// How one hook answers. Counters are used up before the `always` flags
/// apply; hanging is checked before failing, failing before slowness.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Answer 200, but only after `slow_for`, to the next `slow_next`
    /// attempts (recorded as [`Answered::Ok`]).
    pub slow_next: u32,
    pub slow_for: Duration,
    pub hang_next: u32,
    pub hang_always: bool,
    pub hang_for: Duration,
    pub fail_next: u32,
    pub fail_always: bool,
    pub fail_status: u16,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            slow_next: 0,
            slow_for: Duration::ZERO,
            hang_next: 0,
            hang_always: false,
            hang_for: Duration::from_secs(3),
            fail_next: 0,
            fail_always: false,
            fail_status: 500,
        }
    }
}

#[derive(Default)]
struct Inner {
    hits: Mutex<Vec<Hit>>,
    plans: Mutex<HashMap<String, Plan>>,
}

/// The running sink. Dropped with the test's runtime.
pub struct Sink {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Sink {
    pub async fn start() -> Sink {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/hook/{name}", axum::routing::post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let addr = listener.local_addr().expect("sink address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink { addr, inner }
    }

    /// The webhook URL of a hook.
    pub fn url(&self, hook: &str) -> String {
        format!("http://{}/hook/{hook}", self.addr)
    }

    pub fn plan(&self, hook: &str, plan: Plan) {
        self.inner
            .plans
            .lock()
            .unwrap()
            .insert(hook.to_string(), plan);
    }

    /// Answer `status` to the next `n` attempts, then 200.
    pub fn fail_next(&self, hook: &str, n: u32, status: u16) {
        self.plan(
            hook,
            Plan {
                fail_next: n,
                fail_status: status,
                ..Plan::default()
            },
        );
    }

    pub fn fail_always(&self, hook: &str) {
        self.plan(
            hook,
            Plan {
                fail_always: true,
                ..Plan::default()
            },
        );
    }

    /// Hang (answer only after `hang_for`) on the next `n` attempts.
    pub fn hang_next(&self, hook: &str, n: u32, hang_for: Duration) {
        self.plan(
            hook,
            Plan {
                hang_next: n,
                hang_for,
                ..Plan::default()
            },
        );
    }

    pub fn hang_always(&self, hook: &str, hang_for: Duration) {
        self.plan(
            hook,
            Plan {
                hang_always: true,
                hang_for,
                ..Plan::default()
            },
        );
    }

    /// Answer 200 after `delay` to the next `n` attempts.
    pub fn slow_next(&self, hook: &str, n: u32, delay: Duration) {
        self.plan(
            hook,
            Plan {
                slow_next: n,
                slow_for: delay,
                ..Plan::default()
            },
        );
    }

    /// Back to answering 200 at once.
    pub fn heal(&self, hook: &str) {
        self.inner.plans.lock().unwrap().remove(hook);
    }

    /// Every attempt at `hook` so far, oldest first.
    pub fn hits(&self, hook: &str) -> Vec<Hit> {
        self.inner
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.hook == hook)
            .cloned()
            .collect()
    }

    /// Every attempt at any hook so far.
    pub fn all_hits(&self) -> Vec<Hit> {
        self.inner.hits.lock().unwrap().clone()
    }

    /// Waits until `hook` has seen at least `n` attempts (or panics after
    /// `within`).
    pub async fn wait_hits(&self, hook: &str, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits(hook);
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "hook {hook}: {} attempts after {within:?}, wanted {n}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn hook(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (answered, delay) = {
        let mut plans = inner.plans.lock().unwrap();
        match plans.get_mut(&name) {
            None => (Answered::Ok, None),
            Some(p) if p.hang_next > 0 => {
                p.hang_next -= 1;
                (Answered::Hung, Some(p.hang_for))
            }
            Some(p) if p.hang_always => (Answered::Hung, Some(p.hang_for)),
            Some(p) if p.fail_next > 0 => {
                p.fail_next -= 1;
                (Answered::Status(p.fail_status), None)
            }
            Some(p) if p.fail_always => (Answered::Status(p.fail_status), None),
            Some(p) if p.slow_next > 0 => {
                p.slow_next -= 1;
                (Answered::Ok, Some(p.slow_for))
            }
            Some(_) => (Answered::Ok, None),
        }
    };
    let hit = Hit {
        hook: name,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        answered,
        at: Instant::now(),
    };
    inner.hits.lock().unwrap().push(hit);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    match answered {
        Answered::Ok | Answered::Hung => StatusCode::OK.into_response(),
        Answered::Status(s) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    }
}
