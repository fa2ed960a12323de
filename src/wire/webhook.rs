//! Webhook deliveries: model [`Event`]s as Messenger Platform JSON (server
//! side) and back (harness side).
//!
//! Each delivery belongs to one surface (IG-3): Messenger events go in
//! `{"object":"page"}` envelopes naming the page, Instagram events in
//! `{"object":"instagram"}` envelopes naming the linked Instagram account
//! (`entry[].id` and `recipient.id`), with the IGSID as `sender.id`.
//!
//! The model decides *what* each app hears on which channel; this module
//! only writes it down. One [`WireEvent`] struct covers every kind, with one
//! optional member per kind, because that is how the platform itself shapes
//! events: a receiver recognises an event by which member is present.
//! Reading back is strict about what the rules compare (kinds, ids, payloads,
//! metadata) and lenient about representation (ids as numbers or strings,
//! unknown members ignored), so that harmless differences between
//! implementations are not reported as deviations.

use super::ids;
use super::sign::{SIGNATURE_HEADER, signature_header};
use crate::model::{Channel, Event, EventKind, Party, Setup, Surface};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// `{"object":"page","entry":[…]}`, or `"object":"instagram"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub object: String,
    pub entry: Vec<EnvelopeEntry>,
}

/// One entry: the page (or Instagram account), a time, and its events on
/// one or both channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeEntry {
    #[serde(deserialize_with = "ids::id")]
    pub id: String,
    pub time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging: Option<Vec<WireEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<Vec<WireEvent>>,
}

/// `{"id":"…"}` (sender, recipient).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdField {
    #[serde(deserialize_with = "ids::id")]
    pub id: String,
}

/// One event; exactly one of the kind members is present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEvent {
    /// The user; absent for `app_roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<IdField>,
    pub recipient: Option<IdField>,
    pub timestamp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<WireMessage>,
    /// Beside `message` for an ad entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<WireReferral>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback: Option<WirePostback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_thread_control: Option<WirePass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_thread_control: Option<WireTake>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_thread_control: Option<WireRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_thread_metadata: Option<WirePassMetadata>,
    /// `{"<app id>":["primary_receiver" | "secondary_receiver"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_roles: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    pub mid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only when the user tapped a quick reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<WireQuickReply>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireQuickReply {
    pub payload: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireReferral {
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ad_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePostback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    pub title: String,
    /// Absent on `standby` (HOOK-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePass {
    #[serde(deserialize_with = "ids::id")]
    pub new_owner_app_id: String,
    /// Written as `null` when the thread was idle; never left out.
    #[serde(
        default,
        serialize_with = "ids::ser_opt",
        deserialize_with = "ids::opt_id"
    )]
    pub previous_owner_app_id: Option<String>,
    /// Absent when the caller gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTake {
    #[serde(deserialize_with = "ids::id")]
    pub previous_owner_app_id: String,
    #[serde(deserialize_with = "ids::id")]
    pub new_owner_app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRequest {
    #[serde(deserialize_with = "ids::id")]
    pub requested_owner_app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// `pass_thread_metadata` (PASS-7): `app_id` is the sending owner. The
/// shape is wire.md's decision; Meta never published one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePassMetadata {
    #[serde(deserialize_with = "ids::id")]
    pub app_id: String,
    pub metadata: String,
}

/// A delivery the harness could not read, or that names the wrong page or
/// an app the page does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookError(pub String);

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WebhookError {}

const PRIMARY: &str = "primary_receiver";
const SECONDARY: &str = "secondary_receiver";

/// The id a surface's deliveries name the page by: the page id, or the
/// Instagram account id (falling back to the page id on a page without
/// one, which the model never delivers Instagram events for).
fn surface_id(setup: &Setup, surface: Surface) -> &str {
    setup.surface_id(surface).unwrap_or(&setup.page_id)
}

