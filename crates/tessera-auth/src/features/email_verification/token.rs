//! The verification token: a stateless HS256 JWT over the server secret, as Better Auth 1.7.25
//! mints it (`createEmailVerificationToken`): header `{"alg":"HS256"}`, payload
//! `{"email","userId","iat","exp"}` in that order, or, for an email change,
//! `{"email","updateTo","requestType","userId","iat","exp"}`. Nothing is stored, so a link
//! stays valid until `exp` however often it is followed; following a verification link again
//! is harmless (already verified), and an email-change link again finds the address moved.

use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tessera_jwt::{Algorithm, JwtError, KeyRing, SigningKey, Validation, VerifyingKey};

use crate::secret::Secret;

/// The payload, fields in the order jose serialises Better Auth's object literal
/// (`{email, updateTo, ...extraPayload}`, `undefined` members dropped).
#[derive(Serialize)]
struct VerificationClaims<'a> {
    email: &'a str,
    #[serde(rename = "updateTo", skip_serializing_if = "Option::is_none")]
    update_to: Option<&'a str>,
    #[serde(rename = "requestType", skip_serializing_if = "Option::is_none")]
    request_type: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: &'a str,
    iat: i64,
    exp: i64,
}

/// Which step of an email change a token is for (Better Auth's `requestType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeStep {
    /// Mailed to the current address: following it mails the new address its link.
    Confirmation,
    /// Mailed to the new address: following it moves the account there.
    Verification,
}

impl ChangeStep {
    fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "change-email-confirmation",
            Self::Verification => "change-email-verification",
        }
    }
}

/// What a token is minted for, besides its address and user.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EmailChange<'a> {
    /// The new address (`updateTo`, lower-cased).
    pub update_to: &'a str,
    /// The step (`requestType`).
    pub step: ChangeStep,
}

/// Mints the token for `email` (lower-cased) of user `user_id`, issued at `now_unix`, valid for
/// `expires_in` seconds; with `change`, an email-change token.
pub(crate) fn mint(
    secret: &Secret,
    email: &str,
    user_id: &str,
    change: Option<EmailChange<'_>>,
    now_unix: i64,
    expires_in: u32,
) -> Result<String, JwtError> {
    let email = email.to_lowercase();
    let update_to = change.map(|c| c.update_to.to_lowercase());
    let claims = VerificationClaims {
        email: &email,
        update_to: update_to.as_deref(),
        request_type: change.map(|c| c.step.as_str()),
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
    /// Anything else: bad signature, wrong algorithm, malformed, or a claim of the wrong type
    /// (`INVALID_TOKEN`).
    Invalid,
}

/// What a valid token names.
#[derive(Debug)]
pub(super) struct VerifiedLink {
    /// The address to mark verified.
    pub email: String,
    /// The user it was minted for (Better Auth 1.7.25 always adds it; older tokens lack it).
    pub user_id: Option<String>,
    /// An email-change token's new address (`updateTo`).
    pub update_to: Option<String>,
    /// An email-change token's `requestType`, as minted (any other value, or none, is Better
    /// Auth's legacy one-step change).
    pub request_type: Option<String>,
}

impl VerifiedLink {
    /// The email-change step the token names, if it names a known one.
    pub fn change_step(&self) -> Option<ChangeStep> {
        match self.request_type.as_deref() {
            Some("change-email-confirmation") => Some(ChangeStep::Confirmation),
            Some("change-email-verification") => Some(ChangeStep::Verification),
            _ => None,
        }
    }
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
pub(crate) fn check(
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
    let email = match claims.get("email") {
        Some(Value::String(email)) if crate::domain::Email::parse(email).is_some() => email.clone(),
        _ => return Err(TokenRefused::Invalid),
    };
    let user_id = match claims.get("userId") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(TokenRefused::Invalid),
    };
    let optional = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(TokenRefused::Invalid),
    };
    // Better Auth takes any string as `updateTo`; an address is required here, since it is
    // about to be stored.
    let update_to = optional("updateTo")?;
    if update_to
        .as_deref()
        .is_some_and(|to| crate::domain::Email::parse(to).is_none())
    {
        return Err(TokenRefused::Invalid);
    }
    Ok(VerifiedLink {
        email,
        user_id,
        update_to,
        request_type: optional("requestType")?,
    })
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
        let token = mint(
            &secret(),
            "Ada@Example.COM",
            "user-1",
            None,
            1_700_000_000,
            3600,
        )
        .unwrap();
        assert_eq!(token, JOSE_TOKEN);
    }

    #[test]
    fn an_email_change_token_carries_update_to_and_request_type_in_better_auths_order() {
        let change = EmailChange {
            update_to: "New@Example.com",
            step: ChangeStep::Confirmation,
        };
        let token = mint(
            &secret(),
            "ada@example.com",
            "user-1",
            Some(change),
            1_700_000_000,
            3600,
        )
        .unwrap();
        let link = check(&secret(), &token, 1_700_000_001).unwrap();
        assert_eq!(link.update_to.as_deref(), Some("new@example.com"));
        assert_eq!(link.change_step(), Some(ChangeStep::Confirmation));
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            r#"{"email":"ada@example.com","updateTo":"new@example.com","requestType":"change-email-confirmation","userId":"user-1","iat":1700000000,"exp":1700003600}"#
        );
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
