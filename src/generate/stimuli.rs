//! Stimuli for app certification (`baton certify-app`): what the users,
//! the other apps, the Page Inbox, the clock and the tool's own special
//! deliveries do to an app under test (always app 0 of the page).
//!
//! Like the platform generator, each stimulus is chosen by looking at the
//! page as it is (the platform's real state, which includes what the app
//! under test did), so most stimuli are meaningful: users tap the buttons
//! and quick replies the app offered, other apps request control while the
//! app owns the thread and pass it back, clock jumps land just before and
//! just after the app's deadline. The other apps follow every best
//! practice themselves: they send, pass and release only what they own,
//! and take only as primary receiver.

use super::entropy::Entropy;
use crate::model::op::{
    AppIx, AppRef, Call, Choice, Forgery, InboxAction, Message, MessagingType, MsgRef, Op, Special,
    Unusual, UserEvent,
};
use crate::model::outcome::Party;
use crate::model::state::{DAY_MS, State};
use crate::model::surface::Surface;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The app under test: always the first app of the page.
pub const AUT: AppIx = AppIx(0);

/// What the generator knows beyond the page's state: the quick replies each
/// PSID was last offered by the app under test (the state keeps buttons,
/// not quick replies), and which of the case's users are on Instagram (a
/// user's first event decides its surface, so the state cannot say yet).
#[derive(Clone, Debug, Default)]
pub struct Offers {
    pub quick_replies: HashMap<String, Vec<Choice>>,
    /// The case's users that are IGSIDs (`instagram.md`); the others are
    /// PSIDs.
    pub igsids: Vec<String>,
}

impl Offers {
    /// The surface a user is on: the page's record of it once known, else
    /// the case's plan.
    pub fn surface(&self, st: &State, psid: &str) -> Surface {
        st.surface(psid)
            .unwrap_or(if self.igsids.iter().any(|i| i == psid) {
                Surface::Instagram
            } else {
                Surface::Messenger
            })
    }
}

/// How often each kind of stimulus is chosen, relative to the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StimulusWeights {
    pub user_message: u32,
    pub quick_reply: u32,
    pub postback: u32,
    pub menu_pick: u32,
    pub ad_entry: u32,
    pub other_app: u32,
    pub inbox: u32,
    pub clock: u32,
    pub retry: u32,
    pub forged: u32,
    pub batch: u32,
    pub unusual: u32,
}

impl Default for StimulusWeights {
    fn default() -> StimulusWeights {
        StimulusWeights {
            user_message: 24,
            quick_reply: 8,
            postback: 8,
            menu_pick: 2,
            ad_entry: 4,
            other_app: 22,
            inbox: 8,
            clock: 6,
            retry: 4,
            forged: 4,
            batch: 3,
            unusual: 4,
        }
    }
}

/// Words a user writes: plain ones, and the ones a support bot reacts to.
const TEXTS: &[&str] = &[
    "hi",
    "my order is late",
    "can I talk to a person?",
    "agent please",
    "thanks, bye",
    "é ünïcode ✓",
    "done",
    "help",
];

/// The next stimulus for a page in state `st`, on the case's `psids`.
pub fn next_stimulus(
    e: &mut impl Entropy,
    st: &State,
    psids: &[String],
    offers: &Offers,
    w: &StimulusWeights,
) -> Op {
    let known: Vec<&String> = psids
        .iter()
        .filter(|p| st.threads.contains_key(*p))
        .collect();
    // Nothing can happen before the page knows a user.
    if known.is_empty() {
        return if e.chance(15) {
            ad_entry(e, st, psids, offers)
        } else {
            user_message(e, st, psids, offers)
        };
    }
    let table = [
        w.user_message,
        w.quick_reply,
        w.postback,
        w.menu_pick,
        w.ad_entry,
        w.other_app,
        w.inbox,
        w.clock,
        w.retry,
        w.forged,
        w.batch,
        w.unusual,
    ];
    let psid = (*e.pick(&known)).clone();
    // BP-1's situation: someone else owns the thread, and the user taps a
    // quick reply the app under test offered before ("Back to the bot"):
    // the app gets it on standby, and acting on it needs a thread_owner
    // call first.
    let elsewhere = st.owner(&psid).is_some_and(|o| o != Party::App(AUT));
    if elsewhere
        && w.quick_reply > 0
        && e.chance(25)
        && let Some(op) = quick_reply(e, st, &psid, offers)
    {
        return op;
    }
    let op = match e.weighted(&table) {
        Some(0) | None => Some(user_message(e, st, psids, offers)),
        Some(1) => quick_reply(e, st, &psid, offers),
        Some(2) => postback(e, st, &psid),
        Some(3) => menu_pick(st, &psid),
        Some(4) => Some(ad_entry(e, st, psids, offers)),
        Some(5) => other_app(e, st, &psid),
        Some(6) => Some(inbox(e, st, &psid)),
        Some(7) => Some(clock(e, st)),
        Some(8) => Some(Op::Deliver(Special::Retry { psid })),
        Some(9) => Some(Op::Deliver(Special::Forged {
            psid,
            text: e.pick(TEXTS).to_string(),
            signature: *e.pick(&[Forgery::Missing, Forgery::Wrong]),
        })),
        Some(10) => Some(requests_batch(e, st, &psid).unwrap_or_else(|| {
            Op::Deliver(Special::Batch {
                psid,
                texts: vec![e.pick(TEXTS).to_string(), e.pick(TEXTS).to_string()],
                requests: Vec::new(),
            })
        })),
        Some(_) => Some(Op::Deliver(Special::Unusual {
            psid,
            kind: *e.pick(Unusual::ALL),
        })),
    };
    op.unwrap_or_else(|| user_message(e, st, psids, offers))
}

