//! `GET /api/me`: who the bearer token says the caller is.

use axum::Json;
use serde::Serialize;
use tessera_guard::AuthUser;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::TasksState;

/// The me router.
pub(super) fn router() -> OpenApiRouter<TasksState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The caller's identity.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    /// The token's subject.
    user_id: String,
    /// The token's `email` claim, if any.
    email: Option<String>,
}

/// The caller's user id and email, from the token alone (no database call).
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "me",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
    ),
    security(("bearer" = []))
)]
async fn me(user: AuthUser) -> Json<Me> {
    Json(Me {
        user_id: user.user_id().to_owned(),
        email: user.email().map(str::to_owned),
    })
}
