//! How the reference app is configured: where the Graph API is, who the
//! app is, its credentials, and which deliberate faults are switched on.

use super::mutants::AppMutant;
use crate::wire::Redacted;
use std::fmt;

/// The Page Inbox's app id: the target of a hand-over to a person.
pub const PAGE_INBOX_APP_ID: &str = "263902037430900";
/// The Instagram Inbox's app id: where a person answers an Instagram
/// thread (IG-2; the Page Inbox id is an unknown target there).
pub const INSTAGRAM_INBOX_APP_ID: &str = "1217981644879628";

/// Control lapses this long after the last activity (EXP-1).
pub const DAY_MS: u64 = 86_400_000;

/// The Graph API version the app puts in its paths unless told otherwise.
pub const DEFAULT_VERSION: &str = "v19.0";

/// Credentials `baton app` uses when none are given, printed by `--help`,
/// so that a page can be set up for it without reading code. They are for
/// local testing against `baton serve` only.
pub const DEFAULT_APP_ID: &str = "1001";
pub const DEFAULT_TOKEN: &str = "reference-app-token";
pub const DEFAULT_SECRET: &str = "reference-app-secret";
/// The verify token `baton app` checks and `baton certify-app` assumes
/// when none is given (both print it in `--help`).
pub const DEFAULT_VERIFY_TOKEN: &str = "reference-app-verify-token";

/// Everything the reference app needs to know.
#[derive(Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Graph API origin, e.g. `http://127.0.0.1:8080` (no trailing slash;
    /// one is tolerated).
    pub graph: String,
    /// Path prefix, e.g. `v19.0`; empty for none.
    pub version: String,
    pub app_id: String,
    /// The page access token.
    pub token: String,
    /// The app secret: checks `X-Hub-Signature-256` and signs every call
    /// with `appsecret_proof`.
    pub secret: String,
    /// The webhook verify token; `None` answers every handshake.
    pub verify_token: Option<String>,
    /// Whether the app was declared to have the human-agent feature. The
    /// reference app is an automated bot and never uses the `HUMAN_AGENT`
    /// tag (Meta reserves it for messages a person writes), so this only
    /// records the declaration.
    pub human_agent: bool,
    /// Deliberate faults, for certification runs that must catch them.
    pub mutants: Vec<AppMutant>,
}

impl AppConfig {
    /// A configuration with the default version and credentials, no verify
    /// token, no human-agent feature and no mutants.
    pub fn new(graph: impl Into<String>) -> AppConfig {
        AppConfig {
            graph: graph.into(),
            version: DEFAULT_VERSION.to_string(),
            app_id: DEFAULT_APP_ID.to_string(),
            token: DEFAULT_TOKEN.to_string(),
            secret: DEFAULT_SECRET.to_string(),
            verify_token: None,
            human_agent: false,
            mutants: Vec::new(),
        }
    }

    pub fn has(&self, m: AppMutant) -> bool {
        self.mutants.contains(&m)
    }
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("graph", &self.graph)
            .field("version", &self.version)
            .field("app_id", &self.app_id)
            .field("token", &Redacted(&self.token))
            .field("secret", &Redacted(&self.secret))
            .field("verify_token", &self.verify_token.as_deref().map(Redacted))
            .field("human_agent", &self.human_agent)
            .field("mutants", &self.mutants)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_credentials() {
        let mut c = AppConfig::new("http://127.0.0.1:8080");
        c.verify_token = Some("vt-secret".into());
        let s = format!("{c:?}");
        assert!(!s.contains(DEFAULT_TOKEN) && !s.contains(DEFAULT_SECRET));
        assert!(!s.contains("vt-secret"));
        assert!(s.contains("<redacted>") && s.contains(DEFAULT_APP_ID));
    }
}
