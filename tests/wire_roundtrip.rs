//! The main guarantee of `baton::wire`: the harness's renderer and the
//! reference server's decoder speak the same language. For random
//! operations under every transport, `decode(render(op))` is exactly
//! `canonical(op)`, which leaves well-formed operations unchanged and keeps
//! every defect; and the model answers the decoded operation exactly as it
//! answers the original.

use baton::model::{
    AppIx, AppRef, AppSpec, Call, Caller, Channel, Choice, Defect, DurationAs, Edge, Encoding,
    Event, EventKind, GraphOp, INSTAGRAM_INBOX_APP_ID, Message, MessagingType, Op,
    PAGE_INBOX_APP_ID, Party, Proof, Setup, State, Surface, TokenAt, Transport, UserEvent, apply,
};
use baton::wire::{
    AppCredentials, PageCredentials, PageKeys, RawRequest, canonical, canonical_edge, decode_graph,
    defect_applies, delivery_body, delivery_headers, parse_delivery, render_graph, surface_runs,
    verify_signature,
};
use proptest::prelude::*;

const DEFECTS: &[Defect] = Defect::ALL;

#[derive(Clone, Debug)]
struct Page {
    setup: Setup,
    creds: Vec<AppCredentials>,
}

/// A page, with a linked Instagram account half the time.
fn page() -> impl Strategy<Value = Page> {
    (
        "[1-9][0-9]{0,15}",
        prop::collection::vec((any::<bool>(), any::<bool>(), "[ -~]{0,12}"), 1..=4),
        prop::option::of("17841[0-9]{6,12}"),
    )
        .prop_map(|(page_id, apps, instagram)| {
            let specs = apps
                .iter()
                .enumerate()
                .map(|(i, (proof, ha, _))| AppSpec {
                    app_id: format!("{}{i}", 4000 + i),
                    name: format!("App {i}"),
                    human_agent: *ha,
                    require_appsecret_proof: *proof,
                })
                .collect();
            let creds = apps
                .iter()
                .enumerate()
                .map(|(i, (_, _, secret))| AppCredentials {
                    access_token: format!("EAA{i}-{page_id}"),
                    app_secret: secret.clone(),
                    webhook_url: format!("http://127.0.0.1:9/{i}"),
                })
                .collect();
            Page {
                setup: Setup::new(page_id, 0, specs, None)
                    .and_then(|s| s.with_instagram(instagram))
                    .unwrap(),
                creds,
            }
        })
}

/// Text of every kind: JSON-looking, form-hostile, arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,8}",
        r#"[{}\[\]"&=+%?#/ ,:a-z0-9\\]{0,16}"#,
        any::<String>(),
        Just(r#"{"id":"1"}"#.to_string()),
        Just("null".to_string()),
        Just("  [1]".to_string()),
    ]
}

/// PSIDs: mostly plausible, sometimes odd; `""` is the malformed case.
fn psid() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[1-9][0-9]{0,16}",
        2 => text().prop_filter("non-empty", |s| !s.is_empty()),
        1 => Just("0012".to_string()),
        1 => Just(String::new()),
    ]
}

fn choices(min: usize) -> impl Strategy<Value = Vec<Choice>> {
    prop::collection::vec(
        (text(), text()).prop_map(|(title, payload)| Choice { title, payload }),
        min..4,
    )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (text(), prop::option::of(choices(0))).prop_map(|(text, quick_replies)| Message::Text {
            text,
            quick_replies
        }),
        (text(), choices(0)).prop_map(|(text, buttons)| Message::Buttons { text, buttons }),
        prop::option::of(text()).prop_map(|title| Message::Survey { title }),
    ]
}

fn target() -> impl Strategy<Value = AppRef> {
    prop_oneof![
        (0u8..6).prop_map(|i| AppRef::App(AppIx(i))),
        Just(AppRef::PageInbox),
        text().prop_map(|s| AppRef::Unknown(format!("x{s}"))),
        "[1-9][0-9]{3,12}".prop_map(AppRef::Unknown),
        Just(AppRef::Unknown(String::new())),
        Just(AppRef::Unknown(PAGE_INBOX_APP_ID.to_string())),
        Just(AppRef::InstagramInbox),
        Just(AppRef::Unknown(INSTAGRAM_INBOX_APP_ID.to_string())),
    ]
}

