//! The operation generator: one state-aware choice of the next operation
//! at a time, with weights per kind of operation.

use super::entropy::Entropy;
use crate::model::{
    AppIx, AppRef, AppSpec, Call, Caller, Choice, DAY_MS, Defect, DurationAs, Edge, Encoding,
    Family, Folder, GraphOp, HUMAN_AGENT_TAG, InboxAction, MAX_EXTEND_S, MAX_METADATA_CHARS,
    MAX_TEXT_CHARS, Message, MessagingType, MsgRef, Op, Party, Proof, Setup, State, Surface,
    TokenAt, Transport, UserEvent,
};
use serde::{Deserialize, Serialize};

/// How often each kind of operation is chosen, relative to the others.
/// A zero weight turns a kind off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub user_message: u32,
    pub postback: u32,
    pub menu_pick: u32,
    pub ad_entry: u32,
    pub send: u32,
    pub pass: u32,
    /// `pass_thread_metadata` (PASS-7).
    pub pass_metadata: u32,
    pub take: u32,
    pub request: u32,
    pub release: u32,
    pub extend: u32,
    pub thread_owner: u32,
    pub secondary_receivers: u32,
    pub page_menu: u32,
    pub user_menu: u32,
    pub inbox: u32,
    pub clock: u32,
    pub roles: u32,
    /// Well-formed calls that must be refused: bad token or proof, unknown
    /// PSID or target, out-of-range duration.
    pub invalid: u32,
    /// Requests that cannot be decoded (INPUT-1).
    pub malformed: u32,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            user_message: 14,
            postback: 6,
            menu_pick: 3,
            ad_entry: 3,
            send: 14,
            pass: 8,
            pass_metadata: 3,
            take: 7,
            request: 6,
            release: 5,
            extend: 4,
            thread_owner: 3,
            secondary_receivers: 1,
            page_menu: 2,
            user_menu: 2,
            inbox: 5,
            clock: 7,
            roles: 2,
            invalid: 5,
            malformed: 5,
        }
    }
}

impl Weights {
    fn table(&self) -> [(Kind, u32); 20] {
        [
            (Kind::UserMessage, self.user_message),
            (Kind::Postback, self.postback),
            (Kind::MenuPick, self.menu_pick),
            (Kind::AdEntry, self.ad_entry),
            (Kind::Send, self.send),
            (Kind::Pass, self.pass),
            (Kind::PassMetadata, self.pass_metadata),
            (Kind::Take, self.take),
            (Kind::Request, self.request),
            (Kind::Release, self.release),
            (Kind::Extend, self.extend),
            (Kind::ThreadOwner, self.thread_owner),
            (Kind::SecondaryReceivers, self.secondary_receivers),
            (Kind::PageMenu, self.page_menu),
            (Kind::UserMenu, self.user_menu),
            (Kind::Inbox, self.inbox),
            (Kind::Clock, self.clock),
            (Kind::Roles, self.roles),
            (Kind::Invalid, self.invalid),
            (Kind::Malformed, self.malformed),
        ]
    }

    /// Turns off every kind of operation whose rules all belong to families
    /// outside `allowed`. User messages and the clock stay on as long as any
    /// family is allowed: nothing can be tested without a known PSID.
    pub fn restrict(&mut self, allowed: &dyn Fn(Family) -> bool) {
        let keep = |families: &[Family]| families.iter().any(|f| allowed(*f));
        let w = self;
        let zero = |w: &mut u32, families: &[Family]| {
            if !keep(families) {
                *w = 0;
            }
        };
        use Family as F;
        zero(&mut w.postback, &[F::Cta, F::Hook]);
        zero(&mut w.menu_pick, &[F::Menu, F::Hook]);
        zero(&mut w.ad_entry, &[F::Ctm]);
        zero(&mut w.send, &[F::Ctrl, F::Ha, F::Survey]);
        zero(&mut w.pass, &[F::Pass]);
        zero(&mut w.pass_metadata, &[F::Pass]);
        zero(&mut w.take, &[F::Take]);
        zero(&mut w.request, &[F::Req]);
        zero(&mut w.release, &[F::Rel]);
        zero(&mut w.extend, &[F::Exp]);
        zero(&mut w.thread_owner, &[F::Auth]);
        zero(&mut w.secondary_receivers, &[F::Pri]);
        zero(&mut w.page_menu, &[F::Menu]);
        zero(&mut w.user_menu, &[F::Menu]);
        zero(&mut w.inbox, &[F::Inbox]);
        zero(&mut w.clock, &[F::Exp, F::Pri, F::Survey]);
        zero(&mut w.roles, &[F::Pri]);
        zero(&mut w.invalid, &[F::Auth, F::Input, F::Pass, F::Exp]);
        zero(&mut w.malformed, &[F::Input]);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    UserMessage,
    Postback,
    MenuPick,
    AdEntry,
    Send,
    Pass,
    PassMetadata,
    Take,
    Request,
    Release,
    Extend,
    ThreadOwner,
    SecondaryReceivers,
    PageMenu,
    UserMenu,
    Inbox,
    Clock,
    Roles,
    Invalid,
    Malformed,
}

/// The shape of generated cases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenConfig {
    pub min_apps: u32,
    pub max_apps: u32,
    pub max_psids: u32,
    /// Percent of cases with a primary receiver.
    pub primary_percent: u32,
    /// Percent of calls with a non-default transport (encoding, token
    /// location, node, version prefix, and now and then one of the accepted
    /// spellings of `wire.md`'s precise points). Zero sends every call
    /// plainly.
    pub transport_percent: u32,
    /// Percent of pages with a linked Instagram account, whose users are a
    /// mix of PSIDs and IGSIDs (`instagram.md`). 0 generates Messenger-only
    /// cases, exactly as before the second surface, for targets without the
    /// `instagram` feature.
    pub instagram_percent: u32,
    pub weights: Weights,
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            min_apps: 2,
            max_apps: 5,
            max_psids: 6,
            primary_percent: 60,
            transport_percent: 25,
            instagram_percent: DEFAULT_INSTAGRAM_PERCENT,
            weights: Weights::default(),
        }
    }
}

/// Half the pages of a default run have an Instagram account.
pub const DEFAULT_INSTAGRAM_PERCENT: u32 = 50;

