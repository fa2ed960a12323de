//! Sequence diagrams of counterexamples, as data: who called whom, what was
//! answered, which webhooks went where, what the user received. Drawn by
//! the model (replaying the case through [`apply`]), so every step shows
//! what a correct platform does; the diverging step is marked, with the
//! expected and observed text of the divergence.
//!
//! An app's counterexample (`baton certify-app`) is drawn from what was
//! recorded instead: the stimuli, every delivery to the app under test with
//! its answer, and every Graph call the app made with the platform's answer.
//!
//! Rendered as Mermaid by [`super::markdown`] and as SVG by [`super::html`].

use crate::harness::counterexample::Counterexample;
use crate::harness::diff::{AppEvent, AppFailure, Difference};
use crate::model::{
    Answer, Caller, ControlSuccess, GraphAnswer, InboxAction, Op, Party, State, Surface, apply,
};

/// A lifeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// A short identifier (`U`, `A0`, `I`, `P`, `X`).
    pub id: String,
    /// What the diagram shows.
    pub label: String,
}

/// What an arrow stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrowKind {
    /// A Graph API call or a control-API action.
    Call,
    /// The platform's answer to a call.
    Answer,
    /// A webhook delivery to an app.
    Webhook,
    /// A message reaching the user.
    ToUser,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Arrow {
        from: usize,
        to: usize,
        kind: ArrowKind,
        text: String,
    },
    /// A note spanning the given participants (first and last index).
    Note { over: (usize, usize), text: String },
}

/// One step of the case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub op: String,
    pub items: Vec<Item>,
    /// The step where the target diverged.
    pub diverges: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagram {
    pub participants: Vec<Participant>,
    pub steps: Vec<Step>,
}

const USER: usize = 0;

impl Diagram {
    /// The diagram of a counterexample: every step up to the diverging one.
    pub fn of(c: &Counterexample) -> Diagram {
        if let Difference::App(f) = &c.divergence.difference {
            return Diagram::of_app(c, f);
        }
        let setup = &c.case.setup.setup;
        let n = setup.apps.len();
        let uses_anon = c
            .case
            .ops
            .iter()
            .any(|op| matches!(op, Op::Graph(g) if !matches!(g.caller, Caller::App(_))));
        // The platform is the rightmost lifeline: every arrow starts or ends
        // there, so labels written from an arrow's left end never run off.
        let anon = n + 1;
        let inbox = n + 1 + usize::from(uses_anon);
        let platform = inbox + 1;
        let mut participants = vec![Participant {
            id: "U".into(),
            label: "User".into(),
        }];
        for (i, a) in setup.apps.iter().enumerate() {
            let primary = if setup.primary.is_some_and(|p| p.index() == i) {
                ", primary"
            } else {
                ""
            };
            participants.push(Participant {
                id: format!("A{i}"),
                label: format!("app {i} ({}{primary})", a.app_id),
            });
        }
        if uses_anon {
            participants.push(Participant {
                id: "X".into(),
                label: "no valid token".into(),
            });
        }
        // One lifeline for both inboxes: on a page with an Instagram account
        // it is labelled so, and the arrows name the inbox that acts.
        participants.push(Participant {
            id: "I".into(),
            label: match setup.instagram_account_id {
                Some(_) => "Page/Instagram Inbox".into(),
                None => "Page Inbox".into(),
            },
        });
        participants.push(Participant {
            id: "P".into(),
            label: "Platform".into(),
        });
        let d = &c.divergence;
        let mut state = State::new(setup.clone());
        let mut steps = Vec::new();
        for (i, op) in c.case.ops.iter().enumerate().take(d.step + 1) {
            let out = apply(&mut state, op);
            let mut items = Vec::new();
            let caller = match op {
                Op::Graph(g) => Some(match g.caller {
                    Caller::App(a) => 1 + a.index(),
                    _ => anon,
                }),
                Op::User(_) => Some(USER),
                Op::Inbox { .. } => Some(inbox),
                Op::Clock { .. } | Op::Roles { .. } | Op::Deliver(_) => None,
            };
            let op_text = op.to_string();
            match (caller, op) {
                (Some(from), Op::Graph(_)) => items.push(Item::Arrow {
                    from,
                    to: platform,
                    kind: ArrowKind::Call,
                    text: call_text(&op_text),
                }),
                (Some(from), _) => items.push(Item::Arrow {
                    from,
                    to: platform,
                    kind: ArrowKind::Call,
                    text: user_or_inbox_text(op),
                }),
                (None, _) => items.push(Item::Note {
                    over: (platform, platform),
                    text: op_text.clone(),
                }),
            }
            for dl in &out.deliveries {
                items.push(Item::Arrow {
                    from: platform,
                    to: 1 + dl.app.index(),
                    kind: ArrowKind::Webhook,
                    text: format!("[{}] {}", dl.channel, dl.event),
                });
            }
            for r in &out.received {
                let from = match r.entry.from {
                    Party::App(a) => format!("app {}", a.0),
                    Party::PageInbox => "Page Inbox".into(),
                    Party::InstagramInbox => "Instagram Inbox".into(),
                };
                items.push(Item::Arrow {
                    from: platform,
                    to: USER,
                    kind: ArrowKind::ToUser,
                    text: format!(
                        "{}: {} from {from} {:?}",
                        match state.surface(&r.psid) {
                            Some(Surface::Instagram) => Surface::Instagram.user_label(&r.psid),
                            _ => format!("psid {}", r.psid),
                        },
                        r.entry.kind.as_str(),
                        r.entry.text
                    ),
                });
            }
            if let (Some(to), Answer::Graph(a)) = (caller, &out.answer) {
                items.push(Item::Arrow {
                    from: platform,
                    to,
                    kind: ArrowKind::Answer,
                    text: GraphAnswer(a).to_string(),
                });
            } else if let (Some(to), Answer::Control(Err(e))) = (caller, &out.answer) {
                items.push(Item::Arrow {
                    from: platform,
                    to,
                    kind: ArrowKind::Answer,
                    text: format!("refused: {e}"),
                });
            } else if let (Op::Clock { .. }, Answer::Control(Ok(ControlSuccess::NowMs(now)))) =
                (op, &out.answer)
            {
                items.push(Item::Note {
                    over: (platform, platform),
                    text: format!("now {now} ms"),
                });
            }
            if i == d.step && !d.concurrent {
                items.extend(divergence_notes(d, platform));
            }
            steps.push(Step {
                index: i,
                op: op_text,
                items,
                diverges: i == d.step && !d.concurrent,
            });
        }
        if d.concurrent {
            let branches = c.case.branches.len();
            let mut items: Vec<Item> = Vec::new();
            for (b, ops) in c.case.branches.iter().enumerate() {
                for (k, op) in ops.iter().enumerate() {
                    let from = match op {
                        Op::Graph(g) => match g.caller {
                            Caller::App(a) => 1 + a.index(),
                            _ => anon,
                        },
                        Op::User(_) => USER,
                        Op::Inbox { .. } => inbox,
                        Op::Clock { .. } | Op::Roles { .. } | Op::Deliver(_) => platform,
                    };
                    let label = format!("{}{}", crate::harness::diff::branch_label(b), k + 1);
                    let text = match op {
                        Op::Graph(_) => call_text(&op.to_string()),
                        _ => user_or_inbox_text(op),
                    };
                    items.push(Item::Arrow {
                        from,
                        to: platform,
                        kind: ArrowKind::Call,
                        text: format!("{label}. {text}"),
                    });
                }
            }
            items.extend(divergence_notes(d, platform));
            steps.push(Step {
                index: c.case.ops.len(),
                op: format!("concurrent phase: {branches} branches"),
                items,
                diverges: true,
            });
        }
        Diagram {
            participants,
            steps,
        }
    }
}

