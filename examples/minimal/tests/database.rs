//! The database is created when missing, migrations run at start-up and are reversible.

mod common;

use common::TestEnv;
use sqlx::Row;

use task_svc::error::AppError;
use task_svc::http::problem::status_of;
use task_svc::infra::postgres::MIGRATOR;
use task_svc::startup::Backends;

async fn function_exists(pool: &sqlx::PgPool, name: &str) -> bool {
    sqlx::query("SELECT count(*) AS n FROM pg_proc WHERE proname = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>("n")
        == 1
}

#[tokio::test]
async fn start_up_creates_the_database_and_applies_migrations() {
    let env = TestEnv::new().await;
    // The database does not exist yet: the app must create it.
    let state = Backends::connect(&env.config(&[])).await.unwrap();

    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&state.db)
            .await
            .unwrap();
    let embedded: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, embedded, "every embedded migration is applied");
    assert!(function_exists(&state.db, "set_updated_at").await);

    // Starting again is a no-op, not an error.
    let again = Backends::connect(&env.config(&[])).await.unwrap();
    again.db.close().await;
    state.db.close().await;
}

// ANCHOR: reverts
#[tokio::test]
async fn every_migration_reverts_and_reapplies() {
    let env = TestEnv::new().await;
    let state = Backends::connect(&env.config(&[])).await.unwrap();
    let db = &state.db;

    MIGRATOR.undo(db, 0).await.expect("all migrations revert");
    assert!(!function_exists(db, "set_updated_at").await);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(left, 0);

    MIGRATOR.run(db).await.expect("and apply again");
    assert!(function_exists(db, "set_updated_at").await);
    db.close().await;
}
// ANCHOR_END: reverts

#[tokio::test]
async fn migrations_can_be_left_to_a_release_step() {
    let env = TestEnv::new().await;
    let state = Backends::connect(&env.config(&[("DATABASE_MIGRATE", "false")]))
        .await
        .unwrap();
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&state.db)
        .await
        .unwrap();
    assert_eq!(table, None, "no migration ran");
    state.db.close().await;
}

#[tokio::test]
async fn a_missing_database_is_an_error_when_creation_is_off() {
    let env = TestEnv::new().await;
    let err = Backends::connect(&env.config(&[("DATABASE_CREATE_IF_MISSING", "false")]))
        .await
        .err()
        .expect("connecting to a database that does not exist fails");
    assert!(format!("{err:#}").contains("DATABASE_URL"), "{err:#}");
}

// ANCHOR: statement_timeout_test
/// A statement running past DATABASE_STATEMENT_TIMEOUT_MS is cancelled by Postgres, and the
/// error maps to a 503 the client may retry, not a 500.
#[tokio::test]
async fn runaway_statements_are_cancelled_by_the_statement_timeout() {
    let env = TestEnv::new().await;
    let config = env.config(&[("DATABASE_STATEMENT_TIMEOUT_MS", "200")]);
    let state = Backends::connect(&config).await.unwrap();
    let started = std::time::Instant::now();
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&state.db)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "cancelled early"
    );
    let app_error = AppError::from(err);
    assert_eq!(status_of(&app_error), 503, "{app_error:?}");
    state.db.close().await;
}
// ANCHOR_END: statement_timeout_test

/// The release step: `migrate` needs the database settings only (no secrets), applies every
/// migration, changes nothing when run again, and accepts a database a newer release already
/// migrated further (a rollback runs the previous version's release step on it).
#[tokio::test]
async fn the_migrate_command_needs_only_the_database_url_and_tolerates_a_newer_schema() {
    let env = TestEnv::new().await;
    let migrate = || {
        std::process::Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &env.db.url)
            .output()
            .unwrap()
    };
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap();
    let expected = format!("migrations applied: the schema is at version {latest}\n");

    let first = migrate();
    assert!(first.status.success(), "{first:?}");
    assert_eq!(String::from_utf8_lossy(&first.stdout), expected);
    let db = sqlx::PgPool::connect(&env.db.url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&db)
        .await
        .unwrap();
    let embedded = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    assert_eq!(usize::try_from(applied).unwrap(), embedded);

    let again = migrate();
    assert!(again.status.success(), "{again:?}");

    // A migration this build does not know, as a newer release would have left it.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&db)
    .await
    .unwrap();
    let after_newer = migrate();
    assert!(after_newer.status.success(), "{after_newer:?}");
    db.close().await;
}
