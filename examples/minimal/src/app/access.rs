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
mod tests;
