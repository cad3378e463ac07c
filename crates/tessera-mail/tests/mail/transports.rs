//! The webhook and `.eml` transports, and the promise that no log line carries a link.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use tessera_mail::transport::{SIGNATURE_HEADER, Transport, WebhookTransport, sign};
use tessera_mail::{MailSettings, Now};
use tokio::sync::mpsc;

use crate::helpers::{config, on_both_backends, recipient, reset_mail};

const SECRET: &[u8] = b"webhook-test-secret";

/// A real HTTP receiver on a loopback port, handing every request it gets to the test.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/mail",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mail", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

/// Verifies `header` over `body` the way a receiver does.
fn verify(header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header.split_once(',') else {
        return false;
    };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else {
        return false;
    };
    let Ok(t) = t.parse::<i64>() else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let signed = [t.to_string().as_bytes(), b".", body].concat();
    hex::decode(v1).is_ok_and(|tag| ring::hmac::verify(&key, &signed, &tag).is_ok())
}

on_both_backends! {
    async fn the_webhook_posts_the_mail_as_json_signed_with_hmac_sha256(app) {
        let (url, mut requests) = receiver().await;
        let clock = app.clock.clone();
        let now: Arc<dyn Now> = Arc::new(move || clock.now());
        let webhook = WebhookTransport::new(&url, SECRET, now).unwrap();
        let to = recipient("webhook");
        app.outbox.enqueue(&reset_mail(&to, "w3bh00kt0ken")).await.unwrap();
        let round = app.worker(Arc::new(webhook), config()).run_once().await.unwrap();
        assert_eq!(round.sent, 1);
        let (headers, body) = requests.recv().await.unwrap();
        let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
        assert!(verify(signature, &body), "{signature}");
        assert!(signature.starts_with(&format!("t={},", app.clock.now().timestamp())));
        assert!(!verify(signature, &[&body[..], b" "].concat()), "a changed body fails");
        assert_eq!(headers["content-type"], "application/json");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["to"], to.as_str());
        assert_eq!(json["kind"], "reset-password");
        assert_eq!(json["from"], "Tessera Test <no-reply@tessera.test>");
        assert_eq!(json["id"].as_str().unwrap().len(), 32);
        assert!(json["text"].as_str().unwrap().contains("/reset-password/w3bh00kt0ken"));
        assert!(json["html"].as_str().unwrap().contains("/reset-password/w3bh00kt0ken"));
    }

    async fn without_smtp_or_a_webhook_each_mail_is_written_as_an_eml_file(app) {
        let dir = tempfile::tempdir().unwrap();
        let settings = MailSettings {
            smtp_url: None,
            from: "Tessera Test <no-reply@tessera.test>".into(),
            webhook_url: None,
            webhook_secret: None,
            app_name: "Acme".into(),
            templates: None,
            eml_dir: Some(dir.path().join("mail")),
            poll: tessera_mail::DEFAULT_POLL,
            max_attempts: tessera_mail::DEFAULT_MAX_ATTEMPTS,
        };
        let to = recipient("eml");
        app.outbox.enqueue(&reset_mail(&to, "emlt0ken")).await.unwrap();
        let worker = settings.worker(app.outbox.clone()).unwrap();
        assert_eq!(worker.run_once().await.unwrap().sent, 1);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail")).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        let path = files[0].path();
        assert_eq!(path.extension().unwrap(), "eml");
        let mail = tessera_mail::testing::parse(&std::fs::read(&path).unwrap(), path).unwrap();
        assert_eq!(mail.subject, "Reset your Acme password");
        assert!(mail.text.unwrap().contains("/reset-password/emlt0ken"));
    }

    async fn no_log_line_holds_the_link_or_its_token(app) {
        let captured = tessera_http::testing::CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let dir = tempfile::tempdir().unwrap();
        let eml = tessera_mail::transport::FileTransport::new(dir.path());
        tracing::info!(to = %eml.describe(), "capturing");
        // A refused connection (deferred, then given up) and a delivery, all logged.
        let refused = Arc::new(tessera_mail::transport::SmtpTransport::from_url("smtp://127.0.0.1:1").unwrap());
        let mut settings = config();
        settings.max_attempts = 2;
        app.outbox.enqueue(&reset_mail(&recipient("logs"), "l0gsecrett0ken")).await.unwrap();
        let failing = app.worker(refused, settings.clone());
        failing.run_once().await.unwrap();
        app.clock.advance(settings.backoff_after(1));
        failing.run_once().await.unwrap();
        app.outbox.enqueue(&reset_mail(&recipient("logs"), "l0gsecrett0ken")).await.unwrap();
        app.worker(Arc::new(eml), settings).run_once().await.unwrap();
        drop(_guard);
        let logs = captured.text();
        assert!(logs.contains("mail delivery deferred") && logs.contains("mail delivery failed"), "{logs}");
        assert!(!logs.contains("l0gsecrett0ken") && !logs.contains("reset-password/"), "{logs}");
    }
}

#[test]
fn a_receiver_recomputes_the_documented_signature() {
    assert_eq!(
        sign(b"secret", 1_800_000_000, b"{}"),
        format!(
            "t=1800000000,v1={}",
            hex::encode(
                ring::hmac::sign(
                    &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret"),
                    b"1800000000.{}",
                )
                .as_ref()
            )
        )
    );
}
