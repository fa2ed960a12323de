//! The catalogue of decided points: every form that `wire.md` ("Precise
//! points", "Other decided points") and `control-api.md` ("Decided
//! details") pin down, as one [`Point`] each, with a recognizer that tells
//! whether a generated step shows it.
//!
//! An implementation that breaks one input check survives a run that never
//! sends the input. So each listed form, on both sides of each boundary
//! (1000 and 1001 code points of `metadata`, 604 800 and 604 801 seconds,
//! each wrong type named), must come out of the generator in a default run;
//! `tests/decided_points.rs` has one test per point that fails when the
//! generator stops producing it.
//!
//! A recognizer looks at one step: the model's state before and after, the
//! operation, the model's outcome, and, for a Graph call, the HTTP request
//! the harness sends for it. Where a form is a spelling (a duration as
//! text, an id as a JSON integer, a decoy in the query) the recognizer
//! reads the request itself, not the operation's [`Transport`] flags, so a
//! renderer that stopped writing the spelling would be caught too.
//!
//! Checked elsewhere: the forms that are control-API plumbing rather than
//! operations are for the driver and the server tests, not the generator:
//! an integer `page_id`, a missing or malformed `page_id`, an unknown
//! control route or method, the conformance key, a page never reset (400 to
//! everything but `reset`, `flush` answering `{"delivered":0}`), a refused
//! `reset` creating nothing, a page reusing its own tokens at its next
//! reset, `transcript` of an unknown PSID (`{"data":[]}`), how `flush`
//! counts and `reset` drops queued deliveries, lapses applied at the start
//! of any call, a negative `advance_ms`, and message ids unique across
//! pages.
//!
//! [`Transport`]: crate::model::Transport

use super::ops::CaseSetup;
use crate::model::{
    Answer, AppIx, AppRef, Call, Caller, Channel, DAY_MS, Defect, Edge, EventKind, Folder,
    GraphError, GraphOp, HUMAN_AGENT_TAG, MAX_EXTEND_S, Message, MessagingType, MsgRef, Op,
    Outcome, Party, Proof, Rule, Stage, State, UserEvent, apply,
};
use crate::wire::{AppCredentials, GRAPH_VERSION, HttpRequest, render_graph, split_target};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $name:ident => [$($rule:ident),+]; )*) => {
        /// One decided point: a form the spec pins down, which a default
        /// run must produce. The doc line paraphrases the spec line; the
        /// rules are those it concerns ([`Point::rules`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Point { $( $(#[$doc])* $name, )* }

        impl Point {
            /// Every point, in catalogue order.
            pub const ALL: &'static [Point] = &[ $( Point::$name, )* ];

            /// The rule IDs the point concerns (the first is the one its
            /// test is named after).
            pub fn rules(self) -> &'static [Rule] {
                match self { $( Point::$name => &[ $( Rule::$rule, )+ ], )* }
            }

            /// The variant's name.
            pub fn name(self) -> &'static str {
                match self { $( Point::$name => stringify!($name), )* }
            }
        }
    };
}

