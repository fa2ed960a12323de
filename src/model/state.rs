//! The model's state: one page, its apps, threads, menus, primary receiver
//! and clock. Servers and harnesses keep one [`State`] per page.
//!
//! The state holds no credentials: tokens, app secrets and webhook URLs
//! belong to the shell (server, driver), so the model can be logged,
//! serialized and snapshotted without leaking anything.

use super::op::{
    AppIx, AppRef, Call, Caller, Choice, GraphOp, PAGE_INBOX_APP_ID, Proof, Psid, Transport,
};
use super::outcome::{Party, TranscriptEntry};
use super::surface::{INSTAGRAM_INBOX_APP_ID, Surface};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// 24 hours in milliseconds (EXP-1).
pub const DAY_MS: u64 = 86_400_000;
/// The longest extension, in seconds (EXP-2).
pub const MAX_EXTEND_S: i64 = 604_800;
/// The longest `metadata` string, in characters.
pub const MAX_METADATA_CHARS: usize = 1000;
/// The longest text message, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// A subscribed app, as far as the rules care.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    pub app_id: String,
    pub name: String,
    #[serde(default)]
    pub human_agent: bool,
    #[serde(default)]
    pub require_appsecret_proof: bool,
}

/// What `reset` starts a page with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub page_id: String,
    pub now_ms: u64,
    pub primary: Option<AppIx>,
    pub apps: Vec<AppSpec>,
    /// The Instagram professional account linked to the page (`reset`'s
    /// `instagram_account_id`); without one the page has no Instagram
    /// surface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram_account_id: Option<String>,
}

impl Setup {
    /// Builds a setup from the ids a `reset` call names, refusing what the
    /// rules forbid: the Page Inbox as primary receiver (PRI-1) or as an app,
    /// an unknown primary, duplicate app ids, more than 255 apps.
    pub fn new(
        page_id: String,
        now_ms: u64,
        apps: Vec<AppSpec>,
        primary: Option<&str>,
    ) -> Result<Setup, String> {
        if page_id.is_empty() {
            return Err("page_id must not be empty".into());
        }
        if apps.len() > u8::MAX as usize {
            return Err(format!("at most {} apps per page", u8::MAX));
        }
        for (i, a) in apps.iter().enumerate() {
            if a.app_id.is_empty() {
                return Err(format!("apps[{i}].app_id must not be empty"));
            }
            if a.app_id == PAGE_INBOX_APP_ID {
                return Err(format!(
                    "apps[{i}]: {PAGE_INBOX_APP_ID} is the Page Inbox, not a subscribable app"
                ));
            }
            if a.app_id == INSTAGRAM_INBOX_APP_ID {
                return Err(format!(
                    "apps[{i}]: {INSTAGRAM_INBOX_APP_ID} is the Instagram Inbox, not a subscribable app"
                ));
            }
            if apps[..i].iter().any(|b| b.app_id == a.app_id) {
                return Err(format!("apps[{i}].app_id {:?} appears twice", a.app_id));
            }
        }
        let mut setup = Setup {
            page_id,
            now_ms,
            primary: None,
            apps,
            instagram_account_id: None,
        };
        setup.primary = match primary {
            None => None,
            Some(id) => match setup.app_ref(id) {
                AppRef::App(a) => Some(a),
                AppRef::PageInbox | AppRef::InstagramInbox => {
                    return Err("an inbox cannot be the primary receiver (PRI-1)".into());
                }
                AppRef::Unknown(id) => {
                    return Err(format!("primary_receiver {id:?} is not one of the apps"));
                }
            },
        };
        Ok(setup)
    }

    /// Links an Instagram professional account to the page (`None`: no
    /// Instagram surface). The id must not be empty, the page's own id or
    /// either inbox's.
    pub fn with_instagram(mut self, account_id: Option<String>) -> Result<Setup, String> {
        if let Some(id) = &account_id {
            if id.is_empty() {
                return Err("instagram_account_id must not be empty".into());
            }
            if *id == self.page_id {
                return Err("instagram_account_id must differ from the page id".into());
            }
            if id == PAGE_INBOX_APP_ID || id == INSTAGRAM_INBOX_APP_ID {
                return Err(format!("instagram_account_id {id:?} is an inbox's app id"));
            }
        }
        self.instagram_account_id = account_id;
        Ok(self)
    }

