//! The test app: a fresh migrated database, a manual clock and the outbox over them; the real
//! SMTP server of `scripts/test.sh` (`TEST_SMTP_URL`, `TEST_MAILDIR`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tessera_db::Database;
use tessera_db::testing::{Backend, TestDatabase};
use tessera_mail::transport::{SmtpTransport, Transport};
use tessera_mail::{Mail, MailKind, Outbox, SecretUrl, Templates, Worker, WorkerConfig};

pub(crate) use tessera_db::on_both_backends;

/// How long a test waits for the SMTP server (another process) to write a mail.
pub(crate) const MAIL_DEADLINE: StdDuration = StdDuration::from_secs(30);

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

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
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
        let outbox = Self::outbox_on(db.database().clone(), &clock);
        Self { db, clock, outbox }
    }

    /// An outbox on `db` timed by `clock`.
    pub(crate) fn outbox_on(db: Database, clock: &TestClock) -> Outbox {
        let tick = clock.clone();
        Outbox::new(db, move || tick.now())
    }

    pub(crate) fn database(&self) -> &Database {
        self.db.database()
    }

    /// A worker on this app's outbox.
    pub(crate) fn worker(&self, transport: Arc<dyn Transport>, config: WorkerConfig) -> Worker {
        Worker::new(
            self.outbox.clone(),
            transport,
            Templates::built_in("Tessera Test"),
            config,
        )
    }

    /// Enqueues `mail` in a transaction of its own that commits or rolls back.
    pub(crate) async fn enqueue_in_transaction(&self, mail: &Mail, commit: bool) {
        let now = self.clock.now();
        macro_rules! run {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.unwrap();
                tessera_mail::enqueue(&mut *tx, mail, now).await.unwrap();
                if commit {
                    tx.commit().await.unwrap();
                } else {
                    tx.rollback().await.unwrap();
                }
            }};
        }
        match self.database() {
            Database::Sqlite(pool) => run!(pool),
            Database::Postgres(pool) => run!(pool),
        }
        if commit {
            self.outbox.wake();
        }
    }

    /// How many outbox rows there are.
    pub(crate) async fn outbox_rows(&self) -> i64 {
        self.scalar(r#"SELECT COUNT(*) FROM "mail_outbox""#).await
    }

    /// An integer the query `sql` returns.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        match self.database() {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    /// A text the query `sql` returns.
    pub(crate) async fn text(&self, sql: &str) -> String {
        match self.database() {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }
}

/// The worker settings of the tests: sending as the test sender, a poll long enough that only a
/// wake-up (or an explicit round) delivers within a test's deadline.
pub(crate) fn config() -> WorkerConfig {
    let mut config = WorkerConfig::new("Tessera Test <no-reply@tessera.test>");
    config.poll = StdDuration::from_secs(3600);
    config
}

/// The real test SMTP server.
pub(crate) fn smtp() -> Arc<dyn Transport> {
    Arc::new(SmtpTransport::from_url(&tessera_mail::testing::smtp_url()).unwrap())
}

/// A recipient no other test (in this run or an earlier one on the same Maildir) writes to.
pub(crate) fn recipient(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{tag}-{}-{nanos}-{}@example.com",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A reset mail to `to` whose link holds `token`.
pub(crate) fn reset_mail(to: &str, token: &str) -> Mail {
    Mail::new(
        MailKind::ResetPassword,
        to,
        "Alice <Admin>",
        SecretUrl::new(format!(
            "http://127.0.0.1:3000/api/auth/reset-password/{token}?callbackURL=%2Fdone&x=1"
        )),
    )
}

/// How many mails the test SMTP server holds for `to`.
pub(crate) fn delivered_to(to: &str) -> usize {
    tessera_mail::testing::mails_to(&tessera_mail::testing::maildir(), to).len()
}
