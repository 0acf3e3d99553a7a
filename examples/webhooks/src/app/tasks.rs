//! The task use cases. The rules live here, not in handlers: only the owner (or an admin) sees
//! or changes a task, and a foreign task is 404, not 403, so ids do not leak; status moves
//! follow `TaskStatus::can_become`; a write names the version it read and fails with 409 when
//! the task has changed since.

use std::sync::Arc;

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{access::ensure_owner_or_admin, jobs::Job};
use crate::{
    domain::{
        task::{Task, TaskContent, TaskPatch, TaskStatus, Title},
        user::Caller,
    },
    error::AppError,
};

/// How long a stored `Idempotency-Key` response is replayed.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    CreatedAt,
    /// Lists only tasks that have a due date.
    DueAt,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub due_after: Option<DateTime<Utc>>,
    pub due_before: Option<DateTime<Utc>>,
}

/// Where a page starts: after skipping rows, or after the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    Offset(i64),
    After(Cursor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub owner: Uuid,
    pub filter: TaskFilter,
    pub sort: SortKey,
    pub direction: Direction,
    pub limit: i64,
    pub start: PageStart,
}

/// The sort value and id of the last row of a page. Opaque to clients: base64url JSON that
/// also records the ordering it belongs to, so it cannot be used with another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: SortKey,
    pub direction: Direction,
    pub key: CursorKey,
    pub id: Uuid,
}

/// The sort value, typed by the sort it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Time(DateTime<Utc>),
    Text(Title),
}

/// The cursor as sent: the key is always a string, read back according to `sort`, so a
/// title that looks like a date is still a title.
#[derive(Serialize, Deserialize)]
struct RawCursor {
    sort: SortKey,
    direction: Direction,
    key: String,
    id: Uuid,
}

impl Cursor {
    pub fn after(task: &Task, sort: SortKey, direction: Direction) -> Self {
        let key = match sort {
            SortKey::CreatedAt => CursorKey::Time(task.created_at),
            SortKey::DueAt => CursorKey::Time(task.due_at.unwrap_or(task.created_at)),
            SortKey::Title => CursorKey::Text(task.title.clone()),
        };
        Self {
            sort,
            direction,
            key,
            id: task.id,
        }
    }

    pub fn encode(&self) -> String {
        let raw = RawCursor {
            sort: self.sort,
            direction: self.direction,
            key: match &self.key {
                CursorKey::Time(time) => time.to_rfc3339(),
                CursorKey::Text(title) => title.as_str().to_owned(),
            },
            id: self.id,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raw).unwrap_or_default())
    }

    /// 400 for anything that is not a cursor we made for this ordering, including keys that
    /// could not have come from a stored task (a title breaking the title rules, a time out
    /// of range), so nothing a client invents reaches the database.
    pub fn decode(raw: &str, sort: SortKey, direction: Direction) -> Result<Self, AppError> {
        let invalid = || AppError::BadRequest("the cursor is not valid".into());
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let raw: RawCursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if raw.sort != sort || raw.direction != direction {
            return Err(AppError::BadRequest(
                "the cursor belongs to another sort order: keep `sort` and `direction` while paging".into(),
            ));
        }
        let key = match sort {
            SortKey::CreatedAt | SortKey::DueAt => DateTime::parse_from_rfc3339(&raw.key)
                .ok()
                .map(|time| time.with_timezone(&Utc))
                .filter(in_database_range)
                .map(CursorKey::Time),
            SortKey::Title => Title::try_from(raw.key).ok().map(CursorKey::Text),
        }
        .ok_or_else(invalid)?;
        Ok(Self {
            sort,
            direction,
            key,
            id: raw.id,
        })
    }
}

/// Years 1 to 9999: what a client may send as a time. Postgres stores wider ranges, but
/// nobody means year -5000, and refusing it here keeps such values from reaching SQL.
pub fn in_database_range(time: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(time))
}

#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Present when more rows follow.
    pub next_cursor: Option<String>,
}

