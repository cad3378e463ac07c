//! [`Validation`]: what a verifier requires of a token's algorithm and claims.

use crate::Algorithm;

/// The most clock-skew leeway ever applied, whatever `leeway_secs` says.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Verification policy. `exp` is always required, `sub` unless [`Self::without_subject`];
/// everything else is opt-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Allowed `iss` values, compared by exact string equality. `None`: `iss` is not checked
    /// (only its type). `Some(empty)`: nothing is accepted.
    pub issuers: Option<Vec<String>>,
    /// Allowed audiences; the token's `aud` (string or array) must contain at least one.
    /// `None`: `aud` is not checked (only its type).
    pub audiences: Option<Vec<String>>,
    /// Clock-skew leeway for `exp` and `nbf`, in seconds; values above [`MAX_LEEWAY_SECS`] are
    /// clamped.
    pub leeway_secs: u64,
    /// Algorithms a token may use (RFC 8725 §3.1). Empty: nothing verifies.
    pub algorithms: Vec<Algorithm>,
    /// Whether a non-empty string `sub` is required (the default). A token that names its
    /// subject otherwise (Better Auth's email-verification tokens carry `email`) turns it off.
    pub require_subject: bool,
}

impl Validation {
    /// A policy accepting exactly `algorithms`, no issuer/audience checks, no leeway.
    pub fn new(algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        Self {
            issuers: None,
            audiences: None,
            leeway_secs: 0,
            algorithms: algorithms.into_iter().collect(),
            require_subject: true,
        }
    }

    /// Accepts tokens without `sub` ([`crate::Claims::sub`] is then empty); a `sub` that is
    /// present must still be a string.
    pub fn without_subject(mut self) -> Self {
        self.require_subject = false;
        self
    }

    /// Adds `issuer` to the `iss` allow-list (turning the check on).
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers
            .get_or_insert_with(Vec::new)
            .push(issuer.into());
        self
    }

    /// Adds `audience` to the `aud` allow-list (turning the check on).
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences
            .get_or_insert_with(Vec::new)
            .push(audience.into());
        self
    }

    /// Sets the leeway, clamped to [`MAX_LEEWAY_SECS`].
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway_secs = secs.min(MAX_LEEWAY_SECS);
        self
    }

    /// The leeway actually applied (the public field may have been set above the cap).
    pub(crate) fn effective_leeway(&self) -> i64 {
        // ≤ 60, so the conversion cannot fail.
        i64::try_from(self.leeway_secs.min(MAX_LEEWAY_SECS)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leeway_is_clamped_to_sixty_seconds_even_when_the_field_is_set_directly() {
        assert_eq!(Validation::new([]).with_leeway(3600).leeway_secs, 60);
        let v = Validation {
            leeway_secs: u64::MAX,
            ..Validation::new([Algorithm::EdDSA])
        };
        assert_eq!(v.effective_leeway(), 60);
    }

    #[test]
    fn builder_methods_accumulate_allow_lists() {
        let v = Validation::new([Algorithm::EdDSA])
            .with_issuer("a")
            .with_issuer("b")
            .with_audience("c");
        assert_eq!(v.issuers, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(v.audiences, Some(vec!["c".to_owned()]));
    }
}
