//! Better Auth's passkey plugin (`@better-auth/passkey`, WebAuthn): registration and
//! authentication options and verification, and the user's list, rename and delete. Passkeys are
//! Better Auth's `passkey` rows and a ceremony's challenge a `verification` row named by a signed
//! cookie, so a Better Auth database with passkeys is adopted in place. The WebAuthn checks are
//! webauthn-rs's ([`ceremony`]).

pub mod ceremony;
mod manage;
mod options;
mod settings;
mod store;
mod verify;

use axum::Router;
use axum::http::HeaderMap;
use url::Url;

use super::Feature;
use crate::config::AuthConfig;
use crate::cookies::{encode_value, find_cookie, signed_value, verify_signed};
use crate::error::ApiError;
use crate::session::cookie_header;
use crate::state::AuthState;

pub use ceremony::Ceremony;
pub use settings::{DEFAULT_RP_NAME, PasskeySettings};
pub(crate) use store::delegate_passkey_store;
pub use store::{Passkey, PasskeyStore};

/// The challenge cookie's name after the `better-auth` prefix (the plugin's
/// `advanced.webAuthnChallengeCookie`).
const CHALLENGE_COOKIE: &str = "better-auth-passkey";

/// How long a ceremony's challenge lives, cookie and row: the plugin's `MAX_AGE_IN_SECONDS`.
const CHALLENGE_MAX_AGE_SECS: i64 = 300;

/// The passkey feature.
pub(crate) struct Passkeys;

impl Feature for Passkeys {
    fn routes(&self) -> Router<AuthState> {
        options::router()
            .merge(verify::router())
            .merge(manage::router())
    }

    fn login_paths(&self) -> &'static [&'static str] {
        &["/passkey/verify-authentication"]
    }

    fn enabled(&self, config: &AuthConfig) -> bool {
        config.passkey.enabled
    }
}

/// The passkey feature's part of [`AuthState`]: the relying party, when the feature is on.
#[derive(Debug)]
pub struct PasskeyState {
    ceremony: Option<Ceremony>,
}

impl PasskeyState {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        let settings = &config.passkey;
        if !settings.enabled {
            return Self { ceremony: None };
        }
        let origin = settings.origin.as_deref().unwrap_or(&config.base_origin);
        let ceremony = match Url::parse(origin) {
            Ok(origin) => {
                let rp_id = settings
                    .rp_id
                    .clone()
                    .or_else(|| origin.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".to_owned());
                let rp_name = settings.rp_name.as_deref().unwrap_or(DEFAULT_RP_NAME);
                Some(Ceremony::new(&rp_id, rp_name, &origin))
            }
            Err(error) => {
                // Fail closed: the settings parser refuses this before the server starts.
                tracing::error!(%error, "passkey origin is not a URL; passkeys are off");
                None
            }
        };
        Self { ceremony }
    }

    /// The relying party. The routes are mounted only when passkeys are on, so it is missing
    /// only when the origin setting was not a URL (which the settings parser refuses).
    fn ceremony(&self) -> Result<&Ceremony, ApiError> {
        self.ceremony.as_ref().ok_or_else(ApiError::unavailable)
    }
}

impl AuthState {
    /// The challenge cookie's name for this deployment.
    fn challenge_cookie_name(&self) -> String {
        self.cookies.named(CHALLENGE_COOKIE)
    }

    /// `Set-Cookie` for a ceremony's challenge: the verification row's identifier, signed.
    fn challenge_cookie(&self, identifier: &str) -> String {
        let secret = &self.config.secrets.current().secret;
        let value = encode_value(&signed_value(secret, identifier));
        self.cookies.set_cookie(
            &self.challenge_cookie_name(),
            &value,
            Some(CHALLENGE_MAX_AGE_SECS),
        )
    }

    /// The identifier the request's challenge cookie names, if its signature holds.
    fn challenge_identifier(&self, headers: &HeaderMap) -> Option<String> {
        let signed = find_cookie(&cookie_header(headers), &self.challenge_cookie_name())?;
        verify_signed(self.config.secrets.all().map(|s| &s.secret), &signed)
    }
}

/// The plugin's error codes, byte for byte.
mod codes {
    crate::error::codes::better_auth_errors! {
        challenge_not_found => BAD_REQUEST, "CHALLENGE_NOT_FOUND", "Challenge not found";
        not_allowed_to_register => UNAUTHORIZED, "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY", "You are not allowed to register this passkey";
        failed_to_verify_registration => BAD_REQUEST, "FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration";
        passkey_not_found => NOT_FOUND, "PASSKEY_NOT_FOUND", "Passkey not found";
        authentication_failed => BAD_REQUEST, "AUTHENTICATION_FAILED", "Authentication failed";
    }
}
