//! [`Message`]: one publication on the Redis channel.

use serde::{Deserialize, Serialize};

/// `{"revoked": ["<sid>", …], "until": <unix seconds>}`: the sessions that just ended, and the
/// Unix second until which their tokens must be refused (also their score in the sorted set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Ids of the sessions ended (read leniently: elements that cannot be ids are skipped).
    #[serde(deserialize_with = "crate::ids::deserialize")]
    pub revoked: Vec<String>,
    /// Unix second until which they stay revoked.
    pub until: i64,
}

impl Message {
    /// The JSON text published.
    pub fn encode(&self) -> String {
        // Strings and an integer: serializing cannot fail.
        serde_json::to_string(self).expect("a message always serializes")
    }

    /// Reads a published payload; `None` if it is not a message (a subscriber ignores it).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_a_bad_one_is_refused_whole() {
        let message = Message {
            revoked: vec!["a".into(), "b".into()],
            until: 1_800_000_960,
        };
        assert_eq!(
            message.encode(),
            r#"{"revoked":["a","b"],"until":1800000960}"#
        );
        assert_eq!(Message::decode(message.encode().as_bytes()), Some(message));
        let lenient = Message::decode(br#"{"revoked":["a",7,""],"until":5}"#).unwrap();
        assert_eq!(lenient.revoked, ["a"]);
        for bad in [
            &br#"{"revoked":["a"]}"#[..],
            br#"{"revoked":"a","until":5}"#,
            b"nope",
        ] {
            assert_eq!(Message::decode(bad), None);
        }
    }
}
