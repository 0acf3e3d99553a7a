//! The rules, against an in-memory repository: no database, milliseconds.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::*;
use crate::{
    app::memory::Memory,
    domain::{
        task::{Description, Title},
        user::Role,
    },
};

/// The service on one in-memory store, which also records the events it publishes.
fn service() -> (TaskService, Memory) {
    let memory = Memory::new();
    let service = TaskService {
        events: Arc::new(memory.clone()),
        outbox: None,
        repo: Arc::new(memory.clone()),
    };
    (service, memory)
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

#[tokio::test]
async fn each_committed_change_is_announced_once_and_refusals_not_at_all() {
    let (service, memory) = service();
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
    let events = memory.task_events();
    let kinds: Vec<TaskEventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            TaskEventKind::Created,
            TaskEventKind::Updated,
            TaskEventKind::Done,
            TaskEventKind::Deleted
        ]
    );
    assert!(events.iter().all(|e| e.task_id == task.id));
}

#[tokio::test]
async fn others_get_404_and_admins_get_through() {
    let (service, _) = service();
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

// ANCHOR: stale_version_test
#[tokio::test]
async fn a_stale_version_is_409_and_changes_nothing() {
    let (service, _) = service();
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
// ANCHOR_END: stale_version_test

#[tokio::test]
async fn done_is_idempotent_and_a_done_task_must_be_reopened_first() {
    let (service, _) = service();
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
    let (service, _) = service();
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
