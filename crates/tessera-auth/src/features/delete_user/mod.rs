//! Better Auth's account deletion (`user.deleteUser`): `POST /delete-user` deletes the signed-in
//! user after their password, a session younger than `freshAge`, or a token from the mailed
//! link; with `sendDeleteAccountVerification` it mails that link instead, and
//! `GET /delete-user/callback?token=…` (signed in as the same user) follows it. Tokens are
//! Better Auth's `verification` rows (`delete-account-<token>`, value the user id), so links
//! either server mailed work on the other. Deleting ends every session through the revocation
//! path (guards refuse their JWTs), then removes the accounts and the user.

mod callback;
mod delete;
mod settings;
mod store;

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::Feature;
use crate::audit::AuditKind;
use crate::error::{ApiError, codes};
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub use settings::DeleteUserSettings;
pub use store::{DELETE_MAILS_PER_HOUR, DeleteUserStore};

/// The account-deletion feature.
pub(crate) struct DeleteUser;

impl Feature for DeleteUser {
    fn routes(&self) -> Router<AuthState> {
        delete::router().merge(callback::router())
    }
}

/// The identifier of a deletion token's `verification` row, as Better Auth names it.
pub fn delete_identifier(token: &str) -> String {
    format!("delete-account-{token}")
}

/// Spends `token` (every row of its identifier goes, Better Auth's `consumeVerificationValue`)
/// and, when it was live and issued to `auth`'s user, deletes them; else 404 `INVALID_TOKEN`.
async fn delete_with_token(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    token: &str,
) -> Result<(), ApiError> {
    let identifier = delete_identifier(token);
    let value = state
        .store
        .consume_verification(&identifier, state.clock.now())
        .await?;
    let issued_to_caller =
        value.is_some_and(|(id, _)| bool::from(id.as_bytes().ct_eq(auth.user.id.as_bytes())));
    if !issued_to_caller {
        return Err(codes::invalid_token().with_status(StatusCode::NOT_FOUND));
    }
    delete_account(state, meta, auth, "token").await
}

/// Deletes `auth`'s user: their sessions (each recorded as revoked and announced, so JWT
/// resource servers refuse their tokens), accounts and the user row, with an `account_deleted`
/// event (`detail.via`) and a `session_revoked` one (reason `account_deleted`), in one
/// transaction. A user already gone (a concurrent deletion) is not an error.
async fn delete_account(
    state: &AuthState,
    meta: &ClientMeta,
    auth: &AuthSession,
    via: &str,
) -> Result<(), ApiError> {
    let deleted = state
        .audit_event(AuditKind::AccountDeleted, meta)
        .user(&auth.user.id)
        .session(&auth.session.id)
        .detail(json!({ "via": via }));
    let revoked = state
        .audit_event(AuditKind::SessionRevoked, meta)
        .user(&auth.user.id)
        .reason("account_deleted");
    let stamp = state.revocation_stamp();
    if let Some(ended) = state
        .store
        .delete_user(&auth.user.id, &deleted, &revoked, stamp)
        .await?
    {
        deleted.emit();
        if !ended.is_empty() {
            revoked.with_ended_sessions(&ended).emit();
            state.sessions_ended(&ended, stamp).await;
        }
    }
    Ok(())
}
