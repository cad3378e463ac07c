//! The migration runner: each crate keeps its own migrations directory and hands its migrators
//! here.
//!
//! All crates record their migrations in the one `_sqlx_migrations` table, in disjoint version
//! ranges (the auth server from 1, the tasks API from 1000), so each migrator runs with
//! `ignore_missing`: the other crates' rows are not errors. A Better Auth database adopted in
//! place has no such table yet; sqlx creates it, and the auth migrations' `IF NOT EXISTS` leave
//! Better Auth's tables as they are.

use sqlx::migrate::Migrator;

use crate::{Database, StoreResult};

/// One crate's migrations, one migrator per backend; build it with `sqlx::migrate!` on each of
/// the crate's directories.
#[derive(Debug)]
pub struct Migrations {
    /// The SQLite migrations.
    pub sqlite: Migrator,
    /// The PostgreSQL migrations.
    pub postgres: Migrator,
    /// Columns the SQLite migrations cannot add themselves, added after them when missing.
    pub sqlite_columns: &'static [SqliteColumn],
}

/// A column added to a table that may already have it: a Better Auth plugin's column
/// (`user.twoFactorEnabled`) is there in an adopted database whose Better Auth ran the plugin,
/// and missing otherwise. PostgreSQL's migrations say `ADD COLUMN IF NOT EXISTS`; SQLite has no
/// such clause, and a duplicate `ADD COLUMN` fails the whole migration, so the runner looks the
/// column up (`pragma_table_info`) and adds it only when it is missing.
#[derive(Clone, Copy, Debug)]
pub struct SqliteColumn {
    /// The table, which an earlier migration created.
    pub table: &'static str,
    /// The column's name.
    pub column: &'static str,
    /// Its type and constraints, as after the name in `ADD COLUMN`.
    pub definition: &'static str,
}

impl Migrations {
    /// The migrator for `db`'s backend.
    pub fn for_database(&self, db: &Database) -> &Migrator {
        match db {
            Database::Sqlite(_) => &self.sqlite,
            Database::Postgres(_) => &self.postgres,
        }
    }
}

/// Applies every pending migration of `sets`, in the order given (a crate whose schema refers to
/// another's comes after it).
pub async fn migrate(db: &Database, sets: impl IntoIterator<Item = Migrations>) -> StoreResult<()> {
    for mut set in sets {
        set.sqlite.set_ignore_missing(true);
        set.postgres.set_ignore_missing(true);
        match db {
            Database::Sqlite(pool) => {
                // One connection for the set: SQLite prepares a statement against the schema
                // its connection last loaded, and a double-quoted name it does not find there
                // becomes a string literal, so a connection that read the schema before a
                // column was added would later select the text "twoFactorEnabled" instead of
                // the column. Only the connection that adds the column has read the old one.
                let mut conn = pool.acquire().await?;
                set.sqlite.run_direct(&mut *conn).await?;
                for column in set.sqlite_columns {
                    add_sqlite_column(&mut conn, column).await?;
                }
            }
            Database::Postgres(pool) => set.postgres.run(pool).await?,
        }
    }
    Ok(())
}

/// Adds `column` unless its table has it already.
async fn add_sqlite_column(
    conn: &mut sqlx::SqliteConnection,
    column: &SqliteColumn,
) -> StoreResult<()> {
    let present: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pragma_table_info($1) WHERE name = $2)")
            .bind(column.table)
            .bind(column.column)
            .fetch_one(&mut *conn)
            .await?;
    if !present {
        // Names and definition are the crate's constants, never input.
        sqlx::query(&format!(
            r#"ALTER TABLE "{}" ADD COLUMN "{}" {}"#,
            column.table, column.column, column.definition
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether every migration of `sets` is recorded as applied in `db` (the readiness check: a
/// database restored from an older backup answers, but lacks tables this build queries).
///
/// # Errors
/// When the database cannot be queried (unreachable, or never migrated at all).
pub async fn applied(
    db: &Database,
    sets: impl IntoIterator<Item = Migrations>,
) -> StoreResult<bool> {
    const QUERY: &str = "SELECT version FROM _sqlx_migrations WHERE success";
    let done: Vec<i64> = match db {
        Database::Sqlite(pool) => sqlx::query_scalar(QUERY).fetch_all(pool).await?,
        Database::Postgres(pool) => sqlx::query_scalar(QUERY).fetch_all(pool).await?,
    };
    Ok(sets.into_iter().all(|set| {
        set.for_database(db)
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .all(|m| done.contains(&m.version))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn migrations(dir: &std::path::Path, file: &str, sql: &str) -> Migrations {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), sql).unwrap();
        Migrations {
            sqlite: Migrator::new(dir).await.unwrap(),
            postgres: Migrator::new(dir).await.unwrap(),
            sqlite_columns: &[],
        }
    }

    #[tokio::test]
    async fn two_crates_migrations_share_one_table_and_each_ignores_the_others_rows() {
        let root = tempfile_dir("shared");
        let url = format!("sqlite://{}", root.join("m.db").display());
        let db = crate::connect(&url).await.unwrap();
        let (auth_dir, tasks_dir) = (root.join("auth"), root.join("tasks"));
        let auth = || migrations(&auth_dir, "0001_a.sql", "CREATE TABLE a (x TEXT);");
        let tasks = || migrations(&tasks_dir, "1000_b.sql", "CREATE TABLE b (x TEXT);");
        migrate(&db, [auth().await, tasks().await]).await.unwrap();
        // Each alone again, as `tessera serve` and `tessera api` run them on one database.
        migrate(&db, [tasks().await]).await.unwrap();
        migrate(&db, [auth().await]).await.unwrap();
        let Database::Sqlite(pool) = &db else {
            unreachable!()
        };
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(pool)
                .await
                .unwrap();
        db.close().await;
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(versions, [1, 1000]);
    }

    #[tokio::test]
    async fn a_database_is_applied_only_once_every_set_has_run() {
        let root = tempfile_dir("applied");
        let url = format!("sqlite://{}", root.join("m.db").display());
        std::fs::create_dir_all(&root).unwrap();
        let db = crate::connect(&url).await.unwrap();
        let (auth_dir, tasks_dir) = (root.join("auth"), root.join("tasks"));
        let auth = || migrations(&auth_dir, "0001_a.sql", "CREATE TABLE a (x TEXT);");
        let tasks = || migrations(&tasks_dir, "1000_b.sql", "CREATE TABLE b (x TEXT);");
        migrate(&db, [auth().await]).await.unwrap();
        let half = applied(&db, [auth().await, tasks().await]).await.unwrap();
        migrate(&db, [tasks().await]).await.unwrap();
        let whole = applied(&db, [auth().await, tasks().await]).await.unwrap();
        db.close().await;
        std::fs::remove_dir_all(&root).unwrap();
        assert!(!half);
        assert!(whole);
    }

    /// A directory of this test's own: the two tests run at once, and each removes its own.
    fn tempfile_dir(test: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tessera-db-migrate-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
