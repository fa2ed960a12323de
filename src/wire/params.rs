//! How parameter values are read, whatever encoding carried them.
//!
//! A JSON body keeps JSON types, but form bodies and query strings carry only
//! text. Rather than decoding each encoding separately (and risking that the
//! two paths drift apart), every parameter lands in one JSON map: form and
//! query values as JSON strings. The readers below then accept, for each
//! parameter, both its JSON form and its text form: a parameter that expects
//! an object or an array parses a string as JSON text, a scalar parameter
//! never does. That single rule is what makes `recipient={"id":"1"}` (form)
//! and `"recipient":{"id":"1"}` (JSON) mean the same.

use crate::model::Defect;
use serde_json::{Map, Value};

/// Request parameters: JSON values by name (form and query values as strings).
pub type Params = Map<String, Value>;

/// Parses `a=1&b=2` (form body or query string) into text values. A key
/// given twice keeps its last value, as most web frameworks do.
pub(crate) fn parse_form(input: &[u8]) -> Params {
    let mut map = Params::new();
    for (k, v) in form_urlencoded::parse(input) {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    map
}

/// Encodes parameters as `a=1&b=2`: strings as they are, anything else as
/// JSON text (the form the decoder reads back).
pub(crate) fn encode_form(params: &Params) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, &as_text(v));
    }
    ser.finish()
}

/// A value as form text: strings verbatim, everything else as JSON.
pub(crate) fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parameter that is there and not JSON `null` (null counts as absent).
pub(crate) fn present<'a>(params: &'a Params, key: &str) -> Option<&'a Value> {
    params.get(key).filter(|v| !v.is_null())
}

/// Whether a text value is meant as a JSON object or array. Used where a
/// parameter accepts either a bare id or JSON (`thread_owner?recipient=`),
/// by the decoder and the renderer alike, so both draw the line in the same
/// place.
pub(crate) fn looks_structured(s: &str) -> bool {
    matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// A value of a parameter that expects an object or an array: a string is
/// taken as JSON text. `None` when that text is not JSON.
pub(crate) fn structured(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        other => Some(other.clone()),
    }
}

/// An id (`recipient.id`, `target_app_id`, `psid`): a non-empty string, or
/// an integer written as its decimal digits. `None` for anything else.
pub(crate) fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An id, or the defect that names what is wrong with it: `""` (and
/// arrays, which no rule names) [`Defect::IdMalformed`], a boolean
/// [`Defect::IdBoolean`], a number with a fraction [`Defect::IdFloat`], an
/// object [`Defect::IdObject`].
pub(crate) fn id(v: &Value) -> Result<String, Defect> {
    id_text(v).ok_or(match v {
        Value::Bool(_) => Defect::IdBoolean,
        Value::Number(_) => Defect::IdFloat,
        Value::Object(_) => Defect::IdObject,
        _ => Defect::IdMalformed,
    })
}

/// Whether an id is written the way a JSON integer prints: decimal digits,
/// no leading zero, within `u64`. Only such an id survives being sent as a
/// number (`"0012"` would come back as `"12"`).
pub(crate) fn integer_id(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().filter(|n| n.to_string() == s)
}

/// `duration`: an integer ([`integer`]), or the defect naming what it is
/// instead: a number with a fraction, or text of one
/// ([`Defect::DurationFloat`]), a boolean ([`Defect::DurationBool`]),
/// `null` ([`Defect::DurationNull`]), anything else
/// ([`Defect::DurationNotInteger`]).
pub(crate) fn duration(v: &Value) -> Result<i64, Defect> {
    if let Some(i) = integer(v) {
        return Ok(i);
    }
    Err(match v {
        Value::Null => Defect::DurationNull,
        Value::Bool(_) => Defect::DurationBool,
        Value::Number(_) => Defect::DurationFloat,
        Value::String(s)
            if s.trim() == s
                && matches!(serde_json::from_str::<Value>(s), Ok(Value::Number(_))) =>
        {
            Defect::DurationFloat
        }
        _ => Defect::DurationNotInteger,
    })
}

/// An integer given as a JSON number or as text of one. Integral floats
/// (`3600.0`, `"3.6e3"`) count; values beyond `i64` saturate so that the
/// model, not the decoder, refuses them as out of range.
pub(crate) fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => number_to_i64(n),
        Value::String(s) => {
            if let Ok(i) = s.parse::<i64>() {
                return Some(i);
            }
            // Only a bare JSON number: no surrounding blanks, no other JSON.
            if s.trim() != s || s.is_empty() {
                return None;
            }
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Number(n)) => number_to_i64(&n),
                _ => None,
            }
        }
        _ => None,
    }
}

fn number_to_i64(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.as_u64().is_some() {
        return Some(i64::MAX);
    }
    let f = n.as_f64()?;
    // `as` saturates at the bounds of i64.
    (f.is_finite() && f.fract() == 0.0).then_some(f as i64)
}