/// A `POST /tasks` retry key, scoped to the user.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: Uuid,
    pub key: String,
    /// SHA-256 of the request body as parsed, so formatting does not matter.
    pub request_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    Created(Task),
    /// The key was used before with the same body: the task made then.
    Replayed(Task),
    /// The key was used before with another body.
    KeyReused,
}

/// The jobs an update causes, decided from the row as stored (its new version and time).
pub type UpdateOutbox<'a> = Option<&'a (dyn Fn(&Task) -> Vec<Job> + Send + Sync)>;

/// Every write takes the jobs it causes (its outbox) and enqueues them in its own
/// transaction, so a job exists exactly when its change was committed. Most variants pass
/// none; with webhooks each change queues its event for delivery.
#[async_trait]
pub trait TaskRepository: Send + Sync {
    async fn insert(&self, task: &Task, outbox: &[Job]) -> Result<(), AppError>;
    /// Inserts `task` unless `key` was seen; the check and the insert are one transaction,
    /// serialised per key, so concurrent requests with one key create one task (and enqueue
    /// `outbox` once).
    async fn insert_idempotent(
        &self,
        key: &IdempotencyKey,
        task: &Task,
        outbox: &[Job],
    ) -> Result<Idempotent, AppError>;
    async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError>;
    /// Writes `task` if the stored version is `task.version`; returns the stored task with
    /// the version incremented, or `None` when the version (or the row) is gone.
    async fn update(&self, task: &Task, outbox: UpdateOutbox<'_>)
    -> Result<Option<Task>, AppError>;
    async fn delete(&self, id: Uuid, outbox: &[Job]) -> Result<bool, AppError>;
    /// Deletes all of `ids` owned by `owner` in one transaction, or none of them: `false` when
    /// any is missing or foreign.
    async fn delete_all(&self, owner: Uuid, ids: &[Uuid], outbox: &[Job])
    -> Result<bool, AppError>;
    /// `limit + 1` rows at most, so the caller can tell whether a next page exists.
    async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError>;
    async fn purge_expired_keys(&self) -> Result<u64, AppError>;
}

/// What happened to a task, as subscribers hear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskEventKind {
    Created,
    Updated,
    Done,
    Deleted,
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Done => "done",
            Self::Deleted => "deleted",
        }
    }
}

/// A committed change to one task, for its owner's subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub owner_id: Uuid,
    pub task_id: Uuid,
    /// The task after the change; absent for deletions.
    pub task: Option<Task>,
}

impl TaskEvent {
    fn of(kind: TaskEventKind, task: &Task) -> Self {
        Self {
            kind,
            owner_id: task.owner_id,
            task_id: task.id,
            task: (kind != TaskEventKind::Deleted).then(|| task.clone()),
        }
    }
}

/// Where task events go after their change commits (Redis pub/sub in the redis variants).
/// Publishing is best effort: an event that cannot be delivered is logged, and the change
/// it describes stands.
#[async_trait]
pub trait TaskEvents: Send + Sync {
    async fn publish(&self, event: TaskEvent);
}

/// Which jobs a committed task change causes (webhook deliveries, in the webhooks variants).
pub trait TaskOutbox: Send + Sync {
    fn jobs_for(&self, event: &TaskEvent) -> Vec<Job>;
    /// After a change with jobs committed: e.g. wake the worker.
    fn committed(&self) {}
}

/// No subscribers: events go nowhere.
pub struct NoTaskEvents;

#[async_trait]
impl TaskEvents for NoTaskEvents {
    async fn publish(&self, _event: TaskEvent) {}
}

#[derive(Clone)]
pub struct TaskService {
    pub repo: Arc<dyn TaskRepository>,
    /// Told after each change commits (live events).
    pub events: Arc<dyn TaskEvents>,
    /// Asked for the jobs each change causes, written in its transaction; `None`: no jobs.
    pub outbox: Option<Arc<dyn TaskOutbox>>,
}

const NO_SUCH_TASK: &str = "task";

impl TaskService {
    pub async fn create(&self, caller: &Caller, content: TaskContent) -> Result<Task, AppError> {
        let task = Task::new(caller.id, content, Utc::now());
        let jobs = self.jobs_for(TaskEventKind::Created, &task);
        self.repo.insert(&task, &jobs).await?;
        self.announce(TaskEventKind::Created, &task).await;
        Ok(task)
    }

