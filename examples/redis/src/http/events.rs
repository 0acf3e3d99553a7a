//! `GET /tasks/events`: the caller's task changes as Server-Sent Events, from whichever
//! instance made them (Redis pub/sub).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, stream};
use serde::Serialize;
use strum::VariantNames;
use tokio::time::Instant;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, OneOfBuilder, Ref, RefOr, schema::Schema},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::AppState;
use super::{
    extract::{Authorized, bearer_token},
    schemas::string,
    tasks::TaskResponse,
};
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

/// One event of the stream as a client reads it, its `event` name and its `data`: a change
/// (named by its kind, with a `TaskEventData` as JSON), `unavailable` or `ended` (each with a
/// sentence for people). The document's way to state what a `text/event-stream` carries.
pub struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let event = |description: &str, names: Vec<&str>, data: ObjectBuilder| {
            ObjectBuilder::new()
                .description(Some(description))
                .property(
                    "event",
                    string("The SSE event name").enum_values(Some(names)),
                )
                .property("data", data)
                .required("event")
                .required("data")
        };
        let change = string("The change, as JSON")
            .content_media_type("application/json")
            .content_schema(Some(Ref::from_schema_name("TaskEventData")));
        OneOfBuilder::new()
            .item(event(
                "A change to one of the caller's tasks",
                TaskEventKind::VARIANTS.to_vec(),
                change,
            ))
            .item(event(
                "Events may have been missed; the stream ends: re-read `GET /tasks` and reconnect",
                vec![UNAVAILABLE],
                string("Why, for people"),
            ))
            .item(event(
                "The caller's access ended; the stream ends: reconnect with a valid token",
                vec![ENDED],
                string("Why, for people"),
            ))
            .into()
    }
}

impl ToSchema for StreamEvent {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((TaskEventData::name().into(), TaskEventData::schema()));
        TaskEventData::schemas(schemas);
    }
}

/// The event that says events may have been missed.
const UNAVAILABLE: &str = "unavailable";
/// The event that says the caller's access ended.
const ENDED: &str = "ended";

/// How often an open stream checks again that its caller still has access: logout, "log out
/// everywhere", a disabled account or a deleted one end the stream within this long.
pub const ACCESS_RECHECK: Duration = Duration::from_secs(5);

/// Stream changes to the caller's tasks: events `created`, `updated`, `done` and `deleted`
/// with a `TaskEventData` JSON body each. An `unavailable` event means events may have been
/// missed; the stream then ends: re-read `GET /tasks` and reconnect. An `ended` event means
/// the caller's access ended (the access token expired, or the session was revoked: checked
/// every 5 seconds); the stream then ends: reconnect with a valid token.
/// At most 5 streams per account are open at once (429 beyond).
#[utoipa::path(
    get,
    path = "/tasks/events",
    tag = "tasks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A `text/event-stream` until the access token expires or is revoked; each event is a StreamEvent", content_type = "text/event-stream", body = StreamEvent),
        (status = 429, description = "The account has 5 streams open already: close one; see `Retry-After`"),
        (status = 503, description = "Live events are unavailable (Redis is down); retry after `Retry-After`"),
    )
)]
pub async fn task_events(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let feed = state.task_feed.subscribe(auth.caller.id)?;
    // `Authorized` has read this token already: it is there.
    let token = bearer_token(&headers).unwrap_or_default().to_owned();
    let ends = Box::pin(access_ends(
        state.clone(),
        token,
        auth.caller.token_expires_at,
    ));
    let events = stream::unfold(Some((feed, ends)), |live| async move {
        let (mut feed, mut ends) = live?;
        tokio::select! {
            item = feed.next() => item.map(|item| (Ok(event_of(item)), Some((feed, ends)))),
            reason = &mut ends => Some((Ok(Event::default().event(ENDED).data(reason)), None)),
        }
    });
    // A comment line every 15 s keeps proxies from closing an idle stream.
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn event_of(item: FeedItem) -> Event {
    match item {
        FeedItem::Event(event) => {
            let data = TaskEventData {
                kind: event.kind,
                task_id: event.task_id,
                task: event.task.clone().map(TaskResponse::from),
            };
            Event::default()
                .event(event.kind.as_str())
                .json_data(&data)
                .unwrap_or_else(|_| missed())
        }
        FeedItem::Interrupted => missed(),
    }
}

fn missed() -> Event {
    Event::default()
        .event(UNAVAILABLE)
        .data("events may have been missed: re-read your tasks and reconnect")
}

/// Resolves, with the reason, when the caller's access ends: at the token's expiry, or at the
/// first re-check that does not let the token in (the same check as every request's). A
/// stream is a request that goes on: without this it would outlive logout and expiry.
async fn access_ends(state: AppState, token: String, expires_at: DateTime<Utc>) -> String {
    let left = (expires_at - Utc::now()).to_std().unwrap_or_default();
    let expiry = tokio::time::sleep(left);
    tokio::pin!(expiry);
    let mut checks = tokio::time::interval_at(Instant::now() + ACCESS_RECHECK, ACCESS_RECHECK);
    loop {
        tokio::select! {
            () = &mut expiry => return "the access token expired: reconnect with a fresh one".into(),
            _ = checks.tick() => match state.auth.authenticate(&token).await {
                Ok(_) => {}
                Err(AppError::Unauthorized(why)) => return format!("access ended: {why}"),
                // Fail closed: a stream never runs on access it could not confirm.
                Err(_) => return "access could not be confirmed: reconnect".into(),
            },
        }
    }
}

/// The live task event stream.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(task_events))
}

#[cfg(test)]
mod tests {
    use crate::app::task_feed::MAX_STREAMS_PER_OWNER;

    /// The annotation and the doc comment write the stream cap and the re-check interval as
    /// literals; they must be the server's.
    #[test]
    fn the_documented_stream_limits_are_the_servers() {
        let doc = serde_json::to_value(crate::http::openapi()).unwrap();
        let operation = &doc["paths"]["/tasks/events"]["get"];
        let text = operation.to_string();
        assert!(text.contains(&format!("At most {MAX_STREAMS_PER_OWNER} streams")));
        assert!(text.contains(&format!("has {MAX_STREAMS_PER_OWNER} streams open")));
        let every = super::ACCESS_RECHECK.as_secs();
        assert!(text.contains(&format!("every {every} seconds")));
    }
}
