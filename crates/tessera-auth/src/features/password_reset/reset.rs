//! `GET /reset-password/:token` and `POST /reset-password`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;
use url::Url;

use super::{PasswordResetWrite, ResetOutcome, reset_identifier};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::domain::Password;
use crate::error::{ApiError, codes};
use crate::rate_limit::ClientIp;
use crate::routes::{found, query_value, reply};
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{Account, DbTime};

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route("/reset-password/{token}", get(reset_link))
        .route("/reset-password", post(reset_password))
}

/// The link's landing: a 302 to `callbackURL` with `?token=` when the token is live, else with
/// `?error=INVALID_TOKEN`. `callbackURL` must be a trusted origin or a safe relative path (403
/// `INVALID_CALLBACK_URL`: the link is no open redirect); it resolves against the auth base URL,
/// and an empty one means the base URL itself (`/error` for the error), as in Better Auth.
async fn reset_link(
    State(state): State<AuthState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Some(callback) = query_value(query.as_deref(), "callbackURL") else {
        return Err(ApiError::validation(
            "[query.callbackURL] Invalid input: expected string, received undefined",
        ));
    };
    if !callback.is_empty() && !state.trusted.allows_callback(&callback) {
        return Err(codes::invalid_callback_url());
    }
    let live = !token.is_empty()
        && state
            .store
            .find_verification_value(&reset_identifier(&token), state.clock.now())
            .await?
            .is_some();
    let base = format!("{}/api/auth", state.config.base_origin);
    let param = if live {
        ("token", token.as_str())
    } else {
        ("error", "INVALID_TOKEN")
    };
    let target = match (callback.is_empty(), live) {
        (true, true) => redirect_target(&base, "", param)?,
        (true, false) => redirect_target(&format!("{base}/error"), "", param)?,
        (false, _) => redirect_target(&base, &callback, param)?,
    };
    Ok(found(&target))
}

/// `callback` resolved against `base`, with `param` set (replacing any value it had).
fn redirect_target(base: &str, callback: &str, param: (&str, &str)) -> Result<String, ApiError> {
    let base = Url::parse(base).map_err(|_| codes::invalid_callback_url())?;
    let mut url = base
        .join(callback)
        .map_err(|_| codes::invalid_callback_url())?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != param.0)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(param.0, param.1);
    Ok(url.into())
}

/// Sets a new password from a reset token (body `token`, else `?token=`), spending it.
async fn reset_password(
    State(state): State<AuthState>,
    meta: ClientMeta,
    RawQuery(query): RawQuery,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let new_password = fields.string("newPassword");
    let body_token = fields.opt_string("token");
    fields.finish()?;
    let token = body_token
        .filter(|t| !t.is_empty())
        .or_else(|| query_value(query.as_deref(), "token"))
        .filter(|t| !t.is_empty())
        .ok_or_else(codes::invalid_token)?;
    let new_password = Password::parse(new_password)?;
    let identifier = reset_identifier(&token);
    let now = state.clock.now();
    let user_id = state
        .store
        .find_verification_value(&identifier, now)
        .await?
        .ok_or_else(codes::invalid_token)?;
    let user = state
        .store
        .find_user_by_id(&user_id)
        .await?
        .ok_or_else(codes::user_not_found)?;
    let client_ip = meta.client_ip.clone().unwrap_or_else(ClientIp::unknown);
    let hasher = state.email_password.hasher.for_client(&client_ip);
    let hash = match hasher.hash(&new_password).await {
        Ok(hash) => hash,
        Err(err) => return Err(state.hashing_refused(err, &meta, "/reset-password").await),
    };
    let stamp_now = DbTime::from(now);
    // Used only when the user has no credential account yet (a social-only user sets one).
    let account = Account::credential(&user.id, hash, stamp_now);
    let revoke_sessions = state.config.password_reset.revoke_sessions;
    let audit = state
        .audit_event(AuditKind::PasswordReset, &meta)
        .user(&user.id)
        .detail(json!({ "revoke_sessions": revoke_sessions }));
    let revoked = state
        .audit_event(AuditKind::SessionRevoked, &meta)
        .user(&user.id)
        .reason("password_reset");
    let stamp = state.revocation_stamp();
    let write = PasswordResetWrite {
        identifier: &identifier,
        user_id: &user.id,
        account: &account,
        now,
        audit: &audit,
        revoke: revoke_sessions.then_some((&revoked, stamp)),
    };
    match state.store.reset_password(write).await? {
        // A concurrent reset with the same token spent it first.
        ResetOutcome::TokenGone => Err(codes::invalid_token()),
        ResetOutcome::Done(ended) => {
            audit.emit();
            if !ended.is_empty() {
                revoked.with_ended_sessions(&ended).emit();
                state.sessions_ended(&ended, stamp).await;
            }
            Ok(reply(json!({ "status": true }), Vec::new()))
        }
    }
}