    /// `Ok((task, true))` when the key replayed an earlier response.
    pub async fn create_idempotent(
        &self,
        caller: &Caller,
        key: String,
        request_hash: Vec<u8>,
        content: TaskContent,
    ) -> Result<(Task, bool), AppError> {
        let now = Utc::now();
        let task = Task::new(caller.id, content, now);
        let key = IdempotencyKey {
            user_id: caller.id,
            key,
            request_hash,
            expires_at: now + IDEMPOTENCY_TTL,
        };
        let jobs = self.jobs_for(TaskEventKind::Created, &task);
        match self.repo.insert_idempotent(&key, &task, &jobs).await? {
            Idempotent::Created(task) => {
                self.announce(TaskEventKind::Created, &task).await;
                Ok((task, false))
            }
            Idempotent::Replayed(task) => Ok((task, true)),
            Idempotent::KeyReused => Err(AppError::Unprocessable(
                "this Idempotency-Key was used with a different body; use a new key".into(),
            )),
        }
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Task, AppError> {
        let task = self
            .repo
            .get(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no such {NO_SUCH_TASK}")))?;
        ensure_owner_or_admin(caller, task.owner_id, NO_SUCH_TASK)?;
        Ok(task)
    }

    /// PUT: every field, at the version the client read.
    pub async fn replace(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i32,
        content: TaskContent,
    ) -> Result<Task, AppError> {
        let current = self.at_version(caller, id, version).await?;
        let next = current
            .replace(content)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.write(current.status, next).await
    }

    /// PATCH: the named fields, at the version the client read.
    pub async fn patch(
        &self,
        caller: &Caller,
        id: Uuid,
        version: i32,
        patch: TaskPatch,
    ) -> Result<Task, AppError> {
        let current = self.at_version(caller, id, version).await?;
        let next = current
            .apply(patch)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.write(current.status, next).await
    }

    /// Marks the task done, whatever its version: doing it twice is harmless.
    pub async fn mark_done(&self, caller: &Caller, id: Uuid) -> Result<Task, AppError> {
        let current = self.get(caller, id).await?;
        if current.status == TaskStatus::Done {
            return Ok(current);
        }
        let next = current
            .apply(TaskPatch {
                status: Some(TaskStatus::Done),
                ..TaskPatch::default()
            })
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        match self.write(current.status, next).await {
            Ok(done) => Ok(done),
            // Someone changed it meanwhile; if that someone marked it done, so are we.
            Err(AppError::Conflict(reason)) => match self.repo.get(id).await? {
                Some(now) if now.status == TaskStatus::Done => Ok(now),
                _ => Err(AppError::Conflict(reason)),
            },
            outcome => outcome,
        }
    }

    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        let task = self.get(caller, id).await?;
        let jobs = self.jobs_for(TaskEventKind::Deleted, &task);
        if !self.repo.delete(id, &jobs).await? {
            return Err(AppError::NotFound(format!("no such {NO_SUCH_TASK}")));
        }
        self.announce(TaskEventKind::Deleted, &task).await;
        Ok(())
    }

    /// Deletes all the caller's tasks named, or none: one foreign or missing id fails the
    /// whole request with 404 and nothing is deleted.
    pub async fn delete_all(&self, caller: &Caller, ids: &[Uuid]) -> Result<(), AppError> {
        let deleted = |id: &Uuid| TaskEvent {
            kind: TaskEventKind::Deleted,
            owner_id: caller.id,
            task_id: *id,
            task: None,
        };
        let jobs: Vec<Job> = match &self.outbox {
            Some(outbox) => ids
                .iter()
                .flat_map(|id| outbox.jobs_for(&deleted(id)))
                .collect(),
            None => Vec::new(),
        };
        if self.repo.delete_all(caller.id, ids, &jobs).await? {
            if let Some(outbox) = &self.outbox {
                outbox.committed();
            }
            for id in ids {
                self.events.publish(deleted(id)).await;
            }
            Ok(())
        } else {
            Err(AppError::NotFound(
                "at least one of the tasks does not exist; nothing was deleted".into(),
            ))
        }
    }

    pub async fn list(&self, query: ListQuery) -> Result<TaskPage, AppError> {
        let mut items = self.repo.list(&query).await?;
        let limit = usize::try_from(query.limit).unwrap_or(0);
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = more
            .then(|| items.last())
            .flatten()
            .map(|last| Cursor::after(last, query.sort, query.direction).encode());
        Ok(TaskPage { items, next_cursor })
    }

    async fn at_version(&self, caller: &Caller, id: Uuid, version: i32) -> Result<Task, AppError> {
        let current = self.get(caller, id).await?;
        if current.version != version {
            return Err(stale(current.version));
        }
        Ok(current)
    }

    /// Stores a changed task and announces it (as `done` when this change completed it).
    async fn write(&self, before: TaskStatus, next: Task) -> Result<Task, AppError> {
        let kind = |stored: &Task| {
            if stored.status == TaskStatus::Done && before != TaskStatus::Done {
                TaskEventKind::Done
            } else {
                TaskEventKind::Updated
            }
        };
        let outbox = self.outbox.as_ref().map(|outbox| {
            move |stored: &Task| outbox.jobs_for(&TaskEvent::of(kind(stored), stored))
        });
        let outbox_fn = outbox
            .as_ref()
            .map(|f| f as &(dyn Fn(&Task) -> Vec<Job> + Send + Sync));
        match self.repo.update(&next, outbox_fn).await? {
            Some(stored) => {
                self.announce(kind(&stored), &stored).await;
                Ok(stored)
            }
            // Changed (or deleted) between our read and our write.
            None => match self.repo.get(next.id).await? {
                Some(now) => Err(stale(now.version)),
                None => Err(AppError::NotFound(format!("no such {NO_SUCH_TASK}"))),
            },
        }
    }
}

impl TaskService {
    /// After a change committed: wakes the job worker for the change's jobs and tells the
    /// live subscribers.
    async fn announce(&self, kind: TaskEventKind, task: &Task) {
        if let Some(outbox) = &self.outbox {
            outbox.committed();
        }
        self.events.publish(TaskEvent::of(kind, task)).await;
    }

