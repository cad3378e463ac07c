//! Request bodies: media-type check, size cap, JSON parsing, and zod-style field validation.
//!
//! better-call answers 415 for a media type a route does not accept, 400 for malformed JSON and
//! 400 `VALIDATION_ERROR` with `[body.field] message` texts for schema failures; we add a 413
//! for bodies over 1 MiB. Nothing reaches a handler unparsed.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use crate::error::{ApiError, codes};

/// The largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON object body. With `FORM = true` a urlencoded form is accepted too (sign-in, sign-up).
#[derive(Debug, Default)]
pub struct Body<const FORM: bool>(pub Map<String, Value>);

/// A JSON-only body.
pub type JsonBody = Body<false>;
/// A JSON or urlencoded-form body.
pub type FormOrJsonBody = Body<true>;

impl<S: Send + Sync, const FORM: bool> FromRequest<S> for Body<FORM> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| codes::payload_too_large())?;
        parse(content_type.as_deref(), &bytes, FORM).map(Self)
    }
}

fn parse(
    content_type: Option<&str>,
    bytes: &Bytes,
    form: bool,
) -> Result<Map<String, Value>, ApiError> {
    if bytes.is_empty() {
        // better-call skips the media-type check for requests with no body.
        return Ok(Map::new());
    }
    let allowed: &[&str] = if form {
        &["application/json", "application/x-www-form-urlencoded"]
    } else {
        &["application/json"]
    };
    match content_type {
        Some("application/json") => match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(ApiError::validation(format!(
                "[body] Invalid input: expected object, received {}",
                type_name(Some(&other))
            ))),
            Err(_) => Err(codes::invalid_json()),
        },
        Some("application/x-www-form-urlencoded") if form => Ok(url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), form_value(&v)))
            .collect()),
        other => Err(codes::unsupported_media_type(other.unwrap_or(""), allowed)),
    }
}

/// Form fields are strings; `true`/`false` become booleans so `rememberMe` works from a form.
fn form_value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::String(other.to_owned()),
    }
}

/// zod 4's name for a JSON value's type.
fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// Reads typed fields out of a body, collecting every problem like a zod schema does.
#[derive(Debug)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    issues: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Starts reading `map`.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            issues: Vec::new(),
        }
    }

    fn expected(&mut self, name: &str, expected: &str) {
        let got = type_name(self.map.get(name));
        self.issues.push(format!(
            "[body.{name}] Invalid input: expected {expected}, received {got}"
        ));
    }

    /// A required string.
    pub fn string(&mut self, name: &str) -> String {
        match self.map.get(name) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.expected(name, "string");
                String::new()
            }
        }
    }

    /// A required non-empty string (zod `.nonempty()`).
    pub fn non_empty_string(&mut self, name: &str) -> String {
        let value = self.string(name);
        if value.is_empty() && matches!(self.map.get(name), Some(Value::String(_))) {
            self.issues.push(format!(
                "[body.{name}] Too small: expected string to have >=1 characters"
            ));
        }
        value
    }

    /// A required string that must be an email address by zod's rule.
    pub fn email(&mut self, name: &str) -> Option<crate::domain::Email> {
        match self.map.get(name) {
            Some(Value::String(s)) => {
                let parsed = crate::domain::Email::parse(s);
                if parsed.is_none() {
                    self.issues
                        .push(format!("[body.{name}] Invalid email address"));
                }
                parsed
            }
            _ => {
                self.expected(name, "string");
                None
            }
        }
    }

    /// An optional string (absent → `None`; `null` is a type error, as in zod's `.optional()`).
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.expected(name, "string");
                None
            }
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.map.get(name) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.expected(name, "boolean");
                None
            }
        }
    }

    /// Ends reading: every issue joined with `; `, or success.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.issues.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn bodies_are_checked_for_media_type_and_syntax() {
        let bytes = Bytes::from_static(b"{\"a\":1}");
        assert!(parse(Some("application/json"), &bytes, false).is_ok());
        assert_eq!(
            parse(Some("text/plain"), &bytes, false)
                .unwrap_err()
                .status(),
            415
        );
        assert_eq!(parse(None, &bytes, false).unwrap_err().status(), 415);
        assert_eq!(
            parse(
                Some("application/x-www-form-urlencoded"),
                &Bytes::from_static(b"a=1"),
                false
            )
            .unwrap_err()
            .status(),
            415
        );
        let form = parse(
            Some("application/x-www-form-urlencoded"),
            &Bytes::from_static(b"email=a%40b.co&rememberMe=false"),
            true,
        )
        .unwrap();
        assert_eq!(form.get("email"), Some(&json!("a@b.co")));
        assert_eq!(form.get("rememberMe"), Some(&json!(false)));
        let bad = parse(
            Some("application/json"),
            &Bytes::from_static(b"{nope"),
            false,
        )
        .unwrap_err();
        assert_eq!(
            (bad.status().as_u16(), bad.code()),
            (400, Some("BAD_REQUEST"))
        );
        assert!(
            parse(Some("text/plain"), &Bytes::new(), false)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn field_errors_read_like_zod_and_are_all_reported() {
        let map = body(json!({"email": "nope", "password": 5}));
        let mut f = Fields::new(&map);
        f.string("name");
        f.email("email");
        f.non_empty_string("password");
        let err = f.finish().unwrap_err();
        assert_eq!(err.code(), Some("VALIDATION_ERROR"));
        let text = format!("{:?}", err);
        assert!(
            text.contains("[body.name] Invalid input: expected string, received undefined"),
            "{text}"
        );
        assert!(
            text.contains("[body.email] Invalid email address"),
            "{text}"
        );
        assert!(
            text.contains("[body.password] Invalid input: expected string, received number"),
            "{text}"
        );
    }
}
