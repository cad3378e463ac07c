//! `tessera serve` migrates the mail outbox and runs its worker: a mail enqueued on the served
//! application reaches the real SMTP server (`scripts/test.sh` starts it), or, with no
//! transport configured, an `.eml` file under the data directory (development); with no way to
//! deliver at all (production without SMTP or webhook) the mail-sending endpoints are off.

use std::time::Duration;

use tessera_mail::testing::{maildir, smtp_url, wait_for_mail};
use tessera_mail::{Mail, MailKind, SecretUrl};

use tessera_auth::audit::{AuditEvent, AuditFilter, AuditKind};

use crate::helpers::{BOUND, ORIGIN, TestApp, request, spawn_app_with};

fn mail(to: &str) -> Mail {
    Mail::new(
        MailKind::VerifyEmail,
        to,
        "Sam",
        SecretUrl::new("http://tessera.test/api/auth/verify-email?token=s3rv3d"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_application_delivers_an_enqueued_mail_to_the_smtp_server() {
    let to = format!("served-{}-{}@example.com", std::process::id(), line!());
    let app = spawn_app_with(|settings| settings.mail.smtp_url = Some(smtp_url())).await;
    app.outbox.enqueue(&mail(&to)).await.unwrap();
    let delivered = wait_for_mail(&maildir(), &to, Duration::from_secs(30)).await;
    assert_eq!(delivered.subject, "Verify your email address for Tessera");
    assert!(
        delivered
            .text
            .unwrap()
            .contains("verify-email?token=s3rv3d")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_transport_the_served_application_writes_eml_files_under_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("mail");
    let target = eml.clone();
    let app = spawn_app_with(move |settings| settings.mail.eml_dir = Some(target)).await;
    app.outbox.enqueue(&mail("eml@example.com")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let file = loop {
        let found = std::fs::read_dir(&eml).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"))
        });
        if let Some(file) = found {
            break file;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml file in {}",
            eml.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let parsed = tessera_mail::testing::parse(&std::fs::read(&file).unwrap(), file).unwrap();
    assert_eq!(parsed.to, "eml@example.com");
}

/// Signs `email` up on the served application.
async fn sign_up(app: &TestApp, email: &str) {
    let body =
        format!(r#"{{"name":"Sam","email":"{email}","password":"tessera mail test zq8-xw2p"}}"#);
    let reply = request(
        app,
        "POST",
        "/api/auth/sign-up/email",
        &[("Content-Type", "application/json"), ("Origin", ORIGIN)],
        &body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mail_wakes_the_worker_and_reaches_the_smtp_server_long_before_its_next_poll() {
    let to = format!("woken-{}-{}@example.com", std::process::id(), line!());
    let app = spawn_app_with(|settings| {
        settings.mail.smtp_url = Some(smtp_url());
        // The worker's only unwoken look is the one it takes on starting.
        settings.mail.poll = Duration::from_secs(3600);
    })
    .await;
    sign_up(&app, &to).await;
    let reply = request(
        &app,
        "POST",
        "/api/auth/request-password-reset",
        &[("Content-Type", "application/json"), ("Origin", ORIGIN)],
        &format!(r#"{{"email":"{to}"}}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let delivered = wait_for_mail(&maildir(), &to, Duration::from_secs(30)).await;
    assert!(
        delivered
            .text
            .unwrap()
            .contains("/api/auth/reset-password/")
    );
}

/// The `mail_delivery_failed` events, once one is written (bounded by [`BOUND`]).
async fn give_ups(app: &TestApp) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        limit: 100,
        ..AuditFilter::default()
    };
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        let mut rows = app.auth.store.list_audit(&filter).await.unwrap();
        rows.retain(|e| e.event == AuditKind::MailDeliveryFailed.as_str());
        if !rows.is_empty() || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_given_up_is_audited_as_mail_delivery_failed_with_its_kind_and_id_but_no_link() {
    // Nothing listens on port 9 of the loopback: every attempt is refused at once.
    let app = spawn_app_with(|settings| {
        settings.mail.smtp_url = Some("smtp://127.0.0.1:9".to_owned());
        settings.mail.max_attempts = 1;
        settings.mail.poll = Duration::from_secs(3600);
    })
    .await;
    let to = "undeliverable@example.com";
    sign_up(&app, to).await;
    let id = app.outbox.enqueue(&mail(to)).await.unwrap();
    let events = give_ups(&app).await;
    assert_eq!(events.len(), 1, "no mail_delivery_failed event");
    let event = &events[0];
    assert_eq!(event.outcome, "failure");
    assert!(event.user_id.is_some(), "the recipient's account is named");
    let detail = event.detail_json().unwrap();
    assert_eq!(detail["kind"], "verify-email");
    assert_eq!(detail["mail_id"], id.0.as_str());
    assert_eq!(detail["attempts"], 1);
    let stored = serde_json::to_string(&detail).unwrap() + event.reason.as_deref().unwrap_or("");
    assert!(
        !stored.contains("s3rv3d") && !stored.contains(to),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_mails_a_verification_link_through_smtp_and_following_it_verifies_the_address() {
    let to = format!("verify-{}-{}@example.com", std::process::id(), line!());
    let app = spawn_app_with(|settings| {
        settings.mail.smtp_url = Some(smtp_url());
        settings.mail.poll = Duration::from_secs(3600);
        settings.auth.email_verification.send_on_sign_up = Some(true);
    })
    .await;
    sign_up(&app, &to).await;
    let delivered = wait_for_mail(&maildir(), &to, Duration::from_secs(30)).await;
    let text = delivered.text.unwrap();
    let prefix = format!("{ORIGIN}/api/auth/verify-email?token=");
    let start = text.find(&prefix).expect("the link, from the base URL");
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(link.ends_with("&callbackURL=%2F"), "{link}");
    let path = &link[ORIGIN.len()..];
    let reply = request(&app, "GET", path, &[], "").await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    let user = app
        .auth
        .store
        .find_user_by_email(&to)
        .await
        .unwrap()
        .unwrap();
    assert!(user.email_verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_way_to_deliver_the_mail_sending_endpoints_answer_as_better_auth_without_a_sender()
{
    // Production with neither SMTP nor a webhook: no `.eml` fallback, so nothing is delivered.
    let app = spawn_app_with(|settings| settings.mail.eml_dir = None).await;
    let json = [("Content-Type", "application/json"), ("Origin", ORIGIN)];
    for (path, code) in [
        (
            "/api/auth/request-password-reset",
            "RESET_PASSWORD_DISABLED",
        ),
        (
            "/api/auth/send-verification-email",
            "VERIFICATION_EMAIL_NOT_ENABLED",
        ),
    ] {
        let reply = request(
            &app,
            "POST",
            path,
            &json,
            r#"{"email":"someone@example.com"}"#,
        )
        .await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert!(reply.body.contains(code), "{path}: {}", reply.body);
    }
}