impl GenConfig {
    /// This configuration without Instagram: Messenger-only cases.
    pub fn messenger_only(mut self) -> GenConfig {
        self.instagram_percent = 0;
        self
    }
}

/// The Instagram account id of generated pages that have one.
pub const GENERATED_INSTAGRAM_ACCOUNT_ID: &str = "17841400000000777";

/// A generated case's fixed part: the page and the user ids of its users,
/// PSIDs (Messenger) and IGSIDs (Instagram). A user id is never both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSetup {
    pub setup: Setup,
    pub psids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub igsids: Vec<String>,
}

/// The clock every generated page starts at: 2026-01-01T00:00:00Z.
pub const START_MS: u64 = 1_767_225_600_000;

/// Draws a page: 2–5 apps with random `human_agent` and
/// `require_appsecret_proof`, a primary receiver or none, 1–6 users; with
/// `instagram_percent`, a linked Instagram account and some users on
/// Instagram (never user 1, so every case has a PSID).
pub fn setup(e: &mut impl Entropy, cfg: &GenConfig, page_id: &str) -> CaseSetup {
    let n_apps = e.range(cfg.min_apps.max(1), cfg.max_apps.max(cfg.min_apps.max(1)));
    let apps: Vec<AppSpec> = (0..n_apps)
        .map(|i| AppSpec {
            app_id: format!("{}", 1001 + i),
            name: format!("app{i}"),
            human_agent: e.chance(40),
            require_appsecret_proof: e.chance(25),
        })
        .collect();
    let primary = e.chance(cfg.primary_percent).then(|| e.below(n_apps));
    let n_psids = e.range(1, cfg.max_psids.max(1));
    let primary_id = primary.map(|p| apps[p as usize].app_id.clone());
    let mut setup = Setup::new(page_id.to_string(), START_MS, apps, primary_id.as_deref())
        .expect("generated setups are valid");
    let mut psids: Vec<String> = (1..=n_psids).map(|i| i.to_string()).collect();
    let mut igsids = Vec::new();
    // No draw at all without Instagram, so Messenger-only runs stay what
    // they were.
    if cfg.instagram_percent > 0 && e.chance(cfg.instagram_percent) {
        setup = setup
            .with_instagram(Some(GENERATED_INSTAGRAM_ACCOUNT_ID.into()))
            .expect("a valid Instagram account id");
        // At least one IGSID: the last user, and each other but the first
        // with even odds.
        let n = psids.len();
        let ig: Vec<bool> = (0..n)
            .map(|i| i == n - 1 || (i > 0 && e.chance(50)))
            .collect();
        if n == 1 {
            igsids.push((n + 1).to_string());
        }
        let all = std::mem::take(&mut psids);
        for (id, is_ig) in all.into_iter().zip(ig) {
            if is_ig && id != "1" {
                igsids.push(id);
            } else {
                psids.push(id);
            }
        }
    }
    CaseSetup {
        setup,
        psids,
        igsids,
    }
}

/// Draws a whole case of `steps` operations, running the model alongside to
/// keep the choices meaningful.
pub fn case(
    e: &mut impl Entropy,
    cfg: &GenConfig,
    page_id: &str,
    steps: usize,
) -> (CaseSetup, Vec<Op>) {
    let cs = setup(e, cfg, page_id);
    let mut st = State::new(cs.setup.clone());
    let mut ops = Vec::with_capacity(steps);
    for _ in 0..steps {
        let op = next_op_for(e, &st, &cs, cfg);
        crate::model::apply(&mut st, &op);
        ops.push(op);
    }
    (cs, ops)
}

/// Chooses the next operation for a page in state `st` whose users are all
/// on Messenger (`psids`).
pub fn next_op(e: &mut impl Entropy, st: &State, psids: &[String], cfg: &GenConfig) -> Op {
    next_op_among(e, st, psids, &[], cfg)
}

/// Chooses the next operation for a page in state `st` with the users of
/// `cs`, on both surfaces.
pub fn next_op_for(e: &mut impl Entropy, st: &State, cs: &CaseSetup, cfg: &GenConfig) -> Op {
    next_op_among(e, st, &cs.psids, &cs.igsids, cfg)
}

fn next_op_among(
    e: &mut impl Entropy,
    st: &State,
    psids: &[String],
    igsids: &[String],
    cfg: &GenConfig,
) -> Op {
    let g = Gen {
        st,
        psids,
        igsids,
        cfg,
    };
    let table = cfg.weights.table();
    let weights: Vec<u32> = table.iter().map(|(_, w)| *w).collect();
    let kind = match e.weighted(&weights) {
        Some(i) => table[i].0,
        None => Kind::UserMessage,
    };
    // Nothing but user messages and ad entries can happen before the page
    // knows a PSID; start most cases with one.
    if st.threads.is_empty()
        && !matches!(kind, Kind::Malformed | Kind::Invalid | Kind::Roles)
        && e.chance(85)
    {
        return g.user_message(e);
    }
    match kind {
        Kind::UserMessage => g.user_message(e),
        Kind::Postback => g.postback(e),
        Kind::MenuPick => g.menu_pick(e),
        Kind::AdEntry => g.ad_entry(e),
        Kind::Send => g.send(e),
        Kind::Pass => g.pass(e),
        Kind::PassMetadata => g.pass_metadata(e),
        Kind::Take => g.take(e),
        Kind::Request => g.request(e),
        Kind::Release => g.release(e),
        Kind::Extend => g.extend(e),
        Kind::ThreadOwner => g.thread_owner(e),
        Kind::SecondaryReceivers => {
            let app = g.any_app(e);
            let platform = g.platform_param(e, 30);
            g.graph(e, app, Call::SecondaryReceivers { platform })
        }
        Kind::PageMenu => g.page_menu(e),
        Kind::UserMenu => g.user_menu(e),
        Kind::Inbox => g.inbox(e),
        Kind::Clock => g.clock(e),
        Kind::Roles => g.roles(e),
        Kind::Invalid => g.invalid(e),
        Kind::Malformed => g.malformed(e),
    }
}

struct Gen<'a> {
    st: &'a State,
    psids: &'a [String],
    /// Users on Instagram (empty on Messenger-only pages).
    igsids: &'a [String],
    cfg: &'a GenConfig,
}

