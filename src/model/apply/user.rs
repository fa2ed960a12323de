//! User events (control API `user_event`): who gets control (PRI-2, CTA-1,
//! MENU-3, CTM-1) and who hears about it on which channel (HOOK-1, HOOK-2).

use super::effects::{control_error, control_ok};
use crate::model::op::{AppIx, AppRef, MsgRef, UserEvent};
use crate::model::outcome::{Answer, Channel, ControlSuccess, EventKind, Outcome, Party};
use crate::model::rules::Rule;
use crate::model::state::{Folder, State, Thread};
use crate::model::surface::Surface;

pub(super) fn apply(st: &mut State, ev: &UserEvent) -> Outcome {
    if let Some(out) = refuse_surface(st, ev) {
        return out;
    }
    match ev {
        UserEvent::Message {
            psid,
            text,
            quick_reply,
            platform,
        } => {
            let mut out = control_ok(ControlSuccess::Ok, Rule::Hook1);
            new_user_message(st, psid, *platform, &mut out);
            let rule = match (st.owner(psid), st.primary) {
                (None, Some(p)) => {
                    st.set_owner(psid, Party::App(p), &mut out);
                    Rule::Pri2
                }
                (None, None) => Rule::Pri3,
                (Some(_), _) => {
                    st.touch(psid, &mut out);
                    Rule::Hook1
                }
            };
            out.decided_by = rule;
            out.rules.insert(rule);
            if quick_reply.is_some() {
                out.rules.insert(Rule::Hook2);
            }
            broadcast(st, psid, rule, out, |mid, _| EventKind::Message {
                mid,
                text: text.clone(),
                quick_reply: quick_reply.clone(),
                ad_id: None,
            })
        }
        UserEvent::AdEntry {
            psid,
            app,
            ad_id,
            text,
            platform,
        } => {
            let app = match st.setup.resolve(app) {
                AppRef::App(a) => a,
                other => {
                    return control_error(
                        format!("ad_entry: {other} is not a subscribed app"),
                        Rule::Ctm1,
                    );
                }
            };
            let mut out = control_ok(ControlSuccess::Ok, Rule::Ctm1);
            new_user_message(st, psid, *platform, &mut out);
            give_control(st, psid, app, &mut out);
            broadcast(st, psid, Rule::Ctm1, out, |mid, _| EventKind::Message {
                mid,
                text: text.clone(),
                quick_reply: None,
                ad_id: Some(ad_id.clone()),
            })
        }
        UserEvent::Postback {
            psid,
            message,
            payload,
            title,
            ..
        } => {
            let Some(t) = st.thread(psid) else {
                return control_error(
                    format!("postback: PSID {psid:?} is unknown to the page"),
                    Rule::Cta1,
                );
            };
            let sent = match message {
                MsgRef::Nth(n) => t.transcript.get(*n as usize),
                MsgRef::Unknown(_) => None,
            };
            let Some(sent) = sent else {
                return control_error(
                    format!("postback: no message {message:?} in the transcript of {psid:?}"),
                    Rule::Cta1,
                );
            };
            let Some(button) = sent.buttons.iter().find(|b| &b.payload == payload) else {
                return control_error(
                    format!("postback: the message carries no button with payload {payload:?}"),
                    Rule::Cta1,
                );
            };
            let Party::App(sender) = sent.entry.from else {
                unreachable!("only apps send buttons");
            };
            let title = title.clone().unwrap_or_else(|| button.title.clone());
            let mut out = control_ok(ControlSuccess::Ok, Rule::Cta1);
            give_control(st, psid, sender, &mut out);
            postback(st, psid, Rule::Cta1, title, payload.clone(), out)
        }
        UserEvent::Menu {
            psid,
            payload,
            title,
            ..
        } => {
            if st.thread(psid).is_none() {
                return control_error(
                    format!("menu: PSID {psid:?} is unknown to the page"),
                    Rule::Menu3,
                );
            }
            // The user-level menu, else the page-level menu of the thread's
            // surface (IG-5).
            let Some(menu) = st.menu_in_force(psid) else {
                return control_error(
                    format!("menu: no persistent menu is in force for {psid:?}"),
                    Rule::Menu3,
                );
            };
            let setter = menu.set_by;
            let title = title.clone().unwrap_or_else(|| {
                menu.items
                    .iter()
                    .find(|i| &i.payload == payload)
                    .map(|i| i.title.clone())
                    .unwrap_or_default()
            });
            let mut out = control_ok(ControlSuccess::Ok, Rule::Menu3);
            give_control(st, psid, setter, &mut out);
            postback(st, psid, Rule::Menu3, title, payload.clone(), out)
        }
    }
}

