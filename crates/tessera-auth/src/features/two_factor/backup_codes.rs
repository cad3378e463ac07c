//! Backup codes: `POST /two-factor/generate-backup-codes` and
//! `POST /two-factor/verify-backup-code`. Stored as Better Auth's default
//! `storeBackupCodes: "encrypted"`: the JSON array of unused codes, sealed with the secret.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::challenge::Verifier;
use super::{PluginOn, password_again};
use crate::audit::AuditKind;
use crate::body::{Body, Fields, JsonBody};
use crate::error::{ApiError, codes};
use crate::ids::random_string;
use crate::rate_limit::CheckedRoute;
use crate::routes::reply;
use crate::session::{AuthSession, ClientMeta};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new()
        .route(
            "/two-factor/generate-backup-codes",
            post(generate_backup_codes),
        )
        .route("/two-factor/verify-backup-code", post(verify_backup_code))
}

/// Better Auth's default `amount` and `length`.
const CODES: usize = 10;
const CODE_LENGTH: usize = 10;
/// `[a-z0-9A-Z]`, Better Auth's backup-code alphabet.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Ten fresh codes, each ten characters shown as `xxxxx-xxxxx`.
pub(super) fn new_codes() -> Vec<String> {
    (0..CODES)
        .map(|_| {
            let code = random_string(CODE_LENGTH, ALPHABET);
            format!("{}-{}", &code[..CODE_LENGTH / 2], &code[CODE_LENGTH / 2..])
        })
        .collect()
}

/// `codes` as stored: the sealed JSON array.
pub(super) fn seal_codes(state: &AuthState, codes: &[String]) -> Result<String, ApiError> {
    let json = serde_json::to_string(codes).map_err(|_| ApiError::internal())?;
    state.config.secrets.encrypt(&json).map_err(|error| {
        tracing::error!(error = %error, "sealing backup codes failed");
        ApiError::internal()
    })
}

/// The stored codes, `None` when they do not open or are not a JSON array of strings.
fn open_codes(state: &AuthState, sealed: &str) -> Option<Vec<String>> {
    serde_json::from_str(&state.config.secrets.decrypt(sealed)?).ok()
}

/// Replaces the backup codes after checking the password (400 `TWO_FACTOR_NOT_ENABLED` unless
/// two-factor is on); the new ones are answered once.
async fn generate_backup_codes(
    _on: PluginOn,
    State(state): State<AuthState>,
    auth: AuthSession,
    meta: ClientMeta,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let password = fields.string("password");
    fields.finish()?;
    if auth.user.two_factor_enabled != Some(true) {
        return Err(codes::two_factor_not_enabled());
    }
    if let Err(refused) = password_again(&state, &meta, &auth, password).await {
        return Ok(refused);
    }
    let row = state
        .store
        .find_two_factor(&auth.user.id)
        .await?
        .ok_or_else(codes::two_factor_not_enabled)?;
    let fresh = new_codes();
    let audit = state
        .audit_event(AuditKind::BackupCodesGenerated, &meta)
        .user(&auth.user.id)
        .session(&auth.session.id);
    state
        .store
        .replace_backup_codes(&row.id, None, &seal_codes(&state, &fresh)?, &audit)
        .await?;
    audit.emit();
    Ok(reply(
        json!({ "status": true, "backupCodes": fresh }),
        auth.cookies,
    ))
}

/// Spends a backup code: it works once, even when two requests bring it at the same moment
/// (the stored codes are replaced by compare-and-set). Wrong codes count like wrong TOTP codes.
/// With `disableSession` a pending sign-in is answered without opening a session.
async fn verify_backup_code(
    _on: PluginOn,
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    Body(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut fields = Fields::new(&body);
    let code = fields.string("code");
    let disable_session = fields.opt_bool("disableSession").unwrap_or(false);
    let trust_device = fields.opt_bool("trustDevice").unwrap_or(false);
    fields.finish()?;
    let verifier = Verifier::resolve(&state, &headers).await?;
    let user = verifier.user().clone();
    let row = state
        .store
        .find_two_factor(&user.id)
        .await?
        .ok_or_else(codes::backup_codes_not_enabled)?;
    let sign_in = verifier.is_sign_in();
    let lockout = sign_in.then_some(&row);
    let route = CheckedRoute::VerifyBackupCode;
    let check = match verifier
        .begin_check(&state, &meta, route, lockout, sign_in)
        .await
    {
        Ok(check) => check,
        Err(refused) => return Ok(refused),
    };
    let stored = open_codes(&state, &row.backup_codes).unwrap_or_default();
    // Every stored code is compared, in constant time, whichever matches.
    let matched = stored.iter().fold(false, |found, candidate| {
        found | bool::from(candidate.as_bytes().ct_eq(code.as_bytes()))
    });
    if !matched {
        check.failed().await?;
        return Err(codes::invalid_backup_code());
    }
    let remaining: Vec<String> = stored.into_iter().filter(|c| *c != code).collect();
    let audit = state
        .audit_event(AuditKind::BackupCodeUsed, &meta)
        .user(&user.id)
        .detail(json!({ "remaining": remaining.len() }));
    let audit = match verifier.session_id() {
        Some(id) => audit.session(id),
        None => audit,
    };
    let replaced = state
        .store
        .replace_backup_codes(
            &row.id,
            Some(&row.backup_codes),
            &seal_codes(&state, &remaining)?,
            &audit,
        )
        .await?;
    if !replaced {
        // A concurrent request spent a code first; this one spends nothing.
        return Err(ApiError::message_only(
            StatusCode::CONFLICT,
            "Failed to verify backup code. Please try again.",
        ));
    }
    audit.emit();
    check.succeeded().await?;
    if disable_session {
        let token = match &verifier {
            Verifier::Session(auth) => Some(auth.session.token.clone()),
            Verifier::SignIn(_) => None,
        };
        return Ok(reply(json!({ "token": token, "user": user }), Vec::new()));
    }
    verifier
        .passed(&state, &meta, "backup_code", trust_device)
        .await
}