/// A `platform` parameter: absent, valid in any case, or anything else.
fn platform() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("instagram".to_string()),
        Just("INSTAGRAM".to_string()),
        Just("messenger".to_string()),
        Just("Messenger".to_string()),
        text(),
    ])
}

fn messaging_type() -> impl Strategy<Value = MessagingType> {
    prop_oneof![
        Just(MessagingType::Response),
        Just(MessagingType::Update),
        Just(MessagingType::MessageTag),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    let meta = || prop::option::of(text());
    prop_oneof![
        (
            psid(),
            messaging_type(),
            prop::option::of(prop_oneof![Just("HUMAN_AGENT".to_string()), text()]),
            message()
        )
            .prop_map(|(psid, messaging_type, tag, message)| Call::Send {
                psid,
                messaging_type,
                tag,
                message
            }),
        (psid(), prop::option::of(target()), meta()).prop_map(|(psid, target, metadata)| {
            Call::Pass {
                psid,
                target,
                metadata,
            }
        }),
        (psid(), target(), text()).prop_map(|(psid, target, metadata)| {
            Call::PassMetadata {
                psid,
                target,
                metadata,
            }
        }),
        (psid(), meta()).prop_map(|(psid, metadata)| Call::Take { psid, metadata }),
        (psid(), meta()).prop_map(|(psid, metadata)| Call::Request { psid, metadata }),
        psid().prop_map(|psid| Call::Release { psid }),
        (
            psid(),
            prop_oneof![1i64..=604_800, any::<i64>(), Just(i64::MAX), Just(0)]
        )
            .prop_map(|(psid, duration)| Call::Extend { psid, duration }),
        psid().prop_map(|psid| Call::ThreadOwner { psid }),
        platform().prop_map(|platform| Call::SecondaryReceivers { platform }),
        (choices(0), platform())
            .prop_map(|(items, platform)| Call::SetPageMenu { items, platform }),
        platform().prop_map(|platform| Call::DeletePageMenu { platform }),
        (psid(), choices(0)).prop_map(|(psid, items)| Call::SetUserMenu { psid, items }),
        psid().prop_map(|psid| Call::DeleteUserMenu { psid }),
        (
            prop::sample::select(Edge::ALL),
            prop::sample::select(DEFECTS)
        )
            .prop_map(|(edge, defect)| Call::Malformed { edge, defect }),
    ]
}

fn transport() -> impl Strategy<Value = Transport> {
    (
        (
            prop_oneof![
                Just(Encoding::Json),
                Just(Encoding::Form),
                Just(Encoding::Query)
            ],
            prop_oneof![
                Just(TokenAt::Query),
                Just(TokenAt::Body),
                Just(TokenAt::Bearer),
                Just(TokenAt::OAuth)
            ],
            any::<bool>(),
            any::<bool>(),
        ),
        // The accepted spellings of the precise points, each now and then.
        prop::collection::vec(prop::bool::weighted(0.3), 7),
        prop_oneof![
            3 => Just(DurationAs::Number),
            1 => Just(DurationAs::Text),
            1 => Just(DurationAs::Float),
        ],
    )
        .prop_map(
            |((encoding, token_at, page_node, unversioned), f, duration_as)| Transport {
                encoding,
                token_at,
                page_node,
                unversioned,
                decoy_token: f[0],
                proof_upper: f[1],
                decoy_param: f[2],
                extra_param: f[3],
                recipient_as_text: f[4],
                ids_as_integers: f[5],
                explicit_nulls: f[6],
                duration_as,
            },
        )
}

fn graph_op() -> impl Strategy<Value = GraphOp> {
    (
        prop_oneof![
            6 => (0u8..4).prop_map(|i| Caller::App(AppIx(i))),
            1 => Just(Caller::Missing),
            1 => Just(Caller::Empty),
            1 => Just(Caller::Unknown),
            1 => Just(Caller::App(AppIx(200))),
        ],
        prop_oneof![Just(Proof::Absent), Just(Proof::Right), Just(Proof::Wrong)],
        call(),
        transport(),
    )
        .prop_map(|(caller, proof, call, transport)| GraphOp {
            caller,
            proof,
            call,
            transport,
        })
}

fn decode(op: &GraphOp, page: &Page) -> GraphOp {
    let req = render_graph(op, &page.setup, &page.creds);
    let raw = RawRequest::parse(&req.parts());
    let keys = PageKeys {
        setup: &page.setup,
        apps: &page.creds,
    };
    decode_graph(&raw, Some(&keys as &dyn PageCredentials))
}

/// Whether the operation is well formed as far as the wire goes: then
/// nothing but the transport may change on the way.
fn clean(op: &GraphOp, page: &Page) -> bool {
    let n = page.setup.apps.len();
    let caller_ok = match op.caller {
        Caller::App(a) => a.index() < n,
        _ => op.proof != Proof::Right,
    };
    let target_ok = match &op.call {
        Call::Pass {
            target: Some(AppRef::App(a)),
            ..
        } => a.index() < n,
        Call::Pass {
            target: Some(AppRef::Unknown(id)),
            ..
        } => !id.is_empty() && id != PAGE_INBOX_APP_ID && id != INSTAGRAM_INBOX_APP_ID,
        Call::PassMetadata {
            target: AppRef::App(a),
            ..
        } => a.index() < n,
        Call::PassMetadata {
            target: AppRef::Unknown(id),
            ..
        } => !id.is_empty() && id != PAGE_INBOX_APP_ID && id != INSTAGRAM_INBOX_APP_ID,
        _ => true,
    };
    caller_ok
        && target_ok
        && !matches!(op.call, Call::Malformed { .. })
        && op.call.psid().is_none_or(|p| !p.is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn decode_of_render_is_canonical(page in page(), op in graph_op()) {
        let got = decode(&op, &page);
        let want = canonical(&op, &page.setup, &page.creds);
        prop_assert_eq!(&got, &want);
        if clean(&op, &page) {
            prop_assert_eq!(&got.caller, &op.caller);
            prop_assert_eq!(&got.proof, &op.proof);
            prop_assert_eq!(&got.call, &op.call);
        }
        if let Call::Malformed { edge, defect } = op.call {
            prop_assert_eq!(
                got.call.clone(),
                Call::Malformed { edge: canonical_edge(edge, defect), defect }
            );
            if defect_applies(edge, defect) {
                prop_assert_eq!(&got.call, &op.call);
            }
        }
    }

    /// Where the request can carry the transport as asked (a body-carrying
    /// call, a token that exists), the server observes exactly it.
    #[test]
    fn transport_is_observed(page in page(), op in graph_op()) {
        let posts = matches!(
            op.call,
            Call::Send { .. } | Call::Pass { .. } | Call::Take { .. } | Call::Request { .. }
                | Call::PassMetadata { .. } | Call::Release { .. } | Call::Extend { .. } | Call::SetPageMenu { .. }
                | Call::SetUserMenu { .. }
        );
        let token = matches!(op.caller, Caller::App(_) | Caller::Unknown);
        let possible = !(op.transport.token_at == TokenAt::Body
            && op.transport.encoding == Encoding::Query);
        if posts && token && possible {
            // The spellings have their own reach (`canonical` and the
            // test `each_spelling_shows_where_it_can` below).
            let got = decode(&op, &page).transport;
            let t = op.transport;
            prop_assert_eq!(
                (got.encoding, got.token_at, got.page_node, got.unversioned),
                (t.encoding, t.token_at, t.page_node, t.unversioned)
            );
        }
    }

    /// The model cannot tell the decoded operation from the original.
    #[test]
    fn the_model_answers_the_same(page in page(), mut op in graph_op(), on_ig in any::<bool>()) {
        // `AppRef::Unknown` means an id the page does not know; an id that
        // names an app or the Page Inbox is spelled as such in the model.
        if let Call::Pass { target: Some(t @ AppRef::Unknown(_)), .. } = &mut op.call {
            let AppRef::Unknown(id) = t.clone() else { unreachable!() };
            *t = page.setup.app_ref(&id);
        }
        let mut st = State::new(page.setup.clone());
        // Make the PSID known, so calls get past the PSID check; on a page
        // with Instagram, as an IGSID half the time.
        let platform = if on_ig && page.setup.has_instagram() {
            Surface::Instagram
        } else {
            Surface::Messenger
        };
        if let Some(psid) = op.call.psid().filter(|p| !p.is_empty()) {
            apply(&mut st, &Op::User(UserEvent::Message {
                psid: psid.clone(),
                text: "hi".into(),
                quick_reply: None,
                platform,
            }));
        }
        let decoded = decode(&op, &page);
        let mut a = st.clone();
        let mut b = st;
        let out_a = apply(&mut a, &Op::Graph(op.clone()));
        let out_b = apply(&mut b, &Op::Graph(decoded.clone()));
        prop_assert_eq!(&out_a.answer, &out_b.answer, "decoded as {:?}", decoded);
        prop_assert_eq!(&out_a.deliveries, &out_b.deliveries);
        prop_assert_eq!(a, b);
    }
}

fn party(n: u8) -> impl Strategy<Value = Party> {
    prop_oneof![
        3 => (0..n).prop_map(|i| Party::App(AppIx(i))),
        1 => Just(Party::PageInbox),
        1 => Just(Party::InstagramInbox),
    ]
}

fn event(n: u8) -> impl Strategy<Value = Event> {
    let kind = prop_oneof![
        (
            text(),
            text(),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(|(mid, text, quick_reply, ad_id)| EventKind::Message {
                mid,
                text,
                quick_reply,
                ad_id
            }),
        (text(), text(), prop::option::of(text())).prop_map(|(mid, title, payload)| {
            EventKind::Postback {
                mid,
                title,
                payload,
            }
        }),
        (
            party(n),
            prop::option::of(party(n)),
            prop::option::of(text())
        )
            .prop_map(|(new_owner, previous_owner, metadata)| {
                EventKind::PassThreadControl {
                    new_owner,
                    previous_owner,
                    metadata,
                }
            }),
        (party(n), party(n), prop::option::of(text())).prop_map(
            |(previous_owner, new_owner, metadata)| EventKind::TakeThreadControl {
                previous_owner,
                new_owner,
                metadata
            }
        ),
        ((0..n), prop::option::of(text())).prop_map(|(a, metadata)| {
            EventKind::RequestThreadControl {
                requested_owner: AppIx(a),
                metadata,
            }
        }),
        ((0..n), any::<bool>()).prop_map(|(a, primary)| EventKind::AppRoles {
            app: AppIx(a),
            primary
        }),
    ];
    (
        psid().prop_filter("non-empty", |p| !p.is_empty()),
        any::<u64>(),
        kind,
    )
        .prop_map(|(psid, timestamp, kind)| Event {
            psid: (!matches!(kind, EventKind::AppRoles { .. })).then_some(psid),
            timestamp,
            kind,
            surface: Surface::Messenger,
        })
}

/// The surfaces a page's events can be on.
fn surface(page: &Page) -> impl Strategy<Value = Surface> + use<> {
    if page.setup.has_instagram() {
        prop_oneof![Just(Surface::Messenger), Just(Surface::Instagram)].boxed()
    } else {
        Just(Surface::Messenger).boxed()
    }
}

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![Just(Channel::Messaging), Just(Channel::Standby)]
}

proptest! {
    /// Model events survive a delivery: built, signed, parsed back.
    #[test]
    fn deliveries_round_trip(
        (page, events) in page().prop_flat_map(|p| {
            let n = p.setup.apps.len() as u8;
            let s = surface(&p);
            (Just(p), s, prop::collection::vec((channel(), event(n)), 1..6))
                .prop_map(|(p, s, mut events)| {
                    for (_, e) in &mut events {
                        e.surface = s;
                    }
                    (p, events)
                })
        }),
        time in any::<u64>(),
    ) {
        let body = delivery_body(&page.setup, time, &events);
        let headers = delivery_headers(&page.creds[0].app_secret, &body);
        prop_assert!(verify_signature(&page.creds[0].app_secret, &body, &headers[1].1));
        prop_assert_eq!(parse_delivery(&body, &page.setup).unwrap(), events.clone());
        // IG-3: the envelope names the surface, and only it.
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let (object, id) = match events[0].1.surface {
            Surface::Messenger => ("page", page.setup.page_id.clone()),
            Surface::Instagram => ("instagram", page.setup.instagram_account_id.clone().unwrap()),
        };
        prop_assert_eq!(&v["object"], object);
        for entry in v["entry"].as_array().unwrap() {
            prop_assert_eq!(&entry["id"], &serde_json::Value::from(id.clone()));
        }
    }

    /// A batch of both surfaces goes out as one delivery per run of one
    /// surface, which read back in order give the batch.
    #[test]
    fn mixed_batches_split_into_one_delivery_per_surface(
        (page, events) in page()
            .prop_filter("with Instagram", |p| p.setup.has_instagram())
            .prop_flat_map(|p| {
                let n = p.setup.apps.len() as u8;
                (Just(p), prop::collection::vec((channel(), event(n), any::<bool>()), 1..10))
            }),
    ) {
        let events: Vec<(Channel, Event)> = events
            .into_iter()
            .map(|(c, mut e, ig)| {
                if ig {
                    e.surface = Surface::Instagram;
                }
                (c, e)
            })
            .collect();
        let mut back = Vec::new();
        for run in surface_runs(&events) {
            let body = delivery_body(&page.setup, 7, run);
            let got = parse_delivery(&body, &page.setup).unwrap();
            prop_assert!(got.iter().all(|(_, e)| e.surface == run[0].1.surface));
            back.extend(got);
        }
        prop_assert_eq!(back, events);
    }
}

/// The operations the project's own generator produces (the ones the harness
/// will actually send) survive the wire unchanged but for the transport.
#[test]
fn generated_cases_round_trip() {
    use baton::generate::{GenConfig, SplitMix64, case};
    let cfg = GenConfig {
        transport_percent: 60,
        ..GenConfig::default()
    };
    for seed in 0..300 {
        let (cs, ops) = case(&mut SplitMix64::new(seed), &cfg, "p1", 50);
        let page = Page {
            creds: (0..cs.setup.apps.len())
                .map(|i| AppCredentials {
                    access_token: format!("EAA{seed}-{i}"),
                    app_secret: format!("secret{i}"),
                    webhook_url: String::new(),
                })
                .collect(),
            setup: cs.setup,
        };
        for op in ops {
            let Op::Graph(g) = op else { continue };
            let got = decode(&g, &page);
            assert_eq!(
                got,
                canonical(&g, &page.setup, &page.creds),
                "seed {seed}: {g}"
            );
            assert_eq!(
                (&got.caller, &got.proof, &got.call),
                (&g.caller, &g.proof, &g.call),
                "seed {seed}: {g}"
            );
        }
    }
}

/// Each accepted spelling shows (the server observes it, and the request
/// carries it in the bytes `wire.md` describes) on a call that can carry
/// it, and is not claimed where the request cannot show it.
#[test]
fn each_spelling_shows_where_it_can() {
    let apps = (0..2)
        .map(|i| AppSpec {
            app_id: format!("{}", 7001 + i),
            name: format!("App {i}"),
            human_agent: false,
            require_appsecret_proof: i == 1,
        })
        .collect();
    let page = Page {
        setup: Setup::new("8080".into(), 0, apps, None).unwrap(),
        creds: (0..2)
            .map(|i| AppCredentials {
                access_token: format!("EAA{i}"),
                app_secret: format!("s{i}"),
                webhook_url: String::new(),
            })
            .collect(),
    };
    let op = |caller: u8, call: Call, t: Transport| GraphOp {
        caller: Caller::App(AppIx(caller)),
        proof: if caller == 1 {
            Proof::Right
        } else {
            Proof::Absent
        },
        call,
        transport: t,
    };
    let take = |psid: &str| Call::Take {
        psid: psid.into(),
        metadata: None,
    };
    let extend = |d: i64| Call::Extend {
        psid: "42".into(),
        duration: d,
    };
    let text_of = |req: &baton::wire::HttpRequest| {
        format!(
            "{} {}",
            req.path_and_query,
            String::from_utf8_lossy(req.body.as_deref().unwrap_or_default())
        )
    };
    // (operation, flag of the observed transport, must show, text the
    // request must contain when it shows)
    type Flag = fn(&Transport) -> bool;
    let cases: Vec<(GraphOp, Flag, bool, &str)> = vec![
        (
            op(
                0,
                take("42"),
                Transport {
                    decoy_token: true,
                    ..Transport::default()
                },
            ),
            |t| t.decoy_token,
            true,
            "access_token=EAA0",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    decoy_token: true,
                    token_at: TokenAt::Body,
                    ..Transport::default()
                },
            ),
            |t| t.decoy_token,
            true,
            "access_token=baton-decoy-token",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    decoy_token: true,
                    token_at: TokenAt::Bearer,
                    ..Transport::default()
                },
            ),
            |t| t.decoy_token,
            false,
            "",
        ),
        (
            op(
                1,
                take("42"),
                Transport {
                    proof_upper: true,
                    ..Transport::default()
                },
            ),
            |t| t.proof_upper,
            true,
            "appsecret_proof=",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    proof_upper: true,
                    ..Transport::default()
                },
            ),
            |t| t.proof_upper,
            false,
            "",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    decoy_param: true,
                    ..Transport::default()
                },
            ),
            |t| t.decoy_param,
            true,
            "recipient=baton-decoy",
        ),
        (
            op(
                0,
                Call::ThreadOwner { psid: "42".into() },
                Transport {
                    decoy_param: true,
                    ..Transport::default()
                },
            ),
            |t| t.decoy_param,
            false,
            "",
        ),
        (
            op(
                0,
                Call::SecondaryReceivers { platform: None },
                Transport {
                    extra_param: true,
                    ..Transport::default()
                },
            ),
            |t| t.extra_param,
            true,
            "baton_extra=",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    recipient_as_text: true,
                    ..Transport::default()
                },
            ),
            |t| t.recipient_as_text,
            true,
            r#""recipient":"{\"id\":\"42\"}""#,
        ),
        (
            op(
                0,
                Call::ThreadOwner { psid: "42".into() },
                Transport {
                    recipient_as_text: true,
                    ..Transport::default()
                },
            ),
            |t| t.recipient_as_text,
            true,
            "recipient=%7B%22id%22%3A%2242%22%7D",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    recipient_as_text: true,
                    encoding: Encoding::Form,
                    ..Transport::default()
                },
            ),
            |t| t.recipient_as_text,
            false,
            "",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    ids_as_integers: true,
                    ..Transport::default()
                },
            ),
            |t| t.ids_as_integers,
            true,
            r#""recipient":{"id":42}"#,
        ),
        (
            op(
                0,
                Call::Pass {
                    psid: "x".into(),
                    target: Some(AppRef::App(AppIx(1))),
                    metadata: None,
                },
                Transport {
                    ids_as_integers: true,
                    ..Transport::default()
                },
            ),
            |t| t.ids_as_integers,
            true,
            r#""target_app_id":7002"#,
        ),
        (
            op(
                0,
                take("0042"),
                Transport {
                    ids_as_integers: true,
                    ..Transport::default()
                },
            ),
            |t| t.ids_as_integers,
            false,
            "",
        ),
        (
            op(
                0,
                take("42"),
                Transport {
                    explicit_nulls: true,
                    ..Transport::default()
                },
            ),
            |t| t.explicit_nulls,
            true,
            r#""metadata":null"#,
        ),
        (
            op(
                0,
                Call::Release { psid: "42".into() },
                Transport {
                    explicit_nulls: true,
                    ..Transport::default()
                },
            ),
            |t| t.explicit_nulls,
            false,
            "",
        ),
        (
            op(
                0,
                Call::Send {
                    psid: "42".into(),
                    messaging_type: MessagingType::Response,
                    tag: Some("x".into()),
                    message: Message::Text {
                        text: "hi".into(),
                        quick_replies: None,
                    },
                },
                Transport {
                    explicit_nulls: true,
                    ..Transport::default()
                },
            ),
            |t| t.explicit_nulls,
            true,
            r#""attachment":null"#,
        ),
        (
            op(
                0,
                extend(3600),
                Transport {
                    duration_as: DurationAs::Text,
                    ..Transport::default()
                },
            ),
            |t| t.duration_as == DurationAs::Text,
            true,
            r#""duration":"3600""#,
        ),
        (
            op(
                0,
                extend(3600),
                Transport {
                    duration_as: DurationAs::Float,
                    ..Transport::default()
                },
            ),
            |t| t.duration_as == DurationAs::Float,
            true,
            r#""duration":3600.0"#,
        ),
        (
            op(
                0,
                extend(i64::MAX),
                Transport {
                    duration_as: DurationAs::Float,
                    ..Transport::default()
                },
            ),
            |t| t.duration_as == DurationAs::Float,
            false,
            "",
        ),
        (
            op(
                0,
                extend(3600),
                Transport {
                    duration_as: DurationAs::Text,
                    encoding: Encoding::Form,
                    ..Transport::default()
                },
            ),
            |t| t.duration_as == DurationAs::Text,
            false,
            "",
        ),
    ];
    for (op, flag, shows, needle) in cases {
        let req = render_graph(&op, &page.setup, &page.creds);
        let got = decode(&op, &page);
        assert_eq!(got, canonical(&op, &page.setup, &page.creds), "{op}");
        assert_eq!(got.call, op.call, "{op}");
        assert_eq!(flag(&got.transport), shows, "{op}: {:?}", got.transport);
        if shows {
            let text = text_of(&req);
            assert!(text.contains(needle), "{op}: {needle} not in {text}");
        }
    }
}

