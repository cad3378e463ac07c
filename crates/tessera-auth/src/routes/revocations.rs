//! `GET /revocations?since=<cursor>`: the revocation feed guards poll (Tessera's own; Better
//! Auth has no equivalent). See [`crate::revocation`] for what it lists and how.
//!
//! No credential is required, on purpose. The feed lists only session *ids* of sessions that
//! have already ended: random 32-character identifiers that authenticate nothing (a session is
//! presented by its token, never its id) and that name no user, email or address. Whoever could
//! match an id to a person already holds one of that session's JWTs (the id is its `sid`
//! claim), and learns from the feed only that the session ended — what the guard's 401 would
//! tell them anyway. Requiring a shared secret would instead add a secret to distribute to every
//! resource server and rotate, for no gain in what stays hidden. The endpoint is cheap (one
//! bounded range read on the revocation table's primary key) and sits behind the same rate
//! limits as every other path.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use super::reply;
use crate::error::ApiError;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/revocations", get(feed))
}

/// One [`tessera_revocation::FeedPage`], never cached.
async fn feed(
    State(state): State<AuthState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = state
        .revocation_feed(query.get(tessera_revocation::SINCE).map(String::as_str))
        .await?;
    let mut response = reply(page, Vec::new());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
