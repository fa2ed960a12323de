//! Serde helpers for ids, which peers write as JSON strings or numbers.
//!
//! We always write strings (`wire.md`: "app ids are strings"), but accept
//! integers when reading, because some implementations and SDKs emit page
//! and app ids as numbers and both mean the same id. Floats, booleans and
//! empty strings are refused: they cannot be an id.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use std::fmt;

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-empty string or an integer id")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        if v.is_empty() {
            Err(E::invalid_value(de::Unexpected::Str(v), &self))
        } else {
            Ok(v.to_string())
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// `#[serde(deserialize_with = "ids::id")]` for a `String` id.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(IdVisitor)
}

struct OptIdVisitor;

impl<'de> Visitor<'de> for OptIdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a non-empty string or an integer id")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        id(d).map(Some)
    }
}

/// `#[serde(default, deserialize_with = "ids::opt_id")]` for an
/// `Option<String>` id, `null` meaning `None`.
pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(OptIdVisitor)
}

/// Writes an `Option<String>` id as the string or `null` (never omitted).
pub(crate) fn ser_opt<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(id) => s.serialize_str(id),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(deserialize_with = "super::id")]
        a: String,
        #[serde(default, deserialize_with = "super::opt_id")]
        b: Option<String>,
    }

    #[test]
    fn strings_and_integers() {
        let t: T = serde_json::from_str(r#"{"a":12,"b":"x"}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: "12".into(),
                b: Some("x".into())
            }
        );
        let t: T = serde_json::from_str(r#"{"a":"12","b":null}"#).unwrap();
        assert_eq!(t.b, None);
        let t: T = serde_json::from_str(r#"{"a":"12"}"#).unwrap();
        assert_eq!(t.b, None);
        let t: T = serde_json::from_str(r#"{"a":"1","b":34}"#).unwrap();
        assert_eq!(t.b.as_deref(), Some("34"));
        for bad in [
            r#"{"a":""}"#,
            r#"{"a":1.5}"#,
            r#"{"a":true}"#,
            r#"{"a":"1","b":""}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
