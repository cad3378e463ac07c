//! Better Auth's social sign-in: `POST /sign-in/social` (to the provider with PKCE, state and
//! nonce, or straight in with a provider's ID token) and `GET`/`POST /callback/:providerId`
//! (the code exchanged, the ID token verified, the user found, linked or created, a session
//! opened). Providers: any OpenID Connect issuer through discovery (Better Auth's
//! `genericOAuth`, which 1.7 serves through these same endpoints) and Google. State rows,
//! cookies and `account` rows are Better Auth's, so a sign-in started on either server can
//! finish on the other.

mod callback;
mod oauth_state;
mod provider;
mod settings;
mod sign_in;
mod store;
mod users;

use std::sync::Arc;

use axum::Router;

use super::Feature;
use crate::clock::Clock;
use crate::state::AuthState;

pub use settings::{ProviderKind, ProviderSettings, SocialSettings};
pub use store::{FreshTokens, OAuthAccount, SocialStore};

use provider::Provider;

/// The social sign-in feature.
pub(crate) struct Social;

impl Feature for Social {
    fn routes(&self) -> Router<AuthState> {
        sign_in::router().merge(callback::router())
    }
}

/// The configured providers, ready to use.
#[derive(Debug, Default)]
pub struct SocialState {
    providers: Vec<Arc<Provider>>,
}

impl SocialState {
    /// The providers of `settings`. One whose settings are unusable (a URL that is neither
    /// https nor loopback) is left out and logged: signing in with it answers
    /// `PROVIDER_NOT_FOUND`, as Better Auth does for a provider it skipped.
    pub(crate) fn new(settings: &SocialSettings, clock: &Arc<dyn Clock>) -> Self {
        let providers = settings
            .providers
            .iter()
            .filter_map(|p| {
                match Provider::new(p.clone(), settings.allow_insecure_http, Arc::clone(clock)) {
                    Ok(provider) => Some(Arc::new(provider)),
                    Err(error) => {
                        tracing::error!(provider = %p.id, %error, "social provider left out");
                        None
                    }
                }
            })
            .collect();
        Self { providers }
    }

    /// The usable providers' ids and display names, in the order configured (Google's name is
    /// `Google`, a generic provider's its id).
    pub fn providers(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| {
                let name = match p.settings.kind {
                    ProviderKind::Google => "Google".to_owned(),
                    ProviderKind::Oidc { .. } => p.settings.id.clone(),
                };
                (p.settings.id.clone(), name)
            })
            .collect()
    }

    /// The provider with `id`.
    fn provider(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.settings.id == id)
    }
}

/// The callback URL of provider `id`: what the provider redirects to, and the `redirect_uri`
/// of both the authorization and the token request.
fn redirect_uri(state: &AuthState, id: &str) -> String {
    format!("{}/api/auth/callback/{id}", state.config.base_origin)
}
