//! The Postgres task repository against a real database, on fixtures that exist only inside a
//! transaction: loaded when a test starts and rolled back when it ends, so each test sees
//! exactly its fixtures, needs no cleanup and leaves nothing behind (day 19).
//!
//! The tests of this file share one migrated database instead of creating their own, which is
//! what makes rolled-back fixtures worth having: no database to create per test, and no way
//! for one test's rows to reach another's. It is named after the migrations (a changed
//! migration gets a fresh database) and kept between runs.

mod common;

use std::hash::{DefaultHasher, Hash, Hasher};

use sqlx::{PgConnection, PgPool};
use uuid::{Uuid, uuid};

use task_svc::app::tasks::{
    Cursor, CursorKey, Direction, ListQuery, PageStart, SortKey, TaskFilter,
};
use task_svc::domain::task::Task;
use task_svc::domain::task::TaskStatus;
use task_svc::infra::postgres;
use task_svc::infra::tasks::list_on;

use common::TestDatabase;

const ADA: Uuid = uuid!("00000000-0000-7000-8000-00000000ada0");
const EVE: Uuid = uuid!("00000000-0000-7000-8000-00000000e7e0");

/// The migrated database every test of this file uses, on the server of `DATABASE_URL` (or
/// of a container, as [`TestDatabase`] finds it).
async fn shared_database(server: &TestDatabase) -> PgPool {
    let mut migrations = DefaultHasher::new();
    for migration in postgres::MIGRATOR.iter() {
        (migration.version, &*migration.checksum).hash(&mut migrations);
    }
    let url = server.sibling(&format!("test_repositories_{:016x}", migrations.finish()));
    let config = common::offline_config(&[("DATABASE_URL", &url)]).database;
    match postgres::connect(&config).await {
        Ok(pool) => pool,
        // Another test process created it at the same moment: it exists now.
        Err(_) => postgres::connect(&config).await.unwrap(),
    }
}

// ANCHOR: with_fixtures
/// Runs `test` on a transaction holding the rows of `tests/fixtures/tasks.sql`, then rolls the
/// transaction back, whatever the test did inside it. The fixtures have fixed ids and emails,
/// so two tests cannot hold them at once: each waits for the transaction-scoped advisory lock
/// first (a few milliseconds per test), instead of on the other's unique keys.
async fn with_fixtures<T>(db: &PgPool, test: impl AsyncFnOnce(&mut PgConnection) -> T) -> T {
    let mut tx = db.begin().await.unwrap();
    sqlx::raw_sql("SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock(19)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("fixtures/tasks.sql"))
        .execute(&mut *tx)
        .await
        .expect("the fixtures load");
    let outcome = test(&mut tx).await;
    tx.rollback().await.unwrap();
    outcome
}
// ANCHOR_END: with_fixtures

fn newest_first(owner: Uuid, limit: i64, start: PageStart) -> ListQuery {
    ListQuery {
        owner,
        filter: TaskFilter::default(),
        sort: SortKey::CreatedAt,
        direction: Direction::Desc,
        limit,
        start,
    }
}

/// The fixture task `n` of ada (see tests/fixtures/tasks.sql).
fn ada_task(n: u32) -> Uuid {
    Uuid::parse_str(&format!("00000000-0000-7000-8000-0000000a{n:04}")).unwrap()
}

// ANCHOR: fixture_test
#[tokio::test]
async fn list_query_pages_fixture_tasks_by_keyset() {
    let server = TestDatabase::new().await;
    let db = shared_database(&server).await;
    let pages = with_fixtures(&db, async |conn| {
        let mut pages: Vec<Vec<Uuid>> = Vec::new();
        let mut start = PageStart::Offset(0);
        loop {
            let mut rows = list_on(conn, &newest_first(ADA, 10, start)).await.unwrap();
            // One row more than the limit says that another page follows.
            let more = rows.len() > 10;
            rows.truncate(10);
            pages.push(rows.iter().map(|task| task.id).collect());
            let Some(last) = rows.last().filter(|_| more) else {
                return pages;
            };
            start = PageStart::After(Cursor {
                sort: SortKey::CreatedAt,
                direction: Direction::Desc,
                key: CursorKey::Time(last.created_at),
                id: last.id,
            });
        }
    })
    .await;

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5], "25 tasks of ada, none of eve's");
    let walked: Vec<Uuid> = pages.concat();
    let expected: Vec<Uuid> = (1..=25).rev().map(ada_task).collect();
    assert_eq!(walked, expected, "newest first, each task once");
}
// ANCHOR_END: fixture_test

#[tokio::test]
async fn filters_apply_before_the_limit() {
    let server = TestDatabase::new().await;
    let db = shared_database(&server).await;
    let done: Vec<Task> = with_fixtures(&db, async |conn| {
        let query = ListQuery {
            filter: TaskFilter {
                status: Some(TaskStatus::Done),
                ..TaskFilter::default()
            },
            ..newest_first(ADA, 50, PageStart::Offset(0))
        };
        list_on(conn, &query).await.unwrap()
    })
    .await;
    let ids: Vec<Uuid> = done.iter().map(|task| task.id).collect();
    let expected: Vec<Uuid> = (1..=25)
        .rev()
        .filter(|n| n % 3 == 0)
        .map(ada_task)
        .collect();
    assert_eq!(ids, expected);
    assert!(done.iter().all(|task| task.status == TaskStatus::Done));
}

#[tokio::test]
async fn rolled_back_fixtures_leave_nothing_behind() {
    let server = TestDatabase::new().await;
    let db = shared_database(&server).await;
    let count = async |owner: Uuid| {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tasks WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let inside = with_fixtures(&db, async |conn| {
        let mine: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE owner_id = $1")
            .bind(EVE)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        // Another connection does not see rows that were never committed.
        (mine, count(EVE).await)
    })
    .await;
    assert_eq!(inside, (3, 0));
    assert_eq!((count(ADA).await, count(EVE).await), (0, 0), "rolled back");
}

#[tokio::test]
async fn the_schema_refuses_what_the_domain_refuses() {
    let server = TestDatabase::new().await;
    let db = shared_database(&server).await;
    let insert = "INSERT INTO tasks (id, owner_id, title, version) VALUES ($1, $2, $3, $4)";
    let refused = with_fixtures(&db, async |conn| {
        let mut refused = Vec::new();
        for (title, version) in [("", 1), (&*"x".repeat(201), 1), ("fine", 0)] {
            // A savepoint per attempt: a failed statement would abort the whole transaction.
            let mut attempt = sqlx::Connection::begin(&mut *conn).await.unwrap();
            let outcome = sqlx::query(insert)
                .bind(Uuid::now_v7())
                .bind(ADA)
                .bind(title)
                .bind(version)
                .execute(&mut *attempt)
                .await;
            let code = outcome.err().and_then(|err| {
                err.as_database_error()
                    .and_then(|db| db.code().map(|code| code.into_owned()))
            });
            refused.push(code);
            attempt.rollback().await.unwrap();
        }
        refused
    })
    .await;
    let check_violation = Some("23514".to_owned());
    assert_eq!(
        refused,
        vec![check_violation; 3],
        "empty title, 201 characters, version 0"
    );
}
