//! The email-verification feature's storage. Its tokens are stateless JWTs, so nothing but the
//! mail (and, once a link is followed, the user's `emailVerified`, or for an email change their
//! `email`) is written.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_mail::Mail;

use crate::audit::AuditEvent;
use crate::store::{StoreResult, User};

/// Verification mails one address may be sent in an hour, however many clients ask (sign-up,
/// sign-in with `sendOnSignIn` and `/send-verification-email` together).
pub const VERIFICATION_MAILS_PER_HOUR: i64 = 3;

/// Verification mails and the flag a followed link sets.
#[async_trait]
pub trait EmailVerificationStore: Send + Sync + 'static {
    /// Queues `mail` (the outbox, [`tessera_mail::enqueue`]) with `audit`, in one transaction,
    /// unless its recipient already had [`VERIFICATION_MAILS_PER_HOUR`] mails of its kind queued
    /// in the hour before `now`: then nothing is written and the answer is `false`.
    async fn queue_verification_mail(
        &self,
        mail: &Mail,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Sets `emailVerified` on the user `user_id` and writes `audit`, in one transaction;
    /// the updated user, or `None` when there is no such user.
    async fn mark_email_verified(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;
    /// Sets the user `user_id`'s `email` to `new_email` (lower-case) and `emailVerified` to
    /// `email_verified`, and writes `audit`, in one transaction; the updated user, `None` when
    /// there is no such user, [`StoreError::Conflict`](crate::store::StoreError::Conflict) when
    /// another account has the address.
    async fn change_email(
        &self,
        user_id: &str,
        new_email: &str,
        email_verified: bool,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;
}
