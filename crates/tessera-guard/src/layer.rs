//! [`GuardLayer`]: protects every route of a router at once.
//!
//! Requests without a valid bearer token are answered by the layer (401, FastAPI-shaped) and
//! never reach the handlers; accepted requests carry the [`AuthUser`] (and the [`Guard`]) in
//! their extensions, where the `AuthUser` extractor finds them without verifying twice.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::keys::BoxFuture;
use crate::{AuthUser, Guard};

/// A tower layer requiring a valid bearer token on every request.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    /// A layer verifying with `guard`.
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service [`GuardLayer`] wraps around the inner one.
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request> for GuardService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone is not ready; swap it in and call the one `poll_ready` prepared (tower's
        // documented pattern for services that move into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            match guard.authenticate(request.headers()).await {
                Ok(user) => {
                    let extensions = request.extensions_mut();
                    extensions.insert::<AuthUser>(user);
                    extensions.insert::<Guard>(guard);
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
