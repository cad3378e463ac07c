//! The account-deletion feature's storage: Better Auth's `verification` rows
//! (`identifier = "delete-account-<token>"`, `value` = the user id), and the deletion itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_mail::Mail;

use crate::audit::AuditEvent;
use crate::revocation::RevocationStamp;
use crate::store::StoreResult;

/// Deletion links one address may be sent in an hour, however many clients ask.
pub const DELETE_MAILS_PER_HOUR: i64 = 3;

/// Deletion tokens and the deletion.
#[async_trait]
pub trait DeleteUserStore: Send + Sync + 'static {
    /// Writes a deletion token (a `verification` row named `identifier`, value `user_id`), the
    /// mail carrying its link and `audit`, in one transaction; unless the address already had
    /// [`DELETE_MAILS_PER_HOUR`] such mails queued in the hour before `now`: then nothing is
    /// written and the answer is `false`.
    async fn request_account_deletion(
        &self,
        identifier: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Deletes the user `user_id`: their sessions (one revocation record each, `revoked`
    /// written naming them when there were any), their accounts and the user row, and writes
    /// `audit`, in one transaction. The ids of the sessions deleted, or `None` when there was
    /// no such user (nothing written).
    async fn delete_user(
        &self,
        user_id: &str,
        audit: &AuditEvent,
        revoked: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<Vec<String>>>;
}
