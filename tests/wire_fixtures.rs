//! Every sample in `fixtures/wire/` is read with the wire types, written
//! back and read again to the same value, and checked field by field, so a
//! change to a wire type that breaks a documented shape fails here. Every
//! row of `wire.md`'s error table must have a fixture.

use baton::model::{
    AppIx, AppSpec, Call, Channel, ControlSuccess, Edge, Encoding, EventKind, GraphError, GraphOp,
    GraphSuccess, INSTAGRAM_INBOX_APP_ID, Message, MessagingType, OwnerView, Party, Setup, Surface,
    TokenAt, Transport,
};
use baton::wire::control::{ControlRequest, InfoAnswer, TranscriptAnswer, parse_control_answer};
use baton::wire::{
    AppCredentials, Envelope, ErrorEnvelope, HttpParts, PageCredentials, PageKeys, RawRequest,
    decode_graph, delivery_envelope, parse_answer, parse_delivery, render_graph, render_success,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PAGE: &str = "1234567890";
const PSID: &str = "6000000000000001";
/// The Instagram account linked to the fixtures' page, and an IGSID.
const IG_ACCOUNT: &str = "17841400000000001";
const IGSID: &str = "7000000000000001";

/// The error table of `wire.md`: fixture name, code, subcode.
const ERROR_ROWS: &[(&str, u32, Option<u32>)] = &[
    ("error_not_owner_10_2018300", 10, Some(2018300)),
    ("error_already_owner_100", 100, None),
    ("error_idle_thread_100", 100, None),
    ("error_unknown_target_100_2018164", 100, Some(2018164)),
    ("error_no_primary_100", 100, None),
    ("error_unknown_psid_100_2018001", 100, Some(2018001)),
    ("error_invalid_parameter_100", 100, None),
    ("error_not_allowed_10", 10, None),
    ("error_human_agent_200", 200, None),
    ("error_no_token_104", 104, None),
    ("error_unknown_token_190", 190, None),
    ("error_appsecret_proof_100", 100, None),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wire")
}

fn setup() -> Setup {
    let app = |id: &str, name: &str| AppSpec {
        app_id: id.into(),
        name: name.into(),
        human_agent: false,
        require_appsecret_proof: false,
    };
    Setup::new(
        PAGE.into(),
        1_700_000_000_000,
        vec![
            app("1111", "Bot"),
            app("2222", "Help Desk"),
            app("3333", "Shop Bot"),
        ],
        Some("1111"),
    )
    .and_then(|s| s.with_instagram(Some(IG_ACCOUNT.into())))
    .unwrap()
}

fn creds() -> Vec<AppCredentials> {
    (0..3)
        .map(|i| AppCredentials {
            access_token: format!("tok{i}"),
            app_secret: format!("sec{i}"),
            webhook_url: String::new(),
        })
        .collect()
}

fn files() -> Vec<(String, String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir())
        .expect("fixtures/wire exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_string();
            let ext = p
                .extension()
                .map_or("", |e| e.to_str().unwrap())
                .to_string();
            (stem, ext, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Parses, writes back, parses again: the same value both times.
fn stable<T>(bytes: &[u8]) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let a: T = serde_json::from_slice(bytes).unwrap();
    let b: T = serde_json::from_slice(&serde_json::to_vec(&a).unwrap()).unwrap();
    assert_eq!(a, b);
    a
}

#[test]
fn every_fixture_reads_back_to_itself() {
    let files = files();
    assert!(files.len() >= 40, "only {} fixtures", files.len());
    for (stem, ext, bytes) in &files {
        let kind = stem.split('_').next().unwrap();
        match (kind, ext.as_str()) {
            ("webhook", "json") => webhook(stem, bytes),
            ("error", "json") => error(stem, bytes),
            ("success", "json") => success(stem, bytes),
            ("request", "json" | "txt") => request(stem, ext, bytes),
            ("control", "json") => control(stem, bytes),
            _ => panic!("fixture {stem}.{ext} is of no known kind"),
        }
    }
}

fn webhook(stem: &str, bytes: &[u8]) {
    let s = setup();
    let env: Envelope = stable(bytes);
    let instagram = stem.starts_with("webhook_instagram_");
    assert_eq!(env.object, if instagram { "instagram" } else { "page" });
    let events = parse_delivery(bytes, &s).unwrap_or_else(|e| panic!("{stem}: {e}"));
    let surface = if instagram {
        Surface::Instagram
    } else {
        Surface::Messenger
    };
    assert!(events.iter().all(|(_, e)| e.surface == surface), "{stem}");
    // Written again by our builder, the events read back the same, in an
    // envelope of the same object naming the same ids.
    let ours = delivery_envelope(&s, 1, &events);
    assert_eq!(ours.object, env.object, "{stem}");
    assert!(ours.entry.iter().all(|e| e.id == env.entry[0].id), "{stem}");
    let again = serde_json::to_vec(&ours).unwrap();
    assert_eq!(parse_delivery(&again, &s).unwrap(), events, "{stem}");
    // IG-3: the other object around the same entries is refused, as is the
    // right object on a page without an Instagram account.
    let mut raw: Value = serde_json::from_slice(bytes).unwrap();
    raw["object"] = Value::from(if instagram { "page" } else { "instagram" });
    let flipped = serde_json::to_vec(&raw).unwrap();
    assert!(
        parse_delivery(&flipped, &s).is_err(),
        "{stem}: object flipped"
    );
    if instagram {
        let plain = Setup {
            instagram_account_id: None,
            ..s.clone()
        };
        assert!(parse_delivery(bytes, &plain).is_err(), "{stem}: no account");
    }

    let (channel, ev) = &events[0];
    let app = |i| Party::App(AppIx(i));
    match stem {
        "webhook_batched" => {
            assert_eq!(env.entry.len(), 3);
            let channels: Vec<Channel> = events.iter().map(|(c, _)| *c).collect();
            use Channel::{Messaging as M, Standby as S};
            assert_eq!(channels, [M, M, S, M, S]);
            assert_eq!(events[1].1.psid.as_deref(), Some("6000000000000002"));
            // Numeric ids mean the same ids.
            assert_eq!(events[2].1.psid.as_deref(), Some("6000000000000003"));
            assert_eq!(
                events[3].1.kind,
                EventKind::PassThreadControl {
                    new_owner: app(1),
                    previous_owner: Some(app(0)),
                    metadata: None
                }
            );
        }
        "webhook_message_messaging" | "webhook_message_standby" => {
            let want = if stem.ends_with("standby") {
                Channel::Standby
            } else {
                Channel::Messaging
            };
            assert_eq!(*channel, want);
            assert_eq!(ev.psid.as_deref(), Some(PSID));
            assert_eq!(ev.timestamp, 1_700_000_000_000);
            assert!(
                matches!(&ev.kind, EventKind::Message { text, quick_reply: None, ad_id: None, .. } if text == "Hello there")
            );
        }
        "webhook_message_quick_reply" => {
            assert!(
                matches!(&ev.kind, EventKind::Message { quick_reply: Some(q), .. } if q == "YES")
            );
        }
        "webhook_postback_messaging" => {
            assert_eq!(*channel, Channel::Messaging);
            assert!(
                matches!(&ev.kind, EventKind::Postback { payload: Some(p), title, .. } if p == "HUMAN" && title == "Talk to a human")
            );
        }
        "webhook_postback_standby" => {
            assert_eq!(*channel, Channel::Standby);
            assert!(matches!(
                &ev.kind,
                EventKind::Postback { payload: None, .. }
            ));
        }
        "webhook_ad_entry_messaging" | "webhook_ad_entry_standby" => {
            assert!(
                matches!(&ev.kind, EventKind::Message { ad_id: Some(a), .. } if a == "6045246247433")
            );
            let raw: Value = serde_json::from_slice(bytes).unwrap();
            let ch = if stem.ends_with("standby") {
                "standby"
            } else {
                "messaging"
            };
            assert_eq!(raw["entry"][0][ch][0]["referral"]["source"], "ADS");
            assert_eq!(raw["entry"][0][ch][0]["referral"]["type"], "OPEN_THREAD");
        }
        "webhook_pass_thread_control" => assert_eq!(
            ev.kind,
            EventKind::PassThreadControl {
                new_owner: app(1),
                previous_owner: Some(app(0)),
                metadata: Some("escalated: billing question".into())
            }
        ),
        "webhook_pass_thread_control_from_idle" => {
            assert_eq!(
                ev.kind,
                EventKind::PassThreadControl {
                    new_owner: app(0),
                    previous_owner: None,
                    metadata: None
                }
            );
            // The null is written, never left out.
            let raw: Value = serde_json::from_slice(bytes).unwrap();
            let pass = &raw["entry"][0]["messaging"][0]["pass_thread_control"];
            assert!(
                pass.as_object()
                    .unwrap()
                    .contains_key("previous_owner_app_id")
            );
            let ours = serde_json::to_value(delivery_envelope(&s, 1, &events)).unwrap();
            let pass = &ours["entry"][0]["messaging"][0]["pass_thread_control"];
            assert_eq!(pass["previous_owner_app_id"], Value::Null);
            assert!(pass.get("metadata").is_none());
        }
        "webhook_pass_thread_control_from_inbox" => assert!(matches!(
            ev.kind,
            EventKind::PassThreadControl {
                previous_owner: Some(Party::PageInbox),
                ..
            }
        )),
        "webhook_take_thread_control" => assert_eq!(
            ev.kind,
            EventKind::TakeThreadControl {
                previous_owner: app(1),
                new_owner: app(0),
                metadata: Some(String::new())
            }
        ),
        "webhook_take_thread_control_by_inbox" => assert!(matches!(
            ev.kind,
            EventKind::TakeThreadControl {
                new_owner: Party::PageInbox,
                metadata: None,
                ..
            }
        )),
        "webhook_request_thread_control" => assert_eq!(
            ev.kind,
            EventKind::RequestThreadControl {
                requested_owner: AppIx(2),
                metadata: Some("customer asked for an order status".into())
            }
        ),
        // PASS-7: the owner (the primary, 1111) hands context to an app.
        "webhook_pass_thread_metadata" => assert_eq!(
            ev.kind,
            EventKind::PassThreadMetadata {
                app: AppIx(0),
                metadata: "asked for a human; agents back at 09:00".into()
            }
        ),
        "webhook_instagram_message_messaging" | "webhook_instagram_message_standby" => {
            let want = if stem.ends_with("standby") {
                Channel::Standby
            } else {
                Channel::Messaging
            };
            assert_eq!(*channel, want);
            assert_eq!(ev.psid.as_deref(), Some(IGSID));
            assert!(
                matches!(&ev.kind, EventKind::Message { text, quick_reply: None, ad_id: None, .. } if text == "Is this still available?")
            );
            let raw: Value = serde_json::from_slice(bytes).unwrap();
            let ch = want.as_str();
            assert_eq!(raw["entry"][0]["id"], IG_ACCOUNT);
            assert_eq!(raw["entry"][0][ch][0]["recipient"]["id"], IG_ACCOUNT);
            assert_eq!(raw["entry"][0][ch][0]["sender"]["id"], IGSID);
        }
        "webhook_instagram_postback_standby" => {
            assert_eq!(*channel, Channel::Standby);
            assert!(matches!(
                &ev.kind,
                EventKind::Postback { payload: None, title, .. } if title == "Book a call"
            ));
        }
        "webhook_instagram_pass_thread_control_from_inbox" => {
            assert_eq!(
                ev.kind,
                EventKind::PassThreadControl {
                    new_owner: app(0),
                    previous_owner: Some(Party::InstagramInbox),
                    metadata: None
                }
            );
            // Handover events name the Instagram account as recipient too.
            let ours = serde_json::to_value(delivery_envelope(&s, 1, &events)).unwrap();
            let e = &ours["entry"][0]["messaging"][0];
            assert_eq!(e["recipient"]["id"], IG_ACCOUNT);
            assert_eq!(e["sender"]["id"], IGSID);
            assert_eq!(
                e["pass_thread_control"]["previous_owner_app_id"],
                INSTAGRAM_INBOX_APP_ID
            );
        }
        "webhook_instagram_take_thread_control_by_inbox" => assert_eq!(
            ev.kind,
            EventKind::TakeThreadControl {
                previous_owner: app(1),
                new_owner: Party::InstagramInbox,
                metadata: Some("admin stepped in".into()),
            }
        ),
        "webhook_app_roles_primary" | "webhook_app_roles_secondary" => {
            let primary = stem.ends_with("primary");
            let want = if primary { AppIx(0) } else { AppIx(1) };
            assert_eq!(ev.psid, None);
            assert_eq!(ev.kind, EventKind::AppRoles { app: want, primary });
        }
        _ => panic!("no checks for {stem}"),
    }
}

fn error(stem: &str, bytes: &[u8]) {
    let env: ErrorEnvelope = stable(bytes);
    let &(_, code, subcode) = ERROR_ROWS
        .iter()
        .find(|(name, ..)| *name == stem)
        .unwrap_or_else(|| panic!("{stem} is no row of the error table"));
    assert_eq!(env.error.code, code, "{stem}");
    assert_eq!(env.error.error_subcode, subcode, "{stem}");
    assert_eq!(env.error.kind, "OAuthException");
    assert!(!env.error.fbtrace_id.is_empty());
    // "absent where the table says —": absent, not null.
    let raw: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(
        raw["error"].get("error_subcode").is_some(),
        subcode.is_some()
    );
    let written = serde_json::to_value(&env).unwrap();
    assert_eq!(written, raw, "{stem} is written back byte-equivalent");

    let headers = if code == 190 {
        vec![(
            "WWW-Authenticate".to_string(),
            baton::wire::www_authenticate(&env.error.message),
        )]
    } else {
        vec![]
    };
    let obs = parse_answer(Edge::Messages, 400, &headers, bytes, &setup()).unwrap();
    let want = GraphError {
        status: 400,
        code,
        subcode,
        www_authenticate: code == 190,
    };
    assert!(obs.matches(&Err(want)), "{stem}: {obs:?}");
    assert_eq!(obs.answer, Err(want));
}

fn success(stem: &str, bytes: &[u8]) {
    let s = setup();
    let (edge, want) = match stem {
        "success_send" => (
            Edge::Messages,
            GraphSuccess::Sent {
                recipient_id: PSID.into(),
                message_id: "m_AbC123".into(),
            },
        ),
        "success_handover" => (Edge::PassThreadControl, GraphSuccess::Success),
        "success_thread_owner" => (
            Edge::ThreadOwner,
            GraphSuccess::ThreadOwner(Some(OwnerView {
                app_id: Some(Party::App(AppIx(0))),
                expiration: 1_700_086_400,
            })),
        ),
        "success_thread_owner_hidden" => (
            Edge::ThreadOwner,
            GraphSuccess::ThreadOwner(Some(OwnerView {
                app_id: None,
                expiration: 1_700_086_400,
            })),
        ),
        "success_thread_owner_idle" => (Edge::ThreadOwner, GraphSuccess::ThreadOwner(None)),
        "success_secondary_receivers" => (
            Edge::SecondaryReceivers,
            GraphSuccess::SecondaryReceivers(vec![AppIx(1), AppIx(2)]),
        ),
        "success_menu" => (Edge::MessengerProfile, GraphSuccess::Result),
        _ => panic!("no checks for {stem}"),
    };
    let obs = parse_answer(edge, 200, &[], bytes, &s).unwrap();
    assert_eq!(obs.answer, Ok(want.clone()), "{stem}");
    // Our rendering of the same answer is the fixture.
    let raw: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(render_success(&want, &s), raw, "{stem}");
}

fn request(stem: &str, ext: &str, bytes: &[u8]) {
    let s = setup();
    let c = creds();
    let keys = PageKeys {
        setup: &s,
        apps: &c,
    };
    let edge = Edge::ALL
        .iter()
        .copied()
        .filter(|e| stem.starts_with(&format!("request_{}", e.as_str())))
        .max_by_key(|e| e.as_str().len())
        .unwrap_or_else(|| panic!("{stem} names no edge"));
    let (content_type, encoding) = match ext {
        "json" => ("application/json", Encoding::Json),
        _ => ("application/x-www-form-urlencoded", Encoding::Form),
    };
    // Files end with a newline; a client would not send it.
    let body = bytes.trim_ascii_end();
    if ext == "json" {
        let _: Value = stable(body);
    }
    let path = format!("/v19.0/me/{}", edge.as_str());
    let raw = RawRequest::parse(&HttpParts {
        method: "POST",
        path: &path,
        query: "access_token=tok1",
        headers: vec![],
        content_type: Some(content_type),
        body,
    });
    let op = decode_graph(&raw, Some(&keys as &dyn PageCredentials));
    assert_eq!(op.caller, baton::model::Caller::App(AppIx(1)));
    assert_eq!(op.transport.encoding, encoding);
    let psid = || PSID.to_string();
    let want = match stem {
        "request_messages_text" => Call::Send {
            psid: psid(),
            messaging_type: MessagingType::Response,
            tag: None,
            message: Message::Text {
                text: "Pick one".into(),
                quick_replies: Some(vec![
                    baton::model::Choice {
                        title: "Red".into(),
                        payload: "RED".into(),
                    },
                    baton::model::Choice {
                        title: "Blue".into(),
                        payload: "BLUE".into(),
                    },
                ]),
            },
        },
        "request_messages_buttons" => Call::Send {
            psid: psid(),
            messaging_type: MessagingType::Update,
            tag: None,
            message: Message::Buttons {
                text: "Need help?".into(),
                buttons: vec![baton::model::Choice {
                    title: "Talk to a human".into(),
                    payload: "HUMAN".into(),
                }],
            },
        },
        "request_messages_survey" => Call::Send {
            psid: psid(),
            messaging_type: MessagingType::MessageTag,
            tag: Some("HUMAN_AGENT".into()),
            message: Message::Survey {
                title: Some("Rate our service".into()),
            },
        },
        "request_messages_form" => Call::Send {
            psid: psid(),
            messaging_type: MessagingType::Response,
            tag: None,
            message: Message::Text {
                text: "Hello from a form".into(),
                quick_replies: None,
            },
        },
        "request_pass_thread_control_form" => Call::Pass {
            psid: psid(),
            target: Some(baton::model::AppRef::PageInbox),
            metadata: Some("over to a human".into()),
        },
        "request_pass_thread_metadata" => Call::PassMetadata {
            psid: psid(),
            target: baton::model::AppRef::App(AppIx(2)),
            metadata: "order 4471 is late; agents back at 09:00".into(),
        },
        "request_extend_thread_control_form" => Call::Extend {
            psid: psid(),
            duration: 3600,
        },
        "request_messenger_profile" => Call::SetPageMenu {
            items: vec![
                baton::model::Choice {
                    title: "Talk to an agent".into(),
                    payload: "AGENT".into(),
                },
                baton::model::Choice {
                    title: "Restart".into(),
                    payload: "RESTART".into(),
                },
            ],
            platform: None,
        },
        "request_messenger_profile_instagram" => Call::SetPageMenu {
            items: vec![baton::model::Choice {
                title: "Book a call".into(),
                payload: "BOOK".into(),
            }],
            platform: Some("instagram".into()),
        },
        "request_custom_user_settings_form" => Call::SetUserMenu {
            psid: psid(),
            items: vec![baton::model::Choice {
                title: "Human".into(),
                payload: "HUMAN".into(),
            }],
        },
        _ => panic!("no checks for {stem}"),
    };
    assert_eq!(op.call, want, "{stem}");
    // Rendered again (same encoding), it decodes to the same call.
    let again = GraphOp {
        transport: Transport {
            encoding,
            token_at: TokenAt::Body,
            ..Transport::default()
        },
        ..op.clone()
    };
    let req = render_graph(&again, &s, &c);
    let back = decode_graph(
        &RawRequest::parse(&req.parts()),
        Some(&keys as &dyn PageCredentials),
    );
    assert_eq!(back, again, "{stem}");
}

fn control(stem: &str, bytes: &[u8]) {
    match stem {
        "control_info" => {
            let info: InfoAnswer = stable(bytes);
            assert_eq!(info.profiles, ["hop"]);
            assert_eq!(
                info.features.iter().map(String::as_str).collect::<Vec<_>>(),
                baton::wire::control::ALL_FEATURES
            );
        }
        "control_transcript" => {
            let t: TranscriptAnswer = stable(bytes);
            let s = setup();
            let entries: Vec<_> = t.data.iter().map(|i| i.to_entry(&s).unwrap()).collect();
            assert_eq!(entries[0].from, Party::App(AppIx(0)));
            assert_eq!(entries[1].from, Party::PageInbox);
            assert_eq!(entries[2].kind, baton::model::MessageKind::Survey);
        }
        "control_transcript_instagram" => {
            // Instagram Inbox replies name the Instagram Inbox.
            let t: TranscriptAnswer = stable(bytes);
            let s = setup();
            let entries: Vec<_> = t.data.iter().map(|i| i.to_entry(&s).unwrap()).collect();
            assert_eq!(entries[0].from, Party::App(AppIx(0)));
            assert_eq!(entries[1].from, Party::InstagramInbox);
            let back: Vec<_> = entries
                .iter()
                .map(|e| baton::wire::control::TranscriptItem::from_entry(e, &s))
                .collect();
            assert_eq!(back, t.data);
        }
        _ => {
            let route = stem
                .strip_prefix("control_")
                .unwrap()
                .split("_message")
                .next()
                .unwrap();
            let route = ["user_event", "reset", "roles", "inbox", "clock"]
                .into_iter()
                .find(|r| route.starts_with(r))
                .unwrap_or_else(|| panic!("{stem} names no control route"));
            let req = ControlRequest::parse("POST", route, "", bytes.trim_ascii_end())
                .unwrap_or_else(|e| panic!("{stem}: {e}"));
            assert_eq!(req.page_id(), Some(PAGE), "{stem}");
            // Written back by our types, it parses to the same request.
            let body = req.body().unwrap().to_string();
            assert_eq!(
                ControlRequest::parse("POST", route, "", body.as_bytes()),
                Ok(req.clone())
            );
            match &req {
                ControlRequest::Reset(r) => {
                    let (setup, creds) = r.to_setup().unwrap();
                    let want = stem.ends_with("_instagram").then_some(IG_ACCOUNT);
                    assert_eq!(setup.instagram_account_id.as_deref(), want, "{stem}");
                    assert_eq!(setup.primary, Some(AppIx(0)));
                    assert!(setup.apps[0].require_appsecret_proof);
                    assert!(setup.apps[1].human_agent);
                    assert!(!setup.apps[2].human_agent);
                    assert_eq!(creds[2].webhook_url, "http://127.0.0.1:8081/shop");
                    assert!(!format!("{req:?}").contains("fixture-secret"));
                }
                ControlRequest::Roles(r) => assert_eq!(r.primary_receiver, None),
                ControlRequest::Clock(c) => assert_eq!(c.advance_ms, 86_400_000),
                ControlRequest::Inbox(i) => {
                    assert_eq!(i.text.as_deref(), Some("A person here"));
                    let want = if stem.contains("instagram") {
                        Surface::Instagram
                    } else {
                        Surface::Messenger
                    };
                    assert_eq!(i.platform, want);
                }
                ControlRequest::UserEvent(_) if stem.contains("instagram") => {
                    let op = req.to_op(&baton::model::State::new(setup())).unwrap();
                    let op = op.unwrap();
                    assert_eq!(op.platform(), Some(Surface::Instagram), "{stem}");
                    assert_eq!(op.psid().map(String::as_str), Some(IGSID));
                }
                ControlRequest::UserEvent(_) => {}
                other => panic!("{stem}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn every_error_row_has_a_fixture() {
    let present: BTreeSet<String> = files()
        .into_iter()
        .filter(|(_, ext, _)| ext == "json")
        .map(|(stem, ..)| stem)
        .filter(|s| s.starts_with("error_"))
        .collect();
    let table: BTreeSet<String> = ERROR_ROWS.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(present, table);
    // Each name carries its code and subcode.
    for (name, code, sub) in ERROR_ROWS {
        let suffix = match sub {
            Some(s) => format!("_{code}_{s}"),
            None => format!("_{code}"),
        };
        assert!(name.ends_with(&suffix), "{name}");
    }
}

/// When the spec is beside the repository (as for developers and CI), its
/// error table has exactly the rows above.
#[test]
fn error_rows_match_the_spec() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/wire.md");
    let Ok(text) = std::fs::read_to_string(&spec) else {
        eprintln!("{} not found; skipping the cross-check", spec.display());
        return;
    };
    let mut rows: Vec<(u32, Option<u32>)> = text
        .lines()
        .skip_while(|l| !l.starts_with("| Cause | code | subcode"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells[cells.len() - 4].parse().unwrap();
            let sub = cells[cells.len() - 3].parse().ok();
            (code, sub)
        })
        .collect();
    let mut ours: Vec<(u32, Option<u32>)> = ERROR_ROWS.iter().map(|&(_, c, s)| (c, s)).collect();
    rows.sort();
    ours.sort();
    assert_eq!(rows, ours);
}

#[test]
fn control_answers_parse() {
    assert_eq!(
        parse_control_answer(200, br#"{"ok":true,"mid":"m_1"}"#),
        Ok(Ok(ControlSuccess::Mid("m_1".into())))
    );
}
