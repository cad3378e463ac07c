//! tessera-mail's integration tests: the outbox and its worker on real SQLite and PostgreSQL,
//! delivering to a real SMTP server (`scripts/test.sh` starts aiosmtpd), a real webhook
//! receiver and real files.

mod delivery;
mod helpers;
mod outbox;
mod retries;
mod shutdown;
mod transports;
