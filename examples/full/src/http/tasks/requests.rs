//! What clients send to `/tasks` and what they get back. Request fields are the domain's own
//! types (`Title`, `Description`, `Due`, `TaskStatus`), so a body that parses is a valid one;
//! the few rules that belong to the wire alone (a version, a list of ids) are small types here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type, schema::SchemaType},
};
use uuid::Uuid;

use crate::{
    app::tasks::{Direction, SortKey},
    domain::task::{Description, Due, Task, TaskContent, TaskPatch, TaskStatus, Title},
    http::{
        paging::{Limit, Offset},
        schemas::schema,
    },
};

// ANCHOR: new_task_request
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaskRequest {
    pub title: Title,
    /// Absent or `null`: none.
    pub description: Option<Description>,
    /// Default `todo`.
    pub status: Option<TaskStatus>,
    pub due_at: Option<Due>,
}

impl From<NewTaskRequest> for TaskContent {
    fn from(request: NewTaskRequest) -> Self {
        Self {
            title: request.title,
            description: request.description.unwrap_or_default(),
            status: request.status.unwrap_or(TaskStatus::Todo),
            due_at: request.due_at.map(Due::time),
        }
    }
}
// ANCHOR_END: new_task_request

/// The `version` of a task as the client read it: writes name it, and a newer stored version
/// is a 409. JSON Schema counts `3.0` as the integer 3, and so does this type: a client whose
/// JSON library writes whole numbers that way is not refused.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "serde_json::Number")]
pub struct Version(pub i32);

impl TryFrom<serde_json::Number> for Version {
    type Error = String;

    fn try_from(number: serde_json::Number) -> Result<Self, String> {
        let whole = number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() <= f64::from(i32::MAX))
                .map(|float| float as i64)
        });
        whole
            .and_then(|version| i32::try_from(version).ok())
            .filter(|version| *version >= 1)
            .map(Self)
            .ok_or_else(|| "must be a version the task has had (1 or more)".into())
    }
}

/// The ids of a bulk delete: 1 to [`MAX_BULK`], each once.
#[derive(Debug, Deserialize)]
#[serde(try_from = "Vec<Uuid>")]
pub struct TaskIds(pub Vec<Uuid>);

/// The most tasks one bulk delete names.
pub const MAX_BULK: usize = 100;

impl TryFrom<Vec<Uuid>> for TaskIds {
    type Error = String;

    fn try_from(ids: Vec<Uuid>) -> Result<Self, String> {
        if !(1..=MAX_BULK).contains(&ids.len()) {
            return Err(format!("must hold 1 to {MAX_BULK} ids"));
        }
        let unique: std::collections::HashSet<&Uuid> = ids.iter().collect();
        if unique.len() < ids.len() {
            return Err("must not repeat an id".into());
        }
        Ok(Self(ids))
    }
}

schema! {
    Version => ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(1))
        .maximum(Some(i32::MAX))
        .description(Some("The `version` of the task as read (1 or more); a newer stored version is 409"))
        .into();
    TaskIds => ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .min_items(Some(1))
        .max_items(Some(MAX_BULK))
        .unique_items(true)
        .description(Some(format!("1 to {MAX_BULK} distinct ids of the caller's tasks")))
        .into();
}

/// Every field, as `PUT` replaces them all, and the version the client read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceTaskRequest {
    pub title: Title,
    pub description: Description,
    pub status: TaskStatus,
    /// `null` clears the due date.
    pub due_at: Option<Due>,
    pub version: Version,
}

impl ReplaceTaskRequest {
    pub fn content(self) -> (Version, TaskContent) {
        let content = TaskContent {
            title: self.title,
            description: self.description,
            status: self.status,
            due_at: self.due_at.map(Due::time),
        };
        (self.version, content)
    }
}

/// Only the fields present change; `"due_at": null` clears the due date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTaskRequest {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Due>)]
    pub due_at: Option<Option<Due>>,
    pub version: Version,
}

impl PatchTaskRequest {
    pub fn patch(self) -> (Version, TaskPatch) {
        let patch = TaskPatch {
            title: self.title,
            description: self.description,
            status: self.status,
            due_at: self.due_at.map(|due| due.map(Due::time)),
        };
        (self.version, patch)
    }
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteRequest {
    pub ids: TaskIds,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub status: Option<TaskStatus>,
    /// Tasks due at or after this instant.
    pub due_after: Option<Due>,
    /// Tasks due before this instant.
    pub due_before: Option<Due>,
    /// Default `created_at`; `due_at` lists only tasks with a due date.
    #[param(inline)]
    pub sort: Option<SortKey>,
    /// Default `desc`.
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Larger is 422, never silently cut.
    #[serde(default)]
    #[param(inline)]
    pub limit: Limit,
    /// Rows to skip. Simple, but deep offsets are slow: prefer `cursor`. Not with `cursor`.
    #[param(inline)]
    pub offset: Option<Offset>,
    /// `next_cursor` of the previous page (same `sort` and `direction`). Not with `offset`.
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

// ANCHOR: task_response
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub due_at: Option<DateTime<Utc>>,
    /// Send it back with `PUT` and `PATCH`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Task> for TaskResponse {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            owner_id: task.owner_id,
            title: task.title.into(),
            description: task.description.into(),
            status: task.status,
            due_at: task.due_at,
            version: task.version,
            created_at: task.created_at,
            updated_at: task.updated_at,
        }
    }
}
// ANCHOR_END: task_response

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPageResponse {
    pub items: Vec<TaskResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub limit: i64,
}
