//! The rule table: every rule of the Handover Protocol catalogue with its
//! stable ID, its level and a one-line summary.
//!
//! Everything that names a rule (the model's outcomes, divergence messages,
//! reports, test names) goes through [`Rule`], so an ID can never be misspelt
//! and a report can always list every rule, including the ones a run never
//! reached.

use std::fmt;

/// How binding a rule is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Level {
    /// Stated by the protocol; breaking it fails certification.
    Must,
    /// A detail the protocol leaves open, fixed so runs are reproducible;
    /// breaking it is a non-strict deviation.
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

macro_rules! rules {
    ($( $variant:ident = $id:literal, $family:ident, $level:ident, $summary:literal; )*) => {
        /// One rule of the catalogue. The discriminant is the rule's position
        /// in [`Rule::ALL`], which also makes [`RuleSet`] a plain bit set.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            /// Every rule, in catalogue order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// How many rules the catalogue has.
            pub const COUNT: usize = Rule::ALL.len();

            /// The stable ID, e.g. `"CTRL-4"`.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            /// The family prefix, e.g. `"CTRL"`.
            pub fn family(self) -> Family {
                match self { $( Rule::$variant => Family::$family, )* }
            }

            pub fn level(self) -> Level {
                match self { $( Rule::$variant => Level::$level, )* }
            }

            /// One line in our own words.
            pub fn summary(self) -> &'static str {
                match self { $( Rule::$variant => $summary, )* }
            }
        }
    };
}