    fn jobs_for(&self, kind: TaskEventKind, task: &Task) -> Vec<Job> {
        self.outbox
            .as_ref()
            .map(|outbox| outbox.jobs_for(&TaskEvent::of(kind, task)))
            .unwrap_or_default()
    }
}

fn stale(current: i32) -> AppError {
    AppError::Conflict(format!(
        "the task has changed since you read it (it is at version {current}): read it again and retry"
    ))
}

#[cfg(test)]
mod tests {
    //! The rules, against an in-memory repository: no database, milliseconds.

    use std::sync::Mutex;

    use super::*;
    use crate::domain::{
        task::{Description, Title},
        user::Role,
    };

    #[derive(Default)]
    struct MemoryRepo(Mutex<Vec<Task>>);

    #[async_trait]
    impl TaskRepository for MemoryRepo {
        async fn insert(&self, task: &Task, _outbox: &[Job]) -> Result<(), AppError> {
            self.0.lock().unwrap().push(task.clone());
            Ok(())
        }
        async fn insert_idempotent(
            &self,
            _key: &IdempotencyKey,
            task: &Task,
            outbox: &[Job],
        ) -> Result<Idempotent, AppError> {
            self.insert(task, outbox).await?;
            Ok(Idempotent::Created(task.clone()))
        }
        async fn get(&self, id: Uuid) -> Result<Option<Task>, AppError> {
            Ok(self.0.lock().unwrap().iter().find(|t| t.id == id).cloned())
        }
        async fn update(
            &self,
            task: &Task,
            _outbox: UpdateOutbox<'_>,
        ) -> Result<Option<Task>, AppError> {
            let mut tasks = self.0.lock().unwrap();
            let Some(stored) = tasks
                .iter_mut()
                .find(|t| t.id == task.id && t.version == task.version)
            else {
                return Ok(None);
            };
            *stored = Task {
                version: task.version + 1,
                ..task.clone()
            };
            Ok(Some(stored.clone()))
        }
        async fn delete(&self, id: Uuid, _outbox: &[Job]) -> Result<bool, AppError> {
            let mut tasks = self.0.lock().unwrap();
            let before = tasks.len();
            tasks.retain(|t| t.id != id);
            Ok(tasks.len() < before)
        }
        async fn delete_all(
            &self,
            owner: Uuid,
            ids: &[Uuid],
            _outbox: &[Job],
        ) -> Result<bool, AppError> {
            let mut tasks = self.0.lock().unwrap();
            let all_mine = ids
                .iter()
                .all(|id| tasks.iter().any(|t| t.id == *id && t.owner_id == owner));
            if all_mine {
                tasks.retain(|t| !ids.contains(&t.id));
            }
            Ok(all_mine)
        }
        async fn list(&self, query: &ListQuery) -> Result<Vec<Task>, AppError> {
            let tasks = self.0.lock().unwrap();
            let limit = usize::try_from(query.limit + 1).unwrap();
            Ok(tasks
                .iter()
                .filter(|t| t.owner_id == query.owner)
                .take(limit)
                .cloned()
                .collect())
        }
        async fn purge_expired_keys(&self) -> Result<u64, AppError> {
            Ok(0)
        }
    }

