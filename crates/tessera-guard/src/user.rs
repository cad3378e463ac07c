//! [`AuthUser`]: who a verified token says the caller is.

use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_jwt::VerifiedToken;

use crate::GuardError;

/// The caller, as established by a verified bearer token.
///
/// There is no public constructor: an `AuthUser` only ever comes out of [`crate::Guard`]
/// verification, so holding one proves the token checked out. Cloning is a reference-count
/// increment: the verified-token cache hands the same user to every request carrying the token.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser(Arc<Verified>);

#[derive(Debug, PartialEq)]
struct Verified {
    user_id: String,
    email: Option<String>,
    claims: Map<String, Value>,
}

impl AuthUser {
    pub(crate) fn from_verified(token: VerifiedToken) -> Self {
        let user_id = token.claims.sub().to_owned();
        let email = token.claims.email().map(str::to_owned);
        Self(Arc::new(Verified {
            user_id,
            email,
            claims: token.claims.into_raw(),
        }))
    }

    /// The user id: the token's `sub`, never empty.
    pub fn user_id(&self) -> &str {
        &self.0.user_id
    }

    /// The `email` claim, if the token carries one as a string.
    pub fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Every claim of the token, as signed.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    /// The `sid` claim: the auth server session the token was minted for (Tessera's tokens
    /// carry it; Better Auth's do not).
    pub fn session_id(&self) -> Option<&str> {
        self.0.claims.get("sid").and_then(Value::as_str)
    }

    /// One claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }

    /// Succeeds only if `user_id` (typically the `{user_id}` of the request path) is the
    /// token's subject; otherwise [`GuardError::Forbidden`] (403 `Cannot access other user's
    /// data`).
    pub fn ensure_same_user(&self, user_id: &str) -> Result<(), GuardError> {
        if self.0.user_id == user_id {
            Ok(())
        } else {
            Err(GuardError::Forbidden)
        }
    }
}
