//! The `tessera` binary's own behaviour, run as a process: what its command line and settings
//! refuse, and how it says so; several processes on one PostgreSQL and Redis acting as one
//! service; the faults they survive (databases and Redis the tests stop under them); and a
//! graceful stop on SIGTERM.
//! Wiring (routes, guards, revocations, cookies) is tested in process through
//! `tessera-server`'s `spawn_app()`, in `crates/tessera-server/tests/app/`.

mod connections;
mod faults;
mod helpers;
mod instances;
mod shutdown;
mod start_up;
