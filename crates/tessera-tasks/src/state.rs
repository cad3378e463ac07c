//! The state every handler receives.

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRef;
use tessera_clock::{Clock, SystemClock};
use tessera_guard::Guard;

use crate::store::TaskStore;

/// The time source for task timestamps (the workspace's one `tessera_clock::Clock`);
/// injectable so tests never sleep.
pub type Now = Arc<dyn Clock>;

/// The wall clock, to the millisecond (the precision task timestamps are stored with).
pub fn system_clock() -> Now {
    Arc::new(SystemClock)
}

/// Cheap-to-clone handle on the tasks API's parts.
#[derive(Clone)]
pub struct TasksState {
    /// Persistence.
    pub store: Arc<dyn TaskStore>,
    /// Verifies bearer tokens.
    pub guard: Guard,
    /// The current time.
    pub now: Now,
}

impl TasksState {
    /// State with the system clock.
    pub fn new(store: Arc<dyn TaskStore>, guard: Guard) -> Self {
        Self {
            store,
            guard,
            now: system_clock(),
        }
    }

    /// Replaces the time source.
    #[must_use]
    pub fn with_clock(mut self, now: Now) -> Self {
        self.now = now;
        self
    }
}

impl FromRef<TasksState> for Guard {
    fn from_ref(state: &TasksState) -> Self {
        state.guard.clone()
    }
}

impl fmt::Debug for TasksState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TasksState")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
