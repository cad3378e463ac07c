//! [`TokenCache`]: remembers what verifying a token found, so a token seen again skips the
//! signature check (an Ed25519 verification costs tens of microseconds; a lookup, about one).
//!
//! The cache never changes an answer, only how fast it comes:
//! - entries are keyed by the SHA-256 of the whole token, so only the exact same bytes hit;
//! - an entry belongs to the key ring it was verified against: when the key source hands out
//!   another ring (rotation, a key withdrawn from the JWKS, a refetch), every older entry is
//!   ignored and the token is verified afresh, so a revoked key stops working at once;
//! - an accepted token is served from the cache only while `now < exp + leeway`, the check
//!   [`tessera_jwt::verify`] itself makes (`nbf` and the other claims cannot turn invalid as time
//!   passes, and the policy is fixed per guard);
//! - only rejections that are final for that ring are remembered — a bad signature, an expired
//!   token, a wrong issuer/audience/claim — never an unknown `kid` (a refetch may bring the key)
//!   nor `nbf` in the future (time fixes it). Rejections live in their own, smaller map, so a
//!   flood of distinct garbage tokens can evict only other garbage, never the accepted tokens;
//! - both maps are bounded: expired entries go first, then arbitrary ones.
//!
//! Anything checked *after* verification (a revocation list, `ensure_same_user`) still runs on
//! every request: the cache stands in for [`tessera_jwt::verify`] and nothing else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use ring::digest;
use tessera_jwt::{JwtError, KeyRing, MAX_TOKEN_BYTES};

use crate::AuthUser;

/// Independent locks, so concurrent requests rarely wait on one another.
const SHARDS: usize = 16;

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Cached {
    /// Verified before against this ring and not expired since.
    Accepted(AuthUser),
    /// Rejected before against this ring, for this reason, which cannot change.
    Rejected(JwtError),
    /// Not known: verify.
    Miss,
}

/// The bounded cache of verification outcomes.
pub(crate) struct TokenCache {
    accepted: Box<[Shard<Accepted>]>,
    rejected: Box<[Shard<Rejected>]>,
    accepted_per_shard: usize,
    rejected_per_shard: usize,
    leeway: i64,
}

/// One lock's worth of entries, keyed by the SHA-256 of the token.
type Shard<V> = Mutex<HashMap<[u8; 32], V>>;

struct Accepted {
    user: AuthUser,
    exp: i64,
    /// The ring that verified it. A `Weak` keeps the allocation (not the keys) alive, so the
    /// address cannot be reused by a later ring while the entry exists.
    ring: Weak<KeyRing>,
}

struct Rejected {
    reason: JwtError,
    ring: Weak<KeyRing>,
}

impl TokenCache {
    /// Room for `capacity` accepted tokens (and a quarter as many rejected ones); `leeway` is
    /// the validation's effective `exp` leeway in seconds.
    pub(crate) fn new(capacity: usize, leeway: i64) -> Self {
        let accepted_per_shard = capacity.div_ceil(SHARDS).max(1);
        let rejected_per_shard = (accepted_per_shard / 4).max(1);
        Self {
            accepted: (0..SHARDS).map(|_| Mutex::default()).collect(),
            rejected: (0..SHARDS).map(|_| Mutex::default()).collect(),
            accepted_per_shard,
            rejected_per_shard,
            leeway,
        }
    }

    /// The cache key of a token; `None` for tokens the verifier refuses on size alone.
    pub(crate) fn key(token: &str) -> Option<[u8; 32]> {
        if token.len() > MAX_TOKEN_BYTES {
            return None;
        }
        let digest = digest::digest(&digest::SHA256, token.as_bytes());
        digest.as_ref().try_into().ok()
    }

    /// What is known of the token with this key, checked against `ring` at `now`.
    pub(crate) fn get(&self, key: &[u8; 32], ring: &Arc<KeyRing>, now: i64) -> Cached {
        let shard = shard_of(key);
        if let Ok(mut map) = self.accepted[shard].lock()
            && let Some(entry) = map.get(key)
        {
            if same_ring(&entry.ring, ring) && self.unexpired(entry.exp, now) {
                return Cached::Accepted(entry.user.clone());
            }
            // Expired, or verified by keys that are no longer the current ones.
            map.remove(key);
        }
        if let Ok(map) = self.rejected[shard].lock()
            && let Some(entry) = map.get(key)
            && same_ring(&entry.ring, ring)
        {
            return Cached::Rejected(entry.reason.clone());
        }
        Cached::Miss
    }

    /// Remembers a successful verification.
    pub(crate) fn accept(
        &self,
        key: [u8; 32],
        ring: &Arc<KeyRing>,
        user: &AuthUser,
        exp: i64,
        now: i64,
    ) {
        let Ok(mut map) = self.accepted[shard_of(&key)].lock() else {
            return;
        };
        if map.len() >= self.accepted_per_shard && !map.contains_key(&key) {
            map.retain(|_, e| self.unexpired(e.exp, now) && e.ring.strong_count() > 0);
            evict_some(&mut map, self.accepted_per_shard);
        }
        map.insert(
            key,
            Accepted {
                user: user.clone(),
                exp,
                ring: Arc::downgrade(ring),
            },
        );
    }

