//! Newtypes that parse: once a value has one of these types it is known to be valid.

use std::fmt;

use crate::error::{ApiError, codes};

/// A lower-cased email address accepted by zod 4's `z.email()` rule, which Better Auth uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses and lower-cases an address; `None` when zod would reject it.
    pub fn parse(raw: &str) -> Option<Self> {
        is_zod_email(raw).then(|| Self(raw.to_lowercase()))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// zod 4's email pattern, written out:
/// `^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`
fn is_zod_email(raw: &str) -> bool {
    let Some((local, domain)) = raw.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !raw.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_'+-.".contains(c))
        && local
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "_+-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, hosts)) = labels.split_last() else {
        return false;
    };
    let hosts_ok = !hosts.is_empty()
        && hosts.iter().all(|label| {
            label
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let tld_ok = tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic());
    local_ok && hosts_ok && tld_ok
}

/// A password whose length Better Auth accepts: 8 to 128 UTF-16 code units, as JavaScript counts.
///
/// `Debug` is redacted; the plain text only leaves through [`Password::expose`] into the hasher.
#[derive(Clone)]
pub struct Password(String);

/// Better Auth's default `minPasswordLength`.
pub const MIN_PASSWORD_LENGTH: usize = 8;
/// Better Auth's default `maxPasswordLength`.
pub const MAX_PASSWORD_LENGTH: usize = 128;

impl Password {
    /// Checks the length rule (Better Auth's own error codes) and refuses the most common
    /// passwords with the code of Better Auth's `haveIBeenPwned` plugin.
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        let units = raw.encode_utf16().count();
        if units < MIN_PASSWORD_LENGTH {
            return Err(codes::password_too_short());
        }
        if units > MAX_PASSWORD_LENGTH {
            return Err(codes::password_too_long());
        }
        if crate::common_passwords::is_common(&raw) {
            return Err(codes::password_compromised());
        }
        Ok(Self(raw))
    }

    /// Wraps a password typed by a user at sign-in, without the length rule: a stored hash
    /// decides, and a too-long input must still cost a hash so timing reveals nothing.
    pub fn candidate(raw: String) -> Self {
        Self(raw)
    }

    /// The plain text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked_like_zod() {
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().as_str(),
            "ada@example.com"
        );
        for good in ["a@b.co", "first.last+tag@sub.example.org", "o'brien@x-y.io"] {
            assert!(Email::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@b.co",
            "a@b",
            "a@b.c",
            ".a@b.co",
            "a..b@c.co",
            "a.@b.co",
            "a@-b.co",
            "a@b.c0",
            "a b@c.co",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn password_length_is_counted_in_utf16_units() {
        assert_eq!(
            Password::parse("1234567".into()).unwrap_err().code(),
            Some("PASSWORD_TOO_SHORT")
        );
        assert!(Password::parse("zq8-xw2p".into()).is_ok());
        assert_eq!(
            Password::parse("12345678".into()).unwrap_err().code(),
            Some("PASSWORD_COMPROMISED")
        );
        // Four astral-plane characters are eight UTF-16 units, as JavaScript counts them.
        assert!(Password::parse("😀😀😀😀".into()).is_ok());
        assert_eq!(
            Password::parse("x".repeat(129)).unwrap_err().code(),
            Some("PASSWORD_TOO_LONG")
        );
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        assert_eq!(
            format!("{:?}", Password::candidate("hunter22".into())),
            "Password([redacted])"
        );
    }
}