    fn service() -> TaskService {
        TaskService {
            events: Arc::new(NoTaskEvents),
            outbox: None,
            repo: Arc::new(MemoryRepo::default()),
        }
    }

    fn caller(role: Role) -> Caller {
        Caller {
            id: Uuid::now_v7(),
            role,
            token_id: Uuid::now_v7(),
            token_expires_at: Utc::now(),
        }
    }

    fn content(title: &str) -> TaskContent {
        TaskContent {
            title: Title::try_from(title.to_owned()).unwrap(),
            description: Description::default(),
            status: TaskStatus::Todo,
            due_at: None,
        }
    }

    #[derive(Default)]
    struct RecordedEvents(Mutex<Vec<(TaskEventKind, Uuid)>>);

    #[async_trait]
    impl TaskEvents for RecordedEvents {
        async fn publish(&self, event: TaskEvent) {
            self.0.lock().unwrap().push((event.kind, event.task_id));
        }
    }

    #[tokio::test]
    async fn each_committed_change_is_announced_once_and_refusals_not_at_all() {
        let events = Arc::new(RecordedEvents::default());
        let service = TaskService {
            events: events.clone(),
            outbox: None,
            repo: Arc::new(MemoryRepo::default()),
        };
        let owner = caller(Role::User);
        let task = service.create(&owner, content("Ship")).await.unwrap();
        let patch = |status| TaskPatch {
            status: Some(status),
            ..TaskPatch::default()
        };
        service
            .patch(&owner, task.id, 1, patch(TaskStatus::InProgress))
            .await
            .unwrap();
        // A stale version changes nothing and announces nothing.
        assert!(
            service
                .patch(&owner, task.id, 1, patch(TaskStatus::Todo))
                .await
                .is_err()
        );
        service.mark_done(&owner, task.id).await.unwrap();
        // Done already: nothing changes, nothing to announce.
        service.mark_done(&owner, task.id).await.unwrap();
        service.delete(&owner, task.id).await.unwrap();
        let kinds: Vec<TaskEventKind> = events.0.lock().unwrap().iter().map(|e| e.0).collect();
        assert_eq!(
            kinds,
            [
                TaskEventKind::Created,
                TaskEventKind::Updated,
                TaskEventKind::Done,
                TaskEventKind::Deleted
            ]
        );
        assert!(events.0.lock().unwrap().iter().all(|e| e.1 == task.id));
    }

    #[tokio::test]
    async fn others_get_404_and_admins_get_through() {
        let service = service();
        let owner = caller(Role::User);
        let task = service.create(&owner, content("Mine")).await.unwrap();
        let stranger = caller(Role::User);
        let err = service.get(&stranger, task.id).await.unwrap_err();
        assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
        let err = service.delete(&stranger, task.id).await.unwrap_err();
        assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
        assert_eq!(
            service.get(&caller(Role::Admin), task.id).await.unwrap(),
            task
        );
    }

