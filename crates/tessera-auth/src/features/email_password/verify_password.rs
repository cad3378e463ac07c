//! `POST /verify-password`: confirms the signed-in user's password (Better Auth's
//! `verifyPassword`, which apps call before a sensitive action).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::body::{Body, Fields, JsonBody};
use crate::domain::{MAX_PASSWORD_LENGTH, Password};
use crate::error::{ApiError, codes};
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/verify-password", post(verify_password))
}

/// `{"status": true}` when `password` is the user's, 400 `INVALID_PASSWORD` otherwise (a user
/// without a password too, as in Better Auth).
async fn verify_password(
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let password = fields.string("password");
    fields.finish()?;
    // Better Auth refuses an over-long candidate before looking anything up.
    if password.encode_utf16().count() > MAX_PASSWORD_LENGTH {
        return Err(codes::password_too_long());
    }
    match confirm_password(&state, &meta, CheckedRoute::VerifyPassword, &auth, password).await {
        Ok(()) => Ok(reply(json!({ "status": true }), auth.cookies)),
        Err(refused) => Ok(refused),
    }
}

/// Checks that `password` is the signed-in user's, the way every endpoint that asks for it
/// again does (verify-password, and two-factor's enable, disable, get-totp-uri and
/// generate-backup-codes): counted in the same per-account limits as sign-in, its slot taken
/// before the hash runs, since a session is no licence to guess. The refusal to answer with
/// otherwise: 400 `INVALID_PASSWORD` (a user without a password too), 429, or 503 when the
/// hashing queue sheds it.
pub(crate) async fn confirm_password(
    state: &AuthState,
    meta: &ClientMeta,
    route: CheckedRoute,
    auth: &AuthSession,
    password: String,
) -> Result<(), Response> {
    let attempt = PasswordAttempt::begin(state, meta, route, &auth.user.email).await?;
    let stored = match state.store.find_credential_account(&auth.user.id).await {
        Ok(account) => account.and_then(|account| account.password),
        Err(error) => return Err(ApiError::from(error).into_response()),
    };
    let hasher = state.email_password.hasher.for_client(attempt.client_ip());
    // No password: the hasher still runs (against a dummy) and answers "no match".
    let matches = match hasher.verify(&Password::candidate(password), stored).await {
        Ok(verified) => verified.matches,
        Err(err) => {
            // Shed before the hash ran: nothing was learnt, so the slot goes back.
            attempt.not_checked().await;
            return Err(state
                .hashing_refused(err, meta, route.path())
                .await
                .into_response());
        }
    };
    if !matches {
        if let Err(error) = attempt
            .failed(Some(&auth.user.id), Some(&auth.session.id))
            .await
        {
            return Err(ApiError::from(error).into_response());
        }
        return Err(codes::invalid_password().into_response());
    }
    attempt.succeeded().await;
    Ok(())
}