catalogue! {
    // --- wire.md, precise point 1: the path.
    /// `/{version}/{node}/{edge}` with a version prefix is accepted.
    PathVersioned => [Input1];
    /// The version prefix is optional: `/{node}/{edge}` is accepted.
    PathUnversioned => [Input1];
    /// A path that is not `/{version}/{node}/{edge}` gets 400/100, before the token.
    PathMalformed => [Input1];

    // --- 2: the token.
    /// The token as the `access_token` query parameter.
    TokenInQuery => [Auth1];
    /// The token as the `access_token` body parameter.
    TokenInBody => [Auth1];
    /// The token in `Authorization: Bearer …`.
    TokenBearer => [Auth1];
    /// The token in `Authorization: OAuth …`.
    TokenOAuth => [Auth1];
    /// `access_token` in both body and query: the body's wins.
    TokenBodyOverQuery => [Auth1, Auth2];
    /// An `access_token` parameter beside an `Authorization` header: the parameter wins.
    TokenParamOverHeader => [Auth1, Auth2];
    /// No token anywhere: 400/104.
    TokenMissing => [Auth1];
    /// An empty token counts as missing: 400/104.
    TokenEmpty => [Auth1];
    /// A token no page knows: 400/190.
    TokenUnknown => [Auth1];

    // --- 3: node, edge, method.
    /// The node `me` is accepted.
    NodeMe => [Input1];
    /// The page's own id as node is accepted.
    NodePageId => [Input1];
    /// A node other than `me` or the page id: 400/100.
    NodeWrong => [Input1];
    /// An unknown edge: 400/100.
    EdgeUnknown => [Input1];
    /// A method the edge does not take: 400/100.
    MethodWrong => [Input1];

    // --- 4: appsecret_proof.
    /// The right proof from an app that requires one is accepted.
    ProofRequiredRight => [Auth3];
    /// No proof from an app that requires one: 400/100.
    ProofRequiredMissing => [Auth3];
    /// A wrong proof from an app that requires one: 400/100.
    ProofRequiredWrong => [Auth3];
    /// The proof is checked only for apps that require it: a wrong one from another app is ignored.
    ProofNotRequiredWrong => [Auth3];
    /// Proof hex in any case: upper case is accepted.
    ProofUpperCase => [Auth3];

    // --- 5: parameters.
    /// A parameter in both query and body: the body's value counts.
    ParamInQueryAndBody => [Input1];
    /// Extra unknown parameters are ignored.
    ParamUnknownExtra => [Input1];
    /// `recipient` as an object.
    RecipientObject => [Input1];
    /// `recipient` as JSON text of an object, inside a JSON body.
    RecipientJsonTextInJsonBody => [Input1];
    /// `recipient` as JSON text of an object, in a form body or the query.
    RecipientJsonTextInForm => [Input1];
    /// Only `thread_owner` takes a bare PSID: elsewhere it is a malformed recipient (100).
    RecipientBare => [Input1];
    /// `thread_owner?recipient=` takes a bare PSID.
    ThreadOwnerBarePsid => [Input1, Auth4];
    /// `thread_owner?recipient=` also takes JSON text of the recipient object.
    ThreadOwnerRecipientJsonText => [Input1, Auth4];
    /// `thread_owner?recipient=[1]` is JSON, a malformed recipient (100, no subcode), not an unknown PSID.
    ThreadOwnerRecipientBracketOne => [Input1];
    /// `recipient.id` as a JSON integer is accepted.
    RecipientIdAsInteger => [Input1];
    /// `target_app_id` as a JSON integer is accepted.
    TargetAppIdAsInteger => [Input1, Pass1];
    /// `psid` (custom_user_settings) as a JSON integer is accepted.
    PsidParamAsInteger => [Input1, Menu2];
    /// An id `""` is malformed (100).
    IdEmpty => [Input1];
    /// An id that is a boolean is malformed (100).
    IdBoolean => [Input1];
    /// An id that is a float is malformed (100).
    IdFloat => [Input1];
    /// An id that is an object is malformed (100).
    IdObject => [Input1];
    /// A malformed `target_app_id` (100), not an unknown target.
    TargetAppIdMalformed => [Input1, Pass5];
    /// A malformed `psid` of custom_user_settings (100).
    PsidParamMalformed => [Input1, Menu2];
    /// JSON `null` counts as absent (an optional parameter as null).
    NullForAbsentParameter => [Input1];
    /// JSON `null` counts as absent inside `message` too.
    NullInsideMessage => [Input1];
    /// An empty `metadata` string counts as given (echoed as `""`).
    MetadataEmpty => [Input1, Hook3];
    /// `metadata` that is not a string: 400/100.
    MetadataNotString => [Input1];
    /// `metadata` of exactly 1000 code points (more bytes) is accepted.
    MetadataAt1000CodePoints => [Input1, Hook3];
    /// `metadata` of 1001 code points: 400/100.
    MetadataAt1001CodePoints => [Input1];
    /// `duration` as a JSON integer.
    DurationAsNumber => [Exp2];
    /// `duration` as text of an integer (`"3600"`) in a JSON body is accepted.
    DurationAsTextInJson => [Exp2];
    /// `duration` in a form body or the query (always text) is accepted.
    DurationAsTextInForm => [Exp2];
    /// `duration` as an integral float (`3600.0`) is accepted.
    DurationAsFloatInteger => [Exp2];
    /// `duration` with a fraction (`1.5`): 400/100.
    DurationFloat => [Exp3, Input1];
    /// `duration` as text of no number (`"abc"`): 400/100.
    DurationText => [Exp3, Input1];
    /// `duration` of `true`: 400/100.
    DurationTrue => [Exp3, Input1];
    /// `duration` of `null`: 400/100.
    DurationNull => [Exp3, Input1];
    /// No `duration`: 400/100.
    DurationMissing => [Exp3, Input1];
    /// `duration` 1, the lower bound, is accepted.
    DurationAt1 => [Exp2];
    /// `duration` 604 800, the upper bound, is accepted.
    DurationAt604800 => [Exp2];
    /// `duration` 0, below the range: 400/100.
    DurationZero => [Exp3];
    /// `duration` 604 801, above the range: 400/100.
    DurationAt604801 => [Exp3];
    /// `messaging_type: RESPONSE`.
    MessagingTypeResponse => [Ctrl2];
    /// `messaging_type: UPDATE`.
    MessagingTypeUpdate => [Ctrl2];
    /// `messaging_type: MESSAGE_TAG` (with a tag).
    MessagingTypeMessageTag => [Ha1];
    /// No `messaging_type`: 400/100.
    MessagingTypeMissing => [Input1];
    /// A `messaging_type` that is none of the three: 400/100.
    MessagingTypeUnknown => [Input1];
    /// `MESSAGE_TAG` without `tag`: 400/100.
    MessageTagWithoutTag => [Input1];
    /// `message` as text.
    MessageText => [Ctrl2];
    /// `message` as a button template.
    MessageButtons => [Cta1];
    /// `message` as a customer-feedback survey.
    MessageSurvey => [Survey1];
    /// `message` with both text and attachment: 400/100.
    MessageTextAndAttachment => [Input1];
    /// `message` of none of the three shapes: 400/100.
    MessageOfNoShape => [Input1];
    /// No `message`: 400/100.
    MessageMissing => [Input1];
    /// `quick_replies` as a non-empty array is accepted.
    QuickRepliesNonEmpty => [Input1, Hook2];
    /// `quick_replies: []`: 400/100.
    QuickRepliesEmpty => [Input1];
    /// Text of 1 code point, the lower bound, is accepted.
    TextAt1CodePoint => [Input1];
    /// Text of 2000 code points (more bytes), the upper bound, is accepted.
    TextAt2000CodePoints => [Input1];
    /// Text of 2001 code points: 400/100.
    TextAt2001CodePoints => [Input1];
    /// Empty text: 400/100.
    TextEmpty => [Input1];

    // --- 6: the PSID.
    /// A PSID the page never heard from: 400/100/2018001.
    PsidUnknownToPage => [Input1];
    /// A user `message` makes a new PSID known.
    PsidLearnedFromMessage => [Input1, Pri2];
    /// A user `ad_entry` makes a new PSID known.
    PsidLearnedFromAdEntry => [Input1, Ctm1];

    // --- 7: rule checks and their order.
    /// Pass without target and without a primary receiver: 400/100.
    PassWithoutTargetOrPrimary => [Pass4];
    /// ... by a non-owner while another owns: the target is checked first (100, not 10).
    PassWithoutTargetOrPrimaryByNonOwner => [Pass4, Pass3];
    /// Pass to an unknown target: 400/100/2018164.
    PassToUnknownTarget => [Pass5];
    /// ... by a non-owner while another owns: the target is checked first (2018164, not 2018300).
    PassToUnknownTargetByNonOwner => [Pass5, Pass3];
    /// A non-owner passing to itself while another owns: ownership before pass-to-self (10/2018300).
    PassToSelfByNonOwner => [Pass3, Pass6];
    /// The owner passing to itself: 400/100.
    PassToSelfByOwner => [Pass6];
    /// The HUMAN_AGENT tag without the feature by a non-owner: HA-2 (200) before ownership.
    HumanAgentTagWithoutFeatureByNonOwner => [Ha2, Ctrl4];
    /// The HUMAN_AGENT tag with `RESPONSE` or `UPDATE`: an ordinary send.
    HumanAgentTagWithoutMessageTag => [Ha1, Ctrl4];
    /// `MESSAGE_TAG` with another tag: an ordinary send.
    OtherTagWithMessageTag => [Ctrl4];
    /// A survey with the HUMAN_AGENT tag by an approved non-owner is delivered at once (HA-1 over SURVEY-1).
    HumanAgentSurveyByApprovedNonOwner => [Ha1, Survey1];

    // --- wire.md, other decided points.
    /// A send while the Page Inbox owns: 10/2018300.
    SendWhileInboxOwns => [Ctrl4];
    /// A release while the Page Inbox owns: 10/2018300.
    ReleaseWhileInboxOwns => [Rel2];
    /// An extend while the Page Inbox owns: 10/2018300.
    ExtendWhileInboxOwns => [Exp3];
    /// The Page Inbox's control lapses like any owner's.
    InboxControlLapses => [Exp1];
    /// The owner passes to the Page Inbox: no webhook, folder `main`.
    PassToInboxByOwner => [Pass1];
    /// Anyone passes an idle thread to the Page Inbox: no webhook, folder `main`.
    PassToInboxWhileIdle => [Pass2];
    /// The primary takes from the Page Inbox, leaving the folder as it is.
    PrimaryTakesFromInbox => [Take2];
    /// A request granted at once carries its metadata into `pass_thread_control`.
    RequestGrantedWithMetadata => [Req2];
    /// A change of owner after an extension: the deadline is now + 24 h.
    OwnerChangeAfterExtension => [Exp1];
    /// A user message moves a `done` thread back to `main`.
    MessageMovesDoneThreadToMain => [Inbox4];
    /// An ad entry moves a `done` thread back to `main`.
    AdEntryMovesDoneThreadToMain => [Inbox4, Ctm1];
    /// A postback or menu pick is no "new user message": the folder stays `done`.
    PostbackOrMenuLeavesDoneFolder => [Inbox4];
    /// PRI-2 still applies to an idle `done` thread.
    MessageOnIdleDoneThreadGoesToPrimary => [Pri2, Inbox4];
    /// `secondary_receivers` with no primary set: 400/10 for everyone.
    SecondaryReceiversWithoutPrimary => [Pri1];
    /// `secondary_receivers` by the primary: every app but it, never the Page Inbox.
    SecondaryReceiversByPrimary => [Pri1];
    /// `secondary_receivers` by another app: 400/10.
    SecondaryReceiversByNonPrimary => [Pri1];
    /// Setting the primary to null tells every app `["secondary_receiver"]`, in `messaging`.
    RolesUnsetPrimary => [Pri5];
    /// A new primary: `app_roles` to every app, in `messaging`.
    RolesChangePrimary => [Pri5];
    /// `standby` copies of an ad entry keep `referral`.
    AdEntryStandbyKeepsReferral => [Ctm1, Hook1];

    // --- control-api.md, decided details (and the user-event table).
    /// `postback` on a PSID the page never heard from: control-API error.
    PostbackOnUnknownPsid => [Cta1];
    /// `menu` on a PSID the page never heard from: control-API error.
    MenuOnUnknownPsid => [Menu3];
    /// `inbox` on a PSID the page never heard from: control-API error.
    InboxOnUnknownPsid => [Inbox1];
    /// `postback` on an unknown `mid`: control-API error.
    PostbackOnUnknownMid => [Cta1];
    /// `postback` with a payload the message has no button for: control-API error.
    PostbackWithUnknownPayload => [Cta1];
    /// `postback` without `title` takes the button's title.
    PostbackWithoutTitle => [Cta1, Hook2];
    /// `postback` with a `title`.
    PostbackWithTitle => [Cta1];
    /// `menu` with a payload not in the menu: accepted (the payload is not checked).
    MenuPayloadNotInMenu => [Menu3];
    /// `menu` with no menu in force: control-API error.
    MenuWithoutMenuInForce => [Menu3];
    /// `menu` without `title` takes the menu item's title.
    MenuWithoutTitle => [Menu3, Hook2];
    /// `menu` without `title` and a payload not in the menu: title `""`.
    MenuWithoutTitleNotInMenu => [Menu3];
    /// `menu` with a `title`.
    MenuWithTitle => [Menu3];
    /// A survey without title reaches the transcript as `""`.
    SurveyWithoutTitleDelivered => [Survey1];
    /// A button message reaches the transcript with the template's text.
    ButtonsDelivered => [Cta1];
    /// A `clock` call releases held surveys into the transcript.
    ClockReleasesHeldSurveys => [Survey1, Exp1];
    /// One `clock` call lapses several threads at once.
    ClockLapsesSeveralThreads => [Exp1];
}

