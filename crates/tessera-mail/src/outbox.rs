//! The outbox: writing a mail to send, in the caller's transaction or on its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{Database as SqlxDatabase, Encode, Executor, IntoArguments, Type};
use tessera_db::{Database, DbTime, Migrations};
use tokio::sync::Notify;

use crate::mail::Payload;
use crate::{Mail, MailError, MailResult};

/// The mail crate's migrations (version 2000: the `mail_outbox` table), for
/// [`tessera_db::migrate`]. They stand alone (no foreign key to the auth tables), so they may
/// run before or after the auth server's.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
        sqlite_columns: &[],
    }
}

/// The statement [`enqueue`] runs, identical on both backends: `$1` id, `$2` now (created and
/// first due), `$3` kind, `$4` recipient, `$5` payload (JSON holding the link).
pub const INSERT_OUTBOX: &str = r#"INSERT INTO "mail_outbox"
    ("id", "created_at", "kind", "recipient", "payload", "attempts", "next_attempt_at")
    VALUES ($1, $2, $3, $4, $5, 0, $2)"#;

/// An outbox row's id: 12 hex digits of Unix milliseconds then 20 random hex digits, so ids
/// sort by creation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MailId(pub String);

impl MailId {
    fn generate(now: DateTime<Utc>) -> Self {
        let mut random = [0u8; 10];
        SystemRandom::new()
            .fill(&mut random)
            .expect("the system random source is available");
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        Self(format!("{millis:012x}{}", hex::encode(random)))
    }
}

/// Writes `mail` to the outbox on `conn`, which is the caller's transaction: the mail is sent
/// only if that transaction commits, and is then sent even if the process stops right after.
/// `now` is the caller's clock (the row is due at once).
///
/// Nothing wakes the worker from inside a transaction (it might still roll back): after the
/// commit, call [`Outbox::wake`], or the worker finds the row at its next poll.
///
/// The auth store's `sql_store!` macro calls it the same way on both backends:
///
/// ```ignore
/// let mut tx = self.pool.begin().await?;
/// // … write the verification token on `&mut *tx` …
/// let mail = Mail::new(MailKind::ResetPassword, &user.email, &user.name, SecretUrl::new(url));
/// tessera_mail::enqueue(&mut *tx, &mail, now).await?;
/// tx.commit().await?;
/// outbox.wake();
/// ```
///
/// # Errors
/// The statement's failure, as sqlx reports it (the caller's transaction then rolls back).
pub async fn enqueue<'c, DB, E>(
    conn: E,
    mail: &Mail,
    now: DateTime<Utc>,
) -> Result<MailId, sqlx::Error>
where
    DB: SqlxDatabase,
    E: Executor<'c, Database = DB>,
    for<'q> <DB as SqlxDatabase>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> DbTime: Encode<'q, DB> + Type<DB>,
{
    let id = MailId::generate(now);
    let payload = serde_json::to_string(&Payload::of(mail))
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query::<DB>(INSERT_OUTBOX)
        .bind(id.0.clone())
        .bind(DbTime::from(now))
        .bind(mail.kind.as_str().to_owned())
        .bind(mail.to.clone())
        .bind(payload)
        .execute(conn)
        .await?;
    Ok(id)
}

/// A source of the current time for the outbox and its worker. Any `Fn() -> DateTime<Utc>`
/// is one, so the composition root passes `move || clock.now()` with the auth server's clock
/// and tests pass a manual one.
pub trait Now: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

impl<F: Fn() -> DateTime<Utc> + Send + Sync + 'static> Now for F {
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}

/// The outbox over the shared database: enqueues mails that carry no token of their own
/// (outside any transaction) and wakes the worker. Clones share the wake-up signal.
#[derive(Clone)]
pub struct Outbox {
    pub(crate) db: Database,
    pub(crate) now: Arc<dyn Now>,
    pub(crate) wake: Arc<Notify>,
}

/// The rows [`Outbox::pending`] counts (the migrations' partial index has the same condition).
const PENDING: &str =
    r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "sent_at" IS NULL AND "failed_at" IS NULL"#;

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// The outbox on `db` (already migrated with [`migrations`]), timed by `now`.
    pub fn new(db: Database, now: impl Now) -> Self {
        Self {
            db,
            now: Arc::new(now),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Writes `mail` on its own and wakes the worker.
    ///
    /// # Errors
    /// [`MailError::Store`] when the row could not be written.
    pub async fn enqueue(&self, mail: &Mail) -> MailResult<MailId> {
        let now = self.now.now();
        let id = match &self.db {
            Database::Sqlite(pool) => enqueue(pool, mail, now).await,
            Database::Postgres(pool) => enqueue(pool, mail, now).await,
        }
        .map_err(MailError::from)?;
        self.wake();
        Ok(id)
    }

    /// Tells the worker a mail is due (after committing a transaction that [`enqueue`]d one).
    /// Cheap and never blocks; a wake-up with the worker busy is kept for its next look.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// How many mails are neither sent nor given up on (due now, waiting for a retry, or being
    /// sent): the outbox's backlog, for `tessera_mail_outbox_pending`. One count over the
    /// partial index of pending rows.
    ///
    /// # Errors
    /// [`MailError::Store`] when the database cannot answer.
    pub async fn pending(&self) -> MailResult<u64> {
        let count: i64 = match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(PENDING).fetch_one(pool).await,
            Database::Postgres(pool) => sqlx::query_scalar(PENDING).fetch_one(pool).await,
        }
        .map_err(MailError::from)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
