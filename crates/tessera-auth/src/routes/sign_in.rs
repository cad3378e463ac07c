//! `POST /sign-in/email`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use super::reply;
use crate::audit::AuditKind;
use crate::body::{Body, Fields, FormOrJsonBody};
use crate::domain::{Email, Password};
use crate::error::{ApiError, codes};
use crate::rate_limit::{ClientIp, Decision, too_many_requests};
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/sign-in/email", post(sign_in_email))
}

/// Checks email and password and opens a session.
///
/// Every failure (unknown email, no password set, wrong password) gets the same 401 after the
/// same amount of hashing work, so neither body nor timing tells whether an account exists.
async fn sign_in_email(
    State(state): State<AuthState>,
    meta: ClientMeta,
    Body(body): FormOrJsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let email = fields.string("email");
    let password = fields.string("password");
    let callback_url = fields.opt_string("callbackURL");
    let remember_me = fields.opt_bool("rememberMe");
    fields.finish()?;
    let email = Email::parse(&email).ok_or_else(codes::invalid_email)?;
    if let Some(url) = &callback_url
        && !state.trusted.allows_callback(url)
    {
        return Err(codes::invalid_callback_url());
    }
    let password = Password::candidate(password);
    let client_ip = meta.client_ip.clone().unwrap_or_else(ClientIp::unknown);
    let now_ms = u64::try_from(state.clock.now().timestamp_millis()).unwrap_or(0);
    let throttle = state
        .login_throttle
        .check(email.as_str(), &client_ip, now_ms)
        .await;
    if let Decision::Limited { retry_after } = throttle {
        let event = state.audit_event(AuditKind::RateLimited, &meta);
        state.audit_refusal(event.reason("failed_sign_ins")).await;
        return Ok(too_many_requests(retry_after));
    }
    let user = state.store.find_user_by_email(email.as_str()).await?;
    let account = match &user {
        Some(user) => state.store.find_credential_account(&user.id).await?,
        None => None,
    };
    let stored = account.as_ref().and_then(|a| a.password.clone());
    let verified = match state
        .hasher
        .for_client(&client_ip)
        .verify(&password, stored)
        .await
    {
        Ok(verified) => verified,
        Err(err) => return Err(state.hashing_refused(err, &meta, "/sign-in/email").await),
    };
    let known_user = user.as_ref().map(|u| u.id.clone());
    let (Some(user), Some(account), true) = (user, account, verified.matches) else {
        state
            .login_throttle
            .failed(email.as_str(), &client_ip, now_ms)
            .await;
        // The user id when the email matched one (for the owner's log); never the email typed.
        let mut event = state
            .audit_event(AuditKind::SignInFailed, &meta)
            .reason("invalid_credentials");
        if let Some(id) = &known_user {
            event = event.user(id);
        }
        state.audit(event).await?;
        return Err(codes::invalid_email_or_password());
    };
    if verified.needs_rehash {
        // Upgrade a Better Auth scrypt hash now that the plain text is at hand. A failure here
        // must not fail the sign-in: the old hash still works.
        match state.hasher.for_client(&client_ip).hash(&password).await {
            Ok(hash) => {
                state
                    .store
                    .update_password(&account.id, &hash, state.clock.now(), None)
                    .await?
            }
            Err(e) => tracing::warn!(error = %e, "rehash failed"),
        }
    }
    state
        .login_throttle
        .succeeded(email.as_str(), &client_ip, now_ms)
        .await;
    let dont_remember = remember_me == Some(false);
    let audit = state
        .audit_event(AuditKind::SignIn, &meta)
        .user(&user.id)
        .detail(json!({ "via": "sign_in" }));
    let session = state
        .create_session(&user, &meta, dont_remember, audit)
        .await
        .map_err(|e| {
            if e.status().is_server_error() {
                e
            } else {
                codes::failed_to_create_session()
            }
        })?;
    let cookies = state.session_cookies(&session, dont_remember);
    let body = match &callback_url {
        Some(url) => json!({ "redirect": true, "token": session.token, "url": url, "user": user }),
        None => json!({ "redirect": false, "token": session.token, "user": user }),
    };
    let mut response = reply(body, cookies);
    if let Some(url) = callback_url
        && let Ok(value) = HeaderValue::from_str(&url)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}