/// One step of a case, as a recognizer sees it.
pub struct Step<'a> {
    pub before: &'a State,
    pub op: &'a Op,
    pub after: &'a State,
    pub outcome: &'a Outcome,
    /// The HTTP request the harness sends for a Graph call.
    pub request: Option<&'a HttpRequest>,
    wire: Option<Wire>,
}

impl<'a> Step<'a> {
    pub fn new(
        before: &'a State,
        op: &'a Op,
        after: &'a State,
        outcome: &'a Outcome,
        request: Option<&'a HttpRequest>,
    ) -> Step<'a> {
        Step {
            before,
            op,
            after,
            outcome,
            request,
            wire: request.map(Wire::read),
        }
    }

    fn graph(&self) -> Option<&'a GraphOp> {
        match self.op {
            Op::Graph(g) => Some(g),
            _ => None,
        }
    }

    /// The call of a Graph op by one of the page's apps.
    fn by_app(&self) -> Option<(AppIx, &'a Call)> {
        let g = self.graph()?;
        match g.caller {
            Caller::App(a) if a.index() < self.before.setup.apps.len() => Some((a, &g.call)),
            _ => None,
        }
    }

    /// A well-formed call (not a `Malformed` one) and its request.
    fn well_formed(&self) -> Option<(&'a Call, &Wire)> {
        let g = self.graph()?;
        match (&g.call, &self.wire) {
            (Call::Malformed { .. }, _) | (_, None) => None,
            (c, Some(w)) => Some((c, w)),
        }
    }

    fn defect(&self) -> Option<(Edge, Defect)> {
        match self.graph()?.call {
            Call::Malformed { edge, defect } => Some((edge, defect)),
            _ => None,
        }
    }

    /// A malformed call by one of the page's apps with the proof it needs
    /// (so the token and proof checks pass and the defect is what answers).
    fn app_defect(&self, d: Defect) -> bool {
        let Some((a, _)) = self.by_app() else {
            return false;
        };
        let proof_ok = d.stage() < Stage::Params
            || !self.requires_proof(a)
            || self.graph().is_some_and(|g| g.proof == Proof::Right);
        proof_ok && self.defect().is_some_and(|(_, x)| x == d)
    }

    fn answered(&self, e: GraphError) -> bool {
        self.outcome.answer == Answer::Graph(Err(e))
    }

    fn succeeded(&self) -> bool {
        !self.outcome.is_refusal()
    }

    fn owner_before(&self, psid: &str) -> Option<Party> {
        self.before.owner(psid)
    }

    /// Another party than `a` owns the thread before the step.
    fn other_owns(&self, psid: &str, a: AppIx) -> bool {
        self.owner_before(psid).is_some_and(|o| o != Party::App(a))
    }

    fn requires_proof(&self, a: AppIx) -> bool {
        self.before.setup.app(a).require_appsecret_proof
    }

    fn extend_in_range(&self) -> Option<&Wire> {
        match self.well_formed()? {
            (Call::Extend { duration, .. }, w) if (1..=MAX_EXTEND_S).contains(duration) => Some(w),
            _ => None,
        }
    }

    fn user(&self) -> Option<&'a UserEvent> {
        match self.op {
            Op::User(u) => Some(u),
            _ => None,
        }
    }

    fn folder_before(&self, psid: &str) -> Option<Folder> {
        self.before.thread(psid).map(|t| t.folder)
    }

    /// A successful `menu` pick: its payload, title, and whether the menu
    /// in force had that payload.
    fn menu_pick(&self) -> Option<(bool, &'a Option<String>)> {
        let Some(UserEvent::Menu {
            psid,
            payload,
            title,
            ..
        }) = self.user()
        else {
            return None;
        };
        if !self.succeeded() {
            return None;
        }
        let menu = self
            .before
            .thread(psid)
            .and_then(|t| t.user_menu.as_ref())
            .or(self.before.page_menu.as_ref())?;
        Some((menu.items.iter().any(|i| &i.payload == payload), title))
    }

    fn send(
        &self,
    ) -> Option<(
        AppIx,
        &'a str,
        MessagingType,
        &'a Option<String>,
        &'a Message,
    )> {
        match self.by_app()? {
            (
                a,
                Call::Send {
                    psid,
                    messaging_type,
                    tag,
                    message,
                },
            ) => Some((a, psid, *messaging_type, tag, message)),
            _ => None,
        }
    }

    fn text_of_send(&self) -> Option<&'a str> {
        match self.send()? {
            (_, _, _, _, Message::Text { text, .. }) => Some(text),
            _ => None,
        }
    }

    fn metadata(&self) -> Option<&'a str> {
        match self.by_app()?.1 {
            Call::Pass { metadata, .. }
            | Call::Take { metadata, .. }
            | Call::Request { metadata, .. } => metadata.as_deref(),
            _ => None,
        }
    }

    fn pass(&self) -> Option<(AppIx, &'a str, &'a Option<AppRef>)> {
        match self.by_app()? {
            (a, Call::Pass { psid, target, .. }) => Some((a, psid, target)),
            _ => None,
        }
    }

    /// Threads owned before the step and idle after it.
    fn lapsed(&self) -> Vec<Party> {
        self.before
            .threads
            .iter()
            .filter_map(|(psid, t)| {
                let owner = t.owner?;
                self.after.owner(psid).is_none().then_some(owner)
            })
            .collect()
    }
}

