//! How session tokens are kept at rest: raw (Better Auth's way, the default) or only as their
//! SHA-256, behind [`HashedTokens`].
//!
//! With [`TokenStorage::Sha256`] the `session.token` column holds the lowercase hex SHA-256 of
//! each token (64 characters), so a copy of the database (a backup, a read-only SQL injection
//! elsewhere, a replica) yields no token a client could present: finding a token from its
//! digest is a preimage search over 190 random bits. Every lookup hashes the presented token
//! and asks the database for that digest, so the comparison the database makes (an index walk
//! that may stop at the first differing byte) only ever sees digests: timing reveals nothing
//! of a stored token. The raw token lives only in the cookie, in the sign-in answer and in this
//! process's memory.
//!
//! Tokens are 32 random alphanumerics, so one round of SHA-256 suffices: a slow hash guards
//! guessable secrets such as passwords, not random ones.
//!
//! What it costs: Better Auth (which stores and looks up raw tokens) can no longer share the
//! database; `list-sessions` can list only digests (see [`HashedTokens::list_sessions`]); and
//! switching either way signs out the sessions made before (see [`TokenStorage`]).

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Account, AuditStore, JwkRow, LinkedAccount, Session, SessionStore, Store, StoreResult, User,
    UserStore, VerificationStore,
};
use crate::audit::{AuditEvent, AuditFilter};
use crate::features::delete_user::DeleteUserStore;
use crate::features::email_password::CredentialStore;
use crate::features::email_verification::EmailVerificationStore;
use crate::features::jwt::KeyStore;
use crate::features::password_reset::{PasswordResetStore, PasswordResetWrite, ResetOutcome};
use crate::features::social::{FreshTokens, OAuthAccount, SocialStore};
use crate::features::two_factor::{Lockout, TwoFactorRow, TwoFactorStore};
use crate::revocation::{RevocationRecord, RevocationStamp};
use tessera_mail::Mail;

/// How the `session.token` column holds each session token (`TESSERA_SESSION_TOKEN_STORAGE`).
///
/// Switching from `plain` to `sha256` on a database in use signs out every session made
/// before: lookups are by digest only, so the old raw rows are never found again (their owners
/// get "no session" and sign in anew; `revoke-session` still removes them, and they can be
/// cleared with `DELETE FROM "session" WHERE length("token") <> 64`). Tessera deliberately does
/// not also look raw tokens up during a transition: that would keep every stored token usable
/// from a leaked copy of the database, and keep secret-dependent comparisons, for as long as
/// the transition lasts. Switching back signs out the sessions made under `sha256` likewise,
/// since a digest cannot be turned back into its token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenStorage {
    /// The raw token, as Better Auth stores it: Better Auth can run side by side on the same
    /// database. A read of the table yields usable session tokens.
    #[default]
    Plain,
    /// Only the token's SHA-256, lowercase hex: a read of the table yields no usable token.
    /// Not compatible with Better Auth sharing the database.
    Sha256,
}

impl FromStr for TokenStorage {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "plain" => Ok(Self::Plain),
            "sha256" => Ok(Self::Sha256),
            other => Err(format!(
                "session token storage must be plain or sha256, not {other:?}"
            )),
        }
    }
}

impl TokenStorage {
    /// `store` storing session tokens this way: itself for `Plain`, behind [`HashedTokens`]
    /// for `Sha256`.
    pub fn wrap(self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        match self {
            Self::Plain => store,
            Self::Sha256 => Arc::new(HashedTokens { inner: store }),
        }
    }
}