    #[tokio::test]
    async fn a_stale_version_is_409_and_changes_nothing() {
        let service = service();
        let owner = caller(Role::User);
        let task = service.create(&owner, content("v1")).await.unwrap();
        let updated = service
            .replace(&owner, task.id, 1, content("v2"))
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        let err = service
            .replace(&owner, task.id, 1, content("lost update"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppError::Conflict(ref m) if m.contains("version 2")),
            "{err:?}"
        );
        assert_eq!(
            service.get(&owner, task.id).await.unwrap().title.as_str(),
            "v2"
        );
    }

    #[tokio::test]
    async fn done_is_idempotent_and_a_done_task_must_be_reopened_first() {
        let service = service();
        let owner = caller(Role::User);
        let task = service.create(&owner, content("Ship")).await.unwrap();
        let done = service.mark_done(&owner, task.id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Done);
        assert_eq!(
            service.mark_done(&owner, task.id).await.unwrap().version,
            done.version
        );
        let err = service
            .patch(
                &owner,
                task.id,
                done.version,
                TaskPatch {
                    status: Some(TaskStatus::InProgress),
                    ..TaskPatch::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
    }

    #[tokio::test]
    async fn bulk_delete_is_all_or_nothing() {
        let service = service();
        let owner = caller(Role::User);
        let mine = service.create(&owner, content("Mine")).await.unwrap();
        let theirs = service
            .create(&caller(Role::User), content("Theirs"))
            .await
            .unwrap();
        assert!(
            service
                .delete_all(&owner, &[mine.id, theirs.id])
                .await
                .is_err()
        );
        assert!(
            service.get(&owner, mine.id).await.is_ok(),
            "nothing was deleted"
        );
        service.delete_all(&owner, &[mine.id]).await.unwrap();
        assert!(service.get(&owner, mine.id).await.is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_orderings_and_garbage() {
        let task = Task::new(Uuid::now_v7(), content("Cursor"), Utc::now());
        let cursor = Cursor::after(&task, SortKey::Title, Direction::Asc);
        let raw = cursor.encode();
        assert_eq!(
            Cursor::decode(&raw, SortKey::Title, Direction::Asc).unwrap(),
            cursor
        );
        assert!(Cursor::decode(&raw, SortKey::Title, Direction::Desc).is_err());
        assert!(Cursor::decode(&raw, SortKey::CreatedAt, Direction::Asc).is_err());
        assert!(Cursor::decode("bm90IGpzb24", SortKey::Title, Direction::Asc).is_err());
        // A title that looks like a time is still a title.
        let dated = Task::new(Uuid::now_v7(), content("2030-01-01T00:00:00Z"), Utc::now());
        let cursor = Cursor::after(&dated, SortKey::Title, Direction::Asc);
        assert_eq!(
            Cursor::decode(&cursor.encode(), SortKey::Title, Direction::Asc).unwrap(),
            cursor
        );
        // Keys no stored task could have are refused before they reach SQL.
        let forged = |key: &str| {
            let raw = serde_json::json!({"sort": "title", "direction": "asc", "key": key, "id": Uuid::nil()});
            URL_SAFE_NO_PAD.encode(raw.to_string())
        };
        assert!(Cursor::decode(&forged("nul\u{0}byte"), SortKey::Title, Direction::Asc).is_err());
        assert!(Cursor::decode(&forged(&"x".repeat(500)), SortKey::Title, Direction::Asc).is_err());
        let ancient = serde_json::json!({"sort": "created_at", "direction": "asc", "key": "-5000-01-01T00:00:00Z", "id": Uuid::nil()});
        let ancient = URL_SAFE_NO_PAD.encode(ancient.to_string());
        assert!(Cursor::decode(&ancient, SortKey::CreatedAt, Direction::Asc).is_err());
        assert!(Cursor::decode("%%%", SortKey::Title, Direction::Asc).is_err());
    }
}
