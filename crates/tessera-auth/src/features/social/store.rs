//! The social sign-in feature's storage: Better Auth's OAuth `state` rows in `verification`
//! (`identifier = "auth-state:<state>"`, `value` = the state's JSON) and provider accounts in
//! `account`, every column as Better Auth writes it.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::store::{DbTime, StoreResult, User};

/// A provider's row of `account`. `Debug` shows no token.
#[derive(Clone, PartialEq, sqlx::FromRow)]
pub struct OAuthAccount {
    /// 32-character id.
    pub id: String,
    /// The provider's subject for the user.
    #[sqlx(rename = "accountId")]
    pub account_id: String,
    /// The provider id (`google`, or a generic provider's id).
    #[sqlx(rename = "providerId")]
    pub provider_id: String,
    /// Owner.
    #[sqlx(rename = "userId")]
    pub user_id: String,
    /// The provider's access token (as Better Auth stores it).
    #[sqlx(rename = "accessToken")]
    pub access_token: Option<String>,
    /// The provider's refresh token.
    #[sqlx(rename = "refreshToken")]
    pub refresh_token: Option<String>,
    /// The ID token of the last sign-in.
    #[sqlx(rename = "idToken")]
    pub id_token: Option<String>,
    /// When the access token expires.
    #[sqlx(rename = "accessTokenExpiresAt")]
    pub access_token_expires_at: Option<DbTime>,
    /// When the refresh token expires.
    #[sqlx(rename = "refreshTokenExpiresAt")]
    pub refresh_token_expires_at: Option<DbTime>,
    /// Granted scopes, comma-separated.
    pub scope: Option<String>,
    /// Creation time.
    #[sqlx(rename = "createdAt")]
    pub created_at: DbTime,
    /// Last update time.
    #[sqlx(rename = "updatedAt")]
    pub updated_at: DbTime,
}

impl fmt::Debug for OAuthAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthAccount")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("provider_id", &self.provider_id)
            .field("user_id", &self.user_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The tokens a sign-in with an already linked account writes over the old ones (Better Auth's
/// `updateAccountOnSignIn`: only those the provider sent; `scope` is left alone).
#[derive(Clone, Default)]
pub struct FreshTokens {
    /// New access token.
    pub access_token: Option<String>,
    /// New refresh token.
    pub refresh_token: Option<String>,
    /// New ID token.
    pub id_token: Option<String>,
    /// New access-token expiry.
    pub access_token_expires_at: Option<DbTime>,
    /// New refresh-token expiry.
    pub refresh_token_expires_at: Option<DbTime>,
}

impl fmt::Debug for FreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FreshTokens([redacted])")
    }
}

/// OAuth state rows and provider accounts.
#[async_trait]
pub trait SocialStore: Send + Sync + 'static {
    /// The account `provider_id`/`account_id`, if one is linked.
    async fn find_oauth_account(
        &self,
        provider_id: &str,
        account_id: &str,
    ) -> StoreResult<Option<OAuthAccount>>;
    /// Creates a user and its provider account and writes `audit`, in one transaction.
    async fn create_oauth_user(
        &self,
        user: &User,
        account: &OAuthAccount,
        audit: &AuditEvent,
    ) -> StoreResult<()>;
    /// Links a provider account to its (existing) user and writes `audit`, in one
    /// transaction.
    async fn link_oauth_account(
        &self,
        account: &OAuthAccount,
        audit: &AuditEvent,
    ) -> StoreResult<()>;
    /// Writes the fresh tokens of a sign-in over account `id`'s.
    async fn update_oauth_tokens(
        &self,
        id: &str,
        tokens: &FreshTokens,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}
