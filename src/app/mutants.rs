//! App mutants: the reference app with one deliberate fault each, so that
//! `baton certify-app` can show it catches every rule for apps (BP-1..6,
//! APP-1..6). Each one changes exactly one behaviour of the reference app.

use crate::model::Rule;
use std::fmt;

macro_rules! app_mutants {
    ($( $variant:ident = $name:literal, $rule:ident, $minimal:literal, $desc:literal; )*) => {
        /// One deliberate fault of the reference app.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AppMutant { $( $variant, )* }

        impl AppMutant {
            /// Every app mutant, in rule order.
            pub const ALL: &'static [AppMutant] = &[ $( AppMutant::$variant, )* ];

            /// The name `--app-mutant` takes, e.g. `sends-on-standby`.
            pub fn name(self) -> &'static str {
                match self { $( AppMutant::$variant => $name, )* }
            }

            /// The rule a certification run must catch it under.
            pub fn rule(self) -> Rule {
                match self { $( AppMutant::$variant => Rule::$rule, )* }
            }

            /// One line: what the fault is.
            pub fn description(self) -> &'static str {
                match self { $( AppMutant::$variant => $desc, )* }
            }

            fn minimal(self) -> usize {
                match self { $( AppMutant::$variant => $minimal, )* }
            }
        }
    };
}

// The third column is the hand-found minimal number of stimuli that shows
// the fault (see `hand_minimal` for which stimuli). "Group" is the page
// configuration of app-certification.md's cases: the app primary, another
// app primary (the app secondary), or no primary.
app_mutants! {
    NeverAsksOwner = "never-asks-owner", Bp1, 2,
        "acts on a standby event without asking thread_owner (guesses the owner from the channel)";
    SendsOnStandby = "sends-on-standby", Bp2, 1,
        "replies to user messages it got on standby, although thread_owner says another app owns the thread";
    TakesAsSecondary = "takes-as-secondary", Bp3, 1,
        "takes control instead of requesting it when it is not the primary receiver";
    IgnoresRequests = "ignores-requests", Bp4, 2,
        "never passes to an app that requested control, and lets the thread lapse";
    WrongRequester = "wrong-requester", Bp4, 2,
        "passes to the latest pending requester instead of the earliest";
    ReleasesAfterLapse = "releases-after-lapse", Bp5, 3,
        "ignores event timestamps: still acts as the owner (and releases) after its control lapsed";
    ChattersWhenIdle = "chatters-when-idle", Bp6, 2,
        "having found the thread idle, keeps sending without requesting or taking control";
    FailsDeliveries = "fails-deliveries", App1, 1,
        "after its first delivery, answers 500 to deliveries of user and handover events (and ignores them)";
    SkipsSignatureCheck = "skips-signature-check", App2, 1,
        "reacts to deliveries whatever their X-Hub-Signature-256";
    RejectsUnknownEvents = "rejects-unknown-events", App3, 1,
        "answers 500 to batches and to event kinds it does not know";
    ReactsToRetries = "reacts-to-retries", App4, 2,
        "reacts again to a retried delivery (no deduplication)";
    BadHandshake = "bad-handshake", App5, 0,
        "answers the verification challenge whatever the verify token";
    NoMessagingType = "no-messaging-type", App6, 1,
        "sends messages without messaging_type";
}

impl AppMutant {
    /// Looks a mutant up by name (case-insensitive).
    pub fn parse(s: &str) -> Option<AppMutant> {
        AppMutant::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Every name, comma-separated, for usage errors.
    pub fn names() -> String {
        AppMutant::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for AppMutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The smallest number of stimuli (app-certification.md, "Cases") found by
/// hand that makes the mutant break its rule. A shrunk counterexample should
/// be at most one longer. The stimuli, per mutant:
///
/// * `never-asks-owner` (2, app primary): the user writes "talk to a person"
///   (the app says it is connecting them, offering a "Back to the bot" quick
///   reply, and passes to the Page Inbox); the user taps "Back to the bot",
///   which reaches the app on standby, and the mutant takes control without
///   asking `thread_owner`. When the generator only uses words the app
///   already offered, the first message needs one more stimulus before it
///   ("hi", whose answer offers "Talk to a person").
/// * `sends-on-standby` (1, another app primary): the user writes; the app
///   gets it on standby, asks `thread_owner`, and replies anyway: 10/2018300.
/// * `takes-as-secondary` (1, no primary): the user writes; the app gets it
///   on messaging, asks `thread_owner`, finds the thread idle and takes it.
/// * `ignores-requests` (2, app primary): the user writes (the app owns the
///   thread); another app requests control. The mutant keeps the thread and
///   the end of the case lapses it with the request pending.
/// * `wrong-requester` (2, app primary): the user writes; one delivery
///   carries two `request_thread_control` events from two other apps (a
///   batch), and the mutant passes to the second.
/// * `releases-after-lapse` (3, no primary): the user writes (the app finds
///   the thread idle, requests it and owns it); the clock moves 24 h; the
///   user says "bye". The mutant believes it still owns the thread, says
///   goodbye and releases: 400/100 on an idle thread.
/// * `chatters-when-idle` (2, no primary): the user writes twice; the mutant
///   found the thread idle on the first and answers both without requesting.
/// * `fails-deliveries` (1): any user message (the mutant accepts only its
///   first delivery, which is baton's check before the first case that it
///   answers a signed delivery at all).
/// * `skips-signature-check` (1): a forged delivery of a user message.
/// * `rejects-unknown-events` (1): one delivery of an unknown event kind
///   (or a batch of two events).
/// * `reacts-to-retries` (2): a user message, then the same delivery again.
/// * `bad-handshake` (0): the handshake with a wrong verify token, which the
///   tool checks before the first case.
/// * `no-messaging-type` (1, app primary): a user message; the reply lacks
///   `messaging_type`.
pub fn hand_minimal(m: AppMutant) -> usize {
    m.minimal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn names_parse_back_and_every_app_rule_has_a_mutant() {
        for m in AppMutant::ALL {
            assert_eq!(AppMutant::parse(m.name()), Some(*m));
            assert_eq!(AppMutant::parse(&m.name().to_uppercase()), Some(*m));
            assert!(!m.description().is_empty());
            assert!(matches!(m.rule().family(), Family::Bp | Family::App));
        }
        for r in Rule::ALL {
            if matches!(r.family(), Family::Bp | Family::App) {
                assert!(
                    AppMutant::ALL.iter().any(|m| m.rule() == *r),
                    "no app mutant for {r}"
                );
            }
        }
        assert_eq!(AppMutant::parse("no-such-mutant"), None);
        let names: std::collections::HashSet<_> = AppMutant::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), AppMutant::ALL.len());
    }

    #[test]
    fn hand_minimal_counts_are_small() {
        for m in AppMutant::ALL {
            assert!(hand_minimal(*m) <= 3, "{m}");
        }
        assert_eq!(hand_minimal(AppMutant::BadHandshake), 0);
        assert_eq!(hand_minimal(AppMutant::ReleasesAfterLapse), 3);
    }
}
