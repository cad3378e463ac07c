//! The jwt feature's settings (Better Auth's `jwt({ jwt, jwks })` plugin options).

use chrono::Duration;
use tessera_jwt::Algorithm;

/// How JWTs are minted and their keys published; defaults are Better Auth's.
#[derive(Clone, Copy, Debug)]
pub struct JwtSettings {
    /// Algorithm of new JWTs (EdDSA).
    pub alg: Algorithm,
    /// JWT lifetime (15 minutes).
    pub expires_in: Duration,
    /// `Cache-Control: max-age` of `/jwks`, in seconds (300; Better Auth sends none).
    pub jwks_max_age: u32,
    /// How long a retired key stays published (Better Auth's `gracePeriod`, 30 days).
    pub grace_period: Duration,
    /// Better Auth's `rotationInterval`: new keys expire this long after creation and the next
    /// signature then mints a successor. Off (`None`) by default.
    pub rotation_interval: Option<Duration>,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            alg: Algorithm::EdDSA,
            expires_in: Duration::minutes(15),
            jwks_max_age: 300,
            grace_period: Duration::days(30),
            rotation_interval: None,
        }
    }
}
