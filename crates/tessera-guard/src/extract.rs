//! [`AuthUser`] as an axum extractor.
//!
//! The guard is looked up, in order: an `AuthUser` a [`crate::GuardLayer`] already verified
//! for this request; a [`Guard`] in the request extensions (`Extension(guard)` or the layer);
//! the router state, through `FromRef`. A state of `()` provides no guard, so a stateless
//! router must use one of the first two.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::{AuthUser, Guard, GuardError};

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Guard: FromRef<S>,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let guard = match parts.extensions.get::<Guard>() {
            Some(guard) => guard.clone(),
            None => Guard::from_ref(state),
        };
        guard.authenticate(&parts.headers).await
    }
}

/// `Option<AuthUser>`: `None` when there is no `Authorization` header at all; a header that is
/// present but wrong is still an error, never silently anonymous.
impl<S> OptionalFromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Guard: FromRef<S>,
{
    type Rejection = GuardError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && parts.extensions.get::<AuthUser>().is_none()
        {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// A stateless router (`Router<()>`) has no guard in its state: the extractor then needs one
/// in the request extensions, and answers 500 (logged) when there is none.
impl FromRef<()> for Guard {
    fn from_ref(_: &()) -> Self {
        Guard::unconfigured()
    }
}

/// A router whose state is an `Arc<Guard>` (a `Guard` is already a cheap handle, but some apps
/// share everything through `Arc`).
impl FromRef<Arc<Guard>> for Guard {
    fn from_ref(guard: &Arc<Guard>) -> Self {
        Guard::clone(guard)
    }
}
