//! `tessera serve` migrates the mail outbox and runs its worker: a mail enqueued on the served
//! application reaches the real SMTP server (`scripts/test.sh` starts it), or, with no
//! transport configured, an `.eml` file under the data directory.

use std::time::Duration;

use tessera_mail::testing::{maildir, smtp_url, wait_for_mail};
use tessera_mail::{Mail, MailKind, SecretUrl};

use crate::helpers::spawn_app_with;

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
    let app = spawn_app_with(move |settings| settings.mail.eml_dir = target).await;
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
