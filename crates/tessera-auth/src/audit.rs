//! The audit log: one row in `audit_event` and one `tracing` event (target `audit`) per
//! security-relevant action.
//!
//! An event that records a change (a sign-up, a new or ended session, a password change, a new
//! signing key) is handed to the store method making the change and written in the same
//! transaction, so the log never claims an action that was rolled back nor misses one that was
//! committed; the caller emits the `tracing` line once the store returns. Events with no data
//! change (`sign_in_failed`, `credential_check_failed`, `token_issued`, `rate_limited`,
//! `origin_rejected`) are a standalone insert through [`AuthState::audit`].
//!
//! What goes in: time, event, outcome, reason, user and session ids, client IP and user agent,
//! and a small JSON `detail` built from ids and names only. What never goes in: a password, a
//! session token, a cookie, a JWT, a secret, or an email address typed at a failed sign-in (users
//! type passwords into the email field).
//!
//! Every session is born with a `sign_in` event naming it (`detail.via` says whether a sign-in,
//! a sign-up or a password change opened it), so each session row can be traced to its origin.
//! `session_id` is the session the event is about: the one opened, ended or revoked, otherwise
//! the one the request was made with.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, Request};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::ids::ordered_id;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{DbTime, Session, StoreResult};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A user and credential account were created.
    SignUp,
    /// A session was opened.
    SignIn,
    /// A sign-in was refused (`reason`: `invalid_credentials`; `detail.route`).
    SignInFailed,
    /// A signed-in user's check of their current password (or a code) failed (`reason`:
    /// `invalid_password`; `detail.route` names the endpoint, e.g. `/change-password`).
    CredentialCheckFailed,
    /// The caller ended their session.
    SignOut,
    /// Sessions were revoked (revoke-session, revoke-sessions, revoke-other-sessions, a
    /// password change that ends every session, or, with reason `expired`, the clean-up of an
    /// expired session a request presented).
    SessionRevoked,
    /// A password was changed.
    PasswordChanged,
    /// A reset link asked for (`POST /request-password-reset`), for a known address or not.
    PasswordResetRequested,
    /// A password set from a reset link (`POST /reset-password`).
    PasswordReset,
    /// A verification link was queued (`detail.via`: `request`, `sign_up` or `sign_in`), or,
    /// with reason `recipient_limit`, not queued because the address had its hourly allowance.
    EmailVerificationSent,
    /// An address was verified from a link (`GET /verify-email`).
    EmailVerified,
    /// An email change was asked for (`POST /change-email`) or approved from the current
    /// address, and its mail queued (`detail.step`: `confirmation`, to the current address, or
    /// `verification`, to the new one); with reason `address_taken` nothing was mailed (the new
    /// address has an account; the answer is the same), with `recipient_limit` the mail was not
    /// queued (the address had its hourly allowance).
    EmailChangeRequested,
    /// A user's address was changed (`detail.via`: `verification_link`, `legacy_link`, or
    /// `unverified_update` for `updateEmailWithoutVerification`); `detail.email_verified` says
    /// whether the new address counts as verified. The addresses are not logged.
    EmailChanged,
    /// An account deletion was asked for and its confirmation link queued (`POST /delete-user`
    /// with `sendDeleteAccountVerification`); reason `recipient_limit` when it was not queued.
    AccountDeletionRequested,
    /// A user, their sessions and accounts were deleted (`detail.via`: `password`,
    /// `fresh_session` or `token`).
    AccountDeleted,
    /// A JWT was minted (`/token`, or `set-auth-jwt` on get-session).
    TokenIssued,
    /// The first signing key of an algorithm was created.
    KeyCreated,
    /// A new signing key replaced the previous one (expiry or `tessera keys rotate`).
    KeyRotated,
    /// A request was refused by a rate limit.
    RateLimited,
    /// A request was refused because the server was too busy (`reason`: `hashing_queue_full`).
    Overloaded,
    /// A request was refused by the origin check (CSRF).
    OriginRejected,
    /// A passkey was registered (`detail.passkey_id`).
    PasskeyAdded,
    /// A passkey was renamed (`detail.passkey_id`).
    PasskeyRenamed,
    /// A passkey was deleted (`detail.passkey_id`).
    PasskeyDeleted,
    /// A provider account was linked to an existing user (`detail.provider`), on a social
    /// sign-in whose verified email matched the user's.
    AccountLinked,
    /// A signed-in user unlinked one of their accounts (`detail.provider`).
    AccountUnlinked,
    /// The mail worker gave a mail up (`detail`: its `kind`, `mail_id`, `attempts` and the
    /// last failure's `code`; never its link). Written by the composition root's delivery hook.
    MailDeliveryFailed,
    /// Two-factor was set up (`detail.method`: `totp`, or `otp` when turned on at once) or its
    /// TOTP confirmed for the first time (`detail.confirmed`); `twoFactorEnabled` set.
    TwoFactorEnabled,
    /// Two-factor was turned off: the secret and backup codes deleted.
    TwoFactorDisabled,
    /// A TOTP, mailed code or backup code was wrong (`reason`: `invalid_code`,
    /// `invalid_backup_code`; `detail.route`), or a challenge ran out of attempts.
    TwoFactorFailed,
    /// New backup codes replaced the old ones.
    BackupCodesGenerated,
    /// A backup code was spent (`detail.remaining`: how many are left).
    BackupCodeUsed,
    /// A sign-in code was queued for mailing.
    TwoFactorCodeSent,
    /// The password was right and the sign-in now waits for a second factor
    /// (`detail.methods`).
    TwoFactorRequired,
}

