//! `apply`: one operation against one page. Dispatch and the checks every
//! Graph call goes through live here; each command has its own small file.
//!
//! Every command first decides, without touching the state, whether it
//! succeeds; only then does it change anything. That is how CTRL-5 (a failed
//! call changes nothing) holds by construction.

mod clock;
mod effects;
mod handover;
mod inbox;
mod menu;
mod query;
mod send;
mod user;

use crate::model::op::{
    AppRef, Call, Caller, Defect, GraphOp, Message, MessagingType, Op, Proof, Special, Stage,
};
use crate::model::outcome::{ControlSuccess, Outcome, Party, Refusal};
use crate::model::rules::Rule;
use crate::model::state::{MAX_EXTEND_S, MAX_METADATA_CHARS, MAX_TEXT_CHARS, State, Thread};
use crate::model::surface::Surface;
use effects::refuse;

/// Applies one operation to one page: the expected outcome of a correct
/// platform. The state is updated in place (and left untouched when the
/// operation fails).
pub fn apply(st: &mut State, op: &Op) -> Outcome {
    let psid = op.psid();
    let ig_inbox_before = psid.and_then(|p| st.owner(p)) == Some(Party::InstagramInbox);
    let mut out = match op {
        Op::Graph(g) => graph(st, g),
        Op::User(ev) => user::apply(st, ev),
        Op::Inbox {
            psid,
            action,
            platform,
        } => inbox::apply(st, psid, action, *platform),
        Op::Clock { advance_ms } => clock::advance(st, *advance_ms),
        Op::Roles { primary } => clock::roles(st, primary.as_ref()),
        Op::Deliver(d) => special(st, d),
    };
    // One lookup of the step's thread after the step serves every
    // rule below (the model's hot path: it runs for every step).
    let thread = psid.and_then(|p| st.threads.get(p));
    surface_rules(st, op, thread, ig_inbox_before, &mut out);
    // Every step is a chance to deliver something no rule asked for.
    out.rules.insert(Rule::Hook5);
    if !out.deliveries.is_empty() {
        out.rules.insert(Rule::Hook4);
        out.rules.insert(Rule::Hook6);
    }
    if thread.is_some() && st.threads.len() > 1 {
        out.rules.insert(Rule::Ctrl6);
    }
    out
}

/// A delivery the tool sends to an app itself: the platform never sees it,
/// so nothing changes, except for a batch, whose messages the user really
/// writes. It exercises the app rule it is there to test.
fn special(st: &mut State, d: &Special) -> Outcome {
    let rule = match d {
        Special::Retry { .. } => Rule::App4,
        Special::Forged { .. } => Rule::App2,
        Special::Batch { .. } | Special::Unusual { .. } => Rule::App3,
    };
    let mut out = effects::control_ok(ControlSuccess::Ok, rule);
    if let Special::Batch {
        psid,
        texts,
        requests,
    } = d
    {
        for text in texts {
            let m = user::apply(
                st,
                &crate::model::op::UserEvent::Message {
                    psid: psid.clone(),
                    text: text.clone(),
                    quick_reply: None,
                    platform: st.surface(psid).unwrap_or_default(),
                },
            );
            out.deliveries.extend(m.deliveries);
            out.received.extend(m.received);
            out.rules = out.rules.union(m.rules);
        }
        for app in requests {
            let g = st.setup.call(
                *app,
                Call::Request {
                    psid: psid.clone(),
                    metadata: None,
                },
            );
            let m = graph(st, &g);
            out.deliveries.extend(m.deliveries);
            out.received.extend(m.received);
            out.rules = out.rules.union(m.rules);
        }
    }
    out
}

/// The Instagram family on top of whatever a step exercised: IG-1 for every
/// step about an Instagram thread (so a report can show the family), IG-2
/// whenever the Instagram Inbox owns (or owned) the thread, IG-3 for
/// Instagram deliveries, IG-4 where the two surfaces meet.
fn surface_rules(
    st: &State,
    op: &Op,
    thread: Option<&Thread>,
    ig_inbox_before: bool,
    out: &mut Outcome,
) {
    let thread_surface = thread.map(|t| t.surface);
    let named = thread_surface.or(op.platform());
    if named == Some(Surface::Instagram) {
        out.rules.insert(Rule::Ig1);
    }
    let ig_inbox_after = thread.and_then(|t| t.owner) == Some(Party::InstagramInbox);
    if ig_inbox_before || ig_inbox_after {
        out.rules.insert(Rule::Ig2);
    }
    if out
        .deliveries
        .iter()
        .any(|d| d.event.surface.is_instagram())
    {
        out.rules.insert(Rule::Ig1);
        out.rules.insert(Rule::Ig3);
    }
    let page_wide = matches!(op, Op::Roles { .. } | Op::Clock { .. });
    if (thread_surface.is_some() || page_wide) && both_surfaces(st) {
        // Nothing on one surface may reach a thread of the other (and one
        // primary receiver, or one clock, serves both).
        out.rules.insert(Rule::Ig4);
    }
}

