//! The `tessera` binary's own behaviour, run as a process: what its command line and settings
//! refuse, and how it says so. Wiring (routes, guards, revocations, cookies) is tested in
//! process through `tessera-server`'s `spawn_app()`, in `crates/tessera-server/tests/app/`.

mod start_up;
