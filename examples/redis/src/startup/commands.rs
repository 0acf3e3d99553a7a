//! The service's commands besides serving: each runs once and exits. They reach the database
//! through the same services as requests do.

use std::time::Duration;

use anyhow::Context;

use super::{Backends, ports::Ports, services};
use crate::{
    app::services::Services,
    config::{Config, DatabaseConfig},
    infra::postgres,
};

/// Deployments run this once per release, before the new version starts (Kubernetes Job, Fly
/// `release_command`, Render `preDeployCommand`, DigitalOcean pre-deploy job), and run the
/// service itself with `DATABASE_MIGRATE=false`: one migrator, and a failed migration stops
/// the release before any instance of the new version serves. Needs only `DATABASE_*`.
pub async fn migrate(mut config: DatabaseConfig) -> anyhow::Result<i64> {
    config.migrate = true;
    let db = postgres::connect(&config).await?;
    db.close().await;
    Ok(postgres::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or_default())
}

/// The first admin cannot be made through the API (only admins change roles): an operator
/// runs this once. Returns the account's email and id.
pub async fn grant_admin(config: &Config, email: &str) -> anyhow::Result<String> {
    with_services(config, async |services| {
        let user = services.users.grant_admin(email).await?;
        Ok(format!("{} ({})", user.email, user.id))
    })
    .await
}

/// Gives an account `count` generated tasks, for benchmarks and for `EXPLAIN` on a realistic
/// table. Returns how many were written.
pub async fn seed_tasks(config: &Config, email: &str, count: i64) -> anyhow::Result<u64> {
    with_services(config, async |services| {
        let owner = services.users.id_of(email).await?;
        Ok(services.tasks.seed(owner, count).await?)
    })
    .await
}

/// Runs `command` on the services, then stores the security events it recorded and closes
/// the pool.
async fn with_services<T>(
    config: &Config,
    command: impl AsyncFnOnce(&Services) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let backends = Backends::connect(config).await?;
    let ports = Ports::connected(&backends).await;
    let services = services::assemble(config, ports).await?;
    let outcome = command(&services).await;
    let flushed = tokio::time::timeout(Duration::from_secs(5), services.audit.flush()).await;
    backends.db.close().await;
    let value = outcome?;
    flushed.context("done, but its audit event could not be written in time")?;
    Ok(value)
}
