//! [`ListCache`]: a [`TaskStore`] that answers repeated task-list reads from memory.
//!
//! A task list is read far more often than it changes (every page load, every poll), and on
//! SQLite the read costs many times the rest of the request. The cache keeps each user's list,
//! per status filter, for at most `ttl` by the injected clock.
//!
//! Why this process never serves a list older than its own writes: every write goes through
//! the cache and evicts the writer's lists *after* it commits (evicting before could let a
//! concurrent read refill the old list). A read that raced with a write does not store its
//! result: each eviction bumps a generation number, and a read only stores what it read if the
//! generation is still the one it started with. Writes by another process sharing the database
//! show within `ttl`; deployments where several processes serve the same users leave the cache
//! out (TTL zero, the default on PostgreSQL). Entries are keyed by the verified user, so the
//! cache holds nothing one user can read of another's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{StoreResult, TaskStore};
use crate::domain::{NewTask, StatusFilter, Task, TaskChange};
use crate::{Now, UserId};

/// At most this many lists are remembered; beyond it, stale ones go first, then all.
const CAPACITY: usize = 4_096;

/// A caching decorator over another [`TaskStore`]; see the module documentation.
pub struct ListCache {
    inner: Arc<dyn TaskStore>,
    now: Now,
    ttl: Duration,
    lists: Mutex<Lists>,
}

#[derive(Default)]
struct Lists {
    map: HashMap<(String, StatusFilter), Cached>,
    /// Bumped by every eviction; see the module documentation.
    generation: u64,
}

struct Cached {
    tasks: Vec<Task>,
    loaded_at: DateTime<Utc>,
}

impl ListCache {
    /// Wraps `inner`, remembering each list for `ttl` (which must be positive) by `now`.
    pub fn new(inner: Arc<dyn TaskStore>, now: Now, ttl: Duration) -> Self {
        Self {
            inner,
            now,
            ttl,
            lists: Mutex::new(Lists::default()),
        }
    }

    fn lists(&self) -> MutexGuard<'_, Lists> {
        // Entries are replaced whole, so a poisoned lock holds nothing half-written.
        self.lists.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every list of `user`, after a write that may have changed them.
    fn evict(&self, user: &UserId) {
        let mut lists = self.lists();
        lists.generation += 1;
        lists.map.retain(|(owner, _), _| owner != user.as_str());
    }

    fn remember(&self, key: (String, StatusFilter), generation: u64, tasks: &[Task]) {
        let now = (self.now)();
        let mut lists = self.lists();
        if lists.generation != generation {
            return;
        }
        if lists.map.len() >= CAPACITY {
            let ttl = self.ttl;
            lists.map.retain(|_, cached| now - cached.loaded_at < ttl);
            if lists.map.len() >= CAPACITY {
                lists.map.clear();
            }
        }
        let tasks = tasks.to_vec();
        lists.map.insert(
            key,
            Cached {
                tasks,
                loaded_at: now,
            },
        );
    }
}

#[async_trait]
impl TaskStore for ListCache {
    async fn list(&self, user: &UserId, status: StatusFilter) -> StoreResult<Vec<Task>> {
        let key = (user.as_str().to_owned(), status);
        let now = (self.now)();
        let generation = {
            let lists = self.lists();
            if let Some(cached) = lists.map.get(&key)
                && cached.loaded_at <= now
                && now - cached.loaded_at < self.ttl
            {
                return Ok(cached.tasks.clone());
            }
            lists.generation
        };
        let tasks = self.inner.list(user, status).await?;
        self.remember(key, generation, &tasks);
        Ok(tasks)
    }

    async fn create(
        &self,
        user: &UserId,
        id: &str,
        task: &NewTask,
        now: DateTime<Utc>,
    ) -> StoreResult<Task> {
        let result = self.inner.create(user, id, task, now).await;
        self.evict(user);
        result
    }

    async fn update(
        &self,
        user: &UserId,
        id: &str,
        change: &TaskChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>> {
        let result = self.inner.update(user, id, change, now).await;
        self.evict(user);
        result
    }

    async fn toggle(
        &self,
        user: &UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>> {
        let result = self.inner.toggle(user, id, now).await;
        self.evict(user);
        result
    }

    async fn delete(&self, user: &UserId, id: &str) -> StoreResult<bool> {
        let result = self.inner.delete(user, id).await;
        self.evict(user);
        result
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
