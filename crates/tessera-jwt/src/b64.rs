//! Strict base64url (RFC 7515 §2: URL-safe alphabet, no padding, no whitespace).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::JwtError;

/// Encodes bytes as base64url without padding.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url. The engine rejects `=`, `+`, `/`, whitespace and non-canonical trailing
/// bits, so every byte string has exactly one accepted encoding (no malleable tokens).
pub(crate) fn decode(text: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwtError::Malformed(what))
}

/// True if every byte is in the base64url alphabet. Used to reject a token up front, before
/// anything is decoded or parsed.
pub(crate) fn is_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_rejects_padding_standard_alphabet_whitespace_and_trailing_bits() {
        assert_eq!(decode("AQAB", "x").unwrap(), vec![1, 0, 1]);
        for bad in ["AQ==", "AQ=", "a+b/", "AQ AB", "AQAB\n", "A", "AR"] {
            assert_eq!(decode(bad, "x"), Err(JwtError::Malformed("x")), "{bad:?}");
        }
    }

    #[test]
    fn the_alphabet_check_accepts_only_url_safe_characters() {
        assert!(is_alphabet("abcXYZ019-_"));
        assert!(is_alphabet(""));
        for bad in ["a=", "a+", "a/", "a b", "é", "a.b"] {
            assert!(!is_alphabet(bad), "{bad:?}");
        }
    }
}
