//! TOTP as Better Auth's `createOTP` computes it (RFC 6238: HMAC-SHA-1, the secret's UTF-8
//! bytes as the key, a window of one step either side), through the `totp-rs` crate, and the
//! `otpauth://` URI authenticator apps read.

use totp_rs::{Algorithm, Builder, Secret, Totp};
use url::form_urlencoded;

use crate::cookies::encode_value;

/// Stored secrets of accounts imported from another provider carry this prefix and their
/// Base32 text (Better Auth's `BASE32_PREFIX`); generated ones are used as their bytes.
const BASE32_PREFIX: &str = "base32:";

/// A user's TOTP generator: `digits` digits, `period`-second steps, one step of skew.
pub(crate) struct UserTotp(Totp);

impl UserTotp {
    /// The generator for a decrypted secret (`base32:` secrets decoded first). `None` for a
    /// `base32:` secret that is not Base32.
    pub(crate) fn new(decrypted: &str, digits: u8, period: u64) -> Option<Self> {
        let key = match decrypted.strip_prefix(BASE32_PREFIX) {
            Some(encoded) => Secret::try_from_base32(encoded.to_uppercase()).ok()?,
            None => Secret::from(decrypted.as_bytes().to_vec()),
        };
        // Non-compliant only in not insisting on 128 bits: an imported secret may be shorter,
        // and Better Auth accepts it.
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(digits)
            .with_skew(1)
            .with_step_duration(period)
            .with_secret(key)
            .build_noncompliant();
        Some(Self(totp))
    }

    /// The time step `code` is valid for at `now_secs` (this step or one either side), if any.
    /// The comparison is constant-time (`totp_rs::Token`).
    pub(crate) fn check(&self, code: &str, now_secs: u64) -> Option<u64> {
        self.0.check(code, now_secs)
    }

    /// The code at `now_secs`.
    #[cfg(test)]
    pub(crate) fn generate(&self, now_secs: u64) -> String {
        self.0.generate(now_secs).to_string()
    }

    /// Better Auth's URI, byte for byte: `otpauth://totp/<encodeURIComponent(issuer)>:
    /// <encodeURIComponent(account)>?secret=<Base32, unpadded>&issuer=…&digits=…&period=…`, the
    /// query form-encoded as `URLSearchParams` does.
    pub(crate) fn uri(&self, issuer: &str, account: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("secret", &self.0.secret().to_base32())
            .append_pair("issuer", issuer)
            .append_pair("digits", &self.0.digits().to_string())
            .append_pair("period", &self.0.step().to_string())
            .finish();
        format!(
            "otpauth://totp/{}:{}?{query}",
            encode_value(issuer),
            encode_value(account)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the key is the ASCII of "12345678901234567890", eight
    /// digits, 30-second steps.
    #[test]
    fn the_rfc_6238_sha1_test_vectors_reproduce() {
        let totp = UserTotp::new("12345678901234567890", 8, 30).unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time), code, "at {time}");
            assert_eq!(totp.check(code, time), Some(time / 30));
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let totp = UserTotp::new("abcdefghijklmnopqrstuvwxyz012345", 6, 30).unwrap();
        let code = totp.generate(3_000);
        assert_eq!(totp.check(&code, 3_000 - 30), Some(100));
        assert_eq!(totp.check(&code, 3_000 + 59), Some(100));
        assert_eq!(totp.check(&code, 3_000 - 31), None);
        assert_eq!(totp.check(&code, 3_000 + 60), None);
        assert_eq!(totp.check(&format!(" {code}"), 3_000), None);
        assert_eq!(totp.check("", 3_000), None);
    }

    #[test]
    fn the_uri_is_better_auths_byte_for_byte() {
        // The secret and URI Better Auth 1.7.25's enable answered with in a probe.
        let totp = UserTotp::new("3Ndh8GDWk8m4GNTcwds-aOmwj7E95H6j", 6, 30).unwrap();
        assert_eq!(
            totp.uri("Better Auth", "a@example.com"),
            "otpauth://totp/Better%20Auth:a%40example.com?secret=GNHGI2BYI5CFO2ZYNU2EOTSUMN3WI4ZNMFHW253KG5CTSNKIGZVA&issuer=Better+Auth&digits=6&period=30"
        );
    }

    #[test]
    fn an_imported_base32_secret_is_decoded_before_use() {
        let imported = UserTotp::new("base32:gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 6, 30).unwrap();
        let plain = UserTotp::new("12345678901234567890", 6, 30).unwrap();
        assert_eq!(imported.generate(59), plain.generate(59));
        assert!(UserTotp::new("base32:not base32!", 6, 30).is_none());
    }
}
