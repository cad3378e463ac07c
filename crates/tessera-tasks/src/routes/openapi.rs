//! The OpenAPI 3.1 document: its frame here, its paths from the handlers' `#[utoipa::path]`
//! (registered together with the routes, so the document cannot drift from what is served).

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::domain::FieldError;

/// The document's fixed parts.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera tasks API",
        description = "Each user's tasks. Send `Authorization: Bearer <JWT>` from the auth server's `/api/auth/token`; the path's `user_id` must be the token's subject.",
    ),
    modifiers(&BearerAuth),
    components(schemas(Detail, ValidationDetail, FieldError)),
)]
pub(super) struct ApiDoc;

/// Declares the `bearer` (JWT) security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// An error with a message, FastAPI's `{"detail": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Detail {
    /// What went wrong, e.g. `Invalid or expired token`.
    detail: String,
}

/// A 422, FastAPI's `{"detail": [{"loc", "msg", "type"}]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidationDetail {
    /// One entry per problem.
    detail: Vec<FieldError>,
}
