//! Instant revocation: refusing the tokens of a session that has ended, before their `exp`.
//!
//! Tessera's access tokens name their session in the `sid` claim. When a session ends
//! (sign-out, a revocation, a password change that ends every session, expiry), the auth server
//! publishes its id; a guard given a [`RevocationList`] answers tokens carrying a listed `sid`
//! with 401 `Invalid or expired token`, like any other dead token. The check runs after the
//! signature and claims have verified, so a forged token cannot probe the list, and a token
//! without `sid` (one minted by Better Auth, or by an older Tessera) is unaffected.
//!
//! The list is opt-in ([`crate::GuardBuilder::revocations`]) and always answered from memory:
//! - [`MemoryRevocations`]: a bounded set the host process updates itself (`tessera serve`
//!   feeds it straight from its auth server); the sources below feed one too;
//! - `RevocationPoller` (feature `remote`): polls the auth server's
//!   `GET /api/auth/revocations?since=<cursor>` feed, every 500 ms by default;
//! - `RedisRevocations` (feature `redis`): subscribes to the auth servers' Redis channel
//!   ([`protocol::REDIS_KEY`]), catching up from the sorted set of the same name on every
//!   (re)connection.
//!
//! The wire formats, channel, cursor rules and retention horizon are the auth server's too:
//! both sides take them from the `tessera-revocation` crate, re-exported here as [`protocol`].
//!
//! An entry is kept until the last token of its session has expired anyway: the auth server
//! says how long (the JWT lifetime plus a minute of leeway), so the set never grows beyond the
//! sessions ended within one token lifetime. While a source cannot reach the auth server or
//! Redis, the guard keeps answering from what it already knows: an outage delays revocations,
//! it never rejects valid tokens.

mod memory;
#[cfg(feature = "remote")]
mod poll;
#[cfg(feature = "redis")]
mod redis;

use std::sync::Arc;

pub use memory::MemoryRevocations;
#[cfg(feature = "remote")]
pub use poll::{FeedError, RevocationPoller, RevocationPollerBuilder};
#[cfg(feature = "redis")]
pub use redis::{RedisRevocations, RedisRevocationsBuilder};
/// The revocation protocol this guard follows (channel, message, feed page, cursor, horizon).
pub use tessera_revocation as protocol;

/// Answers whether a session has been revoked. Consulted once per verified token that carries
/// a `sid`, on the request path: implementations answer from memory, without I/O.
pub trait RevocationList: Send + Sync + 'static {
    /// Whether tokens of session `sid` must be refused now.
    fn is_revoked(&self, sid: &str) -> bool;
}

impl<T: RevocationList + ?Sized> RevocationList for Arc<T> {
    fn is_revoked(&self, sid: &str) -> bool {
        (**self).is_revoked(sid)
    }
}
