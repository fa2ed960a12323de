//! What happens during app certification, as data: every decision of the
//! platform (the tool's stimuli and the app's own Graph calls, with the
//! state of the thread before and after) and every delivery to the app
//! under test with its answer, in one order (a sequence number shared by
//! the platform's decisions and the deliveries).
//!
//! The judge ([`super::judge`]) reads only this.

use crate::model::{AppIx, Channel, Event, Folder, Op, Outcome, Party, Psid, State};
use serde::{Deserialize, Serialize};

/// The thread an operation is about, as the rules need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadView {
    pub owner: Option<Party>,
    pub deadline_ms: u64,
    pub folder: Folder,
}

impl ThreadView {
    pub fn of(st: &State, psid: &str) -> Option<ThreadView> {
        st.thread(psid).map(|t| ThreadView {
            owner: t.owner,
            deadline_ms: t.deadline_ms,
            folder: t.folder,
        })
    }
}

/// How a delivery to the app under test was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// The platform's own delivery, signed with the app's secret.
    Platform,
    /// Several held deliveries sent as one (several entries).
    Batch,
    /// An earlier delivery's exact body again.
    Retry,
    /// A missing or wrong signature.
    Forged,
    /// A kind of event or field the app may have no use for.
    Unusual,
}

/// What the app under test answered to a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAnswer {
    Status(u16),
    /// No answer within the limit (20 s, Meta's).
    Timeout,
    /// The connection was refused or broke.
    Failed(String),
}

impl WebhookAnswer {
    pub fn is_2xx(&self) -> bool {
        matches!(self, WebhookAnswer::Status(s) if (200..300).contains(s))
    }
}

impl std::fmt::Display for WebhookAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookAnswer::Status(s) => write!(f, "HTTP {s}"),
            WebhookAnswer::Timeout => f.write_str("no answer within 20 s"),
            WebhookAnswer::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// The platform decided an operation: a stimulus of the tool (`by_app`
    /// false) or a Graph call of the app under test.
    Decided {
        seq: u64,
        by_app: bool,
        op: Op,
        /// The thread the entry is about: the operation's, or for a clock
        /// step one thread it lapsed (one entry per lapsed thread).
        psid: Option<Psid>,
        /// That thread before and after.
        before: Option<ThreadView>,
        after: Option<ThreadView>,
        /// The page's primary receiver at the time.
        primary: Option<AppIx>,
        outcome: Box<Outcome>,
    },
    /// A delivery to the app under test (recorded when it was sent) and
    /// what it answered.
    Delivered {
        seq: u64,
        kind: DeliveryKind,
        events: Vec<(Channel, Event)>,
        answer: WebhookAnswer,
        elapsed_ms: u64,
    },
}

impl Entry {
    pub fn seq(&self) -> u64 {
        match self {
            Entry::Decided { seq, .. } | Entry::Delivered { seq, .. } => *seq,
        }
    }

    /// The PSIDs the entry is about.
    pub fn psids(&self) -> Vec<&Psid> {
        match self {
            Entry::Decided { psid, .. } => psid.iter().collect(),
            Entry::Delivered { events, .. } => {
                let mut out: Vec<&Psid> = Vec::new();
                for (_, e) in events {
                    if let Some(p) = &e.psid
                        && !out.contains(&p)
                    {
                        out.push(p);
                    }
                }
                out
            }
        }
    }
}

/// The record of one case: its entries in order, and where each stimulus
/// began (the sequence number before it), so each entry belongs to the
/// reaction window of one stimulus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub entries: Vec<Entry>,
    /// `starts[i]`: the sequence number at which stimulus `i` began.
    pub starts: Vec<u64>,
    /// The app under test.
    pub app: AppIx,
    /// It declared the human-agent feature.
    pub human_agent: bool,
    /// Entries left out because the app flooded the platform.
    pub dropped: u64,
    /// The app was told it is the primary receiver before the case (by the
    /// `app_roles` of its group's configuration).
    pub primary_at_start: bool,
}

impl Record {
    /// The stimulus whose reaction window holds sequence number `seq`.
    pub fn stimulus_of(&self, seq: u64) -> usize {
        self.starts.iter().rposition(|s| *s <= seq).unwrap_or(0)
    }
}