rules! {
    Ctrl1 = "CTRL-1", Ctrl, Must, "A thread has at most one owner; an untouched thread is idle.";
    Ctrl2 = "CTRL-2", Ctrl, Must, "The owner can send messages to the user.";
    Ctrl3 = "CTRL-3", Ctrl, Must, "Any app can send on an idle thread, and sending leaves it idle.";
    Ctrl4 = "CTRL-4", Ctrl, Must, "A non-owner's send while someone else owns the thread is refused with 400/10/2018300 and delivers nothing.";
    Ctrl5 = "CTRL-5", Ctrl, Must, "A failed call changes nothing: owner, deadline, webhooks and user deliveries stay as they were.";
    Ctrl6 = "CTRL-6", Ctrl, Must, "Threads are independent: an operation on one PSID never affects another.";
    Take1 = "TAKE-1", Take, Must, "Any app can take an idle thread; nobody is notified.";
    Take2 = "TAKE-2", Take, Must, "The primary receiver can take a thread from anyone; a previous owner app gets take_thread_control.";
    Take3 = "TAKE-3", Take, Must, "A non-primary app cannot take a thread someone else owns (400/10/2018300).";
    Take4 = "TAKE-4", Take, Should, "Taking a thread you already own is refused with 400/100.";
    Pass1 = "PASS-1", Pass, Must, "The owner can pass to another app (which gets pass_thread_control) or to the Page Inbox (folder becomes main).";
    Pass2 = "PASS-2", Pass, Should, "On an idle thread any app can pass, even to itself; previous_owner_app_id is null.";
    Pass3 = "PASS-3", Pass, Must, "A non-owner cannot pass a thread someone else owns (400/10/2018300).";
    Pass4 = "PASS-4", Pass, Should, "Without target_app_id control goes to the primary receiver, or the call fails with 400/100 when there is none.";
    Pass5 = "PASS-5", Pass, Must, "A target that is neither a subscribed app nor the Page Inbox is refused with 400/100/2018164.";
    Pass6 = "PASS-6", Pass, Should, "The owner passing to itself is refused with 400/100.";
    Pass7 = "PASS-7", Pass, Must, "The owner can hand context to another subscribed app with pass_thread_metadata, keeping control; others are refused.";
    Req1 = "REQ-1", Req, Must, "A non-owner can request control: the owning app gets request_thread_control, ownership stays; no webhook when the Page Inbox owns.";
    Req2 = "REQ-2", Req, Should, "Requesting an idle thread grants it at once, with pass_thread_control to the caller.";
    Req3 = "REQ-3", Req, Should, "The owner requesting its own thread is refused with 400/100.";
    Rel1 = "REL-1", Rel, Must, "The owner can release; the thread goes idle without a webhook.";
    Rel2 = "REL-2", Rel, Must, "Release by a non-owner: 400/10/2018300 if someone else owns, 400/100 if idle.";
    Exp1 = "EXP-1", Exp, Must, "Control lapses 24 h after the last activity (at now == deadline), silently; owner changes reset the deadline, other activity only pushes it later.";
    Exp2 = "EXP-2", Exp, Must, "The owner can extend control by 1..=604800 s; the deadline becomes max(deadline, now + duration).";
    Exp3 = "EXP-3", Exp, Must, "Extend by a non-owner fails like release; a duration that is not an integer in 1..=604800 gets 400/100.";
    Pri1 = "PRI-1", Pri, Must, "A primary receiver is optional, unique, and never the Page Inbox.";
    Pri2 = "PRI-2", Pri, Must, "A user message on an idle thread hands it to the primary receiver (messaging) while others get standby, with no handover webhook.";
    Pri3 = "PRI-3", Pri, Should, "With no primary receiver, a user message on an idle thread leaves it idle and every app gets it on messaging.";
    Pri4 = "PRI-4", Pri, Must, "After a release or lapse the thread stays idle until the next user message.";
    Pri5 = "PRI-5", Pri, Should, "Changing the primary receiver tells each app its own new role with one app_roles event; owners stay.";
    Hook1 = "HOOK-1", Hook, Must, "Every user event reaches every app exactly once: the owner on messaging, the others on standby.";
    Hook2 = "HOOK-2", Hook, Must, "Standby copies of postbacks carry no payload; quick-reply payloads are kept.";
    Hook3 = "HOOK-3", Hook, Must, "Handover events go on messaging, only to the app the rule names.";
    Hook4 = "HOOK-4", Hook, Must, "Every delivery is signed with X-Hub-Signature-256 keyed by the receiving app's secret.";
    Hook5 = "HOOK-5", Hook, Must, "Nothing is delivered that no rule asks for, and no event reaches an app twice.";
    Hook6 = "HOOK-6", Hook, Should, "For one app and one PSID, events arrive in the order they happened.";
    Inbox1 = "INBOX-1", Inbox, Must, "Moving a thread to the main folder gives control to the Page Inbox; a previous owner app gets take_thread_control.";
    Inbox2 = "INBOX-2", Inbox, Must, "A Page Inbox reply outside the done folder takes control first, then reaches the user.";
    Inbox3 = "INBOX-3", Inbox, Must, "A Page Inbox reply in the done folder reaches the user and leaves the owner alone.";
    Inbox4 = "INBOX-4", Inbox, Should, "Marking done moves the thread to done and hands Page Inbox control to the primary receiver (or idle); a new user message moves it back to main.";
    Ctm1 = "CTM-1", Ctm, Must, "A Click-to-Messenger ad entry makes the assigned app owner, which gets the entry on messaging; no handover webhook.";
    Menu1 = "MENU-1", Menu, Must, "The page-level menu may be set or deleted by any app without a primary receiver, else only by the primary (others 400/10).";
    Menu2 = "MENU-2", Menu, Must, "A user-level menu may be set or deleted by the owner, or set by anyone on an idle thread (others 400/10).";
    Menu3 = "MENU-3", Menu, Must, "Picking a menu item gives control to the app that set the menu the user saw (user-level first).";
    Cta1 = "CTA-1", Cta, Must, "Clicking a postback button gives control to the app that sent the button, whoever owned the thread.";
    Survey1 = "SURVEY-1", Survey, Must, "A survey from a non-owner is accepted but held until the thread next goes idle, then delivered in order.";
    Ha1 = "HA-1", Ha, Must, "An app with the human agent feature can send with the HUMAN_AGENT tag without owning the thread.";
    Ha2 = "HA-2", Ha, Should, "The HUMAN_AGENT tag from an app without the feature is refused with 400/200.";
    Auth1 = "AUTH-1", Auth, Must, "Every Graph call needs a page token: missing gives 400/104, unknown 400/190 with WWW-Authenticate.";
    Auth2 = "AUTH-2", Auth, Must, "Only the token decides which app acts; no field can impersonate another app.";
    Auth3 = "AUTH-3", Auth, Should, "Apps that require appsecret_proof get 400/100 for a missing or wrong proof.";
    Auth4 = "AUTH-4", Auth, Should, "thread_owner reveals app_id only to the owner and the primary receiver; idle threads answer an empty list.";
    Input1 = "INPUT-1", Input, Must, "Malformed input gets 400 with a Graph error (code 100; unknown PSID 2018001), never a 5xx or a hang.";
    Race1 = "RACE-1", Race, Must, "Concurrent calls on one thread are linearizable.";
    Ig1 = "IG-1", Ig, Must, "Instagram threads obey the Messenger rules with IGSIDs, the Instagram account and the Instagram Inbox in their places; a break there also counts against IG-1.";
    Ig2 = "IG-2", Ig, Must, "The Instagram Inbox (1217981644879628) stands in for the Page Inbox on Instagram threads; each inbox id is an unknown target (100/2018164) on the other surface.";
    Ig3 = "IG-3", Ig, Must, "Instagram deliveries say object instagram, carry the Instagram account id as entry and recipient id and the IGSID as sender, are signed like any other, and never share a POST with Messenger events.";
    Ig4 = "IG-4", Ig, Must, "Messenger and Instagram threads never affect each other; one primary receiver serves both surfaces.";
    Ig5 = "IG-5", Ig, Should, "Surveys and user-level menus are refused on Instagram threads (400/100); the page-level menu is kept per surface (platform=instagram).";
    Ig6 = "IG-6", Ig, Should, "secondary_receivers takes platform messenger or instagram in any case and answers the same list; any other value gets 400/100.";
    Bp1 = "BP-1", Bp, Should, "Apps ask thread_owner before acting when unsure.";
    Bp2 = "BP-2", Bp, Must, "Apps do not send while another app owns the thread.";
    Bp3 = "BP-3", Bp, Should, "Non-primary apps request control instead of taking it.";
    Bp4 = "BP-4", Bp, Must, "Apps honour request_thread_control.";
    Bp5 = "BP-5", Bp, Should, "Apps pass to the next requester or release when done, and no longer act as owner after a lapse.";
    Bp6 = "BP-6", Bp, Should, "Apps finding a thread idle request or take control before a long exchange.";
    App1 = "APP-1", App, Must, "Apps answer every signed delivery with a 2xx within 20 s.";
    App2 = "APP-2", App, Must, "A delivery with a missing or wrong signature causes no Graph call.";
    App3 = "APP-3", App, Must, "Deliveries an app has no use for (batches, app_roles, unknown kinds) are answered 2xx and the app keeps serving.";
    App4 = "APP-4", App, Should, "A retried delivery causes no second reaction.";
    App5 = "APP-5", App, Should, "The webhook verification handshake answers the challenge for the right token, 403 otherwise.";
    App6 = "APP-6", App, Must, "Every Graph call an app makes is well-formed and authorised.";
}

