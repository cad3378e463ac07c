//! `GET /api/me`: who the bearer token says the caller is.

use axum::Json;
use axum::http::{HeaderValue, header};
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

/// The caller's user id and email, from the token alone (no database call). `no-store`: the
/// answer is credential-derived identity, for this bearer only, never for a shared cache
/// (OWASP ASVS 5.0 14.3.2).
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
async fn me(user: AuthUser) -> ([(header::HeaderName, HeaderValue); 2], Json<Me>) {
    let no_store = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ];
    let me = Me {
        user_id: user.user_id().to_owned(),
        email: user.email().map(str::to_owned),
    };
    (no_store, Json(me))
}
