//! Request bodies: media-type check, size cap, JSON parsing, and zod-style field validation.
//!
//! better-call answers 415 for a media type a route does not accept, 400 for malformed JSON and
//! 400 `VALIDATION_ERROR` with `[body.field] message` texts for schema failures; we add a 413
//! for bodies over 1 MiB, and the same `VALIDATION_ERROR` for stored text fields over their
//! limits or holding control characters ([`crate::domain::TextField`]), which Better Auth does
//! not check. Nothing reaches a handler unparsed.
//!
//! Between parsing and the schema check, the redirect targets a body (or the query) names are
//! vetted against the trusted origins, as Better Auth's origin middleware does at that point.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use crate::domain::TextField;
use crate::error::{ApiError, codes};
use crate::origin::check_redirect_targets;
use crate::state::AuthState;

/// The largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The shape of a route's body schema, which decides zod's wording when the body is missing or
/// is not an object (checked against Better Auth 1.7.25 by `interop/diff`).
pub mod shape {
    /// `z.object(…)`: `[body] Invalid input: expected object, received …`.
    pub const OBJECT: u8 = 0;
    /// `z.record(…)` (update-user): `… expected record, received …`.
    pub const RECORD: u8 = 1;
    /// An object that is also a record (sign-up, which takes additional user fields): both texts.
    pub const OBJECT_AND_RECORD: u8 = 2;
    /// `z.object(…).optional()` (sign-out): a missing body is an empty object.
    pub const OPTIONAL_OBJECT: u8 = 3;
}

/// A JSON object body. With `FORM = true` a urlencoded form is accepted too (sign-in, sign-up);
/// `SHAPE` is one of [`shape`].
#[derive(Debug, Default)]
pub struct Body<const FORM: bool, const SHAPE: u8 = { shape::OBJECT }>(pub Map<String, Value>);

/// A JSON-only body.
pub type JsonBody = Body<false>;
/// A JSON or urlencoded-form body.
pub type FormOrJsonBody = Body<true>;
/// Sign-up's body: JSON or form, an object open to additional fields.
pub type SignUpBody = Body<true, { shape::OBJECT_AND_RECORD }>;
/// A JSON record (update-user).
pub type RecordBody = Body<false, { shape::RECORD }>;
/// An optional JSON object (sign-out).
pub type OptionalJsonBody = Body<false, { shape::OPTIONAL_OBJECT }>;

impl<const FORM: bool, const SHAPE: u8> FromRequest<AuthState> for Body<FORM, SHAPE> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AuthState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query = req.uri().query().map(str::to_owned);
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| codes::payload_too_large())?;
        let value = parse(content_type.as_deref(), &bytes, FORM)?;
        check_redirect_targets(
            value.as_ref().and_then(Value::as_object),
            query.as_deref(),
            &state.trusted,
        )?;
        object(value, SHAPE).map(Self)
    }
}

/// Parses a body by its media type; `None` when there is none to parse.
fn parse(content_type: Option<&str>, bytes: &Bytes, form: bool) -> Result<Option<Value>, ApiError> {
    // better-call reads no body at all when there is none or when no Content-Type names it,
    // so the schema then sees `undefined`.
    let Some(raw_type) = content_type else {
        return Ok(None);
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    let media_type = raw_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // The order of better-call's `allowedMediaTypes` lists, which its message repeats.
    let allowed: &[&str] = if form {
        &["application/x-www-form-urlencoded", "application/json"]
    } else {
        &["application/json"]
    };
    match media_type.as_str() {
        "application/json" => serde_json::from_slice::<Value>(bytes)
            .map(Some)
            .map_err(|_| codes::invalid_json()),
        "application/x-www-form-urlencoded" if form => Ok(Some(Value::Object(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), form_value(&v)))
                .collect(),
        ))),
        // The message quotes the header as sent, parameters included.
        _ => Err(codes::unsupported_media_type(raw_type, allowed)),
    }
}

