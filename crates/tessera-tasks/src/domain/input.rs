//! Request bodies, checked field by field into typed values.
//!
//! Errors copy pydantic v2's `type` codes and messages, which FastAPI sends in its 422s, so a
//! frontend written for the seed's backend can show them unchanged. Every problem is reported,
//! not just the first.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// Longest title, in characters, after trimming.
const MAX_TITLE: usize = 200;
/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 1000;

/// One entry of a FastAPI 422: where (`["body", "title"]`), what, and a machine code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path to the offending value; strings and (for JSON positions) integers.
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// pydantic's error type, e.g. `missing`, `string_too_long`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl FieldError {
    /// An error at `loc`.
    pub fn new(loc: Vec<Value>, kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            loc,
            msg: msg.into(),
            kind,
        }
    }

    fn body(field: &str, kind: &'static str, msg: impl Into<String>) -> Self {
        Self::new(vec![json!("body"), json!(field)], kind, msg)
    }
}

/// `POST /api/{user_id}/tasks`: a new task.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
pub struct NewTask {
    /// 1–200 characters after trimming, one line, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Optional, up to 1000 characters; tab and line breaks are the only control characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// `PUT /api/{user_id}/tasks/{id}`: a new title, and optionally a description and status.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
pub struct TaskChange {
    /// 1–200 characters after trimming, one line, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Absent: unchanged. `null`: cleared. A string: replaced (up to 1000 characters; tab and
    /// line breaks are the only control characters).
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// Absent: unchanged.
    pub completed: Option<bool>,
}

impl NewTask {
    /// Checks a JSON object's fields.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = title(body, &mut errors);
        let description = description(body, &mut errors).flatten();
        match title {
            Some(title) if errors.is_empty() => Ok(Self { title, description }),
            _ => Err(errors),
        }
    }
}

impl TaskChange {
    /// Checks a JSON object's fields.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = title(body, &mut errors);
        let description = description(body, &mut errors);
        let completed = match body.get("completed") {
            None => None,
            Some(Value::Bool(done)) => Some(*done),
            Some(_) => {
                errors.push(FieldError::body(
                    "completed",
                    "bool_type",
                    "Input should be a valid boolean",
                ));
                None
            }
        };
        match title {
            Some(title) if errors.is_empty() => Ok(Self {
                title,
                description,
                completed,
            }),
            _ => Err(errors),
        }
    }
}

/// The trimmed title, or an error pushed onto `errors`.
fn title(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    let Some(value) = body.get("title") else {
        errors.push(FieldError::body("title", "missing", "Field required"));
        return None;
    };
    let text = string(value, "title", errors)?.trim();
    // A title is one line: the tab and line breaks a description may hold are refused too.
    if text.chars().any(char::is_control) {
        errors.push(control_characters(
            "title",
            "must not contain control characters",
        ));
        return None;
    }
    let error = match text.chars().count() {
        0 => FieldError::body(
            "title",
            "string_too_short",
            "String should have at least 1 character",
        ),
        n if n > MAX_TITLE => FieldError::body(
            "title",
            "string_too_long",
            format!("String should have at most {MAX_TITLE} characters"),
        ),
        _ => return Some(text.to_owned()),
    };
    errors.push(error);
    None
}

/// `None`: absent. `Some(None)`: null. `Some(Some(text))`: a valid description.
fn description(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Option<String>> {
    let value = body.get("description")?;
    if value.is_null() {
        return Some(None);
    }
    let text = string(value, "description", errors)?;
    if text.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::body(
            "description",
            "string_too_long",
            format!("String should have at most {MAX_DESCRIPTION} characters"),
        ));
        return None;
    }
    Some(Some(text.to_owned()))
}

/// A JSON string without control characters (C0, DEL, C1) other than tab and line breaks:
/// PostgreSQL's `text` cannot hold NUL at all (the insert would fail as a 500), and the others
/// only serve to forge log lines or hide text from whoever reads the task.
fn string<'a>(value: &'a Value, field: &str, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    match value {
        Value::String(text)
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) =>
        {
            errors.push(control_characters(
                field,
                "must not contain control characters other than tab and line breaks",
            ));
            None
        }
        Value::String(text) => Some(text),
        _ => {
            errors.push(FieldError::body(
                field,
                "string_type",
                "Input should be a valid string",
            ));
            None
        }
    }
}

/// pydantic's shape for a failed custom check (`value_error`, "Value error, …").
fn control_characters(field: &str, rule: &str) -> FieldError {
    FieldError::body(field, "value_error", format!("Value error, {rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn titles_are_trimmed_and_must_keep_one_to_two_hundred_characters() {
        let ok = NewTask::parse(&object(json!({ "title": "  Buy milk  " }))).unwrap();
        assert_eq!(ok.title, "Buy milk");
        assert_eq!(ok.description, None);
        let max = "é".repeat(200);
        assert!(NewTask::parse(&object(json!({ "title": max }))).is_ok());
        for (title, kind) in [
            (json!("   "), "string_too_short"),
            (json!("x".repeat(201)), "string_too_long"),
            (json!(5), "string_type"),
        ] {
            let errors = NewTask::parse(&object(json!({ "title": title }))).unwrap_err();
            assert_eq!(errors[0].kind, kind);
            assert_eq!(errors[0].loc, vec![json!("body"), json!("title")]);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = TaskChange::parse(&object(
            json!({ "description": "x".repeat(1001), "completed": "yes" }),
        ))
        .unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["missing", "string_too_long", "bool_type"]);
    }

    #[test]
    fn a_change_tells_absent_from_null_descriptions() {
        let absent = TaskChange::parse(&object(json!({ "title": "t" }))).unwrap();
        assert_eq!(absent.description, None);
        let null =
            TaskChange::parse(&object(json!({ "title": "t", "description": null }))).unwrap();
        assert_eq!(null.description, Some(None));
        let set = TaskChange::parse(&object(
            json!({ "title": "t", "description": "d", "completed": true }),
        ))
        .unwrap();
        assert_eq!(set.description, Some(Some("d".into())));
        assert_eq!(set.completed, Some(true));
    }

    #[test]
    fn control_characters_are_refused_but_descriptions_keep_their_lines() {
        for title in [
            "a\u{0}b",
            "a\u{7f}",
            "a\u{9b}b",
            "two\nlines",
            "a\tb",
            "a\u{1b}[31m",
        ] {
            let errors = NewTask::parse(&object(json!({ "title": title }))).unwrap_err();
            assert_eq!(errors[0].kind, "value_error", "{title:?}");
            assert_eq!(errors[0].loc, vec![json!("body"), json!("title")]);
        }
        let ok = NewTask::parse(&object(
            json!({ "title": "\tpadded\r\n", "description": "line 1\r\nline 2\n\tindented" }),
        ))
        .unwrap();
        assert_eq!(ok.title, "padded");
        assert_eq!(
            ok.description.as_deref(),
            Some("line 1\r\nline 2\n\tindented")
        );
        for description in ["a\u{0}", "bell\u{7}", "c1\u{85}"] {
            let errors =
                TaskChange::parse(&object(json!({ "title": "t", "description": description })))
                    .unwrap_err();
            assert_eq!(
                (errors[0].kind, errors[0].msg.as_str()),
                (
                    "value_error",
                    "Value error, must not contain control characters other than tab and line breaks"
                ),
                "{description:?}"
            );
        }
    }
}
