use chrono::Utc;

use super::*;
use crate::domain::user::Role;

fn caller(role: Role) -> Caller {
    Caller {
        id: Uuid::now_v7(),
        role,
        token_id: Uuid::now_v7(),
        token_expires_at: Utc::now(),
    }
}

#[test]
fn owners_and_admins_pass_others_see_not_found() {
    let owner = caller(Role::User);
    assert!(ensure_owner_or_admin(&owner, owner.id, "task").is_ok());
    assert!(ensure_owner_or_admin(&caller(Role::Admin), owner.id, "task").is_ok());
    let err = ensure_owner_or_admin(&caller(Role::User), owner.id, "task").unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}