impl AuditKind {
    /// The name stored in `audit_event.event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::CredentialCheckFailed => "credential_check_failed",
            Self::SignOut => "sign_out",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::EmailVerificationSent => "email_verification_sent",
            Self::EmailVerified => "email_verified",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::AccountDeletionRequested => "account_deletion_requested",
            Self::AccountDeleted => "account_deleted",
            Self::TokenIssued => "token_issued",
            Self::KeyCreated => "key_created",
            Self::KeyRotated => "key_rotated",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::OriginRejected => "origin_rejected",
            Self::MailDeliveryFailed => "mail_delivery_failed",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRenamed => "passkey_renamed",
            Self::PasskeyDeleted => "passkey_deleted",
            Self::AccountLinked => "account_linked",
            Self::AccountUnlinked => "account_unlinked",
            Self::TwoFactorEnabled => "two_factor_enabled",
            Self::TwoFactorDisabled => "two_factor_disabled",
            Self::TwoFactorFailed => "two_factor_failed",
            Self::BackupCodesGenerated => "backup_codes_generated",
            Self::BackupCodeUsed => "backup_code_used",
            Self::TwoFactorCodeSent => "two_factor_code_sent",
            Self::TwoFactorRequired => "two_factor_required",
        }
    }

    /// Whether the event records a refusal.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::SignInFailed
            | Self::CredentialCheckFailed
            | Self::RateLimited
            | Self::OriginRejected
            | Self::Overloaded
            | Self::MailDeliveryFailed
            | Self::TwoFactorFailed => Outcome::Failure,
            _ => Outcome::Success,
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the audited action went through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// The name stored in `audit_event.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// A row of `audit_event`.
///
/// Built with [`AuditEvent::new`] (a request's event) or [`AuditEvent::system`] (no client),
/// then the builder methods. `event` and `outcome` are text so rows written by a newer version
/// still read.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AuditEvent {
    /// 32 characters that sort in the order events were made: milliseconds and a per-process
    /// sequence in hex, then random (see [`ordered_id`]).
    pub id: String,
    /// When it happened.
    pub at: DbTime,
    /// An [`AuditKind`] name.
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Why it failed (or what caused it), as a stable code.
    pub reason: Option<String>,
    /// The user concerned, when known.
    pub user_id: Option<String>,
    /// The session concerned (see the module docs).
    pub session_id: Option<String>,
    /// The client IP, `""` when none (an event the server caused itself).
    pub ip: String,
    /// The client's `User-Agent`, `""` when none.
    pub user_agent: String,
    /// JSON object with further context; never a secret.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// An event caused by a request from `meta`'s client.
    pub fn new(kind: AuditKind, at: DateTime<Utc>, meta: &ClientMeta) -> Self {
        Self {
            ip: meta.ip(),
            user_agent: meta.user_agent(),
            ..Self::system(kind, at)
        }
    }

    /// An event with no client: the server or the command line caused it.
    pub fn system(kind: AuditKind, at: DateTime<Utc>) -> Self {
        Self {
            id: ordered_id(at),
            at: DbTime::from(at),
            event: kind.as_str().to_owned(),
            outcome: kind.outcome().as_str().to_owned(),
            reason: None,
            user_id: None,
            session_id: None,
            ip: String::new(),
            user_agent: String::new(),
            detail: None,
        }
    }

    /// Names the user concerned.
    #[must_use]
    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// Names the session concerned.
    #[must_use]
    pub fn session(mut self, session_id: &str) -> Self {
        self.session_id = Some(session_id.to_owned());
        self
    }

    /// Sets the reason code.
    #[must_use]
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }

    /// Sets the JSON detail (an object of ids and names; never a secret).
    #[must_use]
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// The detail, parsed.
    pub fn detail_json(&self) -> Option<Value> {
        self.detail
            .as_deref()
            .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_owned())))
    }

    /// This event naming the sessions it ended in `detail.sessions` (sorted), for the events
    /// that end several at once, so a reader of the log sees which. A pure function of its
    /// inputs, so the store (which writes the row once it knows what it deleted) and the caller
    /// (which emits it) produce the same event. (Revocations are their own records:
    /// [`crate::revocation`].)
    #[must_use]
    pub fn with_ended_sessions(&self, ids: &[String]) -> Self {
        let mut detail = match self.detail_json() {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let mut ids = ids.to_vec();
        ids.sort();
        detail.insert("sessions".into(), ids.into());
        self.clone().detail(Value::Object(detail))
    }

    /// The row as one JSON object (`tessera audit --json`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "at": self.at.to_iso(),
            "event": self.event,
            "outcome": self.outcome,
            "reason": self.reason,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "detail": self.detail_json(),
        })
    }

    /// Emits the `tracing` event (target `audit`) for this row. Called once the row is stored.
    pub fn emit(&self) {
        let reason = self.reason.as_deref().unwrap_or_default();
        let user_id = self.user_id.as_deref().unwrap_or_default();
        let session_id = self.session_id.as_deref().unwrap_or_default();
        let detail = self.detail.as_deref().unwrap_or_default();
        // The user agent and detail are client-influenced: Debug-quote them so they cannot
        // forge fields or lines.
        tracing::info!(
            target: "audit",
            event = %self.event,
            outcome = %self.outcome,
            reason,
            user_id,
            session_id,
            ip = %self.ip,
            user_agent = ?self.user_agent,
            detail = ?detail,
            id = %self.id,
        );
    }
}

