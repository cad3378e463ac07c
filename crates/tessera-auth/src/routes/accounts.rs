//! `GET /list-accounts`: the accounts linked to the signed-in user, a core endpoint whatever the
//! sign-in method (Better Auth's `listUserAccounts`).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::reply;
use crate::error::ApiError;
use crate::session::AuthSession;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/list-accounts", get(list_accounts))
}

/// The user's accounts, without their secrets ([`crate::store::LinkedAccount`]).
async fn list_accounts(
    State(state): State<AuthState>,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let accounts = state.store.list_accounts(&auth.user.id).await?;
    Ok(reply(accounts, auth.cookies))
}
