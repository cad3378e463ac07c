//! A lenient list of session ids: one malformed element does not cost the others.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::is_session_id;

/// Deserializes a JSON array, keeping the strings that can be session ids and skipping every
/// other element (numbers, empty or oversized strings): a guard revokes what it can read rather
/// than dropping a whole batch over one bad entry.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    deserializer.deserialize_seq(SessionIds)
}

struct SessionIds;

/// One element: a string, or anything else (read and dropped).
#[derive(Deserialize)]
#[serde(untagged)]
enum Element {
    Id(String),
    Other(IgnoredAny),
}

impl<'de> Visitor<'de> for SessionIds {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of session ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(element) = seq.next_element::<Element>()? {
            if let Element::Id(id) = element
                && is_session_id(&id)
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