impl Diagram {
    /// The diagram of an app's counterexample: its recorded timeline up to
    /// the violation. Lifelines: the user, the app under test (app 0), the
    /// simulated apps, the Page Inbox and baton's platform.
    fn of_app(c: &Counterexample, f: &AppFailure) -> Diagram {
        let setup = &c.case.setup.setup;
        let n = setup.apps.len();
        let inbox = n + 1;
        let platform = n + 2;
        let mut participants = vec![Participant {
            id: "U".into(),
            label: "User".into(),
        }];
        for (i, a) in setup.apps.iter().enumerate() {
            let primary = if setup.primary.is_some_and(|p| p.index() == i) {
                ", primary"
            } else {
                ""
            };
            let what = if i == 0 {
                "app under test"
            } else {
                "other app"
            };
            participants.push(Participant {
                id: format!("A{i}"),
                label: format!("{what} {i} ({}{primary})", a.app_id),
            });
        }
        participants.push(Participant {
            id: "I".into(),
            label: "Page Inbox".into(),
        });
        participants.push(Participant {
            id: "P".into(),
            label: "baton platform".into(),
        });
        let app = 1;
        let mut steps: Vec<Step> = Vec::new();
        for (k, e) in f.timeline.iter().enumerate() {
            if let AppEvent::Stimulus { index, op } = e {
                steps.push(Step {
                    index: *index,
                    op: op.to_string(),
                    items: Vec::new(),
                    diverges: false,
                });
            } else if steps.is_empty() {
                steps.push(Step {
                    index: 0,
                    op: "before the first stimulus".into(),
                    items: Vec::new(),
                    diverges: false,
                });
            }
            let items = &mut steps.last_mut().expect("a step").items;
            match e {
                AppEvent::Stimulus { op, .. } => {
                    let from = match op {
                        Op::Graph(g) => match g.caller {
                            Caller::App(a) => Some(1 + a.index()),
                            _ => None,
                        },
                        Op::User(_) => Some(USER),
                        Op::Inbox { .. } => Some(inbox),
                        Op::Clock { .. } | Op::Roles { .. } | Op::Deliver(_) => None,
                    };
                    match (from, op) {
                        (Some(from), Op::Graph(_)) => items.push(Item::Arrow {
                            from,
                            to: platform,
                            kind: ArrowKind::Call,
                            text: call_text(&op.to_string()),
                        }),
                        (Some(from), _) => items.push(Item::Arrow {
                            from,
                            to: platform,
                            kind: ArrowKind::Call,
                            text: user_or_inbox_text(op),
                        }),
                        (None, _) => items.push(Item::Note {
                            over: (platform, platform),
                            text: op.to_string(),
                        }),
                    }
                }
                AppEvent::Delivery {
                    kind,
                    events,
                    answer,
                } => {
                    let evs: Vec<String> = events
                        .iter()
                        .map(|(ch, ev)| format!("[{ch}] {ev}"))
                        .collect();
                    let what = if evs.is_empty() {
                        "a body of no known event".to_string()
                    } else {
                        evs.join("; ")
                    };
                    items.push(Item::Arrow {
                        from: platform,
                        to: app,
                        kind: ArrowKind::Webhook,
                        text: format!("({kind}) {what}"),
                    });
                    items.push(Item::Arrow {
                        from: app,
                        to: platform,
                        kind: ArrowKind::Answer,
                        text: answer.clone(),
                    });
                }
                AppEvent::Call {
                    op,
                    answer,
                    message,
                } => {
                    items.push(Item::Arrow {
                        from: app,
                        to: platform,
                        kind: ArrowKind::Call,
                        text: call_text(&op.to_string()),
                    });
                    let mut text = match answer {
                        Answer::Graph(a) => GraphAnswer(a).to_string(),
                        Answer::Control(Err(e)) => format!("refused: {e}"),
                        Answer::Control(Ok(_)) => "ok".into(),
                    };
                    if let Some(m) = message {
                        text = format!("{text}: {m}");
                    }
                    items.push(Item::Arrow {
                        from: platform,
                        to: app,
                        kind: ArrowKind::Answer,
                        text,
                    });
                }
            }
            if k == f.at {
                break;
            }
        }
        if let Some(last) = steps.last_mut() {
            last.diverges = true;
            last.items.extend(divergence_notes(&c.divergence, platform));
        }
        Diagram {
            participants,
            steps,
        }
    }
}

