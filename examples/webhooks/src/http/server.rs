//! Serving with graceful shutdown: on SIGTERM or Ctrl-C stop accepting connections, let
//! in-flight requests finish for at most the drain timeout, then return.

use std::{future::Future, net::SocketAddr, time::Duration};

use axum::Router;
use tokio::{net::TcpListener, sync::oneshot};

use crate::app::readiness::Readiness;

/// Serves `router` until `shutdown` completes and in-flight requests have drained, or the
/// drain timeout has passed, whichever comes first.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> std::io::Result<()> {
    let (draining_tx, draining_rx) = oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        // Connect info gives handlers and rate limiters the peer address.
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            drain_timeout_ms = drain_timeout.as_millis() as u64,
            "shutdown requested: no new connections, draining in-flight requests"
        );
        let _ = draining_tx.send(());
    });
    let deadline = async move {
        match draining_rx.await {
            Ok(()) => tokio::time::sleep(drain_timeout).await,
            // The server ended on its own: the other branch of the select has finished.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("drain timeout elapsed: closing the remaining connections");
            Ok(())
        }
    }
}

// ANCHOR: after_readiness_drain
/// Completes `delay` after `signal`, having switched readiness to `draining` at the signal:
/// pass it to [`serve`] so the instance keeps answering while load balancers notice that it
/// is leaving (they probe `/readyz` every few seconds), and only then stops accepting.
pub async fn after_readiness_drain(
    signal: impl Future<Output = ()>,
    readiness: Readiness,
    delay: Duration,
) {
    signal.await;
    readiness.start_draining();
    tracing::info!(
        readiness_delay_ms = delay.as_millis() as u64,
        "shutdown signal: readiness reports draining"
    );
    tokio::time::sleep(delay).await;
}
// ANCHOR_END: after_readiness_drain

/// Installs the signal handlers now and returns a future that completes on Ctrl-C, or on
/// SIGTERM (what container runtimes send) on Unix. Call it before the service says it listens:
/// until a handler is installed, SIGTERM kills the process outright, and installing it on the
/// future's first poll (as an `async fn` would) lost that race under load in
/// `shutdown::sigterm_stops_the_binary_cleanly`.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
    }
}
