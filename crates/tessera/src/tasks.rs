//! The tasks API inside `tessera serve`: same database, and a guard that verifies with the
//! auth server's own keys, read in process rather than over HTTP, and refuses the tokens of
//! ended sessions as soon as they end (see [`crate::revocations`]).

use std::time::Duration;

use anyhow::Context as _;
use tessera_auth::AuthState;
use tessera_guard::Guard;
use tessera_guard::keys::{FetchError, FetchedJwks, JwksCache, StaticKeys};
use tessera_jwt::{Algorithm, KeyRing, VerifyingKey};
use tessera_tasks::TasksState;

use crate::revocations::GuardRevocations;

/// Connects the tasks store to `database_url`, migrates it, and guards it with `auth`'s keys
/// and its revocations (plus those published in Redis, when `redis_url` is set), remembering up
/// to `token_cache` verified tokens.
pub async fn in_process(
    auth: &AuthState,
    database_url: &str,
    redis_url: Option<&str>,
    token_cache: usize,
) -> anyhow::Result<TasksState> {
    let store = tessera_tasks::store::connect(database_url)
        .await
        .context("connecting the tasks store")?;
    store.migrate().await.context("migrating the tasks store")?;
    let revocations = GuardRevocations::in_process(auth, redis_url)?;
    Ok(TasksState::new(
        store,
        own_keys_guard(auth, revocations, token_cache),
    ))
}

/// Applies the tasks API's migrations (`tessera migrate`).
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let store = tessera_tasks::store::connect(database_url)
        .await
        .context("connecting the tasks store")?;
    store.migrate().await.context("migrating the tasks store")?;
    store.close().await;
    Ok(())
}

/// A guard accepting exactly the tokens `auth` mints: its issuer and audience, its keys.
///
/// HS256: every configured secret (newest signs; older ones verify during a rotation). Key
/// pairs: the auth server's JWKS document, produced in process from its key manager — the same
/// set `/api/auth/jwks` publishes — cached, and re-read when a token names a key rotated in
/// since (at most once a second, so garbage `kid`s cannot turn into a query per request).
fn own_keys_guard(auth: &AuthState, revocations: GuardRevocations, token_cache: usize) -> Guard {
    let origin = auth.config.base_origin.clone();
    if auth.keys.alg() == Algorithm::HS256 {
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
    let auth_state = auth.clone();
    let source = JwksCache::new(move || {
        let auth = auth_state.clone();
        async move {
            let keys = auth
                .keys
                .jwks(auth.store.as_ref(), auth.clock.now())
                .await
                .map_err(|e| FetchError::Source(e.to_string()))?;
            Ok(FetchedJwks {
                keys,
                max_age: None,
            })
        }
    })
    .with_cooldown(Duration::from_secs(1))
    .with_default_max_age(Duration::from_secs(u64::from(auth.config.jwks_max_age)));
    Guard::builder(source)
        .issuer(origin.clone())
        .audience(origin)
        .revocations(revocations)
        .token_cache(token_cache)
        .build()
}
