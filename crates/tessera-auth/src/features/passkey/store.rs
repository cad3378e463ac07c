//! The passkey feature's storage: Better Auth's `passkey` table (the `@better-auth/passkey`
//! plugin's schema, so a Better Auth database with passkeys is adopted in place), and the
//! single-use spending of the `verification` row that holds a ceremony's challenge.

use async_trait::async_trait;
use serde::Serialize;
use serde::ser::SerializeMap;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;

use crate::audit::AuditEvent;
use crate::store::{DbTime, SqlStore, StoreResult};

/// A row of `passkey`, serialised as Better Auth's Passkey object.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Passkey {
    /// 32-character id.
    pub id: String,
    /// The name the user gave it, if any.
    pub name: Option<String>,
    /// Standard base64 (padded) of the credential's COSE public key, as Better Auth stores it.
    #[sqlx(rename = "publicKey")]
    pub public_key: String,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
    /// base64url (unpadded) of the credential id.
    #[sqlx(rename = "credentialID")]
    pub credential_id: String,
    /// The authenticator's signature counter at its last use.
    pub counter: i64,
    /// `singleDevice` or `multiDevice` (the backup-eligible flag at registration).
    #[sqlx(rename = "deviceType")]
    pub device_type: String,
    /// Whether the credential was backed up (the backup-state flag).
    #[sqlx(rename = "backedUp")]
    pub backed_up: bool,
    /// The transports the browser reported, comma-separated (`""` when none).
    pub transports: Option<String>,
    /// When it was registered.
    #[sqlx(rename = "createdAt")]
    pub created_at: Option<DbTime>,
    /// The authenticator model's AAGUID, in UUID form.
    pub aaguid: Option<String>,
}

impl Passkey {
    /// The transports as Better Auth hands them to the browser: the column split on `,`, or
    /// none when the column is null.
    pub fn transport_list(&self) -> Option<Vec<&str>> {
        self.transports.as_deref().map(|t| t.split(',').collect())
    }
}

impl Serialize for Passkey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(11))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("publicKey", &self.public_key)?;
        map.serialize_entry("userId", &self.user_id)?;
        map.serialize_entry("credentialID", &self.credential_id)?;
        map.serialize_entry("counter", &self.counter)?;
        map.serialize_entry("deviceType", &self.device_type)?;
        map.serialize_entry("backedUp", &self.backed_up)?;
        map.serialize_entry("transports", &self.transports)?;
        map.serialize_entry("createdAt", &self.created_at.as_ref().map(DbTime::to_iso))?;
        map.serialize_entry("aaguid", &self.aaguid)?;
        map.end()
    }
}

/// Passkeys and the challenges of their ceremonies.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// Inserts a passkey and writes `audit` in the same transaction.
    async fn insert_passkey(&self, passkey: &Passkey, audit: &AuditEvent) -> StoreResult<()>;
    /// The user's passkeys, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> StoreResult<Vec<Passkey>>;
    /// The passkey with this id.
    async fn find_passkey(&self, id: &str) -> StoreResult<Option<Passkey>>;
    /// The passkey with this credential id (base64url).
    async fn find_passkey_by_credential(&self, credential_id: &str)
    -> StoreResult<Option<Passkey>>;
    /// Moves the signature counter from `seen` to `counter`; `false` when it no longer was
    /// `seen` (a concurrent sign-in with the same assertion or a later one won).
    async fn advance_passkey_counter(&self, id: &str, seen: i64, counter: i64)
    -> StoreResult<bool>;
    /// Renames a passkey, writing `audit` in the same transaction; the updated row.
    async fn rename_passkey(
        &self,
        id: &str,
        name: &str,
        audit: &AuditEvent,
    ) -> StoreResult<Option<Passkey>>;
    /// Deletes a passkey, writing `audit` in the same transaction when one was deleted.
    async fn delete_passkey(&self, id: &str, audit: &AuditEvent) -> StoreResult<bool>;
}

/// The columns, `counter` widened: Better Auth creates it `integer` (32 bits on PostgreSQL).
const COLUMNS: &str = r#"SELECT "id", "name", "publicKey", "userId", "credentialID",
    CAST("counter" AS BIGINT) AS "counter", "deviceType", "backedUp", "transports", "createdAt", "aaguid"
    FROM "passkey""#;

