//! The social sign-in feature's settings: Better Auth's `socialProviders` and `genericOAuth`
//! providers, and its `account.accountLinking` rules.

use crate::secret::Secret;

/// Where a provider's endpoints and keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenID Connect issuer: endpoints, issuer and keys from
    /// `<issuer>/.well-known/openid-configuration` (Better Auth's `genericOAuth` with a
    /// `discoveryUrl`). ID tokens are bound to the sign-in by a nonce.
    Oidc {
        /// The issuer URL, exactly as its discovery document names it.
        issuer: String,
    },
    /// Google (Better Auth's `socialProviders.google`): Google's fixed endpoints and keys, its
    /// default scopes `email profile openid`, `include_granted_scopes=true`, no nonce.
    Google,
}

/// One configured provider.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The provider id: `provider` in `/sign-in/social`, the path of `/callback/<id>`, and the
    /// `providerId` of its `account` rows.
    pub id: String,
    /// Where its endpoints come from.
    pub kind: ProviderKind,
    /// The OAuth client id (also the ID token's expected `aud`).
    pub client_id: String,
    /// The OAuth client secret, sent in the token request body (`client_secret_post`, Better
    /// Auth's default).
    pub client_secret: Secret,
    /// Scopes asked for besides those the request names (`scope` for Google, `scopes` for a
    /// generic provider); `openid` is always asked of an OpenID Connect issuer.
    pub scopes: Vec<String>,
}

/// Social sign-in and account linking.
#[derive(Clone, Debug)]
pub struct SocialSettings {
    /// The providers, in the order configured. None: the feature's endpoints answer as Better
    /// Auth's do without providers (`PROVIDER_NOT_FOUND`).
    pub providers: Vec<ProviderSettings>,
    /// `account.accountLinking.enabled`: whether a provider account may be linked to an
    /// existing user with the same email (Better Auth's default: yes).
    pub account_linking: bool,
    /// `account.accountLinking.trustedProviders`: providers whose email is taken as verified
    /// for linking even when they do not say so (default: none).
    pub trusted_providers: Vec<String>,
    /// `account.accountLinking.requireLocalEmailVerified`: an existing user is linked only if
    /// their own email is verified (Better Auth's default: yes), so nobody who registered an
    /// unverified address first can take over the provider's account.
    pub require_local_email_verified: bool,
    /// Allow plain `http://` provider endpoints on non-loopback hosts (off: https, or http to
    /// loopback only).
    pub allow_insecure_http: bool,
    /// `account.encryptOAuthTokens`: store providers' access and refresh tokens sealed with the
    /// secret in Better Auth's format (XChaCha20-Poly1305, `$ba$<version>$` when versioned),
    /// so a copy of the database holds no usable provider token (Better Auth's default: off).
    pub encrypt_oauth_tokens: bool,
}

impl Default for SocialSettings {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            account_linking: true,
            trusted_providers: Vec::new(),
            require_local_email_verified: true,
            allow_insecure_http: false,
            encrypt_oauth_tokens: false,
        }
    }
}

impl SocialSettings {
    /// The provider with `id`.
    pub fn provider(&self, id: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.id == id)
    }
}
