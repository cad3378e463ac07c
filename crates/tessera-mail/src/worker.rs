//! The delivery worker: claims due outbox rows, sends them, and records the outcome.
//!
//! A claim is a lease: the row's `claimed_until` moves into the future and `attempts` goes up
//! in one statement, so a worker that dies mid-send (a crash, a restart) leaves a row another
//! worker takes again once the lease runs out, and a mail that keeps killing its worker still
//! runs out of attempts. On PostgreSQL the claim's row scan is `FOR UPDATE SKIP LOCKED`, so
//! several instances on one database take disjoint rows without waiting for each other; on
//! SQLite the single `UPDATE … RETURNING` runs under the database's one writer lock.
//! Delivery is at least once: a worker stopped after the server accepted a mail but before
//! recording it sends it again after the lease (a webhook receiver dedups on the id).
//!
//! A graceful stop ([`WorkerHandle::shut_down`], on SIGTERM) claims nothing more, lets the mail
//! being sent finish within its bound, and gives back at once the leases it still holds (the
//! rest of its batch, or the mail cut off at the bound), so another instance, or this one after
//! its restart, sends them without waiting out the lease: nothing is lost.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use tessera_db::{Database, DbTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::mail::Payload;
use crate::render::Templates;
use crate::transport::{Outgoing, SendError, Transport};
use crate::{MailId, MailKind, MailResult, Outbox};

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            r#"UPDATE "mail_outbox" SET "claimed_until" = $1, "claimed_by" = $2, "attempts" = "attempts" + 1
            WHERE "id" IN ("#,
            r#"SELECT "id" FROM "mail_outbox"
    WHERE "sent_at" IS NULL AND "failed_at" IS NULL AND "next_attempt_at" <= $3
      AND ("claimed_until" IS NULL OR "claimed_until" <= $3)
    ORDER BY "next_attempt_at", "id" LIMIT $4"#,
            $lock,
            r#") RETURNING "id", "kind", "recipient", "payload", "attempts""#
        )
    };
}

/// SQLite's claim: one statement under the single writer.
const CLAIM_SQLITE: &str = claim_sql!("");
/// PostgreSQL's claim: rows another instance is claiming right now are skipped, not waited for.
const CLAIM_POSTGRES: &str = claim_sql!(" FOR UPDATE SKIP LOCKED");

// The three outcomes take the same parameters: $1 a time, $2 the error code (NULL when sent),
// $3 the row, $4 the claim it must still hold.
const MARK_SENT: &str = r#"UPDATE "mail_outbox"
    SET "sent_at" = $1, "payload" = '', "claimed_until" = NULL, "last_error" = $2
    WHERE "id" = $3 AND "claimed_by" = $4"#;
const MARK_RETRY: &str = r#"UPDATE "mail_outbox"
    SET "next_attempt_at" = $1, "last_error" = $2, "claimed_until" = NULL
    WHERE "id" = $3 AND "claimed_by" = $4"#;
const MARK_FAILED: &str = r#"UPDATE "mail_outbox"
    SET "failed_at" = $1, "last_error" = $2, "payload" = '', "claimed_until" = NULL
    WHERE "id" = $3 AND "claimed_by" = $4"#;
/// Gives back every lease worker $1 still holds, and the attempt its claim counted: the mail
/// is due again at once for any worker.
const RELEASE: &str = r#"UPDATE "mail_outbox"
    SET "claimed_until" = NULL, "attempts" = "attempts" - 1
    WHERE "claimed_by" = $1 AND "claimed_until" IS NOT NULL
      AND "sent_at" IS NULL AND "failed_at" IS NULL"#;

/// How often a worker looks without being woken, by default.
pub const DEFAULT_POLL: StdDuration = StdDuration::from_secs(5);
/// Attempts before a mail is given up, by default.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// How the worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The sender address (`TESSERA_MAIL_FROM`).
    pub from: String,
    /// Rows claimed per round.
    pub batch: i64,
    /// How long a claim holds before another worker may take the row (longer than any one
    /// send can take: the transports time out well within it).
    pub lease: Duration,
    /// How often the worker looks without being woken (mails enqueued in a transaction, other
    /// instances' retries).
    pub poll: StdDuration,
    /// Attempts before a mail is given up.
    pub max_attempts: i32,
    /// The wait after the first failure; doubled after each further one…
    pub backoff: Duration,
    /// …up to this.
    pub max_backoff: Duration,
}

impl WorkerConfig {
    /// The defaults, sending as `from`: 16 rows a round, a 2-minute lease, a 5-second poll,
    /// 10 attempts, backoff 30 s doubling to 1 h (about 5 hours in all).
    pub fn new(from: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            batch: 16,
            lease: Duration::minutes(2),
            poll: DEFAULT_POLL,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: Duration::seconds(30),
            max_backoff: Duration::hours(1),
        }
    }

    /// The wait before the attempt after `attempts` failed ones.
    pub fn backoff_after(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
        self.backoff
            .checked_mul(1 << doublings)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }
}