/// A model event as the platform writes it.
pub fn event_to_wire(ev: &Event, setup: &Setup) -> WireEvent {
    let app = |p: Party| setup.party_id(p).to_string();
    let mut w = WireEvent {
        sender: ev.psid.clone().map(|id| IdField { id }),
        recipient: Some(IdField {
            id: surface_id(setup, ev.surface).to_string(),
        }),
        timestamp: ev.timestamp,
        ..WireEvent::default()
    };
    match &ev.kind {
        EventKind::Message {
            mid,
            text,
            quick_reply,
            ad_id,
        } => {
            w.message = Some(WireMessage {
                mid: mid.clone(),
                text: Some(text.clone()),
                quick_reply: quick_reply
                    .clone()
                    .map(|payload| WireQuickReply { payload }),
            });
            w.referral = ad_id.clone().map(|ad_id| WireReferral {
                source: "ADS".into(),
                kind: "OPEN_THREAD".into(),
                ad_id,
            });
        }
        EventKind::Postback {
            mid,
            title,
            payload,
        } => {
            w.postback = Some(WirePostback {
                mid: Some(mid.clone()),
                title: title.clone(),
                payload: payload.clone(),
            });
        }
        EventKind::PassThreadControl {
            new_owner,
            previous_owner,
            metadata,
        } => {
            w.pass_thread_control = Some(WirePass {
                new_owner_app_id: app(*new_owner),
                previous_owner_app_id: previous_owner.map(app),
                metadata: metadata.clone(),
            });
        }
        EventKind::TakeThreadControl {
            previous_owner,
            new_owner,
            metadata,
        } => {
            w.take_thread_control = Some(WireTake {
                previous_owner_app_id: app(*previous_owner),
                new_owner_app_id: app(*new_owner),
                metadata: metadata.clone(),
            });
        }
        EventKind::RequestThreadControl {
            requested_owner,
            metadata,
        } => {
            w.request_thread_control = Some(WireRequest {
                requested_owner_app_id: setup.app(*requested_owner).app_id.clone(),
                metadata: metadata.clone(),
            });
        }
        EventKind::PassThreadMetadata { app: a, metadata } => {
            w.pass_thread_metadata = Some(WirePassMetadata {
                app_id: setup.app(*a).app_id.clone(),
                metadata: metadata.clone(),
            });
        }
        EventKind::AppRoles { app: a, primary } => {
            let role = if *primary { PRIMARY } else { SECONDARY };
            w.app_roles = Some(BTreeMap::from([(
                setup.app(*a).app_id.clone(),
                vec![role.to_string()],
            )]));
        }
    }
    w
}

/// One envelope for one or more events of one surface, in order.
/// Consecutive events on the same channel share an entry; a change of
/// channel starts a new entry, so the order of events survives.
///
/// # Panics
///
/// When the events are of both surfaces: one delivery never mixes them
/// (IG-3). Split a batch with [`surface_runs`] first.
pub fn delivery_envelope(setup: &Setup, time_ms: u64, events: &[(Channel, Event)]) -> Envelope {
    let surface = events
        .first()
        .map_or(Surface::Messenger, |(_, e)| e.surface);
    assert!(
        events.iter().all(|(_, e)| e.surface == surface),
        "one delivery never mixes Messenger and Instagram events (IG-3)"
    );
    let id = surface_id(setup, surface);
    let mut entry: Vec<EnvelopeEntry> = Vec::new();
    let mut current: Option<Channel> = None;
    for (channel, ev) in events {
        let w = event_to_wire(ev, setup);
        if current != Some(*channel) {
            entry.push(EnvelopeEntry {
                id: id.to_string(),
                time: time_ms,
                messaging: None,
                standby: None,
            });
            current = Some(*channel);
        }
        let last = entry.last_mut().expect("an entry was just pushed");
        let list = match channel {
            Channel::Messaging => &mut last.messaging,
            Channel::Standby => &mut last.standby,
        };
        list.get_or_insert_with(Vec::new).push(w);
    }
    Envelope {
        object: surface.webhook_object().into(),
        entry,
    }
}

/// A batch cut into runs of consecutive events of one surface, in order:
/// each run is one delivery (IG-3).
pub fn surface_runs(events: &[(Channel, Event)]) -> impl Iterator<Item = &[(Channel, Event)]> {
    events.chunk_by(|(_, a), (_, b)| a.surface == b.surface)
}