fn user_message(e: &mut impl Entropy, st: &State, psids: &[String], offers: &Offers) -> Op {
    // BP-5's situation: a thread whose control lapsed (idle, its deadline
    // passed), and the user says goodbye: an app that still thinks it owns
    // the thread releases an idle one.
    let lapsed: Vec<&String> = psids
        .iter()
        .filter(|p| {
            st.thread(p).is_some_and(|t| {
                t.owner.is_none() && t.deadline_ms != 0 && t.deadline_ms <= st.now_ms
            })
        })
        .collect();
    if !lapsed.is_empty() && e.chance(50) {
        let psid = (*e.pick(&lapsed)).clone();
        return Op::User(UserEvent::Message {
            platform: offers.surface(st, &psid),
            psid,
            text: "thanks, bye".to_string(),
            quick_reply: None,
        });
    }
    let psid = e.pick(psids).clone();
    Op::User(UserEvent::Message {
        platform: offers.surface(st, &psid),
        psid,
        text: e.pick(TEXTS).to_string(),
        quick_reply: None,
    })
}

/// A tap on a quick reply the app under test offered this PSID.
fn quick_reply(e: &mut impl Entropy, st: &State, psid: &str, offers: &Offers) -> Option<Op> {
    let choices = offers.quick_replies.get(psid).filter(|c| !c.is_empty())?;
    let c = e.pick(choices);
    Some(Op::User(UserEvent::Message {
        platform: offers.surface(st, psid),
        psid: psid.to_string(),
        text: c.title.clone(),
        quick_reply: Some(c.payload.clone()),
    }))
}

/// A tap on a button of a message in the transcript: mostly the app under
/// test's latest one.
fn postback(e: &mut impl Entropy, st: &State, psid: &str) -> Option<Op> {
    let t = st.thread(psid)?;
    let with_buttons: Vec<(usize, &Vec<Choice>, bool)> = t
        .transcript
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.buttons.is_empty())
        .map(|(i, m)| (i, &m.buttons, m.entry.from == Party::App(AUT)))
        .collect();
    let mine: Vec<&(usize, &Vec<Choice>, bool)> =
        with_buttons.iter().filter(|(_, _, aut)| *aut).collect();
    let (i, buttons, _) = match mine.last() {
        Some(m) if e.chance(75) => **m,
        _ if !with_buttons.is_empty() => *e.pick(&with_buttons),
        _ => return None,
    };
    let b = e.pick(buttons);
    Some(Op::User(UserEvent::Postback {
        platform: t.surface,
        psid: psid.to_string(),
        message: MsgRef::Nth(i as u32),
        payload: b.payload.clone(),
        title: None,
    }))
}

/// A pick from the menu in force, if any.
fn menu_pick(st: &State, psid: &str) -> Option<Op> {
    let menu = st.menu_in_force(psid)?;
    let item = menu.items.first()?;
    Some(Op::User(UserEvent::Menu {
        platform: st.surface(psid).unwrap_or_default(),
        psid: psid.to_string(),
        payload: item.payload.clone(),
        title: None,
    }))
}

