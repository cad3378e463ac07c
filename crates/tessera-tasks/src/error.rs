//! The tasks API's one error type.
//!
//! Everything a client sees is FastAPI-shaped: `{"detail": "…"}`, or for invalid input a 422
//! with `{"detail": [{"loc", "msg", "type"}]}` in pydantic's words. Auth errors come from
//! [`tessera_guard`] unchanged. Storage failures are a 503 (the database did not answer; safe to
//! retry) or a bare 500; their causes are logged, never sent.

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_guard::GuardError;

use crate::domain::FieldError;
use crate::store::StoreError;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 / 403 from the guard.
    #[error(transparent)]
    Auth(#[from] GuardError),
    /// 404: no such task *for this user* (another user's task looks exactly the same).
    #[error("Task not found")]
    TaskNotFound,
    /// 422: the request failed validation.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 415: the body is not declared as JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// 413: the body is over the limit.
    #[error("Request body too large")]
    PayloadTooLarge,
    /// 400: the body could not be read at all.
    #[error("Could not read the request body")]
    BadRequest,
    /// 503: the database did not answer.
    #[error("Service temporarily unavailable")]
    Unavailable,
    /// 500: anything else; the cause was logged.
    #[error("Internal Server Error")]
    Internal,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Auth(err) => err.status(),
            Self::TaskNotFound => StatusCode::NOT_FOUND,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 422 with one entry.
    pub fn invalid(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail: Value = match self {
            Self::Auth(err) => return err.into_response(),
            Self::Validation(errors) => json!(errors),
            other => json!(other.to_string()),
        };
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => {
                tracing::warn!(
                    code = err.code(),
                    error = &err as &dyn std::error::Error,
                    "database unavailable"
                );
                Self::Unavailable
            }
            _ => {
                tracing::error!(
                    code = err.code(),
                    error = &err as &dyn std::error::Error,
                    "storage error"
                );
                Self::Internal
            }
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::PayloadTooLarge
        } else {
            Self::BadRequest
        }
    }
}

/// Path segments that are not valid UTF-8 after percent-decoding name no task.
impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::TaskNotFound
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        Self::invalid(FieldError::new(
            vec![json!("query")],
            "url_parsing",
            "Input should be a valid query string",
        ))
    }
}
