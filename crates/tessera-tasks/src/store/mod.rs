//! Task storage behind one trait, with a SQLite and a PostgreSQL implementation.
//!
//! Every function takes the verified [`UserId`] and every statement filters on it. On PostgreSQL
//! each call also runs in a transaction that sets `tessera.user_id` and drops to the
//! `tessera_app` role, so the table's row-level-security policy hides and protects other users'
//! rows even from a statement that forgot the filter.

mod list_cache;
mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use list_cache::ListCache;
pub use sql::{SqlTaskStore, connect, migrations, open};
pub use tessera_db::{DbTime, StoreError, StoreResult};

use crate::UserId;
use crate::domain::{NewTask, StatusFilter, Task, TaskChange, TaskList};

/// Everything the tasks API persists. Each call sees and touches only `user`'s tasks.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Applies pending migrations (versions 1000 and up; other crates' entries are ignored).
    async fn migrate(&self) -> StoreResult<()>;
    /// The user's tasks, newest first, optionally only pending or only completed ones.
    async fn list(&self, user: &UserId, status: StatusFilter) -> StoreResult<TaskList>;
    /// Inserts a task with id `id`, not completed, created and updated at `now`.
    async fn create(
        &self,
        user: &UserId,
        id: &str,
        task: &NewTask,
        now: DateTime<Utc>,
    ) -> StoreResult<Task>;
    /// One of the user's tasks.
    async fn get(&self, user: &UserId, id: &str) -> StoreResult<Option<Task>>;
    /// Applies `change` to one of the user's tasks; `None` if the user has no such task.
    async fn update(
        &self,
        user: &UserId,
        id: &str,
        change: &TaskChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>>;
    /// Flips `completed` of one of the user's tasks; `None` if the user has no such task.
    async fn toggle(
        &self,
        user: &UserId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Task>>;
    /// Deletes one of the user's tasks; whether one was deleted.
    async fn delete(&self, user: &UserId, id: &str) -> StoreResult<bool>;
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pool; later calls fail as unavailable.
    async fn close(&self);
}
