//! The closed set of signature algorithms Tessera speaks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::JwtError;

/// A JWS signature algorithm. Closed on purpose: `none`, HS384/512, PS*, ES384/512, Ed448 do
/// not exist here, so they can never be selected by a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// EdDSA (RFC 8037), here only ever on Ed25519 keys. Better Auth's default.
    EdDSA,
    /// Ed25519 (RFC 9864 §2.2): the fully specified name of EdDSA on the Ed25519 curve, which
    /// RFC 9864 prefers to the polymorphic `EdDSA`. See [`Algorithm::same_scheme`].
    Ed25519,
    /// ECDSA on P-256 with SHA-256, signature in the JWS fixed 64-byte `r||s` form.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// HMAC-SHA-256 with a shared secret.
    HS256,
}

impl Algorithm {
    /// The JOSE name (`"EdDSA"`, `"Ed25519"`, `"ES256"`, `"RS256"`, `"HS256"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::Ed25519 => "Ed25519",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    /// Whether `self` and `other` name the same signature computation: equal, or `EdDSA` and
    /// `Ed25519`.
    ///
    /// RFC 8725 §3.1 binds each key to one algorithm so that an attacker who picks the header
    /// `alg` cannot make a key verify under a second, different computation (RSA vs HMAC key
    /// confusion, PS256 vs RS256 on one RSA key). The two Ed25519 names are deliberately one
    /// scheme here, not two: Tessera's `EdDSA` is only ever bound to `crv: Ed25519` keys (never
    /// Ed448), and RFC 9864 §2.2 defines `Ed25519` as exactly that — the same pure Ed25519 of
    /// RFC 8032 over the same signing input — so letting an Ed25519 key verify either header
    /// name gives the header no choice of computation at all. Every other pair stays distinct.
    pub const fn same_scheme(self, other: Self) -> bool {
        matches!(
            (self, other),
            (Self::EdDSA | Self::Ed25519, Self::EdDSA | Self::Ed25519)
                | (Self::ES256, Self::ES256)
                | (Self::RS256, Self::RS256)
                | (Self::HS256, Self::HS256)
        )
    }
}

impl FromStr for Algorithm {
    type Err = JwtError;

    /// Exact, case-sensitive match: `"hs256"` is not `HS256` (JOSE names are case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Self::EdDSA),
            "Ed25519" => Ok(Self::Ed25519),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            "HS256" => Ok(Self::HS256),
            _ => Err(JwtError::UnsupportedAlgorithm),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse()
            .map_err(|_| serde::de::Error::custom("unsupported algorithm"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Algorithm; 5] = [
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ];

    #[test]
    fn every_algorithm_name_round_trips_through_from_str_and_serde() {
        for alg in ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn algorithm_names_are_case_sensitive_and_none_is_not_an_algorithm() {
        for name in [
            "hs256", "eddsa", "Es256", "none", "None", "HS384", "PS256", "", " HS256", "ed25519",
            "ED25519", "Ed448", "EdDSA ",
        ] {
            assert_eq!(
                name.parse::<Algorithm>(),
                Err(JwtError::UnsupportedAlgorithm)
            );
        }
        assert!(serde_json::from_str::<Algorithm>("\"none\"").is_err());
    }

    #[test]
    fn only_eddsa_and_ed25519_share_a_scheme() {
        for a in ALL {
            for b in ALL {
                let expected = a == b
                    || matches!(
                        (a, b),
                        (Algorithm::EdDSA, Algorithm::Ed25519)
                            | (Algorithm::Ed25519, Algorithm::EdDSA)
                    );
                assert_eq!(a.same_scheme(b), expected, "{a} vs {b}");
            }
        }
    }
}
