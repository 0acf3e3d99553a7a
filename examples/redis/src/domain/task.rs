//! Tasks: what a task is, the only ways to make or change one, and which status changes are
//! allowed.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::user::has_control_chars;

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

// ANCHOR: task_status
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Done,
}
// ANCHOR_END: task_status

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    // ANCHOR: can_become
    /// The allowed moves. Staying put is always allowed; a done task must be reopened (to
    /// `todo`) before work on it can start again.
    pub fn can_become(self, next: Self) -> bool {
        use TaskStatus::{Done, InProgress, Todo};
        self == next
            || matches!(
                (self, next),
                (Todo, InProgress)
                    | (Todo, Done)
                    | (InProgress, Todo)
                    | (InProgress, Done)
                    | (Done, Todo)
            )
    }
    // ANCHOR_END: can_become
}

// ANCHOR: title
/// A title: at most 200 characters as sent, one line, not only whitespace; stored trimmed.
/// The length counts what was sent, so the document's `maxLength` states the rule exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Title(String);

impl TryFrom<String> for Title {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        if raw.chars().count() > TITLE_MAX_CHARS {
            return Err(format!("must be at most {TITLE_MAX_CHARS} characters"));
        }
        if has_control_chars(&raw) {
            return Err("must be one line without control characters".into());
        }
        let title = raw.trim();
        if title.is_empty() {
            return Err("must not be empty or only whitespace".into());
        }
        Ok(Self(title.to_owned()))
    }
}
// ANCHOR_END: title

impl From<Title> for String {
    fn from(title: Title) -> Self {
        title.0
    }
}

impl Title {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: up to 10,000 characters; newlines and tabs allowed, other control
/// characters not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl TryFrom<String> for Description {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        if raw.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(format!(
                "must be at most {DESCRIPTION_MAX_CHARS} characters"
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err("must not contain control characters other than newlines and tabs".into());
        }
        Ok(Self(raw))
    }
}

impl From<Description> for String {
    fn from(description: Description) -> Self {
        description.0
    }
}

impl Description {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A due date a client may set: between the years 1 and 9999. Postgres stores wider ranges,
/// but nobody means year -5000, and refusing it here keeps such values from reaching SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DateTime<Utc>", into = "DateTime<Utc>")]
pub struct Due(DateTime<Utc>);

/// The years a [`Due`] may fall in.
pub const DUE_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

impl TryFrom<DateTime<Utc>> for Due {
    type Error = String;

    fn try_from(time: DateTime<Utc>) -> Result<Self, String> {
        if DUE_YEARS.contains(&chrono::Datelike::year(&time)) {
            Ok(Self(time))
        } else {
            Err("must be between the years 1 and 9999".into())
        }
    }
}

impl From<Due> for DateTime<Utc> {
    fn from(due: Due) -> Self {
        due.0
    }
}

impl Due {
    pub fn time(self) -> DateTime<Utc> {
        self.0
    }
}

/// The fields a client sets, already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContent {
    pub title: Title,
    pub description: Description,
    pub status: TaskStatus,
    pub due_at: Option<DateTime<Utc>>,
}

/// A change to some fields; `due_at: Some(None)` clears the due date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPatch {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub status: Option<TaskStatus>,
    pub due_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: Title,
    pub description: Description,
    pub status: TaskStatus,
    pub due_at: Option<DateTime<Utc>>,
    /// Starts at 1 and grows with every change.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTransition {
    pub from: TaskStatus,
    pub to: TaskStatus,
}

impl fmt::Display for BadTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a task cannot go from {} to {}", self.from, self.to)?;
        if self.from == TaskStatus::Done {
            write!(f, ": reopen it first")?;
        }
        Ok(())
    }
}

impl Task {
    /// A new task owned by `owner`, version 1.
    pub fn new(owner: Uuid, content: TaskContent, now: DateTime<Utc>) -> Self {
        // Postgres keeps microseconds: a task must read back exactly as it was created.
        let now = now.trunc_subsecs(6);
        Self {
            id: Uuid::now_v7(),
            owner_id: owner,
            title: content.title,
            description: content.description,
            status: content.status,
            due_at: content.due_at.map(|due| due.trunc_subsecs(6)),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Replaces every client-set field (PUT).
    pub fn replace(&self, content: TaskContent) -> Result<Self, BadTransition> {
        self.apply(TaskPatch {
            title: Some(content.title),
            description: Some(content.description),
            status: Some(content.status),
            due_at: Some(content.due_at),
        })
    }

    /// Changes the given fields (PATCH); the status move must be allowed.
    pub fn apply(&self, patch: TaskPatch) -> Result<Self, BadTransition> {
        let mut next = self.clone();
        if let Some(status) = patch.status {
            if !self.status.can_become(status) {
                return Err(BadTransition {
                    from: self.status,
                    to: status,
                });
            }
            next.status = status;
        }
        if let Some(title) = patch.title {
            next.title = title;
        }
        if let Some(description) = patch.description {
            next.description = description;
        }
        if let Some(due_at) = patch.due_at {
            next.due_at = due_at.map(|due| due.trunc_subsecs(6));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
