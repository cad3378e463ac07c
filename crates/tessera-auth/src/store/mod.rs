//! Storage behind one trait per area ([`UserStore`], [`SessionStore`], [`AuditStore`] here;
//! each feature's in its module), gathered by [`Store`], with a SQLite and a PostgreSQL
//! implementation.
//!
//! Tables and columns are Better Auth 1.7.25's (`user`, `session`, `account`, `verification`,
//! `jwks`, camelCase columns), so a Better Auth database is used in place. Both backends share
//! the same SQL text (`$N` placeholders and quoted identifiers work in both); only the encoding
//! of dates differs, and [`DbTime`] owns that.
//!
//! Methods that perform an audited action take its [`AuditEvent`] and write it in the same
//! transaction (see [`crate::audit`]); they do not emit its `tracing` line, the caller does.
//! Methods that delete sessions also take a [`RevocationStamp`] and write one revocation record
//! per session deleted, in the same transaction (see [`crate::revocation`]).

mod models;
mod session_cache;
mod sql;
mod token_storage;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::{AuditEvent, AuditFilter};
use crate::features::delete_user::DeleteUserStore;
use crate::features::email_password::CredentialStore;
use crate::features::email_verification::EmailVerificationStore;
use crate::features::jwt::KeyStore;
use crate::features::passkey::PasskeyStore;
use crate::features::password_reset::PasswordResetStore;
use crate::features::social::SocialStore;
use crate::features::two_factor::TwoFactorStore;
use crate::revocation::{RevocationRecord, RevocationStamp};

pub use models::{Account, JwkRow, LinkedAccount, Session, User};
pub use session_cache::SessionCache;
pub use sql::{SqlStore, connect, migrations, open};
pub use tessera_db::{DbTime, StoreError, StoreResult};
pub use token_storage::{HashedTokens, TokenStorage};

/// Everything the auth server persists: the core's stores and every feature's, over one
/// database. `Arc<dyn Store>` is what [`AuthState`](crate::AuthState) holds; a feature's code
/// asks only for its own trait (a `&dyn Store` coerces to any of them).
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + AuditStore
    + CredentialStore
    + KeyStore
    + PasswordResetStore
    + EmailVerificationStore
    + PasskeyStore
    + DeleteUserStore
    + VerificationStore
    + SocialStore
    + TwoFactorStore
{
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pool.
    async fn close(&self);
}

/// The core's `verification` table as the features spend it: reset, deletion, passkey
/// challenge and OAuth state tokens alike.
#[async_trait]
pub trait VerificationStore: Send + Sync + 'static {
    /// Takes the token `identifier`: deletes every row of it and answers the newest one's value
    /// and expiry. Deleting is the claim: of two concurrent calls, one gets the row.
    async fn take_verification(
        &self,
        identifier: &str,
    ) -> StoreResult<Option<(String, DateTime<Utc>)>>;

    /// [`Self::take_verification`], only if the row had not expired at `now` (Better Auth's
    /// `consumeVerificationValue`).
    async fn consume_verification(
        &self,
        identifier: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(String, DateTime<Utc>)>> {
        let taken = self.take_verification(identifier).await?;
        Ok(taken.filter(|(_, expires_at)| *expires_at > now))
    }
}

/// The core's users (Better Auth's `user` table).
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Finds a user by (lower-cased) email.
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Finds a user by id.
    async fn find_user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// Updates a user's name and/or image; returns the updated user.
    async fn update_user(
        &self,
        id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;
    /// The user's accounts (credential and social), oldest first.
    async fn list_accounts(&self, user_id: &str) -> StoreResult<Vec<LinkedAccount>>;
    /// Deletes account `id` of `user_id` and writes `audit`, in one transaction, only if the
    /// user keeps another account; whether it was deleted.
    async fn delete_account_keeping_one(
        &self,
        user_id: &str,
        id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool>;
}

/// The core's sessions (the `session` table).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a session and writes `audit` in the same transaction.
    async fn create_session(&self, session: &Session, audit: &AuditEvent) -> StoreResult<()>;
    /// Looks a session up by its token, with its user. Shared rows: a cache hands out the
    /// same ones to every request rather than a copy each.
    ///
    /// Session methods take the token as the caller has it; [`HashedTokens`] turns it into
    /// what the `token` column holds ([`TokenStorage`]).
    async fn find_session(&self, token: &str) -> StoreResult<Option<(Arc<Session>, Arc<User>)>>;
    /// Slides a session's expiry forward.
    async fn extend_session(
        &self,
        token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Deletes a session by token; returns the id of the session deleted, if one was. `audit`
    /// and its revocation record (`stamp`) are written in the same transaction when one was.
    async fn delete_session(
        &self,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>>;
    /// Deletes a session by token only if it belongs to `user_id`; returns its id if one was
    /// deleted, and then writes `audit`, naming that session, and its revocation record in the
    /// same transaction.
    async fn delete_user_session(
        &self,
        user_id: &str,
        token: &str,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Option<String>>;
    /// Deletes every session of a user except, optionally, one; returns the ids deleted. When
    /// any was, writes `audit` naming them ([`AuditEvent::with_ended_sessions`]) and one
    /// revocation record each in the same transaction.
    async fn delete_user_sessions(
        &self,
        user_id: &str,
        except_token: Option<&str>,
        audit: &AuditEvent,
        stamp: RevocationStamp,
    ) -> StoreResult<Vec<String>>;
    /// The user's sessions that expire after `now`.
    async fn list_sessions(&self, user_id: &str, now: DateTime<Utc>) -> StoreResult<Vec<Session>>;
}

/// The core's audit log (the `audit_event` table), and the revocation feed read from it.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Writes an audit event that goes with no other change.
    async fn insert_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Reads the audit log, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    /// The revocation feed's source: revocation records whose id sorts after `after` and whose
    /// horizon is after `now`, in id order, at most `limit`.
    async fn list_revocations(
        &self,
        after: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RevocationRecord>>;
}
