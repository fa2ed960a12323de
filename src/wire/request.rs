//! Server side, first step: an HTTP request taken apart into path, token,
//! proof and one merged parameter map, without judging anything yet.
//!
//! Judging is left to [`decode_graph`](super::decode_graph) because the
//! order in which problems count is the model's business (path → token →
//! route → proof → parameters): this step therefore never stops early. A bad
//! path still yields a token, and a body that is not JSON still leaves the
//! token in the query or header usable, so the answer is the one the first
//! failing check would give.

use super::http::{Redacted, header};
use super::params::{Params, parse_form};
use crate::model::{Defect, Encoding, TokenAt};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::fmt;

/// An HTTP request as any server stack can provide it. `path` excludes the
/// query string (see [`split_target`]); `content_type`, when `None`, is
/// looked up in `headers`.
#[derive(Clone)]
pub struct HttpParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Splits a request target `path?query` into its two parts.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// The three parts of a well-formed Graph path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathParts {
    /// `vNN.N`, when the path has one.
    pub version: Option<String>,
    /// `me` or a page id (not checked here: that needs the page).
    pub node: String,
    pub edge: String,
}

/// Where the access token was found.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenFound {
    /// No token anywhere.
    None,
    /// Only an empty one (`access_token=`, or `Authorization: Bearer` with
    /// nothing after it); counts as missing.
    Empty(TokenAt),
    Given {
        token: String,
        at: TokenAt,
    },
}

impl TokenFound {
    pub fn token(&self) -> Option<&str> {
        match self {
            TokenFound::Given { token, .. } => Some(token),
            _ => None,
        }
    }
}

impl fmt::Debug for TokenFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFound::None => f.write_str("None"),
            TokenFound::Empty(at) => f.debug_tuple("Empty").field(at).finish(),
            TokenFound::Given { token, at } => f
                .debug_struct("Given")
                .field("token", &Redacted(token))
                .field("at", at)
                .finish(),
        }
    }
}

/// A Graph request taken apart. Credentials are removed from `params`, so
/// the map can be logged; the token and proof are redacted from `Debug`.
#[derive(Clone)]
pub struct RawRequest {
    pub method: String,
    /// [`Defect::BadPath`] when the path is not `/{version}/{node}/{edge}`.
    pub path: Result<PathParts, Defect>,
    /// The path as received (no query), for reporting a bad one.
    pub raw_path: String,
    pub token: TokenFound,
    /// `appsecret_proof` as given (body over query); empty counts as absent.
    pub proof: Option<String>,
    /// Query and body merged, the body winning. [`Defect::BodyNotJson`]
    /// when the body could not be read.
    pub params: Result<Params, Defect>,
    /// How the parameters came: JSON body, form body, or no body at all.
    pub encoding: Encoding,
    /// Another, non-empty token was given where it loses to `token` (in the
    /// query beside one in the body, or in `Authorization` beside a
    /// parameter).
    pub losing_token: bool,
    /// Some parameter was given both in the query and (not as `null`) in the
    /// body; the body's value is in `params`.
    pub shadowed_param: bool,
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("raw_path", &self.raw_path)
            .field("token", &self.token)
            .field("proof", &self.proof.as_deref().map(Redacted))
            .field("params", &self.params)
            .field("encoding", &self.encoding)
            .field("losing_token", &self.losing_token)
            .field("shadowed_param", &self.shadowed_param)
            .finish()
    }
}

const TOKEN_PARAM: &str = "access_token";
const PROOF_PARAM: &str = "appsecret_proof";