/// The surface checks of the control API, before anything else: an
/// Instagram event needs a linked Instagram account (IG-1), and a user id
/// belongs to the surface of the first event that named it (IG-4). The
/// control-API error, or `None` when the event may go ahead.
fn refuse_surface(st: &State, ev: &UserEvent) -> Option<Outcome> {
    let platform = ev.platform();
    if platform.is_instagram() && !st.setup.has_instagram() {
        return Some(control_error(
            "user_event: the page has no Instagram account (reset without instagram_account_id)",
            Rule::Ig1,
        ));
    }
    match st.surface(ev.psid()) {
        Some(s) if s != platform => Some(control_error(
            format!(
                "user_event: {:?} is a {s} user id, not a {platform} one",
                ev.psid()
            ),
            Rule::Ig4,
        )),
        _ => None,
    }
}

/// A user `message` or `ad_entry`: the PSID becomes known on `surface` (a
/// new thread starts idle in `main`), and a `done` thread goes back to
/// `main` without changing owner (INBOX-4).
fn new_user_message(st: &mut State, psid: &str, surface: Surface, out: &mut Outcome) {
    // Looked up first: the PSID is copied only for a new thread.
    if !st.threads.contains_key(psid) {
        st.threads.insert(psid.to_string(), Thread::new(surface));
    }
    let t = st.threads.get_mut(psid).expect("thread exists");
    if t.folder == Folder::Done {
        t.folder = Folder::Main;
        out.rules.insert(Rule::Inbox4);
    }
}

/// CTA-1, MENU-3, CTM-1: the named app gets control, whoever had it. When it
/// already had it, this is mere activity.
fn give_control(st: &mut State, psid: &str, app: AppIx, out: &mut Outcome) {
    if st.owner(psid) == Some(Party::App(app)) {
        st.touch(psid, out);
    } else {
        st.set_owner(psid, Party::App(app), out);
    }
}

/// A postback (button or menu): the payload only on `messaging` (HOOK-2).
fn postback(
    st: &mut State,
    psid: &str,
    rule: Rule,
    title: String,
    payload: String,
    mut out: Outcome,
) -> Outcome {
    out.rules.insert(Rule::Hook2);
    broadcast(st, psid, rule, out, |mid, channel| EventKind::Postback {
        mid,
        title: title.clone(),
        payload: (channel == Channel::Messaging).then(|| payload.clone()),
    })
}

/// HOOK-1: every app gets the user event exactly once, on `messaging` if it
/// owns the thread (after the event's own control change) or the thread is
/// idle, else on `standby`. The event gets one message id, returned to the
/// control API caller.
fn broadcast(
    st: &mut State,
    psid: &str,
    owner_rule: Rule,
    mut out: Outcome,
    event: impl Fn(String, Channel) -> EventKind,
) -> Outcome {
    let mid = st.fresh_mid();
    let (owner, surface) = st
        .thread(psid)
        .map_or((None, Surface::default()), |t| (t.owner, t.surface));
    out.rules.insert(Rule::Hook1);
    out.deliveries.reserve_exact(st.setup.apps.len());
    for app in st.setup.app_ixs() {
        let (channel, rule) = match owner {
            None => (Channel::Messaging, owner_rule),
            Some(o) if o == Party::App(app) => (Channel::Messaging, owner_rule),
            Some(_) if owner_rule == Rule::Cta1 || owner_rule == Rule::Menu3 => {
                (Channel::Standby, Rule::Hook2)
            }
            Some(_) => (Channel::Standby, Rule::Hook1),
        };
        super::effects::notify_on(
            &mut out,
            surface,
            st.now_ms,
            app,
            channel,
            Some(psid),
            event(mid.clone(), channel),
            rule,
        );
    }
    out.answer = Answer::Control(Ok(ControlSuccess::Mid(mid)));
    out
}