/// A mail given up after its last attempt, or refused for good. Holds no link.
#[derive(Clone, Debug)]
pub struct DeliveryFailure {
    /// The outbox row.
    pub id: MailId,
    /// Which mail (unknown kinds are recorded by their stored name only in the log).
    pub kind: Option<MailKind>,
    /// The recipient.
    pub recipient: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last failure's machine code.
    pub code: String,
}

/// Told of every mail given up, so the composition root can write an audit event without this
/// crate depending on the auth server.
#[async_trait]
pub trait DeliveryHook: Send + Sync + 'static {
    /// `failure` was given up.
    async fn delivery_failed(&self, failure: &DeliveryFailure);
}

/// The hook that does nothing beyond the worker's own `mail delivery failed` log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

#[async_trait]
impl DeliveryHook for NoHook {
    async fn delivery_failed(&self, _failure: &DeliveryFailure) {}
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Rows claimed.
    pub claimed: usize,
    /// Of those, sent.
    pub sent: usize,
    /// Of those, put back for a later attempt.
    pub retried: usize,
    /// Of those, given up.
    pub failed: usize,
}

/// The worker: the outbox it drains, where mail goes, the templates, its pace and its hook.
pub struct Worker {
    outbox: Outbox,
    transport: Arc<dyn Transport>,
    templates: Templates,
    config: WorkerConfig,
    hook: Arc<dyn DeliveryHook>,
    id: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("transport", &self.transport.describe())
            .finish_non_exhaustive()
    }
}

struct Claimed {
    id: String,
    kind: String,
    recipient: String,
    payload: String,
    attempts: i32,
}

type ClaimRow = (String, String, String, String, i32);

impl Worker {
    /// A worker draining `outbox` into `transport`.
    pub fn new(
        outbox: Outbox,
        transport: Arc<dyn Transport>,
        templates: Templates,
        config: WorkerConfig,
    ) -> Self {
        let mut random = [0u8; 8];
        SystemRandom::new()
            .fill(&mut random)
            .expect("the system random source is available");
        Self {
            outbox,
            transport,
            templates,
            config,
            hook: Arc::new(NoHook),
            id: hex::encode(random),
        }
    }

