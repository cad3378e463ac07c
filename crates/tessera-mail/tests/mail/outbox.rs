//! Enqueueing: in the caller's transaction, or on its own.

use crate::helpers::{config, delivered_to, on_both_backends, recipient, reset_mail, smtp};

on_both_backends! {
    async fn a_mail_enqueued_in_a_rolled_back_transaction_is_never_sent(app) {
        let to = recipient("rolledback");
        app.enqueue_in_transaction(&reset_mail(&to, "rolledbacktoken"), false).await;
        let round = app.worker(smtp(), config()).run_once().await.unwrap();
        assert_eq!((round.claimed, app.outbox_rows().await), (0, 0));
        assert_eq!(delivered_to(&to), 0);
    }

    async fn a_mail_enqueued_in_a_committed_transaction_or_on_its_own_is_stored_due_at_once(app) {
        app.enqueue_in_transaction(&reset_mail(&recipient("committed"), "t1"), true).await;
        app.outbox.enqueue(&reset_mail(&recipient("alone"), "t2")).await.unwrap();
        assert_eq!(app.outbox_rows().await, 2);
        let due = app.scalar(r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "next_attempt_at" = "created_at" AND "attempts" = 0"#).await;
        assert_eq!(due, 2);
    }
}
