//! One page of the server, mirrored by a model [`State`].
//!
//! Every operation a test sends through a [`World`] is also applied to the
//! model (`baton::model::apply`, on what the decoder will see:
//! `baton::wire::canonical`), and the server's answer must match the
//! model's. Deliveries the model expects are collected per app; [`World::check`]
//! flushes the page and compares them with what the sink received (parsed
//! with `baton::wire::parse_delivery`, message ids left out), verifies every
//! signature, compares `delivered`, and compares every transcript.

use super::harness::{Harness, Resp};
use super::sink::{Hit, Sink};
use baton::model::*;
use baton::wire::control::{ControlRequest, ResetRequest, parse_control_answer};
use baton::wire::{
    AppCredentials, ObservedAnswer, canonical, parse_answer, parse_delivery, render_graph,
    verify_signature,
};
use serde_json::Value;

/// The clock at `reset`; not a multiple of 1000 so `expiration` rounds.
pub const T0: u64 = 1_700_000_000_123;

pub const A0: AppIx = AppIx(0);
pub const A1: AppIx = AppIx(1);
pub const A2: AppIx = AppIx(2);
pub const A3: AppIx = AppIx(3);

/// `n` plain apps for `page_id`: ids `<page_id>1`, `<page_id>2`, …
pub fn plain_apps(page_id: &str, n: usize) -> Vec<AppSpec> {
    (0..n)
        .map(|i| AppSpec {
            app_id: format!("{page_id}{}", i + 1),
            name: format!("App {i} of {page_id}"),
            human_agent: false,
            require_appsecret_proof: false,
        })
        .collect()
}

/// The sink hook of an app of a page.
pub fn hook_name(page_id: &str, app_id: &str) -> String {
    format!("{page_id}-{app_id}")
}

/// What one operation gave.
#[derive(Debug)]
pub struct Step {
    pub resp: Resp,
    pub expected: Outcome,
}

impl Step {
    pub fn json(&self) -> Value {
        self.resp.json()
    }
}

pub struct World {
    pub setup: Setup,
    pub creds: Vec<AppCredentials>,
    pub model: State,
    pub hooks: Vec<String>,
    /// Per app: the events the model expects since the last check.
    pub expected: Vec<Vec<(Channel, Event)>>,
    /// Per app: how many sink hits were already checked.
    seen: Vec<usize>,
}

impl World {
    pub fn new(sink: &Sink, page_id: &str, apps: Vec<AppSpec>, primary: Option<AppIx>) -> World {
        let primary_id = primary.map(|p| apps[p.index()].app_id.clone());
        let setup =
            Setup::new(page_id.to_string(), T0, apps, primary_id.as_deref()).expect("setup");
        let hooks: Vec<String> = setup
            .apps
            .iter()
            .map(|a| hook_name(page_id, &a.app_id))
            .collect();
        let creds = (0..setup.apps.len())
            .map(|i| AppCredentials {
                access_token: format!("EAA-{page_id}-{i}"),
                app_secret: format!("secret-{page_id}-{i}"),
                webhook_url: sink.url(&hooks[i]),
            })
            .collect();
        let n = setup.apps.len();
        World {
            model: State::new(setup.clone()),
            setup,
            creds,
            hooks,
            expected: vec![Vec::new(); n],
            seen: vec![0; n],
        }
    }

    /// `n` plain apps.
    pub fn plain(sink: &Sink, page_id: &str, n: usize, primary: Option<AppIx>) -> World {
        World::new(sink, page_id, plain_apps(page_id, n), primary)
    }

    /// This page with a linked Instagram account (before `reset`).
    pub fn with_instagram(mut self, account_id: &str) -> World {
        self.setup = self
            .setup
            .with_instagram(Some(account_id.into()))
            .expect("a valid Instagram account id");
        self.model = State::new(self.setup.clone());
        self
    }

    pub fn page_id(&self) -> &str {
        &self.setup.page_id
    }

    pub fn app_id(&self, a: AppIx) -> &str {
        &self.setup.app(a).app_id
    }

    pub fn token(&self, a: AppIx) -> &str {
        &self.creds[a.index()].access_token
    }

    pub fn secret(&self, a: AppIx) -> &str {
        &self.creds[a.index()].app_secret
    }

    pub fn hook(&self, a: AppIx) -> &str {
        &self.hooks[a.index()]
    }

    pub fn reset_body(&self) -> Value {
        serde_json::to_value(ResetRequest::from_setup(&self.setup, &self.creds)).unwrap()
    }