/// Which rows `tessera audit` reads: newest first, at most `limit`.
#[derive(Clone, Debug)]
pub struct AuditFilter {
    /// Only this user's events.
    pub user_id: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many rows.
    pub limit: u32,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            user_id: None,
            since: None,
            limit: 100,
        }
    }
}

/// How often an identical refusal (same event, client and reason) is written.
const REFUSAL_WINDOW_SECS: i64 = 60;
/// Distinct refusals remembered before the oldest are forgotten.
const REFUSAL_MEMORY: usize = 10_000;

/// Keeps a flood of refused requests from turning into a flood of writes: a refusal
/// (`rate_limited`, `origin_rejected`) is written at most once a minute per client and reason,
/// and the next row written carries the number skipped in `detail.suppressed`.
#[derive(Debug, Default)]
pub struct RefusalGate {
    seen: Mutex<HashMap<String, (DateTime<Utc>, u64)>>,
}

impl RefusalGate {
    /// `Some(skipped since the last row)` when this refusal is to be written, `None` otherwise.
    fn admit(&self, key: String, now: DateTime<Utc>) -> Option<u64> {
        let window = Duration::seconds(REFUSAL_WINDOW_SECS);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((last, skipped)) = seen.get_mut(&key)
            && now >= *last
            && now - *last < window
        {
            *skipped += 1;
            return None;
        }
        if seen.len() >= REFUSAL_MEMORY {
            seen.retain(|_, (last, _)| now >= *last && now - *last < window);
            if seen.len() >= REFUSAL_MEMORY {
                seen.clear();
            }
        }
        Some(seen.insert(key, (now, 0)).map_or(0, |(_, skipped)| skipped))
    }
}

