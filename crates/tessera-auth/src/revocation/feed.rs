//! The revocation feed, `GET /api/auth/revocations?since=<cursor>`: the sessions ended since a
//! cursor, read from the audit log.
//!
//! Every session-ending path already writes a `sign_out` or `session_revoked` row naming the
//! sessions it ended, in the transaction that deletes them; the feed lists those rows' session
//! ids in the order of their event ids (which begin with the event time), so it needs no
//! publisher, survives restarts, and every auth server process on the database serves the same
//! answer. The cursor is an event id, opaque to clients.
//!
//! Two bounds keep it small and exact:
//! - rows older than the JWT lifetime plus leeway are never listed: any token of those sessions
//!   has expired anyway. A client with an older (or no) cursor starts there;
//! - event ids are stamped before their transaction commits, so a row can appear a little
//!   after a row with a later id. When the client has caught up, the returned cursor therefore
//!   stays [`SETTLE`] behind the present: the last few seconds are read again on the next poll,
//!   and a late commit is still seen. Listing an id twice is harmless.

use std::collections::HashSet;

use chrono::Duration;
use serde::Serialize;

use crate::audit::event_id_floor;
use crate::error::ApiError;
use crate::state::AuthState;

/// How far behind the present the cursor of a caught-up client stays (see the module docs).
/// Transactions and clock differences between auth server processes must fit in it.
pub const SETTLE: Duration = Duration::seconds(5);
/// Audit rows read per page.
const PAGE_ROWS: u32 = 500;
/// Session ids per page, roughly: a page ends after the row that reaches it.
const PAGE_SIDS: usize = 1_000;
/// Longest cursor accepted (event ids are 32 characters).
const MAX_CURSOR: usize = 64;

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationFeed {
    /// Ids of the sessions ended after the cursor, oldest first, without repeats.
    pub revoked: Vec<String>,
    /// The cursor to send as `since` next time.
    pub cursor: String,
    /// Another page is waiting now: ask again at once.
    pub more: bool,
    /// Seconds a listed id must be kept refused: the JWT lifetime plus leeway.
    pub ttl: i64,
}

impl AuthState {
    /// The feed page after `since` (an earlier answer's `cursor`; `None` for everything still
    /// relevant). A cursor that is not one of ours is a 400 `VALIDATION_ERROR`; one that is
    /// too old or in the future is simply clamped to the window of relevant events.
    pub async fn revocation_feed(&self, since: Option<&str>) -> Result<RevocationFeed, ApiError> {
        if let Some(cursor) = since
            && (cursor.is_empty()
                || cursor.len() > MAX_CURSOR
                || !cursor.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(ApiError::validation("[query.since] Invalid cursor"));
        }
        let now = self.clock.now();
        let keep = self.revocations.keep();
        let floor = event_id_floor(now - keep);
        let settled = event_id_floor(now - SETTLE);
        let after = match since {
            Some(cursor) if cursor > floor.as_str() => cursor.to_owned(),
            _ => floor,
        };
        let rows = self.store.list_session_endings(&after, PAGE_ROWS).await?;
        let full = rows.len() >= PAGE_ROWS as usize;
        let mut revoked = Vec::new();
        let mut seen = HashSet::new();
        let mut last = None;
        let mut more = false;
        for (index, row) in rows.iter().enumerate() {
            if revoked.len() >= PAGE_SIDS {
                more = true;
                break;
            }
            for sid in row.ended_sessions() {
                if seen.insert(sid.clone()) {
                    revoked.push(sid);
                }
            }
            last = Some(row.id.as_str());
            more = full && index + 1 == rows.len();
        }
        let cursor = match last {
            // A page boundary: carry on from exactly here.
            Some(last) if more => last.to_owned(),
            // Caught up: re-read the settling window next time.
            Some(last) => last.min(settled.as_str()).to_owned(),
            None => after.min(settled),
        };
        Ok(RevocationFeed {
            revoked,
            cursor,
            more,
            ttl: keep.num_seconds(),
        })
    }
}
