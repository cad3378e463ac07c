//! The auth server's metrics, for the host's Prometheus registry
//! ([`AuthState::register_metrics`]): sign-ins by outcome, tokens issued by algorithm,
//! revocations published, and the password-hashing queue (sampled when scraped).
//!
//! Every label takes values from a fixed set the code names; nothing a client sent, no user
//! id, email or session id ever becomes one. The counters exist whether or not a registry
//! holds them, so recording costs an atomic add when metrics are off.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::password::PasswordHasher;
use crate::state::AuthState;

/// How a sign-in with email and password ended, as `tessera_sign_ins_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Right email and password: a session was opened.
    Success,
    /// Unknown email, no password, or a wrong one (the client's answer does not tell which).
    Failure,
    /// Refused before checking: too many attempts for the account or the client (429).
    Throttled,
    /// Refused before checking: the hashing queue was full (503).
    Shed,
}

impl SignInOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Throttled => "throttled",
            Self::Shed => "shed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AlgorithmLabel {
    algorithm: &'static str,
}

/// The auth server's counters; clones share them.
#[derive(Debug, Clone, Default)]
pub struct AuthMetrics {
    sign_ins: Family<OutcomeLabel, Counter>,
    tokens_issued: Family<AlgorithmLabel, Counter>,
}

impl AuthMetrics {
    /// Counts one sign-in that reached the credential check or was refused on its way there.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label(),
            })
            .inc();
    }

    /// Counts one JWT signed (not one handed out again from the minted-token memory).
    pub fn token_issued(&self, algorithm: tessera_jwt::Algorithm) {
        self.tokens_issued
            .get_or_create(&AlgorithmLabel {
                algorithm: algorithm.as_str(),
            })
            .inc();
    }
}

impl AuthState {
    /// Registers the auth server's metrics in `registry`:
    /// `tessera_sign_ins_total{outcome}`, `tessera_tokens_issued_total{algorithm}`,
    /// `tessera_revocations_published_total`, and, read when scraped,
    /// `tessera_password_hash_queue_depth` and `tessera_password_hash_shed_total`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "tessera_sign_ins",
            "Email-and-password sign-ins, by outcome",
            self.metrics.sign_ins.clone(),
        );
        registry.register(
            "tessera_tokens_issued",
            "JWTs signed, by algorithm",
            self.metrics.tokens_issued.clone(),
        );
        registry.register(
            "tessera_revocations_published",
            "Ended sessions announced to the revocation sinks (guards, Redis)",
            self.revocations.published(),
        );
        registry.register_collector(Box::new(HashQueue(self.email_password.hasher.clone())));
    }
}

/// The hashing queue, sampled at each scrape (the hasher keeps the numbers anyway).
#[derive(Debug)]
struct HashQueue(PasswordHasher);

impl Collector for HashQueue {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let depth = ConstGauge::new(i64::try_from(self.0.queued()).unwrap_or(i64::MAX));
        depth.encode(encoder.encode_descriptor(
            "tessera_password_hash_queue_depth",
            "Password hashes waiting for a hashing thread",
            None,
            depth.metric_type(),
        )?)?;
        let shed = ConstCounter::new(self.0.shed_count());
        shed.encode(encoder.encode_descriptor(
            "tessera_password_hash_shed",
            "Password hashes refused (503) because the queue was full",
            None,
            shed.metric_type(),
        )?)?;
        Ok(())
    }
}
