//! Better Auth's session cookies: names, signed values and `Set-Cookie` serialisation
//! (docs/better-auth-protocol.md §2) byte for byte, so cookies work in Better Auth and Tessera.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use ring::hmac;

use crate::secret::Secret;

/// The characters JavaScript's `encodeURIComponent` leaves alone are `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
pub(crate) const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Standard base64 (with padding) of HMAC-SHA256 over the value: better-call's cookie signature.
pub fn signature(secret: &Secret, value: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    STANDARD.encode(hmac::sign(&key, value.as_bytes()).as_ref())
}

/// `value.signature`, not yet percent-encoded: what `set-auth-token` carries.
pub fn signed_value(secret: &Secret, value: &str) -> String {
    format!("{value}.{}", signature(secret, value))
}

/// Splits a decoded `value.signature` and checks the signature against each secret in turn.
///
/// Like better-call, the signature must be 44 characters ending in `=`; anything else counts as
/// no cookie at all. The comparison is constant-time (`ring::hmac::verify`).
pub fn verify_signed<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    signed: &str,
) -> Option<String> {
    let (value, sig) = signed.rsplit_once('.')?;
    if sig.len() != 44 || !sig.ends_with('=') {
        return None;
    }
    // Better Auth's decoder takes both alphabets; normalise URL-safe to standard.
    let sig = sig.replace('-', "+").replace('_', "/");
    let sig = STANDARD.decode(sig).ok()?;
    secrets.into_iter().find_map(|secret| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        hmac::verify(&key, value.as_bytes(), &sig)
            .ok()
            .map(|()| value.to_owned())
    })
}

/// Percent-encodes a cookie value the way `encodeURIComponent` does.
pub fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, URI_COMPONENT).to_string()
}

/// Finds a cookie in a `Cookie` header: first occurrence wins, the value is percent-decoded and
/// surrounding double quotes are stripped (better-call's parser).
pub fn find_cookie(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim() != name {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        percent_decode_str(value)
            .decode_utf8()
            .ok()
            .map(|v| v.into_owned())
    })
}

/// Cookie names for one deployment: `better-auth.*`, with `__Secure-` when served over https.
#[derive(Clone, Debug)]
pub struct CookieNames {
    /// The session pointer.
    pub session_token: String,
    /// Better Auth's optional cookie cache; Tessera never sets it but clears it on sign-out.
    pub session_data: String,
    /// Marks a `rememberMe: false` session.
    pub dont_remember: String,
    prefix: &'static str,
    /// Binds an OAuth sign-in to the browser that started it: the `state`, signed (Better
    /// Auth's `state` cookie, five minutes).
    pub oauth_state: String,
    /// The twoFactor plugin's pending sign-in (a signed challenge id).
    pub two_factor: String,
    /// The twoFactor plugin's trusted device (a signed `<hmac>!<identifier>`).
    pub trust_device: String,
    secure: bool,
}

impl CookieNames {
    /// Names for the `better-auth` prefix; `secure` adds `__Secure-` and the `Secure` attribute,
    /// `host_only` (with `secure`) uses `__Host-` instead: the browser then refuses the cookie
    /// unless it is `Secure`, has `Path=/` and no `Domain`, so no sibling subdomain can plant or
    /// overwrite it (session fixation across subdomains).
    pub fn new(secure: bool, host_only: bool) -> Self {
        let prefix = match (secure, host_only) {
            (true, true) => "__Host-better-auth",
            (true, false) => "__Secure-better-auth",
            (false, _) => "better-auth",
        };
        Self {
            session_token: format!("{prefix}.session_token"),
            session_data: format!("{prefix}.session_data"),
            dont_remember: format!("{prefix}.dont_remember"),
            prefix,
            oauth_state: format!("{prefix}.state"),
            two_factor: format!("{prefix}.two_factor"),
            trust_device: format!("{prefix}.trust_device"),
            secure,
        }
    }

    /// Another of Better Auth's cookies (`createAuthCookie`): `name` after this deployment's
    /// prefix, e.g. `better-auth.better-auth-passkey`.
    pub fn named(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    /// Whether cookies carry the `Secure` attribute.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// A `Set-Cookie` value in better-call's attribute order:
    /// `name=value; Max-Age=N; Path=/; HttpOnly; Secure; SameSite=Lax`.
    pub fn set_cookie(&self, name: &str, encoded_value: &str, max_age: Option<i64>) -> String {
        let mut out = format!("{name}={encoded_value}");
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out.push_str("; Path=/; HttpOnly");
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; SameSite=Lax");
        out
    }

    /// Expires a cookie: same name and attributes, empty value, `Max-Age=0`.
    pub fn expire(&self, name: &str) -> String {
        self.set_cookie(name, "", Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_cookie_test_vector_reproduces() {
        let secret = Secret::new("test-secret-0123456789abcdef0123456789abcdef");
        let token = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6";
        assert_eq!(
            signature(&secret, token),
            "4EVOSu3QCIyb9JZWtRME3Zmnms+bbfzEswmQQjx1QSw="
        );
        assert_eq!(
            encode_value(&signed_value(&secret, token)),
            "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6.4EVOSu3QCIyb9JZWtRME3Zmnms%2BbbfzEswmQQjx1QSw%3D"
        );
    }

    #[test]
    fn a_signed_cookie_verifies_only_with_its_secret() {
        let secret = Secret::new("s".repeat(32));
        let other = Secret::new("o".repeat(32));
        let signed = signed_value(&secret, "tok");
        assert_eq!(verify_signed([&secret], &signed).as_deref(), Some("tok"));
        assert_eq!(verify_signed([&other], &signed), None);
        assert_eq!(
            verify_signed([&other, &secret], &signed).as_deref(),
            Some("tok")
        );
        assert_eq!(verify_signed([&secret], "tok"), None);
        assert_eq!(verify_signed([&secret], "tok.short="), None);
        let tampered = signed.replacen("tok", "tol", 1);
        assert_eq!(verify_signed([&secret], &tampered), None);
    }

    #[test]
    fn the_first_cookie_of_a_name_wins_and_is_percent_decoded() {
        let header = "a=1; better-auth.session_token=x.y%3D; better-auth.session_token=z";
        assert_eq!(
            find_cookie(header, "better-auth.session_token").as_deref(),
            Some("x.y=")
        );
        assert_eq!(find_cookie("k=\"quoted\"", "k").as_deref(), Some("quoted"));
        assert_eq!(find_cookie("a=1", "b"), None);
    }

    #[test]
    fn set_cookie_follows_better_calls_attribute_order() {
        let plain = CookieNames::new(false, false);
        assert_eq!(
            plain.set_cookie(&plain.session_token, "v", Some(604800)),
            "better-auth.session_token=v; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
        let host = CookieNames::new(true, true);
        assert_eq!(
            host.set_cookie(&host.session_token, "v", None),
            "__Host-better-auth.session_token=v; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        let secure = CookieNames::new(true, false);
        assert_eq!(
            secure.expire(&secure.session_token),
            "__Secure-better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
    }
}
