//! [`SessionCache`]: a [`Store`] that remembers recent session lookups for a few seconds.
//!
//! Every authenticated auth request (`get-session`, `/token`, the account endpoints) starts by
//! looking its session up; on SQLite that read costs more than the rest of the request. The
//! cache answers repeats of it from memory for at most `ttl` (by the injected clock).
//!
//! Why it cannot serve a session this process has ended or changed: it sits in front of the
//! store, so every write that ends a session or changes a user goes through it and evicts the
//! entries it touches after the write, with the guarantees of [`tessera_cache::ReadCache`]
//! (no racing read puts the old row back). What another process changes in the same database (a
//! second Tessera, or Better Auth side by side) is seen within `ttl`; a deployment that needs it
//! at once sets the TTL to zero, which leaves the cache out.
//!
//! Keys are the SHA-256 of the session token, so lookups compare digests, not the secret
//! itself. The cached row holds the raw token the client presented (the database row holds it
//! too, or only its digest under [`super::TokenStorage::Sha256`]): in memory, never at rest.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tessera_cache::{Lookup, ReadCache};

use super::token_storage::sha256;
use super::{
    Account, AuditStore, JwkRow, LinkedAccount, Session, SessionStore, Store, StoreResult, User,
    UserStore, VerificationStore,
};
use crate::audit::{AuditEvent, AuditFilter};
use crate::clock::Clock;
use crate::features::delete_user::DeleteUserStore;
use crate::features::email_password::CredentialStore;
use crate::features::email_verification::EmailVerificationStore;
use crate::features::jwt::KeyStore;
use crate::features::password_reset::{PasswordResetStore, PasswordResetWrite, ResetOutcome};
use crate::features::social::{FreshTokens, OAuthAccount, SocialStore};
use crate::features::two_factor::{Lockout, TwoFactorRow, TwoFactorStore};
use crate::revocation::{RevocationRecord, RevocationStamp};
use tessera_mail::Mail;

/// At most this many sessions are remembered.
const CAPACITY: usize = 16_384;

type TokenDigest = [u8; 32];

/// A caching decorator over another [`Store`]; see the module documentation.
pub struct SessionCache {
    inner: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sessions: ReadCache<TokenDigest, (Arc<Session>, Arc<User>)>,
}

impl SessionCache {
    /// Wraps `inner`, remembering each session lookup for `ttl` (which must be positive).
    pub fn new(inner: Arc<dyn Store>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            inner,
            clock,
            sessions: ReadCache::new(ttl, CAPACITY),
        }
    }

    /// Forgets the sessions `ids` at once: they were ended by another process (announced on the
    /// shared revocation channel), which this cache's own write path never saw.
    pub fn evict_sessions(&self, ids: &[String]) {
        self.sessions
            .evict(|_, (session, _)| ids.iter().any(|id| *id == session.id));
    }

    /// Forgets every session: for when announcements may have been missed (the channel was
    /// down), so nothing another process ended meanwhile is answered from memory.
    pub fn evict_all(&self) {
        self.sessions.evict(|_, _| true);
    }

    /// Evicts `token`'s session when the guard drops: held across a write, even a cancelled one.
    fn evict_token_after(&self, token: &str) -> impl Drop + '_ {
        let digest = sha256(token);
        self.sessions.evict_after(move |key, _| *key == digest)
    }

    /// Evicts every session of `user_id` when the guard drops (held across a write).
    fn evict_user_after<'a>(&'a self, user_id: &'a str) -> impl Drop + 'a {
        self.sessions
            .evict_after(move |_, (_, user)| user.id == user_id)
    }
}

// A method that neither reads sessions nor changes a session or a user row passes straight
// through.
#[async_trait]
impl Store for SessionCache {
    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

#[async_trait]
impl UserStore for SessionCache {
    async fn update_user(
        &self,
        id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let _evict = self.evict_user_after(id);
        self.inner.update_user(id, name, image, now).await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_email(email).await
    }
    async fn find_user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_id(id).await
    }
    async fn list_accounts(&self, user_id: &str) -> StoreResult<Vec<LinkedAccount>> {
        self.inner.list_accounts(user_id).await
    }
    async fn delete_account_keeping_one(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner
            .delete_account_keeping_one(user_id, id, audit)
            .await
    }
}

