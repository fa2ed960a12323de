//! The protocol's two surfaces (`instagram.md`): Messenger, where a page
//! talks to PSIDs, and Instagram, where the page's linked Instagram
//! professional account talks to IGSIDs. Every thread belongs to exactly
//! one surface, decided by the first user event that names its user id.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The app id of the Instagram Inbox pseudo-app, which plays the Page
/// Inbox's part on Instagram threads (IG-2).
pub const INSTAGRAM_INBOX_APP_ID: &str = "1217981644879628";

/// Where a thread lives. Serialized as the control API's `platform` value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Facebook Messenger: PSIDs, the page id, the Page Inbox, `"object":"page"`.
    #[default]
    Messenger,
    /// Instagram Direct: IGSIDs, the Instagram account id, the Instagram
    /// Inbox, `"object":"instagram"`.
    Instagram,
}

impl Surface {
    pub const ALL: &'static [Surface] = &[Surface::Messenger, Surface::Instagram];

    /// The `platform` value, also the webhook `object` name's basis.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Messenger => "messenger",
            Surface::Instagram => "instagram",
        }
    }

    /// The webhook envelope's `object` for deliveries of this surface (IG-3).
    pub fn webhook_object(self) -> &'static str {
        match self {
            Surface::Messenger => "page",
            Surface::Instagram => "instagram",
        }
    }

    /// The surface whose webhook `object` this is.
    pub fn from_webhook_object(object: &str) -> Option<Surface> {
        Surface::ALL
            .iter()
            .copied()
            .find(|s| s.webhook_object() == object)
    }

    /// The Graph parameter `platform` of `messenger_profile` and
    /// `secondary_receivers` (IG-5, IG-6): `messenger` or `instagram`, in
    /// any case. `None` for any other value.
    pub fn parse_platform(value: &str) -> Option<Surface> {
        Surface::ALL
            .iter()
            .copied()
            .find(|s| s.as_str().eq_ignore_ascii_case(value))
    }

    /// The other surface.
    pub fn other(self) -> Surface {
        match self {
            Surface::Messenger => Surface::Instagram,
            Surface::Instagram => Surface::Messenger,
        }
    }

    pub fn is_messenger(&self) -> bool {
        *self == Surface::Messenger
    }

    /// A user id as reports name it, with its surface: `PSID 1 (Messenger)`,
    /// `IGSID 5 (Instagram)`.
    pub fn user_label(self, id: &str) -> String {
        match self {
            Surface::Messenger => format!("PSID {id} (Messenger)"),
            Surface::Instagram => format!("IGSID {id} (Instagram)"),
        }
    }

    /// The inbox of this surface, as reports name it.
    pub fn inbox_label(self) -> &'static str {
        match self {
            Surface::Messenger => "Page Inbox",
            Surface::Instagram => "Instagram Inbox",
        }
    }

    pub fn is_instagram(&self) -> bool {
        *self == Surface::Instagram
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_values_parse_in_any_case() {
        assert_eq!(
            Surface::parse_platform("instagram"),
            Some(Surface::Instagram)
        );
        assert_eq!(
            Surface::parse_platform("InStAgRaM"),
            Some(Surface::Instagram)
        );
        assert_eq!(
            Surface::parse_platform("MESSENGER"),
            Some(Surface::Messenger)
        );
        for bad in ["", "ig", "whatsapp", " instagram", "instagram "] {
            assert_eq!(Surface::parse_platform(bad), None, "{bad:?}");
        }
        assert_eq!(
            Surface::from_webhook_object("page"),
            Some(Surface::Messenger)
        );
        assert_eq!(
            Surface::from_webhook_object("instagram"),
            Some(Surface::Instagram)
        );
        assert_eq!(Surface::from_webhook_object("user"), None);
        assert_eq!(
            serde_json::to_string(&Surface::Instagram).unwrap(),
            "\"instagram\""
        );
    }
}
