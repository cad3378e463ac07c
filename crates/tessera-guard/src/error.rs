//! The guard's errors: [`GuardError`] is what a request is answered with, [`ConfigError`] is
//! what building a guard or key source can fail with.
//!
//! Request errors use the seed's FastAPI shape and words byte for byte (`{"detail": "…"}`), so
//! a frontend written against the FastAPI backend reads them unchanged. They never say *why* a
//! token was refused: the reason is logged at debug level, the client only learns "invalid".

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// 401: no `Authorization` header (or an empty one).
    #[error("{}", self.texts().0)]
    MissingHeader,
    /// 401: an `Authorization` header with a scheme other than `Bearer`.
    #[error("{}", self.texts().0)]
    InvalidScheme,
    /// 401: a bearer token was presented but did not verify (bad signature, expired, wrong
    /// issuer or audience, unknown key, malformed, …).
    #[error("{}", self.texts().0)]
    InvalidToken,
    /// 403: the token is valid but names another user than the resource path.
    #[error("{}", self.texts().0)]
    Forbidden,
    /// 500: the handler asked for an [`crate::AuthUser`] but no [`crate::Guard`] was found in
    /// the router state or the request extensions. A wiring bug, logged when it happens.
    #[error("{}", self.texts().0)]
    NotConfigured,
}

impl GuardError {
    /// The HTTP status this error is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingHeader | Self::InvalidScheme | Self::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message and the JSON body carrying it, both written out here once: a refusal is
    /// answered with static bytes, nothing serialised per request (a flood of bad tokens costs
    /// the least it can).
    fn texts(self) -> (&'static str, &'static str) {
        macro_rules! detail {
            ($message:literal) => {
                ($message, concat!(r#"{"detail":""#, $message, r#""}"#))
            };
        }
        match self {
            Self::MissingHeader => detail!("Missing authorization header"),
            Self::InvalidScheme => detail!("Invalid authentication scheme"),
            Self::InvalidToken => detail!("Invalid or expired token"),
            Self::Forbidden => detail!("Cannot access other user's data"),
            Self::NotConfigured => detail!("Internal Server Error"),
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3), for the 401s only. An error code is
    /// added only when a bearer token was actually presented (RFC 6750 §3.1).
    fn challenge(self) -> Option<&'static str> {
        match self {
            Self::MissingHeader | Self::InvalidScheme => Some("Bearer"),
            Self::InvalidToken => Some(r#"Bearer error="invalid_token""#),
            Self::Forbidden | Self::NotConfigured => None,
        }
    }
}

impl IntoResponse for GuardError {
    fn into_response(self) -> Response {
        let content_type = HeaderValue::from_static("application/json");
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, content_type)],
            self.texts().1,
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge() {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        // An auth failure must never be cached by a proxy and replayed to someone else.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Why a guard or key source could not be built. Raised at start-up, never per request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No HS256 secret was given.
    #[error("at least one HS256 secret is required")]
    NoSecret,
    /// An HS256 secret is shorter than [`tessera_jwt::MIN_HMAC_SECRET_BYTES`] (RFC 8725 §3.5).
    #[error("HS256 secrets must be at least {min} bytes long", min = tessera_jwt::MIN_HMAC_SECRET_BYTES)]
    WeakSecret,
    /// A static key set has no key the guard can use.
    #[error("the key set has no usable key")]
    NoUsableKey,
    /// A static key set is not valid JWKS JSON.
    #[error("invalid JWKS document: {0}")]
    InvalidJwks(String),
    /// The JWKS URL is not an absolute URL, or is plain http to a non-loopback host without
    /// explicit permission.
    #[error("invalid JWKS URL: {0}")]
    InvalidUrl(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
    /// The revocation feed URL is not an absolute URL, or is plain http to a non-loopback host
    /// without explicit permission.
    #[error("invalid revocation feed URL: {0}")]
    InvalidFeedUrl(String),
    /// The Redis URL is malformed.
    #[error("Redis: {0}")]
    Redis(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_body_is_the_fastapi_detail_object_with_its_message() {
        for error in [
            GuardError::MissingHeader,
            GuardError::InvalidScheme,
            GuardError::InvalidToken,
            GuardError::Forbidden,
            GuardError::NotConfigured,
        ] {
            let body: serde_json::Value = serde_json::from_str(error.texts().1).unwrap();
            assert_eq!(body, serde_json::json!({ "detail": error.to_string() }));
        }
    }
}