impl RawRequest {
    pub fn parse(req: &HttpParts<'_>) -> RawRequest {
        let query = parse_form(req.query.as_bytes());
        let content_type = req
            .content_type
            .or_else(|| header(req.headers.iter().copied(), "content-type"));
        let body = parse_body(content_type, req.body);
        let (encoding, body) = match body {
            Ok(None) => (Encoding::Query, Ok(Params::new())),
            Ok(Some((enc, map))) => (enc, Ok(map)),
            Err(d) => (Encoding::Json, Err(d)),
        };
        let empty = Params::new();
        let body_map = body.as_ref().unwrap_or(&empty);

        let token = find_token(&query, body_map, &req.headers);
        let losing_token = match &token {
            TokenFound::Given {
                at: TokenAt::Body, ..
            } => {
                param_token(&query).is_some_and(|t| !t.is_empty())
                    || header_token(&req.headers).is_some_and(|(t, _)| !t.is_empty())
            }
            TokenFound::Given {
                at: TokenAt::Query, ..
            } => header_token(&req.headers).is_some_and(|(t, _)| !t.is_empty()),
            _ => false,
        };
        let proof = lookup(&query, body_map, PROOF_PARAM)
            .map(|(v, _)| text_of(v))
            .filter(|p| !p.is_empty());

        let mut shadowed_param = false;
        let params = body.map(|body| {
            let mut merged = query.clone();
            for (k, v) in body {
                if k == TOKEN_PARAM || k == PROOF_PARAM {
                    continue;
                }
                // JSON null counts as absent: it does not hide a query value
                // (but is kept where there is none, for the parameters that
                // tell null from absent).
                if v.is_null() {
                    merged.entry(k).or_insert(v);
                } else {
                    shadowed_param |= merged.contains_key(&k);
                    merged.insert(k, v);
                }
            }
            merged.remove(TOKEN_PARAM);
            merged.remove(PROOF_PARAM);
            merged
        });
        RawRequest {
            method: req.method.to_string(),
            path: parse_path(req.path),
            raw_path: req.path.to_string(),
            token,
            proof,
            params,
            encoding,
            losing_token,
            shadowed_param,
        }
    }

    /// The token to look the page up by.
    pub fn token(&self) -> Option<&str> {
        self.token.token()
    }
}

/// `/{version}/{node}/{edge}` with an optional version. A trailing `/` is
/// tolerated; empty segments are not. Segments are percent-decoded.
pub fn parse_path(path: &str) -> Result<PathParts, Defect> {
    let rest = path.strip_prefix('/').ok_or(Defect::BadPath)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    if segs.iter().any(String::is_empty) {
        return Err(Defect::BadPath);
    }
    match segs.as_slice() {
        [v, node, edge] if is_version(v) => Ok(PathParts {
            version: Some(v.clone()),
            node: node.clone(),
            edge: edge.clone(),
        }),
        // `/v19.0/me` is a version and a node, with no edge.
        [node, edge] if !is_version(node) => Ok(PathParts {
            version: None,
            node: node.clone(),
            edge: edge.clone(),
        }),
        _ => Err(Defect::BadPath),
    }
}

/// `v` digits `.` digits.
fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// The body as parameters: `Ok(None)` when there is none.
///
/// `application/json` (or `+json`) must be a JSON object; a form type is
/// parsed as a form; with no content type the first byte decides (`{` means
/// JSON). Any other content type (multipart, text) cannot be read and is
/// [`Defect::BodyNotJson`].
fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<(Encoding, Params)>, Defect> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let media = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = match media.as_str() {
        "application/json" => true,
        m if m.ends_with("+json") => true,
        "application/x-www-form-urlencoded" => false,
        "" => body.trim_ascii_start().first() == Some(&b'{'),
        _ => return Err(Defect::BodyNotJson),
    };
    if json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Some((Encoding::Json, map))),
            _ => Err(Defect::BodyNotJson),
        }
    } else {
        Ok(Some((Encoding::Form, parse_form(body))))
    }
}

/// A parameter from the body, else from the query, with where it came from.
fn lookup<'a>(query: &'a Params, body: &'a Params, key: &str) -> Option<(&'a Value, TokenAt)> {
    match body.get(key) {
        Some(v) if !v.is_null() => Some((v, TokenAt::Body)),
        _ => query
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| (v, TokenAt::Query)),
    }
}

