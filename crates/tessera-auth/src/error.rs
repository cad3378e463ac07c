//! The auth API's one error type.
//!
//! Every client-visible error is Better Auth's JSON shape `{"message", "code"}` with its exact
//! strings, so the official client reads `error.code` unchanged. Storage failures become a 503
//! (the database went away) or a bare 500 whose cause is logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::password::HashError;
use crate::store::StoreError;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Option<&'static str>,
    message: String,
    /// `Retry-After` seconds of a 503 (1 when unset).
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with Better Auth's stable `code` and its exact message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Some(code),
            message: message.into(),
            retry_after: None,
        }
    }

    /// An error Better Auth sends with a message and no `code`.
    pub fn message_only(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine code, when the error has one.
    pub fn code(&self) -> Option<&'static str> {
        self.code
    }

    /// The same code and message under another status (Better Auth answers some codes with
    /// more than one: `INVALID_TOKEN` is a 400 from `/reset-password`, a 401 from `/verify-email`).
    pub fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    /// 401 `UNAUTHORIZED`: no valid session.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized")
    }

    /// 400 `VALIDATION_ERROR` with zod's `[body.field] message` text.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 503: the database did not answer. Safe to retry.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable. Please try again.",
        )
    }

    /// 503 `TOO_BUSY`: too many password hashes are waiting; retry after `retry_after` seconds.
    /// Tessera's own code (Better Auth has no load shedding); the shape is Better Auth's.
    pub fn too_busy(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TOO_BUSY",
                "The server is too busy to check passwords right now. Please try again shortly.",
            )
        }
    }

    /// 500 with Better Auth's generic code; the cause is logged by the caller, never sent.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Internal Server Error",
        )
    }
}

/// Better Auth's error codes and messages, byte for byte (docs/better-auth-protocol.md §1.2).
pub mod codes {
    use axum::http::StatusCode;

    use super::ApiError;

    /// One constructor per error, `name => STATUS, "CODE", "message";`: the core's here, a
    /// plugin's in its feature module (`features::passkey`).
    macro_rules! better_auth_errors {
        ($($fn_name:ident => $status:ident, $code:literal, $message:literal;)*) => {
            $(
                #[doc = concat!("`", $code, "`: ", $message)]
                pub fn $fn_name() -> $crate::error::ApiError {
                    $crate::error::ApiError::new(
                        axum::http::StatusCode::$status,
                        $code,
                        $message,
                    )
                }
            )*
        };
    }
    pub(crate) use better_auth_errors;

