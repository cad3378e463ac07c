//! `POST /change-password`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::domain::Password;
use crate::error::{ApiError, codes};
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/change-password", post(change_password))
}

/// Changes the password after checking the current one; optionally ends every other session.
async fn change_password(
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let new_password = fields.string("newPassword");
    let current_password = fields.string("currentPassword");
    let revoke_others = fields.opt_bool("revokeOtherSessions").unwrap_or(false);
    fields.finish()?;
    let new_password = Password::parse(new_password)?;
    let account = state
        .store
        .find_credential_account(&auth.user.id)
        .await?
        .filter(|a| a.password.is_some())
        .ok_or_else(codes::credential_account_not_found)?;
    // A session is no licence to guess: the current password is checked under the same
    // per-account limits as sign-in, its slot taken before the hash runs.
    let route = CheckedRoute::ChangePassword;
    let attempt = match PasswordAttempt::begin(&state, &meta, route, &auth.user.email).await {
        Ok(attempt) => attempt,
        Err(too_many) => return Ok(too_many),
    };
    let hasher = state.email_password.hasher.for_client(attempt.client_ip());
    let candidate = Password::candidate(current_password);
    let verified = match hasher.verify(&candidate, account.password.clone()).await {
        Ok(verified) => verified,
        Err(err) => {
            // Shed before the hash ran: nothing was learnt, so the slot goes back.
            attempt.not_checked().await;
            return Err(state.hashing_refused(err, &meta, route.path()).await);
        }
    };
    if !verified.matches {
        attempt
            .failed(Some(&auth.user.id), Some(&auth.session.id))
            .await?;
        return Err(codes::invalid_password());
    }
    attempt.succeeded().await;
    let hash = match hasher.hash(&new_password).await {
        Ok(hash) => hash,
        Err(err) => return Err(state.hashing_refused(err, &meta, route.path()).await),
    };
    let audit = state
        .audit_event(AuditKind::PasswordChanged, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .detail(json!({ "revoke_other_sessions": revoke_others }));
    state
        .store
        .update_password(&account.id, &hash, state.clock.now(), Some(&audit))
        .await?;
    audit.emit();
    if !revoke_others {
        return Ok(reply(
            json!({ "token": null, "user": auth.user }),
            auth.cookies,
        ));
    }
    // Better Auth deletes every session, the current one too, and opens a new one.
    let revoked = state
        .audit_event(AuditKind::SessionRevoked, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .reason("password_changed");
    let ended = state
        .store
        .delete_user_sessions(&auth.user.id, None, &revoked)
        .await?;
    if !ended.is_empty() {
        revoked.with_ended_sessions(&ended).emit();
        state.sessions_ended(&ended).await;
    }
    let audit = state
        .audit_event(AuditKind::SignIn, &meta)
        .user(&auth.user.id)
        .detail(json!({ "via": "change_password" }));
    let session = state
        .create_session(&auth.user, &meta, auth.dont_remember, audit)
        .await?;
    let cookies = state.session_cookies(&session, auth.dont_remember);
    Ok(reply(
        json!({ "token": session.token, "user": auth.user }),
        cookies,
    ))
}