/// A credential given as a non-string JSON value is kept as its JSON text:
/// it will match no token and no proof, which is the honest answer.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `access_token` parameter wins over `Authorization`; an empty one
/// does not hide a usable header.
fn find_token(query: &Params, body: &Params, headers: &[(&str, &str)]) -> TokenFound {
    let mut empty = None;
    if let Some((v, at)) = lookup(query, body, TOKEN_PARAM) {
        let token = text_of(v);
        if !token.is_empty() {
            return TokenFound::Given { token, at };
        }
        empty = Some(at);
    }
    if let Some((token, at)) = header_token(headers) {
        if !token.is_empty() {
            return TokenFound::Given {
                token: token.to_string(),
                at,
            };
        }
        empty = empty.or(Some(at));
    }
    match empty {
        Some(at) => TokenFound::Empty(at),
        None => TokenFound::None,
    }
}

/// The `access_token` of one parameter map, as text.
fn param_token(params: &Params) -> Option<String> {
    params
        .get(TOKEN_PARAM)
        .filter(|v| !v.is_null())
        .map(text_of)
}

/// The token of an `Authorization: Bearer …` or `OAuth …` header (the
/// scheme in any case), possibly empty.
fn header_token<'a>(headers: &[(&'a str, &'a str)]) -> Option<(&'a str, TokenAt)> {
    let auth = header(headers.iter().copied(), "authorization")?.trim();
    let (scheme, rest) = auth
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((auth, ""));
    let at = if scheme.eq_ignore_ascii_case("bearer") {
        TokenAt::Bearer
    } else if scheme.eq_ignore_ascii_case("oauth") {
        TokenAt::OAuth
    } else {
        return None;
    };
    Some((rest.trim(), at))
}

/// A Graph request as the harness sends it. `content_type` is kept apart
/// from `headers` (which never contain `Content-Type`) so that an HTTP client
/// that sets the header itself from the body type does not send it twice.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Path and, when there is one, `?` and the query string.
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// The same request as the server sees it, for feeding the decoder
    /// directly (tests, in-process servers).
    pub fn parts(&self) -> HttpParts<'_> {
        let (path, query) = split_target(&self.path_and_query);
        HttpParts {
            method: &self.method,
            path,
            query,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            content_type: self.content_type.as_deref(),
            body: self.body.as_deref().unwrap_or_default(),
        }
    }

    /// The value of a header (first match, name compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            name,
        )
    }
}