/// Whether the page has threads on both surfaces, in one pass.
fn both_surfaces(st: &State) -> bool {
    let (mut messenger, mut instagram) = (false, false);
    for t in st.threads.values() {
        match t.surface {
            Surface::Messenger => messenger = true,
            Surface::Instagram => instagram = true,
        }
        if messenger && instagram {
            return true;
        }
    }
    false
}

/// The answer to a Graph call that reaches no page: its token is missing or
/// unknown, or its path is malformed. (A server that cannot find the page of
/// a token has no state to apply the call to.) A call that names an app is
/// treated as carrying an unknown token.
pub fn apply_pageless(g: &GraphOp) -> Outcome {
    if let Call::Malformed { defect, .. } = &g.call
        && defect.stage() == Stage::Path
    {
        return refuse(Refusal::Malformed(*defect), Rule::Input1);
    }
    match g.caller {
        Caller::Missing | Caller::Empty => refuse(Refusal::NoToken, Rule::Auth1),
        Caller::Unknown | Caller::App(_) => refuse(Refusal::BadToken, Rule::Auth1),
    }
}

/// The checks of `wire.md` in their order: path, token, route, proof,
/// parameters, PSID; then the command's own rules.
fn graph(st: &mut State, g: &GraphOp) -> Outcome {
    let app = match g.caller {
        Caller::App(a) if a.index() < st.setup.apps.len() => a,
        _ => return apply_pageless(g),
    };
    if let Call::Malformed { defect, .. } = &g.call
        && defect.stage() <= Stage::Route
    {
        return authed(refuse(Refusal::Malformed(*defect), Rule::Input1));
    }
    if st.setup.app(app).require_appsecret_proof && g.proof != Proof::Right {
        let why = match g.proof {
            Proof::Wrong => Refusal::ProofWrong,
            _ => Refusal::ProofMissing,
        };
        return authed(refuse(why, Rule::Auth3));
    }
    if let Err((rule, why)) = check_params(&g.call) {
        let mut out = refuse(why, rule);
        out.rules.insert(Rule::Input1);
        return authed(out);
    }
    if let Some(psid) = g.call.psid()
        && !st.threads.contains_key(psid)
    {
        return authed(refuse(Refusal::UnknownPsid, Rule::Input1));
    }
    let mut out = match &g.call {
        Call::Send {
            psid,
            messaging_type,
            tag,
            message,
        } => send::send(st, app, psid, *messaging_type, tag, message),
        Call::Pass {
            psid,
            target,
            metadata,
        } => handover::pass(st, app, psid, target.as_ref(), metadata),
        Call::Take { psid, metadata } => handover::take(st, app, psid, metadata),
        Call::Request { psid, metadata } => handover::request(st, app, psid, metadata),
        Call::Release { psid } => handover::release(st, app, psid),
        Call::PassMetadata {
            psid,
            target,
            metadata,
        } => handover::pass_metadata(st, app, psid, target, metadata),
        Call::Extend { psid, duration } => handover::extend(st, app, psid, *duration),
        Call::ThreadOwner { psid } => query::thread_owner(st, app, psid),
        Call::SecondaryReceivers { platform } => {
            query::secondary_receivers(st, app, platform.is_some())
        }
        Call::SetPageMenu { items, platform } => {
            menu::page_menu(st, app, Some(items), platform_of(platform))
        }
        Call::DeletePageMenu { platform } => menu::page_menu(st, app, None, platform_of(platform)),
        Call::SetUserMenu { psid, items } => menu::user_menu(st, app, psid, Some(items)),
        Call::DeleteUserMenu { psid } => menu::user_menu(st, app, psid, None),
        Call::Malformed { .. } => unreachable!("malformed calls are refused above"),
    };
    if let Call::SetPageMenu {
        platform: Some(_), ..
    }
    | Call::DeletePageMenu { platform: Some(_) } = &g.call
    {
        out.rules.insert(Rule::Ig5);
    }
    if let Some(psid) = g.call.psid()
        && st.surface(psid) == Some(Surface::Instagram)
        && let Call::ThreadOwner { .. } = &g.call
    {
        // thread_owner on an IGSID answers as for a PSID.
        out.rules.insert(Rule::Ig6);
    }
    if st.setup.app(app).require_appsecret_proof {
        out.rules.insert(Rule::Auth3);
    }
    authed(out)
}

