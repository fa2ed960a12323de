//! Persistent menus: who may set or delete the page-level menu (MENU-1) and
//! a thread's user-level menu (MENU-2). Picking an item is a user event
//! (MENU-3, in `user.rs`). The page-level menu is kept per surface; user-level
//! menus are Messenger-only (IG-5).

use super::effects::{refuse, succeed};
use crate::model::op::{AppIx, Choice};
use crate::model::outcome::{GraphSuccess, Outcome, Party, Refusal};
use crate::model::rules::Rule;
use crate::model::state::{MenuState, State};
use crate::model::surface::Surface;

/// Sets (`Some`) or deletes (`None`) the page-level menu of `surface`
/// (`messenger_profile`, with `platform=instagram` for Instagram's).
pub(super) fn page_menu(
    st: &mut State,
    app: AppIx,
    items: Option<&Vec<Choice>>,
    surface: Surface,
) -> Outcome {
    if surface.is_instagram() && !st.setup.has_instagram() {
        // No Instagram account is linked: there is no Instagram menu to set.
        let mut out = refuse(Refusal::NoInstagramAccount, Rule::Ig5);
        out.rules.insert(Rule::Menu1);
        return out;
    }
    let mut out = if st.primary.is_some_and(|p| p != app) {
        refuse(Refusal::PageMenuNotPrimary, Rule::Menu1)
    } else {
        let menu = items.map(|items| MenuState {
            set_by: app,
            items: items.clone(),
        });
        match surface {
            Surface::Messenger => st.page_menu = menu,
            Surface::Instagram => st.instagram_menu = menu,
        }
        succeed(GraphSuccess::Result, Rule::Menu1)
    };
    if surface.is_instagram() {
        out.rules.insert(Rule::Ig1);
        out.rules.insert(Rule::Ig5);
    }
    out
}

/// Sets (`Some`) or deletes (`None`) a thread's user-level menu: the owner
/// may do both, anyone may set one on an idle thread. Instagram threads have
/// none (IG-5).
pub(super) fn user_menu(
    st: &mut State,
    app: AppIx,
    psid: &str,
    items: Option<&Vec<Choice>>,
) -> Outcome {
    let t = st.threads.get_mut(psid).expect("PSID checked");
    if t.surface.is_instagram() {
        let mut out = refuse(Refusal::UserMenuOnInstagram, Rule::Ig5);
        out.rules.insert(Rule::Menu2);
        return out;
    }
    let allowed = match t.owner {
        Some(o) => o == Party::App(app),
        None => items.is_some(),
    };
    if !allowed {
        return refuse(Refusal::UserMenuNotAllowed, Rule::Menu2);
    }
    t.user_menu = items.map(|items| MenuState {
        set_by: app,
        items: items.clone(),
    });
    succeed(GraphSuccess::Result, Rule::Menu2)
}
