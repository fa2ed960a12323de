//! The handover calls: pass (PASS-*), pass metadata (PASS-7), take
//! (TAKE-*), request (REQ-*), release (REL-*) and extend (EXP-2/3).

use super::effects::{refuse, succeed};
use crate::model::op::{AppIx, AppRef};
use crate::model::outcome::{EventKind, GraphSuccess, Outcome, Party, Refusal};
use crate::model::rules::Rule;
use crate::model::state::{Folder, State};

/// `pass_thread_control`. Check order: target, ownership, pass-to-self.
pub(super) fn pass(
    st: &mut State,
    app: AppIx,
    psid: &str,
    target: Option<&AppRef>,
    metadata: &Option<String>,
) -> Outcome {
    let implicit_target = target.is_none();
    let surface = st.surface(psid).expect("PSID checked");
    let inbox = Party::inbox(surface);
    let target = match target.map(|t| st.setup.resolve(t)) {
        None => match st.primary {
            Some(p) => Party::App(p),
            None => return refuse(Refusal::NoPrimaryToPassTo, Rule::Pass4),
        },
        Some(AppRef::App(a)) => Party::App(a),
        // The thread's own inbox; the other surface's is no target here (IG-2).
        Some(AppRef::PageInbox) if inbox == Party::PageInbox => Party::PageInbox,
        Some(AppRef::InstagramInbox) if inbox == Party::InstagramInbox => Party::InstagramInbox,
        Some(AppRef::PageInbox | AppRef::InstagramInbox) => {
            let mut out = refuse(Refusal::OtherSurfaceInbox, Rule::Ig2);
            out.rules.insert(Rule::Pass5);
            return out;
        }
        Some(AppRef::Unknown(_)) => return refuse(Refusal::UnknownTarget, Rule::Pass5),
    };
    let owner = st.owner(psid);
    let rule = match owner {
        None => Rule::Pass2,
        Some(Party::App(o)) if o == app => {
            if target == Party::App(app) {
                return refuse(Refusal::ToSelf, Rule::Pass6);
            }
            Rule::Pass1
        }
        Some(_) => return refuse(Refusal::NotOwner, Rule::Pass3),
    };
    let mut out = succeed(GraphSuccess::Success, rule);
    if implicit_target {
        out.rules.insert(Rule::Pass4);
    }
    if target == Party::InstagramInbox {
        out.rules.insert(Rule::Ig2);
    }
    st.set_owner(psid, target, &mut out);
    match target {
        Party::PageInbox | Party::InstagramInbox => {
            // No webhook; the thread shows in the inbox's main folder.
            st.threads.get_mut(psid).expect("PSID checked").folder = Folder::Main;
        }
        Party::App(t) => {
            let kind = EventKind::PassThreadControl {
                new_owner: target,
                previous_owner: owner,
                metadata: metadata.clone(),
            };
            st.notify_handover(&mut out, t, psid, kind, rule);
        }
    }
    out
}

/// `pass_thread_metadata` (PASS-7): the owner hands context to another
/// subscribed app and keeps control; nothing else changes (it is not
/// activity). Check order, as for a pass: the target (the Page Inbox, the
/// Instagram Inbox and unknown ids are no subscribed apps: 100/2018164),
/// then ownership (10/2018300 while another owner holds the thread, 100
/// while it is idle), then the caller itself as target (100).
pub(super) fn pass_metadata(
    st: &mut State,
    app: AppIx,
    psid: &str,
    target: &AppRef,
    metadata: &str,
) -> Outcome {
    let target = match st.setup.resolve(target) {
        AppRef::App(a) => a,
        _ => return refuse(Refusal::UnknownTarget, Rule::Pass7),
    };
    match st.owner(psid) {
        Some(Party::App(o)) if o == app => {}
        None => return refuse(Refusal::Idle, Rule::Pass7),
        Some(_) => return refuse(Refusal::NotOwner, Rule::Pass7),
    }
    if target == app {
        return refuse(Refusal::ToSelf, Rule::Pass7);
    }
    let mut out = succeed(GraphSuccess::Success, Rule::Pass7);
    let kind = EventKind::PassThreadMetadata {
        app,
        metadata: metadata.to_string(),
    };
    st.notify_handover(&mut out, target, psid, kind, Rule::Pass7);
    out
}

