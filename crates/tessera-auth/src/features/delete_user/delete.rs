//! `POST /delete-user`: deletes the signed-in user, or mails the link that does.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use percent_encoding::utf8_percent_encode;
use serde_json::json;
use tessera_mail::{Mail, MailKind, SecretUrl};

use super::{delete_account, delete_identifier, delete_with_token};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::cookies::URI_COMPONENT;
use crate::domain::{MAX_PASSWORD_LENGTH, Password};
use crate::error::{ApiError, codes};
use crate::ids::generate_lowercase_id;
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/delete-user", post(delete_user))
}

/// Better Auth 1.7.25's `deleteUser`, in its order: an empty 404 unless enabled; a `password`,
/// when given, must be the user's (400 `CREDENTIAL_ACCOUNT_NOT_FOUND` / `INVALID_PASSWORD`,
/// counted in the failed-attempt limits); a `token` deletes at once (404 `INVALID_TOKEN` unless
/// it is the caller's); with `sendDeleteAccountVerification` the link is mailed; otherwise,
/// without a password, the session must be younger than `freshAge` (400 `SESSION_EXPIRED`).
/// A deletion expires the session cookies in its answer.
async fn delete_user(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let callback = fields.opt_string("callbackURL");
    let password = fields.opt_string("password").filter(|p| !p.is_empty());
    let token = fields.opt_string("token").filter(|t| !t.is_empty());
    fields.finish()?;
    let settings = state.config.delete_user;
    if !settings.enabled {
        // Better Auth's bodiless `APIError("NOT_FOUND")`: no body, still labelled JSON.
        let json = [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )];
        return Ok((StatusCode::NOT_FOUND, json).into_response());
    }
    if let Some(password) = &password
        && let Err(refused) = check_password(&state, &meta, &auth, password).await?
    {
        return Ok(refused);
    }
    if let Some(token) = &token {
        delete_with_token(&state, &meta, &auth, token).await?;
        return Ok(deleted(&state));
    }
    if settings.send_verification {
        if state.outbox().is_none() {
            // Configured to confirm by mail, with nothing to send it: refuse rather than delete.
            return Err(codes::verification_email_not_enabled());
        }
        mail_link(&state, &meta, &auth, callback.as_deref()).await?;
        return Ok(reply(
            json!({ "success": true, "message": "Verification email sent" }),
            auth.cookies,
        ));
    }
    if password.is_none() {
        let fresh_age = state.config.session.fresh_age;
        let age = state.clock.now() - auth.session.created_at.0;
        if fresh_age > chrono::Duration::zero() && age >= fresh_age {
            return Err(codes::session_expired());
        }
    }
    let via = if password.is_some() {
        "password"
    } else {
        "fresh_session"
    };
    delete_account(&state, &meta, &auth, via).await?;
    Ok(deleted(&state))
}

/// `{"success": true, "message": "User deleted"}`, expiring the session cookies.
pub(super) fn deleted(state: &AuthState) -> Response {
    reply(
        json!({ "success": true, "message": "User deleted" }),
        state.expired_session_cookies(),
    )
}

/// Checks `password` against the user's, counted in the failed-attempt limits like every
/// password check a session makes: `Ok(Err(429))` when those are spent.
async fn check_password(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    password: &str,
) -> Result<Result<(), Response>, ApiError> {
    if password.encode_utf16().count() > MAX_PASSWORD_LENGTH {
        return Err(codes::password_too_long());
    }
    let route = CheckedRoute::DeleteUser;
    let attempt = match PasswordAttempt::begin(state, meta, route, &auth.user.email).await {
        Ok(attempt) => attempt,
        Err(too_many) => return Ok(Err(too_many)),
    };
    let Some(stored) = state
        .store
        .find_credential_account(&auth.user.id)
        .await?
        .and_then(|account| account.password)
    else {
        // Nothing to guess against: the slot goes back, and Better Auth's answer.
        attempt.not_checked().await;
        return Err(codes::credential_account_not_found());
    };
    let hasher = state.email_password.hasher.for_client(attempt.client_ip());
    let candidate = Password::candidate(password.to_owned());
    let matches = match hasher.verify(&candidate, Some(stored)).await {
        Ok(verified) => verified.matches,
        Err(err) => {
            attempt.not_checked().await;
            return Err(state.hashing_refused(err, meta, route.path()).await);
        }
    };
    if !matches {
        attempt
            .failed(Some(&auth.user.id), Some(&auth.session.id))
            .await?;
        return Err(codes::invalid_password());
    }
    attempt.succeeded().await;
    Ok(Ok(()))
}

/// Writes a deletion token with the mail carrying Better Auth's link,
/// `{base}/api/auth/delete-user/callback?token=<token>&callbackURL=<encodeURIComponent(callback), or %2F>`,
/// then wakes the mail worker. Past the address's hourly allowance nothing is written (the
/// event is recorded with reason `recipient_limit`); the answer is the same.
async fn mail_link(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    let user = &auth.user;
    let token = generate_lowercase_id(32);
    let callback = utf8_percent_encode(
        callback.filter(|c| !c.is_empty()).unwrap_or("/"),
        URI_COMPONENT,
    );
    let url = format!(
        "{}/api/auth/delete-user/callback?token={token}&callbackURL={callback}",
        state.config.base_origin
    );
    let mail = Mail::new(
        MailKind::DeleteAccount,
        &user.email,
        &user.name,
        SecretUrl::new(url),
    );
    let now = state.clock.now();
    let lifetime =
        chrono::Duration::seconds(i64::from(state.config.delete_user.token_lifetime_secs));
    let audit = state
        .audit_event(AuditKind::AccountDeletionRequested, meta)
        .user(&user.id)
        .session(&auth.session.id);
    let written = state
        .store
        .request_account_deletion(
            &delete_identifier(&token),
            &user.id,
            now + lifetime,
            now,
            &mail,
            &audit,
        )
        .await?;
    state.mail_queued(written, audit).await?;
    Ok(())
}
