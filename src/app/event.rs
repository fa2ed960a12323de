//! Webhook deliveries as the reference app reads them: its own lenient serde
//! types (as a standalone bot would have), turned into a flat list of
//! [`Incoming`] events in delivery order.
//!
//! Lenient on purpose (APP-3): unknown members are ignored, ids may be
//! numbers or strings, an event of a kind it does not know becomes
//! [`Kind::Unknown`], and a postback without `payload` (a standby copy,
//! HOOK-2) is kept as such. Only a body that is not a delivery at all is an
//! error.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Which list an event came in: `messaging` (the app owns the thread, or
/// it is idle with no primary receiver, or the event is addressed to the
/// app) or `standby` (another owner holds the thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Messaging,
    Standby,
}

/// One event of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub channel: Channel,
    /// The user (`sender.id`); `None` for `app_roles`.
    pub psid: Option<String>,
    /// The platform's clock when it happened, in ms.
    pub timestamp: u64,
    pub kind: Kind,
    /// It came in an `"object":"instagram"` delivery: the user is an
    /// IGSID, and a person answers in the Instagram Inbox (IG-2, IG-3).
    pub instagram: bool,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The user wrote (or tapped a quick reply, or came from an ad).
    Message {
        text: String,
        quick_reply: Option<String>,
        /// A Click-to-Messenger ad entry (`referral` beside `message`).
        ad_entry: bool,
    },
    /// The user tapped a button or a menu item; no payload on standby.
    Postback { payload: Option<String> },
    /// Control was passed (to this app: PASS-1, REQ-2, INBOX-4).
    Pass {
        new_owner: Option<String>,
        previous_owner: Option<String>,
    },
    /// Control was taken from this app (TAKE-2, INBOX-1).
    Take { new_owner: Option<String> },
    /// Another app asks this app for control (REQ-1).
    Request { requester: String },
    /// Another app handed context over (PASS-7).
    PassMetadata,
    /// This app's role: primary receiver or not (PRI-5). `None` when the
    /// event does not name this app.
    Roles { primary: Option<bool> },
    /// An event kind the app has no use for.
    Unknown,
}

impl Kind {
    /// A user event or a handover event: what APP-1 calls ordinary.
    pub fn is_ordinary(&self) -> bool {
        !matches!(
            self,
            Kind::Roles { .. } | Kind::PassMetadata | Kind::Unknown
        )
    }
}

impl fmt::Display for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.psid.as_deref().unwrap_or("the page");
        let channel = match self.channel {
            Channel::Messaging => "messaging",
            Channel::Standby => "standby",
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
        match &self.kind {
            Kind::Message {
                text,
                quick_reply,
                ad_entry,
            } => {
                write!(f, "{who} on {channel}: message {text:?}")?;
                if let Some(q) = quick_reply {
                    write!(f, " (quick reply {q})")?;
                }
                if *ad_entry {
                    write!(f, " (ad entry)")?;
                }
                Ok(())
            }
            Kind::Postback { payload } => {
                write!(f, "{who} on {channel}: postback {}", opt(payload))
            }
            Kind::Pass {
                new_owner,
                previous_owner,
            } => write!(
                f,
                "{who} on {channel}: pass_thread_control from {} to {}",
                opt(previous_owner),
                opt(new_owner)
            ),
            Kind::Take { new_owner } => write!(
                f,
                "{who} on {channel}: take_thread_control by {}",
                opt(new_owner)
            ),
            Kind::Request { requester } => write!(
                f,
                "{who} on {channel}: request_thread_control by {requester}"
            ),
            Kind::PassMetadata => write!(f, "{who} on {channel}: pass_thread_metadata"),
            Kind::Roles { primary: Some(p) } => write!(
                f,
                "app_roles: {}",
                if *p {
                    "primary receiver"
                } else {
                    "secondary receiver"
                }
            ),
            Kind::Roles { primary: None } => write!(f, "app_roles naming another app"),
            Kind::Unknown => write!(f, "{who} on {channel}: an event it does not know"),
        }
    }
}

/// A delivery's shape, for the mutant that refuses unusual ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub events: Vec<Incoming>,
    pub entries: usize,
}

