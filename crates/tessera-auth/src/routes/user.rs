//! `POST /update-user`: the user's own profile fields, a core endpoint whatever the sign-in method.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::reply;
use crate::body::{Body, Fields, RecordBody};
use crate::domain::{ImageUrl, UserName};
use crate::error::{ApiError, codes};
use crate::session::AuthSession;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/update-user", post(update_user))
}

/// Updates the user's `name` and/or `image`; the email and verification flag are not writable here.
async fn update_user(
    State(state): State<AuthState>,
    auth: AuthSession,
    Body(body): RecordBody,
) -> Result<Response, ApiError> {
    if body.contains_key("email") {
        return Err(codes::email_can_not_be_updated());
    }
    // `emailVerified` is an `input: false` field: Better Auth 1.7.25 drops it silently (so
    // `{"emailVerified": true}` alone is "No fields to update"), like every unknown key.
    // The same bounds as at sign-up: nothing stored here may outgrow a JWT or hold a NUL.
    let mut fields = Fields::new(&body);
    let name = fields.opt_text::<UserName>("name");
    let image = fields.nullable_text::<ImageUrl>("image");
    fields.finish()?;
    if name.is_none() && image.is_none() {
        return Err(ApiError::message_only(
            StatusCode::BAD_REQUEST,
            "No fields to update",
        ));
    }
    state
        .store
        .update_user(
            &auth.user.id,
            name.map(UserName::into_inner).as_deref(),
            image.as_ref().map(|i| i.as_ref().map(ImageUrl::as_str)),
            state.clock.now(),
        )
        .await?;
    // Better Auth re-sets the session cookie (same token) after an update.
    let cookies = state.resent_session_cookie(auth);
    Ok(reply(json!({ "status": true }), cookies))
}
