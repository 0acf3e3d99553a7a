//! Building the application's services on their ports (`super::ports`), and the jobs they
//! run. The optional parts of the service add to what is built here, each from its own file.

use std::sync::Arc;

use crate::{
    app::{
        audit::AuditLog,
        auth::AuthService,
        jobs::{JobRunner, Jobs},
        limits::AuthLimiter,
        mail::Mailer,
        password_reset::SendPasswordReset,
        passwords::Passwords,
        services::Services,
        tasks::TaskService,
        tokens::Tokens,
        users::UserAdmin,
        verification::{SendVerificationEmail, Verifier},
        welcome::{SendAccountExistsEmail, SendWelcomeEmail},
    },
    config::Config,
};

use super::ports::Ports;

// ANCHOR: assemble
/// The services on `ports`, the same way whichever implementation serves them. Starts the
/// audit log's writer.
pub async fn assemble(config: &Config, ports: Ports) -> anyhow::Result<Services> {
    let jobs = Jobs::new(ports.job_queue);
    // The worker this process runs (see `Application::run_until_stopped`) is watched too.
    let readiness = if config.jobs.worker {
        let longest_claim = config.database.acquire_timeout + config.database.statement_timeout;
        let worker = jobs.worker_probe(&config.jobs, longest_claim);
        ports.readiness.with(Arc::new(worker))
    } else {
        ports.readiness
    };
    let audit = AuditLog::start(
        ports.security_events,
        config.auth.login_failure_alert_per_minute,
    );
    let outbox = None;
    Ok(Services {
        readiness,
        auth: AuthService {
            users: ports.users.clone(),
            sessions: ports.sessions.clone(),
            passwords: Passwords::new(&config.auth).await?,
            tokens: Tokens::new(&config.auth),
            limiter: AuthLimiter::new(&config.limits, ports.shared_limit),
            audit: audit.clone(),
            jobs: jobs.clone(),
        },
        users: UserAdmin {
            users: ports.users,
            sessions: ports.sessions,
            audit: audit.clone(),
        },
        tasks: TaskService {
            repo: ports.task_repo,
            events: ports.task_events,
            outbox,
        },
        task_feed: ports.task_feed,
        audit,
        jobs,
        service_name: config.telemetry.service_name.clone(),
    })
}
// ANCHOR_END: assemble

// ANCHOR: job_runner
/// Every kind of job this service runs, and what runs it.
pub fn job_runner(services: &Services, mailer: Arc<dyn Mailer>) -> JobRunner {
    let verifier = Arc::new(Verifier {
        users: services.auth.users.clone(),
        mailer: mailer.clone(),
        service_name: services.service_name.clone(),
    });
    JobRunner::new()
        // The emails a registration queues.
        .register(SendWelcomeEmail(verifier.clone()))
        .register(SendAccountExistsEmail::new(
            mailer.clone(),
            &services.service_name,
        ))
        // The password reset email (`POST /auth/password/forgot`).
        .register(SendPasswordReset {
            users: services.auth.users.clone(),
            sessions: services.auth.sessions.clone(),
            mailer,
            service_name: services.service_name.clone(),
        })
        // Verification emails after the welcome one (`POST /me/verification-email`, and an
        // email change through `POST /me/email`).
        .register(SendVerificationEmail(verifier))
}
// ANCHOR_END: job_runner