/// The surface a `platform` parameter names; checked with the parameters,
/// so only valid values get here. Absent means Messenger.
fn platform_of(platform: &Option<String>) -> Surface {
    platform
        .as_deref()
        .and_then(Surface::parse_platform)
        .unwrap_or_default()
}

/// Marks an outcome as produced for an authenticated app: the token alone
/// chose who acted (AUTH-2).
fn authed(mut out: Outcome) -> Outcome {
    out.rules.insert(Rule::Auth1);
    out.rules.insert(Rule::Auth2);
    out
}

/// Step 5 of the check order: values that decode but are out of range.
/// Returns the rule to name when refusing, and why.
fn check_params(call: &Call) -> Result<(), (Rule, Refusal)> {
    let input = |why| Err((Rule::Input1, why));
    let id_ok = |s: &str| !s.is_empty();
    let meta_ok = |m: &Option<String>| {
        m.as_ref()
            .is_none_or(|m| m.chars().count() <= MAX_METADATA_CHARS)
    };
    if let Some(psid) = call.psid()
        && !id_ok(psid)
    {
        return input(Refusal::IdEmpty);
    }
    match call {
        // A duration that is not an integer (text, a fraction, a boolean,
        // null) is named by both INPUT-1 and EXP-3; the extend rule is the
        // more specific one.
        Call::Malformed { defect, .. } if defect.is_duration_not_integer() => {
            Err((Rule::Exp3, Refusal::Malformed(*defect)))
        }
        // PASS-7 makes both of its parameters required.
        Call::Malformed {
            defect: defect @ (Defect::TargetMissing | Defect::MetadataMissing),
            ..
        } => Err((Rule::Pass7, Refusal::Malformed(*defect))),
        Call::Malformed { defect, .. } => input(Refusal::Malformed(*defect)),
        Call::Send {
            messaging_type,
            tag,
            message,
            ..
        } => {
            if *messaging_type == MessagingType::MessageTag && tag.is_none() {
                return input(Refusal::TagMissing);
            }
            match message {
                Message::Text {
                    text,
                    quick_replies,
                } => {
                    let n = text.chars().count();
                    if n == 0 {
                        return input(Refusal::TextEmpty);
                    }
                    if n > MAX_TEXT_CHARS {
                        return input(Refusal::TextTooLong);
                    }
                    if quick_replies.as_ref().is_some_and(Vec::is_empty) {
                        return input(Refusal::QuickRepliesEmpty);
                    }
                }
                Message::Buttons { .. } | Message::Survey { .. } => {}
            }
            Ok(())
        }
        Call::Pass {
            target, metadata, ..
        } => {
            if let Some(AppRef::Unknown(id)) = target
                && !id_ok(id)
            {
                return input(Refusal::IdEmpty);
            }
            if meta_ok(metadata) {
                Ok(())
            } else {
                input(Refusal::MetadataTooLong)
            }
        }
        Call::Take { metadata, .. } | Call::Request { metadata, .. } => {
            if meta_ok(metadata) {
                Ok(())
            } else {
                input(Refusal::MetadataTooLong)
            }
        }
        Call::PassMetadata {
            target, metadata, ..
        } => {
            if let AppRef::Unknown(id) = target
                && !id_ok(id)
            {
                return input(Refusal::IdEmpty);
            }
            if metadata.chars().count() <= MAX_METADATA_CHARS {
                Ok(())
            } else {
                input(Refusal::MetadataTooLong)
            }
        }
        Call::Extend { duration, .. } => {
            if (1..=MAX_EXTEND_S).contains(duration) {
                Ok(())
            } else {
                Err((Rule::Exp3, Refusal::DurationOutOfRange))
            }
        }
        // `platform`: messenger or instagram, in any case (IG-5, IG-6).
        Call::SecondaryReceivers {
            platform: Some(p), ..
        } if Surface::parse_platform(p).is_none() => Err((Rule::Ig6, Refusal::PlatformUnknown)),
        Call::SetPageMenu {
            platform: Some(p), ..
        }
        | Call::DeletePageMenu { platform: Some(p) }
            if Surface::parse_platform(p).is_none() =>
        {
            Err((Rule::Ig5, Refusal::PlatformUnknown))
        }
        _ => Ok(()),
    }
}
