//! Turning a [`Mail`] into a message: a subject, a plain-text part and an HTML part.
//!
//! Each kind has built-in templates (`templates/<kind>.{subject,txt,html}` in this crate);
//! a directory named by `TESSERA_MAIL_TEMPLATES` may override any of those files. Templates
//! use `{{app_name}}`, `{{user_name}}`, `{{url}}`, `{{new_email}}` and (`two-factor-code`)
//! `{{code}}`; in the HTML part every
//! value is HTML-escaped, so a user name cannot inject markup.

use std::collections::HashMap;
use std::path::Path;

use crate::{Mail, MailKind};

/// A mail rendered for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part (holds the link).
    pub text: String,
    /// The HTML part (holds the link).
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies hold the link: only the subject is shown.
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// One kind's three templates.
#[derive(Clone, Debug)]
struct KindTemplates {
    subject: String,
    text: String,
    html: String,
}

/// The templates of every kind and the app's name they fill in.
#[derive(Clone, Debug)]
pub struct Templates {
    app_name: String,
    kinds: HashMap<MailKind, KindTemplates>,
}

/// A template override that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the mail template {path}")]
pub struct TemplateError {
    path: String,
    #[source]
    source: std::io::Error,
}

fn built_in(kind: MailKind) -> KindTemplates {
    macro_rules! files {
        ($name:literal) => {
            KindTemplates {
                subject: include_str!(concat!("../templates/", $name, ".subject"))
                    .trim_end()
                    .to_owned(),
                text: include_str!(concat!("../templates/", $name, ".txt")).to_owned(),
                html: include_str!(concat!("../templates/", $name, ".html")).to_owned(),
            }
        };
    }
    match kind {
        MailKind::ResetPassword => files!("reset-password"),
        MailKind::VerifyEmail => files!("verify-email"),
        MailKind::ChangeEmailVerification => files!("change-email-verification"),
        MailKind::ChangeEmailConfirmation => files!("change-email-confirmation"),
        MailKind::DeleteAccount => files!("delete-account"),
        MailKind::TwoFactorCode => files!("two-factor-code"),
    }
}

impl Templates {
    /// The built-in templates, naming the app `app_name`.
    pub fn built_in(app_name: impl Into<String>) -> Self {
        Self {
            app_name: app_name.into(),
            kinds: MailKind::ALL
                .into_iter()
                .map(|k| (k, built_in(k)))
                .collect(),
        }
    }

    /// The built-in templates with any of `<dir>/<kind>.subject`, `.txt` and `.html` that
    /// exist taking their place. Read once, at start-up.
    ///
    /// # Errors
    /// A file that exists but cannot be read (a missing file keeps the built-in one).
    pub fn with_overrides(app_name: impl Into<String>, dir: &Path) -> Result<Self, TemplateError> {
        let mut templates = Self::built_in(app_name);
        for (kind, files) in &mut templates.kinds {
            for (extension, slot) in [
                ("subject", &mut files.subject),
                ("txt", &mut files.text),
                ("html", &mut files.html),
            ] {
                let path = dir.join(format!("{}.{extension}", kind.as_str()));
                match std::fs::read_to_string(&path) {
                    Ok(text) if extension == "subject" => *slot = text.trim_end().to_owned(),
                    Ok(text) => *slot = text,
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(TemplateError {
                            path: path.display().to_string(),
                            source,
                        });
                    }
                }
            }
        }
        Ok(templates)
    }

    /// The app's name the templates fill in.
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// `mail` rendered with its kind's templates.
    pub fn render(&self, mail: &Mail) -> Rendered {
        let files = &self.kinds[&mail.kind];
        let vars = [
            ("app_name", self.app_name.as_str()),
            ("user_name", mail.user_name.as_str()),
            ("url", mail.url.expose()),
            ("new_email", mail.new_email.as_deref().unwrap_or("")),
            // A two-factor code travels where the other kinds carry their link.
            ("code", mail.url.expose()),
        ];
        // A header cannot span lines: a name with a line break must not start a new header.
        let subject = substitute(&files.subject, &vars, |s, out| {
            out.extend(s.chars().map(|c| if c.is_control() { ' ' } else { c }));
        });
        Rendered {
            subject,
            text: substitute(&files.text, &vars, |s, out| out.push_str(s)),
            html: substitute(&files.html, &vars, escape_html),
        }
    }
}

/// `template` with each `{{name}}` of `vars` replaced through `write`; an unknown `{{…}}` is
/// left as written.
fn substitute(template: &str, vars: &[(&str, &str)], write: impl Fn(&str, &mut String)) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match vars.iter().find(|(var, _)| *var == name) {
            Some((_, value)) => write(value, &mut out),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretUrl;

    fn mail(name: &str) -> Mail {
        Mail::new(
            MailKind::VerifyEmail,
            "a@example.com",
            name,
            SecretUrl::new("http://x/verify-email?token=t&callbackURL=%2F"),
        )
    }

    #[test]
    fn html_values_are_escaped_and_text_values_are_not() {
        let rendered = Templates::built_in("Acme & Co").render(&mail("<b>Eve</b>"));
        assert!(rendered.html.contains("&lt;b&gt;Eve&lt;/b&gt;"));
        assert!(!rendered.html.contains("<b>Eve"));
        assert!(rendered.html.contains("token=t&amp;callbackURL"));
        assert!(rendered.text.contains("<b>Eve</b>"));
        assert!(
            rendered
                .text
                .contains("http://x/verify-email?token=t&callbackURL=%2F")
        );
        assert!(rendered.subject.contains("Acme & Co"));
    }

    #[test]
    fn a_line_break_in_a_name_cannot_start_a_header() {
        let mut m = mail("x");
        m.kind = MailKind::ResetPassword;
        let t = Templates {
            app_name: "A\r\nBcc: evil@example.com".into(),
            ..Templates::built_in("A")
        };
        assert!(!t.render(&m).subject.contains('\n'));
    }

    #[test]
    fn an_override_directory_replaces_only_the_files_it_has() {
        let dir = std::env::temp_dir().join(format!("tessera-mail-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("verify-email.subject"), "Hi {{user_name}}\n").unwrap();
        let t = Templates::with_overrides("Acme", &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let rendered = t.render(&mail("Ann"));
        assert_eq!(rendered.subject, "Hi Ann");
        assert!(rendered.text.contains("http://x/verify-email"));
    }

    #[test]
    fn an_unknown_placeholder_is_left_as_written() {
        assert_eq!(
            substitute("a {{nope}} {{x", &[], |s, o| o.push_str(s)),
            "a {{nope}} {{x"
        );
    }
}