const TEXTS: &[&str] = &["hi", "help please", "order 42", "thanks", "é ünïcode ✓"];
const METADATA: &[&str] = &["m", "", "handing over", "{\"ticket\":7}"];

/// A string of exactly `n` code points (`n >= 8`) whose bytes, UTF-16 units
/// and grapheme clusters all number differently from `n`: mostly ASCII (so
/// requests stay small), with two- and four-byte characters and combining
/// accents. Whoever counts anything but code points gets the boundary
/// wrong.
pub fn code_points(n: usize) -> String {
    const TAIL: &str = "e\u{301}é😀u\u{308}✓"; // 8 code points, 5 graphemes
    let mut s = "m".repeat(n - TAIL.chars().count());
    s.push_str(TAIL);
    debug_assert_eq!(s.chars().count(), n);
    s
}

impl Gen<'_> {
    fn n_apps(&self) -> u32 {
        self.st.setup.apps.len() as u32
    }

    fn any_app(&self, e: &mut impl Entropy) -> AppIx {
        AppIx(e.below(self.n_apps()) as u8)
    }

    /// A PSID (or IGSID) the page knows if any, else any of the case's
    /// PSIDs.
    fn known_psid(&self, e: &mut impl Entropy) -> String {
        let known: Vec<&String> = self
            .psids
            .iter()
            .chain(self.igsids)
            .filter(|p| self.st.threads.contains_key(*p))
            .collect();
        if known.is_empty() {
            e.pick(self.psids).clone()
        } else {
            (*e.pick(&known)).clone()
        }
    }

    /// Whether this case has Instagram users at all; every Instagram choice
    /// below is drawn only then, so Messenger-only cases draw as before.
    fn instagram(&self) -> bool {
        !self.igsids.is_empty()
    }

    /// Any user of the case with the surface it lives on.
    fn any_user(&self, e: &mut impl Entropy) -> (String, Surface) {
        if self.instagram() && e.chance(50) {
            (e.pick(self.igsids).clone(), Surface::Instagram)
        } else {
            (e.pick(self.psids).clone(), Surface::Messenger)
        }
    }

    /// The `platform` a control call about `psid` names: its thread's
    /// surface (for a new user, `surface`, which the call decides), and for
    /// a known user now and then the other one, which the target must
    /// refuse (IG-4).
    fn platform_for(&self, e: &mut impl Entropy, psid: &str, surface: Surface) -> Surface {
        match self.st.surface(psid) {
            Some(s) if self.instagram() && e.chance(3) => s.other(),
            Some(s) => s,
            None => surface,
        }
    }

    /// The surface of a known thread (Messenger for an unknown PSID).
    fn surface_of(&self, psid: &str) -> Surface {
        self.st.surface(psid).unwrap_or_default()
    }

    /// A `platform` parameter for `messenger_profile` / `secondary_receivers`
    /// on pages with Instagram: absent most of the time, else a valid value
    /// in some case, rarely an invalid one (IG-5, IG-6).
    fn platform_param(&self, e: &mut impl Entropy, given_percent: u32) -> Option<String> {
        if !self.instagram() || !e.chance(given_percent) {
            return None;
        }
        Some(
            e.pick(&[
                "instagram",
                "instagram",
                "INSTAGRAM",
                "Instagram",
                "messenger",
                "MESSENGER",
                "whatsapp",
            ])
            .to_string(),
        )
    }

    /// The owner app of a thread, if an app owns it.
    fn owner_app(&self, psid: &str) -> Option<AppIx> {
        match self.st.owner(psid) {
            Some(Party::App(a)) => Some(a),
            _ => None,
        }
    }

    /// Mostly the app that owns the thread (so the call is meaningful),
    /// sometimes another one (so refusals are exercised).
    fn owner_or_other(&self, e: &mut impl Entropy, psid: &str, owner_percent: u32) -> AppIx {
        match self.owner_app(psid) {
            Some(a) if e.chance(owner_percent) => a,
            _ => self.any_app(e),
        }
    }

    fn non_owner(&self, e: &mut impl Entropy, psid: &str) -> AppIx {
        let owner = self.owner_app(psid);
        let others: Vec<AppIx> = self
            .st
            .setup
            .app_ixs()
            .filter(|a| Some(*a) != owner)
            .collect();
        if others.is_empty() {
            self.any_app(e)
        } else {
            *e.pick(&others)
        }
    }

    /// Mostly short metadata (`""` included); now and then exactly at the
    /// limit or one code point over it (INPUT-1).
    fn metadata(&self, e: &mut impl Entropy) -> Option<String> {
        if !e.chance(60) {
            return None;
        }
        let refusing = self.cfg.weights.invalid > 0;
        Some(match e.below(16) {
            0 => code_points(MAX_METADATA_CHARS),
            1 if refusing => code_points(MAX_METADATA_CHARS + 1),
            _ => e.pick(METADATA).to_string(),
        })
    }

    fn text(&self, e: &mut impl Entropy) -> String {
        e.pick(TEXTS).to_string()
    }

    /// A text message's text: mostly ordinary, sometimes on either side of
    /// the 1 ..= 2000 code point range.
    fn message_text(&self, e: &mut impl Entropy) -> String {
        if !e.chance(12) {
            return self.text(e);
        }
        let refusing = self.cfg.weights.invalid > 0;
        match e.below(4) {
            0 => "✓".to_string(),
            1 => code_points(MAX_TEXT_CHARS),
            2 if refusing => code_points(MAX_TEXT_CHARS + 1),
            3 if refusing => String::new(),
            _ => self.text(e),
        }
    }

    /// How `call` goes on the wire: plain, or (`transport_percent` of the
    /// time) another encoding, token place, node or version prefix, each
    /// accepted spelling of the precise points now and then.
    fn transport(&self, e: &mut impl Entropy, call: &Call) -> Transport {
        let pct = self.cfg.transport_percent;
        let mut t = Transport::default();
        if e.chance(pct) {
            t.encoding = *e.pick(&[Encoding::Json, Encoding::Form, Encoding::Query]);
            t.token_at = *e.pick(&[
                TokenAt::Query,
                TokenAt::Body,
                TokenAt::Bearer,
                TokenAt::OAuth,
            ]);
            t.page_node = e.chance(50);
            t.unversioned = e.chance(30);
        }
        // The spellings, drawn apart from the encoding so that the JSON-only
        // ones come with the (default) JSON body most of the time.
        if e.chance(pct) {
            t.decoy_token = e.chance(25);
            t.proof_upper = e.chance(25);
            t.decoy_param = e.chance(25);
            t.extra_param = e.chance(25);
            t.recipient_as_text = e.chance(25);
            t.ids_as_integers = e.chance(25);
            t.explicit_nulls = e.chance(25);
        }
        // Extensions are few: give their spellings of `duration` a chance
        // of their own.
        if matches!(call, Call::Extend { .. }) && pct > 0 && e.chance(15) {
            t.duration_as = *e.pick(&[DurationAs::Text, DurationAs::Float]);
        }
        t
    }

    /// A well-formed call by `app`, with the proof its configuration needs.
    fn graph(&self, e: &mut impl Entropy, app: AppIx, call: Call) -> Op {
        // Now and then a proof the app does not need (it is ignored).
        let proof = match self.st.setup.proof_for(app) {
            Proof::Absent if e.chance(10) => Proof::Right,
            p => p,
        };
        let transport = self.transport(e, &call);
        Op::Graph(GraphOp {
            caller: Caller::App(app),
            proof,
            call,
            transport,
        })
    }

    /// A PSID the page has never heard from (for calls that must fail on it).
    fn unknown_psid(&self, e: &mut impl Entropy) -> String {
        format!("9{}", 100 + e.below(900))
    }

    /// A well-formed call's kind, with `percent` chance, putting out a value
    /// just out of range instead (when refused calls are on at all).
    fn out_of_range(&self, e: &mut impl Entropy, percent: u32) -> bool {
        self.cfg.weights.invalid > 0 && e.chance(percent)
    }

    /// A well-formed call's kind, with `percent` chance, putting out one of
    /// its edge's decoding defects instead (when malformed calls are on).
    fn defective(&self, e: &mut impl Entropy, percent: u32) -> bool {
        self.cfg.weights.malformed > 0 && e.chance(percent)
    }

    /// A malformed call on `edge` showing one of `defects`.
    fn malformed_on(&self, e: &mut impl Entropy, edge: Edge, defects: &[Defect]) -> Op {
        let defect = *e.pick(defects);
        let app = self.any_app(e);
        self.graph(e, app, Call::Malformed { edge, defect })
    }

    /// The PSID for a user event: sometimes one whose thread is in the
    /// `done` folder (INBOX-4: a new message moves it back to `main`).
    fn psid_for_user(&self, e: &mut impl Entropy) -> (String, Surface) {
        let done: Vec<(&String, Surface)> = self
            .st
            .threads
            .iter()
            .filter(|(_, t)| t.folder == Folder::Done)
            .map(|(p, t)| (p, t.surface))
            .collect();
        if !done.is_empty() && e.chance(25) {
            let (p, s) = *e.pick(&done);
            (p.clone(), s)
        } else {
            self.any_user(e)
        }
    }

    fn user_message(&self, e: &mut impl Entropy) -> Op {
        let (psid, surface) = self.psid_for_user(e);
        let quick_reply = e.chance(20).then(|| format!("qr{}", e.below(3)));
        let text = self.text(e);
        let platform = self.platform_for(e, &psid, surface);
        Op::User(UserEvent::Message {
            psid,
            text,
            quick_reply,
            platform,
        })
    }

    fn ad_entry(&self, e: &mut impl Entropy) -> Op {
        let (psid, surface) = self.psid_for_user(e);
        let app = AppRef::App(self.any_app(e));
        let ad_id = format!("ad{}", e.below(3));
        let text = self.text(e);
        let platform = self.platform_for(e, &psid, surface);
        Op::User(UserEvent::AdEntry {
            psid,
            app,
            ad_id,
            text,
            platform,
        })
    }

    fn postback(&self, e: &mut impl Entropy) -> Op {
        // Messages that carry buttons, on any known thread.
        let mut targets = Vec::new();
        for (psid, t) in &self.st.threads {
            for (i, m) in t.transcript.iter().enumerate() {
                if !m.buttons.is_empty() {
                    targets.push((psid, i, &m.buttons));
                }
            }
        }
        if targets.is_empty() || e.chance(3) {
            // Nothing to tap: a button message has to be sent first.
            return self.send_buttons(e);
        }
        let (psid, i, buttons) = *e.pick(&targets);
        let b = e.pick(buttons);
        let title = e.chance(30).then(|| "tapped".to_string());
        let platform = self.platform_for(e, psid, Surface::Messenger);
        let (psid, message, payload) = match e.below(12) {
            // Control-API errors (control-api.md): a PSID the page never
            // heard from, a message id the transcript does not hold, a
            // payload the message has no button for.
            0 => (self.unknown_psid(e), MsgRef::Nth(0), b.payload.clone()),
            1 => (
                psid.clone(),
                MsgRef::Unknown("m_unknown".into()),
                b.payload.clone(),
            ),
            2 => (psid.clone(), MsgRef::Nth(i as u32), "NO_SUCH_BUTTON".into()),
            _ => (psid.clone(), MsgRef::Nth(i as u32), b.payload.clone()),
        };
        Op::User(UserEvent::Postback {
            psid,
            message,
            payload,
            title,
            platform,
        })
    }

    fn menu_pick(&self, e: &mut impl Entropy) -> Op {
        let psid = if e.chance(6) {
            // A control-API error: the page never heard from this PSID.
            self.unknown_psid(e)
        } else {
            self.known_psid(e)
        };
        let menu = match self.st.thread(&psid) {
            Some(_) => self.st.menu_in_force(&psid),
            None => self.st.page_menu.as_ref(),
        };
        let title = e.chance(25).then(|| "picked".to_string());
        match menu {
            // The payload is not checked against the menu: one it does not
            // have is accepted (and titled "" when no title is given).
            Some(m) if !m.items.is_empty() && !e.chance(20) => {
                let item = e.pick(&m.items);
                let platform = self.platform_for(e, &psid, Surface::Messenger);
                Op::User(UserEvent::Menu {
                    psid,
                    payload: item.payload.clone(),
                    title,
                    platform,
                })
            }
            Some(_) => {
                let platform = self.platform_for(e, &psid, Surface::Messenger);
                Op::User(UserEvent::Menu {
                    psid,
                    payload: "MENU_X".into(),
                    title,
                    platform,
                })
            }
            // No menu in force is a control-API error; mostly set one first.
            None if self.st.threads.contains_key(&psid) && !e.chance(10) => {
                if self.surface_of(&psid).is_instagram() {
                    self.page_menu_on(e, true)
                } else {
                    self.page_menu(e)
                }
            }
            None => {
                let platform = self.platform_for(e, &psid, Surface::Messenger);
                Op::User(UserEvent::Menu {
                    psid,
                    payload: "MENU_X".into(),
                    title,
                    platform,
                })
            }
        }
    }

    fn choices(&self, e: &mut impl Entropy, prefix: &str) -> Vec<Choice> {
        (0..e.range(1, 3))
            .map(|i| Choice {
                title: format!("{prefix} {i}"),
                payload: format!("{prefix}_{i}"),
            })
            .collect()
    }

    fn send_buttons(&self, e: &mut impl Entropy) -> Op {
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 85);
        let prefix = format!("B{}", app.0);
        let message = Message::Buttons {
            text: "choose".into(),
            buttons: self.choices(e, &prefix),
        };
        self.graph(
            e,
            app,
            Call::Send {
                psid,
                messaging_type: MessagingType::Response,
                tag: None,
                message,
            },
        )
    }

    fn send(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 5) {
            use Defect as D;
            let defects = [
                D::MessagingTypeMissing,
                D::MessagingTypeUnknown,
                D::MessageMissing,
                D::MessageMalformed,
                D::TextAndAttachment,
                D::RecipientBare,
            ];
            return self.malformed_on(e, Edge::Messages, &defects);
        }
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 60);
        let message = match e.weighted(&[6, 2, 2]) {
            Some(0) => Message::Text {
                text: self.message_text(e),
                // When present, quick replies must not be empty (INPUT-1).
                quick_replies: e.chance(15).then(|| {
                    if self.out_of_range(e, 12) {
                        Vec::new()
                    } else {
                        self.choices(e, "Q")
                    }
                }),
            },
            Some(1) => {
                let prefix = format!("B{}", app.0);
                Message::Buttons {
                    text: "choose".into(),
                    buttons: self.choices(e, &prefix),
                }
            }
            // Surveys are refused on Instagram (IG-5): mostly send text there.
            _ if self.surface_of(&psid).is_instagram() && e.chance(70) => Message::Text {
                text: self.text(e),
                quick_replies: None,
            },
            _ => Message::Survey {
                title: e.chance(70).then(|| "How did we do?".to_string()),
            },
        };
        let human_agent = || Some(HUMAN_AGENT_TAG.to_string());
        // A survey with the tag by an approved app is delivered at once
        // even to a thread another owns (HA-1 over SURVEY-1): tag surveys
        // more often.
        let survey = matches!(message, Message::Survey { .. });
        let untagged = u32::from(self.cfg.weights.invalid > 0);
        let tagged = if survey { 16 } else { 8 };
        let (messaging_type, tag) = match e.weighted(&[20, 4, tagged, 2, 1, untagged]) {
            Some(0) => (MessagingType::Response, None),
            Some(1) => (MessagingType::Update, None),
            Some(2) => (MessagingType::MessageTag, human_agent()),
            Some(3) => (
                MessagingType::MessageTag,
                Some("ACCOUNT_UPDATE".to_string()),
            ),
            // The tag counts only with MESSAGE_TAG: an ordinary send.
            Some(4) => (
                *e.pick(&[MessagingType::Response, MessagingType::Update]),
                human_agent(),
            ),
            // MESSAGE_TAG needs a tag (INPUT-1).
            _ => (MessagingType::MessageTag, None),
        };
        self.graph(
            e,
            app,
            Call::Send {
                psid,
                messaging_type,
                tag,
                message,
            },
        )
    }

    fn pass(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 5) {
            use Defect as D;
            let defects = [
                D::IdMalformed,
                D::IdBoolean,
                D::IdFloat,
                D::IdObject,
                D::MetadataNotString,
            ];
            return self.malformed_on(e, Edge::PassThreadControl, &defects);
        }
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 70);
        let target = match e.weighted(&[6, 2, 2, 1]) {
            Some(0) => Some(AppRef::App(self.non_owner(e, &psid))),
            Some(1) => Some(self.inbox_target(e, &psid)),
            Some(2) => None,
            _ => Some(AppRef::App(app)),
        };
        let metadata = self.metadata(e);
        self.graph(
            e,
            app,
            Call::Pass {
                psid,
                target,
                metadata,
            },
        )
    }

    /// Mostly the owner handing context to another app; now and then a
    /// non-owner, an inbox or the caller itself as target, a missing
    /// parameter (PASS-7).
    fn pass_metadata(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 8) {
            use Defect as D;
            let defects = [
                D::TargetMissing,
                D::MetadataMissing,
                D::MetadataNotString,
                D::IdMalformed,
            ];
            return self.malformed_on(e, Edge::PassThreadMetadata, &defects);
        }
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 75);
        let target = match e.weighted(&[8, 1, 1]) {
            Some(0) => AppRef::App(self.non_owner(e, &psid)),
            Some(1) => self.inbox_target(e, &psid),
            _ => AppRef::App(app),
        };
        let metadata = self
            .metadata(e)
            .unwrap_or_else(|| e.pick(METADATA).to_string());
        self.graph(
            e,
            app,
            Call::PassMetadata {
                psid,
                target,
                metadata,
            },
        )
    }

    fn take(&self, e: &mut impl Entropy) -> Op {
        let psid = self.known_psid(e);
        let app = match self.st.primary {
            Some(p) if e.chance(50) => p,
            _ => self.owner_or_other(e, &psid, 15),
        };
        let metadata = self.metadata(e);
        self.graph(e, app, Call::Take { psid, metadata })
    }

    fn request(&self, e: &mut impl Entropy) -> Op {
        let psid = self.known_psid(e);
        let app = if e.chance(85) {
            self.non_owner(e, &psid)
        } else {
            self.any_app(e)
        };
        let metadata = self.metadata(e);
        self.graph(e, app, Call::Request { psid, metadata })
    }

    fn release(&self, e: &mut impl Entropy) -> Op {
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 75);
        self.graph(e, app, Call::Release { psid })
    }

    fn extend(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 12) {
            use Defect as D;
            let defects = [
                D::DurationMissing,
                D::DurationNotInteger,
                D::DurationFloat,
                D::DurationBool,
                D::DurationNull,
            ];
            return self.malformed_on(e, Edge::ExtendThreadControl, &defects);
        }
        let psid = self.known_psid(e);
        let app = self.owner_or_other(e, &psid, 80);
        let duration = if self.out_of_range(e, 10) {
            // Just outside 1 ..= 604 800 (EXP-3).
            *e.pick(&[0, MAX_EXTEND_S + 1])
        } else {
            *e.pick(&[MAX_EXTEND_S, MAX_EXTEND_S - 1, 86_400, 3_600, 1, 172_800])
        };
        self.graph(e, app, Call::Extend { psid, duration })
    }

    fn thread_owner(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 8) {
            // `[1]` is JSON there: a malformed recipient, not a PSID.
            use Defect as D;
            let defects = [
                D::RecipientMalformed,
                D::RecipientMissing,
                D::IdMalformed,
                D::IdBoolean,
                D::IdFloat,
                D::IdObject,
            ];
            return self.malformed_on(e, Edge::ThreadOwner, &defects);
        }
        let psid = self.known_psid(e);
        let app = self.any_app(e);
        self.graph(e, app, Call::ThreadOwner { psid })
    }

    /// The inbox of the thread's surface as a pass target; on pages with
    /// Instagram now and then the other surface's inbox (an unknown target,
    /// IG-2).
    fn inbox_target(&self, e: &mut impl Entropy, psid: &str) -> AppRef {
        let mut surface = self.surface_of(psid);
        if self.instagram() && e.chance(15) {
            surface = surface.other();
        }
        match surface {
            Surface::Messenger => AppRef::PageInbox,
            Surface::Instagram => AppRef::InstagramInbox,
        }
    }

    fn page_menu(&self, e: &mut impl Entropy) -> Op {
        self.page_menu_on(e, false)
    }

    /// A page-level menu call; `instagram` asks for the Instagram menu
    /// (`platform=instagram`), else the platform is drawn.
    fn page_menu_on(&self, e: &mut impl Entropy, instagram: bool) -> Op {
        let app = match self.st.primary {
            Some(p) if e.chance(60) => p,
            _ => self.any_app(e),
        };
        let platform = if instagram {
            Some("instagram".to_string())
        } else {
            self.platform_param(e, 40)
        };
        let call = if e.chance(80) {
            Call::SetPageMenu {
                items: self.choices(e, &format!("P{}", app.0)),
                platform,
            }
        } else {
            Call::DeletePageMenu { platform }
        };
        self.graph(e, app, call)
    }

    fn user_menu(&self, e: &mut impl Entropy) -> Op {
        if self.defective(e, 8) {
            use Defect as D;
            let defects = [
                D::PsidMissing,
                D::IdMalformed,
                D::IdBoolean,
                D::IdFloat,
                D::IdObject,
                D::MenuMalformed,
            ];
            return self.malformed_on(e, Edge::CustomUserSettings, &defects);
        }
        let psid = self.known_psid(e);
        // User-level menus are refused on Instagram (IG-5); mostly set the
        // Instagram page menu instead.
        if self.surface_of(&psid).is_instagram() && e.chance(70) {
            return self.page_menu_on(e, true);
        }
        let app = self.owner_or_other(e, &psid, 60);
        let call = if e.chance(75) {
            Call::SetUserMenu {
                psid,
                items: self.choices(e, &format!("U{}", app.0)),
            }
        } else {
            Call::DeleteUserMenu { psid }
        };
        self.graph(e, app, call)
    }

    fn inbox(&self, e: &mut impl Entropy) -> Op {
        let psid = if e.chance(6) {
            // A control-API error: the page never heard from this PSID.
            self.unknown_psid(e)
        } else {
            self.known_psid(e)
        };
        let action = match e.below(3) {
            0 => InboxAction::MoveToMain,
            1 => InboxAction::Reply {
                text: "an admin here".into(),
            },
            _ => InboxAction::MarkDone,
        };
        let platform = self.platform_for(e, &psid, Surface::Messenger);
        Op::Inbox {
            psid,
            action,
            platform,
        }
    }

    /// Jumps that land just before, exactly on, or just after a deadline,
    /// and some plain ones.
    fn clock(&self, e: &mut impl Entropy) -> Op {
        let now = self.st.now_ms;
        let deadlines: Vec<u64> = self
            .st
            .threads
            .values()
            .filter(|t| t.owner.is_some())
            .map(|t| t.deadline_ms)
            .collect();
        // Threads holding surveys: their lapse delivers them (SURVEY-1).
        let holding: Vec<u64> = self
            .st
            .threads
            .values()
            .filter(|t| t.owner.is_some() && !t.held.is_empty())
            .map(|t| t.deadline_ms)
            .collect();
        let advance_ms = if !holding.is_empty() && e.chance(30) {
            (*e.pick(&holding)).saturating_sub(now)
        } else if !deadlines.is_empty() && e.chance(70) {
            let d = *e.pick(&deadlines);
            let offset: i64 = *e.pick(&[-1, 0, 1, -1000, 1000]);
            (d as i64 - now as i64 + offset).max(0) as u64
        } else {
            *e.pick(&[0, 1_000, 3_600_000, DAY_MS - 1, DAY_MS, 2 * DAY_MS])
        };
        Op::Clock { advance_ms }
    }

    fn roles(&self, e: &mut impl Entropy) -> Op {
        let primary = match e.weighted(&[6, 2, 1]) {
            Some(0) => Some(AppRef::App(self.any_app(e))),
            Some(1) => None,
            _ if self.instagram() && e.chance(50) => Some(AppRef::InstagramInbox),
            _ => Some(AppRef::PageInbox),
        };
        Op::Roles { primary }
    }

    /// Well-formed calls that must be refused for who or what they name.
    fn invalid(&self, e: &mut impl Entropy) -> Op {
        let psid = self.known_psid(e);
        let app = self.any_app(e);
        let call = Call::Take {
            psid: psid.clone(),
            metadata: None,
        };
        match e.below(7) {
            0 => Op::Graph(GraphOp {
                caller: Caller::Missing,
                proof: Proof::Absent,
                transport: self.transport(e, &call),
                call,
            }),
            1 => Op::Graph(GraphOp {
                caller: Caller::Empty,
                proof: Proof::Absent,
                call,
                transport: Transport::default(),
            }),
            2 => Op::Graph(GraphOp {
                caller: Caller::Unknown,
                proof: Proof::Absent,
                transport: self.transport(e, &call),
                call,
            }),
            3 => {
                // Mostly an app that requires a proof (AUTH-3), sometimes
                // one that does not (the proof is then ignored).
                let requiring: Vec<AppIx> = self
                    .st
                    .setup
                    .app_ixs()
                    .filter(|a| self.st.setup.app(*a).require_appsecret_proof)
                    .collect();
                let app = if !requiring.is_empty() && e.chance(70) {
                    *e.pick(&requiring)
                } else {
                    app
                };
                let proof = *e.pick(&[Proof::Absent, Proof::Wrong]);
                Op::Graph(GraphOp {
                    caller: Caller::App(app),
                    proof,
                    transport: self.transport(e, &call),
                    call,
                })
            }
            4 => {
                let call = Call::Release {
                    psid: self.unknown_psid(e),
                };
                self.graph(e, app, call)
            }
            5 => {
                let target = Some(AppRef::Unknown("424242".into()));
                self.graph(
                    e,
                    app,
                    Call::Pass {
                        psid,
                        target,
                        metadata: None,
                    },
                )
            }
            _ => {
                let duration = *e.pick(&[0, -5, MAX_EXTEND_S + 1, i64::from(u32::MAX)]);
                self.graph(e, app, Call::Extend { psid, duration })
            }
        }
    }

    fn malformed(&self, e: &mut impl Entropy) -> Op {
        let (defect, edges) = *e.pick(DEFECTS);
        let edge = *e.pick(edges);
        let app = self.any_app(e);
        let mut op = self.graph(e, app, Call::Malformed { edge, defect });
        if let Op::Graph(g) = &mut op {
            // Malformed bodies need a body: keep them in JSON or form.
            if g.transport.encoding == Encoding::Query {
                g.transport.encoding = Encoding::Json;
            }
        }
        op
    }
}

