//! `GET /verify-email?token=…&callbackURL=…`: the link's landing.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use super::token::{self, TokenRefused};
use crate::audit::AuditKind;
use crate::error::{ApiError, codes};
use crate::routes::{found, link_query, reply, with_cookies};
use crate::session::{ClientMeta, Resolved};
use crate::state::AuthState;

pub(super) fn router() -> Router<AuthState> {
    Router::new().route("/verify-email", get(verify_email))
}

/// Why a link was refused, with Better Auth's codes; answered as 401 JSON, or, with a
/// `callbackURL`, as a 302 to it with `?error=<CODE>`.
#[derive(Clone, Copy, Debug)]
pub(super) enum LinkError {
    InvalidToken,
    TokenExpired,
    UserNotFound,
    /// An email-change link followed while signed in as someone else.
    InvalidUser,
    /// An email-change link whose new address an account took since it was mailed.
    AddressTaken,
}

impl LinkError {
    fn code(self) -> &'static str {
        self.as_api_error().code().unwrap_or("INVALID_TOKEN")
    }

    /// The 401 form (Better Auth's `APIError.from("UNAUTHORIZED", …)`).
    fn as_api_error(self) -> ApiError {
        let plain = match self {
            Self::InvalidToken => codes::invalid_token(),
            Self::TokenExpired => codes::token_expired(),
            Self::UserNotFound => codes::user_not_found(),
            Self::InvalidUser => codes::invalid_user(),
            Self::AddressTaken => codes::user_already_exists(),
        };
        plain.with_status(StatusCode::UNAUTHORIZED)
    }

    pub(super) fn answer(self, callback: Option<&str>) -> Result<Response, ApiError> {
        match callback {
            Some(callback) => Ok(found(&with_error(callback, self.code())?)),
            None => Err(self.as_api_error()),
        }
    }
}

/// Checks the token and marks its address verified; with `autoSignInAfterVerification` opens a
/// session (or re-sends the caller's, when it is the same address). The answer is a 302 to
/// `callbackURL` when given, else `{"status": true, "user": null}`.
async fn verify_email(
    State(state): State<AuthState>,
    meta: ClientMeta,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (token, callback) = link_query(&state, query.as_deref())?;
    let callback = callback.as_deref();
    let secret = &state.config.secrets.current().secret;
    let link = match token::check(secret, &token, state.clock.now().timestamp()) {
        Ok(link) => link,
        Err(TokenRefused::Expired) => return LinkError::TokenExpired.answer(callback),
        Err(TokenRefused::Invalid) => return LinkError::InvalidToken.answer(callback),
    };
    if link.update_to.is_some() {
        return super::change::follow(&state, &meta, &headers, link, callback).await;
    }
    let Some(user) = state.store.find_user_by_email(&link.email).await? else {
        return LinkError::UserNotFound.answer(callback);
    };
    // A token minted for one user does not verify another who later took the address.
    if !link.is_for(&user.id) {
        return LinkError::InvalidToken.answer(callback);
    }
    if user.email_verified {
        return Ok(done(callback, Vec::new()));
    }
    let audit = state
        .audit_event(AuditKind::EmailVerified, &meta)
        .user(&user.id);
    let Some(user) = state
        .store
        .mark_email_verified(&user.id, state.clock.now(), &audit)
        .await?
    else {
        return LinkError::UserNotFound.answer(callback);
    };
    audit.emit();
    let mut cookies = Vec::new();
    if state
        .config
        .email_verification
        .auto_sign_in_after_verification
    {
        match state.resolve_session(&headers, true).await? {
            Resolved::Active(current) if current.user.email == user.email => {
                cookies = state.session_cookies(&current.session, current.dont_remember);
            }
            _ => {
                let audit = state
                    .audit_event(AuditKind::SignIn, &meta)
                    .user(&user.id)
                    .detail(json!({ "via": "verify_email" }));
                let session = state.create_session(&user, &meta, false, audit).await?;
                cookies = state.session_cookies(&session, false);
            }
        }
    }
    Ok(done(callback, cookies))
}

/// Success: a 302 to `callback` as given, or `{"status":true,"user":null}`, with `cookies`.
fn done(callback: Option<&str>, cookies: Vec<String>) -> Response {
    done_with(callback, json!({ "status": true, "user": null }), cookies)
}

/// Success: a 302 to `callback` as given, or `body`, with `cookies`.
pub(super) fn done_with(callback: Option<&str>, body: Value, cookies: Vec<String>) -> Response {
    match callback {
        Some(callback) => with_cookies(found(callback), cookies),
        None => reply(body, cookies),
    }
}

/// Better Auth's `appendQueryParams(callback, {error: code})`: the parameter appended after any
/// query the URL has (with `&`, none when it already ends in one), before its fragment; a
/// root-relative URL stays root-relative.
fn with_error(callback: &str, code: &str) -> Result<String, ApiError> {
    const REFERENCE: &str = "https://better-auth.invalid";
    let relative = callback.starts_with('/');
    if callback.starts_with("//") || callback.starts_with("/\\") {
        return Err(codes::invalid_callback_url());
    }
    let mut url = if relative {
        Url::parse(REFERENCE).and_then(|base| base.join(callback))
    } else {
        Url::parse(callback)
    }
    .map_err(|_| codes::invalid_callback_url())?;
    if relative && url.origin().ascii_serialization() != REFERENCE {
        return Err(codes::invalid_callback_url());
    }
    let param = format!("error={code}");
    let query = match url.query().filter(|q| !q.is_empty()) {
        Some(q) if q.ends_with('&') => format!("{q}{param}"),
        Some(q) => format!("{q}&{param}"),
        None => param,
    };
    url.set_query(Some(&query));
    let href = url.as_str();
    Ok(if relative {
        href.strip_prefix(REFERENCE).unwrap_or(href).to_owned()
    } else {
        href.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::with_error;

    #[test]
    fn the_error_is_appended_as_better_auth_s_append_query_params_does() {
        let cases = [
            ("/done", "/done?error=X"),
            ("/done?a=1", "/done?a=1&error=X"),
            ("/done?a=1&", "/done?a=1&error=X"),
            ("/done?a=1#top", "/done?a=1&error=X#top"),
            ("http://localhost:3000", "http://localhost:3000/?error=X"),
            (
                "http://localhost:3000/p?q=2",
                "http://localhost:3000/p?q=2&error=X",
            ),
        ];
        for (callback, expected) in cases {
            assert_eq!(with_error(callback, "X").unwrap(), expected, "{callback}");
        }
        assert!(with_error("//evil.example", "X").is_err());
    }
}
