//! The tasks API inside `tessera serve`: same database pool, and a guard that verifies with the
//! auth server's own keys, read in memory from its key manager rather than over HTTP, and
//! refuses the tokens of ended sessions as soon as they end.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tessera_api::{GuardRevocations, TasksSettings};
use tessera_auth::AuthState;
use tessera_guard::keys::{BoxFuture, StaticKeys};
use tessera_guard::{Guard, KeySource};
use tessera_jwt::{Algorithm, KeyRing, VerifyingKey};
use tessera_tasks::TasksState;
use tessera_tasks::store::TaskStore;

/// Least time between two reads of the store for a key this process has not seen, so garbage
/// `kid`s cannot turn into a query per request.
const RELOAD_COOLDOWN: Duration = Duration::from_secs(1);

/// The tasks state over `store`, guarded with `auth`'s keys and its revocations (plus those
/// published in Redis, when `redis_url` is set), with the token cache `settings` ask for.
///
/// # Errors
/// When `redis_url` is not a Redis URL.
pub fn in_process(
    auth: &AuthState,
    store: Arc<dyn TaskStore>,
    redis_url: Option<&str>,
    settings: &TasksSettings,
) -> Result<TasksState, tessera_api::ApiError> {
    let revocations = GuardRevocations::local(redis_url)?;
    let list = revocations.list();
    auth.revocations.subscribe(move |sids, until| {
        list.revoke_many(sids, until);
    });
    Ok(TasksState::new(
        store,
        own_keys_guard(auth, revocations, settings.token_cache),
    ))
}

/// A guard accepting exactly the tokens `auth` mints: its issuer and audience, its keys.
///
/// HS256: every configured secret (newest signs; older ones verify during a rotation). Key
/// pairs: the key manager's published keys ([`OwnKeys`]).
fn own_keys_guard(auth: &AuthState, revocations: GuardRevocations, token_cache: usize) -> Guard {
    let origin = auth.config.base_origin.clone();
    if auth.jwt.keys.alg() == Algorithm::HS256 {
        let keys = auth
            .config
            .secrets
            .all()
            .map(|s| VerifyingKey::hmac(None, s.secret.expose().as_bytes()))
            .collect();
        // Tessera's HS256 tokens carry no `aud` (python-jose compatibility), so only `iss` is pinned.
        return Guard::builder(StaticKeys::new(KeyRing::new(keys)))
            .algorithms([Algorithm::HS256])
            .issuer(origin)
            .revocations(revocations)
            .token_cache(token_cache)
            .build();
    }
    Guard::builder(OwnKeys::new(auth.clone()))
        .issuer(origin.clone())
        .audience(origin)
        .revocations(revocations)
        .token_cache(token_cache)
        .build()
}

/// The auth server's published keys, taken from its key manager's in-memory ring
/// ([`tessera_auth::features::jwt::KeyManager::published_keys`], the set `/api/auth/jwks` publishes).
/// The store is read again only for a ring never loaded yet (the first key is created then, as
/// the first `/jwks` does) or for a token naming a key not in the ring (rotated in by another
/// process), at most once per [`RELOAD_COOLDOWN`].
struct OwnKeys {
    auth: AuthState,
    last_reload: Mutex<Option<Instant>>,
}

impl OwnKeys {
    fn new(auth: AuthState) -> Self {
        Self {
            auth,
            last_reload: Mutex::new(None),
        }
    }

    /// Reads the store again unless that was done within the cooldown; `None` then, or when
    /// the store fails (the ring in memory stays in use).
    async fn reload(&self) -> Option<Arc<KeyRing>> {
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < RELOAD_COOLDOWN) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let auth = &self.auth;
        match auth
            .jwt
            .keys
            .reload_published_keys(auth.store.as_ref(), auth.clock.now())
            .await
        {
            Ok(ring) => Some(ring),
            Err(error) => {
                tracing::warn!(%error, "could not read the signing keys for the tasks guard");
                None
            }
        }
    }
}

impl KeySource for OwnKeys {
    fn keys(&self) -> BoxFuture<'_, Arc<KeyRing>> {
        let ring = self.auth.jwt.keys.published_keys();
        Box::pin(async move {
            if ring.is_empty()
                && let Some(loaded) = self.reload().await
            {
                return loaded;
            }
            ring
        })
    }

    fn refresh<'a>(&'a self, seen: &'a Arc<KeyRing>) -> BoxFuture<'a, Option<Arc<KeyRing>>> {
        Box::pin(async move {
            // The manager may have re-read the store since the caller's snapshot.
            let ring = self.auth.jwt.keys.published_keys();
            if !Arc::ptr_eq(&ring, seen) {
                return Some(ring);
            }
            let ring = self.reload().await?;
            (!Arc::ptr_eq(&ring, seen)).then_some(ring)
        })
    }
}
