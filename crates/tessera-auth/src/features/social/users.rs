//! From the user a provider vouches for to a signed-in session, by Better Auth's rules
//! (`handleOAuthUserInfo`): a linked account signs its user in (its tokens refreshed); an
//! existing user with the same email is linked only when the provider is trusted or says the
//! email is verified, the local email is verified too (`requireLocalEmailVerified`) and
//! linking is on; otherwise a new user and account are created.

use serde_json::json;

use super::provider::{ProviderUser, Tokens};
use super::store::{FreshTokens, OAuthAccount};
use crate::audit::AuditKind;
use crate::error::ApiError;
use crate::ids::generate_id;
use crate::metrics::SignInOutcome;
use crate::session::ClientMeta;
use crate::state::AuthState;
use crate::store::{DbTime, Session, StoreError, User};

/// What a provider sign-in writes into the account row.
pub(super) struct AccountData<'a> {
    pub provider_id: &'a str,
    pub tokens: &'a Tokens,
    /// `scope` (comma-separated), when the flow records one.
    pub scope: Option<String>,
}

/// A sign-in that went through.
pub(super) struct SignedIn {
    pub user: User,
    pub session: Session,
    /// Whether the user was created by this sign-in (the callback then prefers `newUserURL`).
    pub is_register: bool,
}

/// Why a provider sign-in was refused: Better Auth's message; the callback's error code is
/// it with `_` for spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal(pub &'static str);

impl Refusal {
    pub(super) const ACCOUNT_NOT_LINKED: Self = Self("account not linked");
    pub(super) const SIGNUP_DISABLED: Self = Self("signup disabled");
    pub(super) const UNABLE_TO_CREATE_USER: Self = Self("unable to create user");
    pub(super) const UNABLE_TO_LINK_ACCOUNT: Self = Self("unable to link account");

    /// The callback's `?error=` code.
    pub(super) fn code(self) -> String {
        self.0.replace(' ', "_")
    }
}

/// Signs `info`'s user in (creating or linking as the rules allow) and opens a session.
pub(super) async fn sign_in_provider_user(
    state: &AuthState,
    meta: &ClientMeta,
    info: &ProviderUser,
    email: &str,
    account: AccountData<'_>,
    disable_sign_up: bool,
) -> Result<Result<SignedIn, Refusal>, ApiError> {
    let settings = &state.config.social;
    let email = email.to_lowercase();
    let now = state.clock.now();
    let stamp = DbTime::from(now);
    let provider = account.provider_id;
    let tokens = account.tokens;
    let linked = state
        .store
        .find_oauth_account(provider, &info.account_id)
        .await?;
    let (user, is_register) = if let Some(linked) = linked {
        let Some(user) = state.store.find_user_by_id(&linked.user_id).await? else {
            // An account whose user is gone: repaired by hand, never adopted by a new user.
            return Ok(Err(Refusal::UNABLE_TO_LINK_ACCOUNT));
        };
        let fresh = FreshTokens {
            access_token: at_rest(state, &tokens.access_token)?,
            refresh_token: at_rest(state, &tokens.refresh_token)?,
            id_token: tokens.id_token.clone(),
            access_token_expires_at: tokens.access_token_expires_at.map(DbTime::from),
            refresh_token_expires_at: tokens.refresh_token_expires_at.map(DbTime::from),
        };
        state
            .store
            .update_oauth_tokens(&linked.id, &fresh, now)
            .await?;
        (
            verify_if_vouched(state, meta, user, info, &email).await?,
            false,
        )
    } else if let Some(user) = state.store.find_user_by_email(&email).await? {
        let trusted = settings.trusted_providers.iter().any(|p| p == provider);
        if (!trusted && !info.email_verified)
            || (settings.require_local_email_verified && !user.email_verified)
            || !settings.account_linking
        {
            return Ok(Err(Refusal::ACCOUNT_NOT_LINKED));
        }
        let row = account_row(state, &user.id, info, &account, stamp)?;
        let audit = state
            .audit_event(AuditKind::AccountLinked, meta)
            .user(&user.id)
            .detail(json!({ "provider": provider }));
        match state.store.link_oauth_account(&row, &audit).await {
            Ok(()) => audit.emit(),
            Err(StoreError::Conflict(_)) => return Ok(Err(Refusal::UNABLE_TO_LINK_ACCOUNT)),
            Err(other) => return Err(other.into()),
        }
        (
            verify_if_vouched(state, meta, user, info, &email).await?,
            false,
        )
    } else {
        if disable_sign_up {
            return Ok(Err(Refusal::SIGNUP_DISABLED));
        }
        let user = User {
            id: generate_id(32),
            name: info.name.clone().unwrap_or_default(),
            email: email.clone(),
            email_verified: info.email_verified,
            image: info.image.clone(),
            created_at: stamp,
            updated_at: stamp,
            // As a password sign-up: Better Auth's plugin adds the column with `false`.
            two_factor_enabled: state.config.two_factor.enabled.then_some(false),
        };
        let row = account_row(state, &user.id, info, &account, stamp)?;
        let audit = state
            .audit_event(AuditKind::SignUp, meta)
            .user(&user.id)
            .detail(json!({ "via": provider }));
        match state.store.create_oauth_user(&user, &row, &audit).await {
            Ok(()) => audit.emit(),
            // A concurrent sign-up took the address first.
            Err(StoreError::Conflict(_)) => return Ok(Err(Refusal::UNABLE_TO_CREATE_USER)),
            Err(other) => return Err(other.into()),
        }
        (user, true)
    };
    let audit = state
        .audit_event(AuditKind::SignIn, meta)
        .user(&user.id)
        .detail(json!({ "via": "social", "provider": provider }));
    let session = state.create_session(&user, meta, false, audit).await?;
    state.metrics.sign_in(SignInOutcome::Success);
    Ok(Ok(SignedIn {
        user,
        session,
        is_register,
    }))
}

