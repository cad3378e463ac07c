//! `POST /sign-in/email`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;

use crate::audit::AuditKind;
use crate::body::{Body, Fields, FormOrJsonBody};
use crate::domain::{Email, Password};
use crate::error::{ApiError, codes};
use crate::features::email_verification::{SentVia, send_verification_mail};
use crate::features::two_factor::{SignInGate, gate_sign_in};
use crate::metrics::SignInOutcome;
use crate::password::HashError;
use crate::rate_limit::{CheckedRoute, PasswordAttempt};
use crate::routes::reply;
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
    headers: HeaderMap,
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
    // The slot is taken before anything is looked up or hashed, so a burst of guesses is cut
    // off at the limit, with a 429 at once for the rest.
    let attempt =
        match PasswordAttempt::begin(&state, &meta, CheckedRoute::SignIn, email.as_str()).await {
            Ok(attempt) => attempt,
            Err(too_many) => {
                state.metrics.sign_in(SignInOutcome::Throttled);
                return Ok(too_many);
            }
        };
    let user = state.store.find_user_by_email(email.as_str()).await?;
    let account = match &user {
        Some(user) => state.store.find_credential_account(&user.id).await?,
        None => None,
    };
    let stored = account.as_ref().and_then(|a| a.password.clone());
    let client_ip = attempt.client_ip().clone();
    let verified = match state
        .email_password
        .hasher
        .for_client(&client_ip)
        .verify(&password, stored)
        .await
    {
        Ok(verified) => verified,
        Err(err) => {
            // Shed before the hash ran: nothing was learnt, so the slot goes back.
            attempt.not_checked().await;
            if matches!(err, HashError::Busy { .. }) {
                state.metrics.sign_in(SignInOutcome::Shed);
            }
            return Err(state.hashing_refused(err, &meta, "/sign-in/email").await);
        }
    };
    let known_user = user.as_ref().map(|u| u.id.clone());
    let (Some(user), Some(account), true) = (user, account, verified.matches) else {
        // The user id when the email matched one (for the owner's log); never the email typed.
        attempt.failed(known_user.as_deref(), None).await?;
        state.metrics.sign_in(SignInOutcome::Failure);
        return Err(codes::invalid_email_or_password());
    };
    attempt.succeeded().await;
    let verification = &state.config.email_verification;
    if verification.require_email_verification && !user.email_verified {
        // The password was right, so saying the address is unverified tells nothing new.
        if verification.send_on_sign_in && state.outbox().is_some() {
            send_verification_mail(
                &state,
                &meta,
                &user,
                callback_url.as_deref(),
                SentVia::SignIn,
            )
            .await?;
        }
        return Err(codes::email_not_verified());
    }
    let dont_remember = remember_me == Some(false);
    // The twoFactor plugin's hook: a second factor before any session, unless this device is
    // trusted (its renewed cookie is then added to the session's).
    let trusted = match gate_sign_in(&state, &meta, &headers, &user, dont_remember).await? {
        SignInGate::Open(cookies) => cookies,
        SignInGate::Challenge(response) => return Ok(response),
    };
    state.metrics.sign_in(SignInOutcome::Success);
    if verified.needs_rehash {
        // Upgrade a Better Auth scrypt hash now that the plain text is at hand. A failure here
        // must not fail the sign-in: the old hash still works.
        match state
            .email_password
            .hasher
            .for_client(&client_ip)
            .hash(&password)
            .await
        {
            Ok(hash) => {
                state
                    .store
                    .update_password(&account.id, &hash, state.clock.now(), None)
                    .await?
            }
            Err(e) => tracing::warn!(error = %e, "rehash failed"),
        }
    }
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
    let mut cookies = state.session_cookies(&session, dont_remember);
    cookies.extend(trusted);
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