/// The specific defects of the precise points survive the wire as such,
/// in every encoding (where JSON types are needed, JSON is forced).
#[test]
fn the_new_defects_round_trip_in_every_encoding() {
    let apps = vec![AppSpec {
        app_id: "7001".into(),
        name: "App".into(),
        human_agent: false,
        require_appsecret_proof: false,
    }];
    let page = Page {
        setup: Setup::new("8080".into(), 0, apps, None).unwrap(),
        creds: vec![AppCredentials {
            access_token: "EAA0".into(),
            app_secret: "s0".into(),
            webhook_url: String::new(),
        }],
    };
    let defects = [
        Defect::IdBoolean,
        Defect::IdFloat,
        Defect::IdObject,
        Defect::DurationFloat,
        Defect::DurationBool,
        Defect::DurationNull,
        Defect::TextAndAttachment,
        Defect::RecipientBare,
    ];
    let mut shown = 0;
    for defect in defects {
        for &edge in Edge::ALL {
            if !defect_applies(edge, defect) {
                continue;
            }
            for encoding in [Encoding::Json, Encoding::Form, Encoding::Query] {
                let op = GraphOp {
                    caller: Caller::App(AppIx(0)),
                    proof: Proof::Absent,
                    call: Call::Malformed { edge, defect },
                    transport: Transport {
                        encoding,
                        ..Transport::default()
                    },
                };
                let got = decode(&op, &page);
                assert_eq!(got.call, op.call, "{defect:?} on {edge:?} in {encoding:?}");
                shown += 1;
            }
        }
    }
    assert!(shown >= 8 * 3, "{shown}");
}
