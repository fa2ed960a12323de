//! HMAC-SHA256 signatures: the `appsecret_proof` an app attaches to a Graph
//! call (AUTH-3) and the `X-Hub-Signature-256` header on every webhook
//! delivery (HOOK-4).
//!
//! Both are the same primitive keyed with the app secret; they differ only in
//! what is signed (the token, or the exact body bytes) and in how the digest
//! is written down. Verification compares in constant time through
//! [`Mac::verify_slice`], so a server built on this does not leak how much of
//! a guessed proof was right.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The name of the webhook signature header.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long keys are hashed first), so this
    // cannot fail; the `expect` documents that rather than guards it.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut m = mac(key);
    m.update(message);
    hex::encode(m.finalize().into_bytes())
}

fn verify(key: &[u8], message: &[u8], hex_digest: &str) -> bool {
    // `hex::decode` accepts upper and lower case alike.
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let mut m = mac(key);
    m.update(message);
    m.verify_slice(&expected).is_ok()
}

/// The `appsecret_proof` for `token`: lowercase hex of HMAC-SHA256 keyed with
/// the app secret.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    hmac_hex(app_secret.as_bytes(), token.as_bytes())
}

/// Whether `proof` is the right `appsecret_proof` for `token`. Hex digits of
/// either case are accepted, since clients differ in what they emit.
pub fn check_appsecret_proof(app_secret: &str, token: &str, proof: &str) -> bool {
    verify(app_secret.as_bytes(), token.as_bytes(), proof)
}

/// The value of `X-Hub-Signature-256` for a delivery body:
/// `sha256=<lowercase hex>`.
pub fn signature_header(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(app_secret.as_bytes(), body))
}

/// Whether an `X-Hub-Signature-256` value signs `body` with `app_secret`.
/// The `sha256=` prefix is required (its case is not checked); the hex may be
/// of either case.
pub fn verify_signature(app_secret: &str, body: &[u8], header_value: &str) -> bool {
    let v = header_value.trim();
    match v.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => {
            verify(app_secret.as_bytes(), body, &v[7..])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231, test case 2.
    const JEFE: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn rfc4231_case_2() {
        assert_eq!(
            appsecret_proof("Jefe", "what do ya want for nothing?"),
            JEFE
        );
        assert_eq!(
            signature_header("Jefe", b"what do ya want for nothing?"),
            format!("sha256={JEFE}")
        );
    }

    #[test]
    fn proofs_check_in_any_case() {
        let token = "what do ya want for nothing?";
        assert!(check_appsecret_proof("Jefe", token, JEFE));
        assert!(check_appsecret_proof(
            "Jefe",
            token,
            &JEFE.to_ascii_uppercase()
        ));
        assert!(!check_appsecret_proof("Jefe", "other token", JEFE));
        assert!(!check_appsecret_proof("jefe", token, JEFE));
        assert!(!check_appsecret_proof("Jefe", token, ""));
        assert!(!check_appsecret_proof("Jefe", token, "zz"));
        assert!(!check_appsecret_proof("Jefe", token, &JEFE[..62]));
    }

    #[test]
    fn signatures_verify() {
        let body = br#"{"object":"page","entry":[]}"#;
        let h = signature_header("s3cret", body);
        assert!(h.starts_with("sha256="));
        assert_eq!(h, h.to_ascii_lowercase());
        assert!(verify_signature("s3cret", body, &h));
        assert!(verify_signature("s3cret", body, &h.to_ascii_uppercase()));
        assert!(!verify_signature("s3cret", b"{}", &h));
        assert!(!verify_signature("other", body, &h));
        assert!(!verify_signature("s3cret", body, &h[7..]));
        assert!(!verify_signature("s3cret", body, "sha1=00"));
        assert!(!verify_signature("s3cret", body, ""));
    }
}