/// A rule family, the prefix of a rule ID. Families are what `--only` and
/// `--skip` select and what reports group by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ctrl,
    Take,
    Pass,
    Req,
    Rel,
    Exp,
    Pri,
    Hook,
    Inbox,
    Ctm,
    Menu,
    Cta,
    Survey,
    Ha,
    Auth,
    Input,
    Race,
    Ig,
    Bp,
    App,
}

impl Family {
    pub const ALL: &'static [Family] = &[
        Family::Ctrl,
        Family::Take,
        Family::Pass,
        Family::Req,
        Family::Rel,
        Family::Exp,
        Family::Pri,
        Family::Hook,
        Family::Inbox,
        Family::Ctm,
        Family::Menu,
        Family::Cta,
        Family::Survey,
        Family::Ha,
        Family::Auth,
        Family::Input,
        Family::Race,
        Family::Ig,
        Family::Bp,
        Family::App,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ctrl => "CTRL",
            Family::Take => "TAKE",
            Family::Pass => "PASS",
            Family::Req => "REQ",
            Family::Rel => "REL",
            Family::Exp => "EXP",
            Family::Pri => "PRI",
            Family::Hook => "HOOK",
            Family::Inbox => "INBOX",
            Family::Ctm => "CTM",
            Family::Menu => "MENU",
            Family::Cta => "CTA",
            Family::Survey => "SURVEY",
            Family::Ha => "HA",
            Family::Auth => "AUTH",
            Family::Input => "INPUT",
            Family::Race => "RACE",
            Family::Ig => "IG",
            Family::Bp => "BP",
            Family::App => "APP",
        }
    }

    /// Parses a family name, case-insensitively.
    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Rule {
    /// Looks a rule up by its ID (`"CTRL-4"`, case-insensitive).
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL
            .iter()
            .copied()
            .find(|r| r.id().eq_ignore_ascii_case(id.trim()))
    }

    /// Rules about a platform, i.e. everything but the rules for apps (BP,
    /// APP). The model decides all of these except RACE-1, which needs
    /// concurrency.
    pub fn is_platform_rule(self) -> bool {
        !self.is_app_rule()
    }

    /// Rules for apps (`baton certify-app`): the best practices (BP) and
    /// an app's duties (APP).
    pub fn is_app_rule(self) -> bool {
        matches!(self.family(), Family::Bp | Family::App)
    }

    /// Whether the refusal code of a step decided by this rule is binding
    /// (rules.md, "Refusals"): Meta documents 10/2018300 for a non-owner's
    /// send (CTRL-4) and the token errors of AUTH-1; every other code is
    /// fixed by this project, so another one is a non-strict deviation.
    pub fn documents_refusal_code(self) -> bool {
        matches!(self, Rule::Ctrl4 | Rule::Auth1)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rule::from_id(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown rule ID {s:?}")))
    }
}

