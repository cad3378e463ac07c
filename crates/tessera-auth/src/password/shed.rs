//! Answering a hash the queue refused: 503 `TOO_BUSY` with `Retry-After`, audited.

use serde_json::json;

use super::HashError;
use crate::audit::AuditKind;
use crate::error::ApiError;
use crate::session::ClientMeta;
use crate::state::AuthState;

/// The `reason` of an `overloaded` audit event for a hash the queue refused.
pub const QUEUE_FULL_REASON: &str = "hashing_queue_full";

impl AuthState {
    /// The answer to a request at `path` whose hash failed. A full queue
    /// ([`HashError::Busy`], already counted by the hasher) is a 503 `TOO_BUSY` with
    /// `Retry-After`, audited as `overloaded` (identical refusals coalesced, so a flood of them
    /// is not also a flood of writes); anything else is a logged 500.
    pub(crate) async fn hashing_refused(
        &self,
        err: HashError,
        meta: &ClientMeta,
        path: &str,
    ) -> ApiError {
        if matches!(err, HashError::Busy { .. }) {
            let event = self
                .audit_event(AuditKind::Overloaded, meta)
                .reason(QUEUE_FULL_REASON)
                .detail(json!({ "path": path }));
            self.audit_refusal(event).await;
        }
        ApiError::from(err)
    }
}