/// The notes that mark the diverging step: the rules, what was expected
/// and what was observed.
fn divergence_notes(d: &crate::harness::Divergence, platform: usize) -> Vec<Item> {
    let rules: Vec<&str> = d.rules.iter().map(|r| r.id()).collect();
    vec![
        Item::Note {
            over: (0, platform),
            text: format!(
                "DIVERGES here: {} ({}): the {} differs",
                rules.join(", "),
                if d.strict { "MUST" } else { "non-strict" },
                d.kind().name()
            ),
        },
        Item::Note {
            over: (0, platform),
            text: format!("expected: {}", one_line(&d.expected_text())),
        },
        Item::Note {
            over: (0, platform),
            text: format!("observed: {}", one_line(&d.observed_text())),
        },
    ]
}

/// `app 2 take_thread_control psid 1` without the caller, which the arrow shows.
fn call_text(op: &str) -> String {
    let rest = op
        .strip_prefix("app ")
        .and_then(|r| r.split_once(' ').map(|(_, t)| t))
        .unwrap_or(op);
    rest.to_string()
}

fn user_or_inbox_text(op: &Op) -> String {
    match op {
        Op::User(u) => u.to_string(),
        Op::Inbox {
            psid,
            action,
            platform: Surface::Instagram,
        } => {
            let who = Surface::Instagram.user_label(psid);
            let inbox = Surface::Instagram.inbox_label();
            match action {
                InboxAction::Reply { text } => format!("{inbox}: {who} reply {text:?}"),
                a => format!("{inbox}: {who} {}", a.as_str()),
            }
        }
        Op::Inbox { psid, action, .. } => match action {
            InboxAction::Reply { text } => format!("psid {psid} reply {text:?}"),
            a => format!("psid {psid} {}", a.as_str()),
        },
        other => other.to_string(),
    }
}

/// Several lines joined with ` / `, cut to a readable length.
pub fn one_line(s: &str) -> String {
    let joined: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let t = joined.join(" / ");
    if t.chars().count() > 160 {
        let cut: String = t.chars().take(157).collect();
        format!("{cut}...")
    } else {
        t
    }
}
