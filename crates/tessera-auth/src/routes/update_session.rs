//! `POST /update-session`: the session's own additional fields (Better Auth's `updateSession`).
//!
//! Tessera's sessions have no additional fields (Better Auth's `session.additionalFields`), and
//! none of the core's session fields is writable through this endpoint, so every well-formed
//! request from a signed-in user is Better Auth's "No fields to update".

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use crate::body::{Body, RecordBody};
use crate::error::ApiError;
use crate::session::AuthSession;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/update-session", post(update_session))
}

/// Checks the session and the body's shape, then refuses: there is nothing to update.
async fn update_session(_auth: AuthSession, Body(_body): RecordBody) -> Result<Response, ApiError> {
    Err(ApiError::message_only(
        StatusCode::BAD_REQUEST,
        "No fields to update",
    ))
}
