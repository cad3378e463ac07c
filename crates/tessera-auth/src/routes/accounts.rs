//! `GET /list-accounts`: the accounts linked to the signed-in user, a core endpoint whatever the
//! sign-in method (Better Auth's `listUserAccounts`); `POST /unlink-account`: removes one of
//! them, never the last.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::reply;
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::session::AuthSession;
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/list-accounts", get(list_accounts))
        .route("/unlink-account", post(unlink_account))
}

/// The user's accounts, without their secrets ([`crate::store::LinkedAccount`]).
async fn list_accounts(
    State(state): State<AuthState>,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let accounts = state.store.list_accounts(&auth.user.id).await?;
    Ok(reply(accounts, auth.cookies))
}

/// Unlinks the account whose row id is `accountId` (Better Auth 1.7's key: the row's `id`, as
/// `list-accounts` gives it) from the signed-in user; a fresh session is required, and the
/// user's only account is never removed (Better Auth's `allowUnlinkingAll` is off), so nobody is
/// left without a way to sign in.
async fn unlink_account(
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let account_id = fields.string("accountId");
    fields.finish()?;
    state.require_fresh(&auth)?;
    let accounts = state.store.list_accounts(&auth.user.id).await?;
    if accounts.len() == 1 {
        return Err(codes::failed_to_unlink_last_account());
    }
    let Some(account) = accounts.iter().find(|a| a.id == account_id) else {
        return Err(codes::account_not_found());
    };
    let audit = state
        .audit_event(AuditKind::AccountUnlinked, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .detail(json!({ "provider": account.provider_id }));
    // Deleted only while another account remains: two concurrent unlinks cannot both pass.
    if !state
        .store
        .delete_account_keeping_one(&auth.user.id, &account.id, &audit)
        .await?
    {
        return Err(codes::failed_to_unlink_last_account());
    }
    audit.emit();
    Ok(reply(json!({ "status": true }), auth.cookies))
}
