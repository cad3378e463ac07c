//! The test app: a fresh migrated database, a manual clock and the outbox over them.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tessera_db::Database;
use tessera_db::testing::{Backend, TestDatabase};
use tessera_mail::{Mail, MailKind, Outbox, SecretUrl};

pub(crate) use tessera_db::on_both_backends;

/// A clock that moves only when a test says so.
#[derive(Clone)]
pub(crate) struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        let start = DateTime::from_timestamp_millis(1_800_000_000_000).expect("a valid time");
        Self(Arc::new(Mutex::new(start)))
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// One test's database, clock and outbox.
pub(crate) struct TestApp {
    pub(crate) db: TestDatabase,
    pub(crate) clock: TestClock,
    pub(crate) outbox: Outbox,
}

impl TestApp {
    pub(crate) async fn spawn(backend: Backend) -> Self {
        let db = TestDatabase::create(backend, &[tessera_mail::migrations]).await;
        let clock = TestClock::new();
        let tick = clock.clone();
        let outbox = Outbox::new(db.database().clone(), move || tick.now());
        Self { db, clock, outbox }
    }

    pub(crate) fn database(&self) -> &Database {
        self.db.database()
    }

    /// How many outbox rows there are.
    pub(crate) async fn outbox_rows(&self) -> i64 {
        let sql = r#"SELECT COUNT(*) FROM "mail_outbox""#;
        match self.database() {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }
}

/// A reset mail to `to` whose link holds `token`.
pub(crate) fn reset_mail(to: &str, token: &str) -> Mail {
    Mail::new(
        MailKind::ResetPassword,
        to,
        "Alice",
        SecretUrl::new(format!(
            "http://127.0.0.1:3000/api/auth/reset-password/{token}?callbackURL=%2F"
        )),
    )
}
