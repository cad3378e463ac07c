//! Signing keys: Better Auth's `jwks` table, its private-key encryption, rotation, and the JWKS
//! document (docs/better-auth-protocol.md §4.4, §4.5).
//!
//! Keys are created lazily on first use, like Better Auth's jwt plugin, and kept in memory once
//! loaded so minting a JWT costs one signature and no query. The cached key is re-read from the
//! store when its `expiresAt` passes (the next signature then mints its successor, Better Auth's
//! `rotationInterval`) and otherwise at most every [`KEY_RECHECK_SECS`], which is how a rotation
//! made by another process (`tessera keys rotate`, another server) is picked up.
//!
//! A retired key stays in `/jwks` until `expiresAt + grace period`. The grace period is never
//! allowed below the JWT lifetime plus the re-check interval: a process may keep signing with a
//! key for up to one re-check interval after another process retired it, and every token it
//! signed must stay verifiable until it expires.
//!
//! The manager also keeps the published keys as a verifying [`KeyRing`]
//! ([`KeyManager::published_keys`]), rebuilt whenever it reads the store, so a guard in the same
//! process verifies with them in memory instead of fetching its own `/jwks`.
//!
//! In HS256 mode nothing is stored: tokens are signed with the current secret and the JWKS is
//! empty (a symmetric key is never published).

use std::sync::{Arc, PoisonError};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tessera_jwt::{Algorithm, Jwk, JwkSet, KeyRing, SigningKey};
use tokio::sync::{Mutex, RwLock};

use super::KeyStore;
use crate::audit::{AuditEvent, AuditKind};
use crate::config::AuthConfig;
use crate::ids::generate_id;
use crate::secret::SecretSet;
use crate::store::{DbTime, JwkRow, StoreError};

/// How long a cached signing key is trusted before the store is asked again, in seconds.
pub const KEY_RECHECK_SECS: i64 = 30;

/// Why a key could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored private key could not be decrypted with any configured secret.
    #[error("failed to decrypt private key of jwks row {0}")]
    Decrypt(String),
    /// A key could not be generated or parsed.
    #[error("key error: {0}")]
    Key(String),
}

/// Where a stored key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Signs new tokens: the newest unexpired key of its algorithm.
    Current,
    /// Published in `/jwks` (tokens it signed still verify) but no longer signs.
    Retiring,
    /// Past its grace period: neither signs nor is published.
    Expired,
}

impl KeyStatus {
    /// `current`, `retiring` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Retiring => "retiring",
            Self::Expired => "expired",
        }
    }
}

/// A stored key as `tessera keys list` shows it: public facts only, never private material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id (`kid`).
    pub kid: String,
    /// The algorithm name (`EdDSA` for rows with none, as Better Auth reads them).
    pub alg: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops (or stopped) signing, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its state now.
    pub status: KeyStatus,
}

/// What a rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The new current key.
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    /// The keys that stopped signing (`expiresAt` set to the rotation time).
    pub retired: Vec<String>,
}

/// The cached current key and what we knew about it when it was read.
struct Cached {
    key: Arc<SigningKey>,
    kid: String,
    expires_at: Option<DateTime<Utc>>,
    checked_at: DateTime<Utc>,
}

impl Cached {
    fn unexpired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|exp| exp > now)
    }

    fn fresh(&self, now: DateTime<Utc>, recheck: Duration) -> bool {
        self.unexpired(now) && now >= self.checked_at && now - self.checked_at < recheck
    }
}

/// Loads, creates, rotates and caches signing keys.
pub struct KeyManager {
    alg: Algorithm,
    secrets: SecretSet,
    rotation_interval: Option<Duration>,
    grace_period: Duration,
    recheck: Duration,
    current: RwLock<Option<Cached>>,
    /// What `/jwks` publishes, as verifying keys, as of the last read of the store. A plain
    /// lock: read on every guarded request, held only to clone the `Arc`.
    published: std::sync::RwLock<Arc<KeyRing>>,
    // Serialises key creation and refresh so concurrent first requests mint one key, not
    // several (Better Auth issue #5663).
    mint: Mutex<()>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("alg", &self.alg)
            .field("rotation_interval", &self.rotation_interval)
            .field("grace_period", &self.grace_period)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// A manager for `config.jwt.alg` keys sealed with `config.secrets`, rotating every
    /// `config.jwt.rotation_interval` (if set) and publishing retired keys for `grace_period`,
    /// raised (with a warning) to the JWT lifetime plus the re-check interval when shorter.
    pub fn new(config: &AuthConfig) -> Self {
        let recheck = Duration::seconds(KEY_RECHECK_SECS);
        let floor = config.jwt.expires_in + recheck;
        let grace_period = if config.jwt.grace_period < floor {
            if config.jwt.alg != Algorithm::HS256 {
                tracing::warn!(
                    configured_secs = config.jwt.grace_period.num_seconds(),
                    used_secs = floor.num_seconds(),
                    "the JWKS grace period is shorter than the JWT lifetime plus {KEY_RECHECK_SECS} s; \
                     raised so that every token stays verifiable until it expires"
                );
            }
            floor
        } else {
            config.jwt.grace_period
        };
        Self {
            alg: config.jwt.alg,
            secrets: config.secrets.clone(),
            rotation_interval: config
                .jwt
                .rotation_interval
                .filter(|i| *i > Duration::zero()),
            grace_period,
            recheck,
            current: RwLock::new(None),
            published: std::sync::RwLock::new(Arc::new(KeyRing::new(Vec::new()))),
            mint: Mutex::new(()),
        }
    }

