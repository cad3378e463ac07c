//! The tasks API inside `tessera serve`: same database, and a guard that verifies with the
//! auth server's own keys, read in process rather than over HTTP, and refuses the tokens of
//! ended sessions as soon as they end (see [`crate::revocations`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tessera_auth::AuthState;
use tessera_guard::Guard;
use tessera_guard::keys::{FetchError, FetchedJwks, JwksCache, StaticKeys};
use tessera_jwt::{Algorithm, KeyRing, VerifyingKey};
use tessera_tasks::store::{ListCache, TaskStore};
use tessera_tasks::{TasksState, system_clock};

use crate::cli::TasksCacheArgs;
use crate::revocations::GuardRevocations;

/// Connects the tasks store to `database_url`, migrates it, and guards it with `auth`'s keys
/// and its revocations (plus those published in Redis, when `redis_url` is set), with the
/// caches `caches` asks for.
pub async fn in_process(
    auth: &AuthState,
    database_url: &str,
    redis_url: Option<&str>,
    caches: &TasksCacheArgs,
) -> anyhow::Result<TasksState> {
    let store = connect(database_url, caches).await?;
    let revocations = GuardRevocations::in_process(auth, redis_url)?;
    Ok(TasksState::new(
        store,
        own_keys_guard(auth, revocations, caches.token_cache),
    ))
}

/// The migrated tasks store at `database_url`, behind a [`ListCache`] unless its TTL is zero
/// (default: one second on SQLite, off on PostgreSQL; see [`TasksCacheArgs`]).
pub async fn connect(
    database_url: &str,
    caches: &TasksCacheArgs,
) -> anyhow::Result<Arc<dyn TaskStore>> {
    let store = tessera_tasks::store::connect(database_url)
        .await
        .context("connecting the tasks store")?;
    store.migrate().await.context("migrating the tasks store")?;
    let default_ttl = if database_url.starts_with("sqlite:") {
        1
    } else {
        0
    };
    let ttl = caches.tasks_cache_ttl.unwrap_or(default_ttl);
    if ttl == 0 {
        return Ok(store);
    }
    let ttl = i64::try_from(ttl)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .context("TESSERA_TASKS_CACHE_TTL is too large")?;
    Ok(Arc::new(ListCache::new(store, system_clock(), ttl)))
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
    let auth_state = auth.clone();
    let source = JwksCache::new(move || {
        let auth = auth_state.clone();
        async move {
            let keys = auth
                .jwt
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
    .with_default_max_age(Duration::from_secs(u64::from(auth.config.jwt.jwks_max_age)));
    Guard::builder(source)
        .issuer(origin.clone())
        .audience(origin)
        .revocations(revocations)
        .token_cache(token_cache)
        .build()
}
