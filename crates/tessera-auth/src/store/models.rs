//! Rows of Better Auth's tables, and their JSON shapes on the wire.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::DbTime;

/// A row of `user`, serialised as Better Auth's User object.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct User {
    /// 32-character id.
    pub id: String,
    /// Display name (may be empty).
    pub name: String,
    /// Lower-cased email.
    pub email: String,
    /// Whether the email was verified.
    #[sqlx(rename = "emailVerified")]
    pub email_verified: bool,
    /// Avatar URL.
    pub image: Option<String>,
    /// Creation time.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// Last update time.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: DbTime,
    /// The twoFactor plugin's `twoFactorEnabled`: `None` (NULL) for users no two-factor code
    /// ever wrote, which leaves it out of the JSON as Better Auth without the plugin does.
    #[sqlx(rename = "twoFactorEnabled")]
    pub two_factor_enabled: Option<bool>,
}

impl Serialize for User {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(7 + usize::from(self.two_factor_enabled.is_some())))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("email", &self.email)?;
        map.serialize_entry("emailVerified", &self.email_verified)?;
        map.serialize_entry("image", &self.image)?;
        map.serialize_entry("createdAt", &self.created_at.to_iso())?;
        map.serialize_entry("updatedAt", &self.updated_at.to_iso())?;
        if let Some(enabled) = self.two_factor_enabled {
            map.serialize_entry("twoFactorEnabled", &enabled)?;
        }
        map.end()
    }
}

/// A row of `session`, whose JSON carries the raw token too (docs/better-auth-protocol.md §1.3).
/// `Debug` leaves the token out: a session printed into a log must not be a usable credential.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct Session {
    /// 32-character id.
    pub id: String,
    /// When the session stops being valid.
    #[sqlx(rename = "expiresAt")]
    pub expires_at: DbTime,
    /// The raw session token (the cookie carries it signed).
    pub token: String,
    /// Creation time; freshness is measured from it.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// Last extension.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: DbTime,
    /// Client IP at creation.
    #[sqlx(rename = "ipAddress")]
    pub ip_address: Option<String>,
    /// Client user agent at creation.
    #[sqlx(rename = "userAgent")]
    pub user_agent: Option<String>,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("token", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("ip_address", &self.ip_address)
            .field("user_agent", &self.user_agent)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl Serialize for Session {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("expiresAt", &self.expires_at.to_iso())?;
        map.serialize_entry("token", &self.token)?;
        map.serialize_entry("createdAt", &self.created_at.to_iso())?;
        map.serialize_entry("updatedAt", &self.updated_at.to_iso())?;
        map.serialize_entry("ipAddress", self.ip_address.as_deref().unwrap_or(""))?;
        map.serialize_entry("userAgent", self.user_agent.as_deref().unwrap_or(""))?;
        map.serialize_entry("userId", &self.user_id)?;
        map.end()
    }
}

/// A row of `account` (only the columns email/password needs). Never serialised.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct Account {
    /// 32-character id.
    pub id: String,
    /// For `credential` accounts, the user id.
    #[sqlx(rename = "accountId")]
    pub account_id: String,
    /// `credential` for email and password.
    #[sqlx(rename = "providerId")]
    pub provider_id: String,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
    /// The password hash (Argon2id PHC or Better Auth scrypt).
    pub password: Option<String>,
    /// Creation time.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// Last update time.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: DbTime,
}

impl Account {
    /// A new `credential` account (email and password) for `user_id`, holding `hash`, as
    /// Better Auth writes one: its `accountId` is the user id.
    pub fn credential(user_id: &str, hash: String, now: DbTime) -> Self {
        Self {
            id: crate::ids::generate_id(32),
            account_id: user_id.to_owned(),
            provider_id: "credential".into(),
            user_id: user_id.to_owned(),
            password: Some(hash),
            created_at: now,
            updated_at: now,
        }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("user_id", &self.user_id)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A row of `account` as `GET /list-accounts` shows it: Better Auth's account without its
/// secrets (the password hash and the provider's tokens are never read), and `scope` split
/// into `scopes`.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct LinkedAccount {
    /// 32-character id.
    pub id: String,
    /// The provider's id of the user (the user id for `credential`).
    #[sqlx(rename = "accountId")]
    pub account_id: String,
    /// `credential`, or a social provider's id.
    #[sqlx(rename = "providerId")]
    pub provider_id: String,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
    /// The granted scopes, comma-separated as Better Auth stores them.
    pub scope: Option<String>,
    /// Creation time.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// Last update time.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: DbTime,
}

impl Serialize for LinkedAccount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Better Auth splits on commas, trims, and drops empty parts.
        let scopes: Vec<&str> = self
            .scope
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("accountId", &self.account_id)?;
        map.serialize_entry("providerId", &self.provider_id)?;
        map.serialize_entry("userId", &self.user_id)?;
        map.serialize_entry("createdAt", &self.created_at.to_iso())?;
        map.serialize_entry("updatedAt", &self.updated_at.to_iso())?;
        map.serialize_entry("scopes", &scopes)?;
        map.end()
    }
}

/// A row of `jwks`: a signing key with its public JWK and its encrypted private JWK.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct JwkRow {
    /// The key id, published as `kid`.
    pub id: String,
    /// JSON of the public JWK.
    #[sqlx(rename = "publicKey")]
    pub public_key: String,
    /// The private JWK, encrypted and JSON-quoted as Better Auth stores it.
    #[sqlx(rename = "privateKey")]
    pub private_key: String,
    /// Creation time.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// When the key stops signing (rotation), if ever.
    #[sqlx(rename = "expiresAt")]
    pub expires_at: Option<DbTime>,
    /// The algorithm, `None` meaning the configured default.
    pub alg: Option<String>,
    /// The curve, for OKP/EC keys.
    pub crv: Option<String>,
}

impl std::fmt::Debug for JwkRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkRow")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_session_never_shows_its_token() {
        let now = DbTime::from(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH);
        let session = Session {
            id: "id".into(),
            expires_at: now,
            token: "secret-session-token".into(),
            created_at: now,
            updated_at: now,
            ip_address: None,
            user_agent: None,
            user_id: "user".into(),
        };
        let printed = format!("{session:?}");
        assert!(!printed.contains("secret-session-token"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }
}
