//! [`Owner`]: the caller, proven to be the user the request path names.

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use tessera_guard::{AuthUser, Guard};

use crate::{ApiError, UserId};

/// Extracts the verified caller and requires the path's `{user_id}` to be them.
///
/// It runs before any body is read, so the order of answers is: 401 (no or bad token), 403
/// (someone else's path), then 413/415/422 for the body. Holding an `Owner` is the only way a
/// handler gets the [`UserId`] the store demands.
pub(crate) struct Owner(pub UserId);

impl<S> FromRequestParts<S> for Owner
where
    S: Send + Sync,
    Guard: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::TaskNotFound)?;
        let path_user = params
            .iter()
            .find_map(|(name, value)| (name == "user_id").then_some(value))
            .unwrap_or_default();
        user.ensure_same_user(path_user)?;
        Ok(Self(UserId::from_auth(&user)))
    }
}