impl AuthState {
    /// A new event for a request from `meta`, stamped with the current time.
    pub fn audit_event(&self, kind: AuditKind, meta: &ClientMeta) -> AuditEvent {
        AuditEvent::new(kind, self.clock.now(), meta)
    }

    /// Records an event that goes with no data change: inserts its row, then emits its
    /// `tracing` line. A failed insert is logged (and the line still emitted) before the error
    /// is returned, so a caller that must answer anyway can ignore it.
    pub async fn audit(&self, event: AuditEvent) -> StoreResult<()> {
        let stored = self.store.insert_audit(&event).await;
        if let Err(err) = &stored {
            tracing::error!(error = %err, event = %event.event, "audit row not written");
        }
        event.emit();
        stored
    }

    /// Stores a new session with `audit` (its `sign_in` event, which is made to name it) in one
    /// transaction, then emits the event.
    pub(crate) async fn insert_session(
        &self,
        session: &Session,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let audit = audit.session(&session.id);
        self.store.create_session(session, &audit).await?;
        audit.emit();
        Ok(())
    }

    /// Records a refused request (`rate_limited`, `origin_rejected`): the client, method and
    /// path, and `reason` (e.g. the error code). For middleware, which answers the refusal
    /// whatever happens here; identical refusals are coalesced by [`RefusalGate`].
    pub async fn audit_refused(&self, kind: AuditKind, reason: &str, request: Request) {
        let (mut parts, _body) = request.into_parts();
        let Ok(meta) = ClientMeta::from_request_parts(&mut parts, self).await;
        let detail = json!({ "method": parts.method.as_str(), "path": parts.uri.path() });
        let event = self.audit_event(kind, &meta).reason(reason).detail(detail);
        self.audit_refusal(event).await;
    }

    /// Records a refusal event built by the caller, coalescing identical ones (same event,
    /// client IP and reason) through [`RefusalGate`]. Never fails: the refusal is answered
    /// whatever happens here, and a failed insert is logged.
    pub async fn audit_refusal(&self, mut event: AuditEvent) {
        let key = format!(
            "{}|{}|{}",
            event.event,
            event.ip,
            event.reason.as_deref().unwrap_or_default()
        );
        let Some(suppressed) = self.refusals.admit(key, event.at.0) else {
            return;
        };
        if suppressed > 0 {
            let mut detail = match event.detail_json() {
                Some(Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            detail.insert("suppressed".into(), suppressed.into());
            event = event.detail(Value::Object(detail));
        }
        let _ = self.audit(event).await;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn an_identical_refusal_is_written_once_a_minute_and_counts_what_it_skipped() {
        let gate = RefusalGate::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(gate.admit("a".into(), t0), Some(0));
        assert_eq!(gate.admit("a".into(), t0 + Duration::seconds(1)), None);
        assert_eq!(gate.admit("a".into(), t0 + Duration::seconds(59)), None);
        assert_eq!(gate.admit("b".into(), t0 + Duration::seconds(59)), Some(0));
        assert_eq!(gate.admit("a".into(), t0 + Duration::seconds(60)), Some(2));
    }

    #[test]
    fn refusals_and_failures_have_the_failure_outcome() {
        for kind in [
            AuditKind::SignInFailed,
            AuditKind::CredentialCheckFailed,
            AuditKind::RateLimited,
            AuditKind::OriginRejected,
            AuditKind::MailDeliveryFailed,
        ] {
            assert_eq!(kind.outcome(), Outcome::Failure);
        }
        assert_eq!(AuditKind::SignIn.outcome(), Outcome::Success);
        let event = AuditEvent::system(AuditKind::KeyCreated, Utc::now());
        assert_eq!(
            (event.event.as_str(), event.outcome.as_str()),
            ("key_created", "success")
        );
        assert_eq!(event.id.len(), 32);
    }
}
