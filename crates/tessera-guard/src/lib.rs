//! Bearer-token guard for axum resource servers.
//!
//! A [`Guard`] takes the token from `Authorization: Bearer`, verifies it with a [`KeySource`]
//! (HS256 secrets, a static JWKS, a remote JWKS URL cached in memory, or keys pushed in-process)
//! and the issuer / audience / algorithm policy, and yields an [`AuthUser`]; every failure is a
//! FastAPI-shaped `{"detail": …}` answer ([`GuardError`]). Verification never calls the auth
//! server: the only network traffic is the occasional JWKS fetch, rate-limited by a cooldown.
//! Optionally, a [`RevocationList`] makes tokens of signed-out sessions fail at once instead of
//! at their `exp` (see [`revocation`]).
//!
//! All token checks (RFC 8725: algorithm bound to the key, `none`, empty signatures, `jku`/`jwk`
//! headers, `crit`, size limits, claim types) live in [`tessera_jwt::verify`]; this crate adds
//! key sourcing, HTTP extraction and the error mapping. It knows nothing of databases or of the
//! auth server, so any axum service can adopt it alone. See the crate README for a full app.
#![forbid(unsafe_code)]

mod error;
mod extract;
mod guard;
#[cfg(feature = "remote")]
pub mod http;
pub mod keys;
mod layer;
mod metrics;
pub mod revocation;
mod token_cache;
mod user;

pub use error::{ConfigError, GuardError};
pub use guard::{Guard, GuardBuilder};
pub use keys::KeySource;
pub use layer::{GuardLayer, GuardService};
pub use revocation::RevocationList;
/// The time source, shared with the auth server and the tasks API (`tessera-clock`).
pub use tessera_clock::{Clock, ManualClock, SystemClock};
pub use user::AuthUser;

/// The token layer this guard is built on, re-exported so callers need not depend on it.
pub use tessera_jwt;

/// The README's example app, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
