//! Signing keys: Better Auth's `jwks` table, its private-key encryption, and the JWKS document.
//!
//! Keys are created lazily on first use, like Better Auth's jwt plugin, and kept in memory once
//! loaded so minting a JWT costs one signature and no query. In HS256 mode nothing is stored:
//! tokens are signed with the current secret and the JWKS is empty (a symmetric key is never
//! published).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tessera_jwt::{Algorithm, Jwk, JwkSet, SigningKey, sealed};
use tokio::sync::{Mutex, RwLock};

use crate::ids::generate_id;
use crate::secret::{SecretSet, VersionedSecret};
use crate::store::{DbTime, JwkRow, Store, StoreError};

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

/// Loads, creates and caches signing keys.
pub struct KeyManager {
    alg: Algorithm,
    secrets: SecretSet,
    grace_period: chrono::Duration,
    current: RwLock<Option<Arc<SigningKey>>>,
    // Serialises key creation so concurrent first requests mint one key, not several
    // (Better Auth issue #5663).
    mint: Mutex<()>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// A manager for `alg` keys sealed with `secrets`.
    pub fn new(alg: Algorithm, secrets: SecretSet, grace_period: chrono::Duration) -> Self {
        Self {
            alg,
            secrets,
            grace_period,
            current: RwLock::new(None),
            mint: Mutex::new(()),
        }
    }

    /// The configured algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key new tokens are signed with: the newest live stored key of the configured
    /// algorithm, or a new one.
    pub async fn signing_key(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<Arc<SigningKey>, KeyError> {
        if self.alg == Algorithm::HS256 {
            let secret = self.secrets.current().secret.expose().as_bytes();
            return Ok(Arc::new(SigningKey::hmac(None, secret)));
        }
        if let Some(key) = self.current.read().await.as_ref() {
            return Ok(Arc::clone(key));
        }
        let _guard = self.mint.lock().await;
        if let Some(key) = self.current.read().await.as_ref() {
            return Ok(Arc::clone(key));
        }
        let key = match self.newest_live_row(store, now).await? {
            Some(row) => self.open_row(&row)?,
            None => self.create_key(store, now).await?,
        };
        let key = Arc::new(key);
        *self.current.write().await = Some(Arc::clone(&key));
        Ok(key)
    }

    /// The public keys to publish: every stored key not past its grace period.
    pub async fn jwks(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<JwkSet, KeyError> {
        if self.alg == Algorithm::HS256 {
            return Ok(JwkSet { keys: Vec::new() });
        }
        // Like Better Auth, the first request creates the first key.
        self.signing_key(store, now).await?;
        let rows = store.list_jwks().await?;
        let keys = rows
            .iter()
            .filter(|row| {
                row.expires_at
                    .is_none_or(|exp| exp.0 + self.grace_period > now)
            })
            .filter_map(|row| self.public_entry(row))
            .collect();
        Ok(JwkSet { keys })
    }

    fn row_alg(&self, row: &JwkRow) -> Option<Algorithm> {
        match row.alg.as_deref() {
            None => Some(Algorithm::EdDSA),
            Some(name) => name.parse().ok(),
        }
    }

    fn public_entry(&self, row: &JwkRow) -> Option<Jwk> {
        let mut jwk: Jwk = serde_json::from_str(&row.public_key).ok()?;
        let alg = self.row_alg(row)?;
        jwk.alg = Some(alg.as_str().to_owned());
        if jwk.crv.is_none() {
            jwk.crv.clone_from(&row.crv);
        }
        jwk.kid = Some(row.id.clone());
        Some(jwk)
    }

    async fn newest_live_row(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<Option<JwkRow>, KeyError> {
        let rows = store.list_jwks().await?;
        Ok(rows.into_iter().find(|row| {
            self.row_alg(row) == Some(self.alg) && row.expires_at.is_none_or(|exp| exp.0 > now)
        }))
    }

    fn open_row(&self, row: &JwkRow) -> Result<SigningKey, KeyError> {
        let plaintext = self
            .decrypt(&row.private_key)
            .ok_or_else(|| KeyError::Decrypt(row.id.clone()))?;
        let jwk: Jwk =
            serde_json::from_str(&plaintext).map_err(|e| KeyError::Key(e.to_string()))?;
        SigningKey::from_private_jwk(row.id.clone(), self.alg, &jwk)
            .map_err(|e| KeyError::Key(e.to_string()))
    }

    async fn create_key(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<SigningKey, KeyError> {
        let id = generate_id(32);
        let alg = self.alg;
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
            expires_at: None,
            alg: Some(alg.as_str().to_owned()),
            crv: public.crv.clone(),
        };
        store.insert_jwk(&row).await?;
        tracing::info!(target: "audit", event = "key_created", kid = %row.id, alg = alg.as_str());
        Ok(key)
    }

    /// Seals a private JWK the way Better Auth does: XChaCha20-Poly1305 hex, wrapped in the
    /// `$ba$<version>$` envelope when secrets are versioned, then JSON-quoted.
    fn encrypt(&self, plaintext: &str) -> Result<String, KeyError> {
        let VersionedSecret { version, secret } = self.secrets.current();
        let hex =
            sealed::seal(secret.expose(), plaintext).map_err(|e| KeyError::Key(e.to_string()))?;
        let sealed = match version {
            Some(v) => format!("$ba${v}${hex}"),
            None => hex,
        };
        Ok(serde_json::Value::String(sealed).to_string())
    }

    /// Opens a stored private key with whichever configured secret sealed it.
    fn decrypt(&self, column: &str) -> Option<String> {
        // Better Auth stores JSON.stringify(ciphertext); with encryption disabled, the plain JWK.
        let unquoted: String = match serde_json::from_str::<serde_json::Value>(column).ok()? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(_) => return Some(column.to_owned()),
            _ => return None,
        };
        if let Some(rest) = unquoted.strip_prefix("$ba$") {
            let (version, hex) = rest.split_once('$')?;
            let version: u32 = version.parse().ok()?;
            let secret = self.secrets.all().find(|s| s.version == Some(version))?;
            return sealed::open(secret.secret.expose(), hex).ok();
        }
        // A bare hex value was sealed with an unversioned secret; try those, then any.
        let mut candidates: Vec<&VersionedSecret> =
            self.secrets.all().filter(|s| s.version.is_none()).collect();
        candidates.extend(self.secrets.all().filter(|s| s.version.is_some()));
        candidates
            .into_iter()
            .find_map(|s| sealed::open(s.secret.expose(), &unquoted).ok())
    }
}