const POSTS: &[Edge] = &[
    Edge::Messages,
    Edge::PassThreadControl,
    Edge::TakeThreadControl,
    Edge::RequestThreadControl,
    Edge::ReleaseThreadControl,
    Edge::ExtendThreadControl,
];
const RECIPIENT: &[Edge] = &[
    Edge::Messages,
    Edge::PassThreadControl,
    Edge::TakeThreadControl,
    Edge::RequestThreadControl,
    Edge::ReleaseThreadControl,
    Edge::ExtendThreadControl,
    Edge::ThreadOwner,
];

/// Where ids are: `recipient.id` (messages, take, thread_owner),
/// `target_app_id` (pass), `psid` (custom_user_settings).
const IDS: &[Edge] = &[
    Edge::Messages,
    Edge::PassThreadControl,
    Edge::ThreadOwner,
    Edge::CustomUserSettings,
];

/// Each defect the generator produces, with the edges it makes sense on
/// (an entry may repeat a defect, to give an edge that shows a decided
/// point of its own a fair share).
pub const DEFECTS: &[(Defect, &[Edge])] = &[
    (Defect::BadPath, POSTS),
    (Defect::WrongNode, POSTS),
    (Defect::UnknownEdge, &[Edge::Messages]),
    (
        Defect::WrongMethod,
        &[Edge::Messages, Edge::ThreadOwner, Edge::TakeThreadControl],
    ),
    (Defect::BodyNotJson, POSTS),
    (Defect::RecipientMissing, RECIPIENT),
    (Defect::RecipientMalformed, RECIPIENT),
    // `thread_owner?recipient=[1]` is a decided point of its own.
    (Defect::RecipientMalformed, &[Edge::ThreadOwner]),
    (Defect::RecipientBare, POSTS),
    (Defect::IdMalformed, IDS),
    (Defect::IdBoolean, IDS),
    (Defect::IdFloat, IDS),
    (Defect::IdObject, IDS),
    (Defect::MessagingTypeMissing, &[Edge::Messages]),
    (Defect::MessagingTypeUnknown, &[Edge::Messages]),
    (Defect::MessageMissing, &[Edge::Messages]),
    (Defect::MessageMalformed, &[Edge::Messages]),
    (Defect::TextAndAttachment, &[Edge::Messages]),
    (
        Defect::MetadataNotString,
        &[
            Edge::PassThreadControl,
            Edge::TakeThreadControl,
            Edge::RequestThreadControl,
            Edge::PassThreadMetadata,
        ],
    ),
    (Defect::TargetMissing, &[Edge::PassThreadMetadata]),
    (Defect::MetadataMissing, &[Edge::PassThreadMetadata]),
    (Defect::DurationMissing, &[Edge::ExtendThreadControl]),
    (Defect::DurationNotInteger, &[Edge::ExtendThreadControl]),
    (Defect::DurationFloat, &[Edge::ExtendThreadControl]),
    (Defect::DurationBool, &[Edge::ExtendThreadControl]),
    (Defect::DurationNull, &[Edge::ExtendThreadControl]),
    (Defect::PsidMissing, &[Edge::CustomUserSettings]),
    (
        Defect::MenuMalformed,
        &[Edge::MessengerProfile, Edge::CustomUserSettings],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::entropy::SplitMix64;
    use crate::model::{Rule, apply};

    #[test]
    fn generated_cases_are_reproducible() {
        let a = case(&mut SplitMix64::new(42), &GenConfig::default(), "p1", 40);
        let b = case(&mut SplitMix64::new(42), &GenConfig::default(), "p1", 40);
        assert_eq!(a, b);
        let c = case(&mut SplitMix64::new(43), &GenConfig::default(), "p1", 40);
        assert_ne!(a, c);
    }

    #[test]
    fn most_generated_steps_succeed() {
        // The point of a state-aware generator: the bulk of the steps are
        // accepted, so cases go deep instead of bouncing off refusals.
        let mut ok = 0;
        let mut total = 0;
        for seed in 0..200 {
            let (cs, ops) = case(&mut SplitMix64::new(seed), &GenConfig::default(), "p1", 40);
            let mut st = State::new(cs.setup);
            for op in &ops {
                total += 1;
                if !apply(&mut st, op).is_refusal() {
                    ok += 1;
                }
            }
        }
        let share = ok as f64 / total as f64;
        assert!(
            share > 0.55,
            "only {:.0}% of generated steps succeed",
            share * 100.0
        );
    }

    #[test]
    fn every_defect_is_generated_on_edges_that_show_it() {
        // `DEFECTS` stays in step with `Defect::ALL` and the renderer.
        for d in Defect::ALL {
            let listed = DEFECTS.iter().any(|(x, _)| x == d);
            assert_eq!(listed, *d != Defect::Other, "{d:?}");
        }
        for (d, edges) in DEFECTS {
            for e in *edges {
                assert!(crate::wire::defect_applies(*e, *d), "{d:?} on {e:?}");
            }
        }
    }

    #[test]
    fn boundary_strings_count_code_points_not_bytes() {
        for n in [MAX_METADATA_CHARS, MAX_METADATA_CHARS + 1, MAX_TEXT_CHARS] {
            let s = code_points(n);
            assert_eq!(s.chars().count(), n);
            assert!(s.len() > n, "bytes");
            assert!(s.encode_utf16().count() > n, "UTF-16 units");
            // Combining accents: fewer user-perceived characters.
            assert!(s.contains('\u{301}') && s.contains('\u{308}'));
        }
    }

    #[test]
    fn without_invalid_and_malformed_kinds_no_refused_input_is_drawn() {
        // The boundary values and defects drawn by the well-formed kinds
        // follow the `invalid` and `malformed` weights.
        let mut cfg = GenConfig::default();
        cfg.weights.invalid = 0;
        cfg.weights.malformed = 0;
        for seed in 0..300 {
            let (_, ops) = case(&mut SplitMix64::new(seed), &cfg, "p1", 40);
            for op in &ops {
                let Op::Graph(g) = op else { continue };
                let bad = match &g.call {
                    Call::Malformed { .. } => true,
                    Call::Extend { duration, .. } => !(1..=MAX_EXTEND_S).contains(duration),
                    Call::Pass { metadata, .. }
                    | Call::Take { metadata, .. }
                    | Call::Request { metadata, .. } => metadata
                        .as_ref()
                        .is_some_and(|m| m.chars().count() > MAX_METADATA_CHARS),
                    Call::PassMetadata { metadata, .. } => {
                        metadata.chars().count() > MAX_METADATA_CHARS
                    }
                    Call::Send {
                        messaging_type,
                        tag,
                        message,
                        ..
                    } => {
                        (*messaging_type == MessagingType::MessageTag && tag.is_none())
                            || matches!(message, Message::Text { text, quick_replies }
                                if text.is_empty()
                                    || text.chars().count() > MAX_TEXT_CHARS
                                    || quick_replies.as_ref().is_some_and(Vec::is_empty))
                    }
                    _ => false,
                };
                assert!(!bad, "seed {seed}: {op}");
            }
        }
    }

    #[test]
    fn instagram_cases_cover_every_ig_rule_and_the_cross_surface_mistakes() {
        let mut rules = crate::model::RuleSet::EMPTY;
        let (mut pages, mut mistakes) = (0, [false; 5]);
        for seed in 0..300 {
            let (cs, ops) = case(&mut SplitMix64::new(seed), &GenConfig::default(), "p1", 40);
            assert!(!cs.psids.is_empty());
            assert!(cs.psids.iter().all(|p| !cs.igsids.contains(p)), "{cs:?}");
            assert_eq!(cs.setup.has_instagram(), !cs.igsids.is_empty());
            pages += cs.setup.has_instagram() as u32;
            let mut st = State::new(cs.setup);
            for op in &ops {
                let surface = op.psid().and_then(|p| st.surface(p));
                let ig = surface == Some(Surface::Instagram);
                match op {
                    Op::Graph(g) => match &g.call {
                        Call::Pass {
                            target: Some(AppRef::PageInbox),
                            ..
                        } if ig => mistakes[0] = true,
                        Call::Pass {
                            target: Some(AppRef::InstagramInbox),
                            ..
                        } if !ig => mistakes[1] = true,
                        Call::Send {
                            message: Message::Survey { .. },
                            ..
                        }
                        | Call::SetUserMenu { .. }
                            if ig =>
                        {
                            mistakes[2] = true
                        }
                        Call::SecondaryReceivers { platform: Some(p) }
                            if Surface::parse_platform(p).is_none() =>
                        {
                            mistakes[3] = true
                        }
                        _ => {}
                    },
                    Op::User(_) | Op::Inbox { .. }
                        if surface.is_some_and(|s| Some(s) != op.platform()) =>
                    {
                        mistakes[4] = true
                    }
                    _ => {}
                }
                rules = rules.union(apply(&mut st, op).rules);
            }
        }
        assert!(
            (100..=200).contains(&pages),
            "{pages} of 300 pages with Instagram"
        );
        for r in [
            Rule::Ig1,
            Rule::Ig2,
            Rule::Ig3,
            Rule::Ig4,
            Rule::Ig5,
            Rule::Ig6,
        ] {
            assert!(rules.contains(r), "{r} never exercised");
        }
        assert_eq!(mistakes, [true; 5], "cross-surface mistakes generated");
    }

    #[test]
    fn messenger_only_cases_name_no_instagram_at_all() {
        let cfg = GenConfig::default().messenger_only();
        for seed in 0..200 {
            let (cs, ops) = case(&mut SplitMix64::new(seed), &cfg, "p1", 40);
            assert!(cs.igsids.is_empty() && !cs.setup.has_instagram());
            let json = serde_json::to_string(&ops).unwrap();
            assert!(!json.contains("platform"), "{json}");
            assert!(!json.contains("instagram"), "{json}");
        }
    }

    #[test]
    fn restricting_families_turns_kinds_off() {
        let mut w = Weights::default();
        w.restrict(&|f| f == Family::Take);
        assert!(w.take > 0);
        assert_eq!((w.pass, w.inbox, w.malformed), (0, 0, 0));
        assert!(w.user_message > 0);
    }
}
