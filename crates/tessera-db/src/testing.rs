//! The databases tests run on (feature `testing`): a temp SQLite file, or a fresh PostgreSQL
//! database cloned from a migrated template, and [`on_both_backends!`](crate::on_both_backends)
//! to run one test body on each.
//!
//! Migrations run once per test run, not once per test: the first PostgreSQL test of a process
//! makes sure a template database holding the migrated schema exists, and every test database
//! is a `CREATE DATABASE … TEMPLATE` copy of it. The template is named by a hash of the
//! migrations, so a changed or added migration gets a new one. Test processes that run at the
//! same time (`cargo test` runs one per crate) serialise its creation under a PostgreSQL
//! advisory lock, and build it under a temporary name renamed into place once migrated, so no
//! process ever clones a half-migrated template, even after one died building it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{Connection as _, PgConnection};

use crate::{Database, Migrations};

mod round_trips;

pub use round_trips::{RoundTrips, settled};

/// The PostgreSQL server of the tests when `TEST_DATABASE_URL` is unset.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The advisory-lock key under which template databases are created (any constant will do;
/// it only has to be the same in every test process).
const TEMPLATE_LOCK: i64 = 0x0074_6573_7365_7261;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A temp SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database on `TEST_DATABASE_URL`'s server.
    Postgres,
}

/// The PostgreSQL server tests use: `TEST_DATABASE_URL`, or the local default.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A migrated database for one test, removed when dropped: the SQLite file's directory is
/// deleted, the PostgreSQL database dropped (`WITH (FORCE)`, so open connections do not stop it).
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    database: Database,
    place: Place,
}

#[derive(Debug)]
enum Place {
    Sqlite(
        #[expect(dead_code, reason = "held for its Drop, which deletes the directory")]
        tempfile::TempDir,
    ),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A database on `backend` with the migrations of `sets` applied, in order.
    pub async fn create(backend: Backend, sets: &[fn() -> Migrations]) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(sets).await,
            Backend::Postgres => Self::postgres(sets).await,
        }
    }

    async fn sqlite(sets: &[fn() -> Migrations]) -> Self {
        let dir = tempfile::tempdir().expect("a temp directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let database = crate::connect(&url).await.expect("a SQLite file opens");
        crate::migrate(&database, sets.iter().map(|set| set()))
            .await
            .expect("the migrations apply");
        Self {
            url,
            database,
            place: Place::Sqlite(dir),
        }
    }

    async fn postgres(sets: &[fn() -> Migrations]) -> Self {
        let admin_url = postgres_admin_url();
        let template = ensure_template(&admin_url, sets).await;
        let name = unique_name();
        let mut admin = admin_connection(&admin_url).await;
        sqlx::query(&format!(
            r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#
        ))
        .execute(&mut admin)
        .await
        .expect("a test database is cloned from the template");
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        let database = crate::connect(&url).await.expect("the test database opens");
        Self {
            url,
            database,
            place: Place::Postgres { admin_url, name },
        }
    }

    /// The database's URL, for a second pool (another process's view) or the binary under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool on the database, open for as long as this is.
    pub fn database(&self) -> &Database {
        &self.database
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Place::Postgres { admin_url, name } = &self.place else {
            return;
        };
        // Drop runs outside any async context it could borrow: a private runtime on its own
        // thread does the work.
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.url);
        }
    }
}

