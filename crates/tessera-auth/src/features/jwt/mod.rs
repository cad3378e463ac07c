//! Better Auth's jwt plugin: `/token` and `/jwks`, the signing keys ([`KeyManager`]), minting
//! ([`MintedTokens`]), their settings, and the `jwks` table's storage.

mod keys;
mod routes;
mod store;
mod tokens;

use axum::Router;

use super::Feature;
use crate::state::AuthState;

pub use keys::{KEY_RECHECK_SECS, KeyError, KeyInfo, KeyManager, KeyStatus, Rotation};
pub use store::KeyStore;
pub use tokens::{Jwt, MintedTokens};

/// The jwt feature.
pub(crate) struct JwtPlugin;

impl Feature for JwtPlugin {
    fn routes(&self) -> Router<AuthState> {
        routes::router()
    }
}
