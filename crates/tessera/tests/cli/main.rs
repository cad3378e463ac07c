//! The `tessera` binary's own behaviour, run as a process: what its command line and settings
//! refuse, and how it says so; several processes on one PostgreSQL and Redis acting as one
//! service; the faults they survive (databases and Redis the tests stop under them); a graceful
//! stop on SIGTERM; and the metrics listener `TESSERA_METRICS_ADDR` starts.
//! Wiring (routes, guards, revocations, cookies) is tested in process through
//! `tessera-server`'s `spawn_app()`, in `crates/tessera-server/tests/app/`.

mod connections;
mod faults;
mod helpers;
mod instances;
mod metrics;
mod shutdown;
mod start_up;