/// Checks the parsed body against the route's schema shape (see [`shape`]).
fn object(value: Option<Value>, shape: u8) -> Result<Map<String, Value>, ApiError> {
    match value {
        Some(Value::Object(map)) => Ok(map),
        None if shape == shape::OPTIONAL_OBJECT => Ok(Map::new()),
        other => {
            let got = type_name(other.as_ref());
            let expected: &[&str] = match shape {
                shape::RECORD => &["record"],
                shape::OBJECT_AND_RECORD => &["object", "record"],
                _ => &["object"],
            };
            Err(ApiError::validation(
                expected
                    .iter()
                    .map(|e| format!("[body] Invalid input: expected {e}, received {got}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        }
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
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
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

    /// A required string checked by a zod union (`z.enum([...]).or(z.string())`): anything else
    /// is reported as the union reports it, `Invalid input` without the expected type.
    pub fn union_string(&mut self, name: &str) -> String {
        match self.map.get(name) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.issues.push(format!("[body.{name}] Invalid input"));
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

    /// A required string, trimmed, that must not be empty then (zod `.trim().min(1)`).
    pub fn trimmed_non_empty_string(&mut self, name: &str) -> String {
        let value = self.string(name).trim().to_owned();
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

    /// Parses the string at `name` as `T`, recording its type or content problem.
    fn parsed<T: TextField>(&mut self, name: &str, raw: &str) -> Option<T> {
        T::parse(raw)
            .map_err(|err| self.issues.push(format!("[body.{name}] {err}")))
            .ok()
    }

    /// A required stored text field (`z.string()` plus the field's limits); the default when
    /// it is missing or refused, which [`Fields::finish`] then reports.
    pub fn text<T: TextField + Default>(&mut self, name: &str) -> T {
        match self.map.get(name) {
            Some(Value::String(s)) => self.parsed(name, s).unwrap_or_default(),
            _ => {
                self.expected(name, "string");
                T::default()
            }
        }
    }

    /// An optional stored text field (absent → `None`; `null` is a type error).
    pub fn opt_text<T: TextField>(&mut self, name: &str) -> Option<T> {
        match self.map.get(name) {
            None => None,
            Some(Value::String(s)) => self.parsed(name, s),
            Some(_) => {
                self.expected(name, "string");
                None
            }
        }
    }

    /// An optional, nullable stored text field (`.optional().nullable()`): absent → `None`,
    /// `null` → `Some(None)`.
    pub fn nullable_text<T: TextField>(&mut self, name: &str) -> Option<Option<T>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => self.parsed(name, s).map(Some),
            Some(_) => {
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

    /// A required object (zod `z.record`).
    pub fn record(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        match self.map.get(name) {
            Some(Value::Object(map)) => Some(map),
            _ => {
                self.expected(name, "record");
                None
            }
        }
    }

    /// An optional array of strings (`z.array(z.string()).optional()`).
    pub fn opt_string_array(&mut self, name: &str) -> Option<Vec<String>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.issues.push(format!(
                            "[body.{name}.{index}] Invalid input: expected string, received {}",
                            type_name(Some(other))
                        )),
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.expected(name, "array");
                None
            }
        }
    }

    /// An optional object (`z.object(…).optional()` or `z.record(…).optional()`), read further by
    /// the caller.
    pub fn opt_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => {
                self.expected(name, "object");
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
        assert_eq!(
            parse(Some("application/json"), &bytes, false).unwrap(),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            parse(Some("text/plain"), &bytes, false)
                .unwrap_err()
                .status(),
            415
        );
        // No Content-Type: better-call does not read the body at all.
        assert_eq!(parse(None, &bytes, false).unwrap(), None);
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
        .unwrap()
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
        assert_eq!(
            parse(Some("text/plain"), &Bytes::new(), false).unwrap(),
            None
        );
    }

    #[test]
    fn the_415_message_quotes_the_header_and_lists_better_calls_order() {
        let err = parse(
            Some("multipart/form-data; boundary=b"),
            &Bytes::from_static(b"--b--"),
            true,
        )
        .unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains(
                "Content-Type \\\"multipart/form-data; boundary=b\\\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_missing_or_non_object_body_is_worded_by_the_schema_shape() {
        let message = |v: Option<Value>, s: u8| format!("{:?}", object(v, s).unwrap_err());
        assert!(
            message(None, shape::OBJECT)
                .contains("\"[body] Invalid input: expected object, received undefined\"")
        );
        assert!(
            message(Some(json!([1])), shape::RECORD)
                .contains("\"[body] Invalid input: expected record, received array\"")
        );
        assert!(message(Some(Value::Null), shape::OBJECT_AND_RECORD).contains(
            "\"[body] Invalid input: expected object, received null; [body] Invalid input: expected record, received null\""
        ));
        assert_eq!(object(None, shape::OPTIONAL_OBJECT).unwrap(), Map::new());
        assert!(object(Some(json!("x")), shape::OPTIONAL_OBJECT).is_err());
    }

    #[test]
    fn text_fields_report_their_type_and_content_problems_together() {
        use crate::domain::{ImageUrl, UserName};
        let map = body(json!({"name": "a\u{0}b", "image": "data:x", "other": 5}));
        let mut f = Fields::new(&map);
        assert_eq!(f.text::<UserName>("name"), UserName::default());
        assert_eq!(f.nullable_text::<ImageUrl>("image"), None);
        assert_eq!(f.opt_text::<UserName>("other"), None);
        assert_eq!(f.opt_text::<UserName>("absent"), None);
        let text = format!("{:?}", f.finish().unwrap_err());
        assert!(
            text.contains("\"[body.name] Invalid string: must not contain control characters; [body.image] Invalid URL; [body.other] Invalid input: expected string, received number\""),
            "{text}"
        );
        let map = body(json!({"name": "Ada", "image": null}));
        let mut f = Fields::new(&map);
        assert_eq!(f.text::<UserName>("name").into_inner(), "Ada");
        assert_eq!(f.nullable_text::<ImageUrl>("image"), Some(None));
        assert!(f.opt_text::<ImageUrl>("image").is_none());
        assert!(f.finish().is_err(), "null is not an optional string");
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
