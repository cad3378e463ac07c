//! `POST /send-verification-email`: mails a verification link.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::{SentVia, send_verification_mail};
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::routes::reply;
use crate::session::{ClientMeta, Resolved};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/send-verification-email", post(send_verification_email))
}

/// Better Auth's floor on the session-less answer: no sooner than this after the request.
const MINIMUM_ANSWER: Duration = Duration::from_millis(500);

/// With a session: 400 `EMAIL_MISMATCH` for another address, 400 `EMAIL_ALREADY_VERIFIED`,
/// else the mail is queued and `{status: true}`. Without one: always `{status: true}`, no
/// sooner than [`MINIMUM_ANSWER`]; the lookup and the mail are written by a task of their own,
/// so neither the answer nor its timing says whether the address has an unverified account
/// (and a client hanging up cannot cancel the write half-way).
async fn send_verification_email(
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let started = tokio::time::Instant::now();
    let mut fields = Fields::new(&body);
    let email = fields.email("email");
    let callback = fields.opt_string("callbackURL");
    fields.finish()?;
    let email = email.ok_or_else(codes::invalid_email)?;
    if state.outbox().is_none() {
        return Err(codes::verification_email_not_enabled());
    }
    let session = match state.resolve_session(&headers, true).await? {
        Resolved::Active(session) => session,
        Resolved::Anonymous | Resolved::Gone => {
            let task_state = state.clone();
            tokio::spawn(async move {
                if let Err(error) =
                    send_if_unverified(&task_state, &meta, email.as_str(), callback.as_deref())
                        .await
                {
                    tracing::error!(code = ?error.code(), "queueing a verification mail failed");
                }
            });
            tokio::time::sleep_until(started + MINIMUM_ANSWER).await;
            return Ok(reply(json!({ "status": true }), Vec::new()));
        }
    };
    // Stored addresses are lower-case, and so is the parsed one.
    if session.user.email.to_lowercase() != email.as_str() {
        return Err(codes::email_mismatch());
    }
    if session.user.email_verified {
        return Err(codes::email_already_verified());
    }
    send_verification_mail(
        &state,
        &meta,
        &session.user,
        callback.as_deref(),
        SentVia::Request,
    )
    .await?;
    Ok(reply(json!({ "status": true }), session.cookies))
}

/// Mails the link when the address has an account that is not verified yet.
async fn send_if_unverified(
    state: &AuthState,
    meta: &ClientMeta,
    email: &str,
    callback: Option<&str>,
) -> Result<(), ApiError> {
    match state.store.find_user_by_email(email).await? {
        Some(user) if !user.email_verified => {
            send_verification_mail(state, meta, &user, callback, SentVia::Request).await?;
        }
        _ => {}
    }
    Ok(())
}