    /// The configured algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The grace period in force (after the lower bound is applied).
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// The key new tokens are signed with: the newest unexpired stored key of the configured
    /// algorithm, or a new one when there is none (first use, or the current one expired).
    ///
    /// Answers from memory unless the cached key has expired or was last checked more than
    /// [`KEY_RECHECK_SECS`] ago.
    pub async fn signing_key(
        &self,
        store: &dyn KeyStore,
        now: DateTime<Utc>,
    ) -> Result<Arc<SigningKey>, KeyError> {
        if self.alg == Algorithm::HS256 {
            let secret = self.secrets.current().secret.expose().as_bytes();
            return Ok(Arc::new(SigningKey::hmac(None, secret)));
        }
        if let Some(cached) = self.current.read().await.as_ref()
            && cached.fresh(now, self.recheck)
        {
            return Ok(Arc::clone(&cached.key));
        }
        let _guard = match self.mint.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Another request is refreshing: an unexpired cached key is still good meanwhile.
                if let Some(cached) = self.current.read().await.as_ref()
                    && cached.unexpired(now)
                {
                    return Ok(Arc::clone(&cached.key));
                }
                self.mint.lock().await
            }
        };
        if let Some(cached) = self.current.read().await.as_ref()
            && cached.fresh(now, self.recheck)
        {
            return Ok(Arc::clone(&cached.key));
        }
        self.refresh(store, now).await
    }

    /// Re-reads the store and caches the newest unexpired key, minting one if there is none.
    /// Runs under the `mint` lock.
    async fn refresh(
        &self,
        store: &dyn KeyStore,
        now: DateTime<Utc>,
    ) -> Result<Arc<SigningKey>, KeyError> {
        let rows = store.list_jwks().await?;
        let alg = self.alg;
        let live = rows
            .iter()
            .find(|row| row_alg(row) == Some(alg) && is_unexpired(row, now));
        let (key, kid, expires_at) = match live {
            Some(row) => {
                self.publish(&rows, now);
                let cached = self.current.read().await;
                let key = match cached.as_ref().filter(|c| c.kid == row.id) {
                    Some(same) => Arc::clone(&same.key),
                    None => Arc::new(self.open_row(row)?),
                };
                (key, row.id.clone(), row.expires_at.map(|t| t.0))
            }
            None => {
                let previous = rows.iter().find(|row| row_alg(row) == Some(alg));
                let (key, row) = self.mint_row(alg, now).await?;
                let event = match previous {
                    None => AuditEvent::system(AuditKind::KeyCreated, now)
                        .reason("first_use")
                        .detail(json!({ "kid": row.id, "alg": alg.as_str() })),
                    Some(previous) => AuditEvent::system(AuditKind::KeyRotated, now)
                        .reason("expired")
                        .detail(json!({
                            "kid": row.id,
                            "alg": alg.as_str(),
                            "previous": previous.id,
                        })),
                };
                store.insert_jwk(&row, &event).await?;
                event.emit();
                self.publish(&store.list_jwks().await?, now);
                (Arc::new(key), row.id, row.expires_at.map(|t| t.0))
            }
        };
        *self.current.write().await = Some(Cached {
            key: Arc::clone(&key),
            kid,
            expires_at,
            checked_at: now,
        });
        Ok(key)
    }

    /// Forgets which key is current, so the next [`Self::signing_key`] re-reads the store: for a
    /// rotation another process announced. Requests meanwhile keep signing with the cached key
    /// while one of them re-reads (as on a periodic re-check), so none waits on the store.
    pub async fn recheck_now(&self) {
        if let Some(cached) = self.current.write().await.as_mut() {
            cached.checked_at = DateTime::<Utc>::MIN_UTC;
        }
    }

    /// Makes a new `alg` key current now: its predecessors of that algorithm get
    /// `expiresAt = now`, so they stop signing and stay published for the grace period. The
    /// new key expires after the rotation interval, if one is configured. What `tessera keys
    /// rotate` runs; other processes switch within [`KEY_RECHECK_SECS`].
    pub async fn rotate(
        &self,
        store: &dyn KeyStore,
        alg: Algorithm,
        now: DateTime<Utc>,
    ) -> Result<Rotation, KeyError> {
        if alg == Algorithm::HS256 {
            return Err(KeyError::Key(
                "HS256 tokens are signed with the secret; rotate BETTER_AUTH_SECRETS instead"
                    .into(),
            ));
        }
        let _guard = self.mint.lock().await;
        let rows = store.list_jwks().await?;
        let retired: Vec<String> = rows
            .iter()
            .filter(|row| row_alg(row) == Some(alg) && is_unexpired(row, now))
            .map(|row| row.id.clone())
            .collect();
        let (key, row) = self.mint_row(alg, now).await?;
        let kind = if rows.iter().any(|row| row_alg(row) == Some(alg)) {
            AuditKind::KeyRotated
        } else {
            AuditKind::KeyCreated
        };
        let event = AuditEvent::system(kind, now)
            .reason("manual")
            .detail(json!({
                "kid": row.id,
                "alg": alg.as_str(),
                "retired": retired,
            }));
        store.rotate_jwk(&row, &retired, now, &event).await?;
        event.emit();
        self.publish(&store.list_jwks().await?, now);
        if alg == self.alg {
            *self.current.write().await = Some(Cached {
                key: Arc::new(key),
                kid: row.id.clone(),
                expires_at: row.expires_at.map(|t| t.0),
                checked_at: now,
            });
        }
        Ok(Rotation {
            kid: row.id,
            alg,
            retired,
        })
    }

    /// Every stored key with its status; no private material.
    pub async fn list(
        &self,
        store: &dyn KeyStore,
        now: DateTime<Utc>,
    ) -> Result<Vec<KeyInfo>, KeyError> {
        let rows = store.list_jwks().await?;
        let mut current_algs: Vec<String> = Vec::new();
        Ok(rows
            .iter()
            .map(|row| {
                let alg = row_alg_name(row);
                // Rows come newest first: the first unexpired one per algorithm signs.
                let status = if is_unexpired(row, now) && !current_algs.contains(&alg) {
                    current_algs.push(alg.clone());
                    KeyStatus::Current
                } else if self.is_published(row, now) {
                    KeyStatus::Retiring
                } else {
                    KeyStatus::Expired
                };
                KeyInfo {
                    kid: row.id.clone(),
                    alg,
                    created_at: row.created_at.0,
                    expires_at: row.expires_at.map(|t| t.0),
                    status,
                }
            })
            .collect())
    }

    /// The public keys to publish: every stored key not past its grace period.
    pub async fn jwks(&self, store: &dyn KeyStore, now: DateTime<Utc>) -> Result<JwkSet, KeyError> {
        if self.alg == Algorithm::HS256 {
            return Ok(JwkSet { keys: Vec::new() });
        }
        // Like Better Auth, the first request creates the first key.
        self.signing_key(store, now).await?;
        Ok(self.publish(&store.list_jwks().await?, now))
    }

    /// The keys `/jwks` publishes, as the verifying ring a guard in this process checks tokens
    /// against: as of this manager's last read of the store (each signing-key refresh, at most
    /// every [`KEY_RECHECK_SECS`], each rotation, each `/jwks`). Empty before the first read,
    /// and always in HS256 mode (the secrets verify).
    pub fn published_keys(&self) -> Arc<KeyRing> {
        Arc::clone(
            &self
                .published
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Reads the store again (creating the first key on first use, as `/jwks` does) and
    /// returns the new [`Self::published_keys`]: for a token naming a key this process has not
    /// seen, rotated in by another process.
    ///
    /// # Errors
    /// When the store fails or a key cannot be created.
    pub async fn reload_published_keys(
        &self,
        store: &dyn KeyStore,
        now: DateTime<Utc>,
    ) -> Result<Arc<KeyRing>, KeyError> {
        self.jwks(store, now).await?;
        Ok(self.published_keys())
    }

    /// The published subset of `rows` (the store's, newest first) as a JWKS, kept in memory as
    /// the verifying ring too.
    fn publish(&self, rows: &[JwkRow], now: DateTime<Utc>) -> JwkSet {
        let set = JwkSet {
            keys: rows
                .iter()
                .filter(|row| self.is_published(row, now))
                .filter_map(public_entry)
                .collect(),
        };
        // A row that does not parse as a verifying key is skipped, as a remote guard would.
        let (ring, _skipped) = KeyRing::from_jwks(&set);
        *self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        set
    }

    fn is_published(&self, row: &JwkRow, now: DateTime<Utc>) -> bool {
        row.expires_at
            .is_none_or(|exp| exp.0 + self.grace_period > now)
    }

    fn open_row(&self, row: &JwkRow) -> Result<SigningKey, KeyError> {
        let alg = row_alg(row)
            .ok_or_else(|| KeyError::Key(format!("jwks row {} has an unknown alg", row.id)))?;
        let plaintext = self
            .decrypt(&row.private_key)
            .ok_or_else(|| KeyError::Decrypt(row.id.clone()))?;
        let jwk: Jwk =
            serde_json::from_str(&plaintext).map_err(|e| KeyError::Key(e.to_string()))?;
        SigningKey::from_private_jwk(row.id.clone(), alg, &jwk)
            .map_err(|e| KeyError::Key(e.to_string()))
    }

    /// Generates an `alg` key and its sealed row (not yet stored).
    async fn mint_row(
        &self,
        alg: Algorithm,
        now: DateTime<Utc>,
    ) -> Result<(SigningKey, JwkRow), KeyError> {
        let id = generate_id(32);
        let kid = id.clone();
        // RSA key generation takes long enough to keep it off the async executor.
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg, kid))
            .await
            .map_err(|e| KeyError::Key(e.to_string()))?
            .map_err(|e| KeyError::Key(e.to_string()))?;
        let public = key
            .public_jwk()
            .ok_or_else(|| KeyError::Key("no public key".into()))?;
        let private = key
            .private_jwk()
            .ok_or_else(|| KeyError::Key("no private key".into()))?;
        let private = serde_json::to_string(&private).map_err(|e| KeyError::Key(e.to_string()))?;
        let row = JwkRow {
            id,
            public_key: serde_json::to_string(&public).map_err(|e| KeyError::Key(e.to_string()))?,
            private_key: self.encrypt(&private)?,
            created_at: DbTime::from(now),
            expires_at: self.rotation_interval.map(|i| DbTime::from(now + i)),
            alg: Some(alg.as_str().to_owned()),
            crv: public.crv.clone(),
        };
        Ok((key, row))
    }

    /// Seals a private JWK the way Better Auth does ([`SecretSet::encrypt`]), then JSON-quoted.
    fn encrypt(&self, plaintext: &str) -> Result<String, KeyError> {
        let sealed = self
            .secrets
            .encrypt(plaintext)
            .map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(serde_json::Value::String(sealed).to_string())
    }

    /// Opens a stored private key with whichever configured secret sealed it.
    fn decrypt(&self, column: &str) -> Option<String> {
        // Better Auth stores JSON.stringify(ciphertext); with encryption disabled, the plain JWK.
        match serde_json::from_str::<serde_json::Value>(column).ok()? {
            serde_json::Value::String(sealed) => self.secrets.decrypt(&sealed),
            serde_json::Value::Object(_) => Some(column.to_owned()),
            _ => None,
        }
    }
}

/// A row's algorithm; rows without one are Better Auth's default, EdDSA.
fn row_alg(row: &JwkRow) -> Option<Algorithm> {
    match row.alg.as_deref() {
        None => Some(Algorithm::EdDSA),
        Some(name) => name.parse().ok(),
    }
}

fn row_alg_name(row: &JwkRow) -> String {
    row.alg
        .clone()
        .unwrap_or_else(|| Algorithm::EdDSA.as_str().to_owned())
}

fn is_unexpired(row: &JwkRow, now: DateTime<Utc>) -> bool {
    row.expires_at.is_none_or(|exp| exp.0 > now)
}

fn public_entry(row: &JwkRow) -> Option<Jwk> {
    let mut jwk: Jwk = serde_json::from_str(&row.public_key).ok()?;
    let alg = row_alg(row)?;
    jwk.alg = Some(alg.as_str().to_owned());
    if jwk.crv.is_none() {
        jwk.crv.clone_from(&row.crv);
    }
    jwk.kid = Some(row.id.clone());
    Some(jwk)
}
