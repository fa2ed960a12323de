//! Inbox actions (control API `inbox`): INBOX-1 to INBOX-4, by the Page
//! Inbox on Messenger threads and by the Instagram Inbox on Instagram
//! threads (IG-2).

use super::effects::{control_error, control_ok};
use crate::model::op::InboxAction;
use crate::model::outcome::{ControlSuccess, EventKind, MessageKind, Outcome, Party};
use crate::model::rules::Rule;
use crate::model::state::{Folder, State};
use crate::model::surface::Surface;

pub(super) fn apply(
    st: &mut State,
    psid: &str,
    action: &InboxAction,
    platform: Surface,
) -> Outcome {
    let Some(t) = st.thread(psid) else {
        return control_error(
            format!("inbox: PSID {psid:?} is unknown to the page"),
            Rule::Inbox1,
        );
    };
    if t.surface != platform {
        return control_error(
            format!(
                "inbox: {psid:?} is a {} user; the {} inbox cannot act on its thread",
                t.surface, platform
            ),
            Rule::Ig4,
        );
    }
    let folder = t.folder;
    let inbox = Party::inbox(platform);
    match action {
        InboxAction::MoveToMain => {
            let mut out = control_ok(ControlSuccess::Ok, Rule::Inbox1);
            st.threads.get_mut(psid).expect("known").folder = Folder::Main;
            inbox_takes(st, psid, inbox, Rule::Inbox1, &mut out);
            out
        }
        InboxAction::Reply { text } => {
            let rule = if folder == Folder::Done {
                Rule::Inbox3
            } else {
                Rule::Inbox2
            };
            let mut out = control_ok(ControlSuccess::Ok, rule);
            if rule == Rule::Inbox2 {
                inbox_takes(st, psid, inbox, Rule::Inbox2, &mut out);
            }
            st.deliver_to_user(
                psid,
                inbox,
                (MessageKind::Text, text.clone(), Vec::new()),
                rule,
                &mut out,
            );
            out
        }
        InboxAction::MarkDone => {
            let mut out = control_ok(ControlSuccess::Ok, Rule::Inbox4);
            st.threads.get_mut(psid).expect("known").folder = Folder::Done;
            if st.owner(psid) == Some(inbox) {
                match st.primary {
                    Some(p) => {
                        st.set_owner(psid, Party::App(p), &mut out);
                        let kind = EventKind::PassThreadControl {
                            new_owner: Party::App(p),
                            previous_owner: Some(inbox),
                            metadata: None,
                        };
                        st.notify_handover(&mut out, p, psid, kind, Rule::Inbox4);
                    }
                    None => st.go_idle(psid, &mut out),
                }
            }
            out
        }
    }
}

/// The inbox takes control unless it has it; a previous owner app is told
/// with `take_thread_control`.
fn inbox_takes(st: &mut State, psid: &str, inbox: Party, rule: Rule, out: &mut Outcome) {
    let previous = st.owner(psid);
    if previous == Some(inbox) {
        return;
    }
    st.set_owner(psid, inbox, out);
    if let Some(Party::App(prev)) = previous {
        let kind = EventKind::TakeThreadControl {
            previous_owner: Party::App(prev),
            new_owner: inbox,
            metadata: None,
        };
        st.notify_handover(out, prev, psid, kind, rule);
    }
}
