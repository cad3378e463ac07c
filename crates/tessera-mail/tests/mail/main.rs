//! tessera-mail's integration tests: the outbox and its worker on real SQLite and PostgreSQL,
//! delivering to a real SMTP server, a real webhook receiver and real files.

mod helpers;
mod outbox;
