//! `GET /tasks/events`: the caller's task changes as Server-Sent Events, from whichever
//! instance made them (Redis pub/sub).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AppState;
use super::{extract::Authorized, tasks::TaskResponse};
use crate::{
    app::{task_feed::FeedItem, tasks::TaskEventKind},
    error::AppError,
};

/// The data of one event; the SSE event name is its `kind`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskEventData {
    pub kind: TaskEventKind,
    pub task_id: Uuid,
    /// The task after the change; absent for `deleted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskResponse>,
}

/// Stream changes to the caller's tasks: events `created`, `updated`, `done` and `deleted`
/// with a `TaskEventData` JSON body each. An `unavailable` event means events may have been
/// missed; the stream then ends: re-read `GET /tasks` and reconnect.
#[utoipa::path(
    get,
    path = "/tasks/events",
    tag = "tasks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An endless `text/event-stream`; each event's data is a TaskEventData", content_type = "text/event-stream", body = TaskEventData),
        (status = 503, description = "Live events are unavailable (Redis is down); retry after `Retry-After`"),
    )
)]
pub async fn task_events(
    State(state): State<AppState>,
    auth: Authorized,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let feed = state.task_feed.subscribe(auth.caller.id)?;
    let events = feed.map(|item| {
        Ok(match item {
            FeedItem::Event(event) => {
                let data = TaskEventData {
                    kind: event.kind,
                    task_id: event.task_id,
                    task: event.task.clone().map(TaskResponse::from),
                };
                Event::default()
                    .event(event.kind.as_str())
                    .json_data(&data)
                    .unwrap_or_else(|_| Event::default().event("unavailable"))
            }
            FeedItem::Interrupted => Event::default()
                .event("unavailable")
                .data("events may have been missed: re-read your tasks and reconnect"),
        })
    });
    // A comment line every 15 s keeps proxies from closing an idle stream.
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The live task event stream.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(task_events))
}
