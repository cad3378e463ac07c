//! The tasks API's vocabulary: who ([`UserId`]), what ([`Task`]) and the checked inputs.

mod input;
mod list;
mod query;

use serde::Serialize;
use tessera_guard::AuthUser;
use utoipa::ToSchema;

pub use input::{FieldError, NewTask, TaskChange};
pub use list::TaskList;
pub use query::{ListQuery, SortOrder, StatusFilter};

use crate::store::DbTime;

/// The id of the user whose data a store call may touch.
///
/// Every [`crate::store::TaskStore`] function takes one, so a query that forgets whose data it
/// is reading cannot be written. The normal way to get one is [`UserId::from_auth`], i.e. from
/// a verified token; [`UserId::assume_verified`] exists for tools and tests and says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// The subject of a verified token.
    pub fn from_auth(user: &AuthUser) -> Self {
        Self(user.user_id().to_owned())
    }

    /// A user id the caller vouches for without a token (administrative tools, tests).
    pub fn assume_verified(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task, as stored and as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Task {
    /// Task id (a random UUID).
    pub id: String,
    /// The owner.
    pub user_id: String,
    /// 1–200 characters, trimmed.
    pub title: String,
    /// Up to 1000 characters.
    pub description: Option<String>,
    /// Done or not.
    pub completed: bool,
    /// Creation time, ISO 8601 UTC with milliseconds.
    #[schema(value_type = String, format = DateTime, example = "2026-08-23T10:00:00.000Z")]
    pub created_at: DbTime,
    /// Last change, ISO 8601 UTC with milliseconds.
    #[schema(value_type = String, format = DateTime, example = "2026-08-23T10:00:00.000Z")]
    pub updated_at: DbTime,
}
