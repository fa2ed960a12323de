//! Collecting what a target delivered: wait until its webhooks are out
//! (`flush`, or a quiet period for targets without it), take every
//! delivery of the case's apps, check each signature and read each
//! envelope. The sequential steps and the concurrent phase both collect
//! through [`collect`]; what it cannot read comes back as [`Fault`]s for
//! the differ to name.

use super::diff::Fault;
use super::target::{Target, TargetError, flush};
use crate::model::{AppIx, Channel, Event, Setup};
use crate::wire::{AppCredentials, parse_delivery, verify_signature};
use std::time::Duration;

/// How to know that a target's webhooks are out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The control API's `flush`.
    Flush,
    /// Sleep this long (targets without `flush`; slower and less certain).
    Quiet(Duration),
}

/// Every delivery of one case's apps since the last collection.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// Per app in setup order: the events it received, in arrival order.
    pub events: Vec<Vec<(Channel, Event)>>,
    /// Deliveries that were unsigned, wrongly signed or unreadable, in the
    /// order found.
    pub faults: Vec<Fault>,
}

/// Waits for the page's webhooks, then takes and reads what every app of
/// case `generation` received.
pub async fn collect(
    target: &dyn Target,
    page: &str,
    generation: u64,
    creds: &[AppCredentials],
    setup: &Setup,
    wait: Wait,
) -> Result<Collected, TargetError> {
    match wait {
        Wait::Flush => flush(target, page).await?,
        Wait::Quiet(d) => tokio::time::sleep(d).await,
    }
    let mut out = Collected {
        events: Vec::with_capacity(creds.len()),
        faults: Vec::new(),
    };
    for (i, c) in creds.iter().enumerate() {
        let app = AppIx(i as u8);
        let mut events = Vec::new();
        for cap in target.take_deliveries(page, generation, i as u8) {
            let signed = cap
                .signature
                .as_deref()
                .is_some_and(|s| verify_signature(&c.app_secret, &cap.body, s));
            if !signed {
                out.faults.push(Fault::BadSignature {
                    app,
                    present: cap.signature.is_some(),
                });
            }
            match parse_delivery(&cap.body, setup) {
                Ok(evs) => events.extend(evs),
                Err(e) => out.faults.push(Fault::Unreadable {
                    app,
                    error: e.to_string(),
                }),
            }
        }
        out.events.push(events);
    }
    Ok(out)
}
