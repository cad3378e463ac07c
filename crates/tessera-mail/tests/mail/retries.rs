//! Failures: an SMTP outage retried with backoff, a worker stopped mid-claim, two workers on
//! one PostgreSQL, a mail given up after its last attempt.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use tessera_db::testing::Backend;
use tessera_mail::transport::SmtpTransport;
use tessera_mail::{DeliveryFailure, DeliveryHook, MailKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{
    TestApp, config, delivered_to, on_both_backends, recipient, reset_mail, smtp,
};

/// A port in front of the real SMTP server that can be taken down (nothing listens: the
/// connection is refused) and brought back.
struct Outage {
    addr: SocketAddr,
    upstream: SocketAddr,
    forwarding: Option<JoinHandle<()>>,
}

impl Outage {
    /// A port with nothing listening on it yet.
    async fn down() -> Self {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let url = url::Url::parse(&tessera_mail::testing::smtp_url()).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
            .parse()
            .unwrap();
        Self {
            addr,
            upstream,
            forwarding: None,
        }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Listens again, forwarding every connection to the real server.
    async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let upstream = self.upstream;
        self.forwarding = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut server = TcpStream::connect(upstream).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        }));
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        if let Some(task) = self.forwarding.take() {
            task.abort();
        }
    }
}

/// Records the failures the worker reports.
#[derive(Default)]
struct Failures(Mutex<Vec<DeliveryFailure>>);

#[async_trait]
impl DeliveryHook for Failures {
    async fn delivery_failed(&self, failure: &DeliveryFailure) {
        self.0.lock().unwrap().push(failure.clone());
    }
}

on_both_backends! {
    async fn an_smtp_outage_is_retried_with_backoff_and_the_mail_delivered_once_when_it_ends(app) {
        let to = recipient("outage");
        let mut outage = Outage::down().await;
        let worker = app.worker(Arc::new(SmtpTransport::from_url(&outage.url()).unwrap()), config());
        app.outbox.enqueue(&reset_mail(&to, "0utaget0ken")).await.unwrap();

        let first = worker.run_once().await.unwrap();
        assert_eq!((first.claimed, first.retried), (1, 1));
        let code = app.text(r#"SELECT "last_error" FROM "mail_outbox""#).await;
        assert_eq!(code, "smtp_unavailable");
        // The server is back, but the row waits out its backoff (30 s after the first failure).
        outage.up().await;
        app.clock.advance(Duration::seconds(29));
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        app.clock.advance(Duration::seconds(1));
        let second = worker.run_once().await.unwrap();
        assert_eq!((second.claimed, second.sent), (1, 1));
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        assert_eq!(delivered_to(&to), 1);
        assert_eq!(app.scalar(r#"SELECT CAST("attempts" AS BIGINT) FROM "mail_outbox""#).await, 2);
    }

    async fn a_worker_stopped_mid_send_leaves_the_row_to_another_after_its_lease_and_it_is_sent_once(app) {
        let to = recipient("stopped");
        // An SMTP server that accepts the connection and never greets: the send hangs.
        let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hung_url = format!("smtp://{}", hung.local_addr().unwrap());
        let stuck = app.worker(Arc::new(SmtpTransport::from_url(&hung_url).unwrap()), config()).spawn();
        app.outbox.enqueue(&reset_mail(&to, "st0ppedt0ken")).await.unwrap();
        // It connected, so it holds the claim: stop it there.
        let (_connection, _) = hung.accept().await.unwrap();
        stuck.stop();

        let other = app.worker(smtp(), config());
        assert_eq!(other.run_once().await.unwrap().claimed, 0, "the lease still holds");
        app.clock.advance(config().lease);
        let round = other.run_once().await.unwrap();
        assert_eq!((round.claimed, round.sent), (1, 1));
        assert_eq!(other.run_once().await.unwrap().claimed, 0);
        assert_eq!(delivered_to(&to), 1);
    }

    async fn a_mail_is_given_up_after_its_last_attempt_reported_and_its_link_erased(app) {
        let to = recipient("givenup");
        let outage = Outage::down().await;
        let failures = Arc::new(Failures::default());
        let mut settings = config();
        settings.max_attempts = 3;
        let worker = app
            .worker(Arc::new(SmtpTransport::from_url(&outage.url()).unwrap()), settings.clone())
            .with_hook(failures.clone());
        app.outbox.enqueue(&reset_mail(&to, "g1venupt0ken")).await.unwrap();
        for attempt in 1..=3 {
            let round = worker.run_once().await.unwrap();
            assert_eq!(round.claimed, 1, "attempt {attempt}");
            app.clock.advance(settings.backoff_after(attempt));
        }
        assert_eq!(worker.run_once().await.unwrap().claimed, 0);
        let failures = failures.0.lock().unwrap().clone();
        assert_eq!(failures.len(), 1);
        assert_eq!((failures[0].kind, failures[0].attempts, failures[0].code.as_str()),
            (Some(MailKind::ResetPassword), 3, "smtp_unavailable"));
        assert_eq!(failures[0].recipient, to);
        assert_eq!(app.text(r#"SELECT "payload" FROM "mail_outbox""#).await, "");
        assert_eq!(app.scalar(r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "failed_at" IS NOT NULL"#).await, 1);
    }
}

#[test]
fn the_backoff_doubles_from_30_seconds_up_to_an_hour() {
    let config = config();
    let waits: Vec<i64> = (1..=10)
        .map(|n| config.backoff_after(n).num_seconds())
        .collect();
    assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgresql_never_send_the_same_mail_twice() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let tag = recipient("pair");
    let recipients: Vec<String> = (0..30).map(|i| format!("{i}-{tag}")).collect();
    for to in &recipients {
        app.outbox
            .enqueue(&reset_mail(to, "pairt0ken"))
            .await
            .unwrap();
    }
    // A second instance: its own pool on the same database.
    let other_db = tessera_db::connect(app.db.url()).await.unwrap();
    let mut settings = config();
    settings.batch = 3;
    let first = app.worker(smtp(), settings.clone());
    let second = tessera_mail::Worker::new(
        TestApp::outbox_on(other_db, &app.clock),
        smtp(),
        tessera_mail::Templates::built_in("Tessera Test"),
        settings,
    );
    let drain = |worker: tessera_mail::Worker| async move {
        let mut sent = 0;
        loop {
            let round = worker.run_once().await.unwrap();
            if round.claimed == 0 {
                return sent;
            }
            sent += round.sent;
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(drain(first)), tokio::spawn(drain(second)));
    assert_eq!(a.unwrap() + b.unwrap(), 30);
    for to in &recipients {
        assert_eq!(delivered_to(to), 1, "{to}");
    }
}
