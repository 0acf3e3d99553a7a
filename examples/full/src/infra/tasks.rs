//! [`TaskRepository`] in Postgres. Fixed queries are compile-checked (`sqlx::query!`); the
//! list query is assembled with `QueryBuilder` because its filters and ordering vary, and
//! every value in it is a bound parameter, never spliced text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use tracing::instrument;
use uuid::Uuid;

use super::postgres::with_retry;
use crate::{
    app::{
        jobs::Job,
        tasks::{
            CursorKey, Direction, IdempotencyKey, Idempotent, ListQuery, PageStart, SortKey,
            TaskRepository, UpdateOutbox,
        },
    },
    domain::task::{Description, Task, Title},
    error::AppError,
};

pub struct PgTaskRepository(pub PgPool);

// ANCHOR: task_row
#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    owner_id: Uuid,
    title: String,
    description: String,
    status: String,
    due_at: Option<DateTime<Utc>>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The table's CHECK constraints match the domain's rules, so a failure here means the
/// schema and the code disagree.
impl TryFrom<TaskRow> for Task {
    type Error = AppError;

    fn try_from(row: TaskRow) -> Result<Self, AppError> {
        let bad = |err: String| AppError::Internal(anyhow::anyhow!("task {}: {err}", row.id));
        Ok(Self {
            id: row.id,
            owner_id: row.owner_id,
            title: Title::try_from(row.title.clone()).map_err(bad)?,
            description: Description::try_from(row.description.clone()).map_err(bad)?,
            status: super::postgres::stored("tasks.status", &row.status)?,
            due_at: row.due_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
// ANCHOR_END: task_row

async fn enqueue_all(conn: &mut sqlx::PgConnection, jobs: &[Job]) -> Result<(), sqlx::Error> {
    for job in jobs {
        super::jobs::enqueue(conn, job).await?;
    }
    Ok(())
}

const COLUMNS: &str =
    "id, owner_id, title, description, status, due_at, version, created_at, updated_at";

async fn insert_task<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    task: &Task,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO tasks (id, owner_id, title, description, status, due_at, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        task.id,
        task.owner_id,
        task.title.as_str(),
        task.description.as_str(),
        task.status.as_str(),
        task.due_at,
        task.version,
        task.created_at,
        task.updated_at,
    )
    .execute(executor)
    .await
    .map(drop)
}

#[async_trait]
impl TaskRepository for PgTaskRepository {
    #[instrument(name = "tasks.insert", skip_all, fields(db.system.name = "postgresql"))]
    async fn insert(&self, task: &Task, outbox: &[Job]) -> Result<(), AppError> {
        if outbox.is_empty() {
            insert_task(&self.0, task).await?;
            return Ok(());
        }
        let mut tx = self.0.begin().await?;
        insert_task(&mut *tx, task).await?;
        enqueue_all(&mut tx, outbox).await?;
        tx.commit().await?;
        Ok(())
    }

    // ANCHOR: insert_idempotent
    #[instrument(name = "tasks.insert_idempotent", skip_all, fields(db.system.name = "postgresql"))]
    async fn insert_idempotent(
        &self,
        key: &IdempotencyKey,
        task: &Task,
        outbox: &[Job],
    ) -> Result<Idempotent, AppError> {
        // The whole check-then-insert is one transaction; a serialization failure or a
        // dropped connection rolls it back completely, so retrying it is safe.
        with_retry(|| async {
            let mut tx = self.0.begin().await?;
            // Serialises requests with the same (user, key) until this transaction ends.
            sqlx::query!(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || ':' || $2, 0))",
                key.user_id,
                key.key,
            )
            .fetch_one(&mut *tx)
            .await?;
            let seen = sqlx::query!(
                "SELECT request_hash, response FROM idempotency_keys
                 WHERE user_id = $1 AND key = $2 AND expires_at > now()",
                key.user_id,
                key.key,
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(seen) = seen {
                tx.commit().await?;
                if seen.request_hash != key.request_hash {
                    return Ok(Idempotent::KeyReused);
                }
                let task: Task = serde_json::from_value(seen.response)
                    .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
                return Ok(Idempotent::Replayed(task));
            }
            insert_task(&mut *tx, task).await?;
            enqueue_all(&mut tx, outbox).await?;
            let response =
                serde_json::to_value(task).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
            sqlx::query!(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response, expires_at)
                 VALUES ($1, $2, $3, 201, $4, $5)
                 ON CONFLICT (user_id, key) DO UPDATE
                 SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code,
                     response = EXCLUDED.response, created_at = now(), expires_at = EXCLUDED.expires_at",
                key.user_id,
                key.key,
                key.request_hash,
                response,
                key.expires_at,
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Idempotent::Created(task.clone()))
        })
        .await
        .map_err(AppError::from)
    }
    // ANCHOR_END: insert_idempotent

    #[instrument(name = "tasks.get", skip_all, fields(db.system.name = "postgresql"))]
    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError> {
        let row = with_retry(|| {
            sqlx::query_as!(
                TaskRow,
                "SELECT id, owner_id, title, description, status, due_at, version, created_at, updated_at
                 FROM tasks WHERE id = $1",
                id,
            )
            .fetch_optional(&self.0)
        })
        .await?;
        row.map(Task::try_from).transpose()
    }

    #[instrument(name = "tasks.update", skip_all, fields(db.system.name = "postgresql"))]
    async fn update(
        &self,
        task: &Task,
        outbox: UpdateOutbox<'_>,
    ) -> Result<Option<Task>, AppError> {
        let mut tx = match outbox {
            Some(_) => Some(self.0.begin().await?),
            None => None,
        };
        let query = sqlx::query_as!(
            TaskRow,
            "UPDATE tasks
             SET title = $3, description = $4, status = $5, due_at = $6, version = version + 1
             WHERE id = $1 AND version = $2
             RETURNING id, owner_id, title, description, status, due_at, version, created_at, updated_at",
            task.id,
            task.version,
            task.title.as_str(),
            task.description.as_str(),
            task.status.as_str(),
            task.due_at,
        );
        let row = match tx.as_mut() {
            Some(tx) => query.fetch_optional(&mut **tx).await?,
            None => query.fetch_optional(&self.0).await?,
        };
        let stored = row.map(Task::try_from).transpose()?;
        if let (Some(tx), Some(outbox), Some(stored)) = (tx.as_mut(), outbox, &stored) {
            enqueue_all(tx, &outbox(stored)).await?;
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        Ok(stored)
    }

    #[instrument(name = "tasks.delete", skip_all, fields(db.system.name = "postgresql"))]
    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError> {
        if outbox.is_empty() {
            let done = sqlx::query!("DELETE FROM tasks WHERE id = $1", id)
                .execute(&self.0)
                .await?;
            return Ok(done.rows_affected() == 1);
        }
        let mut tx = self.0.begin().await?;
        let done = sqlx::query!("DELETE FROM tasks WHERE id = $1", id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if done {
            enqueue_all(&mut tx, outbox).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    // ANCHOR: delete_all
    #[instrument(name = "tasks.delete_all", skip_all, fields(db.system.name = "postgresql"))]
    async fn delete_all(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        outbox: &[Job],
    ) -> Result<bool, AppError> {
        let mut tx = self.0.begin().await?;
        for id in ids {
            let done = sqlx::query!(
                "DELETE FROM tasks WHERE id = $1 AND owner_id = $2",
                id,
                owner
            )
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                // Dropping the transaction rolls back the deletes made so far.
                tx.rollback().await?;
                return Ok(false);
            }
        }
        enqueue_all(&mut tx, outbox).await?;
        tx.commit().await?;
        Ok(true)
    }
    // ANCHOR_END: delete_all

    #[instrument(name = "tasks.list", skip_all, fields(db.system.name = "postgresql"))]
    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError> {
        let rows = with_retry(|| async {
            list_query(query)
                .build_query_as::<TaskRow>()
                .fetch_all(&self.0)
                .await
        })
        .await?;
        rows.into_iter().map(Task::try_from).collect()
    }

    #[instrument(name = "tasks.purge_expired_keys", skip_all, fields(db.system.name = "postgresql"))]
    async fn purge_expired_keys(&self) -> Result<u64, AppError> {
        let done = sqlx::query!("DELETE FROM idempotency_keys WHERE expires_at < now()")
            .execute(&self.0)
            .await?;
        Ok(done.rows_affected())
    }

    /// One statement writes every row, with spread-out creation times, statuses, due dates
    /// and titles (a million take seconds). `DATABASE_STATEMENT_TIMEOUT_MS` bounds requests,
    /// and a million rows take longer than any request should: lifted for this transaction.
    #[instrument(name = "tasks.seed", skip_all, fields(db.system.name = "postgresql"))]
    async fn seed(&self, owner: Uuid, count: i64) -> Result<u64, AppError> {
        let mut tx = self.0.begin().await?;
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query!(
            "INSERT INTO tasks (id, owner_id, title, description, status, due_at, created_at, updated_at)
             SELECT gen_random_uuid(), $1, 'Task ' || substr(md5(n::text), 1, 12), '',
                    (ARRAY['todo', 'in_progress', 'done'])[1 + n % 3],
                    CASE WHEN n % 4 = 0 THEN NULL ELSE now() + (n % 365) * interval '1 day' END,
                    now() - n * interval '1 second', now() - n * interval '1 second'
             FROM generate_series(1, $2::bigint) AS n",
            owner,
            count,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        // Fresh statistics, so the planner sees the table as it now is.
        sqlx::query!("ANALYZE tasks").execute(&self.0).await?;
        Ok(inserted)
    }
}

/// The rows of one page of `query` (one more than its limit, when that many match), read on
/// `conn`: the statement [`PgTaskRepository::list`] runs on the pool, for callers that hold a
/// connection or a transaction of their own, such as tests on fixtures that are rolled back.
pub async fn list_on(conn: &mut PgConnection, query: &ListQuery) -> Result<Vec<Task>, AppError> {
    let rows = list_query(query)
        .build_query_as::<TaskRow>()
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(Task::try_from).collect()
}

// ANCHOR: list_query
/// `SELECT ... WHERE owner AND filters [AND (key, id) > or < (cursor)] ORDER BY key, id LIMIT n+1
/// [OFFSET m]`. The row comparison on `(key, id)` lets Postgres start reading the index right
/// after the cursor, so a deep page costs what the first one does.
fn list_query(query: &ListQuery) -> QueryBuilder<Postgres> {
    let column = match query.sort {
        SortKey::CreatedAt => "created_at",
        SortKey::DueAt => "due_at",
        SortKey::Title => "title",
    };
    let (order, after) = match query.direction {
        Direction::Asc => ("ASC", ">"),
        Direction::Desc => ("DESC", "<"),
    };
    let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks WHERE owner_id = "));
    sql.push_bind(query.owner);
    if let Some(status) = query.filter.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(after) = query.filter.due_after {
        sql.push(" AND due_at >= ").push_bind(after);
    }
    if let Some(before) = query.filter.due_before {
        sql.push(" AND due_at < ").push_bind(before);
    }
    if query.sort == SortKey::DueAt {
        sql.push(" AND due_at IS NOT NULL");
    }
    if let PageStart::After(cursor) = &query.start {
        sql.push(format!(" AND ({column}, id) {after} ("));
        match &cursor.key {
            CursorKey::Time(time) => sql.push_bind(*time),
            CursorKey::Text(title) => sql.push_bind(title.as_str().to_owned()),
        };
        sql.push(", ").push_bind(cursor.id).push(")");
    }
    sql.push(format!(" ORDER BY {column} {order}, id {order} LIMIT "))
        .push_bind(query.limit + 1);
    if let PageStart::Offset(offset) = query.start {
        sql.push(" OFFSET ").push_bind(offset);
    }
    sql
}
// ANCHOR_END: list_query
