//! `GET /delete-user/callback?token=…&callbackURL=…`: the mailed link's landing.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

use super::delete::deleted;
use super::delete_with_token;
use crate::error::{ApiError, codes};
use crate::routes::{found, link_query, with_cookies};
use crate::session::{ClientMeta, Resolved};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/delete-user/callback", get(delete_user_callback))
}

/// Deletes the signed-in user when `token` is the one mailed to them: the callback is checked
/// (403 `INVALID_CALLBACK_URL`), then 404 `NOT_FOUND` unless enabled, 404
/// `FAILED_TO_GET_USER_INFO` without a session, 404 `INVALID_TOKEN` for a token not theirs. The
/// answer is a 302 to `callbackURL` when given, else `{"success": true, "message": "User
/// deleted"}`; either expires the session cookies.
async fn delete_user_callback(
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (token, callback) = link_query(&state, query.as_deref())?;
    if !state.config.delete_user.enabled {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found",
        ));
    }
    let Resolved::Active(auth) = state.resolve_session(&headers, true).await? else {
        return Err(codes::failed_to_get_user_info());
    };
    delete_with_token(&state, &meta, &auth, &token).await?;
    Ok(match &callback {
        Some(callback) => with_cookies(found(callback), state.expired_session_cookies()),
        None => deleted(&state),
    })
}
