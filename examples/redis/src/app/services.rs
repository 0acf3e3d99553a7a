//! The application: every use case, built once at start-up (`crate::startup`) and shared by the
//! HTTP handlers, the job worker and the command line.

use std::sync::Arc;

use super::task_feed::TaskFeed;

use super::{
    audit::AuditLog, auth::AuthService, jobs::Jobs, readiness::Readiness, tasks::TaskService,
    users::UserAdmin,
};

// ANCHOR: services
pub struct Services {
    pub readiness: Readiness,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub tasks: TaskService,
    /// Live task events for `GET /tasks/events`.
    pub task_feed: Arc<dyn TaskFeed>,
    pub audit: AuditLog,
    pub jobs: Jobs,
    /// Names the service in what it writes, e.g. email subjects (`OTEL_SERVICE_NAME`).
    pub service_name: String,
}
// ANCHOR_END: services
