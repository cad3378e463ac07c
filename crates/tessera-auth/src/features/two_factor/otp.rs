//! Codes by mail: `POST /two-factor/send-otp` and `POST /two-factor/verify-otp`. The code is
//! mailed through the outbox (in the transaction that stores it) and stored as Better Auth's
//! `storeOTP: "hashed"` stores it (`<base64url SHA-256 of the code>:<failed attempts>`, in a
//! `verification` row `2fa-otp-<key>`), so a copy of the database yields no usable code.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use chrono::Duration;
use ring::digest::{SHA256, digest};
use serde_json::json;
use subtle::ConstantTimeEq;
use tessera_mail::{Mail, MailKind, SecretUrl};

use super::challenge::Verifier;
use super::{PluginOn, switch_and_rotate};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody, OptionalJsonBody};
use crate::error::{ApiError, codes};
use crate::ids::{DIGITS, random_string};
use crate::rate_limit::CheckedRoute;
use crate::routes::reply;
use crate::session::ClientMeta;
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/two-factor/send-otp", post(send_otp))
        .route("/two-factor/verify-otp", post(verify_otp))
}

fn otp_identifier(key: &str) -> String {
    format!("2fa-otp-{key}")
}

/// Better Auth's `defaultKeyHasher`: base64url (unpadded) SHA-256.
fn hashed(code: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest(&SHA256, code.as_bytes()))
}

/// Mails a fresh code to the signed-in user or the pending sign-in's user. Past the address's
/// hourly allowance nothing is sent (audited) and the answer is the same.
async fn send_otp(
    _on: PluginOn,
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let _trust_device = fields.opt_bool("trustDevice");
    fields.finish()?;
    let Some(outbox) = state.outbox() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "OTP_NOT_CONFIGURED",
            "otp isn't configured",
        ));
    };
    let verifier = Verifier::resolve(&state, &headers).await?;
    let user = verifier.user();
    let settings = &state.config.two_factor;
    let code = random_string(usize::from(settings.otp_digits), DIGITS);
    let now = state.clock.now();
    let expires_at = now + Duration::minutes(i64::from(settings.otp_period_minutes));
    let mail = Mail::new(
        MailKind::TwoFactorCode,
        &user.email,
        &user.name,
        SecretUrl::new(code.clone()),
    );
    let audit = state
        .audit_event(AuditKind::TwoFactorCodeSent, &meta)
        .user(&user.id);
    let audit = match verifier.session_id() {
        Some(id) => audit.session(id),
        None => audit,
    };
    let queued = state
        .store
        .queue_two_factor_code(
            &otp_identifier(&verifier.key()),
            &format!("{}:0", hashed(&code)),
            expires_at,
            &mail,
            &audit,
        )
        .await?;
    if queued {
        audit.emit();
        outbox.wake();
    } else {
        let limited = audit.reason("recipient_limit");
        state.audit(limited).await?;
    }
    Ok(reply(json!({ "status": true }), Vec::new()))
}

/// Checks a mailed code: it works once and for `otpOptions.period`; each wrong try is counted
/// on the code (five void it), in the per-account limits and the account lockout, and
/// audited. Signed in without two-factor on, a right code turns it on (the session renewed).
async fn verify_otp(
    _on: PluginOn,
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let code = fields.string("code");
    let trust_device = fields.opt_bool("trustDevice").unwrap_or(false);
    fields.finish()?;
    let verifier = Verifier::resolve(&state, &headers).await?;
    let user = verifier.user().clone();
    let row = if verifier.is_sign_in() {
        state.store.find_two_factor(&user.id).await?
    } else {
        None
    };
    let route = CheckedRoute::VerifyOtp;
    let check = match verifier
        .begin_check(&state, &meta, route, row.as_ref(), false)
        .await
    {
        Ok(check) => check,
        Err(refused) => return Ok(refused),
    };
    let identifier = otp_identifier(&verifier.key());
    let now = state.clock.now();
    let Some((value, expires_at)) = state.store.consume_verification(&identifier, now).await?
    else {
        check.not_checked().await?;
        return Err(codes::otp_has_expired());
    };
    let (stored, tries) = value.rsplit_once(':').unwrap_or((value.as_str(), "0"));
    let tries: u32 = tries.parse().unwrap_or(0);
    if tries >= state.config.two_factor.otp_allowed_attempts {
        check.not_checked().await?;
        return Err(codes::too_many_attempts_request_new_code());
    }
    // Hashed as Tessera stores it; a code Better Auth stored plain (its default) still checks.
    let matches = bool::from(stored.as_bytes().ct_eq(hashed(&code).as_bytes()))
        | (stored.len() != 43 && bool::from(stored.as_bytes().ct_eq(code.as_bytes())));
    if !matches {
        state
            .store
            .create_verification(
                &identifier,
                &format!("{stored}:{}", tries + 1),
                expires_at,
                now,
            )
            .await?;
        check.failed().await?;
        return Err(codes::invalid_code());
    }
    check.succeeded().await?;
    if user.two_factor_enabled != Some(true) {
        let Verifier::Session(auth) = &verifier else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "FAILED_TO_CREATE_SESSION",
                "Failed to create session",
            ));
        };
        let audit = state
            .audit_event(AuditKind::TwoFactorEnabled, &meta)
            .user(&user.id)
            .session(&auth.session.id)
            .detail(json!({ "method": "otp", "confirmed": true }));
        let (session, cookies, updated) =
            switch_and_rotate(&state, &meta, auth, true, audit).await?;
        return Ok(reply(
            json!({ "token": session.token, "user": updated }),
            cookies,
        ));
    }
    verifier.passed(&state, &meta, "otp", trust_device).await
}
