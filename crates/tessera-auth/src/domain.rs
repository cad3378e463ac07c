//! Newtypes that parse: once a value has one of these types it is known to be valid.

use std::fmt;

use crate::error::{ApiError, codes};

/// A lower-cased email address accepted by zod 4's `z.email()` rule, which Better Auth uses, and
/// at most [`MAX_EMAIL_LENGTH`] characters long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

/// The longest address SMTP can deliver to (RFC 5321's 256-octet path, less its angle
/// brackets). zod sets no limit; without one a 1 MiB address would be stored and copied into
/// every JWT.
pub const MAX_EMAIL_LENGTH: usize = 254;

impl Email {
    /// Parses and lower-cases an address; `None` when zod would reject it or it is too long.
    /// zod's rule admits ASCII letters, digits and `_'+-.@` only, so no control character (and
    /// no NUL, which PostgreSQL's `text` cannot hold) gets through.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() <= MAX_EMAIL_LENGTH && is_zod_email(raw)).then(|| Self(raw.to_lowercase()))
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

/// Why a text field was refused; `Display` is the message after zod's `[body.field] ` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Longer than the field allows, in UTF-16 code units as JavaScript (and zod) count.
    #[error("Too big: expected string to have <={max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A control character (C0, DEL or C1): PostgreSQL's `text` cannot hold NUL at all (the
    /// insert fails and the request became a 500), and the others only serve to forge lines
    /// in logs or hide text in what other users see.
    #[error("Invalid string: must not contain control characters")]
    ControlCharacter,
    /// Not an absolute `http`/`https` URL of plain URL characters (zod's `z.url()` wording).
    #[error("Invalid URL")]
    InvalidUrl,
}

/// A stored text field that parses from a JSON string (see [`crate::body::Fields::text`]).
pub trait TextField: Sized {
    /// Checks `raw`, keeping it as sent when it passes.
    fn parse(raw: &str) -> Result<Self, TextError>;
}

/// A user's display name: at most [`MAX_NAME_LENGTH`] UTF-16 code units, no control
/// characters; stored as sent (Better Auth does not trim either), and may be empty as there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserName(String);

/// The longest name, in UTF-16 code units (at most 768 bytes of UTF-8, so the user object
/// copied into every JWT stays small; see [`ImageUrl`]).
pub const MAX_NAME_LENGTH: usize = 256;

impl TextField for UserName {
    fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.encode_utf16().count() > MAX_NAME_LENGTH {
            return Err(TextError::TooLong {
                max: MAX_NAME_LENGTH,
            });
        }
        if raw.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl UserName {
    /// The name, for storage.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A user's picture: an absolute `http` or `https` URL with a host, of at most
/// [`MAX_IMAGE_LENGTH`] printable ASCII characters, stored as sent.
///
/// Better Auth takes any string. We refuse `data:` URLs (a picture inlined into every JWT
/// would outgrow the 8 KiB the guard accepts), other schemes (`javascript:` in an `<img src>`
/// or a link), and characters a URL never carries unencoded: controls, spaces, non-ASCII
/// (percent-encode it), `"` `<` `>` `\` and `` ` ``, which only serve to break out of an HTML
/// attribute or to be read differently by different URL parsers. With the name and email
/// limits this keeps a user's JWT under 5 KiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUrl(String);

/// The longest image URL, in characters (ASCII, so also bytes): what browsers and CDNs
/// reliably handle.
pub const MAX_IMAGE_LENGTH: usize = 2048;

impl TextField for ImageUrl {
    fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.encode_utf16().count() > MAX_IMAGE_LENGTH {
            return Err(TextError::TooLong {
                max: MAX_IMAGE_LENGTH,
            });
        }
        if raw.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        let plain = raw
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"<>\\`".contains(&b));
        let absolute_http = url::Url::parse(raw).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        });
        if !(plain && absolute_http) {
            return Err(TextError::InvalidUrl);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl ImageUrl {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, for storage.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password whose length Better Auth accepts: 8 to 128 UTF-16 code units, as JavaScript counts.
///
/// `Debug` is redacted; the plain text only leaves through [`Password::expose`] into the hasher.
/// Any character is allowed, controls and NUL included, as in Better Auth: a password is only
/// ever hashed, never stored or logged, so it cannot reach a `text` column.
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
    fn an_email_longer_than_smtp_can_deliver_is_refused() {
        let local = "a".repeat(64);
        let fits = format!("{local}@{}.co", "b".repeat(MAX_EMAIL_LENGTH - 68));
        assert_eq!(fits.len(), MAX_EMAIL_LENGTH);
        assert!(Email::parse(&fits).is_some());
        assert!(
            Email::parse(&format!(
                "{local}@b{}.co",
                "b".repeat(MAX_EMAIL_LENGTH - 68)
            ))
            .is_none()
        );
        assert!(Email::parse("a\u{0}@b.co").is_none());
    }

    #[test]
    fn names_are_limited_in_utf16_units_and_refuse_control_characters() {
        assert_eq!(UserName::parse("").unwrap().into_inner(), "");
        assert_eq!(
            UserName::parse(" Ada ").unwrap().into_inner(),
            " Ada ",
            "kept as sent"
        );
        assert!(UserName::parse(&"€".repeat(MAX_NAME_LENGTH)).is_ok());
        // 129 astral-plane characters are 258 UTF-16 units, as JavaScript counts them.
        assert_eq!(
            UserName::parse(&"😀".repeat(129)),
            Err(TextError::TooLong { max: 256 })
        );
        assert_eq!(
            UserName::parse(&"x".repeat(257)).unwrap_err().to_string(),
            "Too big: expected string to have <=256 characters"
        );
        for bad in [
            "a\u{0}b",
            "line\nbreak",
            "tab\t",
            "del\u{7f}",
            "c1\u{85}",
            "\u{9b}31m",
        ] {
            assert_eq!(
                UserName::parse(bad),
                Err(TextError::ControlCharacter),
                "{bad:?}"
            );
        }
        // Other invisible or bidirectional characters are not controls (category Cc) and pass.
        assert!(UserName::parse("Zoë \u{200d}\u{202e}").is_ok());
    }

    #[test]
    fn images_are_absolute_http_urls_of_plain_characters() {
        for good in [
            "https://img.example/a.png",
            "http://127.0.0.1:8080/a?b=c&d=%20e#f",
            "https://lh3.googleusercontent.com/a/ACg8ocJ=s96-c",
        ] {
            assert!(ImageUrl::parse(good).is_ok(), "{good}");
        }
        let long = format!("https://img.example/{}", "a".repeat(MAX_IMAGE_LENGTH - 20));
        assert_eq!(long.len(), MAX_IMAGE_LENGTH);
        assert!(ImageUrl::parse(&long).is_ok());
        assert_eq!(
            ImageUrl::parse(&format!("{long}a")),
            Err(TextError::TooLong { max: 2048 })
        );
        for bad in [
            "",
            "a.png",
            "/avatars/a.png",
            "//img.example/a.png",
            "data:image/png;base64,iVBORw0KGgo=",
            "javascript:alert(1)",
            "ftp://img.example/a.png",
            "https://",
            "https:\\\\evil.example/a.png",
            "https://img.example/a b.png",
            "https://img.example/\"onerror=\"x",
            "https://img.example/<script>",
            "https://bücher.example/a.png",
        ] {
            assert_eq!(ImageUrl::parse(bad), Err(TextError::InvalidUrl), "{bad:?}");
        }
        assert_eq!(
            ImageUrl::parse("https://img.example/a\u{0}.png"),
            Err(TextError::ControlCharacter)
        );
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
