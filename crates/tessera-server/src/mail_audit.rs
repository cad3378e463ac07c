//! The mail worker's give-up hook: each mail given up becomes a `mail_delivery_failed` audit
//! event, so an operator sees in the audit log (not only the log) that someone's reset or
//! verification mail never arrived.

use async_trait::async_trait;
use serde_json::json;
use tessera_auth::AuthState;
use tessera_auth::audit::{AuditEvent, AuditKind};
use tessera_mail::{DeliveryFailure, DeliveryHook};

/// Writes the audit event through the auth server's store.
pub(crate) struct AuditGiveUps(pub(crate) AuthState);

#[async_trait]
impl DeliveryHook for AuditGiveUps {
    async fn delivery_failed(&self, failure: &DeliveryFailure) {
        let state = &self.0;
        // The kind, the row and why: never the link (the failure holds none) nor the address,
        // which the user id stands for when it has an account.
        let kind = failure.kind.map_or("unknown", |kind| kind.as_str());
        let mut event = AuditEvent::system(AuditKind::MailDeliveryFailed, state.clock.now())
            .reason(&failure.code)
            .detail(json!({
                "kind": kind,
                "mail_id": failure.id.0,
                "attempts": failure.attempts,
            }));
        match state.store.find_user_by_email(&failure.recipient).await {
            Ok(Some(user)) => event = event.user(&user.id),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "the failed mail's recipient was not looked up"),
        }
        // A failed insert is logged by `audit`; the worker has recorded the failure either way.
        let _ = state.audit(event).await;
    }
}
