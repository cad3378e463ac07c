//! [`Claims`]: a verified claims set, and the registered-claim checks that produce it.

use serde_json::{Map, Number, Value};

use crate::{JwtError, Validation};

/// The claims of a token whose signature and registered claims have been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    sub: String,
    exp: i64,
    raw: Map<String, Value>,
}

impl Claims {
    /// The subject (Better Auth: the user id). A non-empty string, unless the validation was
    /// [`Validation::without_subject`] and the token has none (then empty).
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The expiry as Unix seconds (a fractional `exp` is rounded down).
    pub fn exp(&self) -> i64 {
        self.exp
    }

    /// `email`, if present as a string.
    pub fn email(&self) -> Option<&str> {
        self.string("email")
    }

    /// `sid` (session id), if present as a string.
    pub fn sid(&self) -> Option<&str> {
        self.string("sid")
    }

    /// `iss`, if present (it is always a string when present).
    pub fn iss(&self) -> Option<&str> {
        self.string("iss")
    }

    /// Every claim of the token, as signed.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Consumes the claims, returning every claim of the token.
    pub fn into_raw(self) -> Map<String, Value> {
        self.raw
    }

    fn string(&self, name: &str) -> Option<&str> {
        self.raw.get(name).and_then(Value::as_str)
    }

    /// Checks the registered claims of a signature-verified payload, in a fixed order: `exp`,
    /// `nbf`, `iat`, `iss`, `aud`, `sub` (unless not required). A claim of the wrong JSON type is an error, never
    /// "absent" (jsonwebtoken CVE-2026-25537 skipped checks that way).
    pub(crate) fn validate(
        raw: Map<String, Value>,
        v: &Validation,
        now: i64,
    ) -> Result<Self, JwtError> {
        let leeway = i128::from(v.effective_leeway());
        let now = i128::from(now);

        let exp = match raw.get("exp") {
            None => return Err(JwtError::MissingClaim("exp")),
            Some(Value::Number(n)) => seconds(n, Rounding::Down),
            Some(_) => return Err(JwtError::InvalidClaimType("exp")),
        };
        // RFC 7519 §4.1.4: the token must be rejected *at or after* exp.
        if now >= i128::from(exp) + leeway {
            return Err(JwtError::Expired);
        }

        match raw.get("nbf") {
            None => {}
            Some(Value::Number(n)) if i128::from(seconds(n, Rounding::Up)) > now + leeway => {
                return Err(JwtError::NotYetValid);
            }
            Some(Value::Number(_)) => {}
            Some(_) => return Err(JwtError::InvalidClaimType("nbf")),
        }

        if raw.get("iat").is_some_and(|iat| !iat.is_number()) {
            return Err(JwtError::InvalidClaimType("iat"));
        }

        let iss = match raw.get("iss") {
            None => None,
            Some(Value::String(iss)) => Some(iss.as_str()),
            Some(_) => return Err(JwtError::InvalidClaimType("iss")),
        };
        if let Some(allowed) = &v.issuers {
            let iss = iss.ok_or(JwtError::MissingClaim("iss"))?;
            // Exact equality; never substring or prefix (PyJWT CVE-2024-53861).
            if !allowed.iter().any(|a| a == iss) {
                return Err(JwtError::InvalidIssuer);
            }
        }

        let aud = audiences(raw.get("aud"))?;
        if let Some(allowed) = &v.audiences {
            let aud = aud.ok_or(JwtError::MissingClaim("aud"))?;
            if !aud.iter().any(|a| allowed.iter().any(|b| b == a)) {
                return Err(JwtError::InvalidAudience);
            }
        }

        let sub = match raw.get("sub") {
            None if !v.require_subject => String::new(),
            None => return Err(JwtError::MissingClaim("sub")),
            Some(Value::String(sub)) if sub.is_empty() && v.require_subject => {
                return Err(JwtError::MissingClaim("sub"));
            }
            Some(Value::String(sub)) => sub.clone(),
            Some(_) => return Err(JwtError::InvalidClaimType("sub")),
        };

        Ok(Self { sub, exp, raw })
    }
}

/// `aud` as a list: a string, or an array of strings (RFC 7519 §4.1.3).
fn audiences(aud: Option<&Value>) -> Result<Option<Vec<&str>>, JwtError> {
    match aud {
        None => Ok(None),
        Some(Value::String(one)) => Ok(Some(vec![one.as_str()])),
        Some(Value::Array(many)) => many
            .iter()
            .map(|a| a.as_str().ok_or(JwtError::InvalidClaimType("aud")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(JwtError::InvalidClaimType("aud")),
    }
}

/// Which way to round a fractional NumericDate: always towards "less valid".
#[derive(Clone, Copy)]
enum Rounding {
    /// For `exp`: a token expiring at 10.5 counts as expiring at 10.
    Down,
    /// For `nbf`: a token valid from 10.5 counts as valid from 11.
    Up,
}

/// A JSON number as whole Unix seconds, saturating at the `i64` range.
fn seconds(n: &Number, rounding: Rounding) -> i64 {
    if let Some(i) = n.as_i64() {
        return i;
    }
    if n.is_u64() {
        return i64::MAX;
    }
    // serde_json numbers are finite, so `as_f64` is always `Some`; if not, fail closed.
    match (n.as_f64(), rounding) {
        // `as` saturates, which is exactly the wanted behaviour for huge values.
        (Some(f), Rounding::Down) => f.floor() as i64,
        (Some(f), Rounding::Up) => f.ceil() as i64,
        (None, Rounding::Down) => i64::MIN,
        (None, Rounding::Up) => i64::MAX,
    }
}
