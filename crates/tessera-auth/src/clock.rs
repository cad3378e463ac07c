//! Time, injectable so expiry and sliding refresh are tested without sleeping.
//!
//! The one copy lives in `tessera-clock`, shared with the guard and the tasks API; this
//! module keeps the `tessera_auth::clock::…` paths.

pub use tessera_clock::{Clock, ManualClock, SystemClock, iso_millis};