/// Tokens travel in the query string, the body and `Authorization`, so the
/// `Debug` output shows only the path, the header names and the body size.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (path, query) = split_target(&self.path_and_query);
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("path", &path)
            .field("query_len", &query.len())
            .field("headers", &names)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_tokens() {
        let r = HttpRequest {
            method: "POST".into(),
            path_and_query: "/v19.0/me/messages?access_token=EAAtoken".into(),
            headers: vec![("Authorization".into(), "Bearer EAAtoken".into())],
            content_type: Some("application/json".into()),
            body: Some(br#"{"access_token":"EAAtoken"}"#.to_vec()),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("EAAtoken"), "{d}");
        assert!(d.contains("/v19.0/me/messages"), "{d}");
        assert_eq!(r.header("authorization"), Some("Bearer EAAtoken"));
    }
    use serde_json::json;

    fn parts<'a>(
        method: &'a str,
        target: &'a str,
        headers: Vec<(&'a str, &'a str)>,
        content_type: Option<&'a str>,
        body: &'a [u8],
    ) -> HttpParts<'a> {
        let (path, query) = split_target(target);
        HttpParts {
            method,
            path,
            query,
            headers,
            content_type,
            body,
        }
    }

    #[test]
    fn paths() {
        let p = parse_path("/v19.0/me/messages").unwrap();
        assert_eq!(p.version.as_deref(), Some("v19.0"));
        assert_eq!((p.node.as_str(), p.edge.as_str()), ("me", "messages"));
        let p = parse_path("/v2.12/1234/thread_owner/").unwrap();
        assert_eq!(p.version.as_deref(), Some("v2.12"));
        assert_eq!(p.node, "1234");
        let p = parse_path("/me/pass_thread_control").unwrap();
        assert_eq!(p.version, None);
        let p = parse_path("/v19.0/page%201/x").unwrap();
        assert_eq!(p.node, "page 1");
        for bad in [
            "",
            "/",
            "/me",
            "/v19.0/me",
            "/v19/me/messages",
            "/x/me/messages",
            "/v19.0/me/messages/extra",
            "/v19.0//messages",
            "v19.0/me/messages",
            "/v19.0/me/messages//",
        ] {
            assert_eq!(parse_path(bad), Err(Defect::BadPath), "{bad:?}");
        }
    }

    #[test]
    fn token_places() {
        let r = RawRequest::parse(&parts("GET", "/me/x?access_token=q", vec![], None, b""));
        assert_eq!(
            r.token,
            TokenFound::Given {
                token: "q".into(),
                at: TokenAt::Query
            }
        );
        // The body wins over the query.
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x?access_token=q",
            vec![],
            Some("application/x-www-form-urlencoded"),
            b"access_token=b",
        ));
        assert_eq!(r.token(), Some("b"));
        assert_eq!(r.encoding, Encoding::Form);
        // The parameter wins over the header; the scheme's case is free.
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x",
            vec![("AUTHORIZATION", "bEaReR h")],
            Some("application/json"),
            br#"{"access_token":"j"}"#,
        ));
        assert_eq!(
            r.token,
            TokenFound::Given {
                token: "j".into(),
                at: TokenAt::Body
            }
        );
        let r = RawRequest::parse(&parts(
            "GET",
            "/me/x",
            vec![("Authorization", "OAuth  h ")],
            None,
            b"",
        ));
        assert_eq!(
            r.token,
            TokenFound::Given {
                token: "h".into(),
                at: TokenAt::OAuth
            }
        );
        // An empty parameter falls through to the header.
        let r = RawRequest::parse(&parts(
            "GET",
            "/me/x?access_token=",
            vec![("Authorization", "Bearer h")],
            None,
            b"",
        ));
        assert_eq!(r.token(), Some("h"));
        let r = RawRequest::parse(&parts("GET", "/me/x?access_token=", vec![], None, b""));
        assert_eq!(r.token, TokenFound::Empty(TokenAt::Query));
        let r = RawRequest::parse(&parts(
            "GET",
            "/me/x",
            vec![("Authorization", "Bearer")],
            None,
            b"",
        ));
        assert_eq!(r.token, TokenFound::Empty(TokenAt::Bearer));
        let r = RawRequest::parse(&parts(
            "GET",
            "/me/x",
            vec![("Authorization", "Basic abc")],
            None,
            b"",
        ));
        assert_eq!(r.token, TokenFound::None);
        // A JSON null token is absent; the query's is used.
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x?access_token=q",
            vec![],
            Some("application/json"),
            br#"{"access_token":null}"#,
        ));
        assert_eq!(r.token(), Some("q"));
    }

    #[test]
    fn bodies_and_merging() {
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x?a=q&b=q&access_token=t&appsecret_proof=ab",
            vec![],
            Some("application/json; charset=utf-8"),
            br#"{"a":{"id":1},"c":null,"b":null}"#,
        ));
        let p = r.params.unwrap();
        assert_eq!(p["a"], json!({"id": 1}));
        assert_eq!(p["b"], json!("q"));
        // A null with no query value behind it stays, as null (readers
        // take it as absent; `duration` tells it apart).
        assert_eq!(p["c"], Value::Null);
        assert!(!p.contains_key("access_token") && !p.contains_key("appsecret_proof"));
        assert_eq!(r.proof.as_deref(), Some("ab"));
        assert_eq!(r.encoding, Encoding::Json);
        // `a` was in both, the body won.
        assert!(r.shadowed_param);
        assert!(!r.losing_token);
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x?b=q&access_token=t",
            vec![],
            Some("application/json"),
            br#"{"b":null,"c":1}"#,
        ));
        assert!(!r.shadowed_param, "a null does not shadow");
        assert_eq!(r.params.unwrap()["b"], json!("q"));

        // Losing tokens: the query's beside the body's, a header beside a
        // parameter; an empty one does not count.
        let lose = |target: &str, headers: Vec<(&'static str, &'static str)>, body: &[u8]| {
            let r = RawRequest::parse(&parts(
                "POST",
                target,
                headers,
                Some("application/json"),
                body,
            ));
            (r.token().map(String::from), r.losing_token)
        };
        assert_eq!(
            lose("/me/x?access_token=q", vec![], br#"{"access_token":"b"}"#),
            (Some("b".into()), true)
        );
        assert_eq!(
            lose(
                "/me/x?access_token=q",
                vec![("Authorization", "Bearer h")],
                b""
            ),
            (Some("q".into()), true)
        );
        assert_eq!(
            lose(
                "/me/x",
                vec![("Authorization", "OAuth h")],
                br#"{"access_token":"b"}"#
            ),
            (Some("b".into()), true)
        );
        assert_eq!(
            lose("/me/x?access_token=", vec![], br#"{"access_token":"b"}"#),
            (Some("b".into()), false)
        );
        assert_eq!(
            lose(
                "/me/x?access_token=q",
                vec![("Authorization", "Bearer")],
                b""
            ),
            (Some("q".into()), false)
        );
        assert_eq!(
            lose("/me/x", vec![("Authorization", "Bearer h")], b""),
            (Some("h".into()), false)
        );

        // Without a content type, the first byte decides.
        let r = RawRequest::parse(&parts("POST", "/me/x", vec![], None, b"  {\"a\":1}"));
        assert_eq!(r.encoding, Encoding::Json);
        let r = RawRequest::parse(&parts("POST", "/me/x", vec![], None, b"a=1"));
        assert_eq!(r.encoding, Encoding::Form);
        assert_eq!(r.params.unwrap()["a"], json!("1"));
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            None,
            b"a=1",
        ));
        assert_eq!(r.encoding, Encoding::Form);
        // An empty body is no body, whatever its type says.
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x",
            vec![],
            Some("application/json"),
            b"",
        ));
        assert_eq!(r.encoding, Encoding::Query);
        assert!(r.params.is_ok());

        for (ct, body) in [
            (Some("application/json"), &b"{not json"[..]),
            (Some("application/json"), b"[1,2]"),
            (Some("application/json"), b"\"x\""),
            (None, b"{not json"),
            (Some("multipart/form-data; boundary=x"), b"--x"),
            (Some("text/plain"), b"a=1"),
        ] {
            let r = RawRequest::parse(&parts(
                "POST",
                "/me/x?access_token=t&appsecret_proof=p",
                vec![],
                ct,
                body,
            ));
            assert_eq!(r.params, Err(Defect::BodyNotJson), "{ct:?} {body:?}");
            // The query is still read for credentials.
            assert_eq!(r.token(), Some("t"));
            assert_eq!(r.proof.as_deref(), Some("p"));
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let r = RawRequest::parse(&parts(
            "POST",
            "/me/x?access_token=SECRETTOKEN&appsecret_proof=PROOFVALUE",
            vec![],
            None,
            b"",
        ));
        let d = format!("{r:?}");
        assert!(
            !d.contains("SECRETTOKEN") && !d.contains("PROOFVALUE"),
            "{d}"
        );
    }
}