/// The exact body bytes of a delivery (the bytes that get signed).
pub fn delivery_body(setup: &Setup, time_ms: u64, events: &[(Channel, Event)]) -> Vec<u8> {
    serde_json::to_vec(&delivery_envelope(setup, time_ms, events)).expect("envelopes serialize")
}

/// The headers of a delivery: JSON, signed with the receiving app's secret
/// (HOOK-4).
pub fn delivery_headers(app_secret: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        (SIGNATURE_HEADER.into(), signature_header(app_secret, body)),
    ]
}

/// A wire event of a `surface` delivery back in model terms, with app ids
/// resolved against the setup. `recipient.id` must name the page on
/// Messenger and the Instagram account on Instagram (IG-3).
pub fn event_from_wire(
    w: &WireEvent,
    setup: &Setup,
    surface: Surface,
) -> Result<Event, WebhookError> {
    let err = |m: String| Err(WebhookError(m));
    let expected = surface_id(setup, surface);
    if let Some(r) = &w.recipient
        && r.id != expected
    {
        return err(match surface {
            Surface::Messenger => format!("recipient.id {:?} is not the page {expected:?}", r.id),
            Surface::Instagram => format!(
                "recipient.id {:?} of an instagram delivery is not the Instagram account {expected:?} (IG-3)",
                r.id
            ),
        });
    }
    let party = |id: &str| {
        Party::from_ref(&setup.app_ref(id)).ok_or_else(|| {
            WebhookError(format!("{id:?} is neither an app of the page nor an inbox"))
        })
    };
    let mut kinds = Vec::new();
    if let Some(m) = &w.message {
        let Some(text) = &m.text else {
            return err("a message event without text".into());
        };
        kinds.push(EventKind::Message {
            mid: m.mid.clone(),
            text: text.clone(),
            quick_reply: m.quick_reply.as_ref().map(|q| q.payload.clone()),
            ad_id: w.referral.as_ref().map(|r| r.ad_id.clone()),
        });
    } else if w.referral.is_some() {
        return err("a referral without a message".into());
    }
    if let Some(p) = &w.postback {
        kinds.push(EventKind::Postback {
            mid: p.mid.clone().unwrap_or_default(),
            title: p.title.clone(),
            payload: p.payload.clone(),
        });
    }
    if let Some(p) = &w.pass_thread_control {
        kinds.push(EventKind::PassThreadControl {
            new_owner: party(&p.new_owner_app_id)?,
            previous_owner: p.previous_owner_app_id.as_deref().map(party).transpose()?,
            metadata: p.metadata.clone(),
        });
    }
    if let Some(t) = &w.take_thread_control {
        kinds.push(EventKind::TakeThreadControl {
            previous_owner: party(&t.previous_owner_app_id)?,
            new_owner: party(&t.new_owner_app_id)?,
            metadata: t.metadata.clone(),
        });
    }
    if let Some(r) = &w.request_thread_control {
        let Party::App(requested_owner) = party(&r.requested_owner_app_id)? else {
            return err("an inbox cannot request control".into());
        };
        kinds.push(EventKind::RequestThreadControl {
            requested_owner,
            metadata: r.metadata.clone(),
        });
    }
    if let Some(p) = &w.pass_thread_metadata {
        let Party::App(app) = party(&p.app_id)? else {
            return err("an inbox cannot pass thread metadata".into());
        };
        kinds.push(EventKind::PassThreadMetadata {
            app,
            metadata: p.metadata.clone(),
        });
    }
    if let Some(roles) = &w.app_roles {
        let mut it = roles.iter();
        let (Some((id, list)), None) = (it.next(), it.next()) else {
            return err(format!(
                "app_roles names {} apps; each app is told only its own role",
                roles.len()
            ));
        };
        let Party::App(app) = party(id)? else {
            return err("app_roles names an inbox".into());
        };
        let primary = match list.as_slice() {
            [r] if r == PRIMARY => true,
            [r] if r == SECONDARY => false,
            _ => return err(format!("app_roles role {list:?}")),
        };
        kinds.push(EventKind::AppRoles { app, primary });
    }
    let kind = match kinds.len() {
        1 => kinds.pop().expect("one kind"),
        0 => return err("an event of no known kind".into()),
        n => return err(format!("an event of {n} kinds at once")),
    };
    Ok(Event {
        psid: w.sender.as_ref().map(|s| s.id.clone()),
        surface,
        timestamp: w.timestamp,
        kind,
    })
}

