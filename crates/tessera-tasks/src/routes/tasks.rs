//! `/api/{user_id}/tasks`: list, create, read, replace, toggle, delete.
//!
//! Every handler starts from [`Owner`] (401 / 403 before anything else happens) and passes its
//! [`crate::UserId`] to the store; a task id the store does not find *for this user* is a 404,
//! whether or not it exists for someone else.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::body::JsonObject;
use crate::domain::{ListQuery, NewTask, Task, TaskChange};
use crate::ids::new_task_id;
use crate::owner::Owner;
use crate::{ApiError, TasksState};

/// The tasks router; the OpenAPI entries come from the handlers' `#[utoipa::path]`.
pub(super) fn router() -> OpenApiRouter<TasksState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(get_task, update_task, delete_task))
        .routes(routes!(toggle_task))
}

/// `{user_id}` and `{id}` from the path.
#[derive(Deserialize, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
struct TaskPath {
    #[expect(
        dead_code,
        reason = "checked by `Owner`, kept so the path shape is explicit"
    )]
    user_id: String,
    id: String,
}

/// Longest task id worth a database lookup; ids are 36-character UUIDs.
const MAX_ID_CHARS: usize = 64;

impl TaskPath {
    /// The task id, or a 404 for one that cannot exist: too long, or holding a control
    /// character. A NUL (`%00` in the path) would otherwise reach PostgreSQL, which refuses
    /// it in `text` with an error that became a 500; no id we mint holds one.
    fn id(&self) -> Result<&str, ApiError> {
        if self.id.len() > MAX_ID_CHARS || self.id.chars().any(char::is_control) {
            return Err(ApiError::TaskNotFound);
        }
        Ok(&self.id)
    }
}

/// Lists the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks",
    tag = "tasks",
    params(("user_id" = String, Path, description = "Must be the token's subject"), ListQuery),
    responses(
        (status = 200, description = "The tasks", body = Vec<Task>),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 422, description = "Invalid query", body = crate::routes::openapi::ValidationDetail),
    ),
    security(("bearer" = []))
)]
async fn list_tasks(
    Owner(user): Owner,
    State(state): State<TasksState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(&pairs).map_err(ApiError::Validation)?;
    let list = state
        .store
        .list(&user, query.status.unwrap_or_default())
        .await?;
    let json = list
        .to_json(query.sort.unwrap_or_default())
        .map_err(|err| {
            tracing::error!(error = %err, "rendering a task list failed");
            ApiError::Internal
        })?;
    // The same `Content-Type` as `Json` answers, for bytes rendered once per cached list.
    let content_type = HeaderValue::from_static("application/json");
    Ok(([(header::CONTENT_TYPE, content_type)], json).into_response())
}

/// Creates a task for the caller.
#[utoipa::path(
    post,
    path = "/api/{user_id}/tasks",
    tag = "tasks",
    params(("user_id" = String, Path, description = "Must be the token's subject")),
    request_body = NewTask,
    responses(
        (status = 201, description = "Created", body = Task),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 413, description = "Body over 1 MiB", body = crate::routes::openapi::Detail),
        (status = 415, description = "Body is not JSON", body = crate::routes::openapi::Detail),
        (status = 422, description = "Invalid body", body = crate::routes::openapi::ValidationDetail),
    ),
    security(("bearer" = []))
)]
async fn create_task(
    Owner(user): Owner,
    State(state): State<TasksState>,
    JsonObject(body): JsonObject,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewTask::parse(&body).map_err(ApiError::Validation)?;
    let task = state
        .store
        .create(&user, &new_task_id(), &new, state.now.now())
        .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// One of the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 404, description = "No such task for this user", body = crate::routes::openapi::Detail),
    ),
    security(("bearer" = []))
)]
async fn get_task(
    Owner(user): Owner,
    path: TaskPath,
    State(state): State<TasksState>,
) -> Result<Json<Task>, ApiError> {
    let task = state.store.get(&user, path.id()?).await?;
    task.map(Json).ok_or(ApiError::TaskNotFound)
}

/// Replaces a task's title, and its description and status when given.
#[utoipa::path(
    put,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    params(("user_id" = String, Path), ("id" = String, Path)),
    request_body = TaskChange,
    responses(
        (status = 200, description = "The updated task", body = Task),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 404, description = "No such task for this user", body = crate::routes::openapi::Detail),
        (status = 413, description = "Body over 1 MiB", body = crate::routes::openapi::Detail),
        (status = 415, description = "Body is not JSON", body = crate::routes::openapi::Detail),
        (status = 422, description = "Invalid body", body = crate::routes::openapi::ValidationDetail),
    ),
    security(("bearer" = []))
)]
async fn update_task(
    Owner(user): Owner,
    path: TaskPath,
    State(state): State<TasksState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Task>, ApiError> {
    let id = path.id()?;
    let change = TaskChange::parse(&body).map_err(ApiError::Validation)?;
    let task = state
        .store
        .update(&user, id, &change, state.now.now())
        .await?;
    task.map(Json).ok_or(ApiError::TaskNotFound)
}

/// Flips a task between pending and completed.
#[utoipa::path(
    patch,
    path = "/api/{user_id}/tasks/{id}/complete",
    tag = "tasks",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "The updated task", body = Task),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 404, description = "No such task for this user", body = crate::routes::openapi::Detail),
    ),
    security(("bearer" = []))
)]
async fn toggle_task(
    Owner(user): Owner,
    path: TaskPath,
    State(state): State<TasksState>,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .store
        .toggle(&user, path.id()?, state.now.now())
        .await?;
    task.map(Json).ok_or(ApiError::TaskNotFound)
}

/// Deletes a task.
#[utoipa::path(
    delete,
    path = "/api/{user_id}/tasks/{id}",
    tag = "tasks",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, malformed or invalid token", body = crate::routes::openapi::Detail),
        (status = 403, description = "The path names another user", body = crate::routes::openapi::Detail),
        (status = 404, description = "No such task for this user", body = crate::routes::openapi::Detail),
    ),
    security(("bearer" = []))
)]
async fn delete_task(
    Owner(user): Owner,
    path: TaskPath,
    State(state): State<TasksState>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete(&user, path.id()?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::TaskNotFound)
    }
}
