//! `POST /passkey/verify-registration` (a new passkey for the signed-in user) and
//! `POST /passkey/verify-authentication` (signing in with a passkey).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use webauthn_rs_core::proto::PublicKeyCredential;

use super::ceremony::CeremonyError;
use super::codes;
use super::manage::passkey_event;
use super::store::Passkey;
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::ApiError;
use crate::ids::generate_id;
use crate::metrics::SignInOutcome;
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;
use crate::store::DbTime;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/passkey/verify-registration", post(verify_registration))
        .route(
            "/passkey/verify-authentication",
            post(verify_authentication),
        )
}

/// The ceremony the challenge cookie names: spent here (deleted whatever follows, so a
/// challenge serves one attempt), and of the `kind` expected. Its `expectedChallenge` and
/// `userData.id`.
async fn spend_challenge(
    state: &AuthState,
    headers: &HeaderMap,
    kind: &str,
) -> Result<(String, String), ApiError> {
    let identifier = state
        .challenge_identifier(headers)
        .ok_or_else(codes::challenge_not_found)?;
    let value = state
        .store
        .consume_verification(&identifier, state.clock.now())
        .await?
        .map(|(value, _)| value)
        .ok_or_else(codes::challenge_not_found)?;
    let value: Value = serde_json::from_str(&value).map_err(|_| codes::challenge_not_found())?;
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    match (text("/type"), text("/expectedChallenge")) {
        (Some(found), Some(challenge)) if found == kind => Ok((
            challenge.to_owned(),
            text("/userData/id").unwrap_or_default().to_owned(),
        )),
        _ => Err(codes::challenge_not_found()),
    }
}

/// Verifies the browser's registration response and stores the passkey; with
/// `createSession: true` also opens a new session and answers it with the passkey.
async fn verify_registration(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let ceremony = state.passkey.ceremony()?;
    state.require_fresh(&auth)?;
    let mut fields = Fields::new(&body);
    let name = fields.opt_string("name");
    let create_session = fields.opt_bool("createSession");
    fields.finish()?;
    let (challenge, owner) = spend_challenge(&state, &headers, "registration").await?;
    if owner != auth.user.id {
        return Err(codes::not_allowed_to_register());
    }
    let response = body.get("response").cloned().unwrap_or(Value::Null);
    let registered = ceremony
        .verify_registration(&response, &challenge)
        .map_err(|error| {
            tracing::info!(%error, "passkey registration refused");
            codes::failed_to_verify_registration()
        })?;
    // One credential, one passkey row: a credential id already stored (for anyone) is refused
    // rather than given a second owner.
    if state
        .store
        .find_passkey_by_credential(&registered.credential_id)
        .await?
        .is_some()
    {
        return Err(codes::failed_to_verify_registration());
    }
    let transports = response
        .pointer("/response/transports")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let passkey = Passkey {
        id: generate_id(32),
        name: name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        public_key: registered.public_key,
        user_id: auth.user.id.clone(),
        credential_id: registered.credential_id,
        counter: i64::from(registered.counter),
        device_type: registered.device_type.to_owned(),
        backed_up: registered.backed_up,
        transports: Some(transports),
        created_at: Some(DbTime::from(state.clock.now())),
        aaguid: Some(registered.aaguid),
    };
    let audit = passkey_event(&state, &meta, &auth, AuditKind::PasskeyAdded, &passkey);
    state.store.insert_passkey(&passkey, &audit).await?;
    audit.emit();
    if create_session != Some(true) {
        return Ok(reply(&passkey, auth.cookies));
    }
    let audit = state
        .audit_event(AuditKind::SignIn, &meta)
        .user(&auth.user.id)
        .detail(json!({ "via": "passkey_registration" }));
    let session = state
        .create_session(&auth.user, &meta, false, audit)
        .await?;
    let mut body = serde_json::to_value(&passkey).map_err(|_| ApiError::internal())?;
    if let Value::Object(map) = &mut body {
        map.insert("session".into(), json!(session));
        map.insert("user".into(), json!(*auth.user));
    }
    Ok(reply(body, state.session_cookies(&session, false)))
}

/// Signs in with a passkey: the assertion is checked against the passkey it names and the
/// challenge the cookie names, the signature counter advanced, and an ordinary session opened.
/// Failures count in the account's failed sign-in limits and are audited.
async fn verify_authentication(
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let ceremony = state.passkey.ceremony()?;
    let mut fields = Fields::new(&body);
    let response = fields.record("response").cloned();
    fields.finish()?;
    let response = Value::Object(response.unwrap_or_default());
    let (challenge, _) = spend_challenge(&state, &headers, "authentication").await?;
    let credential_id = response.get("id").and_then(Value::as_str).unwrap_or("");
    let passkey = match state
        .store
        .find_passkey_by_credential(credential_id)
        .await?
    {
        Some(passkey) if !credential_id.is_empty() => passkey,
        _ => {
            // No account to count against: audited, bounded by the route's rate limit.
            let event = state
                .audit_event(AuditKind::SignInFailed, &meta)
                .reason("unknown_passkey")
                .detail(json!({ "route": CheckedRoute::Passkey.path() }));
            state.audit(event).await?;
            state.metrics.sign_in(SignInOutcome::Failure);
            return Err(codes::passkey_not_found().with_status(StatusCode::UNAUTHORIZED));
        }
    };
    let Some(user) = state.store.find_user_by_id(&passkey.user_id).await? else {
        return Err(codes::passkey_not_found().with_status(StatusCode::UNAUTHORIZED));
    };
    let attempt =
        match PasswordAttempt::begin(&state, &meta, CheckedRoute::Passkey, &user.email).await {
            Ok(attempt) => attempt,
            Err(too_many) => {
                state.metrics.sign_in(SignInOutcome::Throttled);
                return Ok(too_many);
            }
        };
    let checked = serde_json::from_value::<PublicKeyCredential>(response)
        .map_err(|e| CeremonyError::Malformed(e.to_string()))
        .and_then(|assertion| ceremony.verify_authentication(&assertion, &challenge, &passkey));
    let advanced = match checked {
        Ok(counter) => {
            state
                .store
                .advance_passkey_counter(&passkey.id, passkey.counter, i64::from(counter))
                .await?
        }
        Err(error) => {
            tracing::info!(%error, "passkey sign-in refused");
            attempt.failed(Some(&user.id), None).await?;
            state.metrics.sign_in(SignInOutcome::Failure);
            // Better Auth: a signature that does not verify is a 401, any other refusal a 400.
            return Err(match error {
                CeremonyError::BadSignature => {
                    codes::authentication_failed().with_status(StatusCode::UNAUTHORIZED)
                }
                _ => codes::authentication_failed(),
            });
        }
    };
    if !advanced {
        // Another sign-in with this passkey moved the counter meanwhile: this assertion is
        // no longer the newest, as a replay would not be.
        attempt.failed(Some(&user.id), None).await?;
        state.metrics.sign_in(SignInOutcome::Failure);
        return Err(codes::authentication_failed());
    }
    attempt.succeeded().await;
    state.metrics.sign_in(SignInOutcome::Success);
    let audit = state
        .audit_event(AuditKind::SignIn, &meta)
        .user(&user.id)
        .detail(json!({ "via": "passkey", "passkey_id": passkey.id }));
    let session = state.create_session(&user, &meta, false, audit).await?;
    let cookies = state.session_cookies(&session, false);
    Ok(reply(json!({ "session": session, "user": user }), cookies))
}