/// The name of the template holding `sets`' migrations, created if no process did yet.
async fn ensure_template(admin_url: &str, sets: &[fn() -> Migrations]) -> String {
    // Templates this process knows exist; the lock also keeps this process's tests from
    // racing each other to the advisory lock.
    static READY: tokio::sync::Mutex<Option<HashSet<String>>> = tokio::sync::Mutex::const_new(None);
    let name = template_name(sets);
    let mut ready = READY.lock().await;
    if ready.get_or_insert_with(HashSet::new).contains(&name) {
        return name;
    }
    let mut admin = admin_connection(admin_url).await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .expect("the template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("pg_database answers");
    if !exists {
        build_template(&mut admin, admin_url, &name, sets).await;
    }
    // Closing the connection would release the lock too; unlocking says so.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .expect("the template lock is released");
    let _ = admin.close().await;
    ready.get_or_insert_with(HashSet::new).insert(name.clone());
    name
}

/// Migrates a database under a temporary name, then renames it to `name`: a template exists
/// only once complete. Runs under the template lock.
async fn build_template(
    admin: &mut PgConnection,
    admin_url: &str,
    name: &str,
    sets: &[fn() -> Migrations],
) {
    let building = format!("{name}_building");
    for statement in [
        // Left over by a process that died building it.
        format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#),
        format!(r#"CREATE DATABASE "{building}""#),
    ] {
        sqlx::query(&statement)
            .execute(&mut *admin)
            .await
            .expect("the template database is created");
    }
    let database = crate::connect(&with_database(admin_url, &building))
        .await
        .expect("the template database opens");
    crate::migrate(&database, sets.iter().map(|set| set()))
        .await
        .expect("the migrations apply");
    // A template cannot be cloned, nor renamed, while anyone is connected to it. Closing the
    // pool does not always end its server sessions at once (a connection the migrator used was
    // seen lingering, and each refused rename waits 5 s for it), so any session still on the
    // building database, which only this process uses under the lock, is terminated first.
    database.close().await;
    let rename = format!(r#"ALTER DATABASE "{building}" RENAME TO "{name}""#);
    for attempt in 0.. {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&building)
        .execute(&mut *admin)
        .await
        .expect("pg_stat_activity answers");
        match sqlx::query(&rename).execute(&mut *admin).await {
            Ok(_) => return,
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55006") && attempt < 500 =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("the template is renamed into place: {e}"),
        }
    }
}

/// `tessera_template_<hash>`: the hash covers every migration's version and checksum (sqlx's
/// SHA-384 of its SQL), in order, so any change to the migrations names a new template.
fn template_name(sets: &[fn() -> Migrations]) -> String {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for set in sets {
        for migration in set().postgres.iter() {
            hash.update(&migration.version.to_le_bytes());
            hash.update(&migration.checksum);
        }
        hash.update(b"/");
    }
    let digest = hash.finish();
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("tessera_template_{hex}")
}

/// A database name no other test, in this process or another, uses.
fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "tessera_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    PgConnection::connect(admin_url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at TEST_DATABASE_URL ({admin_url}) does not answer: {e}; scripts/test.sh starts one")
    })
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// Runs each test body once on SQLite and once on PostgreSQL, as the tests `name::on_sqlite`
/// and `name::on_postgres`, each on an app the calling crate's `crate::helpers::TestApp`
/// spawns on a fresh database.
///
/// Four forms:
/// - `async fn name(app) { … }` defines the body and its two tests; the app comes from
///   `TestApp::spawn(Backend)`;
/// - `config = adjust; async fn name(app) { … }` spawns it with
///   `TestApp::spawn_with(Backend, super::adjust)` instead;
/// - `name, other_name` makes the two tests of bodies `async fn name(app: TestApp)` defined
///   beside the macro;
/// - `backend: name, other_name` the same for bodies `async fn name(backend: Backend)` that
///   spawn their own app.
#[macro_export]
#[expect(
    clippy::crate_in_macro_def,
    reason = "`crate::helpers::TestApp` is the calling test crate's app, on purpose"
)]
macro_rules! on_both_backends {
    (config = $adjust:ident; $(async fn $name:ident($app:ident) $body:block)*) => {$(
        async fn $name($app: crate::helpers::TestApp) $body

        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(crate::helpers::TestApp::spawn_with($crate::testing::Backend::Sqlite, super::$adjust).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(crate::helpers::TestApp::spawn_with($crate::testing::Backend::Postgres, super::$adjust).await).await;
            }
        }
    )*};
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        async fn $name($app: crate::helpers::TestApp) $body

        $crate::on_both_backends!($name);
    )*};
    (backend: $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name($crate::testing::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name($crate::testing::Backend::Postgres).await;
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(crate::helpers::TestApp::spawn($crate::testing::Backend::Sqlite).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(crate::helpers::TestApp::spawn($crate::testing::Backend::Postgres).await).await;
            }
        }
    )*};
}
