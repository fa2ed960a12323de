//! Persistent menus: who may set or delete the page-level menu (MENU-1) and
//! a thread's user-level menu (MENU-2). Picking an item is a user event
//! (MENU-3, in `user.rs`).

use super::effects::{refuse, succeed};
use crate::model::op::{AppIx, Choice};
use crate::model::outcome::{GraphError, GraphSuccess, Outcome, Party};
use crate::model::rules::Rule;
use crate::model::state::{MenuState, State};

/// Sets (`Some`) or deletes (`None`) the page-level menu.
pub(super) fn page_menu(st: &mut State, app: AppIx, items: Option<&Vec<Choice>>) -> Outcome {
    if st.primary.is_some_and(|p| p != app) {
        return refuse(GraphError::NOT_ALLOWED, Rule::Menu1);
    }
    st.page_menu = items.map(|items| MenuState {
        set_by: app,
        items: items.clone(),
    });
    succeed(GraphSuccess::Result, Rule::Menu1)
}

/// Sets (`Some`) or deletes (`None`) a thread's user-level menu: the owner
/// may do both, anyone may set one on an idle thread.
pub(super) fn user_menu(
    st: &mut State,
    app: AppIx,
    psid: &str,
    items: Option<&Vec<Choice>>,
) -> Outcome {
    let t = st.threads.get_mut(psid).expect("PSID checked");
    let allowed = match t.owner {
        Some(o) => o == Party::App(app),
        None => items.is_some(),
    };
    if !allowed {
        return refuse(GraphError::NOT_ALLOWED, Rule::Menu2);
    }
    t.user_menu = items.map(|items| MenuState {
        set_by: app,
        items: items.clone(),
    });
    succeed(GraphSuccess::Result, Rule::Menu2)
}
