//! `GET /api/{user_id}/tasks?status=…&sort=…`, checked into typed values.

use std::borrow::Borrow;

use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{FieldError, Task};

/// Which tasks to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, ToSchema, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// Every task (default).
    #[default]
    All,
    /// Not completed.
    Pending,
    /// Completed.
    Completed,
}

/// List order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ToSchema, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Newest first (default).
    #[default]
    Created,
    /// By title, A→Z, case-insensitive; newest first among equal titles.
    Title,
}

/// The list query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `all` (default), `pending` or `completed`.
    pub status: Option<StatusFilter>,
    /// `created` (default, newest first) or `title`.
    pub sort: Option<SortOrder>,
}

impl StatusFilter {
    /// The `completed` value to match, or `None` for all.
    pub fn completed(self) -> Option<bool> {
        match self {
            Self::All => None,
            Self::Pending => Some(false),
            Self::Completed => Some(true),
        }
    }
}

impl SortOrder {
    /// Orders tasks that arrive newest first. Title order is applied here rather than in SQL so
    /// both backends agree (SQLite and PostgreSQL collate text differently).
    pub fn apply<T: Borrow<Task>>(self, tasks: &mut [T]) {
        if self == Self::Title {
            // Stable: equal titles keep their newest-first order.
            tasks.sort_by_cached_key(|task| task.borrow().title.to_lowercase());
        }
    }
}

impl ListQuery {
    /// Checks raw query pairs. Unknown parameters are ignored (as FastAPI does); a repeated
    /// one counts by its last value.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, Vec<FieldError>> {
        let mut query = Self::default();
        let mut errors = Vec::new();
        for (name, value) in pairs {
            match name.as_str() {
                "status" => match value.as_str() {
                    "all" => query.status = Some(StatusFilter::All),
                    "pending" => query.status = Some(StatusFilter::Pending),
                    "completed" => query.status = Some(StatusFilter::Completed),
                    _ => errors.push(enum_error("status", "'all', 'pending' or 'completed'")),
                },
                "sort" => match value.as_str() {
                    "created" => query.sort = Some(SortOrder::Created),
                    "title" => query.sort = Some(SortOrder::Title),
                    _ => errors.push(enum_error("sort", "'created' or 'title'")),
                },
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }
}

fn enum_error(name: &str, expected: &str) -> FieldError {
    FieldError::new(
        vec![json!("query"), json!(name)],
        "enum",
        format!("Input should be {expected}"),
    )
}