/// A list of names (`fields`, `params`): a JSON array of strings, JSON text
/// of one, or a comma-separated list (what Graph clients write for `fields`).
pub(crate) fn name_list(v: &Value) -> Option<Vec<String>> {
    let list = match v {
        Value::String(s) if !looks_structured(s) => {
            return Some(s.split(',').map(|p| p.trim().to_string()).collect());
        }
        other => structured(other)?,
    };
    match list {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_parse_as_text_and_last_wins() {
        let p = parse_form(b"a=1&b=%7B%22id%22%3A%221%22%7D&a=2&c=x+y&d=");
        assert_eq!(p["a"], json!("2"));
        assert_eq!(p["b"], json!(r#"{"id":"1"}"#));
        assert_eq!(p["c"], json!("x y"));
        assert_eq!(p["d"], json!(""));
        let mut q = Params::new();
        q.insert("r".into(), json!({"id": "1"}));
        q.insert("s".into(), json!("a&b=c"));
        assert_eq!(parse_form(encode_form(&q).as_bytes())["s"], json!("a&b=c"));
        assert_eq!(
            parse_form(encode_form(&q).as_bytes())["r"],
            json!(r#"{"id":"1"}"#)
        );
    }

    #[test]
    fn ids() {
        assert_eq!(id_text(&json!("12")), Some("12".into()));
        assert_eq!(id_text(&json!(12)), Some("12".into()));
        assert_eq!(id_text(&json!(-3)), Some("-3".into()));
        assert_eq!(
            id_text(&json!(18446744073709551615u64)),
            Some("18446744073709551615".into())
        );
        for bad in [
            json!(""),
            json!(true),
            json!(1.5),
            json!(2.0),
            json!({}),
            json!([]),
        ] {
            assert_eq!(id_text(&bad), None, "{bad}");
        }
    }

    #[test]
    fn id_defects() {
        assert_eq!(id(&json!("7")), Ok("7".into()));
        assert_eq!(id(&json!(7)), Ok("7".into()));
        assert_eq!(id(&json!("")), Err(Defect::IdMalformed));
        assert_eq!(id(&json!([])), Err(Defect::IdMalformed));
        assert_eq!(id(&json!(true)), Err(Defect::IdBoolean));
        assert_eq!(id(&json!(1.5)), Err(Defect::IdFloat));
        assert_eq!(id(&json!(2.0)), Err(Defect::IdFloat));
        assert_eq!(id(&json!({"id": "1"})), Err(Defect::IdObject));
        assert_eq!(integer_id("1001"), Some(1001));
        assert_eq!(integer_id("0"), Some(0));
        for no in ["0012", "", "-3", "1.0", "abc", "99999999999999999999999"] {
            assert_eq!(integer_id(no), None, "{no}");
        }
    }

    #[test]
    fn duration_defects() {
        assert_eq!(duration(&json!(3600)), Ok(3600));
        assert_eq!(duration(&json!("3600")), Ok(3600));
        assert_eq!(duration(&json!(3600.0)), Ok(3600));
        assert_eq!(duration(&json!(1.5)), Err(Defect::DurationFloat));
        assert_eq!(duration(&json!("1.5")), Err(Defect::DurationFloat));
        assert_eq!(duration(&json!(true)), Err(Defect::DurationBool));
        assert_eq!(duration(&json!(null)), Err(Defect::DurationNull));
        for other in [
            json!("abc"),
            json!(""),
            json!(" 1.5"),
            json!("true"),
            json!([1]),
        ] {
            assert_eq!(duration(&other), Err(Defect::DurationNotInteger), "{other}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(integer(&json!(3600)), Some(3600));
        assert_eq!(integer(&json!(3600.0)), Some(3600));
        assert_eq!(integer(&json!("3600")), Some(3600));
        assert_eq!(integer(&json!("3600.0")), Some(3600));
        assert_eq!(integer(&json!("-5")), Some(-5));
        assert_eq!(integer(&json!(u64::MAX)), Some(i64::MAX));
        assert_eq!(integer(&json!("99999999999999999999999")), Some(i64::MAX));
        assert_eq!(integer(&json!(-1e30)), Some(i64::MIN));
        for bad in [
            json!(1.5),
            json!("1.5"),
            json!("abc"),
            json!(""),
            json!(" 3"),
            json!("[3]"),
            json!(true),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(integer(&bad), None, "{bad}");
        }
    }

    #[test]
    fn name_lists() {
        let want = Some(vec!["persistent_menu".to_string()]);
        assert_eq!(name_list(&json!(["persistent_menu"])), want);
        assert_eq!(name_list(&json!(r#"["persistent_menu"]"#)), want);
        assert_eq!(name_list(&json!("persistent_menu")), want);
        assert_eq!(
            name_list(&json!("greeting, persistent_menu")),
            Some(vec!["greeting".into(), "persistent_menu".into()])
        );
        assert_eq!(name_list(&json!("[not json")), None);
        assert_eq!(name_list(&json!([1])), None);
        assert_eq!(name_list(&json!({})), None);
    }

    #[test]
    fn structure_detection() {
        assert!(looks_structured(r#"{"id":"1"}"#));
        assert!(looks_structured("  [1]"));
        assert!(!looks_structured("123"));
        assert!(!looks_structured(""));
        assert_eq!(structured(&json!("{x")), None);
        assert_eq!(structured(&json!("null")), Some(Value::Null));
        assert_eq!(structured(&json!({"a": 1})), Some(json!({"a": 1})));
    }
}