/// A rendered request, taken apart for reading.
struct Wire {
    path: String,
    query: Map<String, Value>,
    /// JSON body: its values; form body: text values.
    body: Map<String, Value>,
    json: bool,
    authorization: Option<String>,
}

impl Wire {
    fn read(req: &HttpRequest) -> Wire {
        let (path, query) = split_target(&req.path_and_query);
        let text = |s: &[u8]| -> Map<String, Value> {
            form_urlencoded::parse(s)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        };
        let bytes = req.body.as_deref().unwrap_or_default();
        let json = req
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        let body = if json {
            match serde_json::from_slice(bytes) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            }
        } else {
            text(bytes)
        };
        Wire {
            path: path.to_string(),
            query: text(query.as_bytes()),
            body,
            json,
            authorization: req.header("authorization").map(String::from),
        }
    }

    fn query_text(&self, k: &str) -> Option<&str> {
        self.query.get(k).and_then(Value::as_str)
    }

    /// A parameter, body over query.
    fn param(&self, k: &str) -> Option<&Value> {
        self.body.get(k).or_else(|| self.query.get(k))
    }

    fn json_body(&self, k: &str) -> Option<&Value> {
        if self.json { self.body.get(k) } else { None }
    }

    /// `recipient` as an object, whether sent as one or as JSON text.
    fn recipient_object(&self) -> Option<Map<String, Value>> {
        match self.param("recipient")? {
            Value::Object(o) => Some(o.clone()),
            Value::String(s) => match serde_json::from_str(s) {
                Ok(Value::Object(o)) => Some(o),
                _ => None,
            },
            _ => None,
        }
    }

    fn token_param(&self, in_body: bool) -> Option<&str> {
        let m = if in_body { &self.body } else { &self.query };
        m.get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    }

    fn header_token(&self, scheme: &str) -> bool {
        self.authorization
            .as_deref()
            .and_then(|a| a.strip_prefix(scheme))
            .is_some_and(|t| t.starts_with(' ') && !t.trim().is_empty())
    }

    fn has_header_token(&self) -> bool {
        self.header_token("Bearer") || self.header_token("OAuth")
    }

    fn segment(&self, i: usize) -> Option<&str> {
        self.path.split('/').nth(i)
    }

    fn versioned(&self) -> bool {
        self.path.starts_with(&format!("/{GRAPH_VERSION}/"))
    }

    /// The node segment of a well-formed path.
    fn node(&self) -> Option<&str> {
        self.segment(if self.versioned() { 2 } else { 1 })
    }
}

