//! The HTTP feed: `GET <feed>?since=<cursor>` answers one [`FeedPage`].
//!
//! Tessera serves it at `/api/auth/revocations`, without credentials (it lists only ids of
//! sessions that have already ended). The rules both sides rely on:
//!
//! - without `since`, the page starts at the oldest revocation still within the retention
//!   horizon; with it, just after the cursor of an earlier page. A cursor is opaque to the
//!   client: it sends back exactly what it was given. The server answers a cursor it could not
//!   have issued ([`Cursor::parse`] fails) with 400, and treats a well-formed one older than the
//!   horizon as the horizon;
//! - delivery is at least once: an id may be listed again on a later page (the server re-reads
//!   its last few seconds to see transactions that committed late), which is harmless;
//! - `more: true` means another page is waiting now (ask again at once); otherwise the client
//!   polls again later with the new cursor;
//! - `ttl` says how long a listed id must be kept refused, in seconds (the retention horizon);
//!   a client falls back to [`crate::DEFAULT_RETENTION_SECS`] when it is absent.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One page of the feed:
/// `{"revoked": ["<sid>", …], "cursor": "<opaque>", "more": <bool>, "ttl": <seconds>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Ids of the sessions ended after the cursor, oldest first (read leniently: elements that
    /// cannot be ids are skipped).
    #[serde(deserialize_with = "crate::ids::deserialize")]
    pub revoked: Vec<String>,
    /// The cursor to send as `since` next time.
    pub cursor: Cursor,
    /// Another page is waiting now.
    #[serde(default)]
    pub more: bool,
    /// Seconds a listed id must be kept refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid revocation feed page: {0}")]
pub struct PageError(#[source] serde_json::Error);

impl FeedPage {
    /// Reads a page from its JSON body. `revoked` and a valid `cursor` are required.
    pub fn decode(body: &[u8]) -> Result<Self, PageError> {
        serde_json::from_slice(body).map_err(PageError)
    }
}

/// A feed cursor: 1 to [`Cursor::MAX_LEN`] ASCII letters and digits, opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor(String);

/// A string that is not a cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a revocation feed cursor (1 to 64 ASCII letters and digits)")]
pub struct CursorError;

impl Cursor {
    /// Longest cursor (Tessera's are 32 characters).
    pub const MAX_LEN: usize = 64;

    /// Parses a cursor received from the other side.
    pub fn parse(text: &str) -> Result<Self, CursorError> {
        Self::try_from(text.to_owned())
    }

    /// The cursor's text, as sent in `since`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Cursor {
    type Error = CursorError;

    fn try_from(text: String) -> Result<Self, CursorError> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if valid {
            Ok(Self(text))
        } else {
            Err(CursorError)
        }
    }
}

impl From<Cursor> for String {
    fn from(cursor: Cursor) -> Self {
        cursor.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_leniently_but_needs_revoked_and_a_cursor() {
        let page =
            FeedPage::decode(br#"{"revoked":["a",1,"","b"],"cursor":"c1","more":true,"ttl":960}"#)
                .unwrap();
        assert_eq!(page.revoked, ["a", "b"]);
        assert_eq!(
            (page.cursor.as_str(), page.more, page.ttl),
            ("c1", true, Some(960))
        );
        let minimal = FeedPage::decode(br#"{"revoked":[],"cursor":"c2"}"#).unwrap();
        assert_eq!((minimal.more, minimal.ttl), (false, None));
        for bad in [
            &br#"{"cursor":"c"}"#[..],
            br#"{"revoked":[],"cursor":""}"#,
            br#"{"revoked":[],"cursor":"a-b"}"#,
            br#"{"revoked":{},"cursor":"c"}"#,
            b"not json",
        ] {
            assert!(
                FeedPage::decode(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_page_serializes_in_the_wire_order() {
        let page = FeedPage {
            revoked: vec!["s1".into()],
            cursor: Cursor::parse("0194f3a2b1c0").unwrap(),
            more: false,
            ttl: Some(960),
        };
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"revoked":["s1"],"cursor":"0194f3a2b1c0","more":false,"ttl":960}"#
        );
    }

    #[test]
    fn cursors_are_short_ascii_alphanumerics() {
        assert!(Cursor::parse("0").is_ok());
        assert!(Cursor::parse(&"a".repeat(Cursor::MAX_LEN)).is_ok());
        for bad in ["", "not-a-cursor!", "é", &"a".repeat(Cursor::MAX_LEN + 1)] {
            assert_eq!(Cursor::parse(bad), Err(CursorError), "{bad:?}");
        }
    }
}
