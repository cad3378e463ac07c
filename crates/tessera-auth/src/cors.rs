//! CORS for a frontend on another origin: trusted origins only, with credentials.
//!
//! Better Auth leaves CORS to its host framework; Tessera is the host, so it answers preflights
//! and echoes the exact trusted origin (never `*`, which browsers refuse with credentials).
//! `Access-Control-Expose-Headers` is set per response by the endpoints that send
//! `set-auth-token` / `set-auth-jwt`, as Better Auth's plugins do.

use std::time::Duration;

use axum::http::{Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::origin::TrustedOrigins;

/// A CORS layer admitting `trusted` origins with cookies and the `Authorization` header.
pub fn cors_layer(trusted: TrustedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| trusted.contains(o))
        }))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .max_age(Duration::from_secs(600))
}
