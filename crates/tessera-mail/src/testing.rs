//! For tests, in this crate and others: wait for the mail the test SMTP server delivered to a
//! recipient, read from its Maildir (`TEST_MAILDIR`, set by `scripts/test.sh`).
//!
//! The SMTP server is another process, so a test waits for its file: the directory is polled
//! against a generous deadline, never a fixed sleep.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A delivered mail, parsed.
#[derive(Clone, Debug)]
pub struct DeliveredMail {
    /// The `To` header.
    pub to: String,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// The `Content-Type` of the whole message (e.g. `multipart/alternative`).
    pub content_type: String,
    /// The `text/plain` part.
    pub text: Option<String>,
    /// The `text/html` part.
    pub html: Option<String>,
    /// The file the server wrote.
    pub path: PathBuf,
}

/// The test SMTP server's URL (`TEST_SMTP_URL`).
///
/// # Panics
/// When the variable is unset (run the tests through `scripts/test.sh`).
pub fn smtp_url() -> String {
    std::env::var("TEST_SMTP_URL").expect("TEST_SMTP_URL is set by scripts/test.sh (ensure_smtp)")
}

/// The test SMTP server's Maildir (`TEST_MAILDIR`).
///
/// # Panics
/// When the variable is unset (run the tests through `scripts/test.sh`).
pub fn maildir() -> PathBuf {
    std::env::var_os("TEST_MAILDIR")
        .map(PathBuf::from)
        .expect("TEST_MAILDIR is set by scripts/test.sh (ensure_smtp)")
}

/// Every mail in `maildir` addressed to `recipient` (case-insensitive), oldest first.
pub fn mails_to(maildir: &Path, recipient: &str) -> Vec<DeliveredMail> {
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Some(mail) = parse(&bytes, path)
                && addressed_to(&mail.to, recipient)
            {
                found.push(mail);
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Whether the `To` header `to` names exactly `recipient` (`a@x`, `Name <a@x>`, lists).
fn addressed_to(to: &str, recipient: &str) -> bool {
    to.split(',').any(|one| {
        let one = one.trim();
        let address = match (one.rfind('<'), one.rfind('>')) {
            (Some(start), Some(end)) if start < end => &one[start + 1..end],
            _ => one,
        };
        address.trim().eq_ignore_ascii_case(recipient)
    })
}

/// The first mail to `recipient`, waiting up to `within` for the server to write it.
///
/// # Panics
/// When none arrives in time.
pub async fn wait_for_mail(maildir: &Path, recipient: &str, within: Duration) -> DeliveredMail {
    let deadline = Instant::now() + within;
    loop {
        if let Some(mail) = mails_to(maildir, recipient).into_iter().next() {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {recipient} in {} within {within:?}",
            maildir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A message file parsed (an `.eml` file or a Maildir entry).
pub fn parse(bytes: &[u8], path: PathBuf) -> Option<DeliveredMail> {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(bytes).ok()?;
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    let mut text = None;
    let mut html = None;
    let mut stack = vec![&parsed];
    while let Some(part) = stack.pop() {
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = part.get_body().ok(),
            "text/html" => html = part.get_body().ok(),
            _ => stack.extend(part.subparts.iter()),
        }
    }
    Some(DeliveredMail {
        to: header("To"),
        subject: header("Subject"),
        content_type: parsed.ctype.mimetype.clone(),
        text,
        html,
        path,
    })
}
