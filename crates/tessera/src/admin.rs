//! Operator commands: `tessera keys list|rotate` and `tessera audit`. The logic lives in
//! `tessera_auth` (`KeyManager::list`, `KeyManager::rotate`, `Store::list_audit`); this module
//! opens the database with the server's settings and prints.

use std::sync::Arc;

use anyhow::Context as _;
use tessera_auth::audit::{AuditEvent, AuditFilter};
use tessera_auth::clock::{Clock as _, SystemClock, iso_millis};
use tessera_auth::features::jwt::{KeyInfo, KeyManager};
use tessera_auth::store::Store;

use crate::cli::{AuditArgs, DatabaseArgs, KeysCommand};
use crate::settings;

/// `tessera keys list` / `tessera keys rotate [--alg ALG]`.
pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let (args, alg) = match &command {
        KeysCommand::List(args) => (args, None),
        KeysCommand::Rotate(rotate) => (&rotate.serve, Some(rotate.alg.as_deref())),
    };
    let config = settings::auth_config(args)?;
    let store = open(&args.database).await?;
    let manager = KeyManager::new(&config);
    let now = SystemClock.now();
    let result = match alg {
        None => manager
            .list(store.as_ref(), now)
            .await
            .map(|keys| (render_keys(&keys), None)),
        Some(alg) => {
            let alg = match alg {
                Some(name) => name
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--alg must be EdDSA, ES256 or RS256"))?,
                None => config.jwt.alg,
            };
            manager.rotate(store.as_ref(), alg, now).await.map(|r| {
                let retired = if r.retired.is_empty() {
                    "none".to_owned()
                } else {
                    r.retired.join(", ")
                };
                let text = format!(
                    "new current {} key: {}\nretired (published for {} more days): {retired}\n",
                    r.alg,
                    r.kid,
                    manager.grace_period().num_days()
                );
                (text, Some(r.kid))
            })
        }
    };
    store.close().await;
    let (text, kid) = result.context("signing keys")?;
    print!("{text}");
    if let (Some(kid), Some(url)) = (kid, args.redis_url.as_deref()) {
        // The key is stored: an instance that misses this finds it at its periodic re-check.
        match tessera_server::instances::announce_rotation(url, &kid).await {
            Ok(()) => println!("announced to the running instances through Redis"),
            Err(error) => eprintln!(
                "warning: the running instances were not told through Redis ({error:#}); \
                 they switch to the new key within 30 s"
            ),
        }
    }
    Ok(())
}

/// `tessera audit [--user ID] [--since T] [--json] [--limit N]`: the newest events, printed
/// oldest first so the latest is on the last line.
pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let store = open(&args.database).await?;
    let filter = AuditFilter {
        user_id: args.user,
        since: args.since,
        limit: args.limit,
    };
    let events = store.list_audit(&filter).await;
    store.close().await;
    let mut events = events.context("reading the audit log")?;
    events.reverse();
    let out = if args.json {
        events
            .iter()
            .map(|e| format!("{}\n", e.to_json()))
            .collect()
    } else {
        render_audit(&events)
    };
    print!("{out}");
    Ok(())
}

/// Connects and brings the schema up to date (the audit table arrives with a migration).
async fn open(database: &DatabaseArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings::database_url(database)?;
    let store = tessera_auth::store::connect(&url)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating")?;
    Ok(store)
}

fn render_keys(keys: &[KeyInfo]) -> String {
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.alg.clone(),
                iso_millis(&k.created_at),
                k.expires_at
                    .as_ref()
                    .map_or_else(|| "never".to_owned(), iso_millis),
                k.status.as_str().to_owned(),
            ]
        })
        .collect();
    table(&["KID", "ALG", "CREATED", "EXPIRES", "STATUS"], rows)
}

fn render_audit(events: &[AuditEvent]) -> String {
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let rows = events
        .iter()
        .map(|e| {
            vec![
                e.at.to_iso(),
                e.event.clone(),
                e.outcome.clone(),
                text(&e.reason),
                text(&e.user_id),
                text(&e.session_id),
                non_empty(&e.ip),
                non_empty(&shorten(&e.user_agent, 40)),
                text(&e.detail),
            ]
        })
        .collect();
    table(
        &[
            "AT",
            "EVENT",
            "OUTCOME",
            "REASON",
            "USER",
            "SESSION",
            "IP",
            "USER AGENT",
            "DETAIL",
        ],
        rows,
    )
}

fn non_empty(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

fn shorten(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Left-aligned columns separated by two spaces. Control characters are replaced: the user
/// agent and detail come from clients, and must not drive the operator's terminal.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|cell| {
                    cell.chars()
                        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                        .collect()
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use tessera_auth::audit::AuditKind;
    use tessera_auth::features::jwt::KeyStatus;

    use super::*;

    #[test]
    fn the_key_table_shows_public_facts_and_status() {
        let created = Utc.with_ymd_and_hms(2026, 8, 1, 10, 0, 0).unwrap();
        let out = render_keys(&[KeyInfo {
            kid: "abc".into(),
            alg: "EdDSA".into(),
            created_at: created,
            expires_at: None,
            status: KeyStatus::Current,
        }]);
        let mut lines = out.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["KID", "ALG", "CREATED", "EXPIRES", "STATUS"]
        );
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            [
                "abc",
                "EdDSA",
                "2026-08-01T10:00:00.000Z",
                "never",
                "current"
            ]
        );
    }

    #[test]
    fn the_audit_table_neutralises_control_characters_from_clients() {
        let at = Utc.with_ymd_and_hms(2026, 8, 1, 10, 0, 0).unwrap();
        let mut event = AuditEvent::system(AuditKind::OriginRejected, at)
            .reason("INVALID_ORIGIN")
            .detail(serde_json::json!({"path": "/sign-out"}));
        event.user_agent = "evil\u{1b}[2J agent".into();
        let out = render_audit(&[event]);
        assert!(!out.contains('\u{1b}'));
        assert!(out.contains("origin_rejected"));
        assert!(out.contains("failure"));
        assert!(out.contains(r#"{"path":"/sign-out"}"#));
        assert_eq!(out.lines().count(), 2);
    }
}
