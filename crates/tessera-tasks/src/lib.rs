//! Tessera's example resource API: each user's tasks under `/api/{user_id}/tasks`.
//!
//! Every route is guarded by [`tessera_guard`]: no valid bearer token is a 401, a token for
//! another user than the path names is a 403, and another user's task id is a 404 that does not
//! reveal the task exists. Below the HTTP layer, every store function takes the verified
//! [`UserId`]; on PostgreSQL a row-level-security policy enforces the same isolation again.
//! Errors are FastAPI-shaped (`{"detail": …}`), like the seed's backend.
//!
//! Build a [`TasksState`] from a [`store::TaskStore`] and a [`tessera_guard::Guard`], then
//! merge [`router`] into the app.
#![forbid(unsafe_code)]

mod body;
pub mod domain;
mod error;
mod ids;
mod owner;
mod routes;
mod state;
pub mod store;

pub use domain::{Task, UserId};
pub use error::ApiError;
pub use routes::{openapi, router};
pub use state::{Now, TasksState, system_clock};
