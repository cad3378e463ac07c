//! `tessera_guard_verifications_total{result}`: what a [`crate::Guard`] decided.
//!
//! One counter per result, taken out of the family when the guard is built, so the request
//! path adds one to an atomic and never looks a label up; the family is what a host
//! registers ([`crate::Guard::register_metrics`]). Results are a fixed set: nothing from the
//! token (not its subject, not its session) becomes a label.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::GuardError;

/// The label of `tessera_guard_verifications_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// A guard's verification counters.
#[derive(Debug, Clone)]
pub(crate) struct Verifications {
    family: Family<ResultLabel, Counter>,
    pub(crate) valid: Counter,
    pub(crate) invalid: Counter,
    pub(crate) revoked: Counter,
    missing: Counter,
}

impl Default for Verifications {
    fn default() -> Self {
        let family = Family::<ResultLabel, Counter>::default();
        let counter = |result| family.get_or_create_owned(&ResultLabel { result });
        Self {
            valid: counter("valid"),
            invalid: counter("invalid"),
            revoked: counter("revoked"),
            missing: counter("missing"),
            family,
        }
    }
}

impl Verifications {
    /// Counts a request refused before any token was verified: no bearer token (`missing`),
    /// or an `Authorization` header that does not hold one (`invalid`).
    pub(crate) fn no_token(&self, err: &GuardError) {
        match err {
            GuardError::MissingHeader => self.missing.inc(),
            _ => self.invalid.inc(),
        };
    }

    /// Registers the family in `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "tessera_guard_verifications",
            "Bearer-token verifications by the guard, by result",
            self.family.clone(),
        );
    }
}