/// Marks the user's email verified when the provider vouches for that same address (Better
/// Auth does so on every provider sign-in).
async fn verify_if_vouched(
    state: &AuthState,
    meta: &ClientMeta,
    user: User,
    info: &ProviderUser,
    email: &str,
) -> Result<User, StoreError> {
    if !info.email_verified || user.email_verified || email != user.email {
        return Ok(user);
    }
    let audit = state
        .audit_event(AuditKind::EmailVerified, meta)
        .user(&user.id)
        .detail(json!({ "via": "social" }));
    let updated = state
        .store
        .mark_email_verified(&user.id, state.clock.now(), &audit)
        .await?;
    audit.emit();
    Ok(updated.unwrap_or(user))
}

/// A provider token as stored: sealed under the secret with `encryptOAuthTokens`, else as sent
/// (Better Auth's `setTokenUtil`; ID tokens are never sealed).
fn at_rest(state: &AuthState, token: &Option<String>) -> Result<Option<String>, ApiError> {
    match token {
        Some(token) if state.config.social.encrypt_oauth_tokens => state
            .config
            .secrets
            .encrypt(token)
            .map(Some)
            .map_err(|_| ApiError::internal()),
        other => Ok(other.clone()),
    }
}

/// A new account row for `user_id`.
fn account_row(
    state: &AuthState,
    user_id: &str,
    info: &ProviderUser,
    account: &AccountData<'_>,
    now: DbTime,
) -> Result<OAuthAccount, ApiError> {
    Ok(OAuthAccount {
        id: generate_id(32),
        account_id: info.account_id.clone(),
        provider_id: account.provider_id.to_owned(),
        user_id: user_id.to_owned(),
        access_token: at_rest(state, &account.tokens.access_token)?,
        refresh_token: at_rest(state, &account.tokens.refresh_token)?,
        id_token: account.tokens.id_token.clone(),
        access_token_expires_at: account.tokens.access_token_expires_at.map(DbTime::from),
        refresh_token_expires_at: account.tokens.refresh_token_expires_at.map(DbTime::from),
        scope: account.scope.clone(),
        created_at: now,
        updated_at: now,
    })
}