    better_auth_errors! {
        invalid_email => BAD_REQUEST, "INVALID_EMAIL", "Invalid email";
        invalid_email_or_password => UNAUTHORIZED, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password";
        invalid_password => BAD_REQUEST, "INVALID_PASSWORD", "Invalid password";
        password_too_short => BAD_REQUEST, "PASSWORD_TOO_SHORT", "Password too short";
        password_too_long => BAD_REQUEST, "PASSWORD_TOO_LONG", "Password too long";
        password_compromised => BAD_REQUEST, "PASSWORD_COMPROMISED", "The password you entered has been compromised. Please choose a different password.";
        user_already_exists => UNPROCESSABLE_ENTITY, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.";
        failed_to_create_user => UNPROCESSABLE_ENTITY, "FAILED_TO_CREATE_USER", "Failed to create user";
        failed_to_create_session => UNAUTHORIZED, "FAILED_TO_CREATE_SESSION", "Failed to create session";
        reset_password_disabled => BAD_REQUEST, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled";
        invalid_token => BAD_REQUEST, "INVALID_TOKEN", "Invalid token";
        token_expired => BAD_REQUEST, "TOKEN_EXPIRED", "Token expired";
        verification_email_not_enabled => BAD_REQUEST, "VERIFICATION_EMAIL_NOT_ENABLED", "Verification email isn't enabled";
        email_already_verified => BAD_REQUEST, "EMAIL_ALREADY_VERIFIED", "Email is already verified";
        email_mismatch => BAD_REQUEST, "EMAIL_MISMATCH", "Email mismatch";
        email_not_verified => FORBIDDEN, "EMAIL_NOT_VERIFIED", "Email not verified";
        user_not_found => BAD_REQUEST, "USER_NOT_FOUND", "User not found";
        invalid_user => BAD_REQUEST, "INVALID_USER", "Invalid user";
        change_email_disabled => BAD_REQUEST, "CHANGE_EMAIL_DISABLED", "Change email is disabled";
        session_expired => BAD_REQUEST, "SESSION_EXPIRED", "Session expired. Re-authenticate to perform this action.";
        failed_to_get_user_info => NOT_FOUND, "FAILED_TO_GET_USER_INFO", "Failed to get user info";
        credential_account_not_found => BAD_REQUEST, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found";
        email_can_not_be_updated => BAD_REQUEST, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated";
        body_must_be_an_object => BAD_REQUEST, "BODY_MUST_BE_AN_OBJECT", "Body must be an object";
        session_not_fresh => FORBIDDEN, "SESSION_NOT_FRESH", "Session is not fresh";
        invalid_origin => FORBIDDEN, "INVALID_ORIGIN", "Invalid origin";
        missing_or_null_origin => FORBIDDEN, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin";
        invalid_callback_url => FORBIDDEN, "INVALID_CALLBACK_URL", "Invalid callbackURL";
        invalid_redirect_url => FORBIDDEN, "INVALID_REDIRECT_URL", "Invalid redirectURL";
        invalid_error_callback_url => FORBIDDEN, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL";
        invalid_new_user_callback_url => FORBIDDEN, "INVALID_NEW_USER_CALLBACK_URL", "Invalid newUserCallbackURL";
        cross_site_navigation_login_blocked => FORBIDDEN, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack.";
        invalid_json => BAD_REQUEST, "BAD_REQUEST", "Invalid JSON in request body";
        payload_too_large => PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large";
        failed_to_unlink_last_account => BAD_REQUEST, "FAILED_TO_UNLINK_LAST_ACCOUNT", "You can't unlink your last account";
        account_not_found => BAD_REQUEST, "ACCOUNT_NOT_FOUND", "Account not found";
        provider_not_found => NOT_FOUND, "PROVIDER_NOT_FOUND", "Provider not found";
        otp_not_configured => BAD_REQUEST, "OTP_NOT_CONFIGURED", "OTP is not available";
        otp_has_expired => BAD_REQUEST, "OTP_HAS_EXPIRED", "OTP has expired";
        totp_not_enabled => BAD_REQUEST, "TOTP_NOT_ENABLED", "TOTP not enabled";
        totp_already_enabled => BAD_REQUEST, "TOTP_ALREADY_ENABLED", "TOTP is already enabled";
        two_factor_not_enabled => BAD_REQUEST, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled";
        backup_codes_not_enabled => BAD_REQUEST, "BACKUP_CODES_NOT_ENABLED", "Backup codes aren't enabled";
        invalid_backup_code => UNAUTHORIZED, "INVALID_BACKUP_CODE", "Invalid backup code";
        invalid_code => UNAUTHORIZED, "INVALID_CODE", "Invalid code";
        too_many_attempts_request_new_code => BAD_REQUEST, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE", "Too many attempts. Please request a new code.";
        account_temporarily_locked => TOO_MANY_REQUESTS, "ACCOUNT_TEMPORARILY_LOCKED", "Too many failed verification attempts. Your account is temporarily locked. Please try again later.";
        invalid_two_factor_cookie => UNAUTHORIZED, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie";
        get_session_not_allowed => METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config";
    }

    /// `FIELD_NOT_ALLOWED` naming the field, as Better Auth words it.
    pub fn field_not_allowed(field: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "FIELD_NOT_ALLOWED",
            format!("{field} is not allowed to be set"),
        )
    }

    /// 415 `UNSUPPORTED_MEDIA_TYPE` with better-call's message.
    pub fn unsupported_media_type(got: &str, allowed: &[&str]) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!(
                "Content-Type \"{got}\" is not allowed. Allowed types: {}",
                allowed.join(", ")
            ),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => {
                tracing::warn!(
                    code = err.code(),
                    error = &err as &dyn std::error::Error,
                    "database unavailable"
                );
                Self::unavailable()
            }
            _ => {
                tracing::error!(
                    code = err.code(),
                    error = &err as &dyn std::error::Error,
                    "storage error"
                );
                Self::internal()
            }
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after_secs } => Self::too_busy(retry_after_secs),
            HashError::Failed(_) => {
                tracing::error!(error = %err, "hashing failed");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.code {
            Some(code) => json!({ "message": self.message, "code": code }),
            None => json!({ "message": self.message }),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(self.retry_after.unwrap_or(1)),
            );
        }
        response
    }
}