/// `take_thread_control`.
pub(super) fn take(st: &mut State, app: AppIx, psid: &str, metadata: &Option<String>) -> Outcome {
    let me = Party::App(app);
    match st.owner(psid) {
        None => {
            let mut out = succeed(GraphSuccess::Success, Rule::Take1);
            st.set_owner(psid, me, &mut out);
            out
        }
        Some(o) if o == me => refuse(Refusal::AlreadyOwner, Rule::Take4),
        Some(o) if st.primary == Some(app) => {
            let mut out = succeed(GraphSuccess::Success, Rule::Take2);
            st.set_owner(psid, me, &mut out);
            if let Party::App(prev) = o {
                let kind = EventKind::TakeThreadControl {
                    previous_owner: o,
                    new_owner: me,
                    metadata: metadata.clone(),
                };
                st.notify_handover(&mut out, prev, psid, kind, Rule::Take2);
            }
            out
        }
        Some(_) => refuse(Refusal::NotOwner, Rule::Take3),
    }
}

/// `request_thread_control`.
pub(super) fn request(
    st: &mut State,
    app: AppIx,
    psid: &str,
    metadata: &Option<String>,
) -> Outcome {
    let me = Party::App(app);
    match st.owner(psid) {
        None => {
            // Granted at once, announced as a pass from nobody.
            let mut out = succeed(GraphSuccess::Success, Rule::Req2);
            st.set_owner(psid, me, &mut out);
            let kind = EventKind::PassThreadControl {
                new_owner: me,
                previous_owner: None,
                metadata: metadata.clone(),
            };
            st.notify_handover(&mut out, app, psid, kind, Rule::Req2);
            out
        }
        Some(o) if o == me => refuse(Refusal::AlreadyOwner, Rule::Req3),
        Some(Party::App(owner)) => {
            let mut out = succeed(GraphSuccess::Success, Rule::Req1);
            let kind = EventKind::RequestThreadControl {
                requested_owner: app,
                metadata: metadata.clone(),
            };
            st.notify_handover(&mut out, owner, psid, kind, Rule::Req1);
            out
        }
        Some(Party::PageInbox) => succeed(GraphSuccess::Success, Rule::Req1),
        Some(Party::InstagramInbox) => {
            let mut out = succeed(GraphSuccess::Success, Rule::Req1);
            out.rules.insert(Rule::Ig2);
            out
        }
    }
}

/// Release and extend refuse non-owners alike (REL-2, EXP-3): the refusal,
/// or `None` for the owner.
fn refuse_non_owner(st: &State, app: AppIx, psid: &str, rule: Rule) -> Option<Outcome> {
    match st.owner(psid) {
        Some(Party::App(o)) if o == app => None,
        None => Some(refuse(Refusal::Idle, rule)),
        Some(_) => Some(refuse(Refusal::NotOwner, rule)),
    }
}

/// `release_thread_control`.
pub(super) fn release(st: &mut State, app: AppIx, psid: &str) -> Outcome {
    if let Some(out) = refuse_non_owner(st, app, psid, Rule::Rel2) {
        return out;
    }
    let mut out = succeed(GraphSuccess::Success, Rule::Rel1);
    st.go_idle(psid, &mut out);
    out
}

/// `extend_thread_control`; the duration was range-checked with the
/// parameters.
pub(super) fn extend(st: &mut State, app: AppIx, psid: &str, duration_s: i64) -> Outcome {
    if let Some(out) = refuse_non_owner(st, app, psid, Rule::Exp3) {
        return out;
    }
    let mut out = succeed(GraphSuccess::Success, Rule::Exp2);
    out.rules.insert(Rule::Exp1);
    let until = st.now_ms + duration_s as u64 * 1000;
    let t = st.threads.get_mut(psid).expect("PSID checked");
    t.deadline_ms = t.deadline_ms.max(until);
    out
}