    /// The same worker telling `hook` of every mail given up.
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn DeliveryHook>) -> Self {
        self.hook = hook;
        self
    }

    /// Claims the due rows (up to a batch), sends each and records the outcome.
    ///
    /// # Errors
    /// The outbox could not be read or written; the rows already claimed are taken again
    /// after their lease.
    pub async fn run_once(&self) -> MailResult<Round> {
        self.round(&watch::channel(false).1).await
    }

    /// [`Self::run_once`], sending no further mail of the batch once `stopping` is set (the
    /// rows left keep their claim until [`WorkerHandle::shut_down`] gives them back).
    async fn round(&self, stopping: &watch::Receiver<bool>) -> MailResult<Round> {
        let now = self.outbox.now.now();
        let claimed = self.claim(now).await?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        for row in claimed {
            if *stopping.borrow() {
                break;
            }
            match self.deliver(&row).await {
                Ok(()) => {
                    self.record(MARK_SENT, self.outbox.now.now(), None, &row)
                        .await?;
                    round.sent += 1;
                }
                Err(err) if err.retryable && row.attempts < self.config.max_attempts => {
                    let at = self.outbox.now.now() + self.config.backoff_after(row.attempts);
                    tracing::warn!(mail_id = %row.id, kind = %row.kind, attempts = row.attempts,
                        code = %err.code, retry_at = %DbTime::from(at).to_iso(), "mail delivery deferred");
                    self.record(MARK_RETRY, at, Some(&err.code), &row).await?;
                    round.retried += 1;
                }
                Err(err) => {
                    tracing::error!(mail_id = %row.id, kind = %row.kind, attempts = row.attempts,
                        code = %err.code, "mail delivery failed");
                    self.record(MARK_FAILED, self.outbox.now.now(), Some(&err.code), &row)
                        .await?;
                    let failure = DeliveryFailure {
                        id: MailId(row.id.clone()),
                        kind: row.kind.parse().ok(),
                        recipient: row.recipient.clone(),
                        attempts: row.attempts,
                        code: err.code.into_owned(),
                    };
                    self.hook.delivery_failed(&failure).await;
                    round.failed += 1;
                }
            }
        }
        Ok(round)
    }

    /// Runs rounds until the handle is shut down, stopped or dropped: at once when woken by
    /// [`Outbox::wake`], every poll interval otherwise, and straight again after a full batch.
    /// A database outage is logged and waited out.
    pub fn spawn(self) -> WorkerHandle {
        tracing::info!(worker = %self.id, to = %self.transport.describe(), "mail worker started");
        let (stop, mut stopping) = watch::channel(false);
        let (outbox, id) = (self.outbox.clone(), self.id.clone());
        let task = tokio::spawn(async move {
            while !*stopping.borrow() {
                let full = match self.round(&stopping).await {
                    Ok(round) => round.claimed as i64 >= self.config.batch,
                    Err(err) => {
                        tracing::error!(code = err.code(), error = %err, "mail outbox round failed");
                        false
                    }
                };
                if !full {
                    tokio::select! {
                        () = self.outbox.wake.notified() => {}
                        () = tokio::time::sleep(self.config.poll) => {}
                        _ = stopping.wait_for(|stop| *stop) => {}
                    }
                }
            }
        });
        WorkerHandle {
            task,
            stop,
            outbox,
            id,
        }
    }

    async fn claim(&self, now: DateTime<Utc>) -> MailResult<Vec<Claimed>> {
        let until = DbTime::from(now + self.config.lease);
        let now = DbTime::from(now);
        let rows: Vec<ClaimRow> = match &self.outbox.db {
            Database::Sqlite(pool) => {
                sqlx::query_as(CLAIM_SQLITE)
                    .bind(until)
                    .bind(&self.id)
                    .bind(now)
                    .bind(self.config.batch)
                    .fetch_all(pool)
                    .await?
            }
            Database::Postgres(pool) => {
                sqlx::query_as(CLAIM_POSTGRES)
                    .bind(until)
                    .bind(&self.id)
                    .bind(now)
                    .bind(self.config.batch)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(id, kind, recipient, payload, attempts)| Claimed {
                id,
                kind,
                recipient,
                payload,
                attempts,
            })
            .collect())
    }

    async fn deliver(&self, row: &Claimed) -> Result<(), SendError> {
        let kind: MailKind = row
            .kind
            .parse()
            .map_err(|_| SendError::permanent("unknown_kind"))?;
        let payload: Payload = serde_json::from_str(&row.payload)
            .map_err(|_| SendError::permanent("malformed_payload"))?;
        let mail = payload.into_mail(kind, row.recipient.clone());
        let outgoing = Outgoing {
            id: MailId(row.id.clone()),
            kind,
            from: self.config.from.clone(),
            to: mail.to.clone(),
            rendered: self.templates.render(&mail),
        };
        self.transport.send(&outgoing).await
    }

    /// Closes or reschedules `row` with `sql` (one of the `MARK_*` statements), if this
    /// worker's claim still holds it.
    async fn record(
        &self,
        sql: &str,
        at: DateTime<Utc>,
        code: Option<&str>,
        row: &Claimed,
    ) -> MailResult<()> {
        let at = DbTime::from(at);
        match &self.outbox.db {
            Database::Sqlite(pool) => {
                let query = sqlx::query(sql).bind(at).bind(code).bind(&row.id);
                query.bind(&self.id).execute(pool).await?;
            }
            Database::Postgres(pool) => {
                let query = sqlx::query(sql).bind(at).bind(code).bind(&row.id);
                query.bind(&self.id).execute(pool).await?;
            }
        }
        Ok(())
    }
}

/// A running worker; dropping it stops the worker (a row it held is taken again after its
/// lease). [`Self::shut_down`] stops it gracefully.
#[derive(Debug)]
pub struct WorkerHandle {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    outbox: Outbox,
    id: String,
}

impl WorkerHandle {
    /// Stops the worker now, wherever it is.
    pub fn stop(self) {
        self.task.abort();
    }

    /// Claims nothing more from now on (the worker stops before its next round or its next
    /// mail); [`Self::shut_down`] then waits for it.
    pub fn stop_claiming(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the worker gracefully: no new claims, the mail being sent may finish until
    /// `within` has passed (then it is cut off), and every lease still held is given back so
    /// the mail is due again at once, for another instance or after a restart.
    ///
    /// # Errors
    /// The leases could not be given back (the database is down): they are taken again once
    /// they run out, as after a crash.
    pub async fn shut_down(mut self, within: StdDuration) -> MailResult<()> {
        self.stop_claiming();
        if tokio::time::timeout(within, &mut self.task).await.is_err() {
            tracing::warn!(worker = %self.id, "a mail was still being sent at the shutdown bound; cut off");
            self.task.abort();
            // Gone before its leases are given back, so it cannot record a send after that.
            let _ = (&mut self.task).await;
        }
        let id = &self.id;
        let released = match &self.outbox.db {
            Database::Sqlite(pool) => {
                let query = sqlx::query(RELEASE).bind(id);
                query.execute(pool).await?.rows_affected()
            }
            Database::Postgres(pool) => {
                let query = sqlx::query(RELEASE).bind(id);
                query.execute(pool).await?.rows_affected()
            }
        };
        tracing::info!(worker = %self.id, released, "mail worker stopped");
        Ok(())
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
