//! The one error type of the crate.
//!
//! Messages are fixed strings chosen here: they never contain key material, the token, or any
//! value taken from the token (an attacker-chosen `kid` in a log line is a log-injection vector).

/// Why a token, key or sealed value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is longer than [`crate::MAX_TOKEN_BYTES`]; rejected before any decoding.
    #[error("token is too large")]
    TooLarge,
    /// The token, a header, a JWK or a sealed value is structurally invalid.
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// The header asks for `alg: none` (in any letter case).
    #[error("the none algorithm is never accepted")]
    AlgorithmNone,
    /// The algorithm is unknown, or not in the caller's allow-list.
    #[error("unsupported or disallowed algorithm")]
    UnsupportedAlgorithm,
    /// The header carries a member this verifier refuses to honour (`crit`, `jku`, …).
    #[error("forbidden header member: {0}")]
    ForbiddenHeader(&'static str),
    /// No key in the ring has the token's `kid` (or, without `kid`, no kid-less key exists).
    #[error("no key matches the token")]
    UnknownKey,
    /// A key matched the `kid`, but it is bound to a different algorithm than the header names.
    #[error("the token's algorithm does not match the key's algorithm")]
    AlgorithmMismatch,
    /// The signature segment is empty.
    #[error("the token has no signature")]
    EmptySignature,
    /// The signature does not verify with any candidate key.
    #[error("invalid signature")]
    BadSignature,
    /// `exp` (plus leeway) has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` (minus leeway) is still in the future.
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iss` is not in the allow-list.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// No `aud` value is in the allow-list.
    #[error("invalid audience")]
    InvalidAudience,
    /// A required claim is absent (or, for `sub`, empty).
    #[error("missing required claim: {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type (e.g. `exp` as a string).
    #[error("claim has the wrong type: {0}")]
    InvalidClaimType(&'static str),
    /// A key could not be built or loaded; the text describes the problem, never the key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A sealed value failed authentication (wrong secret or tampered ciphertext).
    #[error("failed to decrypt sealed value")]
    Decrypt,
    /// The cryptographic backend failed (random source, key generation, signing).
    #[error("cryptographic operation failed")]
    Crypto,
}
