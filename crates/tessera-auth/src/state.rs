//! The shared application state every handler receives.

use std::ops::Deref;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::cookies::CookieNames;
use crate::keys::KeyManager;
use crate::origin::TrustedOrigins;
use crate::password::PasswordHasher;
use crate::store::Store;

/// Cheap-to-clone handle on the auth server's state.
#[derive(Clone)]
pub struct AuthState(Arc<AuthApp>);

/// The auth server's parts.
pub struct AuthApp {
    /// Settings.
    pub config: AuthConfig,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The bounded password hasher.
    pub hasher: PasswordHasher,
    /// Signing keys.
    pub keys: KeyManager,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Cookie names for this deployment.
    pub cookies: CookieNames,
    /// Origins allowed to make credentialed requests.
    pub trusted: TrustedOrigins,
}

impl AuthState {
    /// Assembles the state from its parts.
    pub fn new(config: AuthConfig, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let hasher = PasswordHasher::new(config.password_hash, config.hash_concurrency);
        let keys = KeyManager::new(
            config.jwt_alg,
            config.secrets.clone(),
            config.jwks_grace_period,
        );
        let cookies = CookieNames::new(config.secure_cookies());
        let trusted = TrustedOrigins::new(&config.base_origin, &config.trusted_origins);
        Self(Arc::new(AuthApp {
            config,
            store,
            hasher,
            keys,
            clock,
            cookies,
            trusted,
        }))
    }
}

impl Deref for AuthState {
    type Target = AuthApp;
    fn deref(&self) -> &AuthApp {
        &self.0
    }
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("base_origin", &self.config.base_origin)
            .finish_non_exhaustive()
    }
}
