//! The jwt feature's storage: Better Auth's `jwks` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::store::{JwkRow, StoreResult};

/// Signing keys at rest (private keys sealed, see [`super::KeyManager`]).
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Every JWKS row, newest first.
    async fn list_jwks(&self) -> StoreResult<Vec<JwkRow>>;
    /// Inserts a JWKS row and writes `audit` (`key_created` / `key_rotated`) in one transaction.
    async fn insert_jwk(&self, row: &JwkRow, audit: &AuditEvent) -> StoreResult<()>;
    /// Rotation: inserts `row`, sets `expiresAt = at` on the keys named in `retire` (so they stop
    /// signing and stay published for the grace period), and writes `audit`, in one transaction.
    async fn rotate_jwk(
        &self,
        row: &JwkRow,
        retire: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<()>;
}
