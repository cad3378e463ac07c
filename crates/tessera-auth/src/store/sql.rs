//! The SQL store, one implementation per backend generated from one text.
//!
//! The statements are identical on SQLite and PostgreSQL; a macro stamps out the `Store` impl
//! for each so neither backend can drift from the other.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{Pool, Row};
use tessera_db::{Database, Migrations, SqliteColumn};

use super::{
    Account, AuditStore, DbTime, JwkRow, LinkedAccount, Session, SessionStore, Store, StoreResult,
    User, UserStore, VerificationStore,
};
use crate::audit::{AuditEvent, AuditFilter};
use crate::features::delete_user::{DELETE_MAILS_PER_HOUR, DeleteUserStore};
use crate::features::email_password::CredentialStore;
use crate::features::email_verification::{EmailVerificationStore, VERIFICATION_MAILS_PER_HOUR};
use crate::features::jwt::KeyStore;
use crate::features::password_reset::{
    PasswordResetStore, PasswordResetWrite, RESET_MAILS_PER_HOUR, ResetOutcome,
};
use crate::features::social::{FreshTokens, OAuthAccount, SocialStore};
use crate::features::two_factor::{
    Lockout, TWO_FACTOR_MAILS_PER_HOUR, TwoFactorRow, TwoFactorStore,
};
use crate::ids::ordered_id;
use crate::revocation::{RevocationRecord, RevocationStamp};
use tessera_mail::Mail;

/// A store over a sqlx pool of either backend.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlStore<DB> {
    /// Wraps a pool.
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }

    /// The underlying pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

/// The auth server's migrations (versions 1 and up), for [`tessera_db::migrate`].
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
        sqlite_columns: &[SqliteColumn {
            table: "user",
            column: "twoFactorEnabled",
            definition: "integer",
        }],
    }
}

/// The store over `db`, a pool it may share with other stores.
pub fn open(db: Database) -> Arc<dyn Store> {
    match db {
        Database::Sqlite(pool) => Arc::new(SqlStore::<Sqlite>::new(pool)),
        Database::Postgres(pool) => Arc::new(SqlStore::<Postgres>::new(pool)),
    }
}

/// Opens the database named by `url` ([`tessera_db::connect`]) and the store over it.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(open(tessera_db::connect(url).await?))
}

macro_rules! select_user_where {
    ($column:literal) => {
        concat!(
            r#"SELECT "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "twoFactorEnabled" FROM "user" WHERE ""#,
            $column,
            r#"" = $1"#
        )
    };
}

const INSERT_AUDIT: &str = r#"INSERT INTO "audit_event"
    ("id", "at", "event", "outcome", "reason", "user_id", "session_id", "ip", "user_agent", "detail")
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#;

