//! The page-level control calls: `clock` (EXP-1 lapses) and `roles`
//! (PRI-1, PRI-5).

use super::effects::{control_error, control_ok};
use crate::model::op::AppRef;
use crate::model::outcome::{Channel, ControlSuccess, EventKind, Outcome};
use crate::model::rules::Rule;
use crate::model::state::State;

/// Moves the clock; every thread whose deadline is reached (`now >=
/// deadline`) goes idle, releasing held surveys.
pub(super) fn advance(st: &mut State, advance_ms: u64) -> Outcome {
    st.now_ms = st.now_ms.saturating_add(advance_ms);
    let mut out = control_ok(ControlSuccess::NowMs(st.now_ms), Rule::Exp1);
    let now = st.now_ms;
    let lapsed: Vec<String> = st
        .threads
        .iter()
        .filter(|(_, t)| t.owner.is_some() && now >= t.deadline_ms)
        .map(|(p, _)| p.clone())
        .collect();
    for psid in lapsed {
        st.go_idle(&psid, &mut out);
    }
    out
}

/// Changes the primary receiver; every app learns its own new role.
pub(super) fn roles(st: &mut State, primary: Option<&AppRef>) -> Outcome {
    let new = match primary.map(|p| st.setup.resolve(p)) {
        None => None,
        Some(AppRef::App(a)) => Some(a),
        Some(AppRef::PageInbox) => {
            return control_error(
                "roles: the Page Inbox cannot be the primary receiver (PRI-1)",
                Rule::Pri1,
            );
        }
        Some(other) => {
            return control_error(
                format!("roles: {other} is not a subscribed app"),
                Rule::Pri1,
            );
        }
    };
    let mut out = control_ok(ControlSuccess::Ok, Rule::Pri5);
    out.rules.insert(Rule::Pri1);
    if new == st.primary {
        return out;
    }
    st.primary = new;
    for app in st.setup.app_ixs() {
        let kind = EventKind::AppRoles {
            app,
            primary: new == Some(app),
        };
        st.notify(&mut out, app, Channel::Messaging, None, kind, Rule::Pri5);
    }
    out
}
