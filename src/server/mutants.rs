//! Mutants: deliberate, realistic bugs the reference server can switch on
//! (`baton serve --mutant NAME`), to prove that the harness catches what it
//! claims to catch.
//!
//! They live at the seam between transport and decision: a mutant may bend
//! the state before the model decides, replace or post-process the model's
//! outcome, mangle a request before decoding, or misbehave while
//! delivering. The model itself stays single and correct.

use crate::model::{
    Answer, AppIx, AppRef, Call, Channel, EventKind, GraphError, GraphSuccess, InboxAction, Op,
    Outcome, OwnerView, Party, Rule, State, Surface, UserEvent, apply,
};

macro_rules! mutants {
    ($( $variant:ident = $name:literal, $rule:ident, $what:literal; )*) => {
        /// One deliberate bug.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Mutant { $( $variant, )* }

        impl Mutant {
            pub const ALL: &'static [Mutant] = &[ $( Mutant::$variant, )* ];

            /// The name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $( Mutant::$variant => $name, )* }
            }

            /// The rule the bug breaks.
            pub fn rule(self) -> Rule {
                match self { $( Mutant::$variant => Rule::$rule, )* }
            }

            /// One sentence on what goes wrong.
            pub fn description(self) -> &'static str {
                match self { $( Mutant::$variant => $what, )* }
            }
        }
    };
}

mutants! {
    SendNonOwner = "send-non-owner", Ctrl4,
        "A send by an app that does not own the thread is delivered as if the thread were idle.";
    FailedTakeSticks = "failed-take-sticks", Ctrl5,
        "A take refused with 2018300 still makes the caller the owner.";
    PsidCrosstalk = "psid-crosstalk", Ctrl6,
        "Releasing one thread also releases the next owned thread of the page.";
    PassWithoutWebhook = "pass-without-webhook", Pass1,
        "A pass from the owner to another app sends no pass_thread_control webhook.";
    PassMetadataMovesControl = "pass-metadata-moves-control", Pass7,
        "pass_thread_metadata makes the target the owner, as a pass would, instead of leaving control with the caller.";
    RequestWithoutWebhook = "request-without-webhook", Req1,
        "A request for control is accepted but the owner is never told.";
    LapseHourEarly = "lapse-hour-early", Exp1,
        "Control lapses one hour before the deadline.";
    DeadlineKeepsExtension = "deadline-keeps-extension", Exp1,
        "A change of owner keeps a later deadline (the previous owner's extension) instead of restarting at now + 24 h.";
    ExtendNoop = "extend-noop", Exp2,
        "extend_thread_control answers success but leaves the deadline alone.";
    PrimaryStandbyWhenIdle = "primary-standby-when-idle", Pri2,
        "A user message on an idle thread makes the primary receiver owner but delivers it on standby.";
    StandbyPayloadLeak = "standby-payload-leak", Hook2,
        "Standby copies of postbacks keep their payload.";
    WrongSecret = "wrong-secret", Hook4,
        "Webhooks are signed with another app's secret.";
    DuplicateDelivery = "duplicate-delivery", Hook5,
        "Every webhook delivery is sent twice, even when acknowledged.";
    InboxNoTake = "inbox-no-take", Inbox1,
        "Moving a thread to the main folder does not give the Page Inbox control.";
    PostbackNoControl = "postback-no-control", Cta1,
        "Clicking a postback button leaves control where it was.";
    PageMenuAnyApp = "page-menu-any-app", Menu1,
        "Any app may set or delete the page-level menu, even with a primary receiver set.";
    SurveyNotHeld = "survey-not-held", Survey1,
        "A survey from a non-owner reaches the user at once instead of being held.";
    ThreadOwnerLeak = "thread-owner-leak", Auth4,
        "thread_owner tells every app who owns the thread.";
    UnknownTokenCode = "unknown-token-code", Auth1,
        "An unknown access token gets 400/100 without WWW-Authenticate instead of 400/190.";
    FormMisparse = "form-misparse", Input1,
        "Form-encoded bodies lose their JSON-encoded object values (recipient, message), so valid calls are refused.";
    RacyTake = "racy-take", Race1,
        "take_thread_control checks that the thread is idle, yields, then sets the owner, so two concurrent takes both succeed.";
    IgWrongObject = "ig-wrong-object", Ig3,
        "Instagram deliveries are written as Messenger ones: \"object\":\"page\" around the Instagram account's entries.";
    IgPageInboxAccepted = "ig-page-inbox-accepted", Ig2,
        "Passing an Instagram thread to the Page Inbox id is accepted, as if it were the Instagram Inbox.";
    IgSurfaceLeak = "ig-surface-leak", Ig4,
        "Releasing a thread also releases the threads the same app owns on the other surface.";
    IgSurveyAllowed = "ig-survey-allowed", Ig5,
        "Surveys and user-level menus on Instagram threads are handled as on Messenger instead of being refused.";
}

