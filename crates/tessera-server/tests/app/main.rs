//! The whole `tessera serve` stack, as `Application::build` assembles it for the binary, started
//! in process on 127.0.0.1:0 by [`helpers::spawn_app`] and driven over real sockets.

mod connections;
mod cookies;
mod edge;
mod health;
mod helpers;
mod mail;
mod metrics;
mod tasks;
mod two_services;
mod web;
