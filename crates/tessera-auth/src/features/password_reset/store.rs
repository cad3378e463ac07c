//! The password-reset feature's storage: Better Auth's `verification` rows
//! (`identifier = "reset-password:<token>"`, `value` = the user id), and the password write that
//! spends one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use tessera_mail::Mail;

use crate::audit::AuditEvent;
use crate::revocation::RevocationStamp;
use crate::store::{Account, StoreResult};

/// Reset mails one address may be sent in an hour, however many clients ask.
pub const RESET_MAILS_PER_HOUR: i64 = 3;

/// What a reset writes, in one transaction.
#[derive(Debug)]
pub struct PasswordResetWrite<'a> {
    /// The verification row's identifier, spent by the write (`reset-password:<token>`).
    pub identifier: &'a str,
    /// The user whose password is set.
    pub user_id: &'a str,
    /// The credential account to create if the user has none (its `password` is the new hash).
    pub account: &'a Account,
    /// When; a row that expired by then is not spent.
    pub now: DateTime<Utc>,
    /// The `password_reset` event.
    pub audit: &'a AuditEvent,
    /// With `revokeSessionsOnPasswordReset`: the user's sessions are deleted, each with a
    /// revocation record, and this event written naming them.
    pub revoke: Option<(&'a AuditEvent, RevocationStamp)>,
}

/// The outcome of [`PasswordResetStore::reset_password`].
#[derive(Debug, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The token was spent and the password set; the ids of the sessions deleted.
    Done(Vec<String>),
    /// The token was already spent or expired (a concurrent reset won): nothing was written.
    TokenGone,
}

/// Reset tokens and the password write that spends them.
#[async_trait]
pub trait PasswordResetStore: Send + Sync + 'static {
    /// Writes a reset token (a `verification` row named `identifier`, value `user_id`), the
    /// mail carrying its link (the outbox, [`tessera_mail::enqueue`]) and `audit`, in one
    /// transaction: no mail without its token, no token without its mail. Unless the address
    /// already had [`RESET_MAILS_PER_HOUR`] reset mails queued in the hour before `now`: then
    /// nothing is written and the answer is `false` (the mailer cannot be turned on an inbox).
    async fn request_password_reset(
        &self,
        identifier: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Inserts a `verification` row, as Better Auth's `createVerificationValue` does.
    async fn create_verification(
        &self,
        identifier: &str,
        value: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The value (a user id) of the newest verification row named `identifier` that has not
    /// expired at `now`.
    async fn find_verification_value(
        &self,
        identifier: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
    /// Spends the token and sets the password: deletes every row named `write.identifier`
    /// (none left unexpired: [`ResetOutcome::TokenGone`], nothing written), updates the
    /// credential account's hash or creates `write.account`, optionally deletes the sessions,
    /// and writes the audit events, all in one transaction.
    async fn reset_password(&self, write: PasswordResetWrite<'_>) -> StoreResult<ResetOutcome>;
}
