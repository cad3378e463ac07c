//! A graceful stop (SIGTERM): the worker claims nothing more, the mail it is sending finishes
//! (or is cut off at the bound), and the leases it still holds are given back at once, so
//! another worker sends every mail exactly once without waiting out a lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use tessera_mail::transport::{Outgoing, SendError, Transport};
use tokio::sync::Notify;

use crate::helpers::{TestApp, config, on_both_backends, recipient, reset_mail};

/// Far longer than anything under test takes: reaching it means the worker did not act.
const BOUND: StdDuration = StdDuration::from_secs(15);

/// Records every recipient it is handed; while `hold` is set, the first send tells `started`
/// and waits for `go`.
#[derive(Default)]
struct Gate {
    sent: Mutex<Vec<String>>,
    hold: AtomicBool,
    started: Notify,
    go: Notify,
}

impl Gate {
    fn holding() -> Arc<Self> {
        let gate = Self::default();
        gate.hold.store(true, Ordering::SeqCst);
        Arc::new(gate)
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Transport for Gate {
    async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        if self.hold.swap(false, Ordering::SeqCst) {
            self.started.notify_one();
            self.go.notified().await;
        }
        self.sent.lock().unwrap().push(mail.to.clone());
        Ok(())
    }

    fn describe(&self) -> String {
        "gate".to_owned()
    }
}

/// Rows claimed by some worker and not yet closed.
async fn held(app: &TestApp) -> i64 {
    app.scalar(r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "claimed_until" IS NOT NULL"#)
        .await
}

on_both_backends! {
    async fn a_worker_shut_down_mid_batch_finishes_the_mail_it_sends_and_gives_the_rest_back(app) {
        let (first, second) = (recipient("shutdown-a"), recipient("shutdown-b"));
        for to in [&first, &second] {
            app.outbox.enqueue(&reset_mail(to, "shutd0wnt0ken")).await.unwrap();
        }
        let gate = Gate::holding();
        let worker = app.worker(gate.clone(), config()).spawn();
        tokio::time::timeout(BOUND, gate.started.notified()).await.expect("no send began");
        assert_eq!(held(&app).await, 2, "one batch claimed both");
        worker.stop_claiming();
        gate.go.notify_one();
        tokio::time::timeout(BOUND, worker.shut_down(BOUND))
            .await
            .expect("the worker outlived its mail")
            .unwrap();
        let sent = gate.sent();
        assert_eq!(sent.len(), 1, "the mail in progress finished, no other began");
        assert_eq!(held(&app).await, 0, "the other lease was given back");

        // Due at once for another worker (no lease to wait out), its attempt not counted twice.
        let other = Arc::new(Gate::default());
        let round = app.worker(other.clone(), config()).run_once().await.unwrap();
        assert_eq!((round.claimed, round.sent), (1, 1));
        let mut every = [sent, other.sent()].concat();
        every.sort();
        let mut expected = vec![first, second];
        expected.sort();
        assert_eq!(every, expected, "each mail sent exactly once");
        assert_eq!(
            app.scalar(r#"SELECT CAST(MAX("attempts") AS BIGINT) FROM "mail_outbox""#).await,
            1
        );
    }

    async fn a_send_still_running_at_the_shutdown_bound_is_cut_off_and_its_lease_given_back(app) {
        let to = recipient("shutdown-cut");
        app.outbox.enqueue(&reset_mail(&to, "cut0fft0ken")).await.unwrap();
        let gate = Gate::holding();
        let worker = app.worker(gate.clone(), config()).spawn();
        tokio::time::timeout(BOUND, gate.started.notified()).await.expect("no send began");
        // `go` never comes: only the bound ends the send.
        tokio::time::timeout(BOUND, worker.shut_down(StdDuration::from_millis(200)))
            .await
            .expect("the bound did not cut the send off")
            .unwrap();
        assert!(gate.sent().is_empty());
        assert_eq!(held(&app).await, 0);
        let other = Arc::new(Gate::default());
        let round = app.worker(other.clone(), config()).run_once().await.unwrap();
        assert_eq!((round.claimed, round.sent), (1, 1), "taken again at once");
        assert_eq!(other.sent(), vec![to]);
    }
}
