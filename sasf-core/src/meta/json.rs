//! The strict JSON profile (`docs/FORMAT.md` §8.0, I-JSON, RFC 7493): the one parser
//! every JSON text of the core goes through, chunk payloads and user documents alike.
//!
//! serde_json alone keeps the last of two members with one name, so a reader and a
//! second implementation that keeps the first would see different records. The
//! [`Strict`] seed builds the same `serde_json::Value` but refuses a repeated member
//! name at any depth, naming its JSON path. serde_json already refuses invalid UTF-8,
//! lone surrogate escapes, a byte order mark, trailing text and numbers outside the
//! binary64 range (`1e400`); the tests below pin that down.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Largest integer a SASF-defined member may hold: 2^53, the last of the run of
/// integers that binary64 represents exactly.
pub const MAX_EXACT_INT: u64 = 1 << 53;

/// Why a JSON text was refused, and where (`path` is empty for the text as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// JSON path below the caller's root, e.g. `.events[3].participant`; empty for the
    /// whole text.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// One step down from the root, kept on the stack only while its value is parsed.
enum Step<'a> {
    Root,
    Member(&'a Node<'a>, &'a str),
    Element(&'a Node<'a>, usize),
}

struct Node<'a>(Step<'a>);

impl Node<'_> {
    fn path(&self) -> String {
        match &self.0 {
            Step::Root => String::new(),
            Step::Member(up, name) => format!("{}{}", up.path(), member_path(name)),
            Step::Element(up, i) => format!("{}[{i}]", up.path()),
        }
    }
}

/// `.name` for plain names, `["na me"]` (a JSON string) for the others.
pub(crate) fn member_path(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if plain {
        format!(".{name}")
    } else {
        format!("[{}]", Value::from(name))
    }
}

/// Builds a `Value`, refusing duplicate member names and non-finite numbers.
struct Strict<'a> {
    at: &'a Node<'a>,
    refusal: &'a RefCell<Option<Refusal>>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(&self, path: String, reason: String) -> E {
        let msg = format!("{reason} at {path}");
        *self.refusal.borrow_mut() = Some(Refusal { path, reason });
        E::custom(msg)
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        // serde_json refuses overflow itself; this keeps the rule if that ever changes.
        Number::from_f64(n).map(Value::Number).ok_or_else(|| {
            self.refuse(self.at.path(), "a number outside the binary64 range".into())
        })
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let node = Node(Step::Element(self.at, out.len()));
            let seed = Strict {
                at: &node,
                refusal: self.refusal,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if out.contains_key(&name) {
                let path = format!("{}{}", self.at.path(), member_path(&name));
                return Err(self.refuse(path, format!("duplicate member name {:?}", name)));
            }
            let node = Node(Step::Member(self.at, &name));
            let v = map.next_value_seed(Strict {
                at: &node,
                refusal: self.refusal,
            })?;
            out.insert(name, v);
        }
        Ok(Value::Object(out))
    }
}

/// Checks size and nesting depth of JSON text before it is parsed.
/// On failure returns what was exceeded, the value found and the limit.
pub fn check_json_limits(
    text: &[u8],
    max_len: usize,
    max_depth: usize,
) -> std::result::Result<(), (&'static str, u64, u64)> {
    if text.len() > max_len {
        return Err(("JSON length in bytes", text.len() as u64, max_len as u64));
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &c in text {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(("JSON nesting depth", depth as u64, max_depth as u64));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses one JSON text under the strict profile (limits are checked by the caller).
pub(crate) fn parse_strict(text: &[u8]) -> Result<Value, Refusal> {
    let refusal = RefCell::new(None);
    let root = Node(Step::Root);
    let mut de = serde_json::Deserializer::from_slice(text);
    let r = Strict {
        at: &root,
        refusal: &refusal,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|_| v));
    r.map_err(|e| {
        refusal.into_inner().unwrap_or_else(|| Refusal {
            path: String::new(),
            reason: format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &[u8]) -> Refusal {
        parse_strict(text).expect_err(&String::from_utf8_lossy(text))
    }

    #[test]
    fn duplicate_member_names_are_refused_at_any_depth_with_their_path() {
        for (text, path) in [
            (r#"{"participant":"zz","participant":"a1"}"#, ".participant"),
            (r#"{"a":{"b":1,"b":1}}"#, ".a.b"),
            (r#"{"v":[0,{"x":null,"x":null}]}"#, ".v[1].x"),
            (r#"{"a b":{"":1,"":2}}"#, r#"["a b"][""]"#),
            // Same name written with an escape is still the same name.
            (r#"{"kind":1,"\u006bind":2}"#, ".kind"),
        ] {
            let r = refused(text.as_bytes());
            assert_eq!(r.path, path, "{text}");
            assert!(r.reason.contains("duplicate member name"), "{text}");
        }
        // Equal names in different objects are fine.
        assert!(parse_strict(br#"{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":1}]}"#).is_ok());
    }

    #[test]
    fn what_serde_json_already_refuses_stays_refused() {
        for text in [
            &b"1e400"[..],
            b"-1e400",
            b"{\"v\":1e309}",
            &[b'1'; 400][..],
            b"[\"\\ud800\"]",        // lone leading surrogate
            b"[\"\\udc00\"]",        // lone trailing surrogate
            b"[\"\\ud800\\u0041\"]", // leading surrogate not followed by a trailing one
            b"[\"\xff\"]",           // not UTF-8
            b"[\"\xc0\xaf\"]",       // overlong encoding
            b"\xef\xbb\xbf{}",       // byte order mark
            b"{} {}",                // trailing text
            b"{\"a\":1,}",           // trailing comma
            b"NaN",
            b"Infinity",
            b"[\"a\tb\"]", // raw control character in a string
            b"",
        ] {
            let r = refused(text);
            assert_eq!(r.path, "", "{:?}", String::from_utf8_lossy(text));
        }
        // A surrogate pair is one code point, and fine.
        assert_eq!(
            parse_strict(b"[\"\\ud83d\\ude00\"]").unwrap(),
            Value::from(vec!["\u{1F600}"])
        );
    }

    #[test]
    fn numbers_inside_the_binary64_range_are_kept() {
        let v =
            parse_strict(b"[1e308,-0,1e-400,18446744073709551615,-9007199254740993,0.1]").unwrap();
        assert_eq!(v[0].as_f64(), Some(1e308));
        assert_eq!(v[3].as_u64(), Some(u64::MAX));
        assert_eq!(v[4].as_i64(), Some(-9007199254740993));
        assert_eq!(v[5].as_f64(), Some(0.1));
    }

    #[test]
    fn paths_quote_names_that_are_not_plain() {
        assert_eq!(member_path("at_ms"), ".at_ms");
        assert_eq!(member_path("a.b"), r#"["a.b"]"#);
        assert_eq!(member_path("\""), r#"["\""]"#);
    }

    #[test]
    fn json_limits_refuse_depth_and_size() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(check_json_limits(deep.as_bytes(), 1000, 32).is_err());
        assert!(check_json_limits(
            b"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"",
            1000,
            32
        )
        .is_ok());
        assert!(check_json_limits(&[b' '; 11], 10, 32).is_err());
        assert!(check_json_limits(&[b' '; 10], 10, 32).is_ok());
    }
}
