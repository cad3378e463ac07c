//! `GET /verify-email` for an email-change token (one with `updateTo`), as Better Auth 1.7.25
//! follows it: the confirmation step (mailed to the current address) mails the new address its
//! verification link; the verification step moves the account to the new address, keeping its
//! `emailVerified`; a token with neither `requestType` (Better Auth's legacy one-step change)
//! moves the account at once, unverified, and mails the new address a plain verification link.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use tessera_mail::{Mail, MailKind, SecretUrl};

use super::token::{ChangeStep, EmailChange, VerifiedLink};
use super::verify::{LinkError, done_with};
use super::{SentVia, queue_link_mail, send_verification_mail, verification_link};
use crate::audit::AuditKind;
use crate::error::ApiError;
use crate::session::{ClientMeta, Resolved};
use crate::state::AuthState;
use crate::store::{StoreError, User};

/// Follows an email-change link; `callback` was already checked against the trusted origins.
pub(super) async fn follow(
    state: &AuthState,
    meta: &ClientMeta,
    headers: &HeaderMap,
    link: VerifiedLink,
    callback: Option<&str>,
) -> Result<Response, ApiError> {
    let Some(update_to) = link.update_to.as_deref() else {
        return LinkError::InvalidToken.answer(callback);
    };
    // Better Auth binds change tokens to a user: without one the token proves nothing.
    let Some(user_id) = link.user_id.as_deref() else {
        return LinkError::InvalidToken.answer(callback);
    };
    let Some(user) = state.store.find_user_by_id(user_id).await? else {
        return LinkError::UserNotFound.answer(callback);
    };
    // The account moved (or was taken over) since the link was mailed: the link is spent.
    if user.email.to_lowercase() != link.email {
        return LinkError::InvalidToken.answer(callback);
    }
    let session = match state.resolve_session(headers, true).await? {
        Resolved::Active(session) => Some(*session),
        Resolved::Anonymous | Resolved::Gone => None,
    };
    if session.as_ref().is_some_and(|s| s.user.id != user.id) {
        return LinkError::InvalidUser.answer(callback);
    }
    let (updated, session) = match link.change_step() {
        Some(ChangeStep::Confirmation) => {
            // The current address approved: the new one gets its verification link.
            if state.outbox().is_some() {
                let step = ChangeStep::Verification;
                mail_change_link(state, meta, &user, update_to, step, callback, "link").await?;
            }
            let cookies = session.map(|s| s.cookies).unwrap_or_default();
            return Ok(done_with(callback, json!({ "status": true }), cookies));
        }
        // The new address proved itself; it is as verified as the old one was.
        Some(ChangeStep::Verification) => {
            let verified = user.email_verified;
            let moved = move_account(state, meta, &user, update_to, verified, "verification_link");
            let Some(updated) = moved.await? else {
                return LinkError::AddressTaken.answer(callback);
            };
            (updated, session)
        }
        // Better Auth's legacy one-step link: moved unverified, then a plain link to verify it.
        None => {
            let moved = move_account(state, meta, &user, update_to, false, "legacy_link");
            let Some(updated) = moved.await? else {
                return LinkError::AddressTaken.answer(callback);
            };
            if state.outbox().is_some() {
                send_verification_mail(state, meta, &updated, callback, SentVia::ChangeEmail)
                    .await?;
            }
            (updated, session)
        }
    };
    let cookies = session
        .map(|s| state.resent_session_cookie(s))
        .unwrap_or_default();
    Ok(done_with(
        callback,
        json!({ "status": true, "user": updated }),
        cookies,
    ))
}

/// Mails the link of `step` of `user`'s change to `new_email`: the confirmation to the current
/// address (`change-email-confirmation`), or the verification to the new one
/// (`change-email-verification`, which Better Auth sends through its `sendVerificationEmail`
/// with the user's address replaced), with an `email_change_requested` event (`detail.step`,
/// `detail.via`: `request` or `link`).
pub(crate) async fn mail_change_link(
    state: &AuthState,
    meta: &ClientMeta,
    user: &User,
    new_email: &str,
    step: ChangeStep,
    callback: Option<&str>,
    via: &str,
) -> Result<bool, ApiError> {
    let change = EmailChange {
        update_to: new_email,
        step,
    };
    let lifetime = state.config.email_verification.expires_in_secs;
    let url = verification_link(
        state,
        &user.email,
        &user.id,
        Some(change),
        lifetime,
        callback,
    )?;
    let (kind, to, name) = match step {
        ChangeStep::Confirmation => (
            MailKind::ChangeEmailConfirmation,
            user.email.as_str(),
            "confirmation",
        ),
        ChangeStep::Verification => (MailKind::ChangeEmailVerification, new_email, "verification"),
    };
    let mail = Mail::new(kind, to, &user.name, SecretUrl::new(url)).with_new_email(new_email);
    let audit = state
        .audit_event(AuditKind::EmailChangeRequested, meta)
        .user(&user.id)
        .detail(json!({ "step": name, "via": via }));
    queue_link_mail(state, &mail, audit).await
}

/// Moves `user` to `new_email` with `email_verified`, writing an `email_changed` event
/// (`detail.via`); `None` when an account has the address (or the user is gone).
pub(crate) async fn move_account(
    state: &AuthState,
    meta: &ClientMeta,
    user: &User,
    new_email: &str,
    email_verified: bool,
    via: &str,
) -> Result<Option<User>, ApiError> {
    let audit = state
        .audit_event(AuditKind::EmailChanged, meta)
        .user(&user.id)
        .detail(json!({ "via": via, "email_verified": email_verified }));
    let now = state.clock.now();
    match state
        .store
        .change_email(&user.id, new_email, email_verified, now, &audit)
        .await
    {
        Ok(Some(updated)) => {
            audit.emit();
            Ok(Some(updated))
        }
        Ok(None) | Err(StoreError::Conflict(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
