//! Delivery to the real SMTP server: both parts arrive, the worker wakes on enqueue, the row
//! is closed and its link erased.

use tessera_mail::testing::{maildir, wait_for_mail};

use crate::helpers::{
    MAIL_DEADLINE, config, delivered_to, on_both_backends, recipient, reset_mail, smtp,
};

on_both_backends! {
    async fn a_committed_mail_arrives_at_the_smtp_server_with_both_parts_once_woken(app) {
        let to = recipient("committed");
        // The poll is an hour: only the wake-up after the commit delivers within the deadline.
        let worker = app.worker(smtp(), config()).spawn();
        app.enqueue_in_transaction(&reset_mail(&to, "c0mmittedt0ken"), true).await;
        let mail = wait_for_mail(&maildir(), &to, MAIL_DEADLINE).await;
        drop(worker);
        assert_eq!(mail.content_type, "multipart/alternative");
        assert_eq!(mail.subject, "Reset your Tessera Test password");
        let text = mail.text.expect("a text/plain part");
        let html = mail.html.expect("a text/html part");
        assert!(text.contains("http://127.0.0.1:3000/api/auth/reset-password/c0mmittedt0ken?callbackURL=%2Fdone&x=1"), "{text}");
        assert!(text.contains("Hello Alice <Admin>,"), "{text}");
        assert!(html.contains(r#"href="http://127.0.0.1:3000/api/auth/reset-password/c0mmittedt0ken?callbackURL=%2Fdone&amp;x=1""#), "{html}");
        assert!(html.contains("Hello Alice &lt;Admin&gt;,"), "{html}");
        assert_eq!(delivered_to(&to), 1);
    }

    async fn a_sent_row_is_closed_and_its_link_erased(app) {
        let to = recipient("erased");
        app.outbox.enqueue(&reset_mail(&to, "erasedt0ken")).await.unwrap();
        let round = app.worker(smtp(), config()).run_once().await.unwrap();
        assert_eq!((round.claimed, round.sent), (1, 1));
        assert_eq!(delivered_to(&to), 1);
        let payload = app.text(r#"SELECT "payload" FROM "mail_outbox""#).await;
        assert_eq!(payload, "");
        let open = app.scalar(r#"SELECT COUNT(*) FROM "mail_outbox" WHERE "sent_at" IS NULL OR "claimed_until" IS NOT NULL"#).await;
        assert_eq!(open, 0);
        // Sent once: a later round finds nothing.
        assert_eq!(app.worker(smtp(), config()).run_once().await.unwrap().claimed, 0);
        assert_eq!(delivered_to(&to), 1);
    }
}
