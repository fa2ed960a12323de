//! What both ends share beyond the wire format itself: an app's
//! credentials, header lookup, and redaction of secrets in `Debug` output.

use std::fmt;

/// What the shell knows about one app beyond the model's
/// [`AppSpec`](crate::model::AppSpec): the secrets that authenticate it and where its
/// webhooks go. Kept apart from the model so that a model state can be
/// logged or snapshotted without leaking anything.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub access_token: String,
    pub app_secret: String,
    pub webhook_url: String,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("access_token", &Redacted(&self.access_token))
            .field("app_secret", &Redacted(&self.app_secret))
            .field("webhook_url", &self.webhook_url)
            .finish()
    }
}

/// Shows that a secret is there (and whether it is empty) without showing it.
pub(crate) struct Redacted<'a>(pub &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// The first header called `name` (compared without case).
pub(crate) fn header<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    name: &str,
) -> Option<&'a str> {
    headers
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let c = AppCredentials {
            access_token: "EAAtoken".into(),
            app_secret: "shh".into(),
            webhook_url: "http://127.0.0.1:9/hook".into(),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("EAAtoken") && !d.contains("shh"), "{d}");
        assert!(d.contains("127.0.0.1:9/hook"), "{d}");
    }
}
