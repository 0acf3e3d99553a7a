//! Listing tasks: filters, the sort orders, and where a page starts (an offset, or a keyset
//! cursor after the last row of the previous page).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    domain::task::{Task, TaskStatus, Title},
    error::AppError,
};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::VariantNames, Default,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SortKey {
    #[default]
    CreatedAt,
    /// Lists only tasks that have a due date.
    DueAt,
    Title,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::VariantNames, Default,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Direction {
    Asc,
    #[default]
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

#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Present when more rows follow.
    pub next_cursor: Option<String>,
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
pub(super) struct RawCursor {
    pub sort: SortKey,
    pub direction: Direction,
    pub key: String,
    pub id: Uuid,
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

    // ANCHOR: cursor_decode
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
    // ANCHOR_END: cursor_decode
}

/// Years 1 to 9999: what a client may send as a time. Postgres stores wider ranges, but
/// nobody means year -5000, and refusing it here keeps such values from reaching SQL.
pub fn in_database_range(time: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(time))
}