    /// Whether the page has a linked Instagram account.
    pub fn has_instagram(&self) -> bool {
        self.instagram_account_id.is_some()
    }

    /// The id a surface's webhooks name the page by (`entry[].id`,
    /// `recipient.id`): the page id, or the Instagram account id (IG-3).
    /// `None` for Instagram on a page without an Instagram account.
    pub fn surface_id(&self, surface: Surface) -> Option<&str> {
        match surface {
            Surface::Messenger => Some(&self.page_id),
            Surface::Instagram => self.instagram_account_id.as_deref(),
        }
    }

    /// Resolves an app id as received on the wire.
    pub fn app_ref(&self, app_id: &str) -> AppRef {
        if app_id == PAGE_INBOX_APP_ID {
            return AppRef::PageInbox;
        }
        if app_id == INSTAGRAM_INBOX_APP_ID {
            return AppRef::InstagramInbox;
        }
        match self.apps.iter().position(|a| a.app_id == app_id) {
            Some(i) => AppRef::App(AppIx(i as u8)),
            None => AppRef::Unknown(app_id.to_string()),
        }
    }

    /// Normalizes a reference: an `Unknown` id that names an app or the
    /// Page Inbox after all is resolved, and an out-of-range index becomes
    /// `Unknown`. The model judges references only in this form.
    pub fn resolve(&self, r: &AppRef) -> AppRef {
        match r {
            AppRef::Unknown(id) => self.app_ref(id),
            AppRef::App(a) if a.index() >= self.apps.len() => AppRef::Unknown(format!("#{}", a.0)),
            other => other.clone(),
        }
    }

    pub fn app(&self, a: AppIx) -> &AppSpec {
        &self.apps[a.index()]
    }

    /// The app id of an owner, as the wire writes it.
    pub fn party_id(&self, p: Party) -> &str {
        match p {
            Party::App(a) => &self.apps[a.index()].app_id,
            Party::PageInbox => PAGE_INBOX_APP_ID,
            Party::InstagramInbox => INSTAGRAM_INBOX_APP_ID,
        }
    }

    /// The `appsecret_proof` a well-formed call by `app` carries: the right
    /// one when the app requires it (AUTH-3), none otherwise.
    pub fn proof_for(&self, app: AppIx) -> Proof {
        if self.app(app).require_appsecret_proof {
            Proof::Right
        } else {
            Proof::Absent
        }
    }

    /// A well-formed call by `app`: its own token, the proof it needs, the
    /// default transport.
    pub fn call(&self, app: AppIx, call: Call) -> GraphOp {
        GraphOp {
            caller: Caller::App(app),
            proof: self.proof_for(app),
            call,
            transport: Transport::default(),
        }
    }

    pub fn app_ixs(&self) -> impl Iterator<Item = AppIx> + use<> {
        (0..self.apps.len() as u8).map(AppIx)
    }
}

/// The two Page Inbox folders that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Folder {
    Main,
    Done,
}

/// A persistent menu and the app that set it (MENU-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuState {
    pub set_by: AppIx,
    pub items: Vec<Choice>,
}

/// A survey accepted from a non-owner, waiting for the thread to go idle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSurvey {
    pub mid: String,
    pub from: AppIx,
    pub title: String,
}

/// A message the user received, with the buttons it carried (CTA-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub entry: TranscriptEntry,
    pub buttons: Vec<Choice>,
}

/// The conversation with one PSID (or, on Instagram, one IGSID).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// Decided by the first user event naming the user id; never changes.
    #[serde(default, skip_serializing_if = "Surface::is_messenger")]
    pub surface: Surface,
    pub owner: Option<Party>,
    /// When control lapses, in ms; meaningful only while owned.
    pub deadline_ms: u64,
    pub folder: Folder,
    pub user_menu: Option<MenuState>,
    pub held: Vec<HeldSurvey>,
    pub transcript: Vec<SentMessage>,
}

