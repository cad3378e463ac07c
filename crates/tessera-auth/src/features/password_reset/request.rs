//! `POST /request-password-reset`: mails a reset link to the address, if it has an account.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use chrono::Duration;
use percent_encoding::utf8_percent_encode;
use serde_json::json;
use tessera_mail::{Mail, MailKind, SecretUrl};

use super::reset_identifier;
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::cookies::URI_COMPONENT;
use crate::error::{ApiError, codes};
use crate::ids::generate_id;
use crate::routes::reply;
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/request-password-reset", post(request_password_reset))
}

/// Better Auth's answer, the same whether or not the address has an account.
const SENT: &str = "If this email exists in our system, check your email for the reset link";

/// Answers at once, the same for every well-formed request; the lookup, the token and its mail
/// are written by a task of their own (which then wakes the mail worker), so neither the answer nor its timing says whether the
/// address has an account (and a client hanging up cannot cancel the write half-way).
async fn request_password_reset(
    State(state): State<AuthState>,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let email = fields.email("email");
    let redirect_to = fields.opt_string("redirectTo");
    fields.finish()?;
    let email = email.ok_or_else(codes::invalid_email)?;
    if state.outbox().is_none() {
        return Err(codes::reset_password_disabled());
    }
    let task_state = state.clone();
    tokio::spawn(async move {
        if let Err(error) =
            issue_reset(&task_state, &meta, email.as_str(), redirect_to.as_deref()).await
        {
            tracing::error!(error = %error, "writing a password reset failed");
        }
    });
    Ok(reply(
        json!({ "status": true, "message": SENT }),
        Vec::new(),
    ))
}

/// Looks the address up and, if it has an account, writes the token with its mail.
async fn issue_reset(
    state: &AuthState,
    meta: &ClientMeta,
    email: &str,
    redirect_to: Option<&str>,
) -> Result<(), crate::store::StoreError> {
    let audit = state.audit_event(AuditKind::PasswordResetRequested, meta);
    let Some(user) = state.store.find_user_by_email(email).await? else {
        let audit = audit.detail(json!({ "known": false }));
        state.store.insert_audit(&audit).await?;
        audit.emit();
        return Ok(());
    };
    let token = generate_id(24);
    let now = state.clock.now();
    let lifetime = Duration::seconds(i64::from(state.config.password_reset.token_lifetime_secs));
    // Better Auth's link, byte for byte: the callback is `encodeURIComponent`ed, empty if none.
    let callback = redirect_to
        .filter(|r| !r.is_empty())
        .map(|r| utf8_percent_encode(r, URI_COMPONENT).to_string())
        .unwrap_or_default();
    let url = format!(
        "{}/api/auth/reset-password/{token}?callbackURL={callback}",
        state.config.base_origin
    );
    let mail = Mail::new(
        MailKind::ResetPassword,
        &user.email,
        &user.name,
        SecretUrl::new(url),
    );
    let audit = audit.user(&user.id).detail(json!({ "known": true }));
    let written = state
        .store
        .request_password_reset(
            &reset_identifier(&token),
            &user.id,
            now + lifetime,
            now,
            &mail,
            &audit,
        )
        .await?;
    // Past the address's hourly allowance: recorded, nothing sent, the same answer.
    state.mail_queued(written, audit).await?;
    Ok(())
}
