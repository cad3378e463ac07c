//! [`ListCache`]: a [`TaskStore`] that answers repeated task-list reads from memory.
//!
//! A task list is read far more often than it changes (every page load, every poll), and on
//! SQLite the read costs many times the rest of the request. The cache keeps each user's list,
//! per status filter, for at most `ttl` by the injected clock.
//!
//! Why this process never serves a list older than its own writes: every write goes through
//! the cache and evicts the writer's lists after it commits, with the guarantees of
//! [`tessera_cache::ReadCache`] (no racing read puts the old list back). Writes by another
//! process sharing the database show within `ttl`; deployments where several processes serve
//! the same users leave the cache out (TTL zero, the default on PostgreSQL). Entries are keyed by
//! the verified user, so the cache holds nothing one user can read of another's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tessera_cache::{Lookup, ReadCache};

use super::{StoreResult, TaskStore};
use crate::domain::{NewTask, StatusFilter, Task, TaskChange, TaskList};
use crate::{Now, UserId};

/// At most this many lists are remembered.
const CAPACITY: usize = 4_096;

/// A caching decorator over another [`TaskStore`]; see the module documentation.
pub struct ListCache {
    inner: Arc<dyn TaskStore>,
    now: Now,
    lists: ReadCache<(String, StatusFilter), TaskList>,
}

impl ListCache {
    /// Wraps `inner`, remembering each list for `ttl` (which must be positive) by `now`.
    pub fn new(inner: Arc<dyn TaskStore>, now: Now, ttl: Duration) -> Self {
        Self {
            inner,
            now,
            lists: ReadCache::new(ttl, CAPACITY),
        }
    }

    /// Forgets every list of `user` when the guard drops: held across a write that may change
    /// them, even one whose request is cancelled half-way.
    fn evict_after<'a>(&'a self, user: &'a UserId) -> impl Drop + 'a {
        self.lists
            .evict_after(move |(owner, _), _| owner.as_str() == user.as_str())
    }
}

#[async_trait]
impl TaskStore for ListCache {
    async fn list(&self, user: &UserId, status: StatusFilter) -> StoreResult<TaskList> {
        let key = (user.as_str().to_owned(), status);
        let ticket = match self.lists.get(&key, self.now.now()) {
            Lookup::Hit(tasks) => return Ok(tasks),
            Lookup::Miss(ticket) => ticket,
        };
        let tasks = self.inner.list(user, status).await?;
        self.lists.fill(ticket, key, tasks.clone(), self.now.now());
        Ok(tasks)
    }

    async fn create(
        &self,
        user: &UserId,
        id: &str,
        task: &NewTask,
        now: DateTime<Utc>,
    ) -> StoreResult<Task> {
        let _evict = self.evict_after(user);
        self.inner.create(user, id, task, now).await
    }

    async fn update(
        &self,
        user: &UserId,
        id: &str,
        change: &TaskChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>> {
        let _evict = self.evict_after(user);
        self.inner.update(user, id, change, now).await
    }

    async fn toggle(
        &self,
        user: &UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>> {
        let _evict = self.evict_after(user);
        self.inner.toggle(user, id, now).await
    }

    async fn delete(&self, user: &UserId, id: &str) -> StoreResult<bool> {
        let _evict = self.evict_after(user);
        self.inner.delete(user, id).await
    }

    // Neither reads a list nor changes a task.

    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }

    async fn get(&self, user: &UserId, id: &str) -> StoreResult<Option<Task>> {
        self.inner.get(user, id).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}
