//! What is known about the request being served, for any layer that reports on it: today its
//! id, which error bodies, log lines and audit events carry so a user's report can be matched
//! to the server's records.
//!
//! It lives outside the layers because every layer may want it and none should depend on
//! another for it: `http` sets it for each request (`http::request_id`), the rest only read it.
//! A task-local, so it follows the request's future wherever the runtime polls it.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request the current task is serving, if it is serving one.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `future` as the handling of the request with this id.
pub async fn with_request_id<F: Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}
