//! Revocation records: Tessera's own table `revocation`, one row per ended session.

use chrono::{DateTime, Utc};

use crate::store::DbTime;

/// When sessions ended and until when their tokens must be refused: what a session-ending
/// store call writes into each revocation record (and what is published afterwards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationStamp {
    /// When the sessions ended.
    pub at: DateTime<Utc>,
    /// The retention horizon: every token of the sessions has expired by then.
    pub until: DateTime<Utc>,
}

/// A row of `revocation`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRecord {
    /// Time-ordered ([`crate::ids`]): the feed's cursor.
    pub id: String,
    /// The session that ended.
    pub session_id: String,
    /// Its user.
    pub user_id: String,
    /// When it ended.
    pub revoked_at: DbTime,
    /// Until when its tokens are refused; the record is pruned after.
    pub until: DbTime,
}
