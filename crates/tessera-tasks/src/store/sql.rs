//! The SQL task store, one implementation per backend stamped from one text.
//!
//! The statements are identical on SQLite and PostgreSQL (`$N` placeholders work in both); a
//! macro writes the [`TaskStore`] impl for each so neither can drift. What differs is
//! [`SqlTaskStore::begin_as`], which on PostgreSQL switches the transaction to the RLS-bound
//! role and identity before any statement runs, and the list read, which on PostgreSQL is one
//! statement doing the same (`tessera_tasks_of`, migration 1001) instead of a transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{Pool, Transaction};
use tessera_db::{Database, Migrations};

use super::{DbTime, StoreResult, TaskStore};
use crate::UserId;
use crate::domain::{NewTask, StatusFilter, Task, TaskChange, TaskList};

/// The columns of a task, in `Task`'s order.
macro_rules! columns {
    () => {
        r#""id", "user_id", "title", "description", "completed", "created_at", "updated_at""#
    };
}

/// A task store over a sqlx pool of either backend.
#[derive(Debug, Clone)]
pub struct SqlTaskStore<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlTaskStore<DB> {
    /// Wraps a pool.
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl SqlTaskStore<Postgres> {
    /// A transaction in which row-level security confines every statement to `user`'s rows:
    /// the role is `tessera_app` (neither table owner nor `BYPASSRLS`, so the policy applies
    /// even when the pool logs in as a superuser) and `tessera.user_id` is `user`. Both are
    /// transaction-local (`set_config(…, true)`), so nothing leaks to the connection's next use.
    pub async fn begin_as(&self, user: &UserId) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        // One round trip for both settings; the user id is bound, never interpolated.
        sqlx::query("SELECT set_config('role', 'tessera_app', true), set_config('tessera.user_id', $1, true)")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// The user's tasks, newest first, in one statement: `tessera_tasks_of` (migration 1001)
    /// sets the role and identity as [`Self::begin_as`] does, then reads under the policy. A
    /// transaction of its own would cost three more round trips (BEGIN, settings, COMMIT).
    async fn list_newest_first(
        &self,
        user: &UserId,
        status: StatusFilter,
    ) -> StoreResult<Vec<Task>> {
        Ok(sqlx::query_as::<_, Task>(concat!(
            "SELECT ",
            columns!(),
            r#" FROM "tessera_tasks_of"($1, $2) ORDER BY "created_at" DESC, "id" DESC"#
        ))
        .bind(user.as_str())
        .bind(status.completed())
        .fetch_all(&self.pool)
        .await?)
    }
}

impl SqlTaskStore<Sqlite> {
    /// A plain transaction: SQLite has no row-level security, so isolation rests on the
    /// `user_id` filter every statement carries.
    pub async fn begin_as(&self, _user: &UserId) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    /// The user's tasks, newest first.
    async fn list_newest_first(
        &self,
        user: &UserId,
        status: StatusFilter,
    ) -> StoreResult<Vec<Task>> {
        let mut tx = self.begin_as(user).await?;
        let tasks = sqlx::query_as::<_, Task>(concat!(
            "SELECT ",
            columns!(),
            r#" FROM "task" WHERE "user_id" = $1 AND ($2 IS NULL OR "completed" = $2)
               ORDER BY "created_at" DESC, "id" DESC"#
        ))
        .bind(user.as_str())
        .bind(status.completed())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(tasks)
    }
}

/// The tasks API's migrations (versions 1000 and up, clear of the auth server's), for
/// [`tessera_db::migrate`].
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
        sqlite_columns: &[],
    }
}

/// The task store over `db`, a pool it may share with other stores.
pub fn open(db: Database) -> Arc<dyn TaskStore> {
    match db {
        Database::Sqlite(pool) => Arc::new(SqlTaskStore::<Sqlite>::new(pool)),
        Database::Postgres(pool) => Arc::new(SqlTaskStore::<Postgres>::new(pool)),
    }
}

/// Opens the database named by `url` ([`tessera_db::connect`]) and the task store over it.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn TaskStore>> {
    Ok(open(tessera_db::connect(url).await?))
}

macro_rules! task_store {
    ($db:ty) => {
        #[async_trait]
        impl TaskStore for SqlTaskStore<$db> {
            async fn migrate(&self) -> StoreResult<()> {
                tessera_db::migrate(&Database::from(self.pool.clone()), [migrations()]).await
            }

            async fn list(&self, user: &UserId, status: StatusFilter) -> StoreResult<TaskList> {
                Ok(TaskList::newest_first(self.list_newest_first(user, status).await?))
            }

            async fn create(&self, user: &UserId, id: &str, task: &NewTask, now: DateTime<Utc>) -> StoreResult<Task> {
                let mut tx = self.begin_as(user).await?;
                let now = DbTime::from(now);
                let task = sqlx::query_as::<_, Task>(concat!(
                    r#"INSERT INTO "task" ("id", "user_id", "title", "description", "completed", "created_at", "updated_at")
                       VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING "#, columns!()
                ))
                .bind(id)
                .bind(user.as_str())
                .bind(&task.title)
                .bind(&task.description)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(task)
            }

            async fn get(&self, user: &UserId, id: &str) -> StoreResult<Option<Task>> {
                let mut tx = self.begin_as(user).await?;
                let task = sqlx::query_as::<_, Task>(concat!(
                    "SELECT ", columns!(), r#" FROM "task" WHERE "id" = $1 AND "user_id" = $2"#
                ))
                .bind(id)
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(task)
            }

            async fn update(&self, user: &UserId, id: &str, change: &TaskChange, now: DateTime<Utc>) -> StoreResult<Option<Task>> {
                let mut tx = self.begin_as(user).await?;
                // `description` distinguishes "not sent" ($4 false) from "set to null".
                let task = sqlx::query_as::<_, Task>(concat!(
                    r#"UPDATE "task" SET "title" = $3,
                           "description" = CASE WHEN $4 THEN $5 ELSE "description" END,
                           "completed" = COALESCE($6, "completed"),
                           "updated_at" = $7
                       WHERE "id" = $1 AND "user_id" = $2 RETURNING "#, columns!()
                ))
                .bind(id)
                .bind(user.as_str())
                .bind(&change.title)
                .bind(change.description.is_some())
                .bind(change.description.clone().flatten())
                .bind(change.completed)
                .bind(DbTime::from(now))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(task)
            }

            async fn toggle(&self, user: &UserId, id: &str, now: DateTime<Utc>) -> StoreResult<Option<Task>> {
                let mut tx = self.begin_as(user).await?;
                let task = sqlx::query_as::<_, Task>(concat!(
                    r#"UPDATE "task" SET "completed" = NOT "completed", "updated_at" = $3
                       WHERE "id" = $1 AND "user_id" = $2 RETURNING "#, columns!()
                ))
                .bind(id)
                .bind(user.as_str())
                .bind(DbTime::from(now))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(task)
            }

            async fn delete(&self, user: &UserId, id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_as(user).await?;
                let done = sqlx::query(r#"DELETE FROM "task" WHERE "id" = $1 AND "user_id" = $2"#)
                    .bind(id)
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

task_store!(Sqlite);
task_store!(Postgres);
