//! Ownership: the one rule for "may this caller see or change that resource".

use uuid::Uuid;

use crate::{domain::user::Caller, error::AppError};

/// The owner and admins may; anyone else gets 404, exactly as if the resource did not exist,
/// so ids of other people's resources cannot be probed.
pub fn ensure_owner_or_admin(caller: &Caller, owner: Uuid, what: &str) -> Result<(), AppError> {
    if caller.id == owner || caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no such {what}")))
    }
}

#[cfg(test)]
mod tests {
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
}