    /// `reset` with this world's setup; the model starts over too.
    pub async fn reset(&mut self, h: &Harness) {
        let r = h.post("reset", self.reset_body()).await;
        r.assert_ok();
        assert_eq!(r.json(), serde_json::json!({"ok": true}));
        self.model = State::new(self.setup.clone());
        for (i, e) in self.expected.iter_mut().enumerate() {
            e.clear();
            self.seen[i] = h.sink.hits(&self.hooks[i]).len();
        }
    }

    /// Sends a Graph call and checks the answer against the model.
    pub async fn graph(&mut self, h: &Harness, op: GraphOp) -> Step {
        let req = render_graph(&op, &self.setup, &self.creds);
        let decoded = canonical(&op, &self.setup, &self.creds);
        let resp = h.send(&req).await;
        let expected = apply(&mut self.model, &Op::Graph(decoded));
        let Answer::Graph(want) = &expected.answer else {
            panic!("the model answered a Graph call with a control answer");
        };
        let got: ObservedAnswer = parse_answer(
            op.call.edge(),
            resp.status,
            &resp.headers,
            &resp.body,
            &self.setup,
        )
        .unwrap_or_else(|e| panic!("{op}: unreadable answer: {e}"));
        assert!(
            got.matches(want),
            "{op} ({req:?}): got {got:?}, the model says {want:?}; body {}",
            resp.text()
        );
        self.record(&expected);
        Step { resp, expected }
    }

    /// Sends a Graph call, checks it against the model and asserts the
    /// error the spec names.
    pub async fn refused(&mut self, h: &Harness, op: GraphOp, code: u64, subcode: Option<u64>) {
        let s = self.graph(h, op).await;
        s.resp.assert_graph_error(400, code, subcode);
    }

    /// Sends a Graph call that must succeed; returns the JSON answer.
    pub async fn ok(&mut self, h: &Harness, op: GraphOp) -> Value {
        let s = self.graph(h, op).await;
        s.resp.assert_ok();
        s.json()
    }