/// An id: a JSON string or number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl Id {
    fn into_string(self) -> String {
        match self {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    messaging: Vec<Value>,
    #[serde(default)]
    standby: Vec<Value>,
}

#[derive(Deserialize)]
struct Party {
    id: Id,
}

#[derive(Deserialize)]
struct RawEvent {
    sender: Option<Party>,
    #[serde(default)]
    timestamp: u64,
    message: Option<RawMessage>,
    referral: Option<Value>,
    postback: Option<RawPostback>,
    pass_thread_control: Option<RawHandover>,
    take_thread_control: Option<RawHandover>,
    request_thread_control: Option<RawRequest>,
    pass_thread_metadata: Option<Value>,
    app_roles: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
struct RawMessage {
    text: Option<String>,
    quick_reply: Option<RawQuickReply>,
}

#[derive(Deserialize)]
struct RawQuickReply {
    payload: Option<String>,
}

#[derive(Deserialize)]
struct RawPostback {
    payload: Option<String>,
}

#[derive(Deserialize)]
struct RawHandover {
    new_owner_app_id: Option<Id>,
    previous_owner_app_id: Option<Id>,
}

#[derive(Deserialize)]
struct RawRequest {
    requested_owner_app_id: Option<Id>,
}

/// Reads a delivery body. `app_id` is this app's, to read `app_roles`.
/// Events keep their order: entries in order, and within an entry
/// `messaging` before `standby` (the platform never puts both in one entry
/// for one user).
pub fn parse_delivery(body: &[u8], app_id: &str) -> Result<Delivery, String> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("not a webhook delivery: {e}"))?;
    let entries = env.entry.len();
    let instagram = env.object.as_deref() == Some("instagram");
    let mut events = Vec::new();
    for entry in env.entry {
        let lists = [
            (Channel::Messaging, entry.messaging),
            (Channel::Standby, entry.standby),
        ];
        for (channel, list) in lists {
            for v in list {
                let mut e = event(channel, v, app_id);
                e.instagram = instagram;
                events.push(e);
            }
        }
    }
    Ok(Delivery { events, entries })
}

