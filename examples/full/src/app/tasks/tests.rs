//! The rules, against an in-memory repository: no database, milliseconds.

use std::sync::Mutex;

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

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
    async fn seed(&self, _owner: Uuid, _count: i64) -> Result<u64, AppError> {
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
        let raw =
            serde_json::json!({"sort": "title", "direction": "asc", "key": key, "id": Uuid::nil()});
        URL_SAFE_NO_PAD.encode(raw.to_string())
    };
    assert!(Cursor::decode(&forged("nul\u{0}byte"), SortKey::Title, Direction::Asc).is_err());
    assert!(Cursor::decode(&forged(&"x".repeat(500)), SortKey::Title, Direction::Asc).is_err());
    let ancient = serde_json::json!({"sort": "created_at", "direction": "asc", "key": "-5000-01-01T00:00:00Z", "id": Uuid::nil()});
    let ancient = URL_SAFE_NO_PAD.encode(ancient.to_string());
    assert!(Cursor::decode(&ancient, SortKey::CreatedAt, Direction::Asc).is_err());
    assert!(Cursor::decode("%%%", SortKey::Title, Direction::Asc).is_err());
}