/// SHA-256 of a session token.
pub(super) fn sha256(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// What the `session.token` column holds for `token` under [`TokenStorage::Sha256`].
fn stored_form(token: &str) -> String {
    hex::encode(sha256(token))
}

/// A [`Store`] that writes and looks sessions up by the SHA-256 of their token; see the
/// module documentation. Callers keep passing and receiving raw tokens.
pub struct HashedTokens {
    inner: Arc<dyn Store>,
}

#[async_trait]
impl Store for HashedTokens {
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
impl UserStore for HashedTokens {
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
    async fn update_user(
        &self,
        id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        self.inner.update_user(id, name, image, now).await
    }
}

#[async_trait]
impl CredentialStore for HashedTokens {
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
impl SessionStore for HashedTokens {
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> StoreResult<()> {
        let stored = Session {
            token: stored_form(&session.token),
            ..session.clone()
        };
        self.inner.create_session(&stored, audit).await
    }
    /// The row found by the presented token's digest, carrying the presented (raw) token again:
    /// callers re-sign it into refreshed cookies and return it from `get-session`, as with
    /// plain storage. A stored digest presented as a token finds nothing (it is hashed again).
    async fn find_session(&self, token: &str) -> StoreResult<Option<(Arc<Session>, Arc<User>)>> {
        let found = self.inner.find_session(&stored_form(token)).await?;
        Ok(found.map(|(session, user)| {
            let mut session = Arc::unwrap_or_clone(session);
            token.clone_into(&mut session.token);
            (Arc::new(session), user)
        }))
    }
    async fn extend_session(
        &self,
        token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner
            .extend_session(&stored_form(token), expires_at, now)
            .await
    }

    async fn delete_session(
        &self,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>> {
        self.inner
            .delete_session(&stored_form(token), audit, stamp)
            .await
    }
    /// `revoke-session`: `token` is either a raw token (the client's own, or one from a sign-in
    /// answer) or a value `list-sessions` listed, which is what the column holds (a digest, or
    /// a raw token of a row from before the switch). The raw reading is tried first, then the
    /// stored one. Accepting a stored value here gives nothing a database reader could use: it
    /// only ends a session of the user already signed in, and answers the same either way.
    async fn delete_user_session(
        &self,
        user_id: &str,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>> {
        let by_digest = self
            .inner
            .delete_user_session(user_id, &stored_form(token), audit, stamp)
            .await?;
        match by_digest {
            Some(id) => Ok(Some(id)),
            None => {
                self.inner
                    .delete_user_session(user_id, token, audit, stamp)
                    .await
            }
        }
    }
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        except_token: Option<&str>,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Vec<String>> {
        let except = except_token.map(stored_form);
        self.inner
            .delete_user_sessions(user_id, except.as_deref(), audit, stamp)
            .await
    }
    /// The rows as stored: each `token` is the session's digest, not a credential (presented
    /// as one it finds nothing), but accepted by `revoke-session` to end that session. Better
    /// Auth lists raw tokens here; clients that tell the current session apart compare `id`.
    async fn list_sessions(&self, user_id: &str, now: DateTime<Utc>) -> StoreResult<Vec<Session>> {
        self.inner.list_sessions(user_id, now).await
    }

    // Everything below involves no session token.
}

#[async_trait]
impl KeyStore for HashedTokens {
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
impl AuditStore for HashedTokens {
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
impl PasswordResetStore for HashedTokens {
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
        self.inner.reset_password(write).await
    }
}

#[async_trait]
impl TwoFactorStore for HashedTokens {
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
impl EmailVerificationStore for HashedTokens {
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
        self.inner
            .change_email(user_id, new_email, email_verified, now, audit)
            .await
    }
}

#[async_trait]
impl VerificationStore for HashedTokens {
    async fn take_verification(
        &self,
        identifier: &str,
    ) -> StoreResult<Option<(String, DateTime<Utc>)>> {
        self.inner.take_verification(identifier).await
    }
}

#[async_trait]
impl DeleteUserStore for HashedTokens {
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
        self.inner.delete_user(user_id, audit, revoked, stamp).await
    }
}

crate::features::passkey::delegate_passkey_store!(HashedTokens);

#[async_trait]
impl SocialStore for HashedTokens {
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

#[cfg(test)]
mod tests {
    use super::{TokenStorage, stored_form};

    #[test]
    fn the_stored_form_is_the_lowercase_hex_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            stored_form("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn storage_names_parse_exactly() {
        assert_eq!("plain".parse(), Ok(TokenStorage::Plain));
        assert_eq!("sha256".parse(), Ok(TokenStorage::Sha256));
        for bad in ["", "SHA256", "sha-256", "hash"] {
            assert!(bad.parse::<TokenStorage>().is_err(), "{bad:?}");
        }
    }
}
