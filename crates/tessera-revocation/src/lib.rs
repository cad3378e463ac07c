//! Tessera's revocation protocol: how an auth server tells resource-server guards that sessions
//! have ended, so they refuse those sessions' tokens before their `exp`.
//!
//! Both halves use only what is defined here: the auth server (tessera-auth) publishes and serves
//! the feed, the guards (tessera-guard) subscribe and poll. The crate has no I/O, so a guard
//! depends on it without depending on the auth server.
//!
//! An access token names its session in the `sid` claim. A revocation is a session id plus the
//! Unix second until which its tokens must be refused: the moment the session ended plus the
//! [retention horizon](retention_secs), after which every token minted for it has expired anyway.
//! It travels two ways:
//!
//! - **Redis** ([`REDIS_KEY`], [`Message`]): a JSON [`Message`] is `PUBLISH`ed on the channel
//!   `REDIS_KEY`, and each id is `ZADD`ed to the sorted set of the same name with its `until` as
//!   the score. A subscriber subscribes first, then reads the members whose score is above the
//!   present, so nothing published in between is missed; entries scored at or below the present
//!   are dead and may be removed by anyone;
//! - **the HTTP feed** ([`FeedPage`], [`Cursor`]): `GET <feed>?since=<cursor>` ([`SINCE`])
//!   answers the sessions ended after the cursor. See [`feed`] for the paging rules.
//!
//! Auth server processes sharing one database also follow [`REDIS_KEY`] themselves, to drop
//! the sessions another process ended from their session caches, and [`KEYS_CHANNEL`], to pick
//! up a signing key rotated by another process.
#![forbid(unsafe_code)]

pub mod feed;
mod ids;
mod message;

pub use feed::{Cursor, CursorError, FeedPage, PageError};
pub use message::Message;

/// The Redis channel revocations are published on, and the key of the sorted set kept for
/// subscribers catching up (member: session id; score: the Unix second until which it stays
/// revoked). Redis keeps channels and keys apart, so one name serves both.
pub const REDIS_KEY: &str = "tessera:revocations";

/// The Redis channel on which a new signing key is announced (`tessera keys rotate`): the
/// payload is the new key's id, for logs only — listeners re-read the key store, the one source
/// of truth, and a payload they cannot read still makes them do so. Auth server processes
/// listen to it beside [`REDIS_KEY`] so every instance signs with a rotated key at once, not at
/// its next periodic re-check.
pub const KEYS_CHANNEL: &str = "tessera:keys";

/// The query parameter carrying the cursor of the previous feed page.
pub const SINCE: &str = "since";

/// The largest clock-skew leeway a guard may grant after `exp` (tessera-guard caps it at this):
/// a revoked id is kept this much longer than the token lifetime.
pub const LEEWAY_SECS: u64 = 60;

/// Tessera's default JWT lifetime (15 minutes).
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 15 * 60;

/// How long a revoked session id is kept when its source does not say:
/// [`retention_secs`] of the default token lifetime.
pub const DEFAULT_RETENTION_SECS: u64 = retention_secs(DEFAULT_TOKEN_LIFETIME_SECS);

/// Longest session id accepted: ids are opaque strings, and anything longer is not one of ours.
pub const MAX_SESSION_ID_LEN: usize = 256;

/// The retention horizon: how long after a session ends its id still matters, for tokens that
/// live `token_lifetime_secs`. The token lifetime plus [`LEEWAY_SECS`].
pub const fn retention_secs(token_lifetime_secs: u64) -> u64 {
    token_lifetime_secs.saturating_add(LEEWAY_SECS)
}

/// Whether `sid` can be a session id at all (non-empty, at most [`MAX_SESSION_ID_LEN`] bytes).
/// Anything else in a message or page is skipped.
pub fn is_session_id(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= MAX_SESSION_ID_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_retention_is_the_default_token_lifetime_plus_a_minute() {
        assert_eq!(DEFAULT_RETENTION_SECS, 960);
        assert_eq!(retention_secs(u64::MAX), u64::MAX);
    }
}
