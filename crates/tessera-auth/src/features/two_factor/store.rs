//! The two-factor feature's storage: Better Auth's `twoFactor` table and
//! `user."twoFactorEnabled"`, its challenge, attempt, mailed-code and trusted-device rows in
//! `verification`, and Tessera's `two_factor_totp_step` (the replay guard).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_mail::Mail;

use crate::audit::AuditEvent;
use crate::store::{DbTime, StoreResult, User};

/// Sign-in codes one address may be mailed in an hour, however many clients ask.
pub const TWO_FACTOR_MAILS_PER_HOUR: i64 = 10;

/// A row of `twoFactor`. `secret` and `backupCodes` are sealed with the server secret
/// ([`crate::secret::SecretSet::encrypt`]), as Better Auth stores them; `Debug` leaves them out.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct TwoFactorRow {
    /// 32-character id.
    pub id: String,
    /// The sealed TOTP secret.
    pub secret: String,
    /// The sealed JSON array of unused backup codes.
    #[sqlx(rename = "backupCodes")]
    pub backup_codes: String,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
    /// Whether a code confirmed the secret (`NULL`, from before the column, counts as yes).
    pub verified: Option<bool>,
    /// Consecutive failed sign-in verifications (the account lockout).
    #[sqlx(rename = "failedVerificationCount")]
    pub failed_verification_count: Option<i32>,
    /// Until when the lockout refuses sign-in verifications.
    #[sqlx(rename = "lockedUntil")]
    pub locked_until: Option<DbTime>,
}

impl std::fmt::Debug for TwoFactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoFactorRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("verified", &self.verified)
            .field("failed_verification_count", &self.failed_verification_count)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// A change to a `twoFactor` row's lockout counters ([`TwoFactorStore::update_lockout`]).
#[derive(Clone, Copy, Debug)]
pub enum Lockout {
    /// One more failure; at `max` the row is locked until `until`. Atomic: concurrent failures
    /// all count.
    Fail {
        /// Failures that lock.
        max: i64,
        /// When a lock set now ends.
        until: DateTime<Utc>,
    },
    /// A success: the count starts again.
    Reset,
    /// A lock that ended by `now` is cleared (with its count).
    ClearExpired {
        /// The present.
        now: DateTime<Utc>,
    },
}

/// Two-factor secrets, backup codes and the one-time values of its flows.
#[async_trait]
pub trait TwoFactorStore: Send + Sync + 'static {
    /// The user's `twoFactor` row, if any.
    async fn find_two_factor(&self, user_id: &str) -> StoreResult<Option<TwoFactorRow>>;
    /// Writes `row`'s secret, backup codes and `verified` over the user's row, or inserts
    /// `row` when there is none, with `audit`, in one transaction.
    async fn save_two_factor(&self, row: &TwoFactorRow, audit: &AuditEvent) -> StoreResult<()>;
    /// Sets `user."twoFactorEnabled"`. Turning it on marks the user's row verified; turning it
    /// off deletes the row and the replay guard. `audit` goes in the same transaction. The
    /// updated user, `None` when there is none.
    async fn set_two_factor_enabled(
        &self,
        user_id: &str,
        enabled: bool,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>>;
    /// Replaces the sealed backup codes of row `id`. With `expected`, only if they still are
    /// `expected` (compare-and-set: of two concurrent uses of one code, one wins); `false` when
    /// nothing was replaced. `audit` is written only with a replacement.
    async fn replace_backup_codes(
        &self,
        id: &str,
        expected: Option<&str>,
        codes: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
    /// Applies `change` to row `id`'s lockout counters.
    async fn update_lockout(&self, id: &str, change: Lockout) -> StoreResult<()>;
    /// Records that the user's TOTP code for time step `step` was accepted: `false` (nothing
    /// written) when a code of that step or a later one already was, so each code works once.
    async fn accept_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool>;
    /// Deletes every `verification` row named `identifier`.
    async fn delete_verification(&self, identifier: &str) -> StoreResult<()>;
    /// Writes a mailed code's `verification` row, its mail (the outbox) and `audit` in one
    /// transaction; `false`, nothing written, when the address already had
    /// [`TWO_FACTOR_MAILS_PER_HOUR`] such mails queued in the hour before `now`.
    async fn queue_two_factor_code(
        &self,
        identifier: &str,
        value: &str,
        expires_at: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
}
