//! The jwt plugin's endpoints: `GET /token` and `GET /jwks`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

use crate::error::ApiError;
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/token", get(token))
        .route("/jwks", get(jwks))
}

/// A fresh short-lived JWT for the session's user.
async fn token(
    State(state): State<AuthState>,
    meta: ClientMeta,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let jwt = state
        .mint_jwt(&auth.user, &auth.session, &meta, "token")
        .await?;
    Ok(reply(json!({ "token": jwt.as_str() }), auth.cookies))
}

/// The public signing keys. Unlike Better Auth we send a `Cache-Control` max-age, so verifiers
/// need not refetch on every request; a new key is found through the unknown-`kid` refetch.
async fn jwks(State(state): State<AuthState>) -> Result<Response, ApiError> {
    let set = state
        .jwt
        .keys
        .jwks(state.store.as_ref(), state.clock.now())
        .await
        .map_err(|e| state.key_error(e))?;
    let mut response = reply(set, Vec::new());
    let cache = format!("public, max-age={}", state.config.jwt.jwks_max_age);
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}
