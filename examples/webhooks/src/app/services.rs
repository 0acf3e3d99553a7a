//! The application: every use case, built once at start-up (`crate::startup`) and shared by the
//! HTTP handlers, the job worker and the command line.

use super::{
    audit::AuditLog, auth::AuthService, jobs::Jobs, readiness::Readiness, tasks::TaskService,
    users::UserAdmin,
};
use super::{inbound::InboundWebhooks, webhooks::Webhooks};

// ANCHOR: services
pub struct Services {
    pub readiness: Readiness,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub tasks: TaskService,
    pub audit: AuditLog,
    pub jobs: Jobs,
    pub webhooks: Webhooks,
    pub inbound: InboundWebhooks,
    /// Names the service in what it writes, e.g. email subjects (`OTEL_SERVICE_NAME`).
    pub service_name: String,
}
// ANCHOR_END: services