    /// Remembers a rejection, if its reason is final for this ring.
    pub(crate) fn reject(&self, key: [u8; 32], ring: &Arc<KeyRing>, reason: &JwtError) {
        if !is_final(reason) {
            return;
        }
        let Ok(mut map) = self.rejected[shard_of(&key)].lock() else {
            return;
        };
        if map.len() >= self.rejected_per_shard && !map.contains_key(&key) {
            map.retain(|_, e| e.ring.strong_count() > 0);
            evict_some(&mut map, self.rejected_per_shard);
        }
        map.insert(
            key,
            Rejected {
                reason: reason.clone(),
                ring: Arc::downgrade(ring),
            },
        );
    }

    /// The verifier's `exp` rule: valid while `now < exp + leeway`.
    fn unexpired(&self, exp: i64, now: i64) -> bool {
        i128::from(now) < i128::from(exp) + i128::from(self.leeway)
    }

    /// Number of accepted tokens held (tests).
    #[cfg(test)]
    pub(crate) fn accepted_len(&self) -> usize {
        self.accepted
            .iter()
            .map(|m| m.lock().map_or(0, |m| m.len()))
            .sum()
    }

    /// Number of rejected tokens held (tests).
    #[cfg(test)]
    pub(crate) fn rejected_len(&self) -> usize {
        self.rejected
            .iter()
            .map(|m| m.lock().map_or(0, |m| m.len()))
            .sum()
    }
}

fn shard_of(key: &[u8; 32]) -> usize {
    usize::from(key[0]) % SHARDS
}

fn same_ring(seen: &Weak<KeyRing>, current: &Arc<KeyRing>) -> bool {
    std::ptr::eq(seen.as_ptr(), Arc::as_ptr(current))
}

/// Rejections that verifying the same bytes against the same keys would always repeat.
fn is_final(reason: &JwtError) -> bool {
    matches!(
        reason,
        JwtError::BadSignature
            | JwtError::Expired
            | JwtError::InvalidIssuer
            | JwtError::InvalidAudience
            | JwtError::MissingClaim(_)
            | JwtError::InvalidClaimType(_)
    )
}