fn event(channel: Channel, v: Value, app_id: &str) -> Incoming {
    let unknown = |timestamp| Incoming {
        channel,
        psid: None,
        timestamp,
        kind: Kind::Unknown,
        instagram: false,
    };
    let timestamp = v.get("timestamp").and_then(Value::as_u64).unwrap_or(0);
    let Ok(raw) = serde_json::from_value::<RawEvent>(v) else {
        return unknown(timestamp);
    };
    let psid = raw.sender.map(|p| p.id.into_string());
    let kind = if let Some(m) = raw.message {
        Kind::Message {
            text: m.text.unwrap_or_default(),
            quick_reply: m.quick_reply.and_then(|q| q.payload),
            ad_entry: raw.referral.is_some(),
        }
    } else if let Some(p) = raw.postback {
        Kind::Postback { payload: p.payload }
    } else if let Some(p) = raw.pass_thread_control {
        Kind::Pass {
            new_owner: p.new_owner_app_id.map(Id::into_string),
            previous_owner: p.previous_owner_app_id.map(Id::into_string),
        }
    } else if let Some(t) = raw.take_thread_control {
        Kind::Take {
            new_owner: t.new_owner_app_id.map(Id::into_string),
        }
    } else if let Some(r) = raw.request_thread_control {
        match r.requested_owner_app_id {
            Some(id) => Kind::Request {
                requester: id.into_string(),
            },
            None => Kind::Unknown,
        }
    } else if raw.pass_thread_metadata.is_some() {
        Kind::PassMetadata
    } else if let Some(roles) = raw.app_roles {
        let primary = roles.get(app_id).map(|list| {
            list.as_array()
                .is_some_and(|l| l.iter().any(|r| r == "primary_receiver"))
        });
        Kind::Roles { primary }
    } else {
        Kind::Unknown
    };
    // Only app_roles comes without a user.
    if psid.is_none() && !matches!(kind, Kind::Roles { .. }) {
        return unknown(raw.timestamp);
    }
    Incoming {
        channel,
        psid,
        timestamp: raw.timestamp,
        kind,
        instagram: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(ev: Value) -> Incoming {
        let body = json!({"object":"page","entry":[{"id":"1","time":5,"messaging":[ev]}]});
        let d = parse_delivery(body.to_string().as_bytes(), "77").unwrap();
        assert_eq!(d.events.len(), 1);
        d.events.into_iter().next().unwrap()
    }

    fn user(extra: Value) -> Value {
        let mut ev = json!({"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":1000});
        for (k, v) in extra.as_object().unwrap() {
            ev[k] = v.clone();
        }
        ev
    }

    #[test]
    fn ig_3_an_instagram_delivery_marks_its_events() {
        let body = br#"{"object":"instagram","entry":[{"id":"178","time":5,"messaging":[
            {"sender":{"id":"77"},"recipient":{"id":"178"},"timestamp":5,"message":{"mid":"m","text":"hi"}}]}]}"#;
        let d = parse_delivery(body, "1001").unwrap();
        assert!(d.events[0].instagram, "{:?}", d.events);
        let body = br#"{"object":"page","entry":[{"id":"1","time":5,"messaging":[
            {"sender":{"id":"77"},"recipient":{"id":"1"},"timestamp":5,"message":{"mid":"m","text":"hi"}}]}]}"#;
        assert!(!parse_delivery(body, "1001").unwrap().events[0].instagram);
    }

    #[test]
    fn app_3_every_kind_reads_and_unknown_ones_are_kept_as_unknown() {
        let m = one(user(
            json!({"message":{"mid":"m","text":"hi","quick_reply":{"payload":"P"}}}),
        ));
        assert_eq!(m.psid.as_deref(), Some("42"));
        assert_eq!(m.timestamp, 1000);
        assert_eq!(
            m.kind,
            Kind::Message {
                text: "hi".into(),
                quick_reply: Some("P".into()),
                ad_entry: false
            }
        );
        let ad = one(user(
            json!({"message":{"mid":"m","text":"x"},"referral":{"source":"ADS"}}),
        ));
        assert!(matches!(ad.kind, Kind::Message { ad_entry: true, .. }));
        let pb = one(user(json!({"postback":{"mid":"m","title":"T"}})));
        assert_eq!(pb.kind, Kind::Postback { payload: None });
        let pass = one(user(json!({"pass_thread_control":
            {"new_owner_app_id": 77, "previous_owner_app_id": null, "metadata":"m"}})));
        assert_eq!(
            pass.kind,
            Kind::Pass {
                new_owner: Some("77".into()),
                previous_owner: None
            }
        );
        let take = one(user(json!({"take_thread_control":
            {"new_owner_app_id":"263902037430900","previous_owner_app_id":"77"}})));
        assert_eq!(
            take.kind,
            Kind::Take {
                new_owner: Some("263902037430900".into())
            }
        );
        let req = one(user(
            json!({"request_thread_control":{"requested_owner_app_id":"88"}}),
        ));
        assert_eq!(
            req.kind,
            Kind::Request {
                requester: "88".into()
            }
        );
        let meta = one(user(
            json!({"pass_thread_metadata":{"app_id":"88","metadata":"ctx"}}),
        ));
        assert_eq!(meta.kind, Kind::PassMetadata);
        let roles = one(json!({"recipient":{"id":"1"},"timestamp":7,
            "app_roles":{"77":["primary_receiver"]}}));
        assert_eq!(roles.psid, None);
        assert_eq!(
            roles.kind,
            Kind::Roles {
                primary: Some(true)
            }
        );
        let other = one(json!({"recipient":{"id":"1"},"timestamp":7,
            "app_roles":{"78":["primary_receiver"]}}));
        assert_eq!(other.kind, Kind::Roles { primary: None });
        let odd = one(user(json!({"reaction":{"emoji":"x"},"extra":[1,2]})));
        assert_eq!(odd.kind, Kind::Unknown);
        let bad_types = one(json!({"sender":{"id":true},"timestamp":"x","message":5}));
        assert_eq!(bad_types.kind, Kind::Unknown);
        assert!(!odd.kind.is_ordinary() && m.kind.is_ordinary() && req.kind.is_ordinary());
        assert_eq!(
            m.to_string(),
            "42 on messaging: message \"hi\" (quick reply P)"
        );
        assert_eq!(roles.to_string(), "app_roles: primary receiver");
    }

    #[test]
    fn app_3_batches_keep_their_order_and_count_entries() {
        let body = json!({"object":"page","entry":[
            {"id":"1","time":5,"messaging":[user(json!({"message":{"mid":"a","text":"one"}}))]},
            {"id":"1","time":6,"standby":[user(json!({"message":{"mid":"b","text":"two"}}))],
             "unknown_member": {}}
        ]});
        let d = parse_delivery(body.to_string().as_bytes(), "77").unwrap();
        assert_eq!(d.entries, 2);
        let channels: Vec<_> = d.events.iter().map(|e| e.channel).collect();
        assert_eq!(channels, vec![Channel::Messaging, Channel::Standby]);
        assert!(parse_delivery(b"not json", "77").is_err());
        assert_eq!(
            parse_delivery(br#"{"object":"page"}"#, "77")
                .unwrap()
                .events,
            vec![]
        );
    }
}