/// A delivery body split into its events, in order (entry by entry;
/// within an entry, `messaging` before `standby`). `"object":"page"` is a
/// Messenger delivery naming the page; `"object":"instagram"` an Instagram
/// delivery naming the page's Instagram account. A delivery naming the
/// other surface's id anywhere (a mixed delivery) is refused (IG-3).
pub fn parse_delivery(body: &[u8], setup: &Setup) -> Result<Vec<(Channel, Event)>, WebhookError> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| WebhookError(format!("not a webhook envelope: {e}")))?;
    let surface = match Surface::from_webhook_object(&env.object) {
        Some(Surface::Instagram) if !setup.has_instagram() => {
            return Err(WebhookError(
                "object is \"instagram\" but the page has no Instagram account (IG-3)".into(),
            ));
        }
        Some(s) => s,
        None => {
            return Err(WebhookError(format!(
                "object is {:?}, not \"page\" or \"instagram\"",
                env.object
            )));
        }
    };
    let expected = surface_id(setup, surface);
    let mut out = Vec::new();
    for e in &env.entry {
        if e.id != expected {
            let other = setup.surface_id(surface.other());
            return Err(WebhookError(if other == Some(e.id.as_str()) {
                format!(
                    "entry.id {:?} names the {} surface in an \"object\":{:?} delivery: one delivery never mixes the surfaces (IG-3)",
                    e.id,
                    surface.other(),
                    env.object
                )
            } else {
                match surface {
                    Surface::Messenger => {
                        format!("entry.id {:?} is not the page {expected:?}", e.id)
                    }
                    Surface::Instagram => format!(
                        "entry.id {:?} is not the Instagram account {expected:?} (IG-3)",
                        e.id
                    ),
                }
            }));
        }
        for (channel, list) in [
            (Channel::Messaging, &e.messaging),
            (Channel::Standby, &e.standby),
        ] {
            for w in list.iter().flatten() {
                out.push((channel, event_from_wire(w, setup, surface)?));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppIx, AppSpec};
    use serde_json::{Value, json};

    fn setup() -> Setup {
        let app = |id: &str| AppSpec {
            app_id: id.into(),
            name: id.into(),
            human_agent: false,
            require_appsecret_proof: false,
        };
        Setup::new("500".into(), 0, vec![app("51"), app("52")], None).unwrap()
    }

    fn ev(psid: Option<&str>, kind: EventKind) -> Event {
        Event {
            psid: psid.map(String::from),
            timestamp: 1_700_000_000_123,
            kind,
            surface: Surface::Messenger,
        }
    }

    fn all_kinds() -> Vec<Event> {
        vec![
            ev(
                Some("7"),
                EventKind::Message {
                    mid: "m1".into(),
                    text: "hi".into(),
                    quick_reply: None,
                    ad_id: None,
                },
            ),
            ev(
                Some("7"),
                EventKind::Message {
                    mid: "m2".into(),
                    text: "yes".into(),
                    quick_reply: Some("Y".into()),
                    ad_id: None,
                },
            ),
            ev(
                Some("7"),
                EventKind::Message {
                    mid: "m3".into(),
                    text: "from ad".into(),
                    quick_reply: None,
                    ad_id: Some("ad9".into()),
                },
            ),
            ev(
                Some("7"),
                EventKind::Postback {
                    mid: "m4".into(),
                    title: "Go".into(),
                    payload: Some("GO".into()),
                },
            ),
            ev(
                Some("7"),
                EventKind::Postback {
                    mid: "m4".into(),
                    title: "Go".into(),
                    payload: None,
                },
            ),
            ev(
                Some("7"),
                EventKind::PassThreadControl {
                    new_owner: Party::App(AppIx(1)),
                    previous_owner: None,
                    metadata: None,
                },
            ),
            ev(
                Some("7"),
                EventKind::PassThreadControl {
                    new_owner: Party::App(AppIx(0)),
                    previous_owner: Some(Party::PageInbox),
                    metadata: Some(String::new()),
                },
            ),
            ev(
                Some("7"),
                EventKind::TakeThreadControl {
                    previous_owner: Party::App(AppIx(1)),
                    new_owner: Party::PageInbox,
                    metadata: Some("m".into()),
                },
            ),
            ev(
                Some("7"),
                EventKind::RequestThreadControl {
                    requested_owner: AppIx(0),
                    metadata: None,
                },
            ),
            ev(
                None,
                EventKind::AppRoles {
                    app: AppIx(1),
                    primary: true,
                },
            ),
            ev(
                None,
                EventKind::AppRoles {
                    app: AppIx(0),
                    primary: false,
                },
            ),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        let s = setup();
        for e in all_kinds() {
            let w = event_to_wire(&e, &s);
            let text = serde_json::to_string(&w).unwrap();
            let back: WireEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(
                event_from_wire(&back, &s, e.surface),
                Ok(e.clone()),
                "{text}"
            );
        }
    }

    #[test]
    fn shapes() {
        let s = setup();
        let k = all_kinds();
        let j = |e: &Event| serde_json::to_value(event_to_wire(e, &s)).unwrap();
        assert_eq!(
            j(&k[2]),
            json!({"sender": {"id": "7"}, "recipient": {"id": "500"},
                   "timestamp": 1_700_000_000_123u64,
                   "message": {"mid": "m3", "text": "from ad"},
                   "referral": {"source": "ADS", "type": "OPEN_THREAD", "ad_id": "ad9"}})
        );
        assert_eq!(j(&k[1])["message"]["quick_reply"], json!({"payload": "Y"}));
        assert!(j(&k[0])["message"].get("quick_reply").is_none());
        assert!(j(&k[4])["postback"].get("payload").is_none());
        let pass = j(&k[5]);
        assert_eq!(
            pass["pass_thread_control"],
            json!({"new_owner_app_id": "52", "previous_owner_app_id": null})
        );
        assert_eq!(
            j(&k[6])["pass_thread_control"]["previous_owner_app_id"],
            json!("263902037430900")
        );
        assert_eq!(j(&k[6])["pass_thread_control"]["metadata"], json!(""));
        let roles = j(&k[9]);
        assert!(roles.get("sender").is_none());
        assert_eq!(roles["app_roles"], json!({"52": ["primary_receiver"]}));
    }

    #[test]
    fn envelopes_keep_order_and_channels() {
        let s = setup();
        let k = all_kinds();
        let events = vec![
            (Channel::Messaging, k[0].clone()),
            (Channel::Messaging, k[3].clone()),
            (Channel::Standby, k[4].clone()),
            (Channel::Messaging, k[9].clone()),
        ];
        let body = delivery_body(&s, 42, &events);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["object"], json!("page"));
        assert_eq!(v["entry"].as_array().unwrap().len(), 3);
        assert_eq!(v["entry"][0]["messaging"].as_array().unwrap().len(), 2);
        assert!(v["entry"][1].get("messaging").is_none());
        assert_eq!(v["entry"][0]["time"], json!(42));
        assert_eq!(parse_delivery(&body, &s).unwrap(), events);

        let h = delivery_headers("sec", &body);
        assert!(crate::wire::sign::verify_signature("sec", &body, &h[1].1));
        assert_eq!(h[1].0, "X-Hub-Signature-256");
    }

    #[test]
    fn instagram_envelopes_name_the_instagram_account() {
        let s = setup().with_instagram(Some("178414".into())).unwrap();
        let mut e = all_kinds()[7].clone();
        e.surface = Surface::Instagram;
        let body = delivery_body(&s, 9, &[(Channel::Messaging, e.clone())]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["object"], json!("instagram"));
        assert_eq!(v["entry"][0]["id"], json!("178414"));
        let w = &v["entry"][0]["messaging"][0];
        assert_eq!(w["recipient"]["id"], json!("178414"));
        assert_eq!(w["sender"]["id"], json!("7"));
        assert_eq!(
            parse_delivery(&body, &s).unwrap(),
            vec![(Channel::Messaging, e.clone())]
        );
        // The page id in an Instagram delivery, or the Instagram account in
        // a page delivery: a mixed delivery, refused.
        let bad = |v: Value| parse_delivery(v.to_string().as_bytes(), &s).unwrap_err();
        let one = |object: &str, entry: &str, recipient: &str| {
            json!({"object": object, "entry": [{"id": entry, "time": 1, "messaging": [
                {"sender": {"id": "7"}, "recipient": {"id": recipient}, "timestamp": 1,
                 "postback": {"title": "t"}}]}]})
        };
        assert!(bad(one("instagram", "500", "500")).0.contains("IG-3"));
        assert!(bad(one("page", "178414", "178414")).0.contains("IG-3"));
        bad(one("instagram", "178414", "500"));
        bad(one("page", "500", "178414"));
        parse_delivery(
            one("instagram", "178414", "178414").to_string().as_bytes(),
            &s,
        )
        .unwrap();
        // Batches of both surfaces split into runs, in order.
        let m = all_kinds()[0].clone();
        let batch = vec![
            (Channel::Messaging, m.clone()),
            (Channel::Standby, e.clone()),
            (Channel::Messaging, e.clone()),
            (Channel::Messaging, m.clone()),
        ];
        let runs: Vec<usize> = surface_runs(&batch).map(<[_]>::len).collect();
        assert_eq!(runs, [1, 2, 1]);
    }

    #[test]
    #[should_panic(expected = "never mixes")]
    fn one_envelope_never_holds_both_surfaces() {
        let s = setup().with_instagram(Some("178414".into())).unwrap();
        let m = all_kinds()[0].clone();
        let mut e = m.clone();
        e.surface = Surface::Instagram;
        delivery_envelope(&s, 1, &[(Channel::Messaging, m), (Channel::Messaging, e)]);
    }

    #[test]
    fn lenient_reading_strict_meaning() {
        let s = setup();
        // Numeric ids; both channels in one entry; unknown members ignored.
        let body = json!({"object": "page", "entry": [{"id": 500, "time": 1,
            "messaging": [{"sender": {"id": 7}, "recipient": {"id": 500}, "timestamp": 3,
                "pass_thread_control": {"new_owner_app_id": 51, "extra": 1}}],
            "standby": [{"sender": {"id": "7"}, "recipient": {"id": "500"}, "timestamp": 4,
                "postback": {"title": "t"}}]}]});
        let got = parse_delivery(body.to_string().as_bytes(), &s).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, Channel::Messaging);
        assert_eq!(
            got[0].1.kind,
            EventKind::PassThreadControl {
                new_owner: Party::App(AppIx(0)),
                previous_owner: None,
                metadata: None
            }
        );
        assert_eq!(got[1].0, Channel::Standby);

        let bad = |v: Value| parse_delivery(v.to_string().as_bytes(), &s).unwrap_err();
        bad(json!({"object": "user", "entry": []}));
        bad(json!({"object": "page", "entry": [{"id": "501", "time": 1, "messaging": []}]}));
        let one = |e: Value| json!({"object": "page", "entry": [{"id": "500", "time": 1, "messaging": [e]}]});
        bad(one(json!({"recipient": {"id": "500"}, "timestamp": 1})));
        bad(one(json!({"recipient": {"id": "501"}, "timestamp": 1,
            "postback": {"title": "t"}})));
        bad(one(json!({"recipient": {"id": "500"}, "timestamp": 1,
            "request_thread_control": {"requested_owner_app_id": "99"}})));
        bad(one(json!({"recipient": {"id": "500"}, "timestamp": 1,
            "app_roles": {"51": ["primary_receiver"], "52": ["secondary_receiver"]}})));
        bad(one(json!({"recipient": {"id": "500"}, "timestamp": 1,
            "app_roles": {"51": ["owner"]}})));
        bad(one(
            json!({"sender": {"id": "7"}, "recipient": {"id": "500"}, "timestamp": 1,
            "message": {"mid": "m"}, "postback": {"title": "t"}}),
        ));
        bad(one(
            json!({"sender": {"id": "7"}, "recipient": {"id": "500"}, "timestamp": 1,
            "message": {"mid": "m"}}),
        ));
    }
}
