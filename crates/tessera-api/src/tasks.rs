//! The tasks store both servers run, and the tasks API's cache settings.

use std::sync::Arc;

use tessera_db::Database;
use tessera_tasks::store::{ListCache, TaskStore};
use tessera_tasks::system_clock;

use crate::ApiError;

/// The tasks API's caches (in `tessera serve` and in `tessera api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TasksSettings {
    /// How many verified bearer tokens the guard remembers; 0: none.
    pub token_cache: usize,
    /// Seconds a user's task list answers again from memory; `None`: 1 on SQLite, 0 (off) on
    /// PostgreSQL, where several API processes usually share the database.
    pub list_cache_ttl: Option<u64>,
}

/// The migrated tasks store at `database_url`, behind the list cache `settings` ask for, and
/// the pool under it (for its metrics).
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn tasks_store(
    database_url: &str,
    settings: &TasksSettings,
) -> Result<(Database, Arc<dyn TaskStore>), ApiError> {
    let db = tessera_db::connect(database_url)
        .await
        .map_err(ApiError::Connect)?;
    let store = tessera_tasks::store::open(db.clone());
    store.migrate().await.map_err(ApiError::Migrate)?;
    let store = with_list_cache(store, database_url.starts_with("sqlite:"), settings)?;
    Ok((db, store))
}

/// `store` behind a [`ListCache`] unless its TTL is zero (default: one second on SQLite, off on
/// PostgreSQL; see [`TasksSettings::list_cache_ttl`]).
///
/// # Errors
/// When the TTL is too large to be a duration.
pub fn with_list_cache(
    store: Arc<dyn TaskStore>,
    sqlite: bool,
    settings: &TasksSettings,
) -> Result<Arc<dyn TaskStore>, ApiError> {
    let ttl = settings.list_cache_ttl.unwrap_or(u64::from(sqlite));
    if ttl == 0 {
        return Ok(store);
    }
    let ttl = i64::try_from(ttl)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or(ApiError::CacheTtlTooLarge)?;
    Ok(Arc::new(ListCache::new(store, system_clock(), ttl)))
}
