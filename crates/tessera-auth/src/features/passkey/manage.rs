//! `GET /passkey/list-user-passkeys`, `POST /passkey/update-passkey` (rename) and
//! `POST /passkey/delete-passkey`: the signed-in user's own passkeys.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::codes;
use super::store::Passkey;
use crate::audit::{AuditEvent, AuditKind};
use crate::body::{Body, Fields, JsonBody};
use crate::error::ApiError;
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/passkey/list-user-passkeys", get(list_user_passkeys))
        .route("/passkey/update-passkey", post(update_passkey))
        .route("/passkey/delete-passkey", post(delete_passkey))
}

/// The caller's passkeys.
async fn list_user_passkeys(
    State(state): State<AuthState>,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let passkeys = state.store.list_passkeys(&auth.user.id).await?;
    Ok(reply(passkeys, auth.cookies))
}

/// Better Auth's `requireResourceOwnership`: the passkey `id` names, `None` when it is someone
/// else's (each route answers that with its own 401). An empty id is a 400, an unknown one 404
/// `PASSKEY_NOT_FOUND`.
async fn owned_passkey(
    state: &AuthState,
    auth: &AuthSession,
    id: &str,
) -> Result<Option<Passkey>, ApiError> {
    if id.is_empty() {
        return Err(ApiError::message_only(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: id",
        ));
    }
    let passkey = state
        .store
        .find_passkey(id)
        .await?
        .ok_or_else(codes::passkey_not_found)?;
    Ok((passkey.user_id == auth.user.id).then_some(passkey))
}

/// The audit event of the caller changing one of their passkeys.
pub(super) fn passkey_event(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    kind: AuditKind,
    passkey: &Passkey,
) -> AuditEvent {
    state
        .audit_event(kind, meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .detail(json!({ "passkey_id": passkey.id }))
}

/// Renames one of the caller's passkeys; answers `{passkey}`.
async fn update_passkey(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let id = fields.string("id");
    let name = fields.trimmed_non_empty_string("name");
    fields.finish()?;
    let passkey = owned_passkey(&state, &auth, &id)
        .await?
        .ok_or_else(codes::not_allowed_to_register)?;
    let audit = passkey_event(&state, &meta, &auth, AuditKind::PasskeyRenamed, &passkey);
    let updated = state
        .store
        .rename_passkey(&passkey.id, &name, &audit)
        .await?
        .ok_or_else(codes::passkey_not_found)?;
    audit.emit();
    Ok(reply(json!({ "passkey": updated }), auth.cookies))
}

/// Deletes one of the caller's passkeys; answers `{status: true}`.
async fn delete_passkey(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let id = fields.string("id");
    fields.finish()?;
    let Some(passkey) = owned_passkey(&state, &auth, &id).await? else {
        // Better Auth's bare `APIError("UNAUTHORIZED")` here: a 401 with an empty body (still
        // labelled JSON, as better-call labels every error).
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
        )
            .into_response());
    };
    let audit = passkey_event(&state, &meta, &auth, AuditKind::PasskeyDeleted, &passkey);
    if state.store.delete_passkey(&passkey.id, &audit).await? {
        audit.emit();
    }
    Ok(reply(json!({ "status": true }), auth.cookies))
}
