//! Better Auth's jwt plugin: `/token` and `/jwks`, the signing keys ([`KeyManager`]), minting
//! ([`MintedTokens`]), their settings, and the `jwks` table's storage.

mod keys;
mod routes;
mod settings;
mod store;
mod tokens;

use axum::Router;

use super::Feature;
use crate::config::AuthConfig;
use crate::state::AuthState;

pub use keys::{KEY_RECHECK_SECS, KeyError, KeyInfo, KeyManager, KeyStatus, Rotation};
pub use settings::JwtSettings;
pub use store::KeyStore;
pub use tokens::{Jwt, MintedTokens};

/// The jwt feature.
pub(crate) struct JwtPlugin;

impl Feature for JwtPlugin {
    fn routes(&self) -> Router<AuthState> {
        routes::router()
    }
}

/// The jwt feature's part of [`AuthState`].
pub struct JwtState {
    /// Signing keys.
    pub keys: KeyManager,
    /// Recently minted JWTs, handed out again to the same session for a short while.
    pub minted: MintedTokens,
}

impl JwtState {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        Self {
            keys: KeyManager::new(config),
            minted: MintedTokens::new(config.jwt.expires_in),
        }
    }
}