macro_rules! passkey_store {
    ($db:ty) => {
        #[async_trait]
        impl PasskeyStore for SqlStore<$db> {
            async fn insert_passkey(&self, p: &Passkey, audit: &AuditEvent) -> StoreResult<()> {
                let mut tx = self.pool().begin().await?;
                sqlx::query(
                    r#"INSERT INTO "passkey" ("id", "name", "publicKey", "userId", "credentialID", "counter",
                         "deviceType", "backedUp", "transports", "createdAt", "aaguid")
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
                )
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.public_key)
                .bind(&p.user_id)
                .bind(&p.credential_id)
                .bind(p.counter)
                .bind(&p.device_type)
                .bind(p.backed_up)
                .bind(&p.transports)
                .bind(p.created_at)
                .bind(&p.aaguid)
                .execute(&mut *tx)
                .await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn list_passkeys(&self, user_id: &str) -> StoreResult<Vec<Passkey>> {
                Ok(sqlx::query_as(&format!(
                    r#"{COLUMNS} WHERE "userId" = $1 ORDER BY "createdAt", "id""#
                ))
                .bind(user_id)
                .fetch_all(self.pool())
                .await?)
            }
            async fn find_passkey(&self, id: &str) -> StoreResult<Option<Passkey>> {
                Ok(sqlx::query_as(&format!(r#"{COLUMNS} WHERE "id" = $1"#))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?)
            }
            async fn find_passkey_by_credential(
                &self,
                credential_id: &str,
            ) -> StoreResult<Option<Passkey>> {
                Ok(sqlx::query_as(&format!(r#"{COLUMNS} WHERE "credentialID" = $1"#))
                    .bind(credential_id)
                    .fetch_optional(self.pool())
                    .await?)
            }
            async fn advance_passkey_counter(
                &self,
                id: &str,
                seen: i64,
                counter: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    r#"UPDATE "passkey" SET "counter" = $3 WHERE "id" = $1 AND "counter" = $2"#,
                )
                .bind(id)
                .bind(seen)
                .bind(counter)
                .execute(self.pool())
                .await?
                .rows_affected();
                Ok(done == 1)
            }
            async fn rename_passkey(
                &self,
                id: &str,
                name: &str,
                audit: &AuditEvent,
            ) -> StoreResult<Option<Passkey>> {
                let mut tx = self.pool().begin().await?;
                let done = sqlx::query(r#"UPDATE "passkey" SET "name" = $2 WHERE "id" = $1"#)
                    .bind(id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done == 0 {
                    return Ok(None);
                }
                let row = sqlx::query_as(&format!(r#"{COLUMNS} WHERE "id" = $1"#))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(row)
            }
            async fn delete_passkey(&self, id: &str, audit: &AuditEvent) -> StoreResult<bool> {
                let mut tx = self.pool().begin().await?;
                let done = sqlx::query(r#"DELETE FROM "passkey" WHERE "id" = $1"#)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done == 0 {
                    return Ok(false);
                }
                Self::write_audit(&mut *tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

passkey_store!(Sqlite);
passkey_store!(Postgres);

/// Implements [`PasskeyStore`] for a store decorator by handing every call to its `inner`
/// store: nothing the decorators cache or transform (sessions, tokens) is in a passkey call.
macro_rules! delegate_passkey_store {
    ($decorator:ty) => {
        #[async_trait::async_trait]
        impl $crate::features::passkey::PasskeyStore for $decorator {
            async fn insert_passkey(
                &self,
                passkey: &$crate::features::passkey::Passkey,
                audit: &$crate::audit::AuditEvent,
            ) -> $crate::store::StoreResult<()> {
                self.inner.insert_passkey(passkey, audit).await
            }
            async fn list_passkeys(
                &self,
                user_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::features::passkey::Passkey>> {
                self.inner.list_passkeys(user_id).await
            }
            async fn find_passkey(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::features::passkey::Passkey>> {
                self.inner.find_passkey(id).await
            }
            async fn find_passkey_by_credential(
                &self,
                credential_id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::features::passkey::Passkey>> {
                self.inner.find_passkey_by_credential(credential_id).await
            }
            async fn advance_passkey_counter(
                &self,
                id: &str,
                seen: i64,
                counter: i64,
            ) -> $crate::store::StoreResult<bool> {
                self.inner.advance_passkey_counter(id, seen, counter).await
            }
            async fn rename_passkey(
                &self,
                id: &str,
                name: &str,
                audit: &$crate::audit::AuditEvent,
            ) -> $crate::store::StoreResult<Option<$crate::features::passkey::Passkey>> {
                self.inner.rename_passkey(id, name, audit).await
            }
            async fn delete_passkey(
                &self,
                id: &str,
                audit: &$crate::audit::AuditEvent,
            ) -> $crate::store::StoreResult<bool> {
                self.inner.delete_passkey(id, audit).await
            }
        }
    };
}
pub(crate) use delegate_passkey_store;
