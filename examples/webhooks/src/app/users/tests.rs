//! The admin use cases on in-memory repositories (`app::memory`): the rules that keep admins
//! from locking themselves out, what a change ends, and what it leaves in the audit log.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::app::memory::Memory;

// ANCHOR: admin_service
/// The use cases on one in-memory store; the store is returned to look inside.
fn admin_service() -> (UserAdmin, Memory) {
    let memory = Memory::new();
    let users = UserAdmin {
        users: Arc::new(memory.clone()),
        sessions: Arc::new(memory.clone()),
        audit: AuditLog::start(Arc::new(memory.clone()), 1_000),
    };
    (users, memory)
}
// ANCHOR_END: admin_service

async fn account(users: &UserAdmin, email: &str, role: Role) -> User {
    let user = NewUser {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        display_name: "Test".to_owned(),
        password: StoredHash {
            phc: "$argon2id$not-checked-here".to_owned(),
            pepper_id: 1,
        },
        role,
    };
    users.users.create(user, &[]).await.unwrap()
}

fn caller(user: &User) -> Caller {
    Caller {
        id: user.id,
        role: user.role,
        token_id: Uuid::now_v7(),
        token_expires_at: chrono::Utc::now(),
    }
}

fn origin() -> Origin {
    Origin {
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        request_id: None,
    }
}

/// The kinds of the security events stored, after the writer has caught up.
async fn recorded(users: &UserAdmin, memory: &Memory) -> Vec<&'static str> {
    users.audit.flush().await;
    memory.security_events().iter().map(|e| e.kind).collect()
}

// ANCHOR: self_protection
#[tokio::test]
async fn admins_cannot_demote_disable_or_delete_themselves() {
    let (users, memory) = admin_service();
    let admin = account(&users, "root@example.com", Role::Admin).await;
    let me = caller(&admin);
    for change in [
        UserChange {
            role: Some(Role::User),
            disabled: None,
        },
        UserChange {
            role: None,
            disabled: Some(true),
        },
    ] {
        let refused = users.update(&origin(), &me, admin.id, change).await;
        assert!(matches!(refused, Err(AppError::Conflict(_))), "{refused:?}");
    }
    let refused = users.delete(&origin(), &me, admin.id).await;
    assert!(matches!(refused, Err(AppError::Conflict(_))), "{refused:?}");

    let stored = users.users.by_id(admin.id).await.unwrap().unwrap();
    assert_eq!((stored.role, stored.disabled), (Role::Admin, false));
    assert!(recorded(&users, &memory).await.is_empty());
}
// ANCHOR_END: self_protection

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_is_audited() {
    let (users, memory) = admin_service();
    let admin = account(&users, "root@example.com", Role::Admin).await;
    let ada = account(&users, "ada@example.com", Role::User).await;
    let before = users.users.access_state(ada.id, Uuid::now_v7()).await;
    let before = before.unwrap().unwrap();

    let change = UserChange {
        role: None,
        disabled: Some(true),
    };
    let after = users
        .update(&origin(), &caller(&admin), ada.id, change)
        .await
        .unwrap();
    assert!(after.disabled);

    let now = users.users.access_state(ada.id, Uuid::now_v7()).await;
    let now = now.unwrap().unwrap();
    assert!(now.disabled);
    assert_eq!(
        now.session_epoch,
        before.session_epoch + 1,
        "every access token of the account is void"
    );
    assert_eq!(recorded(&users, &memory).await, ["user_changed"]);
    let event = &memory.security_events()[0];
    assert_eq!(event.user_id, Some(ada.id));
    assert_eq!(event.detail["by"], admin.id.to_string());
}

#[tokio::test]
async fn a_change_that_changes_nothing_leaves_no_trace() {
    let (users, memory) = admin_service();
    let admin = account(&users, "root@example.com", Role::Admin).await;
    let ada = account(&users, "ada@example.com", Role::User).await;
    let same = UserChange {
        role: Some(Role::User),
        disabled: Some(false),
    };
    users
        .update(&origin(), &caller(&admin), ada.id, same)
        .await
        .unwrap();
    assert!(recorded(&users, &memory).await.is_empty());
}

#[tokio::test]
async fn unknown_accounts_are_404() {
    let (users, _) = admin_service();
    let admin = account(&users, "root@example.com", Role::Admin).await;
    let nobody = Uuid::now_v7();
    let change = UserChange::default();
    let updated = users
        .update(&origin(), &caller(&admin), nobody, change)
        .await;
    assert!(matches!(updated, Err(AppError::NotFound(_))), "{updated:?}");
    let deleted = users.delete(&origin(), &caller(&admin), nobody).await;
    assert!(matches!(deleted, Err(AppError::NotFound(_))), "{deleted:?}");
    let granted = users.grant_admin("nobody@example.com").await;
    assert!(matches!(granted, Err(AppError::NotFound(_))), "{granted:?}");
}

#[tokio::test]
async fn grant_admin_finds_the_email_in_any_case_and_is_audited() {
    let (users, memory) = admin_service();
    let ada = account(&users, "Ada@Example.com", Role::User).await;
    let granted = users.grant_admin("ada@EXAMPLE.com").await.unwrap();
    assert_eq!((granted.id, granted.role), (ada.id, Role::Admin));
    assert_eq!(recorded(&users, &memory).await, ["admin_granted"]);
}

#[tokio::test]
async fn deleting_an_account_removes_it_and_is_audited() {
    let (users, memory) = admin_service();
    let admin = account(&users, "root@example.com", Role::Admin).await;
    let ada = account(&users, "ada@example.com", Role::User).await;
    users
        .delete(&origin(), &caller(&admin), ada.id)
        .await
        .unwrap();
    assert!(users.users.by_id(ada.id).await.unwrap().is_none());
    assert_eq!(recorded(&users, &memory).await, ["user_deleted"]);
}