macro_rules! sql_store {
    ($db:ty) => {
        impl SqlStore<$db> {
            /// Writes an audit row on `conn` (a transaction, or the pool for a standalone event).
            pub(crate) async fn write_audit<'c, E>(conn: E, event: &AuditEvent) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(INSERT_AUDIT)
                    .bind(&event.id)
                    .bind(event.at)
                    .bind(&event.event)
                    .bind(&event.outcome)
                    .bind(&event.reason)
                    .bind(&event.user_id)
                    .bind(&event.session_id)
                    .bind(&event.ip)
                    .bind(&event.user_agent)
                    .bind(&event.detail)
                    .execute(conn)
                    .await?;
                Ok(())
            }

            /// Inserts a `verification` row on `conn`, as Better Auth's `createVerificationValue`.
            async fn insert_verification<'c, E>(
                conn: E,
                identifier: &str,
                value: &str,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    r#"INSERT INTO "verification" ("id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
                       VALUES ($1, $2, $3, $4, $5, $5)"#,
                )
                .bind(crate::ids::generate_id(32))
                .bind(identifier)
                .bind(value)
                .bind(DbTime::from(expires_at))
                .bind(DbTime::from(now))
                .execute(conn)
                .await?;
                Ok(())
            }

            /// How many mails of `mail`'s kind its recipient had queued in the hour before `now`
            /// (the per-recipient allowance), in the transaction `tx` that will queue the next.
            ///
            /// It first locks the recipient's user row (a no-op update of a non-key column: on
            /// PostgreSQL that lock does not block the sessions being inserted for the user
            /// meanwhile, as an update of `id` would), so concurrent requests
            /// for one address count one after the other: on PostgreSQL (read committed) two of
            /// them would otherwise both count the same two mails and both queue a third; the
            /// second now waits for the first to commit and its count sees the first's mail.
            /// (SQLite has one writer at a time anyway.) Callers write something before this,
            /// so that a SQLite transaction does not read before it writes (its lock upgrade can
            /// fail at once with SQLITE_BUSY when another writer is busy).
            async fn mails_in_last_hour(
                tx: &mut <$db as sqlx::Database>::Connection,
                mail: &Mail,
                now: DateTime<Utc>,
            ) -> Result<i64, sqlx::Error> {
                sqlx::query(r#"UPDATE "user" SET "updatedAt" = "updatedAt" WHERE "email" = $1"#)
                    .bind(&mail.to)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query_scalar(
                    r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "recipient" = $1 AND "kind" = $2 AND "created_at" > $3"#,
                )
                .bind(&mail.to)
                .bind(mail.kind.as_str())
                .bind(DbTime::from(now - chrono::Duration::hours(1)))
                .fetch_one(&mut *tx)
                .await
            }

            /// Writes a `verification` row (identifier, value, expiry), the mail carrying it and
            /// `audit` in one transaction, unless the recipient already had `limit` mails of its
            /// kind queued in the hour before `now`: then nothing is written and the answer is
            /// `false`.
            async fn queue_token_mail(
                &self,
                (identifier, value, expires_at): (&str, &str, DateTime<Utc>),
                now: DateTime<Utc>,
                mail: &Mail,
                audit: &AuditEvent,
                limit: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                // The write comes first: a SQLite transaction that reads before it writes can
                // fail to upgrade its lock when another writer is busy (SQLITE_BUSY at once).
                Self::insert_verification(&mut *tx, identifier, value, expires_at, now).await?;
                if Self::mails_in_last_hour(&mut *tx, mail, now).await? >= limit {
                    return Ok(false);
                }
                tessera_mail::enqueue(&mut *tx, mail, now).await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// Sets the user's `emailVerified` and, when given, `email`, with `audit`, in one
            /// transaction; the updated user, or `None` when there is none. The unique index on
            /// `email` refuses an address another account has (`StoreError::Conflict`).
            async fn set_address(
                &self,
                user_id: &str,
                email: Option<&str>,
                email_verified: bool,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(
                    r#"UPDATE "user" SET "email" = COALESCE($2, "email"), "emailVerified" = $3, "updatedAt" = $4 WHERE "id" = $1"#,
                )
                .bind(user_id)
                .bind(email)
                .bind(email_verified)
                .bind(DbTime::from(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(None);
                }
                Self::write_audit(&mut *tx, audit).await?;
                let user = sqlx::query_as::<_, User>(select_user_where!("id")).bind(user_id).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(user)
            }

            /// Writes one revocation record per session in `ended` (all of `user_id`), then prunes
            /// the records whose horizon has passed, on `conn` (the deleting transaction).
            async fn write_revocations(
                conn: &mut <$db as sqlx::Database>::Connection,
                user_id: &str,
                ended: &[String],
                stamp: RevocationStamp,
            ) -> Result<(), sqlx::Error> {
                for session_id in ended {
                    sqlx::query(
                        r#"INSERT INTO "revocation" ("id", "session_id", "user_id", "revoked_at", "until")
                           VALUES ($1, $2, $3, $4, $5)"#,
                    )
                    .bind(ordered_id(stamp.at))
                    .bind(session_id)
                    .bind(user_id)
                    .bind(DbTime::from(stamp.at))
                    .bind(DbTime::from(stamp.until))
                    .execute(&mut *conn)
                    .await?;
                }
                sqlx::query(r#"DELETE FROM "revocation" WHERE "until" <= $1"#)
                    .bind(DbTime::from(stamp.at))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl Store for SqlStore<$db> {
            async fn migrate(&self) -> StoreResult<()> {
                // The outbox lives in the same database: a token and its mail commit together.
                tessera_db::migrate(&Database::from(self.pool.clone()), [migrations(), tessera_mail::migrations()]).await
            }
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
            async fn close(&self) {
                self.pool.close().await;
            }
        }

        #[async_trait]
        impl UserStore for SqlStore<$db> {
            async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
                Ok(sqlx::query_as::<_, User>(select_user_where!("email")).bind(email).fetch_optional(&self.pool).await?)
            }
            async fn find_user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
                Ok(sqlx::query_as::<_, User>(select_user_where!("id")).bind(id).fetch_optional(&self.pool).await?)
            }
            async fn update_user(
                &self,
                id: &str,
                name: Option<&str>,
                image: Option<Option<&str>>,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<User>> {
                // COALESCE keeps a field that was not sent; `image` distinguishes "not sent"
                // from "set to null" with a separate flag.
                sqlx::query(
                    r#"UPDATE "user" SET "name" = COALESCE($2, "name"),
                       "image" = CASE WHEN $3 THEN $4 ELSE "image" END, "updatedAt" = $5 WHERE "id" = $1"#,
                )
                .bind(id)
                .bind(name)
                .bind(image.is_some())
                .bind(image.flatten())
                .bind(DbTime::from(now))
                .execute(&self.pool)
                .await?;
                self.find_user_by_id(id).await
            }
            async fn list_accounts(&self, user_id: &str) -> StoreResult<Vec<LinkedAccount>> {
                Ok(sqlx::query_as::<_, LinkedAccount>(
                    r#"SELECT "id", "accountId", "providerId", "userId", "scope", "createdAt", "updatedAt"
                       FROM "account" WHERE "userId" = $1 ORDER BY "createdAt", "id""#,
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn delete_account_keeping_one(
                &self,
                user_id: &str,
                id: &str,
                audit: &AuditEvent,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                // The user row is updated first so concurrent unlinks of one user queue up
                // behind each other on PostgreSQL (SQLite serialises writers anyway).
                sqlx::query(r#"UPDATE "user" SET "updatedAt" = "updatedAt" WHERE "id" = $1"#)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query(
                    r#"DELETE FROM "account" WHERE "id" = $1 AND "userId" = $2
                         AND (SELECT COUNT(*) FROM "account" WHERE "userId" = $2) > 1"#,
                )
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    return Ok(false);
                }
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }
        }

        #[async_trait]
        impl CredentialStore for SqlStore<$db> {
            async fn create_user_with_account(&self, user: &User, account: &Account, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_user(&mut *tx, user).await?;
                sqlx::query(
                    r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
                       VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
                )
                .bind(&account.id)
                .bind(&account.account_id)
                .bind(&account.provider_id)
                .bind(&account.user_id)
                .bind(&account.password)
                .bind(account.created_at)
                .bind(account.updated_at)
                .execute(&mut *tx)
                .await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn find_credential_account(&self, user_id: &str) -> StoreResult<Option<Account>> {
                Ok(sqlx::query_as::<_, Account>(
                    r#"SELECT "id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt"
                       FROM "account" WHERE "userId" = $1 AND "providerId" = 'credential' AND "accountId" = $1"#,
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn update_password(
                &self,
                account_id: &str,
                hash: &str,
                now: DateTime<Utc>,
                audit: Option<&AuditEvent>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(r#"UPDATE "account" SET "password" = $2, "updatedAt" = $3 WHERE "id" = $1"#)
                    .bind(account_id)
                    .bind(hash)
                    .bind(DbTime::from(now))
                    .execute(&mut *tx)
                    .await?;
                if let Some(audit) = audit {
                    Self::write_audit(&mut *tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl SessionStore for SqlStore<$db> {
            async fn create_session(&self, s: &Session, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    r#"INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId")
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
                )
                .bind(&s.id)
                .bind(s.expires_at)
                .bind(&s.token)
                .bind(s.created_at)
                .bind(s.updated_at)
                .bind(&s.ip_address)
                .bind(&s.user_agent)
                .bind(&s.user_id)
                .execute(&mut *tx)
                .await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn find_session(
                &self,
                token: &str,
            ) -> StoreResult<Option<(Arc<Session>, Arc<User>)>> {
                let row = sqlx::query(
                    r#"SELECT s."id" AS s_id, s."expiresAt" AS s_expires, s."token" AS s_token,
                              s."createdAt" AS s_created, s."updatedAt" AS s_updated,
                              s."ipAddress" AS s_ip, s."userAgent" AS s_ua, s."userId" AS s_user,
                              u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt", u."twoFactorEnabled"
                       FROM "session" s JOIN "user" u ON u."id" = s."userId" WHERE s."token" = $1"#,
                )
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let session = Session {
                    id: row.try_get("s_id")?,
                    expires_at: row.try_get("s_expires")?,
                    token: row.try_get("s_token")?,
                    created_at: row.try_get("s_created")?,
                    updated_at: row.try_get("s_updated")?,
                    ip_address: row.try_get("s_ip")?,
                    user_agent: row.try_get("s_ua")?,
                    user_id: row.try_get("s_user")?,
                };
                let user = <User as sqlx::FromRow<'_, _>>::from_row(&row)?;
                Ok(Some((Arc::new(session), Arc::new(user))))
            }
            async fn extend_session(&self, token: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query(r#"UPDATE "session" SET "expiresAt" = $2, "updatedAt" = $3 WHERE "token" = $1"#)
                    .bind(token)
                    .bind(DbTime::from(expires_at))
                    .bind(DbTime::from(now))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(
                &self,
                token: &str,
                audit: &AuditEvent,
                stamp: RevocationStamp,
            ) -> StoreResult<Option<String>> {
                let mut tx = self.pool.begin().await?;
                let deleted: Option<(String, String)> =
                    sqlx::query_as(r#"DELETE FROM "session" WHERE "token" = $1 RETURNING "id", "userId""#)
                        .bind(token)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some((id, user_id)) = &deleted {
                    Self::write_audit(&mut *tx, audit).await?;
                    Self::write_revocations(&mut tx, user_id, std::slice::from_ref(id), stamp).await?;
                }
                tx.commit().await?;
                Ok(deleted.map(|(id, _)| id))
            }

            async fn delete_user_session(
                &self,
                user_id: &str,
                token: &str,
                audit: &AuditEvent,
                stamp: RevocationStamp,
            ) -> StoreResult<Option<String>> {
                let mut tx = self.pool.begin().await?;
                let deleted: Option<String> = sqlx::query_scalar(
                    r#"DELETE FROM "session" WHERE "token" = $1 AND "userId" = $2 RETURNING "id""#,
                )
                .bind(token)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
                // The row deleted names itself: the caller cannot look a listed digest up.
                if let Some(id) = &deleted {
                    Self::write_audit(&mut *tx, &audit.clone().session(id)).await?;
                    Self::write_revocations(&mut tx, user_id, std::slice::from_ref(id), stamp).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }
            async fn delete_user_sessions(
                &self,
                user_id: &str,
                except_token: Option<&str>,
                audit: &AuditEvent,
                stamp: RevocationStamp,
            ) -> StoreResult<Vec<String>> {
                let mut tx = self.pool.begin().await?;
                let mut deleted: Vec<String> = sqlx::query_scalar(
                    r#"DELETE FROM "session" WHERE "userId" = $1 AND ($2 IS NULL OR "token" <> $2) RETURNING "id""#,
                )
                .bind(user_id)
                .bind(except_token)
                .fetch_all(&mut *tx)
                .await?;
                deleted.sort();
                if !deleted.is_empty() {
                    Self::write_audit(&mut *tx, &audit.with_ended_sessions(&deleted)).await?;
                    Self::write_revocations(&mut tx, user_id, &deleted, stamp).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }
            async fn list_sessions(&self, user_id: &str, now: DateTime<Utc>) -> StoreResult<Vec<Session>> {
                Ok(sqlx::query_as::<_, Session>(
                    r#"SELECT "id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId"
                       FROM "session" WHERE "userId" = $1 AND "expiresAt" > $2 ORDER BY "createdAt""#,
                )
                .bind(user_id)
                .bind(DbTime::from(now))
                .fetch_all(&self.pool)
                .await?)
            }
        }

        #[async_trait]
        impl PasswordResetStore for SqlStore<$db> {
            async fn request_password_reset(
                &self,
                identifier: &str,
                user_id: &str,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
                mail: &Mail,
                audit: &AuditEvent,
            ) -> StoreResult<bool> {
                let row = (identifier, user_id, expires_at);
                self.queue_token_mail(row, now, mail, audit, RESET_MAILS_PER_HOUR).await
            }
            async fn create_verification(
                &self,
                identifier: &str,
                value: &str,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                Ok(Self::insert_verification(&self.pool, identifier, value, expires_at, now).await?)
            }
            async fn find_verification_value(&self, identifier: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    r#"SELECT "value" FROM "verification" WHERE "identifier" = $1 AND "expiresAt" > $2
                       ORDER BY "createdAt" DESC LIMIT 1"#,
                )
                .bind(identifier)
                .bind(DbTime::from(now))
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn reset_password(&self, w: PasswordResetWrite<'_>) -> StoreResult<ResetOutcome> {
                let mut tx = self.pool.begin().await?;
                // Spending first, in the transaction: of two concurrent resets with one token,
                // one deletes the row and the other finds nothing left to delete.
                let live: Vec<DbTime> = sqlx::query_scalar(
                    r#"DELETE FROM "verification" WHERE "identifier" = $1 RETURNING "expiresAt""#,
                )
                .bind(w.identifier)
                .fetch_all(&mut *tx)
                .await?;
                let now = DbTime::from(w.now);
                if !live.iter().any(|expires| *expires > now) {
                    // Nothing unexpired to spend: leave even the expired rows for the sweep.
                    return Ok(ResetOutcome::TokenGone);
                }
                let updated = sqlx::query(
                    r#"UPDATE "account" SET "password" = $2, "updatedAt" = $3
                       WHERE "userId" = $1 AND "providerId" = 'credential' AND "accountId" = $1"#,
                )
                .bind(w.user_id)
                .bind(&w.account.password)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    sqlx::query(
                        r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt")
                           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
                    )
                    .bind(&w.account.id)
                    .bind(&w.account.account_id)
                    .bind(&w.account.provider_id)
                    .bind(&w.account.user_id)
                    .bind(&w.account.password)
                    .bind(w.account.created_at)
                    .bind(w.account.updated_at)
                    .execute(&mut *tx)
                    .await?;
                }
                let mut ended = Vec::new();
                if let Some((revoked, stamp)) = w.revoke {
                    ended = sqlx::query_scalar(r#"DELETE FROM "session" WHERE "userId" = $1 RETURNING "id""#)
                        .bind(w.user_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    ended.sort();
                    if !ended.is_empty() {
                        Self::write_audit(&mut *tx, &revoked.with_ended_sessions(&ended)).await?;
                        Self::write_revocations(&mut tx, w.user_id, &ended, stamp).await?;
                    }
                }
                Self::write_audit(&mut *tx, w.audit).await?;
                tx.commit().await?;
                Ok(ResetOutcome::Done(ended))
            }
        }

        #[async_trait]
        impl EmailVerificationStore for SqlStore<$db> {
            async fn queue_verification_mail(&self, mail: &Mail, now: DateTime<Utc>, audit: &AuditEvent) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                // Written first, as in request_password_reset (SQLite's lock upgrade); a refusal
                // rolls it back.
                Self::write_audit(&mut *tx, audit).await?;
                if Self::mails_in_last_hour(&mut *tx, mail, now).await? >= VERIFICATION_MAILS_PER_HOUR {
                    return Ok(false);
                }
                tessera_mail::enqueue(&mut *tx, mail, now).await?;
                tx.commit().await?;
                Ok(true)
            }
            async fn mark_email_verified(&self, user_id: &str, now: DateTime<Utc>, audit: &AuditEvent) -> StoreResult<Option<User>> {
                self.set_address(user_id, None, true, now, audit).await
            }
            async fn change_email(
                &self,
                user_id: &str,
                new_email: &str,
                email_verified: bool,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<Option<User>> {
                self.set_address(user_id, Some(new_email), email_verified, now, audit).await
            }
        }

        #[async_trait]
        impl VerificationStore for SqlStore<$db> {
            async fn take_verification(&self, identifier: &str) -> StoreResult<Option<(String, DateTime<Utc>)>> {
                let mut tx = self.pool.begin().await?;
                // Deleting is the claim: of two concurrent calls, one gets the rows.
                let mut rows: Vec<(String, DbTime, DbTime)> = sqlx::query_as(
                    r#"DELETE FROM "verification" WHERE "identifier" = $1 RETURNING "value", "expiresAt", "createdAt""#,
                )
                .bind(identifier)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.sort_by(|a, b| b.2.cmp(&a.2));
                Ok(rows.into_iter().next().map(|(value, expires, _)| (value, expires.0)))
            }
        }

        #[async_trait]
        impl DeleteUserStore for SqlStore<$db> {
            async fn request_account_deletion(
                &self,
                identifier: &str,
                user_id: &str,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
                mail: &Mail,
                audit: &AuditEvent,
            ) -> StoreResult<bool> {
                let row = (identifier, user_id, expires_at);
                self.queue_token_mail(row, now, mail, audit, DELETE_MAILS_PER_HOUR).await
            }
            async fn delete_user(
                &self,
                user_id: &str,
                audit: &AuditEvent,
                revoked: &AuditEvent,
                stamp: RevocationStamp,
            ) -> StoreResult<Option<Vec<String>>> {
                let mut tx = self.pool.begin().await?;
                let mut ended: Vec<String> = sqlx::query_scalar(r#"DELETE FROM "session" WHERE "userId" = $1 RETURNING "id""#)
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
                ended.sort();
                sqlx::query(r#"DELETE FROM "account" WHERE "userId" = $1"#)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query(r#"DELETE FROM "user" WHERE "id" = $1"#)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    return Ok(None);
                }
                if !ended.is_empty() {
                    Self::write_audit(&mut *tx, &revoked.with_ended_sessions(&ended)).await?;
                    Self::write_revocations(&mut tx, user_id, &ended, stamp).await?;
                }
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(Some(ended))
            }
        }

        #[async_trait]
        impl TwoFactorStore for SqlStore<$db> {
            async fn find_two_factor(&self, user_id: &str) -> StoreResult<Option<TwoFactorRow>> {
                Ok(sqlx::query_as::<_, TwoFactorRow>(
                    r#"SELECT "id", "secret", "backupCodes", "userId", "verified", "failedVerificationCount", "lockedUntil"
                       FROM "twoFactor" WHERE "userId" = $1 ORDER BY "id" LIMIT 1"#,
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn save_two_factor(&self, row: &TwoFactorRow, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(
                    r#"UPDATE "twoFactor" SET "secret" = $2, "backupCodes" = $3, "verified" = $4 WHERE "id" = $1"#,
                )
                .bind(&row.id)
                .bind(&row.secret)
                .bind(&row.backup_codes)
                .bind(row.verified)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    sqlx::query(
                        r#"INSERT INTO "twoFactor" ("id", "secret", "backupCodes", "userId", "verified", "failedVerificationCount")
                           VALUES ($1, $2, $3, $4, $5, 0)"#,
                    )
                    .bind(&row.id)
                    .bind(&row.secret)
                    .bind(&row.backup_codes)
                    .bind(&row.user_id)
                    .bind(row.verified)
                    .execute(&mut *tx)
                    .await?;
                }
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn set_two_factor_enabled(
                &self,
                user_id: &str,
                enabled: bool,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<Option<User>> {
                let mut tx = self.pool.begin().await?;
                let updated = sqlx::query(r#"UPDATE "user" SET "twoFactorEnabled" = $2, "updatedAt" = $3 WHERE "id" = $1"#)
                    .bind(user_id)
                    .bind(enabled)
                    .bind(DbTime::from(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    return Ok(None);
                }
                if enabled {
                    sqlx::query(r#"UPDATE "twoFactor" SET "verified" = $2 WHERE "userId" = $1"#)
                        .bind(user_id)
                        .bind(true)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query(r#"DELETE FROM "twoFactor" WHERE "userId" = $1"#)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(r#"DELETE FROM "two_factor_totp_step" WHERE "user_id" = $1"#)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::write_audit(&mut *tx, audit).await?;
                let user = sqlx::query_as::<_, User>(select_user_where!("id")).bind(user_id).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                Ok(user)
            }
            async fn replace_backup_codes(
                &self,
                id: &str,
                expected: Option<&str>,
                codes: &str,
                audit: &AuditEvent,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                // With `expected`, a compare-and-set: of two requests spending codes from the
                // same stored set, the second finds it changed and replaces nothing.
                let replaced = sqlx::query(
                    r#"UPDATE "twoFactor" SET "backupCodes" = $2 WHERE "id" = $1 AND ($3 IS NULL OR "backupCodes" = $3)"#,
                )
                .bind(id)
                .bind(codes)
                .bind(expected)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                if replaced {
                    Self::write_audit(&mut *tx, audit).await?;
                    tx.commit().await?;
                }
                Ok(replaced)
            }
            async fn update_lockout(&self, id: &str, change: Lockout) -> StoreResult<()> {
                match change {
                    Lockout::Fail { max, until } => {
                        // One statement: concurrent failures each add one, none is lost.
                        sqlx::query(
                            r#"UPDATE "twoFactor" SET "failedVerificationCount" = COALESCE("failedVerificationCount", 0) + 1,
                               "lockedUntil" = CASE WHEN COALESCE("failedVerificationCount", 0) + 1 >= $2 THEN $3 ELSE "lockedUntil" END
                               WHERE "id" = $1"#,
                        )
                        .bind(id)
                        .bind(max)
                        .bind(DbTime::from(until))
                        .execute(&self.pool)
                        .await?;
                    }
                    Lockout::Reset => {
                        sqlx::query(r#"UPDATE "twoFactor" SET "failedVerificationCount" = 0, "lockedUntil" = NULL WHERE "id" = $1"#)
                            .bind(id)
                            .execute(&self.pool)
                            .await?;
                    }
                    Lockout::ClearExpired { now } => {
                        sqlx::query(
                            r#"UPDATE "twoFactor" SET "failedVerificationCount" = 0, "lockedUntil" = NULL
                               WHERE "id" = $1 AND "lockedUntil" <= $2"#,
                        )
                        .bind(id)
                        .bind(DbTime::from(now))
                        .execute(&self.pool)
                        .await?;
                    }
                }
                Ok(())
            }
            async fn accept_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
                // The upsert moves the step only forward; a step already taken (or passed)
                // changes no row. Two requests with one code: the second waits for the
                // first's row and then finds the condition false.
                let taken = sqlx::query(
                    r#"INSERT INTO "two_factor_totp_step" ("user_id", "step") VALUES ($1, $2)
                       ON CONFLICT ("user_id") DO UPDATE SET "step" = excluded."step"
                       WHERE "two_factor_totp_step"."step" < excluded."step""#,
                )
                .bind(user_id)
                .bind(step)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(taken > 0)
            }
            async fn delete_verification(&self, identifier: &str) -> StoreResult<()> {
                sqlx::query(r#"DELETE FROM "verification" WHERE "identifier" = $1"#)
                    .bind(identifier)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn queue_two_factor_code(
                &self,
                identifier: &str,
                value: &str,
                expires_at: DateTime<Utc>,
                mail: &Mail,
                audit: &AuditEvent,
            ) -> StoreResult<bool> {
                let row = (identifier, value, expires_at);
                self.queue_token_mail(row, audit.at.0, mail, audit, TWO_FACTOR_MAILS_PER_HOUR).await
            }
        }

        #[async_trait]
        impl KeyStore for SqlStore<$db> {
            async fn list_jwks(&self) -> StoreResult<Vec<JwkRow>> {
                Ok(sqlx::query_as::<_, JwkRow>(
                    r#"SELECT "id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv"
                       FROM "jwks" ORDER BY "createdAt" DESC"#,
                )
                .fetch_all(&self.pool)
                .await?)
            }
            async fn insert_jwk(&self, row: &JwkRow, audit: &AuditEvent) -> StoreResult<()> {
                self.rotate_jwk(row, &[], audit.at.0, audit).await
            }
            async fn rotate_jwk(
                &self,
                row: &JwkRow,
                retire: &[String],
                at: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for id in retire {
                    sqlx::query(r#"UPDATE "jwks" SET "expiresAt" = $2 WHERE "id" = $1"#)
                        .bind(id)
                        .bind(DbTime::from(at))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(
                    r#"INSERT INTO "jwks" ("id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv")
                       VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
                )
                .bind(&row.id)
                .bind(&row.public_key)
                .bind(&row.private_key)
                .bind(row.created_at)
                .bind(row.expires_at)
                .bind(&row.alg)
                .bind(&row.crv)
                .execute(&mut *tx)
                .await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl SocialStore for SqlStore<$db> {
            async fn find_oauth_account(
                &self,
                provider_id: &str,
                account_id: &str,
            ) -> StoreResult<Option<OAuthAccount>> {
                Ok(sqlx::query_as::<_, OAuthAccount>(
                    r#"SELECT "id", "accountId", "providerId", "userId", "accessToken", "refreshToken", "idToken",
                              "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "createdAt", "updatedAt"
                       FROM "account" WHERE "providerId" = $1 AND "accountId" = $2
                       ORDER BY "createdAt" LIMIT 1"#,
                )
                .bind(provider_id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn create_oauth_user(
                &self,
                user: &User,
                account: &OAuthAccount,
                audit: &AuditEvent,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_user(&mut *tx, user).await?;
                Self::insert_oauth_account(&mut *tx, account).await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn link_oauth_account(
                &self,
                account: &OAuthAccount,
                audit: &AuditEvent,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_oauth_account(&mut *tx, account).await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn update_oauth_tokens(
                &self,
                id: &str,
                tokens: &FreshTokens,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                // A column the provider did not send this time keeps its value.
                sqlx::query(
                    r#"UPDATE "account" SET
                         "accessToken" = COALESCE($2, "accessToken"),
                         "refreshToken" = COALESCE($3, "refreshToken"),
                         "idToken" = COALESCE($4, "idToken"),
                         "accessTokenExpiresAt" = COALESCE($5, "accessTokenExpiresAt"),
                         "refreshTokenExpiresAt" = COALESCE($6, "refreshTokenExpiresAt"),
                         "updatedAt" = $7
                       WHERE "id" = $1"#,
                )
                .bind(id)
                .bind(&tokens.access_token)
                .bind(&tokens.refresh_token)
                .bind(&tokens.id_token)
                .bind(tokens.access_token_expires_at)
                .bind(tokens.refresh_token_expires_at)
                .bind(DbTime::from(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        impl SqlStore<$db> {
            /// Inserts a `user` row.
            async fn insert_user<'c, E>(conn: E, user: &User) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    r#"INSERT INTO "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt", "twoFactorEnabled")
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
                )
                .bind(&user.id)
                .bind(&user.name)
                .bind(&user.email)
                .bind(user.email_verified)
                .bind(&user.image)
                .bind(user.created_at)
                .bind(user.updated_at)
                .bind(user.two_factor_enabled)
                .execute(conn)
                .await?;
                Ok(())
            }

            /// Inserts a provider account row, every Better Auth column.
            async fn insert_oauth_account<'c, E>(conn: E, account: &OAuthAccount) -> Result<(), sqlx::Error>
            where
                E: sqlx::Executor<'c, Database = $db>,
            {
                sqlx::query(
                    r#"INSERT INTO "account" ("id", "accountId", "providerId", "userId", "accessToken", "refreshToken",
                         "idToken", "accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "createdAt", "updatedAt")
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"#,
                )
                .bind(&account.id)
                .bind(&account.account_id)
                .bind(&account.provider_id)
                .bind(&account.user_id)
                .bind(&account.access_token)
                .bind(&account.refresh_token)
                .bind(&account.id_token)
                .bind(account.access_token_expires_at)
                .bind(account.refresh_token_expires_at)
                .bind(&account.scope)
                .bind(account.created_at)
                .bind(account.updated_at)
                .execute(conn)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl AuditStore for SqlStore<$db> {
            async fn insert_audit(&self, event: &AuditEvent) -> StoreResult<()> {
                Self::write_audit(&self.pool, event).await?;
                Ok(())
            }
            async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
                Ok(sqlx::query_as::<_, AuditEvent>(
                    r#"SELECT "id", "at", "event", "outcome", "reason", "user_id", "session_id", "ip", "user_agent", "detail"
                       FROM "audit_event"
                       WHERE ($1 IS NULL OR "user_id" = $1) AND ($2 IS NULL OR "at" >= $2)
                       ORDER BY "at" DESC, "id" DESC LIMIT $3"#,
                )
                .bind(filter.user_id.as_deref())
                .bind(filter.since.map(DbTime::from))
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_revocations(
                &self,
                after: &str,
                now: DateTime<Utc>,
                limit: u32,
            ) -> StoreResult<Vec<RevocationRecord>> {
                // A range read on the primary key: ids start with the time the session ended.
                Ok(sqlx::query_as::<_, RevocationRecord>(
                    r#"SELECT "id", "session_id", "user_id", "revoked_at", "until" FROM "revocation"
                       WHERE "id" > $1 AND "until" > $2 ORDER BY "id" LIMIT $3"#,
                )
                .bind(after)
                .bind(DbTime::from(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

sql_store!(Sqlite);
sql_store!(Postgres);