impl Mutant {
    pub fn parse(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// The names, for error messages.
    pub fn names() -> String {
        Mutant::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The set of mutants switched on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mutants(Vec<Mutant>);

impl Mutants {
    pub fn new(list: Vec<Mutant>) -> Mutants {
        Mutants(list)
    }

    pub fn none() -> Mutants {
        Mutants(Vec::new())
    }

    pub fn has(&self, m: Mutant) -> bool {
        self.0.contains(&m)
    }

    pub fn list(&self) -> &[Mutant] {
        &self.0
    }

    /// Decides one operation on one page: the model, bent by whichever
    /// decision-level mutants are on. With none on, this is exactly
    /// [`apply`].
    pub fn decide(&self, st: &mut State, op: &Op) -> Outcome {
        if self.0.is_empty() {
            return apply(st, op);
        }
        // Bend the operation: the Page Inbox as target of an Instagram
        // thread means the Instagram Inbox.
        let bent_op;
        let op = match op {
            Op::Graph(g)
                if self.has(Mutant::IgPageInboxAccepted)
                    && let Call::Pass {
                        psid,
                        target: Some(AppRef::PageInbox),
                        metadata,
                    } = &g.call
                    && st.surface(psid) == Some(Surface::Instagram) =>
            {
                let mut g = g.clone();
                g.call = Call::Pass {
                    psid: psid.clone(),
                    target: Some(AppRef::InstagramInbox),
                    metadata: metadata.clone(),
                };
                bent_op = Op::Graph(g);
                &bent_op
            }
            _ => op,
        };
        let psid = op.psid().cloned();
        let owner_before = psid.as_deref().and_then(|p| st.owner(p));
        let deadline_before = psid
            .as_deref()
            .and_then(|p| st.thread(p))
            .map(|t| t.deadline_ms);

        // Bend the state before the model looks at it.
        let mut restore_owner = None;
        let mut restore_primary = None;
        let mut restore_surface = None;
        if self.has(Mutant::IgSurveyAllowed)
            && let Op::Graph(g) = op
            && matches!(
                &g.call,
                Call::Send {
                    message: crate::model::Message::Survey { .. },
                    ..
                } | Call::SetUserMenu { .. }
                    | Call::DeleteUserMenu { .. }
            )
            && let Some(t) = psid.as_deref().and_then(|p| st.threads.get_mut(p))
            && t.surface.is_instagram()
        {
            t.surface = Surface::Messenger;
            restore_surface = Some(Surface::Instagram);
        }
        if let Op::Graph(g) = op
            && let Some(p) = &psid
        {
            let is_survey = matches!(
                &g.call,
                Call::Send {
                    message: crate::model::Message::Survey { .. },
                    ..
                }
            );
            let bend = (self.has(Mutant::SendNonOwner)
                && matches!(g.call, Call::Send { .. })
                && !is_survey)
                || (self.has(Mutant::SurveyNotHeld) && is_survey);
            if bend && let Some(t) = st.threads.get_mut(p) {
                restore_owner = Some((t.owner, t.deadline_ms));
                t.owner = None;
            }
        }
        if self.has(Mutant::PageMenuAnyApp)
            && let Op::Graph(g) = op
            && matches!(
                g.call,
                Call::SetPageMenu { .. } | Call::DeletePageMenu { .. }
            )
        {
            restore_primary = Some(st.primary.take());
        }
        if self.has(Mutant::LapseHourEarly)
            && let Op::Clock { advance_ms } = op
        {
            let new_now = st.now_ms.saturating_add(*advance_ms);
            for t in st.threads.values_mut() {
                if t.owner.is_some() && t.deadline_ms.saturating_sub(3_600_000) <= new_now {
                    t.deadline_ms = t.deadline_ms.min(new_now);
                }
            }
        }

        // Decide.
        let mut out = if self.has(Mutant::ExtendNoop)
            && matches!(op, Op::Graph(g) if matches!(g.call, Call::Extend { .. }))
        {
            apply(&mut st.clone(), op)
        } else if self.has(Mutant::InboxNoTake)
            && matches!(
                op,
                Op::Inbox {
                    action: InboxAction::MoveToMain,
                    ..
                }
            )
        {
            let out = apply(&mut st.clone(), op);
            if let (Some(p), false) = (&psid, out.is_refusal())
                && let Some(t) = st.threads.get_mut(p)
            {
                t.folder = crate::model::Folder::Main;
            }
            Outcome {
                deliveries: Vec::new(),
                ..out
            }
        } else {
            apply(st, op)
        };

        // Undo the bending.
        if let (Some((owner, deadline)), Some(p)) = (restore_owner, &psid)
            && let Some(t) = st.threads.get_mut(p)
            && t.owner.is_none()
        {
            t.owner = owner;
            t.deadline_ms = deadline;
        }
        if let Some(primary) = restore_primary {
            st.primary = primary;
        }
        if let (Some(surface), Some(p)) = (restore_surface, &psid)
            && let Some(t) = st.threads.get_mut(p)
        {
            t.surface = surface;
            for d in &mut out.deliveries {
                d.event.surface = surface;
            }
        }

        // Post-process the outcome and the state.
        if self.has(Mutant::FailedTakeSticks)
            && out.decided_by == Rule::Take3
            && let (Op::Graph(g), Some(p)) = (op, &psid)
            && let crate::model::Caller::App(a) = g.caller
            && let Some(t) = st.threads.get_mut(p)
        {
            t.owner = Some(Party::App(a));
            t.deadline_ms = st.now_ms + crate::model::DAY_MS;
        }
        if self.has(Mutant::PsidCrosstalk)
            && out.decided_by == Rule::Rel1
            && let Some(p) = &psid
        {
            let next = st
                .threads
                .iter_mut()
                .find(|(q, t)| *q != p && t.owner.is_some());
            if let Some((_, t)) = next {
                t.owner = None;
                t.deadline_ms = 0;
            }
        }
        if self.has(Mutant::IgSurfaceLeak)
            && out.decided_by == Rule::Rel1
            && let (Op::Graph(g), Some(p)) = (op, &psid)
            && let crate::model::Caller::App(a) = g.caller
            && let Some(surface) = st.surface(p)
        {
            for t in st.threads.values_mut() {
                if t.surface != surface && t.owner == Some(Party::App(a)) {
                    t.owner = None;
                    t.deadline_ms = 0;
                }
            }
        }
        if self.has(Mutant::PassWithoutWebhook) && out.decided_by == Rule::Pass1 {
            out.deliveries
                .retain(|d| !matches!(d.event.kind, EventKind::PassThreadControl { .. }));
        }
        if self.has(Mutant::PassMetadataMovesControl)
            && out.decided_by == Rule::Pass7
            && !out.is_refusal()
            && let Op::Graph(g) = op
            && let Call::PassMetadata {
                psid,
                target: AppRef::App(target),
                ..
            } = &g.call
            && let Some(t) = st.threads.get_mut(psid)
        {
            t.owner = Some(Party::App(*target));
            t.deadline_ms = st.now_ms + crate::model::DAY_MS;
        }
        if self.has(Mutant::RequestWithoutWebhook) && out.decided_by == Rule::Req1 {
            out.deliveries.clear();
        }
        if self.has(Mutant::DeadlineKeepsExtension)
            && let (Some(p), Some(before)) = (&psid, deadline_before)
            && let Some(t) = st.threads.get_mut(p)
            && t.owner.is_some()
            && t.owner != owner_before
            && owner_before.is_some()
        {
            t.deadline_ms = t.deadline_ms.max(before);
        }
        if self.has(Mutant::PrimaryStandbyWhenIdle) {
            for d in &mut out.deliveries {
                if d.rule == Rule::Pri2 {
                    d.channel = Channel::Standby;
                }
            }
        }
        if self.has(Mutant::StandbyPayloadLeak)
            && let Op::User(UserEvent::Postback { payload, .. } | UserEvent::Menu { payload, .. }) =
                op
        {
            for d in &mut out.deliveries {
                if let EventKind::Postback {
                    payload: p @ None, ..
                } = &mut d.event.kind
                {
                    *p = Some(payload.clone());
                }
            }
        }
        if self.has(Mutant::PostbackNoControl)
            && out.decided_by == Rule::Cta1
            && !out.is_refusal()
            && let Some(p) = &psid
            && let Some(t) = st.threads.get_mut(p)
        {
            t.owner = owner_before;
            t.deadline_ms = deadline_before.unwrap_or(0);
            for d in &mut out.deliveries {
                let owns = owner_before.is_none() || owner_before == Some(Party::App(d.app));
                d.channel = if owns {
                    Channel::Messaging
                } else {
                    Channel::Standby
                };
                if let (
                    EventKind::Postback { payload, .. },
                    Op::User(UserEvent::Postback { payload: sent, .. }),
                ) = (&mut d.event.kind, op)
                {
                    *payload = owns.then(|| sent.clone());
                }
            }
        }
        if self.has(Mutant::ThreadOwnerLeak)
            && let Answer::Graph(Ok(GraphSuccess::ThreadOwner(Some(view)))) = &mut out.answer
            && view.app_id.is_none()
        {
            let owner = psid.as_deref().and_then(|p| st.owner(p));
            *view = OwnerView {
                app_id: owner,
                expiration: view.expiration,
            };
        }
        self.bend_refusal(&mut out);
        out
    }

    /// Post-processing that also applies to calls that reach no page.
    pub fn bend_refusal(&self, out: &mut Outcome) {
        if self.has(Mutant::UnknownTokenCode)
            && let Answer::Graph(Err(e)) = &mut out.answer
            && e.code == 190
        {
            *e = GraphError::INVALID;
        }
    }

    /// The delivery faults switched on.
    pub fn delivery_faults(&self) -> super::delivery::DeliveryFaults {
        super::delivery::DeliveryFaults {
            wrong_secret: self.has(Mutant::WrongSecret),
            duplicate: self.has(Mutant::DuplicateDelivery),
            ig_wrong_object: self.has(Mutant::IgWrongObject),
        }
    }
}

/// An app index that is not `a`, for faults that need "another app".
pub fn other_app(a: AppIx, n_apps: usize) -> AppIx {
    AppIx(((a.index() + 1) % n_apps.max(1)) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, GenConfig, SplitMix64};

    #[test]
    fn names_are_unique_and_parse_back() {
        assert!(Mutant::ALL.len() >= 15);
        for m in Mutant::ALL {
            assert_eq!(Mutant::parse(m.name()), Some(*m));
            assert!(!m.description().is_empty());
        }
        let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
    }

    #[test]
    fn no_mutant_is_exactly_the_model() {
        for seed in 0..50 {
            let (cs, ops) =
                generate::case(&mut SplitMix64::new(seed), &GenConfig::default(), "1", 40);
            let (mut a, mut b) = (State::new(cs.setup.clone()), State::new(cs.setup));
            for op in &ops {
                assert_eq!(Mutants::none().decide(&mut a, op), apply(&mut b, op));
            }
        }
    }

    #[test]
    fn every_decision_mutant_changes_some_generated_case() {
        // Transport-level mutants (signatures, duplicates, form parsing,
        // atomicity) are checked by the server's integration tests.
        let transport = [
            Mutant::WrongSecret,
            Mutant::DuplicateDelivery,
            Mutant::FormMisparse,
            Mutant::RacyTake,
            Mutant::IgWrongObject,
        ];
        for m in Mutant::ALL.iter().filter(|m| !transport.contains(m)) {
            let mutants = Mutants::new(vec![*m]);
            let differs = (0..400).any(|seed| {
                let (cs, ops) =
                    generate::case(&mut SplitMix64::new(seed), &GenConfig::default(), "1", 40);
                let (mut a, mut b) = (State::new(cs.setup.clone()), State::new(cs.setup));
                ops.iter()
                    .any(|op| mutants.decide(&mut a, op) != apply(&mut b, op) || a != b)
            });
            assert!(differs, "mutant {} never changed anything", m.name());
        }
    }
}