    /// Sends a control-API operation (user event, inbox, clock, roles) and
    /// checks the answer against the model.
    pub async fn op(&mut self, h: &Harness, op: Op) -> Step {
        if let Op::Graph(g) = op {
            return self.graph(h, g).await;
        }
        // A postback names its message by position; the server wants its id.
        let mids: Vec<String> = match &op {
            Op::User(UserEvent::Postback { psid, .. }) => h
                .transcript(self.page_id(), psid)
                .await
                .into_iter()
                .map(|t| t.mid)
                .collect(),
            _ => Vec::new(),
        };
        let lookup = |_: &str, n: u32| mids.get(n as usize).cloned();
        let req = ControlRequest::from_op(&op, &self.setup, &lookup).expect("a control op");
        let resp = h.control_req(&req).await;
        let expected = apply(&mut self.model, &op);
        let got = parse_control_answer(resp.status, &resp.body)
            .unwrap_or_else(|e| panic!("{op}: unreadable control answer: {e}"));
        let Answer::Control(want) = &expected.answer else {
            panic!("the model answered a control call with a Graph answer");
        };
        let same = match (&got, want) {
            (Ok(ControlSuccess::Mid(_)), Ok(ControlSuccess::Mid(_))) => true,
            (Ok(a), Ok(b)) => a == b,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        assert!(
            same,
            "{op}: got {got:?}, the model says {want:?}; body {}",
            resp.text()
        );
        self.record(&expected);
        Step { resp, expected }
    }

    /// The user writes.
    pub async fn user_message(&mut self, h: &Harness, psid: &str, text: &str) -> Step {
        let s = self
            .op(
                h,
                Op::User(UserEvent::Message {
                    psid: psid.into(),
                    text: text.into(),
                    quick_reply: None,
                    platform: Surface::Messenger,
                }),
            )
            .await;
        s.resp.assert_ok();
        s
    }

    /// An Instagram user writes (`platform: instagram`).
    pub async fn ig_message(&mut self, h: &Harness, igsid: &str, text: &str) -> Step {
        let s = self.op(h, ig_user_message(igsid, text)).await;
        s.resp.assert_ok();
        s
    }

    /// For a request the test wrote by hand (and checked itself): applies
    /// `op` to the model, which must accept it, and expects its deliveries.
    pub fn sent_raw(&mut self, op: GraphOp) -> Outcome {
        let out = apply(&mut self.model, &Op::Graph(op.clone()));
        assert!(!out.is_refusal(), "the model refuses {op}");
        self.record(&out);
        out
    }

    /// For a control call the test sent by hand (and checked itself):
    /// applies `op` to the model, which must accept it.
    pub fn sent_control(&mut self, op: Op) -> Outcome {
        let out = apply(&mut self.model, &op);
        assert!(!out.is_refusal(), "the model refuses {op}");
        self.record(&out);
        out
    }

    fn record(&mut self, out: &Outcome) {
        for d in &out.deliveries {
            self.expected[d.app.index()].push((d.channel, d.event.clone()));
        }
    }

    /// Flushes the page and checks everything delivered since the last
    /// check against the model: events per app in order (HOOK-1..6), one
    /// acknowledged attempt each, every signature (HOOK-4), `delivered`,
    /// and every transcript. Returns `delivered`.
    pub async fn check(&mut self, h: &Harness) -> u64 {
        let delivered = h.flush(self.page_id()).await;
        let mut total = 0;
        for i in 0..self.hooks.len() {
            let hits = h.sink.hits(&self.hooks[i]);
            let new: Vec<Hit> = hits[self.seen[i]..].to_vec();
            self.seen[i] = hits.len();
            let mut got = Vec::new();
            for hit in &new {
                assert!(hit.acked(), "app {i}: an attempt was not acknowledged");
                self.assert_signed_for(AppIx(i as u8), hit);
                got.extend(parse_delivery(&hit.body, &self.setup).unwrap_or_else(|e| {
                    panic!("app {i}: unreadable delivery ({e}): {}", body_text(hit))
                }));
            }
            let want = std::mem::take(&mut self.expected[i]);
            total += want.len() as u64;
            assert_eq!(
                without_mids(got),
                without_mids(want),
                "deliveries to app {i} of page {}",
                self.setup.page_id
            );
        }
        assert_eq!(delivered, total, "flush's `delivered`");
        self.check_transcripts(h).await;
        delivered
    }

    /// Every PSID's transcript on the server equals the model's (ids aside).
    pub async fn check_transcripts(&self, h: &Harness) {
        for (psid, t) in &self.model.threads {
            let got: Vec<(Party, MessageKind, String)> = h
                .transcript(self.page_id(), psid)
                .await
                .iter()
                .map(|item| {
                    let e = item.to_entry(&self.setup).expect("known sender");
                    (e.from, e.kind, e.text)
                })
                .collect();
            let want: Vec<(Party, MessageKind, String)> = t
                .transcript
                .iter()
                .map(|m| (m.entry.from, m.entry.kind, m.entry.text.clone()))
                .collect();
            assert_eq!(got, want, "transcript of {psid}");
        }
    }

    /// HOOK-4: signed with this app's secret over the exact bytes, and not
    /// with any other app's.
    pub fn assert_signed_for(&self, a: AppIx, hit: &Hit) {
        let sig = hit
            .header("x-hub-signature-256")
            .unwrap_or_else(|| panic!("no X-Hub-Signature-256 on {}", body_text(hit)));
        assert!(
            hit.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{:?}",
            hit.headers
        );
        assert!(
            verify_signature(self.secret(a), &hit.body, sig),
            "signature {sig} does not verify with app {a}'s secret"
        );
        for (j, c) in self.creds.iter().enumerate() {
            if j != a.index() {
                assert!(
                    !verify_signature(&c.app_secret, &hit.body, sig),
                    "app {a}'s delivery verifies with app {j}'s secret"
                );
            }
        }
    }

    /// The events in a hit.
    pub fn events(&self, hit: &Hit) -> Vec<(Channel, Event)> {
        parse_delivery(&hit.body, &self.setup).expect("a delivery")
    }
}

pub fn body_text(hit: &Hit) -> String {
    String::from_utf8_lossy(&hit.body).into_owned()
}

/// Events with message ids blanked (ids differ between the server and the
/// model's parallel state).
pub fn without_mids(events: Vec<(Channel, Event)>) -> Vec<(Channel, Event)> {
    events
        .into_iter()
        .map(|(c, mut e)| {
            match &mut e.kind {
                EventKind::Message { mid, .. } | EventKind::Postback { mid, .. } => mid.clear(),
                _ => {}
            }
            (c, e)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Short names for operations.

pub fn text(s: &str) -> Message {
    Message::Text {
        text: s.into(),
        quick_replies: None,
    }
}

pub fn choice(title: &str, payload: &str) -> Choice {
    Choice {
        title: title.into(),
        payload: payload.into(),
    }
}

pub fn send(app: AppIx, psid: &str, message: Message) -> GraphOp {
    GraphOp::by(
        app,
        Call::Send {
            psid: psid.into(),
            messaging_type: MessagingType::Response,
            tag: None,
            message,
        },
    )
}

pub fn send_text(app: AppIx, psid: &str, s: &str) -> GraphOp {
    send(app, psid, text(s))
}

pub fn send_tagged(app: AppIx, psid: &str, s: &str) -> GraphOp {
    GraphOp::by(
        app,
        Call::Send {
            psid: psid.into(),
            messaging_type: MessagingType::MessageTag,
            tag: Some(HUMAN_AGENT_TAG.into()),
            message: text(s),
        },
    )
}

pub fn pass(app: AppIx, psid: &str, target: Option<AppRef>, metadata: Option<&str>) -> GraphOp {
    GraphOp::by(
        app,
        Call::Pass {
            psid: psid.into(),
            target,
            metadata: metadata.map(String::from),
        },
    )
}

pub fn take(app: AppIx, psid: &str, metadata: Option<&str>) -> GraphOp {
    GraphOp::by(
        app,
        Call::Take {
            psid: psid.into(),
            metadata: metadata.map(String::from),
        },
    )
}

pub fn request(app: AppIx, psid: &str, metadata: Option<&str>) -> GraphOp {
    GraphOp::by(
        app,
        Call::Request {
            psid: psid.into(),
            metadata: metadata.map(String::from),
        },
    )
}

pub fn release(app: AppIx, psid: &str) -> GraphOp {
    GraphOp::by(app, Call::Release { psid: psid.into() })
}

pub fn extend(app: AppIx, psid: &str, duration: i64) -> GraphOp {
    GraphOp::by(
        app,
        Call::Extend {
            psid: psid.into(),
            duration,
        },
    )
}

pub fn thread_owner(app: AppIx, psid: &str) -> GraphOp {
    GraphOp::by(app, Call::ThreadOwner { psid: psid.into() })
}

pub fn secondaries(app: AppIx) -> GraphOp {
    GraphOp::by(app, Call::SecondaryReceivers { platform: None })
}

pub fn set_page_menu(app: AppIx, items: &[Choice]) -> GraphOp {
    GraphOp::by(
        app,
        Call::SetPageMenu {
            items: items.to_vec(),
            platform: None,
        },
    )
}

pub fn delete_page_menu(app: AppIx) -> GraphOp {
    GraphOp::by(app, Call::DeletePageMenu { platform: None })
}

pub fn set_user_menu(app: AppIx, psid: &str, items: &[Choice]) -> GraphOp {
    GraphOp::by(
        app,
        Call::SetUserMenu {
            psid: psid.into(),
            items: items.to_vec(),
        },
    )
}

pub fn delete_user_menu(app: AppIx, psid: &str) -> GraphOp {
    GraphOp::by(app, Call::DeleteUserMenu { psid: psid.into() })
}

pub fn malformed(app: AppIx, edge: Edge, defect: Defect) -> GraphOp {
    GraphOp::by(app, Call::Malformed { edge, defect })
}

pub fn to_app(a: AppIx) -> Option<AppRef> {
    Some(AppRef::App(a))
}

pub fn user_message(psid: &str, text: &str) -> Op {
    Op::User(UserEvent::Message {
        psid: psid.into(),
        text: text.into(),
        quick_reply: None,
        platform: Surface::Messenger,
    })
}

/// An Instagram user's message (`platform: instagram`).
pub fn ig_user_message(igsid: &str, text: &str) -> Op {
    Op::User(UserEvent::Message {
        psid: igsid.into(),
        text: text.into(),
        quick_reply: None,
        platform: Surface::Instagram,
    })
}

pub fn every_transport() -> Vec<Transport> {
    let mut out = Vec::new();
    for encoding in [Encoding::Json, Encoding::Form, Encoding::Query] {
        for token_at in [
            TokenAt::Query,
            TokenAt::Body,
            TokenAt::Bearer,
            TokenAt::OAuth,
        ] {
            for page_node in [false, true] {
                for unversioned in [false, true] {
                    out.push(Transport {
                        encoding,
                        token_at,
                        page_node,
                        unversioned,
                        ..Transport::default()
                    });
                }
            }
        }
    }
    out
}
