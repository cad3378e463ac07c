//! Strict parsing of the JOSE header and claims set.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Parses a JSON object, rejecting duplicate member names at the top level.
///
/// RFC 7515 §5.2 and RFC 8725 §3.7: with duplicates, two parsers can disagree about which
/// `alg`, `kid`, `sub` or `exp` a token carries. serde_json alone keeps the last one silently.
/// Anything that is not a JSON object (arrays, strings, invalid UTF-8, trailing bytes) fails.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let object = deserializer.deserialize_map(StrictObject).ok()?;
    deserializer.end().ok()?;
    Some(object)
}

struct StrictObject;

impl<'de> Visitor<'de> for StrictObject {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object without duplicate members")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value::<Value>()?;
            object.insert(name, value);
        }
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_without_duplicate_members_are_accepted() {
        assert!(parse_object(br#"{"a":1,"b":{"a":2}}"#).is_some());
        assert!(parse_object(b" {} ").is_some());
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"alg":"HS256","al\u0067":"none"}"#,
            b"[]",
            b"\"x\"",
            b"null",
            b"{} {}",
            b"{\"a\":\"\xff\"}",
            b"",
        ] {
            assert!(
                parse_object(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