/// An ad entry assigned to the app under test or to another app.
fn ad_entry(e: &mut impl Entropy, st: &State, psids: &[String], offers: &Offers) -> Op {
    let app = if e.chance(60) {
        AUT
    } else {
        other(e, st).unwrap_or(AUT)
    };
    let psid = e.pick(psids).clone();
    Op::User(UserEvent::AdEntry {
        platform: offers.surface(st, &psid),
        psid,
        app: AppRef::App(app),
        ad_id: format!("ad{}", e.below(3)),
        text: e.pick(TEXTS).to_string(),
    })
}

/// One of the simulated apps (every app but the app under test).
fn other(e: &mut impl Entropy, st: &State) -> Option<AppIx> {
    let others: Vec<AppIx> = st.setup.app_ixs().filter(|a| *a != AUT).collect();
    (!others.is_empty()).then(|| *e.pick(&others))
}

/// While the app under test owns the thread: other apps request control in
/// one delivery, after a message of the user or alone (BP-4: two requests
/// pending at once, so the earliest must get the thread; PASS-7: a request
/// that comes while the app is answering the user).
fn requests_batch(e: &mut impl Entropy, st: &State, psid: &str) -> Option<Op> {
    if st.owner(psid) != Some(Party::App(AUT)) {
        return None;
    }
    let mut requests: Vec<AppIx> = st.setup.app_ixs().filter(|a| *a != AUT).collect();
    if requests.is_empty() {
        return None;
    }
    if e.chance(50) {
        requests.reverse();
    }
    if requests.len() > 1 && e.chance(25) {
        requests.truncate(1);
    }
    // At least two events, so that it is a batch.
    let texts = if requests.len() == 1 || e.chance(60) {
        vec![e.pick(TEXTS).to_string()]
    } else {
        Vec::new()
    };
    let op = Op::Deliver(Special::Batch {
        psid: psid.to_string(),
        texts,
        requests,
    });
    Some(op)
}

/// A well-behaved call by another app: it requests control it lacks, takes
/// only as primary, and sends, passes and releases only what it owns.
fn other_app(e: &mut impl Entropy, st: &State, psid: &str) -> Option<Op> {
    let p = psid.to_string();
    let owner = st.owner(psid);
    // The app that owns the thread, when another app does.
    let owning = match owner {
        Some(Party::App(a)) if a != AUT => Some(a),
        _ => None,
    };
    let call = |app: AppIx, c: Call| Some(Op::Graph(st.setup.call(app, c)));
    let metadata = e
        .chance(60)
        .then(|| "context from a live agent".to_string());
    match (owning, e.below(10)) {
        // It owns the thread: pass it to the app under test, or elsewhere,
        // release it, talk to the user, or hand context over to the app
        // under test.
        (Some(a), 0..=3) => call(
            a,
            Call::Pass {
                psid: p,
                target: Some(AppRef::App(AUT)),
                metadata,
            },
        ),
        // To the inbox of the thread's own surface (IG-2).
        (Some(a), 4) => call(
            a,
            Call::Pass {
                target: Some(if st.surface(psid).is_some_and(|s| s.is_instagram()) {
                    AppRef::InstagramInbox
                } else {
                    AppRef::PageInbox
                }),
                psid: p,
                metadata: None,
            },
        ),
        (Some(a), 5 | 6) => call(a, Call::Release { psid: p }),
        // PASS-7: context for the app under test, control kept (an
        // unusual delivery for it, APP-3).
        (Some(a), 9) => call(
            a,
            Call::PassMetadata {
                psid: p,
                target: AppRef::App(AUT),
                metadata: "order 4471; the customer prefers email".into(),
            },
        ),
        (Some(a), _) => call(
            a,
            Call::Send {
                psid: p,
                messaging_type: MessagingType::Response,
                tag: None,
                message: Message::Text {
                    text: "an agent here".into(),
                    quick_replies: None,
                },
            },
        ),
        // The app under test owns the thread: sometimes two apps ask at
        // once.
        (None, 7..=9) if owner == Some(Party::App(AUT)) => requests_batch(e, st, &p),
        // It does not own the thread: ask for it (the primary may take it).
        (None, k) => {
            let app = other(e, st)?;
            if st.primary == Some(app) && owner.is_some() && k < 3 {
                call(app, Call::Take { psid: p, metadata })
            } else {
                call(app, Call::Request { psid: p, metadata })
            }
        }
    }
}

