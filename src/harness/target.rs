//! The target seam: a platform the harness can drive and observe.
//!
//! Everything the harness does to an implementation goes through
//! [`Target`]: a Graph API request, a control-API call (and through it
//! `flush`, `transcript`, `info`), and the webhook deliveries collected so
//! far for one app of one case. The harness treats every target alike; it
//! never knows whether the platform is a remote server reached over HTTP
//! ([`super::http::HttpTarget`]), the embedded reference server on
//! loopback, or a router called in-process by a fuzz target.

use crate::wire::HttpRequest;
use crate::wire::control::{
    ControlRequest, FlushRequest, InfoAnswer, TranscriptAnswer, TranscriptQuery,
};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that [`Target`] can be used as `dyn Target`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// One webhook delivery exactly as it arrived.
#[derive(Clone, Debug)]
pub struct Captured {
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` header, if any.
    pub signature: Option<String>,
}

/// A platform under test.
///
/// Webhooks are addressed per page, per case (`generation`, which changes
/// at every reset of the page, so a late delivery for an earlier case lands
/// where nobody looks) and per app.
pub trait Target: Send + Sync {
    /// Sends one Graph API request.
    fn graph<'a>(&'a self, req: &'a HttpRequest) -> BoxFuture<'a, Result<Answered, TargetError>>;

    /// Sends one control-API call.
    fn control<'a>(
        &'a self,
        req: &'a ControlRequest,
    ) -> BoxFuture<'a, Result<Answered, TargetError>>;

    /// The webhook URL app `app` of case `generation` on `page` gets.
    fn webhook_url(&self, page: &str, generation: u64, app: u8) -> String;

    /// Takes what that webhook URL received so far, in arrival order.
    fn take_deliveries(&self, page: &str, generation: u64, app: u8) -> Vec<Captured>;

    /// Forgets every delivery received for `page`, of any case.
    fn forget_page(&self, page: &str);

    /// The target's Graph URL as reports show it (no credentials).
    fn label(&self) -> String;
}

/// Asks `info`, which also checks that the control API and the key work.
pub async fn info(t: &dyn Target) -> Result<InfoAnswer, TargetError> {
    let a = t.control(&ControlRequest::Info).await?;
    let at = t.label();
    match a.status {
        200 => serde_json::from_slice(&a.body).map_err(|e| {
            TargetError::NoControlApi(format!(
                "the control API of {at} answered info with 200 but not with the info object ({e}); is --control right?"
            ))
        }),
        401 => Err(TargetError::NoControlApi(format!(
            "the control API of {at} refused the key (401); pass the key the target uses with --key or BATON_KEY"
        ))),
        s => Err(TargetError::NoControlApi(format!(
            "the control API of {at} answered info with HTTP {s}; the target does not seem to implement the control API there (check --control)"
        ))),
    }
}

/// `flush`: returns once every webhook of `page` caused so far is answered.
pub async fn flush(t: &dyn Target, page: &str) -> Result<(), TargetError> {
    let req = ControlRequest::Flush(FlushRequest {
        page_id: page.to_string(),
    });
    let a = t.control(&req).await?;
    if a.status == 200 {
        Ok(())
    } else {
        Err(TargetError::NoControlApi(format!(
            "flush of page {page} answered HTTP {}: {} (run against a target without the flush feature advertised, or fix flush)",
            a.status,
            String::from_utf8_lossy(&a.body)
        )))
    }
}

/// The transcript of one PSID.
pub async fn transcript(
    t: &dyn Target,
    page: &str,
    psid: &str,
) -> Result<TranscriptAnswer, TargetError> {
    let req = ControlRequest::Transcript(TranscriptQuery {
        page_id: page.to_string(),
        psid: psid.to_string(),
    });
    let a = t.control(&req).await?;
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
