//! The verification token: a stateless HS256 JWT over the server secret, as Better Auth 1.7.25
//! mints it (`createEmailVerificationToken`): header `{"alg":"HS256"}`, payload
//! `{"email","userId","iat","exp"}` in that order. Nothing is stored, so a link stays valid
//! until `exp` however often it is followed; following it again is harmless (already verified).

use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tessera_jwt::{Algorithm, JwtError, KeyRing, SigningKey, Validation, VerifyingKey};

use crate::secret::Secret;

/// The payload, fields in the order jose serialises Better Auth's object literal.
#[derive(Serialize)]
struct VerificationClaims<'a> {
    email: &'a str,
    #[serde(rename = "userId")]
    user_id: &'a str,
    iat: i64,
    exp: i64,
}

/// Mints the token for `email` (lower-cased) of user `user_id`, issued at `now_unix`, valid for
/// `expires_in` seconds.
pub(super) fn mint(
    secret: &Secret,
    email: &str,
    user_id: &str,
    now_unix: i64,
    expires_in: u32,
) -> Result<String, JwtError> {
    let email = email.to_lowercase();
    let claims = VerificationClaims {
        email: &email,
        user_id,
        iat: now_unix,
        exp: now_unix + i64::from(expires_in),
    };
    SigningKey::hmac_alg_only(secret.expose().as_bytes()).sign(&claims)
}

/// Why a token was refused, as Better Auth's codes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenRefused {
    /// `exp` has passed (`TOKEN_EXPIRED`).
    Expired,
    /// Anything else: bad signature, wrong algorithm, malformed, a claim of the wrong type, or
    /// an email-change token (`INVALID_TOKEN`).
    Invalid,
}

/// What a valid token names.
#[derive(Debug)]
pub(super) struct VerifiedLink {
    /// The address to mark verified.
    pub email: String,
    /// The user it was minted for (Better Auth 1.7.25 always adds it; older tokens lack it).
    pub user_id: Option<String>,
}

impl VerifiedLink {
    /// Whether the token names no user, or names `id` (compared in constant time, like every
    /// token-derived comparison).
    pub fn is_for(&self, id: &str) -> bool {
        self.user_id
            .as_deref()
            .is_none_or(|claimed| bool::from(claimed.as_bytes().ct_eq(id.as_bytes())))
    }
}

/// Checks `token` against the current secret at `now_unix`, as Better Auth's
/// `jwtVerify(token, secret, {algorithms: ["HS256"]})` does: only the current secret signs
/// these tokens, so only it verifies them. The signature is checked (in constant time, by ring)
/// before any claim is read.
pub(super) fn check(
    secret: &Secret,
    token: &str,
    now_unix: i64,
) -> Result<VerifiedLink, TokenRefused> {
    let ring = KeyRing::new(vec![VerifyingKey::hmac(None, secret.expose().as_bytes())]);
    let validation = Validation::new([Algorithm::HS256]).without_subject();
    let verified =
        tessera_jwt::verify(token, &ring, &validation, now_unix).map_err(|e| match e {
            JwtError::Expired => TokenRefused::Expired,
            _ => TokenRefused::Invalid,
        })?;
    let claims = verified.claims.raw();
    // Email-change tokens (`updateTo`) belong to change-email, which Tessera does not serve:
    // refused rather than read as a plain verification of the old address.
    if claims.contains_key("updateTo") {
        return Err(TokenRefused::Invalid);
    }
    let email = match claims.get("email") {
        Some(Value::String(email)) if crate::domain::Email::parse(email).is_some() => email.clone(),
        _ => return Err(TokenRefused::Invalid),
    };
    let user_id = match claims.get("userId") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(TokenRefused::Invalid),
    };
    Ok(VerifiedLink { email, user_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minted by jose 6 as Better Auth 1.7.25's `createEmailVerificationToken` does, over this
    /// secret, for `ada@example.com` / `user-1`, `iat` 1700000000, `expiresIn` 3600.
    const JOSE_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJlbWFpbCI6ImFkYUBleGFtcGxlLmNvbSIsInVzZXJJZCI6InVzZXItMSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwfQ.egHIz-3tZBNJSl-WRCnEtanTqLFA2CXEAqNfixKZ0ds";

    fn secret() -> Secret {
        Secret::new("better-auth-secret-for-tests-0123456789")
    }

    #[test]
    fn the_token_is_better_auths_byte_for_byte_with_the_address_lower_cased() {
        let token = mint(&secret(), "Ada@Example.COM", "user-1", 1_700_000_000, 3600).unwrap();
        assert_eq!(token, JOSE_TOKEN);
    }

    #[test]
    fn a_token_is_valid_until_the_second_of_exp_and_names_its_user() {
        let link = check(&secret(), JOSE_TOKEN, 1_700_003_599).unwrap();
        assert_eq!(link.email, "ada@example.com");
        assert!(link.is_for("user-1") && !link.is_for("user-2"));
        assert_eq!(
            check(&secret(), JOSE_TOKEN, 1_700_003_600).unwrap_err(),
            TokenRefused::Expired
        );
        let other = Secret::new("another-secret-entirely-0123456789abcdef");
        assert_eq!(
            check(&other, JOSE_TOKEN, 1_700_000_001).unwrap_err(),
            TokenRefused::Invalid
        );
    }
}
