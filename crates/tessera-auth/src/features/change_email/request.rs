//! `POST /change-email`: starts an email change.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::features::email_verification::{
    ChangeStep, SentVia, mail_change_link, move_account, send_verification_mail,
};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/change-email", post(change_email))
}

/// Better Auth 1.7.25's `changeEmail`, step for step: 400 `CHANGE_EMAIL_DISABLED` unless
/// enabled; 400 "Email is the same"; 400 "Verification email isn't enabled" when no flow can
/// run (no mail worker, and no direct update); `{status: true}` with nothing mailed when the new
/// address has an account (the same answer as a mailed one, so it reveals no account); else the
/// direct update, the confirmation to the current address, or the verification to the new one.
async fn change_email(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let new_email = fields.email("newEmail");
    let callback = fields.opt_string("callbackURL");
    fields.finish()?;
    let new_email = new_email.ok_or_else(codes::invalid_email)?;
    let settings = state.config.change_email;
    if !settings.enabled {
        return Err(codes::change_email_disabled());
    }
    let user = &auth.user;
    // Stored addresses and the parsed one are lower-case.
    if new_email.as_str() == user.email {
        return Err(ApiError::message_only(
            StatusCode::BAD_REQUEST,
            "Email is the same",
        ));
    }
    let can_mail = state.outbox().is_some();
    let update_directly = !user.email_verified && settings.update_without_verification;
    let confirm_first = can_mail && user.email_verified && settings.send_confirmation;
    if !update_directly && !can_mail {
        return Err(ApiError::message_only(
            StatusCode::BAD_REQUEST,
            "Verification email isn't enabled",
        ));
    }
    let callback = callback.as_deref();
    if state
        .store
        .find_user_by_email(new_email.as_str())
        .await?
        .is_some()
    {
        let audit = state
            .audit_event(AuditKind::EmailChangeRequested, &meta)
            .user(&user.id)
            .reason("address_taken");
        state.audit(audit).await?;
        return Ok(reply(json!({ "status": true }), auth.cookies));
    }
    if update_directly {
        let moved = move_account(
            &state,
            &meta,
            user,
            new_email.as_str(),
            false,
            "unverified_update",
        );
        let Some(updated) = moved.await? else {
            // Taken between the look-up and the write: the same answer as a taken address.
            return Ok(reply(json!({ "status": true }), auth.cookies));
        };
        if can_mail {
            send_verification_mail(&state, &meta, &updated, callback, SentVia::ChangeEmail).await?;
        }
        let cookies = state.resent_session_cookie(auth);
        return Ok(reply(json!({ "status": true }), cookies));
    }
    let step = if confirm_first {
        ChangeStep::Confirmation
    } else {
        ChangeStep::Verification
    };
    let new_email = new_email.as_str();
    mail_change_link(&state, &meta, user, new_email, step, callback, "request").await?;
    Ok(reply(json!({ "status": true }), auth.cookies))
}
