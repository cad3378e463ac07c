//! The HTTP surface: `/api/me`, `/api/{user_id}/tasks…` and `/api/openapi.json`.

mod me;
pub(crate) mod openapi;
mod tasks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::TasksState;
use crate::body::MAX_BODY_BYTES;

/// The tasks API's routes, ready to merge into an app (paths are absolute, under `/api`).
pub fn router(state: TasksState) -> Router {
    let (router, doc) = api().split_for_parts();
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    router
        .route(
            "/api/openapi.json",
            get(move || serve_json(Arc::clone(&doc))),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The OpenAPI 3.1 document of [`router`], as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

fn api() -> OpenApiRouter<TasksState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(me::router())
        .merge(tasks::router())
}

async fn serve_json(doc: Arc<str>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.to_string(),
    )
}
