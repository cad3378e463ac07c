//! Secrets as types: never printed, compared in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

/// A server secret (`BETTER_AUTH_SECRET` or one entry of `BETTER_AUTH_SECRETS`).
///
/// `Debug` and `Display` are redacted so a secret can't reach a log line by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for keyed primitives (HMAC, key derivation) only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes, for the start-up strength check.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// The secrets in force: the current one signs, older ones only verify or decrypt.
///
/// Mirrors Better Auth's `BETTER_AUTH_SECRETS="2:new,1:old"`: the first entry is current.
#[derive(Clone, Debug)]
pub struct SecretSet {
    current: VersionedSecret,
    older: Vec<VersionedSecret>,
}

/// One secret with the version it was published under (`None` for the legacy single secret).
#[derive(Clone, Debug)]
pub struct VersionedSecret {
    /// The `N` in `N:secret`, or `None` for a plain `BETTER_AUTH_SECRET`.
    pub version: Option<u32>,
    /// The secret itself.
    pub secret: Secret,
}

/// Why a secret configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretConfigError {
    /// `BETTER_AUTH_SECRETS` had an entry that is not `version:secret`.
    #[error("BETTER_AUTH_SECRETS entry {0} is not of the form <version>:<secret>")]
    BadEntry(usize),
    /// Neither variable gave a secret.
    #[error("no secret configured")]
    Missing,
}

impl SecretSet {
    /// A single, unversioned secret.
    pub fn single(secret: Secret) -> Self {
        Self {
            current: VersionedSecret {
                version: None,
                secret,
            },
            older: Vec::new(),
        }
    }

    /// Parses Better Auth's versioned list `"2:new,1:old"`; the legacy secret, when given,
    /// is kept as an unversioned older secret so rows it encrypted still open.
    pub fn parse_versioned(list: &str, legacy: Option<Secret>) -> Result<Self, SecretConfigError> {
        let mut entries = Vec::new();
        for (index, entry) in list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (version, secret) = entry
                .split_once(':')
                .ok_or(SecretConfigError::BadEntry(index))?;
            let version = version
                .trim()
                .parse::<u32>()
                .map_err(|_| SecretConfigError::BadEntry(index))?;
            if secret.is_empty() {
                return Err(SecretConfigError::BadEntry(index));
            }
            entries.push(VersionedSecret {
                version: Some(version),
                secret: Secret::new(secret),
            });
        }
        let mut entries = entries.into_iter();
        let current = entries.next().ok_or(SecretConfigError::Missing)?;
        let mut older: Vec<_> = entries.collect();
        if let Some(secret) = legacy {
            older.push(VersionedSecret {
                version: None,
                secret,
            });
        }
        Ok(Self { current, older })
    }

    /// The secret that signs and encrypts everything new.
    pub fn current(&self) -> &VersionedSecret {
        &self.current
    }

    /// Every secret, current first: the order in which verification tries them.
    pub fn all(&self) -> impl Iterator<Item = &VersionedSecret> {
        std::iter::once(&self.current).chain(self.older.iter())
    }

    /// Better Auth's `symmetricEncrypt` with its secret configuration: XChaCha20-Poly1305 under
    /// the current secret ([`tessera_jwt::sealed`]), lowercase hex, wrapped in the
    /// `$ba$<version>$` envelope when secrets are versioned. What the jwks private keys, the
    /// twoFactor plugin's secrets and backup codes, and OAuth tokens with `encryptOAuthTokens`
    /// are stored as. Fails only if the system random source does.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, tessera_jwt::JwtError> {
        let VersionedSecret { version, secret } = &self.current;
        let hex = tessera_jwt::sealed::seal(secret.expose(), plaintext)?;
        Ok(match version {
            Some(v) => format!("$ba${v}${hex}"),
            None => hex,
        })
    }

    /// Opens a value [`encrypt`](Self::encrypt) (or Better Auth) sealed, with whichever
    /// configured secret sealed it: the envelope's version names it; a bare hex value was sealed
    /// with an unversioned secret, tried first, then any. `None` when none opens it (a retired
    /// secret, or a modified value: the Poly1305 tag is checked before anything is returned).
    pub fn decrypt(&self, sealed: &str) -> Option<String> {
        if let Some(rest) = sealed.strip_prefix("$ba$") {
            let (version, hex) = rest.split_once('$')?;
            let version: u32 = version.parse().ok()?;
            let secret = self.all().find(|s| s.version == Some(version))?;
            return tessera_jwt::sealed::open(secret.secret.expose(), hex).ok();
        }
        let mut candidates: Vec<&VersionedSecret> =
            self.all().filter(|s| s.version.is_none()).collect();
        candidates.extend(self.all().filter(|s| s.version.is_some()));
        candidates
            .into_iter()
            .find_map(|s| tessera_jwt::sealed::open(s.secret.expose(), sealed).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = Secret::new("hunter2-hunter2-hunter2-hunter2-x");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        let set = SecretSet::single(secret);
        assert!(!format!("{set:?}").contains("hunter2"));
    }

    #[test]
    fn versioned_secrets_put_the_first_entry_in_charge() {
        let set =
            SecretSet::parse_versioned("2:new-secret, 1:old-secret", Some(Secret::new("legacy")))
                .unwrap();
        assert_eq!(set.current().version, Some(2));
        assert_eq!(set.current().secret.expose(), "new-secret");
        let versions: Vec<_> = set.all().map(|s| s.version).collect();
        assert_eq!(versions, vec![Some(2), Some(1), None]);
    }

    #[test]
    fn a_sealed_value_opens_with_the_secret_its_envelope_names_and_no_other() {
        let old = SecretSet::parse_versioned("1:old-secret-old-secret-old-secret", None).unwrap();
        let rotated = SecretSet::parse_versioned(
            "2:new-secret-new-secret-new-secret,1:old-secret-old-secret-old-secret",
            None,
        )
        .unwrap();
        let sealed = old.encrypt("JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with("$ba$1$"));
        assert_eq!(
            rotated.decrypt(&sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert!(rotated.encrypt("x").unwrap().starts_with("$ba$2$"));
        let plain = SecretSet::single(Secret::new("legacy-secret-legacy-secret-legacy"));
        let bare = plain.encrypt("codes").unwrap();
        assert!(bare.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(plain.decrypt(&bare).as_deref(), Some("codes"));
        assert_eq!(old.decrypt(&bare), None);
        let mut tampered = bare.clone();
        tampered.replace_range(60..61, if &bare[60..61] == "0" { "1" } else { "0" });
        assert_eq!(plain.decrypt(&tampered), None);
    }

    #[test]
    fn a_malformed_versioned_entry_is_refused() {
        assert_eq!(
            SecretSet::parse_versioned("new-secret", None).unwrap_err(),
            SecretConfigError::BadEntry(0)
        );
        assert_eq!(
            SecretSet::parse_versioned("x:abc", None).unwrap_err(),
            SecretConfigError::BadEntry(0)
        );
        assert_eq!(
            SecretSet::parse_versioned("", None).unwrap_err(),
            SecretConfigError::Missing
        );
    }
}
