//! The email-and-password feature's storage: the `credential` account that holds a user's
//! password hash (Better Auth's `account` table, `providerId = 'credential'`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::store::{Account, StoreResult, User};

/// Users with a password, and their password hashes.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// Creates a user and its credential account, and writes `audit`, in one transaction:
    /// all or nothing.
    async fn create_user_with_account(
        &self,
        user: &User,
        account: &Account,
        audit: &AuditEvent,
    ) -> StoreResult<()>;
    /// The user's `credential` account (which holds the password hash), if any.
    async fn find_credential_account(&self, user_id: &str) -> StoreResult<Option<Account>>;
    /// Replaces the password hash of an account, writing `audit` (if any) in the same
    /// transaction. A rehash on sign-in passes `None`: it changes the encoding, not the password.
    async fn update_password(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<()>;
}