impl Thread {
    pub(crate) fn new(surface: Surface) -> Thread {
        Thread {
            surface,
            owner: None,
            deadline_ms: 0,
            folder: Folder::Main,
            user_menu: None,
            held: Vec::new(),
            transcript: Vec::new(),
        }
    }
}

/// One page's whole world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub setup: Setup,
    pub now_ms: u64,
    pub primary: Option<AppIx>,
    pub threads: BTreeMap<Psid, Thread>,
    /// The page-level menu of Messenger threads.
    pub page_menu: Option<MenuState>,
    /// The page-level menu of Instagram threads (`messenger_profile` with
    /// `platform=instagram`, IG-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram_menu: Option<MenuState>,
    /// Message ids are `m_<prefix>_<n>`; the prefix keeps them unique
    /// across pages and resets.
    pub mid_prefix: String,
    pub next_mid: u64,
}

impl State {
    /// A fresh page, as right after `reset`. Message ids are prefixed with
    /// the page id.
    pub fn new(setup: Setup) -> State {
        let prefix = setup.page_id.clone();
        State::with_mid_prefix(setup, prefix)
    }

    /// A fresh page whose message ids start with `m_<prefix>_`.
    pub fn with_mid_prefix(setup: Setup, prefix: String) -> State {
        State {
            now_ms: setup.now_ms,
            primary: setup.primary,
            setup,
            threads: BTreeMap::new(),
            page_menu: None,
            instagram_menu: None,
            mid_prefix: prefix,
            next_mid: 0,
        }
    }

    pub fn thread(&self, psid: &str) -> Option<&Thread> {
        self.threads.get(psid)
    }

    /// The surface of a known user id.
    pub fn surface(&self, psid: &str) -> Option<Surface> {
        self.threads.get(psid).map(|t| t.surface)
    }

    /// The page-level menu of a surface.
    pub fn page_menu_of(&self, surface: Surface) -> Option<&MenuState> {
        match surface {
            Surface::Messenger => self.page_menu.as_ref(),
            Surface::Instagram => self.instagram_menu.as_ref(),
        }
    }

    /// The menu a user of `psid` sees (MENU-3): the thread's user-level
    /// menu, else the page-level menu of the thread's surface.
    pub fn menu_in_force(&self, psid: &str) -> Option<&MenuState> {
        let t = self.threads.get(psid)?;
        t.user_menu.as_ref().or(self.page_menu_of(t.surface))
    }

    /// Who owns the thread now (`None`: idle or unknown PSID).
    pub fn owner(&self, psid: &str) -> Option<Party> {
        self.threads.get(psid).and_then(|t| t.owner)
    }

    /// The transcript of a PSID, oldest first (empty for an unknown PSID).
    pub fn transcript(&self, psid: &str) -> impl Iterator<Item = &TranscriptEntry> {
        self.threads
            .get(psid)
            .into_iter()
            .flat_map(|t| t.transcript.iter().map(|m| &m.entry))
    }

    /// The position of a message id in a PSID's transcript.
    pub fn message_position(&self, psid: &str, mid: &str) -> Option<u32> {
        let t = self.threads.get(psid)?;
        t.transcript
            .iter()
            .position(|m| m.entry.mid == mid)
            .map(|i| i as u32)
    }

    pub(crate) fn fresh_mid(&mut self) -> String {
        let n = self.next_mid;
        self.next_mid += 1;
        // `format!("m_{prefix}_{n}")`, without the formatting machinery:
        // every message and user event takes one.
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut rest = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let digits = std::str::from_utf8(&digits[i..]).expect("ASCII digits");
        let mut mid = String::with_capacity(3 + self.mid_prefix.len() + digits.len());
        mid.push_str("m_");
        mid.push_str(&self.mid_prefix);
        mid.push('_');
        mid.push_str(digits);
        mid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_mids_count_up_after_the_prefix() {
        let setup = Setup::new("7".into(), 0, Vec::new(), None).expect("setup");
        let mut st = State::with_mid_prefix(setup, "7.3".into());
        for n in [0u64, 1, 9, 10, 99, 100, 12_345, u64::MAX - 1] {
            st.next_mid = n;
            assert_eq!(st.fresh_mid(), format!("m_7.3_{n}"));
            assert_eq!(st.next_mid, n + 1);
        }
    }
}
