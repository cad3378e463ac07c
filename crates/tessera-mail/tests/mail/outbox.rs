//! Enqueueing: in the caller's transaction, or on its own.

use tessera_db::Database;

use crate::helpers::{on_both_backends, reset_mail};

on_both_backends! {
    async fn a_mail_enqueued_in_a_rolled_back_transaction_leaves_no_row(app) {
        let mail = reset_mail("alice@example.com", "rolledback");
        let now = app.clock.now();
        match app.database() {
            Database::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                tessera_mail::enqueue(&mut *tx, &mail, now).await.unwrap();
                tx.rollback().await.unwrap();
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                tessera_mail::enqueue(&mut *tx, &mail, now).await.unwrap();
                tx.rollback().await.unwrap();
            }
        }
        assert_eq!(app.outbox_rows().await, 0);
    }

    async fn a_mail_enqueued_in_a_committed_transaction_or_on_its_own_is_stored(app) {
        let mail = reset_mail("alice@example.com", "committed");
        let now = app.clock.now();
        match app.database() {
            Database::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                tessera_mail::enqueue(&mut *tx, &mail, now).await.unwrap();
                tx.commit().await.unwrap();
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                tessera_mail::enqueue(&mut *tx, &mail, now).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
        app.outbox.enqueue(&reset_mail("bob@example.com", "alone")).await.unwrap();
        assert_eq!(app.outbox_rows().await, 2);
    }
}