#[async_trait]
impl CredentialStore for SessionCache {
    async fn create_user_with_account(
        &self,
        user: &User,
        account: &Account,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.inner
            .create_user_with_account(user, account, audit)
            .await
    }
    async fn find_credential_account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        self.inner.find_credential_account(user_id).await
    }
    async fn update_password(
        &self,
        account_id: &str,
        hash: &str,
        now: DateTime<Utc>,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<()> {
        self.inner
            .update_password(account_id, hash, now, audit)
            .await
    }
}

#[async_trait]
impl SessionStore for SessionCache {
    async fn find_session(&self, token: &str) -> StoreResult<Option<(Arc<Session>, Arc<User>)>> {
        let digest = sha256(token);
        let ticket = match self.sessions.get(&digest, self.clock.now()) {
            Lookup::Hit(found) => return Ok(Some(found)),
            Lookup::Miss(ticket) => ticket,
        };
        let found = self.inner.find_session(token).await?;
        if let Some(found) = &found {
            self.sessions
                .fill(ticket, digest, found.clone(), self.clock.now());
        }
        Ok(found)
    }
    async fn extend_session(
        &self,
        token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _evict = self.evict_token_after(token);
        self.inner.extend_session(token, expires_at, now).await
    }

    async fn delete_session(
        &self,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>> {
        let _evict = self.evict_token_after(token);
        self.inner.delete_session(token, audit, stamp).await
    }
    async fn delete_user_session(
        &self,
        user_id: &str,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>> {
        // `token` may be a value `list-sessions` listed (a stored digest) rather than the raw
        // token this cache is keyed by: evict all of the user's sessions, which covers either.
        let _evict = self.evict_user_after(user_id);
        self.inner
            .delete_user_session(user_id, token, audit, stamp)
            .await
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        except_token: Option<&str>,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Vec<String>> {
        let _evict = self.evict_user_after(user_id);
        self.inner
            .delete_user_sessions(user_id, except_token, audit, stamp)
            .await
    }
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> StoreResult<()> {
        self.inner.create_session(session, audit).await
    }
    async fn list_sessions(&self, user_id: &str, now: DateTime<Utc>) -> StoreResult<Vec<Session>> {
        self.inner.list_sessions(user_id, now).await
    }
}

#[async_trait]
impl KeyStore for SessionCache {
    async fn list_jwks(&self) -> StoreResult<Vec<JwkRow>> {
        self.inner.list_jwks().await
    }
    async fn insert_jwk(&self, row: &JwkRow, audit: &AuditEvent) -> StoreResult<()> {
        self.inner.insert_jwk(row, audit).await
    }
    async fn rotate_jwk(
        &self,
        row: &JwkRow,
        retire: &[String],
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.inner.rotate_jwk(row, retire, at, audit).await
    }
}

#[async_trait]
impl AuditStore for SessionCache {
    async fn insert_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.inner.insert_audit(event).await
    }
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        self.inner.list_audit(filter).await
    }

    async fn list_revocations(
        &self,
        after: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RevocationRecord>> {
        self.inner.list_revocations(after, now, limit).await
    }
}

#[async_trait]
impl PasswordResetStore for SessionCache {
    async fn request_password_reset(
        &self,
        identifier: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner
            .request_password_reset(identifier, user_id, expires_at, now, mail, audit)
            .await
    }
    async fn create_verification(
        &self,
        identifier: &str,
        value: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner
            .create_verification(identifier, value, expires_at, now)
            .await
    }
    async fn find_verification_value(
        &self,
        identifier: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        self.inner.find_verification_value(identifier, now).await
    }
    async fn reset_password(&self, write: PasswordResetWrite<'_>) -> StoreResult<ResetOutcome> {
        let _evict = self.evict_user_after(write.user_id);
        self.inner.reset_password(write).await
    }
}

#[async_trait]
impl TwoFactorStore for SessionCache {
    async fn find_two_factor(&self, user_id: &str) -> StoreResult<Option<TwoFactorRow>> {
        self.inner.find_two_factor(user_id).await
    }
    async fn save_two_factor(&self, row: &TwoFactorRow, audit: &AuditEvent) -> StoreResult<()> {
        self.inner.save_two_factor(row, audit).await
    }
    async fn set_two_factor_enabled(
        &self,
        user_id: &str,
        enabled: bool,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let _evict = self.evict_user_after(user_id);
        self.inner
            .set_two_factor_enabled(user_id, enabled, now, audit)
            .await
    }
    async fn replace_backup_codes(
        &self,
        id: &str,
        expected: Option<&str>,
        codes: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner
            .replace_backup_codes(id, expected, codes, audit)
            .await
    }
    async fn update_lockout(&self, id: &str, change: Lockout) -> StoreResult<()> {
        self.inner.update_lockout(id, change).await
    }
    async fn accept_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        self.inner.accept_totp_step(user_id, step).await
    }
    async fn delete_verification(&self, identifier: &str) -> StoreResult<()> {
        self.inner.delete_verification(identifier).await
    }
    async fn queue_two_factor_code(
        &self,
        identifier: &str,
        value: &str,
        expires_at: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner
            .queue_two_factor_code(identifier, value, expires_at, mail, audit)
            .await
    }
}

#[async_trait]
impl EmailVerificationStore for SessionCache {
    async fn queue_verification_mail(
        &self,
        mail: &Mail,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner.queue_verification_mail(mail, now, audit).await
    }
    async fn mark_email_verified(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let _evict = self.evict_user_after(user_id);
        self.inner.mark_email_verified(user_id, now, audit).await
    }
    async fn change_email(
        &self,
        user_id: &str,
        new_email: &str,
        email_verified: bool,
        now: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> StoreResult<Option<User>> {
        let _evict = self.evict_user_after(user_id);
        self.inner
            .change_email(user_id, new_email, email_verified, now, audit)
            .await
    }
}

#[async_trait]
impl VerificationStore for SessionCache {
    async fn take_verification(
        &self,
        identifier: &str,
    ) -> StoreResult<Option<(String, DateTime<Utc>)>> {
        self.inner.take_verification(identifier).await
    }
}

#[async_trait]
impl DeleteUserStore for SessionCache {
    async fn request_account_deletion(
        &self,
        identifier: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        mail: &Mail,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        self.inner
            .request_account_deletion(identifier, user_id, expires_at, now, mail, audit)
            .await
    }
    async fn delete_user(
        &self,
        user_id: &str,
        audit: &AuditEvent,
        revoked: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<Vec<String>>> {
        let _evict = self.evict_user_after(user_id);
        self.inner.delete_user(user_id, audit, revoked, stamp).await
    }
}

crate::features::passkey::delegate_passkey_store!(SessionCache);

#[async_trait]
impl SocialStore for SessionCache {
    async fn find_oauth_account(
        &self,
        provider_id: &str,
        account_id: &str,
    ) -> StoreResult<Option<OAuthAccount>> {
        self.inner.find_oauth_account(provider_id, account_id).await
    }
    async fn create_oauth_user(
        &self,
        user: &User,
        account: &OAuthAccount,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        self.inner.create_oauth_user(user, account, audit).await
    }
    async fn link_oauth_account(
        &self,
        account: &OAuthAccount,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let _evict = self.evict_user_after(&account.user_id);
        self.inner.link_oauth_account(account, audit).await
    }
    async fn update_oauth_tokens(
        &self,
        id: &str,
        tokens: &FreshTokens,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.update_oauth_tokens(id, tokens, now).await
    }
}
