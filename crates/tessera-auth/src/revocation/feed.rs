//! The revocation feed, `GET /api/auth/revocations?since=<cursor>`: the sessions ended since a
//! cursor, read from the revocation records (protocol: [`tessera_revocation::feed`]).
//!
//! Every session-ending path writes one record per session it ended, in the transaction that
//! deletes it; the feed lists them in the order of their ids (which begin with the time the
//! session ended), so it needs no publisher, survives restarts, and every auth server process on
//! the database serves the same answer. The cursor is a record id, opaque to clients.
//!
//! Two bounds keep it small and exact:
//! - records past their horizon (`until`: the end plus the JWT lifetime and leeway) are never
//!   listed, and are pruned: any token of those sessions has expired anyway;
//! - record ids are stamped before their transaction commits, so a record can appear a little
//!   after one with a later id (on PostgreSQL transactions commit concurrently; a sequence would
//!   have the same gap, and closing it would mean serialising every session-ending transaction
//!   on one lock). When the client has caught up, the returned cursor therefore stays
//!   [`SETTLE`] behind the present: the last few seconds are read again on the next poll, and a
//!   late commit is still seen. Listing an id twice is harmless (delivery is at least once).

use chrono::Duration;
use tessera_revocation::{Cursor, FeedPage};

use crate::error::ApiError;
use crate::ids::ordered_id_floor;
use crate::state::AuthState;

/// How far behind the present the cursor of a caught-up client stays (see the module docs).
/// Transactions and clock differences between auth server processes must fit in it.
pub const SETTLE: Duration = Duration::seconds(5);
/// Records read per page.
const PAGE_ROWS: u32 = 500;

impl AuthState {
    /// The feed page after `since` (an earlier answer's `cursor`; `None` for everything still
    /// relevant). A cursor that is not one of ours is a 400 `VALIDATION_ERROR`; one that is
    /// too old or in the future is simply clamped to the window of relevant records.
    pub async fn revocation_feed(&self, since: Option<&str>) -> Result<FeedPage, ApiError> {
        let since = since
            .map(Cursor::parse)
            .transpose()
            .map_err(|_| ApiError::validation("[query.since] Invalid cursor"))?;
        let now = self.clock.now();
        let keep = self.revocations.keep();
        let floor = ordered_id_floor(now - keep);
        let settled = ordered_id_floor(now - SETTLE);
        let after = match since {
            Some(cursor) if cursor.as_str() > floor.as_str() => String::from(cursor),
            _ => floor,
        };
        let rows = self.store.list_revocations(&after, now, PAGE_ROWS).await?;
        let more = rows.len() >= PAGE_ROWS as usize;
        let cursor = match rows.last() {
            // A page boundary: carry on from exactly here.
            Some(last) if more => last.id.clone(),
            // Caught up: re-read the settling window next time.
            Some(last) => last.id.as_str().min(settled.as_str()).to_owned(),
            None => after.min(settled),
        };
        Ok(FeedPage {
            revoked: rows.into_iter().map(|row| row.session_id).collect(),
            // Ours, so well-formed: record ids and their floors are hex and letters.
            cursor: Cursor::parse(&cursor).map_err(|_| ApiError::internal())?,
            more,
            ttl: u64::try_from(keep.num_seconds()).ok(),
        })
    }
}

impl AuthState {
    /// Catches this process up with the sessions every process on the database ended after
    /// `since` (a cursor this returned before; `None` for everything still relevant), read
    /// from the revocation records through [`Self::revocation_feed`], page after page, and
    /// applied exactly as a Redis announcement is: out of the session and minted-token caches
    /// ([`Self::sessions_ended_elsewhere`]) and into the in-process guards' lists
    /// ([`crate::revocation::Revocations::deliver_locally`]), until the horizon. Returns the
    /// cursor to carry on from; sessions of the last [`SETTLE`] are applied again next time,
    /// which changes nothing.
    ///
    /// # Errors
    /// When the store cannot be read; nothing after the last page applied is lost, the same
    /// `since` is simply read again next time.
    pub async fn catch_up_revocations(&self, since: Option<&Cursor>) -> Result<Cursor, ApiError> {
        let mut since = since.cloned();
        loop {
            let page = self
                .revocation_feed(since.as_ref().map(Cursor::as_str))
                .await?;
            if !page.revoked.is_empty() {
                let until = self.clock.now() + self.revocations.keep();
                self.sessions_ended_elsewhere(&page.revoked);
                self.revocations
                    .deliver_locally(&page.revoked, until.timestamp());
            }
            if !page.more {
                return Ok(page.cursor);
            }
            since = Some(page.cursor);
        }
    }
}