/// A set of rules, as a bit set: cheap to build on every model step.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RuleSet(u128);

const _: () = assert!(Rule::COUNT <= 128, "RuleSet is a u128 bit set");

impl RuleSet {
    pub const EMPTY: RuleSet = RuleSet(0);

    pub fn insert(&mut self, rule: Rule) {
        self.0 |= 1 << rule as u8;
    }

    pub fn with(mut self, rule: Rule) -> RuleSet {
        self.insert(rule);
        self
    }

    pub fn contains(self, rule: Rule) -> bool {
        self.0 & (1 << rule as u8) != 0
    }

    pub fn union(self, other: RuleSet) -> RuleSet {
        RuleSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.iter().copied().filter(move |r| self.contains(*r))
    }
}

impl FromIterator<Rule> for RuleSet {
    fn from_iter<I: IntoIterator<Item = Rule>>(iter: I) -> Self {
        let mut set = RuleSet::EMPTY;
        for r in iter {
            set.insert(r);
        }
        set
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Rule::id)).finish()
    }
}

impl serde::Serialize for RuleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for RuleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Rule>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for r in Rule::ALL {
            assert!(seen.insert(r.id()), "duplicate ID {}", r.id());
            assert_eq!(Rule::from_id(r.id()), Some(*r));
            assert!(r.id().starts_with(r.family().as_str()));
            assert!(!r.summary().is_empty());
        }
        assert_eq!(Rule::ALL.len(), 72);
        assert_eq!(Rule::COUNT, 72);
    }

    #[test]
    fn rule_set_holds_exactly_what_was_inserted() {
        let set: RuleSet = [Rule::Ctrl4, Rule::Bp6, Rule::Ctrl1].into_iter().collect();
        assert_eq!(set.len(), 3);
        assert!(set.contains(Rule::Bp6) && !set.contains(Rule::Ctrl2));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Rule::Ctrl1, Rule::Ctrl4, Rule::Bp6]
        );
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["CTRL-1","CTRL-4","BP-6"]"#);
        assert_eq!(serde_json::from_str::<RuleSet>(&json).unwrap(), set);
    }
}