/// Makes room for at least one entry by dropping an eighth of a full map (arbitrary entries:
/// the map's hasher is randomly keyed).
fn evict_some<V>(map: &mut HashMap<[u8; 32], V>, cap: usize) {
    if map.len() < cap {
        return;
    }
    let drop = (cap / 8).max(1);
    let victims: Vec<[u8; 32]> = map.keys().take(drop).copied().collect();
    for key in victims {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};
    use tessera_jwt::{Algorithm, SigningKey, Validation, VerifyingKey};

    use super::*;

    const NOW: i64 = 1_800_000_000;
    const SECRET: &[u8] = b"token-cache-test-secret-0123456789abcdef";

    fn signed(exp: i64, sub: &str) -> String {
        let Value::Object(claims) = json!({ "sub": sub, "email": "a@example.com", "exp": exp })
        else {
            unreachable!()
        };
        SigningKey::hmac(None, SECRET).sign(&claims).unwrap()
    }

    fn ring() -> Arc<KeyRing> {
        Arc::new(KeyRing::new(vec![VerifyingKey::hmac(None, SECRET)]))
    }

    /// The outcome `tessera_jwt::verify` gives, as the guard would turn it into a user.
    fn verified(token: &str, ring: &KeyRing, now: i64) -> Result<(AuthUser, i64), JwtError> {
        let token = tessera_jwt::verify(token, ring, &Validation::new([Algorithm::HS256]), now)?;
        let exp = token.claims.exp();
        Ok((AuthUser::from_verified(token), exp))
    }

    fn remember(cache: &TokenCache, token: &str, ring: &Arc<KeyRing>, now: i64) {
        let key = TokenCache::key(token).unwrap();
        match verified(token, ring, now) {
            Ok((user, exp)) => cache.accept(key, ring, &user, exp, now),
            Err(reason) => cache.reject(key, ring, &reason),
        }
    }

    fn lookup(cache: &TokenCache, token: &str, ring: &Arc<KeyRing>, now: i64) -> Cached {
        cache.get(&TokenCache::key(token).unwrap(), ring, now)
    }

    #[test]
    fn an_accepted_token_is_served_until_exp_and_only_for_its_exact_bytes() {
        let cache = TokenCache::new(64, 0);
        let ring = ring();
        let token = signed(NOW + 60, "user-1");
        assert!(matches!(lookup(&cache, &token, &ring, NOW), Cached::Miss));
        remember(&cache, &token, &ring, NOW);
        let Cached::Accepted(user) = lookup(&cache, &token, &ring, NOW + 59) else {
            panic!("expected a hit")
        };
        assert_eq!(user, verified(&token, &ring, NOW).unwrap().0);
        let mut other = token.clone();
        other.push('x');
        assert!(matches!(lookup(&cache, &other, &ring, NOW), Cached::Miss));
        // At exp the verifier refuses the token, so the cache must not answer for it.
        assert!(matches!(
            lookup(&cache, &token, &ring, NOW + 60),
            Cached::Miss
        ));
        assert_eq!(cache.accepted_len(), 0, "the expired entry is dropped");
    }

    #[test]
    fn leeway_extends_a_cached_token_exactly_as_far_as_the_verifier_would() {
        let cache = TokenCache::new(64, 30);
        let ring = ring();
        let token = signed(NOW + 60, "user-1");
        remember(&cache, &token, &ring, NOW);
        assert!(matches!(
            lookup(&cache, &token, &ring, NOW + 89),
            Cached::Accepted(_)
        ));
        assert!(matches!(
            lookup(&cache, &token, &ring, NOW + 90),
            Cached::Miss
        ));
    }

    #[test]
    fn another_key_ring_ignores_every_entry_even_with_the_same_keys() {
        let cache = TokenCache::new(64, 0);
        let old = ring();
        let token = signed(NOW + 60, "user-1");
        remember(&cache, &token, &old, NOW);
        let forged = format!("{}AAAA", token.rsplit_once('.').unwrap().0.to_owned() + ".");
        remember(&cache, &forged, &old, NOW);
        let new = ring();
        assert!(matches!(lookup(&cache, &token, &new, NOW), Cached::Miss));
        assert!(matches!(lookup(&cache, &forged, &new, NOW), Cached::Miss));
        // Dropping the old ring does not let a new one take its address and its entries.
        drop(old);
        let newer = ring();
        assert!(matches!(lookup(&cache, &token, &newer, NOW), Cached::Miss));
    }

    #[test]
    fn only_final_rejections_are_remembered() {
        let cache = TokenCache::new(64, 0);
        let ring = ring();
        let token = signed(NOW + 60, "user-1");
        let (head, _) = token.rsplit_once('.').unwrap();
        let bad_signature = format!("{head}.{}", "A".repeat(43));
        let expired = signed(NOW - 1, "user-1");
        let future = {
            let Value::Object(claims) = json!({ "sub": "u", "exp": NOW + 60, "nbf": NOW + 30 })
            else {
                unreachable!()
            };
            SigningKey::hmac(None, SECRET).sign(&claims).unwrap()
        };
        let unknown_kid = SigningKey::hmac(Some("elsewhere".into()), SECRET)
            .sign(&Map::from_iter([
                ("sub".into(), json!("u")),
                ("exp".into(), json!(NOW + 60)),
            ]))
            .unwrap();
        for t in [&bad_signature, &expired, &future, &unknown_kid] {
            remember(&cache, t, &ring, NOW);
        }
        assert!(matches!(
            lookup(&cache, &bad_signature, &ring, NOW),
            Cached::Rejected(JwtError::BadSignature)
        ));
        assert!(matches!(
            lookup(&cache, &expired, &ring, NOW),
            Cached::Rejected(JwtError::Expired)
        ));
        assert!(
            matches!(lookup(&cache, &future, &ring, NOW), Cached::Miss),
            "nbf passes with time"
        );
        assert!(
            matches!(lookup(&cache, &unknown_kid, &ring, NOW), Cached::Miss),
            "a refetch may bring the key"
        );
        assert_eq!(cache.rejected_len(), 2);
    }

    #[test]
    fn both_maps_stay_bounded_and_garbage_never_evicts_accepted_tokens() {
        let cache = TokenCache::new(64, 0);
        let ring = ring();
        let keep = signed(NOW + 600, "keeper");
        remember(&cache, &keep, &ring, NOW);
        for i in 0..1000 {
            let token = signed(NOW + 600, &format!("user-{i}"));
            remember(&cache, &token, &ring, NOW);
            let (head, _) = token.rsplit_once('.').unwrap();
            remember(&cache, &format!("{head}.{}", "B".repeat(43)), &ring, NOW);
        }
        assert!(cache.accepted_len() <= 64, "{}", cache.accepted_len());
        assert!(cache.rejected_len() <= 16, "{}", cache.rejected_len());

        let cache = TokenCache::new(64, 0);
        remember(&cache, &keep, &ring, NOW);
        for i in 0..1000 {
            let (head, _) = keep.rsplit_once('.').unwrap();
            remember(&cache, &format!("{head}.{:A>43}", i), &ring, NOW);
        }
        assert!(matches!(
            lookup(&cache, &keep, &ring, NOW),
            Cached::Accepted(_)
        ));
    }

    #[test]
    fn oversized_tokens_are_never_hashed() {
        assert!(TokenCache::key(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_none());
        assert!(TokenCache::key("a.b.c").is_some());
    }
}
