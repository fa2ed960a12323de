//! The read-only calls: `thread_owner` (AUTH-4) and `secondary_receivers`.

use super::effects::{refuse, succeed};
use crate::model::op::AppIx;
use crate::model::outcome::{GraphSuccess, Outcome, OwnerView, Party, Refusal};
use crate::model::rules::Rule;
use crate::model::state::State;

/// `thread_owner`: the owner's id only for the owner and the primary
/// receiver; an idle thread answers an empty list to everyone.
pub(super) fn thread_owner(st: &State, app: AppIx, psid: &str) -> Outcome {
    let t = st.thread(psid).expect("PSID checked");
    let view = t.owner.map(|owner| {
        let privileged = owner == Party::App(app) || st.primary == Some(app);
        OwnerView {
            app_id: privileged.then_some(owner),
            expiration: t.deadline_ms / 1000,
        }
    });
    let mut out = succeed(GraphSuccess::ThreadOwner(view), Rule::Auth4);
    out.rules.insert(Rule::Ctrl1);
    out
}

/// `secondary_receivers`: only the primary receiver may ask; every app but
/// the primary is listed (never an inbox). A valid `platform` (checked with
/// the parameters) changes nothing: the primary receiver is the page's, for
/// both surfaces (IG-4, IG-6).
pub(super) fn secondary_receivers(st: &State, app: AppIx, platform_given: bool) -> Outcome {
    let mut out = match st.primary {
        Some(p) if p == app => {
            let others = st.setup.app_ixs().filter(|a| *a != p).collect();
            let mut out = succeed(GraphSuccess::SecondaryReceivers(others), Rule::Pri1);
            out.rules.insert(Rule::Pri5);
            out
        }
        _ => refuse(Refusal::SecondariesNotPrimary, Rule::Pri1),
    };
    if platform_given {
        out.rules.insert(Rule::Ig6);
        out.rules.insert(Rule::Ig4);
    }
    out
}