/// A person in the inbox of the thread's surface (the Instagram Inbox for
/// an Instagram thread, IG-2).
fn inbox(e: &mut impl Entropy, st: &State, psid: &str) -> Op {
    let action = match e.below(3) {
        0 => InboxAction::MoveToMain,
        1 => InboxAction::Reply {
            text: "a person from the page".into(),
        },
        _ => InboxAction::MarkDone,
    };
    Op::Inbox {
        platform: st.surface(psid).unwrap_or_default(),
        psid: psid.to_string(),
        action,
    }
}

/// Jumps just before and just after a deadline (the app under test's
/// above all), and plain ones.
fn clock(e: &mut impl Entropy, st: &State) -> Op {
    let now = st.now_ms;
    // The app under test's own deadlines first (EXP-1 for it: BP-4's and
    // BP-5's situations), else anyone's.
    let of = |aut: bool| -> Vec<u64> {
        st.threads
            .values()
            .filter(|t| t.owner.is_some() && (!aut || t.owner == Some(Party::App(AUT))))
            .map(|t| t.deadline_ms)
            .collect()
    };
    let mine = of(true);
    let deadlines = if !mine.is_empty() && e.chance(70) {
        mine
    } else {
        of(false)
    };
    let advance_ms = if !deadlines.is_empty() && e.chance(70) {
        let d = *e.pick(&deadlines);
        let offset: i64 = *e.pick(&[-1000, -1, 1, 1000]);
        (d as i64 - now as i64 + offset).max(1) as u64
    } else {
        *e.pick(&[60_000, 3_600_000, DAY_MS / 2])
    };
    Op::Clock { advance_ms }
}

/// The jump that ends a case: past every deadline, so a thread the app
/// still holds lapses (holding until a lapse is allowed; leaving a request
/// pending at a lapse is not, BP-4).
pub fn past_every_deadline(st: &State) -> Op {
    let now = st.now_ms;
    let last = st
        .threads
        .values()
        .filter(|t| t.owner.is_some())
        .map(|t| t.deadline_ms)
        .max()
        .unwrap_or(now);
    Op::Clock {
        advance_ms: last.saturating_sub(now) + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::entropy::SplitMix64;
    use crate::model::{AppSpec, Setup, apply};

    fn page(primary: Option<&str>) -> State {
        let apps = (0..3)
            .map(|i| AppSpec {
                app_id: format!("{}", 1001 + i),
                name: format!("app{i}"),
                human_agent: i == 1,
                require_appsecret_proof: false,
            })
            .collect();
        State::new(Setup::new("1".into(), 0, apps, primary).unwrap())
    }

    /// The other apps never break a best practice themselves: no call of
    /// theirs is refused for ownership, and they take only as primary.
    #[test]
    fn bp_2_bp_3_the_simulated_apps_follow_the_best_practices() {
        let psids: Vec<String> = vec!["1".into(), "2".into()];
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..60 {
            for primary in [None, Some("1001"), Some("1002")] {
                let mut st = page(primary);
                let mut e = SplitMix64::new(seed);
                for _ in 0..30 {
                    let op = next_stimulus(
                        &mut e,
                        &st,
                        &psids,
                        &Offers::default(),
                        &StimulusWeights::default(),
                    );
                    if let Op::Graph(g) = &op {
                        assert_ne!(g.caller, crate::model::Caller::App(AUT), "{op}");
                        let before = st.clone();
                        let out = apply(&mut st, &op);
                        let refused_as_non_owner = matches!(
                            out.answer,
                            crate::model::Answer::Graph(Err(e)) if e == crate::model::GraphError::NOT_OWNER
                        );
                        assert!(!refused_as_non_owner, "{op} on {before:?}");
                        if let Call::Take { .. } = g.call {
                            let crate::model::Caller::App(a) = g.caller else {
                                panic!()
                            };
                            assert_eq!(before.primary, Some(a), "{op}");
                        }
                        kinds.insert(g.call.edge().as_str());
                    } else {
                        apply(&mut st, &op);
                    }
                }
            }
        }
        assert!(kinds.len() >= 5, "{kinds:?}");
    }

    #[test]
    fn the_case_ends_past_every_deadline() {
        let mut st = page(Some("1001"));
        apply(
            &mut st,
            &Op::User(UserEvent::Message {
                platform: Default::default(),
                psid: "1".into(),
                text: "hi".into(),
                quick_reply: None,
            }),
        );
        let op = past_every_deadline(&st);
        apply(&mut st, &op);
        assert_eq!(st.owner("1"), None);
    }
}
