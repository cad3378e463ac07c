//! [`JsonObject`]: a JSON request body that must be an object, with FastAPI-shaped errors.
//!
//! Parsing into a `Map` first and checking fields by hand (see `domain::input`) is what lets
//! every invalid field be reported at once, in pydantic's words, instead of serde's first error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::domain::FieldError;

/// Largest accepted request body; larger ones get a 413 before they are buffered.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request body that is a JSON object.
pub(crate) struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The router's `DefaultBodyLimit` makes this a 413 past `MAX_BODY_BYTES`, streaming or not.
        let bytes = Bytes::from_request(request, state).await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::invalid(FieldError::new(
                vec![json!("body")],
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            ))),
            Err(err) => {
                // FastAPI reports the byte offset of the syntax error.
                let position = byte_offset(&bytes, err.line(), err.column());
                Err(ApiError::invalid(FieldError::new(
                    vec![json!("body"), json!(position)],
                    "json_invalid",
                    "JSON decode error",
                )))
            }
        }
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The byte offset of a serde_json error position (1-based line and column).
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column).saturating_sub(1).min(bytes.len())
}
