//! `GET /passkey/generate-register-options` and `GET /passkey/generate-authenticate-options`:
//! a ceremony's options, its challenge kept in a `verification` row the signed challenge cookie
//! names, as Better Auth keeps it.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use chrono::Duration;
use serde_json::{Value, json};

use super::CHALLENGE_MAX_AGE_SECS;
use crate::error::ApiError;
use crate::ids::generate_id;
use crate::routes::{query_value, reply};
use crate::session::{AuthSession, Resolved};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route(
            "/passkey/generate-register-options",
            get(generate_register_options),
        )
        .route(
            "/passkey/generate-authenticate-options",
            get(generate_authenticate_options),
        )
}

/// The values `authenticatorAttachment` may take.
const ATTACHMENTS: [&str; 2] = ["platform", "cross-platform"];

/// Registration options for the signed-in user (a fresh session, as Better Auth's
/// `freshSessionMiddleware` requires), excluding the passkeys they already have.
async fn generate_register_options(
    State(state): State<AuthState>,
    auth: AuthSession,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let ceremony = state.passkey.ceremony()?;
    state.require_fresh(&auth)?;
    let attachment = query_value(query.as_deref(), "authenticatorAttachment");
    if let Some(value) = &attachment
        && !ATTACHMENTS.contains(&value.as_str())
    {
        return Err(ApiError::validation(
            r#"[query.authenticatorAttachment] Invalid option: expected one of "platform"|"cross-platform""#,
        ));
    }
    let name = query_value(query.as_deref(), "name").filter(|n| !n.is_empty());
    let context = query_value(query.as_deref(), "context");
    let user = &auth.user;
    // Better Auth names the user by email (or id); `?name=` overrides the name shown.
    let user_name = if user.email.is_empty() {
        user.id.clone()
    } else {
        user.email.clone()
    };
    let passkeys = state.store.list_passkeys(&user.id).await?;
    let (options, challenge) = ceremony.registration_options(
        name.as_deref().unwrap_or(&user_name),
        &user_name,
        &passkeys,
        attachment.as_deref(),
    );
    let value = json!({
        "type": "registration",
        "expectedChallenge": challenge,
        "userData": { "id": user.id, "name": user_name, "displayName": user_name },
        "context": context,
    });
    let mut cookies = vec![keep_challenge(&state, &value).await?];
    cookies.extend(auth.cookies.iter().cloned());
    Ok(reply(options, cookies))
}

/// Authentication options: for a signed-in caller their passkeys as `allowCredentials`,
/// otherwise none (a discoverable-credential sign-in).
async fn generate_authenticate_options(
    State(state): State<AuthState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ceremony = state.passkey.ceremony()?;
    let user_id = match state.resolve_session(&headers, false).await? {
        Resolved::Active(auth) => Some(auth.user.id.clone()),
        Resolved::Anonymous | Resolved::Gone => None,
    };
    let passkeys = match &user_id {
        Some(id) => state.store.list_passkeys(id).await?,
        None => Vec::new(),
    };
    let (options, challenge) = ceremony.authentication_options(&passkeys);
    let value = json!({
        "type": "authentication",
        "expectedChallenge": challenge,
        "userData": { "id": user_id.unwrap_or_default() },
    });
    let cookie = keep_challenge(&state, &value).await?;
    Ok(reply(options, vec![cookie]))
}

/// Writes the ceremony's `verification` row (five minutes, a fresh 32-character identifier) and
/// returns the cookie naming it.
async fn keep_challenge(state: &AuthState, value: &Value) -> Result<String, ApiError> {
    let identifier = generate_id(32);
    let now = state.clock.now();
    state
        .store
        .create_verification(
            &identifier,
            &value.to_string(),
            now + Duration::seconds(CHALLENGE_MAX_AGE_SECS),
            now,
        )
        .await?;
    Ok(state.challenge_cookie(&identifier))
}
