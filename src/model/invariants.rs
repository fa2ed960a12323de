//! Invariants every step of the model must keep, checked by the property
//! tests and by the `model_ops` fuzz target alike.
//!
//! They restate the protocol's global rules (CTRL-1, CTRL-5, CTRL-6, EXP-1,
//! HOOK-1/2/3, and the Instagram rules IG-2..IG-5) as relations between the
//! state before a step, the step's outcome and the state after it,
//! independently of how `apply` computes them. A violation is a bug in the
//! model.

use super::op::{Call, Op, UserEvent};
use super::outcome::{Answer, Channel, EventKind, Outcome, Party};
use super::state::State;
use super::surface::Surface;

/// Checks one step; `Err` says which invariant broke and how.
pub fn check_step(before: &State, op: &Op, out: &Outcome, after: &State) -> Result<(), String> {
    let n_apps = after.setup.apps.len();

    // CTRL-1: every owner is a real app or the Page Inbox, and no owned
    // thread is past its deadline (lapses are applied at once).
    for (psid, t) in &after.threads {
        if let Some(Party::App(a)) = t.owner
            && a.index() >= n_apps
        {
            return Err(format!("CTRL-1: thread {psid} owned by nonexistent {a}"));
        }
        if t.owner.is_some() && t.deadline_ms <= after.now_ms {
            return Err(format!(
                "EXP-1: thread {psid} still owned at {} with deadline {}",
                after.now_ms, t.deadline_ms
            ));
        }
        if t.owner.is_none() && !t.held.is_empty() {
            return Err(format!(
                "SURVEY-1: idle thread {psid} still holds {} surveys",
                t.held.len()
            ));
        }
        // IG-2: each surface has its own inbox.
        if let Some(o) = t.owner
            && o.is_inbox()
            && o != Party::inbox(t.surface)
        {
            return Err(format!(
                "IG-2: {} thread {psid} owned by the other surface's inbox",
                t.surface
            ));
        }
        if t.surface.is_instagram() {
            // IG-1: Instagram threads exist only with an Instagram account.
            if !after.setup.has_instagram() {
                return Err(format!(
                    "IG-1: Instagram thread {psid} on a page without an Instagram account"
                ));
            }
            // IG-5: no surveys or user-level menus on Instagram.
            if t.user_menu.is_some() || !t.held.is_empty() {
                return Err(format!(
                    "IG-5: Instagram thread {psid} has a user-level menu or a held survey"
                ));
            }
            if t.transcript
                .iter()
                .any(|m| m.entry.kind == super::outcome::MessageKind::Survey)
            {
                return Err(format!("IG-5: Instagram user {psid} received a survey"));
            }
        }
        // A thread's surface never changes.
        if let Some(b) = before.threads.get(psid)
            && b.surface != t.surface
        {
            return Err(format!("IG-4: thread {psid} moved to {}", t.surface));
        }
    }
    if !after.setup.has_instagram() && after.instagram_menu.is_some() {
        return Err("IG-5: an Instagram menu on a page without an Instagram account".into());
    }

    // IG-3: every event goes on the surface of the thread it is about (page
    // events on Messenger).
    for d in &out.deliveries {
        let surface = d
            .event
            .psid
            .as_deref()
            .and_then(|p| after.surface(p))
            .unwrap_or(Surface::Messenger);
        if d.event.surface != surface {
            return Err(format!(
                "IG-3: `{op}` delivered a {} event about a {surface} thread",
                d.event.surface
            ));
        }
    }

    // CTRL-5: a refused call changes nothing.
    if out.is_refusal() {
        if before != after {
            return Err(format!("CTRL-5: refused `{op}` changed the state"));
        }
        if !out.deliveries.is_empty() || !out.received.is_empty() {
            return Err(format!("CTRL-5: refused `{op}` delivered something"));
        }
        return Ok(());
    }

    // IG-4: a step on one surface leaves the other surface's page-level
    // menu alone; only `messenger_profile` naming a surface changes its menu.
    for surface in Surface::ALL {
        if before.page_menu_of(*surface) != after.page_menu_of(*surface) {
            let named = match op {
                Op::Graph(g) => match &g.call {
                    Call::SetPageMenu { platform, .. } | Call::DeletePageMenu { platform } => {
                        platform
                            .as_deref()
                            .and_then(Surface::parse_platform)
                            .unwrap_or_default()
                            == *surface
                    }
                    _ => false,
                },
                _ => false,
            };
            if !named {
                return Err(format!("IG-4: `{op}` changed the {surface} page menu"));
            }
        }
    }

    // CTRL-6: an operation on one PSID touches no other thread (IG-4: on
    // either surface).
    if let Some(psid) = op.psid() {
        for (other, t) in &after.threads {
            if other != psid && before.threads.get(other) != Some(t) {
                return Err(format!("CTRL-6: `{op}` changed thread {other}"));
            }
        }
        if before
            .threads
            .keys()
            .any(|k| !after.threads.contains_key(k))
        {
            return Err(format!("CTRL-6: `{op}` forgot a thread"));
        }
        for d in &out.deliveries {
            if d.event.psid.as_deref() != Some(psid.as_str()) {
                return Err(format!(
                    "CTRL-6: `{op}` delivered an event about {:?}",
                    d.event.psid
                ));
            }
        }
        if out.received.iter().any(|r| &r.psid != psid) {
            return Err(format!("CTRL-6: `{op}` reached another user"));
        }
    }

    // EXP-1: without a change of owner a deadline never moves earlier.
    for (psid, t) in &after.threads {
        if let Some(b) = before.threads.get(psid)
            && b.owner.is_some()
            && b.owner == t.owner
            && t.deadline_ms < b.deadline_ms
        {
            return Err(format!(
                "EXP-1: `{op}` moved the deadline of {psid} earlier without a change of owner"
            ));
        }
    }

    // What users receive is exactly what their transcripts grow by.
    for (psid, t) in &after.threads {
        let old = before.threads.get(psid).map_or(0, |b| b.transcript.len());
        let got: Vec<_> = out
            .received
            .iter()
            .filter(|r| &r.psid == psid)
            .map(|r| &r.entry)
            .collect();
        let grown: Vec<_> = t.transcript[old.min(t.transcript.len())..]
            .iter()
            .map(|m| &m.entry)
            .collect();
        if got != grown || t.transcript.len() < old {
            return Err(format!(
                "transcript of {psid} does not match what `{op}` delivered"
            ));
        }
    }

    for d in &out.deliveries {
        match &d.event.kind {
            // HOOK-3: handover events only on messaging.
            EventKind::PassThreadControl { .. }
            | EventKind::TakeThreadControl { .. }
            | EventKind::RequestThreadControl { .. }
                if d.channel != Channel::Messaging =>
            {
                return Err(format!(
                    "HOOK-3: `{op}` sent {} on standby",
                    d.event.kind.name()
                ));
            }
            // HOOK-2: postback payloads only on messaging.
            EventKind::Postback { payload, .. }
                if payload.is_some() != (d.channel == Channel::Messaging) =>
            {
                return Err(format!(
                    "HOOK-2: `{op}` postback payload on the wrong channel"
                ));
            }
            _ => {}
        }
    }

    // HOOK-1: a user event reaches every app exactly once, on messaging for
    // the owner (all apps when idle, none when the Page Inbox owns).
    if let (Op::User(ev), Answer::Control(Ok(_))) = (op, &out.answer) {
        let owner = after.owner(ev.psid());
        for app in after.setup.app_ixs() {
            let mine: Vec<_> = out.deliveries.iter().filter(|d| d.app == app).collect();
            if mine.len() != 1 {
                return Err(format!("HOOK-1: `{op}` reached {app} {} times", mine.len()));
            }
            let expected = match owner {
                None => Channel::Messaging,
                Some(o) if o == Party::App(app) => Channel::Messaging,
                Some(_) => Channel::Standby,
            };
            if mine[0].channel != expected {
                return Err(format!(
                    "HOOK-1: `{op}` reached {app} on {}",
                    mine[0].channel.as_str()
                ));
            }
        }
        let mids: Vec<&str> = out
            .deliveries
            .iter()
            .filter_map(|d| match &d.event.kind {
                EventKind::Message { mid, .. } | EventKind::Postback { mid, .. } => {
                    Some(mid.as_str())
                }
                _ => None,
            })
            .collect();
        if mids.len() != n_apps || mids.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!(
                "HOOK-1: `{op}` copies differ in message id or kind"
            ));
        }
        if let UserEvent::Message { .. } | UserEvent::AdEntry { .. } = ev
            && after.thread(ev.psid()).is_none()
        {
            return Err(format!("`{op}` did not make the PSID known"));
        }
    }
    Ok(())
}
