//! Better Auth's OAuth state (its `database` strategy): a random `state` sent to the provider,
//! its data in a `verification` row `auth-state:<state>` for ten minutes, and the same `state`
//! in a signed cookie for five, so a callback is honoured only once, only soon, and only in the
//! browser that started the sign-in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How long a state row is honoured, in milliseconds (Better Auth's `expiresAt`, 10 minutes).
pub(super) const STATE_LIFETIME_MS: i64 = 600_000;
/// `Max-Age` of the state cookie, in seconds (Better Auth's 5 minutes).
pub(super) const STATE_COOKIE_MAX_AGE: i64 = 300;

/// The `verification` row identifier of `state`.
pub(super) fn state_identifier(state: &str) -> String {
    format!("auth-state:{state}")
}

/// The keys Better Auth's state schema owns; an `additionalData` key of the same name is
/// dropped rather than written twice.
const INTERNAL_KEYS: [&str; 11] = [
    "callbackURL",
    "codeVerifier",
    "errorURL",
    "newUserURL",
    "expiresAt",
    "oauthState",
    "link",
    "requestSignUp",
    "idTokenNonce",
    "serverContext",
    "additionalData",
];

/// A state row's value, Better Auth's JSON (`additionalData`'s members first, then its own).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StateData {
    /// `additionalData` from the sign-in request: the client's, never trusted.
    #[serde(flatten)]
    pub additional: Map<String, Value>,
    /// Where the callback sends the user when signed in.
    #[serde(rename = "callbackURL")]
    pub callback_url: String,
    /// The PKCE code verifier.
    #[serde(rename = "codeVerifier")]
    pub code_verifier: String,
    /// Where failures go (the default error page when absent).
    #[serde(rename = "errorURL", default, skip_serializing_if = "Option::is_none")]
    pub error_url: Option<String>,
    /// Where a newly created user goes instead of `callbackURL`.
    #[serde(
        rename = "newUserURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub new_user_url: Option<String>,
    /// Better Auth's account-linking flow (`/link-social`); Tessera does not start one yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Value>,
    /// When the state expires, in Unix milliseconds.
    #[serde(rename = "expiresAt")]
    pub expires_at: i64,
    /// `requestSignUp` from the sign-in request.
    #[serde(
        rename = "requestSignUp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_sign_up: Option<bool>,
    /// The nonce the ID token must carry.
    #[serde(
        rename = "idTokenNonce",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub id_token_nonce: Option<String>,
    /// The `state` itself, so a row cannot answer for another state.
    #[serde(
        rename = "oauthState",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_state: Option<String>,
}

impl StateData {
    /// Drops the client's keys that would shadow the state's own.
    pub(super) fn without_internal_keys(mut additional: Map<String, Value>) -> Map<String, Value> {
        additional.retain(|key, _| !INTERNAL_KEYS.contains(&key.as_str()));
        additional
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_better_auth_state_row_reads_and_keeps_its_extra_members() {
        let row = r#"{"theme":"dark","callbackURL":"/tasks","codeVerifier":"v","errorURL":"/e",
            "expiresAt":1796346645000,"idTokenNonce":"n","oauthState":"s"}"#;
        let data: StateData = serde_json::from_str(row).unwrap();
        assert_eq!(data.callback_url, "/tasks");
        assert_eq!(data.id_token_nonce.as_deref(), Some("n"));
        assert_eq!(data.additional.get("theme"), Some(&Value::from("dark")));
        assert!(data.new_user_url.is_none());
        let written = serde_json::to_string(&data).unwrap();
        assert!(
            written.starts_with(r#"{"theme":"dark","callbackURL":"/tasks""#),
            "{written}"
        );
    }
}
