//! [`PasswordAttempt`]: the one way an endpoint checks a secret the caller must know.

use axum::response::Response;
use serde_json::json;

use super::{ClientIp, Decision, too_many_requests};
use crate::audit::AuditKind;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::StoreResult;

/// An endpoint that checks a password (or a one-time code) the caller must know; it names the
/// route in the audit events of its failures and refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckedRoute {
    /// `POST /sign-in/email`.
    SignIn,
    /// `POST /change-password`.
    ChangePassword,
    /// `POST /verify-password`.
    VerifyPassword,
    /// `POST /passkey/verify-authentication`: a passkey sign-in, counted against the account
    /// the passkey belongs to.
    Passkey,
    /// `POST /delete-user` with a `password`.
    DeleteUser,
    /// The password `/two-factor/enable`, `/disable`, `/get-totp-uri` and
    /// `/generate-backup-codes` ask for again.
    TwoFactorPassword,
    /// `POST /two-factor/verify-totp`.
    VerifyTotp,
    /// `POST /two-factor/verify-otp`.
    VerifyOtp,
    /// `POST /two-factor/verify-backup-code`.
    VerifyBackupCode,
}

impl CheckedRoute {
    /// The route's path under `/api/auth`, stored as `detail.route`.
    pub fn path(self) -> &'static str {
        match self {
            Self::SignIn => "/sign-in/email",
            Self::ChangePassword => "/change-password",
            Self::VerifyPassword => "/verify-password",
            Self::Passkey => "/passkey/verify-authentication",
            Self::DeleteUser => "/delete-user",
            Self::TwoFactorPassword => "/two-factor/*",
            Self::VerifyTotp => "/two-factor/verify-totp",
            Self::VerifyOtp => "/two-factor/verify-otp",
            Self::VerifyBackupCode => "/two-factor/verify-backup-code",
        }
    }

    /// The event and reason of a failed check. Sign-in keeps its own event, which the audit
    /// log has always had; every check made on behalf of a signed-in user is a
    /// `credential_check_failed`.
    fn failure(self) -> (AuditKind, &'static str) {
        match self {
            Self::SignIn => (AuditKind::SignInFailed, "invalid_credentials"),
            Self::Passkey => (AuditKind::SignInFailed, "invalid_passkey"),
            Self::ChangePassword
            | Self::VerifyPassword
            | Self::DeleteUser
            | Self::TwoFactorPassword => (AuditKind::CredentialCheckFailed, "invalid_password"),
            Self::VerifyTotp | Self::VerifyOtp => (AuditKind::TwoFactorFailed, "invalid_code"),
            Self::VerifyBackupCode => (AuditKind::TwoFactorFailed, "invalid_backup_code"),
        }
    }

    /// The reason of the `rate_limited` event when the throttle refuses a check.
    fn refusal_reason(self) -> &'static str {
        match self {
            Self::SignIn | Self::Passkey => "failed_sign_ins",
            Self::ChangePassword
            | Self::VerifyPassword
            | Self::DeleteUser
            | Self::TwoFactorPassword => "failed_password_checks",
            Self::VerifyTotp | Self::VerifyOtp | Self::VerifyBackupCode => {
                "failed_two_factor_codes"
            }
        }
    }
}

/// One check of a current password or a code, counted in the failed-attempt limits of
/// [`LoginThrottle`](super::LoginThrottle) (10 an hour per account and address, 100 per
/// account) *before* it is made.
///
/// Every endpoint that verifies a secret the caller must know goes through this, so that
/// sign-in, change-password and any later one (verify-password, delete-user, two-factor) share
/// one set of limits per account and one audit trail. A new endpoint adds a [`CheckedRoute`]
/// and makes one call before its check:
///
/// ```ignore
/// let attempt = match PasswordAttempt::begin(&state, &meta, CheckedRoute::ChangePassword, email).await {
///     Ok(attempt) => attempt,
///     Err(too_many) => return Ok(too_many), // 429 with Retry-After; nothing was checked
/// };
/// if !verified {
///     attempt.failed(Some(&user.id), Some(&session.id)).await?; // audited, slot kept
///     return Err(...);
/// }
/// attempt.succeeded().await; // slot given back, address known
/// ```
///
/// An attempt dropped without either call (an error while checking, a client gone away) keeps
/// its slot: its outcome is unknown, so it counts as a failure.
#[must_use = "an attempt counts as a failure unless `succeeded` is called"]
pub struct PasswordAttempt<'a> {
    state: &'a AuthState,
    meta: &'a ClientMeta,
    route: CheckedRoute,
    email: String,
    ip: ClientIp,
    now_ms: u64,
}

impl std::fmt::Debug for PasswordAttempt<'_> {
    // Without the email: users type passwords into the email field.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordAttempt")
            .field("route", &self.route)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl<'a> PasswordAttempt<'a> {
    /// Takes a slot for one check against the account `email` (lower-cased here, as sign-in
    /// normalises it, so every route counts in the same limits) from `meta`'s client. When the
    /// limits are spent, or the counter store is down, the refusal is audited (coalesced like
    /// every refusal) and the 429 with `Retry-After` to answer at once is handed back instead.
    pub async fn begin(
        state: &'a AuthState,
        meta: &'a ClientMeta,
        route: CheckedRoute,
        email: &str,
    ) -> Result<Self, Response> {
        let email = email.to_lowercase();
        let ip = meta.client_ip.clone().unwrap_or_else(ClientIp::unknown);
        let now_ms = u64::try_from(state.clock.now().timestamp_millis()).unwrap_or(0);
        match state.login_throttle.reserve(&email, &ip, now_ms).await {
            Decision::Allowed => Ok(Self {
                state,
                meta,
                route,
                email,
                ip,
                now_ms,
            }),
            Decision::Limited { retry_after } => {
                let event = state
                    .audit_event(AuditKind::RateLimited, meta)
                    .reason(route.refusal_reason())
                    .detail(json!({ "route": route.path() }));
                state.audit_refusal(event).await;
                Err(too_many_requests(retry_after))
            }
        }
    }

    /// The check failed: its slot stays taken and the failure is audited with the route, the
    /// user (when the account exists; never the email typed) and the session the request was
    /// made with, if any.
    pub async fn failed(self, user_id: Option<&str>, session_id: Option<&str>) -> StoreResult<()> {
        let (kind, reason) = self.route.failure();
        let mut event = self
            .state
            .audit_event(kind, self.meta)
            .reason(reason)
            .detail(json!({ "route": self.route.path() }));
        if let Some(id) = user_id {
            event = event.user(id);
        }
        if let Some(id) = session_id {
            event = event.session(id);
        }
        self.state.audit(event).await
    }

    /// The client the attempt is counted for, which the hashing queue serves it as.
    pub fn client_ip(&self) -> &ClientIp {
        &self.ip
    }

    /// The check never ran (the hashing queue shed it): both slots are given back, since a
    /// refusal must not count towards locking the account or the address out.
    pub async fn not_checked(self) {
        self.state
            .login_throttle
            .not_checked(&self.email, &self.ip, self.now_ms)
            .await;
    }

    /// The check passed: see [`LoginThrottle::succeeded`](super::LoginThrottle::succeeded).
    pub async fn succeeded(self) {
        self.state
            .login_throttle
            .succeeded(&self.email, &self.ip, self.now_ms)
            .await;
    }
}