/// What each edge reads (credentials included): anything else is extra.
fn known_param(edge: Edge, key: &str) -> bool {
    let known: &[&str] = match edge {
        Edge::Messages => &["recipient", "messaging_type", "tag", "message"],
        Edge::PassThreadControl | Edge::PassThreadMetadata => {
            &["recipient", "target_app_id", "metadata"]
        }
        Edge::TakeThreadControl | Edge::RequestThreadControl => &["recipient", "metadata"],
        Edge::ReleaseThreadControl | Edge::ThreadOwner => &["recipient"],
        Edge::ExtendThreadControl => &["recipient", "duration"],
        Edge::SecondaryReceivers => &["fields"],
        Edge::MessengerProfile => &["persistent_menu", "fields"],
        Edge::CustomUserSettings => &["psid", "persistent_menu", "params"],
    };
    known.contains(&key) || key == "access_token" || key == "appsecret_proof"
}

fn is_id_defect(d: Defect) -> bool {
    matches!(
        d,
        Defect::IdMalformed | Defect::IdBoolean | Defect::IdFloat | Defect::IdObject
    )
}

fn upper_hex(s: &str) -> bool {
    s.bytes().any(|b| (b'A'..=b'F').contains(&b)) && !s.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

fn code_points(s: &str, n: usize) -> bool {
    // Multi-byte, so that counting bytes would give another answer.
    s.chars().count() == n && s.len() > n
}

impl Point {
    /// Whether `s` shows this point.
    pub fn shows(self, s: &Step) -> bool {
        use Point as P;
        let g = s.graph();
        let wf = s.well_formed();
        let defect = |d: Defect| s.app_defect(d);
        let not_path = || {
            g.is_some_and(|g| {
                !matches!(&g.call, Call::Malformed { defect, .. } if defect.stage() == Stage::Path)
            })
        };
        let not_route = || {
            g.is_some_and(|g| {
                !matches!(&g.call, Call::Malformed { defect, .. } if defect.stage() <= Stage::Route)
            })
        };
        let caller = g.map(|g| g.caller);
        let app = s.by_app().map(|(a, _)| a);
        let w = s.wire.as_ref();
        match self {
            P::PathVersioned => wf.is_some_and(|(_, w)| w.versioned()),
            P::PathUnversioned => wf.is_some_and(|(_, w)| !w.versioned()),
            P::PathMalformed => s.defect().is_some_and(|(_, d)| d == Defect::BadPath),

            P::TokenInQuery => {
                app.is_some()
                    && w.is_some_and(|w| w.token_param(false).is_some() && w.token_param(true).is_none())
            }
            P::TokenInBody => app.is_some() && w.is_some_and(|w| w.token_param(true).is_some()),
            P::TokenBearer | P::TokenOAuth => {
                let scheme = if self == P::TokenBearer { "Bearer" } else { "OAuth" };
                app.is_some()
                    && w.is_some_and(|w| {
                        w.header_token(scheme)
                            && w.token_param(false).is_none()
                            && w.token_param(true).is_none()
                    })
            }
            P::TokenBodyOverQuery => w.is_some_and(|w| {
                matches!((w.token_param(true), w.token_param(false)), (Some(b), Some(q)) if b != q)
            }),
            P::TokenParamOverHeader => w.is_some_and(|w| {
                (w.token_param(true).is_some() || w.token_param(false).is_some())
                    && w.has_header_token()
            }),
            P::TokenMissing => {
                caller == Some(Caller::Missing)
                    && not_path()
                    && w.is_some_and(|w| {
                        w.param("access_token").is_none() && w.authorization.is_none()
                    })
            }
            P::TokenEmpty => caller == Some(Caller::Empty) && not_path(),
            P::TokenUnknown => caller == Some(Caller::Unknown) && not_path(),

            P::NodeMe => wf.is_some_and(|(_, w)| w.node() == Some("me")),
            P::NodePageId => {
                wf.is_some_and(|(_, w)| w.node() == Some(s.before.setup.page_id.as_str()))
            }
            P::NodeWrong => defect(Defect::WrongNode),
            P::EdgeUnknown => defect(Defect::UnknownEdge),
            P::MethodWrong => defect(Defect::WrongMethod),

            P::ProofRequiredRight
            | P::ProofRequiredMissing
            | P::ProofRequiredWrong
            | P::ProofUpperCase => {
                let Some((a, _)) = s.by_app() else {
                    return false;
                };
                let proof = g.map(|g| g.proof);
                s.requires_proof(a)
                    && not_route()
                    && match self {
                        P::ProofRequiredRight => proof == Some(Proof::Right),
                        P::ProofRequiredMissing => proof == Some(Proof::Absent),
                        P::ProofRequiredWrong => proof == Some(Proof::Wrong),
                        _ => {
                            proof == Some(Proof::Right)
                                && w.and_then(|w| w.param("appsecret_proof"))
                                    .and_then(Value::as_str)
                                    .is_some_and(upper_hex)
                        }
                    }
            }
            P::ProofNotRequiredWrong => s.by_app().is_some_and(|(a, _)| {
                !s.requires_proof(a) && not_route() && g.is_some_and(|g| g.proof == Proof::Wrong)
            }),

            P::ParamInQueryAndBody => wf.is_some_and(|(_, w)| {
                w.body
                    .keys()
                    .any(|k| k != "access_token" && k != "appsecret_proof" && w.query.contains_key(k))
            }),
            P::ParamUnknownExtra => wf.is_some_and(|(c, w)| {
                w.body.keys().chain(w.query.keys()).any(|k| !known_param(c.edge(), k))
            }),
            P::RecipientObject => {
                wf.is_some_and(|(_, w)| matches!(w.json_body("recipient"), Some(Value::Object(_))))
            }
            P::RecipientJsonTextInJsonBody => {
                wf.is_some_and(|(_, w)| matches!(w.json_body("recipient"), Some(Value::String(_))))
            }
            P::RecipientJsonTextInForm => wf.is_some_and(|(c, w)| {
                c.edge() != Edge::ThreadOwner
                    && !w.json
                    && w.param("recipient")
                        .and_then(Value::as_str)
                        .is_some_and(|r| r.starts_with('{'))
            }),
            P::RecipientBare => defect(Defect::RecipientBare),
            P::ThreadOwnerBarePsid | P::ThreadOwnerRecipientJsonText => {
                wf.is_some_and(|(c, w)| {
                    let r = w.query_text("recipient").unwrap_or("");
                    matches!(c, Call::ThreadOwner { .. })
                        && !r.is_empty()
                        && (r.starts_with('{') == (self == P::ThreadOwnerRecipientJsonText))
                        && !r.starts_with('[')
                })
            }
            P::ThreadOwnerRecipientBracketOne => {
                s.app_defect(Defect::RecipientMalformed)
                    && s.defect().is_some_and(|(e, _)| e == Edge::ThreadOwner)
                    && w.and_then(|w| w.query_text("recipient")) == Some("[1]")
            }
            P::RecipientIdAsInteger => wf.is_some_and(|(_, w)| {
                w.recipient_object()
                    .is_some_and(|r| matches!(r.get("id"), Some(Value::Number(_))))
            }),
            P::TargetAppIdAsInteger => {
                wf.is_some_and(|(_, w)| matches!(w.json_body("target_app_id"), Some(Value::Number(_))))
            }
            P::PsidParamAsInteger => {
                wf.is_some_and(|(_, w)| matches!(w.json_body("psid"), Some(Value::Number(_))))
            }
            P::IdEmpty => defect(Defect::IdMalformed),
            P::IdBoolean => defect(Defect::IdBoolean),
            P::IdFloat => defect(Defect::IdFloat),
            P::IdObject => defect(Defect::IdObject),
            P::TargetAppIdMalformed | P::PsidParamMalformed => {
                let edge = if self == P::TargetAppIdMalformed {
                    Edge::PassThreadControl
                } else {
                    Edge::CustomUserSettings
                };
                s.defect()
                    .is_some_and(|(e, d)| e == edge && is_id_defect(d) && s.app_defect(d))
            }
            P::NullForAbsentParameter => {
                wf.is_some_and(|(_, w)| w.json && w.body.values().any(Value::is_null))
            }
            P::NullInsideMessage => wf.is_some_and(|(_, w)| {
                let Some(Value::Object(m)) = w.json_body("message") else {
                    return false;
                };
                let payload = m
                    .get("attachment")
                    .and_then(|a| a.get("payload"))
                    .and_then(Value::as_object);
                m.values().any(Value::is_null)
                    || payload.is_some_and(|p| p.values().any(Value::is_null))
            }),
            P::MetadataEmpty => s.metadata() == Some(""),
            P::MetadataNotString => defect(Defect::MetadataNotString),
            P::MetadataAt1000CodePoints => s.metadata().is_some_and(|m| code_points(m, 1000)),
            P::MetadataAt1001CodePoints => s.metadata().is_some_and(|m| code_points(m, 1001)),

            P::DurationAsNumber => s.extend_in_range().is_some_and(|w| {
                w.json_body("duration").is_some_and(|d| d.is_i64())
            }),
            P::DurationAsTextInJson => s
                .extend_in_range()
                .is_some_and(|w| matches!(w.json_body("duration"), Some(Value::String(_)))),
            P::DurationAsTextInForm => s
                .extend_in_range()
                .is_some_and(|w| !w.json && w.param("duration").is_some_and(Value::is_string)),
            P::DurationAsFloatInteger => s
                .extend_in_range()
                .is_some_and(|w| w.json_body("duration").is_some_and(Value::is_f64)),
            P::DurationFloat => defect(Defect::DurationFloat),
            P::DurationText => defect(Defect::DurationNotInteger),
            P::DurationTrue => defect(Defect::DurationBool),
            P::DurationNull => defect(Defect::DurationNull),
            P::DurationMissing => defect(Defect::DurationMissing),
            P::DurationAt1 | P::DurationAt604800 | P::DurationZero | P::DurationAt604801 => {
                let want = match self {
                    P::DurationAt1 => 1,
                    P::DurationAt604800 => MAX_EXTEND_S,
                    P::DurationZero => 0,
                    _ => MAX_EXTEND_S + 1,
                };
                matches!(s.by_app(), Some((_, Call::Extend { duration, .. })) if *duration == want)
            }

            P::MessagingTypeResponse => {
                s.send().is_some_and(|(_, _, t, _, _)| t == MessagingType::Response)
            }
            P::MessagingTypeUpdate => {
                s.send().is_some_and(|(_, _, t, _, _)| t == MessagingType::Update)
            }
            P::MessagingTypeMessageTag => s
                .send()
                .is_some_and(|(_, _, t, tag, _)| t == MessagingType::MessageTag && tag.is_some()),
            P::MessagingTypeMissing => defect(Defect::MessagingTypeMissing),
            P::MessagingTypeUnknown => defect(Defect::MessagingTypeUnknown),
            P::MessageTagWithoutTag => s
                .send()
                .is_some_and(|(_, _, t, tag, _)| t == MessagingType::MessageTag && tag.is_none()),
            P::MessageText => s.send().is_some_and(|(.., m)| matches!(m, Message::Text { .. })),
            P::MessageButtons => s.send().is_some_and(|(.., m)| matches!(m, Message::Buttons { .. })),
            P::MessageSurvey => s.send().is_some_and(|(.., m)| matches!(m, Message::Survey { .. })),
            P::MessageTextAndAttachment => defect(Defect::TextAndAttachment),
            P::MessageOfNoShape => defect(Defect::MessageMalformed),
            P::MessageMissing => defect(Defect::MessageMissing),
            P::QuickRepliesNonEmpty | P::QuickRepliesEmpty => s.send().is_some_and(|(.., m)| {
                matches!(m, Message::Text { quick_replies: Some(q), .. }
                    if q.is_empty() == (self == P::QuickRepliesEmpty))
            }),
            P::TextAt1CodePoint => s.text_of_send().is_some_and(|t| t.chars().count() == 1),
            P::TextAt2000CodePoints => s.text_of_send().is_some_and(|t| code_points(t, 2000)),
            P::TextAt2001CodePoints => s.text_of_send().is_some_and(|t| code_points(t, 2001)),
            P::TextEmpty => s.text_of_send() == Some(""),

            P::PsidUnknownToPage => s.answered(GraphError::UNKNOWN_PSID),
            P::PsidLearnedFromMessage => matches!(s.user(),
                Some(UserEvent::Message { psid, .. }) if s.before.thread(psid).is_none()),
            P::PsidLearnedFromAdEntry => matches!(s.user(),
                Some(UserEvent::AdEntry { psid, .. })
                    if s.before.thread(psid).is_none() && s.after.thread(psid).is_some()),

            P::PassWithoutTargetOrPrimary | P::PassWithoutTargetOrPrimaryByNonOwner => {
                s.pass().is_some_and(|(a, psid, target)| {
                    target.is_none()
                        && s.outcome.decided_by == Rule::Pass4
                        && s.answered(GraphError::INVALID)
                        && (self == P::PassWithoutTargetOrPrimary || s.other_owns(psid, a))
                })
            }
            P::PassToUnknownTarget | P::PassToUnknownTargetByNonOwner => {
                s.pass().is_some_and(|(a, psid, _)| {
                    s.answered(GraphError::UNKNOWN_TARGET)
                        && (self == P::PassToUnknownTarget || s.other_owns(psid, a))
                })
            }
            P::PassToSelfByNonOwner => s.pass().is_some_and(|(a, psid, target)| {
                *target == Some(AppRef::App(a))
                    && s.other_owns(psid, a)
                    && s.answered(GraphError::NOT_OWNER)
            }),
            P::PassToSelfByOwner => s.pass().is_some_and(|(a, psid, target)| {
                *target == Some(AppRef::App(a))
                    && s.owner_before(psid) == Some(Party::App(a))
                    && s.answered(GraphError::INVALID)
            }),
            P::HumanAgentTagWithoutFeatureByNonOwner => {
                s.send().is_some_and(|(a, psid, t, tag, _)| {
                    t == MessagingType::MessageTag
                        && tag.as_deref() == Some(HUMAN_AGENT_TAG)
                        && s.other_owns(psid, a)
                        && s.answered(GraphError::NO_PERMISSION)
                })
            }
            P::HumanAgentTagWithoutMessageTag => s.send().is_some_and(|(_, _, t, tag, _)| {
                t != MessagingType::MessageTag && tag.as_deref() == Some(HUMAN_AGENT_TAG)
            }),
            P::OtherTagWithMessageTag => s.send().is_some_and(|(_, _, t, tag, _)| {
                t == MessagingType::MessageTag
                    && tag.as_deref().is_some_and(|t| t != HUMAN_AGENT_TAG)
            }),
            P::HumanAgentSurveyByApprovedNonOwner => {
                s.send().is_some_and(|(a, psid, t, tag, m)| {
                    t == MessagingType::MessageTag
                        && tag.as_deref() == Some(HUMAN_AGENT_TAG)
                        && matches!(m, Message::Survey { .. })
                        && s.before.setup.app(a).human_agent
                        && s.other_owns(psid, a)
                        && !s.outcome.received.is_empty()
                })
            }

            P::SendWhileInboxOwns | P::ReleaseWhileInboxOwns | P::ExtendWhileInboxOwns => {
                s.by_app().is_some_and(|(_, c)| {
                    let kind = match c {
                        Call::Send { .. } => P::SendWhileInboxOwns,
                        Call::Release { .. } => P::ReleaseWhileInboxOwns,
                        Call::Extend { .. } => P::ExtendWhileInboxOwns,
                        _ => return false,
                    };
                    kind == self
                        && c.psid()
                            .is_some_and(|p| s.owner_before(p) == Some(Party::PageInbox))
                        && s.answered(GraphError::NOT_OWNER)
                })
            }
            P::InboxControlLapses => {
                matches!(s.op, Op::Clock { .. }) && s.lapsed().contains(&Party::PageInbox)
            }
            P::PassToInboxByOwner | P::PassToInboxWhileIdle => {
                s.pass().is_some_and(|(a, psid, target)| {
                    let owner = s.owner_before(psid);
                    *target == Some(AppRef::PageInbox)
                        && s.succeeded()
                        && if self == P::PassToInboxByOwner {
                            owner == Some(Party::App(a))
                        } else {
                            owner.is_none()
                        }
                })
            }
            P::PrimaryTakesFromInbox => matches!(s.by_app(),
                Some((a, Call::Take { psid, .. }))
                    if s.before.primary == Some(a)
                        && s.owner_before(psid) == Some(Party::PageInbox)
                        && s.succeeded()),
            P::RequestGrantedWithMetadata => matches!(s.by_app(),
                Some((_, Call::Request { psid, metadata: Some(_) }))
                    if s.owner_before(psid).is_none() && s.succeeded()),
            P::OwnerChangeAfterExtension => s.op.psid().is_some_and(|psid| {
                s.before.thread(psid).is_some_and(|t| {
                    t.owner.is_some()
                        && t.deadline_ms > s.before.now_ms + DAY_MS
                        && s.after.owner(psid).is_some()
                        && s.after.owner(psid) != t.owner
                })
            }),
            P::MessageMovesDoneThreadToMain => matches!(s.user(),
                Some(UserEvent::Message { psid, .. })
                    if s.folder_before(psid) == Some(Folder::Done)),
            P::AdEntryMovesDoneThreadToMain => matches!(s.user(),
                Some(UserEvent::AdEntry { psid, .. })
                    if s.folder_before(psid) == Some(Folder::Done) && s.succeeded()),
            P::PostbackOrMenuLeavesDoneFolder => matches!(s.user(),
                Some(UserEvent::Postback { psid, .. } | UserEvent::Menu { psid, .. })
                    if s.folder_before(psid) == Some(Folder::Done) && s.succeeded()),
            P::MessageOnIdleDoneThreadGoesToPrimary => matches!(s.user(),
                Some(UserEvent::Message { psid, .. })
                    if s.folder_before(psid) == Some(Folder::Done)
                        && s.owner_before(psid).is_none()
                        && s.before.primary.is_some()),
            P::SecondaryReceiversWithoutPrimary
            | P::SecondaryReceiversByPrimary
            | P::SecondaryReceiversByNonPrimary => {
                let Some((a, Call::SecondaryReceivers { .. })) = s.by_app() else {
                    return false;
                };
                let primary = s.before.primary;
                match self {
                    P::SecondaryReceiversWithoutPrimary => {
                        primary.is_none() && s.answered(GraphError::NOT_ALLOWED)
                    }
                    P::SecondaryReceiversByPrimary => primary == Some(a) && s.succeeded(),
                    _ => {
                        primary.is_some_and(|p| p != a) && s.answered(GraphError::NOT_ALLOWED)
                    }
                }
            }
            P::RolesUnsetPrimary => {
                matches!(s.op, Op::Roles { primary: None }) && s.before.primary.is_some()
            }
            P::RolesChangePrimary => matches!(s.op,
                Op::Roles { primary: Some(AppRef::App(a)) }
                    if s.before.primary != Some(*a) && s.succeeded()),
            P::AdEntryStandbyKeepsReferral => {
                matches!(s.user(), Some(UserEvent::AdEntry { .. }))
                    && s.outcome.deliveries.iter().any(|d| {
                        d.channel == Channel::Standby
                            && matches!(d.event.kind, EventKind::Message { ad_id: Some(_), .. })
                    })
            }

            P::PostbackOnUnknownPsid | P::MenuOnUnknownPsid | P::InboxOnUnknownPsid => {
                let (kind, psid) = match s.op {
                    Op::User(UserEvent::Postback { psid, .. }) => (P::PostbackOnUnknownPsid, psid),
                    Op::User(UserEvent::Menu { psid, .. }) => (P::MenuOnUnknownPsid, psid),
                    Op::Inbox { psid, .. } => (P::InboxOnUnknownPsid, psid),
                    _ => return false,
                };
                kind == self && s.before.thread(psid).is_none()
            }
            P::PostbackOnUnknownMid | P::PostbackWithUnknownPayload => {
                let Some(UserEvent::Postback {
                    psid,
                    message,
                    payload,
                    ..
                }) = s.user()
                else {
                    return false;
                };
                let Some(t) = s.before.thread(psid) else {
                    return false;
                };
                let sent = match message {
                    MsgRef::Nth(n) => t.transcript.get(*n as usize),
                    MsgRef::Unknown(_) => None,
                };
                match (self, sent) {
                    (P::PostbackOnUnknownMid, None) => true,
                    (P::PostbackWithUnknownPayload, Some(m)) => {
                        !m.buttons.iter().any(|b| &b.payload == payload)
                    }
                    _ => false,
                }
            }
            P::PostbackWithoutTitle | P::PostbackWithTitle => matches!(s.user(),
                Some(UserEvent::Postback { title, .. })
                    if s.succeeded() && title.is_none() == (self == P::PostbackWithoutTitle)),
            P::MenuPayloadNotInMenu => s.menu_pick().is_some_and(|(in_menu, _)| !in_menu),
            P::MenuWithoutMenuInForce => matches!(s.user(),
                Some(UserEvent::Menu { psid, .. })
                    if s.before.thread(psid).is_some_and(|t| t.user_menu.is_none())
                        && s.before.page_menu.is_none()),
            P::MenuWithoutTitle => s
                .menu_pick()
                .is_some_and(|(in_menu, title)| in_menu && title.is_none()),
            P::MenuWithoutTitleNotInMenu => s
                .menu_pick()
                .is_some_and(|(in_menu, title)| !in_menu && title.is_none()),
            P::MenuWithTitle => s.menu_pick().is_some_and(|(_, title)| title.is_some()),
            P::SurveyWithoutTitleDelivered => {
                s.send()
                    .is_some_and(|(.., m)| matches!(m, Message::Survey { title: None }))
                    && !s.outcome.received.is_empty()
            }
            P::ButtonsDelivered => {
                s.send().is_some_and(|(.., m)| matches!(m, Message::Buttons { .. }))
                    && !s.outcome.received.is_empty()
            }
            P::ClockReleasesHeldSurveys => {
                matches!(s.op, Op::Clock { .. }) && !s.outcome.received.is_empty()
            }
            P::ClockLapsesSeveralThreads => {
                matches!(s.op, Op::Clock { .. }) && s.lapsed().len() >= 2
            }
        }
    }

    /// The test name: the first rule's ID and the point, in snake case,
    /// e.g. `input_1_metadata_at_1001_code_points`.
    pub fn test_stem(self) -> String {
        let mut out = self.rules()[0].id().to_ascii_lowercase().replace('-', "_");
        let mut prev_digit = false;
        for c in self.name().chars() {
            if c.is_ascii_uppercase() || (c.is_ascii_digit() && !prev_digit) {
                out.push('_');
            }
            prev_digit = c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        }
        out
    }
}

/// Credentials for rendering a generated case's Graph calls: any will do,
/// as long as they are distinct.
pub fn credentials(n_apps: usize) -> Vec<AppCredentials> {
    (0..n_apps)
        .map(|i| AppCredentials {
            access_token: format!("EAA-points-{i}"),
            app_secret: format!("points-secret-{i}"),
            webhook_url: String::new(),
        })
        .collect()
}

/// The points a case shows: its steps played through the model, each Graph
/// call rendered as the harness would send it.
pub fn shown(cs: &CaseSetup, ops: &[Op]) -> BTreeSet<Point> {
    let creds = credentials(cs.setup.apps.len());
    let mut st = State::new(cs.setup.clone());
    let mut found = BTreeSet::new();
    for op in ops {
        let before = st.clone();
        let outcome = apply(&mut st, op);
        let request = match op {
            Op::Graph(g) => Some(render_graph(g, &before.setup, &creds)),
            _ => None,
        };
        let step = Step::new(&before, op, &st, &outcome, request.as_ref());
        for &p in Point::ALL {
            if !found.contains(&p) && p.shows(&step) {
                found.insert(p);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn points_have_rules_and_distinct_test_names() {
        let stems: BTreeSet<String> = Point::ALL.iter().map(|p| p.test_stem()).collect();
        assert_eq!(stems.len(), Point::ALL.len());
        assert_eq!(
            Point::MetadataAt1001CodePoints.test_stem(),
            "input_1_metadata_at_1001_code_points"
        );
        assert_eq!(
            Point::DurationAt604800.test_stem(),
            "exp_2_duration_at_604800"
        );
        assert_eq!(Point::TokenOAuth.test_stem(), "auth_1_token_o_auth");
    }
}
